//! `config.json` of a gpt-oss checkpoint, and the per-module quantization it declares.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::quant::{Mode, QuantSpec};
use crate::EngineError;

#[derive(Debug, Clone, Deserialize)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: String,
    pub factor: f64,
    #[serde(default = "default_beta_fast")]
    pub beta_fast: f64,
    #[serde(default = "default_beta_slow")]
    pub beta_slow: f64,
    #[serde(default = "default_original_max")]
    pub original_max_position_embeddings: f64,
    #[serde(default = "one")]
    pub mscale: f64,
    #[serde(default)]
    pub mscale_all_dim: f64,
}

fn default_beta_fast() -> f64 {
    32.0
}
fn default_beta_slow() -> f64 {
    1.0
}
fn default_original_max() -> f64 {
    4096.0
}
fn one() -> f64 {
    1.0
}

/// The model's shape, as gpt-oss configs spell it.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelConfig {
    pub model_type: String,
    pub num_hidden_layers: usize,
    pub num_local_experts: i32,
    pub num_experts_per_tok: i32,
    pub vocab_size: i32,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f32,
    pub hidden_size: i32,
    pub intermediate_size: i32,
    pub head_dim: i32,
    pub num_attention_heads: i32,
    pub num_key_value_heads: i32,
    pub sliding_window: i32,
    pub rope_theta: f64,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: u64,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    /// MLX quantization: defaults plus per-module overrides (`{…}`) or exclusions (`false`).
    #[serde(default)]
    pub quantization: Option<serde_json::Map<String, serde_json::Value>>,
    /// Hugging Face's spelling; OpenAI's checkpoints say `{"quant_method": "mxfp4"}` here.
    #[serde(default)]
    pub quantization_config: Option<serde_json::Map<String, serde_json::Value>>,
}

fn default_max_positions() -> u64 {
    131_072
}

fn default_eps() -> f32 {
    1e-5
}

/// What a module's entry in the quantization config says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleQuant {
    /// Not named: quantized with the defaults if the checkpoint holds its scales.
    Default(QuantSpec),
    /// Named with its own parameters.
    Override(QuantSpec),
    /// Named `false`: never quantized.
    Excluded,
}

#[derive(Debug, Clone)]
pub struct Quantization {
    pub defaults: QuantSpec,
    pub modules: BTreeMap<String, Option<QuantSpec>>,
}

impl Quantization {
    pub fn for_module(&self, path: &str) -> ModuleQuant {
        match self.modules.get(path) {
            Some(Some(spec)) => ModuleQuant::Override(*spec),
            Some(None) => ModuleQuant::Excluded,
            None => ModuleQuant::Default(self.defaults),
        }
    }
}

fn spec_from(
    obj: &serde_json::Map<String, serde_json::Value>,
    default_mode: Mode,
) -> Result<QuantSpec, String> {
    let int = |k: &str| obj.get(k).and_then(|v| v.as_i64()).map(|v| v as i32);
    let mode = match obj.get("mode").and_then(|v| v.as_str()) {
        Some(name) => {
            Mode::parse(name).ok_or_else(|| format!("unsupported quantization mode {name:?}"))?
        }
        None => default_mode,
    };
    let (group, bits) = match mode {
        Mode::Mxfp4 => (32, 4),
        Mode::Affine => (64, 4),
    };
    let spec = QuantSpec {
        mode,
        group_size: int("group_size").unwrap_or(group),
        bits: int("bits").unwrap_or(bits),
    };
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

impl ModelConfig {
    pub fn read(dir: &Path) -> Result<Self, EngineError> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| EngineError::Checkpoint {
            file: path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let config: ModelConfig =
            serde_json::from_str(&text).map_err(|e| EngineError::Checkpoint {
                file: path.clone(),
                message: format!("not a valid config: {e}"),
            })?;
        config.check().map_err(|message| EngineError::Checkpoint {
            file: path,
            message,
        })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.model_type != "gpt_oss" {
            return Err(format!(
                "model type {:?} is not supported (Fathom runs gpt_oss models)",
                self.model_type
            ));
        }
        let positive = [
            ("num_hidden_layers", self.num_hidden_layers as i64),
            ("num_local_experts", self.num_local_experts as i64),
            ("num_experts_per_tok", self.num_experts_per_tok as i64),
            ("vocab_size", self.vocab_size as i64),
            ("hidden_size", self.hidden_size as i64),
            ("intermediate_size", self.intermediate_size as i64),
            ("head_dim", self.head_dim as i64),
            ("num_attention_heads", self.num_attention_heads as i64),
            ("num_key_value_heads", self.num_key_value_heads as i64),
            ("sliding_window", self.sliding_window as i64),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v <= 0) {
            return Err(format!("{name} must be positive"));
        }
        if self.num_experts_per_tok > self.num_local_experts {
            return Err("num_experts_per_tok exceeds num_local_experts".into());
        }
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            return Err("num_attention_heads must be a multiple of num_key_value_heads".into());
        }
        let types = self.layer_types();
        if types.len() != self.num_hidden_layers {
            return Err(format!(
                "layer_types has {} entries for {} layers",
                types.len(),
                self.num_hidden_layers
            ));
        }
        if let Some(t) = types
            .iter()
            .find(|t| !matches!(t.as_str(), "sliding_attention" | "full_attention"))
        {
            return Err(format!("unknown layer type {t:?}"));
        }
        if let Some(s) = &self.rope_scaling {
            if s.rope_type != "yarn" {
                return Err(format!(
                    "rope scaling {:?} is not supported (yarn)",
                    s.rope_type
                ));
            }
        }
        self.quantization()?;
        Ok(())
    }

    /// Layer kinds in order; gpt-oss alternates sliding and full when the config does not say.
    pub fn layer_types(&self) -> Vec<String> {
        self.layer_types.clone().unwrap_or_else(|| {
            (0..self.num_hidden_layers)
                .map(|i| {
                    if i % 2 == 0 {
                        "sliding_attention"
                    } else {
                        "full_attention"
                    }
                    .into()
                })
                .collect()
        })
    }

    pub fn quantization(&self) -> Result<Option<Quantization>, String> {
        let legacy;
        let q = match (&self.quantization, &self.quantization_config) {
            (Some(q), _) => q,
            // As mlx-lm reads it: MXFP4 where the checkpoint has scales, nothing else.
            (None, Some(hf)) => match hf.get("quant_method").and_then(|m| m.as_str()) {
                Some("mxfp4") => {
                    legacy = serde_json::json!({"group_size": 32, "bits": 4, "mode": "mxfp4"});
                    legacy.as_object().expect("an object")
                }
                Some(m) if !hf.contains_key("group_size") => {
                    return Err(format!("quantization method {m:?} is not supported"))
                }
                _ => hf,
            },
            (None, None) => return Ok(None),
        };
        let defaults = spec_from(q, Mode::Affine)?;
        let mut modules = BTreeMap::new();
        for (key, value) in q {
            match value {
                serde_json::Value::Object(obj) => {
                    // An override without a mode is affine: that is what mlx's
                    // `to_quantized(**params)` does with it.
                    let spec = spec_from(obj, Mode::Affine).map_err(|e| format!("{key}: {e}"))?;
                    modules.insert(key.clone(), Some(spec));
                }
                serde_json::Value::Bool(false) => {
                    modules.insert(key.clone(), None);
                }
                _ => {}
            }
        }
        Ok(Some(Quantization { defaults, modules }))
    }
}
