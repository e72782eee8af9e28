//! Replies generated on a server ([`fathom_remote::Remote`]), read back as harmony tokens so that
//! the one [`ReplyParser`](crate::ReplyParser) makes parts of them as it does of the engine's.
//!
//! The first choice is a raw prompt: the token ids Fathom rendered go to `/v1/completions`, and
//! the tokens come back as ids (vLLM's and Fathom's `return_token_ids`) or as text with the
//! special tokens spelled out ([`SpecialText`]). A server without raw prompts gets the
//! conversation as OpenAI chat messages ([`to_openai`]), and its reasoning, answer and tool call
//! are written back as the harmony tokens the model would have produced ([`HarmonyWriter`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fathom_engine::{FinishReason, Stats};
use fathom_remote::{
    ChatCompletion, Completion, End, Finish, Flow, Prompt, Remote, RemoteError, Sampling,
    ServerConfig, Timeouts,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::conversation::{Message, Part, Setup};
use crate::harmony::{Harmony, CALL, RETURN};
use crate::session::ReplyOptions;
use crate::ChatError;

const START: u32 = 200006;
const MESSAGE: u32 = 200008;

/// A server replies run on, with what was learnt about it.
pub struct Server {
    pub config: ServerConfig,
    remote: Remote,
    /// Cleared once the server answers that it takes no raw prompts.
    raw_prompts: AtomicBool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.config.url)
            .finish()
    }
}

impl From<RemoteError> for ChatError {
    fn from(e: RemoteError) -> Self {
        ChatError::Model(e.to_string())
    }
}

impl Server {
    pub fn new(config: ServerConfig, timeouts: Timeouts) -> Result<Server, ChatError> {
        let remote = Remote::with_timeouts(config.clone(), timeouts)?;
        Ok(Server {
            config,
            remote,
            raw_prompts: AtomicBool::new(true),
        })
    }

    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// The reply to the conversation whose rendering is `prompt`: tokens go to `on_token` as
    /// they arrive, as the engine's do, ending on `<|return|>` or `<|call|>`.
    #[allow(clippy::too_many_arguments)]
    pub async fn reply(
        &self,
        harmony: &Harmony,
        setup: &Setup,
        messages: &[Message],
        prompt: Vec<u32>,
        options: &ReplyOptions,
        stop: &CancellationToken,
        on_token: &mut (dyn FnMut(u32) + Send),
    ) -> Result<Stats, ChatError> {
        let prompt_len = prompt.len();
        if self.raw_prompts.load(Ordering::Relaxed) {
            match self
                .complete(harmony, prompt, options, stop, on_token)
                .await
            {
                Err(ChatError::Model(_)) if !self.raw_prompts.load(Ordering::Relaxed) => {}
                other => return other,
            }
        }
        let mut tally = Tally::new(harmony, options.max_tokens, on_token);
        let (messages, tools) = to_openai(setup, messages);
        let request = ChatCompletion {
            messages,
            tools,
            reasoning_effort: Some(setup.effort.as_str().to_string()),
            sampling: sampling(options),
        };
        let mut writer = HarmonyWriter::new(harmony);
        let end = self
            .remote
            .chat(&request, stop, &mut |delta| {
                let flow = tally.emit(writer.push(&delta));
                if writer.done() {
                    Flow::Stop
                } else {
                    flow
                }
            })
            .await?;
        let cut = tally.full
            || matches!(&end.finish, Finish::Cancelled)
            || matches!(&end.finish, Finish::Server(r) if r == "length");
        if let Some(last) = writer.finish(cut) {
            tally.emit(vec![last]);
        }
        Ok(tally.stats(prompt_len, &end))
    }

