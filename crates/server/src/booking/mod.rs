//! Booking a meeting with the assigned rep (issue 22, MTG-1/2): which rep a lead is
//! offered and their free slots ([`offer`]), the signed tokens of the booking pages
//! ([`token`]), the messages a booking sends ([`messages`]) and the public pages
//! ([`page`]); the JSON routes are `crate::api::booking`. The slot arithmetic is the
//! core's (`leadrouter_core::booking`); the commit is the sequencer's (`Job::Booking`).
//!
//! Calendars come in through [`leadrouter_core::booking::BusyTimes`] (`AppState::busy`):
//! [`NoCalendar`](leadrouter_core::booking::NoCalendar) until a calendar cache is glued
//! in. Busy blocks are read before the job is queued, never inside the transaction.

pub mod guard;
pub mod messages;
pub mod page;
pub mod token;

use crate::api::{ApiError, AppState};
use jiff::Timestamp;
use leadrouter_core::booking::{self, BookingConfig, Slot, SlotQuery};
use leadrouter_core::config::{CompiledConfig, Tier};
use leadrouter_core::state::StateSnapshot;
use leadrouter_store::{BookingRow, LeadRecord, from_micros};

/// Whether `lead` is offered booking under `cfg` (configured action or tier, open, with
/// an owner or a team to book with).
pub fn qualifies(cfg: &CompiledConfig, lead: &LeadRecord) -> bool {
    let Some(b) = cfg.booking.as_ref() else {
        return false;
    };
    let tier = Tier::parse(&lead.tier).unwrap_or(Tier::Standard);
    let action = lead.payload.get("action").and_then(|v| v.as_str());
    lead.status == leadrouter_core::lifecycle::LeadStatus::Open
        && (lead.owner.is_some() || lead.team.is_some())
        && b.offers(action, tier)
}

/// The rep a lead can book with and that rep's free slots.
#[derive(Debug, Clone)]
pub struct Offer {
    pub rep: String,
    pub rep_name: String,
    pub rep_tz: String,
    pub slots: Vec<Slot>,
    /// Set when the rep is not the lead's owner: why (the reassignment's reason).
    pub why: Option<String>,
}

/// What the slot computation reads besides the config: the state (availability
/// overrides, rotations), the active bookings of the reps asked about, and now.
pub struct Inputs<'a> {
    pub cfg: &'a CompiledConfig,
    pub booking: &'a BookingConfig,
    pub state: &'a StateSnapshot,
    pub bookings: &'a [BookingRow],
    pub busy: &'a dyn booking::BusyTimes,
    pub now: Timestamp,
}

/// `rep`'s free slots (None: no such active rep). `except` is a booking being moved.
pub fn rep_slots(
    i: &Inputs<'_>,
    rep: &str,
    except: Option<&str>,
    first_only: bool,
) -> Option<Vec<Slot>> {
    let (idx, away) = rep_query_parts(i.cfg, i.state, rep, i.now)?;
    let r = &i.cfg.reps[idx];
    let booked: Vec<(Timestamp, Timestamp)> = i
        .bookings
        .iter()
        .filter(|b| b.rep == rep && b.active() && Some(b.id.as_str()) != except)
        .map(|b| (from_micros(b.start_at), from_micros(b.end_at)))
        .collect();
    let mut q = SlotQuery {
        cfg: i.booking,
        tz: &r.tz,
        hours: r.working_hours.as_ref().unwrap_or(&i.booking.default_hours),
        away: &away,
        busy: &[],
        booked: &booked,
        now: i.now,
    };
    let (from, to) = q.span();
    let busy = i.busy.busy(rep, from, to);
    q.busy = &busy;
    Some(if first_only {
        booking::earliest_free(&q).into_iter().collect()
    } else {
        booking::free_slots(&q)
    })
}

