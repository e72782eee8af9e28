//! Downloads into the Hugging Face cache: several files at once, each resumed from its partial
//! (`blobs/{hash}.incomplete`, huggingface_hub's own name, so either tool can finish the other's
//! download) with HTTP Range, a stall watchdog (the client's read timeout) with retries and
//! backoff, every file verified against its published hash before it is moved into place, the
//! free space checked first, and a full disk stopping the download cleanly with what is done kept.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt, TryStreamExt};
use reqwest::{header, StatusCode};
use serde::Serialize;
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::cache::{HubCache, InstalledModel};
use crate::hub::{describe, Hub, RemoteFile, RepoInfo, Why};
use crate::{human_bytes, ModelsError};

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Branch, tag or commit.
    pub revision: String,
    /// Files downloaded at once.
    pub parallel: usize,
    /// Consecutive failed attempts (without progress) before a file is given up.
    pub max_attempts: u32,
    /// First wait after a failure; doubles each time up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How often progress is reported.
    pub report_every: Duration,
    /// Refuse repositories that are not gpt-oss checkpoints (off for the embedder's model).
    pub require_gpt_oss: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            revision: "main".into(),
            parallel: 4,
            max_attempts: 8,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            report_every: Duration::from_millis(250),
            require_gpt_oss: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum FileState {
    Waiting,
    Downloading,
    /// A failure is being retried after a pause.
    Retrying,
    Done,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FileProgress {
    pub path: String,
    pub size: u64,
    pub done: u64,
    pub state: FileState,
    /// The last transient failure, while retrying.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PullPhase {
    Downloading,
    Done,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PullProgress {
    pub repo: String,
    pub commit: String,
    pub phase: PullPhase,
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// Over the last few seconds.
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
    pub files: Vec<FileProgress>,
}

/// Progress shared by the file tasks, with a few seconds of samples for the rate.
struct Tracker {
    files: Vec<FileProgress>,
    samples: VecDeque<(Instant, u64)>,
}

impl Tracker {
    fn set(&mut self, i: usize, done: u64, state: FileState, note: Option<String>) {
        let f = &mut self.files[i];
        f.done = done;
        f.state = state;
        f.note = note;
    }

    fn snapshot(&mut self, info: &RepoInfo, phase: PullPhase) -> PullProgress {
        let done: u64 = self.files.iter().map(|f| f.done).sum();
        let total = info.total_bytes();
        let now = Instant::now();
        self.samples.push_back((now, done));
        while self.samples.len() > 2
            && now.duration_since(self.samples[0].0) > Duration::from_secs(5)
        {
            self.samples.pop_front();
        }
        let (t0, d0) = self.samples[0];
        let elapsed = now.duration_since(t0).as_secs_f64();
        let rate = if elapsed > 0.0 {
            done.saturating_sub(d0) as f64 / elapsed
        } else {
            0.0
        };
        PullProgress {
            repo: info.repo.clone(),
            commit: info.commit.clone(),
            phase,
            done_bytes: done,
            total_bytes: total,
            bytes_per_second: rate,
            eta_seconds: (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate),
            files: self.files.clone(),
        }
    }
}

/// Bytes a file already has here: all of them once its blob exists, else its partial's length.
fn present(cache: &HubCache, repo: &str, f: &RemoteFile) -> u64 {
    let blob = cache.blobs(repo).join(f.blob_name());
    if std::fs::metadata(&blob).is_ok_and(|m| m.len() == f.size) {
        return f.size;
    }
    std::fs::metadata(partial_path(&blob)).map_or(0, |m| m.len().min(f.size))
}

fn partial_path(blob: &Path) -> PathBuf {
    let mut name = blob.as_os_str().to_owned();
    name.push(".incomplete");
    PathBuf::from(name)
}

/// Bytes of `info`'s files already on disk (whole or partial).
pub(crate) fn bytes_present(cache: &HubCache, info: &RepoInfo) -> u64 {
    info.files
        .iter()
        .map(|f| present(cache, &info.repo, f))
        .sum()
}

/// The free bytes on the filesystem that will hold `dir` (which may not exist yet).
pub(crate) fn free_space(dir: &Path) -> Result<u64, ModelsError> {
    let mut probe = dir;
    while !probe.exists() {
        probe = probe.parent().unwrap_or(Path::new("/"));
    }
    fs4::available_space(probe).map_err(|e| ModelsError::io(probe, e))
}

pub(crate) fn no_space(dir: &Path, needed: u64, free: u64) -> ModelsError {
    ModelsError::NoSpace {
        dir: dir.display().to_string(),
        needed,
        free,
        needed_h: human_bytes(needed),
        free_h: human_bytes(free),
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// Downloads `repo` (the model files of it) into `cache`, resuming whatever is already there.
/// `cancel` pauses: partial files stay and the next pull continues them.
pub async fn pull(
    hub: &Hub,
    cache: &HubCache,
    repo: &str,
    options: &PullOptions,
    cancel: &CancellationToken,
    on_progress: &(dyn Fn(&PullProgress) + Send + Sync),
) -> Result<InstalledModel, ModelsError> {
    let info = hub.repo_info(repo, &options.revision).await?;
    pull_info(hub, cache, &info, options, cancel, on_progress).await?;
    cache.write_ref(repo, &options.revision, &info.commit)?;
    if !options.require_gpt_oss {
        let path = cache.snapshot(repo, &info.commit);
        return Ok(InstalledModel {
            repo: repo.into(),
            commit: info.commit.clone(),
            disk_bytes: crate::cache::dir_bytes(&path),
            path: path.display().to_string(),
        });
    }
    cache.installed_model(repo).ok_or_else(|| ModelsError::NotGptOss {
        repo: repo.into(),
        reason: "the downloaded files are not a runnable checkpoint (config.json, tokenizer.json and every weight file)".into(),
    })
}

/// Downloads the files of `info` (already resolved to a commit).
pub async fn pull_info(
    hub: &Hub,
    cache: &HubCache,
    info: &RepoInfo,
    options: &PullOptions,
    cancel: &CancellationToken,
    on_progress: &(dyn Fn(&PullProgress) + Send + Sync),
) -> Result<(), ModelsError> {
    if options.require_gpt_oss {
        hub.config(info).await?;
    }
    let blobs = cache.blobs(&info.repo);
    let have: Vec<u64> = info
        .files
        .iter()
        .map(|f| present(cache, &info.repo, f))
        .collect();
    let needed: u64 = info.files.iter().zip(&have).map(|(f, h)| f.size - h).sum();
    let free = free_space(&blobs)?;
    if needed > free {
        return Err(no_space(&blobs, needed, free));
    }
    std::fs::create_dir_all(&blobs).map_err(|e| ModelsError::io(&blobs, e))?;
    let tracker = Mutex::new(Tracker {
        files: info
            .files
            .iter()
            .zip(&have)
            .map(|(f, &done)| FileProgress {
                path: f.path.clone(),
                size: f.size,
                done,
                state: if done == f.size {
                    FileState::Done
                } else {
                    FileState::Waiting
                },
                note: None,
            })
            .collect(),
        samples: VecDeque::new(),
    });
    let lock = || tracker.lock().unwrap_or_else(|p| p.into_inner());
    // Largest first, so the long files start early and small ones fill the gaps.
    let mut order: Vec<usize> = (0..info.files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(info.files[i].size));
    let work = stream::iter(order.into_iter().map(Ok))
        .try_for_each_concurrent(options.parallel.max(1), |i| {
            fetch_file(hub, cache, info, i, options, cancel, &tracker)
        });
    tokio::pin!(work);
    let mut tick = tokio::time::interval(options.report_every);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tick.tick() => on_progress(&lock().snapshot(info, PullPhase::Downloading)),
        }
    };
    result?;
    on_progress(&lock().snapshot(info, PullPhase::Done));
    Ok(())
}

/// A hash being computed over a file as it arrives.
enum Hasher {
    Sha256(sha2::Sha256),
    GitBlob(sha1::Sha1),
}

impl Hasher {
    fn new(f: &RemoteFile) -> Self {
        match f.sha256 {
            Some(_) => Hasher::Sha256(sha2::Sha256::new()),
            None => {
                let mut h = sha1::Sha1::new();
                h.update(format!("blob {}\0", f.size).as_bytes());
                Hasher::GitBlob(h)
            }
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::GitBlob(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::GitBlob(h) => hex::encode(h.finalize()),
        }
    }
}

/// Hashes what a partial file already holds (on the blocking pool: it can be gigabytes).
async fn rehash(path: &Path, f: &RemoteFile) -> Result<Hasher, ModelsError> {
    let (path, f) = (path.to_path_buf(), f.clone());
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut h = Hasher::new(&f);
        let mut file = std::fs::File::open(&path).map_err(|e| ModelsError::io(&path, e))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| ModelsError::io(&path, e))?;
            if n == 0 {
                return Ok(h);
            }
            h.update(&buf[..n]);
        }
    })
    .await
    .map_err(|e| ModelsError::Hub(format!("hashing stopped: {e}")))?
}

