//! Sentence embeddings on MLX for the library's dense search: a BERT encoder (all-MiniLM-L6-v2's
//! shape and weights, as sentence-transformers publishes them) with mean pooling over the real
//! tokens and L2 normalisation, so a dot product is a cosine. The same code runs on Metal and on
//! the CPU backend; on other CPUs the same weights run on llama.cpp ([`llama`]), several times
//! faster for a query's few tokens and about twice for a pass.

pub mod llama;

use std::collections::HashMap;
use std::path::Path;

use mlx_rs::fast::layer_norm;
use mlx_rs::ops::indexing::{take_axis, IndexOp};
use mlx_rs::ops::{erf, matmul, maximum, softmax_axis, sqrt, sum_axis};
use mlx_rs::{Array, Dtype};
use serde::Deserialize;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{file}: {reason}")]
    Model { file: String, reason: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("MLX: {0}")]
    Mlx(#[from] mlx_rs::error::Exception),
    #[error(transparent)]
    Device(#[from] fathom_device::DeviceError),
}

type Result<T> = std::result::Result<T, EmbedError>;

fn s(x: f32) -> Array {
    Array::from_f32(x)
}

#[derive(Debug, Clone, Deserialize)]
struct BertConfig {
    hidden_size: i32,
    num_hidden_layers: usize,
    num_attention_heads: i32,
    #[serde(default = "default_eps")]
    layer_norm_eps: f32,
    max_position_embeddings: i32,
    #[serde(default)]
    model_type: String,
}

fn default_eps() -> f32 {
    1e-12
}

struct Linear {
    weight_t: Array,
    bias: Array,
}

impl Linear {
    fn forward(&self, x: &Array) -> Result<Array> {
        Ok(matmul(x, &self.weight_t)?.add(&self.bias)?)
    }

    /// The same layer with its output multiplied by `k`.
    fn scaled(self, k: f32) -> Result<Self> {
        Ok(Linear {
            weight_t: self.weight_t.multiply(s(k))?,
            bias: self.bias.multiply(s(k))?,
        })
    }

    /// The same layer applied to its input multiplied by `k`.
    fn scaled_input(self, k: f32) -> Result<Self> {
        Ok(Linear {
            weight_t: self.weight_t.multiply(s(k))?,
            bias: self.bias,
        })
    }
}

struct Norm {
    weight: Array,
    bias: Array,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    intermediate: Linear,
    output: Linear,
    out_norm: Norm,
}

pub struct Embedder {
    tokenizer: Tokenizer,
    config: BertConfig,
    word: Array,
    position: Array,
    token_type: Array,
    embed_norm: Norm,
    layers: Vec<Layer>,
    /// Word pieces per text; longer texts are truncated, as sentence-transformers does.
    pub max_tokens: usize,
}

struct Weights {
    file: String,
    map: HashMap<String, Array>,
}

impl Weights {
    fn take(&mut self, name: &str, shape: &[i32]) -> Result<Array> {
        let a = self.map.remove(name).ok_or_else(|| EmbedError::Model {
            file: self.file.clone(),
            reason: format!("missing tensor {name}"),
        })?;
        if a.shape() != shape {
            return Err(EmbedError::Model {
                file: self.file.clone(),
                reason: format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    a.shape()
                ),
            });
        }
        Ok(a.as_dtype(Dtype::Float32)?)
    }

    fn linear(&mut self, p: &str, inp: i32, out: i32) -> Result<Linear> {
        Ok(Linear {
            weight_t: self.take(&format!("{p}.weight"), &[out, inp])?.t(),
            bias: self.take(&format!("{p}.bias"), &[out])?,
        })
    }

    fn norm(&mut self, p: &str, dim: i32) -> Result<Norm> {
        Ok(Norm {
            weight: self.take(&format!("{p}.weight"), &[dim])?,
            bias: self.take(&format!("{p}.bias"), &[dim])?,
        })
    }
}

/// The longest input the model reads (`sentence_bert_config.json`, else its position table).
fn max_tokens(dir: &Path, config: &BertConfig) -> usize {
    std::fs::read(dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["max_seq_length"].as_u64())
        .unwrap_or(config.max_position_embeddings as u64) as usize
}

