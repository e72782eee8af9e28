//! The models' use cases: the catalogue and what is installed, the memory check, downloads, and
//! which model chats and Ask run on.

use std::path::{Path, PathBuf};

use fathom_engine::BackendKind;
use fathom_fit::{FitReport, Memory, Runtime, Verdict};
use fathom_models::{FitCheck, Hub, InstalledModel, ModelRow, PullOptions, PullProgress};
use tokio_util::sync::CancellationToken;

use crate::app::{lock, App};
use crate::{Error, Result};

/// This machine's memory, as the memory check sees it.
pub fn memory() -> Memory {
    Memory::read(fathom_engine::device::gpu_working_set_bytes())
}

/// `backend`'s measured costs on this platform, for the memory check.
pub fn runtime(backend: BackendKind) -> Runtime {
    Runtime::measured(fathom_chat::session::fit_backend(backend))
}

/// The memory check of a model directory on disk at `context` tokens, run on `backend`.
pub fn fit_dir(dir: &Path, context: u64, backend: BackendKind) -> Result<FitReport> {
    fathom_fit::check_dir(
        dir,
        &memory(),
        context,
        fathom_chat::session::fit_backend(backend),
    )
    .map_err(|e| Error::model(e.to_string()))
}

/// What a pull reports as it goes.
#[derive(Debug, Clone)]
pub enum PullEvent<'a> {
    /// Bytes fetched, file by file.
    Progress(&'a PullProgress),
    /// The download is a dense checkpoint, being converted to MXFP4 (once) into this folder.
    Converting { into: &'a Path },
}

impl App {
    /// The Hugging Face Hub (HF_ENDPOINT honoured) with the saved token, else `HF_TOKEN`.
    pub fn hub(&self) -> Result<Hub> {
        self.hub_with_token(None)
    }

    /// The Hub with `token` first (a face's own option), then the saved one, then `HF_TOKEN`.
    pub fn hub_with_token(&self, token: Option<String>) -> Result<Hub> {
        let token = token.or_else(|| lock(&self.settings).hf_token.clone());
        Ok(Hub::from_env(token)?)
    }

    /// The catalogue, installed models and partial downloads, with the active one marked.
    pub fn model_rows(&self) -> Vec<ModelRow> {
        let active = lock(&self.settings).active_model.clone();
        self.models.rows(active.as_deref())
    }

    pub fn installed_models(&self) -> Vec<InstalledModel> {
        self.models.store.installed()
    }

    /// Whether `repo` will run here at `context` tokens, read from its files when installed, else
    /// from the Hub (headers only).
    pub async fn check_fit(&self, repo: &str, revision: &str, context: u64) -> Result<FitCheck> {
        let hub = self.hub()?;
        Ok(self
            .models
            .fit(
                &hub,
                repo.trim(),
                revision,
                &runtime(self.backend()),
                &memory(),
                context,
            )
            .await?)
    }

    /// Downloads (or resumes) `repo` into the Hugging Face cache, converting a dense checkpoint
    /// once; a stop pauses it, keeping what is downloaded for the next pull. The first model
    /// installed becomes the active one.
    pub async fn pull(
        &self,
        repo: &str,
        options: &PullOptions,
        token: Option<String>,
        stop: &CancellationToken,
        on_event: &(dyn Fn(PullEvent) + Send + Sync),
    ) -> Result<InstalledModel> {
        let hub = self.hub_with_token(token)?;
        let on_progress = |p: &PullProgress| on_event(PullEvent::Progress(p));
        // A dense checkpoint is turned into MXFP4 once, after its download.
        let convert = |src: &Path, dst: &Path| {
            on_event(PullEvent::Converting { into: dst });
            fathom_engine::convert::convert(src, dst)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let model = self
            .models
            .install(&hub, repo.trim(), options, stop, &on_progress, convert)
            .await?;
        if lock(&self.settings).active_model.is_none() {
            let repo = model.repo.clone();
            self.update_settings(|s| s.active_model = Some(repo))?;
        }
        Ok(model)
    }

    /// Downloads the library's embedder (all-MiniLM-L6-v2, 90 MB) into the Hugging Face cache.
    pub async fn pull_embedder(
        &self,
        revision: &str,
        token: Option<String>,
        stop: &CancellationToken,
    ) -> Result<InstalledModel> {
        let hub = self.hub_with_token(token)?;
        let options = PullOptions {
            revision: revision.to_string(),
            require_gpt_oss: false,
            ..PullOptions::default()
        };
        Ok(fathom_models::pull(
            &hub,
            &self.hub_cache,
            fathom_embed::EMBEDDER_REPO,
            &options,
            stop,
            &|_| {},
        )
        .await?)
    }

    /// Gives up a paused or failed download and deletes its partial files.
    pub fn discard_download(&self, repo: &str) -> Result<()> {
        Ok(self.models.discard(repo)?)
    }

    /// Deletes an installed model (and its converted copies: MLX's for dense checkpoints,
    /// llama.cpp's GGUF); returns the bytes freed. It stops
    /// being the active model.
    pub fn delete_model(&self, repo: &str) -> Result<u64> {
        // llama.cpp's conversion is named after the checkpoint's folder: found before it goes.
        let converted = self.model_path(repo).ok().map(|path| {
            fathom_engine::llamacpp::remove_conversions(
                &path,
                &crate::app::converted_dir(&self.dirs),
            )
        });
        let freed = self.models.delete(repo)? + converted.unwrap_or(0);
        if lock(&self.settings).active_model.as_deref() == Some(repo) {
            self.update_settings(|s| s.active_model = None)?;
        }
        Ok(freed)
    }

    /// An installed model's folder.
    pub fn model_path(&self, repo: &str) -> Result<PathBuf> {
        self.models
            .store
            .find(repo)
            .map(|m| PathBuf::from(m.path))
            .ok_or_else(|| Error::model(format!("{repo} is not installed")))
    }

    /// Makes `repo` the model chats and Ask use. Refused when the memory check says it will not
    /// run here, unless `ignore_fit` (or the saved preference) says to load it anyway.
    pub fn set_active_model(&self, repo: &str, ignore_fit: bool) -> Result<()> {
        let path = self.model_path(repo)?;
        if !(ignore_fit || lock(&self.settings).ignore_fit) {
            let shape = fathom_models::local_shape(&path)?;
            let report = fathom_fit::check(
                &shape,
                &runtime(self.backend()),
                &memory(),
                fathom_fit::MIN_USEFUL_CONTEXT,
            );
            if report.verdict == Verdict::DoesNotFit {
                return Err(Error::DoesNotFit(report.summary));
            }
        }
        let repo = repo.to_string();
        self.update_settings(|s| s.active_model = Some(repo))
    }

    /// The folder of the model chats and Ask run on: the one chosen on the Models page.
    pub fn active_model_dir(&self) -> Result<PathBuf> {
        let repo = lock(&self.settings).active_model.clone().ok_or_else(|| {
            Error::model("No model chosen yet: download or pick one on the Models page.")
        })?;
        self.models
            .store
            .find(&repo)
            .map(|m| PathBuf::from(m.path))
            .ok_or_else(|| {
                Error::model(format!(
                    "{repo} is no longer installed: pick a model on the Models page."
                ))
            })
    }
}
