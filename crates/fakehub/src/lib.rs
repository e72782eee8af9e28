//! A fake Hugging Face Hub for tests: a real HTTP/1.1 server on loopback that serves model repos
//! from a directory in the shape of the Hub's API (`/api/models/{repo}/revision/{rev}?blobs=true`)
//! and resolve URLs (with Range), and injects the faults real downloads meet: dropped
//! connections, stalls, corrupted bytes, 5xx, 416, 401/403/404, wrong Content-Length, throttling.
//!
//! The server is written by hand on purpose: an HTTP library will not send a wrong
//! Content-Length, cut a body short, or go silent mid-response, which is the point here.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One injected misbehaviour, applied to requests for `file` (a path inside the repo, or "*"
/// for every file) `times` times (then it is used up).
#[derive(Debug, Clone)]
pub struct Fault {
    pub file: String,
    pub kind: FaultKind,
    pub times: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Send this many body bytes, then close the connection.
    DropAfter(u64),
    /// Send this many body bytes, then go silent (for the given time) without closing.
    StallAfter(u64, Duration),
    /// Flip the bits of the byte at this offset of the file.
    Corrupt(u64),
    /// Answer with this status and no body.
    Status(u16),
    /// Declare a Content-Length off by this many bytes from the body sent, then close.
    WrongLength(i64),
}

/// Everything the server saw, for assertions.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    log: Vec<Request>,
    /// Bytes per second for file bodies; 0 is unthrottled.
    rate: u64,
    /// When set, requests without `Authorization: Bearer <token>` get 401.
    token: Option<String>,
    /// Repos that answer 403 (gated, terms not accepted) to every token.
    gated: Vec<String>,
}

pub struct FakeHub {
    pub addr: SocketAddr,
    root: PathBuf,
    state: Arc<Mutex<State>>,
}

impl FakeHub {
    /// Serves `root/<org>/<name>/<files>` as repos `<org>/<name>` on 127.0.0.1, port chosen by the
    /// system (or `port`).
    pub async fn start(root: impl Into<PathBuf>, port: u16) -> std::io::Result<FakeHub> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let hub = FakeHub {
            addr: listener.local_addr()?,
            root: root.into(),
            state: Arc::default(),
        };
        let (root, state) = (hub.root.clone(), hub.state.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (root, state) = (root.clone(), state.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &root, &state).await;
                });
            }
        });
        Ok(hub)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn inject(&self, file: &str, kind: FaultKind, times: u32) {
        self.lock().faults.push(Fault {
            file: file.into(),
            kind,
            times,
        });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn throttle(&self, bytes_per_second: u64) {
        self.lock().rate = bytes_per_second;
    }

    pub fn require_token(&self, token: &str) {
        self.lock().token = Some(token.into());
    }

    pub fn gate(&self, repo: &str) {
        self.lock().gated.push(repo.into());
    }

    pub fn log(&self) -> Vec<Request> {
        self.lock().log.clone()
    }

    /// File requests (resolve URLs) for `file`, in order.
    pub fn file_requests(&self, file: &str) -> Vec<Request> {
        let suffix = format!("/{file}");
        self.log()
            .into_iter()
            .filter(|r| r.path.contains("/resolve/") && r.path.ends_with(&suffix))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the Hub reports of one file: its size and digests. Hashing a 90 MB file takes seconds in a
/// debug build, so each file is hashed once (per size, modification time and inode) and off the
/// async runtime; a request never waits on a hash it has already seen.
#[derive(Debug, Clone)]
struct Digests {
    size: u64,
    sha256: String,
    blob_id: String,
}

type DigestKey = (PathBuf, u64, i64, i64, u64);

fn digest_cache() -> &'static Mutex<HashMap<DigestKey, Digests>> {
    static CACHE: OnceLock<Mutex<HashMap<DigestKey, Digests>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The file's digests, computed while reading it once in pieces (never all in memory).
fn digests_of(path: &Path) -> std::io::Result<Digests> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    let key = (
        path.to_path_buf(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino(),
    );
    if let Some(d) = lock(digest_cache()).get(&key) {
        return Ok(d.clone());
    }
    let mut file = std::fs::File::open(path)?;
    let mut sha256 = sha2::Sha256::new();
    let mut blob = sha1::Sha1::new();
    blob.update(format!("blob {}\0", meta.len()).as_bytes());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        blob.update(&buf[..n]);
        size += n as u64;
    }
    if size != meta.len() {
        // Changed while being read: hash again next time rather than cache a mix.
        return Err(std::io::Error::other("file changed while hashed"));
    }
    let d = Digests {
        size,
        sha256: hex::encode(sha256.finalize()),
        blob_id: hex::encode(blob.finalize()),
    };
    lock(digest_cache()).insert(key, d.clone());
    Ok(d)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The repo's files (symlinks followed) with their digests, by name.
fn files(dir: &Path) -> BTreeMap<String, Digests> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_file() {
                if let Ok(d) = digests_of(&e.path()) {
                    out.insert(e.file_name().to_string_lossy().into_owned(), d);
                }
            }
        }
    }
    out
}

