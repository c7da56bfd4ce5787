//! Delivery: send one [`Outgoing`] and say what happened.
//!
//! [`Notifier::deliver`] makes one attempt, bounded by a timeout, and classifies the
//! outcome so the outbox worker knows what to do next: [`DeliveryResult::Delivered`];
//! [`DeliveryResult::Retry`] for anything that may succeed later (timeouts, connection
//! errors, 429 with the server's Retry-After, 5xx, SMTP 4xx); [`DeliveryResult::Failed`]
//! for what will not (4xx, SMTP 5xx, a refused webhook target, a missing secret) — those
//! belong in the dead-letter state, visible to operators (NTF-5).
//!
//! Idempotency: the caller passes one key per outbox row and reuses it on every retry.
//! It becomes the webhook's `webhook-id`, the email's `Message-ID` and the SMS request's
//! `Idempotency-Key`, so a receiver can drop a duplicate sent after a crash mid-send.
//!
//! SMTP connections are not pooled: a cancelled or timed-out send then can't leave a
//! half-used connection behind, and constructing a [`Notifier`] needs no runtime.

use crate::config::{ConfigError, ConfigErrors, NotifyConfig, check_http_url, problem};
use crate::message::{CalendarPart, Channel, EmailPayload, InvitationEmail, Outgoing, SmsPayload};
use crate::render::{SLACK_ALERTS, SLACK_DEFAULT, SLACK_TEAM_PREFIX};
use crate::webhook::{
    PublicOnlyResolver, decode_secret, first_private, is_public_ip, sign_webhook,
};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Try again later; `after` is the server's Retry-After when it gave one.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Will not succeed by retrying: dead-letter it.
    Failed {
        error: String,
    },
}

impl DeliveryResult {
    fn retry(error: impl Into<String>) -> Self {
        DeliveryResult::Retry {
            after: None,
            error: error.into(),
        }
    }

    fn failed(error: impl Into<String>) -> Self {
        DeliveryResult::Failed {
            error: error.into(),
        }
    }
}

/// The delivery port: the outbox worker depends on this, tests can fake it.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    async fn deliver(&self, out: &Outgoing, idempotency_key: &str) -> DeliveryResult;
}

/// Longest Retry-After honoured; anything longer is capped (the outbox keeps retrying).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
const USER_AGENT: &str = concat!("leadrouter/", env!("CARGO_PKG_VERSION"));
const ERROR_BODY_LIMIT: usize = 512;

struct SmsTarget {
    url: Url,
    account: String,
    token: String,
    from: String,
}

struct WebhookTarget {
    url: Url,
    key: Vec<u8>,
    allow_private: bool,
}