/// Why one attempt at a file ended without the file.
enum Attempt {
    /// Try again after a pause (connection trouble, 5xx, a stall, a short body).
    Transient(Why),
    /// Start the file over (corrupt bytes, a server that ignored the range or sent too much).
    Restart(String),
    Fatal(ModelsError),
}

async fn fetch_file(
    hub: &Hub,
    cache: &HubCache,
    info: &RepoInfo,
    i: usize,
    options: &PullOptions,
    cancel: &CancellationToken,
    tracker: &Mutex<Tracker>,
) -> Result<(), ModelsError> {
    let f = &info.files[i];
    let lock = || tracker.lock().unwrap_or_else(|p| p.into_inner());
    let blob = cache.blobs(&info.repo).join(f.blob_name());
    if std::fs::metadata(&blob).is_ok_and(|m| m.len() == f.size) {
        lock().set(i, f.size, FileState::Done, None);
        return cache.link(&info.repo, &info.commit, &f.path, f.blob_name());
    }
    let partial = partial_path(&blob);
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .await
        .map_err(|e| ModelsError::io(&partial, e))?;
    let mut offset = file
        .metadata()
        .await
        .map_err(|e| ModelsError::io(&partial, e))?
        .len();
    if offset > f.size {
        file.set_len(0)
            .await
            .map_err(|e| ModelsError::io(&partial, e))?;
        offset = 0;
    }
    let mut hasher = rehash(&partial, f).await?;
    let mut failures = 0u32;
    let mut corrupt = 0u32;
    loop {
        if cancel.is_cancelled() {
            return Err(ModelsError::Cancelled);
        }
        lock().set(i, offset, FileState::Downloading, None);
        let start = offset;
        let outcome = tokio::select! {
            _ = cancel.cancelled() => {
                // Keep what arrived: tokio's file buffers writes until flushed.
                let _ = file.flush().await;
                return Err(ModelsError::Cancelled);
            }
            o = attempt(hub, info, f, &partial, &mut file, &mut offset, &mut hasher, i, tracker) => o,
        };
        let reason = match outcome {
            Ok(()) => {
                // The whole file is here: check it before it counts.
                file.flush()
                    .await
                    .map_err(|e| ModelsError::io(&partial, e))?;
                file.sync_all()
                    .await
                    .map_err(|e| ModelsError::io(&partial, e))?;
                let actual = std::mem::replace(&mut hasher, Hasher::new(f)).finish();
                let expected = f.sha256.clone().unwrap_or_else(|| f.blob_id.clone());
                if actual == expected {
                    drop(file);
                    std::fs::rename(&partial, &blob).map_err(|e| ModelsError::io(&blob, e))?;
                    lock().set(i, f.size, FileState::Done, None);
                    return cache.link(&info.repo, &info.commit, &f.path, f.blob_name());
                }
                corrupt += 1;
                file.set_len(0)
                    .await
                    .map_err(|e| ModelsError::io(&partial, e))?;
                offset = 0;
                if corrupt >= 2 {
                    let _ = std::fs::remove_file(&partial);
                    return Err(ModelsError::Corrupt {
                        file: f.path.clone(),
                        expected,
                        actual,
                    });
                }
                lock().set(
                    i,
                    0,
                    FileState::Retrying,
                    Some("the file did not match its checksum; fetching it again".into()),
                );
                continue;
            }
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Restart(reason)) => {
                file.set_len(0)
                    .await
                    .map_err(|e| ModelsError::io(&partial, e))?;
                offset = 0;
                hasher = Hasher::new(f);
                Why::plain(reason)
            }
            Err(Attempt::Transient(why)) => why,
        };
        let Why {
            plain: reason,
            detail,
            ..
        } = reason;
        // An attempt that moved the file forward starts the count and the backoff afresh.
        failures = if offset > start { 1 } else { failures + 1 };
        if failures >= options.max_attempts {
            return Err(ModelsError::GaveUp {
                file: f.path.clone(),
                reason,
                attempts: failures,
                detail,
            });
        }
        let wait = options
            .backoff
            .saturating_mul(1 << (failures - 1).min(16))
            .min(options.max_backoff);
        lock().set(
            i,
            offset,
            FileState::Retrying,
            Some(format!(
                "{reason}; retrying in {:.0} s",
                wait.as_secs_f64().ceil()
            )),
        );
        tokio::select! {
            _ = cancel.cancelled() => return Err(ModelsError::Cancelled),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One request for the rest of a file, appended to the partial as it arrives.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    hub: &Hub,
    info: &RepoInfo,
    f: &RemoteFile,
    partial: &Path,
    file: &mut tokio::fs::File,
    offset: &mut u64,
    hasher: &mut Hasher,
    i: usize,
    tracker: &Mutex<Tracker>,
) -> Result<(), Attempt> {
    if *offset == f.size {
        return Ok(());
    }
    let mut req = hub.get(&hub.file_url(&info.repo, &info.commit, &f.path));
    if *offset > 0 {
        req = req.header(header::RANGE, format!("bytes={}-", *offset));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Attempt::Transient(describe(&e)))?;
    let status = resp.status();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            let from = resp
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok());
            if from != Some(*offset) {
                return Err(Attempt::Restart(
                    "the server answered a different range than asked".into(),
                ));
            }
        }
        StatusCode::OK if *offset > 0 => {
            return Err(Attempt::Restart(
                "the server does not resume; starting the file over".into(),
            ))
        }
        StatusCode::OK => {}
        StatusCode::RANGE_NOT_SATISFIABLE => {
            return Err(Attempt::Restart(
                "the server refused to resume (HTTP 416); starting the file over".into(),
            ))
        }
        s if s.is_server_error()
            || s == StatusCode::TOO_MANY_REQUESTS
            || s == StatusCode::REQUEST_TIMEOUT =>
        {
            return Err(Attempt::Transient(Why::plain(format!(
                "the server answered HTTP {}",
                s.as_u16()
            ))))
        }
        _ => {
            let what = format!("{}/{}", info.repo, f.path);
            return Err(Attempt::Fatal(match hub.check(resp, &info.repo, &what) {
                Err(e) => e,
                Ok(_) => {
                    ModelsError::Hub(format!("unexpected HTTP {} for {what}", status.as_u16()))
                }
            }));
        }
    }
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Attempt::Transient(describe(&e)))?;
        if *offset + chunk.len() as u64 > f.size {
            return Err(Attempt::Restart(format!(
                "the server sent more than the file's {} bytes",
                f.size
            )));
        }
        if let Err(e) = file.write_all(&chunk).await {
            // What was written stays; a retry after space is freed continues from it.
            let _ = file.flush().await;
            return Err(Attempt::Fatal(if is_disk_full(&e) {
                let dir = partial.parent().unwrap_or(partial);
                let free = free_space(dir).unwrap_or(0);
                no_space(dir, f.size - *offset, free)
            } else {
                ModelsError::io(partial, e)
            }));
        }
        hasher.update(&chunk);
        *offset += chunk.len() as u64;
        tracker.lock().unwrap_or_else(|p| p.into_inner()).files[i].done = *offset;
    }
    if *offset < f.size {
        return Err(Attempt::Transient(Why::plain(format!(
            "the connection closed at {} of {}",
            human_bytes(*offset),
            human_bytes(f.size)
        ))));
    }
    Ok(())
}
