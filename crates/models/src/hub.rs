//! The Hugging Face Hub's HTTP API: a repository's file list with sizes and hashes, its files by
//! resolve URL (with Range), and a checkpoint's shape read before anything is downloaded.

use std::path::PathBuf;
use std::time::Duration;

use fathom_fit::{parse_header, ModelShape, TensorInfo};
use reqwest::{header, Response, StatusCode};
use serde::Deserialize;

use crate::ModelsError;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

#[derive(Clone)]
pub struct Hub {
    pub endpoint: String,
    token: Option<String>,
    client: reqwest::Client,
}

/// One file of a repository at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    /// Published for files stored in LFS (the weights); verified before a file is accepted.
    pub sha256: Option<String>,
    /// Git's blob id, published for every file; verified for files without a sha256.
    pub blob_id: String,
}

impl RemoteFile {
    /// The file's name under `blobs/` in the Hugging Face cache: its sha256 for LFS files, its git
    /// blob id otherwise (what huggingface_hub uses, so caches are shared).
    pub fn blob_name(&self) -> &str {
        self.sha256.as_deref().unwrap_or(&self.blob_id)
    }
}

#[derive(Debug, Clone)]
pub struct RepoInfo {
    pub repo: String,
    /// The commit the revision resolved to; files are fetched at this commit.
    pub commit: String,
    /// The files a model needs (weights, config, tokenizer), not READMEs or other formats.
    pub files: Vec<RemoteFile>,
}

impl RepoInfo {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[derive(Deserialize)]
struct ApiLfs {
    sha256: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiSibling {
    rfilename: String,
    size: Option<u64>,
    blob_id: Option<String>,
    lfs: Option<ApiLfs>,
}

#[derive(Deserialize)]
struct ApiModel {
    sha: String,
    #[serde(default)]
    siblings: Vec<ApiSibling>,
}

/// Files a model needs: top-level configs, tokenizer, chat template and safetensors weights.
/// Repos often carry other formats too (`original/`, `metal/`, GGUF) that would double the download.
pub fn is_model_file(path: &str) -> bool {
    !path.contains('/')
        && (path.ends_with(".safetensors") || path.ends_with(".json") || path.ends_with(".jinja"))
}

/// A token from `huggingface-cli login`, where huggingface_hub keeps it.
fn saved_token() -> Option<String> {
    let path = match std::env::var_os("HF_TOKEN_PATH") {
        Some(p) => PathBuf::from(p),
        None => crate::cache::hf_home()?.join("token"),
    };
    let token = std::fs::read_to_string(path).ok()?.trim().to_string();
    (!token.is_empty()).then_some(token)
}

impl Hub {
    /// The Hub at `HF_ENDPOINT` (default huggingface.co). The token is the app's if set, else
    /// `HF_TOKEN`, else the one `huggingface-cli login` saved.
    pub fn from_env(app_token: Option<String>) -> Result<Self, ModelsError> {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        let token = app_token
            .filter(|t| !t.trim().is_empty())
            .or_else(|| {
                std::env::var("HF_TOKEN")
                    .ok()
                    .filter(|t| !t.trim().is_empty())
            })
            .or_else(saved_token);
        Self::new(&endpoint, token, Duration::from_secs(30))
    }

