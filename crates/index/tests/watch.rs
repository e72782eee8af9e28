//! The index follows the folder by itself: files added, changed, renamed and deleted.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use fathom_index::indexer::{index_folder, IndexOptions};
use fathom_index::watch::Watcher;
use fathom_index::{Chunker, SearchIndex, SearchQuery};

fn names(index: &SearchIndex, q: &str) -> Vec<String> {
    let mut v: Vec<String> = index
        .search(&SearchQuery {
            text: q.into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|h| {
            Path::new(&h.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.dedup();
    v
}

#[test]
fn added_changed_renamed_and_deleted_files_reach_the_index_without_being_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lib").canonicalize().unwrap_or_else(|_| {
        std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
        tmp.path().join("lib").canonicalize().unwrap()
    });
    std::fs::write(root.join("first.md"), "an aardvark").unwrap();
    let index = SearchIndex::open(&tmp.path().join("index")).unwrap();
    let refresh = |index: &SearchIndex| {
        index_folder(
            index,
            "f",
            &root,
            &Chunker::new(256, 0),
            &IndexOptions::default(),
            &tokio_util::sync::CancellationToken::new(),
            &mut |_| {},
        )
        .unwrap()
    };
    refresh(&index);
    let (tx, rx) = mpsc::channel();
    let mut watcher = Watcher::start(Duration::from_millis(200), move |folders| {
        tx.send(folders).unwrap();
    })
    .unwrap();
    watcher.set_folders(&[("f".into(), root.clone())]).unwrap();

    // Waits for the watcher to name the folder, refreshes it as the app does, and drains repeats.
    let settle = |index: &SearchIndex| {
        let folders = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("no change was noticed");
        assert_eq!(folders, vec!["f".to_string()]);
        while rx.recv_timeout(Duration::from_millis(500)).is_ok() {}
        refresh(index);
    };

    std::fs::write(root.join("second.txt"), "a bonobo").unwrap();
    settle(&index);
    assert_eq!(names(&index, "bonobo"), vec!["second.txt"]);

    std::fs::write(root.join("first.md"), "a capybara").unwrap();
    settle(&index);
    assert_eq!(names(&index, "capybara"), vec!["first.md"]);
    assert!(names(&index, "aardvark").is_empty());

    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::rename(root.join("second.txt"), root.join("sub/renamed.txt")).unwrap();
    settle(&index);
    assert_eq!(names(&index, "bonobo"), vec!["renamed.txt"]);

    std::fs::remove_file(root.join("first.md")).unwrap();
    settle(&index);
    assert!(names(&index, "capybara").is_empty());

    // An unwatched folder is quiet. What was noticed before (a loaded machine may deliver the
    // removal's events late, after the drain above) is drained first.
    watcher.set_folders(&[]).unwrap();
    while rx.recv_timeout(Duration::from_secs(1)).is_ok() {}
    std::fs::write(root.join("third.txt"), "a dugong").unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(1)).is_err());
}
