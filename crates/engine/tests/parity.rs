//! The engine against the reference implementation: tiny gpt-oss checkpoints with random
//! weights, written by mlx-lm's own code (tests/fixtures/make_gpt_oss.py), and the logits mlx-lm
//! computed on them. Every prompt position and every greedy decode step must agree within 1e-3,
//! and the greedy tokens must be the same.

use std::collections::HashMap;
use std::path::PathBuf;

use fathom_engine::{Array, Model};
use mlx_rs::ops::indexing::{argmax_axis, IndexOp};
use mlx_rs::ops::{abs, concatenate};

const TOLERANCE: f32 = 1e-3;

mod common;
use common::fixtures;

fn reference(layout: &str) -> (PathBuf, HashMap<String, Array>) {
    let dir = fixtures().join(layout);
    let file = dir.join("reference.safetensors");
    assert!(
        file.exists(),
        "{} is missing: run `bash scripts/fixtures.sh` (scripts/test.sh does)",
        file.display()
    );
    (dir, Array::load_safetensors(&file).unwrap())
}

fn max_abs_diff(a: &Array, b: &Array) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let m = abs(a.subtract(b).unwrap()).unwrap().max(None).unwrap();
    m.eval().unwrap();
    m.item_exact::<f32>()
}

fn argmax_last(logits: &Array) -> i32 {
    let t = argmax_axis(logits.index((.., -1)), -1, None).unwrap();
    t.eval().unwrap();
    t.as_slice::<u32>()[0] as i32
}

/// Prefills the prompt in chunks of `chunk` tokens, then decodes greedily, comparing each step.
fn check(layout: &str, chunk: i32) {
    let (dir, _) = reference(layout);
    check_against(&dir, layout, chunk);
}

/// The model at `dir` against the reference recorded for `layout`.
fn check_against(dir: &std::path::Path, layout: &str, chunk: i32) {
    let (_, r) = reference(layout);
    let model = Model::load(dir).unwrap();
    let prompt = &r["prompt_tokens"];
    let len = prompt.shape()[0];
    let mut cache = model.new_cache();

    let mut pieces = Vec::new();
    let mut start = 0;
    while start < len {
        let end = (start + chunk).min(len);
        let ids = prompt.index(start..end).reshape(&[1, end - start]).unwrap();
        pieces.push(model.forward(&ids, &mut cache, true).unwrap());
        start = end;
    }
    let logits = concatenate(&pieces, 1).unwrap();
    let diff = max_abs_diff(&logits.index(0), &r["prompt_logits"]);
    assert!(
        diff <= TOLERANCE,
        "{layout}: prompt logits differ by {diff}"
    );

    let greedy = r["greedy_tokens"].as_slice::<i32>().to_vec();
    let steps = &r["decode_logits"];
    let mut token = argmax_last(&logits);
    for (i, &expected) in greedy.iter().enumerate() {
        assert_eq!(token, expected, "{layout}: greedy token {i}");
        if i + 1 == greedy.len() {
            break;
        }
        let ids = Array::from_slice(&[token], &[1, 1]);
        let logits = model.forward(&ids, &mut cache, false).unwrap();
        let diff = max_abs_diff(&logits.index((0, 0)), &steps.index(i as i32));
        assert!(
            diff <= TOLERANCE,
            "{layout}: decode step {i} differs by {diff}"
        );
        token = argmax_last(&logits);
    }
}

#[test]
fn float32_matches_mlx_lm() {
    check("f32", 64);
}

#[test]
fn mxfp4_matches_mlx_lm() {
    check("mxfp4", 64);
}

#[test]
fn affine_with_excluded_module_matches_mlx_lm() {
    check("affine", 64);
}

#[test]
fn sharded_float32_with_an_index_matches_mlx_lm() {
    // The f32 fixture is split over three files with model.safetensors.index.json.
    assert!(fixtures()
        .join("f32/model-00003-of-00003.safetensors")
        .exists());
    check("f32", 20);
}

#[test]
fn bfloat16_matches_mlx_lm() {
    check("bf16", 64);
}

#[test]
fn float16_matches_mlx_lm() {
    check("f16", 64);
}

