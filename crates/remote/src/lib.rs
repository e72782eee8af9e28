//! An OpenAI-compatible server as Fathom's engine: vLLM, llama.cpp's server, LM Studio, another
//! Fathom. For a machine that cannot hold the model, chat and Ask run there instead.
//!
//! [`Remote`] speaks the two dialects such servers offer, both streamed over server-sent events:
//! [`Remote::complete`] sends a raw prompt (token ids, harmony's special tokens included) to
//! `/v1/completions`, the path vLLM serves gpt-oss models on, so the model reads exactly the prompt
//! Fathom rendered; [`Remote::chat`] sends OpenAI chat messages to `/v1/chat/completions`, for
//! servers that take no raw prompts. What the server streams goes to a closure that may end the
//! generation early ([`Flow::Stop`]); cancelling the caller's token ends it at once, closing the
//! connection so the server stops generating too.
//!
//! Every failure is a [`RemoteError`] that names the server and says what to do: down, slow,
//! refusing the key, lacking the model, or answering something that is not an OpenAI response.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fathom_remote::RemoteError> {
//! use fathom_remote::{Completion, Flow, Prompt, Remote, ServerConfig};
//! let remote = Remote::new(ServerConfig::new("http://127.0.0.1:8000/v1"))?;
//! let stop = tokio_util::sync::CancellationToken::new();
//! let request = Completion { prompt: Prompt::Text("<|start|>user<|message|>Hi<|end|><|start|>assistant".into()), ..Completion::default() };
//! let end = remote.complete(&request, &stop, &mut |piece| { print!("{}", piece.text); Flow::Continue }).await?;
//! println!("\n{:?}", end.usage);
//! # Ok(()) }
//! ```

use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Where the server is and how to use it (what Settings holds).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerConfig {
    /// The server's address, with or without its `/v1`.
    pub url: String,
    /// Sent as a bearer token when set.
    pub key: Option<String>,
    /// The model to ask for; the server's first when unset.
    pub model: Option<String>,
}

impl ServerConfig {
    pub fn new(url: impl Into<String>) -> Self {
        ServerConfig {
            url: url.into(),
            ..ServerConfig::default()
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RemoteError {
    #[error("{url:?} is not a server address: {why}")]
    BadUrl { url: String, why: String },
    #[error(
        "cannot reach the server at {server}: {why}. Is it running, and is the address right?"
    )]
    Unreachable { server: String, why: String },
    #[error("the server at {server} refused the key (HTTP {status}): check the key in Settings")]
    Unauthorized { server: String, status: u16 },
    #[error("the server at {server} sent nothing for {seconds} s: it may be overloaded or stuck")]
    Timeout { server: String, seconds: u64 },
    /// The server lacks the endpoint (it takes no raw prompts, say).
    #[error("the server at {server} does not offer {path} (HTTP {status})")]
    NotOffered {
        server: String,
        path: &'static str,
        status: u16,
    },
    #[error("the server at {server} serves no models")]
    NoModels { server: String },
    /// The server said no, with its reason (a model it lacks, a prompt too long, its own failure).
    #[error("the server at {server} answered HTTP {status}: {message}")]
    Refused {
        server: String,
        status: u16,
        message: String,
    },
    /// What came back is not an OpenAI-compatible answer.
    #[error("the server at {server} answered something that is not an OpenAI-compatible response ({what}): {sample}")]
    Nonsense {
        server: String,
        what: String,
        sample: String,
    },
}

/// How long to wait: for a connection, and for the next byte once asked (a long prefill on a
/// busy server sends nothing for a while, so this is generous).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            stall: Duration::from_secs(300),
        }
    }
}

/// A raw prompt: token ids, or text in which harmony's special tokens stand for themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Tokens(Vec<u32>),
    Text(String),
}

impl Default for Prompt {
    fn default() -> Self {
        Prompt::Tokens(Vec::new())
    }
}

/// What generation is asked for, in both dialects.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sampling {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
}

impl Sampling {
    fn write(&self, body: &mut Value) {
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = self.top_p {
            body["top_p"] = json!(p);
        }
        if let Some(s) = self.seed {
            body["seed"] = json!(s);
        }
    }
}

