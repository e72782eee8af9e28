//! `fathom convert --to gguf`: any checkpoint Fathom loads (MLX MXFP4 or affine, OpenAI's MXFP4,
//! dense BF16/F16/F32), read through the same [`Checkpoint`] the MLX engine uses, written as the
//! GGUF file llama.cpp runs (architecture `gpt-oss`).
//!
//! - MXFP4 weights are repacked bit for bit: both formats are 32-value blocks of FP4 E2M1 codes
//!   with one E8M0 scale byte, so only the order of the nibbles inside a block changes (MLX packs
//!   neighbours in a byte, ggml packs value `j` with value `j + 16`).
//! - Affine 4-bit weights become Q4_1 (one 32-value block per half or quarter of an MLX group,
//!   each keeping the group's scale and bias as `d` and `m`), exactly when every scale and bias
//!   is representable in f16 (true of bf16 and f16 checkpoints that stay in f16's range); other
//!   affine weights (other widths, f32 scales) are dequantized to f32, which is exact too.
//! - Dense matrices keep the dtype they are stored in; vectors (norms, biases, sinks) are f32,
//!   as llama.cpp's own converter writes them.
//! - The tokenizer stays Fathom's: the file declares no vocabulary (`tokenizer.ggml.model =
//!   none`, with the vocabulary's size), and token ids go in and come out.
//!
//! The file is written through ggml's own GGUF writer (header, metadata and tensor offsets, so
//! the layout is what llama.cpp's reader expects by construction), then the tensor data, into a
//! staged file renamed into place only when complete.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use fathom_llama::gguf::{TensorSpec, Writer};
use fathom_llama::sys;
use mlx_rs::{Array, Dtype};

use crate::checkpoint::Checkpoint;
use crate::config::ModelConfig;
use crate::model::load_weight_with;
use crate::quant::{Mode, Quantized};
use crate::EngineError;

/// Bumped whenever the files this writes change, so that files converted by an older Fathom are
/// made again rather than trusted.
pub const CONVERTER_VERSION: u32 = 1;

/// What a conversion wrote.
#[derive(Debug, Clone, Default)]
pub struct GgufReport {
    pub tensors: usize,
    pub bytes: u64,
    /// MXFP4 tensors whose blocks were repacked, not re-quantized.
    pub mxfp4_repacked: usize,
    /// Affine 4-bit tensors written as Q4_1 without loss.
    pub affine_as_q4_1: usize,
    /// Affine tensors written dequantized (f32).
    pub affine_dequantized: usize,
    pub seconds: f64,
}

/// One tensor of the output, and where its bytes come from.
struct Planned {
    name: String,
    ty: sys::ggml_type,
    /// ggml's order: the fastest-moving dimension first (the reverse of MLX's shape).
    ne: Vec<i64>,
    source: Source,
}

enum Source {
    /// A float array, written as `ty` (f32, f16 or bf16).
    Float(Array),
    Mxfp4(Quantized),
    Q4_1(Quantized),
    Dequantize(Quantized),
}

/// Bytes the converted file of `src` will take, about (for the disk-space check before it starts).
pub fn estimated_size(src: &Path) -> Result<u64, EngineError> {
    let mut total = 0;
    for entry in fs::read_dir(src).map_err(|e| io_error(src, e))? {
        let entry = entry.map_err(|e| io_error(src, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".safetensors") {
            total += entry
                .metadata()
                .map_err(|e| io_error(&entry.path(), e))?
                .len();
        }
    }
    // Dequantized routers and f32 vectors add a little; 5 % covers them.
    Ok(total + total / 20)
}

/// How weights are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// As stored: MXFP4 repacked, affine 4-bit as Q4_1 where exact, dense in its own dtype.
    AsStored,
    /// Everything dequantized or widened to f32: large, for checking the conversion's structure
    /// against the reference with llama.cpp computing in f32 throughout.
    F32,
}

/// Converts the checkpoint at `src` into a GGUF file at `dst` (which must not exist), written
/// beside it and renamed into place when complete.
pub fn convert(src: &Path, dst: &Path) -> Result<GgufReport, EngineError> {
    convert_with(src, dst, Precision::AsStored)
}

