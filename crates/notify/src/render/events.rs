//! Outbound webhook events (NTF-4): the Standard Webhooks body and one message per
//! subscribed webhook.

use super::*;

impl Renderer {
    /// The webhook event body, per Standard Webhooks: `{"type", "timestamp", "data"}`.
    /// `extra` is merged into `data` (e.g. `previous_owner`, `multiple`, `accepted_at`).
    /// Signed action links are never included: they are credentials.
    pub fn event_payload(
        &self,
        event: EventType,
        ctx: &NotifyContext,
        extra: Map<String, Value>,
        at: Timestamp,
    ) -> Value {
        let d = &ctx.decision;
        let mut data = json!({
            "lead_id": ctx.lead_id,
            "owner": d.owner.as_ref().map(|o| json!({
                "id": o.id,
                "name": o.name,
                "email": ctx.rep.as_ref().filter(|r| r.id == o.id).and_then(|r| r.email.clone()),
            })),
            "queue": d.queue,
            "tier": d.tier.name(),
            "tier_number": d.tier.number(),
            "score": d.score,
            "intent": d.intent,
            "icp_fit": d.icp_fit,
            "segment": d.segment,
            "team": d.team,
            "path": d.path,
            "rule": d.rule,
            "account": d.account,
            "reason": d.reason,
            "reasons": ctx.reason_lines,
            "flags": d.flags,
            "notes": d.notes,
            "sla": d.sla,
            "config_version": d.config_version,
            "decided_at": d.decided_at,
            "record_url": ctx.record_url,
            "lead": ctx.lead,
            "firmographics": {
                "company": ctx.raw_company(),
                "employees": ctx.employees(),
                "industry": ctx.raw_industry(),
            },
        });
        if let Value::Object(m) = &mut data {
            m.extend(extra);
        }
        json!({
            "type": event.as_str(),
            "timestamp": at.to_string(),
            "data": data,
        })
    }

    /// One [`Outgoing`] per webhook subscribed to `event`.
    pub fn event(
        &self,
        event: EventType,
        ctx: &NotifyContext,
        extra: Map<String, Value>,
        at: Timestamp,
    ) -> Vec<Outgoing> {
        if !self.cfg.enabled || self.cfg.webhooks_for(event).next().is_none() {
            return Vec::new();
        }
        let payload = self.event_payload(event, ctx, extra, at);
        self.cfg
            .webhooks_for(event)
            .map(|w| Outgoing {
                channel: Channel::Webhook {
                    name: w.name.clone(),
                },
                recipient: w.name.clone(),
                kind: Kind::Webhook,
                lead_id: ctx.lead_id.clone(),
                payload: payload.clone(),
            })
            .collect()
    }
}
