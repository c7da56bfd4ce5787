//! Email domains: the registrable domain of an address (sub.acme.co.uk -> acme.co.uk, from
//! the Public Suffix List via `psl`), and the shipped lists of personal (free-mail) and
//! disposable domains in `data/`, with config overrides.

use crate::text::Text;
use rustc_hash::FxHashMap;
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
    let e = parse_email_parts(input)?;
    Ok(EmailAddress {
        domain: e.domain().to_string(),
        registrable: e.registrable().to_string(),
        normalized: e.into_normalized(),
    })
}

/// [`parse_email`] without the copies: the normalised address, with the domain and the
/// registrable domain as parts of it. The address is a shared [`Text`], so the decision's
/// facts, effects and trace share it and its registrable domain ([`Text::tail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailParts {
    normalized: Text,
    domain: usize,
    registrable: Registrable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Registrable {
    /// `normalized[i..]`.
    Suffix(usize),
    /// Not a suffix of the address (only for non-ASCII domains whose lower case is not
    /// stable).
    Own(String),
}

impl EmailParts {
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    pub fn domain(&self) -> &str {
        &self.normalized[self.domain..]
    }

    pub fn registrable(&self) -> &str {
        match &self.registrable {
            Registrable::Suffix(i) => &self.normalized[*i..],
            Registrable::Own(s) => s,
        }
    }

    pub fn into_normalized(self) -> String {
        self.normalized.into()
    }

    /// The normalised address and its registrable domain, sharing one allocation when the
    /// domain is part of the address.
    pub fn into_texts(self) -> (Text, Text) {
        let registrable = match &self.registrable {
            Registrable::Suffix(i) => self.normalized.tail(*i),
            Registrable::Own(s) => Text::copy(s),
        };
        (self.normalized, registrable)
    }
}

/// An RFC 5322 name-addr as mail clients and some forms write an address:
/// `Jane Doe <jane@globex.com>`, `"Doe, Jane" <jane@globex.com>`, `<jane@globex.com>`.
/// Returns the display name (unquoted; None when empty) and the address inside the angle
/// brackets, or None when `input` is not of that form.
pub fn split_name_addr(input: &str) -> Option<(Option<String>, &str)> {
    let s = input.trim();
    let inner = s.strip_suffix('>')?;
    let open = inner.rfind('<')?;
    let addr = inner[open + 1..].trim();
    if addr.is_empty() || addr.contains(['<', '>']) {
        return None;
    }
    let name = inner[..open].trim();
    let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => name.to_string(),
    };
    let name = name.trim();
    Some(((!name.is_empty()).then(|| name.to_string()), addr))
}

/// See [`parse_email`].
pub fn parse_email_parts(input: &str) -> Result<EmailParts, &'static str> {
    let trimmed = input.trim();
    if trimmed.is_ascii() {
        parse_ascii_email(trimmed)
    } else {
        parse_any_email(trimmed)
    }
}

/// [`parse_email_parts`] of a trimmed address in any script.
fn parse_any_email(trimmed: &str) -> Result<EmailParts, &'static str> {
    let mut s = trimmed.to_lowercase();
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
    let registrable = if domain.is_ascii() {
        // Already trimmed, lower case and free of scheme, path and port: what
        // `registrable_domain` would make of it is a suffix of it.
        let d = registrable_part(domain.strip_prefix("www.").unwrap_or(domain))
            .ok_or("domain has no registrable part")?;
        Registrable::Suffix(local.len() + 1 + domain.len() - d.len())
    } else {
        Registrable::Own(registrable_domain(domain).ok_or("domain has no registrable part")?)
    };
    // The normalised address is "local@domain": the lower-cased input without the
    // domain's trailing dots.
    let end = local.len() + 1 + domain.len();
    let domain_at = local.len() + 1;
    s.truncate(end);
    let registrable = match registrable {
        Registrable::Own(r) if s.ends_with(r.as_str()) => Registrable::Suffix(end - r.len()),
        other => other,
    };
    Ok(EmailParts {
        normalized: Text::shared(s),
        domain: domain_at,
        registrable,
    })
}

