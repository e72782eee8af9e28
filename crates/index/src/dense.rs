//! Dense vectors for chunks: kept in memory as one matrix for exhaustive search (at 100k chunks
//! and 384 dimensions that is 150 MB and a few milliseconds a query, exact, with no index to
//! tune), and in SQLite beside the document state, written in the same transaction.

use std::collections::HashMap;

#[derive(Default)]
pub struct Dense {
    dim: usize,
    data: Vec<f32>,
    chunk_ids: Vec<String>,
    doc_ids: Vec<String>,
    folders: Vec<String>,
    row_of: HashMap<String, usize>,
}

impl Dense {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.chunk_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunk_ids.is_empty()
    }

    pub fn insert(&mut self, chunk_id: &str, doc_id: &str, folder: &str, v: &[f32]) {
        if self.dim == 0 {
            self.dim = v.len();
        }
        if v.len() != self.dim {
            return;
        }
        if let Some(&row) = self.row_of.get(chunk_id) {
            self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(v);
            return;
        }
        self.row_of
            .insert(chunk_id.to_string(), self.chunk_ids.len());
        self.chunk_ids.push(chunk_id.to_string());
        self.doc_ids.push(doc_id.to_string());
        self.folders.push(folder.to_string());
        self.data.extend_from_slice(v);
    }

    /// Whether this chunk has a vector.
    pub fn contains(&self, chunk_id: &str) -> bool {
        self.row_of.contains_key(chunk_id)
    }

    /// How many vectors each document has.
    pub fn doc_counts(&self) -> HashMap<&str, usize> {
        let mut counts = HashMap::new();
        for d in &self.doc_ids {
            *counts.entry(d.as_str()).or_default() += 1;
        }
        counts
    }

    /// Drops every vector of these documents in one pass over the rows (removing documents one by
    /// one would scan every row per document).
    pub fn remove_docs(&mut self, docs: &std::collections::HashSet<&str>) {
        if docs.is_empty() || !self.doc_ids.iter().any(|d| docs.contains(d.as_str())) {
            return;
        }
        let dim = self.dim;
        let mut kept = 0;
        for row in 0..self.doc_ids.len() {
            if docs.contains(self.doc_ids[row].as_str()) {
                continue;
            }
            if kept != row {
                self.data
                    .copy_within(row * dim..(row + 1) * dim, kept * dim);
                self.chunk_ids.swap(kept, row);
                self.doc_ids.swap(kept, row);
                self.folders.swap(kept, row);
            }
            kept += 1;
        }
        self.data.truncate(kept * dim);
        self.chunk_ids.truncate(kept);
        self.doc_ids.truncate(kept);
        self.folders.truncate(kept);
        self.row_of = self
            .chunk_ids
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
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
        if query.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        // Excluded chunks are left out before the top k is taken, so k results still come back
        // when many were excluded (the agent excludes everything it has seen).
        let excluded: std::collections::HashSet<&str> =
            exclude.iter().map(String::as_str).collect();
        let keep = |row: usize| {
            folder.is_none_or(|f| self.folders[row] == f)
                && (excluded.is_empty() || !excluded.contains(self.chunk_ids[row].as_str()))
        };
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
        let mut scored: Vec<(usize, f32)> = if rows < 20_000 || threads == 1 {
            score(0, &self.data)
        } else {
            let per = rows.div_ceil(threads);
            std::thread::scope(|s| {
                let parts: Vec<_> = self
                    .data
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
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
            .into_iter()
            .map(|(row, s)| (self.chunk_ids[row].clone(), s))
            .collect()
    }
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
    let mut score: HashMap<&str, f32> = HashMap::new();
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

    #[test]
    fn nearest_first_with_filters_and_removal() {
        let mut d = Dense::new();
        d.insert("a:0", "a", "f1", &[1.0, 0.0]);
        d.insert("a:1", "a", "f1", &[0.6, 0.8]);
        d.insert("b:0", "b", "f2", &[0.0, 1.0]);
        let top = d.top(&[0.0, 1.0], 2, None, &[]);
        assert_eq!(
            top.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
            ["b:0", "a:1"]
        );
        assert_eq!(d.top(&[0.0, 1.0], 5, Some("f1"), &[])[0].0, "a:1");
        assert_eq!(d.top(&[0.0, 1.0], 5, None, &["b:0".into()])[0].0, "a:1");
        // Exclusion comes before the cut: the best k of what is left, not fewer.
        assert_eq!(
            d.top(&[0.0, 1.0], 2, None, &["b:0".into()])
                .iter()
                .map(|t| t.0.as_str())
                .collect::<Vec<_>>(),
            ["a:1", "a:0"]
        );
        d.remove_docs(&["a"].into());
        assert_eq!(d.len(), 1);
        assert_eq!(
            d.top(&[0.0, 1.0], 5, None, &[]).len(),
            1,
            "row ids follow the rows"
        );
        assert_eq!(
            d.top(&[1.0, 0.0], 5, None, &[]),
            vec![("b:0".to_string(), 0.0)]
        );
        // Replacing a chunk's vector keeps one row.
        d.insert("b:0", "b", "f2", &[1.0, 0.0]);
        assert_eq!(d.len(), 1);
        assert_eq!(d.top(&[1.0, 0.0], 1, None, &[])[0].1, 1.0);
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

    /// The split, unrolled scan finds exactly what a plain one does, filters included.
    #[test]
    fn the_parallel_scan_equals_a_plain_one() {
        let dim = 37; // not a multiple of 8: the tail is summed too
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut dense = Dense::new();
        let rows = 25_000;
        for r in 0..rows {
            let v: Vec<f32> = (0..dim).map(|_| next()).collect();
            let folder = if r % 3 == 0 { "a" } else { "b" };
            dense.insert(&format!("d{r}:0"), &format!("d{r}"), folder, &v);
        }
        let query: Vec<f32> = (0..dim).map(|_| next()).collect();
        let plain = |folder: Option<&str>, exclude: &[String]| -> Vec<String> {
            let mut all: Vec<(usize, f32)> = (0..rows)
                .filter(|&r| folder.is_none_or(|f| dense.folders[r] == f))
                .filter(|&r| !exclude.contains(&dense.chunk_ids[r]))
                .map(|r| {
                    let v = &dense.data[r * dim..(r + 1) * dim];
                    (r, v.iter().zip(&query).map(|(a, b)| a * b).sum::<f32>())
                })
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1));
            all.iter()
                .take(10)
                .map(|(r, _)| dense.chunk_ids[*r].clone())
                .collect()
        };
        let ids = |v: Vec<(String, f32)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
        let best = plain(None, &[]);
        assert_eq!(ids(dense.top(&query, 10, None, &[])), best);
        let exclude = best[..3].to_vec();
        assert_eq!(
            ids(dense.top(&query, 10, Some("b"), &exclude)),
            plain(Some("b"), &exclude)
        );
    }
}