    /// `stall` is how long a connection may go without a byte before it counts as stalled.
    pub fn new(
        endpoint: &str,
        token: Option<String>,
        stall: Duration,
    ) -> Result<Self, ModelsError> {
        // reqwest is built without a default crypto provider (aws-lc needs cmake and a long
        // build); ring is installed once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(stall)
            .user_agent(concat!("fathom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelsError::Hub(format!("cannot set up HTTP: {e}")))?;
        Ok(Hub {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            client,
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn repo_url(&self, repo: &str) -> String {
        format!("{}/{repo}", self.endpoint)
    }

    pub fn file_url(&self, repo: &str, commit: &str, path: &str) -> String {
        format!("{}/{repo}/resolve/{commit}/{path}", self.endpoint)
    }

    pub(crate) fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        // reqwest drops Authorization on redirects to another host (the CDN), as it should.
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Maps the Hub's refusals to errors that say what to do.
    pub(crate) fn check(
        &self,
        resp: Response,
        repo: &str,
        what: &str,
    ) -> Result<Response, ModelsError> {
        match resp.status() {
            s if s.is_success() => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(ModelsError::Unauthorized { repo: repo.into() }),
            StatusCode::FORBIDDEN => Err(ModelsError::Gated {
                repo: repo.into(),
                url: self.repo_url(repo),
            }),
            StatusCode::NOT_FOUND => Err(ModelsError::NotFound {
                what: what.into(),
                endpoint: self.endpoint.clone(),
            }),
            s => Err(ModelsError::Hub(format!(
                "{} answered HTTP {} for {what}",
                self.endpoint,
                s.as_u16()
            ))),
        }
    }

    /// A GET with a few retries on transient failures (connection errors, 5xx, 429).
    async fn fetch(
        &self,
        url: &str,
        range: Option<(u64, u64)>,
        repo: &str,
        what: &str,
    ) -> Result<Response, ModelsError> {
        let mut last = Why::plain("");
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            let mut req = self.get(url);
            if let Some((a, b)) = range {
                req = req.header(header::RANGE, format!("bytes={a}-{b}"));
            }
            match req.send().await {
                Ok(r)
                    if r.status().is_server_error()
                        || r.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    last = Why::plain(format!(
                        "the server is busy or failing (HTTP {}); try again later",
                        r.status().as_u16()
                    ));
                }
                Ok(r) => return self.check(r, repo, what),
                Err(e) => last = describe(&e),
            }
        }
        Err(match last {
            Why {
                unreachable: true,
                detail,
                ..
            } => ModelsError::Unreachable {
                endpoint: self.endpoint.clone(),
                detail: detail.unwrap_or_default(),
            },
            Why {
                plain,
                detail: Some(detail),
                ..
            } => ModelsError::Network {
                what: format!("cannot get {what} from {}", self.endpoint),
                plain,
                detail,
            },
            Why { plain, .. } => {
                ModelsError::Hub(format!("cannot get {what} from {}: {plain}", self.endpoint))
            }
        })
    }

    /// The repository's files at `revision` (a branch, tag or commit).
    pub async fn repo_info(&self, repo: &str, revision: &str) -> Result<RepoInfo, ModelsError> {
        validate_repo_id(repo)?;
        let url = format!(
            "{}/api/models/{repo}/revision/{revision}?blobs=true",
            self.endpoint
        );
        let resp = self
            .fetch(&url, None, repo, &format!("model {repo}"))
            .await?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| network(repo.to_string(), &e))?;
        let api: ApiModel = serde_json::from_slice(&body).map_err(|e| {
            ModelsError::Hub(format!(
                "unreadable answer from {} for {repo}: {e}",
                self.endpoint
            ))
        })?;
        let files = api
            .siblings
            .into_iter()
            .filter(|s| is_model_file(&s.rfilename))
            .map(|s| RemoteFile {
                size: s.size.unwrap_or(0),
                sha256: s.lfs.map(|l| l.sha256.to_ascii_lowercase()),
                blob_id: s.blob_id.unwrap_or_default(),
                path: s.rfilename,
            })
            .collect();
        Ok(RepoInfo {
            repo: repo.into(),
            commit: api.sha,
            files,
        })
    }

    /// A small file (a config) in full.
    pub async fn bytes(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
    ) -> Result<Vec<u8>, ModelsError> {
        let url = self.file_url(repo, commit, path);
        let resp = self
            .fetch(&url, None, repo, &format!("{repo}/{path}"))
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| network(format!("{repo}/{path}"), &e))?
            .to_vec())
    }

