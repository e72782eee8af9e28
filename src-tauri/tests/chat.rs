//! The Chat page's commands through Tauri's mock runtime, on the real engine with the tiny
//! checkpoint (gpt-oss's vocabulary, random weights) installed in a Hugging Face cache: replies
//! streamed over a channel, stop, regenerate, edit, the list, search, rename, export, delete,
//! and the conversations still there after a restart.
//! One test per binary: the Hugging Face cache is process environment.

mod common;
use common::invoke;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fathom_app::app::StreamId;
use fathom_app::commands::chat::chat_reply;
use fathom_app::AppState;
use fathom_core::ReplyAction;
use fathom_store::AppDirs;
use serde_json::{json, Value};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, Manager, WebviewWindow};

const REPO: &str = "test/chat-tiny";

fn app(state_dir: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let state = AppState::load_from(AppDirs::under(state_dir)).unwrap();
    let app = fathom_app::with_commands(mock_builder(), state, |_| Ok(()))
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, w)
}

/// Installs the chat fixture as `REPO` in a Hugging Face cache layout.
fn install(hub: &Path) {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/fixtures/gpt-oss/chat");
    let repo = hub.join("models--test--chat-tiny");
    let snapshot = repo.join("snapshots/abc123");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123").unwrap();
    for f in std::fs::read_dir(&fixture).expect("run scripts/fixtures.sh") {
        let f = f.unwrap().path();
        std::fs::copy(&f, snapshot.join(f.file_name().unwrap())).unwrap();
    }
}

/// Runs `chat_reply`; the events it streamed and its outcome.
fn reply(
    app: &App<MockRuntime>,
    id: &str,
    action: ReplyAction,
    stream: &str,
    on_event: impl Fn(&Value) + Send + Sync + 'static,
) -> (Vec<Value>, Result<Value, fathom_app::CommandError>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        let e = body.deserialize::<Value>().unwrap();
        on_event(&e);
        seen.lock().unwrap().push(e);
        Ok(())
    });
    let outcome = tauri::async_runtime::block_on(chat_reply(
        app.state::<AppState>(),
        id.into(),
        action,
        false,
        StreamId(stream.into()),
        channel,
    ))
    .map(|c| serde_json::to_value(c).unwrap());
    let events = events.lock().unwrap().clone();
    (events, outcome)
}

fn last_stats(conversation: &Value) -> Value {
    conversation["messages"].as_array().unwrap().last().unwrap()["stats"].clone()
}

