//! `POST /v1/chat/completions`: OpenAI's chat requests as Fathom conversations, and Fathom's
//! replies (reasoning, tool calls, answer) as OpenAI's completions and stream chunks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fathom_chat::conversation::{today, Ending, Part};
use fathom_chat::session::{DeltaKind, ReplyEvent};
use fathom_chat::{Effort, Message, Setup, Tool};
use fathom_core::{CancellationToken, ReplyWith};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::{parse_body, Api};

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<InMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub max_tokens: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<i64>,
    pub stop: Option<StopParam>,
    pub reasoning_effort: Option<String>,
    pub tools: Option<Vec<ToolParam>>,
    pub tool_choice: Option<Value>,
    pub n: Option<u32>,
    pub logprobs: Option<bool>,
    pub response_format: Option<Value>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StopParam {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub struct InMessage {
    pub role: String,
    pub content: Option<Content>,
    /// The model's reasoning on an earlier turn; clients send it under either name.
    pub reasoning: Option<String>,
    pub reasoning_content: Option<String>,
    pub tool_calls: Option<Vec<ToolCall>>,
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub function: FunctionCall,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
pub struct ToolParam {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: Option<FunctionDef>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
}

/// A chat request, checked and turned into what the core takes.
#[derive(Debug)]
pub struct Prepared {
    pub setup: Setup,
    pub messages: Vec<Message>,
    pub with: ReplyWith,
    pub stops: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
}

/// Checks every field the server acts on, refusing (with the field named) what it cannot honour
/// rather than silently doing something else.
pub fn prepare(request: ChatRequest) -> Result<Prepared, ApiError> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::param(
            "n",
            "Only one choice (n = 1) is generated.",
        ));
    }
    if request.logprobs == Some(true) {
        return Err(ApiError::param(
            "logprobs",
            "Log probabilities are not offered.",
        ));
    }
    if let Some(format) = &request.response_format {
        if format.get("type").and_then(Value::as_str) != Some("text") {
            return Err(ApiError::param(
                "response_format",
                "Only text responses are offered (no JSON mode or schemas).",
            ));
        }
    }
    for (name, value) in [
        ("presence_penalty", request.presence_penalty),
        ("frequency_penalty", request.frequency_penalty),
    ] {
        if value.is_some_and(|v| v != 0.0) {
            return Err(ApiError::param(
                name,
                format!("{name} is not offered; leave it at 0."),
            ));
        }
    }
    let (with, stops) = super::generation(
        request.temperature,
        request.top_p,
        request.max_completion_tokens.or(request.max_tokens),
        request.seed,
        request.stop,
    )?;
    let effort = match request.reasoning_effort.as_deref() {
        None => Effort::Medium,
        // OpenAI's lighter settings; harmony's least is low.
        Some("minimal" | "none" | "low") => Effort::Low,
        Some("medium") => Effort::Medium,
        Some("high") => Effort::High,
        Some(other) => {
            return Err(ApiError::param(
                "reasoning_effort",
                format!("reasoning_effort must be low, medium or high, not {other:?}."),
            ))
        }
    };
    let tools = tools(request.tools, request.tool_choice.as_ref())?;
    let (instructions, messages) = conversation(request.messages)?;
    Ok(Prepared {
        setup: Setup {
            effort,
            // Fixed for the day, so that calls which share a conversation's start share the
            // prompt's prefix, and the engine's cache, too.
            date: Some(today()),
            instructions,
            tools,
        },
        messages,
        with,
        stops,
        stream: request.stream,
        include_usage: request.stream_options.is_some_and(|o| o.include_usage),
    })
}

