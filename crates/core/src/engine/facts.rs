//! The lead as the engine sees it: normalised fields (email and registrable domain,
//! segment, industry, country, region, state, postal code), intent, ICP fit, score and
//! tier (TIER-1..3), and the junk check (VAL-2). Matrix values went through the same
//! normalisers when the config was compiled.

use super::{RoutingInput, cat};
use crate::config::{CompiledConfig, Intent, Tier};
use crate::domains::parse_email_parts;
use crate::lead::{Enrichment, FieldIssue, Lead, parse_employees};
use crate::normalize::postal;
use crate::text::Text;
use crate::trace::*;
use smallvec::SmallVec;

/// `haystack.contains(needle)` for the short texts and keywords of scoring, without the
/// set-up of the general substring search: the first two bytes are checked before the
/// rest is compared, byte by byte (keywords are a few bytes; a `memcmp` call per position
/// whose first byte matched cost more than the comparison).
fn has_word(haystack: &str, bytes: &ByteSet, needle: &str, needle_bytes: &[u64; 4]) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    // Most keywords have a byte the text lacks: no scan for those.
    if !bytes.has_all(needle_bytes) {
        return false;
    }
    match n {
        [] => true,
        _ if n.len() > h.len() => false,
        [a] => h.contains(a),
        [a, b, rest @ ..] => h
            .windows(n.len())
            .any(|w| w[0] == *a && w[1] == *b && w[2..].iter().zip(rest).all(|(x, y)| x == y)),
    }
}

/// The bytes that occur in a text, to rule out keywords before searching for them.
struct ByteSet([u64; 4]);

impl ByteSet {
    fn of(s: &str) -> ByteSet {
        ByteSet(crate::normalize::byte_set(s))
    }

    /// Whether every byte of `set` (a [`crate::normalize::byte_set`]) is in this one.
    fn has_all(&self, set: &[u64; 4]) -> bool {
        (0..4).all(|i| set[i] & !self.0[i] == 0)
    }
}

/// Whether `s` is its own lower case (ASCII without capitals).
fn is_lower_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase())
}

/// Call `f` with `s` in lower case: `s` itself when it already is, lower-cased on the
/// stack when it is short ASCII, else in a new string.
fn with_lowercase<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    const N: usize = 128;
    if is_lower_ascii(s) {
        return f(s);
    }
    if !s.is_ascii() || s.len() > N {
        return f(&s.to_lowercase());
    }
    let mut buf = [0u8; N];
    let buf = &mut buf[..s.len()];
    buf.copy_from_slice(s.as_bytes());
    buf.make_ascii_lowercase();
    // ASCII in, ASCII out.
    f(std::str::from_utf8(buf).unwrap_or_default())
}

