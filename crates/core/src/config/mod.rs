//! The routing configuration: raw (as written) → compiled (validated, indexed).
//!
//! [`load`] reads a TOML file and the CSV files it names, and compiles them with
//! [`compile::compile`]. The compiled form is immutable and identified by a content hash
//! of every source file ([`CompiledConfig::version`]); every decision records it.

pub mod compile;
pub mod error;
pub mod raw;
pub mod suggest;
pub mod tables;

use crate::domains::DomainLists;
use crate::geo::Geo;
use crate::text::Text;
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use error::{ConfigError, LoadError, SourceText};

pub type RepIdx = u32;
pub type TeamIdx = u32;
pub type QueueIdx = u32;

/// Read and compile a config file (and the CSV files it points to).
pub fn load(path: impl AsRef<Path>) -> Result<CompiledConfig, LoadError> {
    let path = path.as_ref();
    let text = read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut cfg = compile::compile(
        SourceText::new(path.display().to_string(), text),
        &|rel: &str| {
            let p = base.join(rel);
            read(&p).map(|t| SourceText::new(p.display().to_string(), t))
        },
    )?;
    cfg.base_dir = base.to_path_buf();
    Ok(cfg)
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Where a config item was written, for messages and the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The five built-in queue roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueRole {
    CatchAll,
    Review,
    Qualification,
    Nurture,
    Junk,
}

/// TIER-3: hot (1), warm (2), standard (3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Hot,
    Warm,
    Standard,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Hot, Tier::Warm, Tier::Standard];

    pub fn number(self) -> u8 {
        match self {
            Tier::Hot => 1,
            Tier::Warm => 2,
            Tier::Standard => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Standard => "standard",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '_', '-'], "")
            .as_str()
        {
            "hot" | "1" | "tier1" => Some(Tier::Hot),
            "warm" | "2" | "tier2" => Some(Tier::Warm),
            "standard" | "3" | "tier3" => Some(Tier::Standard),
            _ => None,
        }
    }
}

/// TIER-1 intent level of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    RoundRobin,
    WeightedRoundRobin,
    LeastLoaded,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::RoundRobin => "round_robin",
            Method::WeightedRoundRobin => "weighted_round_robin",
            Method::LeastLoaded => "least_loaded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tiebreaker {
    Rotation,
    RepOrder,
}

/// Where a rule or overflow sends a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Team(TeamIdx),
    Rep(RepIdx),
    Queue(QueueIdx),
}

/// One weekly working-hours table in minutes of the day, per ISO weekday (Mon = 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkingHours {
    pub days: [Vec<(u16, u16)>; 7],
    pub text: String,
}

