//! Keeping the index current by itself: file-system events under the library's folders (FSEvents
//! on macOS, inotify on Linux), debounced, name the folders whose index needs a refresh. The
//! refresh itself is the incremental `index_folder` (unchanged files are skipped by size and
//! modification time), which handles additions, changes, deletions and renames alike.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::IndexError;

type Folders = Arc<Mutex<Vec<(String, PathBuf)>>>;

pub struct Watcher {
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    folders: Folders,
}

fn watch_error(e: impl std::fmt::Display) -> IndexError {
    IndexError::Query(format!("cannot watch the library: {e}"))
}

impl Watcher {
    /// Calls `on_change` with the ids of folders that changed, at most once per `quiet` period.
    pub fn start(
        quiet: Duration,
        on_change: impl Fn(Vec<String>) + Send + 'static,
    ) -> Result<Self, IndexError> {
        let folders: Folders = Arc::default();
        let seen = folders.clone();
        let debouncer = new_debouncer(quiet, None, move |result: DebounceEventResult| {
            let Ok(events) = result else { return };
            let folders = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut changed: Vec<String> = Vec::new();
            for event in events {
                for path in &event.paths {
                    for (id, root) in &folders {
                        if path.starts_with(root) && !changed.contains(id) {
                            changed.push(id.clone());
                        }
                    }
                }
            }
            if !changed.is_empty() {
                on_change(changed);
            }
        })
        .map_err(watch_error)?;
        Ok(Watcher { debouncer, folders })
    }

    /// Watches exactly these folders (id, path): new ones are added, removed ones dropped.
    pub fn set_folders(&mut self, wanted: &[(String, PathBuf)]) -> Result<(), IndexError> {
        let mut current = self.folders.lock().unwrap_or_else(|p| p.into_inner());
        for (id, root) in current.iter() {
            if !wanted.iter().any(|(i, _)| i == id) {
                let _ = self.debouncer.unwatch(root);
            }
        }
        for (id, root) in wanted {
            if !current.iter().any(|(i, _)| i == id) {
                self.debouncer
                    .watch(root, RecursiveMode::Recursive)
                    .map_err(watch_error)?;
            }
        }
        *current = wanted.to_vec();
        Ok(())
    }
}

/// Runs folder refreshes one at a time on a worker thread, folding repeated requests for the
/// same folder into one: a burst of events costs one incremental pass, not one per file.
pub struct Refresher {
    tx: std::sync::mpsc::Sender<String>,
}

impl Refresher {
    pub fn start(run: impl Fn(&str) + Send + 'static) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("fathom-index-refresh".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut queue = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        if !queue.contains(&more) {
                            queue.push(more);
                        }
                    }
                    for id in queue {
                        run(&id);
                    }
                }
            })
            .expect("a thread can be started");
        Refresher { tx }
    }

    pub fn request(&self, folder: &str) {
        let _ = self.tx.send(folder.to_string());
    }
}
