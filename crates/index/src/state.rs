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
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                chunk_id TEXT NOT NULL UNIQUE,
                doc_id TEXT NOT NULL,
                folder TEXT NOT NULL,
                vec BLOB NOT NULL
            );",
        )?;
        migrate_vectors(&db)?;
        // Covers the metadata scan at open (seq is the rowid, in every index), so a large
        // library's open reads the ids without the vectors the graph already holds.
        db.execute_batch(
            "DROP INDEX IF EXISTS vectors_doc;
            CREATE INDEX IF NOT EXISTS vectors_meta ON vectors(doc_id, folder, chunk_id);",
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

/// Gives a vectors table from before the graph (round 1: `chunk_id` as its key) the `seq` column
/// the graph uses as its keys, copying the rows over once in one transaction: the vectors took
/// hours to compute and must not be lost to a schema change.
fn migrate_vectors(db: &Connection) -> rusqlite::Result<()> {
    let has_seq: bool = db.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('vectors') WHERE name = 'seq')",
        [],
        |r| r.get(0),
    )?;
    if has_seq {
        return Ok(());
    }
    // Dropped on error (rolled back), so a failed copy leaves the old table as it was.
    let tx = db.unchecked_transaction()?;
    tx.execute_batch(
        "CREATE TABLE vectors_seq (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            chunk_id TEXT NOT NULL UNIQUE,
            doc_id TEXT NOT NULL,
            folder TEXT NOT NULL,
            vec BLOB NOT NULL
        );
        INSERT INTO vectors_seq (chunk_id, doc_id, folder, vec)
            SELECT chunk_id, doc_id, folder, vec FROM vectors;
        DROP TABLE vectors;
        ALTER TABLE vectors_seq RENAME TO vectors;",
    )?;
    tx.commit()
}

fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A stored vector's identity: its `seq` (assigned by SQLite, never reused: AUTOINCREMENT, so
/// a key in a saved graph names one vector for ever), chunk, document and folder.
pub struct VectorRow {
    pub seq: u64,
    pub chunk_id: String,
    pub doc_id: String,
    pub folder: String,
}

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
    ) -> rusqlite::Result<Vec<u64>> {
        let tx = self.db.transaction()?;
        let mut seqs = Vec::new();
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
                    tx.execute(
                        "INSERT OR REPLACE INTO vectors (chunk_id, doc_id, folder, vec) VALUES (?1, ?2, ?3, ?4)",
                        params![chunk_id, doc_id, folder, to_bytes(vector)],
                    )?;
                    seqs.push(tx.last_insert_rowid() as u64);
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
        tx.commit()?;
        Ok(seqs)
    }

    /// Stores vectors for chunks of `doc`, but only while the document is still recorded at that
    /// file version: vectors computed from chunks that were replaced meanwhile (the file changed
    /// and was re-indexed, or was removed) are dropped. The vectors' seqs when they were stored.
    pub fn put_vectors_if_current(
        &mut self,
        doc: &DocState,
        vectors: &[(String, Vec<f32>)],
    ) -> rusqlite::Result<Option<Vec<u64>>> {
        let tx = self.db.transaction()?;
        let current: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM documents WHERE doc_id = ?1 AND size = ?2 AND mtime_ns = ?3 AND status = 'indexed')",
            params![doc.doc_id, doc.size as i64, doc.mtime_ns],
            |r| r.get(0),
        )?;
        if !current {
            return Ok(None);
        }
        let mut seqs = Vec::with_capacity(vectors.len());
        for (chunk_id, vector) in vectors {
            tx.execute(
                "INSERT OR REPLACE INTO vectors (chunk_id, doc_id, folder, vec) VALUES (?1, ?2, ?3, ?4)",
                params![chunk_id, doc.doc_id, doc.folder, to_bytes(vector)],
            )?;
            seqs.push(tx.last_insert_rowid() as u64);
        }
        tx.commit()?;
        Ok(Some(seqs))
    }

    /// Every stored vector's identity, without the vectors (read from the covering index).
    pub fn vector_rows(&self, mut each: impl FnMut(VectorRow)) -> rusqlite::Result<()> {
        let mut stmt = self
            .db
            .prepare("SELECT seq, chunk_id, doc_id, folder FROM vectors")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            each(VectorRow {
                seq: r.get::<_, i64>(0)? as u64,
                chunk_id: r.get(1)?,
                doc_id: r.get(2)?,
                folder: r.get(3)?,
            });
        }
        Ok(())
    }

    /// Every stored vector with its identity, one at a time (a large library's vectors do not
    /// fit in memory twice).
    pub fn for_each_vector(
        &self,
        mut each: impl FnMut(VectorRow, Vec<f32>),
    ) -> rusqlite::Result<()> {
        let mut stmt = self
            .db
            .prepare("SELECT seq, chunk_id, doc_id, folder, vec FROM vectors ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let bytes: Vec<u8> = r.get(4)?;
            each(
                VectorRow {
                    seq: r.get::<_, i64>(0)? as u64,
                    chunk_id: r.get(1)?,
                    doc_id: r.get(2)?,
                    folder: r.get(3)?,
                },
                from_bytes(&bytes),
            );
        }
        Ok(())
    }

    /// A document's stored vectors, by chunk id.
    pub fn document_vectors(&self, doc_id: &str) -> rusqlite::Result<Vec<(String, Vec<f32>)>> {
        let mut stmt = self
            .db
            .prepare_cached("SELECT chunk_id, vec FROM vectors WHERE doc_id = ?1")?;
        let rows = stmt.query_map([doc_id], |r| {
            Ok((r.get::<_, String>(0)?, from_bytes(&r.get::<_, Vec<u8>>(1)?)))
        })?;
        rows.collect()
    }

    /// The length of the stored vectors (all have one), when there are any.
    pub fn vector_dim(&self) -> rusqlite::Result<Option<usize>> {
        let mut stmt = self.db.prepare("SELECT length(vec) FROM vectors LIMIT 1")?;
        let mut rows = stmt.query([])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get::<_, i64>(0)? as usize / 4),
            None => None,
        })
    }

    /// The vector stored under `seq`, if it still is.
    pub fn vector(&self, seq: u64) -> rusqlite::Result<Option<Vec<f32>>> {
        let mut stmt = self
            .db
            .prepare_cached("SELECT vec FROM vectors WHERE seq = ?1")?;
        let mut rows = stmt.query([seq as i64])?;
        Ok(match rows.next()? {
            Some(r) => Some(from_bytes(&r.get::<_, Vec<u8>>(0)?)),
            None => None,
        })
    }

    /// The highest seq ever given (AUTOINCREMENT remembers it past deletions): every key a saved
    /// graph can hold is at most this.
    pub fn max_vector_seq(&self) -> rusqlite::Result<u64> {
        let seq: Option<i64> = self
            .db
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'vectors'",
                [],
                |r| r.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        Ok(seq.unwrap_or(0).max(0) as u64)
    }
}
