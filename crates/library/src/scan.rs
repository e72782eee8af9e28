use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::walk::{walk, WalkRule, Walked};

/// How much of a folder a walk has seen so far (or in total, at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
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

/// Counts what the indexer will read under `root` (the same [`walk`] and [`WalkRule`]: ignore
/// files honoured, hidden entries only when the rule says so, symlinks not followed, only formats
/// Fathom reads). `on_progress` hears from it once at the start (so a UI can show that work
/// began), then at most every `interval`, and once at the end with `done` set; `stop` is checked
/// between entries so a stop takes effect at once.
pub fn scan(
    root: &Path,
    rule: WalkRule,
    interval: Duration,
    stop: &CancellationToken,
    on_progress: &mut dyn FnMut(ScanProgress),
) -> Result<ScanProgress, ScanError> {
    if !root.is_dir() {
        return Err(ScanError::NotAFolder(root.display().to_string()));
    }
    let mut progress = ScanProgress::default();
    on_progress(progress);
    let mut last = Instant::now();
    for entry in walk(root, rule) {
        if stop.is_cancelled() {
            return Err(ScanError::Cancelled);
        }
        match entry {
            Walked::File(f) => {
                progress.files += 1;
                progress.bytes += f.size;
            }
            Walked::Unreadable => progress.unreadable += 1,
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
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("docs/deep")).unwrap();
        fs::write(r.join("a.txt"), "12345").unwrap();
        fs::write(r.join("docs/b.md"), "123").unwrap();
        fs::write(r.join("docs/deep/c.md"), "1").unwrap();
        fs::write(r.join(".hidden.md"), "1234567890").unwrap();
        // Not a format Fathom reads: the indexer skips it, so the counts do too.
        fs::write(r.join("photo.raw"), "1234567").unwrap();
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
        let total = scan(
            tmp.path(),
            WalkRule::default(),
            Duration::ZERO,
            &CancellationToken::new(),
            &mut |p| events.push(p),
        )
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
    fn hidden_files_count_when_the_rule_includes_them() {
        let tmp = tree();
        let rule = WalkRule { hidden: true };
        let total = scan(
            tmp.path(),
            rule,
            Duration::ZERO,
            &CancellationToken::new(),
            &mut |_| {},
        )
        .unwrap();
        // .hidden.md joins; .gitignore is hidden too but not a document format.
        assert_eq!((total.files, total.bytes), (4, 19));
    }

    #[test]
    fn a_stop_ends_the_walk_at_once() {
        let tmp = tree();
        let stop = CancellationToken::new();
        let mut last = ScanProgress::default();
        // Stopped once two files are counted: the walk ends before the third.
        let err = scan(
            tmp.path(),
            WalkRule::default(),
            Duration::ZERO,
            &stop,
            &mut |p| {
                last = p;
                if p.files == 2 {
                    stop.cancel();
                }
            },
        )
        .unwrap_err();
        assert_eq!(err, ScanError::Cancelled);
        assert_eq!(last.files, 2);
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let tmp = tree();
        let err = scan(
            &tmp.path().join("a.txt"),
            WalkRule::default(),
            Duration::ZERO,
            &CancellationToken::new(),
            &mut |_| {},
        );
        assert!(matches!(err, Err(ScanError::NotAFolder(_))));
    }
}
