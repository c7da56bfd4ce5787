//! The booking API (issue 22): a lead's free slots, booking one, moving and cancelling
//! it. Authenticated like the other lead routes (admin keys); the public booking pages
//! (`crate::booking::page`) use the same functions behind a signed token.
//!
//! A slot is booked by its start. The handler checks it against the slots offered now
//! (committed rows) and hands the sequencer a `Job::Booking`; the sequencer checks again
//! under the state lock, so of two requests for one slot — on any instance — one books
//! and the other gets 409 "that time was just taken" with fresh slots.

use super::{ApiError, AppState, FieldError, actor, audit, body_json, wait};
use crate::booking::{self, Offer, busy_around, offer_for, slots_for_move, unavailable};
use crate::sequencer::{BookingOp, Job};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use jiff::Timestamp;
use leadrouter_core::booking::Slot;
use leadrouter_store::{BookingRow, LeadRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The message of a 409 when the slot went to someone else.
pub const TAKEN: &str = "that time was just taken";

/// What booking, moving or cancelling came to.
pub enum Outcome {
    /// Stored: the booking and the lead afterwards.
    Done(Value),
    /// The slot is no longer free: the slots offered now.
    Taken(Vec<Slot>, Option<Offer>),
}

pub(super) fn routes() -> Router<AppState> {
    use super::guard::limited;
    use axum::routing::{get, post};
    const MAX: usize = 4 * 1024;
    Router::new()
        .route("/v1/leads/{id}/slots", get(slots))
        .route("/v1/leads/{id}/booking", limited(post(book), MAX).get(list))
        .route(
            "/v1/leads/{id}/booking/{booking}/reschedule",
            limited(post(reschedule), MAX),
        )
        .route("/v1/leads/{id}/booking/{booking}/cancel", post(cancel))
}

#[derive(Deserialize)]
struct SlotsQuery {
    tz: Option<String>,
    days: Option<u32>,
}

/// Slots as JSON, with their local times in `tz`.
pub fn slots_json(slots: &[Slot], tz: &jiff::tz::TimeZone) -> Value {
    Value::Array(
        slots
            .iter()
            .map(|s| {
                json!({
                    "start": s.start,
                    "end": s.end,
                    "local_start": s.start.to_zoned(tz.clone()).datetime().to_string(),
                })
            })
            .collect(),
    )
}

async fn lead_of(st: &AppState, id: &str) -> Result<LeadRecord, ApiError> {
    st.shared
        .store
        .lead(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::NotFound(format!("lead {id}")))
}

fn not_offered() -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: "lead".into(),
        message: "booking is not offered for this lead (see [booking] actions and tiers)".into(),
        value: None,
    }])
}

fn zone_of(tz: Option<&str>, fallback: &str) -> Result<(String, jiff::tz::TimeZone), ApiError> {
    match tz {
        None => booking::zone(Some(fallback))
            .ok_or_else(|| ApiError::BadRequest(format!("unknown zone {fallback}"))),
        Some(t) => booking::zone(Some(t)).ok_or_else(|| {
            ApiError::Invalid(vec![FieldError {
                field: "tz".into(),
                message: "not an IANA time zone name (e.g. Europe/Berlin)".into(),
                value: Some(t.chars().take(64).collect()),
            }])
        }),
    }
}

async fn slots(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SlotsQuery>,
) -> Result<Response, ApiError> {
    let lead = lead_of(&st, &id).await?;
    let cfg = st.shared.config.load_full();
    if !booking::qualifies(&cfg, &lead) {
        return Err(not_offered());
    }
    let offer = offer_for(&st, &lead).await?;
    let rep_tz = offer.as_ref().map_or("UTC", |o| o.rep_tz.as_str());
    let (tz_name, tz) = zone_of(q.tz.as_deref(), rep_tz)?;
    let days = q.days.unwrap_or(u32::MAX);
    let (rep, why, slots) = match &offer {
        Some(o) => {
            let cut = st
                .shared
                .clock
                .now()
                .saturating_add(jiff::SignedDuration::from_hours(
                    24 * i64::from(days.min(60)),
                ))
                .unwrap_or(Timestamp::MAX);
            let s: Vec<Slot> = o.slots.iter().copied().filter(|s| s.start < cut).collect();
            (
                Some(json!({ "id": o.rep, "name": o.rep_name, "time_zone": o.rep_tz })),
                o.why.clone(),
                s,
            )
        }
        None => (None, None, Vec::new()),
    };
    Ok(Json(json!({
        "lead_id": id,
        "rep": rep,
        "reassigns": why.is_some(),
        "why": why,
        "time_zone": tz_name,
        "slots": slots_json(&slots, &tz),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookBody {
    start: String,
    #[serde(default)]
    time_zone: Option<String>,
}

fn start_of(s: &str) -> Result<Timestamp, ApiError> {
    s.parse().map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            field: "start".into(),
            message: format!("not an RFC 3339 instant: {e}"),
            value: Some(s.chars().take(64).collect()),
        }])
    })
}

