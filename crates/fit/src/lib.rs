//! Will a model run on this machine? From `config.json` and the safetensors headers (local, or
//! fetched with HTTP Range requests before any download) this crate works out the exact weight
//! bytes, the KV cache a context needs (only full-attention layers grow; sliding layers hold their
//! window) and the runtime's working memory, and sets the sum against the memory the machine can
//! give a model: fits, fits with a shorter context, or does not fit, with the numbers behind it.

mod memory;
pub mod shape;

pub use memory::{system_description, Memory, MemoryInfo, MemorySource, MEMORY_LIMIT_ENV};
pub use shape::{header_length, parse_header, read_local_headers, ModelShape, TensorInfo};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("{file}: {reason}")]
    Header { file: String, reason: String },
    #[error("config.json: {0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What runs the model, which decides how its cache is laid out and whether the queries × keys
/// score matrix exists in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// MLX's CPU backend (Linux): attention is computed unfused, scores materialized.
    Cpu,
    /// MLX on Metal: fused attention kernels; scores never materialized.
    Metal,
    /// llama.cpp (CPU): an f16 cache for the whole context allocated up front, sliding layers
    /// holding their window plus one batch, flash attention (no scores).
    LlamaCpp,
}

impl Backend {
    /// MLX on this platform.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Backend::Metal
        } else {
            Backend::Cpu
        }
    }
}

/// The runtime's working memory, measured with `fathom bench --memory-at` on the full-size
/// gpt-oss-20b checkpoint (see `Runtime::measured`), not guessed.
#[derive(Debug, Clone, Copy)]
pub struct Runtime {
    /// Bytes the process holds whatever the prompt: libmlx, tokenizer, allocator slack.
    pub base_bytes: u64,
    /// Bytes per prompt token in a prefill chunk (hidden states, expert activations), per unit of
    /// hidden size × active experts.
    pub per_chunk_token_bytes: f64,
    /// Bytes per element of one layer's attention scores (heads × chunk × keys) while they are
    /// materialized (CPU backend only).
    pub score_element_bytes: f64,
    /// Prompt tokens per prefill forward pass (the engine's `GenerateOptions::prefill_chunk`).
    pub prefill_chunk: u64,
    pub backend: Backend,
}

impl Runtime {
    /// Constants from the engine's measured peak RSS (`fathom bench --memory-at`, one fresh
    /// process per context) on the full-size random gpt-oss-20b checkpoint, Linux CPU backend,
    /// prefill chunk 512. Weights 11.123 GB; measured peaks: 1 token 11.193 GB, 512: 11.538,
    /// 2048: 11.938, 8192: 13.867, 16384: 16.424. The base comes from the 1-token probe, the
    /// per-token term from 512, the score term from 512 and 8192; 2048 and 16384 are held out
    /// and predicted within 1% (12.004 vs 11.938 GB, 16.350 vs 16.424 GB).
    /// On Metal the scores are never materialized; the other terms are the same code and sizes.
    ///
    /// llama.cpp, measured the same way (its GGUF conversion read into memory, not mapped, and
    /// its MXFP4 weights repacked; f16 cache; batch 512): weights and the cache as
    /// [`ModelShape::llamacpp_cache_bytes`] counts them, plus 151.8 MB and 537 bytes per position
    /// of context (the compute buffer, sized for the context). Fitted on 1024 and 131072 tokens
    /// (11.319 and 14.585 GB); held out: 4096 (11.395 measured, 11.396 predicted), 16384 (11.696,
    /// 11.705), 32768 (12.118, 12.116) and 65536 (12.973, 12.939), all within 0.3 %.
    pub fn measured(backend: Backend) -> Self {
        match backend {
            Backend::Cpu | Backend::Metal => Runtime {
                base_bytes: 64_100_000,
                per_chunk_token_bytes: 32.6,
                score_element_bytes: 8.5,
                prefill_chunk: 512,
                backend,
            },
            Backend::LlamaCpp => Runtime {
                base_bytes: LLAMA_BASE,
                per_chunk_token_bytes: LLAMA_PER_CHUNK,
                // With flash attention the scores are never materialized; this is the compute
                // buffer's share per position of context (the mask and attention's scratch).
                score_element_bytes: LLAMA_PER_POSITION,
                prefill_chunk: 512,
                backend,
            },
        }
    }
}

// llama.cpp's constants, measured as `Runtime::measured` says. Its activations live in the
// compute buffer, which is sized once for the context, so they are in the per-position term.
const LLAMA_BASE: u64 = 151_800_000;
const LLAMA_PER_CHUNK: f64 = 0.0;
const LLAMA_PER_POSITION: f64 = 537.0;

