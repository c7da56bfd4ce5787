//! The `[crm]` table resolved (phase 2 of 2): provider, credentials by environment
//! variable, URLs, durations, the user and field maps. Every problem is collected as a
//! [`ConfigError`] with its line and a fix.

use super::raw::{RawCrm, RawFields, RawHubSpot, RawSalesforce};
use super::*;
use toml::Spanned;

type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

struct Resolver<'a> {
    src: &'a SourceText,
    errs: Vec<ConfigError>,
}

impl Resolver<'_> {
    fn line<T>(&self, v: &Spanned<T>) -> usize {
        self.src.line_of(v.span().start)
    }

    fn err(
        &mut self,
        field: &str,
        line: usize,
        value: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.errs.push(ConfigError {
            file: self.src.path.clone(),
            line: Some(line),
            field: field.to_string(),
            value: value.map(str::to_string),
            message: message.into(),
            fix: Some(fix.into()),
        });
    }

    fn duration(&mut self, key: &str, v: &Option<Spanned<String>>) -> Option<Duration> {
        let v = v.as_ref()?;
        let line = self.line(v);
        match parse_duration(v.get_ref()) {
            Some(d) if !d.is_zero() => Some(d),
            _ => {
                self.err(
                    &format!("crm.{key}"),
                    line,
                    Some(v.get_ref()),
                    "not a duration longer than zero",
                    "write a number with a unit (ms, s, m, h, d), e.g. \"15m\"",
                );
                None
            }
        }
    }

    fn url(&mut self, key: &str, v: &Option<Spanned<String>>) -> Option<url::Url> {
        let v = v.as_ref()?;
        let line = self.line(v);
        match url::Url::parse(v.get_ref()) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Some(u),
            _ => {
                self.err(
                    key,
                    line,
                    Some(v.get_ref()),
                    "not an http(s) URL",
                    "write the full URL, e.g. \"https://api.hubapi.com\"",
                );
                None
            }
        }
    }

    /// The environment variable named by `key` (or `default`), read now.
    fn secret(
        &mut self,
        key: &str,
        v: &Option<Spanned<String>>,
        default: Option<&str>,
        table_line: usize,
        env: Env,
        required: bool,
    ) -> (String, Option<Secret>) {
        let (name, line) = match (v, default) {
            (Some(v), _) => (v.get_ref().trim().to_string(), self.line(v)),
            (None, Some(d)) => (d.to_string(), table_line),
            (None, None) => {
                self.err(
                    key,
                    table_line,
                    None,
                    "missing",
                    format!(
                        "name the environment variable that holds it: {} = \"…\"",
                        key.rsplit('.').next().unwrap_or(key)
                    ),
                );
                return (String::new(), None);
            }
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.err(
                key,
                line,
                Some(&name),
                "not an environment variable name",
                "write the variable's name (letters, digits, _), never the secret itself",
            );
            return (name, None);
        }
        match env(&name).filter(|s| !s.trim().is_empty()) {
            Some(s) => (name, Some(Secret(s.trim().to_string()))),
            None if required => {
                let fix = format!("set {name} in the server's environment");
                self.err(
                    key,
                    line,
                    Some(&name),
                    "the environment variable is not set",
                    fix,
                );
                (name, None)
            }
            None => (name, None),
        }
    }

    fn property(&mut self, key: &str, v: &Spanned<String>) -> Option<String> {
        let s = v.get_ref().trim();
        if s.is_empty() {
            return None;
        }
        let ok = s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !ok {
            let line = self.line(v);
            self.err(
                key,
                line,
                Some(s),
                "not a CRM property or field API name",
                "use the internal name (letters, digits, _), e.g. leadrouter_tier or LeadRouter_Tier__c; \"\" writes nothing",
            );
            return None;
        }
        Some(s.to_string())
    }
}

