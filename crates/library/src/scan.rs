use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How much of a folder a walk has seen so far (or in total, at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScanProgress {
    pub files: u64,
    pub bytes: u64,
    /// Entries that could not be read (permissions, vanished files, symlink loops).
    pub unreadable: u64,
    pub done: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScanError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0} is not a readable folder")]
    NotAFolder(String),
}

/// Walks `root` the way the indexer will: `.gitignore`/`.ignore` honoured, hidden files skipped,
/// symlinks not followed. `on_progress` hears from it once at the start (so a UI can show that work
/// began), then at most every `interval`, and once at the end with `done` set; `cancelled` is polled
/// between entries so a cancel takes effect at once.
pub fn scan(
    root: &Path,
    interval: Duration,
    cancelled: &dyn Fn() -> bool,
    on_progress: &mut dyn FnMut(ScanProgress),
) -> Result<ScanProgress, ScanError> {
    if !root.is_dir() {
        return Err(ScanError::NotAFolder(root.display().to_string()));
    }
    let mut progress = ScanProgress::default();
    on_progress(progress);
    let mut last = Instant::now();
    // `ignore` does the .gitignore semantics; not worth writing again.
    let walk = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .require_git(false)
        .follow_links(false)
        .build();
    for entry in walk {
        if cancelled() {
            return Err(ScanError::Cancelled);
        }
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => match entry.metadata() {
                Ok(meta) => {
                    progress.files += 1;
                    progress.bytes += meta.len();
                }
                Err(_) => progress.unreadable += 1,
            },
            Ok(_) => {}
            Err(_) => progress.unreadable += 1,
        }
        if last.elapsed() >= interval {
            last = Instant::now();
            on_progress(progress);
        }
    }
    progress.done = true;
    on_progress(progress);
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("docs/deep")).unwrap();
        fs::write(r.join("a.txt"), "12345").unwrap();
        fs::write(r.join("docs/b.md"), "123").unwrap();
        fs::write(r.join("docs/deep/c.md"), "1").unwrap();
        fs::write(r.join(".hidden"), "1234567890").unwrap();
        fs::write(r.join(".gitignore"), "ignored/\n").unwrap();
        fs::create_dir_all(r.join("ignored")).unwrap();
        fs::write(r.join("ignored/x.txt"), "1234567890").unwrap();
        std::os::unix::fs::symlink(r, r.join("docs/loop")).unwrap();
        tmp
    }

    #[test]
    fn counts_files_and_bytes_honouring_ignores() {
        let tmp = tree();
        let mut events = Vec::new();
        let total = scan(tmp.path(), Duration::ZERO, &|| false, &mut |p| {
            events.push(p)
        })
        .unwrap();
        assert_eq!((total.files, total.bytes), (3, 9));
        assert!(total.done);
        assert_eq!(events.last(), Some(&total));
        // Progress only grows.
        assert!(events.windows(2).all(|w| w[0].files <= w[1].files));
        assert_eq!(events[0], ScanProgress::default());
        assert!(events.len() > 1);
    }

    #[test]
    fn cancel_stops_the_walk() {
        let tmp = tree();
        let polls = Cell::new(0);
        let cancelled = || {
            polls.set(polls.get() + 1);
            polls.get() > 2
        };
        let err = scan(tmp.path(), Duration::ZERO, &cancelled, &mut |_| {}).unwrap_err();
        assert_eq!(err, ScanError::Cancelled);
        assert_eq!(polls.get(), 3);
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let tmp = tree();
        let err = scan(
            &tmp.path().join("a.txt"),
            Duration::ZERO,
            &|| false,
            &mut |_| {},
        );
        assert!(matches!(err, Err(ScanError::NotAFolder(_))));
    }
}
