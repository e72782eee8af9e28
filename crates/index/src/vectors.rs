//! Vectors for dense search, added in a pass of their own after BM25 indexing: a folder is
//! searchable by keywords as soon as its text is in, and its chunks gain vectors as the embedder
//! gets to them (on a CPU-only machine that is the slow part by far). The pass picks up whatever
//! lacks a vector, so it resumes after a stop, a crash or a re-index without redoing anything.

use std::time::Instant;
use tokio_util::sync::CancellationToken;

use serde::Serialize;

use crate::{IndexError, SearchIndex};

/// Unit vectors for a batch of texts (any lifetime: a test's closure, the app's embedder).
pub type EmbedBatch<'a> = dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String> + 'a;

/// How far the vector pass is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VectorProgress {
    /// Chunks that had no vector when this pass started.
    pub chunks_total: u64,
    pub chunks_done: u64,
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VectorReport {
    pub chunks: u64,
    pub documents: u32,
    /// Documents the embedder failed on (skipped; retried by the next pass).
    pub failed: Vec<(String, String)>,
    /// Stopped before the end because `should_stop` said so.
    pub stopped: bool,
    pub seconds: f64,
}

/// Embeds every chunk that has no vector yet, `batch` chunks at a time, storing each batch as it
/// is done. `should_stop` is asked between batches. A document that changes meanwhile loses the
/// vectors computed from its old chunks (the next pass embeds the new ones).
pub fn embed_pending(
    index: &SearchIndex,
    embed: &EmbedBatch<'_>,
    batch: usize,
    stop: &CancellationToken,
    on_progress: &mut dyn FnMut(&VectorProgress),
) -> Result<VectorReport, IndexError> {
    let started = Instant::now();
    let docs = index.documents_missing_vectors()?;
    let mut progress = VectorProgress {
        chunks_total: docs.iter().map(|(_, n)| *n as u64).sum(),
        ..VectorProgress::default()
    };
    let mut report = VectorReport::default();
    on_progress(&progress);
    'docs: for (doc, _) in docs {
        let chunks = index.chunks_missing_vectors(&doc.doc_id)?;
        for part in chunks.chunks(batch.max(1)) {
            if stop.is_cancelled() {
                report.stopped = true;
                break 'docs;
            }
            let texts: Vec<&str> = part.iter().map(|h| h.text.as_str()).collect();
            let vectors = match embed(&texts) {
                Ok(v) if v.len() == part.len() => v,
                Ok(v) => {
                    let why = format!("{} vectors for {} chunks", v.len(), part.len());
                    report.failed.push((doc.path.clone(), why));
                    continue 'docs;
                }
                Err(e) => {
                    report.failed.push((doc.path.clone(), e));
                    continue 'docs;
                }
            };
            let pairs: Vec<(String, Vec<f32>)> = part
                .iter()
                .map(|h| h.chunk_id.clone())
                .zip(vectors)
                .collect();
            if !index.add_vectors(&doc, &pairs)? {
                // Changed or removed since the pass started: its new chunks come next time.
                continue 'docs;
            }
            report.chunks += part.len() as u64;
            progress.chunks_done += part.len() as u64;
            let elapsed = started.elapsed().as_secs_f64();
            if elapsed > 0.5 {
                let rate = progress.chunks_done as f64 / elapsed;
                let left = progress.chunks_total.saturating_sub(progress.chunks_done);
                progress.eta_seconds = Some(left as f64 / rate);
            }
            on_progress(&progress);
            index.save_vectors_if_due()?;
        }
        report.documents += 1;
    }
    // The pass's vectors are in the saved graph before it reports done.
    index.save_vectors()?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
