//! Signed accept / contacted links (SLA-1): a rep acts on a lead from the notification
//! without logging in.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, "leadrouter-link-v2." payload))`
//! with `payload = "<action>.<expires unix seconds>.<base64url(owner)>.<lead id>"`. The
//! lead id comes last so it may contain dots. The MAC is checked (in constant time) before
//! anything in the payload is trusted, and expiry after that.
//!
//! The token names the rep it was sent to: a link is only good while that rep still owns
//! the lead, so a previous owner's link cannot accept the lead (and stop the SLA ladder)
//! for whoever owns it now. The caller checks that against the stored owner.
//!
//! Mail scanners and chat unfurlers fetch links before people click them, so the endpoint
//! that receives a token should answer GET with a confirmation page and act on POST.

use crate::config::{ConfigErrors, NotifyConfig, problem};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const DOMAIN: &[u8] = b"leadrouter-link-v2.";
/// Longest token accepted; anything longer is rejected before decoding.
pub const MAX_TOKEN_LEN: usize = 2048;
/// Shortest link secret accepted from the environment, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    Accept,
    Contacted,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Accept => "accept",
            LinkAction::Contacted => "contacted",
        }
    }

    pub fn parse(s: &str) -> Option<LinkAction> {
        match s {
            "accept" => Some(LinkAction::Accept),
            "contacted" => Some(LinkAction::Contacted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match (altered, or signed with another key)")]
    BadSignature,
    #[error("the link expired at {0}")]
    Expired(Timestamp),
}

fn mac(secret: &[u8], payload: &[u8]) -> HmacSha256 {
    mac_in(DOMAIN, secret, payload)
}

fn mac_in(domain: &[u8], secret: &[u8], payload: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(domain);
    m.update(payload);
    m
}

/// What a verified token says: act on `lead_id` as `owner` (empty when the lead had no
/// owner when the link was made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaim {
    pub lead_id: String,
    pub owner: String,
    pub action: LinkAction,
}

/// Sign a link token for `action` on `lead_id` by `owner`, valid until `expires`.
pub fn sign_link(
    secret: &[u8],
    lead_id: &str,
    owner: &str,
    action: LinkAction,
    expires: Timestamp,
) -> String {
    let payload = format!(
        "{}.{}.{}.{}",
        action.as_str(),
        expires.as_second(),
        URL_SAFE_NO_PAD.encode(owner.as_bytes()),
        lead_id
    );
    let tag = mac(secret, payload.as_bytes()).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Check a token's signature and expiry at `now`; returns what it claims.
pub fn verify_link(secret: &[u8], token: &str, now: Timestamp) -> Result<LinkClaim, LinkError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(LinkError::Malformed);
    }
    let (p64, t64) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p64)
        .map_err(|_| LinkError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(t64)
        .map_err(|_| LinkError::Malformed)?;
    mac(secret, &payload)
        .verify_slice(&tag)
        .map_err(|_| LinkError::BadSignature)?;
    let payload = String::from_utf8(payload).map_err(|_| LinkError::Malformed)?;
    let mut parts = payload.splitn(4, '.');
    let action = parts
        .next()
        .and_then(LinkAction::parse)
        .ok_or(LinkError::Malformed)?;
    let expires = parts
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok())
        .ok_or(LinkError::Malformed)?;
    let owner = parts
        .next()
        .and_then(|o| URL_SAFE_NO_PAD.decode(o).ok())
        .and_then(|o| String::from_utf8(o).ok())
        .ok_or(LinkError::Malformed)?;
    let lead_id = parts.next().ok_or(LinkError::Malformed)?;
    if now >= expires {
        return Err(LinkError::Expired(expires));
    }
    Ok(LinkClaim {
        lead_id: lead_id.to_string(),
        owner,
        action,
    })
}

/// The three links a notification carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LeadLinks {
    pub record: String,
    pub accept: Option<String>,
    pub contacted: Option<String>,
}