/// Normalise the lead and its enrichment into the facts rules are matched on, and score
/// it. Also returns the index of the lead's segment.
pub(super) fn normalize(
    cfg: &CompiledConfig,
    input: &RoutingInput,
    f: &mut Facts,
) -> Option<usize> {
    let lead = input.lead;
    let enr = input.enrichment;
    if let Some(raw) = &lead.email {
        match parse_email_parts(raw) {
            Ok(e) => {
                (f.personal_email, f.disposable_email) =
                    cfg.domains.classify(e.domain(), e.registrable());
                if f.personal_email {
                    f.company_domain_by = company_domain_by(cfg, enr, e.registrable());
                    f.personal_email = f.company_domain_by.is_none();
                }
                let (email, domain) = e.into_texts();
                f.email_domain = Some(domain);
                f.email = Some(email);
            }
            Err(why) => f.issues.push(FieldIssue::new(
                "email",
                format!("not a usable address: {why}"),
            )),
        }
    }
    f.company = lead
        .company
        .clone()
        .or_else(|| enr.and_then(|e| e.company.clone()));
    if let Some(e) = enr {
        f.enrichment_sources = e.sources.clone();
        f.enrichment_failures = e.failures.clone();
    }

    // Firmographics: the provider's figure beats what the visitor typed.
    let source = |field: &str| -> Text {
        match enr.and_then(|e| e.sources.get(field)) {
            Some(p) => cat(&["enrichment:", p]).into(),
            None => "enrichment".into(),
        }
    };
    if let Some(n) = enr.and_then(|e| e.employees) {
        f.employees = Some(n);
        f.employees_source = Some(source("employees"));
    } else if let Some(raw) = &lead.employees {
        match parse_employees(raw) {
            Some(n) => {
                f.employees = Some(n);
                f.employees_source = Some("form".into());
            }
            None => f.issues.push(FieldIssue::new(
                "employees",
                format!("`{raw}` is not a number of employees"),
            )),
        }
    }
    let segment = f.employees.and_then(|n| cfg.segment_index(n));
    f.segment = segment.map(|i| cfg.text.segment[i].clone());
    if let Some(i) = enr
        .and_then(|e| e.industry.as_deref())
        .and_then(|i| cfg.normalize_industry(i))
    {
        f.industry = Some(i);
        f.industry_source = Some(source("industry"));
    } else if let Some(i) = lead
        .industry
        .as_deref()
        .and_then(|i| cfg.normalize_industry(i))
    {
        f.industry = Some(i);
        f.industry_source = Some("form".into());
    }

    // Geography: the form's country, else the enriched HQ.
    let mut country = None;
    if let Some(c) = &lead.country {
        match cfg.geo.country(c) {
            Some(a2) => country = Some(a2),
            None => f.issues.push(FieldIssue::new(
                "country",
                format!("`{c}` is not a known country"),
            )),
        }
    }
    if country.is_none() {
        country = enr
            .and_then(|e| e.country.as_deref())
            .and_then(|c| cfg.geo.country(c));
    }
    f.country = country.map(Text::from_static);
    f.region = country.and_then(|c| cfg.geo.region_text(c));
    let state = lead
        .state
        .as_deref()
        .or_else(|| enr.and_then(|e| e.state.as_deref()));
    f.state = state.map(|s| match country.and_then(|c| cfg.geo.subdivision(c, s)) {
        Some(code) => Text::from_static(code),
        None => s.trim().to_uppercase().into(),
    });
    f.postal_code = lead
        .zip
        .as_deref()
        .map(postal)
        .filter(|p| !p.is_empty())
        .map(|mut p| {
            // US ZIP+4 ("10017-1234") matches rules written for the 5-digit ZIP.
            if country == Some("US") && p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()) {
                p.truncate(5);
            }
            p
        });
    f.product = lead.product.as_deref().and_then(|p| cfg.text.token(p));
    f.lead_source = lead.lead_source.as_deref().and_then(|s| cfg.text.token(s));
    f.action = lead.action.as_deref().and_then(|a| cfg.text.token(a));

    // TIER-1 intent, TIER-2 fit and score, TIER-3 tier.
    let intent = f
        .action
        .as_deref()
        .and_then(|a| cfg.intent.get(a).copied())
        .unwrap_or(Intent::Low);
    f.intent = Some(intent);
    let icp = &cfg.icp;
    let listed = |l: &[String], v: Option<&str>| v.is_some_and(|v| l.iter().any(|x| x == v));
    f.icp_fit = listed(&icp.segments, f.segment.as_deref())
        && icp
            .industries
            .as_ref()
            .is_none_or(|l| listed(l, f.industry.as_deref()))
        && icp
            .regions
            .as_ref()
            .is_none_or(|l| listed(l, f.region.as_deref()))
        && icp
            .countries
            .as_ref()
            .is_none_or(|l| listed(l, f.country.as_deref()));
    // Points by rule, with the labels the config prepared ("segment enterprise", …).
    let sc = &cfg.scoring;
    let tx = &cfg.text;
    let mut parts = Vec::with_capacity(6);
    for (value, rules) in [
        (f.segment.as_deref(), &tx.score_segment),
        (f.industry.as_deref(), &tx.score_industry),
        (f.action.as_deref(), &tx.score_action),
    ] {
        if let Some((points, label)) = value.and_then(|v| rules.get(v)) {
            parts.push(ScorePart {
                label: label.clone(),
                points: *points,
            });
        }
    }
    if let Some(title) = &lead.title
        && !sc.title.is_empty()
    {
        with_lowercase(title, |t| {
            let bytes = ByteSet::of(t);
            for (((words, p), labels), masks) in sc
                .title
                .iter()
                .zip(&tx.score_title)
                .zip(&tx.score_title_bytes)
            {
                if let Some(i) = words
                    .iter()
                    .zip(masks)
                    .position(|(w, m)| has_word(t, &bytes, w, m))
                {
                    parts.push(ScorePart {
                        label: labels[i].clone(),
                        points: *p,
                    });
                }
            }
        });
    }
    if !sc.page.is_empty() && !lead.page_history.is_empty() {
        // Per group, the first keyword found on any page: the least, over the pages, of
        // the first found on each (each page lower-cased on the stack in turn).
        let mut first: SmallVec<[usize; 8]> = smallvec::smallvec![usize::MAX; sc.page.len()];
        for page in &lead.page_history {
            with_lowercase(page, |pg| {
                let bytes = ByteSet::of(pg);
                for (((words, _), masks), best) in sc
                    .page
                    .iter()
                    .zip(&tx.score_page_bytes)
                    .zip(first.iter_mut())
                {
                    let before = &words[..(*best).min(words.len())];
                    if let Some(i) = before
                        .iter()
                        .zip(masks)
                        .position(|(w, m)| has_word(pg, &bytes, w, m))
                    {
                        *best = i;
                    }
                }
            });
        }
        for (((_, p), labels), &i) in sc.page.iter().zip(&tx.score_page).zip(&first) {
            if i != usize::MAX {
                parts.push(ScorePart {
                    label: labels[i].clone(),
                    points: *p,
                });
            }
        }
    }
    if f.icp_fit && sc.icp_fit != 0 {
        parts.push(ScorePart {
            label: "ICP fit".into(),
            points: sc.icp_fit,
        });
    }
    f.score = parts.iter().map(|p| p.points).sum();
    f.score_parts = parts;
    f.tier = Some(match (intent, f.icp_fit) {
        (Intent::High, true) => Tier::Hot,
        (Intent::Medium, true) | (Intent::High, false) => Tier::Warm,
        _ => Tier::Standard,
    });
    // Said directly by the admin: the first `[[tier_by_action]]` entry that applies.
    if !cfg.tier_by_action.is_empty()
        && let Some(t) = cfg
            .tier_by_action
            .iter()
            .find(|t| t.applies(f.action.as_deref(), f.segment.as_deref()))
    {
        f.tier = Some(t.tier);
        f.tier_by = Some(t.label.clone());
    }
    segment
}

