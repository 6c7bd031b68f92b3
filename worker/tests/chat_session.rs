//! The chat session on the CPU reference with the real SmolLM2 model: a second turn reuses the
//! first turn's KV cache and still produces exactly what a fresh session computes, a stopped
//! reply ends at once, and a chat longer than the window drops its oldest turns.

use hearth_protocol::StopReason;
use hearth_worker::chat::{ChatDate, Message};
use hearth_worker::cpu::CpuModel;
use hearth_worker::gguf::GgufHeader;
use hearth_worker::sampler::SamplerSettings;
use hearth_worker::session::{ChatSession, Flow, Reply};
use hearth_worker::tokenizer::Tokenizer;
use std::io::BufReader;

mod common;

const MODEL: &str = "SmolLM2-135M-Instruct.Q6_K.gguf";

fn session(window: usize) -> ChatSession<CpuModel> {
    let path = common::fixture(MODEL);
    let file = std::fs::File::open(&path).unwrap();
    let len = file.metadata().unwrap().len();
    let header = GgufHeader::read_from(BufReader::new(file), Some(len)).unwrap();
    let tokenizer = Tokenizer::from_gguf(&header).unwrap();
    ChatSession::new(CpuModel::load_file(&path, Some(window)).unwrap(), tokenizer)
}

fn date() -> ChatDate {
    ChatDate::from_unix_seconds(1_700_000_000)
}

fn no_clock() -> f64 {
    0.0
}

/// A greedy reply of at most `max_tokens`.
fn greedy(chat: &mut ChatSession<CpuModel>, prompt: &[u32], max_tokens: usize) -> Reply {
    pollster::block_on(chat.generate(
        prompt,
        SamplerSettings::greedy(),
        max_tokens,
        false,
        &no_clock,
        |_, _| Flow::Continue,
    ))
    .unwrap()
}

#[test]
fn a_second_turn_reuses_the_cache_and_matches_a_fresh_session() {
    let mut chat = session(512);
    let mut messages = vec![Message::new("user", "Name a colour.")];
    let first_prompt = chat.chat_prompt(&messages, date(), 8).unwrap().ids;
    let first = greedy(&mut chat, &first_prompt, 8);
    assert_eq!(first.reused_tokens, 0);

    messages.push(Message::new("assistant", first.text.clone()));
    messages.push(Message::new("user", "And another one?"));
    let second_prompt = chat.chat_prompt(&messages, date(), 8).unwrap().ids;
    let second = greedy(&mut chat, &second_prompt, 8);
    // At least the whole first prompt is shared (the template re-renders the reply).
    assert!(
        second.reused_tokens >= first_prompt.len(),
        "reused {} of a first prompt of {}",
        second.reused_tokens,
        first_prompt.len()
    );

    let mut fresh = session(512);
    let again = greedy(&mut fresh, &second_prompt, 8);
    assert_eq!(again.reused_tokens, 0);
    assert_eq!(second.ids, again.ids);
}

#[test]
fn stopping_ends_the_reply_at_the_token_that_asked() {
    let mut chat = session(256);
    let prompt = chat
        .chat_prompt(&[Message::new("user", "Count to twenty.")], date(), 16)
        .unwrap()
        .ids;
    let mut seen = 0;
    let reply = pollster::block_on(chat.generate(
        &prompt,
        SamplerSettings::greedy(),
        16,
        true,
        &no_clock,
        |_, _| {
            seen += 1;
            if seen == 3 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        },
    ))
    .unwrap();
    assert_eq!(reply.stop, StopReason::Cancelled);
    assert_eq!(reply.ids.len(), 3);
}

#[test]
fn a_chat_longer_than_the_window_drops_its_oldest_turns_but_keeps_the_system_prompt() {
    let chat = session(160);
    let long = "This sentence makes the turn long. ".repeat(6);
    let mut messages = vec![Message::new("system", "You are terse.")];
    for i in 0..6 {
        messages.push(Message::new("user", format!("{long} Question {i}?")));
        messages.push(Message::new("assistant", format!("Answer {i}.")));
    }
    messages.push(Message::new("user", "Last question?"));
    let prompt = chat.chat_prompt(&messages, date(), 32).unwrap();
    assert!(prompt.dropped_messages > 0);
    assert!(prompt.ids.len() + 32 <= 160, "{} ids", prompt.ids.len());
    let text = chat.tokenizer().decode(&prompt.ids).unwrap();
    assert!(text.contains("You are terse."), "{text}");
    assert!(text.contains("Last question?"), "{text}");
    assert!(!text.contains("Question 0?"), "{text}");

    // A single message too long for the window is an error, not a crash.
    let huge = vec![Message::new("user", long.repeat(20))];
    assert!(chat.chat_prompt(&huge, date(), 0).is_err());
}