/// A `/v1/completions` request.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub prompt: Prompt,
    pub sampling: Sampling,
}

/// A `/v1/chat/completions` request: OpenAI messages and function tools as JSON.
#[derive(Debug, Clone, Default)]
pub struct ChatCompletion {
    pub messages: Vec<Value>,
    pub tools: Vec<Value>,
    pub reasoning_effort: Option<String>,
    pub sampling: Sampling,
}

/// A piece of a raw completion: its text (special tokens spelled out, as asked) and, where the
/// server returns them (vLLM's and Fathom's `return_token_ids`), its token ids.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Piece {
    pub text: String,
    pub token_ids: Option<Vec<u32>>,
}

/// A piece of a chat completion.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatDelta {
    Reasoning(String),
    Content(String),
    /// Part of the call at `index`: its name comes first, its arguments in pieces.
    ToolCall {
        index: usize,
        name: Option<String>,
        arguments: String,
    },
}

/// Whether the caller wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Enough (a stop token came, say): the connection is closed.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens the server's cache held.
    pub cached_tokens: u64,
}

/// How a generation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The server's own reason (`stop`, `length`, `tool_calls`, …).
    Server(String),
    /// The stream ended without a reason.
    Ended,
    /// The caller's closure said [`Flow::Stop`].
    Caller,
    /// The caller's token was cancelled.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    pub finish: Finish,
    pub usage: Option<Usage>,
}

/// An OpenAI-compatible server, with a connection pool kept between requests.
pub struct Remote {
    /// `http(s)://host:port/…/v1`.
    base: String,
    /// The address as people know it, for messages.
    server: String,
    key: Option<String>,
    model: Option<String>,
    /// The model found on the server when none was named.
    found_model: Mutex<Option<String>>,
    client: reqwest::Client,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("base", &self.base).finish()
    }
}

impl Remote {
    pub fn new(config: ServerConfig) -> Result<Remote, RemoteError> {
        Self::with_timeouts(config, Timeouts::default())
    }

