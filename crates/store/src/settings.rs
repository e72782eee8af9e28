use serde::{Deserialize, Serialize};

/// Cmd+Shift+Space on macOS, Ctrl+Shift+Space elsewhere.
pub const DEFAULT_QUICK_SHORTCUT: &str = "CommandOrControl+Shift+Space";

/// The user's preferences. A settings file written by an older or newer version still loads:
/// `JsonDoc` gives missing fields their defaults and serde ignores unknown ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Accelerator that toggles the quick-query window, in Tauri's syntax.
    pub quick_shortcut: String,
    /// Hugging Face access token for gated or private repos; used before `HF_TOKEN`.
    pub hf_token: Option<String>,
    /// The model chats and searches use: a Hugging Face repo id among the installed models.
    pub active_model: Option<String>,
    /// Load a model even when the memory check says it will not fit.
    pub ignore_fit: bool,
    /// Index hidden files and folders (names starting with a dot) too.
    pub index_hidden: bool,
    /// Minutes an unused model stays in memory after a chat; 0 keeps it until Fathom quits.
    pub model_idle_minutes: u32,
    /// The longest reply, in tokens (reasoning included).
    pub reply_max_tokens: u32,
    /// Hybrid search (BM25 and meaning): fetches a 90 MB embedding model when the library gets
    /// its first folder. Off, search is BM25 alone.
    pub semantic_search: bool,
    /// The welcome guide (memory check, model, first folder, first search and Ask) was finished or
    /// skipped; Settings can show it again.
    pub first_run_done: bool,
    /// Ask the update server for a newer Fathom when the app starts.
    pub check_updates: bool,
    /// Serve the local API (OpenAI-compatible and MCP) while the app runs.
    pub api_enabled: bool,
    pub api_port: u16,
    /// Listen on the local network too, not only on this computer.
    pub api_local_network: bool,
    /// The bearer token clients send; made when the API is first turned on, kept so that the
    /// clients set up with it go on working.
    pub api_token: Option<String>,
    /// Web origins that may call the local API from a browser (`*`: any); none by default.
    pub api_cors_origins: Vec<String>,
    /// Where chat and Ask run: on this computer, or on a server.
    pub engine: EnginePlace,
    /// The OpenAI-compatible server used when `engine` is `server` (kept when it is not, so
    /// switching back and forth keeps the address).
    pub server: ServerSettings,
    /// What runs the model on this computer.
    pub backend: ComputeBackend,
    /// Where the library's passages are searched: this computer's index, or a Chroma server.
    pub library_place: LibraryPlace,
    /// The Chroma server used when `library_place` is `chroma` (kept when it is not).
    pub chroma: ChromaConnection,
    /// This install's name on a shared Chroma collection: its records carry it, so copying
    /// adds and removes only its own. Made when a server is first used.
    pub library_origin: Option<String>,
}

/// Where the library's passages live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum LibraryPlace {
    /// In the index on this computer.
    #[default]
    Computer,
    /// On a Chroma server: files are still read and embedded here, then copied there, and
    /// search, grep, reading and Ask run there.
    Chroma,
    /// Only on a Chroma server: files are read and embedded here and written straight there;
    /// this computer keeps only a ledger of what was indexed (for libraries larger than its
    /// disk, or a team's).
    ChromaOnly,
}

impl LibraryPlace {
    /// Whether the library's passages are searched on a server.
    pub fn on_server(self) -> bool {
        matches!(self, LibraryPlace::Chroma | LibraryPlace::ChromaOnly)
    }
}

/// A Chroma server and the collection a library lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ChromaConnection {
    /// The server, e.g. `http://127.0.0.1:8000` or `https://api.trychroma.com`.
    pub url: String,
    pub tenant: String,
    pub database: String,
    /// The collection holding the library's chunks.
    pub collection: String,
    /// Sent as `x-chroma-token` (Chroma Cloud, or a server behind a gateway that checks it).
    pub token: Option<String>,
}

impl ChromaConnection {
    /// A server with Chroma's default tenant and database, no token, collection `fathom`.
    pub fn local(url: &str) -> Self {
        ChromaConnection {
            url: url.to_string(),
            ..Self::default()
        }
    }
}

impl Default for ChromaConnection {
    fn default() -> Self {
        ChromaConnection {
            url: "http://localhost:8000".into(),
            tenant: "default_tenant".into(),
            database: "default_database".into(),
            collection: "fathom".into(),
            token: None,
        }
    }
}

/// What runs the model on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ComputeBackend {
    /// MLX on a Mac (Metal), llama.cpp elsewhere (every CPU core).
    #[default]
    Auto,
    /// MLX: Metal on a Mac; on Linux its CPU backend, about one core's speed.
    Mlx,
    /// llama.cpp on the CPU, from the same checkpoint converted once to GGUF.
    LlamaCpp,
}

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum EnginePlace {
    /// On this computer, with the model chosen on the Models page.
    #[default]
    Computer,
    /// On an OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, another Fathom).
    Server,
}

/// An OpenAI-compatible server to run the model on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerSettings {
    /// Its address, with or without `/v1`: `http://192.168.1.20:8000/v1`.
    pub url: String,
    /// The API key, sent as a bearer token; none for servers that ask for none.
    pub key: Option<String>,
    /// The model to ask for; the server's first when unset.
    pub model: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            quick_shortcut: DEFAULT_QUICK_SHORTCUT.to_string(),
            hf_token: None,
            active_model: None,
            ignore_fit: false,
            index_hidden: false,
            model_idle_minutes: 15,
            reply_max_tokens: 8192,
            semantic_search: true,
            first_run_done: false,
            check_updates: true,
            api_enabled: false,
            api_port: 8484,
            api_local_network: false,
            api_token: None,
            api_cors_origins: Vec::new(),
            engine: EnginePlace::Computer,
            server: ServerSettings::default(),
            backend: ComputeBackend::Auto,
            library_place: LibraryPlace::Computer,
            chroma: ChromaConnection::default(),
            library_origin: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let doc = crate::JsonDoc::<Settings>::new(dir.path().join("settings.json"));
        std::fs::write(doc.path(), "{}").unwrap();
        let loaded = doc.load().unwrap();
        assert_eq!(loaded.value, Settings::default());
        assert!(loaded.quarantined.is_none());
        std::fs::write(doc.path(), r#"{"quickShortcut":"Alt+K","future":1}"#).unwrap();
        let s = doc.load().unwrap().value;
        assert_eq!(s.quick_shortcut, "Alt+K");
        assert_eq!(s.model_idle_minutes, Settings::default().model_idle_minutes);
    }
}
