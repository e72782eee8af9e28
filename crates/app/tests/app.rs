//! The core's own rules, where the app and the CLI used to differ: where models live without a
//! home directory, which files belong to a folder, and Ask runs read back typed.

use std::fs;
use std::path::Path;
use std::time::Duration;

use fathom_core::{model_cache, App, CancellationToken, OpenOptions};
use fathom_models::{HubCache, ModelsError};
use fathom_store::AppDirs;

fn open(root: &Path) -> App {
    App::open_with(
        AppDirs::under(root),
        OpenOptions {
            background_vectors: false,
        },
    )
    .unwrap()
}

#[test]
fn without_a_home_directory_models_live_in_fathoms_data_folder_for_every_face() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = AppDirs::under(tmp.path());
    let no_home = Err(ModelsError::Hub("cannot find the home directory".into()));
    assert_eq!(model_cache(&dirs, no_home).root, dirs.data().join("hub"));
    // With one, the Hugging Face cache the environment names.
    let elsewhere = tmp.path().join("hf");
    assert_eq!(
        model_cache(&dirs, Ok(HubCache::at(&elsewhere))).root,
        elsewhere
    );
}

/// A folder with what a person's folder has: documents, a hidden note, a format Fathom cannot
/// read, and a .gitignore'd build folder.
fn folder(root: &Path) -> std::path::PathBuf {
    let notes = root.join("Notes");
    fs::create_dir_all(notes.join("build")).unwrap();
    fs::create_dir_all(notes.join(".drafts")).unwrap();
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
    fs::write(notes.join(".secret.md"), "A hidden note about herons.\n").unwrap();
    fs::write(notes.join(".drafts/draft.md"), "A draft about seals.\n").unwrap();
    fs::write(notes.join("photo.heic"), [0u8; 64]).unwrap();
    fs::write(notes.join(".gitignore"), "build/\n").unwrap();
    fs::write(notes.join("build/out.txt"), "generated\n").unwrap();
    notes
}

#[test]
fn the_librarys_counts_and_the_index_follow_one_walk_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = folder(tmp.path());
    let app = open(&tmp.path().join("state"));
    let id = app.add_folders(&[&notes]).unwrap().added[0].id.clone();
    let stop = CancellationToken::new();
    for hidden in [false, true] {
        app.set_index_hidden(hidden).unwrap();
        let counted = app
            .scan_folder(&id, Duration::ZERO, &stop, &mut |_| {})
            .unwrap();
        app.index_folder(&id, &stop, &mut |_| {}).unwrap();
        let status = app.library_status().unwrap();
        let indexed = status[0].documents;
        assert_eq!(
            counted.files, indexed as u64,
            "hidden={hidden}: the Library page counts {} files, the index holds {indexed}",
            counted.files
        );
        assert_eq!(counted.files, if hidden { 4 } else { 2 }, "hidden={hidden}");
    }
}

#[test]
fn a_stopped_scan_or_index_ends_as_cancelled() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = folder(tmp.path());
    let app = open(&tmp.path().join("state"));
    let id = app.add_folders(&[&notes]).unwrap().added[0].id.clone();
    let stop = CancellationToken::new();
    stop.cancel();
    assert_eq!(
        app.scan_folder(&id, Duration::ZERO, &stop, &mut |_| {}),
        Err(fathom_core::Error::Cancelled)
    );
    assert_eq!(
        app.index_folder(&id, &stop, &mut |_| {}).map(|_| ()),
        Err(fathom_core::Error::Cancelled)
    );
}

#[test]
fn ask_runs_read_back_typed_and_a_run_in_an_old_shape_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let app = open(tmp.path());
    let old = app
        .conversation_store()
        .unwrap()
        .save_run(
            "Where is the memo?",
            &serde_json::json!({"run": {"turns": 3}}),
        )
        .unwrap();
    assert_eq!(app.runs().unwrap()[0].question, "Where is the memo?");
    match app.run(&old) {
        Err(fathom_core::Error::Chat(message)) => {
            assert!(message.contains("cannot be read"), "{message}")
        }
        other => panic!("expected a clear error, got {other:?}"),
    }
    app.delete_run(&old).unwrap();
    assert!(app.runs().unwrap().is_empty());
}

#[test]
fn a_failed_settings_save_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let app = open(tmp.path());
    let before = app.settings();
    // The settings file's folder made unwritable: a file where the folder should be.
    let config = app.dirs().config().to_path_buf();
    fs::remove_dir_all(&config).ok();
    fs::write(&config, "not a folder").unwrap();
    assert!(app.set_index_hidden(!before.index_hidden).is_err());
    assert_eq!(app.settings(), before);
}