/// [`parse_email_parts`] of a trimmed ASCII address: the same checks and answers, in one
/// pass over the bytes (for ASCII, `char::is_alphanumeric` is `u8::is_ascii_alphanumeric`
/// and lower case is ASCII lower case).
fn parse_ascii_email(input: &str) -> Result<EmailParts, &'static str> {
    if input.len() > 254 {
        return Err("longer than 254 characters");
    }
    let b = input.as_bytes();
    // Without the domain's trailing dots (a run of dots ends at the `@` if not before).
    let mut end = b.len();
    while end > 0 && b[end - 1] == b'.' {
        end -= 1;
    }
    // Back from the end to the last `@`, checking the domain's labels on the way; its
    // faults are reported after those of the local part, as `parse_any_email` does.
    let (mut bad, mut dots, mut label) = (false, 0u32, 0u32);
    let mut i = end;
    let at = loop {
        if i == 0 {
            // No `@` at all (the dots stripped above cannot hide one).
            return Err("no @");
        }
        i -= 1;
        match EMAIL_BYTE[b[i] as usize] {
            LABEL => label += 1,
            DOT => {
                // The label after this dot: empty (two dots in a row) or too long.
                bad |= label == 0 || label > 63;
                dots += 1;
                label = 0;
            }
            AT => break i,
            _ => bad = true,
        }
    };
    let local = &b[..at];
    if local.is_empty()
        || local
            .iter()
            .any(|&c| EMAIL_BYTE[c as usize] & (AT | SPACE) != 0)
    {
        return Err("invalid local part");
    }
    // The first label: empty (an empty domain or a leading dot) or too long; no dot at
    // all.
    if bad || label == 0 || label > 63 || dots == 0 {
        return Err("invalid domain");
    }
    // Lower-cased in the shared allocation itself (new, so not yet shared).
    let mut s: Arc<str> = Arc::from(&input[..end]);
    if let Some(s) = Arc::get_mut(&mut s) {
        s.make_ascii_lowercase();
    }
    let domain_at = at + 1;
    let d = &s[domain_at..];
    let r = registrable_part(d.strip_prefix("www.").unwrap_or(d))
        .ok_or("domain has no registrable part")?;
    let registrable = Registrable::Suffix(end - r.len());
    Ok(EmailParts {
        normalized: Text::from(s),
        domain: domain_at,
        registrable,
    })
}

/// Classes of the bytes of an ASCII address ([`parse_ascii_email`]): a letter, digit or
/// `-` (a domain label's), `.`, `@`, whitespace (as `char::is_whitespace`), else 0.
const LABEL: u8 = 1;
const DOT: u8 = 2;
const AT: u8 = 4;
const SPACE: u8 = 8;
const EMAIL_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = match c {
            b'.' => DOT,
            b'@' => AT,
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' => SPACE,
            c if c.is_ascii_alphanumeric() || c == b'-' => LABEL,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// The registrable domain ("eTLD+1") of a host name, if it has one.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = clean_host(host).to_lowercase();
    registrable_of_lowered(&host).map(str::to_string)
}