    /// `bytes` start..=end of a file, by Range request.
    async fn range(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, ModelsError> {
        let url = self.file_url(repo, commit, path);
        let resp = self
            .fetch(&url, Some((start, end)), repo, &format!("{repo}/{path}"))
            .await?;
        let full = resp.status() == StatusCode::OK;
        let body = resp
            .bytes()
            .await
            .map_err(|e| network(format!("{repo}/{path}"), &e))?;
        // A server that ignores Range sends the whole file; take the part asked for.
        let body = if full {
            body.get(start as usize..=(end as usize).min(body.len().saturating_sub(1)))
                .unwrap_or_default()
                .to_vec()
        } else {
            body.to_vec()
        };
        Ok(body)
    }

    /// The tensors of one safetensors file, from its header alone (two Range requests).
    pub async fn safetensors_header(
        &self,
        repo: &str,
        commit: &str,
        file: &RemoteFile,
    ) -> Result<Vec<TensorInfo>, ModelsError> {
        let first = self.range(repo, commit, &file.path, 0, 7).await?;
        let bad = |reason: String| fathom_fit::FitError::Header {
            file: file.path.clone(),
            reason,
        };
        let len = fathom_fit::header_length(
            first
                .as_slice()
                .try_into()
                .map_err(|_| bad("shorter than a safetensors header".into()))?,
        );
        if len > fathom_fit::shape::MAX_HEADER || 8 + len > file.size {
            return Err(bad(format!(
                "header length {len} does not fit a file of {} bytes",
                file.size
            ))
            .into());
        }
        let json = self.range(repo, commit, &file.path, 8, 8 + len - 1).await?;
        if json.len() as u64 != len {
            return Err(bad("header cut short".into()).into());
        }
        Ok(parse_header(&file.path, &json)?)
    }

    /// The repository's `config.json`, checked to describe a gpt-oss model with safetensors weights.
    pub async fn config(&self, info: &RepoInfo) -> Result<serde_json::Value, ModelsError> {
        let repo = &info.repo;
        let not = |reason: &str| ModelsError::NotGptOss {
            repo: repo.clone(),
            reason: reason.into(),
        };
        if !info.files.iter().any(|f| f.path == "config.json") {
            return Err(not("it has no config.json"));
        }
        let weights: Vec<&RemoteFile> = info
            .files
            .iter()
            .filter(|f| f.path.ends_with(".safetensors"))
            .collect();
        if weights.is_empty() {
            return Err(not(
                "it has no safetensors weights (other formats such as GGUF are not supported)",
            ));
        }
        let config: serde_json::Value =
            serde_json::from_slice(&self.bytes(repo, &info.commit, "config.json").await?)
                .map_err(|e| not(&format!("config.json is not JSON: {e}")))?;
        let model_type = config
            .get("model_type")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown");
        if model_type != "gpt_oss" {
            return Err(not(&format!("its model type is {model_type}")));
        }
        Ok(config)
    }

    /// Checks that a repository holds a gpt-oss checkpoint and reads its shape, downloading only
    /// `config.json` and the safetensors headers.
    pub async fn remote_shape(&self, info: &RepoInfo) -> Result<ModelShape, ModelsError> {
        let config = self.config(info).await?;
        let repo = &info.repo;
        let weights = info
            .files
            .iter()
            .filter(|f| f.path.ends_with(".safetensors"));
        let mut tensors = Vec::new();
        for file in weights {
            tensors.extend(self.safetensors_header(repo, &info.commit, file).await?);
        }
        Ok(ModelShape::new(&config, &tensors)?)
    }
}

/// `org/name`, as the Hub spells repository ids.
pub fn validate_repo_id(repo: &str) -> Result<(), ModelsError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 96
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !s.starts_with('.')
    };
    match repo.split_once('/') {
        Some((org, name)) if ok(org) && ok(name) => Ok(()),
        _ => Err(ModelsError::Hub(format!(
            "\"{repo}\" is not a Hugging Face repository id (expected owner/name, e.g. foadmk/context-1-MLX-MXFP4)"
        ))),
    }
}

/// Why a request failed: in words for people, and the transport's own account (reqwest's Display
/// hides the cause, so the whole chain) for the details.
#[derive(Debug, Clone)]
pub(crate) struct Why {
    pub plain: String,
    pub detail: Option<String>,
    /// No connection was made at all.
    pub unreachable: bool,
}

impl Why {
    pub(crate) fn plain(plain: impl Into<String>) -> Why {
        Why {
            plain: plain.into(),
            detail: None,
            unreachable: false,
        }
    }
}

/// A transfer of `what` that broke off.
fn network(what: String, e: &reqwest::Error) -> ModelsError {
    let why = describe(e);
    ModelsError::Network {
        what,
        plain: why.plain,
        detail: why.detail.unwrap_or_default(),
    }
}

pub(crate) fn describe(e: &reqwest::Error) -> Why {
    let plain = if e.is_timeout() {
        "the connection stalled"
    } else if e.is_connect() {
        "the server could not be reached"
    } else if e.is_body() || e.is_decode() {
        "the connection broke off"
    } else {
        "the request failed"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Why {
        plain: plain.into(),
        detail: Some(detail),
        unreachable: e.is_connect(),
    }
}
