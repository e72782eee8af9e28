//! What the Models page and `fathom` share: the catalogue joined with what is installed and what
//! is partly downloaded, downloads that survive a restart (recorded in `downloads.json` and
//! continued from their partial files), the memory check for any repo or installed model, and
//! installing a dense checkpoint by converting it once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fathom_fit::{check, read_local_headers, FitReport, Memory, ModelShape, Runtime};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cache::{dir_bytes, InstalledModel};
use crate::catalogue::{catalogue, ModelKind};
use crate::download::{pull, PullOptions, PullProgress};
use crate::hub::Hub;
use crate::store::ModelStore;
use crate::ModelsError;

/// A download that has not finished: paused, interrupted by a restart, or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PendingDownload {
    pub repo: String,
    pub revision: String,
    pub total_bytes: u64,
    /// Bytes on disk for it now (finished files and partial ones).
    #[serde(default)]
    pub done_bytes: u64,
    /// Why it stopped, when it failed.
    pub error: Option<String>,
}

/// One line of the Models page.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ModelRow {
    pub repo: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: ModelKind,
    pub default: bool,
    pub in_catalogue: bool,
    pub installed: Option<InstalledModel>,
    pub pending: Option<PendingDownload>,
    pub active: bool,
}

/// A memory check together with what the download would take.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FitCheck {
    pub repo: String,
    pub fit: FitReport,
    /// Bytes to download (the model's files); 0 for a model already here.
    pub download_bytes: u64,
    /// Disk the model takes once installed (with its converted copy, for dense checkpoints).
    pub disk_bytes: u64,
}

pub struct ModelManager {
    pub store: ModelStore,
    downloads_file: PathBuf,
}

impl ModelManager {
    pub fn new(store: ModelStore, data_dir: &Path) -> Self {
        ModelManager {
            store,
            downloads_file: data_dir.join("downloads.json"),
        }
    }

