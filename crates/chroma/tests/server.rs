//! A library copied to a real Chroma server (`chroma run` from the pinned chromadb package, set
//! up by `scripts/setup.sh test`) and searched there: the same results as the local index, a
//! resumed copy after the server was killed mid-copy, changes and removals carried over, and a
//! wrong token refused with a clear error.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use fathom_chroma::test_server::{free_port, wait_ready, Server};
use fathom_chroma::{ChromaLibrary, Connection};
use fathom_index::indexer::{index_folder, IndexOptions};
use fathom_index::vectors::embed_pending;
use fathom_index::{Chunker, Hit, IndexError, Passages, SearchIndex, SearchQuery};
use tokio_util::sync::CancellationToken;

const DIM: usize = 32;

/// A child process stopped when the test ends, passed or not.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

/// `n` documents of about four 16-token chunks; document 3 also speaks of zebras.
fn write_docs(root: &Path, n: usize) {
    std::fs::create_dir_all(root).unwrap();
    for i in 0..n {
        let mut body: String = (0..48).map(|w| format!("word{i}x{w} ")).collect();
        if i == 3 {
            body.push_str("Zebras graze. A zebra herd. ");
        }
        std::fs::write(root.join(format!("doc{i:04}.txt")), body).unwrap();
    }
}

/// Indexes both folders; embeds every chunk when `embed`.
fn update(index: &SearchIndex, roots: &[(&str, &Path)], embed: bool) {
    for (folder, root) in roots {
        index_folder(
            index,
            folder,
            root,
            &Chunker::new(16, 0),
            &IndexOptions::default(),
            &CancellationToken::new(),
            &mut |_| {},
        )
        .unwrap();
    }
    if embed {
        let embed = |texts: &[&str]| Ok(texts.iter().map(|t| vector(t)).collect());
        embed_pending(index, &embed, 8, &CancellationToken::new(), &mut |_| {}).unwrap();
    }
}

fn doc_ids(index: &SearchIndex) -> Vec<String> {
    fathom_index::indexer::documents(index)
        .unwrap()
        .into_iter()
        .map(|d| d.doc_id)
        .collect()
}

fn ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.chunk_id.clone()).collect()
}

/// The server's dense ranking is the local exact scan's: the same chunks with the same cosines,
/// in the same order but for near-ties (the server computes distances in its own precision).
fn same_ranking(remote: &[Hit], local: &[(String, f32)]) {
    assert_eq!(remote.len(), local.len());
    let cosine: std::collections::HashMap<&str, f32> =
        local.iter().map(|(id, c)| (id.as_str(), *c)).collect();
    // The cosine of a chunk both returned, as the server fused it: RRF replaces the score, so
    // compare positions' cosines from the local side.
    for (i, (h, (_, c))) in remote.iter().zip(local).enumerate() {
        let Some(mine) = cosine.get(h.chunk_id.as_str()) else {
            panic!(
                "{} at {i} is not in the local top {}",
                h.chunk_id,
                local.len()
            );
        };
        assert!((mine - c).abs() < 1e-4, "position {i}: {mine} vs {c}");
    }
}

fn sync(library: &ChromaLibrary, index: &SearchIndex) -> fathom_chroma::SyncReport {
    library
        .sync(index, &CancellationToken::new(), &mut |_| {})
        .unwrap()
}

fn dense_only(p: &dyn Passages, v: &[f32], folder: Option<&str>, exclude: &[String]) -> Vec<Hit> {
    // No words: the lexical side is empty and the fused order is the dense order.
    p.search_embedding(
        &SearchQuery {
            text: String::new(),
            folder: folder.map(str::to_string),
            exclude: exclude.to_vec(),
            limit: 10,
            vector: None,
        },
        &|_| Some(v.to_vec()),
    )
    .unwrap()
}

