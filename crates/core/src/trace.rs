//! The decision and its trace (EXP-1): every step the engine took, every rule that
//! matched, every candidate rep and why they were skipped, and the config version.
//!
//! The engine records the matrix step compactly (the winning rule, the others that matched,
//! how many were candidates). [`RoutingTrace::explain`] expands it into one line per rule
//! considered, with the condition that failed: the trace holds the normalised facts and
//! the config version, so the expansion is exact (EXP-2) and the hot path stays cheap.

use crate::config::{CompiledConfig, Dim, Intent, Layer, Tier};
use crate::lead::FieldIssue;
use crate::text::Text;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub id: Text,
    pub name: Text,
}

/// Which branch of the hierarchy decided the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutePath {
    Junk,
    KnownPerson,
    Recycled,
    AccountOwner,
    NamedAccount,
    PersonalEmailReview,
    Qualification,
    Nurture,
    Territory,
    Segment,
    DefaultTeam,
    CatchAll,
    /// ASG-6: a person chose the owner.
    Manual,
}

impl RoutePath {
    pub fn label(self) -> &'static str {
        match self {
            RoutePath::Junk => "junk",
            RoutePath::KnownPerson => "known person",
            RoutePath::Recycled => "recycled",
            RoutePath::AccountOwner => "account owner",
            RoutePath::NamedAccount => "named account",
            RoutePath::PersonalEmailReview => "personal email review",
            RoutePath::Qualification => "qualification",
            RoutePath::Nurture => "nurture",
            RoutePath::Territory => "territory rule",
            RoutePath::Segment => "segment rule",
            RoutePath::DefaultTeam => "default team",
            RoutePath::CatchAll => "catch-all",
            RoutePath::Manual => "manual assignment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// ACC-4: the matched account's owner is inactive or missing.
    AccountOwnerInactive,
    /// The known person's owner is inactive or unknown to this config.
    PriorOwnerInactive,
    /// Several rules matched at the same precedence; the first in file order won.
    AmbiguousRule,
    /// Some input fields could not be used.
    MalformedInput,
    /// The first choice was unavailable and a fallback took the lead.
    Fallback,
    /// Nobody on the path was available; the lead went to an overflow queue.
    NobodyAvailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sla {
    /// Deadline to have the lead with a person (queues: triage by then).
    pub route_by: Timestamp,
    /// Deadline for first touch; only for leads assigned to a rep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_by: Option<Timestamp>,
    pub route_within: jiff::SignedDuration,
    pub contact_within: jiff::SignedDuration,
}

/// The routing decision (CAP-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub owner: Option<Owner>,
    pub queue: Option<Text>,
    pub path: RoutePath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Text>,
    /// Registrable domain of the matched account, if any (ACC-1/2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub segment: Option<Text>,
    pub tier: Tier,
    pub score: i32,
    pub intent: Intent,
    pub icp_fit: bool,
    pub sla: Sla,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub config_version: Text,
    pub decided_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePart {
    pub label: Text,
    pub points: i32,
}

/// The lead as the engine saw it after normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub email: Option<Text>,
    pub email_domain: Option<Text>,
    pub personal_email: bool,
    pub disposable_email: bool,
    pub company: Option<String>,
    pub employees: Option<u32>,
    pub employees_source: Option<Text>,
    pub segment: Option<Text>,
    pub industry: Option<Text>,
    pub industry_source: Option<Text>,
    pub country: Option<Text>,
    pub region: Option<Text>,
    pub state: Option<Text>,
    pub postal_code: Option<String>,
    pub product: Option<Text>,
    pub lead_source: Option<Text>,
    pub action: Option<Text>,
    pub intent: Option<Intent>,
    pub icp_fit: bool,
    pub score: i32,
    pub score_parts: Vec<ScorePart>,
    pub tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<FieldIssue>,
    /// ENR-2: which provider supplied each enriched field (field → provider or signal).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enrichment_sources: BTreeMap<String, String>,
    /// ENR-2/3: providers that errored, timed out, were rate limited or skipped for the
    /// budget, in chain order; routing went on without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichment_failures: Vec<String>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts::with_issues(Vec::new())
    }
}

