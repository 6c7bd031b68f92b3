//! The embed's postMessage API: what a host page sends to `embed.html` in its iframe and what
//! the embed answers, plus the origin allowlist that decides who may talk to it (and frame it).
//!
//! Every message is a plain object with a `type` starting `hearth:`; see `docs/EMBED.md`.

use crate::worker::{ChatMessage, GenerateSettings, GenerationStats, LoadStage};
use serde::{Deserialize, Serialize};

/// The host's name for a request, echoed back on every answer to it: a string or an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Number(i64),
    Text(String),
}

/// Sampling options a host may set; anything left out keeps the engine's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl PromptOptions {
    /// The engine's settings: the defaults with the host's choices laid over them.
    pub fn settings(&self) -> GenerateSettings {
        let mut s = GenerateSettings::default();
        if let Some(v) = self.temperature {
            s.temperature = v;
        }
        if let Some(v) = self.top_k {
            s.top_k = v;
        }
        if let Some(v) = self.top_p {
            s.top_p = v;
        }
        if let Some(v) = self.repetition_penalty {
            s.repetition_penalty = v;
        }
        if let Some(v) = self.max_tokens {
            s.max_tokens = v;
        }
        if let Some(v) = self.seed {
            s.seed = v;
        }
        s
    }
}

/// Host page → embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum HostMessage {
    /// Reply to `messages` (the whole conversation so far, oldest first).
    #[serde(rename = "hearth:prompt")]
    Prompt {
        id: RequestId,
        messages: Vec<ChatMessage>,
        #[serde(default)]
        options: PromptOptions,
    },
    /// Stop the reply to `id`; it ends with `hearth:done` (stop `cancelled`).
    #[serde(rename = "hearth:stop")]
    Stop { id: RequestId },
    /// Ask for the current `hearth:status` (it is also sent whenever it changes).
    #[serde(rename = "hearth:status")]
    Status,
}

/// Where the embed's engine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedState {
    /// Starting, downloading or uploading the model.
    Loading,
    /// Prompts are answered.
    Ready,
    /// It cannot answer (the message says why).
    Error,
    /// Another tab or embed of this site owns the engine; this one waits for it to close.
    Waiting,
}

/// Embed → host page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EmbedMessage {
    #[serde(rename = "hearth:status")]
    Status {
        state: EmbedState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<LoadStage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes_done: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes_total: Option<u64>,
        /// Plain words for people (what is loading, what went wrong).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The next piece of the reply's text.
    #[serde(rename = "hearth:token")]
    Token { id: RequestId, text: String },
    #[serde(rename = "hearth:done")]
    Done {
        id: RequestId,
        stats: GenerationStats,
    },
    #[serde(rename = "hearth:error")]
    Error { id: RequestId, message: String },
}

impl EmbedMessage {
    /// A status without load progress.
    pub fn status(state: EmbedState, message: impl Into<String>) -> Self {
        Self::Status {
            state,
            stage: None,
            bytes_done: None,
            bytes_total: None,
            message: Some(message.into()),
        }
    }
}

/// The origin of a URL-like string (`scheme://host[:port]`, lower case, no trailing slash), or
/// `None` when it is not a plain http(s) origin: a path, query, wildcard, quote, space or
/// separator would not be an origin and must never reach a CSP header.
pub fn normalize_origin(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text.strip_suffix('/').unwrap_or(text);
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
                return None;
            }
            (host, Some(port))
        }
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
    if !host_ok || (host.contains(':') && !(host.starts_with('[') && host.ends_with(']'))) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The origin of an absolute http(s) URL (its path, query and fragment dropped).
pub fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    normalize_origin(&format!("{scheme}://{authority}"))
}

/// Who may drive (and frame) the embed: the app's own origin plus the deployer's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedAllowlist {
    origins: Vec<String>,
}

