//! Harmony rendering and parsing against the reference: the `openai-harmony` Python package
//! (pinned), run by `scripts/fixtures.sh` on tests/fixtures/harmony_conversations.json, which
//! covers every role, channel, reasoning effort, tool declarations and tool calls.

use std::path::PathBuf;

use fathom_chat::harmony::PartKind;
use fathom_chat::{Harmony, Message, Part, Setup};
use serde::Deserialize;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> serde_json::Value {
    let path = std::env::var_os("FATHOM_HARMONY_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/fixtures/harmony.json"));
    serde_json::from_slice(&std::fs::read(&path).expect("run scripts/fixtures.sh")).unwrap()
}

fn harmony() -> Harmony {
    let dir = tempfile::tempdir().unwrap();
    Harmony::load(&dir.keep()).unwrap()
}

#[derive(Deserialize)]
struct Case {
    name: String,
    setup: Setup,
    messages: Vec<Message>,
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn conversations_render_token_for_token_as_the_reference() {
    let harmony = harmony();
    let reference = reference();
    let cases: Vec<Case> = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/harmony_conversations.json")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let ours = harmony.render(&case.setup, &case.messages).unwrap();
        let theirs = ids(&reference["rendered"][&case.name]);
        assert!(!theirs.is_empty(), "{}: no reference", case.name);
        if ours != theirs {
            let at = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
            panic!(
                "{}: differs from the reference at token {at} of {} (ours {})",
                case.name,
                theirs.len(),
                ours.len()
            );
        }
    }
}

#[test]
fn stop_tokens_are_the_references() {
    assert_eq!(harmony().stop_tokens(), ids(&reference()["stopTokens"]));
}

#[test]
fn streamed_replies_parse_into_the_references_messages() {
    let harmony = harmony();
    let reference = reference();
    let replies = reference["replies"].as_object().unwrap();
    assert!(replies.len() >= 5);
    for (name, reply) in replies {
        let mut parser = harmony.parser();
        let mut streamed: Vec<(usize, PartKind, String)> = Vec::new();
        for token in ids(&reply["tokens"]) {
            if let Some(delta) = parser.push(token) {
                match streamed.last_mut() {
                    Some((i, kind, text)) if *i == delta.index => {
                        assert_eq!(*kind, delta.kind, "{name}: a part changed kind");
                        text.push_str(&delta.text);
                    }
                    _ => streamed.push((delta.index, delta.kind, delta.text)),
                }
            }
        }
        let (parts, error) = parser.finish(false);
        assert_eq!(error, None, "{name}");
        let expected: Vec<Part> = reply["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let text = m["text"].as_str().unwrap().to_string();
                match (m["channel"].as_str(), m["recipient"].as_str()) {
                    (_, Some(r)) => Part::ToolCall {
                        tool: r.strip_prefix("functions.").unwrap().to_string(),
                        arguments: text,
                        output: None,
                    },
                    (Some("analysis"), None) => Part::Reasoning { text },
                    (Some("commentary"), None) => Part::Commentary { text },
                    (Some("final"), None) => Part::Answer { text },
                    other => panic!("{name}: unexpected reference message {other:?}"),
                }
            })
            .collect();
        assert_eq!(parts, expected, "{name}");
        // What streamed, part by part, is what the finished parse holds.
        assert_eq!(streamed.len(), parts.len(), "{name}");
        for ((index, _, text), (i, part)) in streamed.iter().zip(parts.iter().enumerate()) {
            assert_eq!((*index, text.as_str()), (i, part.text()), "{name}");
        }
    }
}

#[test]
fn a_reply_that_breaks_the_format_keeps_what_came() {
    let harmony = harmony();
    let reference = reference();
    let good = ids(&reference["replies"]["unicode-answer"]["tokens"]);
    // Cut before <|return|>: the answer so far is kept as an unfinished part.
    let mut parser = harmony.parser();
    for &t in &good[..good.len() - 1] {
        parser.push(t);
    }
    let (parts, error) = parser.finish(false);
    assert_eq!(error, None);
    assert!(matches!(&parts[..], [Part::Answer { text }] if text.starts_with("日本語")));

    // A channel marker without a channel is not harmony: parsing stops, the rest is kept raw.
    let mut parser = harmony.parser();
    for t in [200005, 200008, 12194] {
        parser.push(t);
    }
    let (parts, error) = parser.finish(false);
    assert!(error.unwrap().contains("channel"));
    assert!(matches!(&parts[..], [Part::Answer { text }] if text.ends_with("Hi")));

    // Cut off inside a header (a model that never opens a message): the header text is kept.
    let mut parser = harmony.parser();
    for t in [12194, 12194] {
        assert_eq!(parser.push(t), None);
    }
    let (parts, error) = parser.finish(false);
    assert!(error.unwrap().contains("header"));
    assert_eq!(
        parts,
        [Part::Answer {
            text: "HiHi".into()
        }]
    );

    // A header that never ends (a model that has left the format) turns into raw text that
    // streams as it comes, and the parse ends with the same text.
    let mut parser = harmony.parser();
    let mut streamed = String::new();
    let mut first_delta_at = None;
    for i in 0..150 {
        if let Some(delta) = parser.push(12194) {
            assert_eq!((delta.index, &delta.kind), (0, &PartKind::Answer));
            first_delta_at.get_or_insert(i);
            streamed.push_str(&delta.text);
        }
    }
    assert!(
        first_delta_at.is_some_and(|i| i < 100),
        "{first_delta_at:?}"
    );
    let (parts, error) = parser.finish(true);
    assert!(error.unwrap().contains("header"));
    assert_eq!(
        parts,
        [Part::Answer {
            text: "Hi".repeat(150)
        }]
    );
    assert_eq!(streamed, "Hi".repeat(150));
}
