//! Which files belong to a library folder: the one rule that both the Library page's counts
//! ([`crate::scan`]) and the indexer follow, so that they always agree.

use std::path::{Path, PathBuf};

use fathom_extract::Format;

/// The choices a person makes about what a folder contributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkRule {
    /// Include hidden files and folders (names starting with a dot).
    pub hidden: bool,
}

/// A document file the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when the system has none).
    pub mtime_ns: i64,
}

/// One step of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walked {
    /// A file in a format Fathom reads.
    File(FileEntry),
    /// An entry that could not be read (permissions, a file that vanished, a symlink loop).
    Unreadable,
}

/// Walks `root`: `.gitignore`, `.ignore` and `.git/info/exclude` honoured (the user's global
/// gitignore is not: it describes their repositories, not their library), hidden entries skipped
/// unless the rule includes them, symlinks not followed, and only files in a format Fathom can
/// read. Directories and skipped files yield nothing.
pub fn walk(root: &Path, rule: WalkRule) -> impl Iterator<Item = Walked> {
    // `ignore` does the .gitignore semantics; not worth writing again.
    ignore::WalkBuilder::new(root)
        .hidden(!rule.hidden)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .ignore(true)
        .require_git(false)
        .follow_links(false)
        .build()
        .filter_map(|entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(_) => return Some(Walked::Unreadable),
            };
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_file()) || Format::of(path).is_none() {
                return None;
            }
            let Ok(meta) = entry.metadata() else {
                return Some(Walked::Unreadable);
            };
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            Some(Walked::File(FileEntry {
                path: path.to_path_buf(),
                size: meta.len(),
                mtime_ns,
            }))
        })
}