#[test]
fn a_copied_library_answers_as_the_local_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_docs(&a, 12);
    write_docs(&b, 8);
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    update(&index, &[("fa", &a), ("fb", &b)], true);
    let server = Server::start(&tmp.path().join("chroma"));
    let library = ChromaLibrary::connect(&Connection::local(&server.url()), "test-origin").unwrap();

    let report = sync(&library, &index);
    let chunks = index.chunk_count();
    assert_eq!(report.documents_copied, 20);
    assert_eq!(report.chunks_copied, chunks);
    assert_eq!(library.count().unwrap(), chunks);

    // Dense: the same chunks in the same order as the local exact scan, whole, in a folder and
    // with exclusions.
    // Folder a's tenth document: documents 0 to 7 have twins in folder b (equal texts, equal
    // vectors), which would tie with it.
    let probe = index.read_document(&doc_ids(&index)[10]).unwrap();
    assert!(probe.len() >= 3);
    for target in probe.iter().take(3) {
        let v = vector(&target.text);
        let local = index.dense_search(&v, 10, None, &[]);
        let remote = dense_only(&library, &v, None, &[]);
        same_ranking(&remote, &local);
        assert_eq!(remote[0].chunk_id, target.chunk_id);
        assert_eq!(&remote[0].text, &target.text);

        let exclude: Vec<String> = local.iter().take(3).map(|(id, _)| id.clone()).collect();
        let local = index.dense_search(&v, 10, Some("fb"), &exclude);
        let remote = dense_only(&library, &v, Some("fb"), &exclude);
        same_ranking(&remote, &local);
        assert!(remote.iter().all(|h| h.folder == "fb"));
        assert!(remote.iter().all(|h| !exclude.contains(&h.chunk_id)));
    }

    // Reading and grep: the same chunks, fields and order.
    for doc in doc_ids(&index) {
        assert_eq!(
            library.read_document(&doc).unwrap(),
            index.read_document(&doc).unwrap()
        );
    }
    assert!(library.read_document("nosuchdocument").unwrap().is_empty());
    let pattern = r"word7x(1|2)\d\b";
    let mut local = fathom_index::Passages::grep(&index, pattern, Some("fa"), 100).unwrap();
    local.sort_by(|x, y| (&x.path, x.chunk).cmp(&(&y.path, y.chunk)));
    let remote = library.grep(pattern, Some("fa"), 100).unwrap();
    assert!(!remote.is_empty());
    assert_eq!(remote, local);
    assert!(matches!(
        library.grep("(unclosed", None, 5),
        Err(IndexError::Query(_))
    ));

    // Lexical: the words find their chunks, case aside, within the folder, minus exclusions.
    let q = |text: &str, folder: Option<&str>, exclude: Vec<String>| SearchQuery {
        text: text.into(),
        folder: folder.map(str::to_string),
        exclude,
        limit: 10,
        vector: None,
    };
    let hits = library
        .search_embedding(&q("ZEBRA", None, vec![]), &|_| None)
        .unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.text.to_lowercase().contains("zebra")));
    assert!(hits.iter().any(|h| h.folder == "fa") && hits.iter().any(|h| h.folder == "fb"));
    let fb = library
        .search_embedding(&q("zebra", Some("fb"), vec![]), &|_| None)
        .unwrap();
    assert!(!fb.is_empty() && fb.iter().all(|h| h.folder == "fb"));
    let without = library
        .search_embedding(&q("zebra", None, ids(&hits[..1])), &|_| None)
        .unwrap();
    assert_eq!(without.len(), hits.len() - 1);
    assert!(!ids(&without).contains(&hits[0].chunk_id));
    // The unique word ranks its chunk first, in a hybrid search too.
    let unique = &probe[1];
    let word = unique.text.split_whitespace().nth(2).unwrap().to_string();
    let hybrid = library
        .search_embedding(&q(&word, None, vec![]), &|_| Some(vector(&unique.text)))
        .unwrap();
    assert_eq!(hybrid[0].chunk_id, unique.chunk_id);

    // Nothing changed: nothing is copied again.
    let again = sync(&library, &index);
    assert_eq!((again.documents_copied, again.documents_removed), (0, 0));
    assert_eq!(library.count().unwrap(), chunks);
}