/// The commit id a repo directory is served under: a hash of its file names, sizes and contents.
pub fn commit_of(dir: &Path) -> String {
    commit_from(&files(dir))
}

fn commit_from(files: &BTreeMap<String, Digests>) -> String {
    let mut h = sha1::Sha1::new();
    for (name, d) in files {
        h.update(name.as_bytes());
        h.update((d.size as usize).to_le_bytes());
        h.update(d.sha256.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Git's blob id, which the Hub reports for files not stored in LFS.
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Files the Hub keeps in LFS (and so reports a sha256 for).
fn is_lfs(name: &str) -> bool {
    name.ends_with(".safetensors") || name == "tokenizer.json"
}

fn api_json(repo: &str, files: &BTreeMap<String, Digests>) -> String {
    let siblings: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, d)| {
            let mut s = serde_json::json!({
                "rfilename": name,
                "size": d.size,
                "blobId": d.blob_id,
            });
            if is_lfs(name) {
                s["lfs"] = serde_json::json!({
                    "sha256": d.sha256,
                    "size": d.size,
                    "pointerSize": 134,
                });
            }
            s
        })
        .collect();
    serde_json::json!({
        "id": repo, "modelId": repo, "sha": commit_from(files), "private": false, "gated": false,
        "siblings": siblings,
    })
    .to_string()
}

/// Runs blocking file work (hashing, listing) on tokio's blocking pool, not on the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("fakehub's blocking task panicked")
}

struct Head {
    method: String,
    path: String,
    range: Option<String>,
    authorization: Option<String>,
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || buf.len() > 64 * 1024 {
            return Ok(None);
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, path) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("").to_string(),
    );
    let mut head = Head {
        method,
        path,
        range: None,
        authorization: None,
    };
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => head.range = Some(v.trim().to_string()),
                "authorization" => head.authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Ok(Some(head))
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason(status)
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn parse_range(range: &str, len: u64) -> Option<(u64, u64)> {
    let spec = range.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end: u64 = if b.trim().is_empty() {
        len.checked_sub(1)?
    } else {
        b.trim().parse::<u64>().ok()?.min(len.checked_sub(1)?)
    };
    (start <= end).then_some((start, end))
}

