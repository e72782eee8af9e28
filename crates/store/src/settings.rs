use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Cmd+Shift+Space on macOS, Ctrl+Shift+Space elsewhere.
pub const DEFAULT_QUICK_SHORTCUT: &str = "CommandOrControl+Shift+Space";

/// The user's preferences. Unknown or missing fields fall back to defaults so that settings files
/// written by older or newer versions still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Accelerator that toggles the quick-query window, in Tauri's syntax.
    pub quick_shortcut: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            quick_shortcut: DEFAULT_QUICK_SHORTCUT.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
        let s: Settings = serde_json::from_str(r#"{"quickShortcut":"Alt+K","future":1}"#).unwrap();
        assert_eq!(s.quick_shortcut, "Alt+K");
    }
}
