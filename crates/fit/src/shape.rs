//! The model's memory-relevant shape, from `config.json` and the safetensors headers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::FitError;

/// One tensor as a safetensors header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    /// Bytes of data in the file (`data_offsets` end − start).
    pub bytes: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// The length of the JSON header, from a safetensors file's first eight bytes.
pub fn header_length(first8: [u8; 8]) -> u64 {
    u64::from_le_bytes(first8)
}

/// Headers longer than this are refused: the format's own reference limits them to 100 MB.
pub const MAX_HEADER: u64 = 100_000_000;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Parses a safetensors JSON header (the bytes after the length prefix).
pub fn parse_header(file: &str, json: &[u8]) -> Result<Vec<TensorInfo>, FitError> {
    let bad = |reason: String| FitError::Header {
        file: file.to_string(),
        reason,
    };
    let map: BTreeMap<String, Value> =
        serde_json::from_slice(json).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        if name == "__metadata__" {
            continue;
        }
        let entry: Entry = serde_json::from_value(value)
            .map_err(|e| bad(format!("tensor {name}: malformed entry: {e}")))?;
        let [start, end] = entry.data_offsets;
        if end < start {
            return Err(bad(format!("tensor {name}: data offsets run backwards")));
        }
        out.push(TensorInfo {
            name,
            dtype: entry.dtype,
            shape: entry.shape,
            bytes: end - start,
        });
    }
    Ok(out)
}

/// Reads the headers of every `*.safetensors` file in a model directory (not the data).
pub fn read_local_headers(dir: &Path) -> Result<Vec<TensorInfo>, FitError> {
    let io = |path: &Path, source| FitError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut f = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
        let size = f.metadata().map_err(|e| io(&path, e))?.len();
        let mut first8 = [0u8; 8];
        f.read_exact(&mut first8).map_err(|_| FitError::Header {
            file: name.clone(),
            reason: "shorter than a safetensors header".into(),
        })?;
        let len = header_length(first8);
        if len > MAX_HEADER || 8 + len > size {
            return Err(FitError::Header {
                file: name,
                reason: format!("header length {len} does not fit a file of {size} bytes"),
            });
        }
        let mut json = vec![0u8; len as usize];
        f.read_exact(&mut json).map_err(|e| io(&path, e))?;
        out.extend(parse_header(&name, &json)?);
    }
    Ok(out)
}

/// What memory a model's weights and cache take, as the engine holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelShape {
    /// Resident weight bytes once loaded (after conversion, for a checkpoint that is converted
    /// before use).
    pub weight_bytes: u64,
    /// Whether the checkpoint is the dense BF16 layout that is converted to MXFP4 before use.
    pub converted: bool,
    pub full_layers: u64,
    pub sliding_layers: u64,
    pub window: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Bytes per cached element (the activations' dtype).
    pub kv_element_bytes: u64,
    pub attention_heads: u64,
    pub hidden_size: u64,
    pub experts_per_token: u64,
    pub max_context: u64,
}

/// Full-attention caches grow in steps of this many positions (the engine's `cache::STEP`).
pub const CACHE_STEP: u64 = 256;

fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "F8_E4M3" | "F8_E5M2" | "I8" | "U8" | "BOOL" => 1,
        _ => return None,
    })
}

fn field(config: &Value, key: &str) -> Result<u64, FitError> {
    config
        .get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| FitError::Config(format!("missing or non-integer \"{key}\"")))
}

impl ModelShape {
    pub fn new(config: &Value, tensors: &[TensorInfo]) -> Result<Self, FitError> {
        let model_type = config
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or("");
        if model_type != "gpt_oss" {
            return Err(FitError::Config(format!(
                "model type \"{model_type}\" is not gpt_oss; Fathom runs gpt-oss checkpoints"
            )));
        }
        if tensors.is_empty() {
            return Err(FitError::Config("the checkpoint has no tensors".into()));
        }
        let layers = field(config, "num_hidden_layers")?;
        let sliding = match config.get("layer_types").and_then(Value::as_array) {
            Some(types) => types
                .iter()
                .filter(|t| t.as_str() == Some("sliding_attention"))
                .count() as u64,
            // gpt-oss alternates, starting with a sliding layer.
            None => layers.div_ceil(2),
        };
        let dense = !tensors.iter().any(|t| t.name.ends_with("_blocks"))
            && config.get("quantization").is_none()
            && tensors
                .iter()
                .any(|t| t.name.ends_with("mlp.experts.gate_up_proj"));
        let mut weight_bytes = 0u64;
        for t in tensors {
            weight_bytes += if dense {
                converted_bytes(t)
            } else {
                // The engine keeps norms and sinks in f32.
                let small_float = t.name.ends_with("norm.weight") || t.name.ends_with(".sinks");
                match dtype_bytes(&t.dtype) {
                    Some(b) if small_float && b < 4 => t.elements() * 4,
                    _ => t.bytes,
                }
            };
        }
        // Activations (and so the cache) take the dtype of the attention biases, as they follow the
        // float weights; 2 bytes when none says.
        let kv_element_bytes = tensors
            .iter()
            .find(|t| t.name.ends_with("self_attn.k_proj.bias"))
            .and_then(|t| dtype_bytes(&t.dtype))
            .unwrap_or(2);
        Ok(ModelShape {
            weight_bytes,
            converted: dense,
            full_layers: layers - sliding.min(layers),
            sliding_layers: sliding.min(layers),
            window: field(config, "sliding_window")?,
            kv_heads: field(config, "num_key_value_heads")?,
            head_dim: field(config, "head_dim")?,
            kv_element_bytes,
            attention_heads: field(config, "num_attention_heads")?,
            hidden_size: field(config, "hidden_size")?,
            experts_per_token: config
                .get("num_experts_per_tok")
                .or_else(|| config.get("experts_per_token"))
                .and_then(Value::as_u64)
                .unwrap_or(4),
            max_context: field(config, "max_position_embeddings").unwrap_or(131_072),
        })
    }

