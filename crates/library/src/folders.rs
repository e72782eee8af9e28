use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use fathom_store::{JsonDoc, StoreError};
use serde::{Deserialize, Serialize};

/// A folder in the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    /// Stable for the folder's life in the library.
    pub id: String,
    /// Canonical absolute path.
    pub path: String,
    /// Seconds since the Unix epoch.
    pub added_at: u64,
}

/// Why a dropped path was not added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RejectionReason {
    /// A file, not a folder.
    NotAFolder,
    NotFound,
    /// Exactly this folder is already in the library.
    AlreadyInLibrary,
    /// A folder already in the library contains it.
    InsideLibraryFolder {
        folder: String,
    },
    /// The folder exists but cannot be listed.
    Unreadable {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// The path as it was given.
    pub path: String,
    pub reason: RejectionReason,
}

/// The outcome of adding several paths at once: each path is either added or rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AddReport {
    pub added: Vec<Folder>,
    pub rejected: Vec<Rejection>,
    /// Folders already in the library that a newly added parent now covers; they were removed.
    pub absorbed: Vec<Folder>,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no folder with id {0} in the library")]
    UnknownFolder(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LibraryDoc {
    folders: Vec<Folder>,
}

/// The folder list, persisted after every change.
#[derive(Debug)]
pub struct Library {
    doc: JsonDoc<LibraryDoc>,
    folders: Vec<Folder>,
    quarantined: Option<PathBuf>,
}

impl Library {
    /// Opens the library stored at `path` (created on first save). A corrupt file is set aside and
    /// reported by [`Library::quarantined`] rather than failing the app.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let doc = JsonDoc::new(path);
        let loaded = doc.load()?;
        Ok(Self {
            doc,
            folders: loaded.value.folders,
            quarantined: loaded.quarantined,
        })
    }

    pub fn folders(&self) -> &[Folder] {
        &self.folders
    }

    /// The folder with this id, as a path.
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        self.folders
            .iter()
            .find(|f| f.id == id)
            .map(|f| PathBuf::from(&f.path))
    }

    /// Whether `path` lies inside a library folder (what the app may read or open).
    pub fn covers(&self, path: &Path) -> bool {
        self.folders.iter().any(|f| path.starts_with(&f.path))
    }

    /// Where an unreadable library file was moved when it was opened, if it was.
    pub fn quarantined(&self) -> Option<&Path> {
        self.quarantined.as_deref()
    }

    /// Adds folders, rejecting files, missing or unreadable paths and folders already covered.
    /// The list is saved once, after all paths are judged; if saving fails nothing changes.
    pub fn add<P: AsRef<Path>>(&mut self, paths: &[P]) -> Result<AddReport, LibraryError> {
        let mut next = self.folders.clone();
        let mut report = AddReport::default();
        for given in paths {
            let given = given.as_ref();
            match admit(given, &next) {
                Ok(path) => {
                    let inside = |f: &Folder| Path::new(&f.path).starts_with(&path);
                    let (absorbed, kept): (Vec<_>, Vec<_>) = next.into_iter().partition(inside);
                    next = kept;
                    // A folder absorbed now but added in this same call is still reported as added.
                    report.added.retain(|f| !absorbed.contains(f));
                    report
                        .absorbed
                        .extend(absorbed.into_iter().filter(|f| self.folders.contains(f)));
                    let folder = Folder {
                        id: uuid::Uuid::new_v4().to_string(),
                        path: path.to_string_lossy().into_owned(),
                        added_at: now(),
                    };
                    next.push(folder.clone());
                    report.added.push(folder);
                }
                Err(reason) => report.rejected.push(Rejection {
                    path: given.to_string_lossy().into_owned(),
                    reason,
                }),
            }
        }
        if !report.added.is_empty() {
            self.doc.save(&LibraryDoc {
                folders: next.clone(),
            })?;
            self.folders = next;
        }
        Ok(report)
    }

    /// Removes a folder from the library.
    pub fn remove(&mut self, id: &str) -> Result<Folder, LibraryError> {
        let index = self
            .folders
            .iter()
            .position(|f| f.id == id)
            .ok_or_else(|| LibraryError::UnknownFolder(id.to_string()))?;
        let mut next = self.folders.clone();
        let removed = next.remove(index);
        self.doc.save(&LibraryDoc {
            folders: next.clone(),
        })?;
        self.folders = next;
        Ok(removed)
    }
}

