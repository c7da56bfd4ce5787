//! The resolved `[notify]` settings: what the renderer, the delivery client and the link
//! signer read. Built only by [`NotifyConfig::parse`] (raw.rs → resolve.rs), so every value
//! here has been checked.

use super::Origins;
use jiff::SignedDuration;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A person-facing channel (webhooks are subscribed by event, not chosen per tier).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Slack,
    Email,
    Sms,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [ChannelKind::Slack, ChannelKind::Email, ChannelKind::Sms];

    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Outbound webhook event types (NTF-4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum EventType {
    /// A rep owns the lead (new assignment).
    #[serde(rename = "lead.assigned")]
    LeadAssigned,
    /// The lead went to a queue (junk, review, nurture, qualification, catch-all…).
    #[serde(rename = "lead.queued")]
    LeadQueued,
    /// The owner changed after the first decision (SLA-2 2×, manual, roster change).
    #[serde(rename = "lead.reassigned")]
    LeadReassigned,
    /// The SLA was missed (1× manager, 3× leadership).
    #[serde(rename = "lead.sla_escalated")]
    LeadSlaEscalated,
    /// The rep accepted the lead (SLA-1).
    #[serde(rename = "lead.accepted")]
    LeadAccepted,
    /// The rep recorded first touch (SLA-1).
    #[serde(rename = "lead.contacted")]
    LeadContacted,
    /// A lead sat unassigned or in a queue too long (SLA-3).
    #[serde(rename = "lead.unattended")]
    LeadUnattended,
    /// The lead booked a meeting with the rep (issue 22; see `crate::invite`).
    #[serde(rename = "meeting.booked")]
    MeetingBooked,
    /// A booked meeting moved to another time (same UID, next SEQUENCE).
    #[serde(rename = "meeting.rescheduled")]
    MeetingRescheduled,
    /// A booked meeting was cancelled.
    #[serde(rename = "meeting.cancelled")]
    MeetingCancelled,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::LeadAssigned,
        EventType::LeadQueued,
        EventType::LeadReassigned,
        EventType::LeadSlaEscalated,
        EventType::LeadAccepted,
        EventType::LeadContacted,
        EventType::LeadUnattended,
        EventType::MeetingBooked,
        EventType::MeetingRescheduled,
        EventType::MeetingCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadAssigned => "lead.assigned",
            EventType::LeadQueued => "lead.queued",
            EventType::LeadReassigned => "lead.reassigned",
            EventType::LeadSlaEscalated => "lead.sla_escalated",
            EventType::LeadAccepted => "lead.accepted",
            EventType::LeadContacted => "lead.contacted",
            EventType::LeadUnattended => "lead.unattended",
            EventType::MeetingBooked => "meeting.booked",
            EventType::MeetingRescheduled => "meeting.rescheduled",
            EventType::MeetingCancelled => "meeting.cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The templates that `[notify.templates]` may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateName {
    RepEmailSubject,
    RepEmailBody,
    SlackText,
    SmsBody,
    LeadConfirmationSubject,
    LeadConfirmationBody,
    AlertEmailSubject,
    AlertEmailBody,
    AlertSlackText,
    AlertSmsBody,
    QueueAlertSubject,
    QueueAlertBody,
    QueueAlertSlackText,
}

impl TemplateName {
    pub const ALL: [TemplateName; 13] = [
        TemplateName::RepEmailSubject,
        TemplateName::RepEmailBody,
        TemplateName::SlackText,
        TemplateName::SmsBody,
        TemplateName::LeadConfirmationSubject,
        TemplateName::LeadConfirmationBody,
        TemplateName::AlertEmailSubject,
        TemplateName::AlertEmailBody,
        TemplateName::AlertSlackText,
        TemplateName::AlertSmsBody,
        TemplateName::QueueAlertSubject,
        TemplateName::QueueAlertBody,
        TemplateName::QueueAlertSlackText,
    ];

    pub fn key(self) -> &'static str {
        match self {
            TemplateName::RepEmailSubject => "rep_email_subject",
            TemplateName::RepEmailBody => "rep_email_body",
            TemplateName::SlackText => "slack_text",
            TemplateName::SmsBody => "sms_body",
            TemplateName::LeadConfirmationSubject => "lead_confirmation_subject",
            TemplateName::LeadConfirmationBody => "lead_confirmation_body",
            TemplateName::AlertEmailSubject => "alert_email_subject",
            TemplateName::AlertEmailBody => "alert_email_body",
            TemplateName::AlertSlackText => "alert_slack_text",
            TemplateName::AlertSmsBody => "alert_sms_body",
            TemplateName::QueueAlertSubject => "queue_alert_subject",
            TemplateName::QueueAlertBody => "queue_alert_body",
            TemplateName::QueueAlertSlackText => "queue_alert_slack_text",
        }
    }

    pub fn parse(s: &str) -> Option<TemplateName> {
        TemplateName::ALL.into_iter().find(|t| t.key() == s)
    }

    /// Slack templates produce mrkdwn: values are escaped for Slack, literals are not.
    pub fn is_slack(self) -> bool {
        matches!(
            self,
            TemplateName::SlackText
                | TemplateName::AlertSlackText
                | TemplateName::QueueAlertSlackText
        )
    }
}

