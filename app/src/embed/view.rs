//! The embed's own compact chat: a status line, the last question and its streamed reply, a
//! prompt box (Enter sends, Shift+Enter is a new line, Esc stops) and a Stop button.

use super::reply::{self, Asker};
use crate::dom::{document, element, listen_id, set_state, set_text};
use crate::models::progress::{megabytes, percent};
use hearth_protocol::{ChatMessage, EmbedMessage, EmbedState, LoadStage, RequestId};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use web_sys::{HtmlTextAreaElement, KeyboardEvent};

const STATUS: &str = "embed-status";
const QUESTION: &str = "embed-question";
const REPLY: &str = "embed-reply";
const NOTE: &str = "embed-note";
const FORM: &str = "embed-form";
const PROMPT: &str = "embed-prompt";
const SEND: &str = "embed-send";
const STOP: &str = "embed-stop";

thread_local! {
    /// The conversation typed into the embed itself (hosts send their own).
    static CONVERSATION: RefCell<Vec<ChatMessage>> = const { RefCell::new(Vec::new()) };
    static LOCAL_IDS: Cell<u32> = const { Cell::new(0) };
}

fn prompt_box() -> Option<HtmlTextAreaElement> {
    element(PROMPT)
}

fn send_typed() {
    let Some(input) = prompt_box() else { return };
    let text = input.value().trim().to_string();
    if text.is_empty() || reply::busy() {
        return;
    }
    input.set_value("");
    let mut messages = CONVERSATION.with(|c| c.borrow().clone());
    messages.push(ChatMessage {
        role: "user".into(),
        content: text,
    });
    let n = LOCAL_IDS.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    reply::start(
        Asker::Local,
        RequestId::Text(format!("local-{n}")),
        messages,
        Default::default(),
    );
}

pub fn init() -> Result<(), JsValue> {
    listen_id(FORM, "submit", |e| {
        e.prevent_default();
        send_typed();
    });
    listen_id(STOP, "click", |_| reply::stop_current());
    listen_id(PROMPT, "keydown", |e| {
        let Some(key) = e.dyn_ref::<KeyboardEvent>() else {
            return;
        };
        if key.key() == "Enter" && !key.shift_key() && !key.is_composing() {
            e.prevent_default();
            send_typed();
        } else if key.key() == "Escape" {
            reply::stop_current();
        }
    });
    set_busy(false);
    Ok(())
}

/// The status line's words for a status message.
fn status_words(status: &EmbedMessage) -> Option<(EmbedState, String)> {
    let EmbedMessage::Status {
        state,
        stage,
        bytes_done,
        bytes_total,
        message,
    } = status
    else {
        return None;
    };
    let words = match (message, stage, bytes_done, bytes_total) {
        (Some(m), _, _, _) => m.clone(),
        (None, Some(stage), Some(done), Some(total)) if *total > 0 => {
            let what = match stage {
                LoadStage::Prepare => "Preparing",
                LoadStage::Download => "Downloading the model",
                LoadStage::Upload => "Moving the model to the GPU",
                LoadStage::Read => "Reading the model file",
            };
            format!(
                "{what}… {}% ({} of {})",
                percent(*done, *total),
                megabytes(*done),
                megabytes(*total)
            )
        }
        _ => "Loading…".into(),
    };
    Some((*state, words))
}

pub fn show_status(status: &EmbedMessage) {
    let Some((state, words)) = status_words(status) else {
        return;
    };
    let state = match state {
        EmbedState::Loading => "loading",
        EmbedState::Ready => "ready",
        EmbedState::Error => "error",
        EmbedState::Waiting => "waiting",
    };
    set_state(STATUS, state);
    set_text(STATUS, &words);
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-embed-state", state);
    }
    set_busy(reply::busy());
}

/// A new reply starts: the question shown, the reply area emptied.
pub fn begin(question: &str) {
    set_text(QUESTION, question);
    set_text(REPLY, "");
    set_text(NOTE, "");
}

pub fn append(piece: &str) {
    if let Some(el) = element::<web_sys::Element>(REPLY) {
        let mut text = el.text_content().unwrap_or_default();
        text.push_str(piece);
        el.set_text_content(Some(&text));
    }
}

/// A short message under the reply (why a prompt was refused, an error).
pub fn note(text: &str) {
    set_text(NOTE, text);
}

pub fn set_busy(busy: bool) {
    let ready = document()
        .body()
        .and_then(|b| b.get_attribute("data-embed-state"))
        .is_some_and(|s| s == "ready");
    if let Some(stop) = element::<web_sys::Element>(STOP) {
        let _ = if busy {
            stop.remove_attribute("hidden")
        } else {
            stop.set_attribute("hidden", "")
        };
    }
    if let Some(send) = element::<web_sys::Element>(SEND) {
        let _ = if busy || !ready {
            send.set_attribute("disabled", "")
        } else {
            send.remove_attribute("disabled")
        };
    }
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-busy", if busy { "true" } else { "false" });
    }
}

/// The embed's own conversation goes on with this turn.
pub fn finish_local(question: &str, answer: &str) {
    CONVERSATION.with(|c| {
        let mut c = c.borrow_mut();
        c.push(ChatMessage {
            role: "user".into(),
            content: question.into(),
        });
        c.push(ChatMessage {
            role: "assistant".into(),
            content: answer.into(),
        });
    });
}
