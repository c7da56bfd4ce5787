//! Rendering a lifecycle change's notices (`leadrouter_core::lifecycle::Notice`) into
//! outbox messages at decision time, in the routing transaction: assignment and
//! reassignment messages from the new decision and its trace, the rest (touch events,
//! manager, leadership and queue alerts, escalation events) from the lead as stored.
//!
//! An escalation (manager, leadership or queue alert) also gets a note for the lead's
//! history saying what was actually sent: the alert's channels, or that the escalation
//! is only recorded because no channel is set up. The core's history text says
//! "escalated to …", never "alerted", since it cannot know the channels.

use super::BatchCtx;
use jiff::Timestamp;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::engine::Routed;
use leadrouter_core::lead::Lead;
use leadrouter_core::lifecycle::{Notice, Touch};
use leadrouter_core::trace::{Decision, RoutePath, RoutingTrace};
use leadrouter_notify::{Contact, EventType, Firmographics, NotifyContext, Outgoing, RepContact};
use leadrouter_store::LeadRecord;
use serde_json::Value;

/// What the notices of one change produced: the outbox messages, in order, and for an
/// escalation the note the history entry carries about its delivery.
#[derive(Default)]
pub(super) struct Notices {
    pub messages: Vec<Outgoing>,
    pub note: Option<String>,
}

/// The history note when an escalation produced no message.
const NO_ALERT_CHANNEL: &str = "escalation recorded; no alert was sent: no alert channel is set up \
     (add [notify] with [notify.email] or [notify.slack alerts_webhook_env], see docs/notifications.md)";

/// The messages for `notices`, in order. `lead` is the lead as stored before the change,
/// `parsed` its payload; `routed` is the change's new decision, if any.
pub(super) fn render(
    bx: &BatchCtx<'_>,
    lead: &LeadRecord,
    parsed: &Lead,
    routed: Option<&Routed>,
    notices: &[Notice],
    now: Timestamp,
) -> Notices {
    let renderer = &bx.nrt.renderer;
    let escalates = notices
        .iter()
        .any(|n| matches!(n, Notice::ManagerAlert { .. } | Notice::QueueAlert { .. }));
    // Without [notify] there is nothing to render: skip building the contexts (they sign
    // the accept/contacted links).
    if notices.is_empty() || !renderer.config().enabled {
        return Notices {
            messages: Vec::new(),
            note: escalates.then(|| NO_ALERT_CHANNEL.to_string()),
        };
    }
    let mut out = Vec::new();
    let mut alerts: Vec<leadrouter_notify::Rendered> = Vec::new();
    let (mut fresh, mut stored) = (None, None);
    for n in notices {
        match n {
            Notice::Assignment | Notice::Reassignment { .. } => {
                let Some(r) = routed else {
                    tracing::error!(lead = %lead.id, "an assignment notice without a decision");
                    continue;
                };
                let ctx = fresh.get_or_insert_with(|| {
                    let mut c =
                        notify_context(bx, &lead.id, parsed, &r.decision, Some(&r.trace), now);
                    c.confirmation_off = crate::intake::confirmation_off(bx.cfg, &lead.source);
                    c
                });
                let rendered = match n {
                    Notice::Reassignment { from } => {
                        renderer.reassignment(ctx, from.as_deref(), now)
                    }
                    _ => renderer.assignment(ctx, now),
                };
                for warn in &rendered.warnings {
                    tracing::warn!(lead = %lead.id, warning = %warn, "template override failed; built-in template used");
                }
                out.extend(rendered.messages);
            }
            other => {
                let ctx = stored.get_or_insert_with(|| {
                    let d = stored_decision(lead, bx.cfg);
                    notify_context(bx, &lead.id, parsed, &d, None, now)
                });
                match other {
                    Notice::Touched(t) => {
                        let event = match t {
                            Touch::Accept => EventType::LeadAccepted,
                            Touch::Contacted => EventType::LeadContacted,
                        };
                        out.extend(renderer.event(event, ctx, Default::default(), now));
                    }
                    Notice::ManagerAlert { manager, multiple } => {
                        let c = Contact::from_manager(&bx.cfg.managers[*manager as usize]);
                        let r = renderer.manager_alert(ctx, &c, *multiple);
                        out.extend(r.messages.iter().cloned());
                        alerts.push(r);
                    }
                    Notice::Escalated(step) => {
                        let mut extra = serde_json::Map::new();
                        extra.insert("step".into(), Value::String(step.as_str().into()));
                        out.extend(renderer.event(EventType::LeadSlaEscalated, ctx, extra, now));
                    }
                    Notice::QueueAlert { queue, age } => {
                        let r = renderer.queue_alert(ctx, queue, *age);
                        out.extend(r.messages.iter().cloned());
                        alerts.push(r);
                    }
                    Notice::Meeting(m) => {
                        out.extend(crate::booking::messages::render(
                            bx.cfg,
                            renderer,
                            &bx.nrt.links,
                            &lead.id,
                            parsed,
                            m,
                            now,
                        ));
                        let mut extra = serde_json::Map::new();
                        extra.insert("meeting".into(), meeting_json(m));
                        // A booking is first touch: also the `lead.contacted` event.
                        if m.change == leadrouter_core::booking::MeetingChange::Booked {
                            out.extend(renderer.event(EventType::LeadContacted, ctx, extra, now));
                        }
                    }
                    Notice::Assignment | Notice::Reassignment { .. } => {}
                }
            }
        }
    }
    Notices {
        messages: out,
        note: escalates.then(|| alert_note(&alerts)),
    }
}