/// [`convert`] at the given precision.
pub fn convert_with(
    src: &Path,
    dst: &Path,
    precision: Precision,
) -> Result<GgufReport, EngineError> {
    convert_reporting(src, dst, precision, &|_, _| {})
}

/// [`convert_with`], telling `on_progress` the bytes written so far and the file's size after
/// each tensor.
pub fn convert_reporting(
    src: &Path,
    dst: &Path,
    precision: Precision,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<GgufReport, EngineError> {
    let start = Instant::now();
    if dst.exists() {
        return Err(EngineError::Checkpoint {
            file: dst.to_path_buf(),
            message: "already exists".into(),
        });
    }
    let mut ck = Checkpoint::open(src)?;
    let config = ck.config.clone();
    let plan = plan(&mut ck, precision)?;
    ck.finish()?;

    let written = write(&config, &plan, dst, on_progress)?;
    let mut report = GgufReport {
        tensors: plan.len(),
        bytes: written,
        seconds: start.elapsed().as_secs_f64(),
        ..Default::default()
    };
    for p in &plan {
        match p.source {
            Source::Mxfp4(_) => report.mxfp4_repacked += 1,
            Source::Q4_1(_) => report.affine_as_q4_1 += 1,
            Source::Dequantize(_) => report.affine_dequantized += 1,
            Source::Float(_) => {}
        }
    }
    Ok(report)
}

pub(crate) fn io_error(file: &Path, e: std::io::Error) -> EngineError {
    EngineError::Checkpoint {
        file: file.to_path_buf(),
        message: e.to_string(),
    }
}

/// Every tensor llama.cpp's `gpt-oss` graph reads, from the checkpoint's modules.
fn plan(ck: &mut Checkpoint, precision: Precision) -> Result<Vec<Planned>, EngineError> {
    let c = ck.config.clone();
    let (h, ff, e) = (c.hidden_size, c.intermediate_size, c.num_local_experts);
    let (q, kv) = (
        c.num_attention_heads * c.head_dim,
        c.num_key_value_heads * c.head_dim,
    );
    let mut plan = Vec::new();
    plan.push(matrix(
        ck,
        precision,
        "model.embed_tokens",
        "token_embd",
        None,
        c.vocab_size,
        h,
    )?);
    plan.push(vector(ck, "model.norm.weight", "output_norm.weight", &[h])?);
    plan.push(matrix(
        ck,
        precision,
        "lm_head",
        "output",
        None,
        c.vocab_size,
        h,
    )?);
    for i in 0..c.num_hidden_layers {
        let p = format!("model.layers.{i}");
        let b = format!("blk.{i}");
        let layer = [
            ("input_layernorm.weight", "attn_norm.weight", vec![h]),
            (
                "post_attention_layernorm.weight",
                "post_attention_norm.weight",
                vec![h],
            ),
            (
                "self_attn.sinks",
                "attn_sinks.weight",
                vec![c.num_attention_heads],
            ),
            ("self_attn.q_proj.bias", "attn_q.bias", vec![q]),
            ("self_attn.k_proj.bias", "attn_k.bias", vec![kv]),
            ("self_attn.v_proj.bias", "attn_v.bias", vec![kv]),
            ("self_attn.o_proj.bias", "attn_output.bias", vec![h]),
            ("mlp.router.bias", "ffn_gate_inp.bias", vec![e]),
            (
                "mlp.experts.gate_proj.bias",
                "ffn_gate_exps.bias",
                vec![e, ff],
            ),
            ("mlp.experts.up_proj.bias", "ffn_up_exps.bias", vec![e, ff]),
            (
                "mlp.experts.down_proj.bias",
                "ffn_down_exps.bias",
                vec![e, h],
            ),
        ];
        for (from, to, shape) in layer {
            plan.push(vector(
                ck,
                &format!("{p}.{from}"),
                &format!("{b}.{to}"),
                &shape,
            )?);
        }
        let modules = [
            ("self_attn.q_proj", "attn_q", None, q, h),
            ("self_attn.k_proj", "attn_k", None, kv, h),
            ("self_attn.v_proj", "attn_v", None, kv, h),
            ("self_attn.o_proj", "attn_output", None, h, q),
            ("mlp.router", "ffn_gate_inp", None, e, h),
            ("mlp.experts.gate_proj", "ffn_gate_exps", Some(e), ff, h),
            ("mlp.experts.up_proj", "ffn_up_exps", Some(e), ff, h),
            ("mlp.experts.down_proj", "ffn_down_exps", Some(e), h, ff),
        ];
        for (from, to, experts, out, inp) in modules {
            plan.push(matrix(
                ck,
                precision,
                &format!("{p}.{from}"),
                &format!("{b}.{to}"),
                experts,
                out,
                inp,
            )?);
        }
    }
    Ok(plan)
}

fn ggml_order(shape: &[i32]) -> Vec<i64> {
    shape.iter().rev().map(|&d| d as i64).collect()
}

/// A norm, bias or sink: f32 whatever it is stored as.
fn vector(
    ck: &mut Checkpoint,
    from: &str,
    to: &str,
    shape: &[i32],
) -> Result<Planned, EngineError> {
    let array = ck.take_float(from, shape)?;
    Ok(Planned {
        name: to.to_string(),
        ty: sys::GGML_TYPE_F32,
        ne: ggml_order(shape),
        source: Source::Float(array),
    })
}

/// A weight matrix (or one per expert): repacked, converted or kept, as the module doc says.
fn matrix(
    ck: &mut Checkpoint,
    precision: Precision,
    module: &str,
    to: &str,
    experts: Option<i32>,
    out: i32,
    inp: i32,
) -> Result<Planned, EngineError> {
    let shape: Vec<i32> = experts.into_iter().chain([out, inp]).collect();
    let name = format!("{to}.weight");
    let file = ck.dir.clone();
    let bad = |message: String| EngineError::Tensor {
        file: file.clone(),
        tensor: format!("{module}.weight"),
        message,
    };
    let planned = |ty, source| Planned {
        name: name.clone(),
        ty,
        ne: ggml_order(&shape),
        source,
    };
    if inp % 32 != 0 {
        return Err(bad(format!(
            "llama.cpp needs rows in blocks of 32; this one is {inp} wide"
        )));
    }
    let weight = load_weight_with(ck, module, experts, out, inp, false)?;
    Ok(match weight {
        Ok(dense) if precision == Precision::F32 => {
            planned(sys::GGML_TYPE_F32, Source::Float(dense))
        }
        Err(q) if precision == Precision::F32 => planned(sys::GGML_TYPE_F32, Source::Dequantize(q)),
        Ok(dense) => {
            let ty = match dense.dtype() {
                Dtype::Float32 => sys::GGML_TYPE_F32,
                Dtype::Float16 => sys::GGML_TYPE_F16,
                Dtype::Bfloat16 => sys::GGML_TYPE_BF16,
                other => return Err(bad(format!("dtype {other:?} is not a float type"))),
            };
            planned(ty, Source::Float(dense))
        }
        Err(q) => match q.spec.mode {
            Mode::Mxfp4 => planned(sys::GGML_TYPE_MXFP4, Source::Mxfp4(q)),
            Mode::Affine if q.spec.bits == 4 && fits_f16(&q)? => {
                planned(sys::GGML_TYPE_Q4_1, Source::Q4_1(q))
            }
            Mode::Affine => planned(sys::GGML_TYPE_F32, Source::Dequantize(q)),
        },
    })
}

/// Whether every scale and bias survives a round trip through f16 (Q4_1 stores them so).
fn fits_f16(q: &Quantized) -> Result<bool, EngineError> {
    let parts = [Some(&q.scales), q.biases.as_ref()];
    for part in parts.into_iter().flatten() {
        if part.dtype() == Dtype::Float16 {
            continue;
        }
        let wide = part.as_dtype(Dtype::Float32)?;
        let back = wide.as_dtype(Dtype::Float16)?.as_dtype(Dtype::Float32)?;
        let same = wide.eq(&back)?.all(None)?;
        same.eval()?;
        if !same.item_exact::<bool>() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The model's hyperparameters under the names llama.cpp's `gpt-oss` loader reads.
fn metadata(gguf: &Writer, c: &ModelConfig) -> Result<(), EngineError> {
    let a = "gpt-oss";
    gguf.str("general.architecture", a);
    gguf.str("general.name", "Context-1 (converted by Fathom)");
    gguf.u32("fathom.converter_version", CONVERTER_VERSION);
    gguf.u32(
        &format!("{a}.context_length"),
        c.max_position_embeddings as u32,
    );
    gguf.u32(&format!("{a}.embedding_length"), c.hidden_size as u32);
    gguf.u32(
        &format!("{a}.feed_forward_length"),
        c.intermediate_size as u32,
    );
    gguf.u32(
        &format!("{a}.expert_feed_forward_length"),
        c.intermediate_size as u32,
    );
    gguf.u32(&format!("{a}.block_count"), c.num_hidden_layers as u32);
    gguf.u32(
        &format!("{a}.attention.head_count"),
        c.num_attention_heads as u32,
    );
    gguf.u32(
        &format!("{a}.attention.head_count_kv"),
        c.num_key_value_heads as u32,
    );
    gguf.u32(&format!("{a}.attention.key_length"), c.head_dim as u32);
    gguf.u32(&format!("{a}.attention.value_length"), c.head_dim as u32);
    gguf.f32(
        &format!("{a}.attention.layer_norm_rms_epsilon"),
        c.rms_norm_eps,
    );
    gguf.u32(
        &format!("{a}.attention.sliding_window"),
        c.sliding_window as u32,
    );
    gguf.u32(&format!("{a}.expert_count"), c.num_local_experts as u32);
    gguf.u32(
        &format!("{a}.expert_used_count"),
        c.num_experts_per_tok as u32,
    );
    gguf.f32(&format!("{a}.rope.freq_base"), c.rope_theta as f32);
    gguf.u32(&format!("{a}.vocab_size"), c.vocab_size as u32);
    if let Some(s) = &c.rope_scaling {
        gguf.str(&format!("{a}.rope.scaling.type"), "yarn");
        gguf.f32(&format!("{a}.rope.scaling.factor"), s.factor as f32);
        gguf.u32(
            &format!("{a}.rope.scaling.original_context_length"),
            s.original_max_position_embeddings as u32,
        );
        gguf.f32(
            &format!("{a}.rope.scaling.yarn_beta_fast"),
            s.beta_fast as f32,
        );
        gguf.f32(
            &format!("{a}.rope.scaling.yarn_beta_slow"),
            s.beta_slow as f32,
        );
        if s.mscale != 1.0 || s.mscale_all_dim != 0.0 {
            return Err(EngineError::Input(
                "YaRN with mscale settings other than gpt-oss's is not supported by llama.cpp's gpt-oss graph".into(),
            ));
        }
    }
    // llama.cpp's gpt-oss graph alternates sliding and full layers, sliding first.
    let alternating = c
        .layer_types()
        .iter()
        .enumerate()
        .all(|(i, t)| (t == "sliding_attention") == (i % 2 == 0));
    if !alternating {
        return Err(EngineError::Input(
            "llama.cpp runs gpt-oss layers alternating sliding and full attention, sliding first; this checkpoint's layer_types differ".into(),
        ));
    }
    gguf.str("tokenizer.ggml.model", "none");
    Ok(())
}

/// Writes the file (staged, renamed when complete); returns its size.
fn write(
    config: &ModelConfig,
    plan: &[Planned],
    path: &Path,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, EngineError> {
    let gguf = Writer::new();
    metadata(&gguf, config)?;
    let specs: Vec<TensorSpec> = plan
        .iter()
        .map(|p| TensorSpec {
            name: p.name.clone(),
            ty: p.ty,
            ne: p.ne.clone(),
        })
        .collect();
    gguf.write(path, &specs, |i| bytes_of(&plan[i]), on_progress)
}

/// A tensor's bytes in its GGUF type.
fn bytes_of(p: &Planned) -> Result<Vec<u8>, EngineError> {
    Ok(match &p.source {
        Source::Float(a) => {
            let a = match p.ty {
                sys::GGML_TYPE_F32 => a.as_dtype(Dtype::Float32)?,
                _ => a.clone(),
            };
            raw_bytes(&a)?
        }
        Source::Mxfp4(q) => mxfp4_blocks(&raw_bytes(&q.weight)?, &raw_bytes(&q.scales)?),
        Source::Q4_1(q) => {
            let f16 = |a: &Array| raw_bytes(&a.as_dtype(Dtype::Float16)?);
            let biases = q.biases.as_ref().expect("affine weights have biases");
            q4_1_blocks(
                &raw_bytes(&q.weight)?,
                &f16(&q.scales)?,
                &f16(biases)?,
                q.spec.group_size as usize,
            )
        }
        Source::Dequantize(q) => raw_bytes(&q.dequantize()?)?,
    })
}

/// An array's elements as little-endian bytes, in row-major order.
pub fn raw_bytes(a: &Array) -> Result<Vec<u8>, EngineError> {
    // Transposed layouts (the dense checkpoint's experts) are views until copied.
    let a = a.contiguous()?;
    a.eval()?;
    Ok(match a.dtype() {
        Dtype::Float32 => a
            .as_slice::<f32>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        Dtype::Float16 => a
            .as_slice::<half::f16>()
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect(),
        Dtype::Bfloat16 => a
            .as_slice::<half::bf16>()
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect(),
        Dtype::Uint32 => a
            .as_slice::<u32>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        Dtype::Uint8 => a.as_slice::<u8>().to_vec(),
        other => {
            return Err(EngineError::Input(format!(
                "no GGUF bytes for dtype {other:?}"
            )))
        }
    })
}

/// The code of value `i` in MLX's packing: two 4-bit codes a byte, the first in the low nibble.
fn nibble(codes: &[u8], i: usize) -> u8 {
    (codes[i / 2] >> (4 * (i % 2))) & 0x0f
}

/// ggml's layout of one 32-value block's codes: byte `j` holds value `j` (low) and `j + 16`.
fn ggml_block_codes(codes: &[u8], out: &mut Vec<u8>) {
    for j in 0..16 {
        out.push(nibble(codes, j) | (nibble(codes, j + 16) << 4));
    }
}

/// MLX (or OpenAI) MXFP4 → ggml's `block_mxfp4` (`{ e8m0 scale; codes[16] }`), block for block.
pub fn mxfp4_blocks(codes: &[u8], scales: &[u8]) -> Vec<u8> {
    debug_assert_eq!(codes.len(), scales.len() * 16);
    let mut out = Vec::with_capacity(scales.len() * 17);
    for (block, &e) in codes.chunks_exact(16).zip(scales) {
        out.push(e);
        ggml_block_codes(block, &mut out);
    }
    out
}

/// MLX affine 4-bit (`w = scale · q + bias` per group) → ggml's `block_q4_1`
/// (`{ f16 d; f16 m; codes[16] }`, `w = d · q + m`): each group splits into 32-value blocks that
/// share its scale and bias. `scales` and `biases` are f16 bytes, one per group.
pub fn q4_1_blocks(codes: &[u8], scales: &[u8], biases: &[u8], group: usize) -> Vec<u8> {
    let per_group = group / 32;
    let blocks = codes.len() / 16;
    let mut out = Vec::with_capacity(blocks * 20);
    for (b, block) in codes.chunks_exact(16).enumerate() {
        let g = b / per_group;
        out.extend_from_slice(&scales[2 * g..2 * g + 2]);
        out.extend_from_slice(&biases[2 * g..2 * g + 2]);
        ggml_block_codes(block, &mut out);
    }
    out
}

/// ggml's own dequantization of `data` (`n` values of type `ty`), for checking conversions.
pub fn ggml_to_f32(ty: sys::ggml_type, data: &[u8], n: usize) -> Result<Vec<f32>, EngineError> {
    // SAFETY: ggml's static type table; to_float reads exactly the blocks n values take, which
    // the length check below guarantees are there.
    unsafe {
        let expected = sys::ggml_row_size(ty, n as i64);
        if data.len() != expected {
            return Err(EngineError::Input(format!(
                "{} bytes for {n} values of this type (expected {expected})",
                data.len()
            )));
        }
        let traits = sys::ggml_get_type_traits(ty);
        let to_float = (*traits)
            .to_float
            .ok_or_else(|| EngineError::Input("ggml cannot dequantize this type".into()))?;
        let mut out = vec![0f32; n];
        to_float(data.as_ptr().cast(), out.as_mut_ptr(), n as i64);
        Ok(out)
    }
}

/// Tensor names and types of a GGUF file, read back through ggml (for tests and diagnostics).
pub fn tensor_types(path: &Path) -> Result<BTreeMap<String, String>, EngineError> {
    Ok(fathom_llama::gguf::tensor_types(path)?)
}
