//! The chat's state and what the user does with it: send, stream, stop, regenerate, edit,
//! and the conversation list.

use super::conversation::{Conversation, Message, ReplyStats};
use super::store;
use super::view::{self, MessageListState};
use crate::dom::{document, element, js_error_text, listen};
use hearth_protocol::{ErrorKind, FromWorker, ToWorker};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Element, HtmlButtonElement, HtmlTextAreaElement, KeyboardEvent};

struct Generation {
    request_id: u32,
    text: String,
    frame_pending: bool,
}

#[derive(Default)]
pub(super) struct Chat {
    /// Saved conversations, newest first.
    pub conversations: Vec<Conversation>,
    /// The open conversation (saved once it has a message).
    pub current: Conversation,
    generation: Option<Generation>,
    /// `none`, `loading`, `ready` or `error` (see `models::readiness`).
    model: String,
    /// The composer holds the last user message, to be resent in its place.
    editing: bool,
    pub settings: super::settings::ChatSettings,
}

thread_local! {
    static CHAT: RefCell<Chat> = RefCell::new(Chat::default());
}

/// Runs `f` on the chat's state. Never call page code that re-enters `with` from inside.
pub(super) fn with<R>(f: impl FnOnce(&mut Chat) -> R) -> R {
    CHAT.with(|c| f(&mut c.borrow_mut()))
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub(super) fn new_id() -> String {
    format!(
        "{:x}-{:08x}",
        now_ms() as u64,
        (js_sys::Math::random() * f64::from(u32::MAX)) as u32
    )
}

pub(super) fn fresh_conversation() -> Conversation {
    Conversation::new(new_id(), now_ms())
}

fn prompt_box() -> Option<HtmlTextAreaElement> {
    element("prompt")
}

/// Re-renders the messages, the conversation list and the controls.
pub(super) fn render_all() {
    render_messages();
    render_list();
    render_controls();
}

fn render_messages() {
    with(|c| {
        let streaming = c
            .generation
            .as_ref()
            .map(|g| (c.current.messages.len().saturating_sub(1), g.text.as_str()));
        view::render_messages(&MessageListState {
            conversation: &c.current,
            streaming,
            actions: c.generation.is_none() && c.model == "ready",
        });
    });
}

pub(super) fn render_list() {
    with(|c| view::render_conversation_list(&c.conversations, &c.current.id));
}

fn render_controls() {
    let (generating, model, editing) =
        with(|c| (c.generation.is_some(), c.model.clone(), c.editing));
    let ready = model == "ready";
    if let Some(send) = element::<HtmlButtonElement>("send") {
        send.set_disabled(generating || !ready);
        send.set_text_content(Some(if editing { "Resend" } else { "Send" }));
    }
    if let Some(stop) = element::<HtmlButtonElement>("stop") {
        stop.set_hidden(!generating);
    }
    let hint = if model == "loading" {
        "The model is loading; you can send once it is ready."
    } else if model == "error" {
        "The model could not be loaded; see above for what to do."
    } else if !ready {
        "Load a model to start chatting."
    } else if generating {
        "Writing a reply… Esc or Stop ends it."
    } else if editing {
        "Editing your last message: Enter resends it, Esc cancels."
    } else {
        ""
    };
    crate::dom::set_text("composer-hint", hint);
    if let Some(body) = document().body() {
        if generating {
            let _ = body.set_attribute("data-busy", "true");
        } else {
            let _ = body.remove_attribute("data-busy");
        }
    }
}

/// Stores the open conversation (once it has a message) and puts it first in the list.
async fn save_current() {
    let conversation = with(|c| {
        if c.current.messages.is_empty() {
            return None;
        }
        c.current.updated_ms = now_ms();
        let current = c.current.clone();
        c.conversations.retain(|x| x.id != current.id);
        c.conversations.insert(0, current.clone());
        Some(current)
    });
    let Some(conversation) = conversation else {
        return;
    };
    render_list();
    if let Err(e) = store::put(&conversation).await {
        show_error(&format!("This conversation could not be saved: {e}"));
    }
}

fn show_error(message: &str) {
    web_sys::console::error_1(&message.into());
    crate::dom::set_text("composer-hint", message);
}

fn schedule_frame() {
    let schedule = with(|c| match &mut c.generation {
        Some(g) if !g.frame_pending => {
            g.frame_pending = true;
            true
        }
        _ => false,
    });
    if !schedule {
        return;
    }
    let frame = Closure::once_into_js(move || {
        let text = with(|c| {
            c.generation.as_mut().map(|g| {
                g.frame_pending = false;
                g.text.clone()
            })
        });
        if let Some(text) = text {
            view::update_streaming(&text);
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window.request_animation_frame(frame.unchecked_ref());
    }
}

/// Words for a failed reply.
fn failure_words(e: &JsValue) -> String {
    let kind = js_sys::Reflect::get(e, &"kind".into())
        .ok()
        .and_then(|k| serde_wasm_bindgen::from_value::<ErrorKind>(k).ok());
    let text = js_error_text(e);
    match kind {
        Some(ErrorKind::DeviceLost) => {
            format!(
                "The GPU stopped responding ({text}). Reload the page to start the engine again."
            )
        }
        _ => format!("The reply failed: {text}"),
    }
}

/// Asks the engine to reply to the open conversation, streaming into a new assistant message.
async fn reply() {
    let Some(engine) = crate::browser::engine() else {
        show_error("The engine has not started yet.");
        return;
    };
    let (messages, settings) = with(|c| {
        let prompt = c.current.prompt(&c.settings.system_prompt);
        let mut placeholder = Message::assistant("");
        placeholder.error = Some("The reply was interrupted before it finished.".into());
        c.current.messages.push(placeholder);
        (prompt, c.settings.generate.clone())
    });
    let on_event = Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
        if let Ok(FromWorker::Token { text, .. }) = serde_wasm_bindgen::from_value(data) {
            with(|c| {
                if let Some(g) = &mut c.generation {
                    g.text.push_str(&text);
                }
            });
            schedule_frame();
        }
    });
    let callback: js_sys::Function = on_event
        .as_ref()
        .unchecked_ref::<js_sys::Function>()
        .clone();
    let (request_id, promise) = engine.start(
        |id| ToWorker::Generate {
            id,
            messages,
            settings,
        },
        Some(callback),
    );
    with(|c| {
        c.generation = Some(Generation {
            request_id,
            text: String::new(),
            frame_pending: false,
        })
    });
    render_all();
    save_current().await;

    let result = JsFuture::from(promise).await;
    drop(on_event);
    with(|c| {
        let text = c.generation.take().map(|g| g.text).unwrap_or_default();
        let Some(last) = c.current.messages.last_mut() else {
            return;
        };
        last.content = text;
        last.error = None;
        match result.map(serde_wasm_bindgen::from_value::<FromWorker>) {
            Ok(Ok(FromWorker::Done { stats, .. })) => last.stats = Some(ReplyStats::from(&stats)),
            Ok(Ok(other)) => {
                last.error = Some(format!("The engine answered unexpectedly: {other:?}"))
            }
            Ok(Err(e)) => last.error = Some(format!("The engine's answer was unreadable: {e}")),
            Err(e) => last.error = Some(failure_words(&e)),
        }
    });
    save_current().await;
    render_all();
}

pub(super) fn busy() -> bool {
    with(|c| c.generation.is_some())
}

/// Sends what the composer holds (Enter or the Send button).
fn send() {
    let Some(prompt) = prompt_box() else {
        return;
    };
    let text = prompt.value();
    if text.trim().is_empty() || busy() || !with(|c| c.model == "ready") {
        return;
    }
    prompt.set_value("");
    with(|c| {
        if c.editing {
            if let Some(i) = c.current.last_user() {
                c.current.messages.truncate(i);
            }
            c.editing = false;
        }
        c.current.messages.push(Message::user(&text));
    });
    spawn_local(reply());
}

pub(super) fn stop() {
    if let Some(id) = with(|c| c.generation.as_ref().map(|g| g.request_id)) {
        if let Some(engine) = crate::browser::engine() {
            engine.cancel(id);
        }
        crate::dom::set_text("composer-hint", "Stopping…");
    }
}

fn regenerate() {
    if busy() || !with(|c| c.model == "ready") {
        return;
    }
    let ok = with(|c| match c.current.messages.last() {
        Some(m) if !m.is_user() => {
            c.current.messages.pop();
            true
        }
        _ => false,
    });
    if ok {
        spawn_local(reply());
        // The button that was clicked is gone with the old reply.
        if let Some(prompt) = prompt_box() {
            let _ = prompt.focus();
        }
    }
}

fn edit_last() {
    if busy() {
        return;
    }
    let Some(text) = with(|c| {
        let i = c.current.last_user()?;
        c.editing = true;
        Some(c.current.messages[i].content.clone())
    }) else {
        return;
    };
    if let Some(prompt) = prompt_box() {
        prompt.set_value(&text);
        let _ = prompt.focus();
    }
    render_controls();
}

fn cancel_edit() {
    if with(|c| std::mem::take(&mut c.editing)) {
        if let Some(prompt) = prompt_box() {
            prompt.set_value("");
        }
        render_controls();
    }
}

pub(super) fn new_chat() {
    if busy() {
        return;
    }
    with(|c| {
        c.current = fresh_conversation();
        c.editing = false;
    });
    render_all();
    close_nav_on_phone();
    if let Some(prompt) = prompt_box() {
        let _ = prompt.focus();
    }
}

fn open(id: &str) {
    if busy() {
        return;
    }
    let found = with(|c| {
        let found = c.conversations.iter().find(|x| x.id == id).cloned();
        if let Some(conversation) = &found {
            c.current = conversation.clone();
            c.editing = false;
        }
        found.is_some()
    });
    if found {
        render_all();
        close_nav_on_phone();
        if let Some(prompt) = prompt_box() {
            let _ = prompt.focus();
        }
    }
}

/// The title shown for conversation `id`, if it exists.
fn title_of(id: &str) -> Option<String> {
    with(|c| {
        c.conversations
            .iter()
            .find(|x| x.id == id)
            .map(Conversation::display_title)
    })
}

fn rename(id: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(title) = title_of(id) else {
        return;
    };
    let Ok(Some(new_title)) =
        window.prompt_with_message_and_default("Rename this conversation:", &title)
    else {
        return;
    };
    let updated = with(|c| {
        let conversation = c.conversations.iter_mut().find(|x| x.id == id)?;
        conversation.title = new_title.trim().to_string();
        if c.current.id == id {
            c.current.title = conversation.title.clone();
        }
        Some(conversation.clone())
    });
    if let Some(conversation) = updated {
        render_list();
        spawn_local(async move {
            if let Err(e) = store::put(&conversation).await {
                show_error(&format!("The new name could not be saved: {e}"));
            }
        });
    }
}

fn delete(id: &str) {
    if busy() {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(title) = title_of(id) else {
        return;
    };
    if !window
        .confirm_with_message(&format!(
            "Delete the conversation “{title}”? This cannot be undone."
        ))
        .unwrap_or(false)
    {
        return;
    }
    let was_open = with(|c| {
        c.conversations.retain(|x| x.id != id);
        let was_open = c.current.id == id;
        if was_open {
            c.current = fresh_conversation();
        }
        was_open
    });
    if was_open {
        render_all();
    } else {
        render_list();
    }
    let id = id.to_string();
    spawn_local(async move {
        if let Err(e) = store::delete(&id).await {
            show_error(&format!("The conversation could not be deleted: {e}"));
        }
    });
}

fn close_nav_on_phone() {
    if let Some(body) = document().body() {
        let _ = body.remove_attribute("data-nav");
    }
    if let Some(toggle) = element::<Element>("conversations-toggle") {
        let _ = toggle.set_attribute("aria-expanded", "false");
    }
}

fn toggle_nav() {
    let Some(body) = document().body() else {
        return;
    };
    let open = body.get_attribute("data-nav").is_none();
    if open {
        let _ = body.set_attribute("data-nav", "open");
    } else {
        let _ = body.remove_attribute("data-nav");
    }
    if let Some(toggle) = element::<Element>("conversations-toggle") {
        let _ = toggle.set_attribute("aria-expanded", if open { "true" } else { "false" });
    }
    if open {
        if let Some(first) = document()
            .query_selector("#conversation-list button")
            .ok()
            .flatten()
            .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = first.focus();
        }
    }
}

fn set_model_state(state: &str) {
    let changed = with(|c| std::mem::replace(&mut c.model, state.to_string()) != state);
    if changed {
        // Regenerate and edit are offered only with a model to answer.
        render_messages();
    }
    render_controls();
}

fn action_of(event: &web_sys::Event) -> Option<(String, Element)> {
    let target: Element = event.target()?.dyn_into().ok()?;
    let button = target.closest("[data-action]").ok()??;
    Some((button.get_attribute("data-action")?, button))
}

/// Wires the chat's controls and shows the stored conversations (the newest one open).
pub(super) fn mount() {
    let document = document();
    if let Some(form) = element::<Element>("composer") {
        listen(&form, "submit", |e| {
            e.prevent_default();
            send();
        });
    }
    if let Some(prompt) = prompt_box() {
        listen(&prompt, "keydown", |e| {
            let Some(key) = e.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            if key.key() == "Enter" && !key.shift_key() && !key.is_composing() {
                e.prevent_default();
                send();
            } else if key.key() == "Escape" && !busy() {
                cancel_edit();
            }
        });
    }
    listen(&document, "keydown", |e| {
        if let Some(key) = e.dyn_ref::<KeyboardEvent>() {
            if key.key() == "Escape" && busy() {
                e.prevent_default();
                stop();
            }
        }
    });
    if let Some(button) = element::<Element>("stop") {
        listen(&button, "click", |_| {
            stop();
            if let Some(prompt) = prompt_box() {
                let _ = prompt.focus();
            }
        });
    }
    if let Some(button) = element::<Element>("new-chat") {
        listen(&button, "click", |_| new_chat());
    }
    if let Some(button) = element::<Element>("conversations-toggle") {
        listen(&button, "click", |_| toggle_nav());
    }
    if let Some(list) = element::<Element>("messages") {
        listen(&list, "click", |e| {
            match action_of(&e).map(|(a, _)| a).as_deref() {
                Some("regenerate") => regenerate(),
                Some("edit") => edit_last(),
                _ => {}
            }
        });
    }
    if let Some(list) = element::<Element>("conversations") {
        listen(&list, "click", |e| {
            let Some((action, button)) = action_of(&e) else {
                return;
            };
            let Some(id) = button
                .closest("[data-id]")
                .ok()
                .flatten()
                .and_then(|item| item.get_attribute("data-id"))
            else {
                return;
            };
            match action.as_str() {
                "open" => open(&id),
                "rename" => rename(&id),
                "delete" => delete(&id),
                _ => {}
            }
        });
    }
    if let Some(window) = web_sys::window() {
        listen(&window, crate::models::readiness::EVENT, |e| {
            let state = js_sys::Reflect::get(&e, &"detail".into())
                .and_then(|d| js_sys::Reflect::get(&d, &"state".into()))
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default();
            set_model_state(&state);
        });
    }
    if let Some(state) = document.body().and_then(|b| b.get_attribute("data-model")) {
        set_model_state(&state);
    }
    with(|c| c.current = fresh_conversation());
    spawn_local(async {
        match store::all().await {
            Ok(list) => with(|c| {
                if let Some(newest) = list.first() {
                    c.current = newest.clone();
                }
                c.conversations = list;
            }),
            Err(e) => show_error(&format!("Saved conversations could not be read: {e}")),
        }
        render_all();
        crate::dom::set_state("chat", "ready");
    });
}

/// Replaces every conversation in memory (after an import or a deletion) and shows the newest.
pub(super) fn reload_conversations(list: Vec<Conversation>) {
    with(|c| {
        c.current = list.first().cloned().unwrap_or_else(fresh_conversation);
        c.conversations = list;
        c.editing = false;
    });
    render_all();
}