    /// Generates after a raw prompt on `/v1/completions`. A server that takes none answers with
    /// an error saying so (and replies use chat completions from then on).
    pub async fn complete(
        &self,
        harmony: &Harmony,
        prompt: Vec<u32>,
        options: &ReplyOptions,
        stop: &CancellationToken,
        on_token: &mut (dyn FnMut(u32) + Send),
    ) -> Result<Stats, ChatError> {
        let prompt_len = prompt.len();
        let mut tally = Tally::new(harmony, options.max_tokens, on_token);
        let mut text = SpecialText::new(harmony);
        let request = Completion {
            prompt: Prompt::Tokens(prompt),
            sampling: sampling(options),
        };
        let end = self
            .remote
            .complete(&request, stop, &mut |piece| match piece.token_ids {
                Some(ids) if !ids.is_empty() => tally.emit(ids),
                _ => tally.emit(text.push(&piece.text)),
            })
            .await;
        let end = match end {
            Err(e @ RemoteError::NotOffered { .. }) => {
                self.raw_prompts.store(false, Ordering::Relaxed);
                return Err(ChatError::Model(format!(
                    "{e}: it takes no raw prompts, so Fathom uses its chat completions"
                )));
            }
            other => other?,
        };
        if !tally.stopped && !tally.full {
            let rest = text.finish();
            tally.emit(rest);
        }
        // Servers that leave the stop token out of what they send (it ends the generation,
        // so some never show it): the reply ended where the model would have put it.
        let ended = matches!(&end.finish, Finish::Ended)
            || matches!(&end.finish, Finish::Server(r) if r == "stop");
        if ended && !tally.stopped && !tally.full {
            let last = if tally.in_call() { CALL } else { RETURN };
            tally.emit(vec![last]);
        }
        Ok(tally.stats(prompt_len, &end))
    }
}

fn sampling(options: &ReplyOptions) -> Sampling {
    Sampling {
        max_tokens: Some(options.max_tokens.max(1)),
        temperature: Some(options.sampling.temperature),
        top_p: Some(options.sampling.top_p),
        seed: options.sampling.seed,
    }
}

/// Hands tokens on until a stop token, or the most asked for (a server that ignores
/// `max_tokens` is not followed past it), counting them and timing the first.
struct Tally<'a> {
    harmony: Harmony,
    max: usize,
    /// `max` tokens came.
    full: bool,
    on_token: &'a mut (dyn FnMut(u32) + Send),
    started: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    count: usize,
    stopped: bool,
    /// The current message's header so far (`None` once its text began).
    header: Option<Vec<u32>>,
    call: bool,
}

impl<'a> Tally<'a> {
    fn new(harmony: &Harmony, max: usize, on_token: &'a mut (dyn FnMut(u32) + Send)) -> Self {
        Tally {
            harmony: harmony.clone(),
            max: max.max(1),
            full: false,
            on_token,
            started: Instant::now(),
            first: None,
            last: None,
            count: 0,
            stopped: false,
            // A reply begins inside the header `<|start|>assistant` opened.
            header: Some(Vec::new()),
            call: false,
        }
    }

