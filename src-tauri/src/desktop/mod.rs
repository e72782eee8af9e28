//! What only a desktop has: the windows, the tray / menu-bar icon, the global shortcut.

pub mod shortcut;
pub mod tray;
pub mod windows;
