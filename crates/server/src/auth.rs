//! API keys. Intake keys may post leads; admin keys may do everything. Keys come from the
//! environment (`LEADROUTER_INTAKE_KEYS`, `LEADROUTER_ADMIN_KEYS`, comma-separated), are
//! kept only as SHA-256 digests and compared in constant time. Form posts are public,
//! keyed by their form key; health checks and the OpenAPI document are public.
//!
//! Each key has a name, which is who the audit log and lead history say acted
//! (`key:<name>`): an entry `name=key` (or `name:key`) names it; a plain key gets the
//! name `<first 6 hex digits of its SHA-256>`, which identifies it without revealing it.
//! Nothing a client sends (no `X-Actor` header) can change who a request acts as.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Intake,
    Admin,
}

/// Who a presented key is: its role and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub role: Role,
    pub name: String,
}

impl Identity {
    /// The actor recorded for what this key does.
    pub fn actor(&self) -> String {
        format!("key:{}", self.name)
    }
}

#[derive(Clone)]
struct NamedKey {
    digest: [u8; 32],
    name: String,
}

#[derive(Clone, Default)]
pub struct Keys {
    intake: Vec<NamedKey>,
    admin: Vec<NamedKey>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A key name: short, and only characters that read unambiguously in a log line.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// One list entry: `name=key` or `name:key` when what precedes the first `=` or `:` is a
/// valid name and a key follows (not starting with `=` or `:`); otherwise the whole entry
/// is the key, so a plain base64 key with its `=`/`==` padding still works as before.
fn entry(e: &str) -> NamedKey {
    match split_entry(e) {
        (Some(name), key) => NamedKey {
            digest: digest(key),
            name: name.to_string(),
        },
        (None, key) => {
            let d = digest(key);
            NamedKey {
                digest: d,
                name: hex::encode(&d[..3]),
            }
        }
    }
}

/// An entry's name (if it has one) and its key.
fn split_entry(e: &str) -> (Option<&str>, &str) {
    if let Some(i) = e.find(['=', ':']) {
        let (name, key) = (e[..i].trim(), e[i + 1..].trim());
        if is_name(name) && !key.is_empty() && !key.starts_with(['=', ':']) {
            return (Some(name), key);
        }
    }
    (None, e)
}

/// The secret of the first entry of a key list as `LEADROUTER_ADMIN_KEYS` holds it
/// (`name=key`, `name:key` or a plain key): what a client such as `leadrouter import`
/// presents when it reads the same variable as `serve`.
pub fn first_key(list: &str) -> Option<String> {
    let e = list.split(',').map(str::trim).find(|k| !k.is_empty())?;
    Some(split_entry(e).1.to_string())
}

fn parse(list: &str) -> Vec<NamedKey> {
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(entry)
        .collect()
}

impl Keys {
    /// The lists as given, unchecked (tests and benches); `serve` uses [`Keys::parse`].
    pub fn new(intake: &str, admin: &str) -> Self {
        Keys {
            intake: parse(intake),
            admin: parse(admin),
        }
    }

    /// The lists from `LEADROUTER_INTAKE_KEYS` and `LEADROUTER_ADMIN_KEYS`, refusing a
    /// name used twice (in one list or across both: the audit log could not tell the
    /// keys apart) and a key listed twice (it would act under two names or roles). The
    /// error names the variable, the entry and the name, never a key.
    pub fn parse(intake: &str, admin: &str) -> Result<Self, String> {
        let keys = Keys::new(intake, admin);
        let all = keys
            .intake
            .iter()
            .enumerate()
            .map(|(i, k)| ("LEADROUTER_INTAKE_KEYS", i + 1, k))
            .chain(
                keys.admin
                    .iter()
                    .enumerate()
                    .map(|(i, k)| ("LEADROUTER_ADMIN_KEYS", i + 1, k)),
            )
            .collect::<Vec<_>>();
        for (n, (var, entry, k)) in all.iter().enumerate() {
            for (first_var, first_entry, first) in &all[..n] {
                if first.digest == k.digest {
                    return Err(format!(
                        "{var} entry {entry} is the same key as {first_var} entry {first_entry}; list each key once, with one role"
                    ));
                }
                if first.name == k.name {
                    return Err(format!(
                        "{var} entry {entry}: the key name `{}` is already used by {first_var} entry {first_entry}; give each key its own name (`name=key`)",
                        k.name
                    ));
                }
            }
        }
        Ok(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.admin.is_empty()
    }

    /// The role a presented key grants, if any.
    pub fn role(&self, presented: &str) -> Option<Role> {
        self.identify(presented).map(|i| i.role)
    }

    /// The role and name of a presented key, if it is one. Every configured key is
    /// compared (no early exit), so timing does not tell which list or entry matched.
    pub fn identify(&self, presented: &str) -> Option<Identity> {
        let d = digest(presented);
        fn find<'k>(set: &'k [NamedKey], d: &[u8; 32]) -> Option<&'k NamedKey> {
            set.iter().fold(None, |found, k| {
                if bool::from(k.digest.ct_eq(d)) {
                    Some(k)
                } else {
                    found
                }
            })
        }
        let (admin, intake) = (find(&self.admin, &d), find(&self.intake, &d));
        admin
            .map(|k| (Role::Admin, k))
            .or(intake.map(|k| (Role::Intake, k)))
            .map(|(role, k)| Identity {
                role,
                name: k.name.clone(),
            })
    }
}

