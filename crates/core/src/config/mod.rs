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
mod trace_text;

use crate::domains::DomainLists;
use crate::geo::Geo;
use crate::text::Text;
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use error::{ConfigError, LoadError, SourceText};
pub use trace_text::{HoursCheck, RepCheck, TraceText};

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
    /// The calendar feed as written: `env:NAME` or a URL (docs/calendars.md).
    pub calendar: Option<String>,
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
    /// Declared as a segment rule meant to outrank territory rules (a note, not a
    /// warning, in `check`).
    pub overrides_territory: bool,
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

/// `[[tier_by_action]]`: a tier said directly for actions (and segments).
#[derive(Debug, Clone)]
pub struct TierByAction {
    /// Action tokens.
    pub actions: Vec<String>,
    /// Segment names; [`TierByAction::UNKNOWN`] matches a lead of no known size; empty: any.
    pub segments: Vec<String>,
    pub tier: Tier,
    /// "demo_request → hot (config.toml:40)", as the trace quotes it.
    pub label: String,
}

impl TierByAction {
    pub const UNKNOWN: &'static str = "unknown";

    pub fn applies(&self, action: Option<&str>, segment: Option<&str>) -> bool {
        action.is_some_and(|a| self.actions.iter().any(|x| x == a))
            && (self.segments.is_empty()
                || self.segments.iter().any(|s| {
                    Some(s.as_str()) == segment || (s == Self::UNKNOWN && segment.is_none())
                }))
    }
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

/// `[retention]` (SEC-3): how many days each kind of personal data is kept; `None`
/// keeps it until it is erased on request. The audit log (SEC-2) is always bounded:
/// `audit_days`, default [`Retention::DEFAULT_AUDIT_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub leads_days: Option<u32>,
    pub traces_days: Option<u32>,
    pub delivered_outbox_days: Option<u32>,
    pub audit_days: u32,
}

impl Retention {
    /// A year and a month: a full year of history for an annual review, then gone.
    pub const DEFAULT_AUDIT_DAYS: u32 = 400;
    /// The database refuses to delete audit entries younger than this (migration 0022).
    pub const MIN_AUDIT_DAYS: u32 = 30;
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            leads_days: None,
            traces_days: None,
            delivered_outbox_days: None,
            audit_days: Retention::DEFAULT_AUDIT_DAYS,
        }
    }
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
    /// Hold a named-account lead for its owner when their next working window starts
    /// within this long (None: off); the SLA clock starts at that window.
    pub hold_for_owner_within: Option<SignedDuration>,
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
    pub limits: FormLimits,
    /// Seconds between fetching a form token and posting; 0: no bot check beyond the
    /// honeypot.
    pub min_fill_secs: u32,
    /// Send the lead confirmation email to leads from this form (default true).
    pub confirmation: bool,
}

/// A public form's rate limits (SEC-1); 0 means no limit. Each allows a burst of its
/// full count, then refills evenly over its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormLimits {
    pub per_minute: u32,
    pub per_address_per_hour: u32,
    pub per_email_per_hour: u32,
}

impl Default for FormLimits {
    /// The documented defaults (docs/config.md `[[form]]`).
    fn default() -> Self {
        FormLimits {
            per_minute: 60,
            per_address_per_hour: 20,
            per_email_per_hour: 5,
        }
    }
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
    /// `[[tier_by_action]]` in file order (first match wins).
    pub tier_by_action: Vec<TierByAction>,
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
    pub retention: Retention,
    /// The config file as read: `[notify]` and `[enrichment]` are parsed from it by their
    /// own crates, which point their errors at its lines.
    pub source: std::sync::Arc<SourceText>,
    /// Directory of the config file, for paths inside those tables.
    pub base_dir: std::path::PathBuf,
    /// The strings decisions copy into their traces, shared with this config.
    pub text: TraceText,
    /// Values that compile but can never match a normalised lead, found where the source
    /// spans are; `check` reports them with the other findings.
    pub lints: Vec<crate::analysis::Finding>,
    /// `[booking]` (issue 22); None when the section is absent.
    pub booking: Option<crate::booking::BookingConfig>,
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
