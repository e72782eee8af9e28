//! The typed commands the UI calls, one file per domain. Each is a thin call into the core
//! (`fathom_core::App`) through `crate::app`; commands never call each other.

pub mod api;
pub mod ask;
pub mod chat;
pub mod info;
pub mod library;
pub mod models;
pub mod settings;
pub mod updates;
pub mod windows;