/// Sends [`Outgoing`] messages. Cheap to share (`Arc` inside); build once at startup.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    timeout: Duration,
    /// Slack and SMS: operator-configured endpoints, system proxy honoured.
    http: reqwest::Client,
    /// Webhooks: no redirects, no proxy, resolver refuses non-public addresses.
    hooks_public: reqwest::Client,
    /// Webhooks with `allow_private = true`: no redirects, no proxy.
    hooks_any: reqwest::Client,
    slack: HashMap<String, Url>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    message_id_domain: String,
    sms: Option<SmsTarget>,
    webhooks: HashMap<String, WebhookTarget>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("timeout", &self.inner.timeout)
            .field("slack", &self.inner.slack.keys().collect::<Vec<_>>())
            .field("smtp", &self.inner.smtp.is_some())
            .field("sms", &self.inner.sms.is_some())
            .field("webhooks", &self.inner.webhooks.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn missing_env(key: &str, var: &str, fix: &str) -> ConfigError {
    problem(
        key,
        var.to_string(),
        format!("environment variable {var} is not set"),
        fix.to_string(),
    )
}

impl Notifier {
    /// Resolve every secret the config names through `env` (use
    /// [`Notifier::from_env`] for the process environment) and build the clients.
    /// A configured channel whose secret is missing or malformed is an error: better to
    /// refuse to start than to dead-letter every hot lead.
    pub fn new(
        cfg: &NotifyConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Notifier, ConfigErrors> {
        let mut errs = Vec::new();
        let mut slack = HashMap::new();
        if let Some(s) = &cfg.slack {
            let mut add = |key: String, cfg_key: String, var: &str| {
                match env(var) {
                None => errs.push(missing_env(
                    &cfg_key,
                    var,
                    &format!("export {var}=https://hooks.slack.com/services/… (the channel's incoming-webhook URL)"),
                )),
                Some(u) => match Url::parse(u.trim()) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => {
                        slack.insert(key, url);
                    }
                    _ => errs.push(problem(
                        cfg_key,
                        var.to_string(),
                        format!("${var} is not an http(s) URL"),
                        format!("export {var}=https://hooks.slack.com/services/…"),
                    )),
                },
            }
            };
            if let Some(v) = &s.default_webhook_env {
                add(
                    SLACK_DEFAULT.into(),
                    "notify.slack.default_webhook_env".into(),
                    v,
                );
            }
            if let Some(v) = &s.alerts_webhook_env {
                add(
                    SLACK_ALERTS.into(),
                    "notify.slack.alerts_webhook_env".into(),
                    v,
                );
            }
            for (team, v) in &s.team_webhooks_env {
                add(
                    format!("{SLACK_TEAM_PREFIX}{team}"),
                    format!("notify.slack.team_webhooks_env.{team}"),
                    v,
                );
            }
        }

        let mut smtp = None;
        let mut message_id_domain = "leadrouter.invalid".to_string();
        if let Some(e) = &cfg.email {
            if let Ok(m) = e.from.parse::<Mailbox>() {
                message_id_domain = m.email.domain().to_string();
            }
            match env(&e.smtp_url_env) {
                None => errs.push(missing_env(
                    "notify.email.smtp_url_env",
                    &e.smtp_url_env,
                    &format!(
                        "export {}=smtps://user:pass@smtp.example.com:465 (or smtp://…:587?tls=required)",
                        e.smtp_url_env
                    ),
                )),
                Some(url) => match AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim()) {
                    Ok(b) => smtp = Some(b.timeout(Some(cfg.timeout)).build()),
                    Err(err) => errs.push(problem(
                        "notify.email.smtp_url_env",
                        e.smtp_url_env.to_string(),
                        format!("${} is not a usable SMTP URL ({err})", e.smtp_url_env),
                        "use smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required, or smtp://host:25 for a local relay",
                    )),
                },
            }
        }

        let mut sms = None;
        if let Some(s) = &cfg.sms {
            let account = env(&s.account_env);
            let token = env(&s.token_env);
            if account.is_none() {
                errs.push(missing_env(
                    "notify.sms.account_env",
                    &s.account_env,
                    &format!("export {}=<account SID>", s.account_env),
                ));
            }
            if token.is_none() {
                errs.push(missing_env(
                    "notify.sms.token_env",
                    &s.token_env,
                    &format!("export {}=<auth token>", s.token_env),
                ));
            }
            if let (Some(account), Some(token)) = (account, token) {
                let account = account.trim().to_string();
                let url = s.api_url.replace("{account}", &percent_encode(&account));
                match check_http_url(&url) {
                    Ok(url) => {
                        sms = Some(SmsTarget {
                            url,
                            account,
                            token: token.trim().to_string(),
                            from: s.from.clone(),
                        })
                    }
                    Err(p) => errs.push(problem(
                        "notify.sms.api_url",
                        s.api_url.to_string(),
                        p,
                        "write the Messages endpoint URL",
                    )),
                }
            }
        }

        let mut webhooks = HashMap::new();
        for (i, w) in cfg.webhooks.iter().enumerate() {
            let key = format!("notify.webhook[{i}].secret_env");
            match env(&w.secret_env) {
                None => errs.push(missing_env(
                    &key,
                    &w.secret_env,
                    &format!(
                        "export {}=whsec_$(openssl rand -base64 32) and give the same value to the receiver",
                        w.secret_env
                    ),
                )),
                Some(secret) => match (decode_secret(&secret), Url::parse(&w.url)) {
                    (Ok(k), Ok(url)) => {
                        webhooks.insert(
                            w.name.clone(),
                            WebhookTarget {
                                url,
                                key: k,
                                allow_private: w.allow_private,
                            },
                        );
                    }
                    (Err(_), _) => errs.push(problem(
                        key,
                        w.secret_env.to_string(),
                        format!("${} is not whsec_<base64>", w.secret_env),
                        format!("export {}=whsec_$(openssl rand -base64 32)", w.secret_env),
                    )),
                    (_, Err(e)) => errs.push(problem(
                        format!("notify.webhook[{i}].url"),
                        w.url.to_string(),
                        e.to_string(),
                        "write the receiver's http(s) URL",
                    )),
                },
            }
        }

        if !errs.is_empty() {
            return Err(cfg.located(errs));
        }
        let build = |b: reqwest::ClientBuilder| {
            b.user_agent(USER_AGENT)
                .timeout(cfg.timeout)
                .connect_timeout(cfg.timeout)
                .build()
        };
        let client_err = |e: reqwest::Error| {
            cfg.located(vec![problem(
                "notify",
                "(HTTP client)",
                format!("could not build the HTTP client: {e}"),
                "check the system's TLS roots",
            )])
        };
        let http = build(reqwest::Client::builder()).map_err(client_err)?;
        let hooks_any = build(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy(),
        )
        .map_err(client_err)?;
        let hooks_public = build(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(Arc::new(PublicOnlyResolver)),
        )
        .map_err(client_err)?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                timeout: cfg.timeout,
                http,
                hooks_public,
                hooks_any,
                slack,
                smtp,
                message_id_domain,
                sms,
                webhooks,
            }),
        })
    }

    /// [`Notifier::new`] with the process environment.
    pub fn from_env(cfg: &NotifyConfig) -> Result<Notifier, ConfigErrors> {
        Notifier::new(cfg, &|k| std::env::var(k).ok())
    }

    /// Send one message. Never panics and never takes longer than the configured timeout.
    pub async fn deliver(&self, out: &Outgoing, idempotency_key: &str) -> DeliveryResult {
        let t = self.inner.timeout;
        let attempt = async {
            match &out.channel {
                Channel::Slack => self.slack(out).await,
                Channel::Email => self.email(out, idempotency_key).await,
                Channel::Sms => self.sms(out, idempotency_key).await,
                Channel::Webhook { name } => self.webhook(name, out, idempotency_key).await,
            }
        };
        let result = match tokio::time::timeout(t, attempt).await {
            Ok(r) => r,
            Err(_) => DeliveryResult::retry(format!(
                "{} delivery timed out after {}",
                out.channel.name(),
                leadrouter_core::words::duration(
                    jiff::SignedDuration::try_from(t).unwrap_or(jiff::SignedDuration::MAX)
                )
            )),
        };
        // Logs name the lead and the message (its idempotency key), never a person's
        // address or number: logs are shipped and kept where personal data must not be.
        let recipient = logged_recipient(out);
        match &result {
            DeliveryResult::Delivered => tracing::debug!(
                channel = out.channel.name(),
                recipient = %recipient,
                lead = %out.lead_id,
                key = idempotency_key,
                "delivered"
            ),
            DeliveryResult::Retry { error, .. } | DeliveryResult::Failed { error } => {
                tracing::warn!(
                    channel = out.channel.name(),
                    recipient = %recipient,
                    lead = %out.lead_id,
                    key = idempotency_key,
                    error = %redact_recipient(error, out),
                    permanent = matches!(result, DeliveryResult::Failed { .. }),
                    "delivery failed"
                )
            }
        }
        result
    }

    async fn slack(&self, out: &Outgoing) -> DeliveryResult {
        let Some(url) = self.inner.slack.get(&out.recipient) else {
            return DeliveryResult::failed(format!(
                "no Slack webhook named {:?} is configured (notify.slack)",
                out.recipient
            ));
        };
        match self
            .inner
            .http
            .post(url.clone())
            .json(&out.payload)
            .send()
            .await
        {
            Ok(resp) => classify(resp, "Slack").await,
            Err(e) => from_reqwest(&e, "Slack"),
        }
    }

    async fn sms(&self, out: &Outgoing, key: &str) -> DeliveryResult {
        let Some(t) = &self.inner.sms else {
            return DeliveryResult::failed("SMS is not configured (notify.sms)");
        };
        let p: SmsPayload = match serde_json::from_value(out.payload.clone()) {
            Ok(p) => p,
            Err(e) => return DeliveryResult::failed(format!("malformed SMS payload: {e}")),
        };
        let form = [
            ("To", p.to.as_str()),
            ("From", t.from.as_str()),
            ("Body", p.body.as_str()),
        ];
        let req = self
            .inner
            .http
            .post(t.url.clone())
            .basic_auth(&t.account, Some(&t.token))
            .header("Idempotency-Key", key)
            .form(&form);
        match req.send().await {
            Ok(resp) => classify(resp, "SMS API").await,
            Err(e) => from_reqwest(&e, "SMS API"),
        }
    }

    async fn webhook(&self, name: &str, out: &Outgoing, key: &str) -> DeliveryResult {
        let Some(t) = self.inner.webhooks.get(name) else {
            return DeliveryResult::failed(format!(
                "no webhook named {name:?} is configured ([[notify.webhook]])"
            ));
        };
        if !t.allow_private
            && let Err(r) = check_public(&t.url).await
        {
            return r;
        }
        let body = match serde_json::to_vec(&out.payload) {
            Ok(b) => b,
            Err(e) => return DeliveryResult::failed(format!("unserializable payload: {e}")),
        };
        let ts = jiff::Timestamp::now().as_second();
        let sig = sign_webhook(&t.key, key, ts, &body);
        let client = if t.allow_private {
            &self.inner.hooks_any
        } else {
            &self.inner.hooks_public
        };
        let req = client
            .post(t.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", key)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body);
        let what = format!("webhook {name}");
        match req.send().await {
            Ok(resp) => classify(resp, &what).await,
            Err(e) => from_reqwest(&e, &what),
        }
    }

    async fn email(&self, out: &Outgoing, key: &str) -> DeliveryResult {
        let Some(smtp) = &self.inner.smtp else {
            return DeliveryResult::failed("email is not configured (notify.email)");
        };
        // An `InvitationEmail` is an `EmailPayload` with an optional `calendar`.
        let p: InvitationEmail = match serde_json::from_value(out.payload.clone()) {
            Ok(p) => p,
            Err(e) => return DeliveryResult::failed(format!("malformed email payload: {e}")),
        };
        let msg = match build_email(
            &p.email,
            p.calendar.as_ref(),
            &out.lead_id,
            &message_id(key, &self.inner.message_id_domain),
        ) {
            Ok(m) => m,
            Err(e) => return DeliveryResult::failed(e),
        };
        match smtp.send(msg).await {
            Ok(_) => DeliveryResult::Delivered,
            Err(e) if e.is_permanent() => {
                DeliveryResult::failed(format!("SMTP server refused the message: {e}"))
            }
            Err(e) if e.is_client() => DeliveryResult::failed(format!("SMTP client error: {e}")),
            Err(e) => DeliveryResult::retry(format!("SMTP: {e}")),
        }
    }
}

