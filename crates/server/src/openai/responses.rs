//! `POST /v1/responses`: OpenAI's Responses API, the native shape of gpt-oss's output. A reply's
//! parts are output items in order (reasoning, function calls, messages) rather than one message
//! with side fields; streamed, each item is announced, filled by typed deltas and closed, between
//! `response.created` and `response.completed` (or `response.incomplete`).
//!
//! Nothing is stored: `previous_response_id` is refused, and a conversation is continued by
//! sending its items as `input`, reasoning and function calls included, with
//! `function_call_output` items answering calls by `call_id`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fathom_chat::conversation::{today, Ending, Part};
use fathom_chat::session::{DeltaKind, ReplyEvent};
use fathom_chat::{Effort, Message, Setup, Tool};
use fathom_core::CancellationToken;
use serde::Deserialize;
use serde_json::{json, Value};

use super::chat::{Out, Prepared};
use crate::error::ApiError;
use crate::{parse_body, Api};

#[derive(Debug, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: Input,
    pub instructions: Option<String>,
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub reasoning: Option<ReasoningParam>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    #[serde(default)]
    pub stream: bool,
    pub previous_response_id: Option<String>,
    pub text: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Value>),
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasoningParam {
    pub effort: Option<String>,
}

/// The request as a conversation, with what it asks of the generation.
pub fn prepare(request: ResponsesRequest) -> Result<Prepared, ApiError> {
    if request.previous_response_id.is_some() {
        return Err(ApiError::param(
            "previous_response_id",
            "Responses are not stored here: send the conversation's items as input.",
        ));
    }
    if let Some(text) = &request.text {
        if text
            .pointer("/format/type")
            .and_then(Value::as_str)
            .unwrap_or("text")
            != "text"
        {
            return Err(ApiError::param(
                "text.format",
                "Only text output is offered (no JSON mode or schemas).",
            ));
        }
    }
    let (with, _) = super::generation(
        request.temperature,
        request.top_p,
        request.max_output_tokens,
        None,
        None,
    )
    .map_err(|e| match e.param.as_deref() {
        Some("max_tokens") => {
            ApiError::param("max_output_tokens", "max_output_tokens must be at least 1.")
        }
        _ => e,
    })?;
    let effort = match request.reasoning.and_then(|r| r.effort).as_deref() {
        None | Some("medium") => Effort::Medium,
        Some("minimal" | "none" | "low") => Effort::Low,
        Some("high") => Effort::High,
        Some(other) => {
            return Err(ApiError::param(
                "reasoning.effort",
                format!("reasoning.effort must be low, medium or high, not {other:?}."),
            ))
        }
    };
    let tools = tools(request.tools, request.tool_choice.as_ref())?;
    let (mut instructions, messages) = conversation(request.input)?;
    if let Some(given) = request.instructions.filter(|i| !i.trim().is_empty()) {
        instructions.insert(0, given);
    }
    Ok(Prepared {
        setup: Setup {
            effort,
            date: Some(today()),
            instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
            tools,
        },
        messages,
        with,
        stops: Vec::new(),
        stream: request.stream,
        include_usage: true,
    })
}

fn tools(declared: Option<Vec<Value>>, choice: Option<&Value>) -> Result<Vec<Tool>, ApiError> {
    match choice {
        None => {}
        Some(Value::String(c)) if c == "auto" => {}
        Some(Value::String(c)) if c == "none" => return Ok(Vec::new()),
        Some(_) => {
            return Err(ApiError::param(
                "tool_choice",
                "The model chooses its tools itself: tool_choice may be auto or none.",
            ))
        }
    }
    let mut out = Vec::new();
    for (i, tool) in declared.unwrap_or_default().into_iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
        let name = tool.get("name").and_then(Value::as_str);
        match (kind, name) {
            ("function", Some(name)) => out.push(Tool {
                name: name.to_string(),
                description: tool
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                parameters: tool.get("parameters").cloned().filter(|p| !p.is_null()),
            }),
            ("function", None) => {
                return Err(ApiError::param(
                    &format!("tools[{i}].name"),
                    "A function tool needs a name.",
                ))
            }
            (other, _) => {
                return Err(ApiError::param(
                    &format!("tools[{i}].type"),
                    format!("Only function tools are offered, not {other:?}."),
                ))
            }
        }
    }
    Ok(out)
}

