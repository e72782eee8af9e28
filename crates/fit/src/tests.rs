use std::path::PathBuf;

use serde_json::json;

use super::*;

fn gpt_oss_20b_config() -> serde_json::Value {
    json!({
        "model_type": "gpt_oss", "num_hidden_layers": 24, "sliding_window": 128,
        "num_key_value_heads": 8, "head_dim": 64, "num_attention_heads": 64,
        "hidden_size": 2880, "num_experts_per_tok": 4, "max_position_embeddings": 131072,
        "quantization": {"group_size": 32, "bits": 4, "mode": "mxfp4"}
    })
}

fn tensor(name: &str, dtype: &str, shape: &[u64], bytes: u64) -> TensorInfo {
    TensorInfo {
        name: name.into(),
        dtype: dtype.into(),
        shape: shape.to_vec(),
        bytes,
    }
}

/// A stand-in with an 11 GB weight file and bf16 attention.
fn shape_20b() -> ModelShape {
    let tensors = vec![
        tensor("model.layers.0.self_attn.k_proj.bias", "BF16", &[512], 1024),
        tensor(
            "model.embed_tokens.weight",
            "U32",
            &[201088, 360],
            11_000_000_000 - 1024,
        ),
    ];
    ModelShape::new(&gpt_oss_20b_config(), &tensors).unwrap()
}

#[test]
fn header_parses_and_rejects_garbage() {
    let json = br#"{"__metadata__":{"format":"mlx"},"a.weight":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}"#;
    let t = parse_header("m.safetensors", json).unwrap();
    assert_eq!(t, vec![tensor("a.weight", "BF16", &[2, 3], 12)]);
    let err = parse_header("m.safetensors", b"{not json")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("m.safetensors: unreadable header"), "{err}");
    let backwards = br#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#;
    let err = parse_header("x.safetensors", backwards)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tensor a: data offsets run backwards"),
        "{err}"
    );
}

#[test]
fn kv_cache_grows_on_full_layers_only() {
    let s = shape_20b();
    assert_eq!((s.full_layers, s.sliding_layers), (12, 12));
    // 12 full layers × (k, v) × 8 heads × 64 × 2 bytes = 24 KiB per token.
    assert_eq!(s.kv_bytes_per_token(), 24 * 1024);
    let per_position = 2 * 8 * 64 * 2;
    let at = |c| s.kv_cache_bytes(c, 1);
    // Sliding layers hold 127 positions however long the context; full layers grow in steps.
    assert_eq!(at(4096) - at(2048), 2048 * 24 * 1024);
    assert_eq!(
        at(256),
        12 * 256 * per_position + 12 * 127 * per_position + per_position
    );
    assert_eq!(at(128), at(256));
}

#[test]
fn layer_types_decide_which_layers_grow() {
    let mut config = gpt_oss_20b_config();
    config["num_hidden_layers"] = json!(3);
    config["layer_types"] = json!(["sliding_attention", "sliding_attention", "full_attention"]);
    let tensors = vec![tensor("x", "BF16", &[1], 2)];
    let s = ModelShape::new(&config, &tensors).unwrap();
    assert_eq!((s.full_layers, s.sliding_layers), (1, 2));
}

#[test]
fn other_architectures_and_broken_configs_are_refused() {
    let tensors = vec![tensor("x", "BF16", &[1], 2)];
    let err = ModelShape::new(&json!({"model_type": "llama"}), &tensors).unwrap_err();
    assert!(
        err.to_string().contains("\"llama\" is not gpt_oss"),
        "{err}"
    );
    let mut config = gpt_oss_20b_config();
    config.as_object_mut().unwrap().remove("head_dim");
    let err = ModelShape::new(&config, &tensors).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config.json: missing or non-integer \"head_dim\""
    );
    assert!(ModelShape::new(&gpt_oss_20b_config(), &[]).is_err());
}

#[test]
fn verdicts_follow_the_budget() {
    let s = shape_20b();
    let runtime = Runtime::measured(Backend::Cpu);
    let plenty = check(&s, &runtime, &Memory::given(1 << 40), 8192);
    assert_eq!(plenty.verdict, Verdict::Fits);
    assert_eq!(plenty.max_context, 131072);

    // Room for the weights and a few thousand tokens: a shorter context, the longest that fits.
    let budget = s.weight_bytes + 1_500_000_000;
    let tight = check(&s, &runtime, &Memory::given(budget), 131072);
    assert_eq!(
        tight.verdict,
        Verdict::FitsShorterContext,
        "{}",
        tight.summary
    );
    let max = tight.max_context;
    assert!((MIN_USEFUL_CONTEXT..131072).contains(&max), "{max}");
    assert!(estimate(&s, &runtime, max).total_bytes <= budget);
    assert!(estimate(&s, &runtime, max + 1).total_bytes > budget);
    assert!(tight.summary.contains(&format!("up to {max} tokens")));

    let small = check(&s, &runtime, &Memory::given(10_000_000_000), 4096);
    assert_eq!(small.verdict, Verdict::DoesNotFit);
    assert!(
        small.summary.starts_with("Does not fit: needs at least"),
        "{}",
        small.summary
    );
}

