//! What the model is told: the tools as harmony function declarations, and the retrieval prompt
//! (in our own words, with the structure Context-1 was trained on: its role, the query in
//! `<query>` tags, the tools, planning parallel searches, reflecting after each round, and the
//! ranked output format).

use fathom_chat::{Effort, Setup, Tool};
use serde_json::json;

pub const SEARCH: &str = "search_corpus";
pub const GREP: &str = "grep_corpus";
pub const READ: &str = "read_document";
pub const PRUNE: &str = "prune_chunks";
/// Several calls in one turn: gpt-oss emits one call per message, so they come wrapped.
pub const MULTI: &str = "multi_tool_use";

pub fn tools() -> Vec<Tool> {
    let one = |name: &str, description: &str, arg: &str, kind: serde_json::Value, about: &str| {
        let mut property = match kind {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        property.insert("description".into(), about.into());
        Tool {
            name: name.into(),
            description: description.into(),
            parameters: Some(json!({
                "type": "object",
                "properties": { arg: property },
                "required": [arg],
            })),
        }
    };
    vec![
        one(
            SEARCH,
            "Hybrid search (keywords and meaning) over the library. Returns the best chunks not shown before, within a per-call token budget.",
            "query",
            json!({ "type": "string" }),
            "What to look for, in natural language.",
        ),
        one(
            GREP,
            "Regular-expression search over the library's text. Returns at most 5 chunks not shown before.",
            "pattern",
            json!({ "type": "string" }),
            "A regular expression (Rust regex syntax).",
        ),
        one(
            READ,
            "Reads one document: its chunks not shown before, the most relevant first, as many as the remaining budget allows.",
            "doc_id",
            json!({ "type": "string" }),
            "A document id, as shown in chunk headers.",
        ),
        one(
            PRUNE,
            "Removes chunks from your context to free tokens. They stay excluded from later results.",
            "chunk_ids",
            json!({ "type": "array", "items": { "type": "string" } }),
            "Chunk ids, as shown in chunk headers.",
        ),
        Tool {
            name: MULTI.into(),
            description: "Runs several of the tools above at once; use it for parallel searches.".into(),
            parameters: Some(json!({
                "type": "object",
                "properties": {
                    "tool_uses": {
                        "type": "array",
                        "description": "The calls to make.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "tool_name": { "type": "string", "description": "One of the tools above." },
                                "parameters": { "type": "object", "description": "That tool's arguments." }
                            },
                            "required": ["tool_name", "parameters"]
                        }
                    }
                },
                "required": ["tool_uses"],
            })),
        },
    ]
}

/// The system and developer messages: high reasoning effort, the date, the tools only.
pub fn setup(date: Option<String>) -> Setup {
    Setup {
        effort: Effort::High,
        date,
        instructions: None,
        tools: tools(),
    }
}

/// The retrieval prompt, sent as the user's message.
pub fn retrieval_prompt(query: &str, budget_total: usize) -> String {
    format!(
        "You are a retrieval subagent. Your job is to find the documents in the user's library that \
answer or bear on the query below. You do not answer the query yourself: you find, weigh and rank \
documents.

<query>{query}</query>

Tools:
- {SEARCH}(query): hybrid keyword and semantic search.
- {GREP}(pattern): regular-expression search; at most 5 chunks.
- {READ}(doc_id): the rest of one document, most relevant chunks first.
- {PRUNE}(chunk_ids): drop chunks you no longer need from your context.
- {MULTI}(tool_uses): several of these at once.

How to work:
1. Plan several distinct searches that approach the query from different sides (names, terms, \
paraphrases, likely wording in the documents) and run them in parallel with {MULTI}.
2. After each round, reflect briefly: what you now know, what is still missing, what to search \
next, which chunks are irrelevant and should be pruned, and whether you have enough.
3. Chunks you have seen are never shown again, so repeat searches with new wording rather than the \
same words.
4. Every result ends with the token usage. The budget is {budget_total} tokens: past half of it \
results get shorter, and near the end only {PRUNE} works, so prune early and stop when you have \
enough.

When you are done, reply with only the ranked documents, most relevant first, one per line:
<Document id={{document_id}}><Justification>One to three sentences on why it matters.</Justification></Document>"
    )
}
