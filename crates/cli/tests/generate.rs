//! `fathom generate`, run as a user runs it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture() -> (PathBuf, Value) {
    let dir = std::env::var_os("FATHOM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss")
        })
        .join("mxfp4");
    let reference = serde_json::from_slice(
        &std::fs::read(dir.join("reference.json")).expect("run scripts/fixtures.sh"),
    )
    .unwrap();
    (dir, reference)
}

fn fathom(args: &[&str]) -> (bool, String, String) {
    // Fathom's state (llama.cpp's conversion among it) in a folder of this test run's own,
    // shared by its tests, which run at once.
    let data = std::env::temp_dir().join(format!("fathom-cli-generate-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .env("FATHOM_DATA_DIR", &data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn ids(v: &Value) -> String {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn greedy_json_output_matches_the_reference() {
    let (dir, reference) = fixture();
    // mlx-lm's greedy tokens are MLX's (llama.cpp's parity is crates/engine/tests/llamacpp.rs).
    let (ok, stdout, stderr) = fathom(&[
        "--backend",
        "mlx",
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--tokens",
        &ids(&reference["prompt_tokens"]),
        "--max-tokens",
        "12",
        "--temp",
        "0",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["tokens"], reference["greedy_tokens"]);
    assert_eq!(report["stats"]["generatedTokens"], 12);
    assert_eq!(report["stats"]["finishReason"], "length");
    assert!(report["stats"]["decodeTokensPerSecond"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_text_prompt_streams_text_and_a_seed_reproduces_it() {
    let (dir, _) = fixture();
    let run = |seed: &str| {
        let (ok, stdout, stderr) = fathom(&[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "The quick brown fox",
            "--max-tokens",
            "16",
            "--temp",
            "0.9",
            "--top-p",
            "0.95",
            "--seed",
            seed,
            "--json",
        ]);
        assert!(ok, "{stderr}");
        serde_json::from_str::<Value>(stdout.trim()).unwrap()
    };
    let (a, b, c) = (run("5"), run("5"), run("6"));
    assert_eq!(a["tokens"], b["tokens"]);
    assert_ne!(a["tokens"], c["tokens"]);
    assert!(a["text"].is_string());
    assert!(!a["prompt_tokens"].as_array().unwrap().is_empty());

    // Without --json the text streams to stdout and the figures go to stderr.
    let (ok, stdout, stderr) = fathom(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "Fathom",
        "--max-tokens",
        "4",
    ]);
    assert!(ok);
    assert!(!stdout.trim().is_empty());
    assert!(stderr.contains("tok/s"), "{stderr}");
}

#[test]
fn mistakes_are_explained() {
    let (dir, _) = fixture();
    let (ok, _, stderr) = fathom(&[
        "generate",
        "--model",
        "/nonexistent/model",
        "--tokens",
        "1,2",
    ]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/model"), "{stderr}");
    let (ok, _, stderr) = fathom(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--tokens",
        "1,99999",
    ]);
    assert!(!ok);
    assert!(stderr.contains("outside the vocabulary"), "{stderr}");
    let (ok, _, stderr) = fathom(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--tokens",
        "1",
        "--prompt",
        "x",
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn convert_writes_a_checkpoint_that_generates_and_refuses_to_overwrite() {
    let (mxfp4, _) = fixture();
    let dense = mxfp4.parent().unwrap().join("context1-dense");
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("out");
    let (ok, _, stderr) = fathom(&["convert", dense.to_str().unwrap(), dst.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("34 modules quantized"), "{stderr}");
    let (ok, stdout, stderr) = fathom(&[
        "generate",
        "--model",
        dst.to_str().unwrap(),
        "--prompt",
        "Fathom",
        "--max-tokens",
        "3",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"generatedTokens\":3"), "{stdout}");
    let (ok, _, stderr) = fathom(&["convert", dense.to_str().unwrap(), dst.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[test]
fn bench_prints_both_sides_and_their_ratios() {
    let (dir, _) = fixture();
    let python = std::env::var("FATHOM_REFERENCE_PYTHON").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.tools/py-ref/bin/python"
        )
        .to_string()
    });
    let (ok, stdout, stderr) = fathom(&[
        "bench",
        "--model",
        dir.to_str().unwrap(),
        "--prompt-lens",
        "16,24",
        "--decode-tokens",
        "3",
        "--reference-python",
        &python,
        "--reference-prompt-lens",
        "16",
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("mlx-lm runs shortened"), "{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_string()
    };
    // Same prompt length on both sides: a ratio; a length only Fathom ran: none.
    let prefill = row("prefill 16 (tok/s)");
    let cols: Vec<&str> = prefill.split_whitespace().collect();
    assert!(
        cols.last().unwrap().parse::<f64>().unwrap() > 0.0,
        "{stdout}"
    );
    assert!(row("prefill 24 (tok/s)").ends_with('—'), "{stdout}");
    // The memory bandwidth and what it allows a decode, next to the decode measured.
    let bandwidth: f64 = row("memory read bandwidth")
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!(bandwidth > 0.1, "{stdout}");
    let limit = row("decode after 16: reads");
    assert!(limit.contains("tok/s; mlx "), "{stdout}");
    assert!(limit.trim_end().ends_with('%'), "{stdout}");
    assert!(row("peak RSS (GB)")
        .split_whitespace()
        .last()
        .unwrap()
        .parse::<f64>()
        .is_ok());
}

#[test]
fn a_model_that_does_not_fit_is_refused_unless_overridden() {
    let (dir, _) = fixture();
    let model = dir.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            model,
            "--tokens",
            "1,2,3",
            "--max-tokens",
            "2",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(&args)
            .env("FATHOM_MEMORY_LIMIT", "100000")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Does not fit: needs at least"), "{err}");
    assert!(err.contains("--ignore-fit loads it anyway"), "{err}");
    let out = run(&["--ignore-fit"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bench_memory_prints_the_measured_peak_next_to_the_prediction() {
    let (dir, _) = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args([
            "bench",
            "--model",
            dir.to_str().unwrap(),
            "--memory-at",
            "16,600",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, context) in rows.iter().zip([16, 600]) {
        assert_eq!(row["measured"]["context"], context);
        assert_eq!(row["predicted"]["context"], context);
        // A real process: at least the runtime's own footprint.
        assert!(row["measured"]["peakRssBytes"].as_u64().unwrap() > 10_000_000);
        assert!(row["predicted"]["totalBytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn bench_memory_on_llama_cpp_predicts_with_its_own_cache_layout() {
    let (dir, _) = fixture();
    let run = |backend: &str| {
        let (ok, stdout, stderr) = fathom(&[
            "bench",
            "--backend",
            backend,
            "--model",
            dir.to_str().unwrap(),
            "--memory-at",
            "600",
            "--json",
        ]);
        assert!(ok, "{stderr}");
        let rows: Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
        rows.as_array().unwrap()[0].clone()
    };
    let llama = run("llamacpp");
    assert_eq!(llama["backend"], "llamacpp");
    assert_eq!(llama["measured"]["context"], 600);
    assert!(llama["measured"]["peakRssBytes"].as_u64().unwrap() > 10_000_000);
    // llama.cpp holds an f16 cache for the whole context (rounded up to 768 positions) from the
    // start; MLX grows its own in the activations' type: the predictions differ.
    let mlx = run("mlx");
    assert_eq!(mlx["backend"], "mlx");
    assert_ne!(
        llama["predicted"]["kvCacheBytes"],
        mlx["predicted"]["kvCacheBytes"]
    );
    assert!(llama["predicted"]["runtimeBytes"].as_u64().unwrap() > 100_000_000);
}