/// A host without surrounding white space and trailing dots, however they mix
/// (`"x.com . "`): both registrable-domain paths clean it this one way, so they agree
/// (the `email` fuzz target found them disagreeing on `"x.is.pm  ."`).
fn clean_host(host: &str) -> &str {
    host.trim_start()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// [`registrable_domain`] of `host`, lower-cased in `buf` when it is ASCII and fits (no
/// allocation; most hosts), else as `registrable_domain` makes it.
pub fn with_registrable_domain<R>(host: &str, f: impl FnOnce(Option<&str>) -> R) -> R {
    let host = clean_host(host);
    let mut buf = [0u8; 256];
    match buf.get_mut(..host.len()) {
        Some(b) if host.is_ascii() => {
            b.copy_from_slice(host.as_bytes());
            b.make_ascii_lowercase();
            f(std::str::from_utf8(b).ok().and_then(registrable_of_lowered))
        }
        _ => f(registrable_domain(host).as_deref()),
    }
}

/// The registrable domain of a trimmed, lower-cased host name or URL, as a part of it.
fn registrable_of_lowered(host: &str) -> Option<&str> {
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    let host = host.split(['/', ':', '?']).next().unwrap_or(host);
    let host = host.strip_prefix("www.").unwrap_or(host);
    registrable_part(host)
}

/// The registrable domain of a clean host name, as a suffix of it.
fn registrable_part(host: &str) -> Option<&str> {
    let d = psl::domain(host.as_bytes())?;
    // psl answers for unknown suffixes too (the "*" rule); we want a listed suffix.
    if !d.suffix().is_known() {
        return None;
    }
    // psl answers with a suffix of `host` (less a trailing dot): slice `host` rather than
    // validate those bytes as UTF-8 again.
    let d = d.trim().as_bytes();
    let host = host.strip_suffix('.').unwrap_or(host);
    match host.len().checked_sub(d.len()).and_then(|i| host.get(i..)) {
        Some(h) if std::ptr::eq(h.as_bytes(), d) => Some(h),
        _ => std::str::from_utf8(d).ok(),
    }
}

/// Personal and disposable domain sets: the shipped lists plus config additions and
/// removals. Shared between config versions that do not change them.
#[derive(Debug, Clone)]
pub struct DomainLists {
    /// Every shipped domain with the lists it is on (personal and/or disposable bits):
    /// one probe answers both questions. Shared by every config.
    kinds: Arc<FxHashMap<String, u8>>,
    /// The config's additions and removals on top: domain -> (bits set, bits cleared).
    changes: Arc<FxHashMap<String, (u8, u8)>>,
    personal: usize,
    disposable: usize,
}

const PERSONAL_KIND: u8 = 1;
const DISPOSABLE_KIND: u8 = 2;

fn parse_list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
}