#[test]
fn a_16_gb_mac_is_told_no_and_a_64_gb_mac_yes() {
    let s = shape_20b();
    let runtime = Runtime::measured(Backend::Metal);
    let mac = |total: u64, available: u64, working_set: u64| Memory {
        total_bytes: total,
        available_bytes: available,
        gpu_working_set_bytes: Some(working_set),
        source: MemorySource::GpuWorkingSet,
    };
    let gib = 1u64 << 30;
    // Metal's recommended working set: about 2/3 of RAM on a 16 GB Mac, 3/4 on a 64 GB one; a
    // 16 GB Mac in use has about half its memory available.
    let m16 = check(
        &s,
        &runtime,
        &mac(16 * gib, 8 * gib, 10_922 * (1 << 20)),
        4096,
    );
    assert_eq!(m16.verdict, Verdict::DoesNotFit, "{}", m16.summary);
    assert_eq!(m16.budget_bytes, 8 * gib);
    let m64 = check(&s, &runtime, &mac(64 * gib, 40 * gib, 48 * gib), 32768);
    assert_eq!(m64.verdict, Verdict::Fits, "{}", m64.summary);
    // A 22 GB model on a 64 GB Mac fits too (peers refuse it).
    let big = ModelShape {
        weight_bytes: 22_000_000_000,
        ..s.clone()
    };
    assert_eq!(
        check(&big, &runtime, &mac(64 * gib, 40 * gib, 48 * gib), 32768).verdict,
        Verdict::Fits
    );
}

#[test]
fn attention_scores_count_on_the_cpu_only() {
    let s = shape_20b();
    let cpu = estimate(&s, &Runtime::measured(Backend::Cpu), 16384);
    let metal = estimate(&s, &Runtime::measured(Backend::Metal), 16384);
    assert!(cpu.runtime_bytes > metal.runtime_bytes);
    assert_eq!(
        cpu.weights_bytes + cpu.kv_cache_bytes,
        metal.weights_bytes + metal.kv_cache_bytes
    );
}

#[test]
fn llama_cpp_holds_its_whole_f16_cache_from_the_start() {
    let s = shape_20b();
    let llama = Runtime::measured(Backend::LlamaCpp);
    let per_position = 2 * 8 * 64 * 2;
    // Full layers hold the context rounded up to 256; sliding ones their window and a batch
    // (128 + 512, rounded up to 768) however long the context.
    assert_eq!(
        s.llamacpp_cache_bytes(1000, 512),
        (12 * 1024 + 12 * 768) * per_position
    );
    assert_eq!(
        s.llamacpp_cache_bytes(131072, 512) - s.llamacpp_cache_bytes(65536, 512),
        12 * 65536 * per_position
    );
    // A short context is still one batch.
    assert_eq!(s.llamacpp_cache_bytes(10, 512), 24 * 512 * per_position);
    let e = estimate(&s, &llama, 131072);
    assert_eq!(e.kv_cache_bytes, (12 * 131072 + 12 * 768) * per_position);
    assert_eq!(
        e.runtime_bytes,
        LLAMA_BASE + (LLAMA_PER_POSITION * 131072.0) as u64
    );
    // No materialized scores: at a long context it needs far less than MLX on the CPU.
    let mlx = estimate(&s, &Runtime::measured(Backend::Cpu), 131072);
    assert!(e.total_bytes < mlx.total_bytes);
    assert_eq!(
        check(&s, &llama, &Memory::given(1 << 40), 131072).verdict,
        Verdict::Fits
    );
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
}

fn local(dir: &str) -> (serde_json::Value, Vec<TensorInfo>) {
    let dir = fixtures().join(dir);
    let config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let tensors = read_local_headers(&dir)
        .unwrap()
        .into_iter()
        // The fixtures keep mlx-lm's reference logits beside the weights.
        .filter(|t| !t.name.ends_with("_logits") && !t.name.ends_with("_tokens"))
        .collect();
    (config, tensors)
}

#[test]
fn dense_checkpoints_are_sized_as_their_mxfp4_conversion() {
    let (config, dense) = local("context1-dense");
    let shape = ModelShape::new(&config, &dense).unwrap();
    assert!(shape.converted);
    // mlx-lm's own conversion of the same weights, and the engine's f32 norms.
    let (config, converted) = local("context1-converted-reference");
    let reference = ModelShape::new(&config, &converted).unwrap();
    assert!(!reference.converted);
    assert_eq!(shape.weight_bytes, reference.weight_bytes);
}

#[test]
fn local_headers_of_a_truncated_file_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        [200u8, 0, 0, 0, 0, 0, 0, 0, b'{'],
    )
    .unwrap();
    let err = read_local_headers(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with("model.safetensors: header length 200"),
        "{err}"
    );
    std::fs::write(dir.path().join("model.safetensors"), [1u8, 2]).unwrap();
    let err = read_local_headers(dir.path()).unwrap_err().to_string();
    assert!(err.contains("shorter than a safetensors header"), "{err}");
}
