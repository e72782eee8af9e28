//! Commands that move between the windows.

use tauri::{AppHandle, Runtime};
use tauri_specta::Event;

use crate::app::events::OpenRun;
use crate::desktop::windows;

#[tauri::command]
#[specta::specta]
pub fn hide_quick_window<R: Runtime>(app: AppHandle<R>) {
    windows::hide_quick(&app);
}

/// Shows the main window (from the quick window), on a saved Ask run when `run` names one.
#[tauri::command]
#[specta::specta]
pub fn open_main_window<R: Runtime>(app: AppHandle<R>, run: Option<String>) {
    windows::hide_quick(&app);
    windows::show_main(&app);
    if let Some(run) = run {
        if let Err(e) = OpenRun(run).emit_to(&app, windows::MAIN) {
            log::warn!("cannot show the run in the main window: {e}");
        }
    }
}
