//! Getting a model onto the machine: the catalogue of known checkpoints, downloads from the
//! Hugging Face Hub (resumable, verified, parallel, with a stall watchdog) into the standard
//! Hugging Face cache, so models fetched by mlx-lm, LM Studio or huggingface-cli are found and
//! reused, and the list of installed models.

pub mod cache;
pub mod catalogue;
pub mod download;
pub mod hub;
pub mod manager;
pub mod store;

pub use cache::{HubCache, InstalledModel};
pub use catalogue::{catalogue, CatalogueEntry, ModelKind};
pub use download::{pull, FileProgress, PullOptions, PullPhase, PullProgress};
pub use hub::{Hub, RemoteFile, RepoInfo};
pub use manager::{local_shape, FitCheck, ModelManager, ModelRow, PendingDownload};
pub use store::ModelStore;

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("{0}")]
    Hub(String),
    /// No connection could be made (offline, a proxy, a firewall, the server down).
    #[error(
        "Fathom cannot reach {endpoint}: check the internet connection (or proxy), then try again"
    )]
    Unreachable { endpoint: String, detail: String },
    /// A transfer broke off: `plain` says how in words, `detail` is the transport's own account.
    #[error("{what}: {plain}")]
    Network {
        what: String,
        plain: String,
        detail: String,
    },
    /// The repository needs a token (private, or gated and not visible without one).
    #[error("{repo} needs a Hugging Face access token: it is private or gated, or does not exist. Add a token in Settings (or set HF_TOKEN) from an account that can see it.")]
    Unauthorized { repo: String },
    #[error("{repo} is gated: accept its terms at {url} while signed in to the account whose token Fathom uses, then try again.")]
    Gated { repo: String, url: String },
    #[error("{what} was not found on {endpoint}. Check the spelling of the repository id.")]
    NotFound { what: String, endpoint: String },
    #[error("{repo} is not a gpt-oss checkpoint: {reason}")]
    NotGptOss { repo: String, reason: String },
    #[error("not enough disk space in {dir}: the download needs {needed} more bytes ({needed_h}) and {free_h} are free")]
    NoSpace {
        dir: String,
        needed: u64,
        free: u64,
        needed_h: String,
        free_h: String,
    },
    #[error("{file}: downloaded bytes do not match the published sha256 (expected {expected}, got {actual}), twice; the file was discarded")]
    Corrupt {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{file}: {reason} (gave up after {attempts} attempts)")]
    GaveUp {
        file: String,
        /// In words (`detail` has the transport's own account, if any).
        reason: String,
        attempts: u32,
        detail: Option<String>,
    },
    #[error("download paused")]
    Cancelled,
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Fit(#[from] fathom_fit::FitError),
}

impl ModelsError {
    /// The technical account behind the message, for a "details" fold: what a person does not
    /// need to read to know what happened and what to do, but a bug report does.
    pub fn detail(&self) -> Option<String> {
        match self {
            ModelsError::Unreachable { detail, .. } | ModelsError::Network { detail, .. } => {
                Some(detail.clone())
            }
            ModelsError::GaveUp { detail, .. } => detail.clone(),
            ModelsError::Corrupt {
                expected, actual, ..
            } => Some(format!("expected sha256 {expected}, got {actual}")),
            ModelsError::Io { source, .. } => Some(source.to_string()),
            _ => None,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ModelsError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// "11.1 GB": bytes for people (decimal units, as disks and the Hub count them).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}
