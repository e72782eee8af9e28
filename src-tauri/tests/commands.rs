//! The app's commands through Tauri's mock runtime: the same handler table the app registers,
//! called over IPC as the UI calls them, with real state on disk.

mod common;
use common::invoke;

use std::fs;
use std::path::Path;
use std::sync::mpsc;

use fathom_app::app::StreamId;
use fathom_app::commands::library::scan_folder;
use fathom_app::AppState;
use fathom_library::ScanProgress;
use fathom_store::AppDirs;
use serde_json::{json, Value};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, Manager, WebviewWindow};

/// A Hugging Face cache for this test process holding the embedder (the real all-MiniLM-L6-v2
/// weights, see scripts/fixtures.sh), and no Hub to reach: adding a folder loads the embedder from
/// there and nothing is downloaded.
fn hub_cache() -> &'static Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let repo = dir
                .path()
                .join("models--sentence-transformers--all-MiniLM-L6-v2");
            let commit = "0123456789abcdef0123456789abcdef01234567";
            let snapshot = repo.join("snapshots").join(commit);
            fs::create_dir_all(&snapshot).unwrap();
            fs::create_dir_all(repo.join("refs")).unwrap();
            fs::write(repo.join("refs/main"), commit).unwrap();
            let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/fixtures/minilm");
            for f in [
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "sentence_bert_config.json",
            ] {
                std::os::unix::fs::symlink(minilm.join(f), snapshot.join(f)).unwrap();
            }
            std::env::set_var("HF_HUB_CACHE", dir.path());
            std::env::set_var("HF_ENDPOINT", "http://127.0.0.1:9");
            dir
        })
        .path()
}

fn app(root: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    hub_cache();
    let state = AppState::load_from(AppDirs::under(root)).unwrap();
    let app = fathom_app::with_commands(mock_builder(), state, |_| Ok(()))
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

#[test]
fn folders_are_added_rejected_listed_and_removed_over_ipc() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    fs::write(tmp.path().join("a.txt"), "x").unwrap();
    let (_app, w) = app(&tmp.path().join("state"));

    let report = invoke(
        &w,
        "add_folders",
        json!({ "paths": [docs, tmp.path().join("a.txt"), docs] }),
    )
    .unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["rejected"][0]["reason"],
        json!({ "kind": "notAFolder" })
    );
    assert_eq!(
        report["rejected"][1]["reason"],
        json!({ "kind": "alreadyInLibrary" })
    );

    let listed = invoke(&w, "list_folders", json!({})).unwrap();
    assert_eq!(listed, json!([report["added"][0]]));

    // Persisted: a fresh app over the same directory sees the folder.
    let (_app2, w2) = app(&tmp.path().join("state"));
    assert_eq!(invoke(&w2, "list_folders", json!({})).unwrap(), listed);

    let id = listed[0]["id"].as_str().unwrap();
    invoke(&w, "remove_folder", json!({ "id": id })).unwrap();
    assert_eq!(invoke(&w, "list_folders", json!({})).unwrap(), json!([]));
}

#[test]
fn errors_arrive_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, w) = app(tmp.path());
    assert_eq!(
        invoke(&w, "remove_folder", json!({ "id": "nope" })).unwrap_err(),
        json!({ "kind": "unknownFolder", "id": "nope" })
    );
    let err = invoke(
        &w,
        "set_quick_shortcut",
        json!({ "shortcut": "Ctrl+Banana" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "invalidShortcut");
    assert_eq!(err["shortcut"], "Ctrl+Banana");
    // A missing argument is refused by Tauri before the command runs.
    assert!(invoke(&w, "add_folders", json!({})).is_err());
}

#[test]
fn settings_and_app_info_come_from_the_app_directories() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("config")).unwrap();
    fs::write(
        tmp.path().join("config/settings.json"),
        r#"{"quickShortcut":"Alt+K"}"#,
    )
    .unwrap();
    let (_app, w) = app(tmp.path());
    let view = invoke(&w, "get_settings", json!({})).unwrap();
    assert_eq!(view["settings"]["quickShortcut"], "Alt+K");
    assert_eq!(view["shortcutError"], Value::Null);
    let info = invoke(&w, "app_info", json!({})).unwrap();
    assert_eq!(
        info["dataDir"],
        tmp.path().join("data").display().to_string()
    );
    assert_eq!(info["platform"], std::env::consts::OS);
}

fn library_with_tree(
    root: &Path,
    files: usize,
) -> (App<MockRuntime>, WebviewWindow<MockRuntime>, String) {
    let docs = root.join("docs");
    fs::create_dir_all(&docs).unwrap();
    for i in 0..files {
        fs::write(docs.join(format!("{i}.txt")), "hello").unwrap();
    }
    let (app, w) = app(&root.join("state"));
    let report = invoke(&w, "add_folders", json!({ "paths": [docs] })).unwrap();
    let id = report["added"][0]["id"].as_str().unwrap().to_string();
    (app, w, id)
}

