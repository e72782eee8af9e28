//! Generation: chunked prefill, then one token at a time with the KV cache, sampling, stop
//! tokens, cancellation between tokens, and the figures a user sees under a reply.

use std::time::Instant;

use serde::Serialize;

use crate::backend::{Backend, Mlx};
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
    /// The backend's memory high-water mark during this generation (MLX's allocator; llama.cpp:
    /// the process's resident peak).
    pub peak_memory_bytes: u64,
    pub finish_reason: FinishReason,
}

/// Most restore points a [`PromptCache`] keeps (each holds the sliding layers' windows and one
/// row of logits: a few MB at full size).
const MARKS: usize = 8;

/// The KV cache kept between generations, on any [`Backend`], with the tokens it holds. Each
/// generation marks the point where its prompt ended, so a later prompt that shares a prefix (the
/// next turn of a conversation, a regenerated reply, an edit of an earlier message) returns to
/// the latest mark inside that prefix and prefills only what follows: sliding layers cannot be
/// cut back to an arbitrary position once they have rotated, which is why the marks exist.
pub struct PromptCache<B: Backend> {
    backend: B,
    tokens: Vec<u32>,
    marks: Vec<Mark<B::Mark>>,
}

struct Mark<M> {
    len: usize,
    state: M,
    /// The logits after the mark's last token: a prompt that ends exactly there needs no forward
    /// pass at all.
    logits: Vec<f32>,
}

impl<B: Backend> PromptCache<B> {
    pub fn new(backend: B) -> Self {
        PromptCache {
            backend,
            tokens: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The tokens whose keys and values the cache holds.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn clear(&mut self) {
        self.backend.clear();
        self.tokens.clear();
        self.marks.clear();
    }

    /// Rewinds to the longest reusable prefix of `prompt`. Returns how many prompt tokens are
    /// held, and the logits after them when a mark sits exactly at the end of the prompt.
    fn rewind_for(&mut self, prompt: &[u32]) -> Result<(usize, Option<Vec<f32>>), EngineError> {
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        if let Some(i) = self.marks.iter().rposition(|m| m.len == prompt.len()) {
            if common >= prompt.len() {
                return Ok((prompt.len(), Some(self.restore(i)?)));
            }
        }
        if common == self.tokens.len() && common < prompt.len() {
            return Ok((common, None));
        }
        match self
            .marks
            .iter()
            .rposition(|m| m.len <= common && m.len < prompt.len())
        {
            Some(i) => {
                let len = self.marks[i].len;
                self.restore(i)?;
                Ok((len, None))
            }
            None => {
                self.clear();
                Ok((0, None))
            }
        }
    }

    fn restore(&mut self, i: usize) -> Result<Vec<f32>, EngineError> {
        self.marks.truncate(i + 1);
        let mark = &self.marks[i];
        self.backend.restore(&mark.state, mark.len)?;
        self.tokens.truncate(mark.len);
        Ok(mark.logits.clone())
    }

    fn mark(&mut self, logits: &[f32]) -> Result<(), EngineError> {
        let len = self.tokens.len();
        self.marks.retain(|m| m.len != len);
        if self.marks.len() == MARKS {
            // The first mark (usually the end of the system prompt and tools, shared by every
            // turn) stays; the oldest after it goes.
            self.marks.remove(1);
        }
        let state = self.backend.mark()?;
        self.marks.push(Mark {
            len,
            state,
            logits: logits.to_vec(),
        });
        Ok(())
    }

    /// Generates after `prompt`, calling `on_token` with each new token as soon as it exists.
    /// What the cache already holds of `prompt` is not computed again (unless
    /// `options.reuse_cache` is off), and afterwards it holds the prompt and the reply.
    /// `cancelled` is polled before every forward pass, so a cancel takes effect within one
    /// token. An error leaves the cache empty rather than half-written.
    pub fn generate(
        &mut self,
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
        let vocab = self.backend.vocab_size() as u32;
        if let Some(bad) = prompt.iter().find(|&&t| t >= vocab) {
            return Err(EngineError::Input(format!(
                "token {bad} is outside the vocabulary ({vocab})"
            )));
        }
        if !options.reuse_cache {
            self.clear();
        }
        let outcome = self.run(prompt, options, cancelled, on_token);
        if outcome.is_err() {
            self.clear();
        }
        outcome
    }

    fn run(
        &mut self,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Stats), EngineError> {
        self.backend.reset_peak_memory();
        let start = Instant::now();
        let mut sampler = Sampler::new(options.sampling);
        let (held, mut row) = self.rewind_for(prompt)?;
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
        let finish = |backend: &B, mut stats: Stats, tokens: Vec<u32>, reason| {
            stats.finish_reason = reason;
            stats.generated_tokens = tokens.len();
            stats.peak_memory_bytes = backend.peak_memory();
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
                return finish(&self.backend, stats, Vec::new(), FinishReason::Cancelled);
            }
            let piece = &prompt[from..to];
            let last = self.backend.forward(piece)?;
            self.tokens.extend_from_slice(piece);
            if options.marks.contains(&to) && to < prompt.len() {
                self.mark(&last)?;
            }
            row = Some(last);
        }
        let Some(mut row) = row else {
            return Err(EngineError::Input("no logits after the prompt".into()));
        };
        if held < prompt.len() {
            self.mark(&row)?;
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
                let stats = decode_figures(stats, decode_start, tokens.len());
                return finish(&self.backend, stats, tokens, reason);
            }
            row = self.backend.forward(&[token])?;
            self.tokens.push(token);
        }
    }
}

fn decode_figures(mut stats: Stats, decode_start: Instant, generated: usize) -> Stats {
    // The first token came from the prefill's logits; decoding produced the rest.
    stats.decode_seconds = decode_start.elapsed().as_secs_f64();
    if generated > 1 {
        stats.decode_tokens_per_second = (generated - 1) as f64 / stats.decode_seconds.max(1e-9);
    }
    stats
}

impl Model {
    /// Generates after `prompt` on MLX from a fresh cache (see [`PromptCache::generate`]).
    pub fn generate(
        &self,
        prompt: &[u32],
        options: &GenerateOptions,
        cancelled: &dyn Fn() -> bool,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Stats), EngineError> {
        PromptCache::new(Mlx::new(self)).generate(prompt, options, cancelled, on_token)
    }
}
