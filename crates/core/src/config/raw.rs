//! The configuration file as written (phase 1 of two).
//!
//! These structs mirror the TOML one to one and keep source spans where a later
//! check needs to point at a line. Nothing here is validated beyond TOML types:
//! `compile.rs` turns this into the indexed, validated [`crate::config::CompiledConfig`].

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub organization: RawOrganization,
    #[serde(default)]
    pub routing: RawRouting,
    #[serde(default)]
    pub queues: RawQueues,
    /// Size segments, largest first or in any order; default SEG-1 thresholds.
    #[serde(default, rename = "segment")]
    pub segments: Vec<Spanned<RawSegment>>,
    #[serde(default)]
    pub industries: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub regions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub intent: RawIntent,
    #[serde(default)]
    pub icp: RawIcp,
    /// Tiers said directly by action (and optionally segment), over intent × fit.
    #[serde(default, rename = "tier_by_action")]
    pub tier_by_action: Vec<Spanned<RawTierByAction>>,
    #[serde(default)]
    pub scoring: RawScoring,
    #[serde(default)]
    pub sla: RawSla,
    #[serde(default)]
    pub capacity: RawCapacity,
    #[serde(default, rename = "manager")]
    pub managers: Vec<Spanned<RawManager>>,
    #[serde(default)]
    pub leadership: RawLeadership,
    #[serde(default, rename = "rep")]
    pub reps: Vec<Spanned<RawRep>>,
    #[serde(default, rename = "team")]
    pub teams: Vec<Spanned<RawTeam>>,
    #[serde(default, rename = "account")]
    pub accounts: Vec<Spanned<RawAccount>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<RawRule>>,
    #[serde(default, rename = "form")]
    pub forms: Vec<Spanned<RawForm>>,
    /// How long personal data is kept (SEC-3); every key defaults to "keep".
    #[serde(default)]
    pub retention: RawRetention,
    /// Notification channels, templates and alerts; parsed by the server's notify crate.
    #[serde(default)]
    pub notify: Option<toml::Table>,
    /// Enrichment provider chain; parsed by the enrich crate.
    #[serde(default)]
    pub enrichment: Option<toml::Table>,
    /// CRM connection (HubSpot or Salesforce); parsed by the crm crate.
    #[serde(default)]
    pub crm: Option<toml::Table>,
    /// Calendar feeds (refresh, timeouts, out-of-office titles); read by the server, see
    /// docs/calendars.md.
    #[serde(default)]
    pub calendar: Option<toml::Table>,
    /// `[booking]`: meetings booked with the assigned rep (issue 22); off when absent.
    #[serde(default)]
    pub booking: Option<Spanned<RawBooking>>,
}

/// `[booking]` as written (see `crate::booking`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBooking {
    pub actions: Option<Vec<String>>,
    pub tiers: Option<Vec<String>>,
    pub meeting: Option<String>,
    pub buffer_before: Option<String>,
    pub buffer_after: Option<String>,
    pub min_notice: Option<String>,
    pub days_ahead: Option<u32>,
    pub daily_cap: Option<u32>,
    pub slot_step: Option<String>,
    pub default_hours: Option<Vec<String>>,
    pub link_valid: Option<String>,
    pub title: Option<String>,
}

/// `[retention]`: days after which the server's retention job pseudonymises leads, drops
/// decision traces and deletes delivered outbox rows (SEC-3).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub leads_days: Option<i64>,
    pub traces_days: Option<i64>,
    pub delivered_outbox_days: Option<i64>,
    pub audit_days: Option<i64>,
}

