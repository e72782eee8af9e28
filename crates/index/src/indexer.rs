//! Bringing a folder's documents into the index: walk (honouring .gitignore/.ignore, skipping
//! hidden files unless asked, never following symlinks into loops), skip what has not changed
//! since it was indexed, extract and chunk the rest, drop what is gone, and commit in batches so
//! an interrupted run keeps what it finished.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use fathom_extract::{extract, Limits};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::chunk::Chunker;
use crate::index::DocumentChunks;
use crate::state::{DocState, DocStatus};
use crate::store::DocStore;
use crate::{document_id, IndexError};

#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct IndexProgress {
    pub folder: String,
    pub files_total: u32,
    pub files_done: u32,
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub failed: u32,
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct IndexReport {
    pub folder: String,
    /// Files (re)indexed in this run.
    pub indexed: u32,
    /// Files already indexed at their current version.
    pub unchanged: u32,
    pub failed: u32,
    /// Documents whose files are gone.
    pub removed: u32,
    pub chunks: u64,
    pub seconds: f64,
    /// Where the time went (for `fathom search-bench`; not part of the app's report).
    #[serde(skip)]
    pub timings: IndexTimings,
}

/// Seconds spent in each stage of an indexing run. Extraction and chunking run on worker
/// threads, several files at a time: their figures are the workers' time added up, and `wait` is
/// what the indexing thread spent waiting for them. Tantivy analyses documents on threads of its
/// own: what it costs beyond what the run's thread waits for shows up in `add` (when its queue
/// is full) and `commit` (waiting for it to finish).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexTimings {
    pub walk: f64,
    /// Reading and extracting text (workers).
    pub extract: f64,
    /// Cutting into chunks: o200k pre-tokens and counts, line and page anchors (workers).
    pub chunk: f64,
    /// The indexing thread waiting for the workers' next file.
    pub wait: f64,
    pub embed: f64,
    /// Handing documents to tantivy.
    pub add: f64,
    /// Tantivy's commits and the document state's transactions.
    pub commit: f64,
}

/// Turns chunk texts into unit vectors for dense search (the MLX embedder, in the app and CLI).
pub type Embed = dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String> + Send + Sync;

#[derive(Clone)]
pub struct IndexOptions {
    pub limits: Limits,
    /// Include hidden files and folders.
    pub hidden: bool,
    /// Commit at least this often, so a crash loses little.
    pub commit_every: Duration,
    /// And after this many files at most (their states wait in memory until the commit).
    pub commit_docs: usize,
    /// Longest one file's text extraction may take before it is given up.
    pub file_timeout: Duration,
    /// Embeds chunks for dense search; without one the index is BM25 only.
    pub embedder: Option<std::sync::Arc<Embed>>,
    /// Progress between commits at most this often (and at each commit and the end).
    pub progress_every: Duration,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            limits: Limits::default(),
            hidden: false,
            commit_every: Duration::from_secs(2),
            // Past this, time decides: a commit every 5,000 files made a million-chunk first run
            // (6,000 files a second) commit ~50 times, and tantivy flush as many small segments
            // to merge again; time-bounded, 1.14x faster (`fathom index add`, median of 5 runs
            // alternated: 31.6 → 27.6 s). A crash still loses at most `commit_every`'s work.
            commit_docs: 50_000,
            file_timeout: Duration::from_secs(60),
            embedder: None,
            progress_every: Duration::from_millis(100),
        }
    }
}

/// How many files an indexing run reads and chunks at once: one per core, up to 8.
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8))
}

/// A file read and cut up, ready for the index.
struct Prepared {
    chunks: Vec<crate::Chunk>,
    lines: Vec<u32>,
    pages: Vec<u32>,
    pages_without_text: Vec<u32>,
    extract_seconds: f64,
    chunk_seconds: f64,
}

type Job = (std::path::PathBuf, Limits);

/// One worker thread that extracts and chunks files in the order given.
struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
    results: std::sync::mpsc::Receiver<Result<Prepared, String>>,
}

impl Worker {
    fn new(chunker: Chunker) -> Self {
        let (jobs, job_rx) = std::sync::mpsc::channel::<Job>();
        let (result_tx, results) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            while let Ok((path, limits)) = job_rx.recv() {
                let out = std::panic::catch_unwind(|| prepare(&path, &limits, &chunker))
                    .map_err(|_| "the text extractor crashed on this file".to_string())
                    .and_then(|r| r);
                if result_tx.send(out).is_err() {
                    return;
                }
            }
        });
        Worker { jobs, results }
    }
}

