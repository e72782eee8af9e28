//! Errors in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`), which every
//! OpenAI client already knows how to raise and show.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A request the API refuses or could not serve, with the status and OpenAI's error fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `rate_limit_error`, …
    pub kind: &'static str,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Fields<'a>,
}

#[derive(Serialize)]
struct Fields<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    /// A request field with a value the API cannot take.
    pub fn param(param: &str, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(param.into()),
            ..Self::invalid(message)
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "authentication_error",
            code: Some("invalid_api_key"),
            ..Self::invalid(message)
        }
    }

    pub fn unknown_model(model: &str, served: &[&str]) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            param: Some("model".into()),
            code: Some("model_not_found"),
            ..Self::invalid(format!(
                "The model {model:?} is not served here; this server serves {}.",
                served
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ))
        }
    }

    pub fn busy(waiting: usize) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "rate_limit_error",
            code: Some("queue_full"),
            ..Self::invalid(format!(
                "The model is busy: {waiting} requests are already running or queued. Try again shortly."
            ))
        }
    }

    pub fn not_found(path: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: Some("unknown_url"),
            ..Self::invalid(format!("There is no endpoint at {path}."))
        }
    }

    pub fn server(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "server_error",
            ..Self::invalid(message)
        }
    }

    /// The error as OpenAI's JSON body (also what a stream sends when it fails part way).
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(Body {
            error: Fields {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        })
        .unwrap_or_default()
    }
}

impl From<fathom_core::Error> for ApiError {
    fn from(e: fathom_core::Error) -> Self {
        use fathom_core::Error as E;
        match e {
            // A conversation the model cannot take: too long for the context, nothing to answer.
            E::Chat(message) => ApiError::invalid(message),
            E::DoesNotFit(summary) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: Some("model_does_not_fit"),
                ..ApiError::server(format!(
                    "{summary} (start the server with --allow-unfit to load it anyway)"
                ))
            },
            E::Model { message, detail } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: Some("model_unavailable"),
                ..ApiError::server(match detail {
                    Some(d) => format!("{message} ({d})"),
                    None => message,
                })
            },
            E::Cancelled => ApiError::server("The request was cancelled."),
            other => ApiError::server(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
