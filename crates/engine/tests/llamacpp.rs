//! The llama.cpp backend against the reference implementation, on the tiny checkpoints the MLX
//! parity tests use: each layout is converted to GGUF, run by llama.cpp, and compared with
//! mlx-lm's logits and greedy tokens.
//!
//! Two comparisons, because llama.cpp's CPU kernels do not compute in f32 throughout: with MXFP4
//! weights it quantizes activations to 8 bits (Q8_0) for the dot products, with f16/bf16 weights
//! it rounds activations to that type, and its flash attention rounds queries to f16.
//! - Structure: every layout converted with all weights in f32 and run with an f32 cache and
//!   plain attention must match mlx-lm as closely as the MLX engine does (names, orientation,
//!   expert split, biases, sinks, YaRN, the sliding window).
//! - Blocks: MXFP4 and Q4_1 blocks written by the converter must dequantize, by ggml's own code,
//!   to exactly MLX's values.
//!
//! Together these say the file llama.cpp runs is the checkpoint. What remains is the kernels'
//! rounding, measured per layout and printed (`--nocapture`).

use std::collections::HashMap;

use fathom_engine::llamacpp::gguf::{self, Precision};
use fathom_engine::llamacpp::{self, ContextOptions, GgufModel};
use fathom_engine::quant::{quantize, QuantSpec, Quantized};
use fathom_engine::{Array, Backend};
use mlx_rs::Dtype;

mod common;
use common::fixtures;

/// As close as the MLX engine is held to mlx-lm (tests/parity.rs), with f32 throughout.
const STRUCTURE_TOLERANCE: f32 = 2e-3;

const LAYOUTS: [&str; 7] = [
    "f32",
    "f16",
    "bf16",
    "mxfp4",
    "affine",
    "openai-mxfp4",
    "context1-dense",
];

fn reference(layout: &str) -> HashMap<String, Array> {
    Array::load_safetensors(fixtures().join(layout).join("reference.safetensors")).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn argmax(row: &[f32]) -> i32 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best as i32
}

struct Comparison {
    /// Largest logit difference over the prompt's positions, and at the first.
    prompt: f32,
    first: f32,
    /// Largest over the greedy decode steps (fed the reference's tokens).
    decode: f32,
    /// Greedy tokens equal to the reference's, before the first that differs.
    greedy_agree: usize,
    greedy_len: usize,
}

fn compare(layout: &str, precision: Precision, exact: bool) -> Comparison {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("model.gguf");
    gguf::convert_with(&fixtures().join(layout), &file, precision).unwrap();
    let model = GgufModel::load(&file).unwrap();
    let mut backend = model
        .context(&ContextOptions {
            exact,
            ..ContextOptions::new(4096)
        })
        .unwrap();
    let r = reference(layout);
    let prompt: Vec<u32> = r["prompt_tokens"]
        .as_slice::<i32>()
        .iter()
        .map(|&t| t as u32)
        .collect();
    let expected = r["prompt_logits"].as_slice::<f32>();
    let vocab = backend.vocab_size();
    let rows = backend.forward_all(&prompt).unwrap();
    let diffs: Vec<f32> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| max_abs_diff(row, &expected[i * vocab..(i + 1) * vocab]))
        .collect();
    let greedy = r["greedy_tokens"].as_slice::<i32>().to_vec();
    let steps = r["decode_logits"].as_slice::<f32>();
    let mut decode = 0f32;
    let mut token = argmax(rows.last().unwrap());
    let mut agree = None;
    for (i, &want) in greedy.iter().enumerate() {
        if token != want && agree.is_none() {
            agree = Some(i);
        }
        if i + 1 == greedy.len() {
            break;
        }
        // Fed the reference's token, so one early difference does not hide the later steps.
        let row = backend.forward(&[want as u32]).unwrap();
        decode = decode.max(max_abs_diff(&row, &steps[i * vocab..(i + 1) * vocab]));
        token = argmax(&row);
    }
    Comparison {
        prompt: diffs.iter().copied().fold(0.0, f32::max),
        first: diffs[0],
        decode,
        greedy_agree: agree.unwrap_or(greedy.len()),
        greedy_len: greedy.len(),
    }
}