impl EmbedAllowlist {
    /// The deployer's entries, normalised; entries that are not origins are returned apart so
    /// the caller can say so (they are never allowed).
    pub fn new<S: AsRef<str>>(entries: &[S]) -> (Self, Vec<String>) {
        let mut origins = Vec::new();
        let mut rejected = Vec::new();
        for e in entries {
            match normalize_origin(e.as_ref()) {
                Some(o) if !origins.contains(&o) => origins.push(o),
                Some(_) => {}
                None => rejected.push(e.as_ref().to_string()),
            }
        }
        (Self { origins }, rejected)
    }

    /// Other origins allowed besides the app's own.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether a message from `sender` is answered, the app being at `own_origin`.
    /// An opaque sender (`"null"`: sandboxed frames, files) is never allowed.
    pub fn allows(&self, sender: &str, own_origin: &str) -> bool {
        let Some(sender) = normalize_origin(sender) else {
            return false;
        };
        normalize_origin(own_origin).as_deref() == Some(sender.as_str())
            || self.origins.contains(&sender)
    }

    /// The CSP `frame-ancestors` directive: `'self'` plus the allowed origins.
    pub fn frame_ancestors(&self) -> String {
        let mut d = String::from("frame-ancestors 'self'");
        for o in &self.origins {
            d.push(' ');
            d.push_str(o);
        }
        d
    }
}

