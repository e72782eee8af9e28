//! Commands of Settings → Updates: check, install, restart.

use fathom_core::lock;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

use crate::app::updater::{self, AvailableUpdate, Found, UpdateCheck, UpdateProgress};
use crate::app::{AppState, CommandError, SettingsView, StreamId};

/// Asks the update server whether a newer Fathom exists.
#[tauri::command]
#[specta::specta]
pub async fn check_for_update<R: Runtime>(app: AppHandle<R>) -> Result<UpdateCheck, CommandError> {
    updater::check(&app).await
}

/// The newer version the start-up check found, if any (its event may have come before the window
/// listened).
#[tauri::command]
#[specta::specta]
pub fn found_update(found: State<'_, Found>) -> Option<AvailableUpdate> {
    lock(&found.0).clone()
}

/// Downloads the newer version, checks its signature and installs it; the app restarts with
/// `restart_app`. Nothing is installed when the signature does not match.
#[tauri::command]
#[specta::specta]
pub async fn install_update<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    stream: StreamId,
    on_progress: Channel<UpdateProgress>,
) -> Result<String, CommandError> {
    let guard = state.streams.open(stream);
    let Some(update) = updater::find(&app).await? else {
        return Err(CommandError::Model {
            message: "There is no update to install: Fathom is up to date.".into(),
            detail: None,
        });
    };
    let version = update.version.clone();
    let mut done = 0u64;
    let install = update.download_and_install(
        |chunk, total| {
            done += chunk as u64;
            let _ = on_progress.send(UpdateProgress {
                done_bytes: done,
                total_bytes: total,
            });
        },
        || log::info!("update {version} downloaded; verifying and installing"),
    );
    tokio::select! {
        _ = guard.token().cancelled() => Err(CommandError::Cancelled),
        r = install => {
            r.map_err(|e| {
                log::warn!("the update was not installed: {e}");
                updater::updater_failed("The update was not installed", e)
            })?;
            log::info!("update {} installed", update.version);
            Ok(update.version)
        }
    }
}

/// Quits and starts the installed version.
#[tauri::command]
#[specta::specta]
pub fn restart_app<R: Runtime>(app: AppHandle<R>) {
    app.restart();
}

/// Turns the start-up check on or off.
#[tauri::command]
#[specta::specta]
pub fn set_check_updates(
    state: State<'_, AppState>,
    on: bool,
) -> Result<SettingsView, CommandError> {
    state.core.set_check_updates(on)?;
    Ok(state.settings_view())
}
