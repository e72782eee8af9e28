//! The BM25 index over chunks (tantivy), with the document state beside it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::chunk::Chunk;
use crate::dense::{rrf, Dense, NewVector};
use crate::state::{DocState, State, VectorOp};
use crate::IndexError;

const ANALYZER: &str = "fathom_en";
/// Bump when the schema, the analyzer or the chunking changes: an index of another version is
/// rebuilt. (2: 384-token chunks.)
const SCHEMA_VERSION: &str = "2";

#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    doc_id: Field,
    folder: Field,
    path: Field,
    title: Field,
    text: Field,
    chunk: Field,
    line: Field,
    page: Field,
}

/// A search over the library.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    /// Only chunks of this folder (its id in the library).
    pub folder: Option<String>,
    /// Chunk ids to leave out (what the agent has already seen).
    pub exclude: Vec<String>,
    pub limit: usize,
    /// The query's embedding: when given (and the index holds vectors), BM25 and dense results
    /// are fused by reciprocal rank.
    pub vector: Option<Vec<f32>>,
}

impl SearchQuery {
    /// How deep a list each side of a hybrid search contributes; fusion picks the final `limit`.
    pub fn depth(&self) -> usize {
        (self.limit * 2).max(100)
    }
}

/// One matching chunk.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub chunk_id: String,
    pub doc_id: String,
    pub folder: String,
    pub path: String,
    /// The chunk's position in its document.
    pub chunk: u32,
    pub score: f32,
    pub text: String,
    /// 1-based line where the chunk starts (text formats), for opening the file there.
    pub line: u32,
    /// 1-based page where the chunk starts (PDF, slides), 0 when the format has none.
    pub page: u32,
}

/// A document ready to index: its chunks and where each starts.
pub struct DocumentChunks<'a> {
    pub doc_id: &'a str,
    pub folder: &'a str,
    pub path: &'a str,
    pub title: &'a str,
    pub chunks: &'a [Chunk],
    pub lines: &'a [u32],
    pub pages: &'a [u32],
    /// One embedding per chunk, when an embedder ran.
    pub vectors: Option<&'a [Vec<f32>]>,
}

pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    /// Taken on the first write: readers (search, status) never hold tantivy's writer lock, so
    /// they work while another process indexes.
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    pub(crate) state: Mutex<State>,
    dense: Mutex<Dense>,
    /// Vector changes since the last `record`, applied with the document state.
    pending: Mutex<Vec<VectorOp>>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Term frequencies without positions: BM25 needs the frequencies, and nothing reads
    // positions (a query is plain words, each one token of this analyzer, so the parser never
    // makes a phrase query). Without them a million chunks' index is 90 MB (13 %) smaller, and
    // recording, writing and merging them goes. Indexes written with positions (before) open,
    // index and search as they are: the schema is read from the index.
    let text_opts = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
        .set_stored();
    let fields = Fields {
        // Stored, not indexed: a chunk is found by its document's term and its number (the id
        // is `{doc_id}:{chunk}`, see `crate::chunk_id`); a unique term per chunk was the bulk of
        // the term dictionary, built per segment and again at each merge.
        chunk_id: b.add_text_field("chunk_id", STORED),
        doc_id: b.add_text_field("doc_id", STRING | STORED),
        folder: b.add_text_field("folder", STRING | STORED),
        // Stored, not indexed: nothing looks a chunk up by its path, and a unique term per
        // file only made the term dictionary bigger to build and merge.
        path: b.add_text_field("path", STORED),
        title: b.add_text_field("title", text_opts.clone()),
        text: b.add_text_field("text", text_opts),
        chunk: b.add_u64_field("chunk", STORED | INDEXED | FAST),
        line: b.add_u64_field("line", STORED),
        page: b.add_u64_field("page", STORED),
    };
    (b.build(), fields)
}

/// The searcher's segments, most live documents first: a chunk is found in the first segment
/// that holds it alive, and merged segments hold most of a library, so fusion's reads look in
/// fewer segments on average than in tantivy's order (a million chunks indexed in one run:
/// 14 segments of 40,000 to 105,000 documents).
fn segments_by_size(searcher: &tantivy::Searcher) -> Vec<usize> {
    let readers = searcher.segment_readers();
    let mut order: Vec<usize> = (0..readers.len()).collect();
    order.sort_by_key(|&ord| std::cmp::Reverse(readers[ord].num_docs()));
    order
}

