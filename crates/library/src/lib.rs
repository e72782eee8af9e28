//! The user's library: the folders Fathom indexes.
//!
//! [`Library`] keeps the folder list (persisted atomically through `fathom-store`) and decides what
//! may be added: real, readable folders that are not already covered. [`scan`] walks a folder the
//! way the indexer will (honouring `.gitignore` and hidden files) and reports progress as it goes.

mod folders;
mod scan;

pub use folders::{AddReport, Folder, Library, LibraryError, Rejection, RejectionReason};
pub use scan::{scan, ScanError, ScanProgress};
