//! Updates through Tauri's updater: a signed manifest (`latest.json`, written by the release
//! workflow) names each platform's package and its minisign signature, which is checked against
//! the public key in the app's configuration before anything is installed. Checked at start
//! unless turned off in Settings, and from Settings on demand.
//!
//! Release builds take the key from `plugins.updater.pubkey` (the release workflow puts it there);
//! a build without one does not update itself and says so. Debug builds also accept
//! `FATHOM_UPDATE_PUBKEY`, `FATHOM_UPDATE_ENDPOINT` and `FATHOM_UPDATE_TARGET` (the file an
//! install replaces), so that the tests can serve a newer signed build from a local server and
//! install it somewhere harmless.

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_updater::{Update, UpdaterExt};
use ts_rs::TS;

use crate::state::{lock, AppState};
use crate::streams::StreamId;
use crate::CommandError;

/// The event the windows get when the start-up check finds a newer version.
pub const UPDATE_AVAILABLE_EVENT: &str = "update-available";

/// What the start-up check found, kept for windows that load after it finished.
#[derive(Default)]
pub struct Found(std::sync::Mutex<Option<AvailableUpdate>>);

/// The newer version the start-up check found, if any (its event may have come before the window
/// listened).
#[tauri::command]
pub fn found_update(found: State<'_, Found>) -> Option<AvailableUpdate> {
    lock(&found.0).clone()
}

/// A newer version on offer.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AvailableUpdate {
    pub version: String,
    pub notes: Option<String>,
    pub date: Option<String>,
}

/// What a check found.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCheck {
    pub current: String,
    /// False for a build made without an update key: it never updates itself.
    pub configured: bool,
    pub available: Option<AvailableUpdate>,
}

/// Progress of an install.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProgress {
    #[ts(type = "number")]
    pub done_bytes: u64,
    #[ts(type = "number | null")]
    pub total_bytes: Option<u64>,
}

fn debug_env(name: &str) -> Option<String> {
    if cfg!(debug_assertions) {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    } else {
        None
    }
}

fn pubkey<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    debug_env("FATHOM_UPDATE_PUBKEY").or_else(|| {
        app.config()
            .plugins
            .0
            .get("updater")
            .and_then(|u| u.get("pubkey"))
            .and_then(|k| k.as_str())
            .filter(|k| !k.trim().is_empty())
            .map(str::to_string)
    })
}

fn failed(what: &str, e: impl std::fmt::Display) -> CommandError {
    CommandError::Model {
        message: format!("{what}: {e}"),
        detail: None,
    }
}

/// An updater error as a sentence a person can act on, the updater's own words folded away.
fn updater_failed(what: &str, e: tauri_plugin_updater::Error) -> CommandError {
    use tauri_plugin_updater::Error as E;
    let why = match &e {
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => {
            "the update could not be verified (its signature does not match Fathom's key), so nothing was installed"
        }
        E::Reqwest(_) | E::Network(_) => {
            "the update server could not be reached; check the internet connection"
        }
        E::ReleaseNotFound | E::Serialization(_) | E::Semver(_) => {
            "the update server did not answer with a valid release"
        }
        E::TargetNotFound(_) | E::TargetsNotFound(_) | E::UnsupportedArch | E::UnsupportedOs => {
            "there is no update for this kind of installation"
        }
        E::AuthenticationFailed => "installing needs an administrator's permission, which was not given",
        E::DebInstallFailed | E::PackageInstallFailed | E::PreviousAppNotRestored(_) => {
            "the new version could not be installed"
        }
        E::Io(_) | E::TempDirNotFound | E::TempDirNotOnSameMountPoint => {
            "the update could not be written to disk"
        }
        _ => "something went wrong (see the details)",
    };
    CommandError::Model {
        message: format!("{what}: {why}."),
        detail: Some(e.to_string()),
    }
}

async fn find<R: Runtime>(app: &AppHandle<R>) -> Result<Option<Update>, CommandError> {
    let Some(key) = pubkey(app) else {
        return Ok(None);
    };
    let mut builder = app.updater_builder().pubkey(key);
    if let Some(url) = debug_env("FATHOM_UPDATE_ENDPOINT") {
        let url = url
            .parse()
            .map_err(|e| failed("The update endpoint is not a URL", e))?;
        builder = builder
            .endpoints(vec![url])
            .map_err(|e| updater_failed("The update endpoint", e))?;
    }
    if let Some(target) = debug_env("FATHOM_UPDATE_TARGET") {
        builder = builder.executable_path(target);
    }
    let updater = builder
        .build()
        .map_err(|e| updater_failed("Updates cannot be checked", e))?;
    updater
        .check()
        .await
        .map_err(|e| updater_failed("The update check failed", e))
}

/// Asks the update server whether a newer Fathom exists.
#[tauri::command]
pub async fn check_for_update<R: Runtime>(app: AppHandle<R>) -> Result<UpdateCheck, CommandError> {
    let configured = pubkey(&app).is_some();
    let update = find(&app).await?;
    Ok(UpdateCheck {
        current: app.package_info().version.to_string(),
        configured,
        available: update.map(|u| AvailableUpdate {
            version: u.version.clone(),
            notes: u.body.clone(),
            date: u.date.map(|d| d.to_string()),
        }),
    })
}

/// Downloads the newer version, checks its signature and installs it; the app restarts with
/// `restart_app`. Nothing is installed when the signature does not match.
#[tauri::command]
pub async fn install_update<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    stream: StreamId,
    on_progress: Channel<UpdateProgress>,
) -> Result<String, CommandError> {
    let guard = state.streams.open(stream);
    let Some(update) = find(&app).await? else {
        return Err(CommandError::Model {
            message: "There is no update to install: Fathom is up to date.".into(),
            detail: None,
        });
    };
    let version = update.version.clone();
    let mut done = 0u64;
    let install = update.download_and_install(
        |chunk, total| {
            done += chunk as u64;
            let _ = on_progress.send(UpdateProgress {
                done_bytes: done,
                total_bytes: total,
            });
        },
        || log::info!("update {version} downloaded; verifying and installing"),
    );
    tokio::select! {
        _ = guard.token().cancelled() => Err(CommandError::Cancelled),
        r = install => {
            r.map_err(|e| {
                log::warn!("the update was not installed: {e}");
                updater_failed("The update was not installed", e)
            })?;
            log::info!("update {} installed", update.version);
            Ok(update.version)
        }
    }
}

/// Quits and starts the installed version.
#[tauri::command]
pub fn restart_app<R: Runtime>(app: AppHandle<R>) {
    app.restart();
}

/// Turns the start-up check on or off.
#[tauri::command]
pub fn set_check_updates(
    state: State<'_, AppState>,
    on: bool,
) -> Result<crate::commands::SettingsView, CommandError> {
    state.update_settings(|s| s.check_updates = on)?;
    Ok(crate::commands::get_settings(state))
}

/// The start-up check: tells the windows when a newer version exists; quiet otherwise (a failed
/// check is logged, not shown: the person did not ask).
pub fn check_at_start<R: Runtime>(app: &AppHandle<R>) {
    let on = lock(&app.state::<AppState>().settings).check_updates;
    if !on || pubkey(app).is_none() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match check_for_update(app.clone()).await {
            Ok(UpdateCheck {
                available: Some(update),
                ..
            }) => {
                log::info!("Fathom {} is available", update.version);
                *lock(&app.state::<Found>().0) = Some(update.clone());
                let _ = app.emit(UPDATE_AVAILABLE_EVENT, update);
            }
            Ok(_) => log::info!("Fathom is up to date"),
            Err(e) => log::warn!("{e}"),
        }
    });
}
