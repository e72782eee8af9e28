//! Choosing the next token from the logits: greedy, or sampled with temperature, top-k, min-p and
//! top-p, from a seeded generator so that a seed reproduces a run exactly.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// 0 is greedy.
    pub temperature: f32,
    /// Keep the smallest set of tokens whose probability adds up to this (1 keeps all).
    pub top_p: f32,
    /// Keep only the k most likely tokens (0 keeps all).
    pub top_k: usize,
    /// Drop tokens less likely than this fraction of the most likely one (0 keeps all).
    pub min_p: f32,
    pub seed: Option<u64>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            seed: None,
        }
    }
}

impl SamplingParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(format!(
                "temperature must be 0 or more, not {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top-p must be in (0, 1], not {}", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(format!("min-p must be in [0, 1], not {}", self.min_p));
        }
        Ok(())
    }
}

pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let seed = params.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        Sampler {
            params,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The next token for one row of logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let p = self.params;
        if p.temperature == 0.0 || p.top_k == 1 {
            return argmax(logits);
        }
        // Candidates: the top k (all without top-k). Only top-p needs them in order, and sorting
        // gpt-oss's 201k-token vocabulary on every token would cost more than the sampling.
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        let keep = if p.top_k > 0 {
            p.top_k.min(order.len())
        } else {
            order.len()
        };
        let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
        if keep < order.len() {
            order.select_nth_unstable_by(keep - 1, by_logit);
            order.truncate(keep);
        }
        if p.top_p < 1.0 {
            order.sort_unstable_by(by_logit);
        }

        let max = order
            .iter()
            .map(|&i| logits[i as usize])
            .fold(f32::NEG_INFINITY, f32::max) as f64;
        let t = p.temperature as f64;
        let mut probs: Vec<f64> = order
            .iter()
            .map(|&i| ((logits[i as usize] as f64 - max) / t).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= total);

        // min-p: relative to the most likely token, whose probability is exp(0) / total.
        if p.min_p > 0.0 {
            let floor = p.min_p as f64 / total;
            probs
                .iter_mut()
                .filter(|x| **x < floor)
                .for_each(|x| *x = 0.0);
        }
        // top-p: the smallest prefix (in order of likelihood) whose mass reaches top_p.
        if p.top_p < 1.0 {
            let mut mass = 0.0;
            for x in probs.iter_mut() {
                if mass >= p.top_p as f64 {
                    *x = 0.0;
                }
                mass += *x;
            }
        }
        let mass: f64 = probs.iter().sum();
        let mut r = self.rng.random::<f64>() * mass;
        let mut last = 0;
        for (i, &x) in probs.iter().enumerate() {
            if x == 0.0 {
                continue;
            }
            last = i;
            r -= x;
            if r <= 0.0 {
                return order[i];
            }
        }
        order[last]
    }
}

/// The index of the largest logit (the first, on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            seed: Some(1),
            ..Default::default()
        }
    }

    const LOGITS: [f32; 5] = [1.0, 3.0, 2.5, -1.0, 0.0];

    #[test]
    fn greedy_takes_the_largest() {
        assert_eq!(Sampler::new(params(0.0)).sample(&LOGITS), 1);
        let top1 = SamplingParams {
            top_k: 1,
            ..params(1.0)
        };
        assert_eq!(Sampler::new(top1).sample(&LOGITS), 1);
    }

    #[test]
    fn a_seed_reproduces_the_draws() {
        let draw = |seed| {
            let mut s = Sampler::new(SamplingParams {
                seed: Some(seed),
                ..params(1.0)
            });
            (0..50).map(|_| s.sample(&LOGITS)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn filters_limit_the_candidates() {
        let seen = |p: SamplingParams| {
            let mut s = Sampler::new(p);
            let mut seen: Vec<u32> = (0..400).map(|_| s.sample(&LOGITS)).collect();
            seen.sort();
            seen.dedup();
            seen
        };
        assert_eq!(seen(params(1.0)), vec![0, 1, 2, 3, 4]);
        assert_eq!(
            seen(SamplingParams {
                top_k: 2,
                ..params(1.0)
            }),
            vec![1, 2]
        );
        // exp(2.5-3) = 0.61 of the top token's probability; exp(1-3) = 0.14.
        assert_eq!(
            seen(SamplingParams {
                min_p: 0.5,
                ..params(1.0)
            }),
            vec![1, 2]
        );
        // The top token alone holds ~0.51 of the mass at temperature 1.
        assert_eq!(
            seen(SamplingParams {
                top_p: 0.5,
                ..params(1.0)
            }),
            vec![1]
        );
        assert_eq!(
            seen(SamplingParams {
                top_p: 0.8,
                ..params(1.0)
            }),
            vec![1, 2]
        );
    }

    #[test]
    fn low_temperature_concentrates_high_spreads() {
        let share = |t: f32| {
            let mut s = Sampler::new(params(t));
            (0..1000).filter(|_| s.sample(&LOGITS) == 1).count()
        };
        assert!(share(0.1) > 990);
        assert!(share(5.0) < 500);
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(SamplingParams {
            top_p: 0.0,
            ..params(1.0)
        }
        .validate()
        .is_err());
        assert!(SamplingParams {
            min_p: 2.0,
            ..params(1.0)
        }
        .validate()
        .is_err());
        assert!(params(-1.0).validate().is_err());
        assert!(params(0.7).validate().is_ok());
    }
}
