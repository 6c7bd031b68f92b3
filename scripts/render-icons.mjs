// Renders the app icons (public/icons/*.png) from public/icon.svg in Chromium, so the PNGs the
// web app manifest names always match the SVG. Run after changing the SVG:
//   node scripts/render-icons.mjs
// "any" icons are the SVG as drawn (rounded square on a transparent corner); the maskable icon
// fills the whole square with the background colour and keeps the flame inside the central
// 80 % circle that every mask shape leaves visible.
import { readFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const svg = readFileSync(join(ROOT, 'public', 'icon.svg'), 'utf8');
const background = svg.match(/<rect[^>]*fill="([^"]+)"/)?.[1];
if (!background) throw new Error('icon.svg has no background <rect fill="...">');
const out = join(ROOT, 'public', 'icons');
mkdirSync(out, { recursive: true });

const ICONS = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'icon-maskable-512.png', size: 512, maskable: true },
];

function page({ size, maskable }) {
  const dataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  // Maskable: the square drawn at 70 % of the size on a full-bleed background (the SVG's own
  // rounded corners fall inside the background colour, so they do not show).
  const scale = maskable ? 0.7 : 1;
  const inner = Math.round(size * scale);
  return `<!doctype html><html><body style="margin:0;width:${size}px;height:${size}px;
    display:flex;align-items:center;justify-content:center;
    background:${maskable ? background : 'transparent'}">
    <img src="${dataUrl}" width="${inner}" height="${inner}"></body></html>`;
}

const browser = await chromium.launch({
  executablePath: process.env.HEARTH_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
try {
  for (const icon of ICONS) {
    const tab = await browser.newPage({ viewport: { width: icon.size, height: icon.size }, deviceScaleFactor: 1 });
    await tab.setContent(page(icon));
    await tab.waitForFunction(() => document.images[0].complete);
    await tab.screenshot({ path: join(out, icon.file), omitBackground: !icon.maskable });
    await tab.close();
    console.log(`wrote public/icons/${icon.file} (${icon.size}×${icon.size}${icon.maskable ? ', maskable' : ''})`);
  }
} finally {
  await browser.close();
}
