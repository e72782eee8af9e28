//! The OpenAI-compatible endpoints.

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod responses;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use fathom_core::{CancellationToken, ReplyWith};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::DropGuard;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::Api;

fn model_entry(id: &str, created: u64) -> Value {
    json!({"id": id, "object": "model", "created": created, "owned_by": "fathom"})
}

/// `GET /v1/models`: the chat model this server runs, and the library's embedder if it is here.
pub async fn models(State(api): State<Arc<Api>>) -> Json<Value> {
    let data: Vec<Value> = api
        .served()
        .iter()
        .map(|id| model_entry(id, api.started))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}`.
pub async fn model(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    let served = api.served();
    if served.contains(&id) {
        Json(model_entry(&id, api.started)).into_response()
    } else {
        let names: Vec<&str> = served.iter().map(String::as_str).collect();
        ApiError::unknown_model(&id, &names).into_response()
    }
}

/// A streamed response's side: turns what the generation sends into SSE data lines.
pub(crate) trait Produce: Send + 'static {
    type In: Send + 'static;
    /// Adds the data lines for `message` (`None`: the generation ended without an outcome) to
    /// `out`; returns whether the stream is done. `stop` ends the generation (a stop string).
    fn next(
        &mut self,
        message: Option<Self::In>,
        out: &mut VecDeque<String>,
        stop: &CancellationToken,
    ) -> bool;
}

struct Streaming<P: Produce> {
    rx: UnboundedReceiver<P::In>,
    first: Option<P::In>,
    producer: P,
    queue: VecDeque<String>,
    finished: bool,
    stop: CancellationToken,
    /// Dropped with the stream when the client goes away: the generation stops.
    _guard: DropGuard,
}

/// Streams `producer`'s lines as server-sent events: `opening` first, then `first` (a message
/// already taken off `rx`) and the rest of `rx`. Dropping the response (the client gone) stops
/// the generation through `stop`.
pub(crate) fn sse<P: Produce>(
    rx: UnboundedReceiver<P::In>,
    first: Option<P::In>,
    opening: Vec<String>,
    producer: P,
    stop: CancellationToken,
) -> Response {
    let state = Streaming {
        rx,
        first,
        producer,
        queue: opening.into(),
        finished: false,
        _guard: stop.clone().drop_guard(),
        stop,
    };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(data) = s.queue.pop_front() {
                return Some((Ok::<_, Infallible>(Event::default().data(data)), s));
            }
            if s.finished {
                return None;
            }
            let message = match s.first.take() {
                Some(m) => Some(m),
                None => s.rx.recv().await,
            };
            s.finished = s.producer.next(message, &mut s.queue, &s.stop);
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The error line a stream ends with when the generation fails part way (OpenAI's clients raise
/// an error chunk as an error).
pub(crate) fn error_line(error: Option<fathom_core::Error>) -> String {
    match error {
        Some(e) => ApiError::from(e).body().to_string(),
        None => ApiError::server("The generation ended without an outcome.")
            .body()
            .to_string(),
    }
}

/// The generation fields chat and raw completions share, checked: as the core's [`ReplyWith`]
/// (without the model, which the server chooses) and the stop strings.
pub(crate) fn generation(
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: Option<u64>,
    seed: Option<i64>,
    stop: Option<chat::StopParam>,
) -> Result<(ReplyWith, Vec<String>), ApiError> {
    if temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(ApiError::param(
            "temperature",
            "temperature must be between 0 and 2.",
        ));
    }
    if top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
        return Err(ApiError::param(
            "top_p",
            "top_p must be above 0 and at most 1.",
        ));
    }
    if max_tokens == Some(0) {
        return Err(ApiError::param(
            "max_tokens",
            "max_tokens must be at least 1.",
        ));
    }
    let stops = match stop {
        None => Vec::new(),
        Some(chat::StopParam::One(s)) => vec![s],
        Some(chat::StopParam::Many(v)) => v,
    };
    if stops.len() > 4 || stops.iter().any(String::is_empty) {
        return Err(ApiError::param(
            "stop",
            "stop takes up to 4 strings, none empty.",
        ));
    }
    let with = ReplyWith {
        max_tokens: max_tokens.map(|n| n.min(usize::MAX as u64) as usize),
        temperature,
        top_p,
        seed: seed.map(|s| s as u64),
        ..ReplyWith::default()
    };
    Ok((with, stops))
}
