//! The `[crm]` table of the routing config, parsed in two phases like the core config:
//! raw.rs deserializes it (unknown keys refused, spans kept), resolve.rs checks it and
//! builds the [`CrmConfig`] defined here. Problems are the core's [`ConfigError`] with
//! file:line, the key, the value and the fix. Credentials are only ever named by
//! environment variable and read here (through the `env` the caller passes), so a
//! missing secret fails `leadrouter check` rather than the first write-back.

mod raw;
mod resolve;

use leadrouter_core::config::{ConfigError, SourceText};
use std::collections::BTreeMap;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SYNC_EVERY: Duration = Duration::from_secs(15 * 60);
/// Attempts before a write-back is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 12;
pub const DEFAULT_HUBSPOT_TOKEN_ENV: &str = "HUBSPOT_TOKEN";
pub const DEFAULT_HUBSPOT_CLIENT_SECRET_ENV: &str = "HUBSPOT_CLIENT_SECRET";
pub const DEFAULT_SALESFORCE_LOGIN_URL: &str = "https://login.salesforce.com";

/// A secret read from the environment: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    HubSpot,
    Salesforce,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::HubSpot => "hubspot",
            ProviderKind::Salesforce => "salesforce",
        }
    }
}

/// `[crm] accounts`: the one setting that says which source of account ownership wins
/// for a domain both the config (`[[account]]`, the accounts CSV) and the CRM hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSource {
    /// `"crm"` (the default): the CRM is the system of record. Its account and owner win;
    /// the config's accounts still cover the domains the CRM does not hold.
    Crm,
    /// `"config"`: the config's accounts win; the CRM's fill in the other domains.
    Config,
    /// `"config_only"`: the CRM's accounts are not used (users are still synced, for the
    /// rep ↔ CRM user mapping and `check`).
    ConfigOnly,
}

