//! A library moved to a real Chroma server through the core, as every face uses it: checked
//! before it moves, copied with the vectors computed here, searched and read there, and moved
//! back. (Its own test binary: it points `FATHOM_EMBEDDER` at the test embedder.)

use std::fs;
use std::path::Path;

use fathom_chroma::test_server::Server;
use fathom_core::{App, CancellationToken, OpenOptions, Search};
use fathom_store::{AppDirs, ChromaConnection, LibraryPlace};

fn embedder() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/minilm");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: `bash scripts/fixtures.sh` makes it",
        dir.display()
    );
    dir
}

#[test]
fn a_library_moves_to_a_chroma_server_and_back() {
    std::env::set_var("FATHOM_EMBEDDER", embedder());
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("Notes");
    fs::create_dir_all(&notes).unwrap();
    fs::write(
        notes.join("otters.md"),
        "Otters keep pebbles under the kelp.\n",
    )
    .unwrap();
    fs::write(
        notes.join("tides.txt"),
        "Spring tides follow the full moon.\n",
    )
    .unwrap();
    let app = App::open_with(
        AppDirs::under(tmp.path().join("app")),
        OpenOptions {
            background_vectors: false,
        },
    )
    .unwrap();
    let folder = app.add_folders(&[&notes]).unwrap().added.remove(0);
    let stop = CancellationToken::new();
    app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();
    let vectors = app.add_vectors(&stop, &mut |_| {}).unwrap().unwrap();
    assert_eq!(vectors.chunks, 2);
    let local = app
        .search(Search {
            text: "pebbles".into(),
            ..Search::default()
        })
        .unwrap();
    assert!(local[0].path.ends_with("otters.md"));

    // A server that is not there: nothing moves.
    let nobody = ChromaConnection::local(&format!(
        "http://127.0.0.1:{}",
        fathom_chroma::test_server::free_port()
    ));
    let err = app
        .set_library_place(LibraryPlace::Chroma, Some(nobody), &stop, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach"), "{err}");
    assert_eq!(app.settings().library_place, LibraryPlace::Computer);
    assert_eq!(
        app.library_location().unwrap().place,
        LibraryPlace::Computer
    );

    let mut server = Server::start(&tmp.path().join("chroma"));
    let connection = ChromaConnection::local(&server.url());
    assert_eq!(app.check_library_server(&connection).unwrap(), 0);
    app.set_library_place(
        LibraryPlace::Chroma,
        Some(connection.clone()),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(app.settings().chroma, connection);
    assert!(app.settings().library_origin.is_some());
    let report = app
        .sync_library_server(&stop, &mut |_| {})
        .unwrap()
        .unwrap();
    assert_eq!((report.documents_copied, report.chunks_copied), (2, 2));
    // The next copy knows what the server holds from this computer's ledger of the copy.
    let again = app
        .sync_library_server(&stop, &mut |_| {})
        .unwrap()
        .unwrap();
    assert_eq!((again.documents_copied, again.listed), (0, false));
    let location = app.library_location().unwrap();
    assert_eq!(location.place, LibraryPlace::Chroma);
    assert_eq!(location.chunks_on_server, Some(2));
    assert_eq!(location.chunks_here, 2);
    assert!(location.bytes_here > 0);
    assert_eq!(
        location.last_copy.and_then(|c| c.report),
        Some(again.clone())
    );

    // Search, reading and grep now run on the server: the same answers.
    let remote = app
        .search(Search {
            text: "pebbles".into(),
            ..Search::default()
        })
        .unwrap();
    assert_eq!(remote[0].chunk_id, local[0].chunk_id);
    assert_eq!(remote[0].text, local[0].text);
    let path = notes.join("tides.txt").canonicalize().unwrap();
    let doc = app.read_document(&path.display().to_string()).unwrap();
    assert_eq!(doc[0].text.trim(), "Spring tides follow the full moon.");
    assert_eq!(app.grep("full moon", None, 10).unwrap().len(), 1);
    // ... which the server going away shows.
    server.kill();
    let gone = app
        .search(Search {
            text: "pebbles".into(),
            ..Search::default()
        })
        .unwrap_err();
    assert!(gone.to_string().contains("cannot reach"), "{gone}");
    assert!(app.library_location().unwrap().server_error.is_some());

    // Back to this computer: the index never left.
    app.set_library_place(LibraryPlace::Computer, None, &stop, &mut |_| {})
        .unwrap();
    let back = app
        .search(Search {
            text: "pebbles".into(),
            ..Search::default()
        })
        .unwrap();
    assert_eq!(back[0].chunk_id, local[0].chunk_id);
}

fn search_top(app: &App, text: &str) -> Vec<fathom_index::Hit> {
    app.search(Search {
        text: text.into(),
        ..Search::default()
    })
    .unwrap()
}

#[test]
fn a_library_lives_only_on_a_chroma_server() {
    std::env::set_var("FATHOM_EMBEDDER", embedder());
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("Notes");
    fs::create_dir_all(&notes).unwrap();
    fs::write(
        notes.join("otters.md"),
        "Otters keep pebbles under the kelp.\n",
    )
    .unwrap();
    fs::write(
        notes.join("tides.txt"),
        "Spring tides follow the full moon.\n",
    )
    .unwrap();
    let dirs = AppDirs::under(tmp.path().join("app"));
    let app = App::open_with(
        dirs.clone(),
        OpenOptions {
            background_vectors: false,
        },
    )
    .unwrap();
    let folder = app.add_folders(&[&notes]).unwrap().added.remove(0);
    let stop = CancellationToken::new();
    app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();
    app.add_vectors(&stop, &mut |_| {}).unwrap().unwrap();
    // Indexed but not embedded yet: the library cannot move until it is.
    fs::write(notes.join("heron.txt"), "A heron stands in the reeds.\n").unwrap();
    app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();

    let mut server = Server::start(&tmp.path().join("chroma"));
    let connection = ChromaConnection::local(&server.url());
    let err = app
        .set_library_place(
            LibraryPlace::ChromaOnly,
            Some(connection.clone()),
            &stop,
            &mut |_| {},
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("1 document here has no vectors yet"),
        "{err}"
    );
    assert_eq!(app.settings().library_place, LibraryPlace::Computer);
    app.add_vectors(&stop, &mut |_| {}).unwrap().unwrap();
    // A stopped move leaves the library here, whole.
    let stopped = CancellationToken::new();
    stopped.cancel();
    let err = app
        .set_library_place(
            LibraryPlace::ChromaOnly,
            Some(connection.clone()),
            &stopped,
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(err, fathom_core::Error::Cancelled);
    assert_eq!(app.settings().library_place, LibraryPlace::Computer);
    assert_eq!(app.index_counts().unwrap(), (3, 3));

    let mut steps = Vec::new();
    app.set_library_place(
        LibraryPlace::ChromaOnly,
        Some(connection.clone()),
        &stop,
        &mut |p| steps.push(p.clone()),
    )
    .unwrap();
    assert!(steps
        .iter()
        .all(|p| p.step == fathom_core::MoveStep::Copying));
    assert_eq!(steps.last().map(|p| (p.done, p.total)), Some((3, 3)));
    assert_eq!(app.settings().library_place, LibraryPlace::ChromaOnly);
    let location = app.library_location().unwrap();
    assert_eq!(location.documents_on_server, Some(3));
    assert_eq!(location.chunks_on_server, Some(3));
    assert_eq!(location.chunks_here, 0, "the local index was emptied");
    assert_eq!(app.documents().unwrap().len(), 3);

    // Indexing writes straight to the server: nothing to redo, then a new file.
    let r = app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();
    assert_eq!((r.indexed, r.unchanged), (0, 3));
    fs::write(notes.join("crabs.txt"), "Hermit crabs trade shells.\n").unwrap();
    let r = app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();
    assert_eq!((r.indexed, r.unchanged), (1, 3));
    assert_eq!(app.library_location().unwrap().chunks_on_server, Some(4));
    assert_eq!(app.library_location().unwrap().chunks_here, 0);
    assert_eq!(app.index_counts().unwrap(), (4, 4));
    assert_eq!(app.library_status().unwrap()[0].documents, 4);
    assert!(search_top(&app, "hermit crabs")[0]
        .path
        .ends_with("crabs.txt"));
    assert!(search_top(&app, "pebbles")[0].path.ends_with("otters.md"));
    assert_eq!(app.grep("heron", None, 10).unwrap().len(), 1);

    // The server away: a clear error, and nothing recorded as done.
    server.kill();
    fs::write(notes.join("gulls.txt"), "Gulls follow the ferry.\n").unwrap();
    let err = app
        .index_folder(&folder.id, &stop, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach"), "{err}");
    assert_eq!(app.documents().unwrap().len(), 4);
    // Nor does a folder leave while its documents cannot.
    assert!(app.remove_folder(&folder.id).is_err());
    assert_eq!(app.folders().len(), 1);
    server.restart();
    let r = app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();
    assert_eq!((r.indexed, r.unchanged), (1, 4));

    // Another collection is refused while the library lives on this one alone; a new token
    // for this one is kept.
    let other = ChromaConnection {
        collection: "elsewhere".into(),
        ..connection.clone()
    };
    let err = app
        .set_library_place(LibraryPlace::ChromaOnly, Some(other), &stop, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("move it back"), "{err}");
    assert_eq!(app.settings().chroma, connection);

    // Back to this computer: every chunk and vector read back, nothing embedded again.
    let mut steps = Vec::new();
    app.set_library_place(LibraryPlace::Computer, None, &stop, &mut |p| {
        steps.push(p.clone())
    })
    .unwrap();
    assert!(steps
        .iter()
        .all(|p| p.step == fathom_core::MoveStep::ReadingBack));
    assert_eq!(app.settings().library_place, LibraryPlace::Computer);
    assert_eq!(app.index_counts().unwrap(), (5, 5));
    let r = app.index_folder(&folder.id, &stop, &mut |_| {}).unwrap();
    assert_eq!((r.indexed, r.unchanged), (0, 5));
    server.kill();
    assert!(search_top(&app, "gulls ferry")[0]
        .path
        .ends_with("gulls.txt"));
    // The ledger went with the move.
    assert!(fs::read_dir(dirs.data().join("library-servers"))
        .map(|d| d.count() == 0)
        .unwrap_or(true));
}
