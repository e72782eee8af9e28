//! Where the library lives: this computer's index, or a Chroma server. Files are read, chunked
//! and embedded here either way (the local index is the record of what was done, so every run
//! resumes); on a server, finished documents are copied there with their vectors, and search,
//! grep, reading and Ask run there.

use std::sync::{Arc, Condvar, Mutex};

use fathom_chroma::{ChromaLibrary, SyncProgress, SyncReport};
use fathom_index::{Passages, SearchIndex};
use fathom_store::{ChromaConnection, LibraryPlace, Settings};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::app::{lock, App};
use crate::{Error, Result};

/// Where the library lives and how big it is, for the Library page.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LibraryLocation {
    pub place: LibraryPlace,
    /// The index's folder on this computer.
    pub index_dir: String,
    /// Bytes the index takes on this computer (BM25, document state, vectors and their graph).
    pub bytes_here: u64,
    pub chunks_here: u64,
    pub vectors_here: u64,
    /// The server, when the library lives on one.
    pub server_url: Option<String>,
    pub collection: Option<String>,
    /// Chunks in the server's collection (everyone's who share it); `None` when it could not be
    /// asked, with the reason in `server_error`.
    pub chunks_on_server: Option<u64>,
    pub server_error: Option<String>,
    /// How the last copy to the server ended (since Fathom started).
    pub last_copy: Option<CopyOutcome>,
}

/// Bytes of the files under `dir`.
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The copy of the library on its server: the connection, one copy at a time, and a background
/// copier woken after indexing runs and vector passes (the app and the API server; the CLI
/// copies in the foreground).
pub(crate) struct Server {
    settings: Arc<Mutex<Settings>>,
    index: Option<Arc<SearchIndex>>,
    /// The library for the connection it was opened with.
    library: Mutex<Option<(ChromaConnection, Arc<ChromaLibrary>)>>,
    copying: Mutex<()>,
    last: Mutex<Option<CopyOutcome>>,
    wake: (Mutex<bool>, Condvar),
    stop: CancellationToken,
}

/// How the last copy to the server ended.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CopyOutcome {
    pub report: Option<SyncReport>,
    pub error: Option<String>,
}

impl Server {
    pub(crate) fn new(
        settings: Arc<Mutex<Settings>>,
        index: Option<Arc<SearchIndex>>,
    ) -> Arc<Self> {
        Arc::new(Server {
            settings,
            index,
            library: Mutex::default(),
            copying: Mutex::default(),
            last: Mutex::default(),
            wake: (Mutex::new(false), Condvar::new()),
            stop: CancellationToken::new(),
        })
    }

    /// Starts the background copier.
    pub(crate) fn start(self: &Arc<Self>) {
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("fathom-server-copy".into())
            .spawn(move || me.copier());
        if let Err(e) = spawned {
            log::error!("the library's server copier could not start: {e}");
        }
    }

    /// Asks the background copier for a copy (several asks before it runs make one copy).
    pub(crate) fn wake(&self) {
        *lock(&self.wake.0) = true;
        self.wake.1.notify_all();
    }

    fn copier(&self) {
        loop {
            {
                let mut woken = lock(&self.wake.0);
                while !*woken && !self.stop.is_cancelled() {
                    woken = self.wake.1.wait(woken).unwrap_or_else(|p| p.into_inner());
                }
                *woken = false;
            }
            if self.stop.is_cancelled() {
                return;
            }
            match self.copy(&self.stop, &mut |_| {}) {
                Ok(_) => {}
                Err(e) => log::warn!("copying the library to its server: {e}"),
            }
        }
    }

    fn place(&self) -> LibraryPlace {
        lock(&self.settings).library_place
    }

    /// The server library for the settings' connection, connected on first use and again
    /// after the connection changed.
    fn library(&self) -> Result<Arc<ChromaLibrary>> {
        let (connection, origin) = {
            let s = lock(&self.settings);
            (s.chroma.clone(), s.library_origin.clone())
        };
        let origin =
            origin.ok_or_else(|| Error::Index("no origin for the server library".into()))?;
        let mut slot = lock(&self.library);
        if let Some((c, library)) = &*slot {
            if *c == connection {
                return Ok(library.clone());
            }
        }
        let library = Arc::new(ChromaLibrary::connect(&connection, &origin)?);
        *slot = Some((connection, library.clone()));
        Ok(library)
    }

