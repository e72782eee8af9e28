//! Dense search for the library, as the app runs it: the embedder (all-MiniLM-L6-v2) found in
//! the Hugging Face cache or fetched on first use through the model download code, loaded in the
//! background; a background pass that gives vectors to whatever BM25 indexing put in, yielding
//! to indexing and to the model whenever they run; and query vectors for hybrid search. Until
//! the embedder is there, and while chunks wait for vectors, search works on BM25.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fathom_embed::{SharedEmbedder, EMBEDDER_REPO};
use fathom_index::indexer::{Embed, FileProblem};
use fathom_index::vectors::{embed_pending, VectorProgress};
use fathom_index::SearchIndex;
use fathom_models::{Hub, HubCache, PullOptions};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Chunks each pass copy embeds at once: few, so that a pause (indexing starts, the model is
/// asked something) takes effect within about a second even on a CPU.
pub const PASS_BATCH: usize = 8;

/// Where the embedder is.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum EmbedderState {
    /// Semantic search is turned off in the settings.
    Off,
    /// Not on this machine; fetched when the library gets its first folder.
    Missing,
    Downloading {
        done_bytes: u64,
        total_bytes: u64,
    },
    Loading,
    Ready,
    Failed {
        /// In words, for people.
        message: String,
        /// The technical account (the transport's or loader's own error), for a details fold.
        detail: Option<String>,
    },
}

/// What the background vector pass is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PassState {
    /// No embedder yet.
    Waiting,
    Embedding,
    /// Chunks wait for vectors while indexing or the model runs (they come first).
    Paused,
    /// Every chunk the embedder could read has its vector.
    UpToDate,
    /// The last pass stopped on an error (`error` says which); `wake` tries again.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SemanticStatus {
    pub embedder: EmbedderState,
    pub pass: PassState,
    /// The running pass's progress.
    pub progress: Option<VectorProgress>,
    /// Paused by the person (`set_paused`), not by other work.
    pub paused_by_user: bool,
    /// Chunks with vectors, of all chunks.
    pub vectors: u64,
    pub chunks: u64,
    /// Files the embedder failed on in the last pass (retried by the next).
    pub failed: Vec<FileProblem>,
    /// Why the last pass stopped early, if it failed.
    pub error: Option<String>,
}

/// The embedder's directory in the Hugging Face cache, if a complete copy is there.
pub fn installed_embedder(cache: &HubCache) -> Option<PathBuf> {
    let commit = cache.resolve(EMBEDDER_REPO, "main")?;
    let dir = cache.snapshot(EMBEDDER_REPO, &commit);
    ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .all(|f| dir.join(f).is_file())
        .then_some(dir)
}

/// Query embedding ([`fathom_embed::Purpose::Query`]) as the index's searches and the agent's
/// tools take it.
pub fn embed_fn(e: Arc<SharedEmbedder>) -> Arc<Embed> {
    Arc::new(move |texts: &[&str]| e.embed_queries(texts).map_err(|err| err.to_string()))
}

struct Ctl {
    embedder: EmbedderState,
    /// One copy for queries and others for the pass (one per pass thread), so a search never
    /// waits for a pass's batch.
    query: Option<Arc<SharedEmbedder>>,
    pass_embedder: Option<Arc<Vec<SharedEmbedder>>>,
    running: bool,
    progress: Option<VectorProgress>,
    failed: Vec<FileProblem>,
    error: Option<String>,
    /// Work may be waiting (set by `wake` and when a hold ends).
    pending: bool,
    holds: usize,
    /// The person paused the pass (it stays paused until they resume it).
    paused: bool,
    shutdown: bool,
    /// Bumped whenever the embedder goes or changes: a pass or load of an older one gives up.
    generation: u64,
    download: Option<CancellationToken>,
    /// The running pass's stop: set when a hold comes, the person pauses, the embedder goes or
    /// the app quits; the pass ends after its current batch.
    pass: Option<CancellationToken>,
}

impl Ctl {
    fn stop_pass(&self) {
        if let Some(stop) = &self.pass {
            stop.cancel();
        }
    }
}

