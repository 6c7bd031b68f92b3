//! A conversation as it is stored and exported: its turns, and for each reply what the engine
//! reported about it.

use hearth_protocol::{ChatMessage, GenerationStats, StopReason};
use serde::{Deserialize, Serialize};

/// What is kept of a reply's stats (the prompt's ids are not: they are the conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyStats {
    pub ids: Vec<u32>,
    pub reused_tokens: u32,
    pub dropped_messages: u32,
    pub time_to_first_token_ms: f64,
    pub decode_tok_s: f64,
    pub stop: StopReason,
}

impl From<&GenerationStats> for ReplyStats {
    fn from(s: &GenerationStats) -> Self {
        Self {
            ids: s.ids.clone(),
            reused_tokens: s.reused_tokens,
            dropped_messages: s.dropped_messages,
            time_to_first_token_ms: s.time_to_first_token_ms,
            decode_tok_s: s.decode_tok_s,
            stop: s.stop,
        }
    }
}

/// Two significant digits for slow rates (a software GPU), fewer for fast ones.
fn rate(per_second: f64) -> String {
    if per_second >= 10.0 {
        format!("{per_second:.0}")
    } else if per_second >= 1.0 {
        format!("{per_second:.1}")
    } else {
        format!("{per_second:.2}")
    }
}