/// The Content-Security-Policy for Hearth's pages: only its own scripts (and wasm), workers
/// from itself, fetches to itself and the model origin (`model_base_url`, any absolute URL), and framing only by the allowlist.
pub fn content_security_policy(allowlist: &EmbedAllowlist, model_origin: Option<&str>) -> String {
    let mut connect = String::from("connect-src 'self'");
    if let Some(origin) = model_origin.and_then(url_origin) {
        connect.push(' ');
        connect.push_str(&origin);
    }
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        &connect,
        "img-src 'self' data: blob:",
        // Inline style attributes only (progress bars); no inline scripts anywhere.
        "style-src 'self' 'unsafe-inline'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        &allowlist.frame_ancestors(),
    ]
    .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from(v: serde_json::Value) -> Result<HostMessage, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn a_prompt_reads_ids_messages_and_options() {
        let m = from(json!({
            "type": "hearth:prompt", "id": "q1",
            "messages": [{"role": "user", "content": "Hi"}],
            "options": {"temperature": 0, "max_tokens": 2, "seed": 7}
        }))
        .unwrap();
        let HostMessage::Prompt {
            id,
            messages,
            options,
        } = m
        else {
            panic!("not a prompt: {m:?}");
        };
        assert_eq!(id, RequestId::Text("q1".into()));
        assert_eq!(messages[0].content, "Hi");
        let s = options.settings();
        let d = GenerateSettings::default();
        assert_eq!((s.temperature, s.max_tokens, s.seed), (0.0, 2, 7));
        assert_eq!((s.top_k, s.top_p), (d.top_k, d.top_p));

        let numbered = from(json!({"type": "hearth:prompt", "id": 5, "messages": []})).unwrap();
        assert!(matches!(
            numbered,
            HostMessage::Prompt { id: RequestId::Number(5), ref options, .. } if *options == PromptOptions::default()
        ));
    }

    #[test]
    fn stop_and_status_requests_parse_and_strangers_do_not() {
        assert_eq!(
            from(json!({"type": "hearth:stop", "id": 3})).unwrap(),
            HostMessage::Stop {
                id: RequestId::Number(3)
            }
        );
        assert_eq!(
            from(json!({"type": "hearth:status"})).unwrap(),
            HostMessage::Status
        );
        for bad in [
            json!({"type": "hearth:prompt", "messages": []}),
            json!({"type": "hearth:launch"}),
            json!({"type": "hearth:prompt", "id": 1, "messages": [], "options": {"temp": 1}}),
            json!({"type": "hearth:stop", "id": 1.5}),
            json!("hearth:stop"),
        ] {
            assert!(from(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_carry_their_type_and_id() {
        let token = EmbedMessage::Token {
            id: RequestId::Text("a".into()),
            text: " Paris".into(),
        };
        assert_eq!(
            serde_json::to_value(&token).unwrap(),
            json!({"type": "hearth:token", "id": "a", "text": " Paris"})
        );
        let error = EmbedMessage::Error {
            id: RequestId::Number(9),
            message: "busy".into(),
        };
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({"type": "hearth:error", "id": 9, "message": "busy"})
        );
        let loading = EmbedMessage::Status {
            state: EmbedState::Loading,
            stage: Some(LoadStage::Download),
            bytes_done: Some(10),
            bytes_total: Some(100),
            message: None,
        };
        assert_eq!(
            serde_json::to_value(&loading).unwrap(),
            json!({"type": "hearth:status", "state": "loading", "stage": "download", "bytes_done": 10, "bytes_total": 100})
        );
        assert_eq!(
            serde_json::to_value(EmbedMessage::status(EmbedState::Waiting, "w")).unwrap(),
            json!({"type": "hearth:status", "state": "waiting", "message": "w"})
        );
    }

    #[test]
    fn origins_are_normalised_and_anything_else_is_refused() {
        for (text, origin) in [
            ("https://Example.com/", "https://example.com"),
            ("http://localhost:8080", "http://localhost:8080"),
            ("http://[::1]:80", "http://[::1]:80"),
            (" https://a.b ", "https://a.b"),
        ] {
            assert_eq!(normalize_origin(text).as_deref(), Some(origin), "{text}");
        }
        assert_eq!(
            url_origin("https://M.example:8443/packed/x.json?a#b").as_deref(),
            Some("https://m.example:8443")
        );
        assert_eq!(url_origin("models/"), None);
        for bad in [
            "*",
            "null",
            "https://*.example.com",
            "https://a.com/path",
            "https://a.com;script-src *",
            "https://a.com 'unsafe-inline'",
            "ftp://a.com",
            "https://",
            "https://a.com:x",
            "example.com",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_allowlist_admits_its_own_origin_and_listed_ones_only() {
        let (list, rejected) =
            EmbedAllowlist::new(&["http://localhost:9000/", "*", "http://localhost:9000"]);
        assert_eq!(rejected, ["*"]);
        assert_eq!(list.origins(), ["http://localhost:9000"]);
        let own = "http://127.0.0.1:8080";
        assert!(list.allows("http://127.0.0.1:8080", own));
        assert!(list.allows("http://localhost:9000", own));
        assert!(!list.allows("http://localhost:9001", own));
        assert!(!list.allows("http://127.0.0.1:8081", own));
        assert!(!list.allows("null", own));
        let (empty, _) = EmbedAllowlist::new::<&str>(&[]);
        assert!(empty.allows(own, own));
        assert!(!empty.allows("http://localhost:9000", own));
    }

    #[test]
    fn the_policy_lets_only_the_allowlist_frame_and_keeps_wasm_running() {
        let (list, _) = EmbedAllowlist::new(&["https://host.example"]);
        let csp = content_security_policy(&list, Some("https://models.example/packed/"));
        let directives: Vec<&str> = csp.split("; ").collect();
        assert!(directives.contains(&"frame-ancestors 'self' https://host.example"));
        assert!(directives.contains(&"script-src 'self' 'wasm-unsafe-eval'"));
        assert!(directives.contains(&"worker-src 'self'"));
        assert!(directives.contains(&"connect-src 'self' https://models.example"));
        let (none, _) = EmbedAllowlist::new::<&str>(&[]);
        let own_only = content_security_policy(&none, None);
        assert!(own_only.ends_with("frame-ancestors 'self'"));
        assert!(own_only.contains("connect-src 'self';"));
        assert!(!own_only.contains('*'));
    }
}