impl Facts {
    /// No facts yet but the input issues: field by field (rather than from
    /// `Default::default()`), so the engine builds it in place instead of copying a
    /// default.
    pub const fn with_issues(issues: Vec<FieldIssue>) -> Facts {
        Facts {
            email: None,
            email_domain: None,
            personal_email: false,
            disposable_email: false,
            company: None,
            employees: None,
            employees_source: None,
            segment: None,
            industry: None,
            industry_source: None,
            country: None,
            region: None,
            state: None,
            postal_code: None,
            product: None,
            lead_source: None,
            action: None,
            intent: None,
            icp_fit: false,
            score: 0,
            score_parts: Vec::new(),
            tier: None,
            issues,
            enrichment_sources: BTreeMap::new(),
            enrichment_failures: Vec::new(),
        }
    }

    pub fn dim(&self, d: Dim) -> Option<&str> {
        match d {
            Dim::Segment => self.segment.as_deref(),
            Dim::Industry => self.industry.as_deref(),
            Dim::Region => self.region.as_deref(),
            Dim::Country => self.country.as_deref(),
            Dim::State => self.state.as_deref(),
            Dim::PostalCode => self.postal_code.as_deref(),
            Dim::Product => self.product.as_deref(),
            Dim::LeadSource => self.lead_source.as_deref(),
            Dim::Tier => self.tier.map(Tier::name),
        }
    }
}

/// Why a rep was not given the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skip {
    Inactive,
    OutOfOffice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
    },
    OutsideHours {
        local_time: LocalTime,
        hours: Text,
    },
    DailyCap {
        count: u32,
        cap: u32,
    },
    AtCapacity {
        load: f64,
        capacity: f64,
    },
    Excluded,
}

impl Skip {
    /// The reason as text ([`std::fmt::Display`]): at most one allocation of the exact
    /// size, and no formatting machinery for the common reasons.
    pub fn text(&self) -> Text {
        match self {
            Skip::Inactive => Text::from_static(INACTIVE),
            Skip::Excluded => Text::from_static(EXCLUDED),
            Skip::OutsideHours { local_time, hours } => {
                let (head, mid) = ("outside working hours (local ", "; hours ");
                let mut s = String::with_capacity(
                    head.len() + local_time.len() + mid.len() + hours.len() + 1,
                );
                s.push_str(head);
                let _ = local_time.pieces(|p| {
                    s.push_str(p);
                    Ok::<(), ()>(())
                });
                s.push_str(mid);
                s.push_str(hours);
                s.push(')');
                s.into()
            }
            Skip::DailyCap { count, cap } => {
                let (mut a, mut b) = ([0u8; 10], [0u8; 10]);
                let (count, cap) = (decimal(*count, &mut a), decimal(*cap, &mut b));
                let mut s = String::with_capacity(20 + count.len() + 1 + cap.len() + 1);
                s.push_str("daily cap reached (");
                s.push_str(count);
                s.push('/');
                s.push_str(cap);
                s.push(')');
                s.into()
            }
            Skip::AtCapacity { load, capacity } => {
                let (mut a, mut b) = ([0u8; 24], [0u8; 24]);
                match (one_decimal(*load, &mut a), one_decimal(*capacity, &mut b)) {
                    (Some(load), Some(capacity)) => {
                        let (head, mid) = ("at capacity (load ", " of ");
                        let mut s = String::with_capacity(
                            head.len() + load.len() + mid.len() + capacity.len() + 1,
                        );
                        s.push_str(head);
                        s.push_str(load);
                        s.push_str(mid);
                        s.push_str(capacity);
                        s.push(')');
                        s.into()
                    }
                    _ => Text::from(self.to_string()),
                }
            }
            _ => Text::from(self.to_string()),
        }
    }
}

/// `format!("{x:.1}")` without the float formatting machinery, for the values loads and
/// capacities take: non-negative multiples of 1/4 below 2^40 (stage weights are usually
/// such fractions). None for anything else. Multiples of 1/4 are exact in binary, so
/// their one-decimal rounding is half-to-even on .25 and .75 (".2", ".8"), as std does.
fn one_decimal(x: f64, buf: &mut [u8; 24]) -> Option<&str> {
    let q = x * 4.0;
    if !(x >= 0.0 && x.is_sign_positive() && q < (1u64 << 42) as f64 && q.fract() == 0.0) {
        return None;
    }
    let q = q as u64;
    let mut int = [0u8; 20];
    let whole = decimal_u64(q / 4, &mut int);
    let n = whole.len();
    buf[..n].copy_from_slice(whole.as_bytes());
    buf[n] = b'.';
    buf[n + 1] = [b'0', b'2', b'5', b'8'][(q % 4) as usize];
    std::str::from_utf8(&buf[..n + 2]).ok()
}

