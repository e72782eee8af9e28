//! The vector pass over a real index: it embeds what lacks a vector, resumes after a stop and a
//! restart without redoing anything, follows re-indexed files, and survives an embedder failing
//! on one document. (The embedder here is a deterministic function of the text; the MLX one is
//! tested against sentence-transformers in fathom-embed.)

use std::path::Path;

use std::sync::Mutex;

use fathom_index::indexer::{documents, index_folder, IndexOptions};
use fathom_index::vectors::embed_pending;
use fathom_index::{Chunker, SearchIndex, SearchQuery};
use tokio_util::sync::CancellationToken;

/// A unit vector from the text's letters: equal texts, equal vectors.
fn vector(text: &str) -> Vec<f32> {
    let mut v = [0.0f32; 8];
    for (i, b) in text.bytes().enumerate() {
        v[(b as usize + i) % 8] += 1.0;
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / n).collect()
}

struct Counting {
    texts: Mutex<Vec<String>>,
}

impl Counting {
    fn new() -> Self {
        Counting {
            texts: Mutex::new(Vec::new()),
        }
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        if texts.iter().any(|t| t.contains("poison")) {
            return Err("the embedder failed".into());
        }
        self.texts
            .lock()
            .unwrap()
            .extend(texts.iter().map(|t| t.to_string()));
        Ok(texts.iter().map(|t| vector(t)).collect())
    }
    fn count(&self) -> usize {
        self.texts.lock().unwrap().len()
    }
}

fn write_corpus(root: &Path) {
    for i in 0..6 {
        // Several chunks per file at 16-token chunks.
        let body: String = (0..40)
            .map(|w| format!("word{i}x{w} "))
            .collect::<Vec<_>>()
            .concat();
        std::fs::write(root.join(format!("doc{i}.txt")), body).unwrap();
    }
}

fn index(index: &SearchIndex, root: &Path) {
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
}

fn chunk_total(index: &SearchIndex) -> usize {
    documents(index)
        .unwrap()
        .iter()
        .map(|d| d.chunks as usize)
        .sum()
}