/// A public HTML form posting to `/v1/forms/{key}` (CAP-2).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForm {
    pub key: String,
    pub name: Option<String>,
    /// Defaults for leads from this form when the form does not send them.
    pub lead_source: Option<String>,
    pub action: Option<String>,
    pub product: Option<String>,
    /// Hosts `retURL` may point at (open-redirect protection); relative URLs always work.
    #[serde(default)]
    pub return_hosts: Vec<String>,
    /// Posts accepted per minute from everyone together (0: no limit).
    pub max_per_minute: Option<u32>,
    /// Posts accepted per hour from one client address (0: no limit).
    pub max_per_address_per_hour: Option<u32>,
    /// Posts accepted per hour for one submitted email address (0: no limit).
    pub max_per_email_per_hour: Option<u32>,
    /// Bot check: a post must carry a form token issued at least this many seconds
    /// earlier, else its lead goes to the junk queue (0: off).
    pub min_fill_secs: Option<u32>,
    /// Whether leads from this form get the confirmation email (NTF-3) when
    /// `[notify.email] lead_confirmation` is on.
    pub confirmation: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOrganization {
    pub name: Option<String>,
    /// Default IANA time zone for reps that do not name one.
    pub timezone: Option<Spanned<String>>,
    /// Where users reach the console; an `https://` URL marks its session cookie `Secure`.
    /// Notification links come from `[notify] base_url`, not from here.
    pub console_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// CSV file with more matrix rules ("the spreadsheet"), relative to the config file.
    pub matrix_csv: Option<Spanned<String>>,
    /// CSV file with more accounts, relative to the config file.
    pub accounts_csv: Option<Spanned<String>>,
    /// Team tried after the matrix and before the catch-all queue.
    pub default_team: Option<Spanned<String>>,
    /// VAL-4: a lead disqualified fewer days ago than this goes back to its rep.
    pub recycle_after_days: Option<u32>,
    /// A named-account lead arriving outside its owner's working hours waits for the
    /// owner when their next working window starts within this duration (absent: off).
    pub hold_for_owner_within: Option<Spanned<String>>,
    /// ENR-5: where leads with neither size nor industry go ("qualification" queue role by default).
    pub route_unknown_firmographics: Option<bool>,
    /// Form field that must stay empty (VAL-2 honeypot); default "website_url".
    pub honeypot_field: Option<String>,
    /// Extra personal-email domains on top of the shipped list.
    #[serde(default)]
    pub personal_domains: Vec<String>,
    /// Domains removed from the shipped personal-email list.
    #[serde(default)]
    pub corporate_domains: Vec<String>,
    /// Extra disposable domains on top of the shipped list.
    #[serde(default)]
    pub disposable_domains: Vec<String>,
}

