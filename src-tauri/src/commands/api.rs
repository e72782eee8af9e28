//! Settings → Local API: Fathom's model and library for other apps (OpenAI-compatible and MCP).

use tauri::State;

use crate::app::{AppState, CommandError};

/// What the local API is doing: its address, token and client setups while it runs.
#[tauri::command]
#[specta::specta]
pub fn local_api_status(state: State<'_, AppState>) -> fathom_server::ApiStatus {
    state.api.status()
}

/// Turns the local API on or off, on this computer only or on the local network too, at `port`.
#[tauri::command]
#[specta::specta]
pub async fn set_local_api(
    state: State<'_, AppState>,
    enabled: bool,
    local_network: bool,
    port: u16,
) -> Result<fathom_server::ApiStatus, CommandError> {
    state.core.update_settings(|s| {
        s.api_enabled = enabled;
        s.api_local_network = local_network;
        s.api_port = port;
    })?;
    Ok(state.apply_api().await)
}

/// A new token: clients set up with the old one are refused from now on.
#[tauri::command]
#[specta::specta]
pub async fn new_api_token(
    state: State<'_, AppState>,
) -> Result<fathom_server::ApiStatus, CommandError> {
    state.core.update_settings(|s| s.api_token = None)?;
    Ok(state.apply_api().await)
}

/// The web origins that may call the local API from a browser (`*`: any; none: no page may).
#[tauri::command]
#[specta::specta]
pub async fn set_api_origins(
    state: State<'_, AppState>,
    origins: Vec<String>,
) -> Result<fathom_server::ApiStatus, CommandError> {
    let origins = fathom_server::check_origins(&origins)
        .map_err(|message| CommandError::Invalid { message })?;
    state
        .core
        .update_settings(|s| s.api_cors_origins = origins)?;
    Ok(state.apply_api().await)
}