#[test]
fn changes_and_removals_reach_the_server_and_unembedded_documents_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    write_docs(&a, 6);
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    update(&index, &[("fa", &a)], false);
    let server = Server::start(&tmp.path().join("chroma"));
    let library = ChromaLibrary::connect(&Connection::local(&server.url()), "me").unwrap();

    // No vectors yet: nothing to copy.
    let r = sync(&library, &index);
    assert_eq!((r.documents_copied, r.documents_waiting), (0, 6));
    assert_eq!(library.count().unwrap(), 0);
    update(&index, &[("fa", &a)], true);
    let r = sync(&library, &index);
    assert_eq!((r.documents_copied, r.documents_waiting), (6, 0));

    // Another origin's records (another machine sharing the collection) are left alone.
    let other_dir = tmp.path().join("other");
    write_docs(&other_dir, 1);
    let other_index = SearchIndex::open(&tmp.path().join("other-index")).unwrap();
    update(&other_index, &[("fo", &other_dir)], true);
    let other = ChromaLibrary::connect(&Connection::local(&server.url()), "other").unwrap();
    sync(&other, &other_index);

    std::fs::write(a.join("doc0001.txt"), "an entirely new text about otters").unwrap();
    std::fs::remove_file(a.join("doc0002.txt")).unwrap();
    update(&index, &[("fa", &a)], true);
    let r = sync(&library, &index);
    assert_eq!((r.documents_copied, r.documents_removed), (1, 1));
    let changed = doc_ids(&index);
    for doc in &changed {
        assert_eq!(
            library.read_document(doc).unwrap(),
            index.read_document(doc).unwrap()
        );
    }
    assert_eq!(
        library.count().unwrap(),
        index.chunk_count() + other_index.chunk_count()
    );
    let otters = library
        .search_embedding(
            &SearchQuery {
                text: "otters".into(),
                limit: 5,
                ..Default::default()
            },
            &|_| None,
        )
        .unwrap();
    assert_eq!(otters.len(), 1);
    assert!(otters[0].path.ends_with("doc0001.txt"));
    // The other origin's document is still there, and found.
    let theirs = doc_ids(&other_index);
    assert_eq!(
        library.read_document(&theirs[0]).unwrap(),
        other_index.read_document(&theirs[0]).unwrap()
    );
}

#[test]
fn a_copy_cut_off_by_the_server_resumes_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    // About 1,600 chunks: several waves of requests.
    write_docs(&a, 400);
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    update(&index, &[("fa", &a)], true);
    let mut server = Server::start(&tmp.path().join("chroma"));
    let library = ChromaLibrary::connect_with(
        &Connection::local(&server.url()),
        "me",
        Duration::from_secs(120),
    )
    .unwrap()
    .with_copy_ledger(&tmp.path().join("copied.sqlite"))
    .unwrap();

    // The server dies once the first requests are done.
    let mut done = 0;
    let err = library
        .sync(&index, &CancellationToken::new(), &mut |p| {
            done = p.chunks_done;
            if p.chunks_done >= 400 {
                server.kill();
            }
        })
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&server.url()) && message.contains("cannot reach"),
        "{message}"
    );
    assert!(done >= 400 && done < index.chunk_count(), "{done}");
    // Searching meanwhile says the same, and does not hang.
    let search = library.search_embedding(
        &SearchQuery {
            text: "word1x1".into(),
            limit: 5,
            ..Default::default()
        },
        &|_| None,
    );
    assert!(matches!(search, Err(IndexError::Remote(m)) if m.contains("cannot reach")));

    server.restart();
    let r = sync(&library, &index);
    assert!(
        r.documents_copied > 0 && r.documents_copied < 400,
        "resumed, not started over: {r:?}"
    );
    assert_eq!(library.count().unwrap(), index.chunk_count());
    for doc in doc_ids(&index) {
        assert_eq!(
            library.read_document(&doc).unwrap(),
            index.read_document(&doc).unwrap()
        );
    }
    let again = sync(&library, &index);
    assert_eq!((again.documents_copied, again.documents_removed), (0, 0));
    // What was copied before and after the cut is in the ledger: no listing needed.
    assert!(!again.listed, "{again:?}");
}

