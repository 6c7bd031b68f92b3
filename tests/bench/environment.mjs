// Facts about the machine and the browser the benchmark ran on.
import { cpus, totalmem, platform, release } from 'node:os';
import { launchBrowser } from '../e2e/support.mjs';

/// Opens `url` (any page of a secure origin) in a fresh profile and reads the browser's
/// version and its WebGPU adapter.
export async function environment(url) {
  const browser = await launchBrowser();
  try {
    await browser.page.goto(url);
    const page = await browser.page.evaluate(async () => {
      const adapter = await navigator.gpu?.requestAdapter();
      const info = adapter?.info;
      const brands = (await navigator.userAgentData?.getHighEntropyValues(['fullVersionList']))?.fullVersionList ?? [];
      return {
        user_agent: navigator.userAgent,
        full_version: brands.find((b) => /Chrom/.test(b.brand))?.version ?? null,
        hardware_concurrency: navigator.hardwareConcurrency,
        webgpu_adapter: info
          ? { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description }
          : null,
      };
    });
    const cpu = cpus();
    return {
      chromium: page.full_version ?? page.user_agent.match(/Chrom(?:e|ium)\/([\d.]+)/)?.[1] ?? null,
      user_agent: page.user_agent,
      webgpu_adapter: page.webgpu_adapter,
      cpu_count: cpu.length,
      cpu_model: cpu[0]?.model ?? null,
      hardware_concurrency: page.hardware_concurrency,
      memory_bytes: totalmem(),
      os: `${platform()} ${release()}`,
      node: process.version,
    };
  } finally {
    await browser.close();
  }
}