/// Tantivy's indexing memory, shared by its threads: each flushes a segment when its share is
/// full, and every segment is merged later. 64 MB made segments of a few thousand chunks and
/// spent a sixth of indexing's CPU merging them; with this much, a library's first run writes
/// a segment per thread every few hundred MB of text. Held only while a writer is open.
const WRITER_BYTES: usize = 256_000_000;

/// Segments are merged sixteen of a size at a time, not tantivy's default eight. A merge
/// rewrites every chunk it takes in; with eight, a million chunks committed in batches were
/// rewritten about twice on the way (the last merge took 650,000 of them) and merging was a fifth
/// of indexing's CPU (perf, `fathom index add`, 1M chunks); with sixteen, about once, and 1M
/// chunks end in as many segments (10 against 9), so searches look in no more of them.
fn merge_policy() -> tantivy::indexer::LogMergePolicy {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_num_segments(16);
    policy
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How an index is opened.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Vectors from which dense search uses the HNSW graph instead of the exact scan.
    pub exact_below: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            exact_below: crate::dense::EXACT_BELOW,
        }
    }
}

/// The saved HNSW graph, beside the BM25 index.
const GRAPH_FILE: &str = "vectors.usearch";

impl SearchIndex {
    /// Opens the index in `dir` (creating it). An index written by another schema version, or one
    /// that cannot be opened, is set aside and rebuilt: the files are the source of truth.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        Self::open_with(dir, &OpenOptions::default())
    }

    /// [`SearchIndex::open`] with options.
    pub fn open_with(dir: &Path, options: &OpenOptions) -> Result<Self, IndexError> {
        let io = |path: &Path, source| IndexError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let tdir = dir.join("tantivy");
        let version_file = dir.join("schema-version");
        let version = std::fs::read_to_string(&version_file).unwrap_or_default();
        let (schema, fields) = schema();
        let fresh = |tdir: &Path| -> Result<Index, IndexError> {
            let _ = std::fs::remove_dir_all(tdir);
            let _ = std::fs::remove_file(dir.join("state.sqlite"));
            let _ = std::fs::remove_file(dir.join("state.sqlite-wal"));
            let _ = std::fs::remove_file(dir.join("state.sqlite-shm"));
            std::fs::create_dir_all(tdir).map_err(|e| io(tdir, e))?;
            std::fs::write(&version_file, SCHEMA_VERSION).map_err(|e| io(&version_file, e))?;
            Ok(Index::create_in_dir(tdir, schema.clone())?)
        };
        let index = if version.trim() != SCHEMA_VERSION || !tdir.join("meta.json").exists() {
            fresh(&tdir)?
        } else {
            match Index::open_in_dir(&tdir) {
                Ok(i) => i,
                Err(_) => fresh(&tdir)?,
            }
        };
        index
            .tokenizers()
            .register(ANALYZER, crate::analyzer::english());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let state = State::open(&dir.join("state.sqlite"))?;
        let dense = Dense::open(&state, &dir.join(GRAPH_FILE), options.exact_below)?;
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            state: Mutex::new(state),
            dense: Mutex::new(dense),
            pending: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let mut slot = lock(&self.writer);
        if slot.is_none() {
            let writer: IndexWriter = self.index.writer(WRITER_BYTES)?;
            writer.set_merge_policy(Box::new(merge_policy()));
            *slot = Some(writer);
        }
        f(slot.as_mut().expect("just set"))
    }

    /// Replaces a document's chunks (not visible until `commit`; vectors until `record`).
    pub fn put_document(&self, d: &DocumentChunks<'_>) -> Result<(), IndexError> {
        {
            let mut pending = lock(&self.pending);
            pending.push(VectorOp::Delete(d.doc_id.to_string()));
            if let Some(vectors) = d.vectors {
                for (c, v) in d.chunks.iter().zip(vectors) {
                    pending.push(VectorOp::Put {
                        doc_id: d.doc_id.to_string(),
                        folder: d.folder.to_string(),
                        chunk_id: crate::chunk_id(d.doc_id, c.index),
                        vector: v.clone(),
                    });
                }
            }
        }
        let f = self.fields;
        self.with_writer(|writer| {
            writer.delete_term(Term::from_field_text(f.doc_id, d.doc_id));
            for (i, c) in d.chunks.iter().enumerate() {
                writer.add_document(doc!(
                    f.chunk_id => crate::chunk_id(d.doc_id, c.index),
                    f.doc_id => d.doc_id,
                    f.folder => d.folder,
                    f.path => d.path,
                    f.title => d.title,
                    f.text => c.text.as_str(),
                    f.chunk => c.index as u64,
                    f.line => d.lines.get(i).copied().unwrap_or(1) as u64,
                    f.page => d.pages.get(i).copied().unwrap_or(0) as u64,
                ))?;
            }
            Ok(())
        })
    }

    pub fn delete_document(&self, doc_id: &str) -> Result<(), IndexError> {
        lock(&self.pending).push(VectorOp::Delete(doc_id.to_string()));
        self.with_writer(|w| {
            w.delete_term(Term::from_field_text(self.fields.doc_id, doc_id));
            Ok(())
        })
    }

    /// Makes everything written so far durable and searchable.
    pub fn commit(&self) -> Result<(), IndexError> {
        self.with_writer(|w| Ok(w.commit()?))?;
        self.reader.reload()?;
        Ok(())
    }

    /// After `commit`: records documents as indexed (or failed), forgets removed ones, and stores
    /// the pending vectors, in one transaction; then makes the vectors searchable.
    pub fn record(&self, docs: &[DocState], forget: &[String]) -> Result<(), IndexError> {
        let ops = std::mem::take(&mut *lock(&self.pending));
        // Held until memory matches the database (see `add_vectors`).
        let mut state = lock(&self.state);
        let seqs = state.apply(docs, forget, &ops)?;
        let mut dense = lock(&self.dense);
        // Every document whose vectors go, in one pass; then this batch's new vectors.
        let gone: std::collections::HashSet<&str> = forget
            .iter()
            .map(String::as_str)
            .chain(docs.iter().map(|d| d.doc_id.as_str()))
            .chain(ops.iter().filter_map(|op| match op {
                VectorOp::Delete(doc) => Some(doc.as_str()),
                VectorOp::Put { .. } => None,
            }))
            .collect();
        dense.remove_docs(&gone).map_err(IndexError::Vectors)?;
        let puts = ops.iter().filter_map(|op| match op {
            VectorOp::Delete(_) => None,
            VectorOp::Put {
                doc_id,
                folder,
                chunk_id,
                vector,
            } => Some((doc_id, folder, chunk_id, vector)),
        });
        let items: Vec<NewVector<'_>> = puts
            .zip(seqs)
            .map(|((doc_id, folder, chunk_id, vector), seq)| NewVector {
                seq,
                chunk_id,
                doc_id,
                folder,
                vector,
            })
            .collect();
        dense.insert_many(&items).map_err(IndexError::Vectors)?;
        Ok(())
    }

    /// Saves the vector graph when it changed since its last save (a large library's vectors;
    /// below the graph's size there is nothing to save). Called after an indexing run and a
    /// vector pass, and when the index closes; what a kill loses in between is caught up from
    /// SQLite at the next open.
    pub fn save_vectors(&self) -> Result<(), IndexError> {
        // Changes wait while the graph is written (they are not safe during usearch's save).
        let _state = lock(&self.state);
        lock(&self.dense)
            .save(&self.dir.join(GRAPH_FILE))
            .map_err(IndexError::Vectors)
    }

    /// Saves the graph once enough changed that catching up at the next open would take a while
    /// (a few thousand vectors from SQLite cost well under a second; saving a large graph more).
    pub fn save_vectors_if_due(&self) -> Result<(), IndexError> {
        if self.unsaved_vectors() >= 10_000 {
            self.save_vectors()?;
        }
        Ok(())
    }

    /// Vector changes the saved graph lacks.
    pub fn unsaved_vectors(&self) -> usize {
        lock(&self.dense).unsaved()
    }

    /// Whether dense search uses the graph (the library is past the exact scan's size).
    pub fn vectors_use_graph(&self) -> bool {
        lock(&self.dense).is_graph()
    }

    /// Candidates the graph keeps while searching, for dense search alone and for hybrid
    /// search's dense side, to tune recall against latency (`fathom search-bench
    /// --generated-chunks`); reset to the defaults at every open.
    pub fn set_graph_expansion(&self, alone: usize, fused: usize) {
        lock(&self.dense).set_graph_expansion(alone, fused);
    }

    /// Bytes dense search holds in memory.
    pub fn vector_memory_bytes(&self) -> usize {
        lock(&self.dense).memory_bytes()
    }

    /// Dense retrieval alone: (chunk id, cosine), best first.
    pub fn dense_top(&self, vector: &[f32], k: usize, folder: Option<&str>) -> Vec<(String, f32)> {
        self.dense_search(vector, k, folder, &[])
    }

    /// [`SearchIndex::dense_top`] leaving out `exclude` (chunk ids) before the top `k` is taken.
    pub fn dense_search(
        &self,
        vector: &[f32],
        k: usize,
        folder: Option<&str>,
        exclude: &[String],
    ) -> Vec<(String, f32)> {
        lock(&self.dense).top(vector, k, folder, exclude)
    }

    /// Indexed documents that have chunks without vectors, with how many lack one.
    pub fn documents_missing_vectors(&self) -> Result<Vec<(DocState, usize)>, IndexError> {
        let docs = lock(&self.state).all()?;
        let dense = lock(&self.dense);
        let counts = dense.doc_counts();
        Ok(docs
            .into_iter()
            .filter(|d| d.status == crate::DocStatus::Indexed)
            .filter_map(|d| {
                let have = counts.get(d.doc_id.as_str()).copied().unwrap_or(0);
                let missing = (d.chunks as usize).saturating_sub(have);
                (missing > 0).then_some((d, missing))
            })
            .collect())
    }

    /// The chunks of a document that have no vector yet, in order.
    pub fn chunks_missing_vectors(&self, doc_id: &str) -> Result<Vec<Hit>, IndexError> {
        let chunks = self.read_document(doc_id)?;
        let dense = lock(&self.dense);
        Ok(chunks
            .into_iter()
            .filter(|h| !dense.contains(&h.chunk_id))
            .collect())
    }

    /// Adds vectors for chunks of `doc` (stored, then searchable), unless the document changed
    /// since `doc` was read: then nothing is stored and `false` comes back.
    pub fn add_vectors(
        &self,
        doc: &DocState,
        vectors: &[(String, Vec<f32>)],
    ) -> Result<bool, IndexError> {
        // The state lock is held until the vectors are in memory too, so a `record` that
        // replaces this document cannot run in between and leave stale vectors searchable.
        let mut state = lock(&self.state);
        let Some(seqs) = state.put_vectors_if_current(doc, vectors)? else {
            return Ok(false);
        };
        let mut dense = lock(&self.dense);
        for ((chunk_id, v), seq) in vectors.iter().zip(seqs) {
            dense
                .insert(seq, chunk_id, &doc.doc_id, &doc.folder, v)
                .map_err(IndexError::Vectors)?;
        }
        Ok(true)
    }

    /// A document's stored vectors, by chunk id (what a library copied to a server re-uses).
    pub fn document_vectors(&self, doc_id: &str) -> Result<Vec<(String, Vec<f32>)>, IndexError> {
        Ok(lock(&self.state).document_vectors(doc_id)?)
    }

    /// Chunks with vectors.
    pub fn vector_count(&self) -> usize {
        lock(&self.dense).len()
    }

    pub fn chunk_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Hit {
        let f = self.fields;
        let s = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let n = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        Hit {
            chunk_id: s(f.chunk_id),
            doc_id: s(f.doc_id),
            folder: s(f.folder),
            path: s(f.path),
            chunk: n(f.chunk),
            score,
            text: s(f.text),
            line: n(f.line),
            page: n(f.page),
        }
    }

    /// BM25, fused with dense retrieval by reciprocal rank when the query carries a vector and
    /// the index holds vectors. The two lists are made side by side.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<Hit>, IndexError> {
        let Some(vector) = q.vector.as_ref().filter(|_| self.vector_count() > 0) else {
            return self.bm25(q);
        };
        let (lexical, dense) = std::thread::scope(|s| {
            let dense = s.spawn(|| self.dense_list(q, vector));
            let lexical = self.bm25(&SearchQuery {
                limit: q.depth(),
                ..q.clone()
            });
            (lexical, dense.join())
        });
        let dense = dense.map_err(|_| IndexError::Vectors("the dense search failed".into()))?;
        self.fuse(q, lexical?, dense)
    }

    /// `search` with the query's vector computed by `embed` first (`None`: BM25 alone), then
    /// BM25 beside the dense walk. Not BM25 beside the embedding: the query encoder takes the
    /// cores while it runs (`fathom_embed::query_threads`), and a thread beside it stalls its
    /// steps; BM25's list (p95 2 to 3 ms at a million chunks) is no longer than the walk anyway.
    pub fn search_embedding(
        &self,
        q: &SearchQuery,
        embed: impl FnOnce(&str) -> Option<Vec<f32>>,
    ) -> Result<Vec<Hit>, IndexError> {
        if self.vector_count() == 0 {
            return self.bm25(q);
        }
        match embed(&q.text) {
            Some(vector) => self.search(&SearchQuery {
                vector: Some(vector),
                ..q.clone()
            }),
            None => self.bm25(q),
        }
    }

    /// The dense side of a hybrid search: as deep as BM25's list, same folder and exclusions,
    /// from a shorter graph walk than dense search alone (see [`crate::ann::EXPANSION_FUSED`]).
    fn dense_list(&self, q: &SearchQuery, vector: &[f32]) -> Vec<(String, f32)> {
        lock(&self.dense).top_fused(vector, q.depth(), q.folder.as_deref(), &q.exclude)
    }

    /// BM25's deep list and the dense one, fused by reciprocal rank; hits only the dense side
    /// found are read from the index.
    fn fuse(
        &self,
        q: &SearchQuery,
        lexical: Vec<Hit>,
        dense: Vec<(String, f32)>,
    ) -> Result<Vec<Hit>, IndexError> {
        let fused = rrf(
            &[
                lexical.iter().map(|h| h.chunk_id.clone()).collect(),
                dense.iter().map(|d| d.0.clone()).collect(),
            ],
            60.0,
        );
        let mut known: std::collections::HashMap<String, Hit> = lexical
            .into_iter()
            .map(|h| (h.chunk_id.clone(), h))
            .collect();
        let searcher = self.reader.searcher();
        let by_size = segments_by_size(&searcher);
        let mut columns = vec![None; searcher.segment_readers().len()];
        let mut out = Vec::with_capacity(q.limit);
        for (id, score) in fused.into_iter().take(q.limit) {
            let hit = match known.remove(&id) {
                Some(h) => h,
                None => match self.find_chunk(&searcher, &by_size, &mut columns, &id)? {
                    Some(addr) => self.hit(&searcher.doc(addr)?, 0.0),
                    None => continue,
                },
            };
            out.push(Hit { score, ..hit });
        }
        Ok(out)
    }

    /// Where a chunk is, straight from its document's postings and the chunk number's fast
    /// field: a search would build a scorer and BM25 statistics over every segment for each of
    /// fusion's dense-only hits. `segments` is the order to look in ([`segments_by_size`]);
    /// `columns` keeps each segment's chunk-number column once opened (opening one per lookup
    /// made a hybrid search over a fresh index's many segments half again slower).
    fn find_chunk(
        &self,
        searcher: &tantivy::Searcher,
        segments: &[usize],
        columns: &mut [Option<tantivy::columnar::Column<u64>>],
        chunk_id: &str,
    ) -> Result<Option<tantivy::DocAddress>, IndexError> {
        use tantivy::DocSet;
        let Some((doc_id, chunk)) = crate::split_chunk_id(chunk_id) else {
            return Ok(None);
        };
        let term = Term::from_field_text(self.fields.doc_id, doc_id);
        let readers = searcher.segment_readers();
        for (ord, segment) in segments.iter().map(|&ord| (ord, &readers[ord])) {
            let postings = segment
                .inverted_index(self.fields.doc_id)?
                .read_postings(&term, IndexRecordOption::Basic)
                .map_err(tantivy::TantivyError::from)?;
            let Some(mut postings) = postings else {
                continue;
            };
            let chunks = match &columns[ord] {
                Some(c) => c.clone(),
                None => {
                    let c = segment.fast_fields().u64("chunk")?;
                    columns[ord] = Some(c.clone());
                    c
                }
            };
            let mut doc = postings.doc();
            while doc != tantivy::TERMINATED {
                if !segment.is_deleted(doc) && chunks.first(doc) == Some(chunk) {
                    return Ok(Some(tantivy::DocAddress::new(ord as u32, doc)));
                }
                doc = postings.advance();
            }
        }
        Ok(None)
    }

    /// A query for one chunk by its document's term and its number (chunk ids are not indexed).
    fn chunk_query(&self, chunk_id: &str) -> Option<Box<dyn Query>> {
        let (doc_id, chunk) = crate::split_chunk_id(chunk_id)?;
        let f = self.fields;
        Some(Box::new(BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.doc_id, doc_id),
                    IndexRecordOption::Basic,
                )) as Box<dyn Query>,
            ),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.chunk, chunk),
                    IndexRecordOption::Basic,
                )),
            ),
        ])))
    }

    /// BM25 over chunk text and file names.
    pub fn bm25(&self, q: &SearchQuery) -> Result<Vec<Hit>, IndexError> {
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.text, f.title]);
        parser.set_field_boost(f.title, 0.5);
        // A person's query is words, not query syntax: punctuation (colons, quotes, brackets) and
        // operators (AND, NOT, which the parser knows only in capitals) are taken as plain text.
        let words: String = q
            .text
            .chars()
            .map(|c| {
                if c.is_alphanumeric() {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    ' '
                }
            })
            .collect();
        let (text_query, _) = parser.parse_query_lenient(&words);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query)];
        if let Some(folder) = &q.folder {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.folder, folder),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        // An id not of this index's making names no chunk here: nothing to leave out.
        for query in q.exclude.iter().filter_map(|id| self.chunk_query(id)) {
            clauses.push((Occur::MustNot, query));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(q.limit.max(1)).order_by_score(),
        )?;
        top.into_iter()
            .map(|(score, addr)| Ok(self.hit(&searcher.doc(addr)?, score)))
            .collect()
    }

    /// A whole document, chunk by chunk in order.
    pub fn read_document(&self, doc_id: &str) -> Result<Vec<Hit>, IndexError> {
        let query = TermQuery::new(
            Term::from_field_text(self.fields.doc_id, doc_id),
            IndexRecordOption::Basic,
        );
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(100_000).order_by_score())?;
        let mut hits: Vec<Hit> = top
            .into_iter()
            .map(|(_, addr)| Ok(self.hit(&searcher.doc(addr)?, 0.0)))
            .collect::<Result<_, IndexError>>()?;
        hits.sort_by_key(|h| h.chunk);
        Ok(hits)
    }

    /// Chunks whose text matches a regular expression, in index order, up to `limit`.
    pub fn grep(
        &self,
        pattern: &str,
        folder: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| IndexError::Query(format!("bad pattern: {e}")))?;
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(64).map_err(|e| IndexError::Io {
                path: self.dir.display().to_string(),
                source: e,
            })?;
            let alive = segment.alive_bitset();
            for id in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(id)) {
                    continue;
                }
                let doc: TantivyDocument = store.get(id)?;
                let hit = self.hit(&doc, 0.0);
                if folder.is_some_and(|f| f != hit.folder) {
                    continue;
                }
                if re.is_match(&hit.text) {
                    out.push(hit);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }
}

