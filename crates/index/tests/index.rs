//! A real folder indexed, searched, changed, re-indexed, interrupted and resumed.

use std::time::Duration;

use std::path::Path;
use tokio_util::sync::CancellationToken;

use fathom_index::indexer::{documents, index_folder, remove_folder, IndexOptions};
use fathom_index::{document_id, Chunker, DocStatus, IndexError, SearchIndex, SearchQuery};

fn write(root: &Path, rel: &str, body: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn corpus(root: &Path) {
    write(root, "notes/whales.md", b"# Whales\n\nThe blue whale is the largest animal known to have lived.\nIt feeds on krill.\n");
    write(
        root,
        "notes/bees.txt",
        b"Honey bees communicate with a waggle dance that encodes distance and direction.",
    );
    write(root, "web/page.html", b"<html><body><h1>Volcanoes</h1><p>Magma rises through the crust.</p><script>ignored()</script></body></html>");
    write(root, "broken.pdf", b"%PDF-1.4 this is not really a pdf");
    write(root, "blob.txt", b"\x00\x01\x02binary");
    write(root, ".hidden/secret.md", b"hidden krill notes");
    write(root, "build/out.txt", b"generated krill output");
    write(root, ".gitignore", b"build/\n");
    write(root, "photo.jpg", b"\xff\xd8\xff");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root, root.join("notes/loop")).unwrap();
}

