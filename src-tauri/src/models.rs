//! Commands of the Models page: thin calls into `fathom-models` and `fathom-fit`.

use std::path::Path;
use std::time::Duration;

use fathom_fit::{Backend, Memory, Runtime, Verdict, DEFAULT_CONTEXT};
use fathom_models::{
    FitCheck, Hub, InstalledModel, ModelRow, ModelsError, PullOptions, PullProgress,
};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime as TauriRuntime, State};
use tauri_plugin_opener::OpenerExt;
use tokio_util::sync::CancellationToken;

use crate::commands::{get_settings, SettingsView};
use crate::state::{lock, AppState};
use crate::streams::StreamId;
use crate::CommandError;

impl From<ModelsError> for CommandError {
    fn from(e: ModelsError) -> Self {
        match e {
            ModelsError::Cancelled => CommandError::Cancelled,
            e => CommandError::Model {
                detail: e.detail(),
                message: e.to_string(),
            },
        }
    }
}

pub(crate) fn hub(state: &AppState) -> Result<Hub, CommandError> {
    Ok(Hub::from_env(lock(&state.settings).hf_token.clone())?)
}

/// This machine's memory, as the checks see it.
#[tauri::command]
pub fn memory_info() -> Memory {
    Memory::read(fathom_engine::device::gpu_working_set_bytes())
}

fn runtime() -> Runtime {
    Runtime::measured(Backend::current())
}

#[tauri::command]
pub fn list_models(state: State<'_, AppState>) -> Vec<ModelRow> {
    let active = lock(&state.settings).active_model.clone();
    state.models.rows(active.as_deref())
}

/// Whether `repo` will run here, read from its files (installed) or from the Hub (headers only).
#[tauri::command]
pub async fn check_fit(
    state: State<'_, AppState>,
    repo: String,
    context: Option<u64>,
) -> Result<FitCheck, CommandError> {
    let hub = hub(&state)?;
    let context = context.unwrap_or(DEFAULT_CONTEXT);
    Ok(state
        .models
        .fit(
            &hub,
            repo.trim(),
            "main",
            &runtime(),
            &memory_info(),
            context,
        )
        .await?)
}

/// Downloads (or resumes) `repo`, streaming progress; `cancel_stream` pauses it, keeping what
/// is downloaded for the next `pull_model`.
#[tauri::command]
pub async fn pull_model(
    state: State<'_, AppState>,
    repo: String,
    stream: StreamId,
    on_progress: Channel<PullProgress>,
) -> Result<InstalledModel, CommandError> {
    let hub = hub(&state)?;
    let guard = state.streams.open(stream);
    let cancel = CancellationToken::new();
    // The stream registry has a flag; downloads wait on a token: bridge the two.
    let watcher = {
        let cancel = cancel.clone();
        tauri::async_runtime::spawn(async move {
            while !guard.is_cancelled() {
                if cancel.is_cancelled() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            cancel.cancel();
        })
    };
    let send = |p: &PullProgress| drop(on_progress.send(p.clone()));
    let convert = |src: &Path, dst: &Path| {
        fathom_engine::convert::convert(src, dst)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let result = state
        .models
        .install(
            &hub,
            repo.trim(),
            &PullOptions::default(),
            &cancel,
            &send,
            convert,
        )
        .await;
    cancel.cancel();
    let _ = watcher.await;
    let model = result?;
    // The first model installed becomes the active one.
    let mut settings = lock(&state.settings).clone();
    if settings.active_model.is_none() {
        settings.active_model = Some(model.repo.clone());
        state.settings_doc.save(&settings)?;
        *lock(&state.settings) = settings;
    }
    Ok(model)
}

/// Gives up a paused or failed download and deletes its partial files.
#[tauri::command]
pub fn discard_download(state: State<'_, AppState>, repo: String) -> Result<(), CommandError> {
    Ok(state.models.discard(&repo)?)
}

/// Deletes an installed model; returns the bytes freed.
#[tauri::command]
pub fn delete_model(state: State<'_, AppState>, repo: String) -> Result<u64, CommandError> {
    let freed = state.models.delete(&repo)?;
    let mut settings = lock(&state.settings).clone();
    if settings.active_model.as_deref() == Some(repo.as_str()) {
        settings.active_model = None;
        state.settings_doc.save(&settings)?;
        *lock(&state.settings) = settings;
    }
    Ok(freed)
}

/// Shows the model's folder in Finder or the file manager.
#[tauri::command]
pub fn reveal_model<R: TauriRuntime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    repo: String,
) -> Result<(), CommandError> {
    let model = state.models.store.find(&repo).ok_or(CommandError::Model {
        message: format!("{repo} is not installed"),
        detail: None,
    })?;
    app.opener()
        .reveal_item_in_dir(&model.path)
        .map_err(|e| CommandError::Window {
            message: format!("cannot show {}: {e}", model.path),
        })
}

/// Makes `repo` the model chats and searches use. Refused when the memory check says it will not
/// run here, unless `ignore_fit` (or the saved preference) says to load it anyway.
#[tauri::command]
pub fn set_active_model(
    state: State<'_, AppState>,
    repo: String,
    ignore_fit: bool,
) -> Result<SettingsView, CommandError> {
    let model = state.models.store.find(&repo).ok_or(CommandError::Model {
        message: format!("{repo} is not installed"),
        detail: None,
    })?;
    let mut settings = lock(&state.settings).clone();
    if !(ignore_fit || settings.ignore_fit) {
        let shape = fathom_models::local_shape(Path::new(&model.path))?;
        let report = fathom_fit::check(
            &shape,
            &runtime(),
            &memory_info(),
            fathom_fit::MIN_USEFUL_CONTEXT,
        );
        if report.verdict == Verdict::DoesNotFit {
            return Err(CommandError::DoesNotFit {
                summary: report.summary,
            });
        }
    }
    settings.active_model = Some(repo);
    state.settings_doc.save(&settings)?;
    *lock(&state.settings) = settings;
    Ok(get_settings(state))
}

/// Saves (or with `None`, forgets) the Hugging Face token used for gated and private repos.
#[tauri::command]
pub fn set_hf_token(
    state: State<'_, AppState>,
    token: Option<String>,
) -> Result<SettingsView, CommandError> {
    state.update_settings(|s| {
        s.hf_token = token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    })?;
    Ok(get_settings(state))
}