impl WorkingHours {
    pub fn contains(&self, weekday_mon0: usize, minute: u16) -> bool {
        self.days[weekday_mon0]
            .iter()
            .any(|&(s, e)| minute >= s && minute < e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfOffice {
    pub from: jiff::Timestamp,
    pub to: jiff::Timestamp,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Rep {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub slack: Option<String>,
    pub team: Option<TeamIdx>,
    pub manager: Option<u32>,
    pub backup: Option<RepIdx>,
    pub weight: f64,
    /// Round-robin stride: `STRIDE_SCALE / weight`; smaller stride = more turns.
    pub stride: u64,
    pub capacity: Option<f64>,
    pub daily_cap: Option<u32>,
    pub tz: TimeZone,
    pub tz_name: String,
    /// Index into [`CompiledConfig::zones`], so a decision converts `now` once per zone.
    pub zone: u16,
    pub working_hours: Option<WorkingHours>,
    pub out_of_office: Vec<OutOfOffice>,
    pub active: bool,
    pub booking_link: Option<String>,
    pub signature: Option<String>,
    pub linkedin: Option<String>,
    pub origin: Origin,
}

/// Turns are spaced by `STRIDE_SCALE / weight` (weight in thousandths).
pub const STRIDE_SCALE: u64 = 1_000_000_000_000;

#[derive(Debug, Clone)]
pub struct Manager {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub slack: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub lead: Option<RepIdx>,
    pub manager: Option<u32>,
    pub members: Vec<RepIdx>,
    pub method: Method,
    pub tiebreaker: Tiebreaker,
    pub overflow: Target,
    pub respect_working_hours: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub domain: String,
    pub name: String,
    pub owner: Option<RepIdx>,
    pub named: bool,
    pub origin: Origin,
}

/// The matrix dimensions a rule can condition on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    Segment,
    Industry,
    Region,
    Country,
    State,
    PostalCode,
    Product,
    LeadSource,
    Tier,
}

impl Dim {
    pub const ALL: [Dim; 9] = [
        Dim::Segment,
        Dim::Industry,
        Dim::Region,
        Dim::Country,
        Dim::State,
        Dim::PostalCode,
        Dim::Product,
        Dim::LeadSource,
        Dim::Tier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dim::Segment => "segment",
            Dim::Industry => "industry",
            Dim::Region => "region",
            Dim::Country => "country",
            Dim::State => "state",
            Dim::PostalCode => "postal_code",
            Dim::Product => "product",
            Dim::LeadSource => "lead_source",
            Dim::Tier => "tier",
        }
    }

    pub fn is_geographic(self) -> bool {
        matches!(
            self,
            Dim::Region | Dim::Country | Dim::State | Dim::PostalCode
        )
    }
}

/// ASG-1 layer of a matrix rule: rules with a geographic condition are territory rules
/// and, at equal priority, beat segment rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Territory,
    Segment,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub priority: i32,
    /// Normalised accepted values per [`Dim`] (index = `Dim as usize`); empty = any.
    pub conds: [Vec<String>; 9],
    pub target: Target,
    pub layer: Layer,
    pub specificity: u8,
    pub note: Option<String>,
    pub origin: Origin,
}

impl Rule {
    pub fn cond(&self, d: Dim) -> &[String] {
        &self.conds[d as usize]
    }

    /// The conditions as the decision's reason quotes them: " (segment=smb,
    /// region=EMEA|APAC)", or "" when the rule has none.
    pub fn describe_conditions(&self) -> String {
        let parts: Vec<String> = Dim::ALL
            .iter()
            .filter(|d| !self.cond(**d).is_empty())
            .map(|d| format!("{}={}", d.name(), self.cond(*d).join("|")))
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }

    /// Does a value satisfy this rule's condition on `d`? (Postal codes match prefixes.)
    pub fn accepts(&self, d: Dim, value: Option<&str>) -> bool {
        let c = self.cond(d);
        if c.is_empty() {
            return true;
        }
        let Some(v) = value else { return false };
        if d == Dim::PostalCode {
            c.iter().any(|p| postal_matches(p, v))
        } else {
            c.iter().any(|x| x == v)
        }
    }
}

pub fn postal_matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTimes {
    pub route_within: SignedDuration,
    pub contact_within: SignedDuration,
}

#[derive(Debug, Clone)]
pub struct Scoring {
    pub nurture_below: i32,
    pub segment: HashMap<String, i32>,
    pub industry: HashMap<String, i32>,
    pub action: HashMap<String, i32>,
    pub title: Vec<(Vec<String>, i32)>,
    pub page: Vec<(Vec<String>, i32)>,
    pub icp_fit: i32,
}

#[derive(Debug, Clone)]
pub struct Icp {
    pub segments: Vec<String>,
    pub industries: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub countries: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub name: String,
    pub min_employees: u32,
}

/// Stage weights for ASG-4 load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageWeights {
    pub early: f64,
    pub mid: f64,
    pub late: f64,
}

#[derive(Debug, Clone)]
pub struct RoutingOptions {
    pub default_team: Option<TeamIdx>,
    pub recycle_after_days: u32,
    pub route_unknown_firmographics: bool,
    pub honeypot_field: String,
}

/// A public intake form (CAP-2).
#[derive(Debug, Clone)]
pub struct Form {
    pub key: String,
    pub name: String,
    pub lead_source: Option<String>,
    pub action: Option<String>,
    pub product: Option<String>,
    pub return_hosts: Vec<String>,
}

