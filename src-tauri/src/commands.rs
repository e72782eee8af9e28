//! The typed commands the UI calls. Each one is a thin call into a crate.

use std::time::Duration;

use fathom_library::{AddReport, Folder, ScanProgress};
use fathom_store::Settings;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::state::{lock, AppState};
use crate::streams::StreamId;
use crate::{shortcut, windows, CommandError};

/// Facts about this installation, for the Settings page.
#[derive(Debug, Clone, Serialize, TS)]
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

/// The settings together with what became of them.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub settings: Settings,
    /// Why the saved quick-query shortcut is not active, when it is not.
    pub shortcut_error: Option<String>,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: state.dirs.data().display().to_string(),
        config_dir: state.dirs.config().display().to_string(),
        platform: std::env::consts::OS.to_string(),
        device_problem: fathom_engine::device::prepare()
            .err()
            .map(|e| e.to_string()),
    }
}

/// What "Copy diagnostics" copies: versions, system, memory, device, model, the library's size,
/// settings without secrets and the log's tail. Counts and names only: no document's or
/// conversation's text.
#[tauri::command]
pub fn diagnostics(state: State<'_, AppState>) -> String {
    use fathom_models::human_bytes;
    let settings = lock(&state.settings).clone();
    let memory = fathom_fit::Memory::read(fathom_engine::device::gpu_working_set_bytes());
    let device = match fathom_engine::device::prepare() {
        Err(e) => format!("cannot run models: {e}"),
        Ok(()) => match memory.gpu_working_set_bytes {
            Some(set) => format!("Metal, working set {}", human_bytes(set)),
            None => "MLX CPU backend".into(),
        },
    };
    let model = match &settings.active_model {
        None => "none chosen".to_string(),
        Some(repo) => {
            let installed = state.models.store.find(repo).map_or_else(
                || "not installed".to_string(),
                |m| format!("installed at {}", m.path),
            );
            let loaded = match &state.chat {
                Ok(chat) if chat.host.is_loaded() => "loaded",
                Ok(_) => "not loaded",
                Err(_) => "chat unavailable",
            };
            format!("{repo}, {installed}, {loaded}")
        }
    };
    let folders = match lock(&state.library).folders().len() {
        1 => "1 folder".to_string(),
        n => format!("{n} folders"),
    };
    let library = match &state.index {
        Ok(index) => format!(
            "{folders}, {} passages, {} with vectors",
            index.chunk_count(),
            index.vector_count()
        ),
        Err(e) => format!("{folders}; the index cannot be opened: {e}"),
    };
    let semantic = match &state.semantic {
        Some(s) => {
            let st = s.status();
            format!("{:?}, pass {:?}", st.embedder, st.pass)
        }
        None => "unavailable".into(),
    };
    // Every setting by name, the token only as whether one is saved.
    let mut shown = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&settings) {
        for (k, v) in map {
            let v = if k == "hfToken" {
                if v.is_null() { "not set" } else { "set" }.to_string()
            } else {
                v.to_string()
            };
            shown.push((k, v));
        }
    }
    fathom_diagnostics::Report {
        app_version: env!("CARGO_PKG_VERSION").into(),
        platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        os: fathom_fit::system_description(),
        memory: format!(
            "{} total, {} available, budget for models {} ({:?})",
            human_bytes(memory.total_bytes),
            human_bytes(memory.available_bytes),
            human_bytes(memory.budget_bytes()),
            memory.source
        ),
        device,
        model,
        library,
        semantic,
        settings: shown,
        data_dir: state.dirs.data().display().to_string(),
        log_dir: state.dirs.logs().display().to_string(),
        log_tail: fathom_diagnostics::log_tail(state.dirs.logs(), 200),
    }
    .render()
}

#[tauri::command]
pub fn list_folders(state: State<'_, AppState>) -> Vec<Folder> {
    lock(&state.library).folders().to_vec()
}

/// Adds dropped or picked paths; each one is added or rejected with its reason.
#[tauri::command]
pub fn add_folders<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    paths: Vec<String>,
) -> Result<AddReport, CommandError> {
    let report = lock(&state.library).add(&paths)?;
    crate::search::sync_watched(&app);
    if !report.added.is_empty() {
        // First use of the library: semantic search needs its embedder.
        crate::search::ensure_embedder(&state);
    }
    Ok(report)
}