fn prepare(path: &Path, limits: &Limits, chunker: &Chunker) -> Result<Prepared, String> {
    let t = Instant::now();
    let doc = extract(path, limits).map_err(|e| e.to_string())?;
    let extract_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let chunks = chunker.chunk(&doc.text);
    let starts: Vec<usize> = chunks.iter().map(|c| c.start).collect();
    let (lines, pages) = anchors(&doc.text, &starts, &doc.pages);
    Ok(Prepared {
        chunks,
        lines,
        pages,
        pages_without_text: doc.pages_without_text.iter().map(|&p| p as u32).collect(),
        extract_seconds,
        chunk_seconds: t.elapsed().as_secs_f64(),
    })
}

/// Extraction and chunking on a few worker threads, results handed back in the files' order
/// (file i goes to worker i mod n), each with a deadline: a file that takes too long is given up
/// (its worker is left to finish on its own, a fresh one takes over the files queued behind it)
/// and a panic in a parser is caught, so one pathological file can neither stall nor end the
/// run. The files in flight are bounded (two per worker, more while they are small: see
/// [`AHEAD_BYTES`]), so memory stays that of a few documents.
struct Workers {
    workers: Vec<Worker>,
    chunker: Chunker,
    paths: Vec<std::path::PathBuf>,
    /// Bytes of the files before each one (`starts[i]`), and of all at the end.
    starts: Vec<u64>,
    limits: Limits,
    /// Files handed out so far.
    sent: usize,
    ahead: usize,
}

/// The workers read on while the indexing thread waits for a tantivy commit (a few hundred
/// milliseconds, every few thousand files), up to this many bytes of files ahead of it: with
/// two files per worker they stalled through each commit, and a tenth of two cores' time went
/// unused over a million chunks. Small files are most of a library; large ones keep to the two.
const AHEAD_BYTES: u64 = 16 << 20;
const AHEAD_FILES: usize = 4096;

impl Workers {
    fn new(files: Vec<(std::path::PathBuf, u64)>, limits: Limits, chunker: &Chunker) -> Self {
        let n = worker_count().min(files.len().max(1));
        let mut starts = Vec::with_capacity(files.len() + 1);
        let mut total = 0u64;
        starts.push(0);
        for (_, size) in &files {
            total = total.saturating_add(*size);
            starts.push(total);
        }
        Workers {
            workers: (0..n).map(|_| Worker::new(chunker.clone())).collect(),
            chunker: chunker.clone(),
            paths: files.into_iter().map(|(path, _)| path).collect(),
            starts,
            limits,
            sent: 0,
            ahead: 2 * n,
        }
    }

    /// Whether file `self.sent` may be handed out while the indexing thread is at file `i`.
    fn may_send(&self, i: usize) -> bool {
        let next = self.sent;
        next < self.paths.len()
            && (next <= i + self.ahead
                || (next < i + AHEAD_FILES
                    && self.starts[next + 1] - self.starts[i] <= AHEAD_BYTES))
    }

    /// File `i`'s result: the files must be asked for in order, 0, 1, 2, ...
    fn get(&mut self, i: usize, timeout: Duration) -> Result<Prepared, String> {
        let n = self.workers.len();
        while self.may_send(i) {
            let job = (self.paths[self.sent].clone(), self.limits);
            // A worker that died is replaced when its result is asked for.
            let _ = self.workers[self.sent % n].jobs.send(job);
            self.sent += 1;
        }
        let w = i % n;
        // Every earlier file of this worker has been taken, so this one has been running at
        // least as long as we wait here: it gets at least `timeout`.
        let out = match self.workers[w].results.recv_timeout(timeout) {
            Ok(r) => return r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "reading it took longer than {} s; skipped",
                timeout.as_secs_f64()
            )),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err("the text extractor stopped".to_string())
            }
        };
        self.workers[w] = Worker::new(self.chunker.clone());
        for j in (i + 1..self.sent).filter(|j| j % n == w) {
            let _ = self.workers[w]
                .jobs
                .send((self.paths[j].clone(), self.limits));
        }
        out
    }
}

struct Found {
    path: String,
    size: u64,
    mtime_ns: i64,
}

