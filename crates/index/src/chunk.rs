//! Splitting a document's text into chunks for retrieval: whole sentences and lines packed up to a
//! token budget, with a few sentences of overlap, counted in o200k (the tokenizer Context-1's
//! harmony encoding extends), so a chunk's size is what the model will read.
//!
//! The text is tokenised once, front to back: its o200k pre-tokens (the pieces BPE never merges
//! across) are the units; sentence and line ends are found among them, and a chunk's size is the
//! sum of its pre-tokens' counts. Counting each sentence and then each chunk again cost more than
//! all the rest of indexing together.
//!
//! ```
//! use fathom_index::Chunker;
//! let chunker = Chunker::new(32, 8);
//! let text = "One short sentence. ".repeat(40);
//! let chunks = chunker.chunk(&text);
//! assert!(chunks.len() > 5 && chunks.iter().all(|c| c.tokens <= 32));
//! assert_eq!(&text[chunks[1].start..chunks[1].end], chunks[1].text);
//! ```

use std::collections::HashMap;

use compact_str::CompactString;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub index: usize,
    pub text: String,
    /// Byte range in the document's text.
    pub start: usize,
    pub end: usize,
    /// o200k tokens, as the document's own tokenisation splits them (the text alone, cut out of
    /// the document, can differ by a token at either edge, where a run of blank lines was cut).
    pub tokens: usize,
}

/// The library's chunk size and overlap, in o200k tokens, chosen with `fathom search-bench`
/// (hybrid nDCG@10, all-MiniLM-L6-v2 + BM25): SciFact 256/32 0.7008, 384/48 0.7123, 512/64 0.7127;
/// Cranfield 0.4118, 0.4160, 0.4154. 384 ties 512 and keeps more of each chunk inside the
/// embedder's 256-word-piece window, and the agent's budget holds more, finer chunks.
pub const CHUNK_TOKENS: usize = 384;
pub const OVERLAP_TOKENS: usize = 48;

/// Cuts texts into chunks. Cheap to clone: the tokenizer is shared by the whole process.
#[derive(Clone)]
pub struct Chunker {
    /// o200k from `bpe-openai` (GitHub's BPE): the same tokens as tiktoken (tested below), about
    /// 1.7 times as fast on the library's texts, and its pre-tokenizer is exposed, which the
    /// single pass above needs.
    bpe: &'static bpe_openai::Tokenizer,
    /// Most tokens in a chunk.
    pub max_tokens: usize,
    /// Tokens repeated from the end of one chunk at the start of the next.
    pub overlap_tokens: usize,
}

/// A stretch of text with its token count: a pre-token, or a run of them no chunk boundary cuts.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    tokens: usize,
}

thread_local! {
    /// Pre-tokens' counts already worked out on this thread (an indexing worker's), across
    /// documents: words repeat (Zipf), and a lookup costs a fraction of BPE's merges, so this
    /// nearly doubles chunking. Emptied when it grows past a few MB. Keys up to 24 bytes (nearly
    /// all) are held in the table's slots, not behind a pointer (see the analyzer's cache).
    static COUNTS: std::cell::RefCell<HashMap<CompactString, u32, foldhash::fast::RandomState>> =
        std::cell::RefCell::new(HashMap::default());
}

const CACHED_BYTES: usize = 32;
const CACHED_ENTRIES: usize = 200_000;

fn counted(pre: &str, count: impl Fn(&str) -> usize) -> usize {
    // Every byte is a token of its own in o200k; longer pre-tokens are rare and would only fill
    // the cache.
    match pre.len() {
        0 => return 0,
        1 => return 1,
        n if n > CACHED_BYTES => return count(pre),
        _ => {}
    }
    COUNTS.with_borrow_mut(|cache| {
        if let Some(&n) = cache.get(pre) {
            return n as usize;
        }
        if cache.len() >= CACHED_ENTRIES {
            cache.clear();
        }
        let n = count(pre);
        cache.insert(CompactString::new(pre), n as u32);
        n
    })
}

