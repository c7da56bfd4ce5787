//! Booking jobs (issue 22) in the routing transaction. The transaction holds the state
//! lock, so the check that the slot is still free — against the rep's bookings read
//! under that lock plus those this batch made — and the booking row commit together,
//! and no other instance can book the rep in between. A slot no longer free answers
//! `{"taken": true}` and writes nothing.
//!
//! Booking with a rep other than the lead's owner first reassigns the lead through the
//! lifecycle's reassignment (loads, history, SLA, CRM write-back as for ASG-6), then
//! records the meeting, which is first touch.

use super::apply::{ladder, view};
use super::notices::parsed_lead;
use super::{BatchCtx, BookingOp, Job, JobError};
use crate::api::responses::lead_json;
use crate::booking::rep_query_parts;
use jiff::Timestamp;
use leadrouter_core::booking::{self, Meeting, MeetingChange, Slot, SlotQuery};
use leadrouter_core::lead::Lead;
use leadrouter_core::lifecycle::{self, LeadStatus, Reassign};
use leadrouter_core::state::StateSnapshot;
use leadrouter_store::bookings::{BOOKED, CANCELLED};
use leadrouter_store::{BookingRow, from_micros, micros};
use serde_json::{Value, json};

/// The reps and leads whose bookings a batch reads, and from when (micros).
pub(super) fn reads_for(jobs: &[Job]) -> (Vec<String>, Vec<String>, i64) {
    let (mut reps, mut leads, mut since) = (Vec::new(), Vec::new(), i64::MAX);
    for j in jobs {
        if let Job::Booking {
            lead_id, op, at, ..
        } = j
        {
            reps.push(op.rep().to_string());
            leads.push(lead_id.clone());
            since = since.min(micros(*at) - 86_400_000_000);
        }
    }
    reps.sort();
    reps.dedup();
    leads.sort();
    leads.dedup();
    (reps, leads, since)
}

/// A booking as the API shows it.
pub fn booking_json(b: &BookingRow) -> Value {
    json!({
        "id": b.id,
        "lead_id": b.lead_id,
        "rep": b.rep,
        "start": from_micros(b.start_at),
        "end": from_micros(b.end_at),
        "status": b.status,
        "sequence": b.sequence,
    })
}

