//! The Models page's commands through Tauri's mock runtime, against a real HTTP server on
//! loopback in the Hub's shape: check, download with progress, pause, resume, activate, delete.
//! One test per binary: the Hub endpoint and cache are process environment.

mod common;
use common::invoke;

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

use fathom_app::app::StreamId;
use fathom_app::commands::models::pull_model;
use fathom_app::{AppState, CommandError};
use fathom_fakehub::FakeHub;
use fathom_store::AppDirs;
use serde_json::{json, Value};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::test::{mock_builder, mock_context, noop_assets};
use tauri::Manager;

const REPO: &str = "test/tiny-gpt-oss";

#[test]
fn models_are_checked_downloaded_paused_resumed_activated_and_deleted_over_ipc() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/fixtures/gpt-oss/f32");
    std::fs::create_dir_all(served.join(REPO)).unwrap();
    for f in [
        "config.json",
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "model.safetensors.index.json",
        "tokenizer.json",
    ] {
        std::fs::copy(fixture.join(f), served.join(REPO).join(f)).expect("run scripts/fixtures.sh");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = rt.block_on(FakeHub::start(&served, 0)).unwrap();
    std::env::set_var("HF_ENDPOINT", hub.url());
    std::env::set_var("HF_HUB_CACHE", tmp.path().join("hub"));
    std::env::set_var("HF_HOME", tmp.path().join("hf-home"));
    std::env::remove_var("HF_TOKEN");

    let state = AppState::load_from(AppDirs::under(tmp.path().join("state"))).unwrap();
    let app = fathom_app::with_commands(mock_builder(), state, |_| Ok(()))
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    let rows = invoke(&w, "list_models", json!({})).unwrap();
    assert_eq!(rows[0]["repo"], "foadmk/context-1-MLX-MXFP4");
    assert_eq!(rows[0]["installed"], Value::Null);

    let check = invoke(&w, "check_fit", json!({ "repo": REPO, "context": 4096 })).unwrap();
    assert_eq!(check["fit"]["verdict"], "fits");
    assert!(check["downloadBytes"].as_u64().unwrap() > 1_000_000);
    let err = invoke(&w, "check_fit", json!({ "repo": "test/missing" })).unwrap_err();
    assert_eq!(err["kind"], "model");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("was not found on"),
        "{err}"
    );

    // Pause from the first progress event, over IPC, as the Pause button does.
    hub.throttle(100_000);
    let webview = w.clone();
    let paused = Arc::new(Mutex::new(false));
    let seen = paused.clone();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        let p = body.deserialize::<Value>().unwrap();
        let mut seen = seen.lock().unwrap();
        if !*seen && p["doneBytes"].as_u64().unwrap() > 100_000 {
            *seen = true;
            invoke(&webview, "cancel_stream", json!({ "stream": "pull-1" })).unwrap();
        }
        Ok(())
    });
    let outcome = tauri::async_runtime::block_on(pull_model(
        app.state::<AppState>(),
        REPO.into(),
        StreamId("pull-1".into()),
        channel,
    ));
    assert_eq!(outcome.unwrap_err(), CommandError::Cancelled);
    let rows = invoke(&w, "list_models", json!({})).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == REPO)
        .unwrap()
        .clone();
    assert!(
        row["pending"]["doneBytes"].as_u64().unwrap() > 100_000,
        "{row}"
    );

    hub.throttle(0);
    let (tx, rx) = mpsc::channel();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        tx.send(body.deserialize::<Value>().unwrap()).unwrap();
        Ok(())
    });
    let model = tauri::async_runtime::block_on(pull_model(
        app.state::<AppState>(),
        REPO.into(),
        StreamId("pull-2".into()),
        channel,
    ))
    .unwrap();
    assert_eq!(model.repo, REPO);
    let last = rx.try_iter().last().unwrap();
    assert_eq!(last["doneBytes"], last["totalBytes"]);
    assert_eq!(last["phase"], "done");

    // The first installed model became the active one.
    let settings = invoke(&w, "get_settings", json!({})).unwrap();
    assert_eq!(settings["settings"]["activeModel"], REPO);
    let rows = invoke(&w, "list_models", json!({})).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == REPO)
        .unwrap()
        .clone();
    assert_eq!(row["active"], true);
    assert_eq!(row["pending"], Value::Null);

    // Too little memory: activating is refused with the reason, unless overridden.
    std::env::set_var("FATHOM_MEMORY_LIMIT", "1000");
    let err = invoke(
        &w,
        "set_active_model",
        json!({ "repo": REPO, "ignoreFit": false }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "doesNotFit");
    assert!(
        err["summary"].as_str().unwrap().starts_with("Does not fit"),
        "{err}"
    );
    invoke(
        &w,
        "set_active_model",
        json!({ "repo": REPO, "ignoreFit": true }),
    )
    .unwrap();
    std::env::remove_var("FATHOM_MEMORY_LIMIT");

    let freed = invoke(&w, "delete_model", json!({ "repo": REPO })).unwrap();
    assert!(freed.as_u64().unwrap() > 1_000_000);
    let settings = invoke(&w, "get_settings", json!({})).unwrap();
    assert_eq!(settings["settings"]["activeModel"], Value::Null);
    let err = invoke(&w, "reveal_model", json!({ "repo": REPO })).unwrap_err();
    assert_eq!(err["message"], format!("{REPO} is not installed"));

    let settings = invoke(&w, "set_hf_token", json!({ "token": " hf_abc " })).unwrap();
    assert_eq!(settings["settings"]["hfToken"], "hf_abc");
}