pub(super) fn resolve(
    raw: Spanned<RawCrm>,
    src: &SourceText,
    env: Env,
) -> Result<CrmConfig, Vec<ConfigError>> {
    let mut r = Resolver {
        src,
        errs: Vec::new(),
    };
    let line = r.line(&raw);
    let raw = raw.into_inner();
    let provider = match raw.provider.as_ref() {
        None => {
            r.err(
                "crm.provider",
                line,
                None,
                "missing",
                "write provider = \"hubspot\" or provider = \"salesforce\"",
            );
            return Err(r.errs);
        }
        Some(p) => match p.get_ref().as_str() {
            "hubspot" => ProviderKind::HubSpot,
            "salesforce" => ProviderKind::Salesforce,
            other => {
                let l = r.line(p);
                r.err(
                    "crm.provider",
                    l,
                    Some(other),
                    "unknown CRM",
                    "write \"hubspot\" or \"salesforce\"",
                );
                return Err(r.errs);
            }
        },
    };
    let credentials = match provider {
        ProviderKind::HubSpot => {
            if let Some(sf) = &raw.salesforce {
                let l = r.line(sf);
                r.err(
                    "crm.salesforce",
                    l,
                    None,
                    "the provider is hubspot",
                    "remove [crm.salesforce] or set provider = \"salesforce\"",
                );
            }
            hubspot(&mut r, raw.hubspot.as_ref(), line, env)
        }
        ProviderKind::Salesforce => {
            if let Some(h) = &raw.hubspot {
                let l = r.line(h);
                r.err(
                    "crm.hubspot",
                    l,
                    None,
                    "the provider is salesforce",
                    "remove [crm.hubspot] or set provider = \"hubspot\"",
                );
            }
            salesforce(&mut r, raw.salesforce.as_ref(), line, env)
        }
    };
    let base_url = r.url("crm.base_url", &raw.base_url);
    let timeout = r
        .duration("timeout", &raw.timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    if timeout > Duration::from_secs(120) {
        let l = raw.timeout.as_ref().map(|t| r.line(t)).unwrap_or(line);
        r.err(
            "crm.timeout",
            l,
            None,
            "longer than two minutes",
            "write at most \"120s\" (the default is \"10s\")",
        );
    }
    let sync_every = r
        .duration("sync_every", &raw.sync_every)
        .unwrap_or(DEFAULT_SYNC_EVERY);
    let poll_every = r.duration("poll_every", &raw.poll_every);
    let named_account_property = raw
        .named_account_property
        .as_ref()
        .and_then(|v| r.property("crm.named_account_property", v));
    let accounts = match raw.accounts.as_ref() {
        None => AccountSource::Crm,
        Some(a) => match a.get_ref().as_str() {
            "crm" => AccountSource::Crm,
            "config" => AccountSource::Config,
            "config_only" => AccountSource::ConfigOnly,
            other => {
                let l = r.line(a);
                r.err(
                    "crm.accounts",
                    l,
                    Some(other),
                    "unknown account source",
                    "write \"crm\" (the CRM's owner wins), \"config\" (the config's wins) or \"config_only\" (the CRM's accounts are not used)",
                );
                AccountSource::Crm
            }
        },
    };
    let max_attempts = match raw.max_attempts.as_ref() {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(m) if (1..=100).contains(m.get_ref()) => *m.get_ref() as u32,
        Some(m) => {
            let l = r.line(m);
            r.err(
                "crm.max_attempts",
                l,
                Some(&m.get_ref().to_string()),
                "must be between 1 and 100",
                "write max_attempts = 12",
            );
            DEFAULT_MAX_ATTEMPTS
        }
    };
    let mut users = BTreeMap::new();
    let mut user_lines = BTreeMap::new();
    for (rep, id) in &raw.users {
        let l = r.line(id);
        let v = id.get_ref().trim();
        if v.is_empty() || v.len() > 64 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
            r.err(
                &format!("crm.users.{rep}"),
                l,
                Some(v),
                "not a CRM user id",
                "write the owner id (HubSpot, digits) or user id (Salesforce, 005…)",
            );
            continue;
        }
        users.insert(rep.clone(), v.to_string());
        user_lines.insert(rep.clone(), l);
    }
    let fields = fields(&mut r, raw.fields.as_ref().map(|f| f.get_ref()), provider);
    if r.errs.is_empty() {
        Ok(CrmConfig {
            provider,
            credentials: credentials.expect("no errors means credentials resolved"),
            base_url,
            timeout,
            task: raw.task.map(|t| t.into_inner()).unwrap_or(true),
            sync_every,
            poll_every,
            named_account_property,
            accounts,
            max_attempts,
            users,
            user_lines,
            fields,
            line,
        })
    } else {
        Err(r.errs)
    }
}

