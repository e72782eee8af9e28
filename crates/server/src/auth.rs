//! The bearer token every request carries. Compared in constant time, so that a process on the
//! machine cannot learn the token from how long a refusal takes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// A new random token (122 random bits, from the OS's generator through UUID v4).
pub fn generate_token() -> String {
    format!("fathom-{}", uuid::Uuid::new_v4().simple())
}

pub async fn require_token(
    State(token): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        None => ApiError::unauthorized(
            "This server needs its token: send it as `Authorization: Bearer <token>` (the token `fathom serve` printed, or FATHOM_API_TOKEN).",
        )
        .into_response(),
        Some(given) if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) => {
            ApiError::unauthorized("The token is wrong.").into_response()
        }
        Some(_) => next.run(request).await,
    }
}
