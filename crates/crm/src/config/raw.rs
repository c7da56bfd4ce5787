//! The `[crm]` table as written (phase 1 of 2): serde structs mirroring the TOML, unknown
//! keys refused, spans kept for resolve.rs to point at.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole config file, read for its `[crm]` table only (the core checks the rest).
#[derive(Debug, Deserialize)]
pub(crate) struct RawDoc {
    pub crm: Option<Spanned<RawCrm>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCrm {
    pub provider: Option<Spanned<String>>,
    pub base_url: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub task: Option<Spanned<bool>>,
    pub sync_every: Option<Spanned<String>>,
    pub poll_every: Option<Spanned<String>>,
    pub named_account_property: Option<Spanned<String>>,
    pub accounts: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<i64>>,
    pub hubspot: Option<Spanned<RawHubSpot>>,
    pub salesforce: Option<Spanned<RawSalesforce>>,
    #[serde(default)]
    pub users: BTreeMap<String, Spanned<String>>,
    pub fields: Option<Spanned<RawFields>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHubSpot {
    pub token_env: Option<Spanned<String>>,
    pub client_secret_env: Option<Spanned<String>>,
    pub webhook_url: Option<Spanned<String>>,
    pub app_id: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSalesforce {
    pub client_id_env: Option<Spanned<String>>,
    pub username_env: Option<Spanned<String>>,
    pub private_key_env: Option<Spanned<String>>,
    pub login_url: Option<Spanned<String>>,
    pub instance_url: Option<Spanned<String>>,
    pub organization_id: Option<Spanned<String>>,
}

/// `[crm.fields]`: the CRM property that receives each value; `""` turns one off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFields {
    pub tier: Option<Spanned<String>>,
    pub segment: Option<Spanned<String>>,
    pub score: Option<Spanned<String>>,
    pub reason: Option<Spanned<String>>,
    pub lead_id: Option<Spanned<String>>,
    pub console_link: Option<Spanned<String>>,
    pub meeting: Option<Spanned<String>>,
}