#[test]
fn every_layout_converts_to_the_same_model_as_mlx_lm_runs() {
    for layout in LAYOUTS {
        let c = compare(layout, Precision::F32, true);
        eprintln!(
            "structure {layout}: prompt {:.2e}, decode {:.2e}, greedy {}/{}",
            c.prompt, c.decode, c.greedy_agree, c.greedy_len
        );
        assert!(
            c.prompt <= STRUCTURE_TOLERANCE,
            "{layout}: prompt logits differ by {}",
            c.prompt
        );
        assert!(
            c.decode <= STRUCTURE_TOLERANCE,
            "{layout}: decode logits differ by {}",
            c.decode
        );
        assert_eq!(c.greedy_agree, c.greedy_len, "{layout}: greedy tokens");
    }
}

#[test]
fn conversions_as_stored_stay_within_llama_cpps_rounding() {
    for layout in LAYOUTS {
        let c = compare(layout, Precision::AsStored, false);
        eprintln!(
            "as stored {layout}: first position {:.2e}, prompt {:.2e}, decode {:.2e}, greedy {}/{}",
            c.first, c.prompt, c.decode, c.greedy_agree, c.greedy_len
        );
        // Before any routing choice can go the other way on a near tie, the first position
        // shows the rounding alone; a misplaced nibble or scale moves logits by their whole
        // range (about 7 on these models).
        assert!(
            c.first <= 1.0,
            "{layout}: first position differs by {}",
            c.first
        );
    }
}

/// `n` values in [-3, 3), deterministic.
fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 6.0)
        .collect()
}

fn mlx_f32(a: &Array) -> Vec<f32> {
    let a = a.as_dtype(Dtype::Float32).unwrap();
    a.eval().unwrap();
    a.as_slice::<f32>().to_vec()
}

#[test]
fn mxfp4_blocks_dequantize_to_mlx_values_bit_for_bit() {
    let (rows, cols) = (6, 96);
    let w = Array::from_slice(&values(rows * cols), &[rows as i32, cols as i32]);
    let q = quantize(&w, QuantSpec::MXFP4).unwrap();
    let want = mlx_f32(&q.dequantize().unwrap());
    let codes = gguf::raw_bytes(&q.weight).unwrap();
    let scales = gguf::raw_bytes(&q.scales).unwrap();
    let blocks = gguf::mxfp4_blocks(&codes, &scales);
    let got = gguf::ggml_to_f32(fathom_llama::sys::GGML_TYPE_MXFP4, &blocks, rows * cols).unwrap();
    assert_eq!(got, want);
}

#[test]
fn affine_4_bit_groups_become_q4_1_blocks_bit_for_bit() {
    for group in [32, 64, 128] {
        let (rows, cols) = (4, 256);
        let w = Array::from_slice(&values(rows * cols), &[rows as i32, cols as i32])
            .as_dtype(Dtype::Float16)
            .unwrap();
        let q = quantize(&w, QuantSpec::affine(group, 4).unwrap()).unwrap();
        assert_eq!(q.scales.dtype(), Dtype::Float16);
        // The values the MLX engine computes with: its activations are f32, so its kernels widen
        // the f16 scales and biases and compute `scale · q + bias` in f32, as ggml does.
        let wide = |a: &Array| a.as_dtype(Dtype::Float32).unwrap();
        let in_f32 = Quantized::new(
            q.weight.clone(),
            wide(&q.scales),
            q.biases.as_ref().map(wide),
            q.spec,
        )
        .unwrap();
        let want = mlx_f32(&in_f32.dequantize().unwrap());
        let f16 = |a: &Array| gguf::raw_bytes(&a.as_dtype(Dtype::Float16).unwrap()).unwrap();
        let blocks = gguf::q4_1_blocks(
            &gguf::raw_bytes(&q.weight).unwrap(),
            &f16(&q.scales),
            &f16(q.biases.as_ref().unwrap()),
            group as usize,
        );
        let got =
            gguf::ggml_to_f32(fathom_llama::sys::GGML_TYPE_Q4_1, &blocks, rows * cols).unwrap();
        assert_eq!(got, want, "group {group}");
    }
}