/// Which person-facing channels a tier uses (NTF-1). `None` = not overridden here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierChannels {
    pub hot: Option<Vec<ChannelKind>>,
    pub warm: Option<Vec<ChannelKind>>,
    pub standard: Option<Vec<ChannelKind>>,
}

impl TierChannels {
    pub fn get(&self, tier: leadrouter_core::config::Tier) -> Option<&[ChannelKind]> {
        use leadrouter_core::config::Tier;
        match tier {
            Tier::Hot => self.hot.as_deref(),
            Tier::Warm => self.warm.as_deref(),
            Tier::Standard => self.standard.as_deref(),
        }
    }
}

/// `[notify.channels]`: per tier, overridable per team and per rep (rep wins over team).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPolicy {
    pub tiers: TierChannels,
    pub teams: BTreeMap<String, TierChannels>,
    pub reps: BTreeMap<String, TierChannels>,
}

impl Default for ChannelPolicy {
    fn default() -> Self {
        use ChannelKind::*;
        ChannelPolicy {
            tiers: TierChannels {
                hot: Some(vec![Slack, Email, Sms]),
                warm: Some(vec![Slack, Email]),
                standard: Some(vec![Email]),
            },
            teams: BTreeMap::new(),
            reps: BTreeMap::new(),
        }
    }
}

impl ChannelPolicy {
    /// The channels for a lead of `tier` owned by `rep` in `team`.
    pub fn channels(
        &self,
        tier: leadrouter_core::config::Tier,
        team: Option<&str>,
        rep: Option<&str>,
    ) -> &[ChannelKind] {
        rep.and_then(|r| self.reps.get(r))
            .and_then(|t| t.get(tier))
            .or_else(|| {
                team.and_then(|t| self.teams.get(t))
                    .and_then(|t| t.get(tier))
            })
            .or_else(|| self.tiers.get(tier))
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlackConfig {
    /// Env var holding the incoming-webhook URL used when no team webhook matches.
    pub default_webhook_env: Option<String>,
    /// Team id → env var holding that team's incoming-webhook URL.
    pub team_webhooks_env: BTreeMap<String, String>,
    /// Env var for escalation and queue alerts; defaults to the team, then the default.
    pub alerts_webhook_env: Option<String>,
}

/// How the lead confirmation (NTF-3) names its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfirmationSender {
    /// `From: "<rep name>" <address from notify.email.from>`, `Reply-To: <rep email>`.
    /// Deliverable without SPF/DKIM for each rep's address.
    #[default]
    RepName,
    /// `From: "<rep name>" <rep email>`: only when your SPF/DKIM covers the reps' domain.
    RepAddress,
}

/// `[notify.email] lead_confirmation`: which prospects are mailed a confirmation
/// (NTF-3). Off by default, so turning email on for reps never mails prospects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LeadConfirmation {
    #[default]
    Off,
    /// Leads whose action is one of these (normalised tokens, e.g. `demo_request`).
    Actions(Vec<String>),
    /// `true`: every assigned lead, whatever its action.
    All,
}

