//! The public booking pages (issue 22): `/book/{token}` lists the assigned rep's free
//! slots in the visitor's time zone and books one; `/book/manage/{token}` shows a booked
//! meeting (the confirmation page), moves it or cancels it.
//!
//! Plain server-rendered HTML that works without JavaScript: every slot is a small form
//! posting to a URL that names it (no request body is read, like the other signed-link
//! pages), and a zone selector re-renders the list. The one script (allowed by its hash
//! in this page's CSP, nothing else may run) only reads the browser's zone and selects
//! it. Every value is escaped (`charts::esc`); the page is labelled for screen readers,
//! keyboard-usable (buttons and a select) and fits a phone's width.

use super::token::{self, Claim};
use super::{offer_for, slots_for_move};
use crate::api::booking::{Outcome, TAKEN, book_slot, cancel_booking, move_booking};
use crate::api::{ApiError, AppState};
use crate::console::charts::esc;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use leadrouter_core::booking::{Slot, by_day};
use leadrouter_store::{BookingRow, LeadRecord, from_micros};
use serde::Deserialize;
use sha2::Digest as _;
use std::sync::LazyLock;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/book/{token}", get(show))
        .route("/book/{token}/pick", post(pick))
        .route("/book/manage/{token}", get(manage))
        .route("/book/manage/{token}/move", post(move_to))
        .route("/book/manage/{token}/cancel", post(cancel))
}

/// Selects the browser's zone when the visitor has not chosen one, and shows the list in
/// it. Without script the list is in the rep's zone and the selector works the same.
const SCRIPT: &str = "(function(){var s=document.getElementById('tz');if(!s||s.getAttribute('data-chosen'))return;var z;try{z=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){return}if(!z||z===s.value)return;var found=false;for(var i=0;i<s.options.length;i++){if(s.options[i].value===z)found=true}if(!found){var o=document.createElement('option');o.value=z;o.textContent=z;s.appendChild(o)}s.value=z;s.form.submit()})();";

static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
});

/// Zones offered in the selector (the visitor's own, when another, is added).
const ZONES: &[&str] = &[
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "America/Toronto",
    "America/Vancouver",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Athens",
    "Europe/Istanbul",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Hong_Kong",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;line-height:1.4;color:#111}main{max-width:40rem;margin:0 auto}h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}ul{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.5rem}li form{margin:0}button{font:inherit;padding:.55rem .9rem;border:1px solid #245;border-radius:.4rem;background:#fff;color:#123;cursor:pointer;min-width:5rem}button:focus{outline:3px solid #36c;outline-offset:2px}button.primary{background:#245;color:#fff}select{font:inherit;padding:.4rem;max-width:100%}.note{background:#eef5ee;border-left:4px solid #383;padding:.6rem .8rem}.warn{background:#fdf1e6;border-left:4px solid #b60;padding:.6rem .8rem}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP.as_str()),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head><body><main><h1>{t}</h1>{body}</main><script>{SCRIPT}</script></body></html>",
            t = esc(title)
        ),
    )
        .into_response()
}

fn problem(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, &format!("<p>{}</p>", esc(text)))
}

fn api_problem(e: ApiError) -> Response {
    match e {
        ApiError::NotFound(_) => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "This meeting or lead no longer exists.",
        ),
        ApiError::Invalid(errors) => problem(
            StatusCode::CONFLICT,
            "This cannot be booked",
            errors.first().map_or("", |e| e.message.as_str()),
        ),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            "We could not do this right now; nothing was booked. Please try again in a moment.",
        ),
    }
}

#[derive(Deserialize, Default)]
struct ZoneQuery {
    tz: Option<String>,
    #[serde(default)]
    booked: Option<String>,
    #[serde(default)]
    moved: Option<String>,
}

#[derive(Deserialize)]
struct PickQuery {
    start: i64,
    tz: Option<String>,
}

/// The visitor's zone: the one asked for when it is a zone, else `fallback`.
fn zone(asked: Option<&str>, fallback: &str) -> (String, TimeZone, bool) {
    match super::zone(asked) {
        Some((n, z)) => (n, z, true),
        None => {
            let (n, z) = super::zone(Some(fallback)).unwrap_or(("UTC".into(), TimeZone::UTC));
            (n, z, false)
        }
    }
}

