//! Installed models, wherever they are: complete snapshots in the Hugging Face cache, and the
//! MXFP4 copies Fathom converts from dense checkpoints (which are not Hub repos, so they live in
//! Fathom's own data directory, each with a note of where it came from).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::{dir_bytes, runnable, HubCache, InstalledModel};
use crate::ModelsError;

pub struct ModelStore {
    pub cache: HubCache,
    /// `<data>/models`: converted checkpoints.
    pub converted_root: PathBuf,
    /// Other apps' model folders laid out `<publisher>/<repo>/` (LM Studio's), searched for
    /// runnable checkpoints so that nothing is downloaded twice.
    pub external_roots: Vec<PathBuf>,
}

/// Where LM Studio keeps downloaded models: `~/.lmstudio/models` (and, before 0.3,
/// `~/.cache/lm-studio/models`), as `<publisher>/<repo>/`.
pub fn lmstudio_roots() -> Vec<PathBuf> {
    let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()) else {
        return Vec::new();
    };
    vec![
        home.join(".lmstudio/models"),
        home.join(".cache/lm-studio/models"),
    ]
}

#[derive(Serialize, Deserialize)]
struct Source {
    repo: String,
    commit: String,
}

const SOURCE_FILE: &str = "fathom-source.json";

impl ModelStore {
    pub fn new(cache: HubCache, data_dir: &Path) -> Self {
        ModelStore {
            cache,
            converted_root: data_dir.join("models"),
            external_roots: lmstudio_roots(),
        }
    }

    /// Where the converted copy of `repo` goes.
    pub fn converted_dir(&self, repo: &str) -> PathBuf {
        self.converted_root
            .join(format!("{}-mxfp4", repo.replace('/', "--")))
    }

    /// Records that `dir` (written by the converter) is `repo` at `commit`, converted.
    pub fn mark_converted(&self, repo: &str, commit: &str, dir: &Path) -> Result<(), ModelsError> {
        let path = dir.join(SOURCE_FILE);
        let text = serde_json::to_string(&Source {
            repo: repo.into(),
            commit: commit.into(),
        })
        .expect("serializable");
        std::fs::write(&path, text).map_err(|e| ModelsError::io(&path, e))
    }

    /// Every runnable model: converted copies first (they replace their dense source), then the
    /// Hugging Face cache, then other apps' folders.
    pub fn installed(&self) -> Vec<InstalledModel> {
        let mut out = self.converted();
        for m in self.cache.installed().into_iter().chain(self.external()) {
            if !out.iter().any(|c| c.repo == m.repo) {
                out.push(m);
            }
        }
        out
    }

    fn external(&self) -> Vec<InstalledModel> {
        let mut out = Vec::new();
        for root in &self.external_roots {
            let Ok(publishers) = std::fs::read_dir(root) else {
                continue;
            };
            for publisher in publishers.flatten() {
                let Ok(repos) = std::fs::read_dir(publisher.path()) else {
                    continue;
                };
                for repo in repos.flatten() {
                    let dir = repo.path();
                    if runnable(&dir) {
                        out.push(InstalledModel {
                            repo: format!(
                                "{}/{}",
                                publisher.file_name().to_string_lossy(),
                                repo.file_name().to_string_lossy()
                            ),
                            commit: String::new(),
                            disk_bytes: dir_bytes(&dir),
                            path: dir.display().to_string(),
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        out
    }

    fn converted(&self) -> Vec<InstalledModel> {
        let Ok(entries) = std::fs::read_dir(&self.converted_root) else {
            return Vec::new();
        };
        let mut out: Vec<InstalledModel> = entries
            .flatten()
            .filter_map(|e| {
                let dir = e.path();
                let source: Source =
                    serde_json::from_slice(&std::fs::read(dir.join(SOURCE_FILE)).ok()?).ok()?;
                runnable(&dir).then(|| InstalledModel {
                    repo: source.repo,
                    commit: source.commit,
                    disk_bytes: dir_bytes(&dir),
                    path: dir.display().to_string(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        out
    }

    pub fn find(&self, repo: &str) -> Option<InstalledModel> {
        self.installed().into_iter().find(|m| m.repo == repo)
    }

    /// Deletes `repo` everywhere it is (cache, partial downloads, converted copy); the bytes freed.
    pub fn remove(&self, repo: &str) -> Result<u64, ModelsError> {
        let mut freed = 0;
        let mut found = false;
        let converted = self.converted_dir(repo);
        if converted.exists() {
            freed += dir_bytes(&converted);
            std::fs::remove_dir_all(&converted).map_err(|e| ModelsError::io(&converted, e))?;
            found = true;
        }
        if self.cache.repo_dir(repo).exists() {
            freed += self.cache.remove(repo)?;
            found = true;
        }
        if !found {
            return Err(ModelsError::NotFound {
                what: format!("model {repo}"),
                endpoint: "this machine".into(),
            });
        }
        Ok(freed)
    }

    /// Repos with a download in progress or paused: partial files in their blobs.
    pub fn partial_downloads(&self) -> Vec<(String, u64)> {
        let Ok(entries) = std::fs::read_dir(&self.cache.root) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((owner, model)) = name
                .strip_prefix("models--")
                .and_then(|r| r.split_once("--"))
            else {
                continue;
            };
            // Sizes of the partial files; none means nothing is pending.
            let partials: Vec<u64> = std::fs::read_dir(e.path().join("blobs"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|b| b.file_name().to_string_lossy().ends_with(".incomplete"))
                .map(|b| b.metadata().map_or(0, |m| m.len()))
                .collect();
            if !partials.is_empty() {
                out.push((format!("{owner}/{model}"), partials.iter().sum()));
            }
        }
        out.sort();
        out
    }
}