/// The validated, indexed config every decision runs against.
#[derive(Debug, Clone)]
pub struct CompiledConfig {
    /// "sha256:<16 hex>" over every source file's bytes.
    pub version: String,
    pub organization_name: String,
    /// `organization.timezone` (UTC when not given): the company's zone, e.g. for the
    /// weekly report's schedule.
    pub organization_tz: TimeZone,
    pub organization_tz_name: String,
    pub console_url: Option<String>,
    pub routing: RoutingOptions,
    pub queues: Vec<String>,
    pub queue_roles: HashMap<QueueRole, QueueIdx>,
    pub segments: Vec<Segment>,
    pub industry_alias: HashMap<String, Text>,
    pub intent: HashMap<String, Intent>,
    pub icp: Icp,
    pub scoring: Scoring,
    pub sla: HashMap<(Tier, Option<String>), SlaTimes>,
    pub stage_weights: StageWeights,
    pub managers: Vec<Manager>,
    pub leadership: Vec<u32>,
    pub reps: Vec<Rep>,
    pub rep_by_id: HashMap<String, RepIdx>,
    pub zones: Vec<crate::zone::Zone>,
    pub teams: Vec<Team>,
    pub team_by_id: HashMap<String, TeamIdx>,
    pub accounts: Vec<Account>,
    pub account_by_domain: HashMap<String, u32>,
    pub account_by_name: HashMap<String, u32>,
    /// Rules in precedence order: priority (high first), layer, specificity, file order.
    pub rules: Vec<Rule>,
    pub rule_index: crate::matrix::RuleIndex,
    pub geo: Geo,
    pub domains: DomainLists,
    /// Every source file and its text (config, CSV), for diagnostics.
    pub sources: Vec<String>,
    pub forms: Vec<Form>,
    /// The config file as read: `[notify]` and `[enrichment]` are parsed from it by their
    /// own crates, which point their errors at its lines.
    pub source: std::sync::Arc<SourceText>,
    /// Directory of the config file, for paths inside those tables.
    pub base_dir: std::path::PathBuf,
    /// The strings decisions copy into their traces, shared with this config.
    pub text: TraceText,
}

/// Strings and small tables a decision copies into its trace or looks up, built once by
/// the compiler (after the version is known) from the fields above, so a decision shares
/// them instead of allocating and formatting them again. The version and the per-rep,
/// per-team and per-queue texts are [`Text::interned`] (no reference counting on the hot
/// path; a small, stable vocabulary, so reloads add little); the per-rule texts, which
/// change with every edit of the matrix, are shared by reference count. Rebuild it with [`TraceText::build`]
/// after changing ids, names or rules of a compiled config by hand.
#[derive(Debug, Clone, Default)]
pub struct TraceText {
    pub version: Text,
    /// Per rep (index = [`RepIdx`]).
    pub rep_id: Vec<Text>,
    /// Per rep: the display name (the decision's owner name).
    pub rep_name: Vec<Text>,
    /// The same ids as a table to index per-rep state by (see [`crate::state::RepMap`]).
    pub reps: std::sync::Arc<crate::state::RepTable>,
    /// Team ids and members, to index rotations by (see [`crate::state::RotationMap`]).
    pub teams: std::sync::Arc<crate::state::TeamTable>,
    pub rep_zone: Vec<Text>,
    /// Working hours as written; empty for a rep without hours.
    pub rep_hours: Vec<Text>,
    /// What the availability check reads of each rep, packed (see [`RepCheck`]).
    pub rep_check: Vec<RepCheck>,
    /// Per rep, what the trace needs to write out a compact team walk's verdicts.
    pub walk: std::sync::Arc<crate::trace::WalkTable>,
    /// The distinct working hours of the reps, their texts, and the reps' zone names.
    pub hours: Vec<HoursCheck>,
    pub hours_text: Vec<Text>,
    pub zone_label: Vec<Text>,
    /// `"backup <id>"`, `"team lead <id>"`, `"rep:<id>"`.
    pub rep_as_backup: Vec<Text>,
    pub rep_as_team_lead: Vec<Text>,
    pub rep_label: Vec<Text>,
    /// Per team: the id and `"team:<id>"`.
    pub team_id: Vec<Text>,
    pub team_label: Vec<Text>,
    /// Per team: positions in `members` in the order of the members' ids, to read the
    /// team's rotation (keyed by rep id) in one ordered pass.
    pub team_members_by_id: Vec<Vec<usize>>,
    /// Per queue: `"queue:<name>"`.
    pub queue_label: Vec<Text>,
    /// Per queue: its name (the decision's queue).
    pub queue_name: Vec<Text>,
    /// Per rule (precedence order, as [`CompiledConfig::rules`]).
    pub rule_id: Vec<Text>,
    /// "file:line".
    pub rule_origin: Vec<Text>,
    /// The rule's conditions for the decision's reason: " (segment=smb, region=EMEA)",
    /// or empty for a rule without conditions.
    pub rule_conditions: Vec<Text>,
    /// Per segment (as [`CompiledConfig::segments`]).
    pub segment: Vec<Text>,
    /// SLA per segment and tier (index = `Tier as usize`); the last row is for leads
    /// without a segment-specific override.
    pub sla: Vec<[SlaTimes; 3]>,
    /// Scoring with each rule's label as the trace shows it: points and `"segment <name>"`,
    /// `"industry <name>"`, `"action <name>"` by value; `"title has \"<word>\""` and
    /// `"visited <word>"` per keyword (as [`Scoring::title`] and [`Scoring::page`]).
    pub score_segment: HashMap<String, (i32, Text)>,
    pub score_industry: HashMap<String, (i32, Text)>,
    pub score_action: HashMap<String, (i32, Text)>,
    pub score_title: Vec<Vec<Text>>,
    pub score_page: Vec<Vec<Text>>,
    /// Per title and page keyword (as [`Scoring::title`] and [`Scoring::page`]): the set
    /// of its bytes ([`crate::normalize::byte_set`]), to rule it out of a text that lacks
    /// one of them without reading the keyword.
    pub score_title_bytes: Vec<Vec<[u64; 4]>>,
    pub score_page_bytes: Vec<Vec<[u64; 4]>>,
    /// Tokens the config names (matrix products and lead sources, actions): a lead's
    /// token found here is shared rather than copied.
    pub tokens: rustc_hash::FxHashSet<Text>,
}