fn zone_form(tz: &str, chosen: bool) -> String {
    let mut opts = String::new();
    let listed = ZONES.contains(&tz);
    for z in ZONES.iter().copied().chain((!listed).then_some(tz)) {
        let sel = if z == tz { " selected" } else { "" };
        opts.push_str(&format!(
            "<option value=\"{v}\"{sel}>{v}</option>",
            v = esc(z)
        ));
    }
    format!(
        "<form method=get><label for=tz>Time zone</label> <select id=tz name=tz{}>{opts}</select> <button type=submit>Show times</button></form>",
        if chosen { " data-chosen=1" } else { "" }
    )
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The slot list, one labelled section per day in the visitor's zone; each slot posts to
/// `action?start=…&tz=…`.
fn slot_list(slots: &[Slot], tz_name: &str, tz: &TimeZone, action: &str, verb: &str) -> String {
    if slots.is_empty() {
        return "<p>There are no free times in the coming days.</p>".into();
    }
    let mut out = String::new();
    for (i, day) in by_day(slots, tz).iter().enumerate() {
        let label = day.date.strftime("%A %-d %B").to_string();
        out.push_str(&format!(
            "<section aria-labelledby=d{i}><h2 id=d{i}>{}</h2><ul>",
            esc(&label)
        ));
        for s in &day.slots {
            let time = s.start.to_zoned(tz.clone()).strftime("%H:%M").to_string();
            out.push_str(&format!(
                "<li><form method=post action=\"{a}?start={st}&amp;tz={z}\"><button type=submit aria-label=\"{verb} {l} at {t}\">{t}</button></form></li>",
                a = esc(action),
                st = s.start.as_second(),
                z = esc(&pct(tz_name)),
                l = esc(&label),
                t = esc(&time),
            ));
        }
        out.push_str("</ul></section>");
    }
    out
}

fn when(b: &BookingRow, tz: &TimeZone) -> String {
    let (s, e) = (
        from_micros(b.start_at).to_zoned(tz.clone()),
        from_micros(b.end_at).to_zoned(tz.clone()),
    );
    format!(
        "{} {}–{}",
        s.strftime("%A %-d %B %Y,"),
        s.strftime("%H:%M"),
        e.strftime("%H:%M")
    )
}

/// 429 when the lead's page has been used too often (`guard`).
fn limited(lead_id: &str) -> Option<Response> {
    static GUARD: LazyLock<super::guard::Guard> = LazyLock::new(Default::default);
    (!GUARD.admit(lead_id, std::time::Instant::now())).then(|| {
        problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Please wait a few minutes",
            "This page was used too often; nothing was changed. Please try again in a few minutes.",
        )
    })
}

fn verify(st: &AppState, t: &str) -> Result<Claim, Box<Response>> {
    let nrt = st.shared.notify.load_full();
    token::verify(&nrt.links, t, st.shared.clock.now()).map_err(|e| {
        Box::new(problem(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            &e.to_string(),
        ))
    })
}

async fn lead(st: &AppState, id: &str) -> Result<LeadRecord, Box<Response>> {
    match st.shared.store.lead(id).await {
        Ok(Some(l)) => Ok(l),
        Ok(None) => Err(Box::new(api_problem(ApiError::NotFound(id.into())))),
        Err(e) => Err(Box::new(api_problem(super::unavailable(e)))),
    }
}

fn rep_name(st: &AppState, rep: &str) -> (String, String) {
    let cfg = st.shared.config.load();
    cfg.rep_by_id
        .get(rep)
        .map(|i| (cfg.rep(*i).name.clone(), cfg.rep(*i).tz_name.clone()))
        .unwrap_or_else(|| (rep.to_string(), "UTC".into()))
}

fn manage_link(st: &AppState, b: &BookingRow, tz: &str) -> Option<String> {
    let nrt = st.shared.notify.load_full();
    let t = token::manage(
        &nrt.links,
        &b.id,
        &b.lead_id,
        from_micros(b.end_at) + jiff::SignedDuration::from_hours(24),
    )?;
    Some(format!("/book/manage/{t}?tz={}", pct(tz)))
}

/// The booking page: the rep offered and their free slots.
async fn show(
    State(st): State<AppState>,
    Path(t): Path<String>,
    Query(q): Query<ZoneQuery>,
) -> Response {
    let Claim::Book { lead_id } = (match verify(&st, &t) {
        Ok(c) => c,
        Err(r) => return *r,
    }) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            "This is not a booking link.",
        );
    };
    let lead = match lead(&st, &lead_id).await {
        Ok(l) => l,
        Err(r) => return *r,
    };
    slots_page(&st, &t, &lead, q.tz.as_deref(), StatusCode::OK, None).await
}

