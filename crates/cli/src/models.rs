//! `fathom models`, `pull`, `rm` and `fit`: the catalogue, downloads with a progress bar, and the
//! memory check, over the same crates the app uses.

use std::path::Path;
use std::process::ExitCode;

use fathom_fit::{check, Backend, FitReport, Memory, Runtime, Verdict};
use fathom_models::{
    catalogue, Hub, HubCache, ModelManager, ModelStore, PullOptions, PullProgress,
};
use fathom_store::{AppDirs, JsonDoc, Settings};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::fail;

use fathom_fit::DEFAULT_CONTEXT;

pub fn settings() -> Settings {
    AppDirs::resolve()
        .ok()
        .and_then(|d| JsonDoc::<Settings>::new(d.settings_file()).load().ok())
        .map(|l| l.value)
        .unwrap_or_default()
}

/// Models on disk: the Hugging Face cache, Fathom's converted copies, LM Studio's folders.
pub fn installed() -> Result<Vec<fathom_models::InstalledModel>, String> {
    Ok(store()?.installed())
}

fn store() -> Result<ModelStore, String> {
    let dirs = AppDirs::resolve().map_err(|e| e.to_string())?;
    let cache = HubCache::from_env().map_err(|e| e.to_string())?;
    Ok(ModelStore::new(cache, dirs.data()))
}

fn hub(token: Option<String>) -> Result<Hub, String> {
    Hub::from_env(token.or(settings().hf_token)).map_err(|e| e.to_string())
}

pub fn this_machine() -> Memory {
    Memory::read(fathom_engine::device::gpu_working_set_bytes())
}

pub fn runtime() -> Runtime {
    Runtime::measured(Backend::current())
}

/// The memory check of a model directory on disk.
pub fn fit_local(dir: &Path, context: u64) -> Result<FitReport, String> {
    fathom_fit::check_dir(dir, &this_machine(), context).map_err(|e| e.to_string())
}

async fn fit_remote(
    hub: &Hub,
    repo: &str,
    revision: &str,
    context: u64,
) -> Result<FitReport, String> {
    let info = hub
        .repo_info(repo, revision)
        .await
        .map_err(|e| e.to_string())?;
    let shape = hub.remote_shape(&info).await.map_err(|e| e.to_string())?;
    Ok(check(&shape, &runtime(), &this_machine(), context))
}

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
        fit_local(Path::new(target), context)
    } else {
        match hub(None) {
            Ok(h) => fit_remote(&h, target, revision, context).await,
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

pub fn list(json: bool) -> ExitCode {
    let store = match store() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let installed = store.installed();
    let partial = store.partial_downloads();
    let active = settings().active_model;
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

pub fn rm(repo: &str) -> ExitCode {
    match store().and_then(|s| s.remove(repo).map_err(|e| e.to_string())) {
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

pub async fn pull_cmd(args: PullArgs) -> ExitCode {
    let repo = args.repo.unwrap_or_else(|| {
        catalogue()
            .into_iter()
            .find(|e| e.default)
            .map(|e| e.repo)
            .unwrap_or_default()
    });
    let (store, hub) = match (store(), hub(args.token)) {
        (Ok(s), Ok(h)) => (s, h),
        (Err(e), _) | (_, Err(e)) => return fail(e),
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
        &runtime(),
        &this_machine(),
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
    let cancel = CancellationToken::new();
    let on_progress = |p: &PullProgress| {
        bar.set_position(p.done_bytes);
        if let Some(note) = p.files.iter().find_map(|f| f.note.as_ref()) {
            bar.set_message(format!("{repo} ({note})"));
        } else {
            bar.set_message(repo.clone());
        }
    };
    let options = PullOptions {
        revision: args.revision.clone(),
        ..PullOptions::default()
    };
    let dirs = match AppDirs::resolve() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let manager = ModelManager::new(store, dirs.data());
    let convert = |src: &Path, dst: &Path| {
        eprintln!(
            "converting the dense checkpoint to MXFP4 (once) into {}",
            dst.display()
        );
        fathom_engine::convert::convert(src, dst)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let work = manager.install(&hub, &repo, &options, &cancel, &on_progress, convert);
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tokio::signal::ctrl_c() => cancel.cancel(),
        }
    };
    bar.finish_and_clear();
    let model = match result {
        Ok(m) => m,
        Err(fathom_models::ModelsError::Cancelled) => {
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
pub async fn pull_embedder(revision: &str, token: Option<String>) -> ExitCode {
    let (store, hub) = match (store(), hub(token)) {
        (Ok(s), Ok(h)) => (s, h),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let options = PullOptions {
        revision: revision.to_string(),
        require_gpt_oss: false,
        ..PullOptions::default()
    };
    let cancel = CancellationToken::new();
    match fathom_models::pull(
        &hub,
        &store.cache,
        fathom_embed::EMBEDDER_REPO,
        &options,
        &cancel,
        &|_| {},
    )
    .await
    {
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
