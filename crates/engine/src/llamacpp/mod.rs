//! llama.cpp as a [`Backend`]: the checkpoint converted once to GGUF ([`gguf`]), run on every CPU
//! core through the `llama-cpp-2` crate (which vendors llama.cpp's source and builds it with
//! CMake). Token ids go in and logits come out, so the tokenizer, the harmony format, sampling
//! and the prompt cache stay Fathom's, shared with MLX above the seam.
//!
//! The KV cache has the same restore marks as MLX's: full-attention layers are cut back by
//! removing positions (`llama_memory_seq_rm`), and sliding-window layers, which have forgotten
//! what a cut would need again, are put back from a copy of their window taken at the mark
//! (`llama_state_seq_*` with the partial-state flag, as llama.cpp's own server keeps its
//! context checkpoints).

pub mod gguf;

use std::fs;
use std::path::{Path, PathBuf};

use fathom_llama::sys;

use fathom_llama::llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use fathom_llama::llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use fathom_llama::llama_cpp_2::context::LlamaContext;
use fathom_llama::llama_cpp_2::llama_backend::LlamaBackend;
use fathom_llama::llama_cpp_2::llama_batch::LlamaBatch;
use fathom_llama::llama_cpp_2::model::params::LlamaModelParams;
use fathom_llama::llama_cpp_2::model::LlamaModel;
use fathom_llama::llama_cpp_2::token::LlamaToken;

use crate::backend::Backend;
use crate::EngineError;

/// Tokens per `llama_decode` call: longer prefill pieces are split (the cache is the same).
const BATCH: usize = 512;

/// llama.cpp, started once per process (shared with the embedder), or why it cannot run here.
fn llama() -> Result<&'static LlamaBackend, EngineError> {
    fathom_llama::backend().map_err(|e| match e {
        fathom_llama::LlamaError::Unavailable(m)
            if !fathom_llama::missing_cpu_features().is_empty() =>
        {
            EngineError::Input(format!("{m}; run the model with MLX instead"))
        }
        e => EngineError::Input(e.to_string()),
    })
}

/// The x86 instruction sets llama.cpp needs that this processor lacks (empty elsewhere).
pub fn missing_cpu_features() -> Vec<&'static str> {
    fathom_llama::missing_cpu_features()
}

use fathom_llama::last_complaint;

/// How a llama.cpp context is set up.
#[derive(Debug, Clone)]
pub struct ContextOptions {
    /// Positions the KV cache holds (allocated up front).
    pub context: usize,
    /// CPU threads; all of them when `None`.
    pub threads: Option<usize>,
    /// Keys, values and attention in f32, as MLX computes them, rather than llama.cpp's f16 cache
    /// and flash attention (which rounds queries to f16): twice the cache's memory and slower at
    /// long contexts, for parity checks where f16's rounding would hide a real difference.
    pub exact: bool,
}

impl ContextOptions {
    pub fn new(context: usize) -> Self {
        ContextOptions {
            context,
            threads: None,
            exact: false,
        }
    }
}

/// A GGUF model loaded by llama.cpp (memory-mapped).
pub struct GgufModel {
    model: LlamaModel,
    pub path: PathBuf,
}

