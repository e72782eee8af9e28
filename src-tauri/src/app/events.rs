//! The events the shell sends its windows, with their payloads.

use fathom_index::IndexReport;
use serde::Serialize;

/// After a folder's index was refreshed in the background: [`LibraryUpdated`].
pub const LIBRARY_UPDATED: &str = "library-updated";

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryUpdated {
    pub folder: String,
    pub report: IndexReport,
}

/// Whenever the semantic status changes, with the new `SemanticStatus`.
pub const SEMANTIC_STATUS: &str = "semantic-status";

/// To the main window with a saved Ask run's id: show that run.
pub const OPEN_RUN: &str = "open-run";

/// When the start-up check finds a newer version, with the `AvailableUpdate`.
pub const UPDATE_AVAILABLE: &str = "update-available";
