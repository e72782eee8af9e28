//! The four tools over the library, and what the model has been shown. Results are kept as
//! blocks (chunks by id, and notes) rather than text, so that a pruned chunk disappears from every
//! observation the next time the conversation is rendered, while the trace keeps it.

use std::collections::{HashMap, HashSet};

use fathom_chat::Harmony;
use fathom_index::indexer::Embed;
use fathom_index::{Hit, Passages, SearchQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::budget::Budget;
use crate::prompt::{GREP, MULTI, PRUNE, READ, SEARCH};

/// Where the tools search.
pub struct Corpus<'a> {
    /// The library's passages: the local index, or a Chroma server.
    pub index: &'a dyn Passages,
    /// Only this library folder (its id).
    pub folder: Option<String>,
    /// Embeds queries for hybrid search; BM25 alone without it.
    pub embed: Option<&'a Embed>,
}

/// Candidates a search considers before the budget cuts them.
const CANDIDATES: usize = 50;
/// Most chunks one grep returns.
const GREP_CHUNKS: usize = 5;
/// Below this much room a result is not worth showing.
const MIN_ROOM: usize = 48;

/// A chunk as the trace shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ChunkRef {
    pub chunk_id: String,
    pub doc_id: String,
    pub path: String,
    pub tokens: u32,
    pub line: u32,
    pub page: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Chunk(String),
    Note(String),
}

/// One tool call's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub blocks: Vec<Block>,
}

impl Observation {
    /// The chunks shown, in order.
    fn of(found: &[ChunkRef]) -> Observation {
        Observation {
            blocks: found
                .iter()
                .map(|c| Block::Chunk(c.chunk_id.clone()))
                .collect(),
        }
    }

    fn note(text: impl Into<String>) -> Observation {
        Observation {
            blocks: vec![Block::Note(text.into())],
        }
    }
}

/// What one call did, for the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    Search {
        query: String,
        found: Vec<ChunkRef>,
    },
    Grep {
        pattern: String,
        found: Vec<ChunkRef>,
    },
    Read {
        doc_id: String,
        found: Vec<ChunkRef>,
    },
    Prune {
        chunk_ids: Vec<String>,
        unknown: Vec<String>,
    },
    /// Not run: why, in the words the model was given.
    Refused {
        tool: String,
        reason: String,
    },
}

struct Seen {
    hit: Hit,
    tokens: usize,
}

/// Everything the model has been shown, and what it pruned.
#[derive(Default)]
pub struct View {
    seen: HashMap<String, Seen>,
    order: Vec<String>,
    pruned: HashSet<String>,
}

impl View {
    pub fn is_shown(&self, chunk_id: &str) -> bool {
        self.seen.contains_key(chunk_id)
    }

    pub fn is_pruned(&self, chunk_id: &str) -> bool {
        self.pruned.contains(chunk_id)
    }

    /// Chunk ids in the order first shown.
    pub fn shown(&self) -> &[String] {
        &self.order
    }

    pub fn hit(&self, chunk_id: &str) -> Option<&Hit> {
        self.seen.get(chunk_id).map(|s| &s.hit)
    }

    /// Documents whose chunks are still in view, in the order first shown.
    pub fn documents_in_view(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in &self.order {
            if self.pruned.contains(id) {
                continue;
            }
            let doc = &self.seen[id].hit.doc_id;
            if !out.contains(doc) {
                out.push(doc.clone());
            }
        }
        out
    }

    /// An observation as the model reads it now (pruned chunks reduced to a marker).
    pub fn render(&self, observation: &Observation) -> String {
        let mut out = String::new();
        for block in &observation.blocks {
            match block {
                Block::Chunk(id) if self.pruned.contains(id) => {
                    out.push_str(&format!("[{id}: pruned]\n\n"))
                }
                Block::Chunk(id) => {
                    let s = &self.seen[id];
                    let name = s.hit.path.rsplit(['/', '\\']).next().unwrap_or(&s.hit.path);
                    out.push_str(&format!(
                        "[{id} · {} tokens · {name}]\n{}\n\n",
                        s.tokens,
                        s.hit.text.trim()
                    ));
                }
                Block::Note(text) => {
                    out.push_str(text);
                    out.push_str("\n\n");
                }
            }
        }
        out.trim_end().to_string()
    }

