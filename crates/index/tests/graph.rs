//! The HNSW graph over a real index: saved, caught up from SQLite when opened after changes it
//! missed, rebuilt when its file is damaged, and consistent after a kill -9 at any moment (a
//! child process indexing, embedding, deleting and saving in a loop, killed at random times).

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fathom_index::indexer::{documents, index_folder, IndexOptions};
use fathom_index::vectors::embed_pending;
use fathom_index::{Chunker, OpenOptions, SearchIndex};
use tokio_util::sync::CancellationToken;

const DIM: usize = 32;
/// Small, so a few documents make a graph.
const GRAPH_FROM: usize = 40;

/// A unit vector from a hash of the text: equal texts, equal vectors, otherwise unrelated.
fn vector(text: &str) -> Vec<f32> {
    let mut seed = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let v: Vec<f32> = (0..DIM)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn open(dir: &Path, exact_below: usize) -> SearchIndex {
    SearchIndex::open_with(dir, &OpenOptions { exact_below }).unwrap()
}

fn write_doc(root: &Path, i: usize) {
    // About five 16-token chunks.
    let body: String = (0..60).map(|w| format!("word{i}x{w} ")).collect();
    std::fs::write(root.join(format!("doc{i:04}.txt")), body).unwrap();
}

fn update(index: &SearchIndex, root: &Path) {
    index_folder(
        index,
        "f",
        root,
        &Chunker::new(16, 0),
        &IndexOptions::default(),
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    let embed = |texts: &[&str]| Ok(texts.iter().map(|t| vector(t)).collect());
    embed_pending(index, &embed, 8, &CancellationToken::new(), &mut |_| {}).unwrap();
}

/// Chunk ids of every indexed document.
fn live_chunks(index: &SearchIndex) -> HashSet<String> {
    documents(index)
        .unwrap()
        .iter()
        .flat_map(|d| (0..d.chunks).map(move |c| format!("{}:{c}", d.doc_id)))
        .collect()
}

/// The graph (opened as the app opens it) holds exactly the rows SQLite holds, and finds what
/// the exact scan over SQLite's vectors finds.
fn check_against_sqlite(dir: &Path) {
    let queries: Vec<Vec<f32>> = (0..5).map(|i| vector(&format!("query {i}"))).collect();
    // The exact scan first: the graph's open (and its save on drop) must not feed it.
    let exact = open(dir, usize::MAX);
    assert!(!exact.vectors_use_graph());
    let want: Vec<Vec<String>> = queries
        .iter()
        .map(|q| {
            exact
                .dense_top(q, 10, None)
                .into_iter()
                .map(|x| x.0)
                .collect()
        })
        .collect();
    let count = exact.vector_count();
    let live = live_chunks(&exact);
    drop(exact);
    let graph = open(dir, GRAPH_FROM);
    assert!(graph.vectors_use_graph());
    assert_eq!(graph.vector_count(), count);
    // Asked for more than it holds, the graph returns every row: all of SQLite's, and nothing
    // SQLite does not hold (no deleted document).
    let every: HashSet<String> = graph
        .dense_top(&queries[0], count + 100, None)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(every.len(), count);
    assert!(
        every.iter().all(|c| live.contains(c)),
        "a chunk SQLite does not hold"
    );
    for (q, want) in queries.iter().zip(&want) {
        let got: Vec<String> = graph
            .dense_top(q, 10, None)
            .into_iter()
            .map(|x| x.0)
            .collect();
        let found = got.iter().filter(|c| want.contains(c)).count();
        assert!(found >= 9, "graph {got:?}, exact {want:?}");
    }
}

#[test]
fn the_graph_is_saved_caught_up_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, dir) = (tmp.path().join("docs"), tmp.path().join("index"));
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..20 {
        write_doc(&root, i);
    }
    let index = open(&dir, GRAPH_FROM);
    update(&index, &root);
    assert!(index.vectors_use_graph());
    assert_eq!(
        index.unsaved_vectors(),
        0,
        "the vector pass saves the graph"
    );
    let graph_file = dir.join("vectors.usearch");
    assert!(graph_file.exists());
    drop(index);
    check_against_sqlite(&dir);

    // Changes the saved graph misses (the process dies without saving): some documents go,
    // others come, one changes.
    let index = open(&dir, GRAPH_FROM);
    for i in 0..5 {
        std::fs::remove_file(root.join(format!("doc{i:04}.txt"))).unwrap();
    }
    for i in 20..26 {
        write_doc(&root, i);
    }
    std::fs::write(
        root.join("doc0010.txt"),
        "completely new words now ".repeat(20),
    )
    .unwrap();
    let saved = std::fs::read(&graph_file).unwrap();
    update(&index, &root);
    drop(index);
    // Put the old graph back, as if the saves had not happened.
    std::fs::write(&graph_file, saved).unwrap();
    check_against_sqlite(&dir);

    // A damaged graph file is rebuilt from SQLite.
    let len = std::fs::metadata(&graph_file).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&graph_file)
        .unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    check_against_sqlite(&dir);
    std::fs::write(&graph_file, b"not a graph").unwrap();
    check_against_sqlite(&dir);

    // Shrunk below the threshold: the exact scan again, and the graph file goes.
    for i in 5..26 {
        let _ = std::fs::remove_file(root.join(format!("doc{i:04}.txt")));
    }
    write_doc(&root, 99);
    let index = open(&dir, GRAPH_FROM);
    update(&index, &root);
    drop(index);
    let index = open(&dir, GRAPH_FROM);
    assert!(!index.vectors_use_graph());
    // Left until the small library changes (it is still a start to catch up from).
    assert!(graph_file.exists());
    std::fs::write(root.join("small.txt"), "a few words").unwrap();
    update(&index, &root);
    assert!(!index.vectors_use_graph());
    drop(index);
    assert!(!graph_file.exists());
    let index = open(&dir, GRAPH_FROM);
    assert_eq!(index.vector_count(), live_chunks(&index).len());
}