impl GgufModel {
    pub fn load(path: &Path) -> Result<Self, EngineError> {
        let llama = llama()?;
        if !path.is_file() {
            return Err(EngineError::Checkpoint {
                file: path.to_path_buf(),
                message: "no such GGUF file".into(),
            });
        }
        fathom_llama::clear_complaints();
        // Read, not memory-mapped: llama.cpp repacks the MXFP4 weights into its faster 8×8
        // layout (a copy), and a mapping would keep the file's pages resident beside that copy,
        // twice the model's size in the process.
        let params = LlamaModelParams::default().with_use_mmap(false);
        let model = LlamaModel::load_from_file(llama, path, &params).map_err(|e| {
            EngineError::Checkpoint {
                file: path.to_path_buf(),
                message: format!("llama.cpp cannot load it: {e}{}", last_complaint()),
            }
        })?;
        Ok(GgufModel {
            model,
            path: path.to_path_buf(),
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.model.n_vocab().max(0) as usize
    }

    /// A context (KV cache and compute buffers) to generate with.
    pub fn context(&self, options: &ContextOptions) -> Result<LlamaCpp<'_>, EngineError> {
        let llama = llama()?;
        let threads = options
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            as i32;
        let n_ctx = options.context.max(BATCH) as u32;
        let (kv, attention) = if options.exact {
            (KvCacheType::F32, sys::LLAMA_FLASH_ATTN_TYPE_DISABLED)
        } else {
            (KvCacheType::F16, sys::LLAMA_FLASH_ATTN_TYPE_AUTO)
        };
        let params = LlamaContextParams::default()
            .with_type_k(kv)
            .with_type_v(kv)
            .with_flash_attention_policy(attention)
            .with_n_ctx(std::num::NonZeroU32::new(n_ctx))
            .with_n_batch(BATCH as u32)
            .with_n_ubatch(BATCH as u32)
            .with_n_seq_max(1)
            // llama.cpp's default keeps every position in the sliding layers too (twice the cache,
            // and attention over all of it); the window is all they need, and marks restore it.
            .with_swa_full(false)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        fathom_llama::clear_complaints();
        let ctx = self.model.new_context(llama, params).map_err(|e| {
            EngineError::Input(format!(
                "llama.cpp cannot make a {n_ctx}-token context: {e}{}",
                last_complaint()
            ))
        })?;
        Ok(LlamaCpp {
            n_ctx: ctx.n_ctx() as usize,
            ctx,
            batch: LlamaBatch::new(BATCH, 1),
            vocab: self.vocab_size(),
            held: 0,
        })
    }
}

/// A llama.cpp context holding one sequence, as a [`Backend`].
pub struct LlamaCpp<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    vocab: usize,
    /// Positions the KV cache holds.
    held: usize,
    n_ctx: usize,
}

fn failed(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Input(format!("llama.cpp {what}: {e}{}", last_complaint()))
}

impl LlamaCpp<'_> {
    /// Runs `tokens` like [`Backend::forward`] but returns the logits after every one of them
    /// (for parity checks against the reference, which records them all).
    pub fn forward_all(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>, EngineError> {
        let mut rows = Vec::with_capacity(tokens.len());
        for piece in tokens.chunks(BATCH) {
            if self.held + piece.len() > self.n_ctx {
                return Err(EngineError::Input("the context is full".into()));
            }
            self.batch.clear();
            for (i, &t) in piece.iter().enumerate() {
                self.batch
                    .add(LlamaToken(t as i32), (self.held + i) as i32, &[0], true)
                    .map_err(|e| failed("batch", e))?;
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| failed("decode", e))?;
            self.held += piece.len();
            for i in 0..piece.len() {
                rows.push(self.ctx.get_logits_ith(i as i32).to_vec());
            }
        }
        Ok(rows)
    }
}

impl Backend for LlamaCpp<'_> {
    type Mark = SeqState;

    fn vocab_size(&self) -> usize {
        self.vocab
    }

    fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        if tokens.is_empty() {
            return Err(EngineError::Input("no tokens to run".into()));
        }
        if self.held + tokens.len() > self.n_ctx {
            return Err(EngineError::Input(format!(
                "{} positions do not fit the {}-token context the engine was started with",
                self.held + tokens.len(),
                self.n_ctx
            )));
        }
        for piece in tokens.chunks(BATCH) {
            self.batch.clear();
            for (i, &t) in piece.iter().enumerate() {
                let pos = (self.held + i) as i32;
                self.batch
                    .add(LlamaToken(t as i32), pos, &[0], i + 1 == piece.len())
                    .map_err(|e| failed("batch", e))?;
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| failed("decode", e))?;
            self.held += piece.len();
        }
        Ok(self.ctx.get_logits_ith(self.batch.n_tokens() - 1).to_vec())
    }

    fn mark(&mut self) -> Result<SeqState, EngineError> {
        self.ctx
            .state_seq_get(0, LlamaStateSeqFlags::PARTIAL_ONLY)
            .map_err(|e| failed("cannot copy the sliding window", e))
    }

    fn restore(&mut self, mark: &SeqState, len: usize) -> Result<(), EngineError> {
        self.ctx
            .clear_kv_cache_seq(Some(0), Some(len as u32), None)
            .map_err(|e| failed("cannot cut the cache back", e))?;
        self.ctx
            .state_seq_set(mark, 0)
            .map_err(|e| failed("cannot put the sliding window back", e))?;
        self.held = len;
        Ok(())
    }

    fn clear(&mut self) {
        self.ctx.clear_kv_cache();
        self.held = 0;
    }

    fn reset_peak_memory(&mut self) {
        reset_resident_peak();
    }

    fn peak_memory(&self) -> u64 {
        resident_peak().unwrap_or(0)
    }
}