/// Decides whether `given` may join `current`, returning its canonical path.
fn admit(given: &Path, current: &[Folder]) -> Result<PathBuf, RejectionReason> {
    let path = fs::canonicalize(given).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => RejectionReason::NotFound,
        _ => RejectionReason::Unreadable {
            message: e.to_string(),
        },
    })?;
    let meta = fs::metadata(&path).map_err(|e| RejectionReason::Unreadable {
        message: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(RejectionReason::NotAFolder);
    }
    // Listing proves readability; one entry is enough.
    fs::read_dir(&path)
        .and_then(|mut entries| entries.next().transpose())
        .map_err(|e| RejectionReason::Unreadable {
            message: e.to_string(),
        })?;
    for folder in current {
        let existing = Path::new(&folder.path);
        if existing == path {
            return Err(RejectionReason::AlreadyInLibrary);
        }
        if path.starts_with(existing) {
            return Err(RejectionReason::InsideLibraryFolder {
                folder: folder.path.clone(),
            });
        }
    }
    Ok(path)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(dir: &Path) -> Library {
        Library::open(dir.join("state/library.json")).unwrap()
    }

    #[test]
    fn adds_folders_and_persists_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        let mut lib = library(tmp.path());
        let report = lib.add(&[&a, &b]).unwrap();
        assert_eq!(report.added.len(), 2);
        assert!(report.rejected.is_empty());
        let reopened = library(tmp.path());
        assert_eq!(reopened.folders(), lib.folders());
        let id = &lib.folders()[0].id;
        let canonical = fs::canonicalize(&a).unwrap();
        assert_eq!(lib.path_of(id), Some(canonical.clone()));
        assert_eq!(lib.path_of("nope"), None);
        assert!(lib.covers(&canonical.join("x/y.txt")));
        assert!(!lib.covers(&tmp.path().join("elsewhere.txt")));
        assert_eq!(
            reopened.folders()[0].path,
            fs::canonicalize(&a).unwrap().to_string_lossy()
        );
    }

    #[test]
    fn rejects_files_missing_paths_and_duplicates_with_reasons() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        fs::create_dir_all(a.join("sub")).unwrap();
        let file = tmp.path().join("notes.txt");
        fs::write(&file, "x").unwrap();
        let mut lib = library(tmp.path());
        lib.add(&[&a]).unwrap();

        // The same folder through a symlink is still a duplicate.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let report = lib
            .add(&[
                file.clone(),
                tmp.path().join("missing"),
                a.clone(),
                link,
                a.join("sub"),
            ])
            .unwrap();
        assert!(report.added.is_empty());
        let reasons: Vec<_> = report.rejected.iter().map(|r| r.reason.clone()).collect();
        let canonical_a = fs::canonicalize(&a).unwrap().to_string_lossy().into_owned();
        assert_eq!(
            reasons,
            vec![
                RejectionReason::NotAFolder,
                RejectionReason::NotFound,
                RejectionReason::AlreadyInLibrary,
                RejectionReason::AlreadyInLibrary,
                RejectionReason::InsideLibraryFolder {
                    folder: canonical_a
                },
            ]
        );
        assert_eq!(report.rejected[0].path, file.to_string_lossy());
        assert_eq!(lib.folders().len(), 1);
    }

    #[test]
    fn dangling_symlink_is_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("dangling");
        std::os::unix::fs::symlink(tmp.path().join("gone"), &link).unwrap();
        let report = library(tmp.path()).add(&[link]).unwrap();
        assert_eq!(report.rejected[0].reason, RejectionReason::NotFound);
    }

    #[test]
    fn a_parent_absorbs_folders_inside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("p");
        let child = parent.join("c");
        fs::create_dir_all(&child).unwrap();
        let mut lib = library(tmp.path());
        let first = lib.add(&[&child]).unwrap().added;
        let report = lib.add(&[&parent]).unwrap();
        assert_eq!(report.absorbed, first);
        assert_eq!(lib.folders().len(), 1);
        assert_eq!(
            lib.folders()[0].path,
            fs::canonicalize(&parent).unwrap().to_string_lossy()
        );
    }

    #[test]
    fn remove_forgets_a_folder_and_unknown_ids_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        fs::create_dir_all(&a).unwrap();
        let mut lib = library(tmp.path());
        let id = lib.add(&[&a]).unwrap().added[0].id.clone();
        lib.remove(&id).unwrap();
        assert!(library(tmp.path()).folders().is_empty());
        assert!(matches!(
            lib.remove(&id),
            Err(LibraryError::UnknownFolder(_))
        ));
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        fs::create_dir_all(&a).unwrap();
        let mut lib = library(tmp.path());
        // The library file's directory turns into a regular file: saving must fail.
        fs::write(tmp.path().join("state"), "").unwrap();
        assert!(lib.add(&[&a]).is_err());
        assert!(lib.folders().is_empty());
    }

    #[test]
    fn corrupt_library_file_is_set_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("library.json");
        fs::write(&path, "not json").unwrap();
        let lib = Library::open(&path).unwrap();
        assert!(lib.folders().is_empty());
        assert!(lib.quarantined().unwrap().exists());
    }
}
