//! The "Update available — Reload" bar: shown when a new service worker has installed and
//! waits (it does not take over open pages by itself). Reload asks it to activate
//! (`SwRequest::SkipWaiting`) and reloads this page once it controls it.

use crate::dom::{listen, set_hidden};
use hearth_protocol::SwRequest;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState};

const BAR: &str = "update-bar";

pub fn init() {
    wasm_bindgen_futures::spawn_local(async {
        if let Err(e) = watch().await {
            web_sys::console::warn_2(&"update checks are unavailable:".into(), &e);
        }
    });
}

fn container() -> Result<web_sys::ServiceWorkerContainer, JsValue> {
    let navigator = web_sys::window().ok_or("no window")?.navigator();
    if !js_sys::Reflect::has(&navigator, &"serviceWorker".into())? {
        return Err("no service workers here".into());
    }
    Ok(navigator.service_worker())
}

async fn watch() -> Result<(), JsValue> {
    let container = container()?;
    let registration: ServiceWorkerRegistration =
        JsFuture::from(container.ready()?).await?.dyn_into()?;
    let accepted = Rc::new(Cell::new(false));

    // Only the page that accepted the update reloads; others keep their bar until they do.
    let reload_when_accepted = accepted.clone();
    listen(&container, "controllerchange", move |_| {
        if reload_when_accepted.get() {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        }
    });

    if let Some(bar) = crate::dom::document().get_element_by_id(BAR) {
        let registration = registration.clone();
        listen(&bar, "click", move |e| {
            let on_button = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|t| t.closest("button").ok().flatten().is_some());
            if !on_button {
                return;
            }
            match registration.waiting() {
                Some(waiting) => {
                    accepted.set(true);
                    if let Err(err) = skip_waiting(&waiting) {
                        web_sys::console::error_2(&"activating the update failed".into(), &err);
                    }
                }
                // Already activated (another tab accepted it): a reload picks it up.
                None => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }
            }
        });
    }

    let has_controller = container.controller().is_some();
    if registration.waiting().is_some() && has_controller {
        set_hidden(BAR, false);
    }
    let watched = registration.clone();
    listen(&registration, "updatefound", move |_| {
        if let Some(installing) = watched.installing() {
            offer_when_installed(installing);
        }
    });
    if let Some(installing) = registration.installing() {
        offer_when_installed(installing);
    }
    Ok(())
}

fn skip_waiting(worker: &ServiceWorker) -> Result<(), JsValue> {
    worker.post_message(&serde_wasm_bindgen::to_value(&SwRequest::SkipWaiting)?)
}

/// Shows the bar once `worker` has installed, if an older version controls this page (on a
/// first visit the new worker takes over by itself).
fn offer_when_installed(worker: ServiceWorker) {
    let watched = worker.clone();
    listen(&worker, "statechange", move |_| {
        let controlled = container().ok().and_then(|c| c.controller()).is_some();
        if watched.state() == ServiceWorkerState::Installed && controlled {
            set_hidden(BAR, false);
        }
    });
}
