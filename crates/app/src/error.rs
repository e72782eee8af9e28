//! The one error every use case returns: a variant per thing a face must explain differently.

/// What went wrong in a use case, in a sentence a person can act on (with the technical account
/// kept apart where there is one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fathom's own files could not be read or written.
    #[error("{0}")]
    Storage(String),
    #[error("no folder with id {0} in the library")]
    UnknownFolder(String),
    #[error("{0} is not a readable folder")]
    NotAFolder(String),
    /// The caller's stop signal was set.
    #[error("cancelled")]
    Cancelled,
    /// A download, model or Hub problem, in a sentence that says what to do.
    #[error("{message}")]
    Model {
        message: String,
        /// The technical account behind the message, shown folded away.
        detail: Option<String>,
    },
    /// The library's index could not be read or written.
    #[error("{0}")]
    Index(String),
    /// The memory check says the model cannot run here.
    #[error("{0}")]
    DoesNotFit(String),
    /// A conversation or Ask run could not be read, saved or continued.
    #[error("{0}")]
    Chat(String),
}

impl Error {
    pub(crate) fn model(message: impl Into<String>) -> Self {
        Error::Model {
            message: message.into(),
            detail: None,
        }
    }
}

impl From<fathom_store::StoreError> for Error {
    fn from(e: fathom_store::StoreError) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<fathom_library::LibraryError> for Error {
    fn from(e: fathom_library::LibraryError) -> Self {
        match e {
            fathom_library::LibraryError::UnknownFolder(id) => Error::UnknownFolder(id),
            fathom_library::LibraryError::Store(e) => e.into(),
        }
    }
}

impl From<fathom_library::ScanError> for Error {
    fn from(e: fathom_library::ScanError) -> Self {
        match e {
            fathom_library::ScanError::Cancelled => Error::Cancelled,
            fathom_library::ScanError::NotAFolder(path) => Error::NotAFolder(path),
        }
    }
}

impl From<fathom_index::IndexError> for Error {
    fn from(e: fathom_index::IndexError) -> Self {
        match e {
            fathom_index::IndexError::Cancelled => Error::Cancelled,
            e => Error::Index(e.to_string()),
        }
    }
}

impl From<fathom_models::ModelsError> for Error {
    fn from(e: fathom_models::ModelsError) -> Self {
        match e {
            fathom_models::ModelsError::Cancelled => Error::Cancelled,
            e => Error::Model {
                detail: e.detail(),
                message: e.to_string(),
            },
        }
    }
}

impl From<fathom_chat::ChatError> for Error {
    fn from(e: fathom_chat::ChatError) -> Self {
        match e {
            fathom_chat::ChatError::DoesNotFit(summary) => Error::DoesNotFit(summary),
            fathom_chat::ChatError::Model(message) => Error::model(message),
            e => Error::Chat(e.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
