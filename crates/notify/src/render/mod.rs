//! Rendering: from a decision's context to the messages to send. Pure — no I/O, no clock.
//!
//! [`Renderer::assignment`] produces everything a fresh decision sends: the rep's
//! notification on each channel of the tier (NTF-1/2), the lead's confirmation (NTF-3),
//! and the `lead.assigned` / `lead.queued` webhook events (NTF-4). The escalation renderers
//! serve the SLA ladder (SLA-2/3). Each returns [`Rendered`]: the messages plus what was
//! deliberately not sent and why, so nothing is dropped silently (NTF-5).
//!
//! This file holds the context, the [`Renderer`] and what every message shares (template
//! context, Slack routing, email and SMS envelopes); the messages themselves are by kind:
//! `rep` (the owner's notification, the lead's confirmation), `alerts` (SLA-2/3) and
//! `events` (webhooks). `sample` is the made-up lead templates are trial-rendered on.

mod alerts;
mod events;
mod meeting;
mod rep;
mod sample;

pub use meeting::{MeetingNotice, meeting_emails, meeting_event_payload};
pub use sample::sample_context;
pub(crate) use sample::sample_template_context;

use crate::config::{
    ChannelKind, ConfigErrors, ConfirmationSender, EventType, NotifyConfig, TemplateName,
};
use crate::links::LeadLinks;
use crate::message::{Channel, EmailPayload, Kind, Outgoing, SmsPayload};
use crate::slack::{self, Blocks, Button};
use crate::templates::Templates;
use crate::text::{
    MAX_SHOWN_TEXT, action_label, human_duration, mrkdwn_escape, one_line, shown_company,
    shown_name, shown_text, slack_member_id, thousands, truncate,
};
use jiff::{SignedDuration, Timestamp};
use leadrouter_core::config::{Manager, Rep, Tier};
use leadrouter_core::lead::{Enrichment, Lead};
use leadrouter_core::trace::{Decision, RoutePath, RoutingTrace, Step, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Longest SMS body sent (Twilio's limit is 1,600 characters).
pub const MAX_SMS: usize = 1600;
/// Longest email subject kept.
pub const MAX_SUBJECT: usize = 200;

/// The assigned rep as notifications need them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepContact {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Slack member id (`U…`) to mention; a handle or email is shown, not mentioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
    /// IANA zone for showing the SLA deadline in the rep's local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl RepContact {
    pub fn from_rep(rep: &Rep) -> RepContact {
        RepContact {
            id: rep.id.clone(),
            name: rep.name.clone(),
            email: rep.email.clone(),
            phone: rep.phone.clone(),
            slack: rep.slack.clone(),
            booking_link: rep.booking_link.clone(),
            signature: rep.signature.clone(),
            linkedin: rep.linkedin.clone(),
            time_zone: Some(rep.tz_name.clone()).filter(|s| !s.is_empty()),
        }
    }
}

/// A manager or a member of sales leadership.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
}

impl Contact {
    pub fn from_manager(m: &Manager) -> Contact {
        Contact {
            id: m.id.clone(),
            name: m.name.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            slack: m.slack.clone(),
        }
    }
}

/// The enrichment facts a notification shows (NTF-2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Firmographics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employees: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// The lead's (or company's) LinkedIn profile, shown for Tier 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
}

impl Firmographics {
    pub fn from_enrichment(e: &Enrichment) -> Firmographics {
        Firmographics {
            company: e.company.clone(),
            employees: e.employees,
            industry: e.industry.clone(),
            linkedin: e.linkedin.clone(),
        }
    }
}

/// Everything the renderers need about one decided lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyContext {
    pub lead_id: String,
    pub lead: Lead,
    pub decision: Decision,
    /// Why it matched, one line each (see [`reason_lines`]).
    #[serde(default)]
    pub reason_lines: Vec<String>,
    /// The owner; `None` for queued leads.
    #[serde(default)]
    pub rep: Option<RepContact>,
    #[serde(default)]
    pub firmographics: Firmographics,
    pub record_url: String,
    #[serde(default)]
    pub accept_url: Option<String>,
    #[serde(default)]
    pub contacted_url: Option<String>,
    /// Why the lead gets no confirmation email whatever `[notify.email]` says (its form
    /// has `confirmation = false`); `None`: as configured.
    #[serde(default)]
    pub confirmation_off: Option<String>,
}

impl NotifyContext {
    /// Set the record and action links from a [`crate::LinkSigner`].
    pub fn with_links(mut self, links: LeadLinks) -> Self {
        self.record_url = links.record;
        self.accept_url = links.accept;
        self.contacted_url = links.contacted;
        self
    }

    fn is_hot(&self) -> bool {
        self.decision.tier == Tier::Hot
    }

