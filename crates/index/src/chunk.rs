//! Splitting a document's text into chunks for retrieval: whole sentences and lines packed up to a
//! token budget, with a few sentences of overlap, counted in o200k (the tokenizer Context-1's
//! harmony encoding extends), so a chunk's size is what the model will read.

use serde::Serialize;
use tiktoken_rs::CoreBPE;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub index: usize,
    pub text: String,
    /// Byte range in the document's text.
    pub start: usize,
    pub end: usize,
    pub tokens: usize,
}

/// The library's chunk size and overlap, in o200k tokens, chosen with `fathom search-bench`
/// (hybrid nDCG@10, all-MiniLM-L6-v2 + BM25): SciFact 256/32 0.7008, 384/48 0.7123, 512/64 0.7127;
/// Cranfield 0.4118, 0.4160, 0.4154. 384 ties 512 and keeps more of each chunk inside the
/// embedder's 256-word-piece window, and the agent's budget holds more, finer chunks.
pub const CHUNK_TOKENS: usize = 384;
pub const OVERLAP_TOKENS: usize = 48;

pub struct Chunker {
    bpe: &'static CoreBPE,
    /// Most tokens in a chunk.
    pub max_tokens: usize,
    /// Tokens repeated from the end of one chunk at the start of the next.
    pub overlap_tokens: usize,
}

/// Pieces of text that a chunk boundary should not cut: lines, and sentences within long lines.
fn segments(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end_of_sentence =
            matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1).is_some_and(|n| *n == b' ');
        if b == b'\n' || end_of_sentence {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push((start, text.len()));
    }
    out
}

impl Default for Chunker {
    fn default() -> Self {
        Chunker::new(CHUNK_TOKENS, OVERLAP_TOKENS)
    }
}

impl Chunker {
    pub fn new(max_tokens: usize, overlap_tokens: usize) -> Self {
        Chunker {
            bpe: tiktoken_rs::o200k_base_singleton(),
            max_tokens: max_tokens.max(16),
            overlap_tokens: overlap_tokens.min(max_tokens / 2),
        }
    }

    pub fn count(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    pub fn chunk(&self, text: &str) -> Vec<Chunk> {
        // Segments with their token counts; a segment longer than a chunk is cut at word breaks.
        let mut pieces: Vec<(usize, usize, usize)> = Vec::new();
        for (s, e) in segments(text) {
            let n = self.count(&text[s..e]);
            if n <= self.max_tokens {
                pieces.push((s, e, n));
                continue;
            }
            let mut from = s;
            let mut acc = 0;
            let mut last = s;
            for (off, word) in text[s..e]
                .split_inclusive(char::is_whitespace)
                .scan(s, |pos, w| {
                    let at = *pos;
                    *pos += w.len();
                    Some((at, w))
                })
            {
                let wn = self.count(word).max(1);
                if acc + wn > self.max_tokens && last > from {
                    pieces.push((from, last, acc));
                    from = last;
                    acc = 0;
                }
                acc += wn;
                last = off + word.len();
            }
            if last > from {
                pieces.push((from, last, acc));
            }
        }
        let mut chunks = Vec::new();
        let mut i = 0;
        while i < pieces.len() {
            let mut j = i;
            let mut tokens = 0;
            while j < pieces.len() && (j == i || tokens + pieces[j].2 <= self.max_tokens) {
                tokens += pieces[j].2;
                j += 1;
            }
            let (start, end) = (pieces[i].0, pieces[j - 1].1);
            let body = &text[start..end];
            if !body.trim().is_empty() {
                chunks.push(Chunk {
                    index: chunks.len(),
                    text: body.to_string(),
                    start,
                    end,
                    tokens: self.count(body),
                });
            }
            if j >= pieces.len() {
                break;
            }
            // Step back over whole pieces worth at most the overlap, but always move forward.
            let mut k = j;
            let mut back = 0;
            while k > i + 1 && back + pieces[k - 1].2 <= self.overlap_tokens {
                back += pieces[k - 1].2;
                k -= 1;
            }
            i = k;
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_budget_cover_the_text_and_overlap() {
        let c = Chunker::new(40, 10);
        let text: String = (0..60)
            .map(|i| format!("Sentence number {i} talks about topic {i}. "))
            .collect();
        let chunks = c.chunk(&text);
        assert!(chunks.len() > 5);
        for ch in &chunks {
            assert!(ch.tokens <= 40, "{} tokens", ch.tokens);
            assert_eq!(&text[ch.start..ch.end], ch.text);
        }
        assert_eq!(chunks[0].start, 0);
        assert_eq!(chunks.last().unwrap().end, text.len());
        for w in chunks.windows(2) {
            assert!(w[1].start < w[0].end, "consecutive chunks overlap");
            assert!(w[1].start > w[0].start, "and move forward");
        }
        assert_eq!(
            chunks.iter().map(|c| c.index).collect::<Vec<_>>(),
            (0..chunks.len()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_line_without_breaks_is_cut_at_words_and_token_counts_are_o200k() {
        let c = Chunker::new(32, 0);
        let line = "word ".repeat(500);
        let chunks = c.chunk(&line);
        assert!(chunks.len() >= 15);
        assert!(chunks.iter().all(|ch| ch.tokens <= 32));
        // o200k: "hello world" is two tokens.
        assert_eq!(c.count("hello world"), 2);
        assert!(c.chunk("   \n\n  ").is_empty());
    }
}
