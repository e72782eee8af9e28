//! The token budget the model works within: what the conversation may grow to, where results
//! start being cut, and where everything but pruning is refused.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Tokens the whole conversation may take.
    pub total: usize,
    /// Past this, every tool but `prune_chunks` is refused.
    pub hard_cutoff: usize,
    /// Kept free for the model's own replies once past half the budget.
    pub reply_reserve: usize,
    /// The most one tool call may return, in tokens.
    pub per_call: usize,
}

impl Budget {
    /// A budget of `total` tokens: the hard cutoff at 85 %, a reserve of a sixteenth for replies,
    /// and at most an eighth per call.
    pub fn new(total: usize) -> Budget {
        Budget {
            total,
            hard_cutoff: total * 85 / 100,
            reply_reserve: total / 16,
            per_call: (total / 8).max(256),
        }
    }

    /// Tokens a tool's results may take when the conversation holds `used`: the per-call cap
    /// while under half the budget, then only what is left above the reply reserve.
    pub fn room(&self, used: usize) -> usize {
        if used < self.total / 2 {
            self.per_call
        } else {
            self.per_call
                .min(self.total.saturating_sub(self.reply_reserve + used))
        }
    }

    pub fn past_cutoff(&self, used: usize) -> bool {
        used >= self.hard_cutoff
    }

    /// The line that ends every observation, as the model was trained to read it.
    pub fn usage_line(&self, used: usize) -> String {
        format!(
            "[Token usage: {}/{}]",
            thousands(used),
            thousands(self.total)
        )
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(32_768)
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_line_and_room() {
        let b = Budget::default();
        assert_eq!(b.usage_line(14_203), "[Token usage: 14,203/32,768]");
        assert_eq!(b.usage_line(7), "[Token usage: 7/32,768]");
        assert_eq!(b.room(1000), 4096);
        // Past half: what is left above the reserve (32768 - 2048 - 28000 = 2720).
        assert_eq!(b.room(28_000), 2720);
        assert_eq!(b.room(31_000), 0);
        assert!(!b.past_cutoff(27_851) && b.past_cutoff(27_852));
    }
}