#[test]
fn every_chunk_gets_a_vector_once_and_a_stopped_pass_resumes_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docs");
    std::fs::create_dir_all(&root).unwrap();
    write_corpus(&root);
    let dir = tmp.path().join("index");
    let idx = SearchIndex::open(&dir).unwrap();
    index(&idx, &root);
    let total = chunk_total(&idx);
    assert!(total >= 18, "{total} chunks");
    assert_eq!(idx.vector_count(), 0);

    // Stopped after three batches of 2.
    let first = Counting::new();
    let stop = CancellationToken::new();
    let mut seen = Vec::new();
    let report = embed_pending(&idx, &|t| first.embed(t), 2, &stop, &mut |p| {
        seen.push(p.clone());
        if p.chunks_done == 6 {
            stop.cancel();
        }
    })
    .unwrap();
    assert!(report.stopped);
    assert_eq!(report.chunks, 6);
    assert_eq!(idx.vector_count(), 6);
    assert_eq!(seen[0].chunks_total, total as u64);
    assert_eq!(seen.last().unwrap().chunks_done, 6);
    drop(idx);

    // After a restart the rest is done, and only the rest.
    let idx = SearchIndex::open(&dir).unwrap();
    assert_eq!(idx.vector_count(), 6);
    let second = Counting::new();
    let report = embed_pending(
        &idx,
        &|t| second.embed(t),
        4,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert!(!report.stopped);
    assert_eq!(second.count(), total - 6);
    assert_eq!(idx.vector_count(), total);
    let mut all: Vec<String> = first.texts.lock().unwrap().clone();
    all.extend(second.texts.lock().unwrap().iter().cloned());
    let unique: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), total, "no chunk embedded twice");

    // Nothing left: a new pass embeds nothing.
    let third = Counting::new();
    embed_pending(
        &idx,
        &|t| third.embed(t),
        4,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(third.count(), 0);

    // The vectors are the chunks' own: the dense side finds a chunk from its text's vector.
    let hit = idx
        .read_document(&fathom_index::document_id(&root.join("doc3.txt")))
        .unwrap()
        .remove(1);
    assert_eq!(
        idx.dense_top(&vector(&hit.text), 1, None)[0].0,
        hit.chunk_id
    );
    let hybrid = idx
        .search(&SearchQuery {
            text: "nothing matches this".into(),
            vector: Some(vector(&hit.text)),
            limit: 3,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hybrid[0].chunk_id, hit.chunk_id);
    // Every hit here came from the dense side alone: read whole, in the dense side's order (its
    // list as deep as fusion asks for it: equal scores keep their order only at the same depth).
    let dense: Vec<String> = idx
        .dense_top(&vector(&hit.text), 100, None)
        .into_iter()
        .take(3)
        .map(|d| d.0)
        .collect();
    assert_eq!(
        hybrid
            .iter()
            .map(|h| h.chunk_id.clone())
            .collect::<Vec<_>>(),
        dense
    );
    for h in &hybrid {
        let own = idx.read_document(&h.doc_id).unwrap();
        let stored = own.iter().find(|c| c.chunk_id == h.chunk_id).unwrap();
        assert_eq!((&h.text, &h.path), (&stored.text, &stored.path));
    }

    // Searching with the query's embedder gives the same results as with its vector.
    let ids =
        |hits: Vec<fathom_index::Hit>| hits.into_iter().map(|h| h.chunk_id).collect::<Vec<_>>();
    let q = SearchQuery {
        text: "word3x5 word1x2".into(),
        limit: 4,
        ..Default::default()
    };
    let first = idx
        .search(&SearchQuery {
            vector: Some(vector(&hit.text)),
            ..q.clone()
        })
        .unwrap();
    let embedded = idx
        .search_embedding(&q, |_| Some(vector(&hit.text)))
        .unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(ids(first), ids(embedded));
    // No vector (no embedder yet): BM25 alone, cut to the limit.
    let alone = idx.search_embedding(&q, |_| None).unwrap();
    assert_eq!(ids(alone), ids(idx.bm25(&q).unwrap()));
}

#[test]
fn a_changed_file_gets_new_vectors_and_stale_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docs");
    std::fs::create_dir_all(&root).unwrap();
    write_corpus(&root);
    let idx = SearchIndex::open(&tmp.path().join("index")).unwrap();
    index(&idx, &root);
    let e = Counting::new();
    embed_pending(
        &idx,
        &|t| e.embed(t),
        8,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    let before = idx.vector_count();
    let stale = documents(&idx)
        .unwrap()
        .into_iter()
        .find(|d| d.path.ends_with("doc0.txt"))
        .unwrap();

    // doc0 changes (fewer chunks) and is re-indexed: its old vectors go with its old chunks.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(root.join("doc0.txt"), "a short new text about tides").unwrap();
    index(&idx, &root);
    assert_eq!(idx.vector_count(), before - stale.chunks as usize);
    // Vectors computed from the old version are refused.
    assert!(!idx
        .add_vectors(&stale, &[(format!("{}:0", stale.doc_id), vector("old"))])
        .unwrap());
    assert_eq!(idx.vector_count(), before - stale.chunks as usize);

    let again = Counting::new();
    embed_pending(
        &idx,
        &|t| again.embed(t),
        8,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        *again.texts.lock().unwrap(),
        ["a short new text about tides"]
    );
    assert_eq!(idx.vector_count(), chunk_total(&idx));
}

#[test]
fn a_document_the_embedder_fails_on_is_reported_and_the_rest_is_done() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docs");
    std::fs::create_dir_all(&root).unwrap();
    write_corpus(&root);
    std::fs::write(root.join("bad.txt"), "poison pill").unwrap();
    let idx = SearchIndex::open(&tmp.path().join("index")).unwrap();
    index(&idx, &root);
    let e = Counting::new();
    let report = embed_pending(
        &idx,
        &|t| e.embed(t),
        8,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].0.ends_with("bad.txt"));
    assert_eq!(report.failed[0].1, "the embedder failed");
    assert_eq!(idx.vector_count(), chunk_total(&idx) - 1);
    // It is still missing, so the next pass tries it again.
    assert_eq!(idx.documents_missing_vectors().unwrap().len(), 1);
}

/// Fusion reads a hit only the dense side found from the chunk's live version: a document
/// written again (the old chunks deleted, in an older segment) comes back with its new text.
#[test]
fn a_dense_only_hit_is_read_from_the_live_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let idx = SearchIndex::open(dir.path()).unwrap();
    let put = |doc_id: &str, text: &str, v: Vec<f32>| {
        let chunks = [fathom_index::Chunk {
            index: 0,
            text: text.into(),
            start: 0,
            end: text.len(),
            tokens: 3,
        }];
        let vectors = [v];
        idx.put_document(&fathom_index::DocumentChunks {
            doc_id,
            folder: "f",
            path: "/f/doc.txt",
            title: "doc.txt",
            chunks: &chunks,
            lines: &[1],
            pages: &[0],
            vectors: Some(&vectors),
        })
        .unwrap();
    };
    let commit = || {
        idx.commit().unwrap();
        idx.record(&[], &[]).unwrap();
    };
    // Another document in the first segment keeps it alive once the first version is deleted.
    put("other", "another document", vec![0.0, 0.0, 1.0]);
    put("doc", "the first version", vec![1.0, 0.0, 0.0]);
    commit();
    put("doc", "the second version", vec![0.0, 1.0, 0.0]);
    commit();
    let q = SearchQuery {
        text: "nothing matches this".into(),
        vector: Some(vec![0.0, 1.0, 0.0]),
        limit: 5,
        ..Default::default()
    };
    let hits = idx.search(&q).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (hits[0].chunk_id.as_str(), hits[0].text.as_str()),
        ("doc:0", "the second version")
    );
    let meanwhile = idx
        .search_embedding(&q, |_| Some(vec![0.0, 1.0, 0.0]))
        .unwrap();
    assert_eq!(meanwhile, hits);
}