#[async_trait::async_trait]
impl Deliver for Notifier {
    async fn deliver(&self, out: &Outgoing, idempotency_key: &str) -> DeliveryResult {
        Notifier::deliver(self, out, idempotency_key).await
    }
}

/// `<lr.KEY@domain>` when the key is short and plain, else `<lr.HASH@domain>`: the same
/// key always gives the same Message-ID, so a duplicate send is detectable downstream.
pub fn message_id(key: &str, domain: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let local = if plain {
        key.to_string()
    } else {
        let h = Sha256::digest(key.as_bytes());
        h.iter().take(16).map(|b| format!("{b:02x}")).collect()
    };
    format!("<lr.{local}@{domain}>")
}

fn build_email(
    p: &EmailPayload,
    calendar: Option<&CalendarPart>,
    lead_id: &str,
    message_id: &str,
) -> Result<Message, String> {
    let from: Mailbox = p
        .from
        .parse()
        .map_err(|e| format!("bad From {:?}: {e}", p.from))?;
    let to: Mailbox =
        p.to.parse()
            .map_err(|e| format!("bad To {:?}: {e}", p.to))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(p.subject.clone())
        .message_id(Some(message_id.to_string()))
        // RFC 3834: suppresses auto-replies (out-of-office) to a machine-sent message.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-LeadRouter-Lead"),
            lead_id
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(200)
                .collect(),
        ));
    if let Some(r) = &p.reply_to {
        let r: Mailbox = r.parse().map_err(|e| format!("bad Reply-To {r:?}: {e}"))?;
        b = b.reply_to(r);
    }
    if let Some(cal) = calendar {
        return b
            .multipart(invitation_parts(p, cal)?)
            .map_err(|e| format!("could not build the email: {e}"));
    }
    match &p.html {
        None => b.header(ContentType::TEXT_PLAIN).body(p.text.clone()),
        Some(html) => b.multipart(lettre::message::MultiPart::alternative_plain_html(
            p.text.clone(),
            html.clone(),
        )),
    }
    .map_err(|e| format!("could not build the email: {e}"))
}

