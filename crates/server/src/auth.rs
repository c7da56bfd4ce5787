//! API keys. Intake keys may post leads; admin keys may do everything. Keys come from the
//! environment (`LEADROUTER_INTAKE_KEYS`, `LEADROUTER_ADMIN_KEYS`, comma-separated), are
//! kept only as SHA-256 digests and compared in constant time. Form posts are public,
//! keyed by their form key; health checks and the OpenAPI document are public.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Intake,
    Admin,
}

#[derive(Clone, Default)]
pub struct Keys {
    intake: Vec<[u8; 32]>,
    admin: Vec<[u8; 32]>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn parse(list: &str) -> Vec<[u8; 32]> {
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(digest)
        .collect()
}

impl Keys {
    pub fn new(intake: &str, admin: &str) -> Self {
        Keys {
            intake: parse(intake),
            admin: parse(admin),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.admin.is_empty()
    }

    /// The role a presented key grants, if any.
    pub fn role(&self, presented: &str) -> Option<Role> {
        let d = digest(presented);
        let matches = |set: &[[u8; 32]]| {
            set.iter()
                .fold(false, |acc, k| acc | bool::from(k.ct_eq(&d)))
        };
        if matches(&self.admin) {
            Some(Role::Admin)
        } else if matches(&self.intake) {
            Some(Role::Intake)
        } else {
            None
        }
    }
}

/// The key from `Authorization: Bearer …` or `X-Api-Key`.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(k) = v.strip_prefix("Bearer ")
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

    #[test]
    fn roles() {
        let k = Keys::new("in1, in2", "adm");
        assert_eq!(k.role("in2"), Some(Role::Intake));
        assert_eq!(k.role("adm"), Some(Role::Admin));
        assert_eq!(k.role("nope"), None);
        assert_eq!(k.role(""), None);
    }
}
