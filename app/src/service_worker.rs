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