#[test]
fn scan_streams_progress_over_a_channel_and_returns_the_total() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _w, id) = library_with_tree(tmp.path(), 25);
    let (tx, rx) = mpsc::channel();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        tx.send(body.deserialize::<ScanProgress>().unwrap())
            .unwrap();
        Ok(())
    });
    let total = tauri::async_runtime::block_on(scan_folder(
        app.state::<AppState>(),
        id,
        StreamId("s1".into()),
        channel,
    ))
    .unwrap();
    assert_eq!((total.files, total.bytes, total.done), (25, 125, true));
    let events: Vec<_> = rx.try_iter().collect();
    assert_eq!(events.first(), Some(&ScanProgress::default()));
    assert_eq!(events.last(), Some(&total));
    assert_eq!(app.state::<AppState>().streams.running(), 0);
}

#[test]
fn cancel_stream_stops_a_running_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, w, id) = library_with_tree(tmp.path(), 50);
    // The first progress event cancels the stream over IPC, as the UI's Stop button does.
    let webview = w.clone();
    let cancelled = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = cancelled.clone();
    let channel = Channel::new(move |_body: InvokeResponseBody| {
        let mut seen = seen.lock().unwrap();
        if seen.is_none() {
            *seen = Some(invoke(&webview, "cancel_stream", json!({ "stream": "s2" })).unwrap());
        }
        Ok(())
    });
    let outcome = tauri::async_runtime::block_on(scan_folder(
        app.state::<AppState>(),
        id,
        StreamId("s2".into()),
        channel,
    ));
    assert_eq!(*cancelled.lock().unwrap(), Some(json!(true)));
    assert_eq!(outcome.unwrap_err(), fathom_app::CommandError::Cancelled);
    // Once finished, the stream is gone: cancelling again reports false.
    assert_eq!(
        invoke(&w, "cancel_stream", json!({ "stream": "s2" })).unwrap(),
        json!(false)
    );
}

#[test]
fn scanning_an_unknown_folder_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _w) = app(tmp.path());
    let channel = Channel::new(|_| Ok(()));
    let err = tauri::async_runtime::block_on(scan_folder(
        app.state::<AppState>(),
        "missing".into(),
        StreamId("s3".into()),
        channel,
    ))
    .unwrap_err();
    assert_eq!(
        err,
        fathom_app::CommandError::UnknownFolder {
            id: "missing".into()
        }
    );
}

#[test]
fn a_folder_is_indexed_with_progress_searched_and_forgotten_when_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    fs::write(docs.join("tides.md"), "The moon drives the tides.").unwrap();
    fs::write(docs.join("bad.pdf"), "not a pdf").unwrap();
    let (app, w) = app(&tmp.path().join("state"));
    let report = invoke(&w, "add_folders", json!({ "paths": [docs] })).unwrap();
    let id = report["added"][0]["id"].as_str().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        tx.send(body.deserialize::<Value>().unwrap()).unwrap();
        Ok(())
    });
    let report = tauri::async_runtime::block_on(fathom_app::commands::library::index_folder_cmd(
        app.state::<AppState>(),
        id.clone(),
        StreamId("ix".into()),
        channel,
    ))
    .unwrap();
    assert_eq!((report.indexed, report.failed), (1, 1));
    let last = rx.try_iter().last().unwrap();
    assert_eq!(last["filesDone"], 2);
    let hits = invoke(
        &w,
        "search_library",
        json!({ "query": "moon", "folder": null, "limit": null }),
    )
    .unwrap();
    assert!(hits[0]["path"].as_str().unwrap().ends_with("tides.md"));
    let status = invoke(&w, "library_status", json!({})).unwrap();
    assert_eq!(status[0]["documents"], 1);
    assert!(status[0]["failed"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("malformed Pdf"));
    // Fathom's reader gets a library document's chunks in order; nothing outside the library.
    let path = hits[0]["path"].as_str().unwrap();
    let chunks = invoke(&w, "read_document_text", json!({ "path": path })).unwrap();
    assert_eq!(chunks[0]["chunk"], 0);
    assert!(chunks[0]["text"].as_str().unwrap().contains("moon"));
    let err = invoke(&w, "read_document_text", json!({ "path": "/etc/passwd" })).unwrap_err();
    assert_eq!(err["kind"], "notAFolder");
    // Opening is limited to library files.
    let err = invoke(&w, "open_document", json!({ "path": "/etc/passwd" })).unwrap_err();
    assert_eq!(err["kind"], "notAFolder");
    invoke(&w, "remove_folder", json!({ "id": id })).unwrap();
    let hits = invoke(
        &w,
        "search_library",
        json!({ "query": "moon", "folder": null, "limit": null }),
    )
    .unwrap();
    assert_eq!(hits, json!([]));
}

