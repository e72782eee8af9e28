//! Dense vectors for chunks, for the dense half of hybrid search. SQLite (beside the document
//! state, written in the same transactions) holds every vector and is the truth; memory holds
//! what a query needs. Below [`EXACT_BELOW`] vectors that is one matrix, scanned exactly (a few
//! milliseconds on two cores, exact, nothing to tune); from there on an HNSW graph
//! ([`crate::ann`]), whose cost grows with the logarithm of the library, not its size.
//!
//! The graph is saved beside the BM25 index and caught up from SQLite when opened: vectors added
//! since the save go in, vectors deleted since come out (keys are SQLite seqs, never reused), so
//! a kill at any point costs at worst the work since the last save, redone from SQLite, and a
//! search never returns a row SQLite no longer holds (results are checked against the rows).

use std::collections::HashSet;
use std::path::Path;

use crate::ann::Graph;
use crate::state::VectorRow;

/// The maps from ids to rows, read on every step of a graph walk's filter and for every result:
/// foldhash, not the standard library's DoS-resistant SipHash (the keys are Fathom's own).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Vectors from which the graph answers instead of the exact scan. Below it the two-core scan
/// costs a few milliseconds at most, exactly; `fathom search-bench --generated-chunks 100000`
/// measured the scan at 11.5 ms p95 over 100k vectors and the graph at 3.8 ms.
pub const EXACT_BELOW: usize = 20_000;

/// One vector's identity: its SQLite seq (the graph's key) and its chunk, as (document, index in
/// the document) with the document interned: sixteen bytes a row, not three strings.
#[derive(Clone, Copy)]
struct Row {
    seq: u64,
    doc: u32,
    chunk: u32,
}

struct Doc {
    id: String,
    folder: u32,
    rows: u32,
}

enum Store {
    /// Row `i`'s vector at `i * dim`.
    Matrix(Vec<f32>),
    Graph(Graph),
}

pub struct Dense {
    dim: usize,
    rows: Vec<Row>,
    docs: Vec<Doc>,
    doc_of: HashMap<String, u32>,
    folders: Vec<String>,
    folder_of: HashMap<String, u32>,
    /// Rows per folder, to tell a narrow filter (scanned exactly) from a wide one.
    folder_rows: Vec<usize>,
    by_seq: HashMap<u64, u32>,
    by_chunk: HashMap<(u32, u32), u32>,
    store: Store,
    exact_below: usize,
    /// Changes since the graph was last saved.
    unsaved: usize,
    /// Candidates the graph keeps: searching alone, and for a hybrid search.
    expansion: (usize, usize),
}

impl Default for Dense {
    fn default() -> Self {
        Self::new(EXACT_BELOW)
    }
}

/// A vector to add, stored in SQLite under `seq`.
pub struct NewVector<'a> {
    pub seq: u64,
    pub chunk_id: &'a str,
    pub doc_id: &'a str,
    pub folder: &'a str,
    pub vector: &'a [f32],
}

/// (document id, index) of a chunk id `document:index`.
fn split_chunk_id(chunk_id: &str) -> Option<(&str, u32)> {
    let (doc, index) = chunk_id.rsplit_once(':')?;
    Some((doc, index.parse().ok()?))
}

