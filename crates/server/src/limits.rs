//! What the server lets through besides the token: a rate per client address, and the web
//! origins (CORS) allowed to call it from a browser.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;

/// Requests per minute per client address, in bursts of up to a tenth of that.
pub type Limiter = Arc<DefaultKeyedRateLimiter<IpAddr>>;

pub fn limiter(per_minute: u32) -> Option<Limiter> {
    let per_minute = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new((per_minute.get() / 10).max(1)).unwrap_or(NonZeroU32::MIN);
    Some(Arc::new(governor::RateLimiter::keyed(
        Quota::per_minute(per_minute).allow_burst(burst),
    )))
}

/// Answers 429 with `Retry-After` once a client address has used its rate.
pub async fn limit_rate(
    State(limiter): State<Limiter>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match limiter.check_key(&peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                kind: "rate_limit_error",
                code: Some("rate_limit_exceeded"),
                ..ApiError::invalid(format!(
                    "Too many requests from this address: try again in {seconds} s."
                ))
            }
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// The CORS layer for `origins` (`*` for any); `None` when there are none, and then browsers
/// may not read the API from other pages at all.
pub fn cors(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        let mut values = Vec::new();
        for origin in origins {
            let parsed = url::Url::parse(origin)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.path() == "/");
            if parsed.is_none() {
                return Err(format!(
                    "{origin:?} is not a web origin (scheme, host and port, like http://localhost:3000)"
                ));
            }
            values.push(HeaderValue::from_str(origin).map_err(|e| format!("{origin:?}: {e}"))?);
        }
        AllowOrigin::list(values)
    };
    let mcp_session = HeaderName::from_static("mcp-session-id");
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                mcp_session.clone(),
                HeaderName::from_static("mcp-protocol-version"),
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([mcp_session, header::RETRY_AFTER]),
    ))
}