/// `n` in decimal, written at the end of `buf`.
fn decimal_u64(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

const INACTIVE: &str = "inactive";
const EXCLUDED: &str = "excluded for this decision (e.g. the rep who missed the SLA)";

/// `n` in decimal, written at the end of `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Inactive => f.write_str(INACTIVE),
            Skip::OutOfOffice { until, note } => {
                write!(f, "out of office")?;
                if let Some(u) = until {
                    write!(f, " until {u}")?;
                }
                if let Some(n) = note {
                    write!(f, " ({n})")?;
                }
                Ok(())
            }
            Skip::OutsideHours { local_time, hours } => {
                f.write_str("outside working hours (local ")?;
                std::fmt::Display::fmt(local_time, f)?;
                f.write_str("; hours ")?;
                f.write_str(hours)?;
                f.write_str(")")
            }
            Skip::DailyCap { count, cap } => write!(f, "daily cap reached ({count}/{cap})"),
            Skip::AtCapacity { load, capacity } => {
                write!(f, "at capacity (load {load:.1} of {capacity:.1})")
            }
            Skip::Excluded => f.write_str(EXCLUDED),
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A rep's local time when they were checked against their working hours, as written in
/// the trace: "Mon 23:00 Asia/Singapore". The engine keeps the parts (weekday, minute,
/// the zone name shared with the config) and formats them only when the trace is
/// displayed or serialised; it reads back from that text.
#[derive(Clone)]
pub struct LocalTime(LocalRepr);

#[derive(Clone)]
enum LocalRepr {
    Parts {
        weekday: u8,
        minute: u16,
        zone: Text,
    },
    /// Text that is not in the canonical form, kept as it was.
    Raw(Text),
}

impl LocalTime {
    /// `weekday` counts from Monday = 0; `minute` is the minute of the day.
    pub fn new(weekday: usize, minute: u16, zone: Text) -> Self {
        debug_assert!(weekday < 7 && minute < 24 * 60);
        LocalTime(LocalRepr::Parts {
            weekday: weekday as u8,
            minute,
            zone,
        })
    }

    /// The parts of "Ddd HH:MM zone", only when formatting them gives `s` back.
    fn parse(s: &str) -> Option<(u8, u16, &str)> {
        let (day, rest) = s.split_once(' ')?;
        let (hhmm, zone) = rest.split_once(' ')?;
        let weekday = WEEKDAYS.iter().position(|d| *d == day)? as u8;
        let b = hhmm.as_bytes();
        if b.len() != 5 || b[2] != b':' || zone.is_empty() {
            return None;
        }
        let digit = |i: usize| b[i].is_ascii_digit().then(|| (b[i] - b'0') as u16);
        let (h, m) = (digit(0)? * 10 + digit(1)?, digit(3)? * 10 + digit(4)?);
        (h < 24 && m < 60).then_some((weekday, h * 60 + m, zone))
    }
}

impl LocalTime {
    /// Hand the text's pieces to `out` in order.
    fn pieces<E>(&self, mut out: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        match &self.0 {
            LocalRepr::Parts {
                weekday,
                minute,
                zone,
            } => {
                let (h, m) = (minute / 60, minute % 60);
                let digit = |d: u16| b'0' + (d % 10) as u8;
                let b = [
                    b' ',
                    digit(h / 10),
                    digit(h),
                    b':',
                    digit(m / 10),
                    digit(m),
                    b' ',
                ];
                out(WEEKDAYS[*weekday as usize])?;
                out(std::str::from_utf8(&b).unwrap_or_default())?;
                out(zone)
            }
            LocalRepr::Raw(t) => out(t),
        }
    }

    fn len(&self) -> usize {
        match &self.0 {
            LocalRepr::Parts { zone, .. } => 3 + 7 + zone.len(),
            LocalRepr::Raw(t) => t.len(),
        }
    }
}

impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pieces(|p| f.write_str(p))
    }
}

impl std::fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq for LocalTime {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (
                LocalRepr::Parts {
                    weekday: a,
                    minute: b,
                    zone: c,
                },
                LocalRepr::Parts {
                    weekday: x,
                    minute: y,
                    zone: z,
                },
            ) => a == x && b == y && c == z,
            _ => self.to_string() == other.to_string(),
        }
    }
}

impl From<&'static str> for LocalTime {
    fn from(s: &'static str) -> Self {
        LocalTime(match LocalTime::parse(s) {
            Some((weekday, minute, zone)) => LocalRepr::Parts {
                weekday,
                minute,
                zone: Text::from_static(zone),
            },
            None => LocalRepr::Raw(Text::from_static(s)),
        })
    }
}

