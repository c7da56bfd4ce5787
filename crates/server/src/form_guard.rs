//! Abuse limits of the public form endpoint (`POST /v1/forms/{key}`, issue 24 item 5):
//! rate limits per form, per client address and per submitted email, and the bot check's
//! signed form tokens. The form handler asks [`FormGuard`] before anything is stored;
//! the redirect and field checks live in `intake`.
//!
//! Limits are GCRA (governor): each allows a burst of its full count, then refills
//! evenly over its period. The keyed tables are bounded: past [`MAX_KEYS`] entries the
//! stale ones are dropped, and while a table is still full new senders are refused
//! rather than let memory grow. IPv6 clients are keyed by their /64, emails by a keyed
//! hash (the address itself is not held).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use leadrouter_core::config::{Form, FormLimits};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most entries one keyed table holds (per form, per dimension).
pub const MAX_KEYS: usize = 100_000;
/// How long a form token stays valid after it was issued.
pub const TOKEN_TTL_SECS: i64 = 24 * 3600;
/// Environment variable holding the form-token key (≥ 32 bytes).
pub const SECRET_ENV: &str = "LEADROUTER_FORM_SECRET";

type HmacSha256 = hmac::Hmac<hmac_sha2::Sha256>;

/// A post over a limit: which one, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub message: String,
    pub retry_after_secs: u64,
}

/// The outcome of the bot check: `None` passes; `Some(reason)` sends the lead to junk.
pub type BotVerdict = Option<String>;

/// One form's limiters, rebuilt when a reload changes its limits.
struct FormLimiters {
    limits: FormLimits,
    form: Option<governor::DefaultDirectRateLimiter>,
    address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    email: Option<DefaultKeyedRateLimiter<u64>>,
}

fn quota(count: u32, period: Duration) -> Option<Quota> {
    let n = NonZeroU32::new(count)?;
    Quota::with_period(period / count).map(|q| q.allow_burst(n))
}

impl FormLimiters {
    fn new(limits: FormLimits) -> FormLimiters {
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        FormLimiters {
            limits,
            form: quota(limits.per_minute, minute).map(RateLimiter::direct),
            address: quota(limits.per_address_per_hour, hour).map(RateLimiter::keyed),
            email: quota(limits.per_email_per_hour, hour).map(RateLimiter::keyed),
        }
    }
}

/// The rate limiters of every form and the token key; one per process.
pub struct FormGuard {
    forms: Mutex<HashMap<String, Arc<FormLimiters>>>,
    secret: Vec<u8>,
    hasher: RandomState,
    clock: DefaultClock,
}

impl FormGuard {
    /// With the token key from [`SECRET_ENV`]; without it, a random key for this process
    /// (tokens then do not survive a restart or work across instances: set it when
    /// several instances serve forms or any form uses `min_fill_secs`).
    pub fn from_env() -> anyhow::Result<FormGuard> {
        let secret = match std::env::var(SECRET_ENV) {
            Ok(s) if s.len() >= 32 => s.into_bytes(),
            Ok(_) => anyhow::bail!("{SECRET_ENV} must be at least 32 bytes"),
            Err(_) => {
                use rand::Rng;
                let mut k = vec![0u8; 32];
                rand::rng().fill(&mut k[..]);
                k
            }
        };
        Ok(FormGuard::with_secret(secret))
    }

    pub fn with_secret(secret: Vec<u8>) -> FormGuard {
        FormGuard {
            forms: Mutex::new(HashMap::new()),
            secret,
            hasher: RandomState::new(),
            clock: DefaultClock::default(),
        }
    }

    fn limiters(&self, form: &Form) -> Arc<FormLimiters> {
        let mut forms = self.forms.lock().unwrap_or_else(|e| e.into_inner());
        match forms.get(&form.key) {
            Some(l) if l.limits == form.limits => l.clone(),
            _ => {
                let l = Arc::new(FormLimiters::new(form.limits));
                forms.insert(form.key.clone(), l.clone());
                l
            }
        }
    }

