//! The model's final answer: documents, most relevant first, each as
//! `<Document id=…><Justification>…</Justification></Document>`. Parsed leniently — quotes or
//! braces around the id, any case, a missing closing tag, a chunk id instead of a document id —
//! because a small slip must not lose a good ranking.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RankedDocument {
    pub doc_id: String,
    pub path: String,
    pub justification: String,
}

static OPEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)<\s*document\s+id\s*=\s*["'{\[]?\s*([A-Za-z0-9_.\-]+)(?::\d+)?\s*["'}\]]?\s*/?\s*>"#,
    )
    .expect("valid")
});
static JUSTIFICATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<\s*justification\s*>(.*?)(?:<\s*/\s*justification\s*>|<\s*/?\s*document|$)")
        .expect("valid")
});
static TAGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)</?\s*[a-z]+\s*>").expect("valid"));

/// (document id, justification) in the order given, each id once.
pub fn parse_ranking(text: &str) -> Vec<(String, String)> {
    let opens: Vec<_> = OPEN.captures_iter(text).collect();
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, open) in opens.iter().enumerate() {
        let whole = open.get(0).expect("match");
        let end = opens
            .get(i + 1)
            .map_or(text.len(), |next| next.get(0).expect("match").start());
        let body = &text[whole.end()..end];
        let justification = JUSTIFICATION
            .captures(body)
            .and_then(|c| c.get(1))
            .map_or(body, |m| m.as_str());
        let justification = TAGS
            .replace_all(justification, " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let id = open[1].to_string();
        if !out.iter().any(|(d, _)| *d == id) {
            out.push((id, justification));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trained_format_and_small_slips() {
        let text = r#"Here is the ranking.
<Document id=3f2a9c0d11223344><Justification>States the budget figure.</Justification></Document>
<document id="aa11bb22cc33dd44"><justification>Mentions the memo
 and its author.</justification>
<Document id={0011223344556677:4}><Justification>A chunk id slipped in.</Justification></Document>
<Document id='3f2a9c0d11223344'><Justification>A repeat.</Justification></Document>
<Document id=ffee000011112222>No justification tags at all."#;
        let ranked = parse_ranking(text);
        assert_eq!(
            ranked,
            vec![
                (
                    "3f2a9c0d11223344".into(),
                    "States the budget figure.".into()
                ),
                (
                    "aa11bb22cc33dd44".into(),
                    "Mentions the memo and its author.".into()
                ),
                ("0011223344556677".into(), "A chunk id slipped in.".into()),
                (
                    "ffee000011112222".into(),
                    "No justification tags at all.".into()
                ),
            ]
        );
        assert!(parse_ranking("I could not find anything.").is_empty());
    }
}
