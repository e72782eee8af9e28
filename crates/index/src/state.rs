//! What was indexed from which file version, in SQLite (WAL): a document counts as indexed only
//! after its chunks are committed to the search index, so a crash at any point leaves at worst a
//! document to redo, never one marked done that is not searchable.

use std::path::Path;

use rusqlite::{params, Connection};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum DocStatus {
    Indexed,
    /// Could not be read; `error` says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DocState {
    pub doc_id: String,
    pub folder: String,
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub chunks: u32,
    pub status: DocStatus,
    pub error: Option<String>,
    /// Pages with no text layer (PDF), which need OCR.
    pub pages_without_text: Vec<u32>,
}

pub struct State {
    db: Connection,
}

impl State {
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS documents (
                doc_id TEXT PRIMARY KEY,
                folder TEXT NOT NULL,
                path TEXT NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                chunks INTEGER NOT NULL,
                status TEXT NOT NULL,
                error TEXT,
                pages_without_text TEXT NOT NULL DEFAULT '[]'
            );
            CREATE INDEX IF NOT EXISTS documents_folder ON documents(folder);
            CREATE TABLE IF NOT EXISTS vectors (
                chunk_id TEXT PRIMARY KEY,
                doc_id TEXT NOT NULL,
                folder TEXT NOT NULL,
                vec BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS vectors_doc ON vectors(doc_id);",
        )?;
        Ok(State { db })
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocState> {
        let status: String = r.get(6)?;
        let pages: String = r.get(8)?;
        Ok(DocState {
            doc_id: r.get(0)?,
            folder: r.get(1)?,
            path: r.get(2)?,
            size: r.get::<_, i64>(3)? as u64,
            mtime_ns: r.get(4)?,
            chunks: r.get(5)?,
            status: if status == "indexed" {
                DocStatus::Indexed
            } else {
                DocStatus::Failed
            },
            error: r.get(7)?,
            pages_without_text: serde_json::from_str(&pages).unwrap_or_default(),
        })
    }

    const COLUMNS: &'static str =
        "doc_id, folder, path, size, mtime_ns, chunks, status, error, pages_without_text";

    pub fn folder_docs(&self, folder: &str) -> rusqlite::Result<Vec<DocState>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {} FROM documents WHERE folder = ?1 ORDER BY path",
            Self::COLUMNS
        ))?;
        let rows = stmt.query_map([folder], Self::row)?;
        rows.collect()
    }

    pub fn all(&self) -> rusqlite::Result<Vec<DocState>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {} FROM documents ORDER BY path",
            Self::COLUMNS
        ))?;
        let rows = stmt.query_map([], Self::row)?;
        rows.collect()
    }
}

/// A stored vector: (chunk id, doc id, folder, vector).
pub type StoredVector = (String, String, String, Vec<f32>);

/// A change to the stored vectors, applied with the document state it belongs to.
pub enum VectorOp {
    /// Every vector of this document goes.
    Delete(String),
    Put {
        doc_id: String,
        folder: String,
        chunk_id: String,
        vector: Vec<f32>,
    },
}

impl State {
    /// Records documents, forgets others, and applies vector changes, in one transaction.
    pub fn apply(
        &mut self,
        docs: &[DocState],
        forget: &[String],
        vectors: &[VectorOp],
    ) -> rusqlite::Result<()> {
        let tx = self.db.transaction()?;
        // A recorded document's vectors go first, whoever's pending ops carried its delete: two
        // index runs at once share the pending list, and vectors made meanwhile from the old text
        // (the pass checks only size and mtime) must not outlive it. This run's puts follow.
        for d in docs {
            tx.execute("DELETE FROM vectors WHERE doc_id = ?1", [&d.doc_id])?;
        }
        for op in vectors {
            match op {
                VectorOp::Delete(doc) => {
                    tx.execute("DELETE FROM vectors WHERE doc_id = ?1", [doc])?;
                }
                VectorOp::Put {
                    doc_id,
                    folder,
                    chunk_id,
                    vector,
                } => {
                    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                    tx.execute(
                        "INSERT OR REPLACE INTO vectors (chunk_id, doc_id, folder, vec) VALUES (?1, ?2, ?3, ?4)",
                        params![chunk_id, doc_id, folder, bytes],
                    )?;
                }
            }
        }
        for id in forget {
            tx.execute("DELETE FROM documents WHERE doc_id = ?1", [id])?;
            tx.execute("DELETE FROM vectors WHERE doc_id = ?1", [id])?;
        }
        for d in docs {
            tx.execute(
                &format!("INSERT OR REPLACE INTO documents ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", Self::COLUMNS),
                params![
                    d.doc_id,
                    d.folder,
                    d.path,
                    d.size as i64,
                    d.mtime_ns,
                    d.chunks,
                    if d.status == DocStatus::Indexed { "indexed" } else { "failed" },
                    d.error,
                    serde_json::to_string(&d.pages_without_text).unwrap_or_else(|_| "[]".into()),
                ],
            )?;
        }
        tx.commit()
    }

    /// Stores vectors for chunks of `doc`, but only while the document is still recorded at that
    /// file version: vectors computed from chunks that were replaced meanwhile (the file changed
    /// and was re-indexed, or was removed) are dropped. Says whether they were stored.
    pub fn put_vectors_if_current(
        &mut self,
        doc: &DocState,
        vectors: &[(String, Vec<f32>)],
    ) -> rusqlite::Result<bool> {
        let tx = self.db.transaction()?;
        let current: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM documents WHERE doc_id = ?1 AND size = ?2 AND mtime_ns = ?3 AND status = 'indexed')",
            params![doc.doc_id, doc.size as i64, doc.mtime_ns],
            |r| r.get(0),
        )?;
        if !current {
            return Ok(false);
        }
        for (chunk_id, vector) in vectors {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            tx.execute(
                "INSERT OR REPLACE INTO vectors (chunk_id, doc_id, folder, vec) VALUES (?1, ?2, ?3, ?4)",
                params![chunk_id, doc.doc_id, doc.folder, bytes],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Every stored vector.
    pub fn vectors(&self) -> rusqlite::Result<Vec<StoredVector>> {
        let mut stmt = self
            .db
            .prepare("SELECT chunk_id, doc_id, folder, vec FROM vectors")?;
        let rows = stmt.query_map([], |r| {
            let bytes: Vec<u8> = r.get(3)?;
            let v = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, v))
        })?;
        rows.collect()
    }
}
