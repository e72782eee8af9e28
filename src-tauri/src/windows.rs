//! The two windows: `main` and the small `quick` query window (both declared in tauri.conf.json).

use tauri::{AppHandle, Manager, Runtime};

pub const MAIN: &str = "main";
pub const QUICK: &str = "quick";

pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    // A menu-bar app shows in the Dock only while its main window is open.
    #[cfg(target_os = "macos")]
    let _ = app.set_activation_policy(tauri::ActivationPolicy::Regular);
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

pub fn hide_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.hide();
    }
    #[cfg(target_os = "macos")]
    let _ = app.set_activation_policy(tauri::ActivationPolicy::Accessory);
}

pub fn show_quick<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(QUICK) {
        let _ = window.center();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

pub fn hide_quick<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(QUICK) {
        let _ = window.hide();
    }
}

pub fn toggle_quick<R: Runtime>(app: &AppHandle<R>) {
    let visible = app
        .get_webview_window(QUICK)
        .and_then(|w| w.is_visible().ok())
        .unwrap_or(false);
    if visible {
        hide_quick(app);
    } else {
        show_quick(app);
    }
}