/// o200k's pre-tokens of an ASCII text, as its pattern (in `bpe-openai`'s form) splits it:
///
/// ```text
/// [^\r\n\p{L}\p{N}]?[\p{Lu}…]*[\p{Ll}…]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// | [^\r\n\p{L}\p{N}]?[\p{Lu}…]+[\p{Ll}…]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// | \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+$ | \s+(?!\S) | \s+
/// ```
///
/// By hand because the pattern's general automaton (Unicode classes, one alternative after
/// another) was most of chunking's time; over ASCII each alternative is a run of one byte class.
/// `the_ascii_split_is_the_patterns` checks it against the pattern on random and real texts.
struct AsciiPreTokens<'a> {
    text: &'a str,
    at: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Neither space, letter nor digit.
fn is_other(b: u8) -> bool {
    !is_space(b) && !b.is_ascii_alphanumeric()
}

impl<'a> Iterator for AsciiPreTokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.text.as_bytes();
        let (i, n) = (self.at, s.len());
        if i >= n {
            return None;
        }
        let at = |k: usize| s.get(k).copied();
        let run = |mut k: usize, class: fn(u8) -> bool| {
            while k < n && class(s[k]) {
                k += 1;
            }
            k
        };
        let c = s[i];
        let letter_at = |k: usize| at(k).is_some_and(|b| b.is_ascii_alphabetic());
        // A word, after at most one character that is no line break, letter or digit.
        let word = if c.is_ascii_alphabetic() {
            Some(i)
        } else if !matches!(c, b'\r' | b'\n') && !c.is_ascii_digit() && letter_at(i + 1) {
            Some(i + 1)
        } else {
            None
        };
        let end = if let Some(j) = word {
            // Capitals then small letters; either alternative ends where the small ones do.
            let mut end = run(run(j, |b| b.is_ascii_uppercase()), |b| {
                b.is_ascii_lowercase()
            });
            if at(end) == Some(b'\'') {
                let next = |k: usize| at(end + k).map(|b| b.to_ascii_lowercase());
                end += match (next(1), next(2)) {
                    (Some(b's' | b't' | b'm' | b'd'), _) => 2,
                    (Some(b'r'), Some(b'e'))
                    | (Some(b'v'), Some(b'e'))
                    | (Some(b'l'), Some(b'l')) => 3,
                    _ => 0,
                };
            }
            end
        } else if c.is_ascii_digit() {
            run(i, |b| b.is_ascii_digit()).min(i + 3)
        } else if is_other(c) || (c == b' ' && at(i + 1).is_some_and(is_other)) {
            let k = run(i + usize::from(c == b' '), is_other);
            run(k, |b| matches!(b, b'\r' | b'\n' | b'/'))
        } else {
            // Spaces: through the last line break among them, or all of them at the end of the
            // text, or all but the last (which goes with what follows), or the one.
            let w = run(i, is_space);
            match s[i..w].iter().rposition(|b| matches!(b, b'\r' | b'\n')) {
                Some(last) => i + last + 1,
                None if w == n => w,
                None if w - i >= 2 => w - 1,
                None => w,
            }
        };
        self.at = end;
        Some(&self.text[i..end])
    }
}

impl Default for Chunker {
    fn default() -> Self {
        Chunker::new(CHUNK_TOKENS, OVERLAP_TOKENS)
    }
}

impl Chunker {
    pub fn new(max_tokens: usize, overlap_tokens: usize) -> Self {
        Chunker {
            bpe: bpe_openai::o200k_base(),
            max_tokens: max_tokens.max(16),
            overlap_tokens: overlap_tokens.min(max_tokens / 2),
        }
    }

    /// o200k tokens in `text`, exactly as tiktoken's `encode_ordinary` counts them.
    pub fn count(&self, text: &str) -> usize {
        self.bpe.count(text)
    }