    fn emit(&mut self, tokens: Vec<u32>) -> Flow {
        for t in tokens {
            if self.stopped || self.full {
                return Flow::Stop;
            }
            let now = Instant::now();
            self.first.get_or_insert(now);
            self.last = Some(now);
            self.count += 1;
            match t {
                START => self.header = Some(Vec::new()),
                MESSAGE => {
                    if let Some(header) = self.header.take() {
                        self.call = self.harmony.decode(&header).contains(" to=");
                    }
                }
                t => {
                    if let Some(header) = &mut self.header {
                        header.push(t);
                    }
                }
            }
            (self.on_token)(t);
            if t == RETURN || t == CALL {
                self.stopped = true;
                return Flow::Stop;
            }
            if self.count >= self.max {
                self.full = true;
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Whether the message being written calls a tool.
    fn in_call(&self) -> bool {
        self.call && self.header.is_none()
    }

    fn stats(&self, prompt_len: usize, end: &End) -> Stats {
        let usage = end.usage.unwrap_or_default();
        let finish_reason = if self.stopped {
            FinishReason::Stop
        } else if end.finish == Finish::Cancelled {
            FinishReason::Cancelled
        } else {
            FinishReason::Length
        };
        let ttft = self.first.map_or(0.0, |f| (f - self.started).as_secs_f64());
        let decode = match (self.first, self.last) {
            (Some(f), Some(l)) => (l - f).as_secs_f64(),
            _ => 0.0,
        };
        let generated = match usage.completion_tokens {
            0 => self.count,
            n => n as usize,
        };
        let prompt_tokens = match usage.prompt_tokens {
            0 => prompt_len,
            n => n as usize,
        };
        let per_second = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        Stats {
            prompt_tokens,
            cached_tokens: usage.cached_tokens as usize,
            generated_tokens: generated,
            prefill_seconds: ttft,
            prefill_tokens_per_second: per_second(prompt_tokens, ttft),
            decode_seconds: decode,
            decode_tokens_per_second: per_second(generated.saturating_sub(1), decode),
            time_to_first_token_seconds: ttft,
            peak_memory_bytes: 0,
            finish_reason,
        }
    }
}

/// Text from a server that spells special tokens out (`<|call|>`), as token ids. The text of a
/// token that could still grow into a special token (`<|ca`) waits for the next piece.
pub struct SpecialText {
    harmony: Harmony,
    pending: String,
}

impl SpecialText {
    pub fn new(harmony: &Harmony) -> Self {
        SpecialText {
            harmony: harmony.clone(),
            pending: String::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> Vec<u32> {
        self.pending.push_str(text);
        let cut = match self.pending.rfind("<|") {
            Some(i) if !self.pending[i..].contains("|>") => i,
            _ if self.pending.ends_with('<') => self.pending.len() - 1,
            _ => self.pending.len(),
        };
        let ready: String = self.pending.drain(..cut).collect();
        self.harmony.encode_with_special_tokens(&ready)
    }

    pub fn finish(&mut self) -> Vec<u32> {
        let rest = std::mem::take(&mut self.pending);
        self.harmony.encode_with_special_tokens(&rest)
    }
}

/// The OpenAI chat request for `setup` and `messages`: instructions as a developer message,
/// tools as functions, each tool call with an id its output answers. A reply that reached its
/// answer goes without its reasoning, as harmony renders it.
pub fn to_openai(setup: &Setup, messages: &[Message]) -> (Vec<Value>, Vec<Value>) {
    let mut out = Vec::new();
    if let Some(instructions) = &setup.instructions {
        out.push(json!({"role": "developer", "content": instructions}));
    }
    for (m, message) in messages.iter().enumerate() {
        match message {
            Message::User { text } => out.push(json!({"role": "user", "content": text})),
            Message::Assistant { parts, .. } => {
                let answered = parts.iter().any(|p| matches!(p, Part::Answer { .. }));
                let mut reasoning = String::new();
                let mut preamble = String::new();
                for (p, part) in parts.iter().enumerate() {
                    match part {
                        Part::Reasoning { text } if !answered => reasoning.push_str(text),
                        Part::Reasoning { .. } => {}
                        Part::Commentary { text } => preamble.push_str(text),
                        Part::ToolCall {
                            tool,
                            arguments,
                            output,
                        } => {
                            let id = format!("call_{m}_{p}");
                            let mut call = json!({
                                "role": "assistant",
                                "content": (!preamble.is_empty()).then(|| std::mem::take(&mut preamble)),
                                "tool_calls": [{
                                    "id": id,
                                    "type": "function",
                                    "function": {"name": tool, "arguments": arguments},
                                }],
                            });
                            if !reasoning.is_empty() {
                                call["reasoning"] = json!(std::mem::take(&mut reasoning));
                            }
                            out.push(call);
                            if let Some(output) = output {
                                out.push(
                                    json!({"role": "tool", "tool_call_id": id, "content": output}),
                                );
                            }
                        }
                        Part::Answer { text } => {
                            let mut content = std::mem::take(&mut preamble);
                            content.push_str(text);
                            out.push(json!({"role": "assistant", "content": content}));
                        }
                    }
                }
                if !preamble.is_empty() || !reasoning.is_empty() {
                    let mut rest = json!({"role": "assistant", "content": preamble});
                    if !reasoning.is_empty() {
                        rest["reasoning"] = json!(reasoning);
                    }
                    out.push(rest);
                }
            }
        }
    }
    let tools = setup
        .tools
        .iter()
        .map(|t| {
            let mut function = json!({"name": t.name, "description": t.description});
            if let Some(parameters) = &t.parameters {
                function["parameters"] = parameters.clone();
            }
            json!({"type": "function", "function": function})
        })
        .collect();
    (out, tools)
}

#[derive(Debug, Clone, PartialEq)]
enum Open {
    Reasoning,
    Answer,
    Call(usize),
}

/// A chat completion's pieces as the harmony tokens the model would have produced after
/// `<|start|>assistant`: reasoning on the analysis channel, the answer on the final channel, a
/// tool call on commentary to its function, ending with `<|call|>` or `<|return|>`. Like the
/// model, a reply holds one tool call: a second one ends the reply ([`HarmonyWriter::done`]).
pub struct HarmonyWriter {
    harmony: Harmony,
    open: Option<Open>,
    done: bool,
}

impl HarmonyWriter {
    pub fn new(harmony: &Harmony) -> Self {
        HarmonyWriter {
            harmony: harmony.clone(),
            open: None,
            done: false,
        }
    }

    /// Whether the reply has ended (at a tool call).
    pub fn done(&self) -> bool {
        self.done
    }

    fn open(&mut self, open: Open, header: &str) -> Vec<u32> {
        let mut text = String::new();
        if self.open.is_some() {
            text.push_str("<|end|><|start|>assistant");
        }
        text.push_str(header);
        self.open = Some(open);
        self.harmony.encode_with_special_tokens(&text)
    }

    pub fn push(&mut self, delta: &fathom_remote::ChatDelta) -> Vec<u32> {
        use fathom_remote::ChatDelta;
        if self.done {
            return Vec::new();
        }
        let (mut tokens, text) = match delta {
            ChatDelta::Reasoning(text) => match self.open {
                Some(Open::Reasoning) => (Vec::new(), text),
                _ => (
                    self.open(Open::Reasoning, "<|channel|>analysis<|message|>"),
                    text,
                ),
            },
            ChatDelta::Content(text) => match self.open {
                Some(Open::Answer) => (Vec::new(), text),
                // Text beside a tool call is its preamble: harmony's commentary.
                Some(Open::Call(_)) => return Vec::new(),
                _ => (self.open(Open::Answer, "<|channel|>final<|message|>"), text),
            },
            ChatDelta::ToolCall {
                index,
                name,
                arguments,
            } => match self.open {
                Some(Open::Call(i)) if i == *index => (Vec::new(), arguments),
                Some(Open::Call(_)) => {
                    // The model calls one tool per turn: a second call ends the turn.
                    self.done = true;
                    return vec![CALL];
                }
                _ => {
                    let name = name.as_deref().unwrap_or("unknown");
                    let header = format!(
                        "<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>"
                    );
                    (self.open(Open::Call(*index), &header), arguments)
                }
            },
        };
        tokens.extend(self.harmony.encode_ordinary(text));
        tokens
    }

    /// The reply's last token: `<|call|>` after a tool call, `<|return|>` after an answer.
    /// `None` when the reply was cut short (out of tokens), which ends on no stop token.
    pub fn finish(&mut self, cut: bool) -> Option<u32> {
        if self.done || cut {
            return None;
        }
        self.done = true;
        Some(match self.open {
            Some(Open::Call(_)) => CALL,
            _ => RETURN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Ending, Tool};
    use fathom_remote::ChatDelta;

    fn harmony() -> Harmony {
        let dir = tempfile::tempdir().unwrap();
        Harmony::load(dir.path()).unwrap()
    }

    #[test]
    fn spelled_out_special_tokens_split_across_pieces_become_their_ids() {
        let h = harmony();
        let whole = "<|channel|>final<|message|>Hi there<|return|>";
        let expected = h.encode_with_special_tokens(whole);
        for cut in 0..whole.len() {
            if !whole.is_char_boundary(cut) {
                continue;
            }
            let mut text = SpecialText::new(&h);
            let mut ids = text.push(&whole[..cut]);
            ids.extend(text.push(&whole[cut..]));
            ids.extend(text.finish());
            assert_eq!(h.decode(&ids), whole, "cut at {cut}");
            let specials: Vec<u32> = ids.iter().copied().filter(|&t| t >= 199_998).collect();
            let expected_specials: Vec<u32> =
                expected.iter().copied().filter(|&t| t >= 199_998).collect();
            assert_eq!(specials, expected_specials, "cut at {cut}");
        }
    }

    #[test]
    fn chat_pieces_parse_back_into_the_parts_they_came_as() {
        let h = harmony();
        let mut writer = HarmonyWriter::new(&h);
        let mut parser = h.parser();
        let mut feed = |tokens: Vec<u32>| {
            for t in tokens {
                parser.push(t);
            }
        };
        for d in [
            ChatDelta::Reasoning("Need ".into()),
            ChatDelta::Reasoning("a search.".into()),
            ChatDelta::Content("Looking.".into()),
            ChatDelta::ToolCall {
                index: 0,
                name: Some("search".into()),
                arguments: "{\"query\":".into(),
            },
            ChatDelta::ToolCall {
                index: 0,
                name: None,
                arguments: " \"<|x|> oslo\"}".into(),
            },
        ] {
            feed(writer.push(&d));
        }
        assert!(!writer.done());
        // A second call ends the turn with the first.
        let second = writer.push(&ChatDelta::ToolCall {
            index: 1,
            name: Some("grep".into()),
            arguments: "{}".into(),
        });
        assert_eq!(second, vec![CALL]);
        assert!(writer.done());
        assert_eq!(writer.finish(false), None);
        feed(second);
        let (parts, error) = parser.finish(false);
        assert_eq!(error, None);
        assert_eq!(
            parts,
            vec![
                Part::Reasoning {
                    text: "Need a search.".into()
                },
                Part::Answer {
                    text: "Looking.".into()
                },
                Part::ToolCall {
                    tool: "search".into(),
                    arguments: "{\"query\": \"<|x|> oslo\"}".into(),
                    output: None
                },
            ]
        );

        let mut writer = HarmonyWriter::new(&h);
        let mut parser = h.parser();
        for t in writer.push(&ChatDelta::Content("Done.".into())) {
            parser.push(t);
        }
        assert_eq!(writer.finish(false), Some(RETURN));
        let (parts, _) = parser.finish(false);
        assert_eq!(
            parts,
            vec![Part::Answer {
                text: "Done.".into()
            }]
        );
    }

    #[test]
    fn a_conversation_becomes_chat_messages_with_calls_answered_by_id() {
        let setup = Setup {
            instructions: Some("Be brief.".into()),
            tools: vec![Tool {
                name: "search".into(),
                description: "Searches.".into(),
                parameters: Some(json!({"type": "object"})),
            }],
            ..Setup::default()
        };
        let messages = vec![
            Message::user("Q1"),
            Message::Assistant {
                parts: vec![
                    Part::Reasoning { text: "R1".into() },
                    Part::ToolCall {
                        tool: "search".into(),
                        arguments: "{}".into(),
                        output: Some("found".into()),
                    },
                    Part::Answer { text: "A1".into() },
                ],
                ending: Ending::Done,
                stats: None,
            },
            Message::user("Q2"),
            Message::Assistant {
                parts: vec![
                    Part::Reasoning { text: "R2".into() },
                    Part::Commentary {
                        text: "Let me look.".into(),
                    },
                    Part::ToolCall {
                        tool: "search".into(),
                        arguments: "{\"q\":1}".into(),
                        output: Some("hit".into()),
                    },
                ],
                ending: Ending::ToolCall,
                stats: None,
            },
        ];
        let (out, tools) = to_openai(&setup, &messages);
        assert_eq!(
            out,
            vec![
                json!({"role": "developer", "content": "Be brief."}),
                json!({"role": "user", "content": "Q1"}),
                // Answered: its reasoning is not sent back.
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]}),
                json!({"role": "tool", "tool_call_id": "call_1_1", "content": "found"}),
                json!({"role": "assistant", "content": "A1"}),
                json!({"role": "user", "content": "Q2"}),
                json!({"role": "assistant", "content": "Let me look.", "reasoning": "R2", "tool_calls": [{"id": "call_3_2", "type": "function", "function": {"name": "search", "arguments": "{\"q\":1}"}}]}),
                json!({"role": "tool", "tool_call_id": "call_3_2", "content": "hit"}),
            ]
        );
        assert_eq!(
            tools,
            vec![
                json!({"type": "function", "function": {"name": "search", "description": "Searches.", "parameters": {"type": "object"}}})
            ]
        );
    }
}
