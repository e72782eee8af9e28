//! The local API at start-up, when Settings turned it on.

use tauri::{AppHandle, Manager, Runtime};

use crate::app::AppState;

pub fn start<R: Runtime>(app: &AppHandle<R>) {
    if !app.state::<AppState>().core.settings().api_enabled {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let status = app.state::<AppState>().apply_api().await;
        match (&status.base_url, &status.error) {
            (Some(url), _) => log::info!("the local API is at {url}"),
            (None, Some(e)) => log::warn!("the local API did not start: {e}"),
            (None, None) => {}
        }
    });
}
