use std::sync::{Mutex, MutexGuard};

use fathom_library::Library;
use fathom_models::{HubCache, ModelManager, ModelStore};
use fathom_store::{AppDirs, JsonDoc, Settings, StoreError};

use crate::streams::Streams;

/// Everything the commands share.
pub struct AppState {
    pub dirs: AppDirs,
    pub library: Mutex<Library>,
    pub settings: Mutex<Settings>,
    pub settings_doc: JsonDoc<Settings>,
    /// Why the saved shortcut is not active, if it is not.
    pub shortcut_error: Mutex<Option<String>>,
    pub streams: Streams,
    pub models: ModelManager,
    /// The library's search index; the reason when it could not be opened.
    pub index: Result<std::sync::Arc<fathom_index::SearchIndex>, String>,
    /// Replies on the engine; the reason when the harmony encoding could not be set up.
    pub chat: Result<std::sync::Arc<fathom_chat::session::Chat>, String>,
    /// Stored conversations; the reason when the store could not be opened.
    pub chats: Result<fathom_chat::ChatStore, String>,
    /// Dense search (embedder, background vector pass, query vectors); absent without an index.
    pub semantic: Option<std::sync::Arc<fathom_semantic::Semantic>>,
    /// Hears the semantic status; the app points it at the windows once they exist.
    pub semantic_listener: SemanticListener,
    /// The Hugging Face cache models and the embedder live in.
    pub hub_cache: HubCache,
}

type Listener = Box<dyn Fn(&fathom_semantic::SemanticStatus) + Send + Sync>;
pub type SemanticListener = std::sync::Arc<Mutex<Option<Listener>>>;

impl AppState {
    /// State under the platform's directories (or `FATHOM_DATA_DIR`).
    pub fn load() -> Result<Self, StoreError> {
        Self::load_from(AppDirs::resolve()?)
    }

    pub fn load_from(dirs: AppDirs) -> Result<Self, StoreError> {
        let library = Library::open(dirs.library_file())?;
        if let Some(aside) = library.quarantined() {
            log::warn!("library file was unreadable; moved to {}", aside.display());
        }
        let settings_doc = JsonDoc::<Settings>::new(dirs.settings_file());
        let settings = settings_doc.load()?;
        if let Some(aside) = &settings.quarantined {
            log::warn!("settings file was unreadable; moved to {}", aside.display());
        }
        // The Hugging Face cache (HF_HUB_CACHE, HF_HOME or ~/.cache/huggingface/hub); without a
        // home directory, a cache inside Fathom's own data.
        let cache = HubCache::from_env().unwrap_or_else(|_| HubCache::at(dirs.data().join("hub")));
        let models = ModelManager::new(ModelStore::new(cache.clone(), dirs.data()), dirs.data());
        let index = fathom_index::SearchIndex::open(&dirs.data().join("index"))
            .map(std::sync::Arc::new)
            .map_err(|e| {
                log::error!("the search index could not be opened: {e}");
                e.to_string()
            });
        // Early, before the app starts its threads: the encoding is found through the environment.
        let chat = fathom_chat::Harmony::load(&dirs.harmony_dir())
            .map(|harmony| {
                let host = fathom_chat::session::ModelHost::new(crate::chat::idle_unload(
                    settings.value.model_idle_minutes,
                ));
                std::sync::Arc::new(fathom_chat::session::Chat::new(harmony, host))
            })
            .map_err(|e| {
                log::error!("chat is unavailable: {e}");
                e.to_string()
            });
        let semantic_listener = SemanticListener::default();
        let semantic = index.as_ref().ok().map(|index| {
            let listener = semantic_listener.clone();
            std::sync::Arc::new(fathom_semantic::Semantic::start(index.clone(), move |s| {
                if let Some(tell) = &*lock(&listener) {
                    tell(s);
                }
            }))
        });
        if !settings.value.semantic_search {
            if let Some(s) = &semantic {
                s.turn_off();
            }
        }
        // Someone who already has a library or a model (an install from before the welcome guide)
        // does not need it.
        let mut settings = settings;
        if !settings.value.first_run_done
            && (!library.folders().is_empty() || settings.value.active_model.is_some())
        {
            settings.value.first_run_done = true;
            if let Err(e) = settings_doc.save(&settings.value) {
                log::warn!("could not save that the welcome guide is done: {e}");
            }
        }
        let chats = fathom_chat::ChatStore::open(dirs.chats_file()).map_err(|e| {
            log::error!("the conversations could not be opened: {e}");
            e.to_string()
        });
        Ok(Self {
            chat,
            chats,
            semantic,
            semantic_listener,
            hub_cache: cache,
            index,
            models,
            dirs,
            library: Mutex::new(library),
            settings: Mutex::new(settings.value),
            settings_doc,
            shortcut_error: Mutex::new(None),
            streams: Streams::default(),
        })
    }
}

impl AppState {
    /// Changes the settings: saved first, then in effect (a failed save changes nothing).
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Result<(), StoreError> {
        let mut settings = lock(&self.settings).clone();
        change(&mut settings);
        self.settings_doc.save(&settings)?;
        *lock(&self.settings) = settings;
        Ok(())
    }
}

/// Locks a mutex even if a thread panicked while holding it: the data behind these locks is
/// always saved whole before it changes, so a poisoned lock holds consistent data.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
