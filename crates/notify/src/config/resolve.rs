//! The `[notify]` table resolved (phase 2 of 2): every value of the raw table checked and
//! turned into [`NotifyConfig`]. All problems are collected, each as the core's
//! [`ConfigError`] naming file:line, the full key (`notify.webhook[1].url`), the value and
//! the fix. The line of every key is also kept in [`NotifyConfig::origins`], so that
//! problems found later (a secret missing from the environment) point at the file too.

use super::raw::{
    RawConfirmation, RawEmail, RawNotify, RawSlack, RawSms, RawTierChannels, RawWebhook,
    RawWeeklyReport,
};
use super::types::*;
use super::{ConfigErrors, Origins, env_name_ok};
use jiff::SignedDuration;
use leadrouter_core::config::suggest::closest;
use leadrouter_core::config::{ConfigError, SourceText};
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// Resolve the raw `[notify]` table (`None`: notifications off). Template overrides are
/// compiled and trial-rendered once everything else is valid.
pub(crate) fn resolve(
    raw: Option<Spanned<RawNotify>>,
    src: &SourceText,
) -> Result<NotifyConfig, ConfigErrors> {
    let Some(raw) = raw else {
        return Ok(NotifyConfig::default());
    };
    let mut r = Resolver {
        src,
        errs: Vec::new(),
        origins: BTreeMap::new(),
        channel_lines: BTreeMap::new(),
    };
    let line = r.line_of(&raw);
    let mut cfg = r.notify(raw.get_ref(), line);
    cfg.origins = Origins {
        file: src.path.clone(),
        lines: std::mem::take(&mut r.origins),
    };
    if r.errs.is_empty()
        && let Err(e) = crate::templates::Templates::new(&cfg.templates)
    {
        return Err(cfg.located(e.0));
    }
    if r.errs.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigErrors(r.errs))
    }
}

pub(super) struct Resolver<'a> {
    pub(super) src: &'a SourceText,
    pub(super) errs: Vec<ConfigError>,
    pub(super) origins: BTreeMap<String, usize>,
    /// First line naming each channel in a tier list (`[notify.channels]`, a team's, a
    /// rep's), for the check that its section exists.
    pub(super) channel_lines: BTreeMap<ChannelKind, usize>,
}

/// Where a table was written, for the keys missing from it.
#[derive(Clone, Copy)]
pub(super) struct Table<'p> {
    pub(super) path: &'p str,
    pub(super) line: usize,
}