/// The text of a message item's content: a string, or parts of input or output text.
fn text_of(content: Option<&Value>, param: &str) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (i, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text" | "text" | "reasoning_text") => {
                        text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""))
                    }
                    other => {
                        return Err(ApiError::param(
                            &format!("{param}.content[{i}].type"),
                            format!("Only text content is read, not {other:?}."),
                        ))
                    }
                }
            }
            Ok(text)
        }
        Some(_) => Err(ApiError::param(
            &format!("{param}.content"),
            "Content is a string or a list of text parts.",
        )),
    }
}

fn parts_len(messages: &[Message]) -> usize {
    match messages.last() {
        Some(Message::Assistant { parts, .. }) => parts.len(),
        _ => 0,
    }
}

/// The items as Fathom's conversation; system and developer messages become instructions.
fn conversation(input: Input) -> Result<(Vec<String>, Vec<Message>), ApiError> {
    let items = match input {
        Input::Text(text) => return Ok((Vec::new(), vec![Message::user(text)])),
        Input::Items(items) => items,
    };
    let mut instructions = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    // A call's id → where its part is: (message, part).
    let mut calls: HashMap<String, (usize, usize)> = HashMap::new();
    let mut last_answers = false;
    // The assistant message items add to, opened by the first assistant-side item after a user.
    fn assistant(messages: &mut Vec<Message>) -> &mut Vec<Part> {
        if !matches!(messages.last(), Some(Message::Assistant { .. })) {
            messages.push(Message::Assistant {
                parts: Vec::new(),
                ending: Ending::Done,
                stats: None,
            });
        }
        match messages.last_mut() {
            Some(Message::Assistant { parts, .. }) => parts,
            _ => unreachable!("an assistant message was just pushed"),
        }
    }
    for (i, item) in items.iter().enumerate() {
        let param = format!("input[{i}]");
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        let role = item.get("role").and_then(Value::as_str);
        last_answers =
            matches!(kind, "function_call_output") || (kind == "message" && role == Some("user"));
        match (kind, role) {
            ("message", Some("system" | "developer")) => {
                let text = text_of(item.get("content"), &param)?;
                if !text.trim().is_empty() {
                    instructions.push(text);
                }
            }
            ("message", Some("user")) => {
                messages.push(Message::user(text_of(item.get("content"), &param)?))
            }
            ("message", Some("assistant")) => {
                let text = text_of(item.get("content"), &param)?;
                assistant(&mut messages).push(Part::Answer { text });
            }
            ("reasoning", _) => {
                let text = match item.get("content") {
                    Some(content) if !content.is_null() => text_of(Some(content), &param)?,
                    _ => item
                        .get("summary")
                        .and_then(Value::as_array)
                        .map(|s| {
                            s.iter()
                                .filter_map(|p| p.get("text").and_then(Value::as_str))
                                .collect::<Vec<_>>()
                                .join("\n")
                        })
                        .unwrap_or_default(),
                };
                if !text.is_empty() {
                    assistant(&mut messages).push(Part::Reasoning { text });
                }
            }
            ("function_call", _) => {
                let field = |name: &str| {
                    item.get(name).and_then(Value::as_str).ok_or_else(|| {
                        ApiError::param(
                            &format!("{param}.{name}"),
                            format!("A function_call item needs its {name}."),
                        )
                    })
                };
                let (id, name, arguments) = (field("call_id")?, field("name")?, field("arguments")?);
                let parts = assistant(&mut messages);
                parts.push(Part::ToolCall {
                    tool: name.to_string(),
                    arguments: arguments.to_string(),
                    output: None,
                });
                let place = (messages.len() - 1, parts_len(&messages) - 1);
                calls.insert(id.to_string(), place);
                if let Some(Message::Assistant { ending, .. }) = messages.last_mut() {
                    *ending = Ending::ToolCall;
                }
            }
            ("function_call_output", _) => {
                let id = item.get("call_id").and_then(Value::as_str).unwrap_or_default();
                let output = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => text_of(Some(other), &param)?,
                    None => String::new(),
                };
                let place = calls.get(id).copied();
                let part = place.and_then(|(m, p)| match &mut messages[m] {
                    Message::Assistant { parts, .. } => parts.get_mut(p),
                    Message::User { .. } => None,
                });
                match part {
                    Some(Part::ToolCall { output: slot, .. }) => *slot = Some(output),
                    _ => {
                        return Err(ApiError::param(
                            &format!("{param}.call_id"),
                            format!("No function_call item before this one has call_id {id:?}."),
                        ))
                    }
                }
            }
            (other, role) => {
                return Err(ApiError::param(
                    &format!("{param}.type"),
                    format!(
                        "Items are messages (user, assistant, system, developer), reasoning, function_call and function_call_output, not {other:?}{}.",
                        role.map(|r| format!(" from {r:?}")).unwrap_or_default()
                    ),
                ))
            }
        }
    }
    if messages.is_empty() || !last_answers {
        return Err(ApiError::param(
            "input",
            "The input must end with a user message or a function_call_output.",
        ));
    }
    Ok((instructions, messages))
}

