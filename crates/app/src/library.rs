//! The library's use cases: folders, their walk and index, search, documents, and the semantic
//! pass that gives chunks their vectors.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fathom_index::indexer::Embed;
use fathom_index::indexer::{self, FolderStatus, IndexOptions};
use fathom_index::{Chunker, Hit, IndexProgress, IndexReport, SearchQuery};
use fathom_library::{AddReport, Folder, ScanProgress, WalkRule};
use fathom_semantic::SemanticStatus;
use tokio_util::sync::CancellationToken;

use crate::app::{lock, App, StatusListener};
use crate::{Error, Result};

/// The most results one search returns.
pub const MAX_RESULTS: usize = 500;

/// A search of the library.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub text: String,
    /// Only this library folder (its id).
    pub folder: Option<String>,
    /// At most this many results (50 when not given; never more than [`MAX_RESULTS`]).
    pub limit: Option<usize>,
}

impl App {
    pub fn folders(&self) -> Vec<Folder> {
        lock(&self.library).folders().to_vec()
    }

    /// The folder a person means by a path (as typed: relative, with links) or an id.
    pub fn find_folder(&self, path_or_id: &str) -> Result<Folder> {
        let wanted = std::fs::canonicalize(path_or_id)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path_or_id.to_string());
        lock(&self.library)
            .folders()
            .iter()
            .find(|f| f.path == wanted || f.id == path_or_id)
            .cloned()
            .ok_or_else(|| Error::NotAFolder(format!("{path_or_id} (not a library folder)")))
    }

    fn folder_path(&self, id: &str) -> Result<PathBuf> {
        lock(&self.library)
            .path_of(id)
            .ok_or_else(|| Error::UnknownFolder(id.to_string()))
    }

    /// Which files belong to a folder, from the settings: the walk the counts and the index share.
    pub fn walk_rule(&self) -> WalkRule {
        WalkRule {
            hidden: lock(&self.settings).index_hidden,
        }
    }

    /// Adds folders; each path is added or rejected with its reason. The first folder starts
    /// fetching the embedder that semantic search needs.
    pub fn add_folders<P: AsRef<Path>>(&self, paths: &[P]) -> Result<AddReport> {
        let report = lock(&self.library).add(paths)?;
        if !report.added.is_empty() {
            self.ensure_embedder();
        }
        Ok(report)
    }

    /// Removes a folder; its documents leave the index with it. Returns the folder and how many
    /// documents left.
    pub fn remove_folder(&self, id: &str) -> Result<(Folder, u32)> {
        let _held = self.not_moving()?;
        self.folder_path(id)?;
        // The documents first: a folder that left the list is never visited again, so its
        // documents must not outlive it (on a server that is away, the folder stays).
        let removed = match self.doc_store() {
            Ok(store) => indexer::remove_folder(&*store, id)?,
            Err(e) if self.server.place() == fathom_store::LibraryPlace::ChromaOnly => {
                return Err(e)
            }
            Err(e) => {
                log::warn!("removing folder {id}'s documents: {e}");
                0
            }
        };
        let folder = lock(&self.library).remove(id)?;
        self.server.wake();
        Ok((folder, removed))
    }

    /// Counts a folder's documents and bytes by the walk rule, reporting at most every
    /// `interval`. Blocking: call it off an async runtime.
    pub fn scan_folder(
        &self,
        id: &str,
        interval: Duration,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(ScanProgress),
    ) -> Result<ScanProgress> {
        let path = self.folder_path(id)?;
        Ok(fathom_library::scan(
            &path,
            self.walk_rule(),
            interval,
            stop,
            on_progress,
        )?)
    }

    /// Brings a folder's index up to date (only changed files are redone); a stop keeps every
    /// file finished so far. The background vector pass waits while it runs and picks up the new
    /// chunks after. Blocking: call it off an async runtime.
    pub fn index_folder(
        &self,
        id: &str,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&IndexProgress),
    ) -> Result<IndexReport> {
        let path = self.folder_path(id)?;
        let _held = self.not_moving()?;
        let store = self.doc_store()?;
        let _hold = self.hold_vectors();
        let mut options = IndexOptions {
            hidden: self.walk_rule().hidden,
            ..IndexOptions::default()
        };
        if store.needs_vectors() {
            // A server has no vector pass after indexing: each passage goes with its vector.
            options.embedder = Some(self.pass_embedder()?);
        }
        let report = indexer::index_folder(
            &*store,
            id,
            &path,
            &Chunker::default(),
            &options,
            stop,
            on_progress,
        )?;
        // Removed and changed files leave the server's copy now; new chunks follow their
        // vectors.
        self.server.wake();
        Ok(report)
    }

    /// What the index holds for each library folder.
    pub fn library_status(&self) -> Result<Vec<FolderStatus>> {
        let docs = self.doc_states()?;
        Ok(self
            .folders()
            .iter()
            .map(|f| {
                let mine = docs.iter().filter(|d| d.folder == f.id).cloned();
                indexer::folder_summary(&f.id, mine)
            })
            .collect())
    }

    /// Every indexed document's state (counts, failures, pages without text).
    pub fn documents(&self) -> Result<Vec<fathom_index::DocState>> {
        self.doc_states()
    }

    /// (chunks, chunks with vectors) in the library: on a server alone, every chunk there has
    /// its vector.
    pub fn index_counts(&self) -> Result<(u64, usize)> {
        if self.server.place() == fathom_store::LibraryPlace::ChromaOnly {
            let chunks = self.server.ledger_chunks()?;
            return Ok((chunks, chunks as usize));
        }
        let index = self.index()?;
        Ok((index.chunk_count(), index.vector_count()))
    }

    /// Hybrid search (BM25 fused with the query's vector) once an embedder is loaded; BM25 until
    /// then.
    pub fn search(&self, search: Search) -> Result<Vec<Hit>> {
        let passages = self.passages()?;
        let embed = self.query_embed();
        Ok(passages.search_embedding(
            &SearchQuery {
                text: search.text,
                folder: search.folder,
                exclude: Vec::new(),
                limit: search.limit.unwrap_or(50).min(MAX_RESULTS),
                vector: None,
            },
            &|text| match (embed.as_ref()?)(&[text]) {
                Ok(mut v) => v.pop(),
                Err(e) => {
                    log::warn!("embedding a query: {e}");
                    None
                }
            },
        )?)
    }

    /// Refuses paths outside the library: only library documents are ever opened or read.
    pub fn check_in_library(&self, path: &str) -> Result<()> {
        if lock(&self.library).covers(Path::new(path)) {
            Ok(())
        } else {
            Err(Error::NotAFolder(path.to_string()))
        }
    }

    /// A library document's text as indexed, chunk by chunk in order.
    pub fn read_document(&self, path: &str) -> Result<Vec<Hit>> {
        self.check_in_library(path)?;
        let doc = fathom_index::document_id(Path::new(path));
        let chunks = self.passages()?.read_document(&doc)?;
        if chunks.is_empty() {
            return Err(Error::Index(format!("{path} is not in the index (yet)")));
        }
        Ok(chunks)
    }

    /// Chunks whose text matches the regular expression `pattern`, in index order.
    pub fn grep(&self, pattern: &str, folder: Option<&str>, limit: usize) -> Result<Vec<Hit>> {
        Ok(self
            .passages()?
            .grep(pattern, folder, limit.clamp(1, MAX_RESULTS))?)
    }

    /// A document by its id (as search results give it), chunk by chunk in order. Only what the
    /// index holds can be named: an id is never read as a path.
    pub fn document(&self, id: &str) -> Result<Vec<Hit>> {
        let well_formed = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
        let chunks = if well_formed {
            self.passages()?.read_document(&id.to_ascii_lowercase())?
        } else {
            Vec::new()
        };
        if chunks.is_empty() {
            return Err(Error::Index(format!(
                "no document {id:?} in the library (ids come from search results)"
            )));
        }
        Ok(chunks)
    }

    // Semantic search.

    /// Dense search's state, where the background pass runs.
    pub fn semantic_status(&self) -> Option<SemanticStatus> {
        self.semantic.as_ref().map(|s| {
            let mut status = s.status();
            self.server.count_on_server(&mut status);
            status
        })
    }

    /// Where the semantic pass reports each change of its status.
    pub fn on_semantic_status(&self, listener: StatusListener) {
        *lock(&self.listener) = Some(listener);
    }

    /// Makes the embedder available when semantic search is on: loaded from the cache, or
    /// downloaded first. Runs in the background.
    pub fn ensure_embedder(&self) {
        let Some(semantic) = &self.semantic else {
            return;
        };
        if !lock(&self.settings).semantic_search {
            return;
        }
        match self.hub() {
            Ok(hub) => semantic.ensure(self.hub_cache.clone(), Some(hub)),
            Err(e) => {
                // Still loads a copy already in the cache; says why it cannot fetch one otherwise.
                semantic.ensure(self.hub_cache.clone(), None);
                semantic.fail(format!("cannot reach the model hub: {e}"));
            }
        }
    }

    /// Tries again after the embedder failed to download or load, or the vector pass failed.
    pub fn retry_semantic(&self) {
        self.ensure_embedder();
        if let Some(s) = &self.semantic {
            s.wake();
        }
    }

    /// Semantic search on (fetching the embedder if needed) or off (BM25 alone).
    pub fn set_semantic_search(&self, on: bool) -> Result<()> {
        self.update_settings(|s| s.semantic_search = on)?;
        if let Some(semantic) = &self.semantic {
            if on {
                semantic.turn_on();
                self.ensure_embedder();
            } else {
                semantic.turn_off();
            }
        }
        Ok(())
    }

    /// Pauses or resumes the background vector pass (BM25 search is unaffected).
    pub fn pause_semantic(&self, paused: bool) {
        if let Some(s) = &self.semantic {
            s.set_paused(paused);
        }
    }

    /// Keeps the background vector pass paused while indexing or the model runs: they come first.
    pub fn hold_vectors(&self) -> Option<fathom_semantic::Hold> {
        self.semantic.as_ref().map(|s| s.hold())
    }

    /// Embeds queries: the background pass's embedder once loaded; without a background pass, the
    /// embedder on disk (`FATHOM_EMBEDDER`, else the Hugging Face cache), loaded on first use.
    pub fn query_embed(&self) -> Option<Arc<Embed>> {
        self.query_embedder().map(fathom_semantic::embed_fn)
    }

    fn query_embedder(&self) -> Option<Arc<fathom_embed::SharedEmbedder>> {
        match &self.semantic {
            Some(s) => s.query_embedder(),
            None => self.local_embedder().cloned(),
        }
    }

    /// Vectors for `texts` as the library's passages are embedded (the weights as trained, not
    /// the quicker query encoder): what an API client stores must match the library's.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let embedder = self.query_embedder().ok_or_else(|| {
            Error::model(
                "The embedder is not here yet: turn on semantic search in Fathom, or run `fathom pull --embedder`.",
            )
        })?;
        embedder.embed(texts).map_err(|e| Error::Model {
            message: "The embedder could not read the text.".into(),
            detail: Some(e.to_string()),
        })
    }

    /// How many tokens the embedder reads of `texts` (all together).
    pub fn count_embedder_tokens(&self, texts: &[&str]) -> Result<usize> {
        let dir = self
            .embedder_dir()
            .ok_or_else(|| Error::model("The embedder is not here yet."))?;
        let counter = {
            let mut cached = lock(&self.embedder_tokens);
            match &*cached {
                Some((d, counter)) if *d == dir => counter.clone(),
                _ => {
                    let counter = Arc::new(
                        fathom_embed::TokenCounter::load(&dir)
                            .map_err(|e| Error::model(e.to_string()))?,
                    );
                    *cached = Some((dir, counter.clone()));
                    counter
                }
            }
        };
        counter
            .count(texts)
            .map_err(|e| Error::model(e.to_string()))
    }

    fn local_embedder(&self) -> Option<&Arc<fathom_embed::SharedEmbedder>> {
        self.local_embedder
            .get_or_init(|| {
                let dir = self.embedder_dir()?;
                match fathom_embed::SharedEmbedder::load_for_queries(&dir) {
                    Ok(e) => Some(Arc::new(e)),
                    Err(e) => {
                        log::warn!(
                            "the embedder in {} cannot be used ({e}); searching with BM25 only",
                            dir.display()
                        );
                        None
                    }
                }
            })
            .as_ref()
    }

    /// The embedder's folder, if it is on disk: `FATHOM_EMBEDDER`, else all-MiniLM-L6-v2 in the
    /// Hugging Face cache.
    pub fn embedder_dir(&self) -> Option<PathBuf> {
        let dir = match std::env::var_os("FATHOM_EMBEDDER") {
            Some(d) => PathBuf::from(d),
            None => fathom_semantic::installed_embedder(&self.hub_cache)?,
        };
        dir.join("model.safetensors").exists().then_some(dir)
    }

    /// The embedder as indexing runs it for passages (the copies side by side), for a library
    /// on a server alone.
    fn pass_embedder(&self) -> Result<Arc<Embed>> {
        let copies = self.pass_copies()?;
        Ok(Arc::new(move |texts: &[&str]| {
            fathom_semantic::embed_split(&copies, texts)
        }))
    }

    /// The semantic pass's copies when they are loaded (the app with semantic search on: each
    /// of the folder watcher's runs would otherwise load its own, a few hundred ms and the
    /// model's memory again), else copies loaded for this run.
    fn pass_copies(&self) -> Result<Arc<Vec<fathom_embed::SharedEmbedder>>> {
        if let Some(copies) = self.semantic.as_ref().and_then(|s| s.pass_embedder()) {
            return Ok(copies);
        }
        let dir = self.embedder_dir().ok_or_else(|| {
            Error::Index(
                "this library lives on a Chroma server, which needs every passage's vector, and \
                 the embedder is not here yet: turn on semantic search, or run `fathom pull \
                 --embedder`"
                    .into(),
            )
        })?;
        fathom_embed::single_threaded_blas();
        let copies =
            fathom_semantic::load_pass_copies(&dir).map_err(|e| Error::model(e.to_string()))?;
        Ok(Arc::new(copies))
    }

    /// Gives every chunk without a vector its vector, in the foreground (for faces without the
    /// background pass); nothing when no embedder is on disk. Each batch is stored as it is done,
    /// so a stopped pass resumes next time. Blocking.
    pub fn add_vectors(
        &self,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&fathom_index::vectors::VectorProgress),
    ) -> Result<Option<fathom_index::vectors::VectorReport>> {
        let Some(dir) = self.embedder_dir() else {
            return Ok(None);
        };
        if self.server.place() == fathom_store::LibraryPlace::ChromaOnly {
            // Indexing gave every passage its vector on the way to the server.
            return Ok(None);
        }
        let index = self.index()?;
        fathom_embed::single_threaded_blas();
        let copies =
            fathom_semantic::load_pass_copies(&dir).map_err(|e| Error::model(e.to_string()))?;
        let report = fathom_index::vectors::embed_pending(
            &index,
            &|texts| fathom_semantic::embed_split(&copies, texts),
            fathom_semantic::PASS_BATCH * copies.len(),
            stop,
            on_progress,
        )?;
        Ok(Some(report))
    }
}
