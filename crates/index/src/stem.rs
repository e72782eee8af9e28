//! English stemming for the BM25 analyzer, with a per-thread cache of the words already stemmed.
//!
//! Stemming took a sixth of indexing's CPU on real text (perf, `fathom index add` over SciFact's
//! files), and text follows Zipf's law: a few thousand words make up most of it, so most tokens
//! repeat a word stemmed moments before. A lookup is far cheaper than running Snowball again.
//! The stems are exactly tantivy's `Stemmer(English)`'s (the same `frostem` algorithm; a test
//! compares the two), so existing indexes stay valid. By hand because tantivy's filter has no
//! cache and no crate offers one for it.

use std::cell::RefCell;
use std::collections::HashMap;

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Words remembered per thread before the cache starts over (a few MB at most).
const CACHE_WORDS: usize = 100_000;
/// Longer words are stemmed every time: rare, and they would crowd the cache.
const CACHE_WORD_BYTES: usize = 24;

type Cache = HashMap<Box<str>, Box<str>, foldhash::fast::RandomState>;

thread_local! {
    static STEMS: RefCell<Cache> = RefCell::new(Cache::default());
}

/// A tantivy [`TokenFilter`] giving each (lowercased) token its English Snowball stem.
#[derive(Clone, Copy, Default)]
pub struct EnglishStemmer;

impl TokenFilter for EnglishStemmer {
    type Tokenizer<T: Tokenizer> = StemFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> StemFilter<T> {
        StemFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub struct StemFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for StemFilter<T> {
    type TokenStream<'a> = StemStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemStream {
            tail: self.inner.token_stream(text),
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
        }
    }
}

pub struct StemStream<T> {
    tail: T,
    stemmer: frostem::Stemmer,
}

impl<T: TokenStream> TokenStream for StemStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let stemmer = self.stemmer;
        let text = &mut self.tail.token_mut().text;
        if text.len() > CACHE_WORD_BYTES {
            if let std::borrow::Cow::Owned(stem) = stemmer.stem(text) {
                *text = stem;
            }
            return true;
        }
        STEMS.with_borrow_mut(|cache| {
            if let Some(stem) = cache.get(text.as_str()) {
                text.clear();
                text.push_str(stem);
                return;
            }
            let stem: Box<str> = stemmer.stem(text).into();
            if cache.len() >= CACHE_WORDS {
                cache.clear();
            }
            cache.insert(text.as_str().into(), stem.clone());
            text.clear();
            text.push_str(&stem);
        });
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer};

    use super::*;

    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut out = Vec::new();
        analyzer.token_stream(text).process(&mut |t: &Token| {
            out.push((t.text.clone(), t.offset_from, t.offset_to, t.position))
        });
        out
    }

    #[test]
    fn stems_as_tantivys_stemmer_does_from_the_cache_too() {
        let mut cached = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(EnglishStemmer)
            .build();
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        let text = "Running runners ran; the generalizations generalized relationally. \
            Caresses, ponies, ties, cats: agreed, plastered, motoring, sing, conflated, \
            hopefully, electrical, formative, rational, université, naïve, \
            pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism";
        let want = tokens(&mut plain, text);
        assert!(want.iter().any(|t| t.0 == "run"), "{want:?}");
        // The first pass fills the cache; the second is answered from it.
        assert_eq!(tokens(&mut cached, text), want);
        assert_eq!(tokens(&mut cached, text), want);
        // A cache that starts over mid-text changes nothing.
        let many: String = (0..CACHE_WORDS + 10)
            .map(|i| format!("x{i}ing "))
            .collect::<String>()
            + text;
        assert_eq!(tokens(&mut cached, &many), tokens(&mut plain, &many));
    }
}
