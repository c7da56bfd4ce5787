//! The `[notify]` table of the routing config, parsed from an already-read TOML table.
//!
//! Parsing walks the table by hand rather than through serde so that every error can name
//! the full key (`notify.webhook[1].url`), the value found and the fix, and so that all
//! problems are reported at once. Secrets are never read here: the config only names the
//! environment variables that hold them; [`crate::Notifier::new`] and
//! [`crate::LinkSigner::new`] resolve them. Template overrides are compiled and trial-rendered
//! here, so a broken template fails the config check, not the first hot lead.

use jiff::SignedDuration;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use toml::{Table, Value};

/// One problem in the `[notify]` table: which key, what was there, what is wrong, how to
/// fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} = {value}: {problem}; fix: {fix}")]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub problem: String,
    pub fix: String,
}

impl ConfigError {
    pub fn new(
        key: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        ConfigError {
            key: key.into(),
            value: value.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Every problem found, in table order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

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
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::LeadAssigned,
        EventType::LeadQueued,
        EventType::LeadReassigned,
        EventType::LeadSlaEscalated,
        EventType::LeadAccepted,
        EventType::LeadContacted,
        EventType::LeadUnattended,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub smtp_url_env: String,
    /// `Name <address>` or a bare address; validated as an RFC 5322 mailbox.
    pub from: String,
    /// Send NTF-3 confirmations to leads (default true).
    pub lead_confirmation: bool,
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

fn weekday(s: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match s.to_ascii_lowercase().as_str() {
        "monday" | "mon" => Monday,
        "tuesday" | "tue" => Tuesday,
        "wednesday" | "wed" => Wednesday,
        "thursday" | "thu" => Thursday,
        "friday" | "fri" => Friday,
        "saturday" | "sat" => Saturday,
        "sunday" | "sun" => Sunday,
        _ => return None,
    })
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
    /// Record link path under `base_url`; `{lead_id}` is replaced.
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
            record_path: "/leads/{lead_id}".into(),
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
        }
    }
}

impl NotifyConfig {
    /// Parse the `[notify]` table (`None` when the config has none: notifications off).
    pub fn parse(table: Option<&Table>) -> Result<NotifyConfig, ConfigErrors> {
        let Some(table) = table else {
            return Ok(NotifyConfig::default());
        };
        let mut errs = Vec::new();
        let cfg = parse_notify(table, &mut errs);
        if errs.is_empty() {
            // Templates are compiled and trial-rendered against a sample lead.
            if let Err(e) = crate::templates::Templates::new(&cfg.templates) {
                errs.extend(e.0);
            }
        }
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(errs))
        }
    }

    /// The webhooks subscribed to `event`.
    pub fn webhooks_for(&self, event: EventType) -> impl Iterator<Item = &WebhookConfig> {
        self.webhooks
            .iter()
            .filter(move |w| w.events.contains(&event))
    }
}

// ---------------------------------------------------------------------------------------
// Table walking.

struct Section<'a> {
    path: String,
    table: &'a Table,
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

impl<'a> Section<'a> {
    fn new(path: impl Into<String>, table: &'a Table) -> Self {
        Section {
            path: path.into(),
            table,
        }
    }

    fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.path)
    }

    /// Report keys not in `allowed`, with a spelling suggestion.
    fn only(&self, allowed: &[&str], errs: &mut Vec<ConfigError>) {
        for (k, v) in self.table {
            if !allowed.contains(&k.as_str()) {
                let fix = match closest(k, allowed) {
                    Some(s) => format!("did you mean `{s}`? valid keys: {}", allowed.join(", ")),
                    None => format!("remove it; valid keys: {}", allowed.join(", ")),
                };
                errs.push(ConfigError::new(self.key(k), show(v), "unknown key", fix));
            }
        }
    }

    fn string(&self, k: &str, errs: &mut Vec<ConfigError>, example: &str) -> Option<String> {
        match self.table.get(k) {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(v) => {
                errs.push(ConfigError::new(
                    self.key(k),
                    show(v),
                    format!("expected a non-empty string, found {}", type_name(v)),
                    format!("write {k} = {example}"),
                ));
                None
            }
        }
    }

    fn required(&self, k: &str, errs: &mut Vec<ConfigError>, example: &str) -> Option<String> {
        if !self.table.contains_key(k) {
            errs.push(ConfigError::new(
                self.key(k),
                "(missing)",
                "required",
                format!("add {k} = {example} to [{}]", self.path),
            ));
            return None;
        }
        self.string(k, errs, example)
    }

    fn boolean(&self, k: &str, default: bool, errs: &mut Vec<ConfigError>) -> bool {
        match self.table.get(k) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(v) => {
                errs.push(ConfigError::new(
                    self.key(k),
                    show(v),
                    format!("expected true or false, found {}", type_name(v)),
                    format!("write {k} = {default}"),
                ));
                default
            }
        }
    }

    fn number(&self, k: &str, errs: &mut Vec<ConfigError>, example: &str) -> Option<f64> {
        let v = self.table.get(k)?;
        let n = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(f) => *f,
            _ => f64::NAN,
        };
        if n.is_finite() && n > 0.0 {
            Some(n)
        } else {
            errs.push(ConfigError::new(
                self.key(k),
                show(v),
                "expected a positive number",
                format!("write {k} = {example}"),
            ));
            None
        }
    }

    fn strings(&self, k: &str, errs: &mut Vec<ConfigError>, example: &str) -> Option<Vec<String>> {
        let v = self.table.get(k)?;
        let bad = |errs: &mut Vec<ConfigError>| {
            errs.push(ConfigError::new(
                self.key(k),
                show(v),
                "expected an array of strings",
                format!("write {k} = {example}"),
            ));
        };
        let Value::Array(items) = v else {
            bad(errs);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                _ => {
                    bad(errs);
                    return None;
                }
            }
        }
        Some(out)
    }

    fn sub(&self, k: &str, errs: &mut Vec<ConfigError>) -> Option<Section<'a>> {
        match self.table.get(k) {
            None => None,
            Some(Value::Table(t)) => Some(Section::new(self.key(k), t)),
            Some(v) => {
                errs.push(ConfigError::new(
                    self.key(k),
                    show(v),
                    format!("expected a table, found {}", type_name(v)),
                    format!("write it as [{}]", self.key(k)),
                ));
                None
            }
        }
    }

    fn string_map(
        &self,
        k: &str,
        errs: &mut Vec<ConfigError>,
        example: &str,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(sec) = self.sub(k, errs) else {
            return out;
        };
        for (name, v) in sec.table {
            match v {
                Value::String(s) if !s.trim().is_empty() => {
                    out.insert(name.clone(), s.trim().to_string());
                }
                _ => errs.push(ConfigError::new(
                    sec.key(name),
                    show(v),
                    "expected a non-empty string",
                    format!("write {k} = {example}"),
                )),
            }
        }
        out
    }
}

/// The nearest valid key within edit distance 3, for "did you mean".
fn closest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// An http(s) URL with a host; returns the problem otherwise.
pub(crate) fn check_http_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL would be stored in plain text".into());
    }
    Ok(url)
}

fn env_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn env_key(
    sec: &Section<'_>,
    k: &str,
    required: bool,
    errs: &mut Vec<ConfigError>,
    example: &str,
) -> Option<String> {
    let v = if required {
        sec.required(k, errs, &format!("\"{example}\""))
    } else {
        sec.string(k, errs, &format!("\"{example}\""))
    }?;
    if env_name_ok(&v) {
        Some(v)
    } else {
        errs.push(ConfigError::new(
            sec.key(k),
            format!("\"{v}\""),
            "not an environment variable name (the config names the variable; the secret itself stays out of the file)",
            format!("write {k} = \"{example}\" and export {example}=…"),
        ));
        None
    }
}