/// The model's tokenizer, cutting texts at what it reads; unpadded: batches are padded after
/// texts of similar length are grouped (see [`Embedder::embed`]).
fn load_tokenizer(dir: &Path, max_tokens: usize) -> Result<Tokenizer> {
    let path = dir.join("tokenizer.json");
    let mut tokenizer = Tokenizer::from_file(&path).map_err(|e| EmbedError::Model {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// `texts` tokenized as the model reads them. One text (a query) is tokenized on this thread:
/// `encode_batch` hands even one to rayon's pool and waits for a worker to wake, which a busy
/// machine can make the slowest part of a search. (Padding is off: the tokens are the same.)
fn encode(tokenizer: &Tokenizer, texts: &[&str]) -> Result<Vec<Encoding>> {
    match texts {
        [one] => tokenizer.encode(*one, true).map(|e| vec![e]),
        _ => tokenizer.encode_batch(texts.to_vec(), true),
    }
    .map_err(|e| EmbedError::Tokenizer(e.to_string()))
}

/// The model's `config.json`.
fn read_config(dir: &Path) -> Result<BertConfig> {
    let path = dir.join("config.json");
    let config: BertConfig = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|reason| EmbedError::Model {
            file: path.display().to_string(),
            reason,
        })?;
    if config.model_type != "bert" {
        return Err(EmbedError::Model {
            file: path.display().to_string(),
            reason: format!("model type \"{}\" is not bert", config.model_type),
        });
    }
    Ok(config)
}

/// Counts the tokens the embedder reads of each text (for usage figures), without loading its
/// weights.
pub struct TokenCounter(Tokenizer);

impl TokenCounter {
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config = read_config(dir)?;
        Ok(TokenCounter(load_tokenizer(dir, max_tokens(dir, &config))?))
    }

    /// Tokens of all `texts` together, special tokens included, as the model reads them.
    pub fn count(&self, texts: &[&str]) -> Result<usize> {
        let encodings = encode(&self.0, texts)?;
        Ok(encodings.iter().map(|e| e.get_ids().len()).sum())
    }
}

impl Embedder {
    /// Loads a sentence-transformers model directory: `config.json`, `model.safetensors`,
    /// `tokenizer.json`, and `sentence_bert_config.json` for the length limit.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        fathom_device::prepare()?;
        let dir = dir.as_ref();
        let config = read_config(dir)?;
        let max_tokens = max_tokens(dir, &config);
        let weights_path = dir.join("model.safetensors");
        let map = Array::load_safetensors(&weights_path).map_err(|e| EmbedError::Model {
            file: weights_path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut w = Weights {
            file: "model.safetensors".into(),
            map,
        };
        let h = config.hidden_size;
        let vocab = w
            .map
            .get("embeddings.word_embeddings.weight")
            .map(|a| a.shape()[0])
            .unwrap_or(0);
        let word = w.take("embeddings.word_embeddings.weight", &[vocab, h])?;
        let position = w.take(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let types = w
            .map
            .get("embeddings.token_type_embeddings.weight")
            .map(|a| a.shape()[0])
            .unwrap_or(0);
        let token_type = w.take("embeddings.token_type_embeddings.weight", &[types, h])?;
        let embed_norm = w.norm("embeddings.LayerNorm", h)?;
        let inter = w
            .map
            .get("encoder.layer.0.intermediate.dense.bias")
            .map(|a| a.shape()[0])
            .unwrap_or(4 * h);
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                query: w.linear(&format!("{p}.attention.self.query"), h, h)?,
                key: w.linear(&format!("{p}.attention.self.key"), h, h)?,
                value: w.linear(&format!("{p}.attention.self.value"), h, h)?,
                attn_out: w.linear(&format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h)?,
                // GELU(u) = u/2 · (1 + erf(u/√2)). With u' = u/√2 folded into the intermediate
                // layer and the remaining 1/√2 into the output layer, it is u' · (1 + erf(u')):
                // three passes over the widest activation instead of five (they dominate on a CPU).
                intermediate: w
                    .linear(&format!("{p}.intermediate.dense"), h, inter)?
                    .scaled(std::f32::consts::FRAC_1_SQRT_2)?,
                output: w
                    .linear(&format!("{p}.output.dense"), inter, h)?
                    .scaled_input(std::f32::consts::FRAC_1_SQRT_2)?,
                out_norm: w.norm(&format!("{p}.output.LayerNorm"), h)?,
            });
        }
        // Materialised now, on the loading thread: later calls (from other threads) only read
        // them, and the f32 conversion is not redone per batch.
        let mut all = vec![
            &word,
            &position,
            &token_type,
            &embed_norm.weight,
            &embed_norm.bias,
        ];
        for l in &layers {
            for lin in [
                &l.query,
                &l.key,
                &l.value,
                &l.attn_out,
                &l.intermediate,
                &l.output,
            ] {
                all.extend([&lin.weight_t, &lin.bias]);
            }
            for n in [&l.attn_norm, &l.out_norm] {
                all.extend([&n.weight, &n.bias]);
            }
        }
        mlx_rs::transforms::eval(all)?;
        let tokenizer = load_tokenizer(dir, max_tokens)?;
        Ok(Embedder {
            tokenizer,
            config,
            word,
            position,
            token_type,
            embed_norm,
            layers,
            max_tokens,
        })
    }

    pub fn dimension(&self) -> usize {
        self.config.hidden_size as usize
    }

    fn norm(&self, x: &Array, n: &Norm) -> Result<Array> {
        Ok(layer_norm(
            x,
            Some(&n.weight),
            Some(&n.bias),
            self.config.layer_norm_eps,
        )?)
    }

    /// Unit-length embeddings of `texts`, one row each (`[texts, dimension]`). Texts are run in
    /// groups of similar length, at most `GROUP_TOKENS` padded tokens each: little padding, and
    /// activations small enough to stay in cache on a CPU (measured faster than one big batch).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        const GROUP_TOKENS: usize = 2048;
        let encodings = encode(&self.tokenizer, texts)?;
        let len = |i: usize| encodings[i].get_ids().len().max(1);
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| len(i));
        let mut out = vec![Vec::new(); encodings.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len() && (end + 1 - start) * len(order[end]) <= GROUP_TOKENS {
                end += 1;
            }
            let group: Vec<&Encoding> = order[start..end].iter().map(|&i| &encodings[i]).collect();
            for (&i, v) in order[start..end].iter().zip(self.forward(&group)?) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// One padded batch through the encoder.
    fn forward(&self, encodings: &[&Encoding]) -> Result<Vec<Vec<f32>>> {
        let b = encodings.len() as i32;
        let longest = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let l = longest.max(1) as i32;
        let mut ids = Vec::with_capacity(encodings.len() * longest);
        let mut mask = Vec::with_capacity(encodings.len() * longest);
        for e in encodings {
            let n = e.get_ids().len();
            // [PAD] is id 0 in BERT vocabularies; the mask keeps it out of attention and pooling.
            ids.extend(e.get_ids().iter().map(|&i| i as i32));
            ids.extend(std::iter::repeat_n(0, l as usize - n));
            mask.extend(std::iter::repeat_n(1.0f32, n));
            mask.extend(std::iter::repeat_n(0.0f32, l as usize - n));
        }
        let padded = mask.contains(&0.0);
        let ids = Array::from_slice(&ids, &[b, l]);
        let mask = Array::from_slice(&mask, &[b, l]);
        let h = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let dh = h / heads;

        // Embeddings: word + position + token type 0, then LayerNorm.
        let positions = self.position.index(..l);
        let mut x = take_axis(&self.word, &ids, 0)?
            .add(&positions)?
            .add(self.token_type.index(0))?;
        x = self.norm(&x, &self.embed_norm)?;
        // Padding positions get -inf-like scores so attention ignores them (only when the batch
        // has padding: the scores are the largest array here).
        let bias = padded
            .then(|| -> Result<Array> {
                Ok(mask
                    .subtract(s(1.0))?
                    .multiply(s(1e9))?
                    .reshape(&[b, 1, 1, l])?)
            })
            .transpose()?;
        let scale = s(1.0 / (dh as f32).sqrt());
        let split = |y: Array| -> Result<Array> {
            Ok(y.reshape(&[b, l, heads, dh])?
                .transpose_axes(&[0, 2, 1, 3])?)
        };
        for layer in &self.layers {
            // The scale goes on q, which is 1/l the size of the scores.
            let q = split(layer.query.forward(&x)?.multiply(&scale)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let mut scores = matmul(&q, &k.transpose_axes(&[0, 1, 3, 2])?)?;
            if let Some(bias) = &bias {
                scores = scores.add(bias)?;
            }
            let ctx = matmul(&softmax_axis(&scores, -1, true)?, &v)?
                .transpose_axes(&[0, 2, 1, 3])?
                .reshape(&[b, l, h])?;
            x = self.norm(&x.add(&layer.attn_out.forward(&ctx)?)?, &layer.attn_norm)?;
            // BERT's GELU is the exact one, x · Φ(x); scaled as described in `load`.
            let u = layer.intermediate.forward(&x)?;
            let gelu = u.multiply(erf(&u)?.add(s(1.0))?)?;
            x = self.norm(&x.add(&layer.output.forward(&gelu)?)?, &layer.out_norm)?;
        }
        // Mean over the real tokens, then unit length.
        let m = mask.reshape(&[b, l, 1])?;
        let summed = sum_axis(&x.multiply(&m)?, 1, false)?;
        let counts = maximum(sum_axis(&m, 1, false)?, s(1e-9))?;
        let mean = summed.divide(&counts)?;
        let norms = maximum(
            sqrt(&sum_axis(&mean.multiply(&mean)?, -1, true)?)?,
            s(1e-12),
        )?;
        let out = mean.divide(&norms)?;
        out.eval()?;
        let flat = out.as_slice::<f32>();
        Ok(flat.chunks(h as usize).map(|r| r.to_vec()).collect())
    }
}

/// An embedder on a thread of its own, shareable across threads: every MLX call for it runs on that
/// one long-lived thread. MLX gives each thread that evaluates arrays its own stream, with a
/// worker thread behind it that is never ended, so embedding from short-lived threads (a command
/// handler, a search's helper thread) would leave one thread behind per call.
pub struct SharedEmbedder {
    /// Taken on drop, which ends the thread's loop.
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    /// Joined on drop: the thread frees the model before the handle is gone, so a process that
    /// exits right after dropping it never tears MLX down under a thread still freeing arrays
    /// (a test process crashed so at exit).
    thread: Option<std::thread::JoinHandle<()>>,
    dimension: usize,
    runtime: Runtime,
}

impl Drop for SharedEmbedder {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            // The job in progress, if any, finishes first.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

type Reply = std::sync::mpsc::Sender<Result<Vec<Vec<f32>>>>;
type Job = (Vec<String>, Purpose, Reply);

/// What texts are embedded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Vectors kept in the library (or handed to an API client): the weights as trained.
    Passages,
    /// A search's query: the embedder may run a faster encoder whose vectors agree with the
    /// passages' to a cosine of about 0.999 ([`SharedEmbedder::load_for_queries`]).
    Query,
}
type Ready = std::sync::mpsc::Sender<Result<usize>>;

/// What runs an embedder's arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// MLX: Metal on a Mac, its CPU backend elsewhere.
    Mlx,
    /// llama.cpp on every CPU core ([`llama`]).
    LlamaCpp,
}

