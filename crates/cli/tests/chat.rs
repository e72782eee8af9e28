//! `fathom chat`, run as a user runs it, on the tiny checkpoint with gpt-oss's vocabulary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn checkpoint() -> PathBuf {
    std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
        .join("chat")
}

/// Runs `fathom chat` with `stdin`; (success, stdout, stderr).
fn chat(data: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let model = checkpoint();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("chat")
        .arg("--model")
        .arg(&model)
        .args(["--temp", "0"])
        .args(args)
        .env("FATHOM_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn a_conversation_on_stdin_gets_one_reply_as_json() {
    let data = tempfile::tempdir().unwrap();
    let conversation = r#"{"effort": "high", "instructions": "Be brief.", "messages": [
        {"role": "user", "content": "What is BM25?"},
        {"role": "assistant", "content": "A ranking function."},
        {"role": "user", "content": "And RRF?"}]}"#;
    let (ok, out, err) = chat(data.path(), &["--json", "--max-tokens", "7"], conversation);
    assert!(ok, "{err}");
    let reply = json(&out);
    assert_eq!(reply["message"]["role"], "assistant");
    assert_eq!(reply["message"]["ending"], "length");
    assert_eq!(reply["message"]["stats"]["generatedTokens"], 7);
    assert!(reply["message"]["stats"]["promptTokens"].as_u64().unwrap() > 60);
    assert!(reply["message"]["parts"].is_array());
    assert_eq!(reply["conversation"], Value::Null, "not saved unless asked");

    // Greedy is reproducible; a plain-text message works too.
    let (_, again, _) = chat(data.path(), &["--json", "--max-tokens", "7"], conversation);
    assert_eq!(json(&again)["message"]["parts"], reply["message"]["parts"]);
    let (ok, out, err) = chat(data.path(), &["--json", "--max-tokens", "3"], "Just text\n");
    assert!(ok, "{err}");
    assert_eq!(json(&out)["message"]["stats"]["generatedTokens"], 3);
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let data = tempfile::tempdir().unwrap();
    for (stdin, reason) in [
        ("", "nothing on standard input"),
        ("{\"messages\": 3}", "not a conversation"),
        (
            r#"[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]"#,
            "end with a user message",
        ),
        (r#"[{"role": "system", "content": "a"}]"#, "role must be"),
    ] {
        let (ok, _, err) = chat(data.path(), &["--json"], stdin);
        assert!(!ok && err.contains(reason), "{stdin:?}: {err}");
    }
    let (ok, _, err) = chat(data.path(), &["--effort", "extreme"], "hi");
    assert!(!ok && err.contains("low, medium or high"), "{err}");
}

#[test]
fn saved_conversations_continue_in_a_later_run() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out, err) = chat(
        data.path(),
        &["--json", "--save", "--max-tokens", "4", "--effort", "low"],
        "Where is the memo?",
    );
    assert!(ok, "{err}");
    let id = json(&out)["conversation"].as_str().unwrap().to_string();
    let (ok, out, err) = chat(
        data.path(),
        &["--json", "--continue", &id, "--max-tokens", "4"],
        "Thanks!",
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["conversation"], id.as_str());

    let store =
        fathom_chat::ChatStore::open(fathom_store::AppDirs::under(data.path()).chats_file())
            .unwrap();
    let c = store.get(&id).unwrap();
    assert_eq!(c.title, "Where is the memo?");
    assert_eq!(
        c.setup.effort,
        fathom_chat::Effort::Low,
        "kept from the first run"
    );
    let roles: Vec<&str> = c
        .messages
        .iter()
        .map(|m| match m {
            fathom_chat::Message::User { .. } => "user",
            _ => "assistant",
        })
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(c.messages[2], fathom_chat::Message::user("Thanks!"));

    let (ok, _, err) = chat(data.path(), &["--continue", "no-such-id"], "hi");
    assert!(!ok && err.contains("no conversation"), "{err}");
}

#[test]
fn interactive_turns_reuse_the_cache() {
    let data = tempfile::tempdir().unwrap();
    let (ok, _, err) = chat(
        data.path(),
        &["--interactive", "--max-tokens", "4"],
        "hello\n\nagain\n/new\nfresh start\n/quit\nnever sent\n",
    );
    assert!(ok, "{err}");
    let figures: Vec<(u64, u64)> = err
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" first token ")?;
            let (_, cached) = rest.split_once(" s · ")?;
            let mut words = cached.split_whitespace();
            let held = words.next()?.parse().ok()?;
            let prompt = words.nth(1)?.parse().ok()?;
            Some((held, prompt))
        })
        .collect();
    assert_eq!(figures.len(), 3, "three replies: {err}");
    assert_eq!(figures[0].0, 0, "{err}");
    assert!(
        figures[1].0 > 0 && figures[1].0 < figures[1].1,
        "the second turn reuses the first: {err}"
    );
    // After /new the conversation starts over; the system prompt is still cached.
    assert!(figures[2].1 < figures[1].1, "{err}");
}