/// Run by `killed_at_any_moment_the_index_stays_consistent` in a child process: indexes,
/// embeds, deletes and saves in a loop until killed.
#[test]
fn kill_worker() {
    let Ok(work) = std::env::var("FATHOM_GRAPH_KILL_WORKER") else {
        return;
    };
    let work = Path::new(&work);
    let (root, dir) = (work.join("docs"), work.join("index"));
    let start: usize = std::fs::read_to_string(work.join("next"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let index = open(&dir, GRAPH_FROM);
    for i in start.. {
        write_doc(&root, i);
        if i >= 30 {
            let _ = std::fs::remove_file(root.join(format!("doc{:04}.txt", i - 30)));
        }
        update(&index, &root);
        index.save_vectors().unwrap();
        std::fs::write(work.join("next"), (i + 1).to_string()).unwrap();
    }
}

#[test]
fn killed_at_any_moment_the_index_stays_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    std::fs::create_dir_all(work.join("docs")).unwrap();
    let mut rounds_with_graph = 0;
    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kill_worker", "--nocapture", "--test-threads=1"])
            .env("FATHOM_GRAPH_KILL_WORKER", work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it get past a few iterations, then kill it somewhere in the next one: a moment
        // that moves from round to round (mid-index, mid-embed, mid-save).
        let next = || -> usize {
            std::fs::read_to_string(work.join("next"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        let target = next() + 12;
        let deadline = Instant::now() + Duration::from_secs(300);
        while next() < target {
            assert!(Instant::now() < deadline, "the worker made no progress");
            assert!(child.try_wait().unwrap().is_none(), "the worker stopped");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(round * 37 % 150));
        child.kill().unwrap();
        child.wait().unwrap();
        if work.join("index/vectors.usearch").exists() {
            rounds_with_graph += 1;
        }
        check_against_sqlite(&work.join("index"));
    }
    assert!(
        rounds_with_graph >= 4,
        "the graph was rarely in play: {rounds_with_graph}"
    );
}

/// An index from before the graph (vectors keyed by chunk id, no seq) keeps its vectors: they
/// took hours to compute.
#[test]
fn vectors_stored_before_the_graph_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, dir) = (tmp.path().join("docs"), tmp.path().join("index"));
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..12 {
        write_doc(&root, i);
    }
    let index = open(&dir, GRAPH_FROM);
    update(&index, &root);
    let count = index.vector_count();
    let q = vector("query");
    let want = index.dense_top(&q, 10, None);
    drop(index);
    // Round 1's table, as its users have it.
    let db = rusqlite::Connection::open(dir.join("state.sqlite")).unwrap();
    db.execute_batch(
        "CREATE TABLE old (chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, folder TEXT NOT NULL, vec BLOB NOT NULL);
        INSERT INTO old SELECT chunk_id, doc_id, folder, vec FROM vectors;
        DROP TABLE vectors;
        ALTER TABLE old RENAME TO vectors;
        CREATE INDEX vectors_doc ON vectors(doc_id);",
    )
    .unwrap();
    drop(db);
    std::fs::remove_file(dir.join("vectors.usearch")).unwrap();
    let index = open(&dir, GRAPH_FROM);
    assert_eq!(index.vector_count(), count);
    assert!(index.vectors_use_graph());
    let got = index.dense_top(&q, 10, None);
    let same = got
        .iter()
        .filter(|g| want.iter().any(|w| w.0 == g.0))
        .count();
    assert!(same >= 9, "{got:?} vs {want:?}");
    // Nothing left to embed, and new vectors still get keys.
    let embed = |texts: &[&str]| Ok(texts.iter().map(|t| vector(t)).collect());
    let report = embed_pending(&index, &embed, 8, &CancellationToken::new(), &mut |_| {}).unwrap();
    assert_eq!(report.chunks, 0);
    write_doc(&root, 50);
    update(&index, &root);
    assert!(index.vector_count() > count);
}
