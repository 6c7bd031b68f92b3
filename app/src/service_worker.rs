//! Registering the service worker and waiting until it controls this page.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RegistrationOptions, ServiceWorkerContainer, ServiceWorkerUpdateViaCache};

fn container() -> Result<ServiceWorkerContainer, JsValue> {
    let navigator = web_sys::window().ok_or("no window")?.navigator();
    if !js_sys::Reflect::has(&navigator, &"serviceWorker".into())? {
        return Err(
            "this browser has no service workers (or the page is not a secure context)".into(),
        );
    }
    Ok(navigator.service_worker())
}

/// Registers `sw.js` (a module worker) and resolves once a service worker controls the page.
/// On the first visit that is after the app shell is precached and the worker claimed us.
pub async fn register_and_wait_for_control() -> Result<(), JsValue> {
    let container = container()?;
    let options = RegistrationOptions::new();
    options.set_type("module");
    // Every update check goes to the network for sw.js and what it imports.
    options.set_update_via_cache(ServiceWorkerUpdateViaCache::None);
    let registered = JsFuture::from(container.register_with_options("./sw.js", &options)).await;
    if container.controller().is_some() {
        // Already controlled (a reload, maybe offline): a failed update check is not fatal.
        if let Err(e) = registered {
            web_sys::console::warn_2(&"service worker update check failed:".into(), &e);
        }
        return Ok(());
    }
    registered?;
    let changed = Promise::new(&mut |resolve, _reject| {
        container.set_oncontrollerchange(Some(&resolve));
    });
    if container.controller().is_none() {
        JsFuture::from(changed).await?;
    }
    container.set_oncontrollerchange(None);
    Ok(())
}

/// Sends a control message to the controlling service worker and awaits its reply (through a
/// `MessageChannel`, so replies never mix).
pub async fn ask(
    request: &hearth_protocol::SwRequest,
) -> Result<hearth_protocol::SwReply, JsValue> {
    let controller = container()?
        .controller()
        .ok_or("no service worker controls this page")?;
    let channel = web_sys::MessageChannel::new()?;
    let reply = Promise::new(&mut |resolve, _reject| {
        channel.port1().set_onmessage(Some(&resolve));
    });
    let message = serde_wasm_bindgen::to_value(request)?;
    controller.post_message_with_transferable(&message, &js_sys::Array::of1(&channel.port2()))?;
    let timeout = Promise::new(&mut |_resolve, reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&reject, 10_000);
        }
    });
    let event = JsFuture::from(Promise::race(&js_sys::Array::of2(&reply, &timeout)))
        .await
        .map_err(|_| JsValue::from_str("the service worker did not answer"))?;
    let data = js_sys::Reflect::get(&event, &"data".into())?;
    channel.port1().set_onmessage(None);
    serde_wasm_bindgen::from_value(data).map_err(|e| e.to_string().into())
}