/// The library's one walk rule (`fathom_library::walk`), sorted by path.
fn walk(root: &Path, hidden: bool) -> Vec<Found> {
    let mut out: Vec<Found> = fathom_library::walk(root, fathom_library::WalkRule { hidden })
        .filter_map(|w| match w {
            fathom_library::Walked::File(f) => Some(Found {
                path: f.path.display().to_string(),
                size: f.size,
                mtime_ns: f.mtime_ns,
            }),
            fathom_library::Walked::Unreadable => None,
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// 1-based line and page at each chunk's start.
fn anchors(text: &str, starts: &[usize], pages: &[usize]) -> (Vec<u32>, Vec<u32>) {
    let mut lines = Vec::with_capacity(starts.len());
    let mut line = 1u32;
    let mut pos = 0usize;
    for &s in starts {
        line += text.as_bytes()[pos..s]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32;
        pos = s;
        lines.push(line);
    }
    let page_of = |s: usize| {
        if pages.is_empty() {
            0
        } else {
            pages.partition_point(|&p| p <= s) as u32
        }
    };
    (lines, starts.iter().map(|&s| page_of(s)).collect())
}

/// Indexes `root` as library folder `folder`.
pub fn index_folder(
    index: &dyn DocStore,
    folder: &str,
    root: &Path,
    chunker: &Chunker,
    options: &IndexOptions,
    stop: &CancellationToken,
    on_progress: &mut dyn FnMut(&IndexProgress),
) -> Result<IndexReport, IndexError> {
    if index.needs_vectors() && options.embedder.is_none() {
        return Err(IndexError::Vectors(
            "this library lives on a server, which needs every passage's vector: the embedder \
             is not here yet (turn on semantic search, or run `fathom pull --embedder`)"
                .into(),
        ));
    }
    let started = Instant::now();
    let files = walk(root, options.hidden);
    let mut timings = IndexTimings {
        walk: started.elapsed().as_secs_f64(),
        ..IndexTimings::default()
    };
    let known: HashMap<String, DocState> = index
        .folder_docs(folder)?
        .into_iter()
        .map(|d| (d.doc_id.clone(), d))
        .collect();
    let mut report = IndexReport {
        folder: folder.to_string(),
        ..IndexReport::default()
    };
    // Gone since last time.
    let present: HashSet<String> = files
        .iter()
        .map(|f| document_id(Path::new(&f.path)))
        .collect();
    let gone: Vec<String> = known
        .keys()
        .filter(|id| !present.contains(*id))
        .cloned()
        .collect();
    for id in &gone {
        index.delete_document(id)?;
    }
    if !gone.is_empty() {
        index.commit(&[], &gone)?;
        report.removed = gone.len() as u32;
    }
    let todo: Vec<&Found> = files
        .iter()
        .filter(|f| {
            let same = known
                .get(&document_id(Path::new(&f.path)))
                .is_some_and(|d| d.size == f.size && d.mtime_ns == f.mtime_ns);
            if same {
                report.unchanged += 1;
            }
            !same
        })
        .collect();
    let mut progress = IndexProgress {
        folder: folder.to_string(),
        files_total: todo.len() as u32,
        bytes_total: todo.iter().map(|f| f.size).sum(),
        ..IndexProgress::default()
    };
    on_progress(&progress);
    let mut batch: Vec<DocState> = Vec::new();
    let mut workers = Workers::new(
        todo.iter()
            .map(|f| (f.path.clone().into(), f.size))
            .collect(),
        options.limits,
        chunker,
    );
    let mut last_commit = Instant::now();
    let run_start = Instant::now();
    let flush = |batch: &mut Vec<DocState>, timings: &mut IndexTimings| -> Result<(), IndexError> {
        let t = Instant::now();
        index.commit(batch, &[])?;
        batch.clear();
        timings.commit += t.elapsed().as_secs_f64();
        Ok(())
    };
    let mut last_progress = Instant::now();
    for (i, f) in todo.into_iter().enumerate() {
        if stop.is_cancelled() {
            flush(&mut batch, &mut timings)?;
            return Err(IndexError::Cancelled);
        }
        let path = Path::new(&f.path);
        let doc_id = document_id(path);
        let mut state = DocState {
            doc_id: doc_id.clone(),
            folder: folder.to_string(),
            path: f.path.clone(),
            size: f.size,
            mtime_ns: f.mtime_ns,
            chunks: 0,
            status: DocStatus::Indexed,
            error: None,
            pages_without_text: Vec::new(),
        };
        let t = Instant::now();
        let prepared = workers.get(i, options.file_timeout);
        timings.wait += t.elapsed().as_secs_f64();
        match prepared {
            Ok(doc) => {
                timings.extract += doc.extract_seconds;
                timings.chunk += doc.chunk_seconds;
                let title = path.file_name().unwrap_or_default().to_string_lossy();
                let chunks = doc.chunks;
                let t = Instant::now();
                let vectors = match &options.embedder {
                    Some(e) => Some(embed_chunks(e.as_ref(), &chunks)?),
                    None => None,
                };
                timings.embed += t.elapsed().as_secs_f64();
                let t = Instant::now();
                index.put_document(&DocumentChunks {
                    doc_id: &doc_id,
                    folder,
                    path: &f.path,
                    title: &title,
                    chunks: &chunks,
                    lines: &doc.lines,
                    pages: &doc.pages,
                    vectors: vectors.as_deref(),
                })?;
                timings.add += t.elapsed().as_secs_f64();
                state.chunks = chunks.len() as u32;
                state.pages_without_text = doc.pages_without_text;
                report.indexed += 1;
                report.chunks += chunks.len() as u64;
            }
            Err(e) => {
                // One bad file never stops the run; its old chunks (if any) go.
                index.delete_document(&doc_id)?;
                state.status = DocStatus::Failed;
                state.error = Some(e);
                report.failed += 1;
                progress.failed += 1;
            }
        }
        batch.push(state);
        progress.files_done += 1;
        progress.bytes_done += f.size;
        let elapsed = run_start.elapsed().as_secs_f64();
        if progress.bytes_done > 0 && elapsed > 0.5 {
            let rate = progress.bytes_done as f64 / elapsed;
            progress.eta_seconds = Some((progress.bytes_total - progress.bytes_done) as f64 / rate);
        }
        if batch.len() >= options.commit_docs || last_commit.elapsed() >= options.commit_every {
            flush(&mut batch, &mut timings)?;
            last_commit = Instant::now();
            last_progress = Instant::now();
            on_progress(&progress);
        } else if last_progress.elapsed() >= options.progress_every {
            last_progress = Instant::now();
            on_progress(&progress);
        }
    }
    flush(&mut batch, &mut timings)?;
    on_progress(&progress);
    report.seconds = started.elapsed().as_secs_f64();
    report.timings = timings;
    Ok(report)
}

/// Drops every document of a folder.
pub fn remove_folder(index: &dyn DocStore, folder: &str) -> Result<u32, IndexError> {
    let docs = index.folder_docs(folder)?;
    for d in &docs {
        index.delete_document(&d.doc_id)?;
    }
    let ids: Vec<String> = docs.iter().map(|d| d.doc_id.clone()).collect();
    index.commit(&[], &ids)?;
    Ok(ids.len() as u32)
}

/// Every document the index knows, with its status.
pub fn documents(index: &dyn DocStore) -> Result<Vec<DocState>, IndexError> {
    index.all_docs()
}

/// One file that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FileProblem {
    pub path: String,
    pub reason: String,
}

/// What the index holds for one library folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FolderStatus {
    pub folder: String,
    pub documents: u32,
    pub chunks: u64,
    pub failed: Vec<FileProblem>,
    /// Documents with pages that have no text layer.
    pub needs_ocr: Vec<FileProblem>,
}

pub fn folder_status(index: &dyn DocStore, folder: &str) -> Result<FolderStatus, IndexError> {
    Ok(folder_summary(folder, index.folder_docs(folder)?))
}

/// A folder's status from its documents' states.
pub fn folder_summary(folder: &str, docs: impl IntoIterator<Item = DocState>) -> FolderStatus {
    let mut s = FolderStatus {
        folder: folder.to_string(),
        ..FolderStatus::default()
    };
    for d in docs {
        match d.status {
            DocStatus::Indexed => {
                s.documents += 1;
                s.chunks += d.chunks as u64;
                if !d.pages_without_text.is_empty() {
                    let pages: Vec<String> =
                        d.pages_without_text.iter().map(|p| p.to_string()).collect();
                    s.needs_ocr.push(FileProblem {
                        path: d.path,
                        reason: format!("no text on page {} (needs OCR)", pages.join(", ")),
                    });
                }
            }
            DocStatus::Failed => s.failed.push(FileProblem {
                reason: d.error.unwrap_or_else(|| "unknown".into()),
                path: d.path,
            }),
        }
    }
    s
}

/// Embeds chunk texts in batches of 32.
pub fn embed_chunks(
    embedder: &Embed,
    chunks: &[crate::Chunk],
) -> Result<Vec<Vec<f32>>, IndexError> {
    let mut out = Vec::with_capacity(chunks.len());
    for batch in chunks.chunks(32) {
        let texts: Vec<&str> = batch.iter().map(|c| c.text.as_str()).collect();
        out.extend(embedder(&texts).map_err(IndexError::Query)?);
    }
    Ok(out)
}