/// Whether the company's own data names a domain the free-mail list holds: an account
/// with that domain, or an enrichment provider (a firmographic file, the CRM; not the
/// local signals, which only echo the email) that answered for it. Such a domain is a
/// company's, whatever the shipped list says.
fn company_domain_by(
    cfg: &CompiledConfig,
    enr: Option<&Enrichment>,
    registrable: &str,
) -> Option<Text> {
    if cfg.account_by_domain.contains_key(registrable) {
        return Some("account".into());
    }
    let e = enr?;
    let provider = e.sources.get("domain")?;
    if provider == "signals" || provider.starts_with("signal") {
        return None;
    }
    let same = e
        .domain
        .as_deref()
        .is_some_and(|d| crate::domains::with_registrable_domain(d, |r| r == Some(registrable)));
    same.then(|| cat(&["enrichment:", provider]).into())
}

const FAKE_WORDS: &[&str] = &[
    "test", "testing", "asdf", "asdfgh", "qwerty", "qwer", "foo", "bar", "foobar", "xxx", "aaa",
    "abc", "abcd", "none", "na", "n/a", "fake", "dummy", "sample", "noname", "nobody",
];
const FAKE_DOMAINS: &[&str] = &[
    "test.com",
    "test.de",
    "example.com",
    "example.org",
    "example.net",
    "asdf.com",
    "email.tst",
    "fake.com",
    "domain.com",
    "qwerty.com",
];

