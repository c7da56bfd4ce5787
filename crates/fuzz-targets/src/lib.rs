//! The bodies of leadrouter's fuzz targets: every parser that reads text from outside —
//! lead JSON, Web-to-Lead forms, CSV imports, the config file and its two spreadsheets,
//! email addresses and domains, signed link tokens, reps' calendar feeds, Salesforce
//! Outbound Messages — fed arbitrary bytes.
//!
//! Each function takes `&[u8]`, never returns an error, and panics only when an invariant
//! breaks: the parser panicked, an output exceeded its documented bound, or a round trip
//! that should hold did not. Two callers share them so that what the fuzzer explores and
//! what CI checks are the same code: `fuzz/` (cargo-fuzz, libFuzzer, needs
//! `RUSTC_BOOTSTRAP=1` on a stable toolchain) and `tests/corpus.rs` (stable `cargo test`:
//! the committed corpus plus a fixed-seed batch of mutated inputs). docs/security.md
//! "Continuous assurance" has the commands and the last long run.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use leadrouter_calendar::{Calendar, CalendarError, Interval, ParseOptions};
use leadrouter_core::config::{Form, LoadError, SourceText, compile, tables};
use leadrouter_core::domains::{parse_email, registrable_domain, with_registrable_domain};
use leadrouter_core::lead::{Lead, MAX_PAGES, field_limit};
use leadrouter_crm::salesforce::outbound::{
    self, MAX_FIELDS, MAX_NOTIFICATIONS, MAX_OUTBOUND_BYTES, MAX_VALUE_BYTES, OutboundError,
};
use leadrouter_notify::links::{LinkAction, LinkError, MAX_TOKEN_LEN, sign_link, verify_link};
use leadrouter_server::intake::{self, CsvRow};
use serde_json::Value;
use std::cell::RefCell;

/// A target: its name (the directory under `fuzz/corpus/` and the cargo-fuzz binary) and
/// its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order the docs list them.
pub const TARGETS: &[Target] = &[
    ("lead_json", lead_json),
    ("form", form),
    ("csv_import", csv_import),
    ("config", config),
    ("matrix_csv", matrix_csv),
    ("accounts_csv", accounts_csv),
    ("email", email),
    ("link_token", link_token),
    ("ics", ics),
    ("salesforce_outbound", salesforce_outbound),
];

/// Every text field of a lead is trimmed, non-empty and within its limit
/// (`lead::field_limit`, in characters); at most `MAX_PAGES` pages. What the engine, the
/// store and the templates rely on.
fn assert_lead_bounded(lead: &Lead) {
    let texts = [
        ("first_name", &lead.first_name),
        ("last_name", &lead.last_name),
        ("email", &lead.email),
        ("company", &lead.company),
        ("title", &lead.title),
        ("phone", &lead.phone),
        ("country", &lead.country),
        ("state", &lead.state),
        ("zip", &lead.zip),
        ("lead_source", &lead.lead_source),
        ("action", &lead.action),
        ("employees", &lead.employees),
        ("industry", &lead.industry),
        ("product", &lead.product),
        ("description", &lead.description),
    ];
    for (field, t) in texts {
        if let Some(t) = t {
            assert_text_bounded(field, t);
        }
    }
    assert!(
        lead.page_history.len() <= MAX_PAGES,
        "page_history not capped"
    );
    for p in &lead.page_history {
        assert_text_bounded("page_history[]", p);
    }
    for v in lead.fields.values() {
        assert_text_bounded("custom", v);
    }
}

fn assert_text_bounded(field: &str, t: &str) {
    let limit = field_limit(field);
    assert!(
        t.chars().count() <= limit,
        "{field}: {} characters kept (limit {limit})",
        t.chars().count()
    );
    assert!(!t.is_empty(), "an empty field kept");
    assert_eq!(t.trim(), t, "a field kept with surrounding white space");
}

/// `Lead::from_json` over any JSON value: never panics, keeps fields bounded, and reading
/// the lead it returns (as the API would echo it) gives the same lead with no issues.
pub fn lead_json(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok((lead, _issues)) = Lead::from_json(&value) else {
        assert!(!value.is_object(), "an object refused");
        return;
    };
    assert_lead_bounded(&lead);
    let echoed = serde_json::to_value(&lead).expect("a lead serialises");
    let (again, issues) = Lead::from_json(&echoed).expect("a serialised lead is an object");
    assert_eq!(again, lead, "reading a lead back changed it");
    assert!(issues.is_empty(), "reading a lead back reported {issues:?}");
}

