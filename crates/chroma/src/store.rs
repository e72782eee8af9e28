//! A library that lives only on a Chroma server: indexing writes each document's chunks, their
//! metadata and vectors there, and this machine keeps only a ledger of what was indexed from
//! which file version (SQLite), so a run resumes after a kill or the server going away. Moving
//! the library back reads the records, vectors included, into a local index
//! ([`ChromaLibrary::pull`]): nothing is embedded twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chroma::types::Include;
use fathom_index::{
    Chunk, DocState, DocStatus, DocStore, DocumentChunks, Hit, IndexError, Ledger, SearchIndex,
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::sync::{version, Record, Writes};
use crate::ChromaLibrary;

/// The indexer's [`DocStore`] for a library on a server. Writes wait in memory, document by
/// document, until the `commit` that names the document (done or forgotten): it removes the
/// document's old records, writes the new ones (upsert: a retried request overwrites itself), and
/// only then records it in the ledger. A kill or a failed request leaves documents to redo, never
/// marked done without their chunks there; two runs at once (a folder watcher's and a person's)
/// each commit only their own documents.
pub struct ServerStore {
    library: Arc<ChromaLibrary>,
    ledger: Ledger,
    /// A document's new records (none: it goes), until its commit.
    pending: Mutex<HashMap<String, Vec<Record>>>,
}

impl ServerStore {
    pub fn new(library: Arc<ChromaLibrary>, ledger: Ledger) -> Self {
        ServerStore {
            library,
            ledger,
            pending: Mutex::default(),
        }
    }

    pub fn library(&self) -> &Arc<ChromaLibrary> {
        &self.library
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Record>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DocStore for ServerStore {
    fn folder_docs(&self, folder: &str) -> Result<Vec<DocState>, IndexError> {
        self.ledger.folder_docs(folder)
    }

    fn all_docs(&self) -> Result<Vec<DocState>, IndexError> {
        self.ledger.all()
    }

    fn put_document(&self, d: &DocumentChunks<'_>) -> Result<(), IndexError> {
        let vectors = d.vectors.ok_or_else(|| {
            IndexError::Vectors(format!(
                "{}: a library on a server needs every passage's vector",
                d.path
            ))
        })?;
        let records = d
            .chunks
            .iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, (c, v))| {
                let hit = Hit {
                    chunk_id: fathom_index::chunk_id(d.doc_id, c.index),
                    doc_id: d.doc_id.to_string(),
                    folder: d.folder.to_string(),
                    path: d.path.to_string(),
                    chunk: c.index as u32,
                    score: 0.0,
                    text: c.text.clone(),
                    line: d.lines.get(i).copied().unwrap_or(1),
                    page: d.pages.get(i).copied().unwrap_or(0),
                };
                self.library.record(hit, v.clone(), "")
            })
            .collect();
        self.pending().insert(d.doc_id.to_string(), records);
        Ok(())
    }

    fn delete_document(&self, doc_id: &str) -> Result<(), IndexError> {
        self.pending().insert(doc_id.to_string(), Vec::new());
        Ok(())
    }

    fn commit(&self, done: &[DocState], forget: &[String]) -> Result<(), IndexError> {
        let mut ids: Vec<String> = done
            .iter()
            .map(|d| d.doc_id.clone())
            .chain(forget.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        let writes: Vec<(String, Vec<Record>)> = {
            let mut pending = self.pending();
            ids.iter()
                .filter_map(|id| pending.remove_entry(id))
                .collect()
        };
        // Every named document's old records go (a changed file may have fewer chunks now).
        self.library.delete_documents(&ids)?;
        let versions: HashMap<&str, String> = done
            .iter()
            .map(|d| (d.doc_id.as_str(), version(d)))
            .collect();
        let mut batches = Writes::default();
        for (doc, records) in writes {
            let v = versions.get(doc.as_str()).cloned().unwrap_or_default();
            for mut r in records {
                r.meta.insert("version".into(), v.clone().into());
                batches.push(r);
            }
            if batches.ready() {
                self.library.write(&mut batches, false)?;
            }
        }
        self.library.write(&mut batches, true)?;
        self.ledger.record(done, forget)
    }

    fn needs_vectors(&self) -> bool {
        true
    }
}

/// How far reading a library back from its server is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PullProgress {
    pub chunks_done: u64,
    pub chunks_total: u64,
}

/// What reading a library back did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PullReport {
    /// Documents read back whole, with their vectors.
    pub documents: u64,
    pub chunks: u64,
    /// Documents already in the local index at the same version.
    pub unchanged: u64,
    /// Documents the server did not hold whole (a run stopped mid-document, a record lost):
    /// left out, so the next indexing run reads their files again.
    pub incomplete: u64,
    pub stopped: bool,
    pub seconds: f64,
}

/// Records read per request when reading back (with vectors: ~4–6 KB each as JSON).
const PULL_PAGE: u32 = 1_000;
/// Local commits while reading back: one every this many chunks.
const PULL_COMMIT: usize = 5_000;

