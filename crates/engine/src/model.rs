//! The gpt-oss forward pass, top to bottom, after mlx-lm's `models/gpt_oss.py`: embeddings,
//! then per layer attention with sinks (sliding-window or full, GQA, YaRN RoPE) and a top-k
//! mixture of experts with a clamped SwiGLU, then the final norm and the language-model head.
//! Every activation is float32 (the CPU backend's fast paths want it; Metal runs the same code).

use mlx_rs::fast::{rms_norm, rope, scaled_dot_product_attention, ScaledDotProductAttentionMask};
use mlx_rs::ops::indexing::{take_along_axis, IndexOp};
use mlx_rs::ops::{
    arange, argpartition_axis, argsort_axis, clip, gather_mm, minimum, sigmoid, softmax_axis,
};
use mlx_rs::{Array, Dtype};

use crate::cache::KvCache;
use crate::checkpoint::Checkpoint;
use crate::config::{ModelConfig, ModuleQuant};
use crate::quant::Quantized;
use crate::EngineError;

type Result<T> = std::result::Result<T, EngineError>;

// ---------------------------------------------------------------------------------------------
// Building blocks: linear layers, embeddings and expert stacks, each dense or quantized.

/// `y = x Wᵀ + b`, with W dense or quantized.
pub enum Linear {
    Dense {
        weight: Array,
        bias: Option<Array>,
    },
    Quantized {
        weight: Quantized,
        bias: Option<Array>,
    },
}

/// Loads the module at `path` (`[out, in]`, or `[experts, out, in]` when `experts` is set),
/// quantized when the config and the checkpoint say so, as mlx-lm decides it: an override or
/// `false` in the config wins, otherwise the presence of `{path}.scales`.
fn load_weight(
    ck: &mut Checkpoint,
    path: &str,
    experts: Option<i32>,
    out: i32,
    inp: i32,
) -> Result<std::result::Result<Array, Quantized>> {
    load_weight_with(ck, path, experts, out, inp, true)
}

/// [`load_weight`], with `upcast` off for conversion (a dense weight keeps its stored dtype).
pub(crate) fn load_weight_with(
    ck: &mut Checkpoint,
    path: &str,
    experts: Option<i32>,
    out: i32,
    inp: i32,
    upcast: bool,
) -> Result<std::result::Result<Array, Quantized>> {
    let lead: Vec<i32> = experts.into_iter().collect();
    let shape = |last: &[i32]| [lead.as_slice(), last].concat();
    let quant = ck.config.quantization().ok().flatten();
    let spec = match quant.map(|q| q.for_module(path)) {
        None | Some(ModuleQuant::Excluded) => None,
        Some(ModuleQuant::Override(spec)) => Some(spec),
        Some(ModuleQuant::Default(spec)) => ck.contains(&format!("{path}.scales")).then_some(spec),
    };
    let Some(spec) = spec else {
        let name = format!("{path}.weight");
        return Ok(Ok(if upcast {
            ck.take_float(&name, &shape(&[out, inp]))?
        } else {
            ck.take(&name, Some(&shape(&[out, inp])))?
        }));
    };
    let weight = ck.take(
        &format!("{path}.weight"),
        Some(&shape(&[out, spec.packed_columns(inp)])),
    )?;
    let groups = inp / spec.group_size;
    let scales = ck.take(&format!("{path}.scales"), Some(&shape(&[out, groups])))?;
    let biases = match spec.mode {
        crate::quant::Mode::Affine => {
            Some(ck.take(&format!("{path}.biases"), Some(&shape(&[out, groups])))?)
        }
        crate::quant::Mode::Mxfp4 => None,
    };
    // Layout conversions (OpenAI's blocks) happen now, not at the first token.
    mlx_rs::transforms::eval([&weight, &scales])?;
    let q = Quantized::new(weight, scales, biases, spec).map_err(|e| EngineError::Tensor {
        file: ck.dir.clone(),
        tensor: format!("{path}.weight"),
        message: e.to_string(),
    })?;
    Ok(Err(q))
}

