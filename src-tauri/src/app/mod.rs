//! The shell's base: its state around the core, the streaming convention, the errors commands
//! return, and the events the windows hear. Imports nothing else from the shell.

pub mod errors;
pub mod events;
pub mod state;
pub mod streams;
pub mod updater;

pub use errors::CommandError;
pub use state::{AppState, SettingsView};
pub use streams::{StreamGuard, StreamId, Streams};