fn channel_list(
    sec: &Section<'_>,
    k: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<Vec<ChannelKind>> {
    let items = sec.strings(k, errs, "[\"slack\", \"email\"]")?;
    let mut out = Vec::new();
    for item in items {
        match ChannelKind::parse(&item) {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => errs.push(ConfigError::new(
                sec.key(k),
                format!("\"{item}\""),
                "unknown channel",
                "use \"slack\", \"email\" or \"sms\" (webhooks are chosen by [[notify.webhook]] events)",
            )),
        }
    }
    Some(out)
}

fn tier_channels(sec: &Section<'_>, errs: &mut Vec<ConfigError>) -> TierChannels {
    TierChannels {
        hot: channel_list(sec, "hot", errs),
        warm: channel_list(sec, "warm", errs),
        standard: channel_list(sec, "standard", errs),
    }
}

fn parse_notify(table: &Table, errs: &mut Vec<ConfigError>) -> NotifyConfig {
    let root = Section::new("notify", table);
    root.only(
        &[
            "base_url",
            "link_secret_env",
            "link_ttl_hours",
            "record_path",
            "link_path",
            "timeout_secs",
            "onboarding_url",
            "slack",
            "email",
            "sms",
            "webhook",
            "channels",
            "alerts",
            "weekly_report",
            "templates",
            "assets",
        ],
        errs,
    );
    let mut cfg = NotifyConfig {
        enabled: true,
        ..NotifyConfig::default()
    };

    if let Some(base) = root.required("base_url", errs, "\"https://leadrouter.example.com\"") {
        match check_http_url(&base) {
            Ok(_) => cfg.base_url = base.trim_end_matches('/').to_string(),
            Err(p) => errs.push(ConfigError::new(
                "notify.base_url",
                format!("\"{base}\""),
                p,
                "write the public http(s) address of this service, e.g. \"https://leadrouter.example.com\"",
            )),
        }
    }
    cfg.link_secret_env = env_key(
        &root,
        "link_secret_env",
        false,
        errs,
        "LEADROUTER_LINK_SECRET",
    );
    if let Some(h) = root.number("link_ttl_hours", errs, "168") {
        cfg.link_ttl = SignedDuration::from_secs_f64(h * 3600.0);
    }
    if let Some(p) = root.string("record_path", errs, "\"/leads/{lead_id}\"") {
        if p.starts_with('/') && p.contains("{lead_id}") {
            cfg.record_path = p;
        } else {
            errs.push(ConfigError::new(
                "notify.record_path",
                format!("\"{p}\""),
                "must start with / and contain {lead_id}",
                "write record_path = \"/leads/{lead_id}\"",
            ));
        }
    }
    if let Some(p) = root.string("link_path", errs, "\"/l/{token}\"") {
        if p.starts_with('/') && p.contains("{token}") {
            cfg.link_path = p;
        } else {
            errs.push(ConfigError::new(
                "notify.link_path",
                format!("\"{p}\""),
                "must start with / and contain {token}",
                "write link_path = \"/l/{token}\"",
            ));
        }
    }
    if let Some(t) = root.number("timeout_secs", errs, "10") {
        if t <= 300.0 {
            cfg.timeout = Duration::from_secs_f64(t);
        } else {
            errs.push(ConfigError::new(
                "notify.timeout_secs",
                t.to_string(),
                "more than 300 s would hold an outbox claim for too long",
                "write timeout_secs = 10",
            ));
        }
    }
    if let Some(u) = root.string(
        "onboarding_url",
        errs,
        "\"https://app.example.com/welcome\"",
    ) {
        match check_http_url(&u) {
            Ok(_) => cfg.onboarding_url = Some(u),
            Err(p) => errs.push(ConfigError::new(
                "notify.onboarding_url",
                format!("\"{u}\""),
                p,
                "write an http(s) URL",
            )),
        }
    }

    if let Some(sec) = root.sub("slack", errs) {
        sec.only(
            &[
                "default_webhook_env",
                "team_webhooks_env",
                "alerts_webhook_env",
            ],
            errs,
        );
        let mut slack = SlackConfig {
            default_webhook_env: env_key(
                &sec,
                "default_webhook_env",
                false,
                errs,
                "SLACK_WEBHOOK_URL",
            ),
            alerts_webhook_env: env_key(
                &sec,
                "alerts_webhook_env",
                false,
                errs,
                "SLACK_WEBHOOK_ALERTS",
            ),
            team_webhooks_env: BTreeMap::new(),
        };
        for (team, env) in sec.string_map(
            "team_webhooks_env",
            errs,
            "{ \"team-id\" = \"SLACK_WEBHOOK_TEAM\" }",
        ) {
            if env_name_ok(&env) {
                slack.team_webhooks_env.insert(team, env);
            } else {
                errs.push(ConfigError::new(
                    format!("notify.slack.team_webhooks_env.{team}"),
                    format!("\"{env}\""),
                    "not an environment variable name",
                    "name the variable that holds the webhook URL, e.g. \"SLACK_WEBHOOK_AMER_ENT\"",
                ));
            }
        }
        if slack.default_webhook_env.is_none() && slack.team_webhooks_env.is_empty() {
            errs.push(ConfigError::new(
                "notify.slack",
                "{}",
                "no webhook configured",
                "add default_webhook_env = \"SLACK_WEBHOOK_URL\" or team_webhooks_env, or remove [notify.slack]",
            ));
        }
        cfg.slack = Some(slack);
    }

    if let Some(sec) = root.sub("email", errs) {
        sec.only(
            &[
                "smtp_url_env",
                "from",
                "lead_confirmation",
                "confirmation_sender",
            ],
            errs,
        );
        let smtp_url_env = env_key(&sec, "smtp_url_env", true, errs, "LEADROUTER_SMTP_URL");
        let from = sec.required("from", errs, "\"Sales <sales@example.com>\"");
        if let Some(f) = &from
            && f.parse::<lettre::message::Mailbox>().is_err()
        {
            errs.push(ConfigError::new(
                "notify.email.from",
                format!("\"{f}\""),
                "not a valid mailbox",
                "write from = \"Northwind Sales <sales@northwind.example>\"",
            ));
        }
        let confirmation_sender = match sec
            .string("confirmation_sender", errs, "\"rep_name\"")
            .as_deref()
        {
            None | Some("rep_name") => ConfirmationSender::RepName,
            Some("rep_address") => ConfirmationSender::RepAddress,
            Some(other) => {
                errs.push(ConfigError::new(
                    "notify.email.confirmation_sender",
                    format!("\"{other}\""),
                    "unknown sender mode",
                    "use \"rep_name\" (rep's name, our address, Reply-To the rep) or \"rep_address\" (the rep's own address; needs SPF/DKIM for it)",
                ));
                ConfirmationSender::RepName
            }
        };
        let lead_confirmation = sec.boolean("lead_confirmation", true, errs);
        if let (Some(smtp_url_env), Some(from)) = (smtp_url_env, from) {
            cfg.email = Some(EmailConfig {
                smtp_url_env,
                from,
                lead_confirmation,
                confirmation_sender,
            });
        }
    }

    if let Some(sec) = root.sub("sms", errs) {
        sec.only(&["api_url", "account_env", "token_env", "from"], errs);
        let api_url = sec.required(
            "api_url",
            errs,
            "\"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json\"",
        );
        if let Some(u) = &api_url
            && let Err(p) = check_http_url(&u.replace("{account}", "x"))
        {
            errs.push(ConfigError::new(
                "notify.sms.api_url",
                format!("\"{u}\""),
                p,
                "write the Messages endpoint, e.g. \"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json\"",
            ));
        }
        let account_env = env_key(&sec, "account_env", true, errs, "TWILIO_ACCOUNT_SID");
        let token_env = env_key(&sec, "token_env", true, errs, "TWILIO_AUTH_TOKEN");
        let from = sec.required("from", errs, "\"+15005550006\"");
        if let (Some(api_url), Some(account_env), Some(token_env), Some(from)) =
            (api_url, account_env, token_env, from)
        {
            cfg.sms = Some(SmsConfig {
                api_url,
                account_env,
                token_env,
                from,
            });
        }
    }

    match table.get("webhook") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("notify.webhook[{i}]");
                let Value::Table(t) = item else {
                    errs.push(ConfigError::new(
                        path,
                        show(item),
                        "expected a table",
                        "write each webhook as a [[notify.webhook]] table",
                    ));
                    continue;
                };
                if let Some(w) = parse_webhook(&Section::new(path, t), errs) {
                    if cfg.webhooks.iter().any(|o| o.name == w.name) {
                        errs.push(ConfigError::new(
                            format!("notify.webhook[{i}].name"),
                            format!("\"{}\"", w.name),
                            "duplicate webhook name",
                            "give every [[notify.webhook]] a distinct name",
                        ));
                    } else {
                        cfg.webhooks.push(w);
                    }
                }
            }
        }
        Some(v) => errs.push(ConfigError::new(
            "notify.webhook",
            show(v),
            "expected an array of tables",
            "write each webhook as a [[notify.webhook]] table",
        )),
    }

    let mut written_tiers = TierChannels::default();
    if let Some(sec) = root.sub("channels", errs) {
        sec.only(&["hot", "warm", "standard", "teams", "reps"], errs);
        written_tiers = tier_channels(&sec, errs);
        let d = ChannelPolicy::default().tiers;
        cfg.channels.tiers = TierChannels {
            hot: written_tiers.hot.clone().or(d.hot),
            warm: written_tiers.warm.clone().or(d.warm),
            standard: written_tiers.standard.clone().or(d.standard),
        };
        for group in ["teams", "reps"] {
            if let Some(g) = sec.sub(group, errs) {
                for (id, v) in g.table {
                    let Value::Table(t) = v else {
                        errs.push(ConfigError::new(
                            g.key(id),
                            show(v),
                            "expected a table",
                            format!("write [notify.channels.{group}.\"{id}\"] with hot/warm/standard lists"),
                        ));
                        continue;
                    };
                    let s = Section::new(g.key(id), t);
                    s.only(&["hot", "warm", "standard"], errs);
                    let tc = tier_channels(&s, errs);
                    if group == "teams" {
                        cfg.channels.teams.insert(id.clone(), tc);
                    } else {
                        cfg.channels.reps.insert(id.clone(), tc);
                    }
                }
            }
        }
    }

    if let Some(sec) = root.sub("alerts", errs) {
        sec.only(
            &["channels", "queue_channels", "queue_email", "queue_sms"],
            errs,
        );
        if let Some(c) = channel_list(&sec, "channels", errs) {
            cfg.alerts.channels = c;
        }
        if let Some(c) = channel_list(&sec, "queue_channels", errs) {
            cfg.alerts.queue_channels = c;
        }
        if let Some(list) = sec.strings("queue_email", errs, "[\"revops@example.com\"]") {
            for a in &list {
                if a.parse::<lettre::Address>().is_err() {
                    errs.push(ConfigError::new(
                        "notify.alerts.queue_email",
                        format!("\"{a}\""),
                        "not an email address",
                        "write addresses like \"revops@example.com\"",
                    ));
                }
            }
            cfg.alerts.queue_email = list;
        }
        if let Some(list) = sec.strings("queue_sms", errs, "[\"+15005550006\"]") {
            cfg.alerts.queue_sms = list;
        }
    }

    if let Some(sec) = root.sub("weekly_report", errs) {
        sec.only(
            &["enabled", "day", "time", "timezone", "to", "catch_up_hours"],
            errs,
        );
        let w = &mut cfg.weekly_report;
        w.enabled = sec.boolean("enabled", true, errs);
        if let Some(d) = sec.string("day", errs, "\"monday\"") {
            match weekday(&d) {
                Some(x) => w.day = x,
                None => errs.push(ConfigError::new(
                    "notify.weekly_report.day",
                    format!("\"{d}\""),
                    "not a day of the week",
                    "write day = \"monday\" (or tuesday … sunday)",
                )),
            }
        }
        if let Some(t) = sec.string("time", errs, "\"08:00\"") {
            match jiff::civil::Time::strptime("%H:%M", &t) {
                Ok(x) => w.time = x,
                Err(_) => errs.push(ConfigError::new(
                    "notify.weekly_report.time",
                    format!("\"{t}\""),
                    "not a time of day (HH:MM, 24-hour)",
                    "write time = \"08:00\"",
                )),
            }
        }
        if let Some(z) = sec.string("timezone", errs, "\"Europe/Berlin\"") {
            if jiff::tz::TimeZone::get(&z).is_ok() {
                w.timezone = Some(z);
            } else {
                errs.push(ConfigError::new(
                    "notify.weekly_report.timezone",
                    format!("\"{z}\""),
                    "unknown IANA time zone",
                    "write a zone like \"America/New_York\", or leave it out for organization.timezone",
                ));
            }
        }
        // 0 is allowed here (only send times passing while running), so not `number`.
        if let Some(v) = sec.table.get("catch_up_hours") {
            let h = match v {
                Value::Integer(i) => Some(*i as f64),
                Value::Float(f) => Some(*f),
                _ => None,
            };
            match h {
                Some(h) if (0.0..=24.0 * 6.0).contains(&h) => {
                    w.catch_up = SignedDuration::from_secs_f64(h * 3600.0);
                }
                _ => errs.push(ConfigError::new(
                    "notify.weekly_report.catch_up_hours",
                    show(v),
                    "expected a number of hours from 0 to 144 (six days)",
                    "write catch_up_hours = 12",
                )),
            }
        }
        if let Some(list) = sec.strings("to", errs, "[\"vp-sales@example.com\"]") {
            for a in &list {
                if a.parse::<lettre::Address>().is_err() {
                    errs.push(ConfigError::new(
                        "notify.weekly_report.to",
                        format!("\"{a}\""),
                        "not an email address",
                        "write addresses like \"vp-sales@example.com\"",
                    ));
                }
            }
            w.to = list;
        }
    }

    if let Some(sec) = root.sub("templates", errs) {
        for (k, v) in sec.table {
            let Some(name) = TemplateName::parse(k) else {
                let keys: Vec<&str> = TemplateName::ALL.iter().map(|t| t.key()).collect();
                errs.push(ConfigError::new(
                    sec.key(k),
                    show(v),
                    "unknown template",
                    match closest(k, &keys) {
                        Some(s) => format!("did you mean `{s}`? templates: {}", keys.join(", ")),
                        None => format!("templates: {}", keys.join(", ")),
                    },
                ));
                continue;
            };
            match v {
                Value::String(s) => {
                    cfg.templates.insert(name, s.clone());
                }
                _ => errs.push(ConfigError::new(
                    sec.key(k),
                    show(v),
                    format!("expected a string, found {}", type_name(v)),
                    format!("write {k} = \"\"\"…\"\"\" (a minijinja template)"),
                )),
            }
        }
    }

    for (k, u) in root.string_map(
        "assets",
        errs,
        "{ \"content_download\" = \"https://example.com/guide.pdf\" }",
    ) {
        match check_http_url(&u) {
            Ok(_) => {
                cfg.assets.insert(k, u);
            }
            Err(p) => errs.push(ConfigError::new(
                format!("notify.assets.{k}"),
                format!("\"{u}\""),
                p,
                "write an http(s) URL to the asset",
            )),
        }
    }

    // A channel written in a tier list without its section is a mistake; the built-in
    // defaults are not (unconfigured channels are skipped and reported when rendering).
    let mut explicit: Vec<ChannelKind> = Vec::new();
    let written = [&written_tiers]
        .into_iter()
        .chain(cfg.channels.teams.values())
        .chain(cfg.channels.reps.values());
    for tc in written {
        for list in [&tc.hot, &tc.warm, &tc.standard].into_iter().flatten() {
            for c in list {
                if !explicit.contains(c) {
                    explicit.push(*c);
                }
            }
        }
    }
    for c in explicit {
        let configured = match c {
            ChannelKind::Slack => cfg.slack.is_some(),
            ChannelKind::Email => cfg.email.is_some(),
            ChannelKind::Sms => cfg.sms.is_some(),
        };
        if !configured {
            errs.push(ConfigError::new(
                "notify.channels",
                format!("\"{}\"", c.name()),
                format!(
                    "channel {} is used but [notify.{}] is missing",
                    c.name(),
                    c.name()
                ),
                format!(
                    "add a [notify.{}] table or remove \"{}\" from the channel lists",
                    c.name(),
                    c.name()
                ),
            ));
        }
    }
    cfg
}

