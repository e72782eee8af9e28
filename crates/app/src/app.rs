//! [`App`]: everything Fathom keeps open while it runs, opened once from its directories.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use fathom_chat::session::{Chat, ModelHost};
use fathom_chat::{ChatStore, Harmony};
use fathom_engine::BackendKind;
use fathom_index::SearchIndex;
use fathom_library::Library;
use fathom_models::{HubCache, ModelManager, ModelStore};
use fathom_semantic::{Semantic, SemanticStatus};
use fathom_store::{AppDirs, ComputeBackend, JsonDoc, Settings};

use crate::{Error, Result};

/// Hears the semantic pass's status (the desktop forwards it to its windows).
pub type StatusListener = Box<dyn Fn(&SemanticStatus) + Send + Sync>;

/// How an [`App`] is opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Run the vector pass in the background (the app, the API server). Off, vectors are added in
    /// the foreground with [`App::add_vectors`] (the CLI: one command, then exit), and BLAS keeps
    /// its threads for the model.
    pub background_vectors: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            background_vectors: true,
        }
    }
}

/// Fathom without a window: the settings, the library and its index, the conversation and run
/// store, the model host, the semantic pass and the downloads. Its methods (in `library`,
/// `models`, `chat`, `ask`, `settings`) are the use cases every face calls.
pub struct App {
    pub(crate) dirs: AppDirs,
    pub(crate) library: Mutex<Library>,
    /// Shared with the server copier, which reads where the library lives.
    pub(crate) settings: Arc<Mutex<Settings>>,
    pub(crate) settings_doc: JsonDoc<Settings>,
    pub(crate) models: ModelManager,
    pub(crate) hub_cache: HubCache,
    /// The library's search index; the reason when it could not be opened.
    pub(crate) index: Result<Arc<SearchIndex>, String>,
    /// Replies on the engine; the reason when the harmony encoding could not be set up.
    pub(crate) chat: Result<Arc<Chat>, String>,
    /// Stored conversations and Ask runs; the reason when the store could not be opened.
    pub(crate) chats: Result<ChatStore, String>,
    /// Dense search in the background (embedder, vector pass, query vectors); absent without an
    /// index, or when opened without background vectors.
    pub(crate) semantic: Option<Arc<Semantic>>,
    pub(crate) listener: Arc<Mutex<Option<StatusListener>>>,
    /// Without the background pass: the embedder found on disk, loaded on first use.
    pub(crate) local_embedder: OnceLock<Option<Arc<fathom_embed::SharedEmbedder>>>,
    /// The embedder's tokenizer for usage figures, with the folder it came from.
    pub(crate) embedder_tokens: Mutex<Option<(PathBuf, Arc<fathom_embed::TokenCounter>)>>,
    /// The library's copy on a Chroma server, when it lives on one.
    pub(crate) server: Arc<crate::place::Server>,
}

/// Where models live: the Hugging Face cache (HF_HUB_CACHE, HF_HOME or ~/.cache/huggingface/hub),
/// or, where there is no home directory to find it from, a cache inside Fathom's own data. The
/// one rule for every face.
pub fn model_cache(
    dirs: &AppDirs,
    from_env: Result<HubCache, fathom_models::ModelsError>,
) -> HubCache {
    from_env.unwrap_or_else(|e| {
        log::warn!("{e}; models go to Fathom's data folder");
        HubCache::at(dirs.data().join("hub"))
    })
}

/// How long an unused model stays loaded, from the settings (0: until Fathom quits).
/// The backend a choice in the settings means on this platform.
pub(crate) fn backend_kind(choice: ComputeBackend) -> BackendKind {
    match choice {
        ComputeBackend::Auto => BackendKind::platform_default(),
        ComputeBackend::Mlx => BackendKind::Mlx,
        ComputeBackend::LlamaCpp => BackendKind::LlamaCpp,
    }
}

/// Where checkpoints converted for llama.cpp are kept (one file per model, replaced when the
/// checkpoint or the converter changes).
pub(crate) fn converted_dir(dirs: &AppDirs) -> PathBuf {
    dirs.data().join("converted")
}

pub fn idle_unload(minutes: u32) -> Duration {
    match minutes {
        0 => Duration::from_secs(100 * 365 * 24 * 3600),
        m => Duration::from_secs(u64::from(m) * 60),
    }
}

