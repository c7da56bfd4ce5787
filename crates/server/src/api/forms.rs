//! The public form endpoints (CAP-2): a Web-to-Lead post, and the bot-check token a form
//! page may fetch. Rate limits and the bot check live in `crate::form_guard`; the field
//! decoding and the `retURL` check in `crate::intake`.

use super::*;

/// A public form post (CAP-2). Every check comes before anything is stored: the rate
/// limits (per address and per form, then per email), the field limits and the lead's
/// reachability. A failed bot check stores the lead in junk with the reason; providers
/// are not called for it.
pub(super) async fn form_post(
    State(st): State<AppState>,
    Path(key): Path<String>,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let received_at = st.shared.clock.now();
    let cfg = st.shared.config.load_full();
    let Some(form) = cfg.forms.iter().find(|f| f.key == key) else {
        return Err(ApiError::NotFound(format!("form {key}")));
    };
    let client = client.map(|c| c.0.0.ip());
    if let Err(l) = st.forms.admit(form, client) {
        return Ok(too_many(&headers, l));
    }
    let f = intake::from_form(&body, form);
    intake::check_limits(&f.payload).map_err(ApiError::Invalid)?;
    intake::validate(&f.lead).map_err(ApiError::Invalid)?;
    if let Some(email) = f.lead.email.as_deref()
        && let Err(l) = st.forms.admit_email(form, email)
    {
        return Ok(too_many(&headers, l));
    }
    let enrichment = st
        .forms
        .bot_check(form, f.token.as_deref(), received_at)
        .map(|reason| leadrouter_core::lead::Enrichment {
            junk_reason: Some(reason),
            ..Default::default()
        });
    let reply = submit_route(
        &st,
        RouteJob {
            lead: f.lead,
            enrichment,
            payload: Arc::new(f.payload),
            issues: f.issues,
            source: intake::form_source(&key),
            idempotency_key: None,
            received_at,
            explain: false,
        },
    )
    .await?;
    match f.return_url {
        // Issue 22: a lead offered booking goes to its booking page instead.
        Some(url) => Ok(Redirect::to(
            &crate::booking::redirect_for(&st, &reply.lead_id)
                .await
                .unwrap_or(url),
        )
        .into_response()),
        None => Ok(route_response(reply)),
    }
}

/// 429 for a form post over a limit: the JSON error shape, or a plain page for a
/// browser (a visitor who posted an HTML form should not see JSON). Nothing was stored.
fn too_many(headers: &HeaderMap, l: crate::form_guard::Limited) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let mut resp = if browser {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><meta charset=utf-8><title>Please try again later</title>\
             <p>We have received too many submissions of this form. Nothing was sent; \
             please try again in a few minutes.</p>",
        )
            .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({ "error": "rate_limited", "message": format!("{}; nothing was stored", l.message) })),
        )
            .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&l.retry_after_secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// A bot-check token for a form (`GET /v1/forms/{key}/token`): the page embeds it in the
/// hidden field `lr_token` when it loads. Public, like the form; any origin may fetch it.
pub(super) async fn form_token(
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let cfg = st.shared.config.load_full();
    let Some(form) = cfg.forms.iter().find(|f| f.key == key) else {
        return Err(ApiError::NotFound(format!("form {key}")));
    };
    let token = st.forms.token(form, st.shared.clock.now());
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(json!({
            "field": intake::TOKEN_FIELD,
            "token": token,
            "min_fill_secs": form.min_fill_secs,
            "expires_in_secs": crate::form_guard::TOKEN_TTL_SECS,
        })),
    )
        .into_response())
}
