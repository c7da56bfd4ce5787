//! Rendering: from a decision's context to the messages to send. Pure — no I/O, no clock.
//!
//! [`Renderer::assignment`] produces everything a fresh decision sends: the rep's
//! notification on each channel of the tier (NTF-1/2), the lead's confirmation (NTF-3),
//! and the `lead.assigned` / `lead.queued` webhook events (NTF-4). The escalation renderers
//! serve the SLA ladder (SLA-2/3). Each returns [`Rendered`]: the messages plus what was
//! deliberately not sent and why, so nothing is dropped silently (NTF-5).

use crate::config::{
    ChannelKind, ConfigErrors, ConfirmationSender, EventType, NotifyConfig, TemplateName,
};
use crate::links::LeadLinks;
use crate::message::{Channel, EmailPayload, Kind, Outgoing, SmsPayload};
use crate::slack::{self, Blocks, Button};
use crate::templates::Templates;
use crate::text::{
    action_label, human_duration, mrkdwn_escape, one_line, slack_member_id, thousands, truncate,
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

    fn lead_name(&self) -> String {
        match (
            &self.lead.first_name,
            &self.lead.last_name,
            &self.lead.email,
        ) {
            (None, None, Some(e)) => e.clone(),
            _ => self.lead.display_name(),
        }
    }

    fn company(&self) -> Option<&str> {
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

    fn industry(&self) -> Option<&str> {
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

fn is_http_url(s: &str) -> bool {
    crate::config::check_http_url(s).is_ok()
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
        let mut v = json!({
            "lead": {
                "id": ctx.lead_id,
                "name": ctx.lead_name(),
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "email": lead.email,
                "company": ctx.company(),
                "title": lead.title,
                "phone": lead.phone,
                "country": lead.country,
                "state": lead.state,
                "action": lead.action,
                "product": lead.product,
                "lead_source": lead.lead_source,
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
                "reason": d.reason,
                "path": d.path.label(),
                "rule": d.rule,
                "notes": d.notes,
            },
            "reasons": ctx.reason_lines,
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

    /// The owner's notification on each channel of the tier (NTF-1/2). `reassigned` is
    /// `Some(previous owner name)` for a reassignment.
    pub fn rep_notification(
        &self,
        ctx: &NotifyContext,
        reassigned: Option<Option<&str>>,
    ) -> Rendered {
        let mut out = Rendered::default();
        let kind = Kind::RepNotification;
        let Some(rep) = &ctx.rep else {
            let why = match &ctx.decision.owner {
                Some(o) => format!(
                    "owner {} has no contact details in the context (NotifyContext.rep)",
                    o.id
                ),
                None => "the lead has no owner".to_string(),
            };
            out.skip("all", kind, None, why);
            return out;
        };
        let mut tctx = self.template_context(ctx);
        if let Some(prev) = reassigned {
            tctx["reassigned"] = json!(true);
            if let Some(p) = prev {
                tctx["previous_owner"] = json!(p);
            }
        }
        let channels = self.cfg.channels.channels(
            ctx.decision.tier,
            ctx.decision.team.as_deref(),
            Some(&rep.id),
        );
        if channels.is_empty() {
            out.skip(
                "all",
                kind,
                Some(&rep.id),
                format!(
                    "no channels configured for {}",
                    tier_label(ctx.decision.tier)
                ),
            );
        }
        for channel in channels {
            match channel {
                ChannelKind::Slack => match self.slack_key_for_team(ctx.decision.team.as_deref()) {
                    None => out.skip(
                        "slack",
                        kind,
                        Some(&rep.id),
                        "no Slack webhook configured ([notify.slack])",
                    ),
                    Some(key) => {
                        let text = self.render(TemplateName::SlackText, &tctx, &mut out);
                        let payload = self.rep_slack_blocks(ctx, &tctx, &text);
                        out.messages.push(Outgoing {
                            channel: Channel::Slack,
                            recipient: key,
                            kind,
                            lead_id: ctx.lead_id.clone(),
                            payload,
                        });
                    }
                },
                ChannelKind::Email => {
                    let Some(email_cfg) = &self.cfg.email else {
                        out.skip(
                            "email",
                            kind,
                            Some(&rep.id),
                            "email is not configured ([notify.email])",
                        );
                        continue;
                    };
                    let Some(to) = rep
                        .email
                        .as_deref()
                        .filter(|a| a.parse::<lettre::Address>().is_ok())
                    else {
                        out.skip(
                            "email",
                            kind,
                            Some(&rep.id),
                            format!("rep {} has no valid email address", rep.id),
                        );
                        continue;
                    };
                    let subject = self.render(TemplateName::RepEmailSubject, &tctx, &mut out);
                    let text = self.render(TemplateName::RepEmailBody, &tctx, &mut out);
                    out.messages.push(email(
                        ctx,
                        kind,
                        EmailPayload {
                            from: email_cfg.from.clone(),
                            reply_to: None,
                            to: to.to_string(),
                            subject: clean_subject(&subject),
                            text,
                            html: None,
                        },
                    ));
                }
                ChannelKind::Sms => {
                    if self.cfg.sms.is_none() {
                        out.skip(
                            "sms",
                            kind,
                            Some(&rep.id),
                            "SMS is not configured ([notify.sms])",
                        );
                        continue;
                    }
                    let Some(phone) = rep.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
                        out.skip(
                            "sms",
                            kind,
                            Some(&rep.id),
                            format!("rep {} has no phone number", rep.id),
                        );
                        continue;
                    };
                    let body = self.render(TemplateName::SmsBody, &tctx, &mut out);
                    out.messages.push(sms(ctx, kind, phone, &body));
                }
            }
        }
        out
    }

    fn rep_slack_blocks(&self, ctx: &NotifyContext, tctx: &Value, text: &str) -> Value {
        let d = &ctx.decision;
        let name = ctx.lead_name();
        let company = ctx.company();
        let action = action_label(&ctx.action_key());
        let mut b = Blocks::default();
        b.header(&format!(
            "{} lead: {}{}",
            tier_label(d.tier),
            name,
            company.map(|c| format!(", {c}")).unwrap_or_default()
        ));
        b.section(text);
        let esc = |s: Option<&str>, missing: &str| {
            s.map(mrkdwn_escape)
                .unwrap_or_else(|| format!("_{missing}_"))
        };
        let mut fields: Vec<(&str, String)> = vec![
            ("Company", esc(company, "unknown")),
            (
                "Size",
                esc(tctx["firmographics"]["size"].as_str(), "unknown"),
            ),
            ("Industry", esc(ctx.industry(), "unknown")),
            ("Action", mrkdwn_escape(&action)),
            (
                "Score / tier",
                format!("{} · {}", d.score, tier_label(d.tier)),
            ),
            ("Email", esc(ctx.lead.email.as_deref(), "not given")),
        ];
        if let Some(seg) = &d.segment {
            fields.push(("Segment", mrkdwn_escape(seg)));
        }
        if ctx.is_hot() {
            fields.push(("Phone", esc(ctx.lead.phone.as_deref(), "not given")));
            fields.push((
                "LinkedIn",
                ctx.linkedin()
                    .map(|u| slack::link(u, "Profile"))
                    .unwrap_or_else(|| "_not found_".into()),
            ));
        }
        b.fields(&fields);
        if !ctx.reason_lines.is_empty() {
            let mut why = String::from("*Why it matched*");
            for r in &ctx.reason_lines {
                why.push_str("\n• ");
                why.push_str(&mrkdwn_escape(r));
            }
            b.section(&why);
        }
        let notes: Vec<String> = d
            .notes
            .iter()
            .map(|n| format!("Note: {}", mrkdwn_escape(n)))
            .collect();
        b.context(&notes);
        let mut buttons = Vec::new();
        if let Some(u) = &ctx.accept_url {
            buttons.push(Button {
                text: "Accept",
                url: u,
                action_id: "accept",
                primary: true,
            });
        }
        if let Some(u) = &ctx.contacted_url {
            buttons.push(Button {
                text: "Mark contacted",
                url: u,
                action_id: "contacted",
                primary: false,
            });
        }
        buttons.push(Button {
            text: "Open record",
            url: &ctx.record_url,
            action_id: "open_record",
            primary: false,
        });
        b.buttons(&buttons);
        let fallback = format!(
            "{} lead for {}: {}{} ({})",
            tier_label(d.tier),
            ctx.rep
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or("nobody"),
            name,
            company.map(|c| format!(", {c}")).unwrap_or_default(),
            action
        );
        b.into_payload(&fallback)
    }

    /// The lead's confirmation email written as from the assigned rep (NTF-3), or why
    /// there is none: queued leads (junk, review, nurture, …), leads without an email,
    /// confirmations turned off, no email channel.
    pub fn lead_confirmation(&self, ctx: &NotifyContext) -> Result<Outgoing, String> {
        let Some(email_cfg) = &self.cfg.email else {
            return Err("email is not configured ([notify.email])".into());
        };
        if !email_cfg.lead_confirmation {
            return Err(
                "lead confirmations are off (notify.email.lead_confirmation = false)".into(),
            );
        }
        let d = &ctx.decision;
        let queued = matches!(
            d.path,
            RoutePath::Junk
                | RoutePath::PersonalEmailReview
                | RoutePath::Qualification
                | RoutePath::Nurture
                | RoutePath::CatchAll
        );
        let (Some(rep), Some(_), None, false) = (&ctx.rep, &d.owner, &d.queue, queued) else {
            return Err(format!(
                "the lead is queued{}: no confirmation is sent for queued leads",
                d.queue
                    .as_deref()
                    .map(|q| format!(" in {q}"))
                    .unwrap_or_default()
            ));
        };
        let Some(to) = ctx.lead.email.as_deref() else {
            return Err("the lead gave no email address".into());
        };
        let Ok(to_addr) = to.parse::<lettre::Address>() else {
            return Err(format!("the lead's email address {to:?} is not valid"));
        };
        let configured: lettre::message::Mailbox = email_cfg
            .from
            .parse()
            .map_err(|e| format!("notify.email.from is not a mailbox: {e}"))?;
        let rep_addr = rep
            .email
            .as_deref()
            .and_then(|a| a.parse::<lettre::Address>().ok());
        let rep_name = one_line(&rep.name);
        let (from, reply_to) = match (email_cfg.confirmation_sender, rep_addr) {
            (ConfirmationSender::RepAddress, Some(a)) => {
                (lettre::message::Mailbox::new(Some(rep_name), a), None)
            }
            (_, rep_addr) => (
                lettre::message::Mailbox::new(Some(rep_name), configured.email),
                rep_addr.map(|a| {
                    lettre::message::Mailbox::new(Some(one_line(&rep.name)), a).to_string()
                }),
            ),
        };
        let mut scratch = Rendered::default();
        let tctx = self.template_context(ctx);
        let subject = self.render(TemplateName::LeadConfirmationSubject, &tctx, &mut scratch);
        let text = self.render(TemplateName::LeadConfirmationBody, &tctx, &mut scratch);
        let to_box = lettre::message::Mailbox::new(
            Some(one_line(&ctx.lead_name())).filter(|n| !n.contains('@')),
            to_addr,
        );
        Ok(email(
            ctx,
            Kind::LeadConfirmation,
            EmailPayload {
                from: from.to_string(),
                reply_to,
                to: to_box.to_string(),
                subject: clean_subject(&subject),
                text,
                html: None,
            },
        ))
    }

    /// SLA-2: the lead was not touched within `multiple` × the SLA. `multiple` 1 alerts the
    /// manager ([`Kind::ManagerAlert`]); 3 or more is a leadership alert
    /// ([`Kind::LeadershipAlert`]) — call once per leadership member. Channels come from
    /// `[notify.alerts].channels`.
    pub fn manager_alert(&self, ctx: &NotifyContext, manager: &Contact, multiple: u32) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        let kind = if multiple >= 3 {
            Kind::LeadershipAlert
        } else {
            Kind::ManagerAlert
        };
        let mut tctx = self.template_context(ctx);
        let overdue =
            ctx.decision.sla.contact_within * i32::try_from(multiple.max(1)).unwrap_or(i32::MAX);
        tctx["multiple"] = json!(multiple);
        tctx["leadership"] = json!(multiple >= 3);
        tctx["overdue"] = json!(human_duration(overdue));
        tctx["manager"] = json!({
            "id": manager.id,
            "name": manager.name,
            "first_name": first_name(&manager.name),
            "email": manager.email,
            "phone": manager.phone,
            "slack": manager.slack,
            "slack_id": manager.slack.as_deref().and_then(slack_member_id),
        });
        strip_nulls(&mut tctx);
        for channel in &self.cfg.alerts.channels {
            match channel {
                ChannelKind::Slack => match self.slack_key_for_alerts(ctx.decision.team.as_deref())
                {
                    None => out.skip(
                        "slack",
                        kind,
                        Some(&manager.id),
                        "no Slack webhook configured ([notify.slack])",
                    ),
                    Some(key) => {
                        let text = self.render(TemplateName::AlertSlackText, &tctx, &mut out);
                        let mut b = Blocks::default();
                        b.header(&format!(
                            "SLA missed {multiple}x: {}{}",
                            ctx.lead_name(),
                            ctx.company().map(|c| format!(", {c}")).unwrap_or_default()
                        ));
                        b.section(&text);
                        b.fields(&[
                            (
                                "Owner",
                                mrkdwn_escape(
                                    ctx.rep
                                        .as_ref()
                                        .map(|r| r.name.as_str())
                                        .unwrap_or("unassigned"),
                                ),
                            ),
                            ("Tier", tier_label(ctx.decision.tier)),
                            ("SLA", human_duration(ctx.decision.sla.contact_within)),
                            ("Since assignment", human_duration(overdue)),
                        ]);
                        b.buttons(&[Button {
                            text: "Open record",
                            url: &ctx.record_url,
                            action_id: "open_record",
                            primary: true,
                        }]);
                        let payload = b.into_payload(&format!(
                            "SLA missed {multiple}x: {} ({})",
                            ctx.lead_name(),
                            manager.name
                        ));
                        out.messages.push(Outgoing {
                            channel: Channel::Slack,
                            recipient: key,
                            kind,
                            lead_id: ctx.lead_id.clone(),
                            payload,
                        });
                    }
                },
                ChannelKind::Email => {
                    let Some(email_cfg) = &self.cfg.email else {
                        out.skip(
                            "email",
                            kind,
                            Some(&manager.id),
                            "email is not configured ([notify.email])",
                        );
                        continue;
                    };
                    let Some(to) = manager
                        .email
                        .as_deref()
                        .filter(|a| a.parse::<lettre::Address>().is_ok())
                    else {
                        out.skip(
                            "email",
                            kind,
                            Some(&manager.id),
                            format!("{} has no valid email address", manager.id),
                        );
                        continue;
                    };
                    let subject = self.render(TemplateName::AlertEmailSubject, &tctx, &mut out);
                    let text = self.render(TemplateName::AlertEmailBody, &tctx, &mut out);
                    out.messages.push(email(
                        ctx,
                        kind,
                        EmailPayload {
                            from: email_cfg.from.clone(),
                            reply_to: None,
                            to: to.to_string(),
                            subject: clean_subject(&subject),
                            text,
                            html: None,
                        },
                    ));
                }
                ChannelKind::Sms => {
                    if self.cfg.sms.is_none() {
                        out.skip(
                            "sms",
                            kind,
                            Some(&manager.id),
                            "SMS is not configured ([notify.sms])",
                        );
                        continue;
                    }
                    let Some(phone) = manager.phone.as_deref() else {
                        out.skip(
                            "sms",
                            kind,
                            Some(&manager.id),
                            format!("{} has no phone number", manager.id),
                        );
                        continue;
                    };
                    let body = self.render(TemplateName::AlertSmsBody, &tctx, &mut out);
                    out.messages.push(sms(ctx, kind, phone, &body));
                }
            }
        }
        out
    }

    /// SLA-3: a lead has sat in `queue` (or unassigned) for `age`. Goes to the
    /// `[notify.alerts]` queue recipients.
    pub fn queue_alert(&self, ctx: &NotifyContext, queue: &str, age: SignedDuration) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        let kind = Kind::QueueAlert;
        let mut tctx = self.template_context(ctx);
        tctx["queue"] = json!(queue);
        tctx["age"] = json!(human_duration(age));
        for channel in &self.cfg.alerts.queue_channels {
            match channel {
                ChannelKind::Slack => match self.slack_key_for_alerts(None) {
                    None => out.skip(
                        "slack",
                        kind,
                        None,
                        "no Slack webhook configured ([notify.slack])",
                    ),
                    Some(key) => {
                        let text = self.render(TemplateName::QueueAlertSlackText, &tctx, &mut out);
                        let mut b = Blocks::default();
                        b.header(&format!("Lead waiting {} in {queue}", human_duration(age)));
                        b.section(&text);
                        b.context(&[format!("Reason: {}", mrkdwn_escape(&ctx.decision.reason))]);
                        b.buttons(&[Button {
                            text: "Open record",
                            url: &ctx.record_url,
                            action_id: "open_record",
                            primary: true,
                        }]);
                        let payload = b.into_payload(&format!(
                            "Lead waiting {} in {queue}: {}",
                            human_duration(age),
                            ctx.lead_name()
                        ));
                        out.messages.push(Outgoing {
                            channel: Channel::Slack,
                            recipient: key,
                            kind,
                            lead_id: ctx.lead_id.clone(),
                            payload,
                        });
                    }
                },
                ChannelKind::Email => {
                    let Some(email_cfg) = &self.cfg.email else {
                        out.skip(
                            "email",
                            kind,
                            None,
                            "email is not configured ([notify.email])",
                        );
                        continue;
                    };
                    if self.cfg.alerts.queue_email.is_empty() {
                        out.skip(
                            "email",
                            kind,
                            None,
                            "no queue alert recipients (notify.alerts.queue_email)",
                        );
                    }
                    let subject = self.render(TemplateName::QueueAlertSubject, &tctx, &mut out);
                    let text = self.render(TemplateName::QueueAlertBody, &tctx, &mut out);
                    for to in &self.cfg.alerts.queue_email {
                        out.messages.push(email(
                            ctx,
                            kind,
                            EmailPayload {
                                from: email_cfg.from.clone(),
                                reply_to: None,
                                to: to.clone(),
                                subject: clean_subject(&subject),
                                text: text.clone(),
                                html: None,
                            },
                        ));
                    }
                }
                ChannelKind::Sms => {
                    if self.cfg.sms.is_none() {
                        out.skip("sms", kind, None, "SMS is not configured ([notify.sms])");
                        continue;
                    }
                    let body = format!(
                        "Lead waiting {} in {queue}: {}. {}",
                        human_duration(age),
                        ctx.lead_name(),
                        ctx.record_url
                    );
                    for phone in &self.cfg.alerts.queue_sms {
                        out.messages.push(sms(ctx, kind, phone, &body));
                    }
                }
            }
        }
        out
    }

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
                "company": ctx.company(),
                "employees": ctx.employees(),
                "industry": ctx.industry(),
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

/// A made-up hot lead, used to trial-render template overrides at config load and in
/// docs/tests.
pub fn sample_context() -> NotifyContext {
    use leadrouter_core::config::Intent;
    use leadrouter_core::trace::{Owner, Sla};
    let at: Timestamp = "2026-03-02T15:00:00Z".parse().expect("valid timestamp");
    NotifyContext {
        lead_id: "L-1001".into(),
        lead: Lead {
            first_name: Some("Jane".into()),
            last_name: Some("Doe".into()),
            email: Some("jane.doe@acme.example".into()),
            company: Some("Acme Corp".into()),
            title: Some("VP Operations".into()),
            phone: Some("+14155550123".into()),
            country: Some("US".into()),
            action: Some("demo_request".into()),
            ..Lead::default()
        },
        decision: Decision {
            owner: Some(Owner {
                id: "alex".into(),
                name: "Alex Kim".into(),
            }),
            queue: None,
            path: RoutePath::Territory,
            rule: Some("amer-ent-software".into()),
            team: Some("amer-enterprise".into()),
            account: None,
            segment: Some("enterprise".into()),
            tier: Tier::Hot,
            score: 85,
            intent: Intent::High,
            icp_fit: true,
            sla: Sla {
                route_by: at + SignedDuration::from_mins(5),
                contact_by: Some(at + SignedDuration::from_mins(5)),
                route_within: SignedDuration::from_mins(5),
                contact_within: SignedDuration::from_mins(5),
            },
            reason: "territory rule amer-ent-software → team amer-enterprise".into(),
            flags: Vec::new(),
            notes: Vec::new(),
            config_version: "sample".into(),
            decided_at: at,
        },
        reason_lines: vec![
            "territory rule amer-ent-software → team amer-enterprise".into(),
            "score 85 (demo_request +30, enterprise +25); ICP fit yes".into(),
        ],
        rep: Some(RepContact {
            id: "alex".into(),
            name: "Alex Kim".into(),
            email: Some("alex@northwind.example".into()),
            phone: Some("+14155550100".into()),
            slack: Some("U024BE7LH".into()),
            booking_link: Some("https://cal.example/alex".into()),
            signature: Some("Alex Kim\nAccount Executive, Northwind".into()),
            linkedin: Some("https://www.linkedin.com/in/alexkim".into()),
            time_zone: Some("America/Los_Angeles".into()),
        }),
        firmographics: Firmographics {
            company: Some("Acme Corp".into()),
            employees: Some(1200),
            industry: Some("Software".into()),
            linkedin: Some("https://www.linkedin.com/in/janedoe".into()),
        },
        record_url: "https://leadrouter.example/leads/L-1001".into(),
        accept_url: Some("https://leadrouter.example/l/accept-token".into()),
        contacted_url: Some("https://leadrouter.example/l/contacted-token".into()),
    }
}

/// Every template variable any template can see, filled from [`sample_context`].
pub(crate) fn sample_template_context() -> Value {
    let cfg = NotifyConfig {
        enabled: true,
        onboarding_url: Some("https://app.example/welcome".into()),
        ..NotifyConfig::default()
    };
    let r = Renderer {
        templates: Templates::empty(),
        cfg,
    };
    let mut v = r.template_context(&sample_context());
    v["reassigned"] = json!(false);
    v["previous_owner"] = json!("Sam Lee");
    v["multiple"] = json!(1);
    v["leadership"] = json!(false);
    v["overdue"] = json!("5 min");
    v["manager"] = json!({"id": "mgr", "name": "Morgan Diaz", "first_name": "Morgan", "email": "morgan@northwind.example", "slack_id": "U0MGR12345"});
    v["queue"] = json!("review");
    v["age"] = json!("17 min");
    v["asset_url"] = json!("https://example.com/guide.pdf");
    v
}
