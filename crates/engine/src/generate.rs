//! Generation: chunked prefill, then one token at a time with the KV cache, sampling, stop
//! tokens, cancellation between tokens, and the figures a user sees under a reply.

use std::time::Instant;

use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;
use serde::Serialize;

use crate::cache::{KvCache, KvSnapshot};
use crate::sample::{Sampler, SamplingParams};
use crate::{EngineError, Model};

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation ends when one of these is produced (it is reported, as the last token).
    pub stop_tokens: Vec<u32>,
    /// Prompt tokens per forward pass while prefilling: bounds the memory a long prompt takes.
    pub prefill_chunk: usize,
    /// Start from the engine's [`PromptCache`] where the prompt extends what it holds (a
    /// conversation's next turn, a regenerated reply), instead of prefilling everything.
    pub reuse_cache: bool,
    /// Prompt positions to keep restore points at besides the prompt's end (where a later
    /// prompt is likely to part from this one, e.g. before the reply's opening tokens).
    pub marks: Vec<usize>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop_tokens: Vec::new(),
            prefill_chunk: 512,
            reuse_cache: false,
            marks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FinishReason {
    /// `max_tokens` reached.
    Length,
    /// A stop token was produced.
    Stop,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values came from the [`PromptCache`], not a prefill.
    pub cached_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_seconds: f64,
    pub prefill_tokens_per_second: f64,
    pub decode_seconds: f64,
    pub decode_tokens_per_second: f64,
    pub time_to_first_token_seconds: f64,
    /// MLX's allocator high-water mark during this generation.
    pub peak_memory_bytes: u64,
    pub finish_reason: FinishReason,
}

/// Most restore points a [`PromptCache`] keeps (each holds the sliding layers' windows and one
/// row of logits: a few MB at full size).
const MARKS: usize = 8;

/// The KV cache kept between generations, with the tokens it holds. Each generation marks the
/// point where its prompt ended, so a later prompt that shares a prefix (the next turn of a
/// conversation, a regenerated reply, an edit of an earlier message) returns to the latest mark
/// inside that prefix and prefills only what follows: sliding layers cannot be cut back to an
/// arbitrary position once they have rotated, which is why the marks exist.
pub struct PromptCache {
    layers: Vec<KvCache>,
    tokens: Vec<u32>,
    marks: Vec<Mark>,
}

struct Mark {
    len: usize,
    layers: Vec<KvSnapshot>,
    /// The logits after the mark's last token: a prompt that ends exactly there needs no forward
    /// pass at all.
    logits: Vec<f32>,
}

