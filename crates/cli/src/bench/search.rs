//! `fathom search-bench`: retrieval quality on the public IR sets (BEIR layout) and indexing at
//! scale. Figures to compare with the published baselines in each set's README; nothing here
//! asserts a speed.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use fathom_index::chunk::CHUNK_TOKENS;
use fathom_index::indexer::{index_folder, IndexOptions};
use fathom_index::{Chunk, Chunker, DocumentChunks, OpenOptions, SearchIndex, SearchQuery};

use crate::fail;

// ---------------------------------------------------------------------------------------------
// Retrieval quality on the public IR sets (BEIR layout), not a test: figures to compare with the
// published baselines in each set's README.

fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    reader
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// nDCG@k with linear gains (trec_eval's ndcg_cut), for one query.
pub fn ndcg_at(ranked: &[String], qrels: &HashMap<String, f64>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| qrels.get(d).copied().unwrap_or(0.0).max(0.0) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<f64> = qrels.values().copied().filter(|g| *g > 0.0).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

pub fn recall_at(ranked: &[String], qrels: &HashMap<String, f64>, k: usize) -> f64 {
    let relevant: Vec<&String> = qrels
        .iter()
        .filter(|(_, g)| **g > 0.0)
        .map(|(d, _)| d)
        .collect();
    if relevant.is_empty() {
        return 0.0;
    }
    let top: Vec<&String> = ranked.iter().take(k).collect();
    relevant.iter().filter(|d| top.contains(d)).count() as f64 / relevant.len() as f64
}

pub fn search_bench(
    data: &Path,
    chunk_tokens: usize,
    overlap: usize,
    embedder_dir: Option<&Path>,
    json: bool,
) -> ExitCode {
    let embedder = match embedder_dir {
        None => None,
        // As the app embeds documents and queries here (llama.cpp on a CPU, MLX on a Mac).
        Some(dir) => match fathom_embed::SharedEmbedder::load_preferred(dir) {
            Ok(e) => {
                eprintln!("embedding on {}", e.runtime().name());
                Some(e)
            }
            Err(e) => return fail(e),
        },
    };
    // Queries as the app embeds them (8-bit matrices on llama.cpp), the passages' encoder's
    // vectors beside them as the baseline.
    let query_embedder = match embedder_dir {
        None => None,
        Some(dir) => match fathom_embed::SharedEmbedder::load_for_queries(dir) {
            Ok(e) => Some(e),
            Err(e) => return fail(e),
        },
    };
    let embedders = embedder.as_ref().zip(query_embedder.as_ref());
    match run_search_bench(data, chunk_tokens, overlap, embedder_dir, embedders) {
        Ok(r) => {
            if json {
                println!("{r}");
            } else {
                println!(
                    "{}: {} documents, {} chunks, {} queries\n  BM25 nDCG@10 {:.4}  recall@100 {:.4}\n  indexing {:.1} docs/s ({:.2} MB/s), search p50 {:.2} ms p95 {:.2} ms",
                    r["set"].as_str().unwrap_or(""),
                    r["documents"],
                    r["chunks"],
                    r["queries"],
                    r["bm25"]["ndcg10"].as_f64().unwrap_or(0.0),
                    r["bm25"]["recall100"].as_f64().unwrap_or(0.0),
                    r["indexing"]["docsPerSecond"].as_f64().unwrap_or(0.0),
                    r["indexing"]["mbPerSecond"].as_f64().unwrap_or(0.0),
                    r["latencyMs"]["p50"].as_f64().unwrap_or(0.0),
                    r["latencyMs"]["p95"].as_f64().unwrap_or(0.0),
                );
                for mode in [
                    "dense",
                    "hybrid",
                    "dense-hnsw",
                    "hybrid-hnsw",
                    "dense-passage-encoder",
                    "hybrid-passage-encoder",
                ] {
                    if let Some(m) = r.get(mode) {
                        println!(
                            "  {mode}: nDCG@10 {:.4}  recall@100 {:.4}  search p50 {:.2} ms p95 {:.2} ms",
                            m["ndcg10"].as_f64().unwrap_or(0.0),
                            m["recall100"].as_f64().unwrap_or(0.0),
                            m["p50"].as_f64().unwrap_or(0.0),
                            m["p95"].as_f64().unwrap_or(0.0),
                        );
                    }
                }
                if let Some(recall) = r["dense-hnsw"]["recallAt10"].as_f64() {
                    println!("  dense-hnsw: recall@10 against the exact scan, chunk for chunk: {recall:.4}");
                }
                if let Some(e) = r.get("embedding").filter(|e| !e.is_null()) {
                    println!(
                        "  embedding: {:.1} chunks/s",
                        e["chunksPerSecond"].as_f64().unwrap_or(0.0)
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn run_search_bench(
    data: &Path,
    chunk_tokens: usize,
    overlap: usize,
    embedder_dir: Option<&Path>,
    embedders: Option<(&fathom_embed::SharedEmbedder, &fathom_embed::SharedEmbedder)>,
) -> Result<serde_json::Value, String> {
    // Passages', then queries' encoder.
    let embedder = embedders.map(|e| e.0);
    let query_embedder = embedders.map(|e| e.1);
    let corpus = read_lines(&data.join("corpus.jsonl.gz"))?;
    let queries = read_lines(&data.join("queries.jsonl"))?;
    let mut qrels: BTreeMap<String, HashMap<String, f64>> = BTreeMap::new();
    for line in read_lines(&data.join("qrels.tsv"))?.into_iter().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if let [q, d, g] = cols[..] {
            qrels
                .entry(q.into())
                .or_default()
                .insert(d.into(), g.trim().parse().unwrap_or(0.0));
        }
    }
    let tmp = tempfile_dir()?;
    let index = SearchIndex::open(&tmp).map_err(|e| e.to_string())?;
    let chunker = Chunker::new(chunk_tokens, overlap);
    let start = Instant::now();
    let mut bytes = 0usize;
    let mut docs: Vec<(String, String, Vec<Chunk>)> = Vec::with_capacity(corpus.len());
    for line in &corpus {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let id = v["_id"].as_str().unwrap_or_default().to_string();
        let title = v["title"].as_str().unwrap_or_default().to_string();
        let text = v["text"].as_str().unwrap_or_default();
        bytes += title.len() + text.len();
        let chunks = chunker.chunk(text);
        docs.push((id, title, chunks));
    }
    let chunks_total: usize = docs.iter().map(|d| d.2.len()).sum();
    // Embeddings of "title. chunk", in batches across documents.
    let mut vectors: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut embed_seconds = 0.0;
    if let Some(e) = embedder {
        let t = Instant::now();
        let texts: Vec<String> = docs
            .iter()
            .flat_map(|(_, title, chunks)| {
                chunks.iter().map(move |c| format!("{title}. {}", c.text))
            })
            .collect();
        // The set's vectors take minutes on a CPU: kept between runs, keyed by the texts, the
        // model's weights and the runtime, so a rerun measures search, not embedding again.
        let cache = vector_cache_file(&texts, embedder_dir.unwrap_or(data), e.runtime())?;
        let flat = match cache.as_deref().and_then(read_vectors) {
            Some(flat) if flat.len() == texts.len() => flat,
            _ => {
                let mut flat = Vec::with_capacity(texts.len());
                for batch in texts.chunks(64) {
                    let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
                    flat.extend(e.embed(&refs).map_err(|err| err.to_string())?);
                }
                if let Some(path) = &cache {
                    if let Err(err) = write_vectors(path, &flat) {
                        eprintln!("the vectors were not kept for the next run: {err}");
                    }
                }
                flat
            }
        };
        let mut it = flat.into_iter();
        vectors = docs
            .iter()
            .map(|d| it.by_ref().take(d.2.len()).collect())
            .collect();
        embed_seconds = t.elapsed().as_secs_f64();
    }
    for (i, (id, title, chunks)) in docs.iter().enumerate() {
        index
            .put_document(&DocumentChunks {
                doc_id: id,
                folder: "bench",
                path: id,
                title,
                chunks,
                lines: &[],
                pages: &[],
                vectors: vectors.get(i).map(|v| v.as_slice()),
            })
            .map_err(|e| e.to_string())?;
    }
    index.commit().map_err(|e| e.to_string())?;
    index.record(&[], &[]).map_err(|e| e.to_string())?;
    let index_seconds = start.elapsed().as_secs_f64();
    // The same vectors through the HNSW graph (a set this size is scanned exactly by default):
    // quality must not drop where a large library uses the graph.
    let graph = match embedder {
        Some(_) => Some(
            SearchIndex::open_with(&tmp, &OpenOptions { exact_below: 1 })
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };

    struct Mode {
        ndcg: f64,
        recall: f64,
        latencies: Vec<f64>,
    }
    let mut modes: BTreeMap<&str, Mode> = BTreeMap::new();
    let mut n = 0usize;
    let mut graph_recall = 0.0;
    let to_docs = |ids: Vec<String>| {
        let mut ranked: Vec<String> = Vec::new();
        for id in ids {
            // Chunks to documents: a document ranks where its best chunk does.
            let doc = id
                .rsplit_once(':')
                .map(|(d, _)| d.to_string())
                .unwrap_or(id);
            if !ranked.contains(&doc) {
                ranked.push(doc);
            }
        }
        ranked
    };
    for line in &queries {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let qid = v["_id"].as_str().unwrap_or_default();
        let Some(rel) = qrels.get(qid) else { continue };
        let text = v["text"].as_str().unwrap_or_default().to_string();
        n += 1;
        let mut score = |name: &'static str, ranked: Vec<String>, ms: f64| {
            let m = modes.entry(name).or_insert(Mode {
                ndcg: 0.0,
                recall: 0.0,
                latencies: Vec::new(),
            });
            m.ndcg += ndcg_at(&ranked, rel, 10);
            m.recall += recall_at(&ranked, rel, 100);
            m.latencies.push(ms);
        };
        let t = Instant::now();
        let hits = index
            .search(&SearchQuery {
                text: text.clone(),
                limit: 300,
                ..SearchQuery::default()
            })
            .map_err(|e| e.to_string())?;
        score(
            "bm25",
            to_docs(hits.into_iter().map(|h| h.chunk_id).collect()),
            t.elapsed().as_secs_f64() * 1000.0,
        );
        if let (Some(e), Some(passages)) = (query_embedder, embedder) {
            // The query embedded by the passages' encoder (f32), exactly scanned: the baseline
            // for the app's 8-bit query encoder.
            let t = Instant::now();
            let q32 = passages
                .embed(&[&text])
                .map_err(|err| err.to_string())?
                .pop()
                .unwrap_or_default();
            let embed_ms = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            let dense = index.dense_top(&q32, 300, None);
            score(
                "dense-passage-encoder",
                to_docs(dense.into_iter().map(|d| d.0).collect()),
                embed_ms + t.elapsed().as_secs_f64() * 1000.0,
            );
            let t = Instant::now();
            let hits = index
                .search(&SearchQuery {
                    text: text.clone(),
                    limit: 300,
                    vector: Some(q32),
                    ..SearchQuery::default()
                })
                .map_err(|e| e.to_string())?;
            score(
                "hybrid-passage-encoder",
                to_docs(hits.into_iter().map(|h| h.chunk_id).collect()),
                embed_ms + t.elapsed().as_secs_f64() * 1000.0,
            );
            // Query embedding time counts toward dense and hybrid latency.
            let t = Instant::now();
            let q = e
                .embed_queries(&[&text])
                .map_err(|err| err.to_string())?
                .pop()
                .unwrap_or_default();
            let embed_ms = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            let dense = index.dense_top(&q, 300, None);
            let exact_ms = t.elapsed().as_secs_f64() * 1000.0;
            let exact_top: Vec<String> = dense.iter().take(10).map(|d| d.0.clone()).collect();
            score(
                "dense",
                to_docs(dense.into_iter().map(|d| d.0).collect()),
                embed_ms + exact_ms,
            );
            if let Some(g) = &graph {
                let t = Instant::now();
                let dense = g.dense_top(&q, 300, None);
                // The graph's top 10 against the exact scan's, chunk for chunk.
                graph_recall += dense
                    .iter()
                    .take(10)
                    .filter(|d| exact_top.contains(&d.0))
                    .count() as f64
                    / exact_top.len().max(1) as f64;
                score(
                    "dense-hnsw",
                    to_docs(dense.into_iter().map(|d| d.0).collect()),
                    embed_ms + t.elapsed().as_secs_f64() * 1000.0,
                );
                let t = Instant::now();
                let hits = g
                    .search(&SearchQuery {
                        text: text.clone(),
                        limit: 300,
                        vector: Some(q.clone()),
                        ..SearchQuery::default()
                    })
                    .map_err(|e| e.to_string())?;
                score(
                    "hybrid-hnsw",
                    to_docs(hits.into_iter().map(|h| h.chunk_id).collect()),
                    embed_ms + t.elapsed().as_secs_f64() * 1000.0,
                );
            }
            // As the app searches: the query embedded, then BM25 beside the dense walk.
            let t = Instant::now();
            let hits = index
                .search_embedding(
                    &SearchQuery {
                        text,
                        limit: 300,
                        ..SearchQuery::default()
                    },
                    |text| e.embed_queries(&[text]).ok().and_then(|mut v| v.pop()),
                )
                .map_err(|e| e.to_string())?;
            score(
                "hybrid",
                to_docs(hits.into_iter().map(|h| h.chunk_id).collect()),
                t.elapsed().as_secs_f64() * 1000.0,
            );
        }
    }
    let graph_measured = graph.is_some();
    drop(graph);
    let _ = std::fs::remove_dir_all(&tmp);
    let pct = |l: &mut Vec<f64>, p: f64| {
        l.sort_by(|a, b| a.total_cmp(b));
        l.get(((l.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let mut out = serde_json::json!({
        "set": data.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        "documents": corpus.len(),
        "chunks": chunks_total,
        "queries": n,
        "chunkTokens": chunk_tokens,
        "overlapTokens": overlap,
        "indexing": { "seconds": index_seconds, "docsPerSecond": corpus.len() as f64 / index_seconds, "mbPerSecond": bytes as f64 / 1e6 / index_seconds },
    });
    for (name, mut m) in modes {
        let (p50, p95) = (pct(&mut m.latencies, 0.5), pct(&mut m.latencies, 0.95));
        out[name] = serde_json::json!({ "ndcg10": m.ndcg / n.max(1) as f64, "recall100": m.recall / n.max(1) as f64, "p50": p50, "p95": p95 });
    }
    out["latencyMs"] = serde_json::json!({ "p50": out["bm25"]["p50"], "p95": out["bm25"]["p95"] });
    if graph_measured {
        out["dense-hnsw"]["recallAt10"] = (graph_recall / n.max(1) as f64).into();
    }
    if embedder.is_some() {
        out["embedding"] = serde_json::json!({ "seconds": embed_seconds, "chunksPerSecond": chunks_total as f64 / embed_seconds.max(1e-9) });
    }
    Ok(out)
}

/// Where a set's document vectors are kept between runs: named by a hash of every text, the
/// model's weights (size and modification time) and the runtime that embeds them.
fn vector_cache_file(
    texts: &[String],
    model_dir: &Path,
    runtime: fathom_embed::Runtime,
) -> Result<Option<PathBuf>, String> {
    use sha2::{Digest, Sha256};
    let Ok(dirs) = fathom_store::AppDirs::resolve() else {
        return Ok(None);
    };
    let mut h = Sha256::new();
    h.update(runtime.name().as_bytes());
    let weights = model_dir.join("model.safetensors");
    let meta =
        std::fs::metadata(&weights).map_err(|err| format!("{}: {err}", weights.display()))?;
    h.update(meta.len().to_le_bytes());
    if let Ok(t) = meta
        .modified()
        .map(|t| t.duration_since(std::time::UNIX_EPOCH))
    {
        h.update(t.unwrap_or_default().as_nanos().to_le_bytes());
    }
    for t in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    let name = hex::encode(&h.finalize()[..12]);
    Ok(Some(
        dirs.data()
            .join("bench-vectors")
            .join(format!("{name}.f32")),
    ))
}

/// Vectors written by [`write_vectors`]: a count, a dimension, then little-endian f32s. None for
/// a missing, short or foreign file (the vectors are then computed again).
fn read_vectors(path: &Path) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    let (head, body) = bytes.split_at_checked(16)?;
    let count = u64::from_le_bytes(head[..8].try_into().ok()?) as usize;
    let dim = u64::from_le_bytes(head[8..].try_into().ok()?) as usize;
    if dim == 0 || body.len() != count.checked_mul(dim)?.checked_mul(4)? {
        return None;
    }
    let floats: Vec<f32> = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(floats.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

/// Writes beside, then renames: a run killed mid-write leaves no half file to be read back.
fn write_vectors(path: &Path, vectors: &[Vec<f32>]) -> Result<(), String> {
    let dim = vectors.first().map_or(0, Vec::len);
    if dim == 0 || vectors.iter().any(|v| v.len() != dim) {
        return Err("vectors of differing sizes".into());
    }
    let mut bytes = Vec::with_capacity(16 + vectors.len() * dim * 4);
    bytes.extend((vectors.len() as u64).to_le_bytes());
    bytes.extend((dim as u64).to_le_bytes());
    for x in vectors.iter().flatten() {
        bytes.extend(x.to_le_bytes());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("fathom-search-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Indexing throughput and search latency on a generated corpus of at least `chunks` chunks:
/// real files in a temporary folder (Zipf-distributed words, as natural text is), indexed through
/// the same walk, extraction and chunking as a library folder.
pub fn scale_bench(
    chunks: usize,
    embedder: Option<&Path>,
    embed_seconds: Option<f64>,
    chroma: Option<&str>,
    json: bool,
) -> ExitCode {
    // Queries embedded as the app does (on a CPU: llama.cpp, 8-bit matrices, two threads), and
    // by the baselines: the passages' encoder (llama.cpp, f32, every core) and MLX.
    let mut query_embedders = Vec::new();
    if let Some(dir) = embedder {
        let app = fathom_embed::SharedEmbedder::load_for_queries(dir);
        let app_name = match app.as_ref().map(|e| e.runtime()) {
            Ok(fathom_embed::Runtime::LlamaCpp) => format!(
                "llama.cpp, 8-bit, {} thread(s)",
                fathom_embed::query_threads()
            ),
            _ => "MLX".to_string(),
        };
        let mut loads = vec![(app_name, app)];
        if fathom_embed::Runtime::preferred() == fathom_embed::Runtime::LlamaCpp {
            loads.push((
                "llama.cpp, f32, every core".into(),
                fathom_embed::SharedEmbedder::load_with(dir, fathom_embed::Runtime::LlamaCpp),
            ));
            loads.push((
                "MLX".into(),
                fathom_embed::SharedEmbedder::load_with(dir, fathom_embed::Runtime::Mlx),
            ));
        }
        for (name, e) in loads {
            match e {
                Ok(e) => query_embedders.push((name, e)),
                Err(e) => return fail(format!("the query embedder ({name}): {e}")),
            }
        }
    }
    let embedder = embedder.map(|dir| (dir, query_embedders.as_slice()));
    match run_scale_bench(chunks, embedder, embed_seconds, chroma) {
        Ok(r) => {
            if json {
                println!("{r}");
            } else {
                println!(
                    "generated: {} files, {:.1} MB, {} chunks\n  indexing {:.1} s: {:.2} MB/s, {:.0} files/s\n  BM25 search over {} queries: p50 {:.2} ms, p95 {:.2} ms",
                    r["files"], r["megabytes"].as_f64().unwrap_or(0.0), r["chunks"],
                    r["indexSeconds"].as_f64().unwrap_or(0.0), r["mbPerSecond"].as_f64().unwrap_or(0.0), r["filesPerSecond"].as_f64().unwrap_or(0.0),
                    r["queries"], r["latencyMs"]["p50"].as_f64().unwrap_or(0.0), r["latencyMs"]["p95"].as_f64().unwrap_or(0.0),
                );
                let p = &r["indexProfile"];
                let total = r["indexSeconds"].as_f64().unwrap_or(0.0).max(1e-9);
                let part = |k: &str| {
                    let v = p[k].as_f64().unwrap_or(0.0);
                    format!("{k} {v:.1} s ({:.0} %)", 100.0 * v / total)
                };
                println!(
                    "  where indexing's time went: the indexing thread: {}, {} (for extraction and chunking), {} (tantivy's queue), {} (tantivy commits, SQLite); the {} workers, added up: {}, {} (o200k pre-tokens and counts, anchors)",
                    part("walk"), part("wait"), part("add"), part("commit"), r["indexWorkers"], part("extract"), part("chunk"),
                );
                println!(
                    "  hybrid (BM25 + dense over {} synthetic 384-d vectors, RRF): p50 {:.2} ms, p95 {:.2} ms",
                    r["hybridVectors"],
                    r["hybridLatencyMs"]["p50"].as_f64().unwrap_or(0.0),
                    r["hybridLatencyMs"]["p95"].as_f64().unwrap_or(0.0),
                );
                let d = &r["dense"];
                let ms = |v: &serde_json::Value, p: &str| v[p].as_f64().unwrap_or(0.0);
                let rd = &d["random"];
                println!(
                    "  dense alone over {} vectors ({}): p50 {:.3} ms, p95 {:.3} ms; exact scan p50 {:.3} ms, p95 {:.3} ms ({:.1}x at p95)\n  recall@10 against the exact scan: {:.4} over {} search-shaped queries; in a folder of a tenth, with the 5 best excluded: {:.4}\n  (random unit queries, no near neighbours, the graph's worst case: {:.4}; in the folder {:.4}; p95 {:.3} ms)\n  memory for dense search: {:.1} MB ({:.0} bytes a vector; the exact scan's matrix {:.1} MB)\n  indexing with vectors (graph built on the way): {:.1} s",
                    r["hybridVectors"],
                    if d["graph"].as_bool() == Some(true) { "HNSW graph" } else { "exact scan: below the graph's size" },
                    ms(&d["graphMs"], "p50"), ms(&d["graphMs"], "p95"),
                    ms(&d["exactMs"], "p50"), ms(&d["exactMs"], "p95"),
                    ms(&d["exactMs"], "p95") / ms(&d["graphMs"], "p95").max(1e-9),
                    d["recallAt10"].as_f64().unwrap_or(0.0), d["queries"],
                    d["filteredRecallAt10"].as_f64().unwrap_or(0.0),
                    rd["recallAt10"].as_f64().unwrap_or(0.0),
                    rd["filteredRecallAt10"].as_f64().unwrap_or(0.0),
                    ms(&rd["graphMs"], "p95"),
                    d["memoryBytes"].as_f64().unwrap_or(0.0) / 1e6,
                    d["memoryBytes"].as_f64().unwrap_or(0.0) / r["hybridVectors"].as_f64().unwrap_or(1.0).max(1.0),
                    d["exactMemoryBytes"].as_f64().unwrap_or(0.0) / 1e6,
                    r["hybridIndexSeconds"].as_f64().unwrap_or(0.0),
                );
                if let Some(sweep) = d["sweep"]
                    .as_array()
                    .filter(|_| d["graph"].as_bool() == Some(true))
                {
                    let parts: Vec<String> = sweep
                        .iter()
                        .map(|s| {
                            format!(
                                "{} → {:.4} ({:.2} ms)",
                                s["expansion"],
                                s["recallAt10"].as_f64().unwrap_or(0.0),
                                ms(&s["graphMs"], "p95")
                            )
                        })
                        .collect();
                    println!(
                        "  recall@10 (p95) as the graph keeps more candidates (default {}): {}",
                        d["expansion"],
                        parts.join(", ")
                    );
                }
                let h = &d["hybrid"];
                if let Some(sweep) = h["sweep"].as_array() {
                    let parts: Vec<String> = sweep
                        .iter()
                        .map(|s| {
                            format!(
                                "{} → {:.4} / {:.4} ({:.2} ms)",
                                s["expansion"],
                                s["recallAt10"].as_f64().unwrap_or(0.0),
                                s["recallAt50"].as_f64().unwrap_or(0.0),
                                ms(&s["ms"], "p95")
                            )
                        })
                        .collect();
                    println!(
                        "  hybrid (limit 50) p95 {:.2} ms, of which alone: BM25's deep list {:.2} ms, the dense walk {:.2} ms\n  hybrid's top 10 / 50 against hybrid over the exact scan (p95), by the graph's candidates for it (default {}): {}",
                        ms(&h["wholeMs"], "p95"),
                        ms(&h["bm25DepthMs"], "p95"),
                        ms(&h["denseDepthMs"], "p95"),
                        h["expansion"],
                        parts.join(", ")
                    );
                }
                if let Some(c) = r.get("chroma").filter(|c| !c.is_null()) {
                    println!(
                        "  Chroma server (collection {}): copied {} chunks with their vectors in {:.1} s ({:.0} chunks/s); hybrid there p50 {:.2} ms, p95 {:.2} ms (its lexical side alone p50 {:.2} ms, p95 {:.2} ms) vs on this computer p50 {:.2} ms, p95 {:.2} ms (same queries, same run)",
                        c["collection"], c["chunksCopied"],
                        c["copySeconds"].as_f64().unwrap_or(0.0), c["chunksPerSecond"].as_f64().unwrap_or(0.0),
                        ms(&c["hybridMs"], "p50"), ms(&c["hybridMs"], "p95"),
                        ms(&c["lexicalMs"], "p50"), ms(&c["lexicalMs"], "p95"),
                        ms(&c["localHybridMs"], "p50"), ms(&c["localHybridMs"], "p95"),
                    );
                    let rate = |k: &str| c[k].as_f64().unwrap_or(0.0);
                    println!(
                        "  a library on the server alone: indexed straight there at {:.0} chunks/s vs {:.0} chunks/s into the index here ({:.2}x); read back with its vectors at {:.0} chunks/s ({} documents not whole)",
                        rate("straightChunksPerSecond"),
                        rate("localIndexChunksPerSecond"),
                        rate("straightChunksPerSecond") / rate("localIndexChunksPerSecond").max(1e-9),
                        rate("readBackChunksPerSecond"),
                        c["readBackIncomplete"],
                    );
                    println!(
                        "  a copy with nothing to do: {:.2} s knowing what the server holds from the ledger of what was copied{} vs {:.2} s listing every record ({:.1}x)",
                        rate("idleCopyLedgerSeconds"),
                        if c["idleCopyLedgerListed"].as_bool() == Some(true) { " (which disagreed: listed)" } else { "" },
                        rate("idleCopyListingSeconds"),
                        rate("idleCopyListingSeconds") / rate("idleCopyLedgerSeconds").max(1e-9),
                    );
                }
                if let Some(e) = r.get("embedding").filter(|e| !e.is_null()) {
                    println!(
                        "  vector pass (real embedder, {}): {} of {} chunks in {:.1} s: {:.2} chunks/s, {:.3} MB/s, {:.1} files/s; all would take {:.1} h",
                        e["passRuntime"].as_str().unwrap_or(""),
                        e["chunks"], r["chunks"], e["seconds"].as_f64().unwrap_or(0.0),
                        e["chunksPerSecond"].as_f64().unwrap_or(0.0), e["mbPerSecond"].as_f64().unwrap_or(0.0),
                        e["filesPerSecond"].as_f64().unwrap_or(0.0), e["projectedHours"].as_f64().unwrap_or(0.0),
                    );
                    let runs = e["queryRuntimes"].as_array().cloned().unwrap_or_default();
                    for (i, q) in runs.iter().enumerate() {
                        println!(
                            "  queries embedded by {}{} over {} queries: p50 {:.2} ms, p95 {:.2} ms; hybrid with the query embedded first (as the app searches): p50 {:.2} ms, p95 {:.2} ms",
                            q["runtime"].as_str().unwrap_or(""),
                            if i == 0 { " (the app's)" } else { " (baseline)" },
                            q["queries"],
                            ms(&q["queryMs"], "p50"), ms(&q["queryMs"], "p95"),
                            ms(&q["hybridWithEmbeddingMs"], "p50"), ms(&q["hybridWithEmbeddingMs"], "p95"),
                        );
                    }
                    if let [app, bases @ ..] = &runs[..] {
                        let sweep = app["hybridWithEmbeddingSweep"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        let parts: Vec<String> = sweep
                            .iter()
                            .map(|s| {
                                format!(
                                    "{} p50 {:.2} ms, p95 {:.2} ms",
                                    s["expansion"],
                                    ms(&s["ms"], "p50"),
                                    ms(&s["ms"], "p95")
                                )
                            })
                            .collect();
                        if !parts.is_empty() {
                            println!("  hybrid with the query embedded first, by walk length (the app's: {}): {}", fathom_index::ann::EXPANSION_FUSED, parts.join("; "));
                        }
                        for base in bases {
                            println!(
                                "  the app's query embedding vs {} at p95: {:.2}x faster; hybrid p95 {:.2}x",
                                base["runtime"].as_str().unwrap_or(""),
                                ms(&base["queryMs"], "p95") / ms(&app["queryMs"], "p95").max(1e-9),
                                ms(&base["hybridWithEmbeddingMs"], "p95") / ms(&app["hybridWithEmbeddingMs"], "p95").max(1e-9),
                            );
                        }
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn run_scale_bench(
    chunks: usize,
    embedder: Option<(&Path, &[(String, fathom_embed::SharedEmbedder)])>,
    embed_seconds: Option<f64>,
    chroma: Option<&str>,
) -> Result<serde_json::Value, String> {
    let root = tempfile_dir()?;
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).map_err(|e| e.to_string())?;
    // A 20,000-word vocabulary drawn with Zipf's law (rank r with weight 1/r).
    let vocab: Vec<String> = (0..20_000).map(|i| format!("w{i:x}q")).collect();
    let weights: Vec<f64> = (1..=vocab.len()).map(|r| 1.0 / r as f64).collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let word = |next: &mut dyn FnMut() -> f64| {
        let x = next();
        &vocab[cumulative.partition_point(|&c| c < x).min(vocab.len() - 1)]
    };
    // Files of about four chunks each: sentences of 8 to 20 words, lines of a few sentences.
    let per_file = 4;
    let files = chunks.div_ceil(per_file);
    let mut bytes = 0usize;
    for f in 0..files {
        let mut text = String::new();
        // About 344 bytes of this text make 256 tokens (its words are several tokens each).
        while text.len() < per_file * CHUNK_TOKENS * 344 / 256 {
            let n = 8 + (next() * 12.0) as usize;
            let sentence: Vec<&str> = (0..n).map(|_| word(&mut next).as_str()).collect();
            text.push_str(&sentence.join(" "));
            text.push_str(if next() < 0.3 { ".\n" } else { ". " });
        }
        bytes += text.len();
        // A tenth of the files in a folder of their own: filtered dense search at scale.
        let part = if f < files.div_ceil(10) { "a" } else { "b" };
        let dir = docs.join(part).join(format!("d{:03}", f / 1000));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("f{f:06}.txt")), text).map_err(|e| e.to_string())?;
    }
    let index = SearchIndex::open(&root.join("index")).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let report = index_folder(
        &index,
        "bench",
        &docs,
        &Chunker::default(),
        &IndexOptions::default(),
        &tokio_util::sync::CancellationToken::new(),
        &mut |_| {},
    )
    .map_err(|e| e.to_string())?;
    let index_seconds = start.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let queries = 500;
    for _ in 0..queries {
        let n = 2 + (next() * 3.0) as usize;
        // Mid-frequency words, as people search for.
        let q: Vec<String> = (0..n)
            .map(|_| vocab[50 + (next() * 5000.0) as usize].clone())
            .collect();
        let t = Instant::now();
        index
            .search(&SearchQuery {
                text: q.join(" "),
                limit: 50,
                ..SearchQuery::default()
            })
            .map_err(|e| e.to_string())?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Hybrid latency: the same files indexed again with vectors. Their values are synthetic
    // (bags of word vectors, unit length, MiniLM's 384 dimensions): the real embedder on this CPU
    // would take days here (retrieval quality with it is `search-bench DATA`'s job), and the
    // graph's speed and recall need vectors whose neighbours stand out as real ones do.
    let bag = std::sync::Arc::new(BagOfWords::new(vocab.len()));
    let synthetic: std::sync::Arc<fathom_index::indexer::Embed> = {
        let bag = bag.clone();
        std::sync::Arc::new(move |texts: &[&str]| Ok(texts.iter().map(|t| bag.embed(t)).collect()))
    };
    let hybrid_index = SearchIndex::open(&root.join("index-hybrid")).map_err(|e| e.to_string())?;
    let hybrid_start = Instant::now();
    // Two library folders this time (a tenth and the rest), for the filtered search below.
    for (folder, part) in [("tenth", "a"), ("rest", "b")] {
        index_folder(
            &hybrid_index,
            folder,
            &docs.join(part),
            &Chunker::default(),
            &IndexOptions {
                embedder: Some(synthetic.clone()),
                ..IndexOptions::default()
            },
            &tokio_util::sync::CancellationToken::new(),
            &mut |_| {},
        )
        .map_err(|e| e.to_string())?;
    }
    let hybrid_indexing_seconds = hybrid_start.elapsed().as_secs_f64();
    let mut hybrid = Vec::new();
    for _ in 0..queries {
        let n = 2 + (next() * 3.0) as usize;
        let q: Vec<String> = (0..n)
            .map(|_| vocab[50 + (next() * 5000.0) as usize].clone())
            .collect();
        let text = q.join(" ");
        let vector = bag.embed(&text);
        let t = Instant::now();
        hybrid_index
            .search(&SearchQuery {
                text,
                limit: 50,
                vector: Some(vector),
                ..SearchQuery::default()
            })
            .map_err(|e| e.to_string())?;
        hybrid.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let vectors = hybrid_index.vector_count();
    let hybrid_index_seconds = hybrid_start.elapsed().as_secs_f64();
    let dense_queries: Vec<(String, Vec<f32>)> = (0..200)
        .map(|_| {
            let n = 2 + (next() * 3.0) as usize;
            let q: Vec<&str> = (0..n)
                .map(|_| vocab[50 + (next() * 5000.0) as usize].as_str())
                .collect();
            let text = q.join(" ");
            let vector = bag.embed(&text);
            (text, vector)
        })
        .collect();
    let dense = dense_check(&root.join("index-hybrid"), &hybrid_index, &dense_queries)?;
    let server = match chroma {
        None => None,
        Some(url) => Some(chroma_check(
            url,
            &hybrid_index,
            &bag,
            Straight {
                docs: &docs,
                embed: synthetic.clone(),
                dir: &root,
                local_seconds: hybrid_indexing_seconds,
            },
            &mut || {
                let n = 2 + (next() * 3.0) as usize;
                let q: Vec<String> = (0..n)
                    .map(|_| vocab[50 + (next() * 5000.0) as usize].clone())
                    .collect();
                q.join(" ")
            },
        )?),
    };
    // The real embedder: the app's vector pass over the BM25 index (as long as allowed), then
    // query embeddings, the part of a hybrid search's latency the synthetic vectors leave out.
    let embedding = match embedder {
        None => None,
        Some((dir, query_embedders)) => {
            // Stopped at the deadline, between two batches.
            let stop = tokio_util::sync::CancellationToken::new();
            if let Some(s) = embed_seconds {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_secs_f64(s));
                    stop.cancel();
                });
            }
            // The pass as the app runs it: several copies side by side on a CPU.
            fathom_embed::single_threaded_blas();
            let copies = fathom_semantic::load_pass_copies(dir).map_err(|e| e.to_string())?;
            let pass_runtime = match copies[0].runtime() {
                fathom_embed::Runtime::LlamaCpp => "llama.cpp, one encoder on every core",
                fathom_embed::Runtime::Mlx => "MLX, one copy a core",
            };
            let report = fathom_index::vectors::embed_pending(
                &index,
                &|texts| fathom_semantic::embed_split(&copies, texts),
                fathom_semantic::PASS_BATCH * copies.len(),
                &stop,
                &mut |_| {},
            )
            .map_err(|e| e.to_string())?;
            // The same queries for each runtime: the app's first, then the baseline.
            let mut words = || -> String {
                let n = 2 + (next() * 3.0) as usize;
                let q: Vec<String> = (0..n)
                    .map(|_| vocab[50 + (next() * 5000.0) as usize].clone())
                    .collect();
                q.join(" ")
            };
            let alone: Vec<String> = (0..100).map(|_| words()).collect();
            let searches: Vec<String> = (0..200).map(|_| words()).collect();
            let mut runs = Vec::new();
            for (name, e) in query_embedders {
                e.embed_queries(&["warm up"]).map_err(|e| e.to_string())?;
                let mut query_ms = Vec::new();
                for q in &alone {
                    let t = Instant::now();
                    e.embed_queries(&[q.as_str()]).map_err(|e| e.to_string())?;
                    query_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                // Whole hybrid searches as the app runs them: the query embedded, then BM25
                // beside the dense search over every (synthetic) vector, then fusion.
                let end_to_end = || -> Result<Vec<f64>, String> {
                    let mut ms = Vec::new();
                    for q in &searches {
                        let t = Instant::now();
                        hybrid_index
                            .search_embedding(
                                &SearchQuery {
                                    text: q.clone(),
                                    limit: 50,
                                    ..SearchQuery::default()
                                },
                                |text| e.embed_queries(&[text]).ok().and_then(|mut v| v.pop()),
                            )
                            .map_err(|e| e.to_string())?;
                        ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(ms)
                };
                let mut run = serde_json::json!({
                    "runtime": name,
                    "queries": query_ms.len(),
                    "queryMs": percentiles(query_ms),
                    "hybridWithEmbeddingMs": percentiles(end_to_end()?),
                });
                // The app's runtime also at other walk lengths (agreement: `dense.hybrid.sweep`).
                if runs.is_empty() {
                    let mut sweep = Vec::new();
                    for expansion in FUSED_SWEEP {
                        hybrid_index
                            .set_graph_expansion(fathom_index::ann::EXPANSION_SEARCH, expansion);
                        let ms = end_to_end();
                        hybrid_index.set_graph_expansion(
                            fathom_index::ann::EXPANSION_SEARCH,
                            fathom_index::ann::EXPANSION_FUSED,
                        );
                        sweep.push(serde_json::json!({
                            "expansion": expansion,
                            "ms": percentiles(ms?),
                        }));
                    }
                    run["hybridWithEmbeddingSweep"] = sweep.into();
                }
                runs.push(run);
            }
            let rate = report.chunks as f64 / report.seconds.max(1e-9);
            // The corpus's bytes per chunk (overlap aside): MB/s comparable with BM25's.
            let chunk_bytes = bytes as f64 / index.chunk_count().max(1) as f64;
            Some(serde_json::json!({
                "chunks": report.chunks,
                "seconds": report.seconds,
                "chunksPerSecond": rate,
                "mbPerSecond": rate * chunk_bytes / 1e6,
                "filesPerSecond": rate * files as f64 / index.chunk_count().max(1) as f64,
                "projectedHours": index.chunk_count() as f64 / rate.max(1e-9) / 3600.0,
                "passRuntime": pass_runtime,
                "queryRuntimes": runs,
            }))
        }
    };
    drop(hybrid_index);
    let _ = std::fs::remove_dir_all(&root);
    hybrid.sort_by(|a, b| a.total_cmp(b));
    let hybrid_pct = |p: f64| hybrid[((hybrid.len() as f64 - 1.0) * p).round() as usize];
    let (hybrid_p50, hybrid_p95) = (hybrid_pct(0.5), hybrid_pct(0.95));
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    Ok(serde_json::json!({
        "files": files,
        "megabytes": bytes as f64 / 1e6,
        "chunks": report.chunks,
        "indexSeconds": index_seconds,
        "indexWorkers": fathom_index::indexer::worker_count(),
        "indexProfile": {
            "walk": report.timings.walk,
            "extract": report.timings.extract,
            "chunk": report.timings.chunk,
            "wait": report.timings.wait,
            "add": report.timings.add,
            "commit": report.timings.commit,
        },
        "mbPerSecond": bytes as f64 / 1e6 / index_seconds,
        "filesPerSecond": files as f64 / index_seconds,
        "queries": queries,
        "latencyMs": { "p50": pct(0.5), "p95": pct(0.95) },
        "hybridVectors": vectors,
        "hybridIndexSeconds": hybrid_index_seconds,
        "dense": dense,
        "hybridLatencyMs": { "p50": hybrid_p50, "p95": hybrid_p95 },
        "embedding": embedding,
        "chroma": server,
    }))
}

/// The corpus indexed straight to a server (a library on a server alone), against the local
/// hybrid index's run over the same files.
struct Straight<'a> {
    docs: &'a Path,
    embed: std::sync::Arc<fathom_index::indexer::Embed>,
    dir: &'a Path,
    local_seconds: f64,
}

/// The library copied to a Chroma server (a collection of its own, named for this run): the
/// copy's throughput, then the same hybrid searches (synthetic query vectors) on the server and
/// on the local index, one after the other in the same run; then the same files indexed straight
/// to the server (another collection) and read back from it.
fn chroma_check(
    url: &str,
    local: &SearchIndex,
    bag: &BagOfWords,
    straight: Straight<'_>,
    words: &mut dyn FnMut() -> String,
) -> Result<serde_json::Value, String> {
    use fathom_index::Passages;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let connection = fathom_store::ChromaConnection {
        collection: format!("fathom-bench-{stamp}"),
        ..fathom_store::ChromaConnection::local(url)
    };
    let copy_ledger = straight.dir.join("copy-ledger.sqlite");
    let server = fathom_chroma::ChromaLibrary::connect(&connection, "bench")
        .and_then(|l| l.with_copy_ledger(&copy_ledger))
        .map_err(|e| e.to_string())?;
    let no_stop = tokio_util::sync::CancellationToken::new();
    let report = server
        .sync(local, &no_stop, &mut |_| {})
        .map_err(|e| e.to_string())?;
    // A copy with nothing to do (what the background copier runs after each indexing run): it
    // learns what the server holds from the ledger of what was copied, or by listing every
    // record (as without a ledger).
    let idle = |library: &fathom_chroma::ChromaLibrary| -> Result<(f64, bool), String> {
        let t = Instant::now();
        let r = library
            .sync(local, &no_stop, &mut |_| {})
            .map_err(|e| e.to_string())?;
        if r.documents_copied + r.documents_removed > 0 {
            return Err(format!("a copy with nothing to do did something: {r:?}"));
        }
        Ok((t.elapsed().as_secs_f64(), r.listed))
    };
    let (ledger_seconds, ledger_listed) = idle(&server)?;
    let listing =
        fathom_chroma::ChromaLibrary::connect(&connection, "bench").map_err(|e| e.to_string())?;
    let (listing_seconds, _) = idle(&listing)?;
    let queries: Vec<(String, Vec<f32>)> = (0..200)
        .map(|_| {
            let text = words();
            let v = bag.embed(&text);
            (text, v)
        })
        .collect();
    // Hybrid, or the lexical side alone (no query vector), on either library.
    let timed = |on: &dyn Passages, hybrid: bool| -> Result<Vec<f64>, String> {
        let mut ms = Vec::new();
        for (text, v) in &queries {
            let t = Instant::now();
            on.search_embedding(
                &SearchQuery {
                    text: text.clone(),
                    limit: 50,
                    ..SearchQuery::default()
                },
                &|_| hybrid.then(|| v.clone()),
            )
            .map_err(|e| e.to_string())?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(ms)
    };
    let remote = timed(&server, true)?;
    let remote_lexical = timed(&server, false)?;
    let here = timed(local, true)?;

    let alone = fathom_store::ChromaConnection {
        collection: format!("fathom-bench-{stamp}-alone"),
        ..fathom_store::ChromaConnection::local(url)
    };
    let library = std::sync::Arc::new(
        fathom_chroma::ChromaLibrary::connect(&alone, "bench").map_err(|e| e.to_string())?,
    );
    let ledger = fathom_index::Ledger::open(&straight.dir.join("alone-ledger.sqlite"))
        .map_err(|e| e.to_string())?;
    let store = fathom_chroma::ServerStore::new(library.clone(), ledger);
    let t = Instant::now();
    let mut straight_chunks = 0;
    for (folder, part) in [("tenth", "a"), ("rest", "b")] {
        straight_chunks += index_folder(
            &store,
            folder,
            &straight.docs.join(part),
            &Chunker::default(),
            &IndexOptions {
                embedder: Some(straight.embed.clone()),
                ..IndexOptions::default()
            },
            &tokio_util::sync::CancellationToken::new(),
            &mut |_| {},
        )
        .map_err(|e| e.to_string())?
        .chunks;
    }
    let straight_seconds = t.elapsed().as_secs_f64();
    let back =
        SearchIndex::open(&straight.dir.join("index-read-back")).map_err(|e| e.to_string())?;
    let docs = fathom_index::DocStore::all_docs(&store).map_err(|e| e.to_string())?;
    let pulled = library
        .pull(
            &docs,
            &back,
            &tokio_util::sync::CancellationToken::new(),
            &mut |_| {},
        )
        .map_err(|e| e.to_string())?;
    let local_chunks = local.chunk_count();
    Ok(serde_json::json!({
        "collection": connection.collection,
        "chunksCopied": report.chunks_copied,
        "copySeconds": report.seconds,
        "chunksPerSecond": report.chunks_copied as f64 / report.seconds.max(1e-9),
        "hybridMs": percentiles(remote),
        "lexicalMs": percentiles(remote_lexical),
        "localHybridMs": percentiles(here),
        "straightChunksPerSecond": straight_chunks as f64 / straight_seconds.max(1e-9),
        "localIndexChunksPerSecond": local_chunks as f64 / straight.local_seconds.max(1e-9),
        "readBackChunksPerSecond": pulled.chunks as f64 / pulled.seconds.max(1e-9),
        "readBackIncomplete": pulled.incomplete,
        "idleCopyLedgerSeconds": ledger_seconds,
        "idleCopyLedgerListed": ledger_listed,
        "idleCopyListingSeconds": listing_seconds,
    }))
}

/// Dense search alone on `index` (the graph, past its size) against the exact scan over the same
/// vectors, opened again from SQLite: recall@10 and latency, whole and within a folder of a tenth
/// of the library with that folder's best five excluded (the agent's searches). Two query sets:
/// `queries` (embedded like searches: their true neighbours stand out, as with a real embedder)
/// and random unit vectors (no near neighbours at all: the graph's worst case, for reference).
fn dense_check(
    dir: &Path,
    index: &SearchIndex,
    searches: &[(String, Vec<f32>)],
) -> Result<serde_json::Value, String> {
    let queries: Vec<Vec<f32>> = searches.iter().map(|s| s.1.clone()).collect();
    let queries = queries.as_slice();
    let exact = SearchIndex::open_with(
        dir,
        &OpenOptions {
            exact_below: usize::MAX,
        },
    )
    .map_err(|e| e.to_string())?;
    let ids = |v: Vec<(String, f32)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
    let pct = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
        serde_json::json!({ "p50": at(0.5), "p95": at(0.95) })
    };
    let check = |queries: &[Vec<f32>]| {
        let (mut hits, mut total, mut filtered_hits, mut filtered_total) = (0, 0, 0, 0);
        let (mut graph_ms, mut exact_ms) = (Vec::new(), Vec::new());
        for q in queries {
            let t = Instant::now();
            let got = ids(index.dense_top(q, 10, None));
            graph_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let want = ids(exact.dense_top(q, 10, None));
            exact_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            hits += got.iter().filter(|c| want.contains(c)).count();
            total += want.len();
            let best = ids(exact.dense_search(q, 5, Some("tenth"), &[]));
            let g = ids(index.dense_search(q, 10, Some("tenth"), &best));
            let e = ids(exact.dense_search(q, 10, Some("tenth"), &best));
            filtered_hits += g
                .iter()
                .filter(|c| e.contains(c) && !best.contains(c))
                .count();
            filtered_total += e.len();
        }
        serde_json::json!({
            "queries": queries.len(),
            "recallAt10": hits as f64 / total.max(1) as f64,
            "filteredRecallAt10": filtered_hits as f64 / filtered_total.max(1) as f64,
            "graphMs": pct(&mut graph_ms),
            "exactMs": pct(&mut exact_ms),
        })
    };
    let random: Vec<Vec<f32>> = (0..100)
        .map(|i| pseudo_vector(&format!("dense query {i}")))
        .collect();
    let mut out = check(queries);
    out["random"] = check(&random);
    // Recall against latency as the graph keeps more candidates (the default is in `out`).
    let wanted: Vec<Vec<String>> = queries
        .iter()
        .map(|q| ids(exact.dense_top(q, 10, None)))
        .collect();
    let mut sweep = Vec::new();
    for expansion in [128, 256, 512, 1024] {
        index.set_graph_expansion(expansion, fathom_index::ann::EXPANSION_FUSED);
        let (mut hits, mut total, mut ms) = (0, 0, Vec::new());
        for (q, want) in queries.iter().zip(&wanted) {
            let t = Instant::now();
            let got = ids(index.dense_top(q, 10, None));
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            hits += got.iter().filter(|c| want.contains(c)).count();
            total += want.len();
        }
        sweep.push(serde_json::json!({
            "expansion": expansion,
            "recallAt10": hits as f64 / total.max(1) as f64,
            "graphMs": pct(&mut ms),
        }));
    }
    index.set_graph_expansion(
        fathom_index::ann::EXPANSION_SEARCH,
        fathom_index::ann::EXPANSION_FUSED,
    );
    out["expansion"] = fathom_index::ann::EXPANSION_SEARCH.into();
    out["sweep"] = sweep.into();
    out["hybrid"] = hybrid_check(index, &exact, searches)?;
    out["graph"] = index.vectors_use_graph().into();
    out["memoryBytes"] = index.vector_memory_bytes().into();
    out["exactMemoryBytes"] = exact.vector_memory_bytes().into();
    Ok(out)
}

/// The dense walk's lengths a hybrid search is measured at, besides the app's
/// ([`fathom_index::ann::EXPANSION_FUSED`]): agreement with the exact scan against time.
const FUSED_SWEEP: [usize; 4] = [128, 192, 256, 512];

/// Where a hybrid search's time goes (BM25's deep list, the dense walk, the rest: fusion and
/// reading the hits), and the fused top 10 and 50 against hybrid search over the exact scan.
fn hybrid_check(
    index: &SearchIndex,
    exact: &SearchIndex,
    searches: &[(String, Vec<f32>)],
) -> Result<serde_json::Value, String> {
    let pct = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
        serde_json::json!({ "p50": at(0.5), "p95": at(0.95) })
    };
    let query = |(text, vector): &(String, Vec<f32>)| SearchQuery {
        text: text.clone(),
        limit: 50,
        vector: Some(vector.clone()),
        ..SearchQuery::default()
    };
    let ids = |hits: Vec<fathom_index::Hit>| -> Vec<String> {
        hits.into_iter().map(|h| h.chunk_id).collect()
    };
    let (mut lexical, mut dense, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    let mut want = Vec::new();
    for s in searches {
        let q = query(s);
        let t = Instant::now();
        index
            .bm25(&SearchQuery {
                limit: q.depth(),
                ..q.clone()
            })
            .map_err(|e| e.to_string())?;
        lexical.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        index.dense_top(&s.1, q.depth(), None);
        dense.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        index.search(&q).map_err(|e| e.to_string())?;
        whole.push(t.elapsed().as_secs_f64() * 1000.0);
        want.push(ids(exact.search(&q).map_err(|e| e.to_string())?));
    }
    let overlap = |got: &[String], want: &[String], k: usize| {
        let want = &want[..want.len().min(k)];
        got.iter().take(k).filter(|c| want.contains(c)).count() as f64 / want.len().max(1) as f64
    };
    let mut sweep = Vec::new();
    for expansion in FUSED_SWEEP {
        index.set_graph_expansion(fathom_index::ann::EXPANSION_SEARCH, expansion);
        let (mut at10, mut at50, mut ms) = (0.0, 0.0, Vec::new());
        for (s, want) in searches.iter().zip(&want) {
            let t = Instant::now();
            let got = ids(index.search(&query(s)).map_err(|e| e.to_string())?);
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            at10 += overlap(&got, want, 10);
            at50 += overlap(&got, want, 50);
        }
        let n = searches.len().max(1) as f64;
        sweep.push(serde_json::json!({
            "expansion": expansion,
            "recallAt10": at10 / n,
            "recallAt50": at50 / n,
            "ms": pct(&mut ms),
        }));
    }
    index.set_graph_expansion(
        fathom_index::ann::EXPANSION_SEARCH,
        fathom_index::ann::EXPANSION_FUSED,
    );
    Ok(serde_json::json!({
        "expansion": fathom_index::ann::EXPANSION_FUSED,
        "bm25DepthMs": pct(&mut lexical),
        "denseDepthMs": pct(&mut dense),
        "wholeMs": pct(&mut whole),
        "sweep": sweep,
    }))
}

/// Stand-in embeddings shaped like a real embedder's, for the generated corpus (whose words are
/// `w{rank:x}q`). Sentence embeddings fill a space of a few dozen effective dimensions inside
/// their 384, so a passage has near neighbours and a query's best passages stand out; uniformly
/// random 384-d vectors have none (every pair is about equally far), and a graph's recall on them
/// says nothing about a library's. Here a text's vector is its words' fixed random vectors in a
/// 32-dimensional space, summed (rarer words weighing more, ln(2 + rank), as idf does), carried
/// into 384 dimensions by a fixed random map, plus a fifth as much noise of its own, unit length.
struct BagOfWords {
    /// `vocabulary × LATENT` random unit vectors.
    words: Vec<f32>,
    /// `LATENT × DIM`: the map into the embedding's space.
    map: Vec<f32>,
}

impl BagOfWords {
    const DIM: usize = 384;
    const LATENT: usize = 32;

    fn new(vocabulary: usize) -> Self {
        let unit = |seed: String, n: usize| {
            let mut v = pseudo_vector(&seed);
            v.truncate(n);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.iter_mut().for_each(|x| *x /= norm);
            v
        };
        BagOfWords {
            words: (0..vocabulary)
                .flat_map(|i| unit(format!("word {i}"), Self::LATENT))
                .collect(),
            map: (0..Self::LATENT)
                .flat_map(|i| unit(format!("axis {i}"), Self::DIM))
                .collect(),
        }
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        let mut latent = [0f32; Self::LATENT];
        let mut any = false;
        for token in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            let Some(rank) = token
                .strip_prefix('w')
                .and_then(|t| t.strip_suffix('q'))
                .and_then(|hex| usize::from_str_radix(hex, 16).ok())
                .filter(|&r| r < self.words.len() / Self::LATENT)
            else {
                continue;
            };
            let weight = (2.0 + rank as f32).ln();
            let word = &self.words[rank * Self::LATENT..(rank + 1) * Self::LATENT];
            latent
                .iter_mut()
                .zip(word)
                .for_each(|(a, b)| *a += weight * b);
            any = true;
        }
        if !any {
            return pseudo_vector(text);
        }
        let norm = latent.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        let mut v: Vec<f32> = pseudo_vector(text).iter().map(|x| 0.2 * x).collect();
        for (l, axis) in latent.iter().zip(self.map.chunks_exact(Self::DIM)) {
            v.iter_mut().zip(axis).for_each(|(a, b)| *a += l / norm * b);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

/// A random unit vector of MiniLM's size, fixed by a hash of `text`.
fn pseudo_vector(text: &str) -> Vec<f32> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let mut state = h.finish() | 1;
    let mut v: Vec<f32> = (0..384)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// p50 and p95 of latencies in milliseconds.
fn percentiles(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| {
        ms.get(((ms.len().max(1) as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    serde_json::json!({ "p50": at(0.5), "p95": at(0.95) })
}
