//! Commands of the Models page.

use fathom_core::PullEvent;
use fathom_fit::{MemoryInfo, DEFAULT_CONTEXT};
use fathom_models::{FitCheck, InstalledModel, ModelRow, PullOptions, PullProgress};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use crate::app::{AppState, CommandError, SettingsView, StreamId};

/// This machine's memory, as the checks see it, with the budget they hold models to.
#[tauri::command]
#[specta::specta]
pub fn memory_info() -> MemoryInfo {
    fathom_core::memory().into()
}

#[tauri::command]
#[specta::specta]
pub fn list_models(state: State<'_, AppState>) -> Vec<ModelRow> {
    state.core.model_rows()
}

/// Whether `repo` will run here, read from its files (installed) or from the Hub (headers only).
#[tauri::command]
#[specta::specta]
pub async fn check_fit(
    state: State<'_, AppState>,
    repo: String,
    context: Option<u64>,
) -> Result<FitCheck, CommandError> {
    Ok(state
        .core
        .check_fit(&repo, "main", context.unwrap_or(DEFAULT_CONTEXT))
        .await?)
}

/// Downloads (or resumes) `repo`, streaming progress; `cancel_stream` pauses it, keeping what
/// is downloaded for the next `pull_model`. The first model installed becomes the active one.
#[tauri::command]
#[specta::specta]
pub async fn pull_model(
    state: State<'_, AppState>,
    repo: String,
    stream: StreamId,
    on_progress: Channel<PullProgress>,
) -> Result<InstalledModel, CommandError> {
    let guard = state.streams.open(stream);
    let send = |event: PullEvent| {
        if let PullEvent::Progress(p) = event {
            drop(on_progress.send(p.clone()));
        }
    };
    Ok(state
        .core
        .pull(&repo, &PullOptions::default(), None, guard.token(), &send)
        .await?)
}

/// Gives up a paused or failed download and deletes its partial files.
#[tauri::command]
#[specta::specta]
pub fn discard_download(state: State<'_, AppState>, repo: String) -> Result<(), CommandError> {
    Ok(state.core.discard_download(&repo)?)
}

/// Deletes an installed model; returns the bytes freed.
#[tauri::command]
#[specta::specta]
pub fn delete_model(state: State<'_, AppState>, repo: String) -> Result<u64, CommandError> {
    Ok(state.core.delete_model(&repo)?)
}

/// Shows the model's folder in Finder or the file manager.
#[tauri::command]
#[specta::specta]
pub fn reveal_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    repo: String,
) -> Result<(), CommandError> {
    let path = state.core.model_path(&repo)?;
    app.opener()
        .reveal_item_in_dir(&path)
        .map_err(|e| CommandError::Window {
            message: format!("cannot show {}: {e}", path.display()),
        })
}

/// Makes `repo` the model chats and searches use. Refused when the memory check says it will not
/// run here, unless `ignore_fit` (or the saved preference) says to load it anyway.
#[tauri::command]
#[specta::specta]
pub async fn set_active_model(
    state: State<'_, AppState>,
    repo: String,
    ignore_fit: bool,
) -> Result<SettingsView, CommandError> {
    state.core.set_active_model(&repo, ignore_fit)?;
    // The local API serves the chosen model.
    if state.core.settings().api_enabled {
        state.apply_api().await;
    }
    Ok(state.settings_view())
}

/// Frees the model's memory now; the next reply loads it again.
#[tauri::command]
#[specta::specta]
pub fn unload_model(state: State<'_, AppState>) -> Result<(), CommandError> {
    Ok(state.core.unload_model()?)
}
