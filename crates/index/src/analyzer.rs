//! The BM25 analyzer in one pass: words (runs of letters and digits) shorter than 40 bytes,
//! ASCII-folded, lowercased, English stop words out, Snowball-stemmed (what BM25 baselines such
//! as Anserini's, the BEIR figures, use). The tokens are exactly those of tantivy's
//! `SimpleTokenizer` → `RemoveLongFilter(40)` → `AsciiFoldingFilter` → `LowerCaser` →
//! `StopWordFilter(English)` → `Stemmer(English)` (tests compare the two on varied text), so
//! indexes written by that chain stay valid.
//!
//! Why by hand: text follows Zipf's law, so most words repeat a word seen moments before, and
//! the chain redoes the same work for each (copying, folding and lower-casing, a stop-word
//! lookup, a stem-cache lookup; a fifth of tantivy's indexing CPU at a million chunks). Here a
//! word is looked up as it appears in the text, in a per-thread cache of what the chain made of
//! it (its stem, or nothing for a stop word), and only a word not seen before runs the chain —
//! tantivy's own filters, so the rules are theirs. No crate offers such a cache for tantivy.

use std::cell::RefCell;
use std::collections::HashMap;

use compact_str::CompactString;

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    Token, TokenStream, Tokenizer,
};

/// Words this long or longer are left out (tantivy's `RemoveLongFilter::limit(40)`: noise such
/// as hashes and base64, which would only bloat the term dictionary).
const MAX_WORD_BYTES: usize = 40;
/// Words remembered per thread before the cache starts over (a few MB at most).
const CACHE_WORDS: usize = 100_000;
/// Longer words run the chain every time: rare, and they would crowd the cache (and no longer
/// fit in its table's slots).
const CACHE_WORD_BYTES: usize = 24;

/// A word as written → what the chain made of it: its term, or `None` (a stop word). Both held
/// inline in the table (`CompactString` keeps up to 24 bytes in place, the cached words' limit):
/// with boxed strings each lookup chased two pointers to scattered allocations, and comparing
/// the key was a cache miss of its own (perf, 1M chunks: the key comparison alone was 7 % of
/// indexing's CPU).
type Cache = HashMap<CompactString, Option<CompactString>, foldhash::fast::RandomState>;

thread_local! {
    static WORDS: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The analyzer registered for the index's text fields.
pub fn english() -> TextAnalyzer {
    TextAnalyzer::from(EnglishTokenizer::default())
}

/// The per-word chain, run on a word not in the cache. (`RawTokenizer` makes the word one
/// token; every filter after the tokenizer works token by token, so this is the full chain.)
fn chain() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(AsciiFoldingFilter)
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::English).expect("English stop words are built in"))
        .filter(Stemmer::new(Language::English))
        .build()
}

#[derive(Clone)]
pub struct EnglishTokenizer {
    token: Token,
    chain: TextAnalyzer,
}

impl Default for EnglishTokenizer {
    fn default() -> Self {
        EnglishTokenizer {
            token: Token::default(),
            chain: chain(),
        }
    }
}

impl Tokenizer for EnglishTokenizer {
    type TokenStream<'a> = EnglishStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> EnglishStream<'a> {
        self.token.reset();
        EnglishStream {
            text,
            at: 0,
            token: &mut self.token,
            chain: &mut self.chain,
        }
    }
}

pub struct EnglishStream<'a> {
    text: &'a str,
    /// Where the next word is looked for (always on a character boundary).
    at: usize,
    token: &'a mut Token,
    chain: &'a mut TextAnalyzer,
}

/// The character at byte `i` when it is not ASCII (`i` is on a boundary).
fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

impl EnglishStream<'_> {
    /// The next run of alphanumeric characters (as `char::is_alphanumeric`, like tantivy's
    /// `SimpleTokenizer`), ASCII bytes tested without decoding.
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        // Some(length) of the character at i when it belongs to a word.
        let word_char = |i: usize| -> (bool, usize) {
            let b = bytes[i];
            if b.is_ascii() {
                (b.is_ascii_alphanumeric(), 1)
            } else {
                char_at(self.text, i).map_or((false, 1), |c| (c.is_alphanumeric(), c.len_utf8()))
            }
        };
        let mut i = self.at;
        while i < bytes.len() {
            let (inside, len) = word_char(i);
            if inside {
                break;
            }
            i += len;
        }
        if i >= bytes.len() {
            self.at = bytes.len();
            return None;
        }
        let start = i;
        while i < bytes.len() {
            let (inside, len) = word_char(i);
            if !inside {
                break;
            }
            i += len;
        }
        self.at = i;
        Some((start, i))
    }

    /// Sets the token's text to the word's term; false for a word that yields none.
    fn analyze(&mut self, word: &str) -> bool {
        let text = &mut self.token.text;
        let cacheable = word.len() <= CACHE_WORD_BYTES;
        if cacheable {
            let found = WORDS.with_borrow(|cache| {
                cache.get(word).map(|term| match term {
                    Some(term) => {
                        text.clear();
                        text.push_str(term);
                        true
                    }
                    None => false,
                })
            });
            if let Some(kept) = found {
                return kept;
            }
        }
        let mut term: Option<String> = None;
        self.chain.token_stream(word).process(&mut |t: &Token| {
            term.get_or_insert_with(|| t.text.clone());
        });
        if cacheable {
            WORDS.with_borrow_mut(|cache| {
                if cache.len() >= CACHE_WORDS {
                    cache.clear();
                }
                cache.insert(
                    CompactString::new(word),
                    term.as_deref().map(CompactString::new),
                );
            });
        }
        match term {
            Some(term) => {
                *text = term;
                true
            }
            None => false,
        }
    }
}

