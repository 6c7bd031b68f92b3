//! Building the chat's DOM from its state: the message list and the conversation list.

use super::conversation::{Conversation, Message};
use super::markdown::to_safe_html;
use crate::dom::document;
use web_sys::Element;

pub fn element(tag: &str, class: &str) -> Element {
    let el = document()
        .create_element(tag)
        .expect("creating an element cannot fail for a valid tag");
    if !class.is_empty() {
        el.set_class_name(class);
    }
    el
}

fn text_element(tag: &str, class: &str, text: &str) -> Element {
    let el = element(tag, class);
    el.set_text_content(Some(text));
    el
}

fn action_button(action: &str, label: &str, accessible_name: &str) -> Element {
    let button = text_element("button", "message-action", label);
    let _ = button.set_attribute("type", "button");
    let _ = button.set_attribute("data-action", action);
    let _ = button.set_attribute("aria-label", accessible_name);
    button
}

/// What the message list needs to know beyond the conversation itself.
pub struct MessageListState<'a> {
    pub conversation: &'a Conversation,
    /// Index of the reply being streamed, with its text so far.
    pub streaming: Option<(usize, &'a str)>,
    /// Offer regenerate/edit (a model is ready and nothing is being generated).
    pub actions: bool,
}

/// The body of a reply as safe HTML.
pub fn set_reply_body(body: &Element, text: &str) {
    body.set_inner_html(&to_safe_html(text));
}

fn message_element(index: usize, message: &Message, state: &MessageListState) -> Element {
    let article = element("article", "message");
    let _ = article.set_attribute("data-role", &message.role);
    let _ = article.set_attribute("data-index", &index.to_string());
    let user = message.is_user();
    let _ = article.set_attribute(
        "aria-label",
        if user { "You said" } else { "Hearth replied" },
    );
    let body = element("div", "message-body");
    let streaming = state.streaming.filter(|(i, _)| *i == index);
    if user {
        body.set_text_content(Some(&message.content));
    } else if let Some((_, text)) = streaming {
        set_reply_body(&body, text);
    } else {
        set_reply_body(&body, &message.content);
    }
    article.append_child(&body).ok();

    if streaming.is_some() {
        let _ = article.set_attribute("data-state", "streaming");
        let _ = article.set_attribute("aria-busy", "true");
        return article;
    }
    let _ = article.set_attribute(
        "data-state",
        if message.error.is_some() {
            "error"
        } else {
            "done"
        },
    );
    if let Some(stats) = &message.stats {
        let ids: Vec<String> = stats.ids.iter().map(u32::to_string).collect();
        let _ = article.set_attribute("data-token-ids", &ids.join(","));
        let _ = article.set_attribute("data-reused-tokens", &stats.reused_tokens.to_string());
        let _ = article.set_attribute(
            "data-stop",
            serde_json::to_value(stats.stop)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .as_deref()
                .unwrap_or(""),
        );
        article
            .append_child(&text_element("p", "reply-stats", &stats.summary()))
            .ok();
        if let Some(notice) = stats.dropped_notice() {
            let notice = text_element("p", "notice", &notice);
            let _ = notice.set_attribute("role", "note");
            article.append_child(&notice).ok();
        }
    }
    if let Some(error) = &message.error {
        article
            .append_child(&text_element("p", "error", error))
            .ok();
    }
    if state.actions {
        let messages = &state.conversation.messages;
        let actions = element("div", "message-actions");
        if user && Some(index) == state.conversation.last_user() {
            actions
                .append_child(&action_button(
                    "edit",
                    "Edit",
                    "Edit and resend your last message",
                ))
                .ok();
        }
        if !user && index + 1 == messages.len() {
            actions
                .append_child(&action_button(
                    "regenerate",
                    "Regenerate",
                    "Regenerate the last reply",
                ))
                .ok();
        }
        if actions.child_element_count() > 0 {
            article.append_child(&actions).ok();
        }
    }
    article
}

pub fn render_messages(state: &MessageListState) {
    let Some(list) = crate::dom::element::<Element>("messages") else {
        return;
    };
    list.set_inner_html("");
    if state.conversation.messages.is_empty() {
        list.append_child(&text_element(
            "p",
            "empty-chat",
            "A chat assistant that runs entirely on your device, online or off.",
        ))
        .ok();
    }
    for (i, m) in state.conversation.messages.iter().enumerate() {
        list.append_child(&message_element(i, m, state)).ok();
    }
    list.set_scroll_top(list.scroll_height());
}

/// Updates only the streaming reply's text (called at most once per animation frame).
pub fn update_streaming(text: &str) {
    let body = document()
        .query_selector("#messages article[data-state=\"streaming\"] .message-body")
        .ok()
        .flatten();
    if let Some(body) = body {
        set_reply_body(&body, text);
        if let Some(list) = crate::dom::element::<Element>("messages") {
            list.set_scroll_top(list.scroll_height());
        }
    }
}

pub fn render_conversation_list(conversations: &[Conversation], current: &str) {
    let Some(list) = crate::dom::element::<Element>("conversations") else {
        return;
    };
    list.set_inner_html("");
    for c in conversations {
        let item = element("li", "conversation");
        let _ = item.set_attribute("data-id", &c.id);
        let title = c.display_title();
        let open = text_element("button", "conversation-open", &title);
        let _ = open.set_attribute("type", "button");
        let _ = open.set_attribute("data-action", "open");
        if c.id == current {
            let _ = open.set_attribute("aria-current", "true");
        }
        item.append_child(&open).ok();
        for (action, label, name) in [
            ("rename", "✎", format!("Rename “{title}”")),
            ("delete", "✕", format!("Delete “{title}”")),
        ] {
            let button = text_element("button", "icon-button", label);
            let _ = button.set_attribute("type", "button");
            let _ = button.set_attribute("data-action", action);
            let _ = button.set_attribute("aria-label", &name);
            let _ = button.set_attribute("title", &name);
            item.append_child(&button).ok();
        }
        list.append_child(&item).ok();
    }
}