#[test]
fn the_ledger_of_what_was_copied_stands_in_for_a_listing_until_the_server_disagrees() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    write_docs(&a, 6);
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    update(&index, &[("fa", &a)], true);
    let server = Server::start(&tmp.path().join("chroma"));
    let connection = Connection::local(&server.url());
    let ledger = tmp.path().join("copied.sqlite");
    let with_ledger = || {
        ChromaLibrary::connect(&connection, "me")
            .unwrap()
            .with_copy_ledger(&ledger)
            .unwrap()
    };
    let library = with_ledger();
    let r = sync(&library, &index);
    assert_eq!((r.documents_copied, r.listed), (6, false));
    // Kept on disk: a copy by the next run of the app needs no listing either.
    drop(library);
    let library = with_ledger();
    let r = sync(&library, &index);
    assert_eq!(
        (r.documents_copied, r.documents_removed, r.listed),
        (0, 0, false)
    );

    // A changed and a removed file: the ledger knows their old versions.
    std::fs::write(a.join("doc0001.txt"), "an entirely new text about otters").unwrap();
    std::fs::remove_file(a.join("doc0002.txt")).unwrap();
    update(&index, &[("fa", &a)], true);
    let r = sync(&library, &index);
    assert_eq!(
        (r.documents_copied, r.documents_removed, r.listed),
        (1, 1, false)
    );
    assert_eq!(library.count().unwrap(), index.chunk_count());

    // Someone else removes this library's records (here: a copy of an empty library under the
    // same origin, without the ledger): the count disagrees, the server is listed and every
    // document goes back.
    let empty = SearchIndex::open(&tmp.path().join("empty")).unwrap();
    let other = ChromaLibrary::connect(&connection, "me").unwrap();
    let r = sync(&other, &empty);
    assert_eq!(r.documents_removed, 5);
    assert_eq!(library.count().unwrap(), 0);
    let r = sync(&library, &index);
    assert_eq!((r.documents_copied, r.listed), (5, true));
    for doc in doc_ids(&index) {
        assert_eq!(
            library.read_document(&doc).unwrap(),
            index.read_document(&doc).unwrap()
        );
    }
    let r = sync(&library, &index);
    assert_eq!((r.documents_copied, r.listed), (0, false));

    // Another machine's records in the collection: counts never agree, so it lists (and its
    // records are left alone), and nothing is copied twice.
    let b = tmp.path().join("b");
    write_docs(&b, 2);
    let theirs = SearchIndex::open(&tmp.path().join("theirs")).unwrap();
    update(&theirs, &[("fb", &b)], true);
    sync(
        &ChromaLibrary::connect(&connection, "them").unwrap(),
        &theirs,
    );
    let r = sync(&library, &index);
    assert_eq!(
        (r.documents_copied, r.documents_removed, r.listed),
        (0, 0, true)
    );
    assert_eq!(
        library.count().unwrap(),
        index.chunk_count() + theirs.chunk_count()
    );
}

#[test]
fn a_wrong_token_or_a_missing_server_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("chroma"));
    // `chroma run` checks no token; a gateway in front of it does, as Chroma Cloud does.
    let port = free_port();
    let mut proxy = Stopped(
        Command::new("/usr/bin/python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authproxy.py"))
            .args([port.to_string(), server.port().to_string(), "s3cret".into()])
            .spawn()
            .unwrap(),
    );
    wait_ready(port, "/api/v2/heartbeat", &mut proxy.0);
    let through = |token: Option<&str>| {
        ChromaLibrary::connect(
            &Connection {
                token: token.map(str::to_string),
                ..Connection::local(&format!("http://127.0.0.1:{port}"))
            },
            "me",
        )
    };
    for token in [Some("wrong"), None] {
        let Err(IndexError::Remote(message)) = through(token) else {
            panic!("{token:?} was let in");
        };
        assert!(message.contains("refused the token"), "{message}");
    }
    let library = through(Some("s3cret")).unwrap();
    assert_eq!(library.count().unwrap(), 0);
    drop(proxy);

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let Err(IndexError::Remote(message)) =
        ChromaLibrary::connect(&Connection::local(&nobody), "me")
    else {
        panic!("connected to nothing");
    };
    assert!(
        message.contains("cannot reach") && message.contains(&nobody),
        "{message}"
    );
    for bad in ["", "ftp://example.com", "not a url"] {
        assert!(ChromaLibrary::connect(&Connection::local(bad), "me").is_err());
    }
}