#[test]
fn converted_files_keep_mxfp4_experts_and_say_what_became_of_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("m.gguf");
    let report = gguf::convert(&fixtures().join("mxfp4"), &file).unwrap();
    let types = gguf::tensor_types(&file).unwrap();
    assert_eq!(types["blk.0.ffn_gate_exps.weight"], "mxfp4");
    assert_eq!(types["blk.3.ffn_down_exps.weight"], "mxfp4");
    assert_eq!(types["token_embd.weight"], "mxfp4");
    // The router is affine 8-bit in mlx-lm's MXFP4 conversions: dequantized, exactly.
    assert_eq!(types["blk.0.ffn_gate_inp.weight"], "f32");
    assert_eq!(types["blk.0.attn_sinks.weight"], "f32");
    assert_eq!(report.affine_dequantized, 4);
    // Embeddings, lm_head, 4 attention projections and 3 expert stacks in each of 4 layers.
    assert_eq!(report.mxfp4_repacked, 2 + 4 * 7);
    assert_eq!(report.tensors, types.len());

    // Converting onto an existing file is refused and leaves it alone.
    let before = std::fs::read(&file).unwrap();
    assert!(gguf::convert(&fixtures().join("mxfp4"), &file).is_err());
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn a_damaged_gguf_file_is_an_error_that_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("m.gguf");
    gguf::convert(&fixtures().join("f32"), &file).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let err = GgufModel::load(&file)
        .err()
        .expect("a truncated file does not load");
    let message = err.to_string();
    assert!(message.contains("m.gguf"), "{message}");
    std::fs::write(&file, b"not a gguf file at all").unwrap();
    assert!(GgufModel::load(&file).is_err());
    assert!(GgufModel::load(&tmp.path().join("missing.gguf")).is_err());
}

#[test]
fn restoring_a_mark_brings_back_the_sliding_window() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("model.gguf");
    gguf::convert(&fixtures().join("mxfp4"), &file).unwrap();
    let model = GgufModel::load(&file).unwrap();
    let text = |seed: u32, n: usize| -> Vec<u32> {
        (0..n as u32).map(|i| (seed * 37 + i * 11) % 300).collect()
    };
    let p1 = text(1, 300);
    let tail = text(3, 20);
    let mut fresh = model.context(&ContextOptions::new(4096)).unwrap();
    fresh.forward(&p1).unwrap();
    let want = fresh.forward(&tail).unwrap();

    // 900 more positions: llama.cpp's sliding layers (a window of 8, some hundreds of cells)
    // have long dropped what position 300 needs.
    let mut kept = model.context(&ContextOptions::new(4096)).unwrap();
    kept.forward(&p1).unwrap();
    let mark = kept.mark().unwrap();
    for piece in text(2, 900).chunks(5) {
        kept.forward(piece).unwrap();
    }
    kept.restore(&mark, p1.len()).unwrap();
    let got = kept.forward(&tail).unwrap();
    assert_eq!(max_abs_diff(&got, &want), 0.0);
}

#[test]
fn a_context_that_is_full_is_an_error_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("model.gguf");
    gguf::convert(&fixtures().join("f32"), &file).unwrap();
    let model = GgufModel::load(&file).unwrap();
    let mut backend = model.context(&ContextOptions::new(512)).unwrap();
    let err = backend.forward(&vec![1; 600]).err().unwrap();
    assert!(err.to_string().contains("512-token context"), "{err}");
}

#[test]
fn a_changed_checkpoint_is_converted_again_and_its_old_file_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(fixtures().join("f32")).unwrap().flatten() {
        std::fs::copy(entry.path(), model.join(entry.file_name())).unwrap();
    }
    let converted = tmp.path().join("converted");
    let first = llamacpp::prepare(&model, &converted).unwrap();
    assert_eq!(
        llamacpp::prepare(&model, &converted).unwrap(),
        first,
        "made once"
    );

    // A re-downloaded checkpoint of another size: a new conversion replaces the old one.
    let config = model.join("config.json");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n\n");
    std::fs::write(&config, text).unwrap();
    let second = llamacpp::prepare(&model, &converted).unwrap();
    assert_ne!(second, first);
    assert!(second.is_file() && !first.exists());
    GgufModel::load(&second).unwrap();

    // Removing the model removes its conversion.
    let size = std::fs::metadata(&second).unwrap().len();
    assert_eq!(llamacpp::remove_conversions(&model, &converted), size);
    assert_eq!(std::fs::read_dir(&converted).unwrap().count(), 0);
}