impl ChromaLibrary {
    /// Reads this origin's records back into `index`: every document of `docs` (the ledger's)
    /// whose chunks the server holds whole at its version gets its chunks and vectors, and its
    /// state, in the local index. Resumable: documents the index already has at their version
    /// are skipped, and `stop` (checked between requests) keeps what was committed.
    pub fn pull(
        &self,
        docs: &[DocState],
        index: &SearchIndex,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&PullProgress),
    ) -> Result<PullReport, IndexError> {
        let started = Instant::now();
        let mut report = PullReport::default();
        let here: HashMap<String, DocState> = index
            .all_docs()?
            .into_iter()
            .map(|d| (d.doc_id.clone(), d))
            .collect();
        // What the index holds that the ledger does not (left from before the library moved
        // there, or from a stopped read of an older state) goes: it is not the library's now.
        let known: std::collections::HashSet<&str> =
            docs.iter().map(|d| d.doc_id.as_str()).collect();
        let stale: Vec<String> = here
            .keys()
            .filter(|id| !known.contains(id.as_str()))
            .cloned()
            .collect();
        for id in &stale {
            DocStore::delete_document(index, id)?;
        }
        DocStore::commit(index, &[], &stale)?;
        // Wanted: indexed documents with chunks, not already here at this version.
        let mut wanted: HashMap<&str, &DocState> = HashMap::new();
        let mut settled = Vec::new();
        for d in docs {
            let same = here
                .get(&d.doc_id)
                .is_some_and(|h| h.size == d.size && h.mtime_ns == d.mtime_ns);
            if same {
                report.unchanged += 1;
            } else if d.status == DocStatus::Indexed && d.chunks > 0 {
                wanted.insert(d.doc_id.as_str(), d);
            } else {
                // Failed or empty: nothing on the server, only the state.
                settled.push(d.clone());
            }
        }
        let mut progress = PullProgress {
            chunks_done: 0,
            chunks_total: wanted.values().map(|d| d.chunks as u64).sum(),
        };
        on_progress(&progress);
        // A document's records, gathered until it is whole.
        let mut partial: HashMap<String, Vec<(Hit, Vec<f32>)>> = HashMap::new();
        let mut uncommitted = 0usize;
        let mut offset = 0u32;
        loop {
            if stop.is_cancelled() {
                report.stopped = true;
                break;
            }
            let page = self.origin_page(
                "reading the library back",
                PULL_PAGE,
                offset,
                vec![Include::Document, Include::Metadata, Include::Embedding],
            )?;
            let n = page.ids.len() as u32;
            let docs_text = page.documents.unwrap_or_default();
            let metas = page.metadatas.unwrap_or_default();
            let embeddings = page.embeddings.unwrap_or_default();
            for (i, id) in page.ids.iter().enumerate() {
                let meta = metas.get(i).cloned().flatten();
                let v = meta
                    .as_ref()
                    .map(|m| crate::text_of(m, "version"))
                    .unwrap_or_default();
                let hit = crate::record_hit(id, docs_text.get(i).cloned().flatten(), meta, 0.0);
                let Some(d) = wanted.get(hit.doc_id.as_str()) else {
                    continue;
                };
                let Some(vector) = embeddings.get(i).cloned() else {
                    continue;
                };
                if v != version(d) {
                    continue;
                }
                let doc_id = hit.doc_id.clone();
                let parts = partial.entry(doc_id.clone()).or_default();
                parts.push((hit, vector));
                if parts.len() == d.chunks as usize {
                    let parts = partial.remove(&doc_id).expect("just filled");
                    let d = wanted.remove(doc_id.as_str()).expect("wanted");
                    if put_back(index, d, parts)? {
                        settled.push(d.clone());
                        report.documents += 1;
                        report.chunks += d.chunks as u64;
                        uncommitted += d.chunks as usize;
                        progress.chunks_done += d.chunks as u64;
                    } else {
                        report.incomplete += 1;
                    }
                }
            }
            if uncommitted >= PULL_COMMIT {
                DocStore::commit(index, &std::mem::take(&mut settled), &[])?;
                uncommitted = 0;
                on_progress(&progress);
            }
            // Until an empty page: a server may send fewer than asked for before the end.
            if n == 0 {
                break;
            }
            offset += n;
        }
        DocStore::commit(index, &settled, &[])?;
        index.save_vectors()?;
        if !report.stopped {
            report.incomplete += wanted.len() as u64;
        }
        on_progress(&progress);
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// Puts one document read back into the local index (not yet committed); `false` when its
/// records do not make chunks 0..n once each.
fn put_back(
    index: &SearchIndex,
    d: &DocState,
    mut parts: Vec<(Hit, Vec<f32>)>,
) -> Result<bool, IndexError> {
    parts.sort_by_key(|(h, _)| h.chunk);
    if parts
        .iter()
        .enumerate()
        .any(|(i, (h, _))| h.chunk as usize != i)
    {
        return Ok(false);
    }
    let title = std::path::Path::new(&d.path)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let lines: Vec<u32> = parts.iter().map(|(h, _)| h.line).collect();
    let pages: Vec<u32> = parts.iter().map(|(h, _)| h.page).collect();
    let (hits, vectors): (Vec<Hit>, Vec<Vec<f32>>) = parts.into_iter().unzip();
    let chunks: Vec<Chunk> = hits
        .into_iter()
        .map(|h| Chunk {
            index: h.chunk as usize,
            tokens: 0,
            start: 0,
            end: h.text.len(),
            text: h.text,
        })
        .collect();
    DocStore::put_document(
        index,
        &DocumentChunks {
            doc_id: &d.doc_id,
            folder: &d.folder,
            path: &d.path,
            title: &title,
            chunks: &chunks,
            lines: &lines,
            pages: &pages,
            vectors: Some(&vectors),
        },
    )?;
    Ok(true)
}
