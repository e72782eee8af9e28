//! `fathom index` and `fathom search` as a user runs them, including a kill -9 mid-index.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fathom(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("FATHOM_DATA_DIR", data)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn folders_are_indexed_searched_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::fs::write(
        docs.join("a.md"),
        "# Tides\n\nThe moon drives the ocean tides.\n",
    )
    .unwrap();
    std::fs::write(docs.join("sub/b.txt"), "Glaciers carve valleys.").unwrap();
    std::fs::write(docs.join("bad.pdf"), "not a pdf").unwrap();
    let data = tmp.path().join("state");
    let out = fathom(&data, &["index", "add", docs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 indexed, 0 unchanged, 1 failed"),
        "{}",
        text(&out.stderr)
    );

    let out = fathom(&data, &["search", "moon tides", "--json"]);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        hits[0]["path"],
        docs.canonicalize()
            .unwrap()
            .join("a.md")
            .display()
            .to_string()
    );
    assert_eq!(hits[0]["line"], 1);
    let out = fathom(&data, &["search", "glaciers"]);
    assert!(
        text(&out.stdout).contains("b.txt (line 1)"),
        "{}",
        text(&out.stdout)
    );

    let status: serde_json::Value =
        serde_json::from_slice(&fathom(&data, &["index", "status", "--json"]).stdout).unwrap();
    assert_eq!(status["folders"][0]["indexed"], 2);
    assert!(status["folders"][0]["failed"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("malformed Pdf"));

    let out = fathom(&data, &["index", "rm", docs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fathom(&data, &["search", "glaciers", "--json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
}

#[test]
fn a_kill_mid_index_keeps_what_was_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let total: u64 = 20000;
    for i in 0..total {
        let body: String = (0..40)
            .map(|j| format!("word{} topic{i} ", (i * 7 + j) % 997))
            .collect();
        std::fs::write(docs.join(format!("f{i:05}.txt")), body).unwrap();
    }
    let data = tmp.path().join("state");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(["index", "add", docs.to_str().unwrap()])
        .env("FATHOM_DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first committed batch, then kill without warning.
    let db = data.join("data/index/state.sqlite");
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = || {
        let out = fathom(&data, &["index", "status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["folders"][0]["indexed"].as_u64())
            .unwrap_or(0)
    };
    while !db.exists() || count() == 0 {
        assert!(Instant::now() < deadline, "nothing was committed");
        assert!(
            child.try_wait().unwrap().is_none(),
            "indexing finished before it could be killed; make the corpus larger"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = count();
    assert!(kept > 0 && kept < total, "{kept}");

    let out = fathom(&data, &["index", "update"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} indexed, {kept} unchanged, 0 failed",
            total - kept
        )),
        "{err} (kept {kept})"
    );
    let hits: serde_json::Value =
        serde_json::from_slice(&fathom(&data, &["search", "topic19999", "--json"]).stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
}