impl ReplyStats {
    /// One line under a reply: time to first token, speed, and why it stopped early.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            format!(
                "First token after {:.1} s",
                self.time_to_first_token_ms / 1000.0
            ),
            format!("{} tokens/s", rate(self.decode_tok_s)),
        ];
        match self.stop {
            StopReason::Cancelled => parts.push("stopped".into()),
            StopReason::MaxTokens => parts.push("reached the length limit".into()),
            StopReason::ContextFull => parts.push("the context window is full".into()),
            StopReason::EndOfGeneration => {}
        }
        parts.join(" · ")
    }

    /// Said when older turns did not fit the model's context.
    pub fn dropped_notice(&self) -> Option<String> {
        match self.dropped_messages {
            0 => None,
            1 => Some("1 earlier message was left out to fit the model's context".into()),
            n => Some(format!(
                "{n} earlier messages were left out to fit the model's context"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<ReplyStats>,
    /// Why the reply has no (complete) text, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Message {
    pub fn user(content: &str) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
            stats: None,
            error: None,
        }
    }

    pub fn assistant(content: &str) -> Self {
        Self {
            role: "assistant".into(),
            ..Self::user(content)
        }
    }

    pub fn is_user(&self) -> bool {
        self.role == "user"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: f64,
    pub updated_ms: f64,
    pub messages: Vec<Message>,
}

const TITLE_CHARS: usize = 48;

/// A title from the first words of a message: one line, at most [`TITLE_CHARS`] characters.
pub fn title_from(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= TITLE_CHARS {
        return line;
    }
    let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

impl Conversation {
    pub fn new(id: String, now_ms: f64) -> Self {
        Self {
            id,
            title: String::new(),
            created_ms: now_ms,
            updated_ms: now_ms,
            messages: Vec::new(),
        }
    }

    /// The title shown in lists: the given one, else the first message's words.
    pub fn display_title(&self) -> String {
        if !self.title.trim().is_empty() {
            return self.title.trim().to_string();
        }
        self.messages
            .iter()
            .find(|m| m.is_user())
            .map(|m| title_from(&m.content))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "New chat".into())
    }

    /// What the engine is asked to continue: the system prompt (when set), then every turn
    /// that has text. Failed or empty replies are left out.
    pub fn prompt(&self, system_prompt: &str) -> Vec<ChatMessage> {
        let system = (!system_prompt.trim().is_empty()).then(|| ChatMessage {
            role: "system".into(),
            content: system_prompt.to_string(),
        });
        system
            .into_iter()
            .chain(
                self.messages
                    .iter()
                    .filter(|m| m.is_user() || !m.content.is_empty())
                    .map(|m| ChatMessage {
                        role: m.role.clone(),
                        content: m.content.clone(),
                    }),
            )
            .collect()
    }

    /// Index of the last user message.
    pub fn last_user(&self) -> Option<usize> {
        self.messages.iter().rposition(Message::is_user)
    }
}

/// Newest first.
pub fn sort_newest_first(conversations: &mut [Conversation]) {
    conversations.sort_by(|a, b| b.updated_ms.total_cmp(&a.updated_ms));
}

/// The JSON export: every conversation, with a format tag so an import can recognise it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub conversations: Vec<Conversation>,
}

pub const EXPORT_FORMAT: &str = "hearth-conversations";

pub fn export_json(conversations: &[Conversation]) -> String {
    let export = Export {
        format: EXPORT_FORMAT.into(),
        version: 1,
        conversations: conversations.to_vec(),
    };
    serde_json::to_string_pretty(&export).unwrap_or_default()
}

/// Reads a JSON export back (or a bare list of conversations).
pub fn import_json(text: &str) -> Result<Vec<Conversation>, String> {
    if let Ok(export) = serde_json::from_str::<Export>(text) {
        if export.format != EXPORT_FORMAT {
            return Err(format!("this is not a Hearth export ({})", export.format));
        }
        return Ok(export.conversations);
    }
    serde_json::from_str::<Vec<Conversation>>(text)
        .map_err(|e| format!("this is not a Hearth export: {e}"))
}

/// Every conversation as one Markdown document: a heading per conversation, one per turn.
/// Message text is Markdown already and is kept as written.
pub fn export_markdown(conversations: &[Conversation]) -> String {
    let mut out = String::from("# Hearth conversations\n");
    for c in conversations {
        out.push_str(&format!("\n## {}\n", c.display_title().replace('\n', " ")));
        for m in &c.messages {
            let who = if m.is_user() { "You" } else { "Assistant" };
            out.push_str(&format!("\n### {who}\n\n{}\n", m.content.trim_end()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Conversation {
        let mut c = Conversation::new("c1".into(), 1000.0);
        c.messages
            .push(Message::user("What is the capital of France?"));
        c.messages.push(Message::assistant("Paris, with `code`."));
        c
    }

    #[test]
    fn title_comes_from_the_first_user_message() {
        assert_eq!(chat().display_title(), "What is the capital of France?");
        let long = title_from(&"word ".repeat(40));
        assert!(
            long.chars().count() <= TITLE_CHARS && long.ends_with('…'),
            "{long}"
        );
        assert_eq!(title_from("a\n\n b"), "a b");
        let mut renamed = chat();
        renamed.title = "Geography".into();
        assert_eq!(renamed.display_title(), "Geography");
        assert_eq!(
            Conversation::new("x".into(), 0.0).display_title(),
            "New chat"
        );
    }

    #[test]
    fn prompt_has_the_system_prompt_and_skips_empty_replies() {
        let mut c = chat();
        c.messages.push(Message::user("And Germany?"));
        c.messages.push(Message::assistant(""));
        let prompt = c.prompt("Be brief.");
        let roles: Vec<&str> = prompt.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(prompt[0].content, "Be brief.");
        assert_eq!(c.prompt("  ").len(), 3);
    }

    #[test]
    fn json_export_round_trips() {
        let mut c = chat();
        c.messages[1].stats = Some(ReplyStats {
            ids: vec![1, 2],
            reused_tokens: 3,
            dropped_messages: 0,
            time_to_first_token_ms: 5.0,
            decode_tok_s: 2.0,
            stop: StopReason::MaxTokens,
        });
        let text = export_json(std::slice::from_ref(&c));
        assert!(text.contains("\"format\": \"hearth-conversations\""));
        assert_eq!(import_json(&text).unwrap(), vec![c.clone()]);
        let bare = serde_json::to_string(&vec![c.clone()]).unwrap();
        assert_eq!(import_json(&bare).unwrap(), vec![c]);
        assert!(import_json("{\"format\":\"other\",\"version\":1,\"conversations\":[]}").is_err());
        assert!(import_json("nonsense").is_err());
    }

    #[test]
    fn markdown_export_has_a_section_per_conversation_and_turn() {
        let md = export_markdown(&[chat()]);
        assert_eq!(
            md,
            "# Hearth conversations\n\n## What is the capital of France?\n\n### You\n\nWhat is the capital of France?\n\n### Assistant\n\nParis, with `code`.\n"
        );
    }

    #[test]
    fn stats_say_speed_and_dropped_messages() {
        let mut stats = ReplyStats {
            ids: vec![],
            reused_tokens: 0,
            dropped_messages: 0,
            time_to_first_token_ms: 1234.0,
            decode_tok_s: 5.67,
            stop: StopReason::Cancelled,
        };
        assert_eq!(
            stats.summary(),
            "First token after 1.2 s · 5.7 tokens/s · stopped"
        );
        assert_eq!(stats.dropped_notice(), None);
        stats.decode_tok_s = 0.0612;
        stats.stop = StopReason::EndOfGeneration;
        assert_eq!(stats.summary(), "First token after 1.2 s · 0.06 tokens/s");
        stats.decode_tok_s = 42.4;
        assert_eq!(stats.summary(), "First token after 1.2 s · 42 tokens/s");
        stats.dropped_messages = 3;
        assert_eq!(
            stats.dropped_notice().unwrap(),
            "3 earlier messages were left out to fit the model's context"
        );
    }

    #[test]
    fn newest_first() {
        let mut a = chat();
        a.updated_ms = 1.0;
        let mut b = chat();
        b.id = "c2".into();
        b.updated_ms = 2.0;
        let mut list = vec![a, b];
        sort_newest_first(&mut list);
        assert_eq!(list[0].id, "c2");
    }
}