async fn slots_page(
    st: &AppState,
    t: &str,
    lead: &LeadRecord,
    asked_tz: Option<&str>,
    status: StatusCode,
    banner: Option<&str>,
) -> Response {
    let existing = match st
        .shared
        .store
        .bookings(&[], std::slice::from_ref(&lead.id), 0)
        .await
    {
        Ok(rows) => rows.into_iter().find(BookingRow::active),
        Err(e) => return api_problem(super::unavailable(e)),
    };
    if let Some(b) = existing {
        let (name, rep_tz) = rep_name(st, &b.rep);
        let (tz_name, tz, _) = zone(asked_tz.or(b.lead_tz.as_deref()), &rep_tz);
        let link = manage_link(st, &b, &tz_name)
            .map(|u| format!("<p><a href=\"{}\">Reschedule or cancel</a></p>", esc(&u)))
            .unwrap_or_default();
        return page(
            StatusCode::OK,
            "You already have a meeting",
            &format!(
                "<p>With {} on {} ({}).</p>{link}",
                esc(&name),
                esc(&when(&b, &tz)),
                esc(&tz_name)
            ),
        );
    }
    let cfg = st.shared.config.load_full();
    if !super::qualifies(&cfg, lead) {
        return problem(
            StatusCode::OK,
            "Booking is not available",
            "We will be in touch by email.",
        );
    }
    let offer = match offer_for(st, lead).await {
        Ok(o) => o,
        Err(e) => return api_problem(e),
    };
    let Some(offer) = offer else {
        let days = cfg.booking.as_ref().map_or(0, |b| b.days_ahead);
        return problem(
            StatusCode::OK,
            "No free times right now",
            &format!(
                "Nobody on the team has a free time in the next {days} days. We will be in touch by email."
            ),
        );
    };
    let (tz_name, tz, chosen) = zone(asked_tz, &offer.rep_tz);
    let minutes = cfg.booking.as_ref().map_or(30, |b| b.meeting.as_mins());
    let banner = banner
        .map(|b| format!("<p class=warn role=alert>{}</p>", esc(b)))
        .unwrap_or_default();
    let body = format!(
        "{banner}<p>Pick a time for a {minutes}-minute meeting with <strong>{name}</strong>. Times are shown in <strong>{z}</strong>.</p>{form}{list}",
        name = esc(&offer.rep_name),
        z = esc(&tz_name),
        form = zone_form(&tz_name, chosen),
        list = slot_list(
            &offer.slots,
            &tz_name,
            &tz,
            &format!("/book/{t}/pick"),
            "Book"
        ),
    );
    page(
        status,
        &format!("Book a time with {}", offer.rep_name),
        &body,
    )
}

/// A slot picked: book it, then show the confirmation (303 to the meeting's page), or
/// say it was just taken with the slots free now.
async fn pick(
    State(st): State<AppState>,
    Path(t): Path<String>,
    Query(q): Query<PickQuery>,
) -> Response {
    let Ok(Claim::Book { lead_id }) = verify(&st, &t) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            "This is not a valid booking link.",
        );
    };
    if let Some(r) = limited(&lead_id) {
        return r;
    }
    let lead = match lead(&st, &lead_id).await {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let Ok(start) = Timestamp::from_second(q.start) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Not a time",
            "Please pick one of the times listed.",
        );
    };
    let tz = super::zone(q.tz.as_deref()).map(|z| z.0);
    match book_slot(&st, &lead, start, tz.clone(), "booking-page".into()).await {
        Ok(Outcome::Done(v)) => {
            let id = v["booking"]["id"].as_str().unwrap_or_default().to_string();
            match st.shared.store.booking(&id).await {
                Ok(Some(b)) => match manage_link(&st, &b, tz.as_deref().unwrap_or("UTC")) {
                    Some(u) => Redirect::to(&format!("{u}&booked=1")).into_response(),
                    None => problem(
                        StatusCode::OK,
                        "Your meeting is booked",
                        "You will get an email with the details.",
                    ),
                },
                _ => problem(
                    StatusCode::OK,
                    "Your meeting is booked",
                    "You will get an email with the details.",
                ),
            }
        }
        Ok(Outcome::Taken(..)) => {
            let banner = format!("Sorry, {TAKEN}. Please pick another time.");
            slots_page(
                &st,
                &t,
                &lead,
                tz.as_deref(),
                StatusCode::CONFLICT,
                Some(&banner),
            )
            .await
        }
        Err(e) => api_problem(e),
    }
}