/// Who the response is, and what it was asked with, as every response object repeats it.
struct Head {
    id: String,
    created: u64,
    model: String,
    setup: Setup,
    max_output_tokens: Option<usize>,
}

impl Head {
    /// Item ids follow the reply's parts, so streamed items and the final output agree.
    fn item_id(&self, kind: &str, index: usize) -> String {
        let suffix = self.id.trim_start_matches("resp_");
        format!("{kind}_{suffix}_{index}")
    }

    fn response(&self, status: &str, output: Vec<Value>, reply: Option<&Message>) -> Value {
        let tools: Vec<Value> = self
            .setup
            .tools
            .iter()
            .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": false}))
            .collect();
        let mut response = json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "instructions": self.setup.instructions,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": false,
            "reasoning": {"effort": self.setup.effort.as_str(), "summary": null},
            "store": false,
            "temperature": null,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": tools,
            "top_p": null,
            "truncation": "disabled",
            "metadata": {},
            "usage": null,
        });
        if status == "incomplete" {
            response["incomplete_details"] = json!({"reason": "max_output_tokens"});
        }
        if let Some(Message::Assistant {
            stats: Some(s),
            parts,
            ..
        }) = reply
        {
            let reasoning_parts = parts
                .iter()
                .filter(|p| matches!(p, Part::Reasoning { .. }))
                .count();
            response["usage"] = json!({
                "input_tokens": s.prompt_tokens,
                "input_tokens_details": {"cached_tokens": s.cached_tokens},
                "output_tokens": s.generated_tokens,
                "output_tokens_details": {"reasoning_tokens": if reasoning_parts > 0 { Value::Null } else { json!(0) }},
                "total_tokens": s.prompt_tokens + s.generated_tokens,
            });
        }
        response
    }

    /// A finished part as an output item.
    fn item(&self, index: usize, part: &Part, status: &str) -> Value {
        match part {
            Part::Reasoning { text } => json!({
                "type": "reasoning",
                "id": self.item_id("rs", index),
                "summary": [],
                "content": [{"type": "reasoning_text", "text": text}],
                "status": status,
            }),
            Part::ToolCall {
                tool, arguments, ..
            } => json!({
                "type": "function_call",
                "id": self.item_id("fc", index),
                "call_id": self.item_id("call", index),
                "name": tool,
                "arguments": arguments,
                "status": status,
            }),
            Part::Commentary { text } | Part::Answer { text } => json!({
                "type": "message",
                "id": self.item_id("msg", index),
                "role": "assistant",
                "status": status,
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }),
        }
    }

    fn finished(&self, reply: &Message) -> Value {
        let (parts, ending) = match reply {
            Message::Assistant { parts, ending, .. } => (parts.as_slice(), *ending),
            Message::User { .. } => (&[][..], Ending::Done),
        };
        let status = if ending == Ending::Length {
            "incomplete"
        } else {
            "completed"
        };
        let output = parts
            .iter()
            .enumerate()
            .map(|(i, p)| self.item(i, p, "completed"))
            .collect();
        self.response(status, output, Some(reply))
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
    let request: ResponsesRequest = parse_body(body)?;
    api.check_chat_model(&request.model)?;
    let prepared = prepare(request)?;
    let head = Head {
        id: format!("resp_{}", uuid::Uuid::new_v4().simple()),
        created: crate::unix_now(),
        model: api.model.id.clone(),
        setup: prepared.setup.clone(),
        max_output_tokens: prepared.with.max_tokens,
    };
    let stream = prepared.stream;
    let (mut rx, stop) = super::chat::start(&api, prepared).await?;
    let guard = stop.clone().drop_guard();
    if !stream {
        while let Some(out) = rx.recv().await {
            match out {
                Out::Event(_) => {}
                Out::End(Ok(reply)) => return Ok(Json(head.finished(&reply)).into_response()),
                Out::End(Err(e)) => return Err(e.into()),
            }
        }
        return Err(ApiError::server("The reply ended without an outcome."));
    }
    let first = super::chat::first_out(&mut rx).await?;
    let mut events = Events {
        head,
        sequence: 0,
        open: None,
    };
    let created = events.response_event("response.created", "in_progress");
    let progress = events.response_event("response.in_progress", "in_progress");
    guard.disarm();
    Ok(super::sse(
        rx,
        Some(first),
        vec![created, progress],
        events,
        stop,
    ))
}