struct Shared {
    ctl: Mutex<Ctl>,
    cv: Condvar,
    index: Arc<SearchIndex>,
    on_status: Box<dyn Fn(&SemanticStatus) + Send + Sync>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Ctl> {
        self.ctl.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status_of(&self, c: &Ctl) -> SemanticStatus {
        let vectors = self.index.vector_count() as u64;
        let chunks = self.index.chunk_count();
        let pass = if c.pass_embedder.is_none() {
            PassState::Waiting
        } else if c.running {
            PassState::Embedding
        } else if c.error.is_some() {
            PassState::Failed
        } else if (c.holds > 0 || c.paused) && vectors < chunks {
            PassState::Paused
        } else {
            PassState::UpToDate
        };
        SemanticStatus {
            embedder: c.embedder.clone(),
            pass,
            progress: c.progress.clone().filter(|_| c.running),
            paused_by_user: c.paused,
            vectors,
            chunks,
            failed: c.failed.clone(),
            error: c.error.clone(),
        }
    }

    /// Tells the listener; never called with the lock held.
    fn changed(&self) {
        let status = {
            let c = self.lock();
            self.status_of(&c)
        };
        (self.on_status)(&status);
    }

    fn set_embedder(&self, generation: u64, state: EmbedderState) -> bool {
        let mut c = self.lock();
        if c.generation != generation {
            return false;
        }
        c.embedder = state;
        true
    }
}

/// Dense search's moving parts for one index. Dropping it stops the pass and any download.
pub struct Semantic {
    shared: Arc<Shared>,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// While it lives, the background pass stays paused (indexing or generation is running).
pub struct Hold {
    shared: Arc<Shared>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        {
            let mut c = self.shared.lock();
            c.holds -= 1;
            c.pending = true;
        }
        self.shared.cv.notify_all();
        self.shared.changed();
    }
}

impl Semantic {
    /// Starts the background pass over `index`; `on_status` hears every change (from any thread).
    /// Call it before other MLX work starts: with several pass copies it makes BLAS
    /// single-threaded for the process (OpenBLAS must not change that while in use).
    pub fn start(
        index: Arc<SearchIndex>,
        on_status: impl Fn(&SemanticStatus) + Send + Sync + 'static,
    ) -> Self {
        fathom_embed::single_threaded_blas();
        let shared = Arc::new(Shared {
            ctl: Mutex::new(Ctl {
                embedder: EmbedderState::Missing,
                query: None,
                pass_embedder: None,
                running: false,
                progress: None,
                failed: Vec::new(),
                error: None,
                pending: true,
                holds: 0,
                paused: false,
                shutdown: false,
                generation: 0,
                download: None,
                pass: None,
            }),
            cv: Condvar::new(),
            index,
            on_status: Box::new(on_status),
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("fathom-vectors".into())
                .spawn(move || pass_worker(&shared))
                .expect("start the vector pass thread")
        };
        Semantic {
            shared,
            worker: Some(worker),
        }
    }

    pub fn status(&self) -> SemanticStatus {
        let c = self.shared.lock();
        self.shared.status_of(&c)
    }

    /// Makes the embedder available: loads it from `cache` if it is there, else downloads it
    /// from `hub` first (when given; without one the state stays `Missing`). Returns at once;
    /// the work runs in the background. Nothing happens if it is already loading or loaded, or
    /// while semantic search is turned off.
    pub fn ensure(&self, cache: HubCache, hub: Option<Hub>) {
        {
            let mut c = self.shared.lock();
            if matches!(
                c.embedder,
                EmbedderState::Off
                    | EmbedderState::Downloading { .. }
                    | EmbedderState::Loading
                    | EmbedderState::Ready
            ) {
                return;
            }
            let dir = installed_embedder(&cache);
            c.embedder = match (&dir, &hub) {
                (Some(_), _) => EmbedderState::Loading,
                (None, Some(_)) => EmbedderState::Downloading {
                    done_bytes: 0,
                    total_bytes: 0,
                },
                (None, None) => EmbedderState::Missing,
            };
            if dir.is_none() && hub.is_none() {
                drop(c);
                self.shared.changed();
                return;
            }
            let cancel = CancellationToken::new();
            c.download = Some(cancel.clone());
            let generation = c.generation;
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name("fathom-embedder-fetch".into())
                .spawn(move || match dir {
                    Some(dir) => load(&shared, generation, &dir),
                    None => {
                        let hub = hub.expect("checked above");
                        if let Some(dir) = download(&shared, generation, &cache, &hub, &cancel) {
                            load(&shared, generation, &dir);
                        }
                    }
                })
                .expect("start the embedder thread");
        }
        self.shared.changed();
    }

    /// The embedder cannot be fetched (no Hub client: the reason); shown until `ensure` succeeds.
    pub fn fail(&self, message: String) {
        {
            let mut c = self.shared.lock();
            if !matches!(
                c.embedder,
                EmbedderState::Missing | EmbedderState::Failed { .. }
            ) {
                return;
            }
            c.embedder = EmbedderState::Failed {
                message,
                detail: None,
            };
        }
        self.shared.changed();
    }

    /// Semantic search off: the embedder is dropped (vectors already made stay stored), a
    /// download in progress is paused (its partial files stay for next time).
    pub fn turn_off(&self) {
        // Dropped once the lock is released: dropping an embedder waits for its thread.
        let _embedders = {
            let mut c = self.shared.lock();
            c.generation += 1;
            c.stop_pass();
            c.embedder = EmbedderState::Off;
            if let Some(cancel) = c.download.take() {
                cancel.cancel();
            }
            (c.query.take(), c.pass_embedder.take())
        };
        self.shared.cv.notify_all();
        self.shared.changed();
    }

    /// Semantic search back on after `turn_off` (then `ensure` loads the embedder).
    pub fn turn_on(&self) {
        {
            let mut c = self.shared.lock();
            if c.embedder != EmbedderState::Off {
                return;
            }
            c.embedder = EmbedderState::Missing;
        }
        self.shared.changed();
    }

    /// The query embedder, when it is loaded.
    pub fn query_embedder(&self) -> Option<Arc<SharedEmbedder>> {
        self.shared.lock().query.clone()
    }

    /// The background pass's embedder copies, when they are loaded: indexing a library that
    /// lives on a server alone embeds with them instead of loading copies of its own per run.
    pub fn pass_embedder(&self) -> Option<Arc<Vec<SharedEmbedder>>> {
        self.shared.lock().pass_embedder.clone()
    }

    /// Query embedding for the agent's searches, when the embedder is loaded.
    pub fn query_embed(&self) -> Option<Arc<Embed>> {
        self.query_embedder().map(embed_fn)
    }

    /// A query's vector for hybrid search; `None` until the embedder is loaded.
    pub fn query_vector(&self, text: &str) -> Option<Vec<f32>> {
        let e = self.query_embedder()?;
        match e.embed_queries(&[text]) {
            Ok(mut v) => v.pop(),
            Err(e) => {
                log::warn!("embedding a query: {e}");
                None
            }
        }
    }

    /// Pauses the background pass until the returned hold is dropped (then it resumes).
    pub fn hold(&self) -> Hold {
        {
            let mut c = self.shared.lock();
            c.holds += 1;
            c.stop_pass();
        }
        self.shared.changed();
        Hold {
            shared: self.shared.clone(),
        }
    }

    /// Pauses the background pass (between two batches) or resumes it.
    pub fn set_paused(&self, paused: bool) {
        {
            let mut c = self.shared.lock();
            c.paused = paused;
            c.pending = true;
            if paused {
                c.stop_pass();
            }
        }
        self.shared.cv.notify_all();
        self.shared.changed();
    }

    /// New chunks may be waiting for vectors (after indexing), or a failed pass should try again.
    pub fn wake(&self) {
        {
            let mut c = self.shared.lock();
            c.pending = true;
            c.error = None;
        }
        self.shared.cv.notify_all();
        self.shared.changed();
    }
}

impl Drop for Semantic {
    fn drop(&mut self) {
        {
            let mut c = self.shared.lock();
            c.shutdown = true;
            c.generation += 1;
            c.stop_pass();
            if let Some(cancel) = c.download.take() {
                cancel.cancel();
            }
        }
        self.shared.cv.notify_all();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Fetches the embedder's repository into the cache; its directory, or `None` (state set).
fn download(
    shared: &Arc<Shared>,
    generation: u64,
    cache: &HubCache,
    hub: &Hub,
    cancel: &CancellationToken,
) -> Option<PathBuf> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            shared.set_embedder(
                generation,
                EmbedderState::Failed {
                    message: "the download could not start".into(),
                    detail: Some(e.to_string()),
                },
            );
            shared.changed();
            return None;
        }
    };
    let options = PullOptions {
        require_gpt_oss: false,
        ..PullOptions::default()
    };
    let result = runtime.block_on(fathom_models::pull(
        hub,
        cache,
        EMBEDDER_REPO,
        &options,
        cancel,
        &|p| {
            let state = EmbedderState::Downloading {
                done_bytes: p.done_bytes,
                total_bytes: p.total_bytes,
            };
            if shared.set_embedder(generation, state) {
                shared.changed();
            }
        },
    ));
    match result {
        Ok(m) => Some(PathBuf::from(m.path)),
        Err(e) => {
            // Cancelled by `turn_off` or shutdown: the state already says so.
            if !cancel.is_cancelled() {
                let message = format!("its model {EMBEDDER_REPO} could not be downloaded: {e}");
                let detail = e.detail();
                log::warn!("{message} ({})", detail.as_deref().unwrap_or("no detail"));
                shared.set_embedder(generation, EmbedderState::Failed { message, detail });
                shared.changed();
            }
            None
        }
    }
}

/// Loads two copies of the embedder (queries, pass) and hands them over.
fn load(shared: &Arc<Shared>, generation: u64, dir: &Path) {
    if !shared.set_embedder(generation, EmbedderState::Loading) {
        return;
    }
    shared.changed();
    let loaded =
        SharedEmbedder::load_for_queries(dir).and_then(|q| Ok((q, load_pass_copies(dir)?)));
    {
        let mut c = shared.lock();
        if c.generation != generation {
            return;
        }
        c.download = None;
        match loaded {
            Ok((query, pass)) => {
                c.query = Some(Arc::new(query));
                c.pass_embedder = Some(Arc::new(pass));
                c.embedder = EmbedderState::Ready;
                c.pending = true;
            }
            Err(e) => {
                let message =
                    "its model is on disk but could not be loaded (its files may be damaged)"
                        .to_string();
                let detail = format!("{}: {e}", dir.display());
                log::warn!("{message}: {detail}");
                c.embedder = EmbedderState::Failed {
                    message,
                    detail: Some(detail),
                };
            }
        }
    }
    shared.cv.notify_all();
    shared.changed();
}

/// The embedder copies a bulk pass runs side by side (`fathom_embed::pass_threads`); call
/// `fathom_embed::single_threaded_blas` once before MLX work starts.
/// Where llama.cpp runs (`Runtime::preferred`), one copy on every core instead.
pub fn load_pass_copies(dir: &Path) -> Result<Vec<SharedEmbedder>, fathom_embed::EmbedError> {
    let first = SharedEmbedder::load_preferred(dir)?;
    if first.runtime() == fathom_embed::Runtime::LlamaCpp {
        return Ok(vec![first]);
    }
    let mut copies = vec![first];
    for _ in 1..fathom_embed::pass_threads() {
        copies.push(SharedEmbedder::load(dir)?);
    }
    Ok(copies)
}

/// Embeds `texts` with every copy at once (each on its own thread), a share each.
pub fn embed_split(copies: &[SharedEmbedder], texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
    let share = texts.len().div_ceil(copies.len().max(1)).max(1);
    let answers: Vec<_> = texts
        .chunks(share)
        .zip(copies)
        .map(|(part, e)| e.submit(part))
        .collect();
    let mut out = Vec::with_capacity(texts.len());
    for answer in answers {
        let part = answer
            .recv()
            .map_err(|_| "the embedder stopped".to_string())?
            .map_err(|e| e.to_string())?;
        out.extend(part);
    }
    Ok(out)
}

/// The background pass: waits for work, an embedder and no holds, then embeds what lacks a
/// vector, stopping between batches when a hold comes, the embedder goes, or the app quits.
fn pass_worker(shared: &Arc<Shared>) {
    loop {
        let (embedder, stop) = {
            let mut c = shared.lock();
            loop {
                if c.shutdown {
                    return;
                }
                if c.pending && c.holds == 0 && !c.paused {
                    if let Some(e) = c.pass_embedder.clone() {
                        c.pending = false;
                        c.running = true;
                        c.error = None;
                        let stop = CancellationToken::new();
                        c.pass = Some(stop.clone());
                        break (e, stop);
                    }
                }
                c = shared.cv.wait(c).unwrap_or_else(|p| p.into_inner());
            }
        };
        shared.changed();
        let mut last_report = Instant::now();
        let result = embed_pending(
            &shared.index,
            &|texts| embed_split(&embedder, texts),
            PASS_BATCH * embedder.len(),
            &stop,
            &mut |p| {
                shared.lock().progress = Some(p.clone());
                if last_report.elapsed() >= Duration::from_millis(250) {
                    last_report = Instant::now();
                    shared.changed();
                }
            },
        );
        {
            let mut c = shared.lock();
            c.pass = None;
            c.running = false;
            c.progress = None;
            match result {
                Ok(report) => {
                    if report.stopped {
                        c.pending = true;
                    }
                    if !report.stopped || !report.failed.is_empty() {
                        c.failed = report
                            .failed
                            .into_iter()
                            .map(|(path, reason)| FileProblem { path, reason })
                            .collect();
                    }
                }
                Err(e) => {
                    log::warn!("adding vectors: {e}");
                    c.error = Some(e.to_string());
                }
            }
        }
        shared.changed();
    }
}