/// The fields of a [`Rep`] the availability check reads, in one cache line (the
/// candidate loop of a team walk reads these for every member; a `Rep` is a few cache
/// lines and keeps its hours table in a separate allocation). Hours and zone names are
/// indices into small shared tables ([`TraceText::hours`], [`TraceText::zone_label`]).
#[derive(Debug, Clone, PartialEq)]
#[repr(align(64))]
pub struct RepCheck {
    /// The rep id (as [`TraceText::rep_id`]).
    pub id: Text,
    pub capacity: Option<f64>,
    pub daily_cap: Option<u32>,
    /// Index into [`CompiledConfig::zones`].
    pub zone: u16,
    pub active: bool,
    pub has_out_of_office: bool,
    /// Index into [`TraceText::zone_label`]: the rep's zone name as written.
    pub zone_label: u32,
    /// Index into [`TraceText::hours`] and [`TraceText::hours_text`].
    pub hours: u32,
}

/// A rep's working hours for the availability check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HoursCheck {
    /// No working hours: always within them.
    Always,
    /// Up to two `[start, end)` minute ranges per weekday (Mon = 0); unused are empty.
    Ranges([[(u16, u16); 2]; 7]),
    /// More ranges on some day: read [`Rep::working_hours`].
    Table,
}

impl HoursCheck {
    pub fn of(rep: &Rep) -> HoursCheck {
        match &rep.working_hours {
            None => HoursCheck::Always,
            Some(h) if h.days.iter().all(|d| d.len() <= 2) => {
                let mut days = [[(0, 0); 2]; 7];
                for (day, ranges) in days.iter_mut().zip(&h.days) {
                    day[..ranges.len()].copy_from_slice(ranges);
                }
                HoursCheck::Ranges(days)
            }
            Some(_) => HoursCheck::Table,
        }
    }

    /// Within `rep`'s working hours at this local weekday and minute
    /// ([`WorkingHours::contains`]); `rep` is the one these hours were made from.
    pub fn contains(&self, rep: &Rep, weekday_mon0: usize, minute: u16) -> bool {
        match self {
            HoursCheck::Always => true,
            HoursCheck::Ranges(days) => days[weekday_mon0]
                .iter()
                .any(|&(s, e)| minute >= s && minute < e),
            HoursCheck::Table => rep
                .working_hours
                .as_ref()
                .is_none_or(|h| h.contains(weekday_mon0, minute)),
        }
    }
}