async fn booking_claim(st: &AppState, t: &str) -> Result<BookingRow, Box<Response>> {
    let Claim::Manage {
        booking_id,
        lead_id,
    } = verify(st, t)?
    else {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            "This is not a meeting link.",
        )));
    };
    match st.shared.store.booking(&booking_id).await {
        Ok(Some(b)) if b.lead_id == lead_id => Ok(b),
        Ok(_) => Err(Box::new(api_problem(ApiError::NotFound(booking_id)))),
        Err(e) => Err(Box::new(api_problem(super::unavailable(e)))),
    }
}

/// A meeting's page: the confirmation after booking, and where it is moved or cancelled.
async fn manage(
    State(st): State<AppState>,
    Path(t): Path<String>,
    Query(q): Query<ZoneQuery>,
) -> Response {
    let b = match booking_claim(&st, &t).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    manage_page(&st, &t, &b, q.tz.as_deref(), &q, StatusCode::OK, None).await
}

async fn manage_page(
    st: &AppState,
    t: &str,
    b: &BookingRow,
    asked_tz: Option<&str>,
    q: &ZoneQuery,
    status: StatusCode,
    banner: Option<&str>,
) -> Response {
    let (name, rep_tz) = rep_name(st, &b.rep);
    let (tz_name, tz, chosen) = zone(asked_tz.or(b.lead_tz.as_deref()), &rep_tz);
    if !b.active() {
        return problem(
            StatusCode::OK,
            "This meeting was cancelled",
            &format!(
                "Your meeting with {name} on {} was cancelled.",
                when(b, &tz)
            ),
        );
    }
    let title = if q.booked.is_some() {
        "Your meeting is booked"
    } else if q.moved.is_some() {
        "Your meeting has moved"
    } else {
        "Your meeting"
    };
    let slots = match slots_for_move(st, b).await {
        Ok(s) => s,
        Err(e) => return api_problem(e),
    };
    let banner = banner
        .map(|b| format!("<p class=warn role=alert>{}</p>", esc(b)))
        .unwrap_or_default();
    let body = format!(
        "{banner}<p class=note role=status>With <strong>{n}</strong> on <strong>{w}</strong> ({z}). A confirmation is on its way by email.</p>\
         <form method=post action=\"/book/manage/{t}/cancel\"><button type=submit>Cancel this meeting</button></form>\
         <h2>Need another time?</h2>{form}{list}",
        n = esc(&name),
        w = esc(&when(b, &tz)),
        z = esc(&tz_name),
        t = esc(t),
        form = zone_form(&tz_name, chosen),
        list = slot_list(
            &slots,
            &tz_name,
            &tz,
            &format!("/book/manage/{t}/move"),
            "Move to"
        ),
    );
    page(status, title, &body)
}

async fn move_to(
    State(st): State<AppState>,
    Path(t): Path<String>,
    Query(q): Query<PickQuery>,
) -> Response {
    let b = match booking_claim(&st, &t).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(r) = limited(&b.lead_id) {
        return r;
    }
    let Ok(start) = Timestamp::from_second(q.start) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Not a time",
            "Please pick one of the times listed.",
        );
    };
    let tz = super::zone(q.tz.as_deref()).map(|z| z.0);
    match move_booking(&st, &b, start, tz.clone(), "booking-page".into()).await {
        Ok(Outcome::Done(_)) => Redirect::to(&format!(
            "/book/manage/{t}?tz={}&moved=1",
            pct(tz.as_deref().unwrap_or("UTC"))
        ))
        .into_response(),
        Ok(Outcome::Taken(..)) => {
            let banner = format!("Sorry, {TAKEN}. Please pick another time.");
            manage_page(
                &st,
                &t,
                &b,
                tz.as_deref(),
                &ZoneQuery::default(),
                StatusCode::CONFLICT,
                Some(&banner),
            )
            .await
        }
        Err(e) => api_problem(e),
    }
}

async fn cancel(State(st): State<AppState>, Path(t): Path<String>) -> Response {
    let b = match booking_claim(&st, &t).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(r) = limited(&b.lead_id) {
        return r;
    }
    if !b.active() {
        return problem(
            StatusCode::OK,
            "This meeting was cancelled",
            "Nothing more to do.",
        );
    }
    match cancel_booking(&st, &b, "booking-page".into()).await {
        Ok(_) => problem(
            StatusCode::OK,
            "Your meeting is cancelled",
            "Both of you will get an email saying so.",
        ),
        Err(e) => api_problem(e),
    }
}
