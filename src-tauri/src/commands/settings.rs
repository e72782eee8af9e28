//! Commands of the Settings page that change preferences.

use tauri::{AppHandle, Runtime, State};

use crate::app::{AppState, CommandError, SettingsView};
use crate::desktop::shortcut;

#[tauri::command]
#[specta::specta]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    state.settings_view()
}

/// Marks the welcome guide finished (or skipped), or asks for it again (Settings).
#[tauri::command]
#[specta::specta]
pub fn set_first_run_done(
    state: State<'_, AppState>,
    done: bool,
) -> Result<SettingsView, CommandError> {
    state.core.set_first_run_done(done)?;
    Ok(state.settings_view())
}

/// Whether hidden files and folders are indexed; the UI re-indexes the folders after a change.
#[tauri::command]
#[specta::specta]
pub fn set_index_hidden(
    state: State<'_, AppState>,
    hidden: bool,
) -> Result<SettingsView, CommandError> {
    state.core.set_index_hidden(hidden)?;
    Ok(state.settings_view())
}

/// Semantic search on (fetching the embedder if needed) or off (BM25 alone).
#[tauri::command]
#[specta::specta]
pub fn set_semantic_search(
    state: State<'_, AppState>,
    on: bool,
) -> Result<SettingsView, CommandError> {
    state.core.set_semantic_search(on)?;
    Ok(state.settings_view())
}

/// Minutes an unused model stays loaded (0: until Fathom quits).
#[tauri::command]
#[specta::specta]
pub fn set_model_idle_minutes(
    state: State<'_, AppState>,
    minutes: u32,
) -> Result<SettingsView, CommandError> {
    state.core.set_model_idle_minutes(minutes)?;
    Ok(state.settings_view())
}

/// Saves (or with `None`, forgets) the Hugging Face token used for gated and private repos.
#[tauri::command]
#[specta::specta]
pub fn set_hf_token(
    state: State<'_, AppState>,
    token: Option<String>,
) -> Result<SettingsView, CommandError> {
    state.core.set_hf_token(token)?;
    Ok(state.settings_view())
}

/// Changes the quick-query shortcut: the new one is registered first, and saved only if the system
/// accepted it; otherwise the old one stays active.
#[tauri::command]
#[specta::specta]
pub fn set_quick_shortcut<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    shortcut: String,
) -> Result<SettingsView, CommandError> {
    let parsed = shortcut::parse(&shortcut)?;
    let old = state.core.settings().quick_shortcut;
    shortcut::replace(&app, &old, parsed, &shortcut)?;
    if let Err(e) = state
        .core
        .update_settings(|s| s.quick_shortcut = shortcut.clone())
    {
        // Keep what is registered and what is saved in step: drop the new one, bring back the old.
        shortcut::restore(&app, parsed, &old);
        return Err(e.into());
    }
    *fathom_core::lock(&state.shortcut_error) = None;
    Ok(state.settings_view())
}

/// Where chat and Ask run: on this computer, or on an OpenAI-compatible server.
#[tauri::command]
#[specta::specta]
pub async fn set_engine(
    state: State<'_, AppState>,
    place: fathom_store::EnginePlace,
    server: fathom_store::ServerSettings,
) -> Result<SettingsView, CommandError> {
    state.core.set_engine(place, server)?;
    // The local API serves the model where it now runs.
    state.apply_api().await;
    Ok(state.settings_view())
}

/// What runs the model on this computer: automatic (MLX on a Mac, llama.cpp elsewhere), MLX or
/// llama.cpp.
#[tauri::command]
#[specta::specta]
pub async fn set_backend(
    state: State<'_, AppState>,
    backend: fathom_store::ComputeBackend,
) -> Result<SettingsView, CommandError> {
    state.core.set_backend(backend)?;
    Ok(state.settings_view())
}

/// The models a server offers: shows that it answers and takes the key.
#[tauri::command]
#[specta::specta]
pub async fn server_models(
    state: State<'_, AppState>,
    server: fathom_store::ServerSettings,
) -> Result<Vec<String>, CommandError> {
    Ok(state.core.server_models(&server).await?)
}
