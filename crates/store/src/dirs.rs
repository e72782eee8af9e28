use std::path::{Path, PathBuf};

use crate::StoreError;

/// Environment variable that puts all of Fathom's state under one directory (tests, portable use).
pub const DATA_DIR_ENV: &str = "FATHOM_DATA_DIR";

/// The directories Fathom writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDirs {
    data: PathBuf,
    config: PathBuf,
    logs: PathBuf,
}

impl AppDirs {
    /// The platform's directories (`~/.local/share/fathom`, `~/Library/Application Support/…`),
    /// unless `FATHOM_DATA_DIR` names one directory for everything.
    pub fn resolve() -> Result<Self, StoreError> {
        if let Some(root) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
            return Ok(Self::under(PathBuf::from(root)));
        }
        let dirs = directories::ProjectDirs::from("app", "Fathom", "Fathom")
            .ok_or(StoreError::NoHomeDirectory)?;
        Ok(Self {
            data: dirs.data_dir().to_path_buf(),
            config: dirs.config_dir().to_path_buf(),
            logs: platform_logs(&dirs),
        })
    }

    /// Everything under one root: `ROOT/data` and `ROOT/config`.
    pub fn under(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            data: root.join("data"),
            config: root.join("config"),
            logs: root.join("logs"),
        }
    }

    /// The platform's log folder: `~/Library/Logs/Fathom` on macOS (where Console.app looks),
    /// `$XDG_STATE_HOME/fathom/logs` (`~/.local/state/fathom/logs`) on Linux.
    pub fn logs(&self) -> &Path {
        &self.logs
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The conversations (SQLite).
    pub fn chats_file(&self) -> PathBuf {
        self.data.join("chats.sqlite")
    }

    /// Where the harmony format's vocabulary is written out (it ships inside the binaries).
    pub fn harmony_dir(&self) -> PathBuf {
        self.data.join("harmony")
    }

    /// The user's preferences.
    pub fn settings_file(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    /// The library's search index (a folder).
    pub fn index_dir(&self) -> PathBuf {
        self.data.join("index")
    }

    /// The list of folders in the library.
    pub fn library_file(&self) -> PathBuf {
        self.data.join("library.json")
    }
}

fn platform_logs(dirs: &directories::ProjectDirs) -> PathBuf {
    if cfg!(target_os = "macos") {
        if let Some(base) = directories::BaseDirs::new() {
            return base.home_dir().join("Library/Logs/Fathom");
        }
    }
    match dirs.state_dir() {
        Some(state) => state.join("logs"),
        None => dirs.data_dir().join("logs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_keeps_data_and_config_apart() {
        let dirs = AppDirs::under("/x");
        assert_eq!(dirs.data(), Path::new("/x/data"));
        assert_eq!(dirs.config(), Path::new("/x/config"));
        assert_eq!(dirs.library_file(), Path::new("/x/data/library.json"));
        assert_eq!(dirs.settings_file(), Path::new("/x/config/settings.json"));
        assert_eq!(dirs.logs(), Path::new("/x/logs"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn logs_go_to_the_xdg_state_folder_on_linux() {
        let dirs = directories::ProjectDirs::from("app", "Fathom", "Fathom").unwrap();
        let logs = platform_logs(&dirs);
        assert!(logs.ends_with("fathom/logs"), "{}", logs.display());
        assert_eq!(logs.parent(), dirs.state_dir());
    }
}