async fn serve(mut stream: TcpStream, root: &Path, state: &Mutex<State>) -> std::io::Result<()> {
    let Some(head) = read_head(&mut stream).await? else {
        return Ok(());
    };
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let log = |status: u16| {
        lock().log.push(Request {
            method: head.method.clone(),
            path: head.path.clone(),
            range: head.range.clone(),
            authorization: head.authorization.clone(),
            status,
        })
    };
    let path = head.path.split('?').next().unwrap_or("").to_string();
    // /api/models/{org}/{name}/revision/{rev}  or  /{org}/{name}/resolve/{rev}/{file}
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (repo, file) = match parts.as_slice() {
        ["api", "models", org, name, "revision", _rev] => (format!("{org}/{name}"), None),
        [org, name, "resolve", _rev, file] => (format!("{org}/{name}"), Some(file.to_string())),
        _ => {
            log(404);
            return respond(&mut stream, 404, &[], b"{\"error\":\"not found\"}").await;
        }
    };
    let dir = root.join(&repo);
    let (token, gated, rate) = {
        let s = lock();
        (s.token.clone(), s.gated.contains(&repo), s.rate)
    };
    if let Some(token) = token {
        if head.authorization.as_deref() != Some(&format!("Bearer {token}")) {
            log(401);
            return respond(
                &mut stream,
                401,
                &[],
                b"{\"error\":\"Invalid credentials in Authorization header\"}",
            )
            .await;
        }
    }
    if gated {
        log(403);
        return respond(&mut stream, 403, &[], b"{\"error\":\"Access to model is restricted. You must have access to it and be authenticated to access it.\"}").await;
    }
    if !dir.is_dir() {
        log(404);
        return respond(
            &mut stream,
            404,
            &[("X-Error-Code", "RepoNotFound".into())],
            b"{\"error\":\"Repository not found\"}",
        )
        .await;
    }
    let listing = {
        let dir = dir.clone();
        blocking(move || files(&dir)).await
    };
    let Some(file) = file else {
        log(200);
        let body = api_json(&repo, &listing);
        return respond(
            &mut stream,
            200,
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        )
        .await;
    };
    let Some(digests) = listing.get(&file).cloned() else {
        log(404);
        return respond(
            &mut stream,
            404,
            &[("X-Error-Code", "EntryNotFound".into())],
            b"{\"error\":\"Entry not found\"}",
        )
        .await;
    };
    // The first matching fault, used up once its count is spent.
    let fault = {
        let mut s = lock();
        let i = s
            .faults
            .iter()
            .position(|f| f.times > 0 && (f.file == file || f.file == "*"));
        i.map(|i| {
            s.faults[i].times -= 1;
            s.faults[i].kind.clone()
        })
    };
    if let Some(FaultKind::Status(code)) = fault {
        log(code);
        return respond(&mut stream, code, &[], b"").await;
    }
    let len = digests.size;
    let etag = if is_lfs(&file) {
        digests.sha256.clone()
    } else {
        digests.blob_id.clone()
    };
    let mut headers = vec![
        ("Accept-Ranges", "bytes".to_string()),
        ("ETag", format!("\"{etag}\"")),
        ("X-Repo-Commit", commit_from(&listing)),
    ];
    let (status, start, end) = match head.range.as_deref() {
        None => (200, 0, len),
        Some(r) => match parse_range(r, len) {
            Some((a, b)) => {
                headers.push(("Content-Range", format!("bytes {a}-{b}/{len}")));
                (206, a, b + 1)
            }
            None => {
                log(416);
                headers.push(("Content-Range", format!("bytes */{len}")));
                return respond(&mut stream, 416, &headers, b"").await;
            }
        },
    };
    log(status);
    let body_len = end - start;
    let declared = match fault {
        Some(FaultKind::WrongLength(delta)) => (body_len as i64 + delta).max(0) as u64,
        _ => body_len,
    };
    headers.push(("Content-Length", declared.to_string()));
    if head.method == "HEAD" {
        return respond(&mut stream, status, &headers, b"").await;
    }
    let mut text = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason(status)
    );
    for (k, v) in &headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).await?;
    let cut = match fault {
        Some(FaultKind::DropAfter(n)) | Some(FaultKind::StallAfter(n, _)) => n.min(body_len),
        _ => body_len,
    };
    let corrupt = match fault {
        Some(FaultKind::Corrupt(at)) => Some(at),
        _ => None,
    };
    let body = Body {
        path: dir.join(&file),
        start,
        len: cut,
        corrupt,
    };
    send_body(&mut stream, body, rate).await?;
    match fault {
        Some(FaultKind::StallAfter(_, wait)) => {
            tokio::time::sleep(wait).await;
            Ok(())
        }
        // Close without sending the rest: the client sees a body shorter than promised.
        Some(FaultKind::DropAfter(_)) | Some(FaultKind::WrongLength(_)) => stream.shutdown().await,
        _ => stream.flush().await,
    }
}

/// The part of a file a response sends: `len` bytes from `start`, with the byte at file offset
/// `corrupt` (if any) flipped.
struct Body {
    path: PathBuf,
    start: u64,
    len: u64,
    corrupt: Option<u64>,
}

/// Streams the body from disk in pieces (a tenth of a second's worth each when throttled), so a
/// large file is neither read whole into memory nor read on the runtime's threads.
async fn send_body(stream: &mut TcpStream, body: Body, rate: u64) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(&body.path).await?;
    file.seek(std::io::SeekFrom::Start(body.start)).await?;
    let piece = if rate == 0 {
        1 << 20
    } else {
        (rate / 10).max(1) as usize
    };
    let mut buf = vec![0u8; piece];
    let (mut at, end) = (body.start, body.start + body.len);
    while at < end {
        let want = ((end - at) as usize).min(piece);
        file.read_exact(&mut buf[..want]).await?;
        if let Some(c) = body.corrupt.filter(|c| (at..at + want as u64).contains(c)) {
            buf[(c - at) as usize] ^= 0xff;
        }
        stream.write_all(&buf[..want]).await?;
        at += want as u64;
        if rate > 0 {
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