fn demo_form() -> Form {
    Form {
        key: "fuzz".into(),
        name: "Fuzz form".into(),
        lead_source: Some("Web".into()),
        action: None,
        product: Some("Analytics".into()),
        return_hosts: vec!["northwind.example".into(), "www.northwind.example".into()],
        limits: Default::default(),
        min_fill_secs: 0,
        confirmation: true,
    }
}

/// The Web-to-Lead form decoder: never panics, the lead is the payload's reading and
/// bounded, and a `retURL` kept is one the form's check allows.
pub fn form(data: &[u8]) {
    let form = demo_form();
    let decoded = intake::from_form(data, &form);
    assert_lead_bounded(&decoded.lead);
    let (lead, _) = Lead::from_json(&decoded.payload).expect("the payload is an object");
    assert_eq!(lead, decoded.lead, "the lead is not its payload's reading");
    if let Some(url) = &decoded.return_url {
        assert!(url.len() <= 2048, "a {} byte retURL kept", url.len());
        assert!(
            !url.chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace()),
            "a retURL with a backslash, control character or white space kept: {url:?}"
        );
        assert!(
            intake::return_target(url, &form).is_some(),
            "a kept retURL is refused when checked again: {url:?}"
        );
    }
    let _ = intake::validate(&decoded.lead);
}

/// The CSV list import: never panics; every lead row is reachable (email or phone) and
/// bounded, and every reported line exists in the upload.
pub fn csv_import(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = line_count(&text);
    let Ok(rows) = intake::parse_csv(&text, 0) else {
        return;
    };
    let records = record_bound(&text);
    assert!(
        rows.len() <= records,
        "{} rows from {records} records",
        rows.len()
    );
    for row in &rows {
        match row {
            CsvRow::Lead { line, lead, .. } => {
                assert!(
                    *line >= 1 && *line <= lines as u64,
                    "lead row at line {line}"
                );
                assert_lead_bounded(lead);
                assert!(intake::validate(lead).is_ok(), "an invalid lead row");
            }
            CsvRow::Error { line, errors } => {
                assert!(*line <= lines as u64, "error row at line {line}");
                assert!(!errors.is_empty(), "an error row without errors");
            }
        }
    }
}

/// Lines in `text` as an editor counts them (a last line without `\n` counts), at least 1.
fn line_count(text: &str) -> usize {
    text.lines().count().max(1) + usize::from(text.ends_with('\n'))
}

/// Most records a CSV text can hold: the csv crate also ends a record at a lone `\r`
/// (old Mac line ends), which `str::lines` does not count.
fn record_bound(text: &str) -> usize {
    let b = text.as_bytes();
    let lone_cr = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\r' && b.get(i + 1) != Some(&b'\n'));
    text.matches('\n').count() + lone_cr.count() + 1
}

/// Files in a config input: the TOML text, then any number of `\0NAME\nBODY` files the
/// config may name (`matrix_csv = "NAME"`). The seeds are the demo config with its CSVs.
fn split_files(data: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let toml = parts.next().unwrap_or("").to_string();
    let files = parts
        .map(|p| {
            let (name, body) = p.split_once('\n').unwrap_or((p, ""));
            (name.to_string(), body.to_string())
        })
        .collect();
    (toml, files)
}