impl AccountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountSource::Crm => "crm",
            AccountSource::Config => "config",
            AccountSource::ConfigOnly => "config_only",
        }
    }

    /// The engine's precedence for the CRM overlay; `None`: no overlay.
    pub fn precedence(self) -> Option<leadrouter_core::crm_accounts::AccountPrecedence> {
        use leadrouter_core::crm_accounts::AccountPrecedence;
        match self {
            AccountSource::Crm => Some(AccountPrecedence::Crm),
            AccountSource::Config => Some(AccountPrecedence::Csv),
            AccountSource::ConfigOnly => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HubSpotCredentials {
    pub token_env: String,
    pub token: Secret,
    pub client_secret_env: String,
    /// The app's client secret for webhook signatures; `None` when the variable is unset
    /// (then the webhook endpoint refuses every request).
    pub client_secret: Option<Secret>,
    /// The full URL HubSpot calls (it signs that URI); `None`: rebuilt from the request.
    pub webhook_url: Option<url::Url>,
    /// Our app's id: events whose `sourceId` names it are our own write-back.
    pub app_id: Option<i64>,
}

/// Salesforce's JWT bearer flow inputs; the Salesforce client takes them as parameters.
#[derive(Debug, Clone)]
pub struct SalesforceCredentials {
    pub client_id_env: String,
    pub client_id: Secret,
    pub username_env: String,
    pub username: String,
    pub private_key_env: String,
    /// The connected app's private key (PEM).
    pub private_key_pem: Secret,
    pub login_url: url::Url,
    pub instance_url: Option<url::Url>,
    /// Outbound Messages must carry this organisation id.
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Credentials {
    HubSpot(HubSpotCredentials),
    Salesforce(SalesforceCredentials),
}

/// Which CRM property receives each value written back; `None` writes nothing for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    pub tier: Option<String>,
    pub segment: Option<String>,
    pub score: Option<String>,
    pub reason: Option<String>,
    pub lead_id: Option<String>,
    pub console_link: Option<String>,
    /// The booked meeting (issue 22): its start in UTC (RFC 3339), or `cancelled`. Off
    /// unless named: the property must exist in the CRM first.
    pub meeting: Option<String>,
}

impl FieldMap {
    /// The documented defaults: HubSpot custom properties `leadrouter_*`, Salesforce
    /// custom fields `LeadRouter_*__c` (created by the admin; docs/crm.md lists them).
    pub fn defaults(p: ProviderKind) -> FieldMap {
        let name = |hs: &str, sf: &str| {
            Some(match p {
                ProviderKind::HubSpot => hs.to_string(),
                ProviderKind::Salesforce => sf.to_string(),
            })
        };
        FieldMap {
            tier: name("leadrouter_tier", "LeadRouter_Tier__c"),
            segment: name("leadrouter_segment", "LeadRouter_Segment__c"),
            score: name("leadrouter_score", "LeadRouter_Score__c"),
            reason: name("leadrouter_reason", "LeadRouter_Reason__c"),
            lead_id: name("leadrouter_lead_id", "LeadRouter_Id__c"),
            console_link: name("leadrouter_console_url", "LeadRouter_Console_URL__c"),
            meeting: None,
        }
    }

    /// The properties leadrouter writes (loop prevention: a change to only these is ours).
    pub fn written(&self) -> Vec<&str> {
        [
            &self.tier,
            &self.segment,
            &self.score,
            &self.reason,
            &self.lead_id,
            &self.console_link,
            &self.meeting,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
    }
}

/// `[crm]` resolved.
#[derive(Debug, Clone)]
pub struct CrmConfig {
    pub provider: ProviderKind,
    pub credentials: Credentials,
    /// API base URL override (tests, sandboxes, proxies).
    pub base_url: Option<url::Url>,
    pub timeout: Duration,
    /// Create a follow-up task for the owner, due at the SLA contact-by time.
    pub task: bool,
    pub sync_every: Duration,
    /// Poll for leads modified in the CRM this often (for teams without webhooks).
    pub poll_every: Option<Duration>,
    pub named_account_property: Option<String>,
    pub accounts: AccountSource,
    pub max_attempts: u32,
    /// rep id → CRM user/owner id; reps not listed are matched by email.
    pub users: BTreeMap<String, String>,
    /// The line of each `[crm.users]` entry.
    pub user_lines: BTreeMap<String, usize>,
    pub fields: FieldMap,
    /// The `[crm]` table's line (for problems found later, e.g. unknown reps).
    pub line: usize,
}

impl CrmConfig {
    /// Parse `[crm]` from the config file; `Ok(None)` when there is none. Secrets are
    /// read through `env`.
    pub fn parse(
        src: &SourceText,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<CrmConfig>, Vec<ConfigError>> {
        let doc: raw::RawDoc =
            toml::from_str(&src.text).map_err(|e| vec![ConfigError::from_toml(src, &e)])?;
        match doc.crm {
            None => Ok(None),
            Some(c) => resolve::resolve(c, src, env).map(Some),
        }
    }

    /// `[crm.users]` keys that are not reps of the config.
    pub fn check_reps<'a>(
        &self,
        src: &SourceText,
        rep_ids: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Vec<ConfigError> {
        let known: Vec<&str> = rep_ids.into_iter().collect();
        self.users
            .keys()
            .filter(|r| !known.contains(&r.as_str()))
            .map(|r| ConfigError {
                file: src.path.clone(),
                line: Some(self.user_lines.get(r).copied().unwrap_or(self.line)),
                field: format!("crm.users.{r}"),
                value: None,
                message: "no rep has this id".into(),
                fix: Some(
                    match leadrouter_core::config::suggest::closest(r, known.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "use a rep id from [[rep]]".into(),
                    },
                ),
            })
            .collect()
    }

    /// The CRM user id for a rep: `[crm.users]`, else the CRM user with the rep's email
    /// (`by_email`: lower-cased email → CRM id, from the last users sync).
    pub fn crm_user<'a>(
        &'a self,
        rep_id: &str,
        rep_email: Option<&str>,
        by_email: &'a BTreeMap<String, String>,
    ) -> Option<&'a str> {
        if let Some(id) = self.users.get(rep_id) {
            return Some(id);
        }
        let e = rep_email?.trim().to_ascii_lowercase();
        by_email.get(&e).map(String::as_str)
    }
}

#[cfg(test)]
mod tests;
