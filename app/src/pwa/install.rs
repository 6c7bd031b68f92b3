//! The Install button: hidden until the browser offers installation (`beforeinstallprompt`),
//! then it shows the browser's own install prompt.

use crate::dom::{listen, set_hidden};
use js_sys::{Function, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

const BUTTON: &str = "install-button";

pub fn init() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let Some(button) = crate::dom::document().get_element_by_id(BUTTON) else {
        return Ok(());
    };
    // The deferred prompt event, kept until the button is pressed.
    let offer: Rc<RefCell<Option<web_sys::Event>>> = Rc::default();

    let kept = offer.clone();
    listen(&window, "beforeinstallprompt", move |e| {
        // Keep the browser's mini-infobar away; the button offers installation instead.
        e.prevent_default();
        *kept.borrow_mut() = Some(e);
        set_hidden(BUTTON, false);
    });

    let kept = offer.clone();
    listen(&button, "click", move |_| {
        let Some(e) = kept.borrow_mut().take() else {
            return;
        };
        set_hidden(BUTTON, true);
        let prompt = Reflect::get(&e, &"prompt".into()).and_then(|p| p.dyn_into::<Function>());
        if let Err(err) = prompt.and_then(|p| p.call0(&e)) {
            web_sys::console::warn_2(&"the install prompt failed".into(), &err);
        }
    });

    listen(&window, "appinstalled", move |_| {
        offer.borrow_mut().take();
        set_hidden(BUTTON, true);
    });
    Ok(())
}