impl From<String> for LocalTime {
    fn from(s: String) -> Self {
        LocalTime(match LocalTime::parse(&s) {
            Some((weekday, minute, zone)) => LocalRepr::Parts {
                weekday,
                minute,
                zone: Text::copy(zone),
            },
            None => LocalRepr::Raw(Text::from(s)),
        })
    }
}

impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(LocalTime::from)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Chosen,
    Skipped {
        skip: Skip,
    },
    /// Available, but another rep came first (rotation turn or lower load).
    Passed,
    /// Later in the rotation than the chosen rep; not examined.
    NotReached,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub rep: Text,
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<u64>,
}

/// The candidates of a team walk, in walk order.
///
/// The engine records a walk compactly: per member its index, a one-byte verdict and the
/// figures the verdict names (local time, daily count, load, pass), 32 bytes each, with
/// the rep texts and limits the verdicts need in a table shared with the config
/// ([`WalkTable`]). The [`Candidate`]s (ids, skip reasons with their texts) are made from
/// it on first read, outside the decision, and kept; a walk read back from JSON holds
/// them directly. It reads like a `Vec<Candidate>` (it derefs to a slice), and
/// serialises, compares and `Debug`-prints as one.
#[derive(Default)]
pub struct Candidates {
    walk: Option<Walk>,
    list: std::sync::OnceLock<Box<[Candidate]>>,
}

struct Walk {
    table: std::sync::Arc<WalkTable>,
    /// In walk order (a boxed slice: the walk is written once, with one entry a member).
    members: Box<[Walked]>,
    /// Out-of-office skips, which carry their own instant and note (`Walked::count`
    /// indexes them).
    away: Vec<Skip>,
}

/// Per rep (index = [`crate::config::RepIdx`]): what a recorded verdict needs to be
/// written out as the availability check saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WalkTable {
    pub reps: Vec<WalkRep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WalkRep {
    pub id: Text,
    /// The zone name and working hours as written (for "outside working hours").
    pub zone: Text,
    pub hours: Text,
    pub capacity: f64,
    pub daily_cap: u32,
}

/// One member's verdict in a compact walk (see [`Candidates`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walked {
    pub rep: crate::config::RepIdx,
    pub verdict: WalkVerdict,
    /// [`WalkVerdict::OutsideHours`]: the local weekday (Mon = 0) and minute.
    pub weekday: u8,
    pub minute: u16,
    /// [`WalkVerdict::DailyCap`]: the count; [`WalkVerdict::OutOfOffice`]: the index of
    /// the skip among the walk's out-of-office skips.
    pub count: u32,
    /// The rep's load: [`Candidate::load`] when `has_load`, and the load of
    /// [`WalkVerdict::AtCapacity`].
    pub load: f64,
    pub pass: u64,
    pub has_load: bool,
    pub has_pass: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkVerdict {
    Chosen,
    Passed,
    NotReached,
    Inactive,
    Excluded,
    OutOfOffice,
    OutsideHours,
    DailyCap,
    AtCapacity,
}

impl Walked {
    pub fn new(rep: crate::config::RepIdx, verdict: WalkVerdict) -> Walked {
        Walked {
            rep,
            verdict,
            weekday: 0,
            minute: 0,
            count: 0,
            load: 0.0,
            pass: 0,
            has_load: false,
            has_pass: false,
        }
    }
}

impl WalkTable {
    /// The skip reason of a recorded verdict; None for a rep that was not skipped.
    /// `away` holds the walk's out-of-office skips.
    pub fn skip(&self, w: &Walked, away: &[Skip]) -> Option<Skip> {
        let rep = &self.reps[w.rep as usize];
        Some(match w.verdict {
            WalkVerdict::Chosen | WalkVerdict::Passed | WalkVerdict::NotReached => return None,
            WalkVerdict::Inactive => Skip::Inactive,
            WalkVerdict::Excluded => Skip::Excluded,
            WalkVerdict::OutOfOffice => away.get(w.count as usize)?.clone(),
            WalkVerdict::OutsideHours => Skip::OutsideHours {
                local_time: LocalTime::new(w.weekday as usize, w.minute, rep.zone.clone()),
                hours: rep.hours.clone(),
            },
            WalkVerdict::DailyCap => Skip::DailyCap {
                count: w.count,
                cap: rep.daily_cap,
            },
            WalkVerdict::AtCapacity => Skip::AtCapacity {
                load: w.load,
                capacity: rep.capacity,
            },
        })
    }

