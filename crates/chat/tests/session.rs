//! Replies through the real engine on a tiny checkpoint with gpt-oss's vocabulary. Its random
//! weights speak noise, so these tests check the mechanics: streaming order, stop, the kept KV
//! cache giving exactly the tokens of a full prefill, loading on first use, the memory check,
//! idle unloading, and a conversation that continues after a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fathom_chat::conversation::{Ending, ReplyStats};
use fathom_chat::session::{Chat, ModelHost, ReplyEvent, ReplyOptions};
use fathom_chat::{ChatStore, Effort, Harmony, Message, Setup};
use fathom_engine::SamplingParams;
use fathom_fit::Memory;
use tokio_util::sync::CancellationToken;

fn checkpoint() -> PathBuf {
    std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
        .join("chat")
}

fn chat(memory_bytes: u64, idle: Duration) -> Chat {
    let harmony = Harmony::load(&tempfile::tempdir().unwrap().keep()).unwrap();
    let host = ModelHost::with_memory(idle, Box::new(move || Memory::given(memory_bytes)));
    host.set_model(Some(checkpoint()));
    Chat::new(harmony, host)
}

const PLENTY: u64 = 64 << 30;

fn greedy(max_tokens: usize) -> ReplyOptions {
    ReplyOptions {
        max_tokens,
        sampling: SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        },
        context: 4096,
        ..ReplyOptions::default()
    }
}

fn setup() -> Setup {
    Setup {
        effort: Effort::Low,
        date: Some("2026-11-27".into()),
        instructions: Some("Be brief.".into()),
        tools: vec![],
    }
}

async fn reply(
    chat: &Chat,
    messages: &[Message],
    options: &ReplyOptions,
) -> (Message, Vec<ReplyEvent>) {
    let mut events = Vec::new();
    let message = chat
        .reply(
            &setup(),
            messages,
            options,
            &CancellationToken::new(),
            &mut |e| events.push(e),
        )
        .await
        .unwrap();
    (message, events)
}

fn stats(m: &Message) -> ReplyStats {
    match m {
        Message::Assistant { stats, .. } => stats.clone().unwrap(),
        _ => panic!("not a reply"),
    }
}

fn without_stats(m: &Message) -> Message {
    match m {
        Message::Assistant { parts, ending, .. } => Message::Assistant {
            parts: parts.clone(),
            ending: *ending,
            stats: None,
        },
        other => other.clone(),
    }
}

#[tokio::test]
async fn turns_reuse_the_cache_and_match_a_fresh_model_token_for_token() {
    let kept = chat(PLENTY, Duration::from_secs(600));
    let options = greedy(12);
    let mut history = vec![Message::user("What is in my notes?")];
    for turn in 0..3 {
        let (message, events) = reply(&kept, &history, &options).await;
        // The first use loads the model; every reply ends with `done` holding the message.
        assert_eq!(
            matches!(events.first(), Some(ReplyEvent::Loading)),
            turn == 0,
            "{events:?}"
        );
        assert_eq!(
            events.last(),
            Some(&ReplyEvent::Done {
                message: message.clone()
            })
        );
        let s = stats(&message);
        assert_eq!(s.generated_tokens, 12);
        if turn > 0 {
            assert!(
                s.cached_tokens > 50 && s.cached_tokens < s.prompt_tokens,
                "turn {turn}: {s:?}"
            );
        }
        // A separate host with a fresh engine prefills everything and must say the same.
        let fresh = chat(PLENTY, Duration::from_secs(600));
        let (again, _) = reply(&fresh, &history, &options).await;
        assert_eq!(stats(&again).cached_tokens, 0);
        assert_eq!(
            without_stats(&again),
            without_stats(&message),
            "turn {turn}"
        );

        history.push(message);
        history.push(Message::user(format!("And then? ({turn})")));
    }
}

#[tokio::test]
async fn stop_ends_the_reply_within_a_token_and_keeps_it() {
    let chat = chat(PLENTY, Duration::from_secs(600));
    let stop = CancellationToken::new();
    let mut tokens_seen = 0;
    let history = [Message::user("Tell me everything.")];
    // Nothing streams as text from a random model (it never opens a message), so the stop is
    // triggered from the loading event and must land within the first token.
    let message = chat
        .reply(&setup(), &history, &greedy(10_000), &stop, &mut |e| {
            if matches!(e, ReplyEvent::Loading) {
                stop.cancel();
            }
            if matches!(e, ReplyEvent::Delta { .. }) {
                tokens_seen += 1;
            }
        })
        .await
        .unwrap();
    let Message::Assistant { ending, stats, .. } = &message else {
        panic!()
    };
    assert_eq!(*ending, Ending::Stopped);
    // Stopped while loading: nothing generated (no figures), or at most the first token.
    assert!(
        stats.as_ref().is_none_or(|s| s.generated_tokens <= 1),
        "{stats:?}"
    );

    // The next request still works and is not cut short.
    let (message, _) = reply(&chat, &history, &greedy(5)).await;
    assert_eq!(stats_of(&message), (Ending::Length, 5));
}

