//! The answer: after the search, the model answers the question from the documents it ranked,
//! citing each claim with a quote; every quote is checked against its source, and one that is not
//! there is marked, never passed off as a citation.

use std::sync::LazyLock;

use fathom_chat::conversation::Ending;
use fathom_chat::session::ReplyEvent;
use fathom_chat::{ChatError, Effort, Harmony, Message, Part, Setup};
use fathom_index::{Hit, Passages};
use regex::Regex;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::harness::Generate;
use crate::output::RankedDocument;

/// Tokens of document text the answer may read, in all.
pub const ANSWER_CONTEXT: usize = 12_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    /// The source's number in the answer (`[n: "…"]`), 1-based.
    pub number: u32,
    pub doc_id: String,
    pub path: String,
    pub quote: String,
    /// The quote occurs in the source (ignoring case and whitespace).
    pub verified: bool,
    /// Where the quote starts, for opening the file there (0 when unknown).
    pub line: u32,
    pub page: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The answer as the model wrote it, citations included.
    pub text: String,
    pub citations: Vec<Citation>,
    /// The whole reply: reasoning, figures, how it ended.
    pub reply: Message,
}

/// A document as the answer sees it: the chunks it is given, in document order.
pub struct Source {
    pub doc: RankedDocument,
    pub chunks: Vec<Hit>,
}

impl Source {
    /// The document's chunks, cut to `tokens`: those the search showed the model first (they are
    /// why it ranked the document), then the rest from the start, shown in document order.
    pub fn load(
        index: &dyn Passages,
        harmony: &Harmony,
        doc: RankedDocument,
        shown: &[String],
        tokens: usize,
    ) -> Option<Source> {
        let chunks = index.read_document(&doc.doc_id).ok()?;
        if chunks.is_empty() {
            return None;
        }
        let (mut first, rest): (Vec<Hit>, Vec<Hit>) = chunks
            .into_iter()
            .partition(|h| shown.contains(&h.chunk_id));
        first.extend(rest);
        let mut left = tokens;
        let mut kept = Vec::new();
        for h in first {
            let n = harmony.count_tokens(&h.text);
            if n > left {
                continue;
            }
            left -= n;
            kept.push(h);
        }
        if kept.is_empty() {
            return None;
        }
        kept.sort_by_key(|h| h.chunk);
        Some(Source { doc, chunks: kept })
    }
}

const INSTRUCTIONS: &str = "Answer the user's question from the numbered documents in their message, and from nothing else. \
Support every claim with a citation written as [n: \"quote\"], where n is the document's number and the quote is copied \
word for word from that document (a short span, at most about 25 words). Use several citations where several documents \
agree. If the documents do not answer the question, say so plainly instead of guessing.";

/// The setup and the message that ask for the answer, from sources already cut to size (see
/// [`Source::load`]); citations are checked against exactly this text.
pub fn prompt(question: &str, sources: &[Source], date: Option<String>) -> (Setup, Message) {
    let mut text = String::from("Documents:\n\n");
    for (i, s) in sources.iter().enumerate() {
        let name = s.doc.path.rsplit(['/', '\\']).next().unwrap_or(&s.doc.path);
        text.push_str(&format!("[{}] {name}\n", i + 1));
        let mut last = None;
        for chunk in &s.chunks {
            if last.is_some_and(|l: u32| chunk.chunk > l + 1) {
                text.push_str("[…]\n");
            }
            text.push_str(chunk.text.trim());
            text.push('\n');
            last = Some(chunk.chunk);
        }
        text.push('\n');
    }
    text.push_str(&format!("Question: {question}"));
    let setup = Setup {
        effort: Effort::Medium,
        date,
        instructions: Some(INSTRUCTIONS.into()),
        tools: Vec::new(),
    };
    (setup, Message::user(text))
}

static CITATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\[\s*(\d+)\s*[:,]\s*["“”'‘]([^"“”]+?)["“”'’]\s*\]"#).expect("valid")
});

/// Lowercase, one space between words, typographic quotes and dashes made plain: what a quote
/// and its source are compared as.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '’' | '‘' => '\'',
            '“' | '”' => '"',
            '–' | '—' => '-',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The citations in `text`, each checked against its source.
pub fn check_citations(text: &str, sources: &[Source]) -> Vec<Citation> {
    CITATION
        .captures_iter(text)
        .filter_map(|c| {
            let number: u32 = c[1].parse().ok()?;
            let quote = c[2].trim().trim_end_matches(['.', '…']).trim().to_string();
            let source = sources.get((number as usize).checked_sub(1)?);
            let (doc_id, path, at) = match source {
                Some(s) => (
                    s.doc.doc_id.clone(),
                    s.doc.path.clone(),
                    locate(&quote, &s.chunks),
                ),
                None => (String::new(), String::new(), None),
            };
            Some(Citation {
                number,
                doc_id,
                path,
                verified: at.is_some(),
                line: at.map_or(0, |h| line_of(&quote, h)),
                page: at.map_or(0, |h| h.page),
                quote,
            })
        })
        .collect()
}

