//! Commands of the Library and Search pages.

use std::time::Duration;

use fathom_core::Search;
use fathom_index::indexer::FolderStatus;
use fathom_index::{Hit, IndexProgress, IndexReport};
use fathom_library::{AddReport, Folder, ScanProgress};
use fathom_semantic::SemanticStatus;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::app::{AppState, CommandError, StreamId};

#[tauri::command]
#[specta::specta]
pub fn list_folders(state: State<'_, AppState>) -> Vec<Folder> {
    state.core.folders()
}

/// Adds dropped or picked paths; each one is added or rejected with its reason.
#[tauri::command]
#[specta::specta]
pub fn add_folders(
    state: State<'_, AppState>,
    paths: Vec<String>,
) -> Result<AddReport, CommandError> {
    let report = state.core.add_folders(&paths)?;
    state.sync_watched();
    Ok(report)
}

/// Lets the user pick folders with the system's folder chooser and adds them, as a drop does.
/// Nothing picked is not an error: the report is empty.
#[tauri::command]
#[specta::specta]
pub async fn pick_folders<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<AddReport, CommandError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut chooser = app.dialog().file().set_title("Add folders to the library");
    // Start at home, not at GTK's "Recent" list, which holds files rather than folders.
    if let Ok(home) = app.path().home_dir() {
        chooser = chooser.set_directory(home);
    }
    chooser.pick_folders(move |picked| {
        let _ = tx.send(picked);
    });
    let picked = rx.await.ok().flatten().unwrap_or_default();
    let paths: Vec<String> = picked
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .map(|p| p.display().to_string())
        .collect();
    if paths.is_empty() {
        return Ok(AddReport::default());
    }
    add_folders(state, paths)
}

#[tauri::command]
#[specta::specta]
pub fn remove_folder(state: State<'_, AppState>, id: String) -> Result<Folder, CommandError> {
    let (folder, _documents) = state.core.remove_folder(&id)?;
    state.sync_watched();
    Ok(folder)
}

/// Counts a library folder's documents and bytes (by the indexer's walk rule), streaming
/// progress; cancel with `cancel_stream`.
#[tauri::command]
#[specta::specta]
pub async fn scan_folder(
    state: State<'_, AppState>,
    id: String,
    stream: StreamId,
    on_progress: Channel<ScanProgress>,
) -> Result<ScanProgress, CommandError> {
    let guard = state.streams.open(stream);
    let core = state.core.clone();
    let walk = tauri::async_runtime::spawn_blocking(move || {
        core.scan_folder(
            &id,
            Duration::from_millis(100),
            guard.token(),
            // A closed channel (the page went away) is not an error: the result still returns.
            &mut |p| drop(on_progress.send(p)),
        )
    });
    Ok(walk.await.map_err(|e| CommandError::Window {
        message: format!("scan stopped: {e}"),
    })??)
}

/// Brings a library folder's index up to date (only changed files are redone), streaming
/// progress; `cancel_stream` pauses it, keeping every file finished so far.
#[tauri::command]
#[specta::specta]
pub async fn index_folder_cmd(
    state: State<'_, AppState>,
    id: String,
    stream: StreamId,
    on_progress: Channel<IndexProgress>,
) -> Result<IndexReport, CommandError> {
    let guard = state.streams.open(stream);
    let core = state.core.clone();
    // Indexing is CPU and disk work: off the async runtime.
    let work = tauri::async_runtime::spawn_blocking(move || {
        core.index_folder(
            &id,
            guard.token(),
            // A closed channel (the page went away) is not an error: indexing goes on.
            &mut |p| drop(on_progress.send(p.clone())),
        )
    });
    Ok(work.await.map_err(|e| CommandError::Index {
        message: format!("indexing stopped: {e}"),
    })??)
}

/// What the index holds for each library folder.
#[tauri::command]
#[specta::specta]
pub fn library_status(state: State<'_, AppState>) -> Result<Vec<FolderStatus>, CommandError> {
    Ok(state.core.library_status()?)
}

