//! Commands that move between the windows.

use tauri::{AppHandle, Emitter, Runtime};

use crate::app::events;
use crate::desktop::windows;

#[tauri::command]
pub fn hide_quick_window<R: Runtime>(app: AppHandle<R>) {
    windows::hide_quick(&app);
}

/// Shows the main window (from the quick window), on a saved Ask run when `run` names one.
#[tauri::command]
pub fn open_main_window<R: Runtime>(app: AppHandle<R>, run: Option<String>) {
    windows::hide_quick(&app);
    windows::show_main(&app);
    if let Some(run) = run {
        if let Err(e) = app.emit_to(windows::MAIN, events::OPEN_RUN, run) {
            log::warn!("cannot show the run in the main window: {e}");
        }
    }
}
