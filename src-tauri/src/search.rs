//! Commands of the Library and Search pages: thin calls into `fathom-index`.

use std::path::PathBuf;
use std::sync::Arc;

use fathom_index::indexer::{folder_status, index_folder, FolderStatus, IndexOptions};
use fathom_index::{Chunker, Hit, IndexProgress, IndexReport, SearchIndex, SearchQuery};
use fathom_semantic::SemanticStatus;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use crate::state::{lock, AppState};
use crate::streams::StreamId;
use crate::CommandError;

impl From<fathom_index::IndexError> for CommandError {
    fn from(e: fathom_index::IndexError) -> Self {
        match e {
            fathom_index::IndexError::Cancelled => CommandError::Cancelled,
            e => CommandError::Index {
                message: e.to_string(),
            },
        }
    }
}

/// Indexing options from the user's settings.
fn options(state: &AppState) -> IndexOptions {
    IndexOptions {
        hidden: lock(&state.settings).index_hidden,
        ..IndexOptions::default()
    }
}

pub(crate) fn index(state: &AppState) -> Result<Arc<SearchIndex>, CommandError> {
    state
        .index
        .clone()
        .map_err(|message| CommandError::Index { message })
}

/// Brings a library folder's index up to date (only changed files are redone), streaming
/// progress; `cancel_stream` pauses it, keeping every file finished so far.
#[tauri::command]
pub async fn index_folder_cmd(
    state: State<'_, AppState>,
    id: String,
    stream: StreamId,
    on_progress: Channel<IndexProgress>,
) -> Result<IndexReport, CommandError> {
    let path = lock(&state.library)
        .path_of(&id)
        .ok_or(CommandError::UnknownFolder { id: id.clone() })?;
    let guard = state.streams.open(stream);
    let index = index(&state)?;
    let options = options(&state);
    // The vector pass waits while this runs, and picks up the new chunks after.
    let hold = hold_vectors(&state);
    // Indexing is CPU and disk work: off the async runtime.
    let work = tauri::async_runtime::spawn_blocking(move || {
        let _hold = hold;
        index_folder(
            &index,
            &id,
            &path,
            &Chunker::default(),
            &options,
            &|| guard.is_cancelled(),
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
pub fn library_status(state: State<'_, AppState>) -> Result<Vec<FolderStatus>, CommandError> {
    let index = index(&state)?;
    let index = &*index;
    let ids: Vec<String> = lock(&state.library)
        .folders()
        .iter()
        .map(|f| f.id.clone())
        .collect();
    ids.iter().map(|id| Ok(folder_status(index, id)?)).collect()
}

#[tauri::command]
pub fn search_library(
    state: State<'_, AppState>,
    query: String,
    folder: Option<String>,
    limit: Option<usize>,
) -> Result<Vec<Hit>, CommandError> {
    // Hybrid once the embedder is loaded (the query embedded while BM25 runs); BM25 until then.
    let semantic = state.semantic.clone();
    Ok(index(&state)?.search_embedding(
        &SearchQuery {
            text: query,
            folder,
            exclude: Vec::new(),
            limit: limit.unwrap_or(50).min(500),
            vector: None,
        },
        |text| semantic?.query_vector(text),
    )?)
}

/// A library document's text as indexed, chunk by chunk in order, for Fathom's own reader: it can
/// show the place a result or a citation points at in every format, which the system's default
/// app cannot be told. Only files inside library folders.
#[tauri::command]
pub fn read_document_text(
    state: State<'_, AppState>,
    path: String,
) -> Result<Vec<Hit>, CommandError> {
    if !lock(&state.library).covers(std::path::Path::new(&path)) {
        return Err(CommandError::NotAFolder { path });
    }
    let doc = fathom_index::document_id(std::path::Path::new(&path));
    let chunks = index(&state)?.read_document(&doc)?;
    if chunks.is_empty() {
        return Err(CommandError::Index {
            message: format!("{path} is not in the index (yet)"),
        });
    }
    Ok(chunks)
}

/// Opens a library document with the system's default app. Only files inside library folders.
#[tauri::command]
pub fn open_document<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
) -> Result<(), CommandError> {
    if !lock(&state.library).covers(std::path::Path::new(&path)) {
        return Err(CommandError::NotAFolder { path });
    }
    app.opener()
        .open_path(&path, None::<&str>)
        .map_err(|e| CommandError::Window {
            message: format!("cannot open {path}: {e}"),
        })
}

/// The library's watcher and the worker that refreshes changed folders; managed once the app is
/// set up (absent in mock-runtime tests).
pub struct Watching {
    watcher: std::sync::Mutex<fathom_index::watch::Watcher>,
}

/// Emitted after a folder's index was refreshed in the background: `{ folder, report }`.
pub const LIBRARY_UPDATED: &str = "library-updated";

#[derive(Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LibraryUpdated {
    folder: String,
    report: IndexReport,
}

/// Starts watching the library's folders; changes are indexed in the background.
pub fn start_watching<R: Runtime>(app: &AppHandle<R>) -> Result<(), CommandError> {
    use tauri::{Emitter, Manager};
    let handle = app.clone();
    let refresher = fathom_index::watch::Refresher::start(move |id| {
        let state = handle.state::<AppState>();
        let Ok(index) = index(&state) else { return };
        let Some(path) = lock(&state.library).path_of(id) else {
            return;
        };
        let _hold = hold_vectors(&state);
        match index_folder(
            &index,
            id,
            &path,
            &Chunker::default(),
            &options(&state),
            &|| false,
            &mut |_| {},
        ) {
            Ok(report) => {
                let _ = handle.emit(
                    LIBRARY_UPDATED,
                    LibraryUpdated {
                        folder: id.to_string(),
                        report,
                    },
                );
            }
            Err(e) => log::warn!("refreshing {}: {e}", path.display()),
        }
    });
    let watcher = fathom_index::watch::Watcher::start(
        std::time::Duration::from_millis(750),
        move |folders| {
            for id in folders {
                refresher.request(&id);
            }
        },
    )?;
    app.manage(Watching {
        watcher: std::sync::Mutex::new(watcher),
    });
    sync_watched(app);
    Ok(())
}

/// Makes the watcher follow the library's folder list (after adds and removes).
pub fn sync_watched<R: Runtime>(app: &AppHandle<R>) {
    use tauri::Manager;
    let (Some(watching), Some(state)) = (app.try_state::<Watching>(), app.try_state::<AppState>())
    else {
        return;
    };
    let folders: Vec<(String, PathBuf)> = lock(&state.library)
        .folders()
        .iter()
        .map(|f| (f.id.clone(), PathBuf::from(&f.path)))
        .collect();
    let result = lock(&watching.watcher).set_folders(&folders);
    if let Err(e) = result {
        log::warn!("{e}");
    }
}

/// Whether hidden files and folders are indexed; the UI re-indexes the folders after a change.
#[tauri::command]
pub fn set_index_hidden(
    state: State<'_, AppState>,
    hidden: bool,
) -> Result<crate::commands::SettingsView, CommandError> {
    state.update_settings(|s| s.index_hidden = hidden)?;
    Ok(crate::commands::get_settings(state))
}

/// Dense search's state: the embedder, the vector pass, how many chunks have vectors.
#[tauri::command]
pub fn semantic_status(state: State<'_, AppState>) -> Option<SemanticStatus> {
    state.semantic.as_ref().map(|s| s.status())
}

/// Emitted whenever `semantic_status` changes, with the new status.
pub const SEMANTIC_STATUS: &str = "semantic-status";

/// Makes the embedder available when semantic search is on: loaded from the cache, or
/// downloaded first (the first time the library has a folder). Runs in the background.
pub(crate) fn ensure_embedder(state: &AppState) {
    let Some(semantic) = &state.semantic else {
        return;
    };
    if !lock(&state.settings).semantic_search {
        return;
    }
    match crate::models::hub(state) {
        Ok(hub) => semantic.ensure(state.hub_cache.clone(), Some(hub)),
        Err(e) => {
            // Still loads a copy already in the cache; says why it cannot fetch one otherwise.
            semantic.ensure(state.hub_cache.clone(), None);
            semantic.fail(format!("cannot reach the model hub: {e}"));
        }
    }
}

/// Tries again after the embedder failed to download or load, or the vector pass failed.
#[tauri::command]
pub fn retry_semantic(state: State<'_, AppState>) {
    ensure_embedder(&state);
    if let Some(s) = &state.semantic {
        s.wake();
    }
}

/// Semantic search on (fetching the embedder if needed) or off (BM25 alone).
#[tauri::command]
pub fn set_semantic_search(
    state: State<'_, AppState>,
    on: bool,
) -> Result<crate::commands::SettingsView, CommandError> {
    state.update_settings(|s| s.semantic_search = on)?;
    if let Some(semantic) = &state.semantic {
        if on {
            semantic.turn_on();
            ensure_embedder(&state);
        } else {
            semantic.turn_off();
        }
    }
    Ok(crate::commands::get_settings(state))
}

/// Keeps the background vector pass paused while indexing or the model runs: they come first.
pub(crate) fn hold_vectors(state: &AppState) -> Option<fathom_semantic::Hold> {
    state.semantic.as_ref().map(|s| s.hold())
}

/// Sends semantic status changes to the windows, and loads (or fetches) the embedder when the
/// library already has folders.
pub fn start_semantic<R: Runtime>(app: &AppHandle<R>) {
    use tauri::{Emitter, Manager};
    let state = app.state::<AppState>();
    let handle = app.clone();
    *lock(&state.semantic_listener) = Some(Box::new(move |s: &SemanticStatus| {
        let _ = handle.emit(SEMANTIC_STATUS, s);
    }));
    if !lock(&state.library).folders().is_empty() {
        ensure_embedder(&state);
    }
}

/// Pauses or resumes the background vector pass (BM25 search is unaffected).
#[tauri::command]
pub fn pause_semantic(state: State<'_, AppState>, paused: bool) {
    if let Some(s) = &state.semantic {
        s.set_paused(paused);
    }
}