#[test]
fn conversations_stream_stop_regenerate_edit_persist_and_export_over_ipc() {
    let tmp = tempfile::tempdir().unwrap();
    install(&tmp.path().join("hub"));
    std::env::set_var("HF_HUB_CACHE", tmp.path().join("hub"));
    std::env::set_var("HF_HOME", tmp.path().join("hf-home"));
    let state_dir = tmp.path().join("state");
    // Random weights never end a reply by themselves: keep replies short.
    let dirs = AppDirs::under(&state_dir);
    std::fs::create_dir_all(dirs.config()).unwrap();
    std::fs::write(dirs.settings_file(), r#"{"replyMaxTokens": 6}"#).unwrap();
    let (app, w) = app(&state_dir);

    // Without a chosen model a reply is refused with what to do.
    let c = invoke(
        &w,
        "new_conversation",
        json!({ "effort": "low", "instructions": null }),
    )
    .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["setup"]["effort"], "low");
    assert!(c["setup"]["date"].as_str().unwrap().len() == 10);
    let (_, outcome) = reply(
        &app,
        &id,
        ReplyAction::Send {
            text: "Where is the memo?".into(),
        },
        "r0",
        |_| {},
    );
    assert!(
        format!("{:?}", outcome.unwrap_err()).contains("Models page"),
        "no model yet"
    );
    invoke(
        &w,
        "set_active_model",
        json!({ "repo": REPO, "ignoreFit": false }),
    )
    .unwrap();

    // The first reply loads the model, streams, ends with `done`, and is saved. The user's
    // message saved by the refused attempt is answered by regenerating.
    let (events, outcome) = reply(&app, &id, ReplyAction::Regenerate, "r1", |_| {});
    let c = outcome.unwrap();
    assert_eq!(events.first().unwrap()["event"], "loading");
    assert_eq!(events.last().unwrap()["event"], "done");
    assert_eq!(
        events.last().unwrap()["message"],
        c["messages"][1],
        "the saved reply is the streamed one"
    );
    assert_eq!(c["messages"].as_array().unwrap().len(), 2);
    assert_eq!(c["title"], "Where is the memo?");
    let first = last_stats(&c);
    assert!(first["generatedTokens"].as_u64().unwrap() > 0);

    // The next turn reuses the cache: only the new part is prefilled.
    let (events, outcome) = reply(
        &app,
        &id,
        ReplyAction::Send {
            text: "And the budget?".into(),
        },
        "r2",
        |_| {},
    );
    assert_ne!(events.first().unwrap()["event"], "loading", "still loaded");
    let c = outcome.unwrap();
    let stats = last_stats(&c);
    assert!(
        stats["cachedTokens"].as_u64().unwrap() > 0
            && stats["cachedTokens"].as_u64() < stats["promptTokens"].as_u64(),
        "{stats}"
    );
    assert_eq!(c["messages"].as_array().unwrap().len(), 4);

    // Stop, over IPC as the Stop button does, from the first event: the reply ends at once and
    // is saved as stopped. (Random weights never open a message, so there are no text deltas.)
    invoke(&w, "unload_model", json!({})).unwrap();
    let webview = w.clone();
    let (_, outcome) = reply(&app, &id, ReplyAction::Regenerate, "r3", move |e| {
        if e["event"] == "loading" {
            invoke(&webview, "cancel_stream", json!({ "stream": "r3" })).unwrap();
        }
    });
    let c = outcome.unwrap();
    let last = c["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ending"], "stopped");
    assert!(last["stats"]["generatedTokens"].as_u64().unwrap_or(0) <= 1);
    assert_eq!(
        c["messages"].as_array().unwrap().len(),
        4,
        "replaced, not added"
    );

    // Edit the first message: what followed goes.
    let (_, outcome) = reply(
        &app,
        &id,
        ReplyAction::Edit {
            index: 0,
            text: "Where is the quarterly memo?".into(),
        },
        "r4",
        |_| {},
    );
    let c = outcome.unwrap();
    assert_eq!(c["messages"].as_array().unwrap().len(), 2);
    assert_eq!(c["messages"][0]["text"], "Where is the quarterly memo?");
    let (_, outcome) = reply(
        &app,
        &id,
        ReplyAction::Edit {
            index: 1,
            text: "not mine".into(),
        },
        "r5",
        |_| {},
    );
    assert!(format!("{:?}", outcome.unwrap_err()).contains("not a message of yours"));

    // The list, search, rename, effort, export.
    let other = invoke(
        &w,
        "new_conversation",
        json!({ "effort": "high", "instructions": "Be brief." }),
    )
    .unwrap();
    let list = invoke(&w, "list_conversations", json!({ "query": null })).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let found = invoke(&w, "list_conversations", json!({ "query": "QUARTERLY" })).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], id.as_str());
    invoke(
        &w,
        "rename_conversation",
        json!({ "id": id, "title": "Memo hunt" }),
    )
    .unwrap();
    let c = invoke(
        &w,
        "set_conversation_setup",
        json!({ "id": id, "effort": "medium", "instructions": "Cite sources." }),
    )
    .unwrap();
    assert_eq!(c["setup"]["effort"], "medium");
    assert_eq!(c["setup"]["instructions"], "Cite sources.");
    let out = tmp.path().join("memo.md");
    let written = invoke(
        &w,
        "export_conversation",
        json!({ "id": id, "path": out.display().to_string() }),
    )
    .unwrap();
    assert_eq!(written, out.display().to_string());
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.starts_with("# Memo hunt\n"), "{md}");
    assert!(
        md.contains("## You\n\nWhere is the quarterly memo?"),
        "{md}"
    );
    assert!(md.contains("tok/s"), "{md}");
    let err = invoke(&w, "get_conversation", json!({ "id": "nope" })).unwrap_err();
    assert_eq!(err["kind"], "chat");

    // Ask over the (empty) library: the loop runs on the engine to its end, streams its trace,
    // and the run is saved.
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        seen.lock()
            .unwrap()
            .push(body.deserialize::<Value>().unwrap());
        Ok(())
    });
    let saved = tauri::async_runtime::block_on(fathom_app::commands::ask::ask_library(
        app.state::<AppState>(),
        "Where is the memo?".into(),
        None,
        Some(8192),
        false,
        StreamId("ask-1".into()),
        channel,
    ))
    .unwrap();
    let saved = serde_json::to_value(saved).unwrap();
    assert_eq!(saved["asked"]["run"]["question"], "Where is the memo?");
    assert_eq!(saved["asked"]["run"]["budget"]["total"], 8192);
    assert_eq!(
        saved["asked"]["answer"],
        Value::Null,
        "nothing found, nothing to answer"
    );
    let events = events.lock().unwrap().clone();
    assert_eq!(events.first().unwrap()["event"], "turn");
    assert_eq!(events.last().unwrap()["event"], "ranked");
    let runs = invoke(&w, "list_runs", json!({})).unwrap();
    assert_eq!(runs[0]["id"], saved["id"]);
    let again = invoke(&w, "get_run", json!({ "id": saved["id"] })).unwrap();
    assert_eq!(again, saved["asked"]);
    let err = tauri::async_runtime::block_on(fathom_app::commands::ask::ask_library(
        app.state::<AppState>(),
        " ".into(),
        None,
        None,
        false,
        StreamId("ask-2".into()),
        Channel::new(|_| Ok(())),
    ))
    .unwrap_err();
    assert!(format!("{err:?}").contains("empty"));
    drop(w);
    drop(app);

    // After a restart everything is there; delete removes one.
    let (_app2, w) = self::app(&state_dir);
    let c = invoke(&w, "get_conversation", json!({ "id": id })).unwrap();
    assert_eq!(c["title"], "Memo hunt");
    assert_eq!(c["messages"].as_array().unwrap().len(), 2);
    assert_eq!(
        invoke(&w, "list_runs", json!({}))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    invoke(&w, "delete_conversation", json!({ "id": other["id"] })).unwrap();
    let list = invoke(&w, "list_conversations", json!({ "query": "" })).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}