/// The reps `offer` may look at for a lead: its owner, then the other active members of
/// its team (the owner's team when the lead names none).
pub fn candidates(cfg: &CompiledConfig, lead: &LeadRecord) -> (Option<String>, Vec<String>) {
    let owner = lead.owner.clone();
    let team = lead.team.clone().or_else(|| {
        owner
            .as_ref()
            .and_then(|o| cfg.rep_by_id.get(o))
            .and_then(|i| cfg.rep(*i).team)
            .map(|t| cfg.teams[t as usize].id.clone())
    });
    let others = team
        .and_then(|t| cfg.team_by_id.get(&t).copied())
        .map(|t| {
            cfg.teams[t as usize]
                .members
                .iter()
                .map(|m| cfg.rep(*m).id.clone())
                .filter(|id| Some(id) != owner.as_ref())
                .collect()
        })
        .unwrap_or_default();
    (owner, others)
}

/// The rep to offer and their slots: the owner when they have a free slot in the window;
/// else the team's rep with the earliest free slot (several at that instant: the one
/// whose round-robin turn comes first), with the reason the lead would move. None when
/// nobody in the team is free.
pub fn offer(i: &Inputs<'_>, lead: &LeadRecord) -> Option<Offer> {
    let (owner, others) = candidates(i.cfg, lead);
    let make = |rep: &str, slots: Vec<Slot>, why: Option<String>| {
        let r = i.cfg.rep(*i.cfg.rep_by_id.get(rep)?);
        Some(Offer {
            rep: rep.to_string(),
            rep_name: r.name.clone(),
            rep_tz: r.tz_name.clone(),
            slots,
            why,
        })
    };
    if let Some(o) = &owner
        && let Some(slots) = rep_slots(i, o, None, false)
        && !slots.is_empty()
    {
        return make(o, slots, None);
    }
    let team = lead.team.as_deref().unwrap_or("");
    let turn = |rep: &str| {
        i.state
            .rotations
            .get(team)
            .and_then(|r| r.passes.get(rep).copied())
            .unwrap_or(0)
    };
    let best = others
        .iter()
        .filter_map(|r| {
            let first = rep_slots(i, r, None, true)?.into_iter().next()?;
            Some((first.start, turn(r), r.clone()))
        })
        .min()?;
    let rep = best.2;
    let slots = rep_slots(i, &rep, None, false)?;
    let owner_name = owner
        .as_deref()
        .and_then(|o| i.cfg.rep_by_id.get(o))
        .map(|x| i.cfg.rep(*x).name.clone())
        .or(owner.clone())
        .unwrap_or_else(|| "the lead's owner".into());
    let name = i.cfg.rep(i.cfg.rep_by_id[&rep]).name.clone();
    let why = format!(
        "booked with {name}: {owner_name} had no free slot in the next {} days",
        i.booking.days_ahead
    );
    make(&rep, slots, Some(why))
}

/// Read what [`offer`] needs and answer it for `lead` (None: booking is off, or nobody
/// is free). Reads committed rows; the commit checks again under the state lock.
pub async fn offer_for(st: &AppState, lead: &LeadRecord) -> Result<Option<Offer>, ApiError> {
    let cfg = st.shared.config.load_full();
    let Some(b) = cfg.booking.as_ref() else {
        return Ok(None);
    };
    let now = st.shared.clock.now();
    let store = &st.shared.store;
    let state = store.state().await.map_err(unavailable)?;
    let (owner, others) = candidates(&cfg, lead);
    let reps: Vec<String> = owner.into_iter().chain(others).collect();
    let since = leadrouter_store::micros(now) - 86_400_000_000;
    let bookings = store
        .bookings(&reps, &[], since)
        .await
        .map_err(unavailable)?;
    let i = Inputs {
        cfg: &cfg,
        booking: b,
        state: &state,
        bookings: &bookings,
        busy: &*st.busy,
        now,
    };
    Ok(offer(&i, lead))
}

