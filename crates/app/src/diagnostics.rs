//! "Copy diagnostics": what a bug report needs, never a document's or conversation's text.

use fathom_models::human_bytes;

use crate::app::App;
use crate::models::memory;

impl App {
    /// Versions, system, memory, device, model, the library's size, settings without secrets and
    /// the log's tail. Counts and names only.
    pub fn diagnostics(&self, app_version: &str) -> String {
        let settings = self.settings();
        let memory = memory();
        let device = match fathom_engine::device::prepare() {
            Err(e) => format!("cannot run models: {e}"),
            Ok(()) => match memory.gpu_working_set_bytes {
                Some(set) => format!("Metal, working set {}", human_bytes(set)),
                None => "MLX CPU backend".into(),
            },
        };
        let model = match &settings.active_model {
            None => "none chosen".to_string(),
            Some(repo) => {
                let installed = self.models.store.find(repo).map_or_else(
                    || "not installed".to_string(),
                    |m| format!("installed at {}", m.path),
                );
                let loaded = match &self.chat {
                    Ok(chat) if chat.host.is_loaded() => "loaded",
                    Ok(_) => "not loaded",
                    Err(_) => "chat unavailable",
                };
                format!("{repo}, {installed}, {loaded}")
            }
        };
        let folders = match self.folders().len() {
            1 => "1 folder".to_string(),
            n => format!("{n} folders"),
        };
        let library = match self.index_counts() {
            Ok((chunks, vectors)) => format!(
                "{folders}, {chunks} passages, {vectors} with vectors{}",
                match self.settings().library_place {
                    fathom_store::LibraryPlace::Computer => "",
                    fathom_store::LibraryPlace::Chroma => " (copied to a Chroma server)",
                    fathom_store::LibraryPlace::ChromaOnly => " (on a Chroma server alone)",
                }
            ),
            Err(e) => format!("{folders}; the index cannot be opened: {e}"),
        };
        let semantic = match self.semantic_status() {
            Some(st) => format!("{:?}, pass {:?}", st.embedder, st.pass),
            None => "unavailable".into(),
        };
        // Every setting by name, the token only as whether one is saved.
        let mut shown = Vec::new();
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&settings) {
            for (k, v) in map {
                let v = if k == "hfToken" {
                    if v.is_null() { "not set" } else { "set" }.to_string()
                } else {
                    v.to_string()
                };
                shown.push((k, v));
            }
        }
        fathom_diagnostics::Report {
            app_version: app_version.into(),
            platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            os: fathom_fit::system_description(),
            memory: format!(
                "{} total, {} available, budget for models {} ({:?})",
                human_bytes(memory.total_bytes),
                human_bytes(memory.available_bytes),
                human_bytes(memory.budget_bytes()),
                memory.source
            ),
            device,
            model,
            library,
            semantic,
            settings: shown,
            data_dir: self.dirs.data().display().to_string(),
            log_dir: self.dirs.logs().display().to_string(),
            log_tail: fathom_diagnostics::log_tail(self.dirs.logs(), 200),
        }
        .render()
    }
}
