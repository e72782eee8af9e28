//! Approximate nearest neighbours over chunk vectors: an HNSW graph from usearch.
//!
//! Why usearch: it is maintained (Unum; the engine inside ClickHouse's and DuckDB's vector
//! indexes), builds from vendored C++ with no system libraries, adds and removes keys in place
//! (a library changes file by file; rebuilding a graph per change would not scale), searches with
//! a filter callback (folders and the agent's exclusions are applied inside the graph walk, not
//! by over-fetching and hoping), stores vectors as f16 (half the memory of f32, with no measurable
//! loss for unit vectors), and saves to one file. The HNSW crates in pure Rust
//! (`instant-distance`, `hnsw_rs`) either cannot remove points or cannot filter during search.
//!
//! The graph is a cache: SQLite holds every vector and is the truth. Keys are the vectors' SQLite
//! `seq`s, which are never reused, so a key in a saved graph can only ever mean one vector and a
//! graph saved at any earlier moment can be caught up (see [`crate::dense`]).

use std::path::Path;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Neighbours per node (usearch's default): recall against memory and build time.
const CONNECTIVITY: usize = 16;
/// Candidates kept while inserting: a better graph for a slower build.
const EXPANSION_ADD: usize = 128;
/// Candidates kept while searching, at least (a search for more results keeps more). Measured
/// with `fathom search-bench --generated-chunks 1000000` (vectors shaped like embeddings, 2-core
/// machine): recall@10 against the exact scan 0.81 at 128, 0.93 at 256, 0.98 at 512, for a
/// dense p95 of 6.6, 8.6 and 10.5 ms (the exact scan: 189 ms). Below a million, the same
/// setting costs less and recalls more.
pub const EXPANSION_SEARCH: usize = 512;
/// Candidates kept for the dense side of a hybrid search, whose list is fused with BM25's: a
/// chunk the shorter walk misses near the end of the dense list moves the fused top 10 little,
/// and the walk is most of a hybrid search's time past the exact scan. Measured with `fathom
/// search-bench --generated-chunks N`, the fused top 10 / 50 against hybrid search over the
/// exact scan: at 100k 0.967 / 0.955 at 128, 0.993 / 0.989 at 256, 0.998 / 0.998 at 512; at
/// 1M 0.924 / 0.885, 0.971 / 0.949 and 0.992 / 0.983, for a hybrid p95 of 6.3, 9.5 and 14.8 ms.
pub const EXPANSION_FUSED: usize = 256;

/// Vectors a graph is grown with one at a time before batches are added on all cores. Inserted
/// side by side into a small graph, near neighbours miss each other and some end up reachable
/// from few nodes: over Cranfield's 1,471 real MiniLM vectors, nine builds on two cores kept
/// 0.973 to 1.0 of the exact top 10 for its queries, where one at a time kept 1.0 every time
/// (`fathom search-bench DATA --embedder`'s "chunk for chunk" line). Past this size the walk
/// has many ways to every node and the cores pay off (a million vectors: ~20 minutes on two).
pub const GROWN_ALONE: usize = 10_000;

pub struct Graph {
    index: Index,
    dim: usize,
    threads: usize,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("vector graph: {e}")
}

fn options(dim: usize) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        // Fathom's vectors are unit length: the inner product is the cosine, without the norms.
        metric: MetricKind::IP,
        quantization: ScalarKind::F16,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    }
}

impl Graph {
    /// An empty graph for vectors of `dim` dimensions, with room for `capacity`.
    pub fn new(dim: usize, capacity: usize) -> Result<Self, String> {
        let index = Index::new(&options(dim)).map_err(err)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let graph = Graph {
            index,
            dim,
            threads,
        };
        graph.reserve(capacity.max(1024))?;
        Ok(graph)
    }

    /// A graph saved by [`Graph::save`]; an error when the file is not one, or holds vectors of
    /// another size.
    pub fn load(path: &Path, dim: usize) -> Result<Self, String> {
        let graph = Graph::new(dim, 0)?;
        match path.to_str() {
            Some(p) => graph.index.load(p).map_err(err)?,
            None => {
                let bytes = std::fs::read(path).map_err(err)?;
                graph.index.load_from_buffer(&bytes).map_err(err)?;
            }
        }
        if graph.index.dimensions() != dim {
            return Err(err(format!(
                "{} dimensions saved, {dim} expected",
                graph.index.dimensions()
            )));
        }
        graph.index.change_expansion_search(EXPANSION_SEARCH);
        let size = graph.len();
        graph.reserve(size + 1024)?;
        Ok(graph)
    }