impl TokenStream for EnglishStream<'_> {
    fn advance(&mut self) -> bool {
        while let Some((from, to)) = self.next_word() {
            // Every word takes a position, kept or not, as in tantivy's chain (so a phrase
            // query spans a removed stop word the same way).
            self.token.position = self.token.position.wrapping_add(1);
            let word = &self.text[from..to];
            if word.len() >= MAX_WORD_BYTES || !self.analyze(word) {
                continue;
            }
            self.token.offset_from = from;
            self.token.offset_to = to;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{RemoveLongFilter, SimpleTokenizer};

    use super::*;

    /// The chain this analyzer stands in for.
    fn tantivys() -> TextAnalyzer {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(AsciiFoldingFilter)
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::English).expect("built in"))
            .filter(Stemmer::new(Language::English))
            .build()
    }

    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut out = Vec::new();
        analyzer.token_stream(text).process(&mut |t: &Token| {
            out.push((t.text.clone(), t.offset_from, t.offset_to, t.position))
        });
        out
    }

    const TEXT: &str = "Running runners ran; The generalizations GENERALIZED relationally. \
        Caresses, ponies, ties, cats: agreed, plastered, motoring, sing, conflated, hopefully, \
        electrical, formative, rational, of THE and An it's don't x2 42nd 3.14 v1.2.3 \
        Université naïve Ærøskøbing straße İstanbul ΑΘΗΝΑ Ωμέγα привет мир 東京タワー 한국어 \
        café\u{301} e\u{301}cole ﬁnance ＡＢＣ ① ½ emoji🙂word under_score hy-phen a\tb\nc \
        pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism \
        abcdefghijklmnopqrstuvwxyz0123456789abc abcdefghijklmnopqrstuvwxyz0123456789abcd \
        àààààààààààààààààààà ";

    #[test]
    fn gives_exactly_the_tokens_of_tantivys_chain() {
        let mut ours = english();
        let mut theirs = tantivys();
        let want = tokens(&mut theirs, TEXT);
        // The sample exercises what it should: stems, stop words out with their positions
        // kept, folding, long words out.
        assert!(want.iter().any(|t| t.0 == "run"), "{want:?}");
        assert!(want.iter().any(|t| t.0 == "universit"), "{want:?}");
        assert!(
            !want.iter().any(|t| t.0 == "the" || t.0 == "of"),
            "{want:?}"
        );
        assert!(
            !want.iter().any(|t| t.0.starts_with("pneumono")),
            "{want:?}"
        );
        assert!(want.windows(2).any(|w| w[1].3 > w[0].3 + 1), "{want:?}");
        // The first pass fills the cache; the second is answered from it.
        assert_eq!(tokens(&mut ours, TEXT), want);
        assert_eq!(tokens(&mut ours, TEXT), want);
        // Edges: nothing, no words, a word at either end, a lone non-ASCII letter.
        for text in [
            "", " ,.; ", "word", "  end", "start  ", "é", "🙂", "a", "THE",
        ] {
            assert_eq!(
                tokens(&mut ours, text),
                tokens(&mut theirs, text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn agrees_with_tantivys_chain_on_random_text_and_after_the_cache_starts_over() {
        let alphabet: Vec<char> = "aeiourstnlmAEThe zZ09 .,-'\u{301}éÉßİıΣσςЖж東🙂\u{a0}\t\n"
            .chars()
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut ours = english();
        let mut theirs = tantivys();
        for _ in 0..2000 {
            let len = (next() % 60) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(
                tokens(&mut ours, &text),
                tokens(&mut theirs, &text),
                "{text:?}"
            );
        }
        let many: String = (0..CACHE_WORDS + 10)
            .map(|i| format!("x{i}ing "))
            .collect::<String>()
            + TEXT;
        assert_eq!(tokens(&mut ours, &many), tokens(&mut theirs, &many));
    }
}
