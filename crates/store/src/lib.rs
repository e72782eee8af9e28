//! Where Fathom keeps its state on disk.
//!
//! [`AppDirs`] resolves the platform's data and config directories (or an override for tests and
//! portable installs), [`JsonDoc`] reads and writes small JSON documents atomically so that a crash
//! or a full disk never leaves half a file, and [`Settings`] is the user's persisted preferences.

mod dirs;
mod doc;
mod settings;

pub use dirs::AppDirs;
pub use doc::{JsonDoc, Loaded, StoreError};
pub use settings::{
    ChromaConnection, ComputeBackend, EnginePlace, LibraryPlace, ServerSettings, Settings,
    DEFAULT_QUICK_SHORTCUT,
};