/// Starts a new resident high-water mark for [`resident_peak`] (Linux: "5" resets VmHWM to what
/// is resident now; elsewhere nothing).
pub fn reset_resident_peak() {
    #[cfg(target_os = "linux")]
    let _ = fs::write("/proc/self/clear_refs", "5");
}

/// The process's resident high-water mark, in bytes (llama.cpp allocates with malloc and maps
/// the weights, so there is no allocator of its own to ask).
pub fn resident_peak() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The GGUF file for the checkpoint in `dir`, converting it into `converted` the first time
/// (after checking the disk has room). A conversion made by an older converter, or of an older
/// copy of the checkpoint, is replaced.
pub fn prepare(dir: &Path, converted: &Path) -> Result<PathBuf, EngineError> {
    prepare_reporting(dir, converted, &|_, _| {})
}

/// [`prepare`], telling `on_progress` the bytes written and the total while it converts.
pub fn prepare_reporting(
    dir: &Path,
    converted: &Path,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<PathBuf, EngineError> {
    let stem = checkpoint_stem(dir)?;
    let target = converted.join(format!("{stem}.gguf"));
    if target.is_file() {
        return Ok(target);
    }
    fs::create_dir_all(converted).map_err(|e| gguf::io_error(converted, e))?;
    // One conversion of a checkpoint at a time, across processes (the app and a CLI command,
    // two commands at once): the others wait, then find the file made. The lock goes with the
    // handle, also when a process is killed.
    let lock_path = lock_path(dir, converted);
    let lock = fs::File::create(&lock_path).map_err(|e| gguf::io_error(&lock_path, e))?;
    lock.lock().map_err(|e| gguf::io_error(&lock_path, e))?;
    if target.is_file() {
        return Ok(target);
    }
    // Earlier conversions of this checkpoint (and files left by an interrupted one) go first,
    // so that their space counts as free.
    remove_converted_files(dir, converted);
    let needed = gguf::estimated_size(dir)?;
    let free = fs4::available_space(converted).map_err(|e| gguf::io_error(converted, e))?;
    // A margin so the conversion does not fill the disk to the last byte.
    let margin = 512 << 20;
    if free < needed + margin {
        return Err(EngineError::Checkpoint {
            file: converted.to_path_buf(),
            message: format!(
                "running the model with llama.cpp needs it converted once: {:.1} GB free are needed here and {:.1} GB are",
                (needed + margin) as f64 / 1e9,
                free as f64 / 1e9
            ),
        });
    }
    gguf::convert_reporting(dir, &target, gguf::Precision::AsStored, on_progress)?;
    Ok(target)
}

/// Deletes every conversion of the checkpoint in `dir` kept in `converted`, and its lock file
/// (a model being removed); returns the bytes freed.
pub fn remove_conversions(dir: &Path, converted: &Path) -> u64 {
    let freed = remove_converted_files(dir, converted);
    let _ = fs::remove_file(lock_path(dir, converted));
    freed
}

/// The conversions of the checkpoint in `dir` (finished or staged), not its lock.
fn remove_converted_files(dir: &Path, converted: &Path) -> u64 {
    let family = format!("{}-", family_of(dir));
    let mut freed = 0;
    for entry in fs::read_dir(converted).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&family) {
            let size = entry.metadata().map_or(0, |m| m.len());
            if fs::remove_file(entry.path()).is_ok() {
                freed += size;
            }
        }
    }
    freed
}

fn lock_path(dir: &Path, converted: &Path) -> PathBuf {
    converted.join(format!(".{}.lock", family_of(dir)))
}

/// The part of a converted file's name that names the checkpoint (its folder's name).
fn family_of(dir: &Path) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The converted file's name: the checkpoint's folder, what its files are (total size, newest
/// change) and the converter's version, so a changed checkpoint or converter makes a new one.
fn checkpoint_stem(dir: &Path) -> Result<String, EngineError> {
    let mut size = 0u64;
    let mut newest = 0u64;
    for entry in fs::read_dir(dir)
        .map_err(|e| gguf::io_error(dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") || name == "config.json" {
            let meta = entry
                .metadata()
                .map_err(|e| gguf::io_error(&entry.path(), e))?;
            size += meta.len();
            let changed = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            newest = newest.max(changed);
        }
    }
    Ok(format!(
        "{}-{size}-{newest}-v{}",
        family_of(dir),
        gguf::CONVERTER_VERSION
    ))
}