    /// One copy (see [`App::sync_library_server`]), remembered for the Library page.
    fn copy(
        &self,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<Option<SyncReport>> {
        if self.place() != LibraryPlace::Chroma {
            return Ok(None);
        }
        let index = self
            .index
            .clone()
            .ok_or_else(|| Error::Index("the search index could not be opened".into()))?;
        let _one = lock(&self.copying);
        let outcome = self
            .library()
            .and_then(|l| Ok(l.sync(&index, stop, on_progress)?));
        *lock(&self.last) = Some(CopyOutcome {
            report: outcome.as_ref().ok().cloned(),
            error: outcome.as_ref().err().map(|e| e.to_string()),
        });
        outcome.map(Some)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
        self.wake.1.notify_all();
    }
}

impl App {
    /// The library's passages where they are searched: the server's when the library lives on
    /// one, else this computer's index.
    pub(crate) fn passages(&self) -> Result<Arc<dyn Passages>> {
        match self.server.place() {
            LibraryPlace::Computer => Ok(self.index()? as Arc<dyn Passages>),
            LibraryPlace::Chroma => Ok(self.server.library()? as Arc<dyn Passages>),
        }
    }

    /// Checks a server can be used (it answers, takes the token, has or can make the
    /// collection); its chunk count. Changes nothing.
    pub fn check_library_server(&self, connection: &ChromaConnection) -> Result<u64> {
        Ok(ChromaLibrary::connect(connection, "check")?.count()?)
    }

    /// Moves the library to a Chroma server (checked first: a server that cannot be used
    /// changes nothing) and starts copying it there, or back to this computer. The vectors
    /// already computed here are what the copy sends; moving back needs nothing, the index
    /// never left.
    pub fn set_library_place(
        &self,
        place: LibraryPlace,
        connection: Option<ChromaConnection>,
    ) -> Result<()> {
        let connection = connection.unwrap_or_else(|| lock(&self.settings).chroma.clone());
        if place == LibraryPlace::Chroma {
            self.check_library_server(&connection)?;
        }
        let origin = lock(&self.settings)
            .library_origin
            .clone()
            .unwrap_or_else(new_origin);
        self.update_settings(|s| {
            s.library_place = place;
            s.chroma = connection;
            s.library_origin = Some(origin);
        })?;
        self.server.wake();
        Ok(())
    }

    /// Copies what changed in the local index to the server (documents whose chunks all have
    /// vectors; the rest wait for the vector pass) and removes what went away; `None` when the
    /// library lives on this computer. A stop, or the server going away, keeps every request
    /// done: the next copy goes on from there. Blocking.
    pub fn sync_library_server(
        &self,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<Option<SyncReport>> {
        self.server.copy(stop, on_progress)
    }

    /// Where the library lives and its size.
    pub fn library_location(&self) -> Result<LibraryLocation> {
        let index = self.index()?;
        let (place, connection) = {
            let s = lock(&self.settings);
            (s.library_place, s.chroma.clone())
        };
        let dir = self.dirs.index_dir();
        let mut location = LibraryLocation {
            place,
            index_dir: dir.display().to_string(),
            bytes_here: bytes_under(&dir),
            chunks_here: index.chunk_count(),
            vectors_here: index.vector_count() as u64,
            server_url: None,
            collection: None,
            chunks_on_server: None,
            server_error: None,
            last_copy: lock(&self.server.last).clone(),
        };
        if place == LibraryPlace::Chroma {
            location.server_url = Some(connection.url.clone());
            location.collection = Some(connection.collection.clone());
            match self.server.library().and_then(|l| Ok(l.count()?)) {
                Ok(n) => location.chunks_on_server = Some(n),
                Err(e) => location.server_error = Some(e.to_string()),
            }
        }
        Ok(location)
    }
}

/// A name for this install's records on a shared collection: random (as the local API's token),
/// so two machines with the same user and paths do not take each other's records for their own.
fn new_origin() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