impl LeadConfirmation {
    /// Why a lead with this action gets no confirmation, if it gets none.
    pub fn off_for(&self, action: Option<&str>) -> Option<String> {
        match self {
            LeadConfirmation::All => None,
            LeadConfirmation::Off => Some(
                "lead confirmations are off (notify.email.lead_confirmation lists no action)"
                    .into(),
            ),
            LeadConfirmation::Actions(list) => {
                let a = action.map(leadrouter_core::normalize::token);
                match a {
                    Some(a) if list.contains(&a) => None,
                    Some(a) => Some(format!(
                        "no confirmation for action {a} (notify.email.lead_confirmation = [{}])",
                        list.join(", ")
                    )),
                    None => Some(
                        "the lead has no action; notify.email.lead_confirmation names actions"
                            .into(),
                    ),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub smtp_url_env: String,
    /// `Name <address>` or a bare address; validated as an RFC 5322 mailbox.
    pub from: String,
    /// Which leads get the NTF-3 confirmation email: none unless the admin turns it on.
    pub lead_confirmation: LeadConfirmation,
    pub confirmation_sender: ConfirmationSender,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// Twilio-compatible Messages endpoint; `{account}` is replaced by the account id.
    pub api_url: String,
    pub account_env: String,
    pub token_env: String,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    /// Env var holding the Standard Webhooks secret (`whsec_<base64>`).
    pub secret_env: String,
    /// Allow loopback/private/link-local targets (default false).
    pub allow_private: bool,
    pub events: Vec<EventType>,
}

/// `[notify.alerts]`: escalations (SLA-2) and stale-queue alerts (SLA-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertConfig {
    /// Channels for manager (1×) and leadership (3×) alerts.
    pub channels: Vec<ChannelKind>,
    /// Channels for queue alerts.
    pub queue_channels: Vec<ChannelKind>,
    /// Email recipients of queue alerts (ops / RevOps).
    pub queue_email: Vec<String>,
    /// Phone numbers for queue alerts by SMS.
    pub queue_sms: Vec<String>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            channels: vec![ChannelKind::Slack, ChannelKind::Email],
            queue_channels: vec![ChannelKind::Slack, ChannelKind::Email],
            queue_email: Vec::new(),
            queue_sms: Vec::new(),
        }
    }
}

/// `[notify.weekly_report]`: when the weekly report (MET-2) is emailed to the managers
/// and sales leadership. Sent only when `[notify.email]` is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyReportConfig {
    pub enabled: bool,
    pub day: jiff::civil::Weekday,
    pub time: jiff::civil::Time,
    /// IANA zone of `day`/`time`; `None` = the organization's time zone.
    pub timezone: Option<String>,
    /// Extra recipients besides the managers and leadership in the config.
    pub to: Vec<String>,
    /// A send time that passed while no instance was running is still sent when one
    /// starts within this long after it (default 12 h); older ones are left to
    /// `POST /v1/reports/weekly/send`.
    pub catch_up: SignedDuration,
}

impl Default for WeeklyReportConfig {
    fn default() -> Self {
        WeeklyReportConfig {
            enabled: true,
            day: jiff::civil::Weekday::Monday,
            time: jiff::civil::Time::constant(8, 0, 0, 0),
            timezone: None,
            to: Vec::new(),
            catch_up: SignedDuration::from_hours(12),
        }
    }
}

/// The parsed `[notify]` table. `NotifyConfig::default()` (no table) notifies nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Whether a `[notify]` table was present at all.
    pub enabled: bool,
    /// Base of record and action links, without a trailing slash.
    pub base_url: String,
    /// Env var holding the HMAC key for accept/contacted links; none = no action links.
    pub link_secret_env: Option<String>,
    /// How long accept/contacted links stay valid (default 7 days).
    pub link_ttl: SignedDuration,
    /// Record link path under `base_url`; `{lead_id}` is replaced. The default is the
    /// console's lead page, so "Open record" works without configuring anything.
    pub record_path: String,
    /// Action link path under `base_url`; `{token}` is replaced.
    pub link_path: String,
    /// Per-delivery timeout (default 10 s).
    pub timeout: Duration,
    /// trial_signup confirmations link here (NTF-3).
    pub onboarding_url: Option<String>,
    pub slack: Option<SlackConfig>,
    pub email: Option<EmailConfig>,
    pub sms: Option<SmsConfig>,
    pub webhooks: Vec<WebhookConfig>,
    pub channels: ChannelPolicy,
    pub alerts: AlertConfig,
    pub weekly_report: WeeklyReportConfig,
    /// Template overrides, already checked to compile and render.
    pub templates: BTreeMap<TemplateName, String>,
    /// Asset URLs for content_download confirmations, by the lead's `asset` field, product
    /// or action (first hit wins).
    pub assets: BTreeMap<String, String>,
    /// Where each key was written, so that problems found later (a secret missing from
    /// the environment) still point at the config's line.
    pub origins: Origins,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_LINK_TTL: SignedDuration = SignedDuration::from_hours(24 * 7);

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            enabled: false,
            base_url: "http://127.0.0.1:8080".into(),
            link_secret_env: None,
            link_ttl: DEFAULT_LINK_TTL,
            record_path: "/console/leads/{lead_id}".into(),
            link_path: "/l/{token}".into(),
            timeout: DEFAULT_TIMEOUT,
            onboarding_url: None,
            slack: None,
            email: None,
            sms: None,
            webhooks: Vec::new(),
            channels: ChannelPolicy::default(),
            alerts: AlertConfig::default(),
            weekly_report: WeeklyReportConfig::default(),
            templates: BTreeMap::new(),
            assets: BTreeMap::new(),
            origins: Origins::default(),
        }
    }
}

impl NotifyConfig {
    /// The webhooks subscribed to `event`.
    pub fn webhooks_for(&self, event: EventType) -> impl Iterator<Item = &WebhookConfig> {
        self.webhooks
            .iter()
            .filter(move |w| w.events.contains(&event))
    }
}
