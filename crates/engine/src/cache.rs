//! Per-layer key/value caches. Full-attention layers keep every position in a buffer that grows
//! in steps of 256 and is written in place (as mlx-lm's `KVCache` does), so a decode step copies
//! one position, not the whole history. Sliding-window layers keep only the last `window - 1`
//! positions, all a later query can still see.

use mlx_rs::ops::concatenate;
use mlx_rs::ops::indexing::{IndexOp, TryIndexMutOp};
use mlx_rs::ops::zeros_dtype;
use mlx_rs::Array;

use crate::EngineError;

/// Growth step of full-attention buffers, in positions.
const STEP: i32 = 256;

pub struct KvCache {
    /// `None` for full attention; `Some(w)` for a sliding window of `w` positions.
    window: Option<i32>,
    keys: Option<Array>,
    values: Option<Array>,
    /// Positions seen so far (the absolute position of the next token).
    pub offset: i32,
}

/// A point a [`KvCache`] can return to (see [`KvCache::snapshot`]).
#[derive(Clone)]
pub struct KvSnapshot {
    offset: i32,
    held: Option<(Array, Array)>,
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
        match self.window {
            None => self.update_full(keys, values),
            Some(w) => self.update_sliding(keys, values, w),
        }
    }

    fn update_full(&mut self, keys: Array, values: Array) -> Result<Attend, EngineError> {
        let prev = self.offset;
        let new = keys.shape()[2];
        let capacity = self.keys.as_ref().map_or(0, |k| k.shape()[2]);
        if prev + new > capacity {
            let grow = (new + STEP - 1) / STEP * STEP;
            let widen = |old: Option<Array>, like: &Array| -> Result<Array, EngineError> {
                let s = like.shape();
                let fresh = zeros_dtype(&[s[0], s[1], grow, s[3]], like.dtype())?;
                Ok(match old {
                    Some(old) => concatenate(&[old.index((.., .., ..prev)), fresh], 2)?,
                    None => fresh,
                })
            };
            self.keys = Some(widen(self.keys.take(), &keys)?);
            self.values = Some(widen(self.values.take(), &values)?);
        }
        let (k, v) = (
            self.keys.as_mut().expect("allocated"),
            self.values.as_mut().expect("allocated"),
        );
        k.try_index_mut((.., .., prev..prev + new), &keys)?;
        v.try_index_mut((.., .., prev..prev + new), &values)?;
        self.offset += new;
        Ok(Attend {
            keys: k.index((.., .., ..self.offset)),
            values: v.index((.., .., ..self.offset)),
            first_key: 0,
        })
    }

    fn update_sliding(
        &mut self,
        keys: Array,
        values: Array,
        window: i32,
    ) -> Result<Attend, EngineError> {
        let new = keys.shape()[2];
        let (keys, values) = match (self.keys.take(), self.values.take()) {
            (Some(k), Some(v)) => (concatenate(&[k, keys], 2)?, concatenate(&[v, values], 2)?),
            _ => (keys, values),
        };
        let len = keys.shape()[2];
        let first_key = self.offset + new - len;
        self.offset += new;
        let keep = (window - 1).min(len);
        self.keys = Some(keys.index((.., .., len - keep..)));
        self.values = Some(values.index((.., .., len - keep..)));
        Ok(Attend {
            keys,
            values,
            first_key,
        })
    }

    /// What it takes to return to this point later. Full layers only need the offset (later
    /// positions are written after it, never over it); sliding layers rotate, so they keep their
    /// arrays, which MLX shares rather than copies.
    pub fn snapshot(&self) -> KvSnapshot {
        KvSnapshot {
            offset: self.offset,
            held: self.window.and(self.keys.clone().zip(self.values.clone())),
        }
    }

    /// Returns to a snapshot taken from this cache, at or before its current offset, with no
    /// restore to a later snapshot in between.
    pub fn restore(&mut self, snapshot: &KvSnapshot) {
        debug_assert!(snapshot.offset <= self.offset);
        self.offset = snapshot.offset;
        if self.window.is_some() {
            match &snapshot.held {
                Some((k, v)) => {
                    self.keys = Some(k.clone());
                    self.values = Some(v.clone());
                }
                None => {
                    self.keys = None;
                    self.values = None;
                }
            }
        }
    }

    /// Makes the cache look as if `positions` tokens had been seen, holding zeros shaped like
    /// `like` (`[B, heads, _, D]`). For memory benchmarks only: the last chunk of a long prompt
    /// allocates what the whole prompt would, without computing the positions before it.
    pub fn preload(&mut self, positions: i32, like: &Array) -> Result<(), EngineError> {
        let s = like.shape();
        let held = match self.window {
            None => (positions + STEP - 1) / STEP * STEP,
            Some(w) => (w - 1).min(positions),
        };
        self.keys = Some(zeros_dtype(&[s[0], s[1], held, s[3]], like.dtype())?);
        self.values = Some(zeros_dtype(&[s[0], s[1], held, s[3]], like.dtype())?);
        self.offset = positions;
        Ok(())
    }

    /// The arrays held, to evaluate them together with a forward pass's output.
    pub fn arrays(&self) -> impl Iterator<Item = &Array> {
        self.keys.iter().chain(self.values.iter())
    }

    /// Positions held: all of them on full layers, at most `window - 1` on sliding ones.
    pub fn len(&self) -> i32 {
        match self.window {
            None => self.offset,
            Some(_) => self.keys.as_ref().map_or(0, |k| k.shape()[2]),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Positions of storage allocated (full layers grow in steps of 256).
    pub fn capacity(&self) -> i32 {
        self.keys.as_ref().map_or(0, |k| k.shape()[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlx_rs::ops::{abs, arange};

    /// `[1, 2, n, 4]` whose values encode their absolute positions.
    fn positions(start: i32, n: i32) -> Array {
        arange::<_, f32>(start * 8, (start + n) * 8, None)
            .unwrap()
            .reshape(&[1, n, 2, 4])
            .unwrap()
            .swap_axes(1, 2)
            .unwrap()
    }

    fn same(a: &Array, b: &Array) -> bool {
        a.shape() == b.shape() && {
            let m = abs(a.subtract(b).unwrap()).unwrap().max(None).unwrap();
            m.eval().unwrap();
            m.item_exact::<f32>() == 0.0
        }
    }

    #[test]
    fn full_cache_grows_in_steps_and_keeps_every_position() {
        let mut cache = KvCache::full();
        let seen = cache.update(positions(0, 200), positions(0, 200)).unwrap();
        assert!(same(&seen.keys, &positions(0, 200)));
        assert_eq!(cache.capacity(), 256);
        for p in 200..300 {
            let seen = cache.update(positions(p, 1), positions(p, 1)).unwrap();
            assert_eq!(seen.keys.shape()[2], p + 1);
        }
        assert_eq!(cache.capacity(), 512);
        let seen = cache.update(positions(300, 3), positions(300, 3)).unwrap();
        assert!(same(&seen.keys, &positions(0, 303)));
        assert!(same(&seen.values, &positions(0, 303)));
        assert_eq!((seen.first_key, cache.len()), (0, 303));
    }

    #[test]
    fn sliding_cache_keeps_the_window_minus_one() {
        let mut cache = KvCache::sliding(8);
        let seen = cache.update(positions(0, 20), positions(0, 20)).unwrap();
        assert_eq!((seen.first_key, seen.keys.shape()[2]), (0, 20));
        assert_eq!(cache.len(), 7);
        let seen = cache.update(positions(20, 1), positions(20, 1)).unwrap();
        assert_eq!(seen.first_key, 13);
        assert!(same(&seen.keys, &positions(13, 8)));
        let seen = cache.update(positions(21, 5), positions(21, 5)).unwrap();
        assert_eq!(seen.first_key, 14);
        assert!(same(&seen.keys, &positions(14, 12)));
        assert_eq!(cache.offset, 26);
    }
}