    pub fn with_timeouts(config: ServerConfig, timeouts: Timeouts) -> Result<Remote, RemoteError> {
        let raw = config.url.trim();
        let bad = |why: &str| RemoteError::BadUrl {
            url: raw.to_string(),
            why: why.to_string(),
        };
        let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("it must start with http:// or https://"));
        }
        if url.host_str().is_none() {
            return Err(bad("it names no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not carry a query or fragment"));
        }
        let mut base = url.as_str().trim_end_matches('/').to_string();
        // Servers are known both as `http://host:8000` and `http://host:8000/v1`.
        if !base.ends_with("/v1") {
            base.push_str("/v1");
        }
        // reqwest is built without a default crypto provider; ring is installed once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut client = reqwest::Client::builder();
        // A proxy set for the wider network is never meant for a server on this computer.
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if loopback {
            client = client.no_proxy();
        }
        let client = client
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.stall)
            .user_agent(concat!("fathom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(&format!("cannot set up HTTP: {e}")))?;
        Ok(Remote {
            server: base.trim_end_matches("/v1").to_string(),
            base,
            key: config.key.filter(|k| !k.trim().is_empty()),
            model: config.model.filter(|m| !m.trim().is_empty()),
            found_model: Mutex::new(None),
            client,
            timeouts,
        })
    }

    /// The address requests go to (ending in `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The models the server lists at `/v1/models`.
    pub async fn models(&self) -> Result<Vec<String>, RemoteError> {
        let response = self
            .send(self.request(reqwest::Method::GET, "/models"))
            .await?;
        let response = self.check(response, "/v1/models").await?;
        let body = response.text().await.map_err(|e| self.failed(e))?;
        let value: Value =
            serde_json::from_str(&body).map_err(|_| self.nonsense("not JSON", &body))?;
        let list = value
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| self.nonsense("no model list", &body))?;
        Ok(list
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// The model requests name: the configured one, else the first the server lists.
    pub async fn model(&self) -> Result<String, RemoteError> {
        if let Some(model) = &self.model {
            return Ok(model.clone());
        }
        if let Some(found) = self
            .found_model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(found);
        }
        let first =
            self.models()
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| RemoteError::NoModels {
                    server: self.server.clone(),
                })?;
        *self.found_model.lock().unwrap_or_else(|e| e.into_inner()) = Some(first.clone());
        Ok(first)
    }

    /// Streams a raw-prompt completion from `/v1/completions`, asking for special tokens spelled
    /// out and for token ids (servers that do not know the option send text alone).
    pub async fn complete(
        &self,
        request: &Completion,
        stop: &CancellationToken,
        on_piece: &mut (dyn FnMut(Piece) -> Flow + Send),
    ) -> Result<End, RemoteError> {
        let mut body = json!({
            "model": self.model().await?,
            "stream": true,
            "stream_options": {"include_usage": true},
            "skip_special_tokens": false,
            "return_token_ids": true,
        });
        body["prompt"] = match &request.prompt {
            Prompt::Tokens(ids) => json!(ids),
            Prompt::Text(text) => json!(text),
        };
        request.sampling.write(&mut body);
        self.stream(
            "/completions",
            "/v1/completions",
            body,
            stop,
            &mut |chunk, _| {
                let Some(choice) = chunk.pointer("/choices/0") else {
                    return Ok(Flow::Continue);
                };
                let text = choice.get("text").and_then(Value::as_str);
                let ids = choice
                    .get("token_ids")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()))
                            .collect::<Vec<u32>>()
                    });
                if text.is_none() && ids.is_none() {
                    return Ok(Flow::Continue);
                }
                let piece = Piece {
                    text: text.unwrap_or_default().to_string(),
                    token_ids: ids,
                };
                if piece.text.is_empty() && piece.token_ids.as_ref().is_none_or(|t| t.is_empty()) {
                    return Ok(Flow::Continue);
                }
                Ok(on_piece(piece))
            },
        )
        .await
    }

    /// Streams a chat completion from `/v1/chat/completions`.
    pub async fn chat(
        &self,
        request: &ChatCompletion,
        stop: &CancellationToken,
        on_delta: &mut (dyn FnMut(ChatDelta) -> Flow + Send),
    ) -> Result<End, RemoteError> {
        let mut body = json!({
            "model": self.model().await?,
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": request.messages,
        });
        if !request.tools.is_empty() {
            body["tools"] = json!(request.tools);
        }
        if let Some(effort) = &request.reasoning_effort {
            body["reasoning_effort"] = json!(effort);
        }
        request.sampling.write(&mut body);
        self.stream(
            "/chat/completions",
            "/v1/chat/completions",
            body,
            stop,
            &mut |chunk, whole| {
                let Some(choice) = chunk.pointer("/choices/0") else {
                    return Ok(Flow::Continue);
                };
                // A whole completion (a server that ignored `stream`) carries `message`.
                let delta = choice
                    .get(if whole { "message" } else { "delta" })
                    .unwrap_or(&Value::Null);
                let text = |key: &str| {
                    delta
                        .get(key)
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                };
                let mut deltas = Vec::new();
                // Servers name reasoning either way; one that sends both sends the same text.
                if let Some(r) = text("reasoning").or_else(|| text("reasoning_content")) {
                    deltas.push(ChatDelta::Reasoning(r));
                }
                if let Some(c) = text("content") {
                    deltas.push(ChatDelta::Content(c));
                }
                for (i, call) in delta
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let index = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .map_or(i, |n| n as usize);
                    let function = call.get("function").unwrap_or(&Value::Null);
                    deltas.push(ChatDelta::ToolCall {
                        index,
                        name: function
                            .get("name")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        arguments: function
                            .get("arguments")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    });
                }
                for d in deltas {
                    if on_delta(d) == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                Ok(Flow::Continue)
            },
        )
        .await
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RemoteError> {
        request.send().await.map_err(|e| self.failed(e))
    }

    /// Posts `body` and hands each streamed JSON chunk to `on_chunk` (with `true` for a whole,
    /// unstreamed answer), until the stream ends, the closure says stop, or `stop` is cancelled.
    async fn stream(
        &self,
        path: &str,
        name: &'static str,
        body: Value,
        stop: &CancellationToken,
        on_chunk: &mut (dyn FnMut(&Value, bool) -> Result<Flow, RemoteError> + Send),
    ) -> Result<End, RemoteError> {
        let request = self.request(reqwest::Method::POST, path).json(&body);
        let response = tokio::select! {
            r = self.send(request) => r?,
            _ = stop.cancelled() => return Ok(End { finish: Finish::Cancelled, usage: None }),
        };
        let response = self.check(response, name).await?;
        let is_sse = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            // A server that ignored `stream`: one whole answer.
            let text = tokio::select! {
                t = response.text() => t.map_err(|e| self.failed(e))?,
                _ = stop.cancelled() => return Ok(End { finish: Finish::Cancelled, usage: None }),
            };
            let value: Value =
                serde_json::from_str(&text).map_err(|_| self.nonsense("not JSON", &text))?;
            self.check_chunk(&value, &text)?;
            let flow = on_chunk(&value, true)?;
            return Ok(End {
                finish: match flow {
                    Flow::Stop => Finish::Caller,
                    Flow::Continue => finish_of(&value).unwrap_or(Finish::Ended),
                },
                usage: usage_of(&value),
            });
        }
        let mut events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream());
        let mut finish = Finish::Ended;
        let mut usage = None;
        let mut stopping = false;
        loop {
            let event = tokio::select! {
                e = events.next() => e,
                _ = stop.cancelled() => return Ok(End { finish: Finish::Cancelled, usage }),
            };
            let Some(event) = event else { break };
            let event = event.map_err(|e| self.stream_failed(e))?;
            let Some(data) = event.data else { continue };
            let data = data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(data)
                .map_err(|_| self.nonsense("an event that is not JSON", data))?;
            self.check_chunk(&chunk, data)?;
            if let Some(u) = usage_of(&chunk) {
                usage = Some(u);
            }
            if let Some(f) = finish_of(&chunk).filter(|_| !stopping) {
                finish = f;
            }
            if stopping {
                // The server goes on: it does not end where the caller did.
                if carries_output(&chunk) {
                    break;
                }
                continue;
            }
            if on_chunk(&chunk, false)? == Flow::Stop {
                // Most often the caller stopped at the token the server stops at too: its last
                // events (the finish, the usage) are read, unless it goes on generating.
                stopping = true;
                finish = Finish::Caller;
            }
        }
        Ok(End { finish, usage })
    }

    /// The response if it succeeded; else the error it stands for.
    async fn check(
        &self,
        response: reqwest::Response,
        path: &'static str,
    ) -> Result<reqwest::Response, RemoteError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let code = status.as_u16();
        if matches!(code, 401 | 403) {
            return Err(RemoteError::Unauthorized {
                server: self.server.clone(),
                status: code,
            });
        }
        let body = response.text().await.unwrap_or_default();
        let message = error_message(&body);
        let about_model = message
            .as_deref()
            .is_some_and(|m| m.to_lowercase().contains("model"));
        if matches!(code, 404 | 405 | 501) && !about_model {
            return Err(RemoteError::NotOffered {
                server: self.server.clone(),
                path,
                status: code,
            });
        }
        Err(RemoteError::Refused {
            server: self.server.clone(),
            status: code,
            message: message.unwrap_or_else(|| sample(&body)),
        })
    }

    /// An error reported inside a stream, or a chunk that is no completion.
    fn check_chunk(&self, chunk: &Value, raw: &str) -> Result<(), RemoteError> {
        if let Some(error) = chunk.get("error") {
            return Err(RemoteError::Refused {
                server: self.server.clone(),
                status: 200,
                message: error_message(&error.to_string())
                    .or_else(|| error.as_str().map(str::to_string))
                    .unwrap_or_else(|| sample(raw)),
            });
        }
        if !chunk.is_object() || (chunk.get("choices").is_none() && chunk.get("usage").is_none()) {
            return Err(self.nonsense("a chunk without choices", raw));
        }
        Ok(())
    }

    fn failed(&self, e: reqwest::Error) -> RemoteError {
        if e.is_timeout() {
            return RemoteError::Timeout {
                server: self.server.clone(),
                seconds: if e.is_connect() {
                    self.timeouts.connect.as_secs()
                } else {
                    self.timeouts.stall.as_secs()
                },
            };
        }
        RemoteError::Unreachable {
            server: self.server.clone(),
            why: root_cause(&e),
        }
    }

    fn stream_failed(&self, e: sse_stream::Error) -> RemoteError {
        // The body's own error (a timeout, a reset) is inside.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(re) = s.downcast_ref::<reqwest::Error>() {
                if re.is_timeout() || is_timeout(re) {
                    return RemoteError::Timeout {
                        server: self.server.clone(),
                        seconds: self.timeouts.stall.as_secs(),
                    };
                }
            }
            source = s.source();
        }
        RemoteError::Unreachable {
            server: self.server.clone(),
            why: format!("the stream broke off: {}", chain(&e)),
        }
    }

    fn nonsense(&self, what: &str, body: &str) -> RemoteError {
        RemoteError::Nonsense {
            server: self.server.clone(),
            what: what.to_string(),
            sample: sample(body),
        }
    }
}

