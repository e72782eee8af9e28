//! A fake Hugging Face Hub for tests: a real HTTP/1.1 server on loopback that serves model repos
//! from a directory in the shape of the Hub's API (`/api/models/{repo}/revision/{rev}?blobs=true`)
//! and resolve URLs (with Range), and injects the faults real downloads meet: dropped
//! connections, stalls, corrupted bytes, 5xx, 416, 401/403/404, wrong Content-Length, throttling.
//!
//! The server is written by hand on purpose: an HTTP library will not send a wrong
//! Content-Length, cut a body short, or go silent mid-response, which is the point here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// The commit id a repo directory is served under: a hash of its file names and contents' sizes.
pub fn commit_of(dir: &Path) -> String {
    let mut h = sha1::Sha1::new();
    for (name, bytes) in files(dir) {
        h.update(name.as_bytes());
        h.update(bytes.len().to_le_bytes());
        h.update(sha2::Sha256::digest(&bytes));
    }
    hex::encode(h.finalize())
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_file() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    out.insert(e.file_name().to_string_lossy().into_owned(), bytes);
                }
            }
        }
    }
    out
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

fn api_json(repo: &str, dir: &Path) -> String {
    let siblings: Vec<serde_json::Value> = files(dir)
        .into_iter()
        .map(|(name, bytes)| {
            let mut s = serde_json::json!({
                "rfilename": name,
                "size": bytes.len(),
                "blobId": git_blob_id(&bytes),
            });
            if is_lfs(&name) {
                s["lfs"] = serde_json::json!({
                    "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
                    "size": bytes.len(),
                    "pointerSize": 134,
                });
            }
            s
        })
        .collect();
    serde_json::json!({
        "id": repo, "modelId": repo, "sha": commit_of(dir), "private": false, "gated": false,
        "siblings": siblings,
    })
    .to_string()
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
    let Some(file) = file else {
        log(200);
        let body = api_json(&repo, &dir);
        return respond(
            &mut stream,
            200,
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        )
        .await;
    };
    let Ok(mut bytes) = std::fs::read(dir.join(&file)) else {
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
    if let Some(FaultKind::Corrupt(at)) = fault {
        if let Some(b) = bytes.get_mut(at as usize) {
            *b ^= 0xff;
        }
    }
    let len = bytes.len() as u64;
    let etag = if is_lfs(&file) {
        hex::encode(sha2::Sha256::digest(&bytes))
    } else {
        git_blob_id(&bytes)
    };
    let mut headers = vec![
        ("Accept-Ranges", "bytes".to_string()),
        ("ETag", format!("\"{etag}\"")),
        ("X-Repo-Commit", commit_of(&dir)),
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
    let body = &bytes[start as usize..end as usize];
    let declared = match fault {
        Some(FaultKind::WrongLength(delta)) => (body.len() as i64 + delta).max(0) as u64,
        _ => body.len() as u64,
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
        Some(FaultKind::DropAfter(n)) | Some(FaultKind::StallAfter(n, _)) => {
            (n as usize).min(body.len())
        }
        _ => body.len(),
    };
    send_throttled(&mut stream, &body[..cut], rate).await?;
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

async fn send_throttled(stream: &mut TcpStream, body: &[u8], rate: u64) -> std::io::Result<()> {
    if rate == 0 {
        return stream.write_all(body).await;
    }
    // Tenths of a second's worth at a time.
    let piece = (rate / 10).max(1) as usize;
    for chunk in body.chunks(piece) {
        stream.write_all(chunk).await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
