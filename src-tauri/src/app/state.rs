//! What the commands share: the core [`App`], the running streams, and what only a desktop has
//! (the shortcut's state, the file watcher).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use fathom_core::{lock, App};
use fathom_store::{AppDirs, Settings};
use serde::Serialize;

use super::streams::Streams;

pub struct AppState {
    pub core: Arc<App>,
    pub streams: Streams,
    /// The local API (OpenAI-compatible and MCP), when Settings turns it on.
    pub api: fathom_server::LocalApi,
    /// Why the saved shortcut is not active, if it is not.
    pub shortcut_error: Mutex<Option<String>>,
    /// Follows the library's folders once the app is set up (absent in mock-runtime tests).
    watcher: OnceLock<Mutex<fathom_index::watch::Watcher>>,
}

/// The settings together with what became of them.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub settings: Settings,
    /// Why the saved quick-query shortcut is not active, when it is not.
    pub shortcut_error: Option<String>,
}

impl AppState {
    /// The app's state under `dirs`, with the background vector pass.
    pub fn load_from(dirs: AppDirs) -> Result<Self, fathom_core::Error> {
        Ok(Self::new(App::open(dirs)?))
    }

    pub fn new(core: App) -> Self {
        AppState {
            core: Arc::new(core),
            streams: Streams::default(),
            api: fathom_server::LocalApi::new(),
            shortcut_error: Mutex::new(None),
            watcher: OnceLock::new(),
        }
    }

    pub fn settings_view(&self) -> SettingsView {
        SettingsView {
            settings: self.core.settings(),
            shortcut_error: lock(&self.shortcut_error).clone(),
        }
    }

    /// Brings the local API in line with the settings (and the model they choose).
    pub async fn apply_api(&self) -> fathom_server::ApiStatus {
        self.api.apply(&self.core, None, fathom_cli()).await
    }

    /// Keeps the watcher that follows the library's folders.
    pub fn set_watcher(&self, watcher: fathom_index::watch::Watcher) {
        if self.watcher.set(Mutex::new(watcher)).is_ok() {
            self.sync_watched();
        }
    }

    /// Makes the watcher follow the library's folder list (after adds and removes).
    pub fn sync_watched(&self) {
        let Some(watcher) = self.watcher.get() else {
            return;
        };
        let folders: Vec<(String, PathBuf)> = self
            .core
            .folders()
            .into_iter()
            .map(|f| (f.id, PathBuf::from(f.path)))
            .collect();
        if let Err(e) = lock(watcher).set_folders(&folders) {
            log::warn!("{e}");
        }
    }
}

/// The `fathom` command installed beside the app (the packages ship both), for the setups the
/// Local API settings show; none when it is not there (a development build).
fn fathom_cli() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let cli = exe.with_file_name(if cfg!(windows) {
        "fathom.exe"
    } else {
        "fathom"
    });
    cli.is_file().then_some(cli)
}