/// The item being streamed: its part's index, kind and text so far.
struct OpenItem {
    index: usize,
    kind: DeltaKind,
    tool: Option<String>,
    text: String,
}

/// Turns the reply's events into the Responses API's stream events.
struct Events {
    head: Head,
    sequence: u64,
    open: Option<OpenItem>,
}

impl Events {
    fn event(&mut self, kind: &str, mut body: Value) -> String {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        body.to_string()
    }

    fn response_event(&mut self, kind: &str, status: &str) -> String {
        let response = self.head.response(status, Vec::new(), None);
        self.event(kind, json!({"response": response}))
    }

    fn part_of(item: &OpenItem) -> Part {
        let text = item.text.clone();
        match item.kind {
            DeltaKind::Reasoning => Part::Reasoning { text },
            DeltaKind::ToolCall => Part::ToolCall {
                tool: item.tool.clone().unwrap_or_default(),
                arguments: text,
                output: None,
            },
            DeltaKind::Commentary => Part::Commentary { text },
            DeltaKind::Answer => Part::Answer { text },
        }
    }

    fn open_item(&mut self, out: &mut VecDeque<String>, item: OpenItem) {
        let index = item.index;
        let mut added = self.head.item(index, &Self::part_of(&item), "in_progress");
        let item_id = added["id"].clone();
        match item.kind {
            DeltaKind::ToolCall => added["arguments"] = json!(""),
            _ => added["content"] = json!([]),
        }
        out.push_back(self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": added}),
        ));
        let part = match item.kind {
            DeltaKind::ToolCall => None,
            DeltaKind::Reasoning => Some(json!({"type": "reasoning_text", "text": ""})),
            _ => Some(json!({"type": "output_text", "text": "", "annotations": []})),
        };
        if let Some(part) = part {
            out.push_back(self.event(
                "response.content_part.added",
                json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
            ));
        }
        self.open = Some(item);
    }

    fn close_item(&mut self, out: &mut VecDeque<String>) {
        let Some(item) = self.open.take() else { return };
        let index = item.index;
        let done = self.head.item(index, &Self::part_of(&item), "completed");
        let item_id = done["id"].clone();
        match item.kind {
            DeltaKind::ToolCall => out.push_back(self.event(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": index, "arguments": item.text}),
            )),
            kind => {
                let (done_kind, part) = if kind == DeltaKind::Reasoning {
                    (
                        "response.reasoning_text.done",
                        json!({"type": "reasoning_text", "text": item.text}),
                    )
                } else {
                    (
                        "response.output_text.done",
                        json!({"type": "output_text", "text": item.text, "annotations": []}),
                    )
                };
                out.push_back(self.event(
                    done_kind,
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": item.text}),
                ));
                out.push_back(self.event(
                    "response.content_part.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
                ));
            }
        }
        out.push_back(self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": done}),
        ));
    }

    fn delta(
        &mut self,
        out: &mut VecDeque<String>,
        index: usize,
        kind: DeltaKind,
        tool: Option<String>,
        text: &str,
    ) {
        if self.open.as_ref().is_some_and(|o| o.index != index) {
            self.close_item(out);
        }
        if self.open.is_none() {
            self.open_item(
                out,
                OpenItem {
                    index,
                    kind,
                    tool,
                    text: String::new(),
                },
            );
        }
        let Some(open) = self.open.as_mut() else {
            return;
        };
        open.text.push_str(text);
        let item_id = self.head.item_id(
            match open.kind {
                DeltaKind::Reasoning => "rs",
                DeltaKind::ToolCall => "fc",
                _ => "msg",
            },
            index,
        );
        let kind = match open.kind {
            DeltaKind::Reasoning => "response.reasoning_text.delta",
            DeltaKind::ToolCall => "response.function_call_arguments.delta",
            _ => "response.output_text.delta",
        };
        let mut body = json!({"item_id": item_id, "output_index": index, "delta": text});
        if kind != "response.function_call_arguments.delta" {
            body["content_index"] = json!(0);
        }
        out.push_back(self.event(kind, body));
    }
}

impl super::Produce for Events {
    type In = Out;