/// The config compiler over TOML text and the CSVs it names: never panics, every error
/// points at a line that exists, and compiling the same text twice gives the same version.
pub fn config(data: &[u8]) {
    let (toml, files) = split_files(data);
    let read_rel = |rel: &str| match files.iter().find(|(n, _)| n == rel) {
        Some((n, body)) => Ok(SourceText::new(n.clone(), body.clone())),
        None => Err(LoadError::Io {
            path: rel.to_string(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }),
    };
    let run = || compile::compile(SourceText::new("fuzz.toml", toml.clone()), &read_rel);
    match run() {
        Ok(cfg) => {
            assert!(
                cfg.version.starts_with("sha256:"),
                "version {}",
                cfg.version
            );
            let again = run().expect("the same text compiled once");
            assert_eq!(again.version, cfg.version, "compiling is not deterministic");
        }
        Err(LoadError::Invalid(errors)) => {
            assert!(!errors.is_empty(), "refused without an error");
            for e in &errors {
                let body = if e.file == "fuzz.toml" {
                    Some(toml.as_str())
                } else {
                    files
                        .iter()
                        .find(|(n, _)| *n == e.file)
                        .map(|(_, b)| b.as_str())
                };
                if let (Some(line), Some(body)) = (e.line, body) {
                    let lines = line_count(body);
                    assert!(
                        line >= 1 && line <= lines,
                        "{e} (the file has {lines} lines)"
                    );
                }
                let _ = e.to_string();
            }
        }
        Err(LoadError::Io { .. }) => {}
    }
}

/// The matrix spreadsheet: never panics; every rule has an id; rules and errors name
/// lines that exist.
pub fn matrix_csv(data: &[u8]) {
    let src = SourceText::new("matrix.csv", String::from_utf8_lossy(data));
    let lines = line_count(&src.text);
    match tables::read_matrix(&src) {
        Ok(rules) => {
            let records = record_bound(&src.text);
            assert!(
                rules.len() <= records,
                "{} rules from {records} records",
                rules.len()
            );
            for r in &rules {
                assert!(
                    r.line >= 1 && r.line <= lines,
                    "rule {} at line {}",
                    r.id,
                    r.line
                );
                // An empty route_to is the compiler's error (it names the rule); an empty
                // id is the reader's.
                assert!(!r.id.is_empty(), "a rule without an id");
            }
        }
        Err(errors) => assert_errors_in(&errors, lines),
    }
}

/// The accounts spreadsheet: never panics; accounts and errors name lines that exist.
pub fn accounts_csv(data: &[u8]) {
    let src = SourceText::new("accounts.csv", String::from_utf8_lossy(data));
    let lines = line_count(&src.text);
    match tables::read_accounts(&src) {
        Ok(accounts) => {
            let records = record_bound(&src.text);
            assert!(
                accounts.len() <= records,
                "{} accounts from {records} records",
                accounts.len()
            );
            // The domain is checked by the compiler (a public suffix, no duplicates).
            for a in &accounts {
                assert!(a.line >= 1 && a.line <= lines, "account at line {}", a.line);
            }
        }
        Err(errors) => assert_errors_in(&errors, lines),
    }
}

fn assert_errors_in(errors: &[leadrouter_core::config::ConfigError], lines: usize) {
    assert!(!errors.is_empty(), "refused without an error");
    for e in errors {
        if let Some(line) = e.line {
            assert!(
                line >= 1 && line <= lines,
                "{e} (the file has {lines} lines)"
            );
        }
    }
}

/// The email parser and the registrable-domain lookup: never panic; an accepted address
/// is at most 254 bytes, its domain and registrable domain are suffixes of it, and
/// parsing the normalised address again gives the same result. The two registrable-domain
/// implementations (allocating and buffer-based) agree on every host.
pub fn email(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(e) = parse_email(&text) {
        let n = e.normalized.as_str();
        assert!(n.len() <= 254, "a {} byte address accepted", n.len());
        assert!(
            n.ends_with(&format!("@{}", e.domain)),
            "{n}: domain {}",
            e.domain
        );
        assert!(!e.registrable.is_empty(), "{n}: no registrable domain");
        if e.domain.is_ascii() {
            assert!(e.domain.ends_with(&e.registrable), "{n}: {}", e.registrable);
        }
        let again = parse_email(n).expect("a normalised address parses");
        assert_eq!(again, e, "normalising is not idempotent");
    }
    let host = text.rsplit('@').next().unwrap_or("");
    let owned = registrable_domain(host);
    with_registrable_domain(host, |r| {
        assert_eq!(
            r,
            owned.as_deref(),
            "the two registrable-domain paths disagree"
        );
    });
}

/// The secret the link target signs with: long enough for the service to accept it.
const LINK_SECRET: &[u8] = b"fuzz-link-secret-0123456789abcdef";
/// The MAC's domain separator, as `leadrouter_notify::links` writes it. Kept here so the
/// target can sign arbitrary payloads and reach the code behind the MAC check; if the
/// scheme changes, `link_token` fails on its seeds until this follows.
const LINK_DOMAIN: &[u8] = b"leadrouter-link-v2.";

fn link_now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).expect("a valid instant")
}

