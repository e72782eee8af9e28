//! Facts about this installation: the Settings page's About, and "Copy diagnostics".

use serde::Serialize;
use tauri::State;

use crate::app::{AppState, StreamId};

/// Facts about this installation, for the Settings page.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub config_dir: String,
    /// `macos`, `linux`, …: lets the UI show ⌘ or Ctrl.
    pub platform: String,
    /// Why models cannot run on this machine (Metal did not start), if they cannot.
    pub device_problem: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    let dirs = state.core.dirs();
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: dirs.data().display().to_string(),
        config_dir: dirs.config().display().to_string(),
        platform: std::env::consts::OS.to_string(),
        device_problem: fathom_engine::device::prepare()
            .err()
            .map(|e| e.to_string()),
    }
}

/// What "Copy diagnostics" copies: versions, system, memory, device, model, the library's size,
/// settings without secrets and the log's tail; no document's or conversation's text.
#[tauri::command]
#[specta::specta]
pub fn diagnostics(state: State<'_, AppState>) -> String {
    state.core.diagnostics(env!("CARGO_PKG_VERSION"))
}

/// Asks a running stream to stop; false if it had already finished.
#[tauri::command]
#[specta::specta]
pub fn cancel_stream(state: State<'_, AppState>, stream: StreamId) -> bool {
    state.streams.cancel(&stream)
}