    fn next(
        &mut self,
        message: Option<Out>,
        out: &mut VecDeque<String>,
        _stop: &CancellationToken,
    ) -> bool {
        match message {
            Some(Out::Event(ReplyEvent::Delta {
                index,
                part,
                tool,
                text,
            })) => {
                self.delta(out, index, part, tool, &text);
                false
            }
            Some(Out::Event(_)) => false,
            Some(Out::End(Ok(reply))) => {
                self.close_item(out);
                let response = self.head.finished(&reply);
                let kind = if response["status"] == "incomplete" {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                out.push_back(self.event(kind, json!({"response": response})));
                true
            }
            Some(Out::End(Err(e))) => {
                let body = ApiError::from(e).body();
                out.push_back(self.event(
                    "error",
                    json!({"code": body["error"]["code"], "message": body["error"]["message"], "param": null}),
                ));
                true
            }
            None => {
                out.push_back(self.event(
                    "error",
                    json!({"code": "server_error", "message": "The generation ended without an outcome.", "param": null}),
                ));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(body: Value) -> Result<Prepared, ApiError> {
        let mut body = body;
        body["model"] = json!("m");
        prepare(serde_json::from_value(body).unwrap())
    }

    #[test]
    fn items_with_reasoning_and_a_call_answered_by_id_become_one_reply() {
        let p = prepared(json!({
            "instructions": "Be brief.",
            "reasoning": {"effort": "high"},
            "tools": [{"type": "function", "name": "weather", "description": "Weather.", "parameters": {"type": "object"}}],
            "input": [
                {"role": "developer", "content": "Use metric units."},
                {"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "Call it."}]},
                {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "{\"c\": 3}"},
            ],
        }))
        .unwrap();
        assert_eq!(p.setup.effort, Effort::High);
        assert_eq!(
            p.setup.instructions.as_deref(),
            Some("Be brief.\n\nUse metric units.")
        );
        assert_eq!(p.setup.tools[0].name, "weather");
        assert_eq!(
            p.messages,
            vec![
                Message::user("Weather in Oslo?"),
                Message::Assistant {
                    parts: vec![
                        Part::Reasoning {
                            text: "Call it.".into()
                        },
                        Part::ToolCall {
                            tool: "weather".into(),
                            arguments: "{\"city\":\"Oslo\"}".into(),
                            output: Some("{\"c\": 3}".into())
                        },
                    ],
                    ending: Ending::ToolCall,
                    stats: None,
                },
            ]
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_with_the_field_named() {
        for (body, param) in [
            (
                json!({"input": "x", "previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (
                json!({"input": "x", "tools": [{"type": "web_search"}]}),
                "tools[0].type",
            ),
            (
                json!({"input": "x", "tool_choice": {"type": "function", "name": "f"}}),
                "tool_choice",
            ),
            (
                json!({"input": "x", "reasoning": {"effort": "extreme"}}),
                "reasoning.effort",
            ),
            (
                json!({"input": "x", "max_output_tokens": 0}),
                "max_output_tokens",
            ),
            (
                json!({"input": "x", "text": {"format": {"type": "json_schema"}}}),
                "text.format",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"input": [{"role": "user", "content": "x"}, {"type": "function_call_output", "call_id": "nope", "output": "y"}]}),
                "input[1].call_id",
            ),
            (
                json!({"input": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}),
                "input",
            ),
            (
                json!({"input": [{"type": "web_search_call"}]}),
                "input[0].type",
            ),
        ] {
            let e = prepared(body.clone()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}: {e:?}");
        }
    }

    #[test]
    fn a_reply_is_items_in_order_and_a_long_one_is_incomplete() {
        let head = Head {
            id: "resp_abc".into(),
            created: 1,
            model: "chat".into(),
            setup: Setup::default(),
            max_output_tokens: Some(5),
        };
        let reply = Message::Assistant {
            parts: vec![
                Part::Reasoning { text: "Hm.".into() },
                Part::ToolCall {
                    tool: "search".into(),
                    arguments: "{}".into(),
                    output: None,
                },
            ],
            ending: Ending::ToolCall,
            stats: Some(fathom_chat::conversation::ReplyStats {
                prompt_tokens: 10,
                cached_tokens: 4,
                generated_tokens: 5,
                ..Default::default()
            }),
        };
        let r = head.finished(&reply);
        assert_eq!(r["status"], "completed");
        assert_eq!(r["output"][0]["type"], "reasoning");
        assert_eq!(r["output"][0]["content"][0]["text"], "Hm.");
        assert_eq!(r["output"][1]["type"], "function_call");
        assert_eq!(r["output"][1]["call_id"], "call_abc_1");
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(r["usage"]["total_tokens"], 15);
        let cut = Message::Assistant {
            parts: vec![Part::Answer { text: "Par".into() }],
            ending: Ending::Length,
            stats: None,
        };
        let r = head.finished(&cut);
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(r["output"][0]["content"][0]["type"], "output_text");
    }
}