fn tools(declared: Option<Vec<ToolParam>>, choice: Option<&Value>) -> Result<Vec<Tool>, ApiError> {
    match choice {
        None => {}
        Some(Value::String(c)) if c == "auto" => {}
        Some(Value::String(c)) if c == "none" => return Ok(Vec::new()),
        Some(_) => {
            return Err(ApiError::param(
                "tool_choice",
                "tool_choice may be \"auto\" or \"none\": the model decides itself whether to call a tool.",
            ))
        }
    }
    let mut tools = Vec::new();
    for (i, tool) in declared.unwrap_or_default().into_iter().enumerate() {
        let param = format!("tools[{i}]");
        let function = match (tool.kind.as_str(), tool.function) {
            ("function", Some(f)) => f,
            _ => {
                return Err(ApiError::param(
                    &param,
                    "Only tools of type \"function\" (with a function) are offered.",
                ))
            }
        };
        let valid = !function.name.is_empty()
            && function.name.len() <= 64
            && function
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ApiError::param(
                &format!("{param}.function.name"),
                "A function's name is 1 to 64 letters, digits, underscores or dashes.",
            ));
        }
        tools.push(Tool {
            name: function.name,
            description: function.description.unwrap_or_default(),
            parameters: function.parameters,
        });
    }
    Ok(tools)
}

fn text_of(content: Option<Content>, param: &str) -> Result<String, ApiError> {
    match content {
        None => Ok(String::new()),
        Some(Content::Text(t)) => Ok(t),
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.into_iter().enumerate() {
                match (part.kind.as_str(), part.text) {
                    ("text", Some(t)) => text.push_str(&t),
                    (kind, _) => {
                        return Err(ApiError::param(
                            &format!("{param}.content[{j}]"),
                            format!("Only text content is read, not {kind:?}."),
                        ))
                    }
                }
            }
            Ok(text)
        }
    }
}

/// The system and developer messages become the instructions; the rest, Fathom's messages. A
/// tool's output goes back onto the call it answers.
fn conversation(input: Vec<InMessage>) -> Result<(Option<String>, Vec<Message>), ApiError> {
    let mut instructions: Vec<String> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    // A call's id → where its part is: (message, part).
    let mut calls: HashMap<String, (usize, usize)> = HashMap::new();
    let mut last_role = String::new();
    for (i, m) in input.into_iter().enumerate() {
        let param = format!("messages[{i}]");
        let InMessage {
            role,
            content,
            reasoning,
            reasoning_content,
            tool_calls,
            tool_call_id,
        } = m;
        let text = text_of(content, &param)?;
        match role.as_str() {
            "system" | "developer" => {
                if !text.trim().is_empty() {
                    instructions.push(text);
                }
            }
            "user" => messages.push(Message::user(text)),
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(r) = reasoning.or(reasoning_content).filter(|r| !r.is_empty()) {
                    parts.push(Part::Reasoning { text: r });
                }
                let tool_calls = tool_calls.unwrap_or_default();
                if !text.is_empty() {
                    // Text beside tool calls is a preamble (commentary), not the answer.
                    parts.push(if tool_calls.is_empty() {
                        Part::Answer { text }
                    } else {
                        Part::Commentary { text }
                    });
                }
                let ending = if tool_calls.is_empty() {
                    Ending::Done
                } else {
                    Ending::ToolCall
                };
                for call in tool_calls {
                    calls.insert(call.id, (messages.len(), parts.len()));
                    parts.push(Part::ToolCall {
                        tool: call.function.name,
                        arguments: call.function.arguments,
                        output: None,
                    });
                }
                messages.push(Message::Assistant {
                    parts,
                    ending,
                    stats: None,
                });
            }
            "tool" => {
                let id = tool_call_id.ok_or_else(|| {
                    ApiError::param(
                        &format!("{param}.tool_call_id"),
                        "A tool message names the call it answers (tool_call_id).",
                    )
                })?;
                let place = calls.get(&id).copied();
                let part = place.and_then(|(msg, part)| match &mut messages[msg] {
                    Message::Assistant { parts, .. } => parts.get_mut(part),
                    Message::User { .. } => None,
                });
                match part {
                    Some(Part::ToolCall { output, .. }) => *output = Some(text),
                    _ => {
                        return Err(ApiError::param(
                            &format!("{param}.tool_call_id"),
                            format!(
                            "No assistant message before this one made a tool call with id {id:?}."
                        ),
                        ))
                    }
                }
            }
            other => {
                return Err(ApiError::param(
                    &format!("{param}.role"),
                    format!(
                        "Roles are system, developer, user, assistant and tool, not {other:?}."
                    ),
                ))
            }
        }
        last_role = role;
    }
    if messages.is_empty() || !matches!(last_role.as_str(), "user" | "tool") {
        return Err(ApiError::param(
            "messages",
            "The conversation must end with a user message or a tool's output.",
        ));
    }
    let instructions = (!instructions.is_empty()).then(|| instructions.join("\n\n"));
    Ok((instructions, messages))
}