    fn show(&mut self, hit: Hit, tokens: usize) -> ChunkRef {
        let r = ChunkRef {
            chunk_id: hit.chunk_id.clone(),
            doc_id: hit.doc_id.clone(),
            path: hit.path.clone(),
            tokens: tokens as u32,
            line: hit.line,
            page: hit.page,
        };
        self.order.push(hit.chunk_id.clone());
        self.seen.insert(hit.chunk_id.clone(), Seen { hit, tokens });
        r
    }
}

/// Runs tool calls against the corpus, within the budget.
pub struct Tools<'a> {
    pub corpus: Corpus<'a>,
    pub view: View,
    harmony: Harmony,
    /// The query and every search so far: what `read_document` ranks a document's chunks by.
    interests: Vec<String>,
}

impl<'a> Tools<'a> {
    pub fn new(corpus: Corpus<'a>, harmony: Harmony, question: &str) -> Self {
        Tools {
            corpus,
            view: View::default(),
            harmony,
            interests: vec![question.to_string()],
        }
    }

    /// Runs one call (`arguments` as the model wrote them) when the conversation holds `used`
    /// tokens. Never fails: a bad call is answered with an error the model can act on.
    pub fn call(
        &mut self,
        tool: &str,
        arguments: &str,
        used: usize,
        budget: &Budget,
    ) -> (Observation, Vec<Action>) {
        let args: Value = match serde_json::from_str(arguments.trim()) {
            Ok(v) => v,
            Err(e) => {
                return refuse(
                    tool,
                    format!("Error: the arguments are not valid JSON ({e}). Call {tool} again with a JSON object, e.g. {}.", example(tool)),
                )
            }
        };
        let tool = tool.strip_prefix("functions.").unwrap_or(tool);
        if tool == MULTI || tool == "multi_tool_use.parallel" {
            return self.multi(&args, used, budget);
        }
        let mut room = budget.room(used);
        self.one(tool, &args, used, budget, &mut room)
    }