impl Runtime {
    /// The faster here: MLX on a Mac (Metal), llama.cpp on other CPUs it runs on (on 2 cores:
    /// a query in 3.9 vs 10.6 ms, a pass 21.5 vs 7.7 chunks/s for one MLX copy).
    pub fn preferred() -> Runtime {
        if cfg!(target_os = "macos") || !fathom_llama::missing_cpu_features().is_empty() {
            Runtime::Mlx
        } else {
            Runtime::LlamaCpp
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Mlx => "MLX",
            Runtime::LlamaCpp => "llama.cpp",
        }
    }
}

impl SharedEmbedder {
    /// Loads the model in `dir` on a new thread (MLX), which then serves `embed` calls until
    /// dropped.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        Self::start(move || Embedder::load(&dir))
    }

    /// Loads the model in `dir` on [`Runtime::preferred`], falling back to MLX (and logging
    /// why) if llama.cpp cannot load it; [`SharedEmbedder::runtime`] says which it got.
    pub fn load_preferred(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if Runtime::preferred() == Runtime::LlamaCpp {
            match Self::load_with(dir, Runtime::LlamaCpp) {
                Ok(e) => return Ok(e),
                Err(e) => log::warn!("llama.cpp cannot run the embedder, MLX does: {e}"),
            }
        }
        Self::load(dir)
    }

    /// Loads the model in `dir` on `runtime`, on a thread of its own.
    pub fn load_with(dir: impl AsRef<Path>, runtime: Runtime) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        match runtime {
            Runtime::Mlx => Self::load(dir),
            Runtime::LlamaCpp => Self::load_llama(&dir, None),
        }
    }

    /// The embedder the app searches with. Where llama.cpp runs ([`Runtime::preferred`]), it
    /// holds two encoders: queries ([`Purpose::Query`]) go to one with its matrices in 8 bits
    /// ([`llama::Weights::Q8`]) on [`query_threads`] threads (a query is a few tokens, each
    /// weight read once), everything else to the weights as trained on every core; without the
    /// 8-bit file (it could not be written), the weights as trained on those threads. Elsewhere,
    /// or if llama.cpp cannot load it (logged), MLX for both.
    pub fn load_for_queries(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if Runtime::preferred() == Runtime::LlamaCpp {
            match Self::load_llama(dir, Some(query_threads())) {
                Ok(e) => return Ok(e),
                Err(e) => log::warn!("llama.cpp cannot run the query embedder, MLX does: {e}"),
            }
        }
        Self::load(dir)
    }

    /// llama.cpp's encoder of `dir` on every core; with `query_threads`, also its 8-bit encoder
    /// on that many threads for [`Purpose::Query`].
    fn load_llama(dir: &Path, query_threads: Option<usize>) -> Result<Self> {
        let dir = dir.to_path_buf();
        Self::spawn(Runtime::LlamaCpp, move |ready, inbox| {
            // The contexts borrow their models: all live on this thread, for its whole life.
            let load = |weights| llama::LlamaModelDir::load_weights(&dir, weights);
            let model = match load(llama::Weights::F32) {
                Ok(m) => m,
                Err(e) => return drop(ready.send(Err(e))),
            };
            // Without the 8-bit file (it could not be written: a full disk, a read-only
            // folder), queries still get their own few threads, on the weights as trained.
            let quick_model = query_threads.and_then(|_| {
                load(llama::Weights::Q8)
                    .inspect_err(|e| log::warn!("queries use the f32 encoder: {e}"))
                    .ok()
            });
            let mut encoder = match model.encoder(None) {
                Ok(e) => e,
                Err(e) => return drop(ready.send(Err(e))),
            };
            let mut quick = match query_threads
                .map(|threads| {
                    quick_model
                        .as_ref()
                        .unwrap_or(&model)
                        .encoder(Some(threads))
                })
                .transpose()
            {
                Ok(e) => e,
                Err(e) => return drop(ready.send(Err(e))),
            };
            let _ = ready.send(Ok(model.dimension()));
            serve(inbox, |texts, purpose| match (&mut quick, purpose) {
                // Queries on this thread, whose OpenMP team stays: one started afresh per query
                // took longer than the query (p50 16 against 3 to 6 ms).
                (Some(q), Purpose::Query) => q.embed(texts),
                // A batch's team goes when it is done (see `fathom_llama::on_passing_thread`).
                _ => fathom_llama::on_passing_thread(&mut encoder, |e| e.embed(texts))
                    .unwrap_or_else(|reason| {
                        Err(EmbedError::Model {
                            file: "llama.cpp".into(),
                            reason,
                        })
                    }),
            });
        })
    }

    /// Moves an embedder loaded elsewhere onto a thread of its own.
    pub fn new(e: Embedder) -> Self {
        Self::start(move || Ok(e)).expect("an embedder already loaded starts")
    }

    fn start(make: impl FnOnce() -> Result<Embedder> + Send + 'static) -> Result<Self> {
        Self::spawn(Runtime::Mlx, move |ready, inbox| {
            let embedder = match make() {
                Ok(e) => e,
                Err(e) => return drop(ready.send(Err(e))),
            };
            let _ = ready.send(Ok(embedder.dimension()));
            serve(inbox, |texts, _| embedder.embed(texts));
        })
    }

    /// Runs `body` on a new thread: it loads a model, says on `ready` whether it could (with
    /// the dimension), then serves the jobs.
    fn spawn(
        runtime: Runtime,
        body: impl FnOnce(Ready, std::sync::mpsc::Receiver<Job>) + Send + 'static,
    ) -> Result<Self> {
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        let (ready, started) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fathom-embedder".into())
            .spawn(move || body(ready, inbox))
            .map_err(|e| EmbedError::Model {
                file: "embedder".into(),
                reason: format!("cannot start its thread: {e}"),
            })?;
        let dimension = started.recv().map_err(|_| EmbedError::Model {
            file: "embedder".into(),
            reason: "its thread stopped while loading".into(),
        })??;
        Ok(SharedEmbedder {
            jobs: Some(jobs),
            thread: Some(thread),
            dimension,
            runtime,
        })
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// What runs this embedder's arithmetic.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// Starts embedding `texts` for `purpose`; the answer arrives on the returned channel.
    pub fn submit_for(
        &self,
        texts: &[&str],
        purpose: Purpose,
    ) -> std::sync::mpsc::Receiver<Result<Vec<Vec<f32>>>> {
        let (reply, answer) = std::sync::mpsc::channel();
        let job = (
            texts.iter().map(|t| t.to_string()).collect(),
            purpose,
            reply,
        );
        // A send fails only if the thread is gone; the dropped reply then says so below.
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
        answer
    }

    /// Starts embedding passages ([`Purpose::Passages`]).
    pub fn submit(&self, texts: &[&str]) -> std::sync::mpsc::Receiver<Result<Vec<Vec<f32>>>> {
        self.submit_for(texts, Purpose::Passages)
    }

    /// Passages' vectors, from the weights as trained.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_for(texts, Purpose::Passages)
    }

    /// Search queries' vectors ([`Purpose::Query`]).
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_for(texts, Purpose::Query)
    }

    pub fn embed_for(&self, texts: &[&str], purpose: Purpose) -> Result<Vec<Vec<f32>>> {
        self.submit_for(texts, purpose).recv().unwrap_or_else(|_| {
            Err(EmbedError::Model {
                file: "embedder".into(),
                reason: "its thread stopped".into(),
            })
        })
    }
}

