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