fn parse_webhook(sec: &Section<'_>, errs: &mut Vec<ConfigError>) -> Option<WebhookConfig> {
    sec.only(
        &["name", "url", "secret_env", "allow_private", "events"],
        errs,
    );
    let name = sec.required("name", errs, "\"crm\"");
    let url = sec.required("url", errs, "\"https://crm.example.com/hooks/leadrouter\"");
    if let Some(u) = &url
        && let Err(p) = check_http_url(u)
    {
        errs.push(ConfigError::new(
            sec.key("url"),
            format!("\"{u}\""),
            p,
            "write the receiver's http(s) URL",
        ));
    }
    let secret_env = env_key(sec, "secret_env", true, errs, "CRM_WEBHOOK_SECRET");
    let allow_private = sec.boolean("allow_private", false, errs);
    let events = match sec.strings("events", errs, "[\"lead.assigned\", \"lead.reassigned\"]") {
        None => EventType::ALL.to_vec(),
        Some(list) => {
            let mut out = Vec::new();
            for e in list {
                match EventType::parse(&e) {
                    Some(t) if !out.contains(&t) => out.push(t),
                    Some(_) => {}
                    None => {
                        let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                        errs.push(ConfigError::new(
                            sec.key("events"),
                            format!("\"{e}\""),
                            "unknown event type",
                            format!("use some of: {}", all.join(", ")),
                        ));
                    }
                }
            }
            out
        }
    };
    Some(WebhookConfig {
        name: name?,
        url: url?,
        secret_env: secret_env?,
        allow_private,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NotifyConfig, ConfigErrors> {
        let t: Table = toml::from_str(s).unwrap();
        NotifyConfig::parse(t.get("notify").and_then(Value::as_table))
    }

    #[test]
    fn no_table_means_off() {
        let c = NotifyConfig::parse(None).unwrap();
        assert!(!c.enabled);
        assert!(c.slack.is_none() && c.email.is_none() && c.sms.is_none());
    }

    #[test]
    fn full_example_parses() {
        let c = parse(
            r#"
[notify]
base_url = "http://127.0.0.1:8080/"
link_secret_env = "LEADROUTER_LINK_SECRET"
[notify.slack]
default_webhook_env = "SLACK_WEBHOOK_URL"
team_webhooks_env = { "amer-enterprise" = "SLACK_WEBHOOK_AMER_ENT" }
[notify.email]
smtp_url_env = "LEADROUTER_SMTP_URL"
from = "Northwind Sales <sales@northwind.example>"
[notify.sms]
api_url = "https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json"
account_env = "TWILIO_ACCOUNT_SID"
token_env = "TWILIO_AUTH_TOKEN"
from = "+15005550006"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com/hooks/leadrouter"
secret_env = "CRM_WEBHOOK_SECRET"
events = ["lead.assigned", "lead.reassigned", "lead.sla_escalated"]
[notify.channels]
hot = ["slack", "email", "sms"]
warm = ["slack", "email"]
standard = ["email"]
[notify.channels.teams."amer-enterprise"]
standard = ["slack", "email"]
[notify.templates]
sms_body = "Lead {{ lead.name }}"
"#,
        )
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.webhooks[0].events.len(), 3);
        assert!(!c.webhooks[0].allow_private);
        use leadrouter_core::config::Tier;
        assert_eq!(
            c.channels
                .channels(Tier::Standard, Some("amer-enterprise"), None),
            &[ChannelKind::Slack, ChannelKind::Email]
        );
        assert_eq!(
            c.channels.channels(Tier::Standard, Some("other"), None),
            &[ChannelKind::Email]
        );
        assert_eq!(c.templates[&TemplateName::SmsBody], "Lead {{ lead.name }}");
    }

    #[test]
    fn errors_name_key_value_and_fix() {
        let e = parse(
            r#"
[notify]
base_url = "ftp://x"
tmeout_secs = 3
[notify.email]
smtp_url_env = "smtp://user:pass@host"
from = "not a mailbox"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com"
secret_env = "CRM_SECRET"
events = ["lead.created"]
[notify.channels]
hot = ["pager"]
[notify.templates]
sms_body = "{{ lead.name"
"#,
        )
        .unwrap_err();
        let text = e.to_string();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"notify.base_url"), "{text}");
        assert!(
            text.contains("notify.tmeout_secs = 3: unknown key; fix: did you mean `timeout_secs`?"),
            "{text}"
        );
        assert!(keys.contains(&"notify.email.smtp_url_env"), "{text}");
        assert!(text.contains("export LEADROUTER_SMTP_URL"), "{text}");
        assert!(keys.contains(&"notify.email.from"), "{text}");
        assert!(
            text.contains("notify.webhook[0].events = \"lead.created\": unknown event type"),
            "{text}"
        );
        assert!(keys.contains(&"notify.channels.hot"), "{text}");
        // Template errors are reported only once the rest is valid.
        let e = parse(
            r#"
[notify]
base_url = "https://lr.example.com"
[notify.templates]
sms_body = "{{ lead.name"
"#,
        )
        .unwrap_err();
        assert_eq!(e.0[0].key, "notify.templates.sms_body", "{e}");
    }

    #[test]
    fn weekly_report_schedule_parses_and_rejects_bad_values() {
        let c = parse(
            r#"
[notify]
base_url = "https://lr.example.com"
"#,
        )
        .unwrap();
        assert_eq!(c.weekly_report, WeeklyReportConfig::default());
        assert_eq!(c.weekly_report.day, jiff::civil::Weekday::Monday);
        let c = parse(
            r#"
[notify]
base_url = "https://lr.example.com"
[notify.weekly_report]
day = "Fri"
time = "17:30"
timezone = "America/New_York"
to = ["vp@example.com"]
catch_up_hours = 0
"#,
        )
        .unwrap();
        let w = &c.weekly_report;
        assert!(w.enabled);
        assert_eq!(w.day, jiff::civil::Weekday::Friday);
        assert_eq!(w.time, jiff::civil::Time::constant(17, 30, 0, 0));
        assert_eq!(w.timezone.as_deref(), Some("America/New_York"));
        assert_eq!(w.to, ["vp@example.com"]);
        assert_eq!(w.catch_up, SignedDuration::ZERO);
        let e = parse(
            r#"
[notify]
base_url = "https://lr.example.com"
[notify.weekly_report]
day = "someday"
time = "8am"
timezone = "Mars/Olympus"
to = ["not an address"]
catch_up_hours = -1
sendd = true
"#,
        )
        .unwrap_err();
        let text = e.to_string();
        for key in ["day", "time", "timezone", "to", "catch_up_hours", "sendd"] {
            assert!(
                e.0.iter()
                    .any(|x| x.key == format!("notify.weekly_report.{key}")),
                "{key}: {text}"
            );
        }
        assert!(
            text.contains("\"someday\": not a day of the week"),
            "{text}"
        );
    }

    #[test]
    fn tier_channel_needs_its_section() {
        let e = parse(
            r#"
[notify]
base_url = "https://lr.example.com"
[notify.channels]
hot = ["sms"]
"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("[notify.sms] is missing"), "{e}");
    }
}
