//! `fathom index` (add, status, rm, update) and `fathom search`: the library and its index from
//! the command line, through the same core the app uses.

use std::path::PathBuf;
use std::process::ExitCode;

use fathom_core::{App, CancellationToken, Search};
use fathom_index::DocStatus;

use crate::{fail, stop_on_ctrl_c};

/// Copies what changed to the library's Chroma server, when it lives on one, with a progress
/// bar.
fn copy_to_server(app: &App, stop: &CancellationToken) -> Result<(), String> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("to the server [{bar:30}] {pos}/{len} chunks")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let report = app
        .sync_library_server(stop, &mut |p| {
            bar.set_length(p.chunks_total);
            bar.set_position(p.chunks_done);
        })
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    if let Some(r) = report {
        eprintln!(
            "server: {} documents ({} chunks) copied, {} removed{}",
            r.documents_copied,
            r.chunks_copied,
            r.documents_removed,
            match r.documents_waiting {
                0 => String::new(),
                n => format!(", {n} waiting for vectors"),
            }
        );
    }
    Ok(())
}

/// `fathom index sync`.
pub fn sync(app: &App) -> ExitCode {
    let (stop, ctrl_c) = stop_on_ctrl_c();
    let outcome = copy_to_server(app, &stop);
    ctrl_c.abort();
    match outcome {
        Ok(()) if app.settings().library_place == fathom_store::LibraryPlace::Computer => {
            eprintln!("fathom: the library lives on this computer: nothing to copy");
            ExitCode::SUCCESS
        }
        Ok(()) if app.settings().library_place == fathom_store::LibraryPlace::ChromaOnly => {
            eprintln!("fathom: the library lives on its server alone: indexing writes there");
            ExitCode::SUCCESS
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// `fathom index place`: moves the library (`Some(None)`: back to this computer; `(_, true)`:
/// to the server alone), with a progress bar while it is carried, then says where it lives.
/// Ctrl-C stops a move and leaves the library where it was.
pub fn place(app: &App, to: Option<Option<(fathom_store::ChromaConnection, bool)>>) -> ExitCode {
    use fathom_store::LibraryPlace;
    let moving_there = matches!(to, Some(Some((_, false))));
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} chunks")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let (stop, ctrl_c) = stop_on_ctrl_c();
    let mut on_progress = |p: &fathom_core::MoveProgress| {
        bar.set_message(match p.step {
            fathom_core::MoveStep::Copying => "to the server",
            fathom_core::MoveStep::ReadingBack => "back here",
        });
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let moved = match to {
        None => Ok(()),
        Some(None) => app.set_library_place(LibraryPlace::Computer, None, &stop, &mut on_progress),
        Some(Some((connection, only))) => app.set_library_place(
            if only {
                LibraryPlace::ChromaOnly
            } else {
                LibraryPlace::Chroma
            },
            Some(connection),
            &stop,
            &mut on_progress,
        ),
    };
    ctrl_c.abort();
    bar.finish_and_clear();
    if let Err(e) = moved {
        return fail(e);
    }
    let l = match app.library_location() {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    println!(
        "On this computer: {} ({} chunks, {} with vectors, {:.1} MB)",
        l.index_dir,
        l.chunks_here,
        l.vectors_here,
        l.bytes_here as f64 / 1e6
    );
    if l.place.on_server() {
        let there = match (l.chunks_on_server, &l.server_error) {
            (Some(n), _) => format!("{n} chunks"),
            (None, Some(e)) => e.clone(),
            (None, None) => "unknown".into(),
        };
        println!(
            "Lives on the Chroma server {} (collection {}{}): {there}",
            l.server_url.unwrap_or_default(),
            l.collection.unwrap_or_default(),
            if l.place == LibraryPlace::ChromaOnly {
                ", alone"
            } else {
                ""
            }
        );
        if let Some(n) = l.documents_on_server {
            println!("This library's documents there: {n}");
        }
        if moving_there {
            println!("Run `fathom index sync` (or `index update`) to copy it there.");
        }
    }
    ExitCode::SUCCESS
}

/// Gives every chunk without a vector its vector (after BM25 indexing, as the app does), with a
/// progress bar. Each batch is stored as it is done, so an interrupted pass (Ctrl-C) resumes
/// next time.
fn add_vectors(app: &App, stop: &CancellationToken) -> Result<(), String> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("vectors [{bar:30}] {pos}/{len} chunks ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let report = app
        .add_vectors(stop, &mut |p| {
            bar.set_length(p.chunks_total);
            bar.set_position(p.chunks_done);
        })
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    copy_to_server(app, stop)?;
    let Some(report) = report else { return Ok(()) };
    if report.chunks > 0 {
        eprintln!(
            "vectors: {} chunks of {} documents ({:.1} s)",
            report.chunks, report.documents, report.seconds
        );
    }
    for (path, why) in &report.failed {
        eprintln!("  no vectors for {path}: {why}");
    }
    Ok(())
}

fn index_one(app: &App, id: &str, path: &str, stop: &CancellationToken) -> Result<(), String> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(path.to_string());
    let report = app
        .index_folder(id, stop, &mut |p| {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done);
        })
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    eprintln!(
        "{path}: {} indexed, {} unchanged, {} failed, {} removed, {} chunks ({:.1} s)",
        report.indexed,
        report.unchanged,
        report.failed,
        report.removed,
        report.chunks,
        report.seconds
    );
    Ok(())
}

pub async fn add(app: &App, paths: &[PathBuf]) -> ExitCode {
    let report = match app.add_folders(paths) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    for r in &report.rejected {
        // Already in the library is fine: it is brought up to date below.
        if !matches!(r.reason, fathom_library::RejectionReason::AlreadyInLibrary) {
            eprintln!("not added: {}: {:?}", r.path, r.reason);
        }
    }
    let wanted: Vec<String> = paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect();
    let folders: Vec<(String, String)> = app
        .folders()
        .into_iter()
        .filter(|f| wanted.contains(&f.path) || report.added.iter().any(|a| a.id == f.id))
        .map(|f| (f.id, f.path))
        .collect();
    let (stop, ctrl_c) = stop_on_ctrl_c();
    let mut ok = true;
    for (id, path) in folders {
        if let Err(e) = index_one(app, &id, &path, &stop) {
            eprintln!("fathom: {path}: {e}");
            ok = false;
        }
    }
    if let Err(e) = add_vectors(app, &stop) {
        eprintln!("fathom: vectors: {e}");
        ok = false;
    }
    ctrl_c.abort();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Re-indexes every folder (only what changed).
pub async fn update(app: &App) -> ExitCode {
    let (stop, ctrl_c) = stop_on_ctrl_c();
    for f in app.folders() {
        if let Err(e) = index_one(app, &f.id, &f.path, &stop) {
            return fail(format!("{}: {e}", f.path));
        }
    }
    let outcome = add_vectors(app, &stop);
    ctrl_c.abort();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("vectors: {e}")),
    }
}

pub fn rm(app: &App, path: &std::path::Path) -> ExitCode {
    let folder = match app.find_folder(&path.display().to_string()) {
        Ok(f) => f,
        Err(_) => return fail(format!("{} is not a library folder", path.display())),
    };
    match app.remove_folder(&folder.id) {
        Ok((folder, n)) => {
            eprintln!("removed {} ({n} documents)", folder.path);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn status(app: &App, json: bool) -> ExitCode {
    let (docs, (chunks, vectors)) = match app.documents().and_then(|d| Ok((d, app.index_counts()?)))
    {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let folders = app.folders();
    if json {
        let folders: Vec<serde_json::Value> = folders
            .iter()
            .map(|f| {
                let mine: Vec<_> = docs.iter().filter(|d| d.folder == f.id).collect();
                serde_json::json!({
                    "id": f.id,
                    "path": f.path,
                    "indexed": mine.iter().filter(|d| d.status == DocStatus::Indexed).count(),
                    "chunks": mine.iter().map(|d| d.chunks as u64).sum::<u64>(),
                    "failed": mine.iter().filter(|d| d.status == DocStatus::Failed).map(|d| serde_json::json!({"path": d.path, "error": d.error})).collect::<Vec<_>>(),
                    "needsOcr": mine.iter().filter(|d| !d.pages_without_text.is_empty()).map(|d| serde_json::json!({"path": d.path, "pages": d.pages_without_text})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "folders": folders, "chunks": chunks, "vectors": vectors })
        );
        return ExitCode::SUCCESS;
    }
    if folders.is_empty() {
        println!("The library is empty: fathom index add PATH");
    } else {
        println!(
            "{vectors} of {chunks} chunks have vectors (semantic search){}",
            if app.embedder_dir().is_none() {
                "; no embedder here: fathom pull --embedder"
            } else {
                ""
            }
        );
    }
    for f in &folders {
        let mine: Vec<_> = docs.iter().filter(|d| d.folder == f.id).collect();
        let indexed = mine
            .iter()
            .filter(|d| d.status == DocStatus::Indexed)
            .count();
        let chunks: u64 = mine.iter().map(|d| d.chunks as u64).sum();
        println!("{}: {indexed} documents, {chunks} chunks", f.path);
        for d in mine.iter().filter(|d| d.status == DocStatus::Failed) {
            println!(
                "  failed: {}: {}",
                d.path,
                d.error.as_deref().unwrap_or("unknown")
            );
        }
        for d in mine.iter().filter(|d| !d.pages_without_text.is_empty()) {
            println!("  needs OCR: {} (pages {:?})", d.path, d.pages_without_text);
        }
    }
    ExitCode::SUCCESS
}

/// A library folder's id from its path (or id), as the user typed it.
pub(crate) fn folder_id(app: &App, folder: Option<&str>) -> Result<Option<String>, String> {
    let Some(f) = folder else { return Ok(None) };
    app.find_folder(f)
        .map(|x| Some(x.id))
        .map_err(|_| format!("{f} is not a library folder"))
}

pub fn search(app: &App, query: &str, folder: Option<&str>, limit: usize, json: bool) -> ExitCode {
    let folder = match folder_id(app, folder) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    // Hybrid when the embedder is here (and the index holds vectors), BM25 otherwise.
    let hits = match app.search(Search {
        text: query.to_string(),
        folder,
        limit: Some(limit),
    }) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    if json {
        println!("{}", serde_json::to_string(&hits).expect("serializable"));
        return ExitCode::SUCCESS;
    }
    if hits.is_empty() {
        eprintln!("no matches");
    }
    for h in hits {
        let place = if h.page > 0 {
            format!("page {}", h.page)
        } else {
            format!("line {}", h.line)
        };
        let snippet: String = h
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(160)
            .collect();
        println!("{:.2}  {} ({place})\n      {snippet}", h.score, h.path);
    }
    ExitCode::SUCCESS
}