impl Linear {
    fn load(ck: &mut Checkpoint, path: &str, inp: i32, out: i32, bias: bool) -> Result<Self> {
        let weight = load_weight(ck, path, None, out, inp)?;
        let bias = match bias {
            true => Some(ck.take_float(&format!("{path}.bias"), &[out])?),
            false => None,
        };
        Ok(match weight {
            Ok(weight) => Linear::Dense { weight, bias },
            Err(weight) => Linear::Quantized { weight, bias },
        })
    }

    fn forward(&self, x: &Array) -> Result<Array> {
        let (y, bias) = match self {
            Linear::Dense { weight, bias } => (x.matmul(weight.t())?, bias),
            Linear::Quantized { weight, bias } => (weight.matmul(x)?, bias),
        };
        Ok(match bias {
            Some(b) => y.add(b)?,
            None => y,
        })
    }
}

pub enum Embedding {
    Dense(Array),
    Quantized(Quantized),
}

impl Embedding {
    fn forward(&self, ids: &Array) -> Result<Array> {
        Ok(match self {
            Embedding::Dense(table) => table.take_axis(ids, 0)?,
            // Only the rows asked for are dequantized.
            Embedding::Quantized(q) => Quantized::new(
                q.weight.take_axis(ids, 0)?,
                q.scales.take_axis(ids, 0)?,
                q.biases.as_ref().map(|b| b.take_axis(ids, 0)).transpose()?,
                q.spec,
            )?
            .dequantize()?,
        })
    }
}

/// One linear map per expert, `[experts, out, in]`, applied to the experts each token chose.
pub struct SwitchLinear {
    weight: std::result::Result<Array, Quantized>,
    bias: Array,
}

impl SwitchLinear {
    fn load(ck: &mut Checkpoint, path: &str, experts: i32, inp: i32, out: i32) -> Result<Self> {
        Ok(SwitchLinear {
            weight: load_weight(ck, path, Some(experts), out, inp)?,
            bias: ck.take_float(&format!("{path}.bias"), &[experts, out])?,
        })
    }