    fn read_pending(&self) -> BTreeMap<String, PendingDownload> {
        std::fs::read(&self.downloads_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<PendingDownload>>(&b).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.repo.clone(), p))
            .collect()
    }

    fn write_pending(
        &self,
        pending: &BTreeMap<String, PendingDownload>,
    ) -> Result<(), ModelsError> {
        let list: Vec<&PendingDownload> = pending.values().collect();
        let dir = self.downloads_file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| ModelsError::io(dir, e))?;
        let tmp = self.downloads_file.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&list).expect("serializable"),
        )
        .map_err(|e| ModelsError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.downloads_file)
            .map_err(|e| ModelsError::io(&self.downloads_file, e))
    }

    fn update_pending(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, PendingDownload>),
    ) -> Result<(), ModelsError> {
        let mut all = self.read_pending();
        f(&mut all);
        self.write_pending(&all)
    }

    /// Downloads not finished, with the bytes on disk now.
    pub fn pending(&self) -> Vec<PendingDownload> {
        self.read_pending()
            .into_values()
            .map(|mut p| {
                p.done_bytes = dir_bytes(&self.store.cache.blobs(&p.repo)).min(p.total_bytes);
                p
            })
            .collect()
    }

    pub fn rows(&self, active: Option<&str>) -> Vec<ModelRow> {
        let installed = self.store.installed();
        let pending = self.pending();
        let mut rows: Vec<ModelRow> = catalogue()
            .into_iter()
            .map(|e| ModelRow {
                installed: installed.iter().find(|m| m.repo == e.repo).cloned(),
                pending: pending.iter().find(|p| p.repo == e.repo).cloned(),
                active: active == Some(e.repo.as_str()),
                repo: e.repo,
                name: e.name,
                description: Some(e.description),
                kind: e.kind,
                default: e.default,
                in_catalogue: true,
            })
            .collect();
        let others = installed
            .iter()
            .map(|m| m.repo.clone())
            .chain(pending.iter().map(|p| p.repo.clone()));
        for repo in others {
            if rows.iter().any(|r| r.repo == repo) {
                continue;
            }
            rows.push(ModelRow {
                installed: installed.iter().find(|m| m.repo == repo).cloned(),
                pending: pending.iter().find(|p| p.repo == repo).cloned(),
                active: active == Some(repo.as_str()),
                name: repo.clone(),
                description: None,
                kind: ModelKind::Mlx,
                default: false,
                in_catalogue: false,
                repo,
            });
        }
        rows
    }

    /// The memory check for `repo`: from the installed files when it is here, else from the Hub
    /// (config and safetensors headers only).
    pub async fn fit(
        &self,
        hub: &Hub,
        repo: &str,
        revision: &str,
        runtime: &Runtime,
        memory: &Memory,
        context: u64,
    ) -> Result<FitCheck, ModelsError> {
        if let Some(m) = self.store.find(repo) {
            let shape = local_shape(Path::new(&m.path))?;
            return Ok(FitCheck {
                repo: repo.into(),
                fit: check(&shape, runtime, memory, context),
                download_bytes: 0,
                disk_bytes: m.disk_bytes,
            });
        }
        let info = hub.repo_info(repo, revision).await?;
        let shape = hub.remote_shape(&info).await?;
        let total = info.total_bytes();
        Ok(FitCheck {
            repo: repo.into(),
            fit: check(&shape, runtime, memory, context),
            download_bytes: total,
            disk_bytes: if shape.converted {
                total + shape.weight_bytes
            } else {
                total
            },
        })
    }

    /// Downloads `repo` (resuming what is on disk) and, for a dense checkpoint, converts it with
    /// `convert(src, dst)` into the store. The download is recorded as pending until it is done,
    /// so it is offered again after a restart; a pause (`cancel`) keeps it pending.
    pub async fn install(
        &self,
        hub: &Hub,
        repo: &str,
        options: &PullOptions,
        cancel: &CancellationToken,
        on_progress: &(dyn Fn(&PullProgress) + Send + Sync),
        convert: impl FnOnce(&Path, &Path) -> Result<(), String>,
    ) -> Result<InstalledModel, ModelsError> {
        let info = hub.repo_info(repo, &options.revision).await?;
        // A dense checkpoint also needs room for its converted copy: check for both before a
        // byte is fetched (the download checks its own part again). When the headers cannot be
        // read now, the download reports what is wrong.
        if let Ok(shape) = hub.remote_shape(&info).await {
            if shape.converted && self.store.find(repo).is_none() {
                let remaining =
                    info.total_bytes() - crate::download::bytes_present(&self.store.cache, &info);
                let needed = remaining + shape.weight_bytes;
                let dir = &self.store.converted_root;
                let free = crate::download::free_space(dir)?;
                if needed > free {
                    return Err(crate::download::no_space(dir, needed, free));
                }
            }
        }
        self.update_pending(|all| {
            all.insert(
                repo.to_string(),
                PendingDownload {
                    repo: repo.to_string(),
                    revision: options.revision.clone(),
                    total_bytes: info.total_bytes(),
                    done_bytes: 0,
                    error: None,
                },
            );
        })?;
        let result = pull(hub, &self.store.cache, repo, options, cancel, on_progress).await;
        let model = match result {
            Ok(m) => m,
            Err(e) => {
                if !matches!(e, ModelsError::Cancelled) {
                    let message = e.to_string();
                    self.update_pending(|all| {
                        if let Some(p) = all.get_mut(repo) {
                            p.error = Some(message);
                        }
                    })?;
                }
                return Err(e);
            }
        };
        let dense = catalogue()
            .iter()
            .any(|e| e.repo == repo && e.kind == ModelKind::DenseNeedsConversion)
            || local_shape(Path::new(&model.path)).is_ok_and(|s| s.converted);
        let model = if dense {
            let dst = self.store.converted_dir(repo);
            let _ = std::fs::remove_dir_all(&dst);
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent).map_err(|e| ModelsError::io(parent, e))?;
            }
            convert(Path::new(&model.path), &dst).map_err(ModelsError::Hub)?;
            self.store.mark_converted(repo, &model.commit, &dst)?;
            self.store.find(repo).unwrap_or(model)
        } else {
            model
        };
        self.update_pending(|all| {
            all.remove(repo);
        })?;
        Ok(model)
    }

    /// Gives up a download: its partial files go, finished models stay.
    pub fn discard(&self, repo: &str) -> Result<(), ModelsError> {
        let blobs = self.store.cache.blobs(repo);
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(".incomplete") {
                    std::fs::remove_file(e.path())
                        .map_err(|err| ModelsError::io(&e.path(), err))?;
                }
            }
        }
        if self.store.find(repo).is_none() && self.store.cache.repo_dir(repo).exists() {
            self.store.cache.remove(repo)?;
        }
        self.update_pending(|all| {
            all.remove(repo);
        })
    }

    /// Deletes an installed model and anything pending for it.
    pub fn delete(&self, repo: &str) -> Result<u64, ModelsError> {
        let freed = self.store.remove(repo)?;
        self.update_pending(|all| {
            all.remove(repo);
        })?;
        Ok(freed)
    }
}

/// The shape of a model directory on disk.
pub fn local_shape(dir: &Path) -> Result<ModelShape, ModelsError> {
    let path = dir.join("config.json");
    let config = std::fs::read(&path).map_err(|e| ModelsError::io(&path, e))?;
    let config: serde_json::Value = serde_json::from_slice(&config)
        .map_err(|e| ModelsError::Fit(fathom_fit::FitError::Config(e.to_string())))?;
    Ok(ModelShape::new(&config, &read_local_headers(dir)?)?)
}
