//! Where an indexing run puts documents: this machine's [`SearchIndex`], or a library that lives
//! only on a server (`fathom-chroma`'s `ServerStore`). The indexer walks, skips, extracts and
//! chunks the same way for both; a store only keeps chunks and remembers what was done.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::index::{DocumentChunks, SearchIndex};
use crate::state::{DocState, State};
use crate::IndexError;

/// A library's documents as the indexer writes them. Crash safety is the store's promise: after
/// [`DocStore::commit`] returns, `done` documents' chunks are durable and searchable and only
/// then recorded as done, so a kill at any point leaves at worst a document to redo.
pub trait DocStore: Send + Sync {
    /// What was indexed for one library folder, by path.
    fn folder_docs(&self, folder: &str) -> Result<Vec<DocState>, IndexError>;
    /// Every document the store knows, by path.
    fn all_docs(&self) -> Result<Vec<DocState>, IndexError>;
    /// Replaces a document's chunks (durable at the next `commit`).
    fn put_document(&self, d: &DocumentChunks<'_>) -> Result<(), IndexError>;
    /// Drops a document's chunks (at the next `commit`).
    fn delete_document(&self, doc_id: &str) -> Result<(), IndexError>;
    /// Makes the writes so far durable, then records `done` and forgets `forget`.
    fn commit(&self, done: &[DocState], forget: &[String]) -> Result<(), IndexError>;
    /// Whether every chunk must come with its vector (a server has no later vector pass).
    fn needs_vectors(&self) -> bool {
        false
    }
}

impl DocStore for SearchIndex {
    fn folder_docs(&self, folder: &str) -> Result<Vec<DocState>, IndexError> {
        Ok(crate::index::lock(&self.state).folder_docs(folder)?)
    }

    fn all_docs(&self) -> Result<Vec<DocState>, IndexError> {
        Ok(crate::index::lock(&self.state).all()?)
    }

    fn put_document(&self, d: &DocumentChunks<'_>) -> Result<(), IndexError> {
        SearchIndex::put_document(self, d)
    }

    fn delete_document(&self, doc_id: &str) -> Result<(), IndexError> {
        SearchIndex::delete_document(self, doc_id)
    }

    fn commit(&self, done: &[DocState], forget: &[String]) -> Result<(), IndexError> {
        // The index first: a document is marked done only once its chunks are durable.
        SearchIndex::commit(self)?;
        self.record(done, forget)?;
        self.save_vectors_if_due()
    }
}

impl<T: DocStore + ?Sized> DocStore for Arc<T> {
    fn folder_docs(&self, folder: &str) -> Result<Vec<DocState>, IndexError> {
        (**self).folder_docs(folder)
    }
    fn all_docs(&self) -> Result<Vec<DocState>, IndexError> {
        (**self).all_docs()
    }
    fn put_document(&self, d: &DocumentChunks<'_>) -> Result<(), IndexError> {
        (**self).put_document(d)
    }
    fn delete_document(&self, doc_id: &str) -> Result<(), IndexError> {
        (**self).delete_document(doc_id)
    }
    fn commit(&self, done: &[DocState], forget: &[String]) -> Result<(), IndexError> {
        (**self).commit(done, forget)
    }
    fn needs_vectors(&self) -> bool {
        (**self).needs_vectors()
    }
}

/// What was indexed from which file version, alone in SQLite (WAL): the record a store keeps
/// beside chunks that live elsewhere.
pub struct Ledger {
    state: Mutex<State>,
}

impl Ledger {
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| IndexError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        Ok(Ledger {
            state: Mutex::new(State::open(path)?),
        })
    }

    pub fn folder_docs(&self, folder: &str) -> Result<Vec<DocState>, IndexError> {
        Ok(crate::index::lock(&self.state).folder_docs(folder)?)
    }

    pub fn all(&self) -> Result<Vec<DocState>, IndexError> {
        Ok(crate::index::lock(&self.state).all()?)
    }

    /// Records `done` and forgets `forget`, in one transaction.
    pub fn record(&self, done: &[DocState], forget: &[String]) -> Result<(), IndexError> {
        crate::index::lock(&self.state).apply(done, forget, &[])?;
        Ok(())
    }
}
