//! The semantic pass's status, sent to the windows as it changes.

use fathom_semantic::SemanticStatus;
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;

use crate::app::events::SemanticStatusChanged;
use crate::app::AppState;

/// Sends semantic status changes to the windows, and loads (or fetches) the embedder when the
/// library already has folders.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let handle = app.clone();
    state
        .core
        .on_semantic_status(Box::new(move |s: &SemanticStatus| {
            let _ = SemanticStatusChanged(s.clone()).emit(&handle);
        }));
    if !state.core.folders().is_empty() {
        state.core.ensure_embedder();
    }
}
