//! A fake Hub serving a tiny real gpt-oss checkpoint (the f32 parity fixture, three shards).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use fathom_fakehub::FakeHub;
use fathom_models::{Hub, HubCache, PullOptions};

pub const REPO: &str = "test/tiny-gpt-oss";
pub const FILES: [&str; 6] = [
    "config.json",
    "model-00001-of-00003.safetensors",
    "model-00002-of-00003.safetensors",
    "model-00003-of-00003.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
];

pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss/f32")
}

pub struct Setup {
    pub hub: FakeHub,
    pub root: tempfile::TempDir,
    pub cache_dir: tempfile::TempDir,
}

impl Setup {
    pub async fn new() -> Setup {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join(REPO);
        std::fs::create_dir_all(&repo).unwrap();
        for f in FILES {
            std::fs::copy(fixture().join(f), repo.join(f))
                .unwrap_or_else(|e| panic!("{f}: {e} (run scripts/fixtures.sh)"));
        }
        let hub = FakeHub::start(root.path(), 0).await.unwrap();
        Setup {
            hub,
            root,
            cache_dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.path().join(repo)
    }

    pub fn client(&self, token: Option<&str>) -> Hub {
        Hub::new(
            &self.hub.url(),
            token.map(str::to_string),
            Duration::from_millis(700),
        )
        .unwrap()
    }

    pub fn cache(&self) -> HubCache {
        HubCache::at(self.cache_dir.path())
    }

    /// The test repo pulled with quick retries, no token, no progress callback.
    pub async fn pull(&self) -> Result<fathom_models::InstalledModel, fathom_models::ModelsError> {
        fathom_models::pull(
            &self.client(None),
            &self.cache(),
            REPO,
            &fast(),
            &tokio_util::sync::CancellationToken::new(),
            &|_| {},
        )
        .await
    }
}

/// Quick retries, so fault tests take milliseconds.
pub fn fast() -> PullOptions {
    PullOptions {
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        report_every: Duration::from_millis(20),
        ..PullOptions::default()
    }
}

/// Every file of the snapshot is byte-identical to the served one.
pub fn assert_same_files(snapshot: &Path, served: &Path) {
    for f in FILES {
        let got = std::fs::read(snapshot.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(got == std::fs::read(served.join(f)).unwrap(), "{f} differs");
    }
}