    /// The verdict as the trace writes it.
    pub fn verdict(&self, w: &Walked, away: &[Skip]) -> Verdict {
        match w.verdict {
            WalkVerdict::Chosen => Verdict::Chosen,
            WalkVerdict::Passed => Verdict::Passed,
            WalkVerdict::NotReached => Verdict::NotReached,
            _ => match self.skip(w, away) {
                Some(skip) => Verdict::Skipped { skip },
                None => Verdict::NotReached,
            },
        }
    }

    pub fn candidate(&self, w: &Walked, away: &[Skip]) -> Candidate {
        Candidate {
            rep: self.reps[w.rep as usize].id.clone(),
            verdict: self.verdict(w, away),
            load: w.has_load.then_some(w.load),
            pass: w.has_pass.then_some(w.pass),
        }
    }
}

impl Candidates {
    /// A walk recorded by the engine: `away` are the out-of-office skips its verdicts
    /// index.
    pub fn walk(table: std::sync::Arc<WalkTable>, members: Vec<Walked>, away: Vec<Skip>) -> Self {
        Candidates {
            walk: Some(Walk {
                table,
                members: members.into_boxed_slice(),
                away,
            }),
            list: std::sync::OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.walk {
            Some(w) => w.members.len(),
            None => self.list.get().map_or(0, |l| l.len()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The candidates, made from the compact walk on first call.
    pub fn as_slice(&self) -> &[Candidate] {
        self.list.get_or_init(|| match &self.walk {
            Some(w) => w
                .members
                .iter()
                .map(|m| w.table.candidate(m, &w.away))
                .collect(),
            None => Box::default(),
        })
    }
}

impl From<Vec<Candidate>> for Candidates {
    fn from(list: Vec<Candidate>) -> Self {
        Candidates {
            walk: None,
            list: std::sync::OnceLock::from(list.into_boxed_slice()),
        }
    }
}

impl FromIterator<Candidate> for Candidates {
    fn from_iter<I: IntoIterator<Item = Candidate>>(it: I) -> Self {
        Candidates::from(it.into_iter().collect::<Vec<_>>())
    }
}

impl std::ops::Deref for Candidates {
    type Target = [Candidate];
    fn deref(&self) -> &[Candidate] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Candidates {
    type Item = &'a Candidate;
    type IntoIter = std::slice::Iter<'a, Candidate>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl Clone for Candidates {
    fn clone(&self) -> Self {
        match &self.walk {
            Some(w) => Candidates {
                walk: Some(Walk {
                    table: w.table.clone(),
                    members: w.members.clone(),
                    away: w.away.clone(),
                }),
                list: self.list.clone(),
            },
            None => Candidates::from(self.as_slice().to_vec()),
        }
    }
}

impl PartialEq for Candidates {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for Candidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl Serialize for Candidates {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Candidates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Candidate>::deserialize(d).map(Candidates::from)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: Text,
    pub layer: Layer,
    pub priority: i32,
    pub origin: Text,
}

/// One rule as considered, from [`RoutingTrace::explain`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCheck {
    pub id: String,
    pub matched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Junk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    KnownPerson {
        email: Text,
        owner: Option<String>,
        outcome: Text,
    },
    Account {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched_by: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<Text>,
        named: bool,
        outcome: Text,
    },
    PersonalEmail {
        domain: Text,
        outcome: Text,
    },
    Qualification {
        outcome: Text,
    },
    Nurture {
        outcome: String,
    },
    Matrix {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched: Option<RuleRef>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_matched: Vec<Text>,
        candidates: u32,
        rules: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        considered: Vec<RuleCheck>,
    },
    Rep {
        rep: Text,
        role: Text,
        #[serde(flatten)]
        verdict: Verdict,
    },
    Team {
        team: Text,
        method: Text,
        candidates: Candidates,
    },
    Fallback {
        from: Text,
        to: Text,
        because: Text,
    },
    Manual {
        by: String,
        rep: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// What the rep's availability check said; a manual choice overrides it. (Boxed:
        /// rare, and it would make every step larger.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overridden: Option<Box<Skip>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingTrace {
    pub config_version: Text,
    pub at: Timestamp,
    pub facts: Facts,
    pub steps: Vec<Step>,
}

impl RoutingTrace {
    /// Fill in every matrix rule considered (in precedence order up to the winner, or all
    /// of them when none matched) with the condition that failed.
    pub fn explain(&mut self, cfg: &CompiledConfig) {
        let facts = &self.facts;
        for step in &mut self.steps {
            if let Step::Matrix {
                matched,
                considered,
                ..
            } = step
            {
                considered.clear();
                for rule in &cfg.rules {
                    let failed = Dim::ALL.iter().find(|d| !rule.accepts(**d, facts.dim(**d)));
                    let is_winner = matched.as_ref().is_some_and(|m| m.id == *rule.id);
                    considered.push(RuleCheck {
                        id: rule.id.clone(),
                        matched: failed.is_none(),
                        failed_on: failed.map(|d| {
                            format!(
                                "{} is {} (rule wants {})",
                                d.name(),
                                facts.dim(*d).unwrap_or("unknown"),
                                rule.cond(*d).join("|")
                            )
                        }),
                    });
                    if is_winner {
                        break;
                    }
                }
            }
        }
    }

    /// Human-readable trace, one step per line.
    pub fn render(&self, decision: &Decision) -> String {
        let mut s = String::new();
        let f = &self.facts;
        let _ = writeln!(
            s,
            "decision at {} with config {}",
            self.at, self.config_version
        );
        let _ = writeln!(
            s,
            "lead: email={} company={} employees={} segment={} industry={} country={} region={} state={} zip={}",
            f.email.as_deref().unwrap_or("-"),
            f.company.as_deref().unwrap_or("-"),
            f.employees.map(|e| e.to_string()).unwrap_or("-".into()),
            f.segment.as_deref().unwrap_or("unknown"),
            f.industry.as_deref().unwrap_or("unknown"),
            f.country.as_deref().unwrap_or("-"),
            f.region.as_deref().unwrap_or("-"),
            f.state.as_deref().unwrap_or("-"),
            f.postal_code.as_deref().unwrap_or("-"),
        );
        let parts: Vec<String> = f
            .score_parts
            .iter()
            .map(|p| format!("{} {:+}", p.label, p.points))
            .collect();
        let _ = writeln!(
            s,
            "score {} ({}); intent {:?}; ICP fit {}; tier {}",
            f.score,
            if parts.is_empty() {
                "no points".into()
            } else {
                parts.join(", ")
            },
            f.intent.unwrap_or(Intent::Low),
            if f.icp_fit { "yes" } else { "no" },
            f.tier.map(Tier::name).unwrap_or("-"),
        );
        for i in &f.issues {
            let _ = writeln!(s, "input issue: {}: {}", i.field, i.problem);
        }
        if !f.enrichment_sources.is_empty() {
            let fields: Vec<String> = f
                .enrichment_sources
                .iter()
                .map(|(field, provider)| format!("{field} from {provider}"))
                .collect();
            let _ = writeln!(s, "enrichment: {}", fields.join(", "));
        }
        for why in &f.enrichment_failures {
            let _ = writeln!(s, "enrichment failed: {why}");
        }
        for (n, step) in self.steps.iter().enumerate() {
            let _ = write!(s, "{:>2}. ", n + 1);
            match step {
                Step::Junk { reason } => match reason {
                    Some(r) => writeln!(s, "junk check: JUNK — {r}"),
                    None => writeln!(s, "junk check: clean"),
                },
                Step::KnownPerson { email, owner, outcome } => writeln!(
                    s,
                    "known person {email} (owner {}): {outcome}",
                    owner.as_deref().unwrap_or("none")
                ),
                Step::Account { matched_by, account, owner, named, outcome } => match account {
                    Some(a) => writeln!(
                        s,
                        "account match by {}: {a}{} owned by {}: {outcome}",
                        matched_by.as_deref().unwrap_or("?"),
                        if *named { " (named account)" } else { "" },
                        owner.as_deref().unwrap_or("nobody")
                    ),
                    None => writeln!(s, "account match: {outcome}"),
                },
                Step::PersonalEmail { domain, outcome } => {
                    writeln!(s, "personal email domain {domain}: {outcome}")
                }
                Step::Qualification { outcome } => writeln!(s, "firmographics: {outcome}"),
                Step::Nurture { outcome } => writeln!(s, "qualification score: {outcome}"),
                Step::Matrix { matched, also_matched, candidates, rules, considered } => {
                    let _ = match matched {
                        Some(m) => writeln!(
                            s,
                            "matrix: {candidates} of {rules} rules match; winner {} ({:?} rule, priority {}, {})",
                            m.id, m.layer, m.priority, m.origin
                        ),
                        None => writeln!(s, "matrix: none of {rules} rules match"),
                    };
                    if !also_matched.is_empty() {
                        let _ = writeln!(
                            s,
                            "      also matched at the same precedence: {} (first in file order wins)",
                            also_matched.join(", ")
                        );
                    }
                    for c in considered {
                        let _ = writeln!(
                            s,
                            "      rule {}: {}",
                            c.id,
                            match &c.failed_on {
                                Some(why) => format!("no — {why}"),
                                None => "matches".into(),
                            }
                        );
                    }
                    Ok(())
                }
                Step::Rep { rep, role, verdict } => {
                    writeln!(s, "{role} {rep}: {}", verdict_text(verdict))
                }
                Step::Team { team, method, candidates } => {
                    let _ = writeln!(s, "team {team} ({method}), {} candidates:", candidates.len());
                    for c in candidates {
                        let mut extra = String::new();
                        if let Some(l) = c.load {
                            let _ = write!(extra, " [load {l:.1}]");
                        }
                        let _ = writeln!(s, "      {}: {}{extra}", c.rep, verdict_text(&c.verdict));
                    }
                    Ok(())
                }
                Step::Fallback { from, to, because } => {
                    writeln!(s, "fallback {from} -> {to}: {because}")
                }
                Step::Manual { by, rep, note, overridden } => writeln!(
                    s,
                    "manual assignment to {rep} by {by}{}{}",
                    note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
                    overridden
                        .as_ref()
                        .map(|o| format!("; overrides: {o}"))
                        .unwrap_or_default()
                ),
            }
            .ok();
        }
        let _ = writeln!(
            s,
            "=> {} — {}",
            match (&decision.owner, &decision.queue) {
                (Some(o), _) => format!("assigned to {} ({})", o.name, o.id),
                (None, Some(q)) => format!("queued in {q}"),
                _ => "unassigned".into(),
            },
            decision.reason
        );
        let _ = writeln!(
            s,
            "   SLA: route by {}{}",
            decision.sla.route_by,
            decision
                .sla
                .contact_by
                .map(|c| format!(", first touch by {c}"))
                .unwrap_or_default()
        );
        s
    }
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Chosen => "CHOSEN".into(),
        Verdict::Skipped { skip } => format!("skipped — {skip}"),
        Verdict::Passed => "available, not chosen".into(),
        Verdict::NotReached => "later in rotation".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips() -> Vec<Skip> {
        vec![
            Skip::Inactive,
            Skip::Excluded,
            Skip::OutOfOffice {
                until: Some("2026-11-28T00:00:00Z".parse().unwrap()),
                note: Some("Thanksgiving week".into()),
            },
            Skip::OutOfOffice {
                until: None,
                note: None,
            },
            Skip::OutsideHours {
                local_time: LocalTime::new(0, 23 * 60, "Asia/Singapore".into()),
                hours: "Mon-Fri 09:00-18:00".into(),
            },
            Skip::OutsideHours {
                local_time: LocalTime::new(6, 5, Text::copy("UTC")),
                hours: "Sat 09:00-10:00".into(),
            },
            Skip::OutsideHours {
                local_time: "not a local time".into(),
                hours: "".into(),
            },
            Skip::DailyCap { count: 0, cap: 0 },
            Skip::DailyCap {
                count: 4_294_967_295,
                cap: 30,
            },
            Skip::AtCapacity {
                load: 3.75,
                capacity: 2.0,
            },
            Skip::AtCapacity {
                load: 12.25,
                capacity: 0.0,
            },
            Skip::AtCapacity {
                load: 0.1 + 0.2,
                capacity: 20.5,
            },
        ]
    }

    #[test]
    fn one_decimal_is_std_formatting() {
        let mut buf = [0u8; 24];
        for k in (0..20_000u64).chain([1 << 30, (1 << 42) - 1, 1 << 42, u64::MAX]) {
            let x = k as f64 / 4.0;
            if let Some(s) = one_decimal(x, &mut buf) {
                assert_eq!(s, format!("{x:.1}"), "{x}");
            } else {
                assert!(x * 4.0 >= (1u64 << 42) as f64, "{x}");
            }
        }
        for x in [
            -0.0,
            -0.25,
            0.1,
            0.3,
            2.0 / 3.0,
            f64::NAN,
            f64::INFINITY,
            1e300,
        ] {
            assert_eq!(one_decimal(x, &mut buf), None, "{x}");
        }
    }

    #[test]
    fn compact_walk_reads_as_its_candidates() {
        let rep = |id: &'static str, cap: f64| WalkRep {
            id: id.into(),
            zone: "Asia/Singapore".into(),
            hours: "Mon-Fri 09:00-18:00".into(),
            capacity: cap,
            daily_cap: 12,
        };
        let table = std::sync::Arc::new(WalkTable {
            reps: vec![rep("ana", 20.0), rep("bo", 8.5)],
        });
        let with = |mut w: Walked, f: &dyn Fn(&mut Walked)| {
            f(&mut w);
            w
        };
        let away = Skip::OutOfOffice {
            until: Some("2026-11-28T00:00:00Z".parse().unwrap()),
            note: Some("Thanksgiving week".into()),
        };
        let members = vec![
            with(Walked::new(1, WalkVerdict::OutsideHours), &|w| {
                (w.weekday, w.minute, w.pass, w.has_pass) = (6, 5, 7, true)
            }),
            with(Walked::new(0, WalkVerdict::DailyCap), &|w| w.count = 12),
            with(Walked::new(1, WalkVerdict::AtCapacity), &|w| {
                (w.load, w.has_load) = (9.25, true)
            }),
            Walked::new(0, WalkVerdict::OutOfOffice),
            Walked::new(1, WalkVerdict::Inactive),
            Walked::new(1, WalkVerdict::Excluded),
            Walked::new(0, WalkVerdict::Chosen),
            with(Walked::new(1, WalkVerdict::Passed), &|w| {
                (w.load, w.has_load) = (0.5, true)
            }),
            Walked::new(0, WalkVerdict::NotReached),
        ];
        let skipped = |skip| Verdict::Skipped { skip };
        let c = |rep: &'static str, verdict, load, pass| Candidate {
            rep: rep.into(),
            verdict,
            load,
            pass,
        };
        let expected = vec![
            c(
                "bo",
                skipped(Skip::OutsideHours {
                    local_time: LocalTime::new(6, 5, "Asia/Singapore".into()),
                    hours: "Mon-Fri 09:00-18:00".into(),
                }),
                None,
                Some(7),
            ),
            c(
                "ana",
                skipped(Skip::DailyCap { count: 12, cap: 12 }),
                None,
                None,
            ),
            c(
                "bo",
                skipped(Skip::AtCapacity {
                    load: 9.25,
                    capacity: 8.5,
                }),
                Some(9.25),
                None,
            ),
            c("ana", skipped(away.clone()), None, None),
            c("bo", skipped(Skip::Inactive), None, None),
            c("bo", skipped(Skip::Excluded), None, None),
            c("ana", Verdict::Chosen, None, None),
            c("bo", Verdict::Passed, Some(0.5), None),
            c("ana", Verdict::NotReached, None, None),
        ];
        let walk = Candidates::walk(table, members, vec![away]);
        assert_eq!(walk.len(), expected.len());
        let copy = walk.clone();
        assert_eq!(&*walk, &expected[..]);
        assert_eq!(copy, Candidates::from(expected.clone()));
        assert_eq!(format!("{walk:?}"), format!("{expected:?}"));
        let json = serde_json::to_string(&copy).unwrap();
        assert_eq!(json, serde_json::to_string(&expected).unwrap());
        let back: Candidates = serde_json::from_str(&json).unwrap();
        assert_eq!(back, walk);
        assert_eq!(back.iter().count(), back.len());
    }

    #[test]
    fn skip_text_is_its_display() {
        for s in skips() {
            assert_eq!(s.text(), s.to_string());
        }
    }

    #[test]
    fn local_time_reads_back_from_its_text() {
        let t = LocalTime::new(0, 23 * 60, "Asia/Singapore".into());
        assert_eq!(t.to_string(), "Mon 23:00 Asia/Singapore");
        assert_eq!(format!("{t:?}"), "\"Mon 23:00 Asia/Singapore\"");
        let json = serde_json::to_string(&Skip::OutsideHours {
            local_time: t.clone(),
            hours: "Mon-Fri 09:00-18:00".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"reason":"outside_hours","local_time":"Mon 23:00 Asia/Singapore","hours":"Mon-Fri 09:00-18:00"}"#
        );
        let back: Skip = serde_json::from_str(&json).unwrap();
        assert!(matches!(&back, Skip::OutsideHours { local_time, .. } if *local_time == t));
        for text in [
            "Sun 00:05 UTC",
            "Tue 9:00 UTC",
            "Mon 24:00 X",
            "Xyz 10:00 UTC",
            "Mon 10:00",
        ] {
            let parsed = LocalTime::from(text.to_string());
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed, LocalTime::from(text.to_string()));
        }
        for s in skips() {
            let json = serde_json::to_string(&s).unwrap();
            let back: Skip = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }
}