    fn wait(&self, not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
        not_until.wait_time_from(self.clock.now()).as_secs().max(1)
    }

    /// Count a post from `client` against the form's own and the per-address limit.
    /// Called before the body is parsed.
    pub fn admit(&self, form: &Form, client: Option<IpAddr>) -> Result<(), Limited> {
        let l = self.limiters(form);
        if let (Some(lim), Some(ip)) = (&l.address, client) {
            let key = address_key(ip);
            check_keyed(lim, &key).map_err(|w| Limited {
                message: format!(
                    "too many posts to form `{}` from your address (limit {} per hour); try again later",
                    form.key, l.limits.per_address_per_hour
                ),
                retry_after_secs: w.map_or(3600, |w| self.wait(&w)),
            })?;
        }
        if let Some(lim) = &l.form {
            lim.check().map_err(|w| Limited {
                message: format!(
                    "form `{}` is taking too many posts (limit {} per minute); try again shortly",
                    form.key, l.limits.per_minute
                ),
                retry_after_secs: self.wait(&w),
            })?;
        }
        Ok(())
    }

    /// Count a post for `email` (as submitted) against the per-email limit: one address
    /// cannot be sent confirmations over and over.
    pub fn admit_email(&self, form: &Form, email: &str) -> Result<(), Limited> {
        let l = self.limiters(form);
        let Some(lim) = &l.email else { return Ok(()) };
        let key = self.hasher.hash_one(email.trim().to_lowercase());
        check_keyed(lim, &key).map_err(|w| Limited {
            message: format!(
                "too many posts to form `{}` for this email address (limit {} per hour); try again later",
                form.key, l.limits.per_email_per_hour
            ),
            retry_after_secs: w.map_or(3600, |w| self.wait(&w)),
        })
    }

    fn signature(&self, form_key: &str, issued: i64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(format!("leadrouter-form-token|{form_key}|{issued}").as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A token for `form`, issued `now`: `ISSUED.SIGNATURE` (unix seconds, HMAC-SHA256
    /// over the form key and the time). It proves when the form was loaded.
    pub fn token(&self, form: &Form, now: Timestamp) -> String {
        let issued = now.as_second();
        format!("{issued}.{}", self.signature(&form.key, issued))
    }

    /// The bot check (when the form sets `min_fill_secs`): a valid token for this form,
    /// issued at least `min_fill_secs` and at most a day before `now`. A failure is a
    /// reason to route the lead to junk, never to drop it.
    pub fn bot_check(&self, form: &Form, token: Option<&str>, now: Timestamp) -> BotVerdict {
        if form.min_fill_secs == 0 {
            return None;
        }
        let fetch = format!("fetch one from GET /v1/forms/{}/token", form.key);
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Some(format!(
                "bot check: the post carried no form token ({fetch})"
            ));
        };
        let parsed = token
            .split_once('.')
            .and_then(|(t, sig)| Some((t.parse::<i64>().ok()?, sig)));
        let Some((issued, sig)) = parsed else {
            return Some("bot check: the form token is malformed".into());
        };
        let expected = self.signature(&form.key, issued);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            sig.as_bytes(),
        )) {
            return Some("bot check: the form token is not valid for this form".into());
        }
        let age = now.as_second() - issued;
        if age < i64::from(form.min_fill_secs) {
            return Some(format!(
                "bot check: posted {age} s after the form was loaded (minimum {} s)",
                form.min_fill_secs
            ));
        }
        if age > TOKEN_TTL_SECS {
            return Some(format!(
                "bot check: the form token expired ({fetch} when the page loads)"
            ));
        }
        None
    }
}

