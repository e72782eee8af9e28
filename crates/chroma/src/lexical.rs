//! The lexical side of search on a Chroma server. Chroma's single-node server has no BM25 (its
//! sparse indexes and Search API are refused there), but it does find the records containing a
//! string through its full-text index: each of the query's words fetches the chunks containing
//! it, and BM25 ranks the union here, with each word's document frequency as the server
//! reported it (capped at what one fetch returns: a word that common weighs little anyway).

use std::collections::HashMap;

use chroma::types::Key;
use fathom_index::{Hit, IndexError, SearchQuery};

use crate::{all_of, scope, ChromaLibrary};

/// Most records fetched for one word.
const PER_WORD: u32 = 300;
/// Most words of a query looked up (a person's query; longer ones keep their first words).
const MAX_WORDS: usize = 8;
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Words too common to search for (the local index's English stop words).
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// The query's words, lowercased, without stop words or repeats.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
    {
        if !out.contains(&w) && out.len() < MAX_WORDS {
            out.push(w);
        }
    }
    out
}

/// Occurrences of `word` at the start of a word of `text` (lowercase): "index" counts in
/// "indexes" and "indexing", standing in for the local index's stemming.
fn occurrences(text_words: &[String], word: &str) -> usize {
    text_words.iter().filter(|w| w.starts_with(word)).count()
}

/// The chunks containing the query's words, best first by BM25, at most `depth`.
pub(crate) fn search(
    library: &ChromaLibrary,
    q: &SearchQuery,
    depth: usize,
) -> Result<Vec<Hit>, IndexError> {
    let words = words(&q.text);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    // The server's full-text search matches case-insensitively; the filters are the same as the
    // dense side's. One request per word, all at once.
    let filters = words
        .iter()
        .map(|word| {
            let mut parts = vec![Key::Document.contains(word.as_str())];
            parts.extend(scope(q.folder.as_deref(), &q.exclude));
            all_of(parts).expect("one part")
        })
        .collect();
    // The collection's size (for the words' weights) is asked beside them, not before.
    let (total, found) = std::thread::scope(|s| {
        let total = s.spawn(|| library.count());
        let found = library.get_hits_each(filters, Some(PER_WORD));
        let total = total
            .join()
            .unwrap_or_else(|_| Err(IndexError::Remote("the Chroma client panicked".into())));
        (total, found)
    });
    let total = total?.max(1) as f32;
    let mut candidates: HashMap<String, Hit> = HashMap::new();
    let mut frequency: Vec<f32> = Vec::with_capacity(words.len());
    for hits in found? {
        frequency.push(hits.len() as f32);
        for h in hits {
            candidates.entry(h.chunk_id.clone()).or_insert(h);
        }
    }
    let tokenised: Vec<(Hit, Vec<String>)> = candidates
        .into_values()
        .map(|h| {
            let ws = h
                .text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            (h, ws)
        })
        .collect();
    let average = tokenised.iter().map(|(_, ws)| ws.len()).sum::<usize>() as f32
        / tokenised.len().max(1) as f32;
    let mut scored: Vec<Hit> = tokenised
        .into_iter()
        .map(|(h, ws)| {
            let length = ws.len() as f32 / average.max(1.0);
            let score = words
                .iter()
                .zip(&frequency)
                .map(|(word, &df)| {
                    let tf = occurrences(&ws, word) as f32;
                    if tf == 0.0 {
                        return 0.0;
                    }
                    let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length))
                })
                .sum::<f32>();
            Hit { score, ..h }
        })
        .filter(|h| h.score > 0.0)
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.chunk_id.cmp(&b.chunk_id))
    });
    scored.truncate(depth);
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_stop_words_repeats_and_punctuation() {
        assert_eq!(
            words("The Index: the index's size, and INDEXING?"),
            vec!["index", "s", "size", "indexing"]
        );
        assert!(words("the and of").is_empty());
        let long = (0..20)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(words(&long).len(), MAX_WORDS);
    }

    #[test]
    fn occurrences_count_word_starts() {
        let ws: Vec<String> = ["indexing", "an", "index", "reindex"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(occurrences(&ws, "index"), 2);
        assert_eq!(occurrences(&ws, "zebra"), 0);
    }
}