/// An invitation as Gmail and Outlook send and recognise it (RFC 6047 iMIP):
/// `multipart/mixed` of a `multipart/alternative` (the text, the HTML if any, and the
/// `text/calendar; method=…` part) and the same calendar as an `invite.ics` attachment.
fn invitation_parts(
    p: &EmailPayload,
    cal: &CalendarPart,
) -> Result<lettre::message::MultiPart, String> {
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let method = cal.method.trim().to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-') {
        return Err(format!("bad calendar method {:?}", cal.method));
    }
    let calendar_type =
        ContentType::parse(&format!("text/calendar; method={method}; charset=UTF-8"))
            .map_err(|e| format!("bad calendar content type: {e}"))?;
    let mut alt = MultiPart::alternative().singlepart(SinglePart::plain(p.text.clone()));
    if let Some(html) = &p.html {
        alt = alt.singlepart(SinglePart::html(html.clone()));
    }
    alt = alt.singlepart(
        SinglePart::builder()
            .header(calendar_type)
            .body(cal.ics.clone()),
    );
    let ics_type = ContentType::parse("application/ics; name=\"invite.ics\"")
        .map_err(|e| format!("bad attachment content type: {e}"))?;
    Ok(MultiPart::mixed()
        .multipart(alt)
        .singlepart(Attachment::new("invite.ics".to_string()).body(cal.ics.clone(), ics_type)))
}

