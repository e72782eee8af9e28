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
        let files = weight_files(&dir)?;
        let mut tensors = HashMap::new();
        for file in files {
            check_safetensors(&file)?;
            let arrays = Array::load_safetensors(&file).map_err(|e| EngineError::Checkpoint {
                file: file.clone(),
                message: format!("cannot load: {e}"),
            })?;
            // Read the weights now, as mlx-lm does: loading takes the time, not the first token
            // (what the model derives from them is evaluated as each module is built).
            mlx_rs::transforms::eval(arrays.values()).map_err(|e| EngineError::Checkpoint {
                file: file.clone(),
                message: format!("cannot read: {e}"),
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
        let mut checkpoint = Checkpoint {
            dir,
            config,
            tensors,
        };
        checkpoint.sanitize()?;
        Ok(checkpoint)
    }

    /// Brings the other published layouts to MLX's: OpenAI's MXFP4 `_blocks`/`_scales` experts
    /// (as mlx-lm's own `sanitize` does) and chromadb/context-1's dense experts, stored
    /// `[experts, in, out]` with gate and up interleaved on the last axis (which mlx-lm cannot read).
    fn sanitize(&mut self) -> Result<(), EngineError> {
        let names: Vec<String> = self.tensors.keys().cloned().collect();
        for name in names {
            let Some(prefix) = name
                .strip_suffix(".experts.gate_up_proj_blocks")
                .map(str::to_string)
                .or_else(|| {
                    name.strip_suffix(".experts.gate_up_proj")
                        .map(str::to_string)
                })
            else {
                continue;
            };
            let e = format!("{prefix}.experts");
            if name.ends_with("_blocks") {
                let packed = |ck: &mut Self, key: &str| -> Result<Array, EngineError> {
                    let blocks = ck.take(key, None)?;
                    let s = blocks.shape().to_vec();
                    if blocks.dtype() != Dtype::Uint8 || s.len() != 4 || s[3] != 16 {
                        return Err(ck.bad(
                            key,
                            format!(
                                "MXFP4 blocks must be uint8 [E, out, in/32, 16], not {:?} {s:?}",
                                blocks.dtype()
                            ),
                        ));
                    }
                    Ok(blocks
                        .view_dtype(Dtype::Uint32)?
                        .reshape(&[s[0], s[1], s[2] * 4])?)
                };
                let gate_up = packed(self, &format!("{e}.gate_up_proj_blocks"))?;
                let (gate, up) = deinterleave(&gate_up, -2)?;
                self.put(&format!("{e}.gate_proj.weight"), gate, &name);
                self.put(&format!("{e}.up_proj.weight"), up, &name);
                let scales = self.take(&format!("{e}.gate_up_proj_scales"), None)?;
                let (gate, up) = deinterleave(&scales, -2)?;
                self.put(&format!("{e}.gate_proj.scales"), gate, &name);
                self.put(&format!("{e}.up_proj.scales"), up, &name);
                let down = packed(self, &format!("{e}.down_proj_blocks"))?;
                self.put(&format!("{e}.down_proj.weight"), down, &name);
                let down_scales = self.take(&format!("{e}.down_proj_scales"), None)?;
                self.put(&format!("{e}.down_proj.scales"), down_scales, &name);
            } else {
                let gate_up = self.take(&name, None)?;
                if gate_up.ndim() != 3 {
                    return Err(self.bad(
                        &name,
                        format!("expected [experts, in, 2·out], not {:?}", gate_up.shape()),
                    ));
                }
                let (gate, up) = deinterleave(&gate_up, -1)?;
                self.put(
                    &format!("{e}.gate_proj.weight"),
                    gate.swap_axes(-1, -2)?,
                    &name,
                );
                self.put(&format!("{e}.up_proj.weight"), up.swap_axes(-1, -2)?, &name);
                let down = self.take(&format!("{e}.down_proj"), None)?;
                self.put(
                    &format!("{e}.down_proj.weight"),
                    down.swap_axes(-1, -2)?,
                    &name,
                );
            }
            let bias = self.take(&format!("{e}.gate_up_proj_bias"), None)?;
            let (gate, up) = deinterleave(&bias, -1)?;
            self.put(&format!("{e}.gate_proj.bias"), gate, &name);
            self.put(&format!("{e}.up_proj.bias"), up, &name);
            let down_bias = self.take(&format!("{e}.down_proj_bias"), None)?;
            self.put(&format!("{e}.down_proj.bias"), down_bias, &name);
        }
        Ok(())
    }

    fn put(&mut self, name: &str, array: Array, from: &str) {
        let file = self.file_of(from);
        self.tensors.insert(name.to_string(), Entry { array, file });
    }

    fn bad(&self, name: &str, message: String) -> EngineError {
        EngineError::Tensor {
            file: self.file_of(name),
            tensor: name.to_string(),
            message,
        }
    }

    /// Every tensor, sorted by name, leaving the checkpoint empty (for conversion).
    pub fn drain(&mut self) -> Vec<(String, Array)> {
        let mut all: Vec<_> = self.tensors.drain().map(|(k, e)| (k, e.array)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
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
            Dtype::Float32 => {
                array.eval()?;
                Ok(array)
            }
            Dtype::Float16 | Dtype::Bfloat16 => {
                // Evaluated now, so the 16-bit original is freed at once.
                let wide = array.as_dtype(Dtype::Float32)?;
                wide.eval()?;
                Ok(wide)
            }
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

/// The checkpoint's weight files: those its index names (each must exist), else every
/// `model*.safetensors`.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let err = |message: String| EngineError::Checkpoint {
            file: index.clone(),
            message,
        };
        let text = std::fs::read_to_string(&index).map_err(|e| err(format!("cannot read: {e}")))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let map = json["weight_map"]
            .as_object()
            .ok_or_else(|| err("has no weight_map".into()))?;
        let mut files: Vec<PathBuf> = map
            .values()
            .filter_map(|v| v.as_str())
            .map(|f| dir.join(f))
            .collect();
        files.sort();
        files.dedup();
        if let Some(missing) = files.iter().find(|f| !f.exists()) {
            return Err(err(format!(
                "names {}, which is missing",
                missing.display()
            )));
        }
        return Ok(files);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| EngineError::Checkpoint {
            file: dir.to_path_buf(),
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
            file: dir.to_path_buf(),
            message: "no model*.safetensors files".into(),
        });
    }
    Ok(files)
}

/// Splits an axis whose entries alternate between two tensors (even, odd).
fn deinterleave(a: &Array, axis: i32) -> Result<(Array, Array), EngineError> {
    let ndim = a.ndim() as i32;
    let axis = if axis < 0 { ndim + axis } else { axis };
    let mut shape = a.shape().to_vec();
    let n = shape[axis as usize];
    if n % 2 != 0 {
        return Err(EngineError::Input(format!(
            "cannot split an odd axis of {n} in two"
        )));
    }
    shape[axis as usize] = n / 2;
    shape.insert(axis as usize + 1, 2);
    let pairs = a.reshape(&shape)?;
    let pick = |i: i32| pairs.take_axis(Array::from_int(i), axis + 1);
    Ok((pick(0)?, pick(1)?))
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
