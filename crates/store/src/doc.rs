use std::fs;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{de::DeserializeOwned, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no home directory: cannot decide where to keep Fathom's data (set FATHOM_DATA_DIR)")]
    NoHomeDirectory,
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot encode {path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// What [`JsonDoc::load`] found.
#[derive(Debug)]
pub struct Loaded<T> {
    pub value: T,
    /// Set when the file existed but could not be parsed: it was moved aside to this path (so the
    /// user loses nothing) and `value` is the default.
    pub quarantined: Option<PathBuf>,
}

/// A small JSON document on disk, replaced atomically on every save.
#[derive(Debug, Clone)]
pub struct JsonDoc<T> {
    path: PathBuf,
    _value: PhantomData<fn() -> T>,
}

/// A document written by an older (or newer) Fathom: the fields it lacks take their defaults,
/// fields Fathom no longer knows are ignored by serde. Done here rather than with
/// `#[serde(default)]` on the types, so that the types say what Fathom always writes.
fn with_defaults<T: Serialize + Default>(value: serde_json::Value) -> serde_json::Value {
    match (value, serde_json::to_value(T::default())) {
        (serde_json::Value::Object(mut found), Ok(serde_json::Value::Object(defaults))) => {
            for (key, default) in defaults {
                found.entry(key).or_insert(default);
            }
            serde_json::Value::Object(found)
        }
        (value, _) => value,
    }
}

impl<T: Serialize + DeserializeOwned + Default> JsonDoc<T> {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            _value: PhantomData,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the document; a missing file is the default value, a corrupt one is set aside.
    pub fn load(&self) -> Result<Loaded<T>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    value: T::default(),
                    quarantined: None,
                })
            }
            Err(source) => {
                return Err(StoreError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        match serde_json::from_slice::<serde_json::Value>(&bytes)
            .and_then(|v| serde_json::from_value(with_defaults::<T>(v)))
        {
            Ok(value) => Ok(Loaded {
                value,
                quarantined: None,
            }),
            Err(_) => {
                let stamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let aside = self.path.with_extension(format!("corrupt-{stamp}.json"));
                fs::rename(&self.path, &aside).map_err(|source| StoreError::Write {
                    path: aside.clone(),
                    source,
                })?;
                Ok(Loaded {
                    value: T::default(),
                    quarantined: Some(aside),
                })
            }
        }
    }

    /// Writes the document to a temporary file beside it, syncs it, then renames it into place:
    /// readers see the old or the new document, never a torn one.
    pub fn save(&self, value: &T) -> Result<(), StoreError> {
        let write_err = |source| StoreError::Write {
            path: self.path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Encode {
            path: self.path.clone(),
            source,
        })?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(write_err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        tmp.write_all(&json).map_err(write_err)?;
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(&self.path).map_err(|e| write_err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Doc {
        items: Vec<String>,
    }

    #[test]
    fn missing_file_is_default() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = JsonDoc::<Doc>::new(dir.path().join("a.json"))
            .load()
            .unwrap();
        assert_eq!(loaded.value, Doc::default());
        assert!(loaded.quarantined.is_none());
    }

    #[test]
    fn save_then_load_round_trips_and_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let doc = JsonDoc::<Doc>::new(dir.path().join("deep/er/a.json"));
        let value = Doc {
            items: vec!["x".into(), "ü".into()],
        };
        doc.save(&value).unwrap();
        assert_eq!(doc.load().unwrap().value, value);
        // No temporary files are left beside it.
        let names: Vec<_> = fs::read_dir(dir.path().join("deep/er"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }

    #[test]
    fn corrupt_file_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        fs::write(&path, b"{\"items\": [\"x\",").unwrap();
        let loaded = JsonDoc::<Doc>::new(&path).load().unwrap();
        assert_eq!(loaded.value, Doc::default());
        let aside = loaded.quarantined.expect("quarantined");
        assert_eq!(fs::read(&aside).unwrap(), b"{\"items\": [\"x\",");
        assert!(!path.exists());
    }

    #[test]
    fn unwritable_location_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"").unwrap();
        let doc = JsonDoc::<Doc>::new(blocker.join("a.json"));
        let err = doc.save(&Doc::default()).unwrap_err().to_string();
        assert!(err.contains("a.json"), "{err}");
    }
}