/// Cuts the answer at the first stop string. While streaming it holds back text that could be
/// the start of one, so that no part of a stop string is ever sent.
#[derive(Debug, Default)]
pub struct StopFilter {
    stops: Vec<String>,
    pending: String,
    hit: bool,
}

impl StopFilter {
    pub fn new(stops: Vec<String>) -> StopFilter {
        StopFilter {
            stops,
            ..StopFilter::default()
        }
    }

    /// Adds `text`; returns what can be sent now.
    pub fn push(&mut self, text: &str) -> String {
        if self.hit {
            return String::new();
        }
        self.pending.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|s| self.pending.find(s)).min() {
            self.hit = true;
            let out = self.pending[..at].to_string();
            self.pending.clear();
            return out;
        }
        // The longest end of the pending text that begins some stop string stays back.
        let keep = self
            .stops
            .iter()
            .flat_map(|s| {
                (1..s.len())
                    .filter(|&k| s.is_char_boundary(k) && self.pending.ends_with(&s[..k]))
                    .max()
            })
            .max()
            .unwrap_or(0);
        let cut = self.pending.len() - keep;
        let out = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        out
    }

    /// What was held back, at the end of the reply.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    pub fn stopped(&self) -> bool {
        self.hit
    }
}

fn is_content(part: &Part) -> bool {
    matches!(part, Part::Answer { .. } | Part::Commentary { .. })
}

/// The reply's text for the client: its answer, with any notes it made to the user before.
fn content_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter(|p| is_content(p))
        .map(Part::text)
        .collect()
}

fn reasoning_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter(|p| matches!(p, Part::Reasoning { .. }))
        .map(Part::text)
        .collect::<Vec<_>>()
        .join("\n")
}

fn finish_reason(ending: Ending, stopped_by_string: bool) -> &'static str {
    match ending {
        _ if stopped_by_string => "stop",
        Ending::ToolCall => "tool_calls",
        Ending::Length => "length",
        Ending::Done | Ending::Stopped | Ending::Malformed => "stop",
    }
}

fn usage(message: &Message) -> Value {
    let (prompt, cached, generated) = match message {
        Message::Assistant { stats: Some(s), .. } => {
            (s.prompt_tokens, s.cached_tokens, s.generated_tokens)
        }
        _ => (0, 0, 0),
    };
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

fn call_id() -> String {
    format!("call_{}", uuid::Uuid::new_v4().simple())
}

/// Who the response says it is.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl Stamp {
    pub fn new(model: &str) -> Stamp {
        Stamp {
            id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
            created: crate::unix_now(),
            model: model.to_string(),
        }
    }
}

/// The whole reply as one `chat.completion`.
pub fn completion(stamp: &Stamp, reply: &Message, stops: Vec<String>) -> Value {
    let parts: &[Part] = match reply {
        Message::Assistant { parts, .. } => parts,
        Message::User { .. } => &[],
    };
    let ending = match reply {
        Message::Assistant { ending, .. } => *ending,
        Message::User { .. } => Ending::Done,
    };
    let mut filter = StopFilter::new(stops);
    let mut content = filter.push(&content_of(parts));
    content.push_str(&filter.finish());
    let reasoning = reasoning_of(parts);
    let calls: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall {
                tool, arguments, ..
            } => Some(json!({
                "id": call_id(),
                "type": "function",
                "function": {"name": tool, "arguments": arguments},
            })),
            _ => None,
        })
        .collect();
    let reason = finish_reason(ending, filter.stopped());
    let mut message = json!({
        "role": "assistant",
        "content": (!content.is_empty()).then_some(content),
        "reasoning": (!reasoning.is_empty()).then_some(reasoning),
        "refusal": null,
    });
    if reason == "tool_calls" && !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": stamp.id,
        "object": "chat.completion",
        "created": stamp.created,
        "model": stamp.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": reason,
        }],
        "usage": usage(reply),
        "system_fingerprint": null,
    })
}