    // Every lead value a human reads (emails, Slack, SMS) goes through the accessors
    // below or `template_context`: one line, no links in names, capped (SEC-1, issue 24).
    // Webhook events carry the lead as received (`raw_company`, `raw_industry`).

    fn lead_name(&self) -> String {
        let part = |p: &Option<String>| p.as_deref().map(shown_name).filter(|s| !s.is_empty());
        match (
            part(&self.lead.first_name),
            part(&self.lead.last_name),
            &self.lead.email,
        ) {
            (Some(f), Some(l), _) => format!("{f} {l}"),
            (Some(n), None, _) | (None, Some(n), _) => n,
            (None, None, Some(e))
                if self.lead.first_name.is_none() && self.lead.last_name.is_none() =>
            {
                shown_text(e, 254)
            }
            (None, None, _) => "(no name)".to_string(),
        }
    }

    fn company(&self) -> Option<String> {
        self.raw_company()
            .map(shown_company)
            .filter(|c| !c.is_empty())
    }

    fn raw_company(&self) -> Option<&str> {
        self.lead
            .company
            .as_deref()
            .or(self.firmographics.company.as_deref())
    }

    fn action_key(&self) -> String {
        self.lead
            .action
            .as_deref()
            .map(leadrouter_core::normalize::token)
            .unwrap_or_default()
    }

    fn industry(&self) -> Option<String> {
        self.raw_industry().map(|i| shown_text(i, MAX_SHOWN_TEXT))
    }

    fn raw_industry(&self) -> Option<&str> {
        self.firmographics
            .industry
            .as_deref()
            .or(self.lead.industry.as_deref())
    }

    fn employees(&self) -> Option<u32> {
        self.firmographics.employees.or_else(|| {
            self.lead
                .employees
                .as_deref()
                .and_then(leadrouter_core::lead::parse_employees)
        })
    }

    fn linkedin(&self) -> Option<&str> {
        self.firmographics
            .linkedin
            .as_deref()
            .or_else(|| {
                ["linkedin", "linkedin_url"]
                    .iter()
                    .find_map(|k| self.lead.fields.get(*k).map(String::as_str))
            })
            .filter(|u| is_http_url(u))
    }
}

/// An http(s) URL with nothing a parser would silently drop (tabs, line breaks) or a
/// reader would see as a second line.
fn is_http_url(s: &str) -> bool {
    !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && crate::config::check_http_url(s).is_ok()
}

/// A message deliberately not produced, and why (NTF-5: reported, never silent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub channel: String,
    pub kind: Kind,
    pub recipient: Option<String>,
    pub reason: String,
}

/// What a renderer produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rendered {
    pub messages: Vec<Outgoing>,
    pub skipped: Vec<Skipped>,
    /// Template overrides that failed on this lead (the built-in template was used).
    pub warnings: Vec<String>,
}

impl Rendered {
    fn skip(
        &mut self,
        channel: &str,
        kind: Kind,
        recipient: Option<&str>,
        reason: impl Into<String>,
    ) {
        self.skipped.push(Skipped {
            channel: channel.to_string(),
            kind,
            recipient: recipient.map(str::to_string),
            reason: reason.into(),
        });
    }

    fn extend(&mut self, other: Rendered) {
        self.messages.extend(other.messages);
        self.skipped.extend(other.skipped);
        self.warnings.extend(other.warnings);
    }
}

/// The lines a rep reads under "why it matched": the decision's reason, then the steps
/// that decided it (account match, winning rule, team choice, fallbacks) and the score.
pub fn reason_lines(decision: &Decision, trace: &RoutingTrace) -> Vec<String> {
    let mut out = vec![decision.reason.clone()];
    for step in &trace.steps {
        match step {
            Step::KnownPerson { outcome, .. } => out.push(format!("known person: {outcome}")),
            Step::Account {
                account: Some(a),
                outcome,
                named,
                ..
            } => out.push(format!(
                "{} {a}: {outcome}",
                if *named { "named account" } else { "account" }
            )),
            Step::Matrix {
                matched: Some(m), ..
            } => out.push(format!(
                "rule {} ({:?} rule, priority {})",
                m.id, m.layer, m.priority
            )),
            Step::Team {
                team,
                method,
                candidates,
            } => {
                let chosen = candidates
                    .iter()
                    .find(|c| matches!(c.verdict, Verdict::Chosen))
                    .map(|c| c.rep.as_str());
                if let Some(rep) = chosen {
                    out.push(format!(
                        "team {team} ({method}): {rep} chosen among {} candidates",
                        candidates.len()
                    ));
                }
            }
            Step::Fallback { from, to, because } => {
                out.push(format!("fallback {from} → {to}: {because}"))
            }
            Step::Manual { by, note, .. } => out.push(format!(
                "manual assignment by {by}{}",
                note.as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            )),
            _ => {}
        }
    }
    let f = &trace.facts;
    let parts: Vec<String> = f
        .score_parts
        .iter()
        .map(|p| format!("{} {:+}", p.label, p.points))
        .collect();
    out.push(format!(
        "score {}{}; ICP fit {}",
        decision.score,
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        },
        if decision.icp_fit { "yes" } else { "no" }
    ));
    out.dedup();
    out
}

