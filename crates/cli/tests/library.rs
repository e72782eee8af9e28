//! `fathom index` and `fathom search` as a user runs them, including a kill -9 mid-index.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fathom(data: &Path, args: &[&str]) -> Output {
    fathom_with(data, args, None)
}

/// With `embedder`, the CLI finds the embedder there; without, none (the machine's Hugging Face
/// cache is not looked at).
fn fathom_with(data: &Path, args: &[&str], embedder: Option<&Path>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("FATHOM_DATA_DIR", data)
        .env("HF_HUB_CACHE", data.join("hub"))
        .env(
            "FATHOM_EMBEDDER",
            embedder.map_or_else(|| data.join("no-embedder"), Path::to_path_buf),
        )
        .output()
        .unwrap()
}

fn minilm() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
}

#[test]
fn vectors_follow_bm25_and_queries_find_passages_by_meaning() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("car.txt"),
        "The automobile would not start on cold mornings, so the mechanic replaced its battery.",
    )
    .unwrap();
    std::fs::write(
        docs.join("soup.txt"),
        "Simmer the tomatoes with garlic and basil for twenty minutes.",
    )
    .unwrap();
    let data = tmp.path().join("state");
    // Indexed without an embedder: BM25 only, and status says how to get vectors.
    let out = fathom(&data, &["index", "add", docs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fathom(&data, &["index", "status"]);
    assert!(
        text(&out.stdout)
            .contains("0 of 2 chunks have vectors (semantic search); no embedder here"),
        "{}",
        text(&out.stdout)
    );
    let query = "vehicle engine trouble in freezing weather";
    let hits: serde_json::Value =
        serde_json::from_slice(&fathom(&data, &["search", query, "--json"]).stdout).unwrap();
    assert_eq!(
        hits.as_array().unwrap().len(),
        0,
        "BM25 shares no word with it"
    );

    // With the embedder, `update` adds the missing vectors (and only those).
    let out = fathom_with(&data, &["index", "update"], Some(&minilm()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("vectors: 2 chunks of 2 documents"),
        "{}",
        text(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(
        &fathom_with(&data, &["index", "status", "--json"], Some(&minilm())).stdout,
    )
    .unwrap();
    assert_eq!(
        (status["vectors"].as_u64(), status["chunks"].as_u64()),
        (Some(2), Some(2))
    );
    let out = fathom_with(&data, &["index", "update"], Some(&minilm()));
    assert!(
        !text(&out.stderr).contains("vectors:"),
        "{}",
        text(&out.stderr)
    );
    let hits: serde_json::Value = serde_json::from_slice(
        &fathom_with(&data, &["search", query, "--json"], Some(&minilm())).stdout,
    )
    .unwrap();
    assert!(
        hits[0]["path"].as_str().unwrap().ends_with("car.txt"),
        "{hits}"
    );
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
    // Long enough to outlast the first commit (every 2 s) several times over on a fast machine.
    let total: u64 = 50000;
    for i in 0..total {
        let body: String = (0..50)
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
        serde_json::from_slice(&fathom(&data, &["search", "topic49999", "--json"]).stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
}

#[test]
fn a_library_only_on_a_chroma_server_survives_a_kill_mid_index_and_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let total: u64 = 1500;
    for i in 0..total {
        let body: String = (0..40)
            .map(|j| format!("word{} topic{i} ", (i * 7 + j) % 997))
            .collect();
        std::fs::write(docs.join(format!("f{i:05}.txt")), body).unwrap();
    }
    let data = tmp.path().join("state");
    let mut server = fathom_chroma::test_server::Server::start(&tmp.path().join("chroma"));
    let url = server.url();
    let place_only = ["index", "place", "chroma", url.as_str(), "--only"];

    // Without the embedder nothing moves: new passages could not get their vectors.
    let out = fathom(&data, &place_only);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("needs the embedder"),
        "{}",
        text(&out.stderr)
    );
    let out = fathom_with(&data, &place_only, Some(&minilm()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("alone"), "{}", text(&out.stdout));

    let mut child = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(["index", "add", docs.to_str().unwrap()])
        .env("FATHOM_DATA_DIR", &data)
        .env("HF_HUB_CACHE", data.join("hub"))
        .env("FATHOM_EMBEDDER", minilm())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first batch recorded as done, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(300);
    let count = || {
        let out = fathom(&data, &["index", "status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["folders"][0]["indexed"].as_u64())
            .unwrap_or(0)
    };
    while count() == 0 {
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
    // Nothing of it is on this computer.
    let status: serde_json::Value =
        serde_json::from_slice(&fathom(&data, &["index", "status", "--json"]).stdout).unwrap();
    assert_eq!(status["vectors"], status["chunks"]);

    let out = fathom_with(&data, &["index", "update"], Some(&minilm()));
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
        serde_json::from_slice(&fathom(&data, &["search", "topic1499", "--json"]).stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");

    // Back to this computer: every chunk with its vector; the server is not needed after.
    let out = fathom(&data, &["index", "place", "computer"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    server.kill();
    let status: serde_json::Value =
        serde_json::from_slice(&fathom(&data, &["index", "status", "--json"]).stdout).unwrap();
    assert_eq!(status["chunks"].as_u64(), Some(total));
    assert_eq!(status["vectors"].as_u64(), Some(total));
    let hits: serde_json::Value =
        serde_json::from_slice(&fathom(&data, &["search", "topic1499", "--json"]).stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
}