async fn submit(
    st: &AppState,
    lead_id: &str,
    op: BookingOp,
    actor: String,
) -> Result<Value, ApiError> {
    let (tx, rx) = oneshot::channel();
    st.sequencer
        .submit(Job::Booking {
            lead_id: lead_id.to_string(),
            op,
            actor,
            address: audit::client_address(),
            at: st.shared.clock.now(),
            reply: tx,
        })
        .await?;
    wait(rx).await
}

/// Book the slot starting at `start` for `lead`, with the rep offered now.
pub async fn book_slot(
    st: &AppState,
    lead: &LeadRecord,
    start: Timestamp,
    lead_tz: Option<String>,
    actor: String,
) -> Result<Outcome, ApiError> {
    let cfg = st.shared.config.load_full();
    let Some(bcfg) = cfg.booking.as_ref() else {
        return Err(not_offered());
    };
    if !booking::qualifies(&cfg, lead) {
        return Err(not_offered());
    }
    let Some(offer) = offer_for(st, lead).await? else {
        return Ok(Outcome::Taken(Vec::new(), None));
    };
    let Some(slot) = offer.slots.iter().copied().find(|s| s.start == start) else {
        return Ok(Outcome::Taken(offer.slots.clone(), Some(offer)));
    };
    let op = BookingOp::Book {
        rep: offer.rep.clone(),
        slot,
        busy: busy_around(st, bcfg, &offer.rep, slot),
        lead_tz,
        why: offer.why.clone(),
    };
    let v = submit(st, &lead.id, op, actor).await?;
    if v.get("taken").is_some() {
        let fresh = offer_for(st, lead).await?;
        return Ok(Outcome::Taken(
            fresh.as_ref().map(|o| o.slots.clone()).unwrap_or_default(),
            fresh,
        ));
    }
    Ok(Outcome::Done(v))
}

/// Move `b` to the slot starting at `start`.
pub async fn move_booking(
    st: &AppState,
    b: &BookingRow,
    start: Timestamp,
    lead_tz: Option<String>,
    actor: String,
) -> Result<Outcome, ApiError> {
    let cfg = st.shared.config.load_full();
    let Some(bcfg) = cfg.booking.as_ref() else {
        return Err(not_offered());
    };
    let slots = slots_for_move(st, b).await?;
    let Some(slot) = slots.iter().copied().find(|s| s.start == start) else {
        return Ok(Outcome::Taken(slots, None));
    };
    let op = BookingOp::Reschedule {
        booking_id: b.id.clone(),
        rep: b.rep.clone(),
        slot,
        busy: busy_around(st, bcfg, &b.rep, slot),
        lead_tz,
    };
    let v = submit(st, &b.lead_id, op, actor).await?;
    if v.get("taken").is_some() {
        return Ok(Outcome::Taken(slots_for_move(st, b).await?, None));
    }
    Ok(Outcome::Done(v))
}

pub async fn cancel_booking(
    st: &AppState,
    b: &BookingRow,
    actor: String,
) -> Result<Value, ApiError> {
    let op = BookingOp::Cancel {
        booking_id: b.id.clone(),
        rep: b.rep.clone(),
    };
    submit(st, &b.lead_id, op, actor).await
}

fn respond(o: Outcome, tz: &jiff::tz::TimeZone) -> Response {
    match o {
        Outcome::Done(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Outcome::Taken(slots, _) => (
            StatusCode::CONFLICT,
            Json(json!({
                "error": "conflict",
                "message": TAKEN,
                "slots": slots_json(&slots, tz),
            })),
        )
            .into_response(),
    }
}

async fn book(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: BookBody = body_json(&body)?;
    let start = start_of(&b.start)?;
    let (tz_name, tz) = zone_of(b.time_zone.as_deref(), "UTC")?;
    let lead = lead_of(&st, &id).await?;
    let lead_tz = b.time_zone.is_some().then_some(tz_name);
    Ok(respond(
        book_slot(&st, &lead, start, lead_tz, actor(&st, &headers)).await?,
        &tz,
    ))
}

async fn booking_of(st: &AppState, lead_id: &str, id: &str) -> Result<BookingRow, ApiError> {
    st.shared
        .store
        .booking(id)
        .await
        .map_err(unavailable)?
        .filter(|b| b.lead_id == lead_id)
        .ok_or_else(|| ApiError::NotFound(format!("booking {id}")))
}

async fn reschedule(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, booking)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: BookBody = body_json(&body)?;
    let start = start_of(&b.start)?;
    let (tz_name, tz) = zone_of(b.time_zone.as_deref(), "UTC")?;
    let row = booking_of(&st, &id, &booking).await?;
    let lead_tz = b.time_zone.is_some().then_some(tz_name);
    Ok(respond(
        move_booking(&st, &row, start, lead_tz, actor(&st, &headers)).await?,
        &tz,
    ))
}

async fn cancel(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, booking)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let row = booking_of(&st, &id, &booking).await?;
    Ok(Json(cancel_booking(&st, &row, actor(&st, &headers)).await?).into_response())
}

/// The lead's bookings, newest first.
async fn list(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let mut rows = st
        .shared
        .store
        .bookings(&[], std::slice::from_ref(&id), 0)
        .await
        .map_err(unavailable)?;
    rows.reverse();
    let v: Vec<Value> = rows.iter().map(crate::sequencer::booking_json).collect();
    Ok(Json(json!({ "bookings": v })).into_response())
}
