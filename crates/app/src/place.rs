//! Where the library lives: this computer's index, a Chroma server beside it, or a Chroma server
//! alone. Files are read, chunked and embedded here in every case. Beside the local index
//! (`Chroma`), finished documents are copied to the server with their vectors, and search, grep,
//! reading and Ask run there. On the server alone (`ChromaOnly`), indexing writes straight there
//! and this computer keeps only a ledger of what was indexed (one per collection, so runs
//! resume); moving there copies the local index up and empties it, moving back reads every
//! record, vectors included, into the local index.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use fathom_chroma::{ChromaLibrary, PullProgress, ServerStore, SyncProgress, SyncReport};
use fathom_index::{DocState, DocStatus, DocStore, Ledger, Passages, SearchIndex};
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
    /// This library's documents on the server, when it lives there alone (from the ledger
    /// here, so known without the server).
    pub documents_on_server: Option<u64>,
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
    /// Where the ledgers of libraries that live on a server alone are kept.
    ledgers: PathBuf,
    /// The library for the connection it was opened with.
    library: Mutex<Option<(ChromaConnection, Arc<ChromaLibrary>)>>,
    /// The indexer's store on the server, for the connection it was opened with.
    store: Mutex<Option<(ChromaConnection, Arc<ServerStore>)>>,
    /// Held for reading by indexing and removals, for writing by a move that carries the
    /// library (to a server alone, or back): they would write to the place being left.
    moving: RwLock<()>,
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
        ledgers: PathBuf,
    ) -> Arc<Self> {
        Arc::new(Server {
            settings,
            index,
            ledgers,
            library: Mutex::default(),
            store: Mutex::default(),
            moving: RwLock::new(()),
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

    pub(crate) fn place(&self) -> LibraryPlace {
        lock(&self.settings).library_place
    }

    /// The ledger file of a library living alone in `connection`'s collection.
    fn ledger_path(&self, connection: &ChromaConnection) -> PathBuf {
        self.ledgers.join(format!(
            "{}.sqlite",
            fathom_chroma::collection_key(connection)
        ))
    }

    /// The ledger of what this machine copied to `connection`'s collection (a library copied
    /// there beside the local index; see `ChromaLibrary::with_copy_ledger`).
    fn copy_ledger_path(&self, connection: &ChromaConnection) -> PathBuf {
        self.ledgers.join(format!(
            "{}.copied.sqlite",
            fathom_chroma::collection_key(connection)
        ))
    }

    /// The ledger of the library on the server alone (no request to the server).
    pub(crate) fn ledger(&self) -> Result<Ledger> {
        let connection = lock(&self.settings).chroma.clone();
        Ok(Ledger::open(&self.ledger_path(&connection))?)
    }

    /// The indexer's store on the server, for a library that lives there alone.
    pub(crate) fn store(&self) -> Result<Arc<ServerStore>> {
        let connection = lock(&self.settings).chroma.clone();
        let mut slot = lock(&self.store);
        if let Some((c, store)) = &*slot {
            if *c == connection {
                return Ok(store.clone());
            }
        }
        let store = Arc::new(ServerStore::new(
            self.library()?,
            Ledger::open(&self.ledger_path(&connection))?,
        ));
        *slot = Some((connection, store.clone()));
        Ok(store)
    }

    /// A library on a server alone has every passage embedded there, none here: the semantic
    /// status counts the ledger's chunks, not the (empty) local index's.
    pub(crate) fn count_on_server(&self, status: &mut fathom_semantic::SemanticStatus) {
        if self.place() != LibraryPlace::ChromaOnly {
            return;
        }
        match self.ledger_chunks() {
            Ok(chunks) => (status.chunks, status.vectors) = (chunks, chunks),
            Err(e) => log::warn!("reading the library's ledger: {e}"),
        }
    }

    /// The chunks the ledger records on the server (a library there alone).
    pub(crate) fn ledger_chunks(&self) -> Result<u64> {
        Ok(self
            .ledger()?
            .all()?
            .iter()
            .filter(|d| d.status == DocStatus::Indexed)
            .map(|d| d.chunks as u64)
            .sum())
    }

    /// Held while indexing or removing; refused while the library is being carried.
    pub(crate) fn not_moving(&self) -> Result<RwLockReadGuard<'_, ()>> {
        match self.moving.try_read() {
            Ok(held) => Ok(held),
            // A panic elsewhere left nothing half done that this lock guards.
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(Error::Index(
                "the library is moving between this computer and its server; try again when \
                 the move is done"
                    .into(),
            )),
        }
    }

    /// Held while the library is carried; refused while it is indexed or already moving.
    fn start_move(&self) -> Result<RwLockWriteGuard<'_, ()>> {
        match self.moving.try_write() {
            Ok(held) => Ok(held),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(Error::Index(
                "the library is being indexed or moved; move it when that is done".into(),
            )),
        }
    }

    /// The server library for the settings' connection, connected on first use and again
    /// after the connection changed.
    fn library(&self) -> Result<Arc<ChromaLibrary>> {
        let (connection, origin, place) = {
            let s = lock(&self.settings);
            (s.chroma.clone(), s.library_origin.clone(), s.library_place)
        };
        let origin =
            origin.ok_or_else(|| Error::Index("no origin for the server library".into()))?;
        let mut slot = lock(&self.library);
        if let Some((c, library)) = &*slot {
            if *c == connection {
                return Ok(library.clone());
            }
        }
        let mut library = ChromaLibrary::connect(&connection, &origin)?;
        if place == LibraryPlace::Chroma {
            // Only a copy keeps that ledger; a library there alone keeps its own.
            library = library.with_copy_ledger(&self.copy_ledger_path(&connection))?;
        }
        let library = Arc::new(library);
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
            LibraryPlace::Chroma | LibraryPlace::ChromaOnly => {
                Ok(self.server.library()? as Arc<dyn Passages>)
            }
        }
    }

    /// Where indexing writes: the local index, or the server when the library lives there
    /// alone.
    pub(crate) fn doc_store(&self) -> Result<Arc<dyn DocStore>> {
        match self.server.place() {
            LibraryPlace::ChromaOnly => Ok(self.server.store()? as Arc<dyn DocStore>),
            _ => Ok(self.index()? as Arc<dyn DocStore>),
        }
    }

    /// What was indexed, document by document: the local index's record, or the ledger of a
    /// library on a server alone (read without asking the server).
    pub(crate) fn doc_states(&self) -> Result<Vec<DocState>> {
        match self.server.place() {
            LibraryPlace::ChromaOnly => Ok(self.server.ledger()?.all()?),
            _ => Ok(fathom_index::indexer::documents(&*self.index()?)?),
        }
    }

    /// Held while indexing or removing (see `Server::moving`).
    pub(crate) fn not_moving(&self) -> Result<RwLockReadGuard<'_, ()>> {
        self.server.not_moving()
    }

    /// Checks a server can be used (it answers, takes the token, has or can make the
    /// collection); its chunk count. Changes nothing.
    pub fn check_library_server(&self, connection: &ChromaConnection) -> Result<u64> {
        Ok(ChromaLibrary::connect(connection, "check")?.count()?)
    }

    /// Moves the library: to a Chroma server beside the local index (checked first: a server
    /// that cannot be used changes nothing; the copy then runs in the background), to a server
    /// alone (the local index is copied there with the vectors computed here, in the
    /// foreground, then emptied), or back to this computer (from a server alone: every record
    /// is read back, vectors included). A stop, or the server going away, leaves the library
    /// where it was and whole; a later move goes on from what was done. Blocking.
    pub fn set_library_place(
        &self,
        place: LibraryPlace,
        connection: Option<ChromaConnection>,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&MoveProgress),
    ) -> Result<()> {
        let (was, current) = {
            let s = lock(&self.settings);
            (s.library_place, s.chroma.clone())
        };
        let connection = connection.unwrap_or_else(|| current.clone());
        if place.on_server() {
            self.check_library_server(&connection)?;
        }
        let same_collection =
            fathom_chroma::collection_key(&connection) == fathom_chroma::collection_key(&current);
        let leaving = was == LibraryPlace::ChromaOnly && place != LibraryPlace::ChromaOnly;
        // Held through the settings' change: an indexing run between the two would write to the
        // place being left.
        let _moving = if leaving || (place == LibraryPlace::ChromaOnly && was != place) {
            Some(self.server.start_move()?)
        } else {
            None
        };
        match (was, place) {
            (LibraryPlace::ChromaOnly, LibraryPlace::ChromaOnly) if !same_collection => {
                return Err(Error::Index(
                    "the library lives on its server alone: move it back to this computer \
                     before moving it to another collection"
                        .into(),
                ))
            }
            // A new token, or the same collection spelt another way.
            (LibraryPlace::ChromaOnly, LibraryPlace::ChromaOnly) => {}
            (LibraryPlace::ChromaOnly, _) => self.read_back(stop, on_progress)?,
            (_, LibraryPlace::ChromaOnly) => {
                return self.move_to_server(connection, stop, on_progress)
            }
            _ => {}
        }
        let origin = self.origin();
        self.update_settings(|s| {
            s.library_place = place;
            s.chroma = connection;
            s.library_origin = Some(origin);
        })?;
        if leaving {
            // Only once the settings say the library is here: until then the ledger is its record.
            *lock(&self.server.store) = None;
            forget_ledger(&self.server.ledger_path(&current));
        }
        // Connected again for the new place (a copy keeps a ledger, a library alone does not).
        *lock(&self.server.library) = None;
        self.server.wake();
        Ok(())
    }

    /// This install's name on shared collections, made on first use.
    fn origin(&self) -> String {
        lock(&self.settings)
            .library_origin
            .clone()
            .unwrap_or_else(new_origin)
    }

    /// Copies the local index to `connection`'s collection, records what arrived whole in a
    /// fresh ledger, makes the server the library's place, then empties the local index.
    fn move_to_server(
        &self,
        connection: ChromaConnection,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&MoveProgress),
    ) -> Result<()> {
        if self.embedder_dir().is_none() {
            return Err(Error::Index(
                "a library on a server alone needs the embedder here, to give every new passage \
                 its vector: turn on semantic search (or run `fathom pull --embedder`) first"
                    .into(),
            ));
        }
        let index = self.index()?;
        let waiting = index.documents_missing_vectors()?.len();
        if waiting > 0 {
            return Err(Error::Index(format!(
                "{waiting} document{} here {} no vectors yet, and a library on a server alone \
                 needs every passage's: move it once semantic search has embedded them (or after \
                 `fathom index update` with the embedder)",
                if waiting == 1 { "" } else { "s" },
                if waiting == 1 { "has" } else { "have" },
            )));
        }
        // Not beside the background copy to the same collection.
        let _one = lock(&self.server.copying);
        let origin = self.origin();
        let copy_ledger = self.server.copy_ledger_path(&connection);
        let library =
            ChromaLibrary::connect(&connection, &origin)?.with_copy_ledger(&copy_ledger)?;
        let report = library.sync(&index, stop, &mut |p| {
            on_progress(&MoveProgress {
                step: MoveStep::Copying,
                done: p.chunks_done,
                total: p.chunks_total,
            })
        })?;
        if report.stopped {
            return Err(Error::Cancelled);
        }
        let here = fathom_index::indexer::documents(&*index)?;
        let (with_chunks, rest): (Vec<DocState>, Vec<DocState>) = here
            .iter()
            .cloned()
            .partition(|d| d.status == DocStatus::Indexed && d.chunks > 0);
        // Every document with chunks had its vectors; one the server does not hold whole (its
        // records changed meanwhile) is left out, and indexing reads it again.
        let mut done = library.whole(&with_chunks)?;
        done.extend(rest);
        let path = self.server.ledger_path(&connection);
        // A ledger left from an earlier stay there is out of date: this one starts from the copy.
        *lock(&self.server.store) = None;
        forget_ledger(&path);
        Ledger::open(&path)?.record(&done, &[])?;
        self.update_settings(|s| {
            s.library_place = LibraryPlace::ChromaOnly;
            s.chroma = connection;
            s.library_origin = Some(origin);
        })?;
        // Indexing writes there directly now, past the copy's ledger: a later copy starts over
        // from a listing.
        drop(library);
        *lock(&self.server.library) = None;
        forget_ledger(&copy_ledger);
        // The library is on the server now; what is left here only takes room.
        let ids: Vec<String> = here.into_iter().map(|d| d.doc_id).collect();
        let emptied = ids
            .iter()
            .try_for_each(|id| index.delete_document(id))
            .and_then(|()| DocStore::commit(&*index, &[], &ids))
            .and_then(|()| index.save_vectors());
        if let Err(e) = emptied {
            log::warn!("emptying the local index after the move to the server: {e}");
        }
        Ok(())
    }

    /// Reads a library on a server alone back into the local index, keeping its place until
    /// every document the server holds whole is here; the ledger goes after.
    fn read_back(
        &self,
        stop: &CancellationToken,
        on_progress: &mut dyn FnMut(&MoveProgress),
    ) -> Result<()> {
        let index = self.index()?;
        let store = self.server.store()?;
        let docs = store.ledger().all()?;
        let report = store
            .library()
            .pull(&docs, &index, stop, &mut |p: &PullProgress| {
                on_progress(&MoveProgress {
                    step: MoveStep::ReadingBack,
                    done: p.chunks_done,
                    total: p.chunks_total,
                })
            })?;
        if report.stopped {
            return Err(Error::Cancelled);
        }
        if report.incomplete > 0 {
            log::warn!(
                "{} documents were not whole on the server; the next indexing run reads them again",
                report.incomplete
            );
        }
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
        let only = place == LibraryPlace::ChromaOnly;
        let mut location = LibraryLocation {
            place,
            index_dir: dir.display().to_string(),
            bytes_here: bytes_under(&dir),
            chunks_here: index.chunk_count(),
            vectors_here: index.vector_count() as u64,
            server_url: None,
            collection: None,
            chunks_on_server: None,
            documents_on_server: None,
            server_error: None,
            last_copy: lock(&self.server.last).clone(),
        };
        if only {
            let docs = self.server.ledger()?.all()?;
            location.documents_on_server = Some(
                docs.iter()
                    .filter(|d| d.status == DocStatus::Indexed && d.chunks > 0)
                    .count() as u64,
            );
        }
        if place.on_server() {
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

/// Which part of a move is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum MoveStep {
    /// Copying the local index to the server.
    Copying,
    /// Reading the server's records back into the local index.
    ReadingBack,
}

/// How far a move that carries the library is, in chunks.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MoveProgress {
    pub step: MoveStep,
    pub done: u64,
    pub total: u64,
}

/// Removes a ledger with its SQLite side files (a library no longer lives there alone).
fn forget_ledger(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// A name for this install's records on a shared collection: random (as the local API's token),
/// so two machines with the same user and paths do not take each other's records for their own.
fn new_origin() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