    /// `x`: `[..., 1, 1, in]` (or `[..., k, 1, in]`), `indices`: `[..., k]` → `[..., k, 1, out]`.
    /// `sorted` promises ascending indices, which lets the kernels read each expert once.
    fn forward(&self, x: &Array, indices: &Array, sorted: bool) -> Result<Array> {
        let y = match &self.weight {
            Ok(w) => gather_mm(x, w.swap_axes(-1, -2)?, None, indices, sorted)?,
            Err(q) => q.gather_matmul(x, indices, sorted)?,
        };
        Ok(y.add(self.bias.take_axis(indices, 0)?.expand_dims(-2)?)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Attention: grouped-query attention with learned sinks, RoPE with YaRN scaling.

/// Rotary embeddings; with YaRN, precomputed frequencies and a magnitude scale.
struct Rope {
    dims: i32,
    base: Option<f32>,
    freqs: Option<Array>,
    mscale: f32,
}

impl Rope {
    fn new(config: &ModelConfig) -> Result<Self> {
        let dims = config.head_dim;
        let Some(s) = &config.rope_scaling else {
            return Ok(Rope {
                dims,
                base: Some(config.rope_theta as f32),
                freqs: None,
                mscale: 1.0,
            });
        };
        // As mlx-lm's YarnRoPE computes them, operation for operation, in float32.
        let base = config.rope_theta;
        let correction_dim = |rotations: f64| {
            dims as f64
                * (s.original_max_position_embeddings / (rotations * 2.0 * std::f64::consts::PI))
                    .ln()
                / (2.0 * base.ln())
        };
        let low = correction_dim(s.beta_fast).floor().max(0.0);
        let mut high = correction_dim(s.beta_slow).ceil().min(dims as f64 - 1.0);
        if low == high {
            high += 0.001;
        }
        let exponents = arange::<_, f32>(0, dims, 2)?.divide(Array::from_f32(dims as f32))?;
        let freq_extra = Array::from_f32(base as f32).power(&exponents)?;
        let freq_inter = freq_extra.multiply(Array::from_f32(s.factor as f32))?;
        let ramp = arange::<_, f32>(None, dims / 2, None)?
            .subtract(Array::from_f32(low as f32))?
            .divide(Array::from_f32((high - low) as f32))?;
        let ramp = clip(&ramp, (0.0f32, 1.0f32))?;
        let mask = Array::from_f32(1.0).subtract(&ramp)?;
        let freqs = freq_inter.multiply(&freq_extra)?.divide(
            freq_inter
                .multiply(&mask)?
                .add(freq_extra.multiply(Array::from_f32(1.0).subtract(&mask)?)?)?,
        )?;
        let get_mscale = |scale: f64, m: f64| {
            if scale <= 1.0 {
                1.0
            } else {
                0.1 * m * scale.ln() + 1.0
            }
        };
        let mscale = get_mscale(s.factor, s.mscale) / get_mscale(s.factor, s.mscale_all_dim);
        Ok(Rope {
            dims,
            base: None,
            freqs: Some(freqs),
            mscale: mscale as f32,
        })
    }

    fn apply(&self, x: &Array, offset: i32) -> Result<Array> {
        let x = if self.mscale != 1.0 {
            x.multiply(Array::from_f32(self.mscale))?
        } else {
            x.clone()
        };
        Ok(rope(
            &x,
            self.dims,
            false,
            self.base,
            1.0,
            offset,
            self.freqs.as_ref(),
        )?)
    }
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    sinks: Array,
    heads: i32,
    kv_heads: i32,
    head_dim: i32,
    rope: Rope,
}

impl Attention {
    fn load(ck: &mut Checkpoint, p: &str) -> Result<Self> {
        let c = ck.config.clone();
        let (q, kv) = (
            c.num_attention_heads * c.head_dim,
            c.num_key_value_heads * c.head_dim,
        );
        Ok(Attention {
            q_proj: Linear::load(ck, &format!("{p}.q_proj"), c.hidden_size, q, true)?,
            k_proj: Linear::load(ck, &format!("{p}.k_proj"), c.hidden_size, kv, true)?,
            v_proj: Linear::load(ck, &format!("{p}.v_proj"), c.hidden_size, kv, true)?,
            o_proj: Linear::load(ck, &format!("{p}.o_proj"), q, c.hidden_size, true)?,
            sinks: ck.take_float(&format!("{p}.sinks"), &[c.num_attention_heads])?,
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim,
            rope: Rope::new(&c)?,
        })
    }

    fn forward(&self, x: &Array, cache: &mut KvCache) -> Result<Array> {
        let (b, l) = (x.shape()[0], x.shape()[1]);
        let split = |y: Array, heads: i32| -> Result<Array> {
            Ok(y.reshape(&[b, l, heads, self.head_dim])?.swap_axes(1, 2)?)
        };
        let offset = cache.offset;
        let q = self
            .rope
            .apply(&split(self.q_proj.forward(x)?, self.heads)?, offset)?;
        let k = self
            .rope
            .apply(&split(self.k_proj.forward(x)?, self.kv_heads)?, offset)?;
        let v = split(self.v_proj.forward(x)?, self.kv_heads)?;
        let window = cache.window();
        let seen = cache.update(k, v)?;
        // Full layers see every earlier position: MLX's own causal mask (aligned to the last key)
        // says that without building a queries × context array. Sliding layers need the window.
        let mask = match window {
            None if l > 1 => Some(Mask::Causal),
            None => None,
            Some(_) => attention_mask(offset, l, seen.first_key, seen.keys.shape()[2], window)
                .map(Mask::Array),
        };
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        let o = scaled_dot_product_attention(
            &q,
            &seen.keys,
            &seen.values,
            scale,
            mask.as_ref().map(|m| match m {
                Mask::Causal => ScaledDotProductAttentionMask::Causal,
                Mask::Array(a) => ScaledDotProductAttentionMask::Array(a),
            }),
            &self.sinks,
        )?;
        self.o_proj.forward(
            &o.swap_axes(1, 2)?
                .reshape(&[b, l, self.heads * self.head_dim])?,
        )
    }
}

enum Mask {
    Causal,
    Array(Array),
}

/// Which keys each query may see: causal, and within the window on sliding layers. `None` when
/// every query sees every key (a single decoded token), which lets MLX skip the mask.
fn attention_mask(
    first_query: i32,
    queries: i32,
    first_key: i32,
    keys: i32,
    window: Option<i32>,
) -> Option<Array> {
    let visible = |q: i32, k: i32| k <= q && window.is_none_or(|w| q - k < w);
    let cells: Vec<bool> = (0..queries)
        .flat_map(|i| (0..keys).map(move |j| visible(first_query + i, first_key + j)))
        .collect();
    if cells.iter().all(|&c| c) {
        return None;
    }
    Some(Array::from_slice(&cells, &[queries, keys]))
}

// ---------------------------------------------------------------------------------------------
// Mixture of experts: a router picks the top k experts per token; their SwiGLU outputs are
// mixed by a softmax over the k chosen logits.

/// gpt-oss's SwiGLU: the gate clamped above at 7, the linear part to ±7, and a +1 on the latter.
fn swiglu(x_linear: &Array, x_glu: &Array) -> Result<Array> {
    const ALPHA: f32 = 1.702;
    const LIMIT: f32 = 7.0;
    let x_glu = minimum(x_glu, Array::from_f32(LIMIT))?;
    let x_linear = clip(x_linear, (-LIMIT, LIMIT))?;
    let sig = sigmoid(x_glu.multiply(Array::from_f32(ALPHA))?)?;
    let out_glu = x_glu.multiply(&sig)?;
    Ok(out_glu.multiply(x_linear.add(Array::from_f32(1.0))?)?)
}

struct Mlp {
    router: Linear,
    gate_proj: SwitchLinear,
    up_proj: SwitchLinear,
    down_proj: SwitchLinear,
    top_k: i32,
}

impl Mlp {
    fn load(ck: &mut Checkpoint, p: &str) -> Result<Self> {
        let c = ck.config.clone();
        let (e, h, i) = (c.num_local_experts, c.hidden_size, c.intermediate_size);
        Ok(Mlp {
            router: Linear::load(ck, &format!("{p}.router"), h, e, true)?,
            gate_proj: SwitchLinear::load(ck, &format!("{p}.experts.gate_proj"), e, h, i)?,
            up_proj: SwitchLinear::load(ck, &format!("{p}.experts.up_proj"), e, h, i)?,
            down_proj: SwitchLinear::load(ck, &format!("{p}.experts.down_proj"), e, i, h)?,
            top_k: c.num_experts_per_tok,
        })
    }

    fn forward(&self, x: &Array) -> Result<Array> {
        let logits = self.router.forward(x)?;
        let experts = logits.shape()[logits.ndim() - 1];
        let indices =
            argpartition_axis(&logits, -self.top_k, -1)?.index((.., .., experts - self.top_k..));
        let weights = softmax_axis(take_along_axis(&logits, &indices, -1)?, -1, true)?;
        let x = x.expand_dims_axes(&[-2, -3])?;
        // With many tokens, group them by expert (as mlx-lm's SwitchGLU does), so each expert's
        // weights are read once per step rather than once per token.
        let y = if indices.size() >= 64 {
            let k = self.top_k;
            let flat = indices.flatten(None, None)?;
            let order = argsort_axis(&flat, 0)?;
            let unsort = argsort_axis(&order, 0)?;
            let rows = x
                .flatten(0, -3)?
                .take_axis(order.floor_divide(Array::from_int(k))?, 0)?;
            let idx = flat.take_axis(&order, 0)?;
            let y = self.experts(&rows, &idx, true)?.take_axis(&unsort, 0)?;
            let s = indices.shape();
            y.reshape(&[s[0], s[1], k, 1, y.shape()[y.ndim() - 1]])?
        } else {
            self.experts(&x, &indices, false)?
        };
        Ok(y.squeeze_axes(&[-2])?
            .multiply(weights.expand_dims(-1)?)?
            .sum_axis(-2, false)?)
    }

    fn experts(&self, x: &Array, indices: &Array, sorted: bool) -> Result<Array> {
        let up = self.up_proj.forward(x, indices, sorted)?;
        let gate = self.gate_proj.forward(x, indices, sorted)?;
        self.down_proj
            .forward(&swiglu(&up, &gate)?, indices, sorted)
    }
}

// ---------------------------------------------------------------------------------------------
// The model.

struct Block {
    input_layernorm: Array,
    self_attn: Attention,
    post_attention_layernorm: Array,
    mlp: Mlp,
}

pub struct Model {
    pub config: ModelConfig,
    embed_tokens: Embedding,
    layers: Vec<Block>,
    norm: Array,
    lm_head: Linear,
}

impl Model {
    /// Loads a checkpoint directory; every tensor is checked against the config, and tensors the
    /// model does not use are an error.
    pub fn load(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        crate::device::prepare()?;
        let mut ck = Checkpoint::open(dir)?;
        let c = ck.config.clone();
        let h = c.hidden_size;
        let embed_tokens = match load_weight(&mut ck, "model.embed_tokens", None, c.vocab_size, h)?
        {
            Ok(table) => Embedding::Dense(table),
            Err(q) => Embedding::Quantized(q),
        };
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            layers.push(Block {
                input_layernorm: ck.take_float(&format!("{p}.input_layernorm.weight"), &[h])?,
                self_attn: Attention::load(&mut ck, &format!("{p}.self_attn"))?,
                post_attention_layernorm: ck
                    .take_float(&format!("{p}.post_attention_layernorm.weight"), &[h])?,
                mlp: Mlp::load(&mut ck, &format!("{p}.mlp"))?,
            });
        }
        let norm = ck.take_float("model.norm.weight", &[h])?;
        let lm_head = Linear::load(&mut ck, "lm_head", h, c.vocab_size, false)?;
        ck.finish()?;
        Ok(Model {
            config: c,
            embed_tokens,
            layers,
            norm,
            lm_head,
        })
    }

    /// One cache per layer: sliding-window layers keep their window, full layers grow.
    pub fn new_cache(&self) -> Vec<KvCache> {
        self.config
            .layer_types()
            .iter()
            .map(|t| match t.as_str() {
                "sliding_attention" => KvCache::sliding(self.config.sliding_window),
                _ => KvCache::full(),
            })
            .collect()
    }

    /// Runs `tokens` (`[1, L]`, int) through the model after what `cache` holds. Returns logits
    /// `[1, L, vocab]` when `all_logits`, else `[1, 1, vocab]` for the last position only.
    pub fn forward(
        &self,
        tokens: &Array,
        cache: &mut [KvCache],
        all_logits: bool,
    ) -> Result<Array> {
        let eps = self.config.rms_norm_eps;
        let mut x = self.embed_tokens.forward(tokens)?;
        for (layer, cache) in self.layers.iter().zip(cache.iter_mut()) {
            let h = layer
                .self_attn
                .forward(&rms_norm(&x, Some(&layer.input_layernorm), eps)?, cache)?;
            x = x.add(h)?;
            let h =
                layer
                    .mlp
                    .forward(&rms_norm(&x, Some(&layer.post_attention_layernorm), eps)?)?;
            x = x.add(h)?;
        }
        let mut x = rms_norm(&x, Some(&self.norm), eps)?;
        if !all_logits {
            let l = x.shape()[1];
            x = x.index((.., l - 1..));
        }
        let logits = self.lm_head.forward(&x)?;
        debug_assert_eq!(logits.dtype(), Dtype::Float32);
        Ok(logits)
    }
}