/// Names of the five built-in queue roles, plus any extra named queues.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawQueues {
    pub catch_all: Option<String>,
    pub review: Option<String>,
    pub qualification: Option<String>,
    pub nurture: Option<String>,
    pub junk: Option<String>,
    #[serde(default)]
    pub extra: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    pub name: String,
    pub min_employees: u32,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawIntent {
    pub high: Option<Vec<String>>,
    pub medium: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawIcp {
    /// Segments that fit the ICP (default: every segment but the smallest).
    pub segments: Option<Spanned<Vec<Spanned<String>>>>,
    /// Industries that fit; empty or absent means the industry is not considered.
    pub industries: Option<Spanned<Vec<String>>>,
    /// Regions that fit; absent means the region is not considered.
    pub regions: Option<Spanned<Vec<String>>>,
    /// Countries that fit (ISO codes or names); absent means the country is not considered.
    pub countries: Option<Spanned<Vec<String>>>,
}

/// `[[tier_by_action]]`: leads with one of these actions (and, when given, in one of these
/// segments) get this tier, whatever intent × ICP fit says. First match in file order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTierByAction {
    pub actions: Vec<Spanned<String>>,
    /// Segments the entry is limited to; "unknown" stands for leads of no known size.
    #[serde(default)]
    pub segments: Vec<Spanned<String>>,
    pub tier: Spanned<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScoring {
    /// TIER-4: tier-3 leads scoring below this go to the nurture queue.
    pub nurture_below: Option<i32>,
    #[serde(default)]
    pub segment: BTreeMap<String, i32>,
    #[serde(default)]
    pub industry: BTreeMap<String, i32>,
    #[serde(default)]
    pub action: BTreeMap<String, i32>,
    #[serde(default)]
    pub title: Vec<RawKeywordPoints>,
    #[serde(default)]
    pub page: Vec<RawKeywordPoints>,
    /// Points for an ICP fit.
    pub icp_fit: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeywordPoints {
    /// Case-insensitive substrings; any one matching earns the points (once per rule).
    pub contains: Vec<Spanned<String>>,
    pub points: i32,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    pub hot: Option<RawSlaTimes>,
    pub warm: Option<RawSlaTimes>,
    pub standard: Option<RawSlaTimes>,
    #[serde(default, rename = "override")]
    pub overrides: Vec<Spanned<RawSlaOverride>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawSlaTimes {
    /// e.g. "5m", "1h", "24h", "1h 30m"
    pub route_within: Option<Spanned<String>>,
    pub contact_within: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlaOverride {
    pub tier: String,
    pub segment: String,
    pub route_within: Option<Spanned<String>>,
    pub contact_within: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    /// ASG-4 stage weights (defaults 0.5 / 1.0 / 1.5).
    pub early: Option<f64>,
    pub mid: Option<f64>,
    pub late: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManager {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub slack: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLeadership {
    /// Manager ids alerted at 3x SLA (SLA-2).
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRep {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub slack: Option<String>,
    pub team: Option<Spanned<String>>,
    pub manager: Option<Spanned<String>>,
    pub backup: Option<Spanned<String>>,
    /// Weighted round-robin weight (default 1.0; 2 = twice the leads, 0.5 = half).
    pub weight: Option<f64>,
    /// Stage-weighted open-lead load limit (ASG-4); absent = unlimited.
    pub capacity: Option<f64>,
    /// Maximum new leads per local day; absent = unlimited.
    pub daily_cap: Option<u32>,
    pub timezone: Option<Spanned<String>>,
    /// "Mon-Fri 09:00-17:30", or a list of such ranges; absent = always working.
    pub working_hours: Option<Spanned<RawWorkingHours>>,
    #[serde(default)]
    pub out_of_office: Vec<Spanned<RawOutOfOffice>>,
    pub active: Option<bool>,
    pub booking_link: Option<String>,
    pub signature: Option<String>,
    pub linkedin: Option<String>,
    /// The rep's calendar feed (iCalendar): `"env:NAME"` (the secret address in that
    /// environment variable) or an https URL. See docs/calendars.md.
    pub calendar: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum RawWorkingHours {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawOutOfOffice {
    /// A date ("2026-12-21", start of that day in the rep's zone) or an RFC 3339 instant.
    pub from: String,
    /// A date (inclusive: to the end of that day) or an RFC 3339 instant (exclusive).
    pub to: String,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub id: String,
    pub name: Option<String>,
    /// Rep who takes leads when a member and their backup are unavailable.
    pub lead: Option<Spanned<String>>,
    pub manager: Option<Spanned<String>>,
    /// Members besides the reps whose `team` names this team (e.g. specialists).
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
    /// "round_robin" (default), "weighted_round_robin" or "least_loaded".
    pub method: Option<Spanned<String>>,
    /// For least_loaded ties: "rotation" (default) or "rep_order".
    pub tiebreaker: Option<Spanned<String>>,
    /// Where a lead goes when no member is available: "team:ID" or "queue:NAME"; default the catch-all.
    pub overflow: Option<Spanned<String>>,
    /// Skip reps outside their working hours (default true).
    pub respect_working_hours: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub domain: String,
    pub name: Option<String>,
    pub owner: Option<Spanned<String>>,
    /// ABM named/target account (ACC-2).
    pub named: Option<bool>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// One row of the routing matrix (SEG-2). A missing or empty condition matches anything.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: String,
    /// Higher wins; equal priority falls to the more specific rule, then file order.
    pub priority: Option<i32>,
    #[serde(default)]
    pub segment: Vec<String>,
    #[serde(default)]
    pub industry: Vec<String>,
    #[serde(default)]
    pub region: Vec<String>,
    #[serde(default)]
    pub country: Vec<String>,
    #[serde(default)]
    pub state: Vec<String>,
    /// Exact codes or prefixes ending in `*` ("94*").
    #[serde(default)]
    pub postal_code: Vec<String>,
    #[serde(default)]
    pub product: Vec<String>,
    #[serde(default)]
    pub lead_source: Vec<String>,
    /// "hot", "warm", "standard" (or 1, 2, 3 as strings)
    #[serde(default)]
    pub tier: Vec<String>,
    /// "team:ID", "rep:ID" or "queue:NAME"
    pub route_to: Spanned<String>,
    pub note: Option<String>,
    /// A segment rule meant to win over the territory rules it outranks by priority
    /// (partner desk, specialists): `check` notes it instead of warning.
    #[serde(default)]
    pub overrides_territory: bool,
}