/// Turns the reply's events into `chat.completion.chunk`s as they come.
pub struct Chunks {
    stamp: Stamp,
    include_usage: bool,
    filter: StopFilter,
    /// The reply part each tool call began in → the call's index among the reply's calls.
    calls: HashMap<usize, usize>,
    /// Text as it came from the model, before the stop strings: to tell, at the end, what the
    /// reply holds that was never streamed (the raw rest of a reply that broke the format).
    streamed_content: String,
    streamed_reasoning: String,
}

impl Chunks {
    pub fn new(stamp: Stamp, stops: Vec<String>, include_usage: bool) -> Chunks {
        Chunks {
            stamp,
            include_usage,
            filter: StopFilter::new(stops),
            calls: HashMap::new(),
            streamed_content: String::new(),
            streamed_reasoning: String::new(),
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        let mut chunk = json!({
            "id": self.stamp.id,
            "object": "chat.completion.chunk",
            "created": self.stamp.created,
            "model": self.stamp.model,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    /// The first chunk: the role.
    pub fn start(&self) -> Value {
        self.chunk(json!({"role": "assistant", "content": ""}), None)
    }

    /// Whether a stop string has ended the answer (the generation should stop).
    pub fn stopped(&self) -> bool {
        self.filter.stopped()
    }

    fn content(&mut self, text: &str) -> Option<Value> {
        self.streamed_content.push_str(text);
        let out = self.filter.push(text);
        (!out.is_empty()).then(|| self.chunk(json!({"content": out}), None))
    }

    fn reasoning(&mut self, text: &str) -> Option<Value> {
        if self.filter.stopped() || text.is_empty() {
            return None;
        }
        self.streamed_reasoning.push_str(text);
        Some(self.chunk(json!({"reasoning": text}), None))
    }

    pub fn delta(
        &mut self,
        index: usize,
        kind: DeltaKind,
        tool: Option<String>,
        text: &str,
    ) -> Option<Value> {
        match kind {
            DeltaKind::Answer | DeltaKind::Commentary => self.content(text),
            DeltaKind::Reasoning => self.reasoning(text),
            DeltaKind::ToolCall if self.filter.stopped() => None,
            DeltaKind::ToolCall => {
                let next = self.calls.len();
                let (call, new) = match self.calls.get(&index) {
                    Some(&call) => (call, false),
                    None => {
                        self.calls.insert(index, next);
                        (next, true)
                    }
                };
                let call = if new {
                    json!({
                        "index": call,
                        "id": call_id(),
                        "type": "function",
                        "function": {"name": tool.unwrap_or_default(), "arguments": text},
                    })
                } else {
                    json!({"index": call, "function": {"arguments": text}})
                };
                Some(self.chunk(json!({"tool_calls": [call]}), None))
            }
        }
    }

    /// The last chunks once the reply is done: what was not streamed yet, the finish reason and
    /// (if asked) the usage.
    pub fn end(&mut self, reply: &Message) -> Vec<Value> {
        let (parts, ending): (&[Part], Ending) = match reply {
            Message::Assistant { parts, ending, .. } => (parts, *ending),
            Message::User { .. } => (&[], Ending::Done),
        };
        let mut out = Vec::new();
        let reasoning = reasoning_of(parts);
        if let Some(rest) = reasoning.strip_prefix(self.streamed_reasoning.as_str()) {
            let rest = rest.to_string();
            out.extend(self.reasoning(&rest));
        }
        let content = content_of(parts);
        if let Some(rest) = content.strip_prefix(self.streamed_content.as_str()) {
            let rest = rest.to_string();
            out.extend(self.content(&rest));
        }
        if !self.filter.stopped() {
            let held = self.filter.finish();
            if !held.is_empty() {
                out.push(self.chunk(json!({"content": held}), None));
            }
        }
        let reason = finish_reason(ending, self.filter.stopped());
        out.push(self.chunk(json!({}), Some(reason)));
        if self.include_usage {
            out.push(json!({
                "id": self.stamp.id,
                "object": "chat.completion.chunk",
                "created": self.stamp.created,
                "model": self.stamp.model,
                "system_fingerprint": null,
                "choices": [],
                "usage": usage(reply),
            }));
        }
        out
    }
}

/// What the generation task sends: the reply's events, then its outcome.
pub(crate) enum Out {
    Event(ReplyEvent),
    End(Result<Message, fathom_core::Error>),
}

/// Takes a turn on the model and starts the reply on its own task; the task ends (and the turn
/// passes on) within a token of `stop` being cancelled.
pub(crate) async fn start(
    api: &Arc<Api>,
    prepared: Prepared,
) -> Result<(mpsc::UnboundedReceiver<Out>, CancellationToken), ApiError> {
    let turn = api.queue.enter().await?;
    let stop = CancellationToken::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = api.app.clone();
    let task_stop = stop.clone();
    let Prepared {
        setup,
        messages,
        with,
        ..
    } = prepared;
    let with = ReplyWith {
        model: api.model.dir.clone(),
        allow_unfit: api.allow_unfit,
        ..with
    };
    tokio::spawn(async move {
        let _turn = turn;
        let events = tx.clone();
        let outcome = app
            .reply_to(&setup, &messages, with, &task_stop, &mut |event| {
                let _ = events.send(Out::Event(event));
            })
            .await;
        let _ = tx.send(Out::End(outcome));
    });
    Ok((rx, stop))
}

/// The reply's first delta, or its end. What fails before the first token (the model cannot
/// load, the conversation is too long) is answered with its status rather than as a stream.
pub(crate) async fn first_out(rx: &mut mpsc::UnboundedReceiver<Out>) -> Result<Out, ApiError> {
    loop {
        match rx.recv().await {
            Some(Out::End(Err(e))) => return Err(e.into()),
            Some(out @ (Out::End(Ok(_)) | Out::Event(ReplyEvent::Delta { .. }))) => return Ok(out),
            Some(Out::Event(_)) => {}
            None => return Err(ApiError::server("The reply ended without an outcome.")),
        }
    }
}

pub async fn handle(
    State(api): State<Arc<Api>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    match run(api, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn run(
    api: Arc<Api>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let request: ChatRequest = parse_body(body)?;
    api.check_chat_model(&request.model)?;
    let prepared = prepare(request)?;
    let stamp = Stamp::new(&api.model.id);
    let (stops, stream, include_usage) = (
        prepared.stops.clone(),
        prepared.stream,
        prepared.include_usage,
    );
    let (mut rx, stop) = start(&api, prepared).await?;
    // Whatever ends this request early (the client gone, the handler dropped) stops the reply.
    let guard = stop.clone().drop_guard();
    if !stream {
        let mut filter = StopFilter::new(stops.clone());
        while let Some(out) = rx.recv().await {
            match out {
                Out::Event(ReplyEvent::Delta {
                    part: DeltaKind::Answer | DeltaKind::Commentary,
                    text,
                    ..
                }) => {
                    filter.push(&text);
                    if filter.stopped() {
                        stop.cancel();
                    }
                }
                Out::Event(_) => {}
                Out::End(Ok(reply)) => {
                    return Ok(Json(completion(&stamp, &reply, stops)).into_response())
                }
                Out::End(Err(e)) => return Err(e.into()),
            }
        }
        return Err(ApiError::server("The reply ended without an outcome."));
    }
    let first = first_out(&mut rx).await?;
    let chunks = Chunks::new(stamp, stops, include_usage);
    let opening = vec![chunks.start().to_string()];
    // The stream takes over stopping the reply when it is dropped.
    guard.disarm();
    Ok(super::sse(rx, Some(first), opening, chunks, stop))
}

impl super::Produce for Chunks {
    type In = Out;

    fn next(
        &mut self,
        message: Option<Out>,
        out: &mut VecDeque<String>,
        stop: &CancellationToken,
    ) -> bool {
        match message {
            Some(Out::Event(ReplyEvent::Delta {
                index,
                part,
                tool,
                text,
            })) => {
                out.extend(self.delta(index, part, tool, &text).map(|c| c.to_string()));
                if self.stopped() {
                    stop.cancel();
                }
                false
            }
            Some(Out::Event(_)) => false,
            Some(Out::End(Ok(reply))) => {
                out.extend(self.end(&reply).into_iter().map(|c| c.to_string()));
                out.push_back("[DONE]".into());
                true
            }
            Some(Out::End(Err(e))) => {
                out.push_back(super::error_line(Some(e)));
                true
            }
            None => {
                out.push_back(super::error_line(None));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests;
