//! The `[notify]` table as written (phase 1 of 2): serde structs that mirror the TOML one
//! to one, refuse unknown keys and keep the spans the resolver needs to point at a line.
//! Nothing is checked here beyond TOML types; resolve.rs does the rest.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole config file, read for its `[notify]` table only (the core checks the rest).
#[derive(Debug, Deserialize)]
pub(crate) struct RawDoc {
    pub notify: Option<Spanned<RawNotify>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub base_url: Option<Spanned<String>>,
    pub link_secret_env: Option<Spanned<String>>,
    pub link_ttl_hours: Option<Spanned<Number>>,
    pub record_path: Option<Spanned<String>>,
    pub link_path: Option<Spanned<String>>,
    pub timeout_secs: Option<Spanned<Number>>,
    pub onboarding_url: Option<Spanned<String>>,
    pub slack: Option<Spanned<RawSlack>>,
    pub email: Option<Spanned<RawEmail>>,
    pub sms: Option<Spanned<RawSms>>,
    #[serde(default)]
    pub webhook: Vec<Spanned<RawWebhook>>,
    pub channels: Option<RawChannels>,
    pub alerts: Option<RawAlerts>,
    pub weekly_report: Option<RawWeeklyReport>,
    /// Keyed by template name; names are checked by the resolver, which suggests the
    /// nearest one.
    #[serde(default)]
    pub templates: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub assets: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlack {
    pub default_webhook_env: Option<Spanned<String>>,
    #[serde(default)]
    pub team_webhooks_env: BTreeMap<String, Spanned<String>>,
    pub alerts_webhook_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmail {
    pub smtp_url_env: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub lead_confirmation: Option<Spanned<RawConfirmation>>,
    pub confirmation_sender: Option<Spanned<String>>,
}

/// `lead_confirmation = ["demo_request", …]` (those actions), `true` (every action) or
/// `false`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawConfirmation {
    All(bool),
    Actions(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSms {
    pub api_url: Option<Spanned<String>>,
    pub account_env: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    pub name: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub secret_env: Option<Spanned<String>>,
    pub allow_private: Option<bool>,
    pub events: Option<Vec<Spanned<String>>>,
}

/// Channel names stay strings here so that an unknown one gets the resolver's message
/// (which also explains where webhooks are chosen), not serde's.
pub(crate) type RawChannelList = Option<Vec<Spanned<String>>>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTierChannels {
    pub hot: RawChannelList,
    pub warm: RawChannelList,
    pub standard: RawChannelList,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannels {
    pub hot: RawChannelList,
    pub warm: RawChannelList,
    pub standard: RawChannelList,
    #[serde(default)]
    pub teams: BTreeMap<String, RawTierChannels>,
    #[serde(default)]
    pub reps: BTreeMap<String, RawTierChannels>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    pub channels: RawChannelList,
    pub queue_channels: RawChannelList,
    pub queue_email: Option<Vec<Spanned<String>>>,
    pub queue_sms: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeeklyReport {
    pub enabled: Option<bool>,
    pub day: Option<Spanned<String>>,
    pub time: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub to: Option<Vec<Spanned<String>>>,
    pub catch_up_hours: Option<Spanned<Number>>,
}

/// A TOML integer or float, for settings in hours or seconds that may be fractional.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}
