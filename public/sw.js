// Hearth's service worker. The logic is Rust (sw/); this file only adds the listeners, which a
// service worker must do synchronously at its top level, and loads the wasm. The build writes
// the app-shell version below, so any changed asset changes this file and the browser installs
// the new version.
import init, * as hearth from './sw/hearth_sw.js';

const VERSION = '__HEARTH_VERSION__';
const WASM = new URL('./sw/hearth_sw_bg.wasm', self.location).href;

// The wasm comes from the shell cache when it is there: after an idle restart offline the
// network is gone, and a service worker's own fetches bypass its fetch handler.
const ready = caches
  .open('hearth-shell-' + VERSION)
  .then((cache) => cache.match(WASM))
  .then((cached) => init({ module_or_path: cached || fetch(WASM, { cache: 'no-store' }) }));

self.addEventListener('install', (e) => e.waitUntil(ready.then(() => hearth.on_install(VERSION))));
self.addEventListener('activate', (e) => e.waitUntil(ready.then(() => hearth.on_activate(VERSION))));
self.addEventListener('fetch', (e) => {
  if (e.request.method !== 'GET') return;
  e.respondWith(ready.then(() => hearth.on_fetch(e.request, VERSION)));
});
self.addEventListener('message', (e) => e.waitUntil(ready.then(() => hearth.on_message(e, VERSION))));
