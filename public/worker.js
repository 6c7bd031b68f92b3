// The engine's dedicated worker: loads the Rust module, which installs its message handler
// and posts `ready`.
import init, { start } from './worker/hearth_worker.js';

init().then(start, (e) => {
  console.error('Hearth engine failed to load:', e);
  self.postMessage({ type: 'error', id: null, message: 'The engine could not load: ' + e });
});
