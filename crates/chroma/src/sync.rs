//! Copying the local index to the server. The server's records are compared with the local
//! index document by document (each record carries its document's file version and chunk
//! count), so a copy that stopped halfway (the server went away, the app was closed) resumes
//! where it stopped, a changed file replaces its old chunks, and nothing is copied twice.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chroma::types::{Include, IncludeList, Key, UpdateMetadata};
use fathom_index::indexer::documents;
use fathom_index::{DocState, DocStatus, IndexError, SearchIndex};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::ChromaLibrary;

/// Records written per request: the server takes up to a few thousand and 40 MiB a request; a
/// 384-d vector with a chunk's text is ~4–6 KB as JSON.
const BATCH: usize = 250;
/// Records listed per request when reading what the server holds.
const PAGE: u32 = 2_000;
/// Documents removed per request.
const DELETE_BATCH: usize = 200;

/// How far a copy to the server is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    pub chunks_done: u64,
    pub chunks_total: u64,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub documents_copied: u64,
    pub chunks_copied: u64,
    /// Documents removed from the server (gone or changed here).
    pub documents_removed: u64,
    /// Documents not copied yet because some of their chunks have no vector (the vector pass
    /// has not reached them): the next copy takes them.
    pub documents_waiting: u64,
    /// Stopped before the end because it was asked to.
    pub stopped: bool,
    pub seconds: f64,
}

/// A document's version as its records carry it: file size, modification time, chunk count.
fn version(d: &DocState) -> String {
    format!("{}:{}:{}", d.size, d.mtime_ns, d.chunks)
}

/// One of the server's documents (of this origin): its version and how many records it has.
#[derive(Default)]
struct Held {
    version: String,
    records: u32,
}