/// Per rep: its [`RepCheck`]; and the distinct hours (with their text) and zone names
/// the records point into.
fn rep_checks(
    cfg: &CompiledConfig,
    rep_id: &[Text],
) -> (Vec<RepCheck>, Vec<HoursCheck>, Vec<Text>, Vec<Text>) {
    let (mut hours, mut hours_text, mut zone_label) =
        (Vec::new(), Vec::<Text>::new(), Vec::<Text>::new());
    let mut checks = Vec::with_capacity(cfg.reps.len());
    for (rep, id) in cfg.reps.iter().zip(rep_id) {
        let h = HoursCheck::of(rep);
        let text = rep
            .working_hours
            .as_ref()
            .map(|w| w.text.as_str())
            .unwrap_or_default();
        // Few distinct values: a search is quicker than hashing here.
        let hi = match (0..hours.len()).find(|&i| hours[i] == h && hours_text[i] == *text) {
            Some(i) => i,
            None => {
                hours.push(h);
                hours_text.push(Text::interned(text));
                hours.len() - 1
            }
        };
        let zi = match zone_label.iter().position(|z| *z == *rep.tz_name) {
            Some(i) => i,
            None => {
                zone_label.push(Text::interned(&rep.tz_name));
                zone_label.len() - 1
            }
        };
        checks.push(RepCheck {
            id: id.clone(),
            capacity: rep.capacity,
            daily_cap: rep.daily_cap,
            zone: rep.zone,
            active: rep.active,
            has_out_of_office: !rep.out_of_office.is_empty(),
            zone_label: zi as u32,
            hours: hi as u32,
        });
    }
    (checks, hours, hours_text, zone_label)
}

