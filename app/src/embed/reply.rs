//! One reply at a time: from the embed's own prompt box or from a host page. Tokens stream to
//! the view and to the host that asked; the end is `hearth:done` or `hearth:error`.

use super::host::Host;
use super::view;
use hearth_protocol::{
    ChatMessage, EmbedMessage, FromWorker, GenerateSettings, RequestId, ToWorker,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Who asked for a reply.
pub enum Asker {
    Host(Host),
    /// The embed's own prompt box.
    Local,
}

impl Asker {
    fn answer(&self, message: &EmbedMessage) {
        if let Asker::Host(host) = self {
            host.send(message);
        }
    }
}

struct Current {
    asker_origin: Option<String>,
    id: RequestId,
    engine_id: Rc<Cell<u32>>,
}

thread_local! {
    static READY: Cell<bool> = const { Cell::new(false) };
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

pub fn set_ready(ready: bool) {
    READY.with(|r| r.set(ready));
}

pub fn busy() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

fn origin_of(asker: &Asker) -> Option<String> {
    match asker {
        Asker::Host(h) => Some(h.origin().to_string()),
        Asker::Local => None,
    }
}

/// Starts a reply to `messages`, or answers with an error saying why it cannot.
pub fn start(asker: Asker, id: RequestId, messages: Vec<ChatMessage>, settings: GenerateSettings) {
    let refuse = |why: &str| {
        asker.answer(&EmbedMessage::Error {
            id: id.clone(),
            message: why.to_string(),
        });
        view::note(why);
    };
    if !READY.with(|r| r.get()) {
        return refuse("Hearth is not ready yet: wait for hearth:status with state ready.");
    }
    if busy() {
        return refuse("Hearth is already replying: stop that reply (hearth:stop) or wait for its hearth:done.");
    }
    if messages.is_empty() {
        return refuse("The prompt has no messages.");
    }
    let question = messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.content.clone())
        .unwrap_or_default();
    view::begin(&question);

    let asker = Rc::new(asker);
    let text = Rc::new(RefCell::new(String::new()));
    let on_event = {
        let (asker, id, text) = (asker.clone(), id.clone(), text.clone());
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let Ok(FromWorker::Token { text: piece, .. }) = serde_wasm_bindgen::from_value(event)
            {
                view::append(&piece);
                text.borrow_mut().push_str(&piece);
                asker.answer(&EmbedMessage::Token {
                    id: id.clone(),
                    text: piece,
                });
            }
        })
    };
    let engine_id = Rc::new(Cell::new(0));
    let promise = {
        let engine_id = engine_id.clone();
        let on_event: js_sys::Function = on_event.as_ref().clone().unchecked_into();
        crate::browser::with_engine(move |engine| {
            engine.request_with_events(
                |eid| {
                    engine_id.set(eid);
                    ToWorker::Generate {
                        id: eid,
                        messages,
                        settings,
                    }
                },
                Some(on_event),
            )
        })
    };
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            asker_origin: origin_of(&asker),
            id: id.clone(),
            engine_id,
        })
    });
    view::set_busy(true);
    wasm_bindgen_futures::spawn_local(async move {
        let result = JsFuture::from(promise).await;
        drop(on_event);
        CURRENT.with(|c| c.borrow_mut().take());
        view::set_busy(false);
        let ending = match result.map(serde_wasm_bindgen::from_value::<FromWorker>) {
            Ok(Ok(FromWorker::Done { stats, .. })) => {
                if matches!(*asker, Asker::Local) {
                    view::finish_local(&question, &text.borrow());
                }
                EmbedMessage::Done { id, stats }
            }
            Ok(Ok(other)) => EmbedMessage::Error {
                id,
                message: format!("the engine answered in an unexpected way: {other:?}"),
            },
            Ok(Err(e)) => EmbedMessage::Error {
                id,
                message: format!("the engine's answer is unreadable: {e}"),
            },
            Err(e) => {
                let message = crate::dom::js_error_text(&e);
                view::note(&message);
                EmbedMessage::Error { id, message }
            }
        };
        asker.answer(&ending);
    });
}

/// Stops the current reply if it is `id` from the same asker (a host cannot stop another's).
pub fn stop(asker: &Asker, id: &RequestId) {
    let engine_id = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|cur| cur.asker_origin == origin_of(asker) && &cur.id == id)
            .map(|cur| cur.engine_id.get())
    });
    if let Some(engine_id) = engine_id {
        crate::browser::cancel(engine_id);
    }
}

/// Stops whatever reply is running (the view's Stop button and Esc).
pub fn stop_current() {
    let engine_id = CURRENT.with(|c| c.borrow().as_ref().map(|cur| cur.engine_id.get()));
    if let Some(engine_id) = engine_id {
        crate::browser::cancel(engine_id);
    }
}
