//! `fathom bench`: Fathom's engine and mlx-lm on the same checkpoint, in the same run, with the
//! ratios. Figures only; nothing here asserts a speed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fathom_engine::llamacpp::{self, ContextOptions, GgufModel};
use fathom_engine::{Backend, BackendKind, GenerateOptions, Mlx, Model, PromptCache};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub prompt_tokens: usize,
    pub prefill_seconds: f64,
    pub prefill_tokens_per_second: f64,
    pub time_to_first_token_seconds: f64,
    #[serde(default)]
    pub decode_tokens: usize,
    #[serde(default)]
    pub decode_seconds: f64,
    #[serde(default)]
    pub decode_tokens_per_second: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub implementation: String,
    pub load_seconds: f64,
    pub runs: Vec<Run>,
    pub peak_rss_bytes: u64,
    #[serde(default)]
    pub peak_mlx_bytes: u64,
}

/// The process's peak resident set size: VmHWM on Linux (ru_maxrss there includes a parent's
/// peak inherited through fork and exec), ru_maxrss elsewhere.
pub fn peak_rss_bytes() -> u64 {
    if let Some(peak) = llamacpp::resident_peak() {
        return peak;
    }
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let max = usage.ru_maxrss as u64;
    // Linux reports kilobytes, macOS bytes.
    if cfg!(target_os = "macos") {
        max
    } else {
        max * 1024
    }
}

/// Deterministic pseudo-random prompt ids below `vocab` (a linear congruential sequence: the
/// content does not matter for speed, only that both sides could use the same kind of input).
pub fn prompt(n: usize, vocab: u32, seed: u64) -> Vec<u32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % vocab as u64) as u32
        })
        .collect()
}

/// Fathom's engine on `backend`: loads the checkpoint (llama.cpp: its GGUF conversion, made
/// once into the temporary folder and reported apart), then each prompt from an empty cache.
pub fn run_fathom(
    model_dir: &Path,
    prompt_lens: &[usize],
    decode_tokens: usize,
    backend: BackendKind,
) -> Result<Report, String> {
    // Each backend's peak on its own.
    llamacpp::reset_resident_peak();
    let options = GenerateOptions {
        max_tokens: decode_tokens.max(1),
        ..GenerateOptions::default()
    };
    let err = |e: fathom_engine::EngineError| e.to_string();
    let (load_seconds, runs) = match backend {
        BackendKind::Mlx => {
            let start = Instant::now();
            let model = Model::load(model_dir).map_err(err)?;
            let load_seconds = start.elapsed().as_secs_f64();
            let vocab = model.config.vocab_size as u32;
            let mut cache = PromptCache::new(Mlx::new(&model));
            (
                load_seconds,
                measure(&mut cache, vocab, prompt_lens, &options)?,
            )
        }
        BackendKind::LlamaCpp => {
            let converted = std::env::temp_dir().join("fathom-bench-converted");
            let start = Instant::now();
            let file = llamacpp::prepare(model_dir, &converted).map_err(err)?;
            eprintln!(
                "note: llama.cpp runs {} (ready in {:.1} s: converted now, or earlier)",
                file.display(),
                start.elapsed().as_secs_f64()
            );
            let start = Instant::now();
            let model = GgufModel::load(&file).map_err(err)?;
            let longest = prompt_lens.iter().max().copied().unwrap_or(0);
            let context = model
                .context(&ContextOptions::new(longest + decode_tokens + 16))
                .map_err(err)?;
            let load_seconds = start.elapsed().as_secs_f64();
            let vocab = model.vocab_size() as u32;
            let mut cache = PromptCache::new(context);
            (
                load_seconds,
                measure(&mut cache, vocab, prompt_lens, &options)?,
            )
        }
    };
    Ok(Report {
        implementation: format!("fathom {backend}"),
        load_seconds,
        runs,
        peak_rss_bytes: peak_rss_bytes(),
        peak_mlx_bytes: match backend {
            BackendKind::Mlx => mlx_rs::memory::peak_memory().unwrap_or(0) as u64,
            BackendKind::LlamaCpp => 0,
        },
    })
}

/// Each prompt length from an empty cache (the cache is not reused between them).
fn measure<B: Backend>(
    cache: &mut PromptCache<B>,
    vocab: u32,
    prompt_lens: &[usize],
    options: &GenerateOptions,
) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    for &n in prompt_lens {
        let (_, stats) = cache
            .generate(&prompt(n, vocab, 0), options, &|| false, &mut |_| {})
            .map_err(|e| e.to_string())?;
        runs.push(Run {
            prompt_tokens: n,
            prefill_seconds: stats.prefill_seconds,
            prefill_tokens_per_second: stats.prefill_tokens_per_second,
            time_to_first_token_seconds: stats.time_to_first_token_seconds,
            decode_tokens: stats.generated_tokens.saturating_sub(1),
            decode_seconds: stats.decode_seconds,
            decode_tokens_per_second: stats.decode_tokens_per_second,
        });
    }
    Ok(runs)
}

