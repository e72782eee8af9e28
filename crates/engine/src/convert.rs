//! `fathom convert`: any supported layout in, an MLX MXFP4 checkpoint out, quantized the way
//! `mlx_lm.convert --q-mode mxfp4` quantizes gpt-oss (every linear and embedding layer in mxfp4,
//! the router at 8-bit affine in groups of 64), so that it loads directly next time.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use mlx_rs::Array;

use crate::checkpoint::Checkpoint;
use crate::quant::{quantize, QuantSpec};
use crate::EngineError;

/// mlx-lm's shard size.
const SHARD_BYTES: usize = 5 << 30;

/// The quantization of a module, by its path, as mlx-lm's gpt-oss `quant_predicate` decides it.
fn spec_for(module: &str) -> Option<QuantSpec> {
    let quantizable = module == "model.embed_tokens"
        || module == "lm_head"
        || [
            ".self_attn.q_proj",
            ".self_attn.k_proj",
            ".self_attn.v_proj",
            ".self_attn.o_proj",
            ".mlp.router",
        ]
        .iter()
        .chain(&[
            ".mlp.experts.gate_proj",
            ".mlp.experts.up_proj",
            ".mlp.experts.down_proj",
        ])
        .any(|s| module.ends_with(s));
    if !quantizable {
        return None;
    }
    if module.ends_with(".mlp.router") {
        return Some(QuantSpec::affine(64, 8).expect("valid"));
    }
    Some(QuantSpec::MXFP4)
}

pub struct ConvertReport {
    pub tensors: usize,
    pub quantized_modules: usize,
    pub bytes: usize,
}

/// Converts the checkpoint at `src` into an MLX MXFP4 checkpoint at `dst`, which must not exist.
/// The result is written beside `dst` and moved into place only when complete.
pub fn convert(src: &Path, dst: &Path) -> Result<ConvertReport, EngineError> {
    let io = |file: &Path, e: std::io::Error| EngineError::Checkpoint {
        file: file.to_path_buf(),
        message: e.to_string(),
    };
    if dst.exists() {
        return Err(EngineError::Checkpoint {
            file: dst.to_path_buf(),
            message: "already exists; choose a new directory".into(),
        });
    }
    let mut ck = Checkpoint::open(src)?;
    if ck.config.quantization.is_some() {
        return Err(EngineError::Checkpoint {
            file: src.join("config.json"),
            message: "is already an MLX quantized checkpoint".into(),
        });
    }
    let mut config: serde_json::Value = serde_json::from_slice(
        &fs::read(src.join("config.json")).map_err(|e| io(&src.join("config.json"), e))?,
    )
    .map_err(|e| EngineError::Input(e.to_string()))?;

    let mut out: Vec<(String, Array)> = Vec::new();
    let mut overrides = serde_json::Map::new();
    let mut quantized_modules = 0;
    let tensors = ck.drain();
    // Modules the checkpoint already holds quantized (OpenAI's MXFP4 experts) pass through as is.
    let already: std::collections::HashSet<String> = tensors
        .iter()
        .filter_map(|(n, _)| n.strip_suffix(".scales").map(str::to_string))
        .collect();
    for (name, array) in tensors {
        let module = name
            .strip_suffix(".weight")
            .filter(|m| !already.contains(*m));
        match module.and_then(|m| spec_for(m).map(|s| (m, s))) {
            // mlx-lm leaves a layer whose width is not a multiple of the group unquantized.
            Some((module, spec))
                if array
                    .shape()
                    .last()
                    .is_some_and(|w| w % spec.group_size == 0) =>
            {
                let q = quantize(&array, spec)?;
                out.push((format!("{module}.weight"), q.weight));
                out.push((format!("{module}.scales"), q.scales));
                if let Some(b) = q.biases {
                    out.push((format!("{module}.biases"), b));
                }
                if spec != QuantSpec::MXFP4 {
                    overrides.insert(
                        module.to_string(),
                        serde_json::json!({"group_size": spec.group_size, "bits": spec.bits}),
                    );
                }
                quantized_modules += 1;
            }
            _ => out.push((name, array)),
        }
    }

    let mut quantization = serde_json::json!({"group_size": 32, "bits": 4, "mode": "mxfp4"});
    quantization
        .as_object_mut()
        .expect("object")
        .extend(overrides);
    config["quantization"] = quantization.clone();
    config["quantization_config"] = quantization;

    // Beside the destination, under a name of its own: never someone else's directory.
    let mut staging_name = dst.file_name().unwrap_or_default().to_os_string();
    staging_name.push(".partial");
    let staging = dst.with_file_name(staging_name);
    if staging.exists() {
        return Err(EngineError::Checkpoint {
            file: staging,
            message: "exists (an interrupted conversion?); remove it and try again".into(),
        });
    }
    fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    let result = write_checkpoint(src, &staging, &config, out).and_then(|report| {
        fs::rename(&staging, dst).map_err(|e| io(dst, e))?;
        Ok(ConvertReport {
            quantized_modules,
            ..report
        })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn write_checkpoint(
    src: &Path,
    dir: &Path,
    config: &serde_json::Value,
    tensors: Vec<(String, Array)>,
) -> Result<ConvertReport, EngineError> {
    let io = |file: &Path, e: std::io::Error| EngineError::Checkpoint {
        file: file.to_path_buf(),
        message: e.to_string(),
    };
    let tensor_count = tensors.len();
    let mut shards: Vec<Vec<(String, Array)>> = vec![Vec::new()];
    let mut size = 0;
    let mut total = 0;
    for (name, array) in tensors {
        let bytes = array.nbytes();
        if size + bytes > SHARD_BYTES && !shards.last().expect("one").is_empty() {
            shards.push(Vec::new());
            size = 0;
        }
        size += bytes;
        total += bytes;
        shards.last_mut().expect("one").push((name, array));
    }
    let n = shards.len();
    let metadata = HashMap::from([("format".to_string(), "mlx".to_string())]);
    let mut weight_map = serde_json::Map::new();
    for (i, shard) in shards.into_iter().enumerate() {
        let file = if n == 1 {
            "model.safetensors".to_string()
        } else {
            format!("model-{:05}-of-{n:05}.safetensors", i + 1)
        };
        for (name, _) in &shard {
            weight_map.insert(name.clone(), file.clone().into());
        }
        Array::save_safetensors(shard, &metadata, dir.join(&file)).map_err(|e| {
            EngineError::Checkpoint {
                file: dir.join(&file),
                message: format!("cannot write: {e}"),
            }
        })?;
    }
    let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": weight_map});
    let write_json = |name: &str, value: &serde_json::Value| {
        let path = dir.join(name);
        fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).map_err(|e| io(&path, e))
    };
    write_json("model.safetensors.index.json", &index)?;
    write_json("config.json", config)?;
    // Tokenizer and chat-template files travel with the weights.
    for entry in fs::read_dir(src).map_err(|e| io(src, e))? {
        let path = entry.map_err(|e| io(src, e))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_weights = name.ends_with(".safetensors") || name == "model.safetensors.index.json";
        if path.is_file() && !is_weights && name != "config.json" {
            fs::copy(&path, dir.join(&name)).map_err(|e| io(&path, e))?;
        }
    }
    Ok(ConvertReport {
        tensors: tensor_count,
        quantized_modules: 0,
        bytes: total,
    })
}
