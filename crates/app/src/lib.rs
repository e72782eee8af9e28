//! Fathom without a window: the use cases every face calls (the desktop app, the `fathom` CLI and
//! the local API server), written once.
//!
//! [`App::open`] opens everything Fathom keeps from its directories: the settings, the library and
//! its index, the conversations and Ask runs, the model host, the semantic pass and the downloads.
//! Its methods are the use cases (folders, indexing, search, models, chat, Ask, settings), each
//! returning the one [`Error`]. (The package is `fathom-core`: `fathom-app` is the desktop shell's
//! name, which its binary and packages carry.)
//!
//! # Stopping and progress
//!
//! One convention for every long use case: it takes a [`CancellationToken`] (`stop`), checked
//! between steps by blocking work and awaited by async work, and ends with [`Error::Cancelled`]
//! (or, where partial work is worth keeping, with what it finished: indexing keeps the files done,
//! a download what it fetched, a reply what came); and it reports progress to an `on_progress`
//! (or `on_event`) closure that must return quickly and may be called from the working thread. A
//! face that has nowhere to send progress passes `&mut |_| {}`.
//!
//! ```no_run
//! use fathom_core::{App, Search};
//! use tokio_util::sync::CancellationToken;
//!
//! let app = App::open(fathom_store::AppDirs::resolve()?)?;
//! let report = app.add_folders(&["/home/me/Notes"])?;
//! for folder in &report.added {
//!     app.index_folder(&folder.id, &CancellationToken::new(), &mut |p| {
//!         eprintln!("{}/{} bytes", p.bytes_done, p.bytes_total)
//!     })?;
//! }
//! let hits = app.search(Search { text: "otter pebbles".into(), ..Search::default() })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod app;
mod ask;
mod chat;
mod diagnostics;
mod error;
mod library;
mod models;
mod place;
mod settings;

pub use app::{idle_unload, lock, model_cache, App, OpenOptions, StatusListener};
pub use ask::{Question, SavedRun};
pub use chat::{ReplyAction, ReplyWith};
pub use error::{Error, Result};
pub use fathom_chroma::{PullReport, SyncProgress, SyncReport};
pub use library::{Search, MAX_RESULTS};
pub use models::{fit_dir, memory, runtime, PullEvent};
pub use place::{CopyOutcome, LibraryLocation, MoveProgress, MoveStep};
pub use tokio_util::sync::CancellationToken;
