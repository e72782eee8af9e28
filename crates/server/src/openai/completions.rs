//! `POST /v1/completions`: generation after a raw prompt, as agent harnesses use gpt-oss on vLLM.
//! The prompt is harmony text (its special tokens, `<|start|>` and the rest, read as such) or
//! token ids; the text that comes back keeps harmony's special tokens, since that is the format
//! the caller parses (`skip_special_tokens: true` drops them). `return_token_ids: true` (vLLM's
//! name) adds the ids, for callers that parse tokens themselves.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fathom_chat::harmony::Utf8Stream;
use fathom_core::{CancellationToken, ReplyWith};
use fathom_engine::{FinishReason, Stats};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::chat::StopFilter;
use crate::error::ApiError;
use crate::{parse_body, unix_now, Api};

#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: Prompt,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<i64>,
    pub stop: Option<super::chat::StopParam>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<super::chat::StreamOptions>,
    pub n: Option<u32>,
    pub echo: Option<bool>,
    pub logprobs: Option<u32>,
    pub suffix: Option<String>,
    #[serde(default)]
    pub skip_special_tokens: bool,
    #[serde(default)]
    pub return_token_ids: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

/// Text from a stream of tokens, whole characters at a time.
struct Detokenizer {
    harmony: fathom_chat::Harmony,
    skip_special: bool,
    text: Utf8Stream,
}

impl Detokenizer {
    fn push(&mut self, token: u32) -> String {
        // Harmony's special tokens are the ids from 199998 up (o200k_harmony's reserved range).
        if self.skip_special && token >= 199_998 {
            return String::new();
        }
        self.text.push(&self.harmony.decode_bytes(&[token]))
    }

    fn finish(&mut self) -> String {
        self.text.finish()
    }
}

fn refuse_unsupported(r: &CompletionRequest) -> Result<(), ApiError> {
    if r.n.is_some_and(|n| n != 1) {
        return Err(ApiError::param(
            "n",
            "Only one choice (n = 1) is generated.",
        ));
    }
    if r.echo == Some(true) {
        return Err(ApiError::param("echo", "echo is not offered."));
    }
    if r.logprobs.is_some_and(|l| l > 0) {
        return Err(ApiError::param(
            "logprobs",
            "Log probabilities are not offered.",
        ));
    }
    if r.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::param(
            "suffix",
            "suffix (fill in the middle) is not offered.",
        ));
    }
    Ok(())
}

pub(crate) enum Out {
    Token(u32),
    End(Result<Stats, fathom_core::Error>),
}

fn finish_reason(stats: &Stats, stopped_by_string: bool) -> &'static str {
    match stats.finish_reason {
        FinishReason::Length if !stopped_by_string => "length",
        _ => "stop",
    }
}

fn usage(stats: &Stats) -> Value {
    json!({
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.generated_tokens,
        "total_tokens": stats.prompt_tokens + stats.generated_tokens,
        "prompt_tokens_details": {"cached_tokens": stats.cached_tokens},
    })
}