fn stats_of(m: &Message) -> (Ending, u32) {
    match m {
        Message::Assistant { ending, stats, .. } => {
            (*ending, stats.as_ref().unwrap().generated_tokens)
        }
        _ => panic!(),
    }
}

#[tokio::test]
async fn a_model_that_does_not_fit_is_refused_with_the_reason_unless_overridden() {
    let chat = chat(1 << 20, Duration::from_secs(600));
    let history = [Message::user("hi")];
    let mut events = Vec::new();
    let err = chat
        .reply(
            &setup(),
            &history,
            &greedy(3),
            &CancellationToken::new(),
            &mut |e| events.push(e),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, fathom_chat::ChatError::DoesNotFit(s) if s.contains("not fit")),
        "{err}"
    );
    assert!(matches!(events.last(), Some(ReplyEvent::Failed { .. })));
    assert!(!chat.host.is_loaded());

    let options = ReplyOptions {
        allow_unfit: true,
        ..greedy(3)
    };
    let (message, _) = reply(&chat, &history, &options).await;
    assert_eq!(stats_of(&message), (Ending::Length, 3));
}

#[tokio::test]
async fn an_idle_model_unloads_and_loads_again_on_use() {
    let chat = chat(PLENTY, Duration::from_millis(200));
    let history = [Message::user("hi")];
    let (_, events) = reply(&chat, &history, &greedy(2)).await;
    assert!(matches!(events[0], ReplyEvent::Loading));
    assert!(chat.host.is_loaded());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while chat.host.is_loaded() {
        assert!(std::time::Instant::now() < deadline, "never unloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, events) = reply(&chat, &history, &greedy(2)).await;
    assert!(matches!(events[0], ReplyEvent::Loading));
}

#[tokio::test]
async fn a_stored_conversation_continues_after_a_restart_with_the_same_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chats.sqlite");
    let options = greedy(6);
    let id = {
        let chat = chat(PLENTY, Duration::from_secs(600));
        let store = ChatStore::open(&db).unwrap();
        let c = store.create(&setup(), None).unwrap();
        let first = Message::user("Where did I put the budget?");
        let (answer, _) = reply(&chat, std::slice::from_ref(&first), &options).await;
        store.append(&c.id, &[first, answer]).unwrap();
        c.id
    };
    // "Restart": a new store on the same file, a new model host.
    let store = ChatStore::open(&db).unwrap();
    let mut c = store.get(&id).unwrap();
    assert_eq!(c.title, "Where did I put the budget?");
    assert_eq!(c.messages.len(), 2);
    c.messages.push(Message::user("Thanks."));
    let chat_after = chat(PLENTY, Duration::from_secs(600));
    let (after, _) = reply(&chat_after, &c.messages, &options).await;
    // The same history, never stored, on a model that saw it all in one process.
    let chat_before = chat(PLENTY, Duration::from_secs(600));
    let (before, _) = reply(&chat_before, &c.messages, &options).await;
    assert_eq!(without_stats(&after), without_stats(&before));
    assert_eq!(c.setup, setup());
    let _ = Arc::strong_count(&chat_after.host);
}

#[tokio::test]
async fn the_first_load_on_llama_cpp_reports_its_conversion_and_later_ones_reuse_it() {
    let converted = tempfile::tempdir().unwrap();
    let on_llama = || {
        let c = chat(PLENTY, Duration::from_secs(600));
        c.host.set_backend(
            fathom_engine::BackendKind::LlamaCpp,
            converted.path().to_path_buf(),
        );
        c
    };
    let history = [Message::user("What is in my notes?")];
    let (message, events) = reply(&on_llama(), &history, &greedy(4)).await;
    assert_eq!(stats(&message).generated_tokens, 4);
    assert_eq!(events.first(), Some(&ReplyEvent::Loading), "{events:?}");
    let progress: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            ReplyEvent::Converting {
                done_bytes,
                total_bytes,
            } => Some((*done_bytes, *total_bytes)),
            _ => None,
        })
        .collect();
    // Every report comes before the reply streams, grows, and ends at the file's size.
    let streaming = events
        .iter()
        .position(|e| !matches!(e, ReplyEvent::Loading | ReplyEvent::Converting { .. }))
        .unwrap();
    assert!(events[streaming..]
        .iter()
        .all(|e| !matches!(e, ReplyEvent::Converting { .. })));
    assert!(!progress.is_empty(), "{events:?}");
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    let (done, total) = *progress.last().unwrap();
    assert_eq!(done, total);
    let file = std::fs::read_dir(converted.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "gguf"))
        .unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().len(), total);

    // A second host finds the conversion made: it loads without converting.
    let (_, events) = reply(&on_llama(), &history, &greedy(4)).await;
    assert_eq!(events.first(), Some(&ReplyEvent::Loading));
    assert!(!events
        .iter()
        .any(|e| matches!(e, ReplyEvent::Converting { .. })));
}