impl TraceText {
    pub fn build(cfg: &CompiledConfig) -> TraceText {
        let texts = |it: &mut dyn Iterator<Item = String>| it.map(Text::shared).collect();
        let interned = |it: &mut dyn Iterator<Item = &str>| it.map(Text::interned).collect();
        // Labels built from a small, stable vocabulary (rep, team and queue names): a
        // decision clones several of them, and an interned text clones without touching a
        // reference count in the config's memory.
        let interned_owned =
            |it: &mut dyn Iterator<Item = String>| it.map(|s| Text::interned(&s)).collect();
        let sla_row = |seg: Option<&str>| Tier::ALL.map(|t| cfg.sla_for(t, seg));
        let labelled = |points: &HashMap<String, i32>, kind: &str| {
            points
                .iter()
                .map(|(k, p)| (k.clone(), (*p, Text::interned(&format!("{kind} {k}")))))
                .collect()
        };
        let words = |groups: &[(Vec<String>, i32)], label: &dyn Fn(&str) -> String| {
            groups
                .iter()
                .map(|(ws, _)| ws.iter().map(|w| Text::interned(&label(w))).collect())
                .collect()
        };
        let byte_sets = |groups: &[(Vec<String>, i32)]| -> Vec<Vec<[u64; 4]>> {
            groups
                .iter()
                .map(|(ws, _)| ws.iter().map(|w| crate::normalize::byte_set(w)).collect())
                .collect()
        };
        let rep_id: Vec<Text> = interned(&mut cfg.reps.iter().map(|r| r.id.as_str()));
        let team_id: Vec<Text> = interned(&mut cfg.teams.iter().map(|t| t.id.as_str()));
        let team_members_by_id: Vec<Vec<usize>> = cfg
            .teams
            .iter()
            .map(|t| {
                let mut pos: Vec<usize> = (0..t.members.len()).collect();
                pos.sort_by_key(|&p| cfg.rep(t.members[p]).id.as_str());
                pos
            })
            .collect();
        let teams = crate::state::TeamTable::new(
            &team_id,
            cfg.teams
                .iter()
                .map(|t| {
                    t.members
                        .iter()
                        .map(|&r| rep_id[r as usize].clone())
                        .collect()
                })
                .collect(),
            team_members_by_id.iter().map(|p| p[..].into()).collect(),
        );
        let (rep_check, hours, hours_text, zone_label) = rep_checks(cfg, &rep_id);
        let walk = crate::trace::WalkTable {
            reps: rep_check
                .iter()
                .map(|rc| crate::trace::WalkRep {
                    id: rc.id.clone(),
                    zone: zone_label[rc.zone_label as usize].clone(),
                    hours: hours_text[rc.hours as usize].clone(),
                    capacity: rc.capacity.unwrap_or(0.0),
                    daily_cap: rc.daily_cap.unwrap_or(0),
                })
                .collect(),
        };
        TraceText {
            walk: std::sync::Arc::new(walk),
            teams: std::sync::Arc::new(teams),
            version: Text::interned(&cfg.version),
            reps: std::sync::Arc::new(crate::state::RepTable::new(&rep_id)),
            rep_id,
            rep_name: interned_owned(&mut cfg.reps.iter().map(|r| r.name.clone())),
            rep_zone: interned(&mut cfg.reps.iter().map(|r| r.tz_name.as_str())),
            rep_hours: interned(&mut cfg.reps.iter().map(|r| {
                r.working_hours
                    .as_ref()
                    .map(|h| h.text.as_str())
                    .unwrap_or_default()
            })),
            rep_check,
            hours,
            hours_text,
            zone_label,
            rep_as_backup: interned_owned(&mut cfg.reps.iter().map(|r| format!("backup {}", r.id))),
            rep_as_team_lead: interned_owned(
                &mut cfg.reps.iter().map(|r| format!("team lead {}", r.id)),
            ),
            rep_label: interned_owned(&mut cfg.reps.iter().map(|r| format!("rep:{}", r.id))),
            team_id,
            team_label: interned_owned(&mut cfg.teams.iter().map(|t| format!("team:{}", t.id))),
            team_members_by_id,
            queue_label: interned_owned(&mut cfg.queues.iter().map(|q| format!("queue:{q}"))),
            queue_name: interned_owned(&mut cfg.queues.iter().cloned()),
            rule_id: texts(&mut cfg.rules.iter().map(|r| r.id.clone())),
            rule_origin: texts(&mut cfg.rules.iter().map(|r| r.origin.to_string())),
            rule_conditions: texts(&mut cfg.rules.iter().map(Rule::describe_conditions)),
            segment: interned(&mut cfg.segments.iter().map(|s| s.name.as_str())),
            sla: cfg
                .segments
                .iter()
                .map(|s| sla_row(Some(&s.name)))
                .chain([sla_row(None)])
                .collect(),
            score_segment: labelled(&cfg.scoring.segment, "segment"),
            score_industry: labelled(&cfg.scoring.industry, "industry"),
            score_action: labelled(&cfg.scoring.action, "action"),
            score_title: words(&cfg.scoring.title, &|w| format!("title has \"{w}\"")),
            score_page: words(&cfg.scoring.page, &|w| format!("visited {w}")),
            score_title_bytes: byte_sets(&cfg.scoring.title),
            score_page_bytes: byte_sets(&cfg.scoring.page),
            tokens: cfg
                .rules
                .iter()
                .flat_map(|r| r.cond(Dim::Product).iter().chain(r.cond(Dim::LeadSource)))
                .chain(cfg.intent.keys())
                .chain(cfg.scoring.action.keys())
                .map(|t| Text::interned(t))
                .collect(),
        }
    }

    /// A lead's value as a [`crate::normalize::token`]: the config's copy when it names
    /// it, else a new one; None when nothing is left.
    pub fn token(&self, s: &str) -> Option<Text> {
        crate::normalize::with_token(s, |t| match self.tokens.get(t) {
            _ if t.is_empty() => None,
            Some(known) => Some(known.clone()),
            None => Some(Text::copy(t)),
        })
    }

    /// `"team:<id>"`, `"rep:<id>"` or `"queue:<name>"` (as [`CompiledConfig::target_label`]).
    pub fn target_label(&self, t: Target) -> Text {
        match t {
            Target::Team(i) => self.team_label[i as usize].clone(),
            Target::Rep(i) => self.rep_label[i as usize].clone(),
            Target::Queue(i) => self.queue_label[i as usize].clone(),
        }
    }

