//! Benchmarks: figures printed next to their baselines, measured in the same run; nothing here
//! asserts a speed. `fathom bench` (the engine beside mlx-lm, and peak memory beside the memory
//! check's prediction), `fathom search-bench` (retrieval quality and indexing at scale) and
//! `fathom serve-bench` (the local API beside in-process generation).

pub mod api;
pub mod engine;
pub mod search;

use std::process::ExitCode;

use fathom_engine::{BackendKind, GenerateOptions};

use crate::{fail, BenchArgs};

/// `backends`: the engine's backends to measure (`--backend llamacpp,mlx`), in that order.
pub fn run(args: BenchArgs, backends: &[BackendKind]) -> ExitCode {
    let chunk = GenerateOptions::default().prefill_chunk;
    if let Some(contexts) = &args.memory_at {
        for &backend in backends {
            if !args.json {
                println!("{backend}:");
            }
            let code = memory_table(&args.model, contexts, chunk, backend, args.json);
            if code != ExitCode::SUCCESS {
                return code;
            }
        }
        return ExitCode::SUCCESS;
    }
    if let Some(context) = args.memory_probe {
        let probe = match backends {
            [BackendKind::LlamaCpp] => engine::probe_memory_llamacpp(&args.model, context),
            _ => engine::probe_memory(&args.model, context, chunk),
        };
        return match probe {
            Ok(probe) => {
                println!("{}", serde_json::to_string(&probe).expect("serializable"));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    // mlx-lm first, from a process that has not yet loaded a model of its own: both sides then
    // start from the same small footprint.
    let theirs = match &args.reference_python {
        None => None,
        Some(python) => {
            let lens = args
                .reference_prompt_lens
                .clone()
                .unwrap_or_else(|| args.prompt_lens.clone());
            let decode = args.reference_decode_tokens.unwrap_or(args.decode_tokens);
            if lens != args.prompt_lens || decode != args.decode_tokens {
                eprintln!("note: mlx-lm runs shortened: prompts {lens:?}, {decode} decode tokens");
            }
            match engine::run_reference(
                python,
                &engine::default_script(),
                &args.model,
                &lens,
                decode,
            ) {
                Ok(r) => Some(r),
                Err(e) => return fail(e),
            }
        }
    };
    // llama.cpp's column first, MLX's after it, so the ratios read "llama.cpp ÷ MLX".
    let mut ours = Vec::new();
    let mut alone = None;
    for &backend in backends {
        match engine::run_fathom(&args.model, &args.prompt_lens, args.decode_tokens, backend) {
            Ok(r) => ours.push(r),
            Err(e) => return fail(format!("{backend}: {e}")),
        }
        // llama.cpp alone right after Fathom's run of it, while its file is still in the page
        // cache, on the same threads.
        if let (BackendKind::LlamaCpp, Some(bin)) = (backend, &args.llama_bench) {
            match engine::run_llama_bench(bin, &args.model, &args.prompt_lens, args.decode_tokens) {
                Ok(r) => alone = Some(r),
                Err(e) => return fail(e),
            }
        }
    }
    let bandwidth = engine::bandwidth_probe();
    let limits: Vec<engine::DecodeLimit> = args
        .prompt_lens
        .iter()
        .filter_map(|&n| engine::decode_limit(&args.model, n, bandwidth).ok())
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "fathom": ours,
                "llamaBench": alone,
                "reference": theirs,
                "memoryReadBytesPerSecond": bandwidth,
                "decodeLimits": limits,
            })
        );
    } else {
        // Fathom's llama.cpp beside llama.cpp alone, then every column beside the last (MLX, or
        // mlx-lm when it ran).
        if let (Some(alone), Some(mine)) = (
            &alone,
            ours.iter().find(|r| r.implementation.ends_with("llamacpp")),
        ) {
            print!("{}", engine::table(&[mine, alone]));
            println!();
        }
        let mut columns: Vec<&engine::Report> = ours.iter().collect();
        columns.extend(theirs.as_ref());
        print!("{}", engine::table(&columns));
        println!();
        print!("{}", engine::limits_table(bandwidth, &limits, &ours));
    }
    ExitCode::SUCCESS
}

/// Peak memory measured at each context (a fresh process each) next to `fathom fit`'s prediction.
fn memory_table(
    model: &std::path::Path,
    contexts: &[usize],
    chunk: usize,
    backend: BackendKind,
    json: bool,
) -> ExitCode {
    let mut rows = Vec::new();
    for &context in contexts {
        let out = std::process::Command::new(std::env::current_exe().expect("own path"))
            .args(["bench", "--backend", backend.name(), "--model"])
            .arg(model)
            .args(["--memory-probe", &context.to_string()])
            .output();
        let probe: engine::MemoryProbe = match out {
            Ok(o) if o.status.success() => match serde_json::from_slice(&o.stdout) {
                Ok(p) => p,
                Err(e) => return fail(format!("unreadable probe output: {e}")),
            },
            Ok(o) => return fail(String::from_utf8_lossy(&o.stderr)),
            Err(e) => return fail(e),
        };
        let predicted = match fathom_core::fit_dir(model, context as u64, backend) {
            Ok(r) => r.requested,
            Err(e) => return fail(e),
        };
        rows.push((probe, predicted));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(p, e)| serde_json::json!({"backend": backend, "measured": p, "predicted": e}))
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return ExitCode::SUCCESS;
    }
    println!(
        "{:>8}{:>16}{:>16}{:>10}   (prefill chunk {chunk})",
        "context", "predicted (GB)", "measured (GB)", "ratio"
    );
    for (p, e) in &rows {
        println!(
            "{:>8}{:>16.3}{:>16.3}{:>10.3}",
            p.context,
            e.total_bytes as f64 / 1e9,
            p.peak_rss_bytes as f64 / 1e9,
            e.total_bytes as f64 / p.peak_rss_bytes as f64
        );
    }
    ExitCode::SUCCESS
}