/// Builds record and signed action URLs from the `[notify]` config and the link secret.
#[derive(Clone)]
pub struct LinkSigner {
    base_url: String,
    record_path: String,
    link_path: String,
    ttl: SignedDuration,
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("base_url", &self.base_url)
            .field("ttl", &self.ttl)
            .field("secret", &self.secret.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl LinkSigner {
    /// Resolve `link_secret_env` through `env` (e.g. `|k| std::env::var(k).ok()`).
    /// Without `link_secret_env` the signer makes record links only.
    pub fn new(
        cfg: &NotifyConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LinkSigner, ConfigErrors> {
        let secret = match &cfg.link_secret_env {
            None => None,
            Some(var) => match env(var) {
                Some(s) if s.len() >= MIN_SECRET_LEN => Some(s.into_bytes()),
                Some(s) => {
                    return Err(cfg.located(vec![problem(
                        "notify.link_secret_env",
                        var.to_string(),
                        format!(
                            "${var} is {} bytes; at least {MIN_SECRET_LEN} are needed",
                            s.len()
                        ),
                        format!("export {var}=$(openssl rand -base64 48)"),
                    )]));
                }
                None => {
                    return Err(cfg.located(vec![problem(
                        "notify.link_secret_env",
                        var.to_string(),
                        format!("environment variable {var} is not set"),
                        format!(
                            "export {var}=$(openssl rand -base64 48), or remove link_secret_env to send no accept/contacted links"
                        ),
                    )]));
                }
            },
        };
        Ok(LinkSigner {
            base_url: cfg.base_url.clone(),
            record_path: cfg.record_path.clone(),
            link_path: cfg.link_path.clone(),
            ttl: cfg.link_ttl,
            secret,
        })
    }

    /// A signer with an explicit key (tests, tools).
    pub fn with_secret(cfg: &NotifyConfig, secret: &[u8]) -> LinkSigner {
        LinkSigner {
            base_url: cfg.base_url.clone(),
            record_path: cfg.record_path.clone(),
            link_path: cfg.link_path.clone(),
            ttl: cfg.link_ttl,
            secret: Some(secret.to_vec()),
        }
    }

    /// Record link and, with a secret, accept/contacted links for `owner` valid for the
    /// configured TTL.
    pub fn links(&self, lead_id: &str, owner: &str, now: Timestamp) -> LeadLinks {
        let id = percent_encode_segment(lead_id);
        let record = format!(
            "{}{}",
            self.base_url,
            self.record_path.replace("{lead_id}", &id)
        );
        let expires = now.saturating_add(self.ttl).unwrap_or(Timestamp::MAX);
        let link = |action| {
            self.secret.as_ref().map(|s| {
                let token = sign_link(s, lead_id, owner, action, expires);
                format!(
                    "{}{}",
                    self.base_url,
                    self.link_path.replace("{token}", &token)
                )
            })
        };
        LeadLinks {
            record,
            accept: link(LinkAction::Accept),
            contacted: link(LinkAction::Contacted),
        }
    }

    /// `base_url` of `[notify]`: where the links point.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sign `payload` for another kind of link (e.g. the booking pages) under a domain of
    /// its own, so no such token is ever an accept/contacted token or the reverse:
    /// `base64url(payload) "." base64url(HMAC(key, domain payload))`. None without a
    /// secret.
    pub fn sign_with(&self, domain: &[u8], payload: &str) -> Option<String> {
        let s = self.secret.as_ref()?;
        let tag = mac_in(domain, s, payload.as_bytes())
            .finalize()
            .into_bytes();
        Some(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// The payload of a token made by [`LinkSigner::sign_with`] with `domain`, once its
    /// MAC is checked (constant time).
    pub fn verify_with(&self, domain: &[u8], token: &str) -> Result<String, LinkError> {
        let s = self.secret.as_ref().ok_or(LinkError::BadSignature)?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(LinkError::Malformed);
        }
        let (p64, t64) = token.split_once('.').ok_or(LinkError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(p64)
            .map_err(|_| LinkError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(t64)
            .map_err(|_| LinkError::Malformed)?;
        mac_in(domain, s, &payload)
            .verify_slice(&tag)
            .map_err(|_| LinkError::BadSignature)?;
        String::from_utf8(payload).map_err(|_| LinkError::Malformed)
    }

    /// Verify a token taken from a link built by [`LinkSigner::links`].
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<LinkClaim, LinkError> {
        match &self.secret {
            Some(s) => verify_link(s, token, now),
            None => Err(LinkError::BadSignature),
        }
    }
}

fn percent_encode_segment(s: &str) -> String {
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

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip() {
        let tok = sign_link(
            KEY,
            "lead.42",
            "rep.7",
            LinkAction::Accept,
            t("2026-01-02T00:00:00Z"),
        );
        assert!(
            tok.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(
            verify_link(KEY, &tok, t("2026-01-01T00:00:00Z")),
            Ok(LinkClaim {
                lead_id: "lead.42".to_string(),
                owner: "rep.7".to_string(),
                action: LinkAction::Accept
            })
        );
    }

    #[test]
    fn expired_tampered_or_wrong_key() {
        let exp = t("2026-01-02T00:00:00Z");
        let tok = sign_link(KEY, "L1", "ann", LinkAction::Contacted, exp);
        assert_eq!(
            verify_link(KEY, &tok, t("2026-01-02T00:00:00Z")),
            Err(LinkError::Expired(exp))
        );
        let other = sign_link(KEY, "L2", "ann", LinkAction::Contacted, exp);
        // The same lead for another rep is another token.
        assert_ne!(tok, sign_link(KEY, "L1", "ben", LinkAction::Contacted, exp));
        // Payload of one token with the tag of another.
        let forged = format!(
            "{}.{}",
            tok.split('.').next().unwrap(),
            other.split('.').nth(1).unwrap()
        );
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!(verify_link(KEY, &forged, now), Err(LinkError::BadSignature));
        assert_eq!(
            verify_link(b"another key, also thirty-two byt", &tok, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(verify_link(KEY, "nodot", now), Err(LinkError::Malformed));
        assert_eq!(verify_link(KEY, "!!.!!", now), Err(LinkError::Malformed));
        assert_eq!(
            verify_link(KEY, &"a".repeat(MAX_TOKEN_LEN + 1), now),
            Err(LinkError::Malformed)
        );
    }

    #[test]
    fn signer_builds_urls() {
        let cfg = NotifyConfig::default();
        let s = LinkSigner::with_secret(&cfg, KEY);
        let now = t("2026-01-01T00:00:00Z");
        let l = s.links("a b/c", "ann", now);
        assert_eq!(l.record, "http://127.0.0.1:8080/console/leads/a%20b%2Fc");
        let accept = l.accept.unwrap();
        let token = accept.rsplit('/').next().unwrap();
        assert_eq!(
            s.verify(token, now),
            Ok(LinkClaim {
                lead_id: "a b/c".to_string(),
                owner: "ann".to_string(),
                action: LinkAction::Accept
            })
        );
        assert!(matches!(
            s.verify(token, now + SignedDuration::from_hours(24 * 8)),
            Err(LinkError::Expired(_))
        ));
    }

    #[test]
    fn tokens_of_another_domain_are_not_links() {
        let cfg = NotifyConfig::default();
        let s = LinkSigner::with_secret(&cfg, KEY);
        let now = t("2026-01-01T00:00:00Z");
        let tok = s
            .sign_with(b"leadrouter-book-v1.", "book.1767225600.L1")
            .unwrap();
        assert_eq!(
            s.verify_with(b"leadrouter-book-v1.", &tok).as_deref(),
            Ok("book.1767225600.L1")
        );
        assert_eq!(s.verify_with(b"other.", &tok), Err(LinkError::BadSignature));
        assert_eq!(s.verify(&tok, now), Err(LinkError::BadSignature));
        let accept = s.links("L1", "ann", now).accept.unwrap();
        let token = accept.rsplit('/').next().unwrap();
        assert_eq!(
            s.verify_with(b"leadrouter-book-v1.", token),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn secret_from_env_is_checked() {
        let cfg = NotifyConfig {
            link_secret_env: Some("LINK_KEY".into()),
            ..NotifyConfig::default()
        };
        let e = LinkSigner::new(&cfg, &|_| None).unwrap_err();
        assert!(e.to_string().contains("LINK_KEY is not set"), "{e}");
        let e = LinkSigner::new(&cfg, &|_| Some("short".into())).unwrap_err();
        assert!(e.to_string().contains("at least 32"), "{e}");
        assert!(LinkSigner::new(&cfg, &|_| Some("x".repeat(40))).is_ok());
    }
}