fn is_timeout(e: &reqwest::Error) -> bool {
    chain(e).to_lowercase().contains("timed out")
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The innermost reason (connection refused, no such host) rather than reqwest's outer words.
fn root_cause(e: &reqwest::Error) -> String {
    let mut last = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// Whether a chunk carries generated output (text, reasoning, a tool call), not only a finish
/// reason or usage.
fn carries_output(chunk: &Value) -> bool {
    let Some(choice) = chunk.pointer("/choices/0") else {
        return false;
    };
    let filled = |v: Option<&Value>| match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    filled(choice.get("text"))
        || filled(choice.get("token_ids"))
        || ["content", "reasoning", "reasoning_content", "tool_calls"]
            .iter()
            .any(|k| filled(choice.pointer(&format!("/delta/{k}"))))
}

fn finish_of(chunk: &Value) -> Option<Finish> {
    chunk
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        .map(|r| Finish::Server(r.to_string()))
}

fn usage_of(chunk: &Value) -> Option<Usage> {
    let usage = chunk.get("usage").filter(|u| u.is_object())?;
    let n = |p: &str| usage.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        prompt_tokens: n("/prompt_tokens"),
        completion_tokens: n("/completion_tokens"),
        cached_tokens: n("/prompt_tokens_details/cached_tokens"),
    })
}

