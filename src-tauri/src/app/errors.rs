//! The errors commands return: the core's, and the desktop's own (windows, the shortcut).

use serde::Serialize;

/// The errors a command can return, one variant per thing the UI must explain differently.
/// Serialized as `{ kind, …fields }` so the UI can switch on `kind` exhaustively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum CommandError {
    /// Fathom's own files could not be read or written.
    #[error("{message}")]
    Storage { message: String },
    #[error("no folder with id {id} in the library")]
    UnknownFolder { id: String },
    #[error("{path} is not a readable folder")]
    NotAFolder { path: String },
    #[error("“{shortcut}” is not a valid shortcut: {message}")]
    InvalidShortcut { shortcut: String, message: String },
    /// Valid, but the system would not give it to Fathom (another app holds it, or no support).
    #[error("“{shortcut}” could not be registered: {message}")]
    ShortcutUnavailable { shortcut: String, message: String },
    #[error("cancelled")]
    Cancelled,
    /// A download, model or Hub problem, in a sentence that says what to do.
    #[error("{message}")]
    Model {
        message: String,
        /// The technical account behind the message, shown folded away.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[specta(optional)]
        detail: Option<String>,
    },
    /// The library's index could not be read or written.
    #[error("{message}")]
    Index { message: String },
    /// The memory check says the model cannot run here.
    #[error("{summary}")]
    DoesNotFit { summary: String },
    #[error("{message}")]
    Window { message: String },
    /// A conversation could not be read, saved or continued.
    #[error("{message}")]
    Chat { message: String },
    /// A value given for a setting is not one Fathom can use; the message says why.
    #[error("{message}")]
    Invalid { message: String },
}

impl From<fathom_core::Error> for CommandError {
    fn from(e: fathom_core::Error) -> Self {
        use fathom_core::Error as E;
        match e {
            E::Storage(message) => Self::Storage { message },
            E::UnknownFolder(id) => Self::UnknownFolder { id },
            E::NotAFolder(path) => Self::NotAFolder { path },
            E::Cancelled => Self::Cancelled,
            E::Model { message, detail } => Self::Model { message, detail },
            E::Index(message) => Self::Index { message },
            E::DoesNotFit(summary) => Self::DoesNotFit { summary },
            E::Chat(message) => Self::Chat { message },
        }
    }
}

impl From<tauri::Error> for CommandError {
    fn from(e: tauri::Error) -> Self {
        Self::Window {
            message: e.to_string(),
        }
    }
}