/// The chunk where `quote` starts: searched in the document's whole text (so a quote across a
/// chunk boundary is found too), then mapped back to the chunk holding its start.
fn locate<'a>(quote: &str, chunks: &'a [Hit]) -> Option<&'a Hit> {
    let q = normalize(quote);
    if q.is_empty() {
        return None;
    }
    // Chunks overlap; each one alone is checked first, then neighbours joined.
    if let Some(h) = chunks.iter().find(|h| normalize(&h.text).contains(&q)) {
        return Some(h);
    }
    chunks.windows(2).find_map(|w| {
        let joined = normalize(&format!("{} {}", w[0].text, w[1].text));
        joined.contains(&q).then_some(&w[0])
    })
}

/// The line where `quote` starts in `chunk`'s file: the chunk's first line plus the line breaks
/// before the quote (found with its words matched across any whitespace); the chunk's first line
/// when only the normalised comparison found it.
fn line_of(quote: &str, chunk: &Hit) -> u32 {
    let words: Vec<String> = quote.split_whitespace().map(regex::escape).collect();
    // The whole quote, else its opening words (a quote that runs into the next chunk).
    (3.min(words.len())..=words.len())
        .rev()
        .find_map(|n| {
            regex::RegexBuilder::new(&words[..n].join(r"\s+"))
                .case_insensitive(true)
                .build()
                .ok()?
                .find(&chunk.text)
        })
        .map_or(chunk.line, |m| {
            chunk.line + chunk.text[..m.start()].matches('\n').count() as u32
        })
}

/// Asks the model for the answer and checks its citations.
pub async fn answer<G: Generate>(
    model: &mut G,
    question: &str,
    sources: &[Source],
    date: Option<String>,
    stop: &CancellationToken,
    on_event: &mut (dyn FnMut(ReplyEvent) + Send),
) -> Result<Answer, ChatError> {
    let (setup, message) = prompt(question, sources, date);
    let reply = model
        .generate(&setup, std::slice::from_ref(&message), stop, on_event)
        .await?;
    let text = match &reply {
        Message::Assistant { parts, ending, .. } => {
            let answers: Vec<&str> = parts
                .iter()
                .filter_map(|p| match p {
                    Part::Answer { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            if answers.is_empty() && *ending == Ending::Malformed {
                String::new()
            } else {
                answers.join("\n\n")
            }
        }
        Message::User { .. } => String::new(),
    };
    Ok(Answer {
        citations: check_citations(&text, sources),
        text,
        reply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(chunk: u32, text: &str, line: u32) -> Hit {
        Hit {
            chunk_id: format!("d:{chunk}"),
            doc_id: "d".into(),
            folder: "f".into(),
            path: "/notes/memo.txt".into(),
            chunk,
            score: 0.0,
            text: text.into(),
            line,
            page: 0,
        }
    }

    fn sources() -> Vec<Source> {
        vec![Source {
            doc: RankedDocument {
                doc_id: "d".into(),
                path: "/notes/memo.txt".into(),
                justification: String::new(),
            },
            chunks: vec![
                hit(
                    0,
                    "The 2025 budget memo from Alice\nputs travel at 5,000 euros.",
                    1,
                ),
                hit(
                    1,
                    "Hardware gets 12,000 euros. The board approved it in March.",
                    4,
                ),
            ],
        }]
    }

    #[test]
    fn true_quotes_are_verified_and_located_false_ones_are_not() {
        let text = r#"Travel has 5,000 euros [1: "the 2025 budget memo from Alice puts travel"], hardware more [1: “Hardware gets 12,000 euros.”].
It was approved [1: "puts travel at 5,000 euros. Hardware gets"] in March. The CEO signed it [1: "signed by the CEO"]. See also [2: "nothing"]."#;
        let c = check_citations(text, &sources());
        let got: Vec<(u32, bool, u32)> = c.iter().map(|c| (c.number, c.verified, c.line)).collect();
        assert_eq!(
            got,
            vec![
                (1, true, 1),
                (1, true, 4),
                (1, true, 2),
                (1, false, 0),
                (2, false, 0)
            ]
        );
        assert_eq!(c[0].path, "/notes/memo.txt");
        assert_eq!(c[3].quote, "signed by the CEO");
        assert_eq!(c[4].doc_id, "", "no such source");
    }

    #[test]
    fn normalisation_ignores_case_space_and_typography() {
        assert_eq!(normalize("  It’s  a —\n“Test”  "), "it's a - \"test\"");
    }
}
