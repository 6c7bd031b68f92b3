//! The host pages: `message` events from other windows, accepted only from allowed origins and
//! answered only to the sender's origin (never `*`). Everything else is logged and ignored.

use super::reply::{self, Asker};
use hearth_protocol::{EmbedAllowlist, EmbedMessage, HostMessage, RequestId};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use web_sys::MessageEvent;

/// A window that talks to the embed, and its origin (the only one its answers may reach).
#[derive(Clone)]
pub struct Host {
    window: JsValue,
    origin: String,
}

thread_local! {
    /// Hosts that get status changes: the parent (when allowed) and every allowed sender.
    static HOSTS: RefCell<Vec<Host>> = const { RefCell::new(Vec::new()) };
    static LAST_STATUS: RefCell<Option<EmbedMessage>> = const { RefCell::new(None) };
}

impl Host {
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Posts `message` to this host, addressed to its origin only.
    pub fn send(&self, message: &EmbedMessage) {
        let result = (|| -> Result<(), JsValue> {
            let json = serde_json::to_string(message).map_err(|e| e.to_string())?;
            let data = js_sys::JSON::parse(&json)?;
            let post: js_sys::Function =
                js_sys::Reflect::get(&self.window, &"postMessage".into())?.dyn_into()?;
            post.call2(&self.window, &data, &self.origin.as_str().into())?;
            Ok(())
        })();
        if let Err(e) = result {
            web_sys::console::warn_2(&format!("answering {} failed", self.origin).into(), &e);
        }
    }
}

fn remember(host: &Host) {
    HOSTS.with(|h| {
        let mut hosts = h.borrow_mut();
        if !hosts
            .iter()
            .any(|k| k.origin == host.origin && k.window == host.window)
        {
            hosts.push(host.clone());
        }
    });
}

/// Sends a status to every known host.
pub fn broadcast(status: &EmbedMessage) {
    LAST_STATUS.with(|s| *s.borrow_mut() = Some(status.clone()));
    let hosts = HOSTS.with(|h| h.borrow().clone());
    for host in hosts {
        host.send(status);
    }
}

/// The origin of the page framing this one, if any: `location.ancestorOrigins` where the
/// browser has it, else the referrer's origin.
fn parent_origin(window: &web_sys::Window) -> Option<String> {
    let first_ancestor = js_sys::Reflect::get(&window.location(), &"ancestorOrigins".into())
        .ok()
        .filter(|a| !a.is_undefined())
        .and_then(|a| a.dyn_into::<web_sys::DomStringList>().ok())
        .and_then(|a| a.item(0));
    if first_ancestor.is_some() {
        return first_ancestor;
    }
    let referrer = window.document()?.referrer();
    hearth_protocol::embed::url_origin(&referrer)
}

pub fn listen(allowlist: EmbedAllowlist) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let own_origin = window.location().origin()?;

    let parent = window.parent()?;
    let framed = parent
        .as_ref()
        .is_some_and(|p| JsValue::from(p.clone()) != JsValue::from(window.clone()));
    if let (true, Some(parent), Some(origin)) = (framed, parent, parent_origin(&window)) {
        if allowlist.allows(&origin, &own_origin) {
            remember(&Host {
                window: parent.into(),
                origin,
            });
        }
    }

    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        receive(&e, &allowlist, &own_origin);
    });
    window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref())?;
    on_message.forget();
    if let Some(body) = window.document().and_then(|d| d.body()) {
        body.set_attribute("data-host-channel", "open")?;
    }
    Ok(())
}

fn receive(e: &MessageEvent, allowlist: &EmbedAllowlist, own_origin: &str) {
    let origin = e.origin();
    let data = e.data();
    let is_hearth = js_sys::Reflect::get(&data, &"type".into())
        .ok()
        .and_then(|t| t.as_string())
        .is_some_and(|t| t.starts_with("hearth:"));
    if !allowlist.allows(&origin, own_origin) {
        web_sys::console::warn_1(
            &format!("Hearth embed: ignored a message from {origin}, which is not on the embed allowlist (embed_origins in config.json)").into(),
        );
        return;
    }
    if !is_hearth {
        // Pages exchange all kinds of messages; only ours are read.
        return;
    }
    let Some(window) = e.source().map(JsValue::from).filter(|s| {
        js_sys::Reflect::has(s, &"postMessage".into()).unwrap_or(false)
            && !s.is_instance_of::<web_sys::MessagePort>()
    }) else {
        return;
    };
    let host = Host { window, origin };
    remember(&host);
    let json = js_sys::JSON::stringify(&data)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    match serde_json::from_str::<HostMessage>(&json) {
        Ok(HostMessage::Prompt {
            id,
            messages,
            options,
        }) => reply::start(Asker::Host(host), id, messages, options.settings()),
        Ok(HostMessage::Stop { id }) => reply::stop(&Asker::Host(host), &id),
        Ok(HostMessage::Status) => {
            if let Some(status) = LAST_STATUS.with(|s| s.borrow().clone()) {
                host.send(&status);
            }
        }
        Err(err) => {
            web_sys::console::warn_1(&format!("Hearth embed: an unreadable message: {err}").into());
            let id = serde_json::from_str::<serde_json::Value>(&json)
                .ok()
                .and_then(|v| serde_json::from_value::<RequestId>(v.get("id")?.clone()).ok());
            if let Some(id) = id {
                host.send(&EmbedMessage::Error {
                    id,
                    message: format!("the message is not valid: {err}"),
                });
            }
        }
    }
}
