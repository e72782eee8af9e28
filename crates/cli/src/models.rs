//! `fathom models`, `pull`, `rm` and `fit`: the catalogue, downloads with a progress bar, and the
//! memory check, over the same crates the app uses.

use std::path::Path;
use std::process::ExitCode;

use fathom_core::{memory, runtime, App, PullEvent};
use fathom_fit::{check, FitReport, Verdict, DEFAULT_CONTEXT};
use fathom_models::{catalogue, PullOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{fail, open_app, stop_on_ctrl_c};

fn gb(b: u64) -> String {
    format!("{:.2} GB", b as f64 / 1e9)
}

pub fn print_fit(r: &FitReport) {
    println!("{}", r.summary);
    let e = &r.requested;
    println!("  weights        {}", gb(e.weights_bytes));
    println!(
        "  KV cache       {}  ({} tokens)",
        gb(e.kv_cache_bytes),
        e.context
    );
    println!("  runtime        {}", gb(e.runtime_bytes));
    println!("  peak           {}", gb(e.total_bytes));
    println!(
        "  budget         {}  ({:?}; total memory {})",
        gb(r.budget_bytes),
        r.memory.source,
        gb(r.memory.total_bytes)
    );
    println!(
        "  longest context that fits: {} of {}",
        r.max_context, r.model_max_context
    );
}

pub async fn fit(target: &str, context: Option<u64>, revision: &str, json: bool) -> ExitCode {
    let context = context.unwrap_or(DEFAULT_CONTEXT);
    let report = if Path::new(target).is_dir() {
        // On the backend this command would run it with (`--backend`, else the app's setting).
        open_app().and_then(|app| {
            fathom_core::fit_dir(Path::new(target), context, app.backend())
                .map_err(|e| e.to_string())
        })
    } else {
        // Installed: from its files; else from the Hub (headers only, the app's token).
        match open_app() {
            Ok(app) => app
                .check_fit(target, revision, context)
                .await
                .map(|c| c.fit)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        }
    };
    match report {
        Ok(r) => {
            if json {
                println!("{}", serde_json::to_string(&r).expect("serializable"));
            } else {
                print_fit(&r);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn list(app: &App, json: bool) -> ExitCode {
    let installed = app.installed_models();
    let partial = app.models().store.partial_downloads();
    let active = app.settings().active_model;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "catalogue": catalogue(),
                "installed": installed,
                "partial": partial.iter().map(|(r, b)| serde_json::json!({"repo": r, "bytes": b})).collect::<Vec<_>>(),
                "active": active,
            })
        );
        return ExitCode::SUCCESS;
    }
    println!("Catalogue:");
    for e in catalogue() {
        let state = if installed.iter().any(|m| m.repo == e.repo) {
            "installed"
        } else if partial.iter().any(|(r, _)| *r == e.repo) {
            "partly downloaded (fathom pull resumes)"
        } else {
            "not downloaded"
        };
        let default = if e.default { " (default)" } else { "" };
        println!("  {}{default}: {} — {state}", e.repo, e.name);
    }
    println!("Installed:");
    if installed.is_empty() {
        println!("  none (fathom pull downloads the default)");
    }
    for m in &installed {
        let mark = if active.as_deref() == Some(m.repo.as_str()) {
            " (active)"
        } else {
            ""
        };
        println!("  {}{mark}  {}  {}", m.repo, gb(m.disk_bytes), m.path);
    }
    ExitCode::SUCCESS
}

pub fn rm(app: &App, repo: &str) -> ExitCode {
    match app.delete_model(repo) {
        Ok(freed) => {
            eprintln!("removed {repo} ({} freed)", gb(freed));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub struct PullArgs {
    pub repo: Option<String>,
    pub revision: String,
    pub token: Option<String>,
    pub context: Option<u64>,
    pub anyway: bool,
}

pub async fn pull_cmd(app: &App, args: PullArgs) -> ExitCode {
    let repo = args.repo.unwrap_or_else(|| {
        catalogue()
            .into_iter()
            .find(|e| e.default)
            .map(|e| e.repo)
            .unwrap_or_default()
    });
    let hub = match app.hub_with_token(args.token.clone()) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    // Whether it will run, before a byte of weights moves.
    let info = match hub.repo_info(&repo, &args.revision).await {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let shape = match hub.remote_shape(&info).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let report = check(
        &shape,
        &runtime(app.backend()),
        &memory(),
        args.context.unwrap_or(DEFAULT_CONTEXT),
    );
    eprintln!("{}", report.summary);
    if report.verdict == Verdict::DoesNotFit && !args.anyway {
        return fail(
            "not downloading a model that cannot run here (--anyway downloads it regardless)",
        );
    }
    let bar = ProgressBar::new(info.total_bytes());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(repo.clone());
    let on_event = |event: PullEvent| match event {
        PullEvent::Progress(p) => {
            bar.set_position(p.done_bytes);
            if let Some(note) = p.files.iter().find_map(|f| f.note.as_ref()) {
                bar.set_message(format!("{repo} ({note})"));
            } else {
                bar.set_message(repo.clone());
            }
        }
        PullEvent::Converting { into } => bar.suspend(|| {
            eprintln!(
                "converting the dense checkpoint to MXFP4 (once) into {}",
                into.display()
            )
        }),
    };
    let options = PullOptions {
        revision: args.revision.clone(),
        ..PullOptions::default()
    };
    let (stop, ctrl_c) = stop_on_ctrl_c();
    let result = app
        .pull(&repo, &options, args.token, &stop, &on_event)
        .await;
    ctrl_c.abort();
    bar.finish_and_clear();
    let model = match result {
        Ok(m) => m,
        Err(fathom_core::Error::Cancelled) => {
            eprintln!("paused: {repo} is partly downloaded; run `fathom pull {repo}` to resume");
            return ExitCode::from(130);
        }
        Err(e) => return fail(e),
    };
    let path = model.path.clone();
    eprintln!("installed {repo} ({})", gb(model.disk_bytes));
    println!("{path}");
    ExitCode::SUCCESS
}

/// Downloads the library's embedder into the Hugging Face cache (no memory check: it is small).
pub async fn pull_embedder(app: &App, revision: &str, token: Option<String>) -> ExitCode {
    let (stop, ctrl_c) = stop_on_ctrl_c();
    let result = app.pull_embedder(revision, token, &stop).await;
    ctrl_c.abort();
    match result {
        Ok(m) => {
            eprintln!(
                "installed {} ({}); `fathom index update` adds vectors",
                m.repo,
                gb(m.disk_bytes)
            );
            println!("{}", m.path);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