#[tauri::command]
#[specta::specta]
pub fn search_library(
    state: State<'_, AppState>,
    query: String,
    folder: Option<String>,
    limit: Option<usize>,
) -> Result<Vec<Hit>, CommandError> {
    Ok(state.core.search(Search {
        text: query,
        folder,
        limit,
    })?)
}

/// A library document's text as indexed, chunk by chunk in order, for Fathom's own reader: it can
/// show the place a result or a citation points at in every format, which the system's default
/// app cannot be told. Only files inside library folders.
#[tauri::command]
#[specta::specta]
pub fn read_document_text(
    state: State<'_, AppState>,
    path: String,
) -> Result<Vec<Hit>, CommandError> {
    Ok(state.core.read_document(&path)?)
}

/// Opens a library document with the system's default app. Only files inside library folders.
#[tauri::command]
#[specta::specta]
pub fn open_document<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
) -> Result<(), CommandError> {
    state.core.check_in_library(&path)?;
    app.opener()
        .open_path(&path, None::<&str>)
        .map_err(|e| CommandError::Window {
            message: format!("cannot open {path}: {e}"),
        })
}

/// Dense search's state: the embedder, the vector pass, how many chunks have vectors.
#[tauri::command]
#[specta::specta]
pub fn semantic_status(state: State<'_, AppState>) -> Option<SemanticStatus> {
    state.core.semantic_status()
}

/// Tries again after the embedder failed to download or load, or the vector pass failed.
#[tauri::command]
#[specta::specta]
pub fn retry_semantic(state: State<'_, AppState>) {
    state.core.retry_semantic();
}

/// Pauses or resumes the background vector pass (BM25 search is unaffected).
#[tauri::command]
#[specta::specta]
pub fn pause_semantic(state: State<'_, AppState>, paused: bool) {
    state.core.pause_semantic(paused);
}

/// Where the library lives (this computer or a Chroma server) and its size there.
#[tauri::command]
#[specta::specta]
pub async fn library_location(
    state: State<'_, AppState>,
) -> Result<fathom_core::LibraryLocation, CommandError> {
    let core = state.core.clone();
    // Asks the server for its count: off the async runtime.
    blocking(move || core.library_location()).await
}

/// Checks a Chroma server can hold the library (it answers, takes the token); its chunk count.
#[tauri::command]
#[specta::specta]
pub async fn check_library_server(
    state: State<'_, AppState>,
    connection: fathom_store::ChromaConnection,
) -> Result<u64, CommandError> {
    let core = state.core.clone();
    blocking(move || core.check_library_server(&connection)).await
}

/// Moves the library to a Chroma server (checked first), to a server alone or back to this
/// computer, streaming progress while it is carried; `cancel_stream` stops a move and leaves the
/// library where it was.
#[tauri::command]
#[specta::specta]
pub async fn set_library_place(
    state: State<'_, AppState>,
    place: fathom_store::LibraryPlace,
    connection: Option<fathom_store::ChromaConnection>,
    stream: StreamId,
    on_progress: Channel<fathom_core::MoveProgress>,
) -> Result<crate::app::SettingsView, CommandError> {
    let guard = state.streams.open(stream);
    let core = state.core.clone();
    blocking(move || {
        core.set_library_place(place, connection, guard.token(), &mut |p| {
            drop(on_progress.send(p.clone()))
        })
    })
    .await?;
    Ok(state.settings_view())
}

/// Copies what changed to the library's server now, streaming progress; `cancel_stream` stops
/// it, keeping what was copied. `null` when the library lives on this computer.
#[tauri::command]
#[specta::specta]
pub async fn sync_library_server(
    state: State<'_, AppState>,
    stream: StreamId,
    on_progress: Channel<fathom_core::SyncProgress>,
) -> Result<Option<fathom_core::SyncReport>, CommandError> {
    let guard = state.streams.open(stream);
    let core = state.core.clone();
    blocking(move || {
        core.sync_library_server(guard.token(), &mut |p| drop(on_progress.send(p.clone())))
    })
    .await
}

/// Runs blocking core work (disk, a server's answers) off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> fathom_core::Result<T> + Send + 'static,
) -> Result<T, CommandError> {
    Ok(tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| CommandError::Index {
            message: format!("the library's work stopped: {e}"),
        })??)
}
