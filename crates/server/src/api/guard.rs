//! What runs before a handler reads a byte of the body (SEC-1, issue 24 item 1): the key
//! check for admin and intake routes, the form-key check for public form posts, and the
//! per-route body limit. Handlers extract their body only after these layers let the
//! request through, so an unauthenticated or oversized upload is answered (401, 403, 404
//! or 413) without being buffered. `json_errors` turns the plain-text rejections of
//! axum's extractors (400, 405, 413, 415, …) into the API's one JSON error shape.

use super::{ApiError, AppState, require};
use crate::auth::Role;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Admin routes: the key is checked on the headers alone.
pub(super) async fn admin(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match require(&st, req.headers(), Role::Admin) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Intake routes (`POST /v1/leads`): an intake or admin key.
pub(super) async fn intake(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match require(&st, req.headers(), Role::Intake) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Public form posts authenticate by the form key in the path: an unknown key is 404
/// before the body is read.
pub(super) async fn form_key(
    State(st): State<AppState>,
    Path(key): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    let known = st.shared.config.load().forms.iter().any(|f| f.key == key);
    if known {
        next.run(req).await
    } else {
        ApiError::NotFound(format!("form {key}")).into_response()
    }
}

/// A route's body limit in bytes, recorded for [`body_limit`].
#[derive(Clone, Copy)]
pub(super) struct Limit(pub usize);

/// The per-route limit: a declared `Content-Length` over it is refused before anything
/// is read; a chunked body that grows over it is cut off by the extractor
/// (`DefaultBodyLimit`), and either way the answer is a JSON 413 naming the limit.
pub(super) async fn body_limit(
    State(Limit(max)): State<Limit>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return ApiError::TooLarge(max).into_response();
    }
    let resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&resp) {
        return ApiError::TooLarge(max).into_response();
    }
    resp
}

/// The layers that give a route its body limit (see [`body_limit`]).
pub(super) fn limited<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    max: usize,
) -> axum::routing::MethodRouter<S> {
    route
        .layer(DefaultBodyLimit::max(max))
        .layer(axum::middleware::from_fn_with_state(Limit(max), body_limit))
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Longest plain-text rejection kept as the message (axum's are one line).
const REJECTION_TEXT: usize = 1024;

/// Every error leaving the JSON API is in the documented shape: axum's own rejections
/// (bad path or query, body errors, 405) are plain text or empty, so they are rewritten
/// here with their text as the message. HTML pages and JSON bodies pass untouched.
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&resp) {
        return resp;
    }
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, REJECTION_TEXT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let mut out = ApiError::Status(status, text).into_response();
    // Keep what tells the client how to go on (Allow on a 405, Retry-After).
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// Unknown paths: a JSON 404 like every other error.
pub(super) async fn not_found(req: Request<Body>) -> Response {
    ApiError::NotFound(format!("route {}", req.uri().path())).into_response()
}
