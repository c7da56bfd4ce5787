//! Browser security headers on every response of the listener (issue 24, items 3 and 9):
//! no framing, no MIME sniffing, no referrer (the `/l/{token}` pages carry a signed token
//! in their URL), a script-free CSP on HTML that did not set its own, and HSTS when the
//! service is published over https.
//!
//! "Published over https" is read from the config in force, so a reload applies it:
//! `organization.console_url` or `[notify] base_url` starting with `https://` (the two
//! public addresses of this listener). Browsers ignore HSTS received over plain http, so
//! sending it behind a TLS-terminating proxy is right and harmless.

use crate::sequencer::Shared;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::middleware::MapResponseLayer;
use axum::response::Response;
use std::future::Ready;
use std::sync::Arc;

/// For HTML that sets no CSP itself (the link pages): nothing but inline styles, forms
/// posting back here, and no framing.
pub const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One year; no `includeSubDomains`, since other hosts under the domain are not ours.
const HSTS: &str = "max-age=31536000";

/// Whether the config in force publishes this listener over https.
pub fn served_over_https(shared: &Shared) -> bool {
    let https = |u: &str| u.trim().to_ascii_lowercase().starts_with("https://");
    shared
        .config
        .load()
        .console_url
        .as_deref()
        .is_some_and(https)
        || https(&shared.notify.load().config.base_url)
}

/// The layer that adds the headers, for `Router::layer`.
pub type HeadersLayer = MapResponseLayer<
    fn(State<Arc<Shared>>, Response) -> Ready<Response>,
    Arc<Shared>,
    (State<Arc<Shared>>,),
>;

pub fn layer(shared: Arc<Shared>) -> HeadersLayer {
    axum::middleware::map_response_with_state(shared, add as fn(_, _) -> _)
}

/// Adds the headers a response does not set itself.
pub fn add(State(shared): State<Arc<Shared>>, mut resp: Response) -> Ready<Response> {
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    if is_html {
        set(header::CONTENT_SECURITY_POLICY, HTML_CSP);
    }
    if served_over_https(&shared) {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    std::future::ready(resp)
}
