//! The events the shell sends its windows. Each payload is a type whose name gives the event's
//! name; the UI listens through the generated `events` (see `crate::contract`).

use fathom_index::IndexReport;
use fathom_semantic::SemanticStatus;
use serde::Serialize;

use super::updater::AvailableUpdate;

/// A folder's index was refreshed in the background (a file changed).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct LibraryUpdated {
    pub folder: String,
    pub report: IndexReport,
}

/// The semantic pass's status changed.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct SemanticStatusChanged(pub SemanticStatus);

/// To the main window, from the quick window: show this saved Ask run.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct OpenRun(pub String);

/// The start-up check found a newer version.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct UpdateAvailable(pub AvailableUpdate);
