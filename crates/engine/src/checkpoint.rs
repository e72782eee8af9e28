//! A checkpoint on disk: `config.json` and its safetensors (one file or several), checked before
//! anything is computed so that a bad file is named rather than crashing the engine.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use mlx_rs::{Array, Dtype};

use crate::config::ModelConfig;
use crate::EngineError;

/// One tensor and the file it came from (for error messages).
struct Entry {
    array: Array,
    file: PathBuf,
}

pub struct Checkpoint {
    pub dir: PathBuf,
    pub config: ModelConfig,
    tensors: HashMap<String, Entry>,
}

impl Checkpoint {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, EngineError> {
        let dir = dir.as_ref().to_path_buf();
        let config = ModelConfig::read(&dir)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| EngineError::Checkpoint {
                file: dir.clone(),
                message: format!("cannot list: {e}"),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "safetensors")
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("model"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(EngineError::Checkpoint {
                file: dir,
                message: "no model*.safetensors files".into(),
            });
        }
        let mut tensors = HashMap::new();
        for file in files {
            check_safetensors(&file)?;
            let arrays = Array::load_safetensors(&file).map_err(|e| EngineError::Checkpoint {
                file: file.clone(),
                message: format!("cannot load: {e}"),
            })?;
            for (name, array) in arrays {
                if let Some(first) = tensors.insert(
                    name.clone(),
                    Entry {
                        array,
                        file: file.clone(),
                    },
                ) {
                    return Err(EngineError::Tensor {
                        file,
                        tensor: name,
                        message: format!("also stored in {}", first.file.display()),
                    });
                }
            }
        }
        Ok(Checkpoint {
            dir,
            config,
            tensors,
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Removes and returns a tensor, checking its shape (None skips the check).
    pub fn take(&mut self, name: &str, shape: Option<&[i32]>) -> Result<Array, EngineError> {
        let entry = self
            .tensors
            .remove(name)
            .ok_or_else(|| EngineError::Tensor {
                file: self.dir.clone(),
                tensor: name.to_string(),
                message: "missing from the checkpoint".into(),
            })?;
        if let Some(shape) = shape {
            if entry.array.shape() != shape {
                return Err(EngineError::Tensor {
                    file: entry.file,
                    tensor: name.to_string(),
                    message: format!("shape {:?}, expected {:?}", entry.array.shape(), shape),
                });
            }
        }
        Ok(entry.array)
    }

    /// A float tensor, upcast to float32: the CPU backend's fast paths (and MLX's CPU gather_mm)
    /// want float32 activations, and the engine computes in float32 on every platform.
    pub fn take_float(&mut self, name: &str, shape: &[i32]) -> Result<Array, EngineError> {
        let file = self.file_of(name);
        let array = self.take(name, Some(shape))?;
        match array.dtype() {
            Dtype::Float32 => Ok(array),
            Dtype::Float16 | Dtype::Bfloat16 => Ok(array.as_dtype(Dtype::Float32)?),
            other => Err(EngineError::Tensor {
                file,
                tensor: name.to_string(),
                message: format!("dtype {other:?}, expected a float type"),
            }),
        }
    }

    fn file_of(&self, name: &str) -> PathBuf {
        self.tensors
            .get(name)
            .map_or_else(|| self.dir.clone(), |e| e.file.clone())
    }

    /// Errors if any tensor was not used: a checkpoint with extra tensors is not the model the
    /// config describes.
    pub fn finish(self) -> Result<(), EngineError> {
        let mut left: Vec<_> = self.tensors.into_iter().collect();
        left.sort_by(|a, b| a.0.cmp(&b.0));
        match left.into_iter().next() {
            None => Ok(()),
            Some((name, entry)) => Err(EngineError::Tensor {
                file: entry.file,
                tensor: name,
                message: "not part of a gpt_oss model with this config".into(),
            }),
        }
    }
}

/// Reads a safetensors header and checks that every tensor lies inside the file: a truncated
/// download is caught here, with its name, instead of as garbage or an abort later.
fn check_safetensors(path: &Path) -> Result<(), EngineError> {
    let err = |message: String| EngineError::Checkpoint {
        file: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
    // SAFETY: the map is read-only and dropped before this function returns.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| err(format!("cannot map: {e}")))?;
    safetensors::SafeTensors::deserialize(&map)
        .map(|_| ())
        .map_err(|e| {
            err(format!(
                "not a valid safetensors file (truncated or corrupt?): {e}"
            ))
        })
}