/// The signed-link decoder, three ways: the input as a token (refused, since it cannot
/// carry a valid MAC); the input as a payload signed with the real scheme (whatever it
/// claims round-trips through `sign_link`); and the input as a lead id and owner signed by
/// `sign_link` (verifies to exactly that).
pub fn link_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let now = link_now();
    assert!(
        verify_link(LINK_SECRET, &text, now).is_err() || signed_by_us(&text),
        "an unsigned token accepted"
    );

    let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(LINK_SECRET).expect("any key");
    m.update(LINK_DOMAIN);
    m.update(data);
    let token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(data),
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    );
    match verify_link(LINK_SECRET, &token, now) {
        Ok(claim) => {
            assert!(token.len() <= MAX_TOKEN_LEN, "an over-long token accepted");
            assert!(
                claim.lead_id.len() <= data.len(),
                "a lead id longer than its token"
            );
            let expires = parse_expiry(data).expect("an accepted payload has an expiry");
            let resigned = sign_link(
                LINK_SECRET,
                &claim.lead_id,
                &claim.owner,
                claim.action,
                expires,
            );
            assert_eq!(
                verify_link(LINK_SECRET, &resigned, now),
                Ok(claim),
                "re-signing"
            );
        }
        Err(LinkError::BadSignature) => panic!("a correctly signed payload refused as forged"),
        Err(LinkError::Malformed | LinkError::Expired(_)) => {}
    }

    let (lead_id, owner) = text.split_once('\n').unwrap_or((&text, ""));
    let action = if data.first().is_some_and(|b| b & 1 == 1) {
        LinkAction::Contacted
    } else {
        LinkAction::Accept
    };
    let expires = now + jiff::SignedDuration::from_hours(1);
    let token = sign_link(LINK_SECRET, lead_id, owner, action, expires);
    match verify_link(LINK_SECRET, &token, now) {
        Ok(claim) => {
            assert_eq!(
                (claim.lead_id.as_str(), claim.owner.as_str()),
                (lead_id, owner)
            );
            assert_eq!(claim.action, action);
            assert!(verify_link(b"another-secret-0123456789abcdef!", &token, now).is_err());
            assert!(
                verify_link(LINK_SECRET, &token, expires).is_err(),
                "expired accepted"
            );
        }
        Err(LinkError::Malformed) => assert!(token.len() > MAX_TOKEN_LEN, "own token refused"),
        Err(e) => panic!("a token sign_link made refused: {e}"),
    }
}

/// Whether `token`'s MAC is ours (only the signing paths above make such tokens).
fn signed_by_us(token: &str) -> bool {
    let Some((p, t)) = token.split_once('.') else {
        return false;
    };
    let (Ok(p), Ok(t)) = (URL_SAFE_NO_PAD.decode(p), URL_SAFE_NO_PAD.decode(t)) else {
        return false;
    };
    let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(LINK_SECRET).expect("any key");
    m.update(LINK_DOMAIN);
    m.update(&p);
    m.verify_slice(&t).is_ok()
}

fn parse_expiry(payload: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(payload).ok()?;
    let secs = s.split('.').nth(1)?.parse::<i64>().ok()?;
    Timestamp::from_second(secs).ok()
}

/// The week the calendar target asks about: from Monday 23 March 2026, 00:00 UTC, across
/// Europe's change to summer time on the 29th (the corpus feeds' dates).
fn ics_week() -> (DateTime<Utc>, DateTime<Utc>) {
    let from = DateTime::from_timestamp(1_774_224_000, 0).expect("a valid instant");
    (from, from + chrono::Duration::days(7))
}