/// A meeting in webhook events (issue 22).
fn meeting_json(m: &leadrouter_core::booking::Meeting) -> Value {
    serde_json::json!({
        "booking_id": m.booking_id,
        "sequence": m.sequence,
        "rep": m.rep,
        "start": m.start,
        "end": m.end,
        "status": m.change.as_str(),
    })
}

/// "alert queued: email to a@x, slack", or why nothing went out.
fn alert_note(alerts: &[leadrouter_notify::Rendered]) -> String {
    let sent: Vec<String> = alerts
        .iter()
        .flat_map(|r| &r.messages)
        .map(|m| match m.channel {
            leadrouter_notify::Channel::Email | leadrouter_notify::Channel::Sms => {
                format!("{} to {}", m.channel.name(), m.recipient)
            }
            _ => m.channel.name().to_string(),
        })
        .collect();
    if !sent.is_empty() {
        return format!("alert queued: {}", sent.join(", "));
    }
    let why: Vec<String> = alerts
        .iter()
        .flat_map(|r| &r.skipped)
        .map(|s| format!("{}: {}", s.channel, s.reason))
        .collect();
    if why.is_empty() {
        NO_ALERT_CHANNEL.to_string()
    } else {
        format!("{NO_ALERT_CHANNEL}; {}", why.join("; "))
    }
}

/// "slack", "email", "webhook:crm", "rep_notification": a serde enum as a short label.
pub(super) fn label<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v).unwrap_or(Value::Null) {
        Value::String(s) => s,
        Value::Object(m) => m
            .iter()
            .next()
            .map(|(k, v)| match v {
                Value::Object(inner) => match inner.values().next() {
                    Some(Value::String(x)) => format!("{k}:{x}"),
                    _ => k.clone(),
                },
                Value::String(x) => format!("{k}:{x}"),
                _ => k.clone(),
            })
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

fn notify_context(
    bx: &BatchCtx<'_>,
    lead_id: &str,
    lead: &Lead,
    d: &Decision,
    trace: Option<&RoutingTrace>,
    now: Timestamp,
) -> NotifyContext {
    let cfg = bx.cfg;
    let rep = d
        .owner
        .as_ref()
        .and_then(|o| cfg.rep_by_id.get(o.id.as_str()))
        .map(|i| RepContact::from_rep(cfg.rep(*i)));
    let facts = trace.map(|t| &t.facts);
    NotifyContext {
        lead_id: lead_id.to_string(),
        lead: lead.clone(),
        decision: d.clone(),
        reason_lines: trace
            .map(|t| leadrouter_notify::render::reason_lines(d, t))
            .unwrap_or_else(|| vec![d.reason.clone()]),
        rep,
        firmographics: Firmographics {
            company: facts
                .and_then(|f| f.company.clone())
                .or_else(|| lead.company.clone()),
            employees: facts.and_then(|f| f.employees),
            industry: facts.and_then(|f| f.industry.as_deref().map(str::to_string)),
            linkedin: None,
        },
        record_url: String::new(),
        accept_url: None,
        contacted_url: None,
        confirmation_off: None,
    }
    .with_links(bx.nrt.links.links(
        lead_id,
        d.owner.as_ref().map_or("", |o| o.id.as_str()),
        now,
    ))
}

pub(super) fn parsed_lead(l: &LeadRecord) -> Lead {
    Lead::from_json(&l.payload).map(|x| x.0).unwrap_or_default()
}

fn stored_decision(l: &LeadRecord, cfg: &CompiledConfig) -> Decision {
    use leadrouter_core::trace::{Owner, Sla};
    let owner = l.owner.as_ref().map(|id| Owner {
        id: id.clone().into(),
        name: cfg
            .rep_by_id
            .get(id)
            .map(|i| cfg.rep(*i).name.clone())
            .unwrap_or_else(|| id.clone())
            .into(),
    });
    let tier = leadrouter_core::config::Tier::parse(&l.tier)
        .unwrap_or(leadrouter_core::config::Tier::Standard);
    let times = cfg.sla_for(tier, l.segment.as_deref());
    Decision {
        owner,
        queue: l.queue.clone().map(Into::into),
        path: serde_json::from_value(Value::String(l.path.clone())).unwrap_or(RoutePath::CatchAll),
        rule: l.rule.clone().map(Into::into),
        team: l.team.clone().map(Into::into),
        account: l.account_domain.clone(),
        segment: l.segment.clone().map(Into::into),
        tier,
        score: l.score as i32,
        intent: leadrouter_core::config::Intent::Low,
        icp_fit: false,
        sla: Sla {
            route_by: l
                .route_by
                .map(leadrouter_store::from_micros)
                .unwrap_or_else(|| leadrouter_store::from_micros(l.routed_at)),
            contact_by: l.contact_by.map(leadrouter_store::from_micros),
            route_within: times.route_within,
            contact_within: times.contact_within,
        },
        reason: String::new(),
        flags: Vec::new(),
        notes: Vec::new(),
        config_version: l.config_version.clone().into(),
        decided_at: leadrouter_store::from_micros(l.routed_at),
    }
}