/// A placeholder value: a test word, or one character repeated (3+ times), in any case.
fn is_fake_value(v: &str) -> bool {
    let v = crate::normalize::trim(v);
    if v.is_ascii() {
        // FAKE_WORDS are ASCII lower case: comparing without case is comparing the
        // lower-cased value.
        let b = v.as_bytes();
        FAKE_WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
            || (b.len() >= 3 && b.iter().all(|c| c.eq_ignore_ascii_case(&b[0])))
    } else {
        let v = v.to_lowercase();
        FAKE_WORDS.contains(&v.as_str())
            || (v.chars().count() >= 3 && v.chars().all(|c| v.starts_with(c)))
    }
}

/// VAL-2: a reason the lead is junk, or None.
pub(super) fn junk_reason(
    cfg: &CompiledConfig,
    lead: &Lead,
    enr: Option<&Enrichment>,
    f: &Facts,
) -> Option<String> {
    if let Some(v) = lead.fields.get(&cfg.routing.honeypot_field)
        && !crate::normalize::trim(v).is_empty()
    {
        return Some(format!(
            "honeypot field `{}` was filled",
            cfg.routing.honeypot_field
        ));
    }
    if let Some(r) = enr.and_then(|e| e.junk_reason.clone()) {
        return Some(r);
    }
    if f.disposable_email {
        return Some(cat(&[
            "disposable email domain ",
            f.email_domain.as_deref().unwrap_or("?"),
        ]));
    }
    if let Some(email) = &f.email {
        let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
        if FAKE_DOMAINS.contains(&domain) {
            return Some(cat(&["test email address ", email]));
        }
        if FAKE_WORDS.contains(&local) && FAKE_WORDS.iter().any(|w| domain.starts_with(w)) {
            return Some(cat(&["test email address ", email]));
        }
    }
    let fakes = [&lead.first_name, &lead.last_name, &lead.company]
        .iter()
        .filter(|s| s.as_deref().is_some_and(is_fake_value))
        .count();
    // One odd field could be real ("Bar" is a surname); two is a test submission.
    if fakes >= 2 {
        return Some("obvious test values in name/company".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_word_is_contains() {
        let hay = [
            "",
            "a",
            "vp sales",
            "/pricing/enterprise",
            "head of it",
            "ünïcode vp",
            "aaab",
        ];
        let words = [
            "", "a", "vp", "vp ", "/pricing", "head of", "it", "ï", "aab", "b", "zz",
        ];
        for h in hay {
            for w in words {
                assert_eq!(
                    has_word(h, &ByteSet::of(h), w, &crate::normalize::byte_set(w)),
                    h.contains(w),
                    "{h:?} {w:?}"
                );
            }
        }
    }

    #[test]
    fn fake_values_as_before() {
        let old = |v: &str| {
            let v = v.trim().to_lowercase();
            FAKE_WORDS.contains(&v.as_str())
                || (v.chars().count() >= 3 && v.chars().all(|c| v.starts_with(c)))
        };
        for v in [
            "", "Test", " N/A ", "aaa", "AaA", "aa", "Bar", "Smith", "ZZZZ", "ÄÄÄ", "ääÄ", "Tést",
            "xXx", "abcd", "ABCDE",
        ] {
            assert_eq!(is_fake_value(v), old(v), "{v:?}");
        }
    }

    #[test]
    fn with_lowercase_is_to_lowercase() {
        let long = "X".repeat(200);
        for s in [
            "/pricing",
            "/Pricing",
            "ÜBER",
            "über",
            "",
            "VP of Data & Analytics",
            &long,
        ] {
            assert_eq!(with_lowercase(s, str::to_string), s.to_lowercase());
        }
        let s = "/docs";
        assert!(with_lowercase(s, |t| std::ptr::eq(t, s)));
    }
}
