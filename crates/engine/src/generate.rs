//! Generation: chunked prefill, then one token at a time with the KV cache, sampling, stop
//! tokens, cancellation between tokens, and the figures a user sees under a reply.

use std::time::Instant;

use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;
use serde::Serialize;

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
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop_tokens: Vec::new(),
            prefill_chunk: 512,
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

fn last_row(logits: &Array) -> Result<Vec<f32>, EngineError> {
    let row = logits.index((0, -1));
    row.eval()?;
    Ok(row.as_slice::<f32>().to_vec())
}

impl Model {
    /// Generates after `prompt`, calling `on_token` with each new token as soon as it exists.
    /// `cancelled` is polled before every forward pass, so a cancel takes effect within one token.
    pub fn generate(
        &self,
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
        let _ = mlx_rs::memory::reset_peak_memory();
        let start = Instant::now();
        let mut sampler = Sampler::new(options.sampling);
        let mut cache = self.new_cache();
        let mut stats = Stats {
            prompt_tokens: prompt.len(),
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

        // Prefill in chunks; only the last position's logits are computed.
        let chunk = options.prefill_chunk.max(1);
        let mut logits = None;
        for piece in prompt.chunks(chunk) {
            if cancelled() {
                return finish(stats, Vec::new(), FinishReason::Cancelled);
            }
            let ids: Vec<i32> = piece.iter().map(|&t| t as i32).collect();
            let out = self.forward(
                &Array::from_slice(&ids, &[1, ids.len() as i32]),
                &mut cache,
                false,
            )?;
            // Evaluate per chunk (cache included) so the lazy graph stays one chunk deep.
            let mut arrays: Vec<&Array> = cache.iter().flat_map(|c| c.arrays()).collect();
            arrays.push(&out);
            mlx_rs::transforms::eval(arrays)?;
            logits = Some(out);
        }
        let mut row = last_row(&logits.expect("prompt is not empty"))?;
        stats.prefill_seconds = start.elapsed().as_secs_f64();
        stats.prefill_tokens_per_second = prompt.len() as f64 / stats.prefill_seconds.max(1e-9);

        let mut tokens = Vec::new();
        let decode_start = Instant::now();
        loop {
            let token = sampler.sample(&row);
            if tokens.is_empty() {
                stats.time_to_first_token_seconds = start.elapsed().as_secs_f64();
            }
            tokens.push(token);
            on_token(token);
            if options.stop_tokens.contains(&token) {
                return finish(
                    Self::decode_figures(stats, decode_start, tokens.len()),
                    tokens,
                    FinishReason::Stop,
                );
            }
            if tokens.len() >= options.max_tokens {
                return finish(
                    Self::decode_figures(stats, decode_start, tokens.len()),
                    tokens,
                    FinishReason::Length,
                );
            }
            if cancelled() {
                return finish(
                    Self::decode_figures(stats, decode_start, tokens.len()),
                    tokens,
                    FinishReason::Cancelled,
                );
            }
            let ids = Array::from_slice(&[token as i32], &[1, 1]);
            row = last_row(&self.forward(&ids, &mut cache, false)?)?;
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
