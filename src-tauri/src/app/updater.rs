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
use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

use super::CommandError;

/// What the start-up check found, kept for windows that load after it finished.
#[derive(Default)]
pub struct Found(pub std::sync::Mutex<Option<AvailableUpdate>>);

/// A newer version on offer.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AvailableUpdate {
    pub version: String,
    pub notes: Option<String>,
    pub date: Option<String>,
}

/// What a check found.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCheck {
    pub current: String,
    /// False for a build made without an update key: it never updates itself.
    pub configured: bool,
    pub available: Option<AvailableUpdate>,
}

/// Progress of an install.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProgress {
    pub done_bytes: u64,
    pub total_bytes: Option<u64>,
}

fn debug_env(name: &str) -> Option<String> {
    if cfg!(debug_assertions) {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    } else {
        None
    }
}

pub fn pubkey<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
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
pub fn updater_failed(what: &str, e: tauri_plugin_updater::Error) -> CommandError {
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

pub async fn find<R: Runtime>(app: &AppHandle<R>) -> Result<Option<Update>, CommandError> {
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
pub async fn check<R: Runtime>(app: &AppHandle<R>) -> Result<UpdateCheck, CommandError> {
    let configured = pubkey(app).is_some();
    let update = find(app).await?;
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