impl App {
    /// Opens Fathom's state under `dirs` with the background vector pass. Only a data folder
    /// that cannot be used is an error; a search index, conversation store or chat encoding that
    /// cannot be opened leaves the rest working and is reported by the use cases that need it.
    pub fn open(dirs: AppDirs) -> Result<App> {
        Self::open_with(dirs, OpenOptions::default())
    }

    pub fn open_with(dirs: AppDirs, options: OpenOptions) -> Result<App> {
        let library = Library::open(dirs.library_file())?;
        if let Some(aside) = library.quarantined() {
            log::warn!("library file was unreadable; moved to {}", aside.display());
        }
        let settings_doc = JsonDoc::<Settings>::new(dirs.settings_file());
        let loaded = settings_doc.load()?;
        if let Some(aside) = &loaded.quarantined {
            log::warn!("settings file was unreadable; moved to {}", aside.display());
        }
        let settings = loaded.value;
        let hub_cache = model_cache(&dirs, HubCache::from_env());
        let models =
            ModelManager::new(ModelStore::new(hub_cache.clone(), dirs.data()), dirs.data());
        let index = SearchIndex::open(&dirs.index_dir())
            .map(Arc::new)
            .map_err(|e| {
                log::error!("the search index could not be opened: {e}");
                e.to_string()
            });
        // Early, before other threads start: the encoding is found through the environment.
        let chat = Harmony::load(&dirs.harmony_dir())
            .map(|harmony| {
                let host = ModelHost::new(idle_unload(settings.model_idle_minutes));
                host.set_backend(backend_kind(settings.backend), converted_dir(&dirs));
                Arc::new(Chat::new(harmony, host))
            })
            .map_err(|e| {
                log::error!("chat is unavailable: {e}");
                e.to_string()
            });
        let settings = Arc::new(Mutex::new(settings));
        let server = crate::place::Server::new(
            settings.clone(),
            index.clone().ok(),
            dirs.data().join("library-servers"),
        );
        let listener: Arc<Mutex<Option<StatusListener>>> = Arc::default();
        let semantic = match (&index, options.background_vectors) {
            (Ok(index), true) => {
                server.start();
                let listener = listener.clone();
                let copier = Arc::downgrade(&server);
                let semantic = Semantic::start(index.clone(), move |s| {
                    let mut s = s.clone();
                    if let Some(copier) = copier.upgrade() {
                        // A finished pass made vectors the server's copy wants.
                        if s.pass == fathom_semantic::PassState::UpToDate {
                            copier.wake();
                        }
                        copier.count_on_server(&mut s);
                    }
                    if let Some(tell) = &*lock(&listener) {
                        tell(&s);
                    }
                });
                if !lock(&settings).semantic_search {
                    semantic.turn_off();
                }
                Some(Arc::new(semantic))
            }
            _ => None,
        };
        // Someone who already has a library or a model (an install from before the welcome guide)
        // does not need it.
        {
            let mut settings = lock(&settings);
            if !settings.first_run_done
                && (!library.folders().is_empty() || settings.active_model.is_some())
            {
                settings.first_run_done = true;
                if let Err(e) = settings_doc.save(&settings) {
                    log::warn!("could not save that the welcome guide is done: {e}");
                }
            }
        }
        let chats = ChatStore::open(dirs.chats_file()).map_err(|e| {
            log::error!("the conversations could not be opened: {e}");
            e.to_string()
        });
        Ok(App {
            dirs,
            library: Mutex::new(library),
            settings,
            settings_doc,
            models,
            hub_cache,
            index,
            chat,
            chats,
            semantic,
            listener,
            local_embedder: OnceLock::new(),
            embedder_tokens: Mutex::default(),
            server,
        })
    }

    pub fn dirs(&self) -> &AppDirs {
        &self.dirs
    }

    /// The Hugging Face cache models and the embedder live in.
    pub fn hub_cache(&self) -> &HubCache {
        &self.hub_cache
    }

    pub fn models(&self) -> &ModelManager {
        &self.models
    }

    pub(crate) fn index(&self) -> Result<Arc<SearchIndex>> {
        self.index.clone().map_err(Error::Index)
    }

    pub(crate) fn chat(&self) -> Result<Arc<Chat>> {
        self.chat.clone().map_err(Error::Chat)
    }

    pub(crate) fn store(&self) -> Result<&ChatStore> {
        self.chats.as_ref().map_err(|m| Error::Chat(m.clone()))
    }
}

/// Locks a mutex even if a thread panicked while holding it: the data behind these locks is
/// always saved whole before it changes, so a poisoned lock holds consistent data.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