impl Dense {
    /// Empty, switching from the exact scan to the graph at `exact_below` vectors.
    pub fn new(exact_below: usize) -> Self {
        Dense {
            dim: 0,
            rows: Vec::new(),
            docs: Vec::new(),
            doc_of: HashMap::default(),
            folders: Vec::new(),
            folder_of: HashMap::default(),
            folder_rows: Vec::new(),
            by_seq: HashMap::default(),
            by_chunk: HashMap::default(),
            store: Store::Matrix(Vec::new()),
            exact_below,
            unsaved: 0,
            expansion: (crate::ann::EXPANSION_SEARCH, crate::ann::EXPANSION_FUSED),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the graph answers (rather than the exact scan).
    pub fn is_graph(&self) -> bool {
        matches!(self.store, Store::Graph(_))
    }

    /// Candidates the graph keeps while searching, alone and for a hybrid search (see
    /// [`crate::ann::EXPANSION_SEARCH`], [`crate::ann::EXPANSION_FUSED`]); no effect on the
    /// exact scan.
    pub fn set_graph_expansion(&mut self, alone: usize, fused: usize) {
        self.expansion = (alone.max(1), fused.max(1));
    }

    /// [`Dense::top`] for fusion with BM25: the graph keeps fewer candidates.
    pub fn top_fused(
        &self,
        query: &[f32],
        k: usize,
        folder: Option<&str>,
        exclude: &[String],
    ) -> Vec<(String, f32)> {
        self.top_with(self.expansion.1, query, k, folder, exclude)
    }

    /// Bytes held for search: the vectors (matrix or graph) and the rows' ids.
    pub fn memory_bytes(&self) -> usize {
        let store = match &self.store {
            Store::Matrix(m) => m.capacity() * 4,
            Store::Graph(g) => g.memory_bytes(),
        };
        let rows = self.rows.capacity() * std::mem::size_of::<Row>();
        // A hash map entry: key, value and a control byte, at most 7/8 full.
        let maps = (self.by_seq.capacity() * 13 + self.by_chunk.capacity() * 13) * 8 / 7;
        let docs: usize = self.docs.iter().map(|d| d.id.capacity() + 60).sum();
        store + rows + maps + docs
    }

    fn intern_doc(&mut self, doc_id: &str, folder: &str) -> u32 {
        let folder = match self.folder_of.get(folder) {
            Some(&f) => f,
            None => {
                let f = self.folders.len() as u32;
                self.folders.push(folder.to_string());
                self.folder_rows.push(0);
                self.folder_of.insert(folder.to_string(), f);
                f
            }
        };
        match self.doc_of.get(doc_id) {
            Some(&d) => {
                // All of a document's rows are in one folder: a move takes its rows along.
                let doc = &mut self.docs[d as usize];
                if doc.folder != folder {
                    self.folder_rows[doc.folder as usize] -= doc.rows as usize;
                    self.folder_rows[folder as usize] += doc.rows as usize;
                    doc.folder = folder;
                }
                d
            }
            None => {
                let d = self.docs.len() as u32;
                self.docs.push(Doc {
                    id: doc_id.to_string(),
                    folder,
                    rows: 0,
                });
                self.doc_of.insert(doc_id.to_string(), d);
                d
            }
        }
    }

    fn row_folder(&self, row: usize) -> u32 {
        self.docs[self.rows[row].doc as usize].folder
    }

    /// Adds (or replaces) the vector of `chunk_id`, stored in SQLite under `seq`.
    pub fn insert(
        &mut self,
        seq: u64,
        chunk_id: &str,
        doc_id: &str,
        folder: &str,
        v: &[f32],
    ) -> Result<(), String> {
        if self.dim == 0 {
            self.dim = v.len();
        }
        if v.len() != self.dim || v.is_empty() {
            return Err(format!(
                "a vector of {} dimensions in an index of {}",
                v.len(),
                self.dim
            ));
        }
        let Some((_, chunk)) = split_chunk_id(chunk_id) else {
            return Err(format!("not a chunk id: {chunk_id}"));
        };
        let doc = self.intern_doc(doc_id, folder);
        self.unsaved += 1;
        if let Some(&row) = self.by_chunk.get(&(doc, chunk)) {
            let row = row as usize;
            let old = self.rows[row].seq;
            self.by_seq.remove(&old);
            self.by_seq.insert(seq, row as u32);
            self.rows[row].seq = seq;
            match &mut self.store {
                Store::Matrix(m) => m[row * self.dim..(row + 1) * self.dim].copy_from_slice(v),
                Store::Graph(g) => {
                    g.remove(old)?;
                    g.add(seq, v)?;
                }
            }
            return Ok(());
        }
        if let Store::Graph(g) = &self.store {
            // Into the graph first: a failure leaves the rows as they were.
            g.add(seq, v)?;
        }
        self.push_row(Row { seq, doc, chunk });
        if let Store::Matrix(m) = &mut self.store {
            m.extend_from_slice(v);
        }
        if self.rows.len() >= self.exact_below && !self.is_graph() {
            self.switch_to_graph()?;
        }
        Ok(())
    }

    /// [`Dense::insert`] for many vectors: in the graph, new chunks are added on all cores (an
    /// indexing batch of a large library brings thousands).
    pub fn insert_many(&mut self, items: &[NewVector<'_>]) -> Result<(), String> {
        let mut chunks = HashSet::new();
        let parallel = self.is_graph()
            && items.len() >= 1024
            && items.iter().all(|it| {
                it.vector.len() == self.dim
                    && split_chunk_id(it.chunk_id).is_some_and(|(_, c)| {
                        chunks.insert((it.doc_id, c)) && !self.contains(it.chunk_id)
                    })
            });
        if !parallel {
            return items.iter().try_for_each(|it| {
                self.insert(it.seq, it.chunk_id, it.doc_id, it.folder, it.vector)
            });
        }
        if let Store::Graph(g) = &self.store {
            let keyed: Vec<(u64, &[f32])> = items.iter().map(|it| (it.seq, it.vector)).collect();
            g.add_many(&keyed)?;
        }
        for it in items {
            let chunk = split_chunk_id(it.chunk_id).map_or(0, |(_, c)| c);
            let doc = self.intern_doc(it.doc_id, it.folder);
            self.push_row(Row {
                seq: it.seq,
                doc,
                chunk,
            });
        }
        self.unsaved += items.len();
        Ok(())
    }

    /// Records a row whose vector is (or is about to be) in the store.
    fn push_row(&mut self, r: Row) {
        let row = self.rows.len() as u32;
        self.rows.push(r);
        self.by_seq.insert(r.seq, row);
        self.by_chunk.insert((r.doc, r.chunk), row);
        let doc = &mut self.docs[r.doc as usize];
        doc.rows += 1;
        self.folder_rows[doc.folder as usize] += 1;
    }

    /// Moves the matrix into a new graph (the library grew past [`EXACT_BELOW`]).
    fn switch_to_graph(&mut self) -> Result<(), String> {
        let Store::Matrix(m) = &self.store else {
            return Ok(());
        };
        let graph = Graph::new(self.dim, self.rows.len() * 2)?;
        let items: Vec<(u64, &[f32])> = self
            .rows
            .iter()
            .zip(m.chunks_exact(self.dim))
            .map(|(r, v)| (r.seq, v))
            .collect();
        graph.add_many(&items)?;
        self.store = Store::Graph(graph);
        self.unsaved = self.rows.len();
        Ok(())
    }

    /// Whether this chunk has a vector.
    pub fn contains(&self, chunk_id: &str) -> bool {
        self.row_of(chunk_id).is_some()
    }

    fn row_of(&self, chunk_id: &str) -> Option<u32> {
        let (doc, chunk) = split_chunk_id(chunk_id)?;
        let doc = *self.doc_of.get(doc)?;
        self.by_chunk.get(&(doc, chunk)).copied()
    }

    /// How many vectors each document has.
    pub fn doc_counts(&self) -> HashMap<&str, usize> {
        let mut counts = HashMap::default();
        for r in &self.rows {
            *counts
                .entry(self.docs[r.doc as usize].id.as_str())
                .or_default() += 1;
        }
        counts
    }

    /// Drops every vector of these documents: one pass to find their rows, then each removed in
    /// place with the last row moved into its slot.
    pub fn remove_docs(&mut self, docs: &HashSet<&str>) -> Result<(), String> {
        let gone: HashSet<u32> = docs
            .iter()
            .filter_map(|d| self.doc_of.get(*d).copied())
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let doomed: Vec<usize> = (0..self.rows.len())
            .filter(|&r| gone.contains(&self.rows[r].doc))
            .collect();
        // Highest first: each slot filled by the last row is then a row that stays.
        for &row in doomed.iter().rev() {
            self.remove_row(row)?;
        }
        Ok(())
    }

    fn remove_row(&mut self, row: usize) -> Result<(), String> {
        let gone = self.rows[row];
        if let Store::Graph(g) = &self.store {
            g.remove(gone.seq)?;
        }
        let doc = &mut self.docs[gone.doc as usize];
        doc.rows -= 1;
        self.folder_rows[doc.folder as usize] -= 1;
        self.by_seq.remove(&gone.seq);
        self.by_chunk.remove(&(gone.doc, gone.chunk));
        let last = self.rows.len() - 1;
        self.rows.swap_remove(row);
        if let Store::Matrix(m) = &mut self.store {
            let dim = self.dim;
            if row != last {
                m.copy_within(last * dim..(last + 1) * dim, row * dim);
            }
            m.truncate(last * dim);
        }
        if row != last {
            let moved = self.rows[row];
            self.by_seq.insert(moved.seq, row as u32);
            self.by_chunk.insert((moved.doc, moved.chunk), row as u32);
        }
        self.unsaved += 1;
        Ok(())
    }

    fn chunk_id(&self, row: usize) -> String {
        let r = self.rows[row];
        crate::chunk_id(&self.docs[r.doc as usize].id, r.chunk)
    }

    /// The `k` chunks with the highest dot product with `query` (cosine, for unit vectors),
    /// within `folder` when given, leaving out `exclude`.
    pub fn top(
        &self,
        query: &[f32],
        k: usize,
        folder: Option<&str>,
        exclude: &[String],
    ) -> Vec<(String, f32)> {
        self.top_with(self.expansion.0, query, k, folder, exclude)
    }

    /// [`Dense::top`] with the graph keeping `expansion` candidates (set per search: one graph
    /// serves dense search alone and hybrid search's dense side).
    fn top_with(
        &self,
        expansion: usize,
        query: &[f32],
        k: usize,
        folder: Option<&str>,
        exclude: &[String],
    ) -> Vec<(String, f32)> {
        if query.len() != self.dim || self.dim == 0 || k == 0 {
            return Vec::new();
        }
        let folder = match folder {
            Some(f) => match self.folder_of.get(f) {
                Some(&f) => Some(f),
                None => return Vec::new(),
            },
            None => None,
        };
        // Excluded chunks are left out before the top k is taken, so k results still come back
        // when many were excluded (the agent excludes everything it has seen).
        let excluded: HashSet<u32> = exclude.iter().filter_map(|c| self.row_of(c)).collect();
        let keep = |row: usize| {
            folder.is_none_or(|f| self.row_folder(row) == f)
                && (excluded.is_empty() || !excluded.contains(&(row as u32)))
        };
        let scored = match &self.store {
            Store::Matrix(m) => self.scan(m, query, k, &keep),
            Store::Graph(g) => {
                let passing = folder.map_or(self.rows.len(), |f| self.folder_rows[f as usize]);
                if passing < self.exact_below {
                    // A narrow folder: exact over its rows, vectors read from the graph.
                    self.scan_graph(g, query, k, &keep)
                } else {
                    g.set_expansion(expansion);
                    // With nothing to leave out, the walk runs without a filter: the graph
                    // holds exactly the live rows, and each result is checked below.
                    let found = if folder.is_none() && excluded.is_empty() {
                        g.search_all(query, k)
                    } else {
                        g.search(query, k, |key| {
                            self.by_seq.get(&key).is_some_and(|&row| keep(row as usize))
                        })
                    };
                    match found {
                        Ok(found) => found
                            .into_iter()
                            // Checked against the rows again: only live rows come back.
                            .filter_map(|(key, s)| Some((*self.by_seq.get(&key)? as usize, s)))
                            .collect(),
                        Err(_) => self.scan_graph(g, query, k, &keep),
                    }
                }
            }
        };
        scored
            .into_iter()
            .map(|(row, s)| (self.chunk_id(row), s))
            .collect()
    }

    /// The exact top `k` of the matrix's rows that `keep` accepts.
    fn scan(
        &self,
        m: &[f32],
        query: &[f32],
        k: usize,
        keep: &(dyn Fn(usize) -> bool + Sync),
    ) -> Vec<(usize, f32)> {
        let score = |first: usize, part: &[f32]| -> Vec<(usize, f32)> {
            part.chunks_exact(self.dim)
                .enumerate()
                .map(|(i, v)| (first + i, v))
                .filter(|(row, _)| keep(*row))
                .map(|(row, v)| (row, dot(v, query)))
                .collect()
        };
        // The scan is the query's cost at scale: split over the cores past a few thousand rows.
        let rows = self.len();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let scored: Vec<(usize, f32)> = if rows < 20_000 || threads == 1 {
            score(0, m)
        } else {
            let per = rows.div_ceil(threads);
            std::thread::scope(|s| {
                let parts: Vec<_> = m
                    .chunks(per * self.dim)
                    .enumerate()
                    .map(|(i, part)| s.spawn(move || score(i * per, part)))
                    .collect();
                parts
                    .into_iter()
                    .flat_map(|h| h.join().expect("the scan does not panic"))
                    .collect()
            })
        };
        best(scored, k)
    }

    /// The exact top `k` of the rows `keep` accepts, with vectors read from the graph.
    fn scan_graph(
        &self,
        g: &Graph,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Vec<(usize, f32)> {
        let mut v = vec![0.0f32; self.dim];
        let mut scored = Vec::new();
        for row in (0..self.rows.len()).filter(|&row| keep(row)) {
            if g.get(self.rows[row].seq, &mut v) {
                scored.push((row, dot(&v, query)));
            }
        }
        best(scored, k)
    }

    /// Reads every vector's identity and, below the graph's size (or without a usable saved
    /// graph), its vector, from SQLite; from the graph saved at `graph_path` when there is one,
    /// caught up with what changed since it was saved.
    pub fn open(
        state: &crate::state::State,
        graph_path: &Path,
        exact_below: usize,
    ) -> Result<Self, crate::IndexError> {
        let mut dense = Dense::new(exact_below);
        let mut ids: Vec<VectorRow> = Vec::new();
        state.vector_rows(|r| ids.push(r))?;
        let dim = state.vector_dim()?;
        let large = ids.len() >= exact_below;
        let saved = match dim {
            Some(dim) if large => Graph::load(graph_path, dim).ok(),
            _ => None,
        };
        let graph = match (saved, dim) {
            (Some(g), _) => g,
            (None, Some(dim)) if large => {
                // No usable saved graph: built again from SQLite, a batch at a time on all cores.
                drop(ids);
                return Self::build(state, dim, exact_below);
            }
            _ => {
                drop(ids);
                let mut failed = None;
                state.for_each_vector(|r, v| {
                    if failed.is_none() {
                        failed = dense
                            .insert(r.seq, &r.chunk_id, &r.doc_id, &r.folder, &v)
                            .err();
                    }
                })?;
                if let Some(e) = failed {
                    return Err(crate::IndexError::Vectors(e));
                }
                // Read, not changed: a graph left from when the library was larger stays
                // until the library changes (it is still a valid start to catch up from).
                dense.unsaved = 0;
                return Ok(dense);
            }
        };
        dense.dim = graph.dim();
        // Rows first, then the graph caught up: vectors it lacks come from SQLite.
        let mut missing = Vec::new();
        for r in &ids {
            let Some((_, chunk)) = split_chunk_id(&r.chunk_id) else {
                continue;
            };
            let doc = dense.intern_doc(&r.doc_id, &r.folder);
            dense.push_row(Row {
                seq: r.seq,
                doc,
                chunk,
            });
            if !graph.contains(r.seq) {
                missing.push(r.seq);
            }
        }
        drop(ids);
        let mut added = Vec::with_capacity(missing.len());
        for seq in &missing {
            if let Some(v) = state.vector(*seq)? {
                added.push((*seq, v));
            }
        }
        let items: Vec<(u64, &[f32])> = added.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        graph.add_many(&items).map_err(crate::IndexError::Vectors)?;
        // Deleted since the save: keys the graph holds that SQLite does not (every key the graph
        // can hold is a seq SQLite gave, at most its highest).
        let mut stale = 0;
        if graph.len() > dense.rows.len() {
            for seq in 1..=state.max_vector_seq()? {
                if !dense.by_seq.contains_key(&seq) && graph.contains(seq) {
                    graph.remove(seq).map_err(crate::IndexError::Vectors)?;
                    stale += 1;
                }
            }
        }
        dense.unsaved = missing.len() + stale;
        dense.store = Store::Graph(graph);
        Ok(dense)
    }

    /// A graph of every vector in SQLite, added in batches on all cores.
    fn build(
        state: &crate::state::State,
        dim: usize,
        exact_below: usize,
    ) -> Result<Self, crate::IndexError> {
        const BATCH: usize = 1 << 16;
        let mut dense = Dense::new(exact_below);
        dense.dim = dim;
        let graph = Graph::new(dim, 0).map_err(crate::IndexError::Vectors)?;
        let mut batch: Vec<(u64, Vec<f32>)> = Vec::with_capacity(BATCH);
        let mut failed: Option<String> = None;
        let flush = |batch: &mut Vec<(u64, Vec<f32>)>| -> Result<(), String> {
            let items: Vec<(u64, &[f32])> = batch.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            graph.add_many(&items)?;
            batch.clear();
            Ok(())
        };
        state.for_each_vector(|r, v| {
            if failed.is_some() {
                return;
            }
            let Some((_, chunk)) = split_chunk_id(&r.chunk_id) else {
                return;
            };
            if v.len() != dim {
                failed = Some(format!("a vector of {} dimensions among {dim}", v.len()));
                return;
            }
            let doc = dense.intern_doc(&r.doc_id, &r.folder);
            dense.push_row(Row {
                seq: r.seq,
                doc,
                chunk,
            });
            batch.push((r.seq, v));
            if batch.len() == BATCH {
                failed = flush(&mut batch).err();
            }
        })?;
        if failed.is_none() {
            failed = flush(&mut batch).err();
        }
        if let Some(e) = failed {
            return Err(crate::IndexError::Vectors(e));
        }
        dense.unsaved = dense.rows.len();
        dense.store = Store::Graph(graph);
        Ok(dense)
    }

    /// Saves the graph to `path` when it changed since it was last saved. The matrix is not
    /// saved (SQLite has it, and reading it back is what a graph would cost to load); once it
    /// changes, a graph file left from a larger library is removed.
    pub fn save(&mut self, path: &Path) -> Result<(), String> {
        let Store::Graph(g) = &self.store else {
            if self.unsaved > 0 {
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(format!("{}: {e}", path.display()))
                    }
                    _ => self.unsaved = 0,
                }
            }
            return Ok(());
        };
        if self.unsaved == 0 && path.exists() {
            return Ok(());
        }
        g.save(path)?;
        self.unsaved = 0;
        Ok(())
    }

    /// Changes since the graph was last saved (0 for the exact scan, which is not saved).
    pub fn unsaved(&self) -> usize {
        if self.is_graph() {
            self.unsaved
        } else {
            0
        }
    }
}

/// The `k` best of `scored`, best first.
fn best(mut scored: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    let k = k.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

/// A dot product with eight independent sums, which the compiler keeps in SIMD lanes (a plain
/// `zip().sum()` is one serial chain, since float addition may not be reordered).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (xa, xb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = xa
        .remainder()
        .iter()
        .zip(xb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in xa.zip(xb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Reciprocal rank fusion (Cormack et al., 2009): each list adds 1 / (k + rank); k = 60.
pub fn rrf(lists: &[Vec<String>], k: f32) -> Vec<(String, f32)> {
    let mut score: HashMap<&str, f32> = HashMap::default();
    let mut first_seen: Vec<&str> = Vec::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let e = score.entry(id).or_insert_with(|| {
                first_seen.push(id);
                0.0
            });
            *e += 1.0 / (k + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(String, f32)> = first_seen
        .into_iter()
        .map(|id| (id.to_string(), score[id]))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[(String, f32)]) -> Vec<&str> {
        v.iter().map(|t| t.0.as_str()).collect()
    }

    /// The same behaviour from the matrix (exact) and the graph (threshold 1: a graph from the
    /// first vector).
    #[test]
    fn nearest_first_with_filters_and_removal() {
        for exact_below in [EXACT_BELOW, 1] {
            let mut d = Dense::new(exact_below);
            d.insert(1, "a:0", "a", "f1", &[1.0, 0.0]).unwrap();
            d.insert(2, "a:1", "a", "f1", &[0.6, 0.8]).unwrap();
            d.insert(3, "b:0", "b", "f2", &[0.0, 1.0]).unwrap();
            assert_eq!(d.is_graph(), exact_below == 1);
            let top = d.top(&[0.0, 1.0], 2, None, &[]);
            assert_eq!(ids(&top), ["b:0", "a:1"]);
            assert_eq!(d.top(&[0.0, 1.0], 5, Some("f1"), &[])[0].0, "a:1");
            assert!(d.top(&[0.0, 1.0], 5, Some("nowhere"), &[]).is_empty());
            assert_eq!(d.top(&[0.0, 1.0], 5, None, &["b:0".into()])[0].0, "a:1");
            // Exclusion comes before the cut: the best k of what is left, not fewer.
            assert_eq!(
                ids(&d.top(&[0.0, 1.0], 2, None, &["b:0".into()])),
                ["a:1", "a:0"]
            );
            d.remove_docs(&["a"].into()).unwrap();
            assert_eq!(d.len(), 1);
            assert_eq!(d.top(&[0.0, 1.0], 5, None, &[]).len(), 1, "{exact_below}");
            let only = d.top(&[1.0, 0.0], 5, None, &[]);
            assert_eq!(ids(&only), ["b:0"]);
            assert!(only[0].1.abs() < 1e-3);
            // Replacing a chunk's vector keeps one row.
            d.insert(4, "b:0", "b", "f2", &[1.0, 0.0]).unwrap();
            assert_eq!(d.len(), 1);
            assert!((d.top(&[1.0, 0.0], 1, None, &[])[0].1 - 1.0).abs() < 1e-3);
            // A vector of another size is refused, not stored.
            assert!(d.insert(5, "c:0", "c", "f2", &[1.0, 0.0, 0.0]).is_err());
            assert_eq!(d.len(), 1);
        }
    }

    #[test]
    fn fusion_rewards_agreement() {
        let fused = rrf(
            &[
                vec!["x".into(), "y".into(), "z".into()],
                vec!["y".into(), "w".into()],
            ],
            60.0,
        );
        assert_eq!(fused[0].0, "y");
        assert_eq!(fused.len(), 4);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    fn random(seed: &mut u64, dim: usize) -> Vec<f32> {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let v: Vec<f32> = (0..dim).map(|_| next()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }

    /// (chunk id, folder, vector) rows and the plain, obviously right top 10.
    struct Case {
        rows: Vec<(String, String, Vec<f32>)>,
    }

    impl Case {
        fn new(n: usize, dim: usize, seed: &mut u64) -> Self {
            let rows = (0..n)
                .map(|r| {
                    let folder = if r % 10 == 0 { "narrow" } else { "wide" };
                    (format!("d{r}:0"), folder.to_string(), random(seed, dim))
                })
                .collect();
            Case { rows }
        }

        fn dense(&self, exact_below: usize) -> Dense {
            let mut d = Dense::new(exact_below);
            for (i, (chunk, folder, v)) in self.rows.iter().enumerate() {
                let doc = chunk.split(':').next().unwrap();
                d.insert(i as u64 + 1, chunk, doc, folder, v).unwrap();
            }
            d
        }

        fn plain(
            &self,
            q: &[f32],
            k: usize,
            folder: Option<&str>,
            exclude: &[String],
        ) -> Vec<String> {
            let mut all: Vec<(&str, f32)> = self
                .rows
                .iter()
                .filter(|(c, f, _)| folder.is_none_or(|x| x == f) && !exclude.contains(c))
                .map(|(c, _, v)| (c.as_str(), v.iter().zip(q).map(|(a, b)| a * b).sum()))
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1));
            all.iter().take(k).map(|(c, _)| c.to_string()).collect()
        }
    }

    fn names(v: Vec<(String, f32)>) -> Vec<String> {
        v.into_iter().map(|x| x.0).collect()
    }

    /// The split, unrolled scan finds exactly what a plain one does, filters included.
    #[test]
    fn the_parallel_scan_equals_a_plain_one() {
        let dim = 37; // not a multiple of 8: the tail is summed too
        let mut seed = 7u64;
        let case = Case::new(25_000, dim, &mut seed);
        let dense = case.dense(usize::MAX);
        assert!(!dense.is_graph());
        let query = random(&mut seed, dim);
        let best = case.plain(&query, 10, None, &[]);
        assert_eq!(names(dense.top(&query, 10, None, &[])), best);
        let exclude = best[..3].to_vec();
        assert_eq!(
            names(dense.top(&query, 10, Some("wide"), &exclude)),
            case.plain(&query, 10, Some("wide"), &exclude)
        );
    }

    /// The graph finds what the exact scan does (recall@10 over many queries), with a folder
    /// filter and exclusions too, and never a removed row.
    #[test]
    fn the_graph_recalls_what_the_scan_finds() {
        let dim = 48;
        let mut seed = 11u64;
        let case = Case::new(20_000, dim, &mut seed);
        // Past the threshold: the matrix turns into a graph on the way.
        let mut dense = case.dense(5_000);
        assert!(dense.is_graph());
        let queries: Vec<Vec<f32>> = (0..100).map(|_| random(&mut seed, dim)).collect();
        let recall = |dense: &Dense,
                      folder: Option<&str>,
                      exclude: &dyn Fn(&[String]) -> Vec<String>| {
            let mut hit = 0;
            let mut total = 0;
            for q in &queries {
                let excluded = exclude(&case.plain(q, 20, folder, &[]));
                let want = case.plain(q, 10, folder, &excluded);
                let got = names(dense.top(q, 10, folder, &excluded));
                assert!(
                    got.iter().all(|c| !excluded.contains(c)),
                    "an excluded chunk came back"
                );
                if let Some(f) = folder {
                    let of = |c: &String| case.rows.iter().find(|r| &r.0 == c).unwrap().1.clone();
                    assert!(
                        got.iter().all(|c| of(c) == f),
                        "a chunk from another folder"
                    );
                }
                hit += got.iter().filter(|c| want.contains(c)).count();
                total += want.len();
            }
            hit as f64 / total as f64
        };
        let none = |_: &[String]| Vec::new();
        let seen = |best: &[String]| best[..5].to_vec();
        let all = recall(&dense, None, &none);
        assert!(all >= 0.95, "recall@10 {all}");
        // The narrow folder is under the threshold: scanned exactly, over the graph's f16 copies
        // (a near tie may swap: not quite 1).
        let narrow = recall(&dense, Some("narrow"), &seen);
        assert!(narrow >= 0.99, "recall@10 in a narrow folder: {narrow}");
        let wide = recall(&dense, Some("wide"), &seen);
        assert!(
            wide >= 0.95,
            "recall@10 within a folder, with exclusions: {wide}"
        );
        // Removed documents never come back, and the rest still do.
        let q = &queries[0];
        let best = case.plain(q, 10, None, &[]);
        let gone: HashSet<&str> = best[..5]
            .iter()
            .map(|c| c.split(':').next().unwrap())
            .collect();
        dense.remove_docs(&gone).unwrap();
        let got = names(dense.top(q, 10, None, &[]));
        assert!(got.iter().all(|c| !best[..5].contains(c)));
        assert!(
            got.iter().filter(|c| best[5..].contains(c)).count() >= 4,
            "{got:?}"
        );
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    /// A batch into the graph (added on all cores) answers as one-by-one inserts do.
    #[test]
    fn a_batch_into_the_graph_equals_single_inserts() {
        let dim = 16;
        let mut seed = 3u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let rows: Vec<(String, String, Vec<f32>)> = (0..3000)
            .map(|r| {
                (
                    format!("d{r}:0"),
                    format!("d{r}"),
                    (0..dim).map(|_| next()).collect(),
                )
            })
            .collect();
        let mut one = Dense::new(1);
        let mut many = Dense::new(1);
        for (i, (c, d, v)) in rows.iter().enumerate().take(10) {
            one.insert(i as u64 + 1, c, d, "f", v).unwrap();
            many.insert(i as u64 + 1, c, d, "f", v).unwrap();
        }
        let batch: Vec<NewVector<'_>> = rows
            .iter()
            .enumerate()
            .skip(10)
            .map(|(i, (c, d, v))| NewVector {
                seq: i as u64 + 1,
                chunk_id: c,
                doc_id: d,
                folder: "f",
                vector: v,
            })
            .collect();
        for it in &batch {
            one.insert(it.seq, it.chunk_id, it.doc_id, it.folder, it.vector)
                .unwrap();
        }
        many.insert_many(&batch).unwrap();
        assert_eq!(many.len(), 3000);
        assert!(many.contains("d2999:0"));
        let q: Vec<f32> = (0..dim).map(|_| next()).collect();
        let (a, b) = (one.top(&q, 10, None, &[]), many.top(&q, 10, None, &[]));
        let same = a.iter().filter(|x| b.iter().any(|y| y.0 == x.0)).count();
        assert!(same >= 9, "{a:?} {b:?}");
        // Removal finds batch-added rows like any other.
        many.remove_docs(&["d2999"].into()).unwrap();
        assert!(!many.contains("d2999:0"));
        assert_eq!(many.len(), 2999);
    }
}
