//! Email domains: the registrable domain of an address (sub.acme.co.uk -> acme.co.uk, from
//! the Public Suffix List via `psl`), and the shipped lists of personal (free-mail) and
//! disposable domains in `data/`, with config overrides.

use std::collections::HashSet;
use std::sync::Arc;

const PERSONAL: &str = include_str!("../../../data/personal_domains.txt");
const DISPOSABLE: &str = include_str!("../../../data/disposable_domains.txt");

/// A parsed email address: lower-cased, with its registrable domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    pub normalized: String,
    pub domain: String,
    pub registrable: String,
}

/// Parse an address strictly enough to trust its domain: one `@`, a non-empty local part,
/// a domain with a public suffix. Returns a reason when it cannot be used.
pub fn parse_email(input: &str) -> Result<EmailAddress, &'static str> {
    let s = input.trim().to_lowercase();
    if s.len() > 254 {
        return Err("longer than 254 characters");
    }
    let (local, domain) = s.rsplit_once('@').ok_or("no @")?;
    if local.is_empty() || local.contains('@') || local.contains(char::is_whitespace) {
        return Err("invalid local part");
    }
    let domain = domain.trim_end_matches('.');
    if domain.is_empty()
        || !domain.contains('.')
        || domain
            .chars()
            .any(|c| !(c.is_alphanumeric() || c == '-' || c == '.'))
        || domain.split('.').any(|l| l.is_empty() || l.len() > 63)
    {
        return Err("invalid domain");
    }
    let registrable = registrable_domain(domain).ok_or("domain has no registrable part")?;
    Ok(EmailAddress {
        normalized: format!("{local}@{domain}"),
        domain: domain.to_string(),
        registrable,
    })
}

/// The registrable domain ("eTLD+1") of a host name, if it has one.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_lowercase();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(&host);
    let host = host.split(['/', ':', '?']).next().unwrap_or(host);
    let host = host.strip_prefix("www.").unwrap_or(host);
    let d = psl::domain_str(host)?;
    // psl answers for unknown suffixes too (the "*" rule); we want a listed suffix.
    let suffix = psl::suffix(host.as_bytes())?;
    if !suffix.is_known() {
        return None;
    }
    Some(d.to_string())
}

/// Personal and disposable domain sets: the shipped lists plus config additions and
/// removals. Shared between config versions that do not change them.
#[derive(Debug, Clone)]
pub struct DomainLists {
    personal: Arc<HashSet<String>>,
    disposable: Arc<HashSet<String>>,
}

fn parse_list(text: &str) -> HashSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
}

/// The shipped lists, parsed once per process (~100k entries): constant data, shared by
/// every compiled config through `Arc`.
static SHIPPED: std::sync::LazyLock<DomainLists> = std::sync::LazyLock::new(|| DomainLists {
    personal: Arc::new(parse_list(PERSONAL)),
    disposable: Arc::new(parse_list(DISPOSABLE)),
});

impl DomainLists {
    pub fn shipped() -> Self {
        SHIPPED.clone()
    }

    pub fn with_overrides(
        mut self,
        extra_personal: &[String],
        not_personal: &[String],
        extra_disposable: &[String],
    ) -> Self {
        if !extra_personal.is_empty() || !not_personal.is_empty() {
            let mut p = (*self.personal).clone();
            p.extend(extra_personal.iter().map(|d| d.trim().to_lowercase()));
            for d in not_personal {
                p.remove(&d.trim().to_lowercase());
            }
            self.personal = Arc::new(p);
        }
        if !extra_disposable.is_empty() {
            let mut d = (*self.disposable).clone();
            d.extend(extra_disposable.iter().map(|d| d.trim().to_lowercase()));
            self.disposable = Arc::new(d);
        }
        self
    }

    /// A consumer mailbox provider (gmail.com, yahoo.co.uk, …).
    pub fn is_personal(&self, email: &EmailAddress) -> bool {
        self.personal.contains(&email.domain) || self.personal.contains(&email.registrable)
    }

    /// A throwaway-address service (mailinator.com, …).
    pub fn is_disposable(&self, email: &EmailAddress) -> bool {
        self.disposable.contains(&email.domain) || self.disposable.contains(&email.registrable)
    }

    pub fn personal_count(&self) -> usize {
        self.personal.len()
    }

    pub fn disposable_count(&self) -> usize {
        self.disposable.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        assert_eq!(
            registrable_domain("sub.acme.co.uk").as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(
            registrable_domain("eu.mail.globex.com").as_deref(),
            Some("globex.com")
        );
        assert_eq!(
            registrable_domain("https://www.initech.io/about").as_deref(),
            Some("initech.io")
        );
        assert_eq!(registrable_domain("localhost"), None);
        assert_eq!(registrable_domain("foo.notarealtld"), None);
    }

    #[test]
    fn emails() {
        let e = parse_email(" Jane.Doe@Sales.Acme.co.uk ").unwrap();
        assert_eq!(e.normalized, "jane.doe@sales.acme.co.uk");
        assert_eq!(e.registrable, "acme.co.uk");
        assert!(parse_email("not-an-email").is_err());
        assert!(parse_email("a@b").is_err());
        assert!(parse_email("@acme.com").is_err());
        assert!(parse_email("a b@acme.com").is_err());
    }

    #[test]
    fn shipped_lists_hold_real_entries() {
        let lists = DomainLists::shipped();
        assert!(lists.personal_count() > 3000, "{}", lists.personal_count());
        assert!(
            lists.disposable_count() > 3000,
            "{}",
            lists.disposable_count()
        );
        for d in [
            "gmail.com",
            "yahoo.co.uk",
            "outlook.com",
            "gmx.de",
            "qq.com",
        ] {
            let e = parse_email(&format!("x@{d}")).unwrap();
            assert!(lists.is_personal(&e), "{d} should be personal");
            assert!(!lists.is_disposable(&e), "{d} should not be disposable");
        }
        for d in ["mailinator.com", "yopmail.com", "guerrillamail.com"] {
            let e = parse_email(&format!("x@{d}")).unwrap();
            assert!(lists.is_disposable(&e), "{d} should be disposable");
        }
        let corp = parse_email("x@globex.com").unwrap();
        assert!(!lists.is_personal(&corp) && !lists.is_disposable(&corp));
    }

    #[test]
    fn overrides() {
        let lists = DomainLists::shipped().with_overrides(
            &["example-isp.net".into()],
            &["gmail.com".into()],
            &["burner.dev".into()],
        );
        assert!(lists.is_personal(&parse_email("a@example-isp.net").unwrap()));
        assert!(!lists.is_personal(&parse_email("a@gmail.com").unwrap()));
        assert!(lists.is_disposable(&parse_email("a@burner.dev").unwrap()));
    }
}