/// What a model needs at one context length.
#[derive(Debug, Clone, Copy, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    pub context: u64,
    pub weights_bytes: u64,
    pub kv_cache_bytes: u64,
    /// Transient memory of the largest prefill chunk, plus the runtime's base.
    pub runtime_bytes: u64,
    pub total_bytes: u64,
}

pub fn estimate(shape: &ModelShape, runtime: &Runtime, context: u64) -> Estimate {
    let context = context.max(1);
    let chunk = runtime.prefill_chunk.min(context);
    let kv = match runtime.backend {
        Backend::LlamaCpp => shape.llamacpp_cache_bytes(context, runtime.prefill_chunk),
        Backend::Cpu | Backend::Metal => shape.kv_cache_bytes(context, chunk),
    };
    let activations = runtime.per_chunk_token_bytes
        * (chunk * shape.hidden_size * shape.experts_per_token.max(1)) as f64;
    let scores = match runtime.backend {
        Backend::Cpu => {
            runtime.score_element_bytes
                * (shape.attention_heads * chunk * shape.widest_keys(context, chunk)) as f64
        }
        Backend::Metal => 0.0,
        Backend::LlamaCpp => runtime.score_element_bytes * shape::llamacpp_context(context) as f64,
    };
    let runtime_bytes = runtime.base_bytes + (activations + scores) as u64;
    Estimate {
        context,
        weights_bytes: shape.weight_bytes,
        kv_cache_bytes: kv,
        runtime_bytes,
        total_bytes: shape.weight_bytes + kv + runtime_bytes,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Fits,
    /// Runs, but not at the requested context; `max_context` says how far it goes.
    FitsShorterContext,
    DoesNotFit,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FitReport {
    pub verdict: Verdict,
    pub requested: Estimate,
    /// The longest context whose peak fits the budget (0 when none does).
    pub max_context: u64,
    /// The model's own limit on context.
    pub model_max_context: u64,
    /// Memory a model may use here; see `memory.source`.
    pub budget_bytes: u64,
    pub memory: Memory,
    /// One sentence a person can act on.
    pub summary: String,
}

/// The context a check assumes when none is asked for: a long search session.
pub const DEFAULT_CONTEXT: u64 = 16_384;

/// The smallest context worth offering: a chat turn with a short search result.
pub const MIN_USEFUL_CONTEXT: u64 = 2048;

pub fn check(shape: &ModelShape, runtime: &Runtime, memory: &Memory, context: u64) -> FitReport {
    let context = context.clamp(1, shape.max_context.max(1));
    let requested = estimate(shape, runtime, context);
    let budget = memory.budget_bytes();
    let fits = |c: u64| estimate(shape, runtime, c).total_bytes <= budget;
    // The peak grows with context, so the longest context that fits is found by bisection.
    let max_context = if !fits(1) {
        0
    } else if fits(shape.max_context) {
        shape.max_context
    } else {
        let (mut lo, mut hi) = (1, shape.max_context);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) {
                lo = mid
            } else {
                hi = mid
            }
        }
        lo
    };
    let gb = |b: u64| format!("{:.1} GB", b as f64 / 1e9);
    let (verdict, summary) = if requested.total_bytes <= budget {
        (
            Verdict::Fits,
            format!(
                "Fits: needs {} at {} tokens of context; {} available to models here.",
                gb(requested.total_bytes),
                context,
                gb(budget)
            ),
        )
    } else if max_context >= MIN_USEFUL_CONTEXT.min(context) {
        (
            Verdict::FitsShorterContext,
            format!(
                "Fits with a shorter context: up to {max_context} tokens ({} needed for {context}; {} available).",
                gb(requested.total_bytes),
                gb(budget)
            ),
        )
    } else {
        let floor = estimate(shape, runtime, MIN_USEFUL_CONTEXT.min(context));
        (
            Verdict::DoesNotFit,
            format!(
                "Does not fit: needs at least {} ({} of weights); {} available to models here.",
                gb(floor.total_bytes),
                gb(shape.weight_bytes),
                gb(budget)
            ),
        )
    };
    FitReport {
        verdict,
        requested,
        max_context,
        model_max_context: shape.max_context,
        budget_bytes: budget,
        memory: memory.clone(),
        summary,
    }
}

#[cfg(test)]
mod tests;

/// The check of a checkpoint directory on disk, on `backend`'s measured runtime.
pub fn check_dir(
    dir: &std::path::Path,
    memory: &Memory,
    context: u64,
    backend: Backend,
) -> Result<FitReport, FitError> {
    let path = dir.join("config.json");
    let bytes = std::fs::read(&path).map_err(|source| FitError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let config: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| FitError::Config(e.to_string()))?;
    let shape = ModelShape::new(&config, &read_local_headers(dir)?)?;
    Ok(check(&shape, &Runtime::measured(backend), memory, context))
}