pub fn run_reference(
    python: &Path,
    script: &Path,
    model_dir: &Path,
    prompt_lens: &[usize],
    decode_tokens: usize,
) -> Result<Report, String> {
    let lens: Vec<String> = prompt_lens.iter().map(|n| n.to_string()).collect();
    let mut command = Command::new(python);
    if let Some(blas) = loaded_openblas() {
        // The same BLAS on both sides: the reference's wheel would load its slow reference BLAS.
        command.env("LD_PRELOAD", blas);
    }
    let out = command
        .arg(script)
        .arg(model_dir)
        .args([
            "--prompt-lens",
            &lens.join(","),
            "--decode-tokens",
            &decode_tokens.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "mlx-lm failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    serde_json::from_str(&last).map_err(|e| format!("unreadable mlx-lm report ({e}): {last}"))
}

/// The OpenBLAS this process's MLX runs on (Linux), read from its memory map.
fn loaded_openblas() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("openblas"))
        .map(str::to_string)
}

/// A side-by-side table; ratios are Fathom ÷ mlx-lm (above 1 is better for rates, below 1 for
/// times and memory).
/// The reports side by side, one column each, with each column's ratio to the last one.
pub fn table(reports: &[&Report]) -> String {
    let Some(first) = reports.first() else {
        return String::new();
    };
    let mut rows: Vec<(String, Vec<Option<f64>>)> = vec![(
        "load (s)".into(),
        reports.iter().map(|r| Some(r.load_seconds)).collect(),
    )];
    for run in &first.runs {
        let n = run.prompt_tokens;
        let of = |r: &Report| r.runs.iter().find(|o| o.prompt_tokens == n).cloned();
        rows.push((
            format!("prefill {n} (tok/s)"),
            reports
                .iter()
                .map(|r| of(r).map(|o| o.prefill_tokens_per_second))
                .collect(),
        ));
        rows.push((
            format!("first token {n} (s)"),
            reports
                .iter()
                .map(|r| of(r).map(|o| o.time_to_first_token_seconds))
                .collect(),
        ));
        if run.decode_tokens > 0 {
            rows.push((
                format!("decode after {n} (tok/s)"),
                reports
                    .iter()
                    .map(|r| {
                        of(r)
                            .filter(|o| o.decode_tokens > 0)
                            .map(|o| o.decode_tokens_per_second)
                    })
                    .collect(),
            ));
        }
    }
    rows.push((
        "peak RSS (GB)".into(),
        reports
            .iter()
            .map(|r| Some(r.peak_rss_bytes as f64 / 1e9))
            .collect(),
    ));
    let last = reports.len() - 1;
    let mut out = format!("{:<26}", "");
    for r in reports {
        out.push_str(&format!("{:>18}", r.implementation));
    }
    for r in &reports[..last] {
        out.push_str(&format!(
            "{:>22}",
            format!("{} ÷ {}", short(r), short(reports[last]))
        ));
    }
    out.push('\n');
    for (name, values) in rows {
        out.push_str(&format!("{name:<26}"));
        for v in &values {
            out.push_str(&match v {
                Some(v) => format!("{v:>18.3}"),
                None => format!("{:>18}", "—"),
            });
        }
        for v in &values[..last] {
            let ratio = match (v, values[last]) {
                (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
                _ => "—".into(),
            };
            out.push_str(&format!("{ratio:>22}"));
        }
        out.push('\n');
    }
    out
}

fn short(r: &Report) -> &str {
    r.implementation
        .strip_prefix("fathom ")
        .unwrap_or(&r.implementation)
}

pub fn default_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bench/mlx_lm_bench.py")
}

/// What one memory probe measured: the peak with the KV cache at `context` positions after the
/// last prefill chunk and one decoded token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryProbe {
    pub context: usize,
    pub prefill_chunk: usize,
    pub peak_rss_bytes: u64,
    pub peak_mlx_bytes: u64,
    pub seconds: f64,
}

