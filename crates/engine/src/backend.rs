//! The engine seam: what generation needs from whatever runs the model. Two backends implement
//! it: MLX ([`Mlx`], Metal on macOS and the CPU backend elsewhere, this crate's own forward pass)
//! and llama.cpp ([`crate::llamacpp::LlamaCpp`], all CPU cores, on Linux by default). Sampling,
//! stop tokens, cancellation, the kept prompt cache with its restore marks and the figures under
//! a reply live once, above the seam, in [`crate::generate`]: both backends behave alike because
//! they share everything but the forward pass and the KV state.

use std::fmt;
use std::str::FromStr;

use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;
use serde::{Deserialize, Serialize};

use crate::cache::{KvCache, KvSnapshot};
use crate::{EngineError, Model};

/// Runs tokens through the model on top of a KV state it owns.
pub trait Backend {
    /// A point the KV state can return to (see [`Backend::mark`]).
    type Mark;

    /// Token ids run from 0 to this (exclusive).
    fn vocab_size(&self) -> usize;

    /// Runs `tokens` after the positions the state holds; returns the logits after the last one.
    fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, EngineError>;

    /// What it takes to return to the state as it is now. Sliding-window layers forget, so a
    /// mark keeps their window; full layers only need positions after the mark dropped.
    fn mark(&mut self) -> Result<Self::Mark, EngineError>;

    /// Returns to `mark`, taken when the state held `len` positions (at or before now, with no
    /// restore to a later mark in between).
    fn restore(&mut self, mark: &Self::Mark, len: usize) -> Result<(), EngineError>;

    /// Forgets every position.
    fn clear(&mut self);

    /// Starts a new high-water mark for [`Backend::peak_memory`].
    fn reset_peak_memory(&mut self) {}

    /// The most memory held since [`Backend::reset_peak_memory`], in bytes (0 if unknown).
    fn peak_memory(&self) -> u64;
}

/// Which backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Mlx,
    #[serde(rename = "llamacpp")]
    LlamaCpp,
}

impl BackendKind {
    pub const ALL: [BackendKind; 2] = [BackendKind::Mlx, BackendKind::LlamaCpp];

    /// MLX where it has a GPU (Metal on macOS); llama.cpp elsewhere, where MLX's CPU backend runs
    /// gpt-oss at about a core's speed and llama.cpp uses them all.
    pub fn platform_default() -> Self {
        // An x86 processor older than llama.cpp's build (before 2013) gets MLX's CPU backend.
        if cfg!(target_os = "macos") || !crate::llamacpp::missing_cpu_features().is_empty() {
            BackendKind::Mlx
        } else {
            BackendKind::LlamaCpp
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Mlx => "mlx",
            BackendKind::LlamaCpp => "llamacpp",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mlx" => Ok(BackendKind::Mlx),
            "llamacpp" | "llama.cpp" | "llama" => Ok(BackendKind::LlamaCpp),
            other => Err(format!(
                "unknown backend {other:?} (expected mlx or llamacpp)"
            )),
        }
    }
}

/// The MLX backend: [`Model::forward`] over per-layer [`KvCache`]s.
pub struct Mlx<'m> {
    model: &'m Model,
    layers: Vec<KvCache>,
}

impl<'m> Mlx<'m> {
    pub fn new(model: &'m Model) -> Self {
        Mlx {
            model,
            layers: model.new_cache(),
        }
    }
}

impl Backend for Mlx<'_> {
    type Mark = Vec<KvSnapshot>;

    fn vocab_size(&self) -> usize {
        self.model.config.vocab_size as usize
    }

    fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let out = self.model.forward(
            &Array::from_slice(&ids, &[1, ids.len() as i32]),
            &mut self.layers,
            false,
        )?;
        if tokens.len() > 1 {
            // A prefill chunk evaluates the cache with it, so the lazy graph stays one chunk deep.
            let mut arrays: Vec<&Array> = self.layers.iter().flat_map(|c| c.arrays()).collect();
            arrays.push(&out);
            mlx_rs::transforms::eval(arrays)?;
        }
        let row = out.index((0, -1));
        row.eval()?;
        Ok(row.as_slice::<f32>().to_vec())
    }

    fn mark(&mut self) -> Result<Self::Mark, EngineError> {
        Ok(self.layers.iter().map(KvCache::snapshot).collect())
    }

    fn restore(&mut self, mark: &Self::Mark, _len: usize) -> Result<(), EngineError> {
        for (layer, snapshot) in self.layers.iter_mut().zip(mark) {
            layer.restore(snapshot);
        }
        Ok(())
    }

    fn clear(&mut self) {
        self.layers = self.model.new_cache();
    }

    fn reset_peak_memory(&mut self) {
        let _ = mlx_rs::memory::reset_peak_memory();
    }

    fn peak_memory(&self) -> u64 {
        mlx_rs::memory::peak_memory().unwrap_or(0) as u64
    }
}