#[tauri::command]
pub fn remove_folder<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<Folder, CommandError> {
    let folder = lock(&state.library).remove(&id)?;
    crate::search::sync_watched(&app);
    // Its documents leave the index with it.
    if let Ok(index) = &state.index {
        fathom_index::indexer::remove_folder(index, &id)?;
    }
    Ok(folder)
}

/// Counts a library folder's files and bytes, streaming progress; cancel with `cancel_stream`.
#[tauri::command]
pub async fn scan_folder(
    state: State<'_, AppState>,
    id: String,
    stream: StreamId,
    on_progress: Channel<ScanProgress>,
) -> Result<ScanProgress, CommandError> {
    let path = lock(&state.library)
        .path_of(&id)
        .ok_or(CommandError::UnknownFolder { id })?;
    let guard = state.streams.open(stream);
    let walk = tauri::async_runtime::spawn_blocking(move || {
        fathom_library::scan(
            &path,
            Duration::from_millis(100),
            &|| guard.is_cancelled(),
            // A closed channel (the page went away) is not an error: the result still returns.
            &mut |p| drop(on_progress.send(p)),
        )
    });
    Ok(walk.await.map_err(|e| CommandError::Window {
        message: format!("scan stopped: {e}"),
    })??)
}

/// Asks a running stream to stop; false if it had already finished.
#[tauri::command]
pub fn cancel_stream(state: State<'_, AppState>, stream: StreamId) -> bool {
    state.streams.cancel(&stream)
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    SettingsView {
        settings: lock(&state.settings).clone(),
        shortcut_error: lock(&state.shortcut_error).clone(),
    }
}

/// Marks the welcome guide finished (or skipped), or asks for it again (Settings).
#[tauri::command]
pub fn set_first_run_done(
    state: State<'_, AppState>,
    done: bool,
) -> Result<SettingsView, CommandError> {
    state.update_settings(|s| s.first_run_done = done)?;
    Ok(get_settings(state))
}

/// Changes the quick-query shortcut: the new one is registered first, and saved only if the system
/// accepted it; otherwise the old one stays active.
#[tauri::command]
pub fn set_quick_shortcut<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    shortcut: String,
) -> Result<SettingsView, CommandError> {
    let parsed = shortcut::parse(&shortcut)?;
    let old = lock(&state.settings).quick_shortcut.clone();
    shortcut::replace(&app, &old, parsed, &shortcut)?;
    let mut next = lock(&state.settings).clone();
    next.quick_shortcut = shortcut;
    if let Err(e) = state.settings_doc.save(&next) {
        // Keep what is registered and what is saved in step: drop the new one, bring back the old.
        shortcut::restore(&app, parsed, &old);
        return Err(e.into());
    }
    *lock(&state.settings) = next;
    *lock(&state.shortcut_error) = None;
    Ok(get_settings(state))
}

#[tauri::command]
pub fn hide_quick_window<R: Runtime>(app: AppHandle<R>) {
    windows::hide_quick(&app);
}

/// Emitted to the main window with a saved Ask run's id: show that run.
pub const OPEN_RUN: &str = "open-run";

/// Shows the main window (from the quick window), on a saved Ask run when `run` names one.
#[tauri::command]
pub fn open_main_window<R: Runtime>(app: AppHandle<R>, run: Option<String>) {
    use tauri::Emitter;
    windows::hide_quick(&app);
    windows::show_main(&app);
    if let Some(run) = run {
        if let Err(e) = app.emit_to(windows::MAIN, OPEN_RUN, run) {
            log::warn!("cannot show the run in the main window: {e}");
        }
    }
}

/// Lets the user pick folders with the system's folder chooser and adds them, as a drop does.
/// Nothing picked is not an error: the report is empty.
#[tauri::command]
pub async fn pick_folders<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<AddReport, CommandError> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut chooser = app.dialog().file().set_title("Add folders to the library");
    // Start at home, not at GTK's "Recent" list, which holds files rather than folders.
    if let Ok(home) = app.path().home_dir() {
        chooser = chooser.set_directory(home);
    }
    chooser.pick_folders(move |picked| {
        let _ = tx.send(picked);
    });
    let picked = rx.await.ok().flatten().unwrap_or_default();
    let paths: Vec<String> = picked
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .map(|p| p.display().to_string())
        .collect();
    if paths.is_empty() {
        return Ok(AddReport::default());
    }
    add_folders(app.clone(), state, paths)
}