/// Measures the engine's peak memory at `context` tokens without computing them all: the cache is
/// preloaded with `context - chunk` positions of zeros (memory does not depend on the values), then
/// the last chunk is prefilled for real and one token decoded. Run it in a fresh process: the peak
/// resident set is the process's.
pub fn probe_memory(model_dir: &Path, context: usize, chunk: usize) -> Result<MemoryProbe, String> {
    use fathom_engine::Array;
    let start = Instant::now();
    let model = Model::load(model_dir).map_err(|e| e.to_string())?;
    let err = |e: fathom_engine::EngineError| e.to_string();
    let chunk = chunk.clamp(1, context.max(1));
    let vocab = model.config.vocab_size as u32;
    // One real token on a scratch cache gives the keys' shape and dtype.
    let mut scratch = model.new_cache();
    let one = Array::from_slice(&[1i32], &[1, 1]);
    model.forward(&one, &mut scratch, false).map_err(err)?;
    let like = scratch
        .iter()
        .find_map(|c| c.arrays().next().cloned())
        .ok_or("the model has no attention layers")?;
    drop(scratch);
    let mut cache = model.new_cache();
    let before = (context - chunk) as i32;
    for c in cache.iter_mut() {
        c.preload(before, &like).map_err(err)?;
    }
    let arrays: Vec<&Array> = cache.iter().flat_map(|c| c.arrays()).collect();
    mlx_rs::transforms::eval(arrays).map_err(|e| e.to_string())?;
    let ids: Vec<i32> = prompt(chunk, vocab, 1).iter().map(|&t| t as i32).collect();
    let out = model
        .forward(
            &Array::from_slice(&ids, &[1, chunk as i32]),
            &mut cache,
            false,
        )
        .map_err(err)?;
    let mut arrays: Vec<&Array> = cache.iter().flat_map(|c| c.arrays()).collect();
    arrays.push(&out);
    mlx_rs::transforms::eval(arrays).map_err(|e| e.to_string())?;
    let next = model
        .forward(&Array::from_slice(&[2i32], &[1, 1]), &mut cache, false)
        .map_err(err)?;
    next.eval().map_err(|e| e.to_string())?;
    Ok(MemoryProbe {
        context,
        prefill_chunk: chunk,
        peak_rss_bytes: peak_rss_bytes(),
        peak_mlx_bytes: mlx_rs::memory::peak_memory().unwrap_or(0) as u64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The same measurement on llama.cpp: its GGUF conversion (made once into the temporary folder)
/// loaded with a context of `context` positions, which llama.cpp allocates (and clears) whole
/// when the context is made, then one prefill batch and one decoded token.
pub fn probe_memory_llamacpp(model_dir: &Path, context: usize) -> Result<MemoryProbe, String> {
    let err = |e: fathom_engine::EngineError| e.to_string();
    let converted = std::env::temp_dir().join("fathom-bench-converted");
    let file = llamacpp::prepare(model_dir, &converted).map_err(err)?;
    // The conversion's own memory is not the engine's.
    llamacpp::reset_resident_peak();
    let start = Instant::now();
    let model = GgufModel::load(&file).map_err(err)?;
    let mut backend = model.context(&ContextOptions::new(context)).map_err(err)?;
    let chunk = GenerateOptions::default()
        .prefill_chunk
        .min(context.max(2) - 1);
    let vocab = model.vocab_size() as u32;
    backend.forward(&prompt(chunk, vocab, 1)).map_err(err)?;
    backend.forward(&[2]).map_err(err)?;
    Ok(MemoryProbe {
        context,
        prefill_chunk: chunk,
        peak_rss_bytes: peak_rss_bytes(),
        peak_mlx_bytes: 0,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// llama.cpp alone: its own `llama-bench` on the GGUF Fathom's backend ran, on as many threads,
/// with the same batch (512), cache (f16) and attention. Prefill is timed from an empty cache;
/// decode at each prompt's depth (`-d`), where Fathom's decode runs.
pub fn run_llama_bench(
    bin: &Path,
    model_dir: &Path,
    prompt_lens: &[usize],
    decode_tokens: usize,
) -> Result<Report, String> {
    let converted = std::env::temp_dir().join("fathom-bench-converted");
    let file = llamacpp::prepare(model_dir, &converted).map_err(|e| e.to_string())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let lens = prompt_lens
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let run = |what: &[&str]| -> Result<Vec<serde_json::Value>, String> {
        let out = Command::new(bin)
            .arg("-m")
            .arg(&file)
            .args(["-t", &threads.to_string(), "-b", "512", "-ub", "512"])
            .args([
                "-fa", "auto", "-ctk", "f16", "-ctv", "f16", "-r", "1", "-o", "json",
            ])
            .args(what)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "llama-bench failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("unreadable llama-bench output ({e})"))
    };
    let prefill = run(&["-p", &lens, "-n", "0"])?;
    let decode = if decode_tokens > 0 {
        run(&["-p", "0", "-n", &decode_tokens.to_string(), "-d", &lens])?
    } else {
        Vec::new()
    };
    let field = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
    let runs = prompt_lens
        .iter()
        .map(|&n| {
            let pp = prefill
                .iter()
                .find(|v| field(v, "n_prompt") as usize == n)
                .map_or(0.0, |v| field(v, "avg_ts"));
            let tg = decode
                .iter()
                .find(|v| field(v, "n_depth") as usize == n)
                .map_or(0.0, |v| field(v, "avg_ts"));
            Run {
                prompt_tokens: n,
                prefill_seconds: if pp > 0.0 { n as f64 / pp } else { 0.0 },
                prefill_tokens_per_second: pp,
                time_to_first_token_seconds: if pp > 0.0 { n as f64 / pp } else { 0.0 },
                decode_tokens: if tg > 0.0 { decode_tokens } else { 0 },
                decode_seconds: if tg > 0.0 {
                    decode_tokens as f64 / tg
                } else {
                    0.0
                },
                decode_tokens_per_second: tg,
            }
        })
        .collect();
    Ok(Report {
        implementation: "llama-bench".into(),
        load_seconds: 0.0,
        runs,
        peak_rss_bytes: 0,
        peak_mlx_bytes: 0,
    })
}

/// Memory read bandwidth, bytes per second: the best of five passes over 1 GiB (far beyond the
/// caches) on every core, each summing its share, which is what decoding does with the weights.
pub fn bandwidth_probe() -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let words = (1usize << 30) / 8;
    // Written first, so every page is really there.
    let buffer: Vec<u64> = (0..words as u64).collect();
    let share = words.div_ceil(threads);
    let mut best = 0.0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = buffer
                .chunks(share)
                .map(|part| {
                    s.spawn(move || {
                        // Eight lanes so the sum is not one serial chain of additions.
                        let mut lanes = [0u64; 8];
                        for block in part.chunks_exact(8) {
                            for (lane, x) in lanes.iter_mut().zip(block) {
                                *lane = lane.wrapping_add(*x);
                            }
                        }
                        lanes.iter().fold(0u64, |a, b| a.wrapping_add(*b))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .fold(0u64, |a, b| a.wrapping_add(b))
        });
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(total);
        best = best.max((words * 8) as f64 / seconds);
    }
    best
}

/// The fastest decode memory allows after `depth` tokens: the bytes one token must read (every
/// weight but the experts not chosen and the embedding rows not looked up, and the cache) over
/// the measured read bandwidth.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodeLimit {
    pub depth: usize,
    pub bytes_per_token: u64,
    pub tokens_per_second: f64,
}

pub fn decode_limit(model_dir: &Path, depth: usize, bandwidth: f64) -> Result<DecodeLimit, String> {
    let config: serde_json::Value = std::fs::read(model_dir.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("no readable config.json")?;
    let get = |k: &str| config.get(k).and_then(|v| v.as_u64());
    let experts = get("num_local_experts").ok_or("no num_local_experts")?;
    let active = get("num_experts_per_tok")
        .or_else(|| get("experts_per_token"))
        .unwrap_or(4);
    let tensors = fathom_fit::read_local_headers(model_dir).map_err(|e| e.to_string())?;
    let mut weights = 0u64;
    for t in &tensors {
        weights += if t.name.contains(".experts.") {
            t.bytes * active / experts
        } else if t.name.contains("embed_tokens") {
            t.bytes / t.shape.first().copied().unwrap_or(1).max(1)
        } else {
            t.bytes
        };
    }
    let shape = fathom_fit::ModelShape::new(&config, &tensors).map_err(|e| e.to_string())?;
    let per = 2 * shape.kv_heads * shape.head_dim * 2;
    let depth64 = depth as u64;
    let cache =
        per * (shape.full_layers * depth64 + shape.sliding_layers * depth64.min(shape.window));
    let bytes = weights + cache;
    Ok(DecodeLimit {
        depth,
        bytes_per_token: bytes,
        tokens_per_second: bandwidth / bytes as f64,
    })
}

/// The bandwidth, each depth's decode limit and every report's decode as a share of it.
pub fn limits_table(bandwidth: f64, limits: &[DecodeLimit], reports: &[Report]) -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = format!(
        "memory read bandwidth {:.2} GB/s ({threads} threads)\n",
        bandwidth / 1e9
    );
    for limit in limits {
        out.push_str(&format!(
            "decode after {}: reads {:.3} GB per token, so at most {:.2} tok/s;",
            limit.depth,
            limit.bytes_per_token as f64 / 1e9,
            limit.tokens_per_second
        ));
        for r in reports {
            if let Some(run) = r
                .runs
                .iter()
                .find(|o| o.prompt_tokens == limit.depth && o.decode_tokens > 0)
            {
                out.push_str(&format!(
                    " {} {:.0} %",
                    short(r),
                    100.0 * run.decode_tokens_per_second / limit.tokens_per_second
                ));
            }
        }
        out.push('\n');
    }
    out
}