/// Refuse targets that are, or resolve to, non-public addresses.
async fn check_public(url: &Url) -> Result<(), DeliveryResult> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        None => return Err(DeliveryResult::failed(format!("{url} has no host"))),
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Domain(d)) => match tokio::net::lookup_host((d, port)).await {
            Ok(a) => a.collect(),
            Err(e) => return Err(DeliveryResult::retry(format!("could not resolve {d}: {e}"))),
        },
    };
    if addrs.is_empty() {
        return Err(DeliveryResult::retry(format!(
            "{url} resolves to no address"
        )));
    }
    if let Some(ip) = first_private(&addrs) {
        debug_assert!(!is_public_ip(ip));
        return Err(DeliveryResult::failed(format!(
            "refused: {} resolves to non-public address {ip}; set allow_private = true on this webhook if that is intended",
            url.host_str().unwrap_or("?")
        )));
    }
    Ok(())
}

/// The recipient as logs show it: Slack channels and webhooks by their configured name;
/// an email address or phone number as a short hash (the same person gives the same
/// hash, so log lines can still be correlated).
fn logged_recipient(out: &Outgoing) -> String {
    match out.channel {
        Channel::Slack | Channel::Webhook { .. } => out.recipient.clone(),
        Channel::Email | Channel::Sms => {
            use sha2::Digest as _;
            let h = sha2::Sha256::digest(out.recipient.trim().to_lowercase().as_bytes());
            let hex: String = h.iter().take(4).map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    }
}

/// An error text for the logs, with the recipient's address cut out (SMTP servers echo
/// it: "550 <jane@example.com>: mailbox unavailable").
fn redact_recipient(error: &str, out: &Outgoing) -> String {
    match out.channel {
        Channel::Email | Channel::Sms if !out.recipient.trim().is_empty() => {
            error.replace(out.recipient.trim(), "<recipient>")
        }
        _ => error.to_string(),
    }
}

async fn classify(mut resp: reqwest::Response, what: &str) -> DeliveryResult {
    let status = resp.status();
    if status.is_success() {
        return DeliveryResult::Delivered;
    }
    let after = retry_after(resp.headers(), jiff::Timestamp::now());
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_LIMIT);
    let body = String::from_utf8_lossy(&body);
    let mut error = format!("{what} answered {status}");
    if !body.trim().is_empty() {
        error.push_str(": ");
        error.push_str(&crate::text::one_line(&body));
    }
    if status.is_redirection() {
        error.push_str(" (redirects are not followed)");
    }
    let transient = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.as_u16() == 425
        || status.is_server_error();
    if transient {
        DeliveryResult::Retry { after, error }
    } else {
        DeliveryResult::Failed { error }
    }
}

fn from_reqwest(e: &reqwest::Error, what: &str) -> DeliveryResult {
    if e.is_builder() {
        return DeliveryResult::failed(format!("{what}: bad request: {e}"));
    }
    let mut msg = format!("{what}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    DeliveryResult::retry(msg)
}

/// Retry-After as delta-seconds or an HTTP-date, capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
        let secs = at.duration_since(now).as_secs_f64().max(0.0);
        Duration::from_secs_f64(secs)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable() {
        assert_eq!(
            message_id("outbox-42", "n.example"),
            "<lr.outbox-42@n.example>"
        );
        let a = message_id("key with spaces/and:colons", "n.example");
        assert_eq!(a, message_id("key with spaces/and:colons", "n.example"));
        assert!(a.starts_with("<lr.") && a.len() == "<lr.@n.example>".len() + 32);
    }

    #[test]
    fn retry_after_forms() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "30".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            "Thu, 01 Jan 2026 00:02:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(RETRY_AFTER, "99999999".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(MAX_RETRY_AFTER));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }
}