    /// Writes the graph to `path` whole or not at all: to a file beside it, flushed to disk,
    /// then renamed over it (a kill mid-save leaves the previous graph).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension("usearch-partial");
        let write = || -> Result<(), String> {
            match tmp.to_str() {
                Some(p) => self.index.save(p).map_err(err)?,
                None => {
                    let mut bytes = vec![0u8; self.index.serialized_length()];
                    self.index.save_to_buffer(&mut bytes).map_err(err)?;
                    std::fs::write(&tmp, bytes).map_err(err)?;
                }
            }
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(err)?;
            std::fs::rename(&tmp, path).map_err(err)?;
            if let Some(dir) = path.parent() {
                // The rename itself is durable once the folder is synced.
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(())
        };
        write().inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Candidates kept while searching, at least.
    pub fn set_expansion(&self, expansion: usize) {
        self.index.change_expansion_search(expansion.max(1));
    }

    /// Bytes the graph holds in memory (vectors and links).
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_usage()
    }

    fn reserve(&self, capacity: usize) -> Result<(), String> {
        self.index
            .reserve_capacity_and_threads(capacity, self.threads)
            .map_err(err)
    }

    /// Room for `more` keys beyond those held, grown by half again so adding one at a time does
    /// not reallocate each time.
    fn make_room(&self, more: usize) -> Result<(), String> {
        let need = self.len() + more;
        if need > self.index.capacity() {
            self.reserve(need + need / 2)?;
        }
        Ok(())
    }

    pub fn add(&self, key: u64, vector: &[f32]) -> Result<(), String> {
        self.make_room(1)?;
        self.index.add(key, vector).map_err(err)
    }

    /// Adds many vectors on all cores (building a graph is the slow part of a large library's
    /// first open and of the switch from the exact scan), once the graph holds [`GROWN_ALONE`]:
    /// before that, one at a time.
    pub fn add_many(&self, items: &[(u64, &[f32])]) -> Result<(), String> {
        self.make_room(items.len())?;
        let alone = GROWN_ALONE.saturating_sub(self.len()).min(items.len());
        let (first, items) = items.split_at(alone);
        first
            .iter()
            .try_for_each(|(k, v)| self.index.add(*k, v).map_err(err))?;
        if items.len() < 1024 || self.threads == 1 {
            return items
                .iter()
                .try_for_each(|(k, v)| self.index.add(*k, v).map_err(err));
        }
        let per = items.len().div_ceil(self.threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = items
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .try_for_each(|(k, v)| self.index.add(*k, v).map_err(err))
                    })
                })
                .collect();
            parts.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(err("a build thread failed")))
            })
        })
    }

    pub fn remove(&self, key: u64) -> Result<(), String> {
        self.index.remove(key).map(|_| ()).map_err(err)
    }

    pub fn contains(&self, key: u64) -> bool {
        self.index.contains(key)
    }

    /// The vector under `key` (as stored: f16, widened), into `out`.
    pub fn get(&self, key: u64, out: &mut [f32]) -> bool {
        self.index.get(key, out).is_ok_and(|n| n > 0)
    }

    /// The `k` keys nearest `query` among those `keep` accepts, with their inner products, best
    /// first. The filter runs inside the graph walk, which goes on until it has `k` accepted
    /// keys or runs out of candidates, so a narrow filter costs more steps, not recall.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(u64) -> bool,
    ) -> Result<Vec<(u64, f32)>, String> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.index.filtered_search(query, k, keep).map_err(err)?;
        Ok(Self::scored(found))
    }

    /// [`Graph::search`] over every key.
    pub fn search_all(&self, query: &[f32], k: usize) -> Result<Vec<(u64, f32)>, String> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        Ok(Self::scored(self.index.search(query, k).map_err(err)?))
    }

    fn scored(found: usearch::ffi::Matches) -> Vec<(u64, f32)> {
        found
            .keys
            .into_iter()
            .zip(found.distances)
            // usearch's inner-product distance is 1 - a·b.
            .map(|(key, d)| (key, 1.0 - d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(g: &Graph) -> Vec<u8> {
        let mut out = vec![0u8; g.index.serialized_length()];
        g.index.save_to_buffer(&mut out).unwrap();
        out
    }

    /// A small graph given a batch is grown exactly as by single adds (the same file, byte for
    /// byte); past [`GROWN_ALONE`] the batch goes on all cores and every key is still found.
    #[test]
    fn a_small_graph_is_grown_one_vector_at_a_time() {
        let dim = 8;
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let vectors: Vec<Vec<f32>> = (0..GROWN_ALONE + 3000)
            .map(|_| (0..dim).map(|_| next()).collect())
            .collect();
        let items: Vec<(u64, &[f32])> = vectors
            .iter()
            .enumerate()
            .map(|(k, v)| (k as u64, v.as_slice()))
            .collect();
        let (one, batch) = (Graph::new(dim, 0).unwrap(), Graph::new(dim, 0).unwrap());
        // Room made alike: usearch re-seeds its level generators when it reserves.
        one.make_room(4000).unwrap();
        for (k, v) in &items[..4000] {
            one.add(*k, v).unwrap();
        }
        batch.add_many(&items[..4000]).unwrap();
        assert!(
            bytes(&one) == bytes(&batch),
            "the batch was not added in order"
        );
        batch.add_many(&items[4000..]).unwrap();
        assert_eq!(batch.len(), items.len());
        assert!(items.iter().all(|(k, _)| batch.contains(*k)));
    }
}