    pub fn chunk(&self, text: &str) -> Vec<Chunk> {
        let pieces = self.pieces(text);
        let mut chunks = Vec::new();
        let mut i = 0;
        while i < pieces.len() {
            let mut j = i;
            let mut tokens = 0;
            while j < pieces.len() && (j == i || tokens + pieces[j].tokens <= self.max_tokens) {
                tokens += pieces[j].tokens;
                j += 1;
            }
            let (start, end) = (pieces[i].start, pieces[j - 1].end);
            let body = &text[start..end];
            if !body.trim().is_empty() {
                chunks.push(Chunk {
                    index: chunks.len(),
                    text: body.to_string(),
                    start,
                    end,
                    tokens,
                });
            }
            if j >= pieces.len() {
                break;
            }
            // Step back over whole pieces worth at most the overlap, but always move forward.
            let mut k = j;
            let mut back = 0;
            while k > i + 1 && back + pieces[k - 1].tokens <= self.overlap_tokens {
                back += pieces[k - 1].tokens;
                k -= 1;
            }
            i = k;
        }
        chunks
    }

    /// The pieces a chunk boundary may fall between: lines and sentences, and within one longer
    /// than a chunk, runs of words (a single word longer than a chunk stays whole).
    fn pieces(&self, text: &str) -> Vec<Span> {
        let mut pieces = Vec::new();
        let mut segment: Vec<Span> = Vec::new();
        let mut at = 0;
        let mut ascii;
        let mut regex;
        // ASCII text (most text and code) is split by hand, the same pieces several times faster
        // than the pattern's automaton; anything else by `bpe-openai`'s.
        let pres: &mut dyn Iterator<Item = &str> = if text.is_ascii() {
            ascii = AsciiPreTokens { text, at: 0 };
            &mut ascii
        } else {
            regex = self.bpe.split(text);
            &mut regex
        };
        for pre in pres {
            let span = Span {
                start: at,
                end: at + pre.len(),
                tokens: counted(pre, |p| self.bpe.bpe.count(p.as_bytes())),
            };
            at = span.end;
            segment.push(span);
            // A line ends in a pre-token holding its newline; a sentence in one ending in . ! or ?
            // before a space (the space starts the next pre-token).
            let ends_sentence = pre.ends_with(['.', '!', '?'])
                && text.as_bytes().get(at).is_some_and(|b| *b == b' ');
            if pre.contains('\n') || ends_sentence {
                self.split_segment(text, &segment, &mut pieces);
                segment.clear();
            }
        }
        self.split_segment(text, &segment, &mut pieces);
        pieces
    }

    /// One line or sentence as pieces: whole when it fits a chunk, else cut greedily before the
    /// last word start that keeps each piece within the budget.
    fn split_segment(&self, text: &str, seg: &[Span], out: &mut Vec<Span>) {
        let Some(first) = seg.first() else { return };
        let total: usize = seg.iter().map(|s| s.tokens).sum();
        if total <= self.max_tokens {
            out.push(Span {
                start: first.start,
                end: seg[seg.len() - 1].end,
                tokens: total,
            });
            return;
        }
        let starts_word = |i: usize| {
            text[seg[i].start..].starts_with(char::is_whitespace)
                || text[..seg[i].start].ends_with(char::is_whitespace)
        };
        let (mut from, mut acc, mut i) = (0, 0, 0);
        // Where the latest word starts in the current piece, and the tokens before it.
        let mut word: Option<(usize, usize)> = None;
        while i < seg.len() {
            if i > from && starts_word(i) && word.is_none_or(|w| w.0 != i) {
                word = Some((i, acc));
            }
            if acc + seg[i].tokens > self.max_tokens && i > from {
                let (cut, before) = word.filter(|w| w.0 > from).unwrap_or((i, acc));
                out.push(Span {
                    start: seg[from].start,
                    end: seg[cut - 1].end,
                    tokens: before,
                });
                acc -= before;
                from = cut;
                word = None;
                continue;
            }
            acc += seg[i].tokens;
            i += 1;
        }
        out.push(Span {
            start: seg[from].start,
            end: seg[seg.len() - 1].end,
            tokens: acc,
        });
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
        // Cut between words, never inside one.
        for w in chunks.windows(2) {
            assert!(w[0].text.ends_with(' ') || w[1].text.starts_with(' '));
        }
    }

