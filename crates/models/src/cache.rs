//! The Hugging Face cache on disk (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`), in huggingface_hub's own layout, so that models downloaded by
//! mlx-lm, LM Studio or huggingface-cli are found, and ours are found by them:
//!
//! ```text
//! models--{owner}--{name}/
//!   blobs/{sha256 or git blob id}          file contents (`.incomplete` while downloading)
//!   refs/{revision}                        the commit a branch or tag pointed to
//!   snapshots/{commit}/{file} -> ../../blobs/{hash}
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::hub::RepoInfo;
use crate::ModelsError;

/// `HF_HOME`, else `~/.cache/huggingface` (also on macOS, as huggingface_hub does).
pub fn hf_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("HF_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".cache")))?;
    Some(base.join("huggingface"))
}

#[derive(Debug, Clone)]
pub struct HubCache {
    pub root: PathBuf,
}

/// A model whose every file is present in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct InstalledModel {
    pub repo: String,
    pub commit: String,
    /// The snapshot directory: what the engine loads.
    pub path: String,
    /// Bytes of the files this model's snapshot points to.
    pub disk_bytes: u64,
}

impl HubCache {
    pub fn from_env() -> Result<Self, ModelsError> {
        let root = std::env::var_os("HF_HUB_CACHE")
            .filter(|r| !r.is_empty())
            .map(PathBuf::from)
            .or_else(|| hf_home().map(|h| h.join("hub")))
            .ok_or_else(|| {
                ModelsError::Hub("cannot find the home directory for the Hugging Face cache".into())
            })?;
        Ok(HubCache { root })
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        HubCache { root: root.into() }
    }

    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root
            .join(format!("models--{}", repo.replace('/', "--")))
    }

    pub fn blobs(&self, repo: &str) -> PathBuf {
        self.repo_dir(repo).join("blobs")
    }

    pub fn snapshot(&self, repo: &str, commit: &str) -> PathBuf {
        self.repo_dir(repo).join("snapshots").join(commit)
    }

    /// The commit `revision` points to here, if it was recorded.
    pub fn resolve(&self, repo: &str, revision: &str) -> Option<String> {
        if is_commit(revision) {
            return Some(revision.to_string());
        }
        let text = std::fs::read_to_string(self.repo_dir(repo).join("refs").join(revision)).ok()?;
        let commit = text.trim().to_string();
        is_commit(&commit).then_some(commit)
    }

    pub fn write_ref(&self, repo: &str, revision: &str, commit: &str) -> Result<(), ModelsError> {
        if is_commit(revision) {
            return Ok(());
        }
        let refs = self.repo_dir(repo).join("refs");
        std::fs::create_dir_all(&refs).map_err(|e| ModelsError::io(&refs, e))?;
        let path = refs.join(revision);
        let tmp = refs.join(format!(".{revision}.tmp"));
        std::fs::write(&tmp, commit).map_err(|e| ModelsError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| ModelsError::io(&path, e))
    }

    /// Whether every file of `info` is in place (right size) in its snapshot.
    pub fn is_complete(&self, info: &RepoInfo) -> bool {
        let snap = self.snapshot(&info.repo, &info.commit);
        info.files.iter().all(|f| {
            std::fs::metadata(snap.join(&f.path)).is_ok_and(|m| m.is_file() && m.len() == f.size)
        })
    }

    /// Points `snapshots/{commit}/{path}` at its blob, relatively, as huggingface_hub does.
    pub fn link(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
        blob: &str,
    ) -> Result<(), ModelsError> {
        let snap = self.snapshot(repo, commit);
        std::fs::create_dir_all(&snap).map_err(|e| ModelsError::io(&snap, e))?;
        let link = snap.join(path);
        let target = PathBuf::from("../../blobs").join(blob);
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        let made = std::os::unix::fs::symlink(&target, &link);
        #[cfg(not(unix))]
        let made = std::fs::copy(self.blobs(repo).join(blob), &link).map(|_| ());
        made.map_err(|e| ModelsError::io(&link, e))
    }

    /// Models in the cache that look complete and runnable: a snapshot (the one `refs/main` names
    /// first) with `config.json` of a gpt-oss model and every weight file its index lists.
    pub fn installed(&self) -> Vec<InstalledModel> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("models--") else {
                continue;
            };
            let Some((owner, model)) = rest.split_once("--") else {
                continue;
            };
            let repo = format!("{owner}/{model}");
            if let Some(m) = self.installed_model(&repo) {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        out
    }

    /// The usable snapshot of `repo`, if any.
    pub fn installed_model(&self, repo: &str) -> Option<InstalledModel> {
        let snaps = self.repo_dir(repo).join("snapshots");
        let preferred = self.resolve(repo, "main");
        let mut commits: Vec<String> = std::fs::read_dir(&snaps)
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        commits.sort_by_key(|c| Some(c) != preferred.as_ref());
        commits.into_iter().find_map(|commit| {
            let path = snaps.join(&commit);
            runnable(&path).then(|| InstalledModel {
                repo: repo.to_string(),
                disk_bytes: dir_bytes(&path),
                path: path.display().to_string(),
                commit,
            })
        })
    }

    /// Deletes a model: its snapshots, refs, and the blobs no longer referenced (all of a repo's
    /// blobs belong to that repo in this layout), including partial downloads.
    pub fn remove(&self, repo: &str) -> Result<u64, ModelsError> {
        let dir = self.repo_dir(repo);
        if !dir.exists() {
            return Err(ModelsError::NotFound {
                what: format!("model {repo}"),
                endpoint: self.root.display().to_string(),
            });
        }
        let freed = dir_bytes(&dir.join("blobs"));
        std::fs::remove_dir_all(&dir).map_err(|e| ModelsError::io(&dir, e))?;
        Ok(freed)
    }
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// A directory the engine can load: a gpt-oss config, a tokenizer and all the weights.
pub fn runnable(dir: &Path) -> bool {
    let Ok(config) = std::fs::read(dir.join("config.json")) else {
        return false;
    };
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(&config) else {
        return false;
    };
    if config.get("model_type").and_then(|t| t.as_str()) != Some("gpt_oss")
        || !dir.join("tokenizer.json").is_file()
    {
        return false;
    }
    match std::fs::read(dir.join("model.safetensors.index.json")) {
        Ok(index) => {
            let Ok(index) = serde_json::from_slice::<serde_json::Value>(&index) else {
                return false;
            };
            let Some(map) = index.get("weight_map").and_then(|m| m.as_object()) else {
                return false;
            };
            map.values()
                .filter_map(|f| f.as_str())
                .all(|f| dir.join(f).is_file())
        }
        Err(_) => dir.join("model.safetensors").is_file(),
    }
}

/// Bytes of the files under `dir`, following snapshot links to their blobs.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match std::fs::metadata(e.path()) {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