impl crate::Passages for SearchIndex {
    fn search_embedding(
        &self,
        q: &SearchQuery,
        embed: &(dyn Fn(&str) -> Option<Vec<f32>> + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        SearchIndex::search_embedding(self, q, embed)
    }

    fn grep(
        &self,
        pattern: &str,
        folder: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        SearchIndex::grep(self, pattern, folder, limit)
    }

    fn read_document(&self, doc_id: &str) -> Result<Vec<Hit>, IndexError> {
        SearchIndex::read_document(self, doc_id)
    }
}

impl Drop for SearchIndex {
    /// The graph is saved on the way out, so the next open need not catch it up.
    fn drop(&mut self) {
        let _ = self.save_vectors();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments left after `commits` commits of one document each, merges finished.
    fn segments_after(commits: usize) -> usize {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        index
            .tokenizers()
            .register(ANALYZER, crate::analyzer::english());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(merge_policy()));
        for i in 0..commits {
            writer
                .add_document(doc!(fields.chunk_id => format!("d:{i}")))
                .unwrap();
            writer.commit().unwrap();
        }
        writer.wait_merging_threads().unwrap();
        index.searchable_segment_ids().unwrap().len()
    }

    /// The schema before term positions and the path's terms were dropped.
    fn schema_with_positions() -> Schema {
        let mut b = Schema::builder();
        let text_opts = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        b.add_text_field("chunk_id", STRING | STORED);
        b.add_text_field("doc_id", STRING | STORED);
        b.add_text_field("folder", STRING | STORED);
        b.add_text_field("path", STRING | STORED);
        b.add_text_field("title", text_opts.clone());
        b.add_text_field("text", text_opts);
        b.add_u64_field("chunk", STORED | INDEXED | FAST);
        b.add_u64_field("line", STORED);
        b.add_u64_field("page", STORED);
        b.build()
    }

