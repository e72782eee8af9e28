//! `POST /v1/embeddings`: vectors from the library's embedder (all-MiniLM-L6-v2), the one its
//! dense search uses, so a client can search alongside Fathom's own index.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::{parse_body, Api};

/// OpenAI's own limit on inputs per request.
const MAX_INPUTS: usize = 2048;

#[derive(Debug, Deserialize)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: Input,
    pub encoding_format: Option<String>,
    pub dimensions: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

pub async fn handle(State(api): State<Arc<Api>>, body: Result<Bytes, BytesRejection>) -> Response {
    match run(api, body).await {
        Ok(json) => Json(json).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(api: Arc<Api>, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let request: EmbeddingRequest = parse_body(body)?;
    let id = api.check_embedding_model(&request.model)?;
    let texts =
        match request.input {
            Input::One(text) => vec![text],
            Input::Many(texts) => texts,
            Input::Tokens(_) | Input::TokenLists(_) => return Err(ApiError::param(
                "input",
                "Send text to embed: token ids belong to another tokenizer than the embedder's.",
            )),
        };
    if texts.is_empty() || texts.len() > MAX_INPUTS {
        return Err(ApiError::param(
            "input",
            format!("Send 1 to {MAX_INPUTS} texts to embed."),
        ));
    }
    if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(ApiError::param(
            &format!("input[{i}]"),
            "A text to embed is empty.",
        ));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::param(
                "encoding_format",
                format!("encoding_format is float or base64, not {other:?}."),
            ))
        }
    };
    let app = api.app.clone();
    let (vectors, tokens) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = app.embed(&refs)?;
        let tokens = app.count_embedder_tokens(&refs).unwrap_or(0);
        Ok::<_, fathom_core::Error>((vectors, tokens))
    })
    .await
    .map_err(|e| ApiError::server(format!("The embedder stopped: {e}")))??;
    if let (Some(asked), Some(first)) = (request.dimensions, vectors.first()) {
        if asked != first.len() {
            return Err(ApiError::param(
                "dimensions",
                format!("This embedder's vectors have {} dimensions.", first.len()),
            ));
        }
    }
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                // OpenAI's base64 form: the little-endian float32 bytes.
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}
