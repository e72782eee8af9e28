//! The harness on the real engine: the tiny checkpoint with gpt-oss's vocabulary (random
//! weights) cannot search sensibly, but the loop must run it to an end without a crash — with
//! the tools declared, replies cut at their limit, the run ended and reported.

use std::path::PathBuf;
use std::time::Duration;

use fathom_agent::harness::ChatModel;
use fathom_agent::tools::Corpus;
use fathom_agent::{AgentEvent, Budget, Harness, RunEnding};
use fathom_chat::session::{Chat, ModelHost, ReplyEvent, ReplyOptions};
use fathom_chat::Harmony;
use fathom_engine::SamplingParams;
use fathom_fit::Memory;
use fathom_index::SearchIndex;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_random_model_drives_the_loop_to_an_end() {
    let checkpoint = std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
        .join("chat");
    let harmony = Harmony::load(&tempfile::tempdir().unwrap().keep()).unwrap();
    let host = ModelHost::with_memory(
        Duration::from_secs(600),
        Box::new(|| Memory::given(64 << 30)),
    );
    host.set_model(Some(checkpoint));
    let chat = Chat::new(harmony.clone(), host);
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();

    for seed in 0..3 {
        let mut model = ChatModel {
            chat: &chat,
            options: ReplyOptions {
                max_tokens: 24,
                sampling: SamplingParams {
                    temperature: 1.0,
                    seed: Some(seed),
                    ..SamplingParams::default()
                },
                context: 4096,
                ..ReplyOptions::default()
            },
        };
        let mut harness = Harness::new(
            Corpus {
                index: &index,
                folder: None,
                embed: None,
            },
            harmony.clone(),
            "Where is the budget memo?",
            Budget::default(),
            None,
        );
        harness.max_turns = 3;
        let mut events = Vec::new();
        let run = harness
            .run(
                "Where is the budget memo?",
                &mut model,
                &CancellationToken::new(),
                &mut |e| events.push(e),
            )
            .await
            .unwrap();
        assert!(matches!(events.first(), Some(AgentEvent::Turn { turn: 1 })));
        assert!(events.iter().any(|e| matches!(
            e,
            AgentEvent::Reply {
                reply: ReplyEvent::Done { .. }
            }
        )));
        assert!(matches!(events.last(), Some(AgentEvent::Ranked { .. })));
        assert!(run.turns >= 1 && run.turns <= 4);
        assert_eq!(run.ending, RunEnding::Unranked, "noise is not a ranking");
        assert!(run.documents.is_empty());
        assert!(
            run.used > 500,
            "the prompt with the tools declared: {}",
            run.used
        );
    }

    // Stopped before it starts: the run ends as stopped.
    let stop = CancellationToken::new();
    stop.cancel();
    let mut model = ChatModel {
        chat: &chat,
        options: ReplyOptions {
            max_tokens: 24,
            context: 4096,
            ..ReplyOptions::default()
        },
    };
    let harness = Harness::new(
        Corpus {
            index: &index,
            folder: None,
            embed: None,
        },
        harmony,
        "q",
        Budget::default(),
        None,
    );
    let run = harness
        .run("q", &mut model, &stop, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(run.ending, RunEnding::Stopped);
}
