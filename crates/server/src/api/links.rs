//! The pages behind the signed accept/contacted links in a rep's notification: `GET`
//! shows a confirmation (mail scanners that prefetch links must not accept leads), `POST`
//! records the touch through the sequencer. Plain HTML without templates; every value
//! is escaped with the console's escaper, and every page forbids script and framing.

use super::{ApiError, AppState, touch};
use crate::console::charts::esc;
use crate::security_headers::HTML_CSP;
use crate::sequencer::Touch;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    // Everything interpolated here is produced by us (no lead input), and escaped anyway.
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // The page carries a signed token in its URL: no framing (clickjacking the
            // accept button), no script, and no Referer that would leak the token.
            (header::CONTENT_SECURITY_POLICY, HTML_CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        format!(
            "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto\"><h1>{t}</h1>{body}</body></html>",
            t = esc(title)
        ),
    )
        .into_response()
}

/// A signed accept/contacted link opened in a browser: a confirmation page. Acting only
/// on POST keeps mail scanners that prefetch links from accepting leads.
pub(super) async fn link_page(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    let nrt = st.shared.notify.load_full();
    match nrt.links.verify(&token, st.shared.clock.now()) {
        Ok(claim) => {
            let what = match claim.action {
                leadrouter_notify::LinkAction::Accept => "Accept this lead",
                leadrouter_notify::LinkAction::Contacted => "Record first contact",
            };
            page(
                StatusCode::OK,
                what,
                &format!(
                    "<form method=post><button type=submit style=\"font-size:1.2rem;padding:.6rem 1.2rem\">{what}</button></form>"
                ),
            )
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            &format!("<p>{}</p>", esc(&e.to_string())),
        ),
    }
}

pub(super) async fn link_act(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    let nrt = st.shared.notify.load_full();
    let claim = match nrt.links.verify(&token, st.shared.clock.now()) {
        Ok(v) => v,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                "This link cannot be used",
                &format!("<p>{}</p>", esc(&e.to_string())),
            );
        }
    };
    let t = match claim.action {
        leadrouter_notify::LinkAction::Accept => Touch::Accept,
        leadrouter_notify::LinkAction::Contacted => Touch::Contacted,
    };
    let actor = format!("rep-link:{}", claim.owner);
    match touch(&st, claim.lead_id, t, actor, Some(claim.owner)).await {
        Ok(v) => page(
            StatusCode::OK,
            "Thanks — recorded",
            &format!(
                "<p>Lead owner: {}. The SLA clock has stopped.</p>",
                esc(v["owner"].as_str().unwrap_or("-"))
            ),
        ),
        Err(ApiError::NotFound(_)) => page(StatusCode::NOT_FOUND, "Lead not found", ""),
        Err(ApiError::Invalid(errors)) => page(
            StatusCode::CONFLICT,
            "This link is no longer yours",
            &format!(
                "<p>{}</p>",
                esc(errors.first().map_or("", |e| e.message.as_str()))
            ),
        ),
        Err(_) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            "<p>We could not record this right now.</p>",
        ),
    }
}

/// The request span of the HTTP trace layer, with the token of a signed link cut to a
/// prefix: a token is a bearer credential for its lead (accept, contacted), and debug
/// logs are shipped and kept where credentials must not be.
pub(crate) fn trace_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %req.method(),
        uri = %redact_link_token(req.uri()),
        version = ?req.version(),
    )
}

/// Characters of a link token kept in logs: enough to tell two links apart.
const TOKEN_SHOWN: usize = 6;

fn redact_link_token(uri: &axum::http::Uri) -> std::borrow::Cow<'_, str> {
    let path = uri.path();
    // The booking pages' tokens (issue 22) are bearer credentials too.
    let Some((prefix, token)) = ["/l/", "/book/manage/", "/book/"]
        .iter()
        .find_map(|p| path.strip_prefix(p).map(|t| (*p, t)))
    else {
        return std::borrow::Cow::Borrowed(uri.path_and_query().map_or(path, |p| p.as_str()));
    };
    let shown: String = token.chars().take(TOKEN_SHOWN).collect();
    std::borrow::Cow::Owned(format!("{prefix}{shown}…(redacted)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_are_cut_to_a_prefix_in_logs() {
        let uri: axum::http::Uri = "/l/eyJsZWFkIjoiMTIzIn0.c2lnbmF0dXJl".parse().unwrap();
        assert_eq!(redact_link_token(&uri), "/l/eyJsZW…(redacted)");
        let uri: axum::http::Uri = "/book/manage/eyJtLjE3.c2ln/move?start=1".parse().unwrap();
        assert_eq!(redact_link_token(&uri), "/book/manage/eyJtLj…(redacted)");
        let uri: axum::http::Uri = "/v1/leads?x=1".parse().unwrap();
        assert_eq!(redact_link_token(&uri), "/v1/leads?x=1");
    }
}