fn invalid(field: &str, message: impl Into<String>) -> JobError {
    JobError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl super::batch::Decider {
    fn rep_booked(&self, rep: &str, except: Option<&str>) -> Vec<(Timestamp, Timestamp)> {
        self.bookings
            .iter()
            .filter(|b| b.rep == rep && b.active() && Some(b.id.as_str()) != except)
            .map(|b| (from_micros(b.start_at), from_micros(b.end_at)))
            .collect()
    }

    fn put_booking(&mut self, b: BookingRow) {
        self.bookings.retain(|x| x.id != b.id);
        self.w.batch.bookings.retain(|x| x.id != b.id);
        self.w.batch.bookings.push(b.clone());
        self.bookings.push(b);
    }

    /// Whether `slot` is free for `rep` now, in this batch.
    fn slot_free(
        &self,
        bx: &BatchCtx<'_>,
        state: &StateSnapshot,
        rep: &str,
        slot: Slot,
        busy: &[(Timestamp, Timestamp)],
        except: Option<&str>,
    ) -> Result<bool, JobError> {
        let now = from_micros(micros(bx.clock.now()));
        let Some(cfg) = bx.cfg.booking.as_ref() else {
            return Err(invalid("booking", "booking is not configured ([booking])"));
        };
        let Some((idx, away)) = rep_query_parts(bx.cfg, state, rep, now) else {
            return Err(JobError::NotFound(format!("active rep {rep}")));
        };
        let r = &bx.cfg.reps[idx];
        let booked = self.rep_booked(rep, except);
        let q = SlotQuery {
            cfg,
            tz: &r.tz,
            hours: r.working_hours.as_ref().unwrap_or(&cfg.default_hours),
            away: &away,
            busy,
            booked: &booked,
            now,
        };
        Ok(booking::is_free(&q, slot))
    }

    /// Book, move or cancel a meeting for `lead_id`.
    pub(super) fn booking(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        lead_id: &str,
        op: &BookingOp,
        actor: &str,
    ) -> Result<Value, JobError> {
        let Some(lead) = self.leads.get(lead_id).cloned() else {
            return Err(JobError::NotFound(format!("lead {lead_id}")));
        };
        // Stored in microseconds: the reply shows what is stored.
        let now = from_micros(micros(bx.clock.now()));
        match op {
            BookingOp::Book {
                rep,
                slot,
                busy,
                lead_tz,
                why,
            } => {
                if lead.status != LeadStatus::Open {
                    return Err(invalid(
                        "lead",
                        format!("the lead is {}; only open leads book meetings", lead.status),
                    ));
                }
                if let Some(b) = self
                    .bookings
                    .iter()
                    .find(|b| b.lead_id == lead_id && b.active())
                {
                    return Err(invalid(
                        "booking",
                        format!(
                            "this lead already has a meeting (booking {}); reschedule or cancel it",
                            b.id
                        ),
                    ));
                }
                if !self.slot_free(bx, state, rep, *slot, busy, None)? {
                    return Ok(json!({ "taken": true }));
                }
                let row = BookingRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    lead_id: lead_id.to_string(),
                    rep: rep.clone(),
                    start_at: micros(slot.start),
                    end_at: micros(slot.end),
                    status: BOOKED.into(),
                    sequence: 0,
                    lead_tz: lead_tz.clone(),
                    created_at: micros(now),
                    updated_at: micros(now),
                };
                let mut current = lead.clone();
                if lead.owner.as_deref() != Some(rep.as_str()) {
                    let (parsed, issues) =
                        Lead::from_json(&lead.payload).map_err(|e| JobError::Invalid {
                            field: "payload".into(),
                            message: e.problem,
                        })?;
                    let r = Reassign {
                        cfg: bx.cfg,
                        state,
                        parsed: &parsed,
                        issues: &issues,
                        rep,
                        actor,
                        note: why.as_deref(),
                        now,
                    };
                    if let Some(mut change) = lifecycle::reassign(&view(&lead), r, &ladder(bx))? {
                        // The history and the decision say why the lead moved.
                        if let Some(why) = why {
                            if let Some(h) = change.history.as_mut() {
                                h.reason = format!("{why} ({})", h.reason);
                            }
                            if let Some(r) = change.routed.as_mut() {
                                r.decision.reason = format!("{why} ({})", r.decision.reason);
                            }
                        }
                        current = self.apply(bx, state, &lead, &parsed, change, now);
                    }
                }
                let m = Meeting {
                    booking_id: row.id.clone(),
                    sequence: 0,
                    rep: rep.clone(),
                    start: slot.start,
                    end: slot.end,
                    previous: None,
                    lead_tz: lead_tz.clone(),
                    change: MeetingChange::Booked,
                };
                let change = booking::meeting(&view(&current), m, actor, now);
                let after = self.apply(bx, state, &current, &parsed_lead(&current), change, now);
                self.put_booking(row.clone());
                Ok(json!({ "booking": booking_json(&row), "lead": lead_json(&after) }))
            }
            BookingOp::Reschedule {
                booking_id,
                slot,
                busy,
                lead_tz,
                ..
            } => {
                let old = self.active_booking(lead_id, booking_id)?;
                if !self.slot_free(bx, state, &old.rep, *slot, busy, Some(booking_id))? {
                    return Ok(json!({ "taken": true }));
                }
                let row = BookingRow {
                    start_at: micros(slot.start),
                    end_at: micros(slot.end),
                    sequence: old.sequence + 1,
                    lead_tz: lead_tz.clone().or(old.lead_tz.clone()),
                    updated_at: micros(now),
                    ..old.clone()
                };
                let m = meeting_of(&row, MeetingChange::Rescheduled, Some(&old));
                let change = booking::meeting(&view(&lead), m, actor, now);
                let after = self.apply(bx, state, &lead, &parsed_lead(&lead), change, now);
                self.put_booking(row.clone());
                Ok(json!({ "booking": booking_json(&row), "lead": lead_json(&after) }))
            }
            BookingOp::Cancel { booking_id, .. } => {
                let old = self.active_booking(lead_id, booking_id)?;
                let row = BookingRow {
                    status: CANCELLED.into(),
                    sequence: old.sequence + 1,
                    updated_at: micros(now),
                    ..old.clone()
                };
                let m = meeting_of(&row, MeetingChange::Cancelled, None);
                let change = booking::meeting(&view(&lead), m, actor, now);
                let after = self.apply(bx, state, &lead, &parsed_lead(&lead), change, now);
                self.put_booking(row.clone());
                Ok(json!({ "booking": booking_json(&row), "lead": lead_json(&after) }))
            }
        }
    }

    fn active_booking(&self, lead_id: &str, id: &str) -> Result<BookingRow, JobError> {
        let b = self
            .bookings
            .iter()
            .find(|b| b.id == id && b.lead_id == lead_id)
            .cloned()
            .ok_or_else(|| JobError::NotFound(format!("booking {id}")))?;
        if !b.active() {
            return Err(invalid("booking", "this meeting was cancelled"));
        }
        Ok(b)
    }
}

fn meeting_of(row: &BookingRow, change: MeetingChange, previous: Option<&BookingRow>) -> Meeting {
    Meeting {
        booking_id: row.id.clone(),
        sequence: row.sequence,
        rep: row.rep.clone(),
        start: from_micros(row.start_at),
        end: from_micros(row.end_at),
        previous: previous.map(|p| Slot {
            start: from_micros(p.start_at),
            end: from_micros(p.end_at),
        }),
        lead_tz: row.lead_tz.clone(),
        change,
    }
}
