// Loads the page's Rust module and starts the app; exposes a small handle for tests.
import init, { start, gpu_self_test } from './app/hearth_app.js';

await init();
window.hearth = { gpuSelfTest: gpu_self_test };
window.hearth.started = start().catch((e) => {
  console.error('Hearth failed to start:', e);
  throw e;
});
