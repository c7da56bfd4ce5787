//! The JSON bodies the API answers with: a routing decision (CAP-1, also stored for
//! idempotent replays), a stored lead, an SLA timer's action and an availability change.
//! The sequencer builds them when it answers its jobs.

use jiff::Timestamp;
use leadrouter_core::lifecycle::SlaAction;
use leadrouter_core::trace::{Decision, RoutePath, RoutingTrace};
use leadrouter_store::LeadRecord;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The CAP-1 response body, serialised once: the same text is sent, and stored for an
/// idempotent replay. Keys in alphabetical order (as the earlier `Value`-built body had).
#[derive(serde::Serialize)]
struct RouteBody<'a> {
    account: &'a Option<String>,
    config_version: &'a str,
    deduplicated: bool,
    flags: &'a [leadrouter_core::trace::Flag],
    lead_id: &'a str,
    notes: &'a [String],
    owner: &'a Option<leadrouter_core::trace::Owner>,
    path: RoutePath,
    queue: Option<&'a str>,
    reason: &'a str,
    received_at: Timestamp,
    routed_at: Timestamp,
    rule: Option<&'a str>,
    score: i32,
    segment: Option<&'a str>,
    sla: &'a leadrouter_core::trace::Sla,
    team: Option<&'a str>,
    tier: leadrouter_core::config::Tier,
    tier_number: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a RoutingTrace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_text: Option<String>,
}

/// The CAP-1 response body.
pub fn route_body(
    lead_id: &str,
    d: &Decision,
    trace: Option<&RoutingTrace>,
    received_at: Timestamp,
    routed_at: Timestamp,
    deduplicated: bool,
) -> Box<RawValue> {
    let body = RouteBody {
        account: &d.account,
        config_version: &d.config_version,
        deduplicated,
        flags: &d.flags,
        lead_id,
        notes: &d.notes,
        owner: &d.owner,
        path: d.path,
        queue: d.queue.as_deref(),
        reason: &d.reason,
        received_at,
        routed_at,
        rule: d.rule.as_deref(),
        score: d.score,
        segment: d.segment.as_deref(),
        sla: &d.sla,
        team: d.team.as_deref(),
        tier: d.tier,
        tier_number: d.tier.number(),
        trace,
        trace_text: trace.map(|t| t.render(d)),
    };
    serde_json::value::to_raw_value(&body).unwrap_or_else(|e| {
        // Not reachable with these types (every map key is text); the lead is stored and
        // assigned either way, so the client still gets its id.
        tracing::error!(error = %e, lead_id, "could not serialise a route response");
        serde_json::value::to_raw_value(&json!({ "lead_id": lead_id, "reason": d.reason }))
            .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("valid JSON"))
    })
}

pub fn lead_json(l: &LeadRecord) -> Value {
    let ts = |us: i64| leadrouter_store::from_micros(us).to_string();
    json!({
        "lead_id": l.id,
        "source": l.source,
        "email": l.email,
        "owner": l.owner,
        "queue": l.queue,
        "team": l.team,
        "account": l.account_domain,
        "segment": l.segment,
        "tier": l.tier,
        "score": l.score,
        "path": l.path,
        "rule": l.rule,
        "status": l.status,
        "stage": l.stage,
        "outcome": l.outcome,
        "outcome_at": l.outcome_at.map(ts),
        "received_at": ts(l.received_at),
        "routed_at": ts(l.routed_at),
        "route_by": l.route_by.map(ts),
        "contact_by": l.contact_by.map(ts),
        "accepted_at": l.accepted_at.map(ts),
        "first_touch_at": l.first_touch_at.map(ts),
        // MET-1: acceptance time and speed to contact.
        "acceptance_seconds": l.accepted_at.map(|a| (a - l.routed_at) as f64 / 1e6),
        "speed_to_contact_seconds": l.first_touch_at.map(|a| (a - l.routed_at) as f64 / 1e6),
        "config_version": l.config_version,
        "lead": l.payload,
    })
}

/// What a due SLA timer did (`POST` by the SLA worker; shown in logs and tests).
pub fn sla_json(timer: &str, action: &SlaAction) -> Value {
    match action {
        SlaAction::None { why } => json!({"timer": timer, "action": "none", "why": why}),
        SlaAction::ManagerAlert { manager } => {
            json!({"timer": timer, "action": "manager_alert", "manager": manager})
        }
        SlaAction::Reassigned { from, to } => {
            json!({"timer": timer, "action": "reassigned", "from": from, "to": to})
        }
        SlaAction::LeadershipAlert { to } => {
            json!({"timer": timer, "action": "leadership_alert", "to": to})
        }
        SlaAction::QueueAlert { queue } => {
            json!({"timer": timer, "action": "queue_alert", "queue": queue})
        }
    }
}

/// `PUT /v1/reps/{id}/availability`.
pub fn availability_json(
    rep: &str,
    out: bool,
    until: Option<Timestamp>,
    note: Option<&str>,
) -> Value {
    json!({ "rep": rep, "out_of_office": out, "until": until, "note": note })
}
