//! Events to every window client (progress, failures): pages show them, whichever of them
//! caused the download.

use crate::global::{scope, wait, warn};
use hearth_protocol::SwEvent;
use js_sys::Array;
use web_sys::{Client, ClientQueryOptions, ClientType};

pub async fn broadcast(event: &SwEvent) {
    let value = match serde_wasm_bindgen::to_value(event) {
        Ok(v) => v,
        Err(e) => return warn(&format!("cannot serialize {event:?}: {e}")),
    };
    let options = ClientQueryOptions::new();
    options.set_type(ClientType::Window);
    let clients: Array = match wait(scope().clients().match_all_with_options(&options)).await {
        Ok(c) => c,
        Err(e) => return warn(&format!("cannot list clients: {e:?}")),
    };
    for client in clients.iter() {
        let client: Client = wasm_bindgen::JsCast::unchecked_into(client);
        if let Err(e) = client.post_message(&value) {
            warn(&format!("cannot post to a client: {e:?}"));
        }
    }
}
