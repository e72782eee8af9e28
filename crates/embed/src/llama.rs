//! The same encoder on llama.cpp, for a CPU without Metal: its BERT graph multiplies by
//! the weights as stored (f32, read once per call), where MLX's CPU backend hands each matrix
//! product to OpenBLAS, which copies ("packs") every weight matrix on every call; for a
//! query's ten tokens that copy was most of the time (p50 19.8 ms on 2 cores, against a few ms
//! here). The model directory's safetensors are written once as a GGUF file beside them, as
//! llama.cpp's own converter would name the tensors; the tokenizer stays the one in the
//! directory, and token ids go in.
//!
//! llama.cpp's BERT graph computes GELU with the tanh approximation (ggml's `gelu`), where
//! BERT's is exact (erf): still, the vectors agree with sentence-transformers' and the MLX
//! encoder's to a cosine of 0.999999 (`tests/llama.rs`), so vectors from either mix in one
//! library. The bulk pass runs here too (21.5 chunks/s vs MLX's 7.7 a copy on 2 cores).

use std::fs;
use std::path::{Path, PathBuf};

use fathom_llama::gguf::{self, TensorSpec, Writer};
use fathom_llama::llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use fathom_llama::llama_cpp_2::context::LlamaContext;
use fathom_llama::llama_cpp_2::llama_batch::LlamaBatch;
use fathom_llama::llama_cpp_2::model::params::LlamaModelParams;
use fathom_llama::llama_cpp_2::model::LlamaModel;
use fathom_llama::llama_cpp_2::token::LlamaToken;
use fathom_llama::{last_complaint, sys, LlamaError};
use safetensors::{Dtype as StDtype, SafeTensors};
use tokenizers::Tokenizer;

use crate::{encode, load_tokenizer, max_tokens, read_config, EmbedError, Result};

/// Bumped whenever the file written changes, so that an older one is made again.
const CONVERTER_VERSION: u32 = 1;

/// Tokens one call to llama.cpp encodes: every sequence must fit in one (attention is over the
/// whole batch, masked per sequence, so a longer one spends more on masked-out pairs).
const BATCH_TOKENS: usize = 512;

/// Sequences per call at most.
const BATCH_SEQUENCES: usize = 64;

impl From<LlamaError> for EmbedError {
    fn from(e: LlamaError) -> Self {
        match e {
            LlamaError::File { file, message } => EmbedError::Model {
                file,
                reason: message,
            },
            e => EmbedError::Model {
                file: "llama.cpp".into(),
                reason: e.to_string(),
            },
        }
    }
}

/// How the encoder's matrices are stored in the GGUF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// As trained: the library's passages are embedded with these.
    F32,
    /// The six layers' matrices in 8-bit blocks (ggml's Q8_0: 32 values share a scale), the
    /// rest (embeddings, norms, biases) f32: a query reads a quarter of the bytes, which is most
    /// of its time on a CPU (a query's few tokens multiply each weight once). Its vectors agree
    /// with the f32 encoder's to a cosine of about 0.999 and rank passages embedded in f32 as
    /// its do (`tests/llama.rs`; SciFact's and Cranfield's nDCG@10 in `fathom search-bench`).
    Q8,
}

impl Weights {
    fn file_name(self) -> String {
        match self {
            Weights::F32 => format!("fathom-bert-v{CONVERTER_VERSION}.gguf"),
            Weights::Q8 => format!("fathom-bert-q8_0-v{CONVERTER_VERSION}.gguf"),
        }
    }
}

/// The GGUF file made from the model in `dir`, written on first use (under a lock, so that two
/// processes do not write it at once; staged and renamed, so that a killed one leaves no torn
/// file).
pub fn gguf_of(dir: &Path, weights: Weights) -> Result<PathBuf> {
    let target = dir.join(weights.file_name());
    if target.is_file() {
        return Ok(target);
    }
    let io = |file: &Path, e: std::io::Error| EmbedError::Model {
        file: file.display().to_string(),
        reason: e.to_string(),
    };
    let lock_path = dir.join(".fathom-bert.lock");
    let lock = fs::File::create(&lock_path).map_err(|e| io(&lock_path, e))?;
    lock.lock().map_err(|e| io(&lock_path, e))?;
    if !target.is_file() {
        convert(dir, &target, weights)?;
    }
    Ok(target)
}