/// The message in an error body, in the shapes servers use: OpenAI's `{"error": {"message"}}`,
/// llama.cpp's and others' `{"error": "…"}`, FastAPI's `{"detail": …}`, `{"message": …}`.
fn error_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    value
        .pointer("/error/message")
        .and_then(text)
        .or_else(|| value.get("error").and_then(text))
        .or_else(|| value.get("detail").and_then(text))
        .or_else(|| value.get("message").and_then(text))
}

/// The start of a body, for an error message.
fn sample(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "(an empty body)".into();
    }
    let cut: String = body.chars().take(200).collect();
    if cut.len() < body.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_taken_with_or_without_v1_and_bad_ones_are_named() {
        for url in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/",
            "http://127.0.0.1:8000/v1",
            " http://127.0.0.1:8000/v1/ ",
        ] {
            let remote = Remote::new(ServerConfig::new(url)).unwrap();
            assert_eq!(remote.base_url(), "http://127.0.0.1:8000/v1", "{url}");
        }
        let proxied = Remote::new(ServerConfig::new("https://example.org/llm/v1")).unwrap();
        assert_eq!(proxied.base_url(), "https://example.org/llm/v1");
        for (url, why) in [
            ("localhost:8000", "http"),
            ("ftp://host/v1", "http"),
            ("", "relative URL"),
            ("http://host/v1?x=1", "query"),
        ] {
            let e = Remote::new(ServerConfig::new(url)).unwrap_err();
            assert!(
                matches!(&e, RemoteError::BadUrl { .. }) && e.to_string().contains(why),
                "{url}: {e}"
            );
        }
    }

    #[test]
    fn error_bodies_in_every_common_shape_give_their_message() {
        for body in [
            r#"{"error": {"message": "boom", "type": "x"}}"#,
            r#"{"error": "boom"}"#,
            r#"{"detail": "boom"}"#,
            r#"{"message": "boom"}"#,
        ] {
            assert_eq!(error_message(body).as_deref(), Some("boom"), "{body}");
        }
        assert_eq!(error_message("<html>"), None);
        assert_eq!(sample(&"x".repeat(300)).chars().count(), 201);
    }
}