/// The key from `Authorization: Bearer …` (the scheme in any case, RFC 7235) or
/// `X-Api-Key`.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, k)) = v.trim_start().split_once([' ', '\t'])
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(k.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A random key for a demo run with no keys configured.
pub fn generate() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    format!("lr_{}", hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};

    #[test]
    fn roles() {
        let k = Keys::new("in1, in2", "adm");
        assert_eq!(k.role("in2"), Some(Role::Intake));
        assert_eq!(k.role("adm"), Some(Role::Admin));
        assert_eq!(k.role("nope"), None);
        assert_eq!(k.role(""), None);
    }

    #[test]
    fn first_key_is_the_secret_of_the_first_entry() {
        assert_eq!(first_key(" ops=adm1, other").as_deref(), Some("adm1"));
        assert_eq!(first_key("b64key==,x").as_deref(), Some("b64key=="));
        assert_eq!(first_key(" , ").as_deref(), None);
    }

    #[test]
    fn named_and_plain_keys() {
        let k = Keys::new(
            "website=s3cret, partner:p4ss",
            "ops-bot=adm1,lr_abc,b64key==",
        );
        let who = |key| k.identify(key).map(|i| (i.role, i.actor()));
        assert_eq!(who("s3cret"), Some((Role::Intake, "key:website".into())));
        assert_eq!(who("p4ss"), Some((Role::Intake, "key:partner".into())));
        assert_eq!(who("adm1"), Some((Role::Admin, "key:ops-bot".into())));
        // The name is never the key: presenting `name=key` whole is not a key.
        assert_eq!(who("website=s3cret"), None);
        assert_eq!(who("website"), None);
        let plain = hex::encode(&digest("lr_abc")[..3]);
        assert_eq!(who("lr_abc"), Some((Role::Admin, format!("key:{plain}"))));
        // Base64 padding is not a name separator.
        let padded = hex::encode(&digest("b64key==")[..3]);
        assert_eq!(
            who("b64key=="),
            Some((Role::Admin, format!("key:{padded}")))
        );
        assert_eq!(who("="), None);
    }

    #[test]
    fn a_name_or_key_listed_twice_is_refused() {
        let e = Keys::parse("website=k1", "ops=a1, ops=a2").err().unwrap();
        assert!(
            e.contains("LEADROUTER_ADMIN_KEYS entry 2") && e.contains("`ops`"),
            "{e}"
        );
        assert!(!e.contains("a1") && !e.contains("a2"), "no key in {e}");
        let e = Keys::parse("ops=k1", "ops=a1").err().unwrap();
        assert!(e.contains("LEADROUTER_INTAKE_KEYS entry 1"), "{e}");
        // The same plain key twice, or one key in both lists.
        assert!(Keys::parse("", "lr_abc, lr_abc").is_err());
        let e = Keys::parse("site=shared", "ops=shared").err().unwrap();
        assert!(e.contains("same key") && !e.contains("shared"), "{e}");
        assert!(Keys::parse("site=k1, partner=k2", "ops=a1, lr_plain").is_ok());
    }

    #[test]
    fn bearer_in_any_case() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let mut h = HeaderMap::new();
            h.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("{scheme} k1")).unwrap(),
            );
            assert_eq!(presented_key(&h), Some("k1"), "{scheme}");
        }
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic k1"));
        assert_eq!(presented_key(&h), None);
    }
}