fn search(index: &SearchIndex, text: &str) -> Vec<String> {
    index
        .search(&SearchQuery {
            text: text.into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|h| {
            Path::new(&h.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn run(index: &SearchIndex, root: &Path) -> fathom_index::IndexReport {
    index_folder(
        index,
        "f1",
        root,
        &Chunker::new(256, 32),
        &IndexOptions::default(),
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn a_folder_is_indexed_searched_and_its_bad_files_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    corpus(&root);
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    let report = run(&index, &root);
    assert_eq!((report.indexed, report.failed), (3, 2), "{report:?}");
    assert_eq!(
        search(&index, "krill"),
        vec!["whales.md"],
        "hidden and ignored files stay out"
    );
    assert_eq!(search(&index, "dancing bees"), vec!["bees.txt"], "stemmed");
    assert_eq!(search(&index, "magma"), vec!["page.html"]);
    assert!(search(&index, "ignored").is_empty(), "scripts are not text");
    // Stray query syntax is words, not an error.
    assert_eq!(search(&index, "whale: \"krill"), vec!["whales.md"]);

    let docs = documents(&index).unwrap();
    let failed: Vec<(String, String)> = docs
        .iter()
        .filter(|d| d.status == DocStatus::Failed)
        .map(|d| {
            (
                Path::new(&d.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                d.error.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .any(|(f, e)| f == "blob.txt" && e == "binary content, not text"),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|(f, e)| f == "broken.pdf" && e.starts_with("malformed Pdf")),
        "{failed:?}"
    );

    // Chunk ids are `document:index`, the document id a hash of the path.
    let whales = root.join("notes/whales.md");
    let hits = index
        .search(&SearchQuery {
            text: "whale".into(),
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits[0].chunk_id, format!("{}:0", document_id(&whales)));
    assert_eq!(hits[0].line, 1);
    // Excluded chunks are left out; the folder filter keeps to one folder.
    let excluded = index
        .search(&SearchQuery {
            text: "whale".into(),
            exclude: vec![hits[0].chunk_id.clone()],
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert!(excluded.is_empty());
    let other = index
        .search(&SearchQuery {
            text: "whale".into(),
            folder: Some("f2".into()),
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert!(other.is_empty());
    // Grep and whole-document reads.
    let grep = index.grep(r"waggle\s+dance", None, 10).unwrap();
    assert_eq!(grep.len(), 1);
    assert!(index.grep("(unclosed", None, 10).is_err());
    let doc = index.read_document(&document_id(&whales)).unwrap();
    assert_eq!(
        doc.iter().map(|h| h.chunk).collect::<Vec<_>>(),
        (0..doc.len() as u32).collect::<Vec<_>>()
    );
}

#[test]
fn changes_are_picked_up_and_unchanged_files_are_not_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    corpus(&root);
    let dir = tmp.path().join("index");
    let index = SearchIndex::open(&dir).unwrap();
    run(&index, &root);
    let again = run(&index, &root);
    assert_eq!(
        (again.indexed, again.unchanged, again.removed),
        (0, 5, 0),
        "{again:?}"
    );

    std::thread::sleep(std::time::Duration::from_millis(20));
    write(
        &root,
        "notes/bees.txt",
        b"Bumblebees buzz-pollinate tomatoes.",
    );
    std::fs::rename(root.join("web/page.html"), root.join("web/volcano.html")).unwrap();
    std::fs::remove_file(root.join("notes/whales.md")).unwrap();
    let changed = run(&index, &root);
    assert_eq!((changed.indexed, changed.removed), (2, 2), "{changed:?}");
    assert_eq!(search(&index, "tomatoes"), vec!["bees.txt"]);
    assert!(
        search(&index, "waggle").is_empty(),
        "the old version is gone"
    );
    assert!(
        search(&index, "krill").is_empty(),
        "the deleted file is gone"
    );
    assert_eq!(search(&index, "magma"), vec!["volcano.html"]);
    // Reopened (a restart): same state, same ids.
    drop(index);
    let index = SearchIndex::open(&dir).unwrap();
    assert_eq!(run(&index, &root).indexed, 0);
    assert_eq!(remove_folder(&index, "f1").unwrap(), 4);
    assert!(search(&index, "magma").is_empty());
    assert!(documents(&index).unwrap().is_empty());
}

#[test]
fn an_interrupted_run_resumes_without_redoing_finished_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    for i in 0..40 {
        write(
            &root,
            &format!("doc{i:02}.txt"),
            format!("document {i} about subject{i}").as_bytes(),
        );
    }
    let dir = tmp.path().join("index");
    let index = SearchIndex::open(&dir).unwrap();
    let stop = CancellationToken::new();
    let options = IndexOptions {
        commit_docs: 5,
        progress_every: Duration::ZERO,
        ..IndexOptions::default()
    };
    // Stopped after 17 files: 15 committed in batches of 5, two more kept by the stop.
    let err = index_folder(
        &index,
        "f",
        &root,
        &Chunker::new(256, 0),
        &options,
        &stop,
        &mut |p| {
            if p.files_done == 17 {
                stop.cancel();
            }
        },
    )
    .unwrap_err();
    assert!(matches!(err, IndexError::Cancelled));
    drop(index);
    let index = SearchIndex::open(&dir).unwrap();
    assert_eq!(documents(&index).unwrap().len(), 17);
    assert_eq!(search(&index, "subject3"), vec!["doc03.txt"]);
    let rest = index_folder(
        &index,
        "f",
        &root,
        &Chunker::new(256, 0),
        &options,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((rest.unchanged, rest.indexed), (17, 23));
    assert_eq!(index.chunk_count(), 40);
}

#[test]
fn an_index_from_another_schema_version_is_rebuilt_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    corpus(&root);
    let dir = tmp.path().join("index");
    run(&SearchIndex::open(&dir).unwrap(), &root);
    std::fs::write(dir.join("schema-version"), "0").unwrap();
    let index = SearchIndex::open(&dir).unwrap();
    assert_eq!(index.chunk_count(), 0);
    assert_eq!(run(&index, &root).indexed, 3);
}

#[test]
fn a_file_that_takes_too_long_is_skipped_with_the_reason_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    // Reading 80 MB and cutting 50 MB of it into chunks takes seconds; a small note, milliseconds.
    write(&root, "huge.log", &b"0123456789abcdef".repeat(5_000_000));
    // Files queued behind the huge one on its worker are handed to the fresh worker.
    for i in 0..6 {
        write(
            &root,
            &format!("small{i}.txt"),
            format!("a small note {i}").as_bytes(),
        );
    }
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    let options = IndexOptions {
        file_timeout: std::time::Duration::from_millis(300),
        ..IndexOptions::default()
    };
    index_folder(
        &index,
        "f1",
        &root,
        &Chunker::new(256, 32),
        &options,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    let docs = documents(&index).unwrap();
    let huge = docs.iter().find(|d| d.path.ends_with("huge.log")).unwrap();
    assert_eq!(
        huge.error.as_deref(),
        Some("reading it took longer than 0.3 s; skipped")
    );
    assert_eq!(docs.len(), 7, "the run went on to the next files");
    for d in docs.iter().filter(|d| !d.path.ends_with("huge.log")) {
        assert_eq!((d.status, d.chunks), (DocStatus::Indexed, 1), "{d:?}");
    }
}

#[test]
fn hidden_files_are_indexed_when_asked_and_ignore_rules_still_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib");
    corpus(&root);
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    let options = IndexOptions {
        hidden: true,
        ..IndexOptions::default()
    };
    index_folder(
        &index,
        "f1",
        &root,
        &Chunker::new(256, 32),
        &options,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    let mut found = search(&index, "krill");
    found.sort();
    assert_eq!(
        found,
        vec!["secret.md", "whales.md"],
        "hidden in, gitignored build/ still out"
    );
}

#[test]
fn vectors_are_stored_with_their_documents_fused_with_bm25_and_survive_a_restart() {
    use fathom_index::DocumentChunks;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let index = SearchIndex::open(&dir).unwrap();
    let chunker = Chunker::new(256, 0);
    let put = |index: &SearchIndex, id: &str, text: &str, v: [f32; 2]| {
        let chunks = chunker.chunk(text);
        index
            .put_document(&DocumentChunks {
                doc_id: id,
                folder: "f",
                path: id,
                title: id,
                chunks: &chunks,
                lines: &[1],
                pages: &[0],
                vectors: Some(&[v.to_vec()]),
            })
            .unwrap();
    };
    put(&index, "a", "apples and pears", [1.0, 0.0]);
    put(&index, "b", "bananas", [0.0, 1.0]);
    index.commit().unwrap();
    index.record(&[], &[]).unwrap();
    assert_eq!(index.vector_count(), 2);
    // No shared word with "b", but its vector is nearest: hybrid finds it, BM25 alone does not.
    let q = |v: Option<Vec<f32>>| {
        index
            .search(&SearchQuery {
                text: "pears".into(),
                limit: 5,
                vector: v,
                ..Default::default()
            })
            .unwrap()
    };
    assert_eq!(
        q(None)
            .iter()
            .map(|h| h.doc_id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    let hybrid = q(Some(vec![0.0, 1.0]));
    assert_eq!(hybrid.len(), 2);
    assert!(hybrid
        .iter()
        .any(|h| h.doc_id == "b" && h.text == "bananas"));
    drop(index);
    let index = SearchIndex::open(&dir).unwrap();
    assert_eq!(index.vector_count(), 2);
    assert_eq!(index.dense_top(&[0.0, 1.0], 1, None)[0].0, "b:0");
    index.delete_document("b").unwrap();
    index.commit().unwrap();
    index.record(&[], &["b".to_string()]).unwrap();
    assert_eq!(index.vector_count(), 1);
    drop(index);
    assert_eq!(SearchIndex::open(&dir).unwrap().vector_count(), 1);
}
