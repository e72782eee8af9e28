//! Work that runs on its own while the app is open: following the library's folders, the
//! semantic pass's status, the update check at start, the local API.

pub mod api;
pub mod semantic;
pub mod updates;
pub mod watching;