/// Where a form's 303 sends a lead offered booking: its booking page (relative, on this
/// listener), when booking is configured, links are signed (`[notify] link_secret_env`),
/// the lead qualifies and someone has a free slot. None: the form's own `retURL`.
pub async fn redirect_for(st: &AppState, lead_id: &str) -> Option<String> {
    let cfg = st.shared.config.load_full();
    let b = cfg.booking.as_ref()?;
    let lead = st.shared.store.lead(lead_id).await.ok()??;
    if !qualifies(&cfg, &lead) {
        return None;
    }
    let offer = offer_for(st, &lead).await.ok()??;
    if offer.slots.is_empty() {
        return None;
    }
    let nrt = st.shared.notify.load_full();
    let now = st.shared.clock.now();
    let t = token::book(&nrt.links, lead_id, now.saturating_add(b.link_valid).ok()?)?;
    Some(format!("/book/{t}"))
}

/// The rep's slots for moving `booking` (its own time counts as free, but is not listed).
pub async fn slots_for_move(st: &AppState, booking: &BookingRow) -> Result<Vec<Slot>, ApiError> {
    let cfg = st.shared.config.load_full();
    let Some(b) = cfg.booking.as_ref() else {
        return Ok(Vec::new());
    };
    let now = st.shared.clock.now();
    let store = &st.shared.store;
    let state = store.state().await.map_err(unavailable)?;
    let since = leadrouter_store::micros(now) - 86_400_000_000;
    let bookings = store
        .bookings(std::slice::from_ref(&booking.rep), &[], since)
        .await
        .map_err(unavailable)?;
    let i = Inputs {
        cfg: &cfg,
        booking: b,
        state: &state,
        bookings: &bookings,
        busy: &*st.busy,
        now,
    };
    // Its own time is not a move.
    let own = from_micros(booking.start_at);
    let mut slots = rep_slots(&i, &booking.rep, Some(&booking.id), false).unwrap_or_default();
    slots.retain(|s| s.start != own);
    Ok(slots)
}

/// The calendar's busy blocks for `rep` around `slot`, for the commit's check.
pub fn busy_around(
    st: &AppState,
    cfg: &BookingConfig,
    rep: &str,
    slot: Slot,
) -> Vec<(Timestamp, Timestamp)> {
    let pad = cfg.buffer_before.max(cfg.buffer_after) + jiff::SignedDuration::from_hours(1);
    st.busy.busy(
        rep,
        slot.start.saturating_sub(pad).unwrap_or(slot.start),
        slot.end.saturating_add(pad).unwrap_or(slot.end),
    )
}

/// An active rep's index and absences (config windows and an out-of-office override)
/// as of `now`; None for an unknown or inactive rep.
pub(crate) fn rep_query_parts(
    cfg: &leadrouter_core::config::CompiledConfig,
    state: &StateSnapshot,
    rep: &str,
    now: Timestamp,
) -> Option<(usize, Vec<(Timestamp, Timestamp)>)> {
    let idx = *cfg.rep_by_id.get(rep)?;
    let r = cfg.rep(idx);
    if !r.active {
        return None;
    }
    let mut away: Vec<(Timestamp, Timestamp)> =
        r.out_of_office.iter().map(|o| (o.from, o.to)).collect();
    if let Some(a) = state.availability.get(rep)
        && a.out
        && a.out_until.is_none_or(|u| u > now)
    {
        away.push((now, a.out_until.unwrap_or(Timestamp::MAX)));
    }
    Some((idx as usize, away))
}

pub(crate) fn unavailable(e: leadrouter_store::StoreError) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

/// A zone name from a visitor: an IANA name jiff knows, else None.
pub fn zone(name: Option<&str>) -> Option<(String, jiff::tz::TimeZone)> {
    let n = name?.trim();
    if n.is_empty() || n.len() > 64 {
        return None;
    }
    jiff::tz::TimeZone::get(n).ok().map(|z| (n.to_string(), z))
}