    #[test]
    fn new_indexes_keep_no_positions_and_old_ones_still_open_and_search() {
        // A new index: frequencies (BM25) without positions, the path stored only.
        let dir = tempfile::tempdir().unwrap();
        let fresh = SearchIndex::open(&dir.path().join("new")).unwrap();
        let schema = fresh.index.schema();
        let text = schema.get_field_entry(fresh.fields.text);
        let indexing = text.field_type().get_index_record_option();
        assert_eq!(indexing, Some(IndexRecordOption::WithFreqs));
        assert!(!schema.get_field_entry(fresh.fields.path).is_indexed());
        assert!(!schema.get_field_entry(fresh.fields.chunk_id).is_indexed());

        // An index written before, with one document in it, under the same schema version.
        let old = dir.path().join("old");
        let tdir = old.join("tantivy");
        std::fs::create_dir_all(&tdir).unwrap();
        std::fs::write(old.join("schema-version"), SCHEMA_VERSION).unwrap();
        {
            let index = Index::create_in_dir(&tdir, schema_with_positions()).unwrap();
            index
                .tokenizers()
                .register(ANALYZER, crate::analyzer::english());
            let s = index.schema();
            let f = |name: &str| s.get_field(name).unwrap();
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            writer
                .add_document(doc!(
                    f("chunk_id") => "old:0", f("doc_id") => "old", f("folder") => "f",
                    f("path") => "/f/old.txt", f("title") => "old.txt",
                    f("text") => "apples from the old orchard", f("chunk") => 0u64,
                    f("line") => 1u64, f("page") => 0u64,
                ))
                .unwrap();
            writer.commit().unwrap();
        }
        let index = SearchIndex::open(&old).unwrap();
        // Kept as it was (not set aside and rebuilt), positions and all.
        let schema = index.index.schema();
        let indexing = schema
            .get_field_entry(index.fields.text)
            .field_type()
            .get_index_record_option();
        assert_eq!(indexing, Some(IndexRecordOption::WithFreqsAndPositions));
        let chunks = crate::chunk::Chunker::default().chunk("apples and pears from the new field");
        index
            .put_document(&DocumentChunks {
                doc_id: "new",
                folder: "f",
                path: "/f/new.txt",
                title: "new.txt",
                chunks: &chunks,
                lines: &[1],
                pages: &[0],
                vectors: None,
            })
            .unwrap();
        index.commit().unwrap();
        let found = |text: &str| -> Vec<String> {
            let mut ids: Vec<String> = index
                .search(&SearchQuery {
                    text: text.into(),
                    limit: 10,
                    ..SearchQuery::default()
                })
                .unwrap()
                .into_iter()
                .map(|h| h.doc_id)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found("apples"), ["new", "old"]);
        assert_eq!(found("orchard"), ["old"]);
        assert_eq!(found("pears"), ["new"]);
        assert_eq!(index.read_document("old").unwrap()[0].path, "/f/old.txt");
        assert_eq!(index.grep("new field", None, 10).unwrap()[0].doc_id, "new");
        // Leaving a chunk out works on either schema (by its document and number).
        let apples = |exclude: Vec<String>| -> Vec<String> {
            index
                .search(&SearchQuery {
                    text: "apples".into(),
                    limit: 10,
                    exclude,
                    ..SearchQuery::default()
                })
                .unwrap()
                .into_iter()
                .map(|h| h.chunk_id)
                .collect()
        };
        assert_eq!(apples(vec!["old:0".into()]), ["new:0"]);
        assert_eq!(apples(vec!["new:0".into(), "old:1".into()]), ["old:0"]);
        assert_eq!(apples(vec!["not an id".into()]).len(), 2);
        // Replacing the old document removes its chunks (by its doc id's term).
        index.delete_document("old").unwrap();
        index.commit().unwrap();
        assert_eq!(found("apples"), ["new"]);
    }

    #[test]
    fn segments_are_merged_sixteen_at_a_time() {
        // Tantivy's default would have merged the first eight long before the fifteenth.
        assert_eq!(segments_after(15), 15);
        assert_eq!(segments_after(16), 1);
    }
}