/// The shipped lists, parsed once per process (~100k entries): constant data, shared by
/// every compiled config through `Arc`.
static SHIPPED: std::sync::LazyLock<DomainLists> = std::sync::LazyLock::new(|| {
    let mut kinds: FxHashMap<String, u8> = FxHashMap::default();
    for d in parse_list(PERSONAL) {
        *kinds.entry(d).or_default() |= PERSONAL_KIND;
    }
    for d in parse_list(DISPOSABLE) {
        *kinds.entry(d).or_default() |= DISPOSABLE_KIND;
    }
    let count = |k: u8| kinds.values().filter(|v| *v & k != 0).count();
    DomainLists {
        personal: count(PERSONAL_KIND),
        disposable: count(DISPOSABLE_KIND),
        kinds: Arc::new(kinds),
        changes: Arc::default(),
    }
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
        if extra_personal.is_empty() && not_personal.is_empty() && extra_disposable.is_empty() {
            return self;
        }
        // As applied one after the other: personal additions, personal removals (so a
        // domain in both is not personal), disposable additions.
        let mut changes = (*self.changes).clone();
        let key = |d: &String| d.trim().to_lowercase();
        for d in extra_personal {
            changes.entry(key(d)).or_default().0 |= PERSONAL_KIND;
        }
        for d in not_personal {
            let c = changes.entry(key(d)).or_default();
            c.0 &= !PERSONAL_KIND;
            c.1 |= PERSONAL_KIND;
        }
        for d in extra_disposable {
            let c = changes.entry(key(d)).or_default();
            c.0 |= DISPOSABLE_KIND;
            c.1 &= !DISPOSABLE_KIND;
        }
        // Counts: the shipped lists' (`kinds` is always theirs), adjusted by every change.
        (self.personal, self.disposable) = (SHIPPED.personal, SHIPPED.disposable);
        for (d, (set, clear)) in &changes {
            let base = self.kinds.get(d).copied().unwrap_or(0);
            let now = (base | set) & !clear;
            for (bit, n) in [
                (PERSONAL_KIND, &mut self.personal),
                (DISPOSABLE_KIND, &mut self.disposable),
            ] {
                match (base & bit != 0, now & bit != 0) {
                    (false, true) => *n += 1,
                    (true, false) => *n -= 1,
                    _ => {}
                }
            }
        }
        self.changes = Arc::new(changes);
        self
    }

    /// A consumer mailbox provider (gmail.com, yahoo.co.uk, …).
    pub fn is_personal(&self, email: &EmailAddress) -> bool {
        self.is_personal_domain(&email.domain, &email.registrable)
    }

    /// A throwaway-address service (mailinator.com, …).
    pub fn is_disposable(&self, email: &EmailAddress) -> bool {
        self.is_disposable_domain(&email.domain, &email.registrable)
    }

    /// [`Self::is_personal`] for an address's domain and registrable domain.
    pub fn is_personal_domain(&self, domain: &str, registrable: &str) -> bool {
        self.kind(domain, registrable) & PERSONAL_KIND != 0
    }

    /// [`Self::is_disposable`] for an address's domain and registrable domain.
    pub fn is_disposable_domain(&self, domain: &str, registrable: &str) -> bool {
        self.kind(domain, registrable) & DISPOSABLE_KIND != 0
    }

    /// Whether an address's domain or registrable domain is (personal, disposable).
    pub fn classify(&self, domain: &str, registrable: &str) -> (bool, bool) {
        let k = self.kind(domain, registrable);
        (k & PERSONAL_KIND != 0, k & DISPOSABLE_KIND != 0)
    }

    fn kind(&self, domain: &str, registrable: &str) -> u8 {
        let of = |d: &str| {
            let base = self.kinds.get(d).copied().unwrap_or(0);
            if self.changes.is_empty() {
                return base;
            }
            match self.changes.get(d) {
                Some((set, clear)) => (base | set) & !clear,
                None => base,
            }
        };
        if domain == registrable {
            of(domain)
        } else {
            of(domain) | of(registrable)
        }
    }

    pub fn personal_count(&self) -> usize {
        self.personal
    }

    pub fn disposable_count(&self) -> usize {
        self.disposable
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
        // Without the allocation, the same answers.
        let long = format!("{}.acme.com", "x.".repeat(130));
        for host in [
            "sub.acme.co.uk",
            " HTTPS://WWW.Initech.IO/about ",
            "http://acme.com:8080?x=1",
            "acme.com.",
            "www.co.uk",
            "localhost",
            "",
            "Ünïcode.de",
            "münchen.de",
            long.as_str(),
        ] {
            assert_eq!(
                with_registrable_domain(host, |r| r.map(str::to_string)),
                registrable_domain(host),
                "{host:?}"
            );
        }
    }

    #[test]
    fn ascii_emails_parse_as_any_email() {
        let long_label = format!("a@{}.com", "x".repeat(64));
        let ok_label = format!("a@{}.com", "x".repeat(63));
        let too_long = format!("{}@acme.com", "a".repeat(250));
        for e in [
            "Jane.Doe@Sub.Acme.co.UK",
            "a@b.com",
            "a@www.acme.com",
            "a@acme.com.",
            "a@acme.com..",
            "a@.acme.com",
            "a@acme..com",
            "a@acme",
            "a@",
            "@acme.com",
            "a@b@acme.com",
            "a b@acme.com",
            "a\x0b@acme.com",
            "a\tb@acme.com",
            "a@ac_me.com",
            "a@ac-me.com",
            "a@-.com",
            "a@acme.notatld",
            "a@com",
            "a@co.uk",
            "a@www.co.uk",
            "no-at-sign",
            "",
            "a@...",
            "a@1.2.3.4",
            "a@b.com@...",
            "@...",
            "abc...",
            "a.@",
            "a@b..com.",
            "a@acme.c\tom",
            "a@acme .com",
            "a@.",
            "..@acme.com",
            "a@acme.com\x0b",
            &long_label,
            &ok_label,
            &too_long,
        ] {
            assert_eq!(parse_ascii_email(e), parse_any_email(e), "{e:?}");
        }
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
        let shipped = DomainLists::shipped();
        assert_eq!(lists.personal_count(), shipped.personal_count());
        assert_eq!(lists.disposable_count(), shipped.disposable_count() + 1);
        assert_eq!(
            lists.classify("mail.burner.dev", "burner.dev"),
            (false, true)
        );
        assert_eq!(shipped.classify("gmail.com", "gmail.com"), (true, false));
        // Applied in order: a domain both added and removed as personal is not personal.
        let both = DomainLists::shipped().with_overrides(
            &["x-isp.net".into(), "gmail.com".into()],
            &[" X-ISP.net ".into()],
            &["gmail.com".into()],
        );
        assert_eq!(both.classify("x-isp.net", "x-isp.net"), (false, false));
        assert_eq!(both.classify("gmail.com", "gmail.com"), (true, true));
        assert_eq!(both.personal_count(), shipped.personal_count());
        assert_eq!(both.disposable_count(), shipped.disposable_count() + 1);
    }
}