fn hubspot(
    r: &mut Resolver,
    raw: Option<&Spanned<RawHubSpot>>,
    line: usize,
    env: Env,
) -> Option<Credentials> {
    let none = RawHubSpot {
        token_env: None,
        client_secret_env: None,
        webhook_url: None,
        app_id: None,
    };
    let (h, line) = match raw {
        Some(h) => (h.get_ref(), r.line(h)),
        None => (&none, line),
    };
    let (token_env, token) = r.secret(
        "crm.hubspot.token_env",
        &h.token_env,
        Some(DEFAULT_HUBSPOT_TOKEN_ENV),
        line,
        env,
        true,
    );
    let (client_secret_env, client_secret) = r.secret(
        "crm.hubspot.client_secret_env",
        &h.client_secret_env,
        Some(DEFAULT_HUBSPOT_CLIENT_SECRET_ENV),
        line,
        env,
        h.client_secret_env.is_some(),
    );
    let webhook_url = r.url("crm.hubspot.webhook_url", &h.webhook_url);
    Some(Credentials::HubSpot(HubSpotCredentials {
        token_env,
        token: token?,
        client_secret_env,
        client_secret,
        webhook_url,
        app_id: h.app_id.as_ref().map(|a| *a.get_ref()),
    }))
}

fn salesforce(
    r: &mut Resolver,
    raw: Option<&Spanned<RawSalesforce>>,
    line: usize,
    env: Env,
) -> Option<Credentials> {
    let Some(s) = raw else {
        r.err(
            "crm.salesforce",
            line,
            None,
            "missing",
            "add [crm.salesforce] with client_id_env, username_env and private_key_env",
        );
        return None;
    };
    let line = r.line(s);
    let s = s.get_ref();
    let (client_id_env, client_id) = r.secret(
        "crm.salesforce.client_id_env",
        &s.client_id_env,
        None,
        line,
        env,
        true,
    );
    let (username_env, username) = r.secret(
        "crm.salesforce.username_env",
        &s.username_env,
        None,
        line,
        env,
        true,
    );
    let (private_key_env, key) = r.secret(
        "crm.salesforce.private_key_env",
        &s.private_key_env,
        None,
        line,
        env,
        true,
    );
    if let (Some(k), Some(v)) = (&key, &s.private_key_env)
        && !k.0.contains("-----BEGIN")
    {
        let l = r.line(v);
        r.err(
            "crm.salesforce.private_key_env",
            l,
            Some(v.get_ref()),
            "the variable does not hold a PEM private key",
            "put the connected app's private key, PEM with its BEGIN/END lines, in the variable",
        );
    }
    let login_url = match &s.login_url {
        Some(_) => r.url("crm.salesforce.login_url", &s.login_url),
        None => url::Url::parse(DEFAULT_SALESFORCE_LOGIN_URL).ok(),
    };
    let instance_url = r.url("crm.salesforce.instance_url", &s.instance_url);
    let organization_id = s
        .organization_id
        .as_ref()
        .map(|o| o.get_ref().trim().to_string());
    if let Some(o) = &s.organization_id {
        let v = o.get_ref().trim();
        if !(v.len() == 15 || v.len() == 18) || !v.starts_with("00D") {
            let l = r.line(o);
            r.err(
                "crm.salesforce.organization_id",
                l,
                Some(v),
                "not a Salesforce organization id",
                "copy it from Setup → Company Information (15 or 18 characters, starting 00D)",
            );
        }
    }
    Some(Credentials::Salesforce(SalesforceCredentials {
        client_id_env,
        client_id: client_id?,
        username_env,
        username: username?.0,
        private_key_env,
        private_key_pem: key?,
        login_url: login_url?,
        instance_url,
        organization_id,
    }))
}

fn fields(r: &mut Resolver, raw: Option<&RawFields>, p: ProviderKind) -> FieldMap {
    let mut f = FieldMap::defaults(p);
    let Some(raw) = raw else {
        return f;
    };
    let mut set = |key: &str, slot: &mut Option<String>, v: &Option<Spanned<String>>| {
        if let Some(v) = v {
            *slot = r.property(&format!("crm.fields.{key}"), v);
        }
    };
    set("tier", &mut f.tier, &raw.tier);
    set("segment", &mut f.segment, &raw.segment);
    set("score", &mut f.score, &raw.score);
    set("reason", &mut f.reason, &raw.reason);
    set("lead_id", &mut f.lead_id, &raw.lead_id);
    set("console_link", &mut f.console_link, &raw.console_link);
    set("meeting", &mut f.meeting, &raw.meeting);
    f
}

/// A duration as written: "800ms", "2s", "15m", "12h", "1d".
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}