#[test]
fn openai_mxfp4_blocks_match_mlx_lm() {
    check("openai-mxfp4", 64);
}

#[test]
fn dense_context1_layout_matches_mlx_lm_on_the_same_weights() {
    check("context1-dense", 64);
}

#[test]
fn chunked_prefill_matches_one_pass() {
    // Chunks of 7 straddle the sliding window (8) and the prompt's end (40).
    check("mxfp4", 7);
    check("f32", 3);
}

#[test]
fn decode_logits_are_for_the_last_position_only() {
    let (dir, r) = reference("mxfp4");
    let model = Model::load(&dir).unwrap();
    let mut cache = model.new_cache();
    let prompt = r["prompt_tokens"].reshape(&[1, -1]).unwrap();
    let logits = model.forward(&prompt, &mut cache, false).unwrap();
    assert_eq!(logits.shape(), &[1, 1, model.config.vocab_size]);
    let diff = max_abs_diff(&logits.index((0, 0)), &r["prompt_logits"].index(-1));
    assert!(diff <= TOLERANCE);
    // Sliding layers hold at most window - 1 positions; full layers hold them all.
    let lens: Vec<i32> = cache.iter().map(|c| c.len()).collect();
    assert_eq!(lens, vec![7, 40, 7, 40]);
}

#[test]
fn converting_the_dense_layout_gives_mlx_lms_mxfp4_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("converted");
    let report = fathom_engine::convert::convert(&fixtures().join("context1-dense"), &dst).unwrap();
    // 4 layers × (4 attention + router + 3 experts) + embeddings + lm_head.
    assert_eq!(report.quantized_modules, 4 * 8 + 2);
    assert!(dst.join("tokenizer.json").exists());
    assert!(!tmp.path().join("converted.partial").exists());
    check_against(&dst, "context1-converted-reference", 64);

    // The converted checkpoint is already MLX: converting it again, or over it, is refused.
    let again = fathom_engine::convert::convert(&dst, &tmp.path().join("twice"))
        .err()
        .unwrap();
    assert!(
        again
            .to_string()
            .contains("already an MLX quantized checkpoint"),
        "{again}"
    );
    let over = fathom_engine::convert::convert(&fixtures().join("context1-dense"), &dst)
        .err()
        .unwrap();
    assert!(over.to_string().contains("already exists"), "{over}");
}

#[test]
fn converting_keeps_already_quantized_experts_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    // A sibling that only looks like a staging directory must survive.
    let bystander = tmp.path().join("out.partial");
    std::fs::create_dir_all(&bystander).unwrap();
    std::fs::write(bystander.join("keep"), "mine").unwrap();
    let dst = tmp.path().join("out.v2");
    let src = fixtures().join("openai-mxfp4");
    fathom_engine::convert::convert(&src, &dst).unwrap();
    assert_eq!(
        std::fs::read_to_string(bystander.join("keep")).unwrap(),
        "mine"
    );

    let mut original = fathom_engine::checkpoint::Checkpoint::open(&src).unwrap();
    let converted = Array::load_safetensors(dst.join("model.safetensors")).unwrap();
    for name in [
        "model.layers.1.mlp.experts.up_proj.weight",
        "model.layers.1.mlp.experts.up_proj.scales",
    ] {
        let before = original.take(name, None).unwrap();
        let after = &converted[name];
        assert!(before.eq_exact(after).unwrap(), "{name} changed");
    }
    // The rest was quantized, and the result runs.
    assert!(converted.contains_key("model.layers.1.self_attn.q_proj.scales"));
    let model = Model::load(&dst).unwrap();
    let mut cache = model.new_cache();
    let logits = model
        .forward(&Array::from_slice(&[1, 2, 3], &[1, 3]), &mut cache, false)
        .unwrap();
    assert_eq!(logits.shape(), &[1, 1, 320]);

    // An interrupted conversion's staging directory is reported, not deleted.
    std::fs::create_dir_all(tmp.path().join("again.partial")).unwrap();
    let err = fathom_engine::convert::convert(&src, &tmp.path().join("again"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("interrupted"), "{err}");
}