/// IPv4 addresses as they are; IPv6 by /64 (one subscriber's network); IPv4-mapped IPv6
/// as IPv4.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Check `key`, keeping the table within [`MAX_KEYS`]: `Err(None)` when it is full of
/// senders still inside their window.
fn check_keyed<K: std::hash::Hash + Eq + Clone>(
    lim: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Option<governor::NotUntil<<DefaultClock as Clock>::Instant>>> {
    if lim.len() >= MAX_KEYS {
        lim.retain_recent();
        if lim.len() >= MAX_KEYS {
            return Err(None);
        }
    }
    lim.check_key(key).map_err(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(min_fill_secs: u32, limits: FormLimits) -> Form {
        Form {
            key: "demo".into(),
            name: "Demo".into(),
            lead_source: None,
            action: None,
            product: None,
            return_hosts: vec![],
            limits,
            min_fill_secs,
            confirmation: true,
        }
    }

    #[test]
    fn limits_per_address_form_and_email() {
        let g = FormGuard::with_secret(vec![1; 32]);
        let f = form(
            0,
            FormLimits {
                per_minute: 5,
                per_address_per_hour: 3,
                per_email_per_hour: 2,
            },
        );
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::ffff".parse().unwrap();
        for _ in 0..3 {
            g.admit(&f, Some(a)).unwrap();
        }
        let e = g.admit(&f, Some(a)).unwrap_err();
        assert!(e.message.contains("your address"), "{e:?}");
        assert!(e.retry_after_secs >= 1);
        g.admit(&f, Some(b)).unwrap();
        g.admit(&f, Some(b2)).unwrap();
        // Same /64: the third post from that network is over.
        g.admit(&f, Some(b)).unwrap_err();
        // Five admitted so far (3 + 2): the form's own limit is reached for everyone.
        let c: IpAddr = "198.51.100.1".parse().unwrap();
        let e = g.admit(&f, Some(c)).unwrap_err();
        assert!(e.message.contains("per minute"), "{e:?}");
        g.admit_email(&f, "Jo@x.example").unwrap();
        g.admit_email(&f, " jo@X.example").unwrap();
        g.admit_email(&f, "jo@x.example").unwrap_err();
        g.admit_email(&f, "other@x.example").unwrap();
    }

    #[test]
    fn zero_means_no_limit() {
        let g = FormGuard::with_secret(vec![1; 32]);
        let f = form(
            0,
            FormLimits {
                per_minute: 0,
                per_address_per_hour: 0,
                per_email_per_hour: 0,
            },
        );
        for _ in 0..1000 {
            g.admit(&f, Some("203.0.113.7".parse().unwrap())).unwrap();
            g.admit_email(&f, "a@b.example").unwrap();
        }
    }

    #[test]
    fn tokens_prove_the_fill_time() {
        let g = FormGuard::with_secret(vec![2; 32]);
        let f = form(3, FormLimits::default());
        let t0: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let tok = g.token(&f, t0);
        let at = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
        assert_eq!(g.bot_check(&f, Some(&tok), at(3)), None);
        assert!(
            g.bot_check(&f, Some(&tok), at(1))
                .unwrap()
                .contains("posted 1 s")
        );
        assert!(
            g.bot_check(&f, None, at(5))
                .unwrap()
                .contains("no form token")
        );
        assert!(
            g.bot_check(&f, Some("x"), at(5))
                .unwrap()
                .contains("malformed")
        );
        let forged = format!("{}.{}", t0.as_second() - 60, tok.split_once('.').unwrap().1);
        assert!(
            g.bot_check(&f, Some(&forged), at(5))
                .unwrap()
                .contains("not valid")
        );
        assert!(
            g.bot_check(&f, Some(&tok), at(TOKEN_TTL_SECS + 1))
                .unwrap()
                .contains("expired")
        );
        let mut other = f.clone();
        other.key = "other".into();
        assert!(
            g.bot_check(&other, Some(&tok), at(5)).is_some(),
            "bound to its form"
        );
        // Another process with another key does not accept it.
        let h = FormGuard::with_secret(vec![3; 32]);
        assert!(h.bot_check(&f, Some(&tok), at(5)).is_some());
        // Off: anything passes.
        assert_eq!(
            g.bot_check(&form(0, FormLimits::default()), None, at(0)),
            None
        );
    }
}
