// Loads the page's Rust module and starts the app; exposes a small handle for tests and for
// pages that drive the engine directly.
import init, * as hearth from './app/hearth_app.js';

await init();
window.hearth = {
  gpuSelfTest: hearth.gpu_self_test,
  catalog: hearth.catalog,
  cacheStatus: hearth.cache_status,
  askServiceWorker: hearth.ask_service_worker,
  loadModel: hearth.load_model,
  generate: hearth.generate,
  cancel: hearth.cancel,
  importConversations: hearth.import_conversations,
  unloadModel: hearth.unload_model,
};
window.hearth.started = hearth.start().catch((e) => {
  console.error('Hearth failed to start:', e);
  throw e;
});
