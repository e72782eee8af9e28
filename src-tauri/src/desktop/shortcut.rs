//! The global shortcut that toggles the quick-query window.

use std::str::FromStr;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut};

use fathom_core::lock;

use crate::app::{AppState, CommandError};

pub fn parse(text: &str) -> Result<Shortcut, CommandError> {
    Shortcut::from_str(text).map_err(|e| CommandError::InvalidShortcut {
        shortcut: text.to_string(),
        message: e.to_string(),
    })
}

/// Registers the saved shortcut at start-up; a failure is remembered for the Settings page.
pub fn install_saved<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let saved = state.core.settings().quick_shortcut;
    let outcome = parse(&saved).and_then(|s| {
        app.global_shortcut()
            .register(s)
            .map_err(|e| CommandError::ShortcutUnavailable {
                shortcut: saved.clone(),
                message: e.to_string(),
            })
    });
    if let Err(e) = &outcome {
        log::warn!("quick-query shortcut not active: {e}");
    }
    *lock(&state.shortcut_error) = outcome.err().map(|e| e.to_string());
}

/// Swaps `old` for `new`; if the system refuses `new`, `old` is registered again.
pub fn replace<R: Runtime>(
    app: &AppHandle<R>,
    old: &str,
    new: Shortcut,
    new_text: &str,
) -> Result<(), CommandError> {
    let shortcuts = app.global_shortcut();
    let old = parse(old).ok().filter(|s| shortcuts.is_registered(*s));
    if let Some(old) = old {
        if old == new {
            return Ok(());
        }
        let _ = shortcuts.unregister(old);
    }
    shortcuts.register(new).map_err(|e| {
        if let Some(old) = old {
            let _ = shortcuts.register(old);
        }
        CommandError::ShortcutUnavailable {
            shortcut: new_text.to_string(),
            message: e.to_string(),
        }
    })
}

/// Undoes a [`replace`] whose save failed: `new` goes, `old` comes back if the system allows.
pub fn restore<R: Runtime>(app: &AppHandle<R>, new: Shortcut, old: &str) {
    let shortcuts = app.global_shortcut();
    let _ = shortcuts.unregister(new);
    if let Ok(old) = parse(old) {
        let _ = shortcuts.register(old);
    }
}
