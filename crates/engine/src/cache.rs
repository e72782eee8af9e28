//! Per-layer key/value caches: full-attention layers keep every position; sliding-window layers
//! keep only the last `window - 1`, which is all a later query can still see.

use mlx_rs::ops::concatenate;
use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;

use crate::EngineError;

pub struct KvCache {
    /// `None` for full attention; `Some(w)` for a sliding window of `w` positions.
    window: Option<i32>,
    keys: Option<Array>,
    values: Option<Array>,
    /// Positions seen so far (the absolute position of the next token).
    pub offset: i32,
}

/// What an attention call sees after its keys and values join the cache.
pub struct Attend {
    pub keys: Array,
    pub values: Array,
    /// Absolute position of the first key.
    pub first_key: i32,
}

impl KvCache {
    pub fn full() -> Self {
        Self::new(None)
    }

    pub fn sliding(window: i32) -> Self {
        Self::new(Some(window))
    }

    fn new(window: Option<i32>) -> Self {
        KvCache {
            window,
            keys: None,
            values: None,
            offset: 0,
        }
    }

    pub fn window(&self) -> Option<i32> {
        self.window
    }

    /// Appends `[B, heads, S, D]` keys and values; returns everything the new queries may need.
    pub fn update(&mut self, keys: Array, values: Array) -> Result<Attend, EngineError> {
        let new = keys.shape()[2];
        let (keys, values) = match (self.keys.take(), self.values.take()) {
            (Some(k), Some(v)) => (concatenate(&[k, keys], 2)?, concatenate(&[v, values], 2)?),
            _ => (keys, values),
        };
        let len = keys.shape()[2];
        let first_key = self.offset + new - len;
        self.offset += new;
        // Keep only what a later query can see.
        let keep = match self.window {
            Some(w) => (w - 1).min(len),
            None => len,
        };
        if keep == len {
            self.keys = Some(keys.clone());
            self.values = Some(values.clone());
        } else {
            self.keys = Some(keys.index((.., .., len - keep..)));
            self.values = Some(values.index((.., .., len - keep..)));
        }
        Ok(Attend {
            keys,
            values,
            first_key,
        })
    }

    /// The arrays held, to evaluate them together with a forward pass's output.
    pub fn arrays(&self) -> impl Iterator<Item = &Array> {
        self.keys.iter().chain(self.values.iter())
    }

    /// Cached positions (for memory accounting and tests).
    pub fn len(&self) -> i32 {
        self.keys.as_ref().map_or(0, |k| k.shape()[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
