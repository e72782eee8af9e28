//! The library's search index. Files become documents (stable ids from their paths), documents
//! become chunks (stable ids `document:index`, sized in the model's tokens), chunks go into a BM25
//! index (tantivy); a SQLite table remembers what was indexed from which file version, so a
//! restart (or a kill mid-run) continues without redoing finished files.

mod analyzer;
pub mod ann;
pub mod chunk;
pub mod dense;
pub mod index;
pub mod indexer;
mod state;
pub mod store;
pub mod vectors;
pub mod watch;

pub use chunk::{Chunk, Chunker};
pub use index::{DocumentChunks, Hit, OpenOptions, SearchIndex, SearchQuery};
pub use indexer::{IndexProgress, IndexReport, IndexTimings};
pub use state::{DocState, DocStatus};
pub use store::{DocStore, Ledger};
pub use vectors::{VectorProgress, VectorReport};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("index state: {0}")]
    State(#[from] rusqlite::Error),
    #[error("query: {0}")]
    Query(String),
    #[error("{0}")]
    Vectors(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A library on a server (Chroma): the server's or the connection's complaint, with where.
    #[error("{0}")]
    Remote(String),
    #[error("cancelled")]
    Cancelled,
}

/// What search, grep, reading and Ask's tools need from a library, wherever its passages live:
/// on this machine ([`SearchIndex`]) or on a Chroma server (`fathom-chroma`). Every backend keeps
/// the same contract: chunk ids `document:index`, folders by their library id, excluded ids never
/// returned, a document's chunks in order.
pub trait Passages: Send + Sync {
    /// BM25 fused with dense retrieval (the query embedded by `embed`; `None`: lexical alone).
    fn search_embedding(
        &self,
        q: &SearchQuery,
        embed: &(dyn Fn(&str) -> Option<Vec<f32>> + Sync),
    ) -> Result<Vec<Hit>, IndexError>;
    /// Chunks whose text matches a regular expression (Rust syntax), up to `limit`.
    fn grep(
        &self,
        pattern: &str,
        folder: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError>;
    /// A whole document, chunk by chunk in order (empty when there is no such document).
    fn read_document(&self, doc_id: &str) -> Result<Vec<Hit>, IndexError>;
}

/// A document's id: the first 16 hex digits of the sha256 of its absolute path, so it stays the
/// same across restarts and re-indexing (a renamed file is a new document).
pub fn document_id(path: &std::path::Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..8])
}

/// A chunk's id: its document's id and its place in the document, `{doc_id}:{chunk}`.
pub fn chunk_id(doc_id: &str, chunk: impl std::fmt::Display) -> String {
    format!("{doc_id}:{chunk}")
}

/// A chunk id's document and number ([`chunk_id`] undone): the last `:` splits them whatever
/// the document id holds.
pub(crate) fn split_chunk_id(id: &str) -> Option<(&str, u64)> {
    let (doc_id, chunk) = id.rsplit_once(':')?;
    Some((doc_id, chunk.parse().ok()?))
}
