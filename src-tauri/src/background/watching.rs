//! Following the library's folders: changed files are indexed again in the background.

use fathom_core::CancellationToken;
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;

use crate::app::events::LibraryUpdated;
use crate::app::AppState;

/// Starts watching the library's folders; each change is indexed and the windows told.
pub fn start<R: Runtime>(app: &AppHandle<R>) -> Result<(), fathom_index::IndexError> {
    let handle = app.clone();
    let refresher = fathom_index::watch::Refresher::start(move |id| {
        let state = handle.state::<AppState>();
        match state
            .core
            .index_folder(id, &CancellationToken::new(), &mut |_| {})
        {
            Ok(report) => {
                let _ = LibraryUpdated {
                    folder: id.to_string(),
                    report,
                }
                .emit(&handle);
            }
            // A folder removed since the change was seen is not worth a warning.
            Err(fathom_core::Error::UnknownFolder(_)) => {}
            Err(e) => log::warn!("refreshing folder {id}: {e}"),
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
    app.state::<AppState>().set_watcher(watcher);
    Ok(())
}