    /// SLA for a tier and the index of the lead's segment (as [`CompiledConfig::sla_for`]).
    pub fn sla_for(&self, tier: Tier, segment: Option<usize>) -> SlaTimes {
        let row = segment.unwrap_or(self.sla.len() - 1);
        self.sla[row][tier as usize]
    }
}

impl CompiledConfig {
    pub fn queue(&self, role: QueueRole) -> QueueIdx {
        self.queue_roles[&role]
    }

    pub fn queue_name(&self, q: QueueIdx) -> &str {
        &self.queues[q as usize]
    }

    pub fn rep(&self, r: RepIdx) -> &Rep {
        &self.reps[r as usize]
    }

    pub fn team(&self, t: TeamIdx) -> &Team {
        &self.teams[t as usize]
    }

    /// SLA for a tier, with the segment-specific override when there is one.
    pub fn sla_for(&self, tier: Tier, segment: Option<&str>) -> SlaTimes {
        if let Some(seg) = segment
            && let Some(s) = self.sla.get(&(tier, Some(seg.to_string())))
        {
            return *s;
        }
        self.sla[&(tier, None)]
    }

    pub fn target_label(&self, t: Target) -> String {
        match t {
            Target::Team(i) => format!("team:{}", self.team(i).id),
            Target::Rep(i) => format!("rep:{}", self.rep(i).id),
            Target::Queue(i) => format!("queue:{}", self.queue_name(i)),
        }
    }

    /// Canonical industry name: alias table, else the folded input ("Financial Services"
    /// -> "financial_services").
    pub fn normalize_industry(&self, s: &str) -> Option<Text> {
        crate::normalize::with_token(s, |key| match self.industry_alias.get(key) {
            _ if key.is_empty() => None,
            Some(canon) => Some(canon.clone()),
            None => Some(Text::copy(key)),
        })
    }

    /// Segment for an employee count (SEG-1).
    pub fn segment_for(&self, employees: u32) -> Option<&str> {
        self.segment_index(employees)
            .map(|i| self.segments[i].name.as_str())
    }

    /// Index in [`CompiledConfig::segments`] of the segment for an employee count.
    pub fn segment_index(&self, employees: u32) -> Option<usize> {
        self.segments
            .iter()
            .position(|s| employees >= s.min_employees)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_hours_agree_with_the_table() {
        for spec in [
            vec!["Mon-Fri 09:00-17:00"],
            vec!["Mon-Fri 09:00-12:00", "Mon-Fri 13:00-18:30"],
            vec!["Sun-Thu 08:00-16:00"],
            vec!["Mon-Fri 22:00-06:00"],
            vec![
                "Mon 01:00-02:00",
                "Mon 03:00-04:00",
                "Mon 05:00-06:00",
                "Tue-Sun 00:00-23:59",
            ],
        ] {
            let list: Vec<String> = spec.iter().map(|s| s.to_string()).collect();
            let hours = compile::parse_working_hours(&list).expect("valid hours");
            let rep = Rep {
                id: "r".into(),
                name: "R".into(),
                email: None,
                phone: None,
                slack: None,
                team: None,
                manager: None,
                backup: None,
                weight: 1.0,
                stride: STRIDE_SCALE,
                capacity: None,
                daily_cap: None,
                tz: TimeZone::UTC,
                tz_name: "UTC".into(),
                zone: 0,
                working_hours: Some(hours.clone()),
                out_of_office: Vec::new(),
                active: true,
                booking_link: None,
                signature: None,
                linkedin: None,
                origin: Origin {
                    file: "t".into(),
                    line: 1,
                },
            };
            let check = HoursCheck::of(&rep);
            let packed = matches!(check, HoursCheck::Ranges(_));
            assert_eq!(packed, hours.days.iter().all(|d| d.len() <= 2), "{spec:?}");
            for wd in 0..7 {
                for minute in 0..24 * 60 {
                    assert_eq!(
                        check.contains(&rep, wd, minute),
                        hours.contains(wd, minute),
                        "{spec:?} {wd} {minute}"
                    );
                }
            }
        }
    }
}
