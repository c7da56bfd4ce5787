//! Standard Webhooks signing (NTF-4) and the private-address guard for webhook targets.
//!
//! Per <https://www.standardwebhooks.com/>: the secret is `whsec_` + base64 of the key
//! bytes; the signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`; the
//! `webhook-signature` header is a space-separated list of `v1,<base64 HMAC-SHA256>`.
//!
//! Webhook URLs come from config, but a receiver's DNS can point anywhere, so targets
//! are checked after resolution: every address must be public unless the webhook says
//! `allow_private = true`. The same check runs inside the HTTP client's resolver, so a
//! name cannot resolve to a public address for the check and a private one for the
//! connection.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use std::net::SocketAddr;

// The classification lives in the core so that enrichment providers apply the very same
// rules (issue 24).
pub use leadrouter_core::netguard::{first_private, is_public_ip};
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// Receivers should reject messages whose timestamp is further than this from now.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the webhook secret is not valid base64 (expected whsec_<base64>)")]
    BadSecret,
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is outside the tolerance (replay or clock skew)")]
    TimestampOutOfRange,
    #[error("no v1 signature in webhook-signature matches")]
    NoMatch,
}

/// The key bytes of a `whsec_<base64>` secret (the prefix is optional).
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let b64 = secret
        .trim()
        .strip_prefix("whsec_")
        .unwrap_or(secret.trim());
    let key = STANDARD
        .decode(b64)
        .map_err(|_| SignatureError::BadSecret)?;
    if key.is_empty() {
        return Err(SignatureError::BadSecret);
    }
    Ok(key)
}

fn mac(key: &[u8], msg_id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `webhook-signature` header value (`v1,<base64>`) for a message.
pub fn sign_webhook(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(key, msg_id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Verify a received message's signature (no timestamp check; see
/// [`verify_signature_at`]). `secret` is the `whsec_…` string the receiver was given.
pub fn verify_signature(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    signature_header: &str,
) -> Result<(), SignatureError> {
    let key = decode_secret(secret)?;
    timestamp
        .trim()
        .parse::<i64>()
        .map_err(|_| SignatureError::BadTimestamp)?;
    for sig in signature_header.split_whitespace() {
        let Some(b64) = sig.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = STANDARD.decode(b64) else {
            continue;
        };
        if mac(&key, msg_id, timestamp.trim(), body)
            .verify_slice(&tag)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::NoMatch)
}

/// [`verify_signature`] plus the replay check: the timestamp must be within `tolerance`
/// of `now`.
pub fn verify_signature_at(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    signature_header: &str,
    now: Timestamp,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = (now.as_second() - ts).unsigned_abs();
    if skew > tolerance.as_secs() {
        return Err(SignatureError::TimestampOutOfRange);
    }
    verify_signature(secret, msg_id, timestamp, body, signature_header)
}

/// A DNS resolver for reqwest that refuses names resolving to any non-public address.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(ip) = first_private(&addrs) {
                return Err(format!("{host} resolves to non-public address {ip}").into());
            }
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // From the Standard Webhooks reference test vectors.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn matches_reference_vector() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(sign_webhook(&key, ID, TS, BODY), SIG);
        assert_eq!(
            verify_signature(SECRET, ID, &TS.to_string(), BODY, SIG),
            Ok(())
        );
        // Several signatures (key rotation): any match is enough.
        let both = format!("v1,bm9wZQ== {SIG}");
        assert_eq!(
            verify_signature(SECRET, ID, &TS.to_string(), BODY, &both),
            Ok(())
        );
    }

    #[test]
    fn rejects_changes() {
        let ts = TS.to_string();
        assert_eq!(
            verify_signature(SECRET, ID, &ts, br#"{"test": 1}"#, SIG),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature(SECRET, "msg_other", &ts, BODY, SIG),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature(SECRET, ID, "1614265331", BODY, SIG),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature("whsec_***", ID, &ts, BODY, SIG),
            Err(SignatureError::BadSecret)
        );
        let now = Timestamp::from_second(TS + 600).unwrap();
        assert_eq!(
            verify_signature_at(SECRET, ID, &ts, BODY, SIG, now, DEFAULT_TOLERANCE),
            Err(SignatureError::TimestampOutOfRange)
        );
        let now = Timestamp::from_second(TS + 60).unwrap();
        assert_eq!(
            verify_signature_at(SECRET, ID, &ts, BODY, SIG, now, DEFAULT_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn guard_uses_the_shared_classifier() {
        // The probe's hole: IPv4-translated loopback passed as public.
        assert!(!is_public_ip("::ffff:0:127.0.0.1".parse().unwrap()));
        assert!(is_public_ip("93.184.216.34".parse().unwrap()));
    }
}
