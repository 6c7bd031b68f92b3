//! One engine owner per site: the page that holds the Web Lock `hearth-engine` runs the model
//! on the GPU; other tabs (and same-site embeds) wait for it to close or take it over, so two
//! copies of a model never sit in GPU memory at once.

mod notice;

use js_sys::{Function, Object, Promise, Reflect};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};

pub use notice::show_lost;

const LOCK_NAME: &str = "hearth-engine";

/// `navigator.locks`, where the browser has Web Locks.
fn lock_manager() -> Option<JsValue> {
    let navigator = web_sys::window()?.navigator();
    Reflect::get(&navigator, &"locks".into())
        .ok()
        .filter(|l| !l.is_undefined() && !l.is_null())
}

/// Asks for the lock with `options`. The returned promise resolves with whether it was granted
/// (`false` only with `ifAvailable`), or rejects when the browser refuses the request (e.g. a
/// third-party frame without storage access); once granted the lock is held for the page's
/// lifetime, and `on_lost` runs if another page steals it.
fn request(locks: &JsValue, options: &Object, on_lost: Rc<dyn Fn()>) -> Result<Promise, JsValue> {
    let held = Rc::new(Cell::new(false));
    let mut settle: Option<(Function, Function)> = None;
    let granted = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let (granted_resolve, granted_reject) = settle.ok_or("the lock promise has no resolver")?;
    let held_in_callback = held.clone();
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got = !lock.is_null() && !lock.is_undefined();
        held_in_callback.set(got);
        let _ = granted_resolve.call1(&JsValue::NULL, &got.into());
        if got {
            // A promise that never settles keeps the lock until the page goes away.
            Promise::new(&mut |_, _| {}).into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let request: Function = Reflect::get(locks, &"request".into())?.dyn_into()?;
    let done: Promise = request
        .call3(locks, &LOCK_NAME.into(), options, &callback)?
        .dyn_into()?;
    spawn_local(async move {
        // Settles only when the lock is stolen (AbortError), a queued request is aborted, or
        // the request was refused before it was granted.
        if let Err(e) = JsFuture::from(done).await {
            if held.get() {
                on_lost();
            } else {
                let _ = granted_reject.call1(&JsValue::NULL, &e);
            }
        }
    });
    Ok(granted)
}

fn options(pairs: &[(&str, &JsValue)]) -> Result<Object, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v)?;
    }
    Ok(o)
}

/// Resolves once this page owns the engine. When another page owns it, `on_waiting` runs and
/// a notice offers to take it over; this page then gets it when the other closes or on
/// take-over. `on_lost` runs if another page later takes it from this one.
pub async fn acquire(on_waiting: impl FnOnce(), on_lost: Rc<dyn Fn()>) -> Result<(), JsValue> {
    let Some(locks) = lock_manager() else {
        web_sys::console::warn_1(
            &"This browser has no Web Locks: other tabs cannot tell that Hearth runs here.".into(),
        );
        return Ok(());
    };
    let now = options(&[("ifAvailable", &true.into())])?;
    match JsFuture::from(request(&locks, &now, on_lost.clone())?).await {
        Ok(granted) if granted.as_bool() == Some(true) => {
            notice::set_owner_state("owner");
            return Ok(());
        }
        Ok(_) => {}
        Err(e) => {
            // No storage access (a third-party frame where the browser blocks it): this page
            // cannot see other tabs' locks, nor they its; it runs on its own.
            web_sys::console::warn_2(&"Web Locks are unavailable here:".into(), &e);
            notice::set_owner_state("owner");
            return Ok(());
        }
    }

    on_waiting();
    let abort = web_sys::AbortController::new()?;
    let queued = options(&[("signal", abort.signal().as_ref())])?;
    let waited = request(&locks, &queued, on_lost.clone())?;
    let taken = notice::show_waiting({
        let locks = locks.clone();
        let on_lost = on_lost.clone();
        move || {
            let steal = options(&[("steal", &true.into())])?;
            request(&locks, &steal, on_lost.clone())
        }
    })?;
    JsFuture::from(Promise::race(&js_sys::Array::of2(&waited, &taken))).await?;
    // The queued request is no longer wanted (aborting one already granted changes nothing).
    abort.abort();
    notice::hide();
    notice::set_owner_state("owner");
    Ok(())
}
