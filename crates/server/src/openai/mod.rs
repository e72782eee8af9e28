//! The OpenAI-compatible endpoints.

pub mod chat;
pub mod completions;
pub mod embeddings;

use std::sync::Arc;

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
