// Loads the page's Rust module and starts the embed; host pages talk to it with postMessage
// (see docs/EMBED.md).
import init, { start_embed } from './app/hearth_app.js';

await init();
start_embed().catch((e) => console.error('Hearth embed failed to start:', e));