#[test]
fn a_library_is_made_used_and_dropped_inside_async_code() {
    // The CLI's commands and the API server run on a runtime: connecting, a request and the
    // drop (the client's own runtime) must neither block it nor panic, whether it connected or not.
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("chroma"));
    let outer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    outer.block_on(async {
        let nobody = format!("http://127.0.0.1:{}", free_port());
        assert!(ChromaLibrary::connect(&Connection::local(&nobody), "me").is_err());
        let library = ChromaLibrary::connect(&Connection::local(&server.url()), "me").unwrap();
        assert_eq!(library.count().unwrap(), 0);
        drop(library);
    });
}

/// Indexes `root` as folder `fa` into `store`, embedding every chunk with [`vector`], committing
/// every few documents.
fn index_into(
    store: &dyn fathom_index::DocStore,
    root: &Path,
    on_progress: &mut dyn FnMut(&fathom_index::IndexProgress),
) -> Result<fathom_index::IndexReport, IndexError> {
    let embed: std::sync::Arc<fathom_index::indexer::Embed> =
        std::sync::Arc::new(|texts: &[&str]| Ok(texts.iter().map(|t| vector(t)).collect()));
    index_folder(
        store,
        "fa",
        root,
        &Chunker::new(16, 0),
        &IndexOptions {
            embedder: Some(embed),
            commit_docs: 25,
            ..IndexOptions::default()
        },
        &CancellationToken::new(),
        on_progress,
    )
}