/// Writes the safetensors of `dir` as a GGUF file of llama.cpp's `bert` architecture at `dst`.
pub fn convert(dir: &Path, dst: &Path, weights: Weights) -> Result<()> {
    let config = read_config(dir)?;
    let path = dir.join("model.safetensors");
    let bytes = fs::read(&path).map_err(|e| EmbedError::Model {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let bad = |reason: String| EmbedError::Model {
        file: path.display().to_string(),
        reason,
    };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let shape = |name: &str| -> Result<Vec<usize>> {
        st.tensor(name)
            .map(|t| t.shape().to_vec())
            .map_err(|_| bad(format!("missing tensor {name}")))
    };
    let h = config.hidden_size as usize;
    let word = shape("embeddings.word_embeddings.weight")?;
    let types = shape("embeddings.token_type_embeddings.weight")?;
    let inter = shape("encoder.layer.0.intermediate.dense.weight")?;
    let (vocab, n_types, ff) = (word[0], types[0], inter[0]);

    // Fathom's name → llama.cpp's, as its converter (convert_hf_to_gguf.py, BertModel) maps them.
    let mut names = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            "token_embd.weight".to_string(),
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            "position_embd.weight".into(),
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            "token_types.weight".into(),
        ),
        (
            "embeddings.LayerNorm.weight".into(),
            "token_embd_norm.weight".into(),
        ),
        (
            "embeddings.LayerNorm.bias".into(),
            "token_embd_norm.bias".into(),
        ),
    ];
    for i in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{i}");
        for (ours, theirs) in [
            ("attention.self.query", "attn_q"),
            ("attention.self.key", "attn_k"),
            ("attention.self.value", "attn_v"),
            ("attention.output.dense", "attn_output"),
            ("attention.output.LayerNorm", "attn_output_norm"),
            ("intermediate.dense", "ffn_up"),
            ("output.dense", "ffn_down"),
            ("output.LayerNorm", "layer_output_norm"),
        ] {
            for part in ["weight", "bias"] {
                names.push((
                    format!("{p}.{ours}.{part}"),
                    format!("blk.{i}.{theirs}.{part}"),
                ));
            }
        }
    }
    let mut specs = Vec::with_capacity(names.len());
    for (ours, theirs) in &names {
        let dims = shape(ours)?;
        // Only the layers' matrices are quantised, as llama.cpp's own quantiser leaves norms and
        // biases (the embedding tables are read a row per token, not worth it); a matrix whose
        // rows are not whole blocks stays f32.
        let matrix = theirs.starts_with("blk.") && theirs.ends_with(".weight") && dims.len() == 2;
        let ty = match weights {
            Weights::Q8 if matrix && gguf::fits(sys::GGML_TYPE_Q8_0, dims[1]) => {
                sys::GGML_TYPE_Q8_0
            }
            _ => sys::GGML_TYPE_F32,
        };
        specs.push(TensorSpec {
            name: theirs.clone(),
            ty,
            ne: dims.iter().rev().map(|&d| d as i64).collect(),
        });
    }

    let a = "bert";
    let gguf = Writer::new();
    gguf.str("general.architecture", a);
    gguf.str("general.name", "sentence embedder (converted by Fathom)");
    gguf.u32("fathom.converter_version", CONVERTER_VERSION);
    gguf.u32(
        &format!("{a}.context_length"),
        config.max_position_embeddings as u32,
    );
    gguf.u32(&format!("{a}.embedding_length"), h as u32);
    gguf.u32(&format!("{a}.feed_forward_length"), ff as u32);
    gguf.u32(&format!("{a}.block_count"), config.num_hidden_layers as u32);
    gguf.u32(
        &format!("{a}.attention.head_count"),
        config.num_attention_heads as u32,
    );
    gguf.f32(
        &format!("{a}.attention.layer_norm_epsilon"),
        config.layer_norm_eps,
    );
    gguf.bool(&format!("{a}.attention.causal"), false);
    // sentence-transformers' pooling for this model: the mean over the tokens.
    gguf.u32(
        &format!("{a}.pooling_type"),
        sys::LLAMA_POOLING_TYPE_MEAN as u32,
    );
    gguf.u32(&format!("{a}.vocab_size"), vocab as u32);
    gguf.str("tokenizer.ggml.model", "none");
    gguf.u32("tokenizer.ggml.token_type_count", n_types as u32);
    gguf.write::<EmbedError>(
        dst,
        &specs,
        |i| {
            let t = st
                .tensor(&names[i].0)
                .map_err(|e| bad(format!("{}: {e}", names[i].0)))?;
            let f32s = f32_bytes(t.dtype(), t.data()).ok_or_else(|| {
                bad(format!(
                    "{}: {:?} is not a float type this reads",
                    names[i].0,
                    t.dtype()
                ))
            })?;
            if specs[i].ty == sys::GGML_TYPE_F32 {
                return Ok(f32s);
            }
            let values: Vec<f32> = f32s
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(gguf::quantize(
                specs[i].ty,
                &values,
                specs[i].ne[0] as usize,
            )?)
        },
        &|_, _| {},
    )?;
    Ok(())
}

