//! The user's library: the folders Fathom indexes.
//!
//! [`Library`] keeps the folder list (persisted atomically through `fathom-store`) and decides what
//! may be added: real, readable folders that are not already covered. [`walk`] is the one rule for
//! which of a folder's files belong to the library (ignore files, the hidden-files choice, formats
//! Fathom reads): the indexer walks with it, and [`scan`] counts with it, reporting progress as it
//! goes.

mod folders;
mod scan;
pub mod walk;

pub use folders::{AddReport, Folder, Library, LibraryError, Rejection, RejectionReason};
pub use scan::{scan, ScanError, ScanProgress};
pub use walk::{walk, WalkRule, Walked};