pub async fn handle(State(api): State<Arc<Api>>, body: Result<Bytes, BytesRejection>) -> Response {
    match run(api, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn run(api: Arc<Api>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let request: CompletionRequest = parse_body(body)?;
    api.check_chat_model(&request.model)?;
    refuse_unsupported(&request)?;
    let (with, stops) = super::generation(
        request.temperature,
        request.top_p,
        request.max_tokens,
        request.seed,
        request.stop,
    )?;
    let harmony = api.app.harmony()?;
    let prompt = match request.prompt {
        Prompt::Text(text) => harmony.encode_with_special_tokens(&text),
        Prompt::Tokens(ids) => ids,
        Prompt::Texts(mut texts) if texts.len() == 1 => {
            harmony.encode_with_special_tokens(&texts.remove(0))
        }
        Prompt::TokenLists(mut lists) if lists.len() == 1 => lists.remove(0),
        Prompt::Texts(_) | Prompt::TokenLists(_) => {
            return Err(ApiError::param("prompt", "Send one prompt per request."))
        }
    };
    if prompt.is_empty() {
        return Err(ApiError::param("prompt", "The prompt is empty."));
    }
    let with = ReplyWith {
        model: api.model.dir.clone(),
        allow_unfit: api.allow_unfit,
        ..with
    };
    let turn = api.queue.enter().await?;
    let stop = CancellationToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = api.app.clone();
    let task_stop = stop.clone();
    tokio::spawn(async move {
        let _turn = turn;
        let tokens = tx.clone();
        let outcome = app
            .complete(prompt, with, &task_stop, &mut |t| {
                let _ = tokens.send(Out::Token(t));
            })
            .await;
        let _ = tx.send(Out::End(outcome));
    });
    let guard = stop.clone().drop_guard();
    let id = format!("cmpl-{}", uuid::Uuid::new_v4().simple());
    let created = unix_now();
    let model = api.model.id.clone();
    let mut text = Text {
        detok: Detokenizer {
            harmony,
            skip_special: request.skip_special_tokens,
            text: Utf8Stream::default(),
        },
        filter: StopFilter::new(stops),
        ids: Vec::new(),
    };
    if !request.stream {
        let mut out = String::new();
        while let Some(event) = rx.recv().await {
            match event {
                Out::Token(t) => {
                    out.push_str(&text.push(t));
                    if text.filter.stopped() {
                        stop.cancel();
                    }
                }
                Out::End(Ok(stats)) => {
                    out.push_str(&text.finish());
                    let mut choice = json!({
                        "index": 0, "text": out, "logprobs": null,
                        "finish_reason": finish_reason(&stats, text.filter.stopped()),
                    });
                    if request.return_token_ids {
                        choice["token_ids"] = json!(text.ids);
                    }
                    return Ok(Json(json!({
                        "id": id, "object": "text_completion", "created": created,
                        "model": model, "choices": [choice], "usage": usage(&stats),
                    }))
                    .into_response());
                }
                Out::End(Err(e)) => return Err(e.into()),
            }
        }
        return Err(ApiError::server("The generation ended without an outcome."));
    }
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let chunk = move |text: &str, ids: Option<Vec<u32>>, finish: Option<&str>| {
        let mut choice =
            json!({"index": 0, "text": text, "logprobs": null, "finish_reason": finish});
        if let Some(ids) = ids {
            choice["token_ids"] = json!(ids);
        }
        json!({"id": id, "object": "text_completion", "created": created, "model": model,
               "choices": [choice]})
    };
    guard.disarm();
    let producer = Streamed {
        text,
        chunk: Box::new(chunk),
        include_usage,
        return_ids: request.return_token_ids,
    };
    Ok(super::sse(rx, None, Vec::new(), producer, stop))
}

/// The completion's text so far: detokenized, cut at a stop string.
struct Text {
    detok: Detokenizer,
    filter: StopFilter,
    ids: Vec<u32>,
}

impl Text {
    fn push(&mut self, token: u32) -> String {
        if self.filter.stopped() {
            return String::new();
        }
        self.ids.push(token);
        let piece = self.detok.push(token);
        self.filter.push(&piece)
    }

    fn finish(&mut self) -> String {
        if self.filter.stopped() {
            return String::new();
        }
        let rest = self.detok.finish();
        let mut out = self.filter.push(&rest);
        if !self.filter.stopped() {
            out.push_str(&self.filter.finish());
        }
        out
    }
}

type Chunk = Box<dyn Fn(&str, Option<Vec<u32>>, Option<&str>) -> Value + Send>;

struct Streamed {
    text: Text,
    chunk: Chunk,
    include_usage: bool,
    return_ids: bool,
}

impl super::Produce for Streamed {
    type In = Out;

    fn next(
        &mut self,
        message: Option<Out>,
        queue: &mut VecDeque<String>,
        stop: &CancellationToken,
    ) -> bool {
        match message {
            Some(Out::Token(t)) => {
                let piece = self.text.push(t);
                if !piece.is_empty() || (self.return_ids && !self.text.filter.stopped()) {
                    let ids = self.return_ids.then(|| vec![t]);
                    queue.push_back((self.chunk)(&piece, ids, None).to_string());
                }
                if self.text.filter.stopped() {
                    stop.cancel();
                }
                false
            }
            Some(Out::End(Ok(stats))) => {
                let rest = self.text.finish();
                if !rest.is_empty() {
                    queue.push_back((self.chunk)(&rest, None, None).to_string());
                }
                let reason = finish_reason(&stats, self.text.filter.stopped());
                queue.push_back((self.chunk)("", None, Some(reason)).to_string());
                if self.include_usage {
                    let mut last = (self.chunk)("", None, None);
                    last["choices"] = json!([]);
                    last["usage"] = usage(&stats);
                    queue.push_back(last.to_string());
                }
                queue.push_back("[DONE]".into());
                true
            }
            Some(Out::End(Err(e))) => {
                queue.push_back(super::error_line(Some(e)));
                true
            }
            None => {
                queue.push_back(super::error_line(None));
                true
            }
        }
    }
}