    /// Bytes of one position in one layer's cache (keys and values).
    pub fn kv_bytes_per_position(&self) -> u64 {
        2 * self.kv_heads * self.head_dim * self.kv_element_bytes
    }

    /// KV cache bytes per token of context once the sliding layers are full: only full layers grow.
    pub fn kv_bytes_per_token(&self) -> u64 {
        self.full_layers * self.kv_bytes_per_position()
    }

    /// Cache bytes at `context` positions, including the transient copy while the last chunk of
    /// `chunk` tokens joins it.
    pub fn kv_cache_bytes(&self, context: u64, chunk: u64) -> u64 {
        let per = self.kv_bytes_per_position();
        let full = self.full_layers * context.div_ceil(CACHE_STEP) * CACHE_STEP * per;
        let held = self.window.saturating_sub(1).min(context);
        let sliding = self.sliding_layers * held * per;
        // One sliding layer at a time holds its window plus the chunk while attending.
        let transient = if self.sliding_layers > 0 {
            chunk * per
        } else {
            0
        };
        full + sliding + transient
    }

    /// llama.cpp's cache at `context`, all allocated when its context is made: full layers hold
    /// the context (rounded up to 256), sliding layers their window plus one batch of `batch`
    /// tokens (also rounded up, as llama.cpp sizes them with `swa_full` off), keys and values in
    /// f16 whatever the weights' type.
    pub fn llamacpp_cache_bytes(&self, context: u64, batch: u64) -> u64 {
        let per = 2 * self.kv_heads * self.head_dim * 2;
        let full = llamacpp_context(context);
        let sliding = llamacpp_context(context.min(self.window + batch)).min(full);
        (self.full_layers * full + self.sliding_layers * sliding) * per
    }

    /// The most keys one query chunk attends to at `context` (a full layer sees them all).
    pub fn widest_keys(&self, context: u64, chunk: u64) -> u64 {
        if self.full_layers > 0 {
            context
        } else {
            (self.window.saturating_sub(1) + chunk).min(context)
        }
    }
}

/// The positions llama.cpp allocates for a context of `context`: a multiple of 256, and at least
/// one batch (the engine asks for no less than 512).
pub fn llamacpp_context(context: u64) -> u64 {
    context.max(512).div_ceil(256) * 256
}

/// What a dense tensor becomes after `fathom convert` (MXFP4, group 32: 4 bits + an 8-bit scale
/// per 32 weights; the router at 8-bit affine, group 64, with bf16 scales and biases).
fn converted_bytes(t: &TensorInfo) -> u64 {
    let n = t.elements();
    let matrix = t.shape.len() >= 2 && !t.name.ends_with("_bias") && !t.name.ends_with(".bias");
    if !matrix || t.name.ends_with("norm.weight") {
        return if t.name.ends_with("norm.weight") || t.name.ends_with(".sinks") {
            n * 4
        } else {
            t.bytes
        };
    }
    // Dense experts are stored (experts, in, out) and transposed before quantizing, so their
    // groups run along axis 1; everything else along the last axis.
    let width = if t.name.contains(".mlp.experts.") {
        t.shape[1]
    } else {
        t.shape[t.shape.len() - 1]
    };
    let router = t.name.contains(".mlp.router.");
    let group = if router { 64 } else { 32 };
    // mlx-lm leaves a layer whose width is not a multiple of the group unquantized.
    if width % group != 0 {
        return t.bytes;
    }
    if router {
        n + n / 64 * 4
    } else {
        n / 2 + n / 32
    }
}