/// The calendar feed parser (`Calendar::parse` with the default options), the input read
/// as UTF-8 lossily (the service refuses a feed that is not UTF-8 before parsing it, so
/// every text it parses is one of these). Never panics; an error names a line the feed
/// has; a parsed feed holds at most `max_events` events and at most one warning per byte.
/// Its busy time over a week is inside the week, each block non-empty, sorted, merged
/// (neither overlapping nor touching); over a window longer than `max_window` it stops
/// `max_window` after the start; over an empty window it is empty. Out-of-office periods
/// overlap the week, are non-empty, sorted and without duplicates, and the one
/// `out_of_office_at` returns covers the instant asked.
///
/// Time is not asserted here (`fuzz/run-all.sh` gives libFuzzer a `-timeout`). The step
/// budget bounds the instances a query walks, not rrule's search between two of them (up
/// to 100,000 periods), so a rule that never matches costs milliseconds per event per
/// query whatever the budget (docs/security.md, "Continuous assurance").
pub fn ics(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let opts = ParseOptions::default();
    let limits = &opts.limits;
    let cal = match Calendar::parse(&text, &opts) {
        Ok(cal) => cal,
        Err(e) => {
            match &e {
                CalendarError::TooLarge { bytes, max } => {
                    assert!(*bytes == text.len() && *bytes > *max, "{e}")
                }
                CalendarError::TooManyEvents { max } => assert_eq!(*max, limits.max_events),
                CalendarError::Malformed { line, .. } => {
                    let lines = text.split('\n').count();
                    assert!(
                        *line >= 1 && *line <= lines,
                        "{e} (the feed has {lines} lines)"
                    );
                }
                CalendarError::NotICalendar => {}
                CalendarError::BadPattern(_) => panic!("the default title pattern refused: {e}"),
            }
            let _ = e.to_string();
            return;
        }
    };
    assert!(
        cal.event_count() <= limits.max_events,
        "{} events kept (limit {})",
        cal.event_count(),
        limits.max_events
    );
    // Not a documented bound, a sanity one: every warning is about a piece of the feed
    // (an event, a value, a zone name), so there are never more warnings than bytes.
    assert!(
        cal.warnings().len() <= text.len(),
        "{} warnings from {} bytes",
        cal.warnings().len(),
        text.len()
    );

    let (from, to) = ics_week();
    assert_busy(&cal.busy(from, to), from, to);
    let cut = from + limits.max_window;
    let long = cal.busy(from, cut + chrono::Duration::days(7));
    assert_busy(&long, from, cut);
    assert!(
        cal.busy(to, from).is_empty(),
        "busy time in an empty window"
    );

    let ooo = cal.out_of_office(from, to);
    for o in &ooo {
        let i = o.interval;
        assert!(i.start < i.end, "an empty out-of-office period {i:?}");
        assert!(
            i.start < to && i.end > from,
            "{i:?} does not overlap [{from}, {to})"
        );
    }
    for w in ooo.windows(2) {
        assert!(
            (w[0].interval, &w[0].title) < (w[1].interval, &w[1].title),
            "out-of-office periods not sorted or repeated: {:?}",
            &w
        );
    }
    let now = from + chrono::Duration::hours(84);
    if let Some(o) = cal.out_of_office_at(now, chrono::Duration::days(30)) {
        assert!(
            o.interval.start <= now && now < o.interval.end,
            "out of office at {now}: {:?}",
            o.interval
        );
    }
}

/// Busy blocks as `Calendar::busy` documents them: inside `[from, to)`, non-empty, sorted,
/// merged (a gap between any two).
fn assert_busy(busy: &[Interval], from: DateTime<Utc>, to: DateTime<Utc>) {
    for i in busy {
        assert!(i.start < i.end, "an empty busy block {i:?}");
        assert!(
            i.start >= from && i.end <= to,
            "{i:?} outside [{from}, {to})"
        );
    }
    for w in busy.windows(2) {
        assert!(
            w[0].end < w[1].start,
            "busy blocks not sorted and merged: {:?}",
            &w
        );
    }
}

thread_local! {
    /// A body one byte over `MAX_OUTBOUND_BYTES`, all spaces: each input is copied to its
    /// front, checked, and wiped again (a fresh 2 MiB body per execution would cost more
    /// than the parse).
    static OVERSIZED: RefCell<Vec<u8>> = RefCell::new(vec![b' '; MAX_OUTBOUND_BYTES + 1]);
}

