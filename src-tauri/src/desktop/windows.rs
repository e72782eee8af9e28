//! The two windows: `main` and the small `quick` query window (both declared in tauri.conf.json).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime, Window};

pub const MAIN: &str = "main";
pub const QUICK: &str = "quick";

/// Counts the quick window's showings, so a hide decided before the latest showing is dropped.
static QUICK_SHOWINGS: AtomicU64 = AtomicU64::new(0);

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
        QUICK_SHOWINGS.fetch_add(1, Ordering::SeqCst);
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
    log::debug!("toggle quick window (visible: {visible})");
    if visible {
        hide_quick(app);
    } else {
        show_quick(app);
    }
}

/// Hides the quick window once it has really lost focus. On X11 a global shortcut's key grab
/// takes focus away for the length of the key press and gives it back; hiding at once would make
/// the shortcut's own toggle see a hidden window and show it again.
pub fn hide_quick_unless_refocused<R: Runtime>(window: Window<R>) {
    let showing = QUICK_SHOWINGS.load(Ordering::SeqCst);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        let shown_since = QUICK_SHOWINGS.load(Ordering::SeqCst) != showing;
        if !shown_since && !window.is_focused().unwrap_or(false) {
            let _ = window.hide();
        }
    });
}