/// A float tensor's values as little-endian f32 bytes.
fn f32_bytes(dtype: StDtype, data: &[u8]) -> Option<Vec<u8>> {
    let widen = |f: fn([u8; 2]) -> f32| {
        data.chunks_exact(2)
            .flat_map(|c| f([c[0], c[1]]).to_le_bytes())
            .collect()
    };
    Some(match dtype {
        StDtype::F32 => data.to_vec(),
        StDtype::F16 => widen(|b| half::f16::from_le_bytes(b).to_f32()),
        StDtype::BF16 => widen(|b| half::bf16::from_le_bytes(b).to_f32()),
        _ => return None,
    })
}

/// The model loaded by llama.cpp, with its tokenizer.
pub struct LlamaModelDir {
    model: LlamaModel,
    tokenizer: Tokenizer,
    dimension: usize,
}

impl LlamaModelDir {
    /// Loads the model in `dir` (a sentence-transformers directory, as [`crate::Embedder::load`]
    /// reads) with its weights as trained, converting it on first use.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_weights(dir, Weights::F32)
    }

    /// Loads the model in `dir` with its weights stored as `weights`.
    pub fn load_weights(dir: &Path, weights: Weights) -> Result<Self> {
        let backend = fathom_llama::backend()?;
        let config = read_config(dir)?;
        let tokenizer = load_tokenizer(dir, max_tokens(dir, &config).min(BATCH_TOKENS))?;
        let path = gguf_of(dir, weights)?;
        fathom_llama::clear_complaints();
        let model = LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default())
            .map_err(|e| EmbedError::Model {
                file: path.display().to_string(),
                reason: format!("llama.cpp cannot load it: {e}{}", last_complaint()),
            })?;
        Ok(LlamaModelDir {
            model,
            tokenizer,
            dimension: config.hidden_size as usize,
        })
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// An encoder on `threads` CPU threads (all of them when `None`).
    pub fn encoder(&self, threads: Option<usize>) -> Result<LlamaEncoder<'_>> {
        let backend = fathom_llama::backend()?;
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            as i32;
        let params = LlamaContextParams::default()
            .with_embeddings(true)
            .with_pooling_type(LlamaPoolingType::Mean)
            .with_n_ctx(std::num::NonZeroU32::new(BATCH_TOKENS as u32))
            .with_n_batch(BATCH_TOKENS as u32)
            .with_n_ubatch(BATCH_TOKENS as u32)
            .with_n_seq_max(BATCH_SEQUENCES as u32)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        fathom_llama::clear_complaints();
        let ctx = self
            .model
            .new_context(backend, params)
            .map_err(|e| EmbedError::Model {
                file: "llama.cpp".into(),
                reason: format!("cannot make an encoding context: {e}{}", last_complaint()),
            })?;
        Ok(LlamaEncoder {
            ctx,
            batch: LlamaBatch::new(BATCH_TOKENS, BATCH_SEQUENCES as i32),
            tokenizer: &self.tokenizer,
            dimension: self.dimension,
        })
    }
}

/// Embeds texts with a llama.cpp context (one thread at a time: it holds the context's buffers).
pub struct LlamaEncoder<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    tokenizer: &'m Tokenizer,
    dimension: usize,
}

impl LlamaEncoder<'_> {
    /// Unit-length embeddings of `texts`, one row each, as [`crate::Embedder::embed`] gives them.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = encode(self.tokenizer, texts)?;
        let mut out = Vec::with_capacity(texts.len());
        let mut start = 0;
        while start < encodings.len() {
            // As many texts as fit one call, in order.
            let mut end = start;
            let mut tokens = 0;
            while end < encodings.len()
                && end - start < BATCH_SEQUENCES
                && tokens + encodings[end].get_ids().len().max(1) <= BATCH_TOKENS
            {
                tokens += encodings[end].get_ids().len().max(1);
                end += 1;
            }
            self.batch.clear();
            for (seq, e) in encodings[start..end].iter().enumerate() {
                let mut ids: Vec<LlamaToken> =
                    e.get_ids().iter().map(|&i| LlamaToken(i as i32)).collect();
                if ids.is_empty() {
                    // Only a tokenizer without special tokens gives none; [PAD] stands in.
                    ids.push(LlamaToken(0));
                }
                self.batch
                    .add_sequence(&ids, seq as i32, true)
                    .map_err(|e| failed("batch", e))?;
            }
            fathom_llama::clear_complaints();
            self.ctx
                .encode(&mut self.batch)
                .map_err(|e| failed("encode", e))?;
            for seq in 0..(end - start) {
                let v = self
                    .ctx
                    .embeddings_seq_ith(seq as i32)
                    .map_err(|e| failed("embeddings", e))?;
                out.push(unit(&v[..self.dimension]));
            }
            start = end;
        }
        Ok(out)
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model {
        file: "llama.cpp".into(),
        reason: format!("{what}: {e}{}", last_complaint()),
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}