impl Resolver<'_> {
    fn notify(&mut self, raw: &RawNotify, line: usize) -> NotifyConfig {
        let root = Table {
            path: "notify",
            line,
        };
        let mut cfg = NotifyConfig {
            enabled: true,
            ..NotifyConfig::default()
        };
        if let Some(base) = self.required(root, "base_url", &raw.base_url, "\"https://leadrouter.example.com\"")
            && let Some(v) = &raw.base_url
            && self.url(
                "notify.base_url",
                v,
                &base,
                "write the public http(s) address of this service, e.g. \"https://leadrouter.example.com\"",
            )
        {
            cfg.base_url = base.trim_end_matches('/').to_string();
        }
        cfg.link_secret_env = self.env_key(
            root,
            "link_secret_env",
            &raw.link_secret_env,
            false,
            "LEADROUTER_LINK_SECRET",
        );
        if let Some(h) = self.positive(root, "link_ttl_hours", &raw.link_ttl_hours, "168") {
            cfg.link_ttl = SignedDuration::from_secs_f64(h * 3600.0);
        }
        if let Some(p) = self.string(
            root,
            "record_path",
            &raw.record_path,
            "\"/console/leads/{lead_id}\"",
        ) {
            if p.starts_with('/') && p.contains("{lead_id}") {
                cfg.record_path = p;
            } else {
                self.err_at(
                    "notify.record_path",
                    Some(&p),
                    "must start with / and contain {lead_id}",
                    "write record_path = \"/console/leads/{lead_id}\"",
                );
            }
        }
        if let Some(p) = self.string(root, "link_path", &raw.link_path, "\"/l/{token}\"") {
            if p.starts_with('/') && p.contains("{token}") {
                cfg.link_path = p;
            } else {
                self.err_at(
                    "notify.link_path",
                    Some(&p),
                    "must start with / and contain {token}",
                    "write link_path = \"/l/{token}\"",
                );
            }
        }
        if let Some(t) = self.positive(root, "timeout_secs", &raw.timeout_secs, "10") {
            if t <= 300.0 {
                cfg.timeout = Duration::from_secs_f64(t);
            } else {
                self.err_at(
                    "notify.timeout_secs",
                    Some(&t.to_string()),
                    "more than 300 s would hold an outbox claim for too long",
                    "write timeout_secs = 10",
                );
            }
        }
        if let Some(u) = self.string(
            root,
            "onboarding_url",
            &raw.onboarding_url,
            "\"https://app.example.com/welcome\"",
        ) && let Some(v) = &raw.onboarding_url
            && self.url("notify.onboarding_url", v, &u, "write an http(s) URL")
        {
            cfg.onboarding_url = Some(u);
        }
        if let Some(s) = &raw.slack {
            cfg.slack = Some(self.slack(s));
        }
        if let Some(e) = &raw.email {
            cfg.email = self.email(e);
        }
        if let Some(s) = &raw.sms {
            cfg.sms = self.sms(s);
        }
        for (i, w) in raw.webhook.iter().enumerate() {
            let path = format!("notify.webhook[{i}]");
            if let Some(w) = self.webhook(&path, w) {
                if cfg.webhooks.iter().any(|o| o.name == w.name) {
                    let key = format!("{path}.name");
                    self.err_at(
                        key,
                        Some(&w.name),
                        "duplicate webhook name",
                        "give every [[notify.webhook]] a distinct name",
                    );
                } else {
                    cfg.webhooks.push(w);
                }
            }
        }
        let written = self.channels(raw, &mut cfg);
        self.alerts(raw, &mut cfg);
        if let Some(w) = &raw.weekly_report {
            self.weekly_report(w, &mut cfg.weekly_report);
        }
        self.templates(raw, &mut cfg);
        for (k, u) in &raw.assets {
            let key = format!("notify.assets.{k}");
            let line = self.at(&key, u);
            let url = u.get_ref().trim();
            if url.is_empty() {
                self.err(
                    key,
                    line,
                    Some(""),
                    "must not be empty",
                    "write assets = { \"content_download\" = \"https://example.com/guide.pdf\" }",
                );
            } else if self.url(&key, u, url, "write an http(s) URL to the asset") {
                cfg.assets.insert(k.clone(), url.to_string());
            }
        }
        self.unconfigured_channels(&written, raw);
        cfg
    }

    fn slack(&mut self, raw: &Spanned<RawSlack>) -> SlackConfig {
        let line = self.at("notify.slack", raw);
        let t = Table {
            path: "notify.slack",
            line,
        };
        let s = raw.get_ref();
        let mut slack = SlackConfig {
            default_webhook_env: self.env_key(
                t,
                "default_webhook_env",
                &s.default_webhook_env,
                false,
                "SLACK_WEBHOOK_URL",
            ),
            alerts_webhook_env: self.env_key(
                t,
                "alerts_webhook_env",
                &s.alerts_webhook_env,
                false,
                "SLACK_WEBHOOK_ALERTS",
            ),
            team_webhooks_env: BTreeMap::new(),
        };
        for (team, env) in &s.team_webhooks_env {
            let key = format!("notify.slack.team_webhooks_env.{team}");
            let line = self.at(&key, env);
            let name = env.get_ref().trim();
            if env_name_ok(name) {
                slack
                    .team_webhooks_env
                    .insert(team.clone(), name.to_string());
            } else {
                self.err(
                    key,
                    line,
                    Some(name),
                    "not an environment variable name",
                    "name the variable that holds the webhook URL, e.g. \"SLACK_WEBHOOK_AMER_ENT\"",
                );
            }
        }
        if slack.default_webhook_env.is_none() && slack.team_webhooks_env.is_empty() {
            self.err(
                "notify.slack",
                line,
                None,
                "no webhook configured",
                "add default_webhook_env = \"SLACK_WEBHOOK_URL\" or team_webhooks_env, or remove [notify.slack]",
            );
        }
        slack
    }

    fn email(&mut self, raw: &Spanned<RawEmail>) -> Option<EmailConfig> {
        let line = self.at("notify.email", raw);
        let t = Table {
            path: "notify.email",
            line,
        };
        let e = raw.get_ref();
        let smtp_url_env = self.env_key(
            t,
            "smtp_url_env",
            &e.smtp_url_env,
            true,
            "LEADROUTER_SMTP_URL",
        );
        let from = self.required(t, "from", &e.from, "\"Sales <sales@example.com>\"");
        if let Some(f) = &from
            && f.parse::<lettre::message::Mailbox>().is_err()
        {
            self.err_at(
                "notify.email.from",
                Some(f),
                "not a valid mailbox",
                "write from = \"Northwind Sales <sales@northwind.example>\"",
            );
        }
        let sender = self.string(
            t,
            "confirmation_sender",
            &e.confirmation_sender,
            "\"rep_name\"",
        );
        let confirmation_sender = match sender.as_deref() {
            None | Some("rep_name") => ConfirmationSender::RepName,
            Some("rep_address") => ConfirmationSender::RepAddress,
            Some(other) => {
                self.err_at(
                    "notify.email.confirmation_sender",
                    Some(other),
                    "unknown sender mode",
                    "use \"rep_name\" (rep's name, our address, Reply-To the rep) or \"rep_address\" (the rep's own address; needs SPF/DKIM for it)",
                );
                ConfirmationSender::RepName
            }
        };
        let lead_confirmation = self.lead_confirmation(e);
        Some(EmailConfig {
            smtp_url_env: smtp_url_env?,
            from: from?,
            lead_confirmation,
            confirmation_sender,
        })
    }

    /// `lead_confirmation`: a list of actions, `true` (all) or `false`; absent: off.
    fn lead_confirmation(&mut self, e: &RawEmail) -> LeadConfirmation {
        let key = "notify.email.lead_confirmation";
        let Some(v) = &e.lead_confirmation else {
            return LeadConfirmation::Off;
        };
        let line = self.at(key, v);
        match v.get_ref() {
            RawConfirmation::All(true) => LeadConfirmation::All,
            RawConfirmation::All(false) => LeadConfirmation::Off,
            RawConfirmation::Actions(list) => {
                let mut out: Vec<String> = Vec::new();
                for a in list {
                    let t = leadrouter_core::normalize::token(a);
                    if t.is_empty() {
                        self.err(
                            key,
                            line,
                            Some(a),
                            "not an action name",
                            "list lead actions, e.g. lead_confirmation = [\"demo_request\", \"trial_signup\"]",
                        );
                    } else if !out.contains(&t) {
                        out.push(t);
                    }
                }
                if out.is_empty() {
                    LeadConfirmation::Off
                } else {
                    LeadConfirmation::Actions(out)
                }
            }
        }
    }

    fn sms(&mut self, raw: &Spanned<RawSms>) -> Option<SmsConfig> {
        let line = self.at("notify.sms", raw);
        let t = Table {
            path: "notify.sms",
            line,
        };
        let s = raw.get_ref();
        let example = "\"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json\"";
        let api_url = self.required(t, "api_url", &s.api_url, example);
        if let (Some(u), Some(v)) = (&api_url, &s.api_url) {
            self.url(
                "notify.sms.api_url",
                v,
                &u.replace("{account}", "x"),
                &format!("write the Messages endpoint, e.g. {example}"),
            );
        }
        let account_env =
            self.env_key(t, "account_env", &s.account_env, true, "TWILIO_ACCOUNT_SID");
        let token_env = self.env_key(t, "token_env", &s.token_env, true, "TWILIO_AUTH_TOKEN");
        let from = self.required(t, "from", &s.from, "\"+15005550006\"");
        Some(SmsConfig {
            api_url: api_url?,
            account_env: account_env?,
            token_env: token_env?,
            from: from?,
        })
    }

    fn webhook(&mut self, path: &str, raw: &Spanned<RawWebhook>) -> Option<WebhookConfig> {
        let line = self.at(path, raw);
        let t = Table { path, line };
        let w = raw.get_ref();
        let name = self.required(t, "name", &w.name, "\"crm\"");
        let url = self.required(
            t,
            "url",
            &w.url,
            "\"https://crm.example.com/hooks/leadrouter\"",
        );
        if let (Some(u), Some(v)) = (&url, &w.url) {
            self.url(
                &format!("{path}.url"),
                v,
                u,
                "write the receiver's http(s) URL",
            );
        }
        let secret_env = self.env_key(t, "secret_env", &w.secret_env, true, "CRM_WEBHOOK_SECRET");
        let events = match &w.events {
            None => EventType::ALL.to_vec(),
            Some(list) => {
                let key = format!("{path}.events");
                let mut out = Vec::new();
                for e in list {
                    let line = self.at(&key, e);
                    match EventType::parse(e.get_ref().trim()) {
                        Some(t) if !out.contains(&t) => out.push(t),
                        Some(_) => {}
                        None => {
                            let all: Vec<&str> =
                                EventType::ALL.iter().map(|e| e.as_str()).collect();
                            let fix = format!("use some of: {}", all.join(", "));
                            self.err(
                                key.clone(),
                                line,
                                Some(e.get_ref()),
                                "unknown event type",
                                fix,
                            );
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
            allow_private: w.allow_private.unwrap_or(false),
            events,
        })
    }

    /// `[notify.channels]`; returns the tier lists as written (without the defaults), for
    /// the check that every channel written has its section.
    fn channels(&mut self, raw: &RawNotify, cfg: &mut NotifyConfig) -> Vec<TierChannels> {
        let Some(c) = &raw.channels else {
            return Vec::new();
        };
        let tiers = RawTierChannels {
            hot: c.hot.clone(),
            warm: c.warm.clone(),
            standard: c.standard.clone(),
        };
        let written = self.tier_channels("notify.channels", &tiers);
        let d = ChannelPolicy::default().tiers;
        cfg.channels.tiers = TierChannels {
            hot: written.hot.clone().or(d.hot),
            warm: written.warm.clone().or(d.warm),
            standard: written.standard.clone().or(d.standard),
        };
        let mut all = vec![written];
        for (group, map) in [("teams", &c.teams), ("reps", &c.reps)] {
            for (id, t) in map {
                let tc = self.tier_channels(&format!("notify.channels.{group}.{id}"), t);
                all.push(tc.clone());
                if group == "teams" {
                    cfg.channels.teams.insert(id.clone(), tc);
                } else {
                    cfg.channels.reps.insert(id.clone(), tc);
                }
            }
        }
        all
    }

    fn alerts(&mut self, raw: &RawNotify, cfg: &mut NotifyConfig) {
        let Some(a) = &raw.alerts else {
            return;
        };
        let t = Table {
            path: "notify.alerts",
            line: 0,
        };
        if let Some(c) = self.channel_list("notify.alerts.channels", &a.channels) {
            cfg.alerts.channels = c;
        }
        if let Some(c) = self.channel_list("notify.alerts.queue_channels", &a.queue_channels) {
            cfg.alerts.queue_channels = c;
        }
        if let Some(list) = self.addresses(t, "queue_email", &a.queue_email, "revops@example.com") {
            cfg.alerts.queue_email = list;
        }
        if let Some(list) = self.strings(t, "queue_sms", &a.queue_sms, "[\"+15005550006\"]") {
            cfg.alerts.queue_sms = list;
        }
    }

    fn weekly_report(&mut self, raw: &RawWeeklyReport, w: &mut WeeklyReportConfig) {
        let t = Table {
            path: "notify.weekly_report",
            line: 0,
        };
        w.enabled = raw.enabled.unwrap_or(true);
        if let Some(d) = self.string(t, "day", &raw.day, "\"monday\"") {
            match weekday(&d) {
                Some(x) => w.day = x,
                None => {
                    self.err_at(
                        "notify.weekly_report.day",
                        Some(&d),
                        "not a day of the week",
                        "write day = \"monday\" (or tuesday … sunday)",
                    );
                }
            }
        }
        if let Some(s) = self.string(t, "time", &raw.time, "\"08:00\"") {
            match jiff::civil::Time::strptime("%H:%M", &s) {
                Ok(x) => w.time = x,
                Err(_) => {
                    self.err_at(
                        "notify.weekly_report.time",
                        Some(&s),
                        "not a time of day (HH:MM, 24-hour)",
                        "write time = \"08:00\"",
                    );
                }
            }
        }
        if let Some(z) = self.string(t, "timezone", &raw.timezone, "\"Europe/Berlin\"") {
            if jiff::tz::TimeZone::get(&z).is_ok() {
                w.timezone = Some(z);
            } else {
                self.err_at(
                    "notify.weekly_report.timezone",
                    Some(&z),
                    "unknown IANA time zone",
                    "write a zone like \"America/New_York\", or leave it out for organization.timezone",
                );
            }
        }
        // 0 is allowed here (only send times passing while running), so not `positive`.
        if let Some(v) = &raw.catch_up_hours {
            let key = "notify.weekly_report.catch_up_hours";
            let line = self.at(key, v);
            let h = v.get_ref().0;
            if (0.0..=24.0 * 6.0).contains(&h) {
                w.catch_up = SignedDuration::from_secs_f64(h * 3600.0);
            } else {
                self.err(
                    key,
                    line,
                    Some(&h.to_string()),
                    "expected a number of hours from 0 to 144 (six days)",
                    "write catch_up_hours = 12",
                );
            }
        }
        if let Some(list) = self.addresses(t, "to", &raw.to, "vp-sales@example.com") {
            w.to = list;
        }
    }

    fn templates(&mut self, raw: &RawNotify, cfg: &mut NotifyConfig) {
        let keys: Vec<&str> = TemplateName::ALL.iter().map(|t| t.key()).collect();
        for (k, v) in &raw.templates {
            let key = format!("notify.templates.{k}");
            let line = self.at(&key, v);
            let Some(name) = TemplateName::parse(k) else {
                let fix = match closest(k, keys.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? templates: {}", keys.join(", ")),
                    None => format!("templates: {}", keys.join(", ")),
                };
                let value = crate::text::truncate(v.get_ref(), 80);
                self.err(key, line, Some(&value), "unknown template", fix);
                continue;
            };
            cfg.templates.insert(name, v.get_ref().clone());
        }
    }

    /// A channel written in a tier list without its section is a mistake; the built-in
    /// defaults are not (unconfigured channels are skipped and reported when rendering).
    fn unconfigured_channels(&mut self, written: &[TierChannels], raw: &RawNotify) {
        let mut explicit: Vec<ChannelKind> = Vec::new();
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
                // Written counts: a section with errors has its own messages already.
                ChannelKind::Slack => raw.slack.is_some(),
                ChannelKind::Email => raw.email.is_some(),
                ChannelKind::Sms => raw.sms.is_some(),
            };
            if !configured {
                let line = self.channel_lines[&c];
                self.err(
                    "notify.channels",
                    line,
                    Some(c.name()),
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
                );
            }
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