    /// Prose, code, blank-line runs, CRLF, accents, CJK, emoji, numbers, a line far longer than a
    /// chunk and one word longer than a chunk.
    fn mixed_text() -> String {
        let mut t = String::new();
        for i in 0..40 {
            t.push_str(&format!(
                "Paragraph {i}: the café's naïve façade (built 19{i:02}) isn't what it was! Why? \
                 Nobody knows.\r\n\n\n   fn main() {{ let x_{i} = vec![1, 2, 3]; }}\n\t\t日本語のテキスト、\
                 中文文本。한국어 🎉🎉 {}\n\n",
                i * 7919
            ));
        }
        t.push_str(&"a long line of words without any break ".repeat(200));
        t.push_str(&"x".repeat(3000));
        t.push_str("\nThe end.");
        t
    }

    #[test]
    fn the_ascii_split_is_the_patterns() {
        let bpe = bpe_openai::o200k_base();
        let same = |text: &str| {
            let ours: Vec<&str> = AsciiPreTokens { text, at: 0 }.collect();
            let theirs: Vec<&str> = bpe.split(text).collect();
            assert_eq!(ours, theirs, "{text:?}");
        };
        // Every class the pattern tells apart, and the contractions' letters.
        let alphabet: &[u8] = b"aZsStTmMdDrReEvVlLqQ09'  \t\n\r\x0b\x0c./-_(\"!?\x00\x7f";
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in (0..3000).map(|i| i % 40) {
            let text: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize] as char
                })
                .collect();
            same(&text);
        }
        let ascii: String = mixed_text().chars().filter(char::is_ascii).collect();
        same(&ascii);
        same(
            &include_str!("chunk.rs")
                .chars()
                .filter(char::is_ascii)
                .collect::<String>(),
        );
        for text in [
            "",
            " ",
            "\n",
            "a",
            "  \n  x",
            "DON'T don'tcha I'LL it'sx",
            "x  ",
            "1234567",
            " .\n/x",
        ] {
            same(text);
        }
    }

    #[test]
    fn counts_are_tiktokens_o200k() {
        let c = Chunker::default();
        let tiktoken = tiktoken_rs::o200k_base_singleton();
        let text = mixed_text();
        for piece in text.split_inclusive('\n').chain([text.as_str()]) {
            assert_eq!(
                c.count(piece),
                tiktoken.encode_ordinary(piece).len(),
                "{piece:?}"
            );
        }
    }

    #[test]
    fn a_chunks_count_is_its_texts_within_a_token_at_each_edge() {
        let text = mixed_text();
        for (max, overlap) in [(32, 8), (64, 0), (384, 48)] {
            let c = Chunker::new(max, overlap);
            let chunks = c.chunk(&text);
            assert!(chunks.len() > 3, "{max}: {} chunks", chunks.len());
            for ch in &chunks {
                let alone = c.count(&ch.text);
                assert!(
                    ch.tokens.abs_diff(alone) <= 2,
                    "{max}: counted {} but the text alone is {alone}: {:?}",
                    ch.tokens,
                    ch.text
                );
                // Over budget only for the one word longer than a chunk.
                assert!(
                    ch.tokens <= max || ch.text.contains(&"x".repeat(1000)),
                    "{ch:?}"
                );
            }
            assert_eq!(chunks.last().unwrap().end, text.len());
        }
    }
}