impl PromptCache {
    pub fn new(model: &Model) -> Self {
        PromptCache {
            layers: model.new_cache(),
            tokens: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The tokens whose keys and values the cache holds.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    fn clear(&mut self, model: &Model) {
        *self = PromptCache::new(model);
    }

    /// Rewinds to the longest reusable prefix of `prompt`. Returns how many prompt tokens are
    /// held, and the logits after them when a mark sits exactly at the end of the prompt.
    fn rewind_for(&mut self, model: &Model, prompt: &[u32]) -> (usize, Option<Vec<f32>>) {
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        if let Some(i) = self.marks.iter().rposition(|m| m.len == prompt.len()) {
            if common >= prompt.len() {
                return (prompt.len(), Some(self.restore(i)));
            }
        }
        if common == self.tokens.len() && common < prompt.len() {
            return (common, None);
        }
        match self
            .marks
            .iter()
            .rposition(|m| m.len <= common && m.len < prompt.len())
        {
            Some(i) => {
                let len = self.marks[i].len;
                self.restore(i);
                (len, None)
            }
            None => {
                self.clear(model);
                (0, None)
            }
        }
    }

    fn restore(&mut self, i: usize) -> Vec<f32> {
        self.marks.truncate(i + 1);
        let mark = &self.marks[i];
        for (layer, snapshot) in self.layers.iter_mut().zip(&mark.layers) {
            layer.restore(snapshot);
        }
        self.tokens.truncate(mark.len);
        mark.logits.clone()
    }

    fn mark(&mut self, logits: &[f32]) {
        let len = self.tokens.len();
        self.marks.retain(|m| m.len != len);
        if self.marks.len() == MARKS {
            // The first mark (usually the end of the system prompt and tools, shared by every
            // turn) stays; the oldest after it goes.
            self.marks.remove(1);
        }
        self.marks.push(Mark {
            len,
            layers: self.layers.iter().map(KvCache::snapshot).collect(),
            logits: logits.to_vec(),
        });
    }
}

fn last_row(logits: &Array) -> Result<Vec<f32>, EngineError> {
    let row = logits.index((0, -1));
    row.eval()?;
    Ok(row.as_slice::<f32>().to_vec())
}

impl Model {
    /// Generates after `prompt` from a fresh cache, calling `on_token` with each new token as
    /// soon as it exists. `cancelled` is polled before every forward pass, so a cancel takes
    /// effect within one token.
    pub fn generate(
        &self,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Stats), EngineError> {
        let mut cache = PromptCache::new(self);
        self.generate_with(&mut cache, prompt, options, cancelled, on_token)
    }

    /// [`Model::generate`] on a kept cache: what it already holds of `prompt` is not computed
    /// again (unless `options.reuse_cache` is off), and afterwards it holds the prompt and the
    /// reply. An error leaves it empty rather than half-written.
    pub fn generate_with(
        &self,
        cache: &mut PromptCache,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Stats), EngineError> {
        if prompt.is_empty() {
            return Err(EngineError::Input("the prompt is empty".into()));
        }
        options.sampling.validate().map_err(EngineError::Input)?;
        if options.max_tokens == 0 {
            return Err(EngineError::Input("max_tokens must be at least 1".into()));
        }
        let vocab = self.config.vocab_size as u32;
        if let Some(bad) = prompt.iter().find(|&&t| t >= vocab) {
            return Err(EngineError::Input(format!(
                "token {bad} is outside the vocabulary ({vocab})"
            )));
        }
        if !options.reuse_cache {
            cache.clear(self);
        }
        let outcome = self.run(cache, prompt, options, cancelled, on_token);
        if outcome.is_err() {
            cache.clear(self);
        }
        outcome
    }

    fn run(
        &self,
        cache: &mut PromptCache,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Stats), EngineError> {
        let _ = mlx_rs::memory::reset_peak_memory();
        let start = Instant::now();
        let mut sampler = Sampler::new(options.sampling);
        let (held, mut row) = cache.rewind_for(self, prompt);
        let mut stats = Stats {
            prompt_tokens: prompt.len(),
            cached_tokens: held,
            generated_tokens: 0,
            prefill_seconds: 0.0,
            prefill_tokens_per_second: 0.0,
            decode_seconds: 0.0,
            decode_tokens_per_second: 0.0,
            time_to_first_token_seconds: 0.0,
            peak_memory_bytes: 0,
            finish_reason: FinishReason::Length,
        };
        let finish = |mut stats: Stats, tokens: Vec<u32>, reason| {
            stats.finish_reason = reason;
            stats.generated_tokens = tokens.len();
            stats.peak_memory_bytes = mlx_rs::memory::peak_memory().unwrap_or(0) as u64;
            Ok((tokens, stats))
        };

        // Prefill what the cache lacks, in chunks; only the last position's logits are computed.
        let chunk = options.prefill_chunk.max(1);
        // Pieces of at most `chunk` tokens that also end at every position asked to be marked.
        let mut pieces = Vec::new();
        let mut at = held;
        while at < prompt.len() {
            let end = options
                .marks
                .iter()
                .copied()
                .filter(|&m| m > at && m < prompt.len())
                .min()
                .unwrap_or(prompt.len())
                .min(at + chunk);
            pieces.push((at, end));
            at = end;
        }
        for (from, to) in pieces {
            if cancelled() {
                return finish(stats, Vec::new(), FinishReason::Cancelled);
            }
            let piece = &prompt[from..to];
            let ids: Vec<i32> = piece.iter().map(|&t| t as i32).collect();
            let out = self.forward(
                &Array::from_slice(&ids, &[1, ids.len() as i32]),
                &mut cache.layers,
                false,
            )?;
            // Evaluate per chunk (cache included) so the lazy graph stays one chunk deep.
            let mut arrays: Vec<&Array> = cache.layers.iter().flat_map(|c| c.arrays()).collect();
            arrays.push(&out);
            mlx_rs::transforms::eval(arrays)?;
            cache.tokens.extend_from_slice(piece);
            let last = last_row(&out)?;
            if options.marks.contains(&to) && to < prompt.len() {
                cache.mark(&last);
            }
            row = Some(last);
        }
        let Some(mut row) = row else {
            return Err(EngineError::Input("no logits after the prompt".into()));
        };
        if held < prompt.len() {
            cache.mark(&row);
        }
        let prefilled = prompt.len() - held;
        stats.prefill_seconds = start.elapsed().as_secs_f64();
        stats.prefill_tokens_per_second = prefilled as f64 / stats.prefill_seconds.max(1e-9);

        let mut tokens = Vec::new();
        let decode_start = Instant::now();
        loop {
            let token = sampler.sample(&row);
            if tokens.is_empty() {
                stats.time_to_first_token_seconds = start.elapsed().as_secs_f64();
            }
            tokens.push(token);
            on_token(token);
            let reason = if options.stop_tokens.contains(&token) {
                Some(FinishReason::Stop)
            } else if tokens.len() >= options.max_tokens {
                Some(FinishReason::Length)
            } else if cancelled() {
                Some(FinishReason::Cancelled)
            } else {
                None
            };
            if let Some(reason) = reason {
                return finish(
                    Self::decode_figures(stats, decode_start, tokens.len()),
                    tokens,
                    reason,
                );
            }
            let ids = Array::from_slice(&[token as i32], &[1, 1]);
            row = last_row(&self.forward(&ids, &mut cache.layers, false)?)?;
            cache.tokens.push(token);
        }
    }

    fn decode_figures(mut stats: Stats, decode_start: Instant, generated: usize) -> Stats {
        // The first token came from the prefill's logits; decoding produced the rest.
        stats.decode_seconds = decode_start.elapsed().as_secs_f64();
        if generated > 1 {
            stats.decode_tokens_per_second =
                (generated - 1) as f64 / stats.decode_seconds.max(1e-9);
        }
        stats
    }
}