#[test]
fn semantic_search_loads_its_embedder_on_first_use_and_can_be_paused_and_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    fs::write(
        docs.join("car.txt"),
        "The automobile would not start on cold mornings, so the mechanic replaced its battery.",
    )
    .unwrap();
    fs::write(
        docs.join("soup.txt"),
        "Simmer the tomatoes with garlic and basil.",
    )
    .unwrap();
    let (app, w) = app(&tmp.path().join("state"));
    let status = invoke(&w, "semantic_status", json!({})).unwrap();
    assert_eq!(status["embedder"]["state"], "missing");
    // The first folder brings the embedder in (from the cache here).
    let id = invoke(&w, "add_folders", json!({ "paths": [docs] })).unwrap()["added"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (tx, _rx) = mpsc::channel();
    let channel = Channel::new(move |body: InvokeResponseBody| {
        let _ = tx.send(body);
        Ok(())
    });
    tauri::async_runtime::block_on(fathom_app::commands::library::index_folder_cmd(
        app.state::<AppState>(),
        id,
        StreamId("ix".into()),
        channel,
    ))
    .unwrap();
    let wait = |what: &str, done: &dyn Fn(&Value) -> bool| {
        let start = std::time::Instant::now();
        loop {
            let s = invoke(&w, "semantic_status", json!({})).unwrap();
            if done(&s) {
                return s;
            }
            assert!(start.elapsed().as_secs() < 120, "waited for {what}: {s}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait("vectors", &|s| s["pass"] == "upToDate" && s["vectors"] == 2);
    let search = |q: &str| {
        invoke(
            &w,
            "search_library",
            json!({ "query": q, "folder": null, "limit": 5 }),
        )
        .unwrap()
    };
    let query = "vehicle engine trouble in freezing weather";
    assert!(search(query)[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("car.txt"));

    invoke(&w, "pause_semantic", json!({ "paused": true })).unwrap();
    assert_eq!(
        invoke(&w, "semantic_status", json!({})).unwrap()["pausedByUser"],
        true
    );
    invoke(&w, "pause_semantic", json!({ "paused": false })).unwrap();

    // Off: saved, the embedder dropped, search back to words only.
    let view = invoke(&w, "set_semantic_search", json!({ "on": false })).unwrap();
    assert_eq!(view["settings"]["semanticSearch"], false);
    assert_eq!(
        invoke(&w, "semantic_status", json!({})).unwrap()["embedder"]["state"],
        "off"
    );
    assert_eq!(search(query), json!([]));
    // On again: it loads again.
    invoke(&w, "set_semantic_search", json!({ "on": true })).unwrap();
    wait("the embedder again", &|s| s["embedder"]["state"] == "ready");
    assert!(search(query)[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("car.txt"));
}

#[test]
fn diagnostics_say_what_a_bug_report_needs_and_nothing_private() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    fs::write(docs.join("plan.txt"), "zebracorn merger plans").unwrap();
    let root = tmp.path().join("state");
    fs::create_dir_all(root.join("logs")).unwrap();
    let log: String = (0..300).map(|i| format!("line {i}\n")).collect();
    fs::write(fathom_diagnostics::log_file(&root.join("logs")), log).unwrap();
    let (_app, w) = app(&root);
    invoke(&w, "add_folders", json!({ "paths": [docs] })).unwrap();
    invoke(&w, "set_hf_token", json!({ "token": "hf_supersecret" })).unwrap();

    let text = invoke(&w, "diagnostics", json!({})).unwrap();
    let text = text.as_str().unwrap();
    assert!(
        text.starts_with(&format!("Fathom {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("\nMemory: "), "{text}");
    assert!(text.contains("\nDevice: "), "{text}");
    assert!(text.contains("\nLibrary: 1 folder, "), "{text}");
    assert!(text.contains("Setting hfToken: set\n"), "{text}");
    assert!(
        text.contains(&format!("\nLogs: {}\n", root.join("logs").display())),
        "{text}"
    );
    // The log's last 200 lines, not more.
    assert!(text.trim_end().ends_with("line 299"), "{text}");
    assert!(text.contains("\nline 100\n") && !text.contains("\nline 99\n"));
    assert!(!text.contains("hf_supersecret"), "the token leaked: {text}");
    assert!(
        !text.contains("zebracorn"),
        "a document's text leaked: {text}"
    );
}

#[test]
fn the_welcome_guide_shows_once_and_can_be_asked_for_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let (_app, w) = app(&root);
    let done = |w: &WebviewWindow<MockRuntime>| {
        invoke(w, "get_settings", json!({})).unwrap()["settings"]["firstRunDone"].clone()
    };
    assert_eq!(done(&w), json!(false), "a new user gets the guide");
    invoke(&w, "set_first_run_done", json!({ "done": true })).unwrap();
    let (_app2, w2) = app(&root);
    assert_eq!(done(&w2), json!(true), "not shown again after a restart");
    invoke(&w2, "set_first_run_done", json!({ "done": false })).unwrap();
    assert_eq!(done(&w2), json!(false), "Settings can show it again");

    // Someone who already has a library (from before the guide existed) does not get it.
    let old = tmp.path().join("old");
    let docs = tmp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    {
        let (_app3, w3) = app(&old);
        invoke(&w3, "add_folders", json!({ "paths": [docs] })).unwrap();
        fs::remove_file(old.join("config/settings.json")).ok();
    }
    let (_app4, w4) = app(&old);
    assert_eq!(done(&w4), json!(true));
}
