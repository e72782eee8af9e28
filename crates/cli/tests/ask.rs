//! `fathom ask`, run as a user runs it: a library indexed with `fathom index add`, the tiny
//! checkpoint with gpt-oss's vocabulary as the model (random weights: the run must end cleanly and
//! report itself, not find anything).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn checkpoint() -> PathBuf {
    std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
        .join("chat")
}

fn fathom(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("FATHOM_DATA_DIR", data)
        .env("FATHOM_EMBEDDER", data.join("no-embedder"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn ask_runs_the_search_loop_on_the_library_and_reports_the_run() {
    let data = tempfile::tempdir().unwrap();
    let notes = data.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("memo.txt"),
        "The budget memo is in the shared drive.",
    )
    .unwrap();
    let (ok, _, err) = fathom(data.path(), &["index", "add", notes.to_str().unwrap()]);
    assert!(ok, "{err}");
    let model = checkpoint();
    let model = model.to_str().unwrap();

    let (ok, out, err) = fathom(
        data.path(),
        &[
            "ask",
            "Where is the budget memo?",
            "--model",
            model,
            "--max-tokens",
            "12",
            "--max-turns",
            "2",
            "--seed",
            "1",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let asked: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let run = &asked["run"];
    assert_eq!(run["question"], "Where is the budget memo?");
    assert!(run["turns"].as_u64().unwrap() >= 1);
    assert!(run["used"].as_u64().unwrap() > 500);
    assert_eq!(run["budget"]["total"], 32768);
    assert_eq!(run["ending"], "unranked", "noise is not a ranking");
    assert!(err.contains("turn 1"), "the trace goes to stderr: {err}");

    let (ok, _, err) = fathom(
        data.path(),
        &["ask", "q", "--model", model, "--folder", "/not/in/library"],
    );
    assert!(!ok && err.contains("not a library folder"), "{err}");
    let (ok, _, err) = fathom(data.path(), &["ask", "  ", "--model", model]);
    assert!(!ok && err.contains("empty"), "{err}");
}