/// The Salesforce Outbound Message parser (`salesforce::outbound::parse`). Never panics;
/// a body over `MAX_OUTBOUND_BYTES` (the input padded with spaces past it) is `TooLarge`
/// and one within it never is; a DOCTYPE declaration is never accepted. A parsed message
/// came from UTF-8 and has 1 to `MAX_NOTIFICATIONS` notifications; every value (ids,
/// URLs, fields) is within `MAX_VALUE_BYTES`, the message's own values are trimmed and a
/// session id is never empty; every notification has an id, an sObject `Id`, at most
/// `MAX_FIELDS` fields, and a `record()` with exactly its fields.
pub fn salesforce_outbound(data: &[u8]) {
    let parsed = outbound::parse(data);
    if data.len() > MAX_OUTBOUND_BYTES {
        assert_eq!(parsed, Err(OutboundError::TooLarge), "an over-long body");
        return;
    }
    assert_ne!(
        parsed,
        Err(OutboundError::TooLarge),
        "a {} byte body refused as too large",
        data.len()
    );
    OVERSIZED.with_borrow_mut(|big| {
        big[..data.len()].copy_from_slice(data);
        let r = outbound::parse(big);
        big[..data.len()].fill(b' ');
        assert_eq!(r, Err(OutboundError::TooLarge), "an over-long body");
    });
    let m = match parsed {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert!(
        !doctype_in_markup(data),
        "a message with a DOCTYPE declaration accepted"
    );
    assert!(
        std::str::from_utf8(data).is_ok(),
        "a non-UTF-8 body accepted"
    );
    assert!(
        !m.notifications.is_empty() && m.notifications.len() <= MAX_NOTIFICATIONS,
        "{} notifications",
        m.notifications.len()
    );
    let own = [
        ("OrganizationId", Some(&m.organization_id)),
        ("ActionId", Some(&m.action_id)),
        ("SessionId", m.session_id.as_ref()),
        ("EnterpriseUrl", Some(&m.enterprise_url)),
        ("PartnerUrl", Some(&m.partner_url)),
    ];
    for (name, v) in own {
        if let Some(v) = v {
            assert_value_bounded(name, v);
            assert_eq!(v.trim(), v, "{name} kept with surrounding white space");
        }
    }
    if let Some(s) = &m.session_id {
        assert!(!s.is_empty(), "an empty SessionId kept");
    }
    for n in &m.notifications {
        assert!(!n.id.is_empty(), "a notification without an id");
        assert_value_bounded("Notification/Id", &n.id);
        assert!(
            n.fields.contains_key("Id"),
            "notification {} has no sObject Id",
            n.id
        );
        assert!(
            n.fields.len() <= MAX_FIELDS,
            "{} fields kept (limit {MAX_FIELDS})",
            n.fields.len()
        );
        for (k, v) in &n.fields {
            assert_value_bounded(k, v);
        }
        let record = n.record();
        assert!(
            record.len() == n.fields.len()
                && record
                    .iter()
                    .zip(&n.fields)
                    .all(|((rk, rv), (k, v))| rk == k && rv.as_str() == Some(v)),
            "record() is not the notification's fields"
        );
    }
}

fn assert_value_bounded(name: &str, v: &str) {
    assert!(
        v.len() <= MAX_VALUE_BYTES,
        "{name}: a {} byte value kept (limit {MAX_VALUE_BYTES})",
        v.len()
    );
}

/// Whether `xml` has a `<!DOCTYPE` where markup starts, which quick-xml reads as a
/// document type declaration (in any case: `<!doctype` too). Not inside a comment, a
/// CDATA section, a processing instruction or a tag (an attribute value): there it is
/// text, and a message may carry it (`<![CDATA[<!DOCTYPE html>…]]>` in a field).
fn doctype_in_markup(xml: &[u8]) -> bool {
    let find = |from: usize, what: &[u8]| {
        xml.get(from..)
            .and_then(|rest| rest.windows(what.len()).position(|w| w == what))
            .map(|p| from + p + what.len())
    };
    let mut i = 0;
    while let Some(p) = xml[i..].iter().position(|&b| b == b'<') {
        let at = i + p;
        let rest = &xml[at..];
        let next = if rest.starts_with(b"<!--") {
            find(at + 4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            find(at + 9, b"]]>")
        } else if rest.starts_with(b"<?") {
            find(at + 2, b"?>")
        } else if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
            return true;
        } else {
            // A tag: to its `>`, quoted attribute values skipped.
            let mut quote = None;
            rest.iter()
                .enumerate()
                .skip(1)
                .find(|&(_, &b)| match quote {
                    Some(q) if b == q => {
                        quote = None;
                        false
                    }
                    Some(_) => false,
                    None if b == b'"' || b == b'\'' => {
                        quote = Some(b);
                        false
                    }
                    None => b == b'>',
                })
                .map(|(j, _)| at + j + 1)
        };
        match next {
            Some(n) => i = n,
            None => return false,
        }
    }
    false
}