    fn multi(&mut self, args: &Value, used: usize, budget: &Budget) -> (Observation, Vec<Action>) {
        let Some(uses) = args.get("tool_uses").and_then(Value::as_array) else {
            return refuse(
                MULTI,
                format!("Error: {MULTI} takes {{\"tool_uses\": [{{\"tool_name\": …, \"parameters\": {{…}}}}]}}."),
            );
        };
        let mut room = budget.room(used);
        let mut observation = Observation::default();
        let mut actions = Vec::new();
        for (i, call) in uses.iter().enumerate() {
            // `recipient_name` ("functions.x") is how OpenAI's own wrapper spells it.
            let name = call
                .get("tool_name")
                .or_else(|| call.get("recipient_name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = name.strip_prefix("functions.").unwrap_or(name);
            let params = call.get("parameters").cloned().unwrap_or(Value::Null);
            observation
                .blocks
                .push(Block::Note(format!("## Call {}: {name}", i + 1)));
            let (o, a) = if name == MULTI {
                refuse(MULTI, format!("Error: {MULTI} cannot contain itself."))
            } else {
                self.one(name, &params, used, budget, &mut room)
            };
            observation.blocks.extend(o.blocks);
            actions.extend(a);
        }
        if uses.is_empty() {
            return refuse(MULTI, "Error: tool_uses is empty.".to_string());
        }
        (observation, actions)
    }

    fn one(
        &mut self,
        tool: &str,
        args: &Value,
        used: usize,
        budget: &Budget,
        room: &mut usize,
    ) -> (Observation, Vec<Action>) {
        let known = [SEARCH, GREP, READ, PRUNE];
        if !known.contains(&tool) {
            return refuse(
                tool,
                format!(
                    "Error: there is no tool named {tool:?}. The tools are {}.",
                    known.join(", ") + ", " + MULTI
                ),
            );
        }
        if tool != PRUNE && budget.past_cutoff(used) {
            return refuse(
                tool,
                format!("Refused: the token budget is nearly spent ({}). Only {PRUNE} works now: prune chunks you no longer need, or give your final ranking.", budget.usage_line(used)),
            );
        }
        let text_arg = |name: &str| {
            args.get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        match tool {
            PRUNE => self.prune(args),
            SEARCH => match text_arg("query") {
                Some(q) => self.search(q, room),
                None => refuse(tool, format!("Error: {SEARCH} needs {}.", example(SEARCH))),
            },
            GREP => match text_arg("pattern") {
                Some(p) => self.grep(p, room),
                None => refuse(tool, format!("Error: {GREP} needs {}.", example(GREP))),
            },
            _ => match text_arg("doc_id") {
                Some(d) => self.read(d, room),
                None => refuse(tool, format!("Error: {READ} needs {}.", example(READ))),
            },
        }
    }

    fn tokens(&self, hit: &Hit) -> usize {
        // The header and blank lines around the text, as rendered.
        self.harmony.count_tokens(hit.text.trim()) + 16
    }

    /// Shows `hits` in order while they fit in `room`; returns what was shown and what was left.
    fn take(&mut self, hits: Vec<Hit>, room: &mut usize, max: usize) -> (Vec<ChunkRef>, usize) {
        let mut shown = Vec::new();
        let mut left = 0;
        for hit in hits {
            if self.view.is_shown(&hit.chunk_id) {
                continue;
            }
            let tokens = self.tokens(&hit);
            if shown.len() >= max || tokens > *room {
                left += 1;
                continue;
            }
            *room -= tokens;
            shown.push(self.view.show(hit, tokens));
        }
        (shown, left)
    }

    fn no_room(&self, tool: &str, room: usize) -> Option<(Observation, Vec<Action>)> {
        (room < MIN_ROOM).then(|| {
            refuse(
                tool,
                format!("No room left for results: prune chunks with {PRUNE}, or give your final ranking."),
            )
        })
    }

    fn search(&mut self, query: &str, room: &mut usize) -> (Observation, Vec<Action>) {
        if let Some(full) = self.no_room(SEARCH, *room) {
            return full;
        }
        self.interests.push(query.to_string());
        let embed = self.corpus.embed;
        let hits = match self.corpus.index.search_embedding(
            &SearchQuery {
                text: query.to_string(),
                folder: self.corpus.folder.clone(),
                exclude: self.view.shown().to_vec(),
                limit: CANDIDATES,
                vector: None,
            },
            &|text| {
                embed
                    .and_then(|e| e(&[text]).ok())
                    .and_then(|mut v| v.pop())
            },
        ) {
            Ok(h) => h,
            Err(e) => return refuse(SEARCH, format!("Error: the search failed ({e}).")),
        };
        let (found, left) = self.take(hits, room, usize::MAX);
        let mut observation = Observation::of(&found);
        observation
            .blocks
            .push(Block::Note(match (found.len(), left) {
                (0, 0) => format!("No new chunks match {query:?}. Try other words."),
                (0, _) => {
                    "The matching chunks do not fit in the remaining budget: prune first.".into()
                }
                (n, 0) => format!("{n} new chunk{}.", if n == 1 { "" } else { "s" }),
                (n, l) => format!("{n} new chunks; {l} more matched but did not fit."),
            }));
        let action = Action::Search {
            query: query.to_string(),
            found,
        };
        (observation, vec![action])
    }

    fn grep(&mut self, pattern: &str, room: &mut usize) -> (Observation, Vec<Action>) {
        if let Some(full) = self.no_room(GREP, *room) {
            return full;
        }
        let limit = GREP_CHUNKS + self.view.shown().len();
        let hits = match self
            .corpus
            .index
            .grep(pattern, self.corpus.folder.as_deref(), limit)
        {
            Ok(h) => h,
            Err(e) => {
                return refuse(
                    GREP,
                    format!("Error: {e}. Write the pattern in Rust regex syntax."),
                )
            }
        };
        let (found, left) = self.take(hits, room, GREP_CHUNKS);
        let mut observation = Observation::of(&found);
        observation
            .blocks
            .push(Block::Note(match (found.len(), left) {
                (0, 0) => format!("No new chunks match /{pattern}/."),
                (n, 0) => format!("{n} new chunk{}.", if n == 1 { "" } else { "s" }),
                (n, l) => format!("{n} new chunks; {l} more matched but were not shown."),
            }));
        let action = Action::Grep {
            pattern: pattern.to_string(),
            found,
        };
        (observation, vec![action])
    }

    fn read(&mut self, doc_id: &str, room: &mut usize) -> (Observation, Vec<Action>) {
        if let Some(full) = self.no_room(READ, *room) {
            return full;
        }
        // Chunk ids ("doc:3") are accepted for the document they belong to.
        let doc_id = doc_id.split(':').next().unwrap_or(doc_id);
        let chunks = match self.corpus.index.read_document(doc_id) {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                return refuse(
                    READ,
                    format!(
                        "Error: no document {doc_id:?}. Use a document id from a chunk header."
                    ),
                )
            }
            Err(e) => return refuse(READ, format!("Error: cannot read {doc_id} ({e}).")),
        };
        let total = chunks.len();
        let mut ranked: Vec<(f32, Hit)> = chunks
            .into_iter()
            .filter(|h| !self.view.is_shown(&h.chunk_id))
            .map(|h| (overlap(&h.text, &self.interests), h))
            .collect();
        let unseen = ranked.len();
        // Most relevant first into the budget, then shown in reading order.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.chunk.cmp(&b.1.chunk)));
        let (mut found, left) = self.take(
            ranked.into_iter().map(|(_, h)| h).collect(),
            room,
            usize::MAX,
        );
        found.sort_by_key(|c| self.view.hit(&c.chunk_id).map_or(0, |h| h.chunk));
        let mut observation = Observation::of(&found);
        observation.blocks.push(Block::Note(format!(
            "Document {doc_id}: {total} chunks; {} shown before, {} now{}.",
            total - unseen,
            found.len(),
            if left > 0 {
                format!(", {left} left out for the budget")
            } else {
                String::new()
            }
        )));
        let action = Action::Read {
            doc_id: doc_id.to_string(),
            found,
        };
        (observation, vec![action])
    }

    fn prune(&mut self, args: &Value) -> (Observation, Vec<Action>) {
        let ids: Vec<String> = match args.get("chunk_ids") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => s
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => return refuse(PRUNE, format!("Error: {PRUNE} needs {}.", example(PRUNE))),
        };
        let mut pruned = Vec::new();
        let mut unknown = Vec::new();
        let mut freed = 0;
        for id in ids {
            match self.view.seen.get(&id) {
                Some(s) if !self.view.pruned.contains(&id) => {
                    freed += s.tokens;
                    self.view.pruned.insert(id.clone());
                    pruned.push(id);
                }
                Some(_) => {}
                None => unknown.push(id),
            }
        }
        let mut note = format!(
            "Pruned {} chunk{} (about {freed} tokens freed).",
            pruned.len(),
            if pruned.len() == 1 { "" } else { "s" }
        );
        if !unknown.is_empty() {
            note.push_str(&format!(" Not in your context: {}.", unknown.join(", ")));
        }
        let action = Action::Prune {
            chunk_ids: pruned,
            unknown,
        };
        (Observation::note(note), vec![action])
    }
}

fn refuse(tool: &str, reason: String) -> (Observation, Vec<Action>) {
    (
        Observation::note(reason.clone()),
        vec![Action::Refused {
            tool: tool.to_string(),
            reason,
        }],
    )
}

fn example(tool: &str) -> &'static str {
    match tool {
        SEARCH => r#"{"query": "…"}"#,
        GREP => r#"{"pattern": "…"}"#,
        READ => r#"{"doc_id": "…"}"#,
        PRUNE => r#"{"chunk_ids": ["…"]}"#,
        _ => r#"{"tool_uses": [{"tool_name": "search_corpus", "parameters": {"query": "…"}}]}"#,
    }
}

/// How many of the words the run cares about a chunk contains (a cheap stand-in for a reranker,
/// which Fathom does not have).
fn overlap(text: &str, interests: &[String]) -> f32 {
    let words: HashSet<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect();
    let mut score = 0.0;
    for interest in interests {
        for w in interest
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
        {
            if words.contains(&w.to_lowercase()) {
                score += 1.0;
            }
        }
    }
    score
}