fn tier_label(t: Tier) -> String {
    format!("Tier {} ({})", t.number(), t.name())
}

fn first_name(full: &str) -> &str {
    full.split_whitespace().next().unwrap_or(full)
}

/// Renders messages from [`NotifyContext`]s according to a [`NotifyConfig`].
#[derive(Debug)]
pub struct Renderer {
    cfg: NotifyConfig,
    templates: Templates,
}

/// Which Slack webhook a message goes to (resolved to a URL at delivery).
pub const SLACK_DEFAULT: &str = "default";
pub const SLACK_ALERTS: &str = "alerts";
pub const SLACK_TEAM_PREFIX: &str = "team:";

impl Renderer {
    pub fn new(cfg: &NotifyConfig) -> Result<Renderer, ConfigErrors> {
        Ok(Renderer {
            templates: Templates::new(&cfg.templates).map_err(|e| cfg.located(e.0))?,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &NotifyConfig {
        &self.cfg
    }

    fn render(&self, name: TemplateName, ctx: &Value, out: &mut Rendered) -> String {
        let (s, warning) = self.templates.render(name, ctx);
        if let Some(w) = warning
            && !out.warnings.contains(&w)
        {
            out.warnings.push(w);
        }
        s
    }

    /// The template variables for a lead (documented in docs/notifications.md).
    pub fn template_context(&self, ctx: &NotifyContext) -> Value {
        let d = &ctx.decision;
        let lead = &ctx.lead;
        let action = ctx.action_key();
        let rep = ctx.rep.as_ref();
        let zone = rep
            .and_then(|r| r.time_zone.as_deref())
            .and_then(|z| jiff::tz::TimeZone::get(z).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let fmt_time = |t: Timestamp| {
            t.to_zoned(zone.clone())
                .strftime("%a %b %-d, %H:%M %Z")
                .to_string()
        };
        let booking = rep
            .and_then(|r| r.booking_link.as_deref())
            .filter(|u| is_http_url(u));
        let text = |v: &Option<String>| v.as_deref().map(|s| shown_text(s, MAX_SHOWN_TEXT));
        let name = |v: &Option<String>| v.as_deref().map(shown_name).filter(|s| !s.is_empty());
        let mut v = json!({
            "lead": {
                "id": ctx.lead_id,
                "name": ctx.lead_name(),
                "first_name": name(&lead.first_name),
                "last_name": name(&lead.last_name),
                "email": lead.email.as_deref().map(|e| shown_text(e, 254)),
                "company": ctx.company(),
                "title": text(&lead.title),
                "phone": lead.phone.as_deref().map(|p| shown_text(p, 40)),
                "country": text(&lead.country),
                "state": text(&lead.state),
                "action": text(&lead.action),
                "product": text(&lead.product),
                "lead_source": text(&lead.lead_source),
                "linkedin": ctx.linkedin(),
            },
            "firmographics": {
                "employees": ctx.employees(),
                "size": ctx.employees().map(|n| format!("{} employees", thousands(n))),
                "industry": ctx.industry(),
                "segment": d.segment,
            },
            "decision": {
                "tier": d.tier.name(),
                "tier_number": d.tier.number(),
                "tier_label": tier_label(d.tier),
                "score": d.score,
                "segment": d.segment,
                "team": d.team,
                "queue": d.queue,
                "owner": d.owner.as_ref().map(|o| &o.name),
                // Reasons and notes can quote lead input (a junk reason names the email).
                "reason": one_line(&d.reason),
                "path": d.path.label(),
                "rule": d.rule,
                "notes": d.notes.iter().map(|n| one_line(n)).collect::<Vec<_>>(),
            },
            "reasons": ctx.reason_lines.iter().map(|r| one_line(r)).collect::<Vec<_>>(),
            "rep": rep.map(|r| json!({
                "id": r.id,
                "name": r.name,
                "first_name": first_name(&r.name),
                "email": r.email,
                "phone": r.phone,
                "slack": r.slack,
                "slack_id": r.slack.as_deref().and_then(slack_member_id),
                "booking_link": booking,
                "signature": r.signature,
                "linkedin": r.linkedin,
            })),
            "links": {
                "record": ctx.record_url,
                "accept": ctx.accept_url,
                "contacted": ctx.contacted_url,
            },
            "action": {"key": action, "label": action_label(&action)},
            "sla": {
                "contact_within": human_duration(d.sla.contact_within),
                "route_within": human_duration(d.sla.route_within),
                "contact_by": d.sla.contact_by.map(fmt_time),
                "contact_by_unix": d.sla.contact_by.map(|t| t.as_second()),
                "route_by": fmt_time(d.sla.route_by),
            },
            "hot": ctx.is_hot(),
            "booking_link": booking,
            "asset_url": self.asset_url(ctx),
            "onboarding_url": self.cfg.onboarding_url,
            "reassigned": false,
        });
        strip_nulls(&mut v);
        v
    }

    fn asset_url(&self, ctx: &NotifyContext) -> Option<&str> {
        let a = &self.cfg.assets;
        let keys = [
            ctx.lead.fields.get("asset").cloned(),
            ctx.lead.product.clone(),
            ctx.lead.action.clone(),
        ];
        keys.into_iter().flatten().find_map(|k| {
            a.get(&k)
                .or_else(|| a.get(&leadrouter_core::normalize::token(&k)))
                .map(String::as_str)
        })
    }

    fn slack_key_for_team(&self, team: Option<&str>) -> Option<String> {
        let slack = self.cfg.slack.as_ref()?;
        if let Some(t) = team
            && slack.team_webhooks_env.contains_key(t)
        {
            return Some(format!("{SLACK_TEAM_PREFIX}{t}"));
        }
        slack
            .default_webhook_env
            .as_ref()
            .map(|_| SLACK_DEFAULT.to_string())
    }

    fn slack_key_for_alerts(&self, team: Option<&str>) -> Option<String> {
        match &self.cfg.slack {
            Some(s) if s.alerts_webhook_env.is_some() => Some(SLACK_ALERTS.to_string()),
            _ => self.slack_key_for_team(team),
        }
    }

    /// Everything a fresh decision sends: rep notification(s), lead confirmation, and the
    /// `lead.assigned` (or `lead.queued`) webhook event stamped `at`.
    pub fn assignment(&self, ctx: &NotifyContext, at: Timestamp) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        let assigned = ctx.decision.owner.is_some();
        if assigned {
            // Without `rep` the rep notification reports itself as skipped.
            out.extend(self.rep_notification(ctx, None));
            match self.lead_confirmation(ctx) {
                Ok(m) => out.messages.push(m),
                Err(reason) => out.skip(
                    "email",
                    Kind::LeadConfirmation,
                    ctx.lead.email.as_deref(),
                    reason,
                ),
            }
        }
        let event = if assigned {
            EventType::LeadAssigned
        } else {
            EventType::LeadQueued
        };
        out.messages.extend(self.event(event, ctx, Map::new(), at));
        out
    }

    /// A new owner after the first decision (SLA-2 at 2×, manual reassignment, roster
    /// change): the new rep's notification and the `lead.reassigned` event. The lead is
    /// not written to again.
    pub fn reassignment(
        &self,
        ctx: &NotifyContext,
        previous_owner: Option<&str>,
        at: Timestamp,
    ) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        out.extend(self.rep_notification(ctx, Some(previous_owner)));
        let mut extra = Map::new();
        extra.insert("previous_owner".into(), json!(previous_owner));
        out.messages
            .extend(self.event(EventType::LeadReassigned, ctx, extra, at));
        out
    }
}

fn clean_subject(s: &str) -> String {
    truncate(&one_line(s), MAX_SUBJECT)
}

fn email(ctx: &NotifyContext, kind: Kind, p: EmailPayload) -> Outgoing {
    let recipient =
        p.to.parse::<lettre::message::Mailbox>()
            .map(|m| m.email.to_string())
            .unwrap_or_else(|_| p.to.clone());
    Outgoing {
        channel: Channel::Email,
        recipient,
        kind,
        lead_id: ctx.lead_id.clone(),
        payload: serde_json::to_value(p).expect("email payload serializes"),
    }
}

fn sms(ctx: &NotifyContext, kind: Kind, to: &str, body: &str) -> Outgoing {
    let p = SmsPayload {
        to: to.trim().to_string(),
        body: truncate(body.trim(), MAX_SMS),
    };
    Outgoing {
        channel: Channel::Sms,
        recipient: p.to.clone(),
        kind,
        lead_id: ctx.lead_id.clone(),
        payload: serde_json::to_value(p).expect("sms payload serializes"),
    }
}

/// Drop `null` members so templates see missing values as undefined (prints nothing,
/// falsy) rather than `none`.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
