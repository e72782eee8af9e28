//! The settings' use cases: each change is saved first, then in effect (a failed save changes
//! nothing), with what it changes elsewhere.

use fathom_store::Settings;

use crate::app::{idle_unload, lock, App};
use crate::Result;

impl App {
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Changes the settings: saved first, then in effect.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Result<()> {
        let mut settings = lock(&self.settings).clone();
        change(&mut settings);
        self.settings_doc.save(&settings)?;
        *lock(&self.settings) = settings;
        Ok(())
    }

    /// Whether hidden files and folders belong to the library (the folders want re-indexing).
    pub fn set_index_hidden(&self, hidden: bool) -> Result<()> {
        self.update_settings(|s| s.index_hidden = hidden)
    }

    /// Minutes an unused model stays loaded (0: until Fathom quits).
    pub fn set_model_idle_minutes(&self, minutes: u32) -> Result<()> {
        self.update_settings(|s| s.model_idle_minutes = minutes)?;
        if let Ok(chat) = &self.chat {
            chat.host.set_idle_unload(idle_unload(minutes));
        }
        Ok(())
    }

    /// Saves (or with `None`, forgets) the Hugging Face token for gated and private repos.
    pub fn set_hf_token(&self, token: Option<String>) -> Result<()> {
        let token = token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        self.update_settings(|s| s.hf_token = token)
    }

    /// The welcome guide finished or skipped (`true`), or wanted again (`false`).
    pub fn set_first_run_done(&self, done: bool) -> Result<()> {
        self.update_settings(|s| s.first_run_done = done)
    }

    /// Whether the app asks for a newer version when it starts.
    pub fn set_check_updates(&self, on: bool) -> Result<()> {
        self.update_settings(|s| s.check_updates = on)
    }
}