impl ChromaLibrary {
    /// Copies the local index's finished documents (every chunk embedded) to the server with
    /// their vectors, and removes the server's records of documents that are gone or changed
    /// here. `stop` is checked between requests.
    pub fn sync(
        &self,
        index: &SearchIndex,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport, IndexError> {
        let started = Instant::now();
        let mut report = SyncReport::default();
        let held = self.held()?;
        let local: Vec<DocState> = documents(index)?
            .into_iter()
            .filter(|d| d.status == DocStatus::Indexed && d.chunks > 0)
            .collect();
        let current: HashSet<&str> = local.iter().map(|d| d.doc_id.as_str()).collect();
        let is_whole = |d: &DocState| {
            held.get(&d.doc_id)
                .is_some_and(|h| h.version == version(d) && h.records == d.chunks)
        };
        // Stale: gone here, or changed, or copied only in part.
        let stale: Vec<String> = held
            .keys()
            .filter(|id| !current.contains(id.as_str()))
            .cloned()
            .chain(
                local
                    .iter()
                    .filter(|d| held.contains_key(&d.doc_id) && !is_whole(d))
                    .map(|d| d.doc_id.clone()),
            )
            .collect();
        for part in stale.chunks(DELETE_BATCH) {
            if stop.is_cancelled() {
                report.stopped = true;
                return Ok(self.finish(report, started));
            }
            let c = self.collection.clone();
            let filter = Key::field("origin").eq(self.origin.as_str())
                & Key::field("doc_id").is_in(part.to_vec());
            self.run("removing old chunks", async move {
                c.delete(None, Some(filter), None).await.map(|_| ())
            })?;
            report.documents_removed += part
                .iter()
                .filter(|id| !current.contains(id.as_str()))
                .count() as u64;
        }
        let todo: Vec<&DocState> = local.iter().filter(|d| !is_whole(d)).collect();
        let mut progress = SyncProgress {
            chunks_done: 0,
            chunks_total: todo.iter().map(|d| d.chunks as u64).sum(),
        };
        on_progress(&progress);
        let mut batch = Batch::default();
        for d in todo {
            if stop.is_cancelled() {
                report.stopped = true;
                break;
            }
            let Some(records) = self.records(index, d)? else {
                report.documents_waiting += 1;
                progress.chunks_total -= d.chunks as u64;
                continue;
            };
            for r in records {
                batch.push(r);
                if batch.ids.len() >= BATCH {
                    progress.chunks_done += self.write(&mut batch)?;
                    on_progress(&progress);
                }
            }
            report.documents_copied += 1;
            report.chunks_copied += d.chunks as u64;
        }
        progress.chunks_done += self.write(&mut batch)?;
        on_progress(&progress);
        Ok(self.finish(report, started))
    }

    fn finish(&self, mut report: SyncReport, started: Instant) -> SyncReport {
        report.seconds = started.elapsed().as_secs_f64();
        report
    }

    /// The server's documents of this origin, read page by page.
    fn held(&self) -> Result<HashMap<String, Held>, IndexError> {
        let mut held: HashMap<String, Held> = HashMap::new();
        let mut offset = 0u32;
        loop {
            let c = self.collection.clone();
            let filter = Key::field("origin").eq(self.origin.as_str());
            let page = self.run("listing what the server holds", async move {
                c.get(
                    None,
                    Some(filter),
                    Some(PAGE),
                    Some(offset),
                    Some(IncludeList(vec![Include::Metadata])),
                )
                .await
            })?;
            let n = page.ids.len() as u32;
            for m in page.metadatas.unwrap_or_default().into_iter().flatten() {
                let entry = held.entry(crate::text_of(&m, "doc_id")).or_default();
                // Records of one document written by different versions show as a mismatch.
                let v = crate::text_of(&m, "version");
                if entry.records == 0 {
                    entry.version = v;
                } else if entry.version != v {
                    entry.version.clear();
                }
                entry.records += 1;
            }
            if n < PAGE {
                return Ok(held);
            }
            offset += n;
        }
    }

    /// A document's records, or `None` while some of its chunks have no vector.
    fn records(
        &self,
        index: &SearchIndex,
        d: &DocState,
    ) -> Result<Option<Vec<Record>>, IndexError> {
        let mut vectors: HashMap<String, Vec<f32>> =
            index.document_vectors(&d.doc_id)?.into_iter().collect();
        let chunks = index.read_document(&d.doc_id)?;
        if chunks.len() != d.chunks as usize
            || chunks.iter().any(|c| !vectors.contains_key(&c.chunk_id))
        {
            return Ok(None);
        }
        let version = version(d);
        Ok(Some(
            chunks
                .into_iter()
                .map(|c| {
                    let vector = vectors.remove(&c.chunk_id).expect("checked above");
                    let mut m = UpdateMetadata::new();
                    m.insert("origin".into(), self.origin.clone().into());
                    m.insert("doc_id".into(), c.doc_id.into());
                    m.insert("chunk_id".into(), c.chunk_id.clone().into());
                    m.insert("folder".into(), c.folder.into());
                    m.insert("path".into(), c.path.into());
                    m.insert("chunk".into(), (c.chunk as i64).into());
                    m.insert("line".into(), (c.line as i64).into());
                    m.insert("page".into(), (c.page as i64).into());
                    m.insert("version".into(), version.clone().into());
                    Record {
                        id: c.chunk_id,
                        text: c.text,
                        vector,
                        meta: m,
                    }
                })
                .collect(),
        ))
    }

    /// Writes the batch (upsert: a retried batch overwrites itself), emptying it; how many.
    fn write(&self, batch: &mut Batch) -> Result<u64, IndexError> {
        if batch.ids.is_empty() {
            return Ok(0);
        }
        let b = std::mem::take(batch);
        let n = b.ids.len() as u64;
        let c = self.collection.clone();
        self.run("copying chunks", async move {
            c.upsert(b.ids, b.vectors, Some(b.texts), None, Some(b.metas))
                .await
                .map(|_| ())
        })?;
        Ok(n)
    }
}

struct Record {
    id: String,
    text: String,
    vector: Vec<f32>,
    meta: UpdateMetadata,
}

#[derive(Default)]
struct Batch {
    ids: Vec<String>,
    vectors: Vec<Vec<f32>>,
    texts: Vec<Option<String>>,
    metas: Vec<Option<UpdateMetadata>>,
}

impl Batch {
    fn push(&mut self, r: Record) {
        self.ids.push(r.id);
        self.vectors.push(r.vector);
        self.texts.push(Some(r.text));
        self.metas.push(Some(r.meta));
    }
}