/// Answers jobs until every handle to the embedder is dropped.
fn serve(
    inbox: std::sync::mpsc::Receiver<Job>,
    mut embed: impl FnMut(&[&str], Purpose) -> Result<Vec<Vec<f32>>>,
) {
    while let Ok((texts, purpose, reply)) = inbox.recv() {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let _ = reply.send(embed(&refs, purpose));
    }
}

/// Threads a query's encoder runs on (llama.cpp): two, where there are two cores. A search embeds
/// its query before anything else runs (BM25 then runs beside the dense walk), because
/// llama.cpp's threads wait for each other at every step by spinning, so one that shares a busy
/// core stalls both (on 2 cores beside a busy thread: p95 107 ms on two threads against 6.7 ms on
/// one). On a quiet machine two are 1.6x quicker than one (`fathom search-bench
/// --generated-chunks N --embedder DIR` measures both). More buys little: a query is a few
/// tokens, and the steps are small.
pub fn query_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// The Hugging Face repository the embedder's weights come from.
pub const EMBEDDER_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// How many embedders a bulk pass should run side by side. On a CPU, MLX runs an encoder's
/// element-wise work (GELU, softmax: most of its time) on one core per thread, so copies on
/// several threads use the cores (with BLAS kept to one thread each, see `single_threaded_blas`;
/// measured on 2 cores: 8.0 → 12.0 chunks/s). On Metal one GPU queue does it all.
pub fn pass_threads() -> usize {
    if cfg!(target_os = "macos") {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4)
    }
}

/// When a pass runs several copies (`pass_threads`), tells OpenBLAS, if it is the BLAS MLX loaded
/// (Linux, see vendor/mlx-sys/FATHOM-PATCH.md), to use one thread per call: the copies are the
/// threads, and OpenBLAS's on top of them fight for the same cores. Call it once, before MLX
/// work starts (OpenBLAS must not change this while in use). A no-op otherwise.
pub fn single_threaded_blas() {
    if pass_threads() < 2 {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: `openblas_set_num_threads(int)` is OpenBLAS's documented C API; it is looked up in
    // the libraries already loaded and called only if found. By hand because OpenBLAS arrives as
    // a dependency of libmlx, not through a Rust crate that would wrap it.
    unsafe {
        let symbol = libc::dlsym(libc::RTLD_DEFAULT, c"openblas_set_num_threads".as_ptr());
        if !symbol.is_null() {
            let set: extern "C" fn(libc::c_int) = std::mem::transmute(symbol);
            set(1);
        }
    }
}