#[test]
fn a_library_indexed_straight_to_the_server_resumes_and_comes_back_whole() {
    use fathom_chroma::ServerStore;
    use fathom_index::{DocStore, Ledger};
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    write_docs(&a, 200);
    let mut server = Server::start(&tmp.path().join("chroma"));
    let library = std::sync::Arc::new(
        ChromaLibrary::connect_with(
            &Connection::local(&server.url()),
            "me",
            Duration::from_secs(120),
        )
        .unwrap(),
    );
    let ledger_file = tmp.path().join("ledger.sqlite");
    let store = ServerStore::new(library.clone(), Ledger::open(&ledger_file).unwrap());

    // Without an embedder nothing starts: the server has no vector pass.
    let err = index_folder(
        &store,
        "fa",
        &a,
        &Chunker::new(16, 0),
        &IndexOptions::default(),
        &CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("embedder"), "{err}");
    assert_eq!(library.count().unwrap(), 0);

    // The server dies a quarter of the way through.
    let err = index_into(&store, &a, &mut |p| {
        if p.files_done >= 50 {
            server.kill();
        }
    })
    .unwrap_err();
    assert!(err.to_string().contains("cannot reach"), "{err}");
    let recorded = store.all_docs().unwrap();
    assert!(
        !recorded.is_empty() && recorded.len() < 200,
        "{}",
        recorded.len()
    );

    // The same library on this machine, to compare with.
    let local = SearchIndex::open(&tmp.path().join("index")).unwrap();
    index_into(&local, &a, &mut |_| {}).unwrap();

    // Every document the ledger holds is whole on the server; the rest are redone.
    server.restart();
    for d in &recorded {
        assert_eq!(
            library.read_document(&d.doc_id).unwrap(),
            local.read_document(&d.doc_id).unwrap()
        );
    }
    // A ledger reopened (as after a kill) resumes where it stopped.
    drop(store);
    let store = ServerStore::new(library.clone(), Ledger::open(&ledger_file).unwrap());
    let r = index_into(&store, &a, &mut |_| {}).unwrap();
    assert_eq!(r.unchanged as usize, recorded.len());
    assert_eq!((r.indexed + r.unchanged, r.failed), (200, 0));
    assert_eq!(library.count().unwrap(), local.chunk_count());
    for doc in doc_ids(&local) {
        assert_eq!(
            library.read_document(&doc).unwrap(),
            local.read_document(&doc).unwrap()
        );
    }

    // Writes wait for the commit that names their document: another run's commit leaves them.
    let chunks = Chunker::new(16, 0).chunk("Kelp forests sway.");
    let vectors: Vec<Vec<f32>> = chunks.iter().map(|c| vector(&c.text)).collect();
    store
        .put_document(&fathom_index::DocumentChunks {
            doc_id: "00000000000000aa",
            folder: "fa",
            path: "/nowhere/kelp.txt",
            title: "kelp.txt",
            chunks: &chunks,
            lines: &[1],
            pages: &[0],
            vectors: Some(&vectors),
        })
        .unwrap();
    store.commit(&[], &[]).unwrap();
    assert!(library
        .read_document("00000000000000aa")
        .unwrap()
        .is_empty());
    store.delete_document("00000000000000aa").unwrap();
    store.commit(&[], &["00000000000000aa".into()]).unwrap();
    assert!(library
        .read_document("00000000000000aa")
        .unwrap()
        .is_empty());

    // A changed file replaces its chunks, a removed one leaves.
    std::fs::write(a.join("doc0001.txt"), "Otters hold hands asleep.").unwrap();
    std::fs::remove_file(a.join("doc0002.txt")).unwrap();
    let r = index_into(&store, &a, &mut |_| {}).unwrap();
    assert_eq!((r.indexed, r.removed), (1, 1));
    index_into(&local, &a, &mut |_| {}).unwrap();
    assert_eq!(library.count().unwrap(), local.chunk_count());
    let otters = fathom_index::document_id(&a.join("doc0001.txt"));
    assert_eq!(
        library.read_document(&otters).unwrap()[0].text,
        "Otters hold hands asleep."
    );
    let gone = fathom_index::document_id(&a.join("doc0002.txt"));
    assert!(library.read_document(&gone).unwrap().is_empty());
    assert_eq!(store.all_docs().unwrap().len(), 199);

    // Read back: the same chunks and the same vectors, nothing embedded; what the index held
    // that the library does not goes.
    let back = SearchIndex::open(&tmp.path().join("back")).unwrap();
    let stray = tmp.path().join("stray");
    write_docs(&stray, 1);
    index_into(&back, &stray, &mut |_| {}).unwrap();
    assert!(back.chunk_count() > 0);
    let docs = store.all_docs().unwrap();
    let report = library
        .pull(&docs, &back, &CancellationToken::new(), &mut |_| {})
        .unwrap();
    assert_eq!((report.documents, report.incomplete), (199, 0));
    assert_eq!(report.chunks, local.chunk_count());
    assert_eq!(back.chunk_count(), local.chunk_count());
    assert_eq!(back.vector_count(), local.vector_count());
    assert_eq!(
        fathom_index::indexer::documents(&back).unwrap(),
        fathom_index::indexer::documents(&local).unwrap()
    );
    for doc in doc_ids(&local) {
        assert_eq!(
            back.read_document(&doc).unwrap(),
            local.read_document(&doc).unwrap()
        );
        let mut mine = back.document_vectors(&doc).unwrap();
        let mut theirs = local.document_vectors(&doc).unwrap();
        mine.sort_by(|x, y| x.0.cmp(&y.0));
        theirs.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(mine.len(), theirs.len());
        for ((i, v), (j, w)) in mine.iter().zip(&theirs) {
            assert_eq!(i, j);
            assert!(v.iter().zip(w).all(|(x, y)| (x - y).abs() < 1e-6));
        }
    }
    // Indexing the read-back library finds nothing to do.
    let r = index_into(&back, &a, &mut |_| {}).unwrap();
    assert_eq!((r.indexed, r.unchanged), (0, 199));
    // A second read finds everything already here.
    let again = library
        .pull(&docs, &back, &CancellationToken::new(), &mut |_| {})
        .unwrap();
    assert_eq!((again.documents, again.unchanged), (0, 199));
}
