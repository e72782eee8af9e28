//! The update check at start-up.

use fathom_core::lock;
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;

use crate::app::events::UpdateAvailable;
use crate::app::updater::{self, Found, UpdateCheck};
use crate::app::AppState;

/// The start-up check: tells the windows when a newer version exists; quiet otherwise (a failed
/// check is logged, not shown: the person did not ask).
pub fn check_at_start<R: Runtime>(app: &AppHandle<R>) {
    let on = app.state::<AppState>().core.settings().check_updates;
    if !on || updater::pubkey(app).is_none() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match updater::check(&app).await {
            Ok(UpdateCheck {
                available: Some(update),
                ..
            }) => {
                log::info!("Fathom {} is available", update.version);
                *lock(&app.state::<Found>().0) = Some(update.clone());
                let _ = UpdateAvailable(update).emit(&app);
            }
            Ok(_) => log::info!("Fathom is up to date"),
            Err(e) => log::warn!("{e}"),
        }
    });
}
