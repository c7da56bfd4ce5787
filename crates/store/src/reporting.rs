//! Reads for the operations console and the MET-1 figures (issue 6), kept apart from the
//! routing [`Store`](crate::Store) trait: rollups per day, window aggregates over a
//! covering index, queue and rep listings, and the console's own session rows.
//!
//! The rollups (`console_daily`, `console_speed`, `console_window`) and the
//! `reassignments` column are written by [`RollupTx::write_rollups`] (the `fallback`
//! column comes with the lead row itself, from `LeadRecord::fallback`), which every
//! backend's `Tx::write` calls inside the routing transaction, so a rollup never
//! disagrees with the leads it counts.
//!
//! Days are the organisation's calendar days ([`ReportZone`]): the zone is stored with the
//! state version (`state_version.report_zone`) and read under the routing lock, so every
//! instance buckets a batch the same way; [`Reporting::set_report_zone`] rebuilds the
//! rollups from the leads when it changes. This file holds the types and the pure
//! arithmetic; `reporting/sql.rs` the statements of both backends.

use crate::{BatchWrite, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub const DAY_US: i64 = 86_400_000_000;

/// Microseconds at the UTC midnight on or before `us`.
pub fn day_of(us: i64) -> i64 {
    us.div_euclid(DAY_US) * DAY_US
}

/// The zone whose calendar days the rollups count in (`organization.timezone`).
///
/// A day is keyed by its local date written as that date's UTC midnight in microseconds
/// ("day key"): keys stay exactly [`DAY_US`] apart across DST changes, and with UTC they
/// are the instants they always were. [`ReportZone::day_start`] turns a key back into the
/// instant the local day begins.
#[derive(Debug, Clone)]
pub struct ReportZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl PartialEq for ReportZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl ReportZone {
    pub fn utc() -> ReportZone {
        ReportZone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// A zone already resolved (the compiled config's `organization_tz`).
    pub fn new(name: &str, tz: jiff::tz::TimeZone) -> ReportZone {
        ReportZone {
            name: name.into(),
            tz,
        }
    }

    /// A zone by its IANA name, as stored in `state_version.report_zone`.
    pub fn named(name: &str) -> Result<ReportZone> {
        if name == "UTC" {
            return Ok(ReportZone::utc());
        }
        jiff::tz::TimeZone::get(name)
            .map(|tz| ReportZone::new(name, tz))
            .map_err(|e| crate::StoreError::Corrupt(format!("report zone `{name}`: {e}")))
    }

    /// The zone a routing transaction buckets by. A name this host's time zone database
    /// does not know (written by an instance with a newer one) must not stop routing: its
    /// rollups fall back to UTC days until the zone is set again.
    pub(crate) fn stored(name: &str) -> ReportZone {
        ReportZone::named(name).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "console rollups count UTC days");
            ReportZone::utc()
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }

    /// The key of the local day that contains the instant `us`.
    pub fn day_of(&self, us: i64) -> i64 {
        let offset = self.tz.to_offset(crate::from_micros(us)).seconds();
        day_of(us + i64::from(offset) * 1_000_000)
    }

    /// The local date of a day key.
    pub fn date(day: i64) -> jiff::civil::Date {
        crate::from_micros(day_of(day))
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
    }

    /// The key of a local date.
    pub fn key(date: jiff::civil::Date) -> i64 {
        date.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or_default()
    }

    /// The instant the local day `day` begins: its midnight, or the first instant after a
    /// DST gap that swallows midnight.
    pub fn day_start(&self, day: i64) -> i64 {
        ReportZone::date(day)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or(day)
    }
}

/// Speed-to-assign histogram bucket of a duration in microseconds: four per doubling.
pub fn speed_bucket(us: i64) -> i64 {
    if us < 1 {
        0
    } else {
        ((us as f64).log2() * 4.0).floor() as i64
    }
}

/// The upper bound (microseconds, exclusive) of a speed bucket.
pub fn speed_bucket_upper(bucket: i64) -> f64 {
    2f64.powf((bucket + 1) as f64 / 4.0)
}

/// One `console_daily` row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyRow {
    pub day: i64,
    pub tier: String,
    pub path: String,
    pub leads: i64,
    pub assigned: i64,
    pub fallbacks: i64,
    pub assign_us_sum: i64,
}

/// One `console_speed` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeedRow {
    pub day: i64,
    pub bucket: i64,
    pub n: i64,
}

/// Leads received in a window, grouped by tier, path, team and owner, with the sums the
/// MET-1 figures are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowGroup {
    pub tier: String,
    pub path: String,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub leads: i64,
    pub fallbacks: i64,
    /// Leads reassigned at least once (manual or SLA).
    pub reassigned: i64,
    /// Leads with a contact deadline that was met (first touch at or before it).
    pub sla_met: i64,
    /// Leads whose contact deadline is decided: touched, or the deadline has passed.
    pub sla_due: i64,
    pub contacted: i64,
    pub contact_us_sum: i64,
    pub accepted: i64,
    pub accept_us_sum: i64,
    pub assign_us_sum: i64,
    /// Leads that reached opportunity (stage mid or late, or won).
    pub opportunities: i64,
    pub won: i64,
}

/// Open leads in a queue and how many of them have waited past the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCount {
    pub queue: String,
    pub open: i64,
    pub older: i64,
}

/// A lead as listed in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadSummary {
    pub id: String,
    pub received_at: i64,
    pub routed_at: i64,
    pub email: Option<String>,
    pub payload: serde_json::Value,
    pub tier: String,
    pub path: String,
    pub rule: Option<String>,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub status: String,
    pub contact_by: Option<i64>,
    pub first_touch_at: Option<i64>,
    pub reassignments: i64,
}

/// Leads received in a window that took one way through the hierarchy: the console's
/// routing flow counts these (path, rule, team, owner and queue as stored with the lead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowGroup {
    pub path: String,
    pub rule: Option<String>,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub leads: i64,
}

/// Which leads of a window to list (the routing flow's "leads of this node"): each set
/// field must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowFilter {
    pub path: Option<String>,
    pub rule: Option<String>,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub queue: Option<String>,
}

/// A queued weekly report (`weekly_reports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyReportRow {
    pub week: String,
    pub queued_at: i64,
    pub recipients: i64,
    pub actor: String,
}

/// A console session (the id is the SHA-256 of the cookie value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[async_trait]
pub trait Reporting: Send + Sync + 'static {
    /// `console_daily` rows for the day keys `[from_day, to_day]` ([`ReportZone`]).
    async fn daily(&self, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>>;
    /// `console_speed` rows for the day keys `[from_day, to_day]`.
    async fn speed(&self, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>>;
    /// Leads received in `[from, to)`, grouped; `now` decides which deadlines have passed.
    async fn window(&self, from: i64, to: i64, now: i64) -> Result<Vec<WindowGroup>>;
    /// The same groups as [`Reporting::window`] over the local days `[from_day, to_day]`,
    /// read from the `console_window` rollup (a few thousand rows at most) and the
    /// untouched leads whose deadline has not passed at `now` (one snapshot).
    async fn window_days(&self, from_day: i64, to_day: i64, now: i64) -> Result<Vec<WindowGroup>>;
    /// Open leads per queue among `queues`, and how many were received before `cutoff`
    /// (one snapshot).
    async fn queue_counts(&self, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>>;
    /// Open leads in a queue, newest first.
    async fn queue_leads(&self, queue: &str, limit: i64) -> Result<Vec<LeadSummary>>;
    /// A rep's leads, newest first.
    async fn rep_leads(&self, rep: &str, limit: i64) -> Result<Vec<LeadSummary>>;
    /// The newest leads.
    async fn recent_leads(&self, limit: i64) -> Result<Vec<LeadSummary>>;
    /// One read snapshot for a page that combines several reads, so it never shows one
    /// commit's rows beside another's (PostgreSQL: a read-only REPEATABLE READ
    /// transaction; SQLite: one deferred read transaction on one connection). End it with
    /// [`ReadSnapshot::end`].
    async fn snapshot(&self) -> Result<Box<dyn ReadSnapshot>>;
    /// The zone the rollups count days in (`state_version.report_zone`).
    async fn report_zone(&self) -> Result<String>;
    /// Count the rollups' days in `zone` from now on. When it is not the zone they are
    /// in, every rollup row is rebuilt from the stored leads, under the routing lock (no
    /// batch is written meanwhile); returns whether it was. Run on start and reload.
    async fn set_report_zone(&self, zone: &ReportZone) -> Result<bool>;
    /// The reason of each lead's latest decision.
    async fn reasons(&self, lead_ids: &[String]) -> Result<HashMap<String, String>>;
    /// A known person by normalised email (for "try a lead": VAL-3 without a transaction).
    async fn person(&self, email: &str) -> Result<Option<leadrouter_core::state::PriorPerson>>;
    /// Queue a week's report: record `week` and insert its outbox rows in one transaction.
    /// Returns false, writing nothing, when the week was already queued.
    async fn weekly_report_queue(
        &self,
        r: &WeeklyReportRow,
        outbox: &[crate::OutboxRow],
    ) -> Result<bool>;
    async fn weekly_report(&self, week: &str) -> Result<Option<WeeklyReportRow>>;
    /// Store a session and drop expired ones.
    async fn session_create(&self, s: &SessionRow) -> Result<()>;
    async fn session_get(&self, id: &str, now: i64) -> Result<Option<SessionRow>>;
    async fn session_delete(&self, id: &str) -> Result<()>;
}

/// The console's reads inside one snapshot ([`Reporting::snapshot`]); each answers as its
/// namesake on [`Reporting`] or [`Store`](crate::Store) does.
#[async_trait]
pub trait ReadSnapshot: Send {
    async fn daily(&mut self, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>>;
    async fn speed(&mut self, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>>;
    async fn window_days(
        &mut self,
        from_day: i64,
        to_day: i64,
        now: i64,
    ) -> Result<Vec<WindowGroup>>;
    async fn queue_counts(&mut self, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>>;
    async fn queue_leads(&mut self, queue: &str, limit: i64) -> Result<Vec<LeadSummary>>;
    async fn rep_leads(&mut self, rep: &str, limit: i64) -> Result<Vec<LeadSummary>>;
    async fn recent_leads(&mut self, limit: i64) -> Result<Vec<LeadSummary>>;
    async fn reasons(&mut self, lead_ids: &[String]) -> Result<HashMap<String, String>>;
    /// Leads received in `[from, to)` (microseconds), counted by the way they went.
    async fn flow_counts(&mut self, from: i64, to: i64) -> Result<Vec<FlowGroup>>;
    /// The newest `limit` leads received in `[from, to)` that match `filter`.
    async fn flow_leads(
        &mut self,
        filter: &FlowFilter,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<LeadSummary>>;
    async fn dead_letters(&mut self, limit: i64) -> Result<Vec<crate::OutboxRow>>;
    async fn state(&mut self) -> Result<leadrouter_core::state::StateSnapshot>;
    /// End the snapshot (nothing was written; it is rolled back).
    async fn end(self: Box<Self>) -> Result<()>;
}

/// The rollup and reporting-column changes one batch implies.
#[derive(Debug, Default, PartialEq)]
pub struct Rollups {
    pub daily: BTreeMap<(i64, String, String), DailyRow>,
    pub speed: BTreeMap<(i64, i64), i64>,
    /// Reassignments per lead (manual or SLA).
    pub reassigned: BTreeMap<String, i64>,
}

/// What a batch adds to the rollups: its new leads (counted once, on the local day they
/// were received) and its reassignment decisions.
pub fn rollups(b: &BatchWrite, zone: &ReportZone) -> Rollups {
    let mut r = Rollups::default();
    for d in &b.decisions {
        if matches!(d.kind.as_str(), "manual" | "sla_reassign") {
            *r.reassigned.entry(d.lead_id.clone()).or_default() += 1;
        }
    }
    for l in &b.leads {
        r.add_lead(
            zone.day_of(l.received_at),
            &l.tier,
            &l.path,
            l.owner.is_some(),
            l.fallback,
            l.routed_at - l.received_at,
        );
    }
    r
}

impl Rollups {
    /// One lead in `console_daily` and `console_speed`, as routed (`assigned`: it had an
    /// owner then).
    fn add_lead(
        &mut self,
        day: i64,
        tier: &str,
        path: &str,
        assigned: bool,
        fallback: bool,
        assign_us: i64,
    ) {
        let us = assign_us.max(0);
        let row = self
            .daily
            .entry((day, tier.to_string(), path.to_string()))
            .or_insert_with(|| DailyRow {
                day,
                tier: tier.to_string(),
                path: path.to_string(),
                ..DailyRow::default()
            });
        row.leads += 1;
        row.assigned += i64::from(assigned);
        row.fallbacks += i64::from(fallback);
        row.assign_us_sum += us;
        *self.speed.entry((day, speed_bucket(us))).or_default() += 1;
    }
}

/// Every rollup row from scratch, for [`Reporting::set_report_zone`]: fed each stored
/// lead, it makes what the routing transactions would have written had the zone always
/// been this one.
#[derive(Debug, Default, PartialEq)]
pub struct Rebuild {
    pub rollups: Rollups,
    pub window: BTreeMap<WindowKey, WindowSums>,
}

impl Rebuild {
    /// `routed_owner`: the owner of the lead's first decision (`console_daily.assigned`
    /// counts leads that had an owner when routed, whoever holds them now).
    pub fn add(&mut self, f: &LeadFacts, routed_owner: bool, zone: &ReportZone) {
        self.rollups.add_lead(
            zone.day_of(f.received_at),
            &f.tier,
            &f.path,
            routed_owner,
            f.fallback != 0,
            f.routed_at - f.received_at,
        );
        let (key, sums) = contribution(f, zone);
        let row = self.window.entry(key).or_insert([0; 13]);
        for (acc, v) in row.iter_mut().zip(sums) {
            *acc += v;
        }
    }
}

/// One lead's reporting columns as stored: what its `console_window` contribution is
/// computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadFacts {
    pub id: String,
    pub received_at: i64,
    pub routed_at: i64,
    pub tier: String,
    pub path: String,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub contact_by: Option<i64>,
    pub first_touch_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub status: String,
    pub stage: String,
    pub fallback: i64,
    pub reassignments: i64,
}

/// A `console_window` key: (day, tier, path, team or "", owner or "").
pub type WindowKey = (i64, String, String, String, String);

/// The sums of one `console_window` row, in column order (see [`WINDOW_SUMS`]).
pub type WindowSums = [i64; 13];

/// The `console_window` value columns, in [`WindowSums`] order.
pub const WINDOW_SUMS: [&str; 13] = [
    "leads",
    "fallbacks",
    "reassigned",
    "sla_met",
    "sla_touched",
    "sla_pending",
    "contacted",
    "contact_us_sum",
    "accepted",
    "accept_us_sum",
    "assign_us_sum",
    "opportunities",
    "won",
];

/// What one lead adds to its `console_window` row: the same definitions as
/// [`Reporting::window`]'s SQL, one lead at a time.
pub fn contribution(f: &LeadFacts, zone: &ReportZone) -> (WindowKey, WindowSums) {
    let key = (
        zone.day_of(f.received_at),
        f.tier.clone(),
        f.path.clone(),
        f.team.clone().unwrap_or_default(),
        f.owner.clone().unwrap_or_default(),
    );
    let b = |x: bool| i64::from(x);
    let has_deadline = f.contact_by.is_some();
    let touched = f.first_touch_at.is_some();
    let met = matches!((f.contact_by, f.first_touch_at), (Some(by), Some(t)) if t <= by);
    let sums = [
        1,
        f.fallback,
        b(f.reassignments > 0),
        b(met),
        b(has_deadline && touched),
        b(has_deadline && !touched),
        b(touched),
        f.first_touch_at.map_or(0, |t| t - f.routed_at),
        b(f.accepted_at.is_some()),
        f.accepted_at.map_or(0, |t| t - f.routed_at),
        f.routed_at - f.received_at,
        b(matches!(f.stage.as_str(), "mid" | "late") || f.status == "won"),
        b(f.status == "won"),
    ];
    (key, sums)
}

/// The `console_window` changes from leads whose columns went from `before` to `after`
/// (a new lead has no `before`); rows whose change is zero are left out.
pub fn window_deltas(
    before: &[LeadFacts],
    after: &[LeadFacts],
    zone: &ReportZone,
) -> BTreeMap<WindowKey, WindowSums> {
    let mut out: BTreeMap<WindowKey, WindowSums> = BTreeMap::new();
    for (facts, sign) in before
        .iter()
        .map(|f| (f, -1))
        .chain(after.iter().map(|f| (f, 1)))
    {
        let (key, sums) = contribution(facts, zone);
        let row = out.entry(key).or_insert([0; 13]);
        for (acc, v) in row.iter_mut().zip(sums) {
            *acc += sign * v;
        }
    }
    out.retain(|_, v| v.iter().any(|x| *x != 0));
    out
}

/// Leads of a batch whose reporting columns are changed after they were stored: updated
/// (touched, accepted, reassigned, closed) or counted as reassigned. Their contribution is
/// read before and after the write.
pub fn changed_leads(b: &BatchWrite) -> Vec<String> {
    let mut ids: std::collections::BTreeSet<String> =
        b.lead_updates.iter().map(|u| u.id.clone()).collect();
    for d in &b.decisions {
        if matches!(d.kind.as_str(), "manual" | "sla_reassign") {
            ids.insert(d.lead_id.clone());
        }
    }
    ids.into_iter().collect()
}

/// New leads as `Tx::write` stores them (no acceptance or touch yet; the fallback flag and
/// reassignment count from the batch), except those also changed in the same batch.
pub(crate) fn new_lead_facts(b: &BatchWrite, changed: &[String]) -> Vec<LeadFacts> {
    b.leads
        .iter()
        .filter(|l| changed.binary_search(&l.id).is_err())
        .map(|l| LeadFacts {
            id: l.id.clone(),
            received_at: l.received_at,
            routed_at: l.routed_at,
            tier: l.tier.clone(),
            path: l.path.clone(),
            team: l.team.clone(),
            owner: l.owner.clone(),
            contact_by: l.contact_by,
            first_touch_at: None,
            accepted_at: None,
            status: l.status.to_string(),
            stage: l.stage.to_string(),
            fallback: i64::from(l.fallback),
            reassignments: 0,
        })
        .collect()
}

/// Writes a batch's rollups inside the routing transaction. `Tx::write` calls
/// [`RollupTx::facts`] for [`changed_leads`] before it writes anything, and hands the
/// result to [`RollupTx::write_rollups`] after.
#[async_trait]
pub trait RollupTx: Send {
    async fn facts(&mut self, ids: &[String]) -> Result<Vec<LeadFacts>>;
    async fn write_rollups(
        &mut self,
        b: &BatchWrite,
        before: Vec<LeadFacts>,
        zone: &ReportZone,
    ) -> Result<()>;
}

mod sql;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_buckets_are_quarter_octaves() {
        assert_eq!(speed_bucket(0), 0);
        assert_eq!(speed_bucket(1), 0);
        assert_eq!(speed_bucket(2), 4);
        assert_eq!(speed_bucket(1024), 40);
        // 1000 µs lies in [2^(39/4), 2^(40/4)) = [861, 1024).
        assert_eq!(speed_bucket(1000), 39);
        assert!(speed_bucket_upper(39) > 1000.0 && speed_bucket_upper(38) <= 1000.0);
    }

    fn us(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_microsecond()
    }

    fn key(d: &str) -> i64 {
        ReportZone::key(d.parse().unwrap())
    }

    /// A day key is the local date, on both sides of midnight and of a DST change, in
    /// whole- and part-hour zones; with UTC it is the UTC midnight it always was.
    #[test]
    fn day_keys_are_local_dates() {
        let zone = |n: &str| ReportZone::named(n).unwrap();
        let ny = zone("America/New_York");
        for (at, date) in [
            ("2026-03-08T04:59:59Z", "2026-03-07"),
            ("2026-03-08T05:00:00Z", "2026-03-08"),
            ("2026-03-08T07:00:00Z", "2026-03-08"), // 03:00 EDT, just after the gap
            ("2026-03-09T03:59:59Z", "2026-03-08"),
            ("2026-11-01T05:30:00Z", "2026-11-01"), // 01:30 EDT, the first of two
            ("2026-11-01T06:30:00Z", "2026-11-01"), // 01:30 EST, the second
            ("2026-11-02T04:59:59Z", "2026-11-01"),
            ("2026-11-02T05:00:00Z", "2026-11-02"),
        ] {
            assert_eq!(
                ReportZone::date(ny.day_of(us(at))).to_string(),
                date,
                "{at}"
            );
        }
        let kolkata = zone("Asia/Kolkata");
        assert_eq!(
            kolkata.day_of(us("2026-06-30T18:29:59Z")),
            key("2026-06-30")
        );
        assert_eq!(
            kolkata.day_of(us("2026-06-30T18:30:00Z")),
            key("2026-07-01")
        );
        let utc = ReportZone::utc();
        for t in [0, 1, DAY_US - 1, -1, us("2026-11-23T15:00:00Z")] {
            assert_eq!(utc.day_of(t), day_of(t));
        }
    }

    /// A local day starts at its midnight, or where a DST gap that swallows midnight ends;
    /// the days around a change are 23 and 25 hours long.
    #[test]
    fn local_days_start_at_local_midnight() {
        let ny = ReportZone::named("America/New_York").unwrap();
        let h = 3_600_000_000;
        assert_eq!(ny.day_start(key("2026-03-08")), us("2026-03-08T05:00:00Z"));
        assert_eq!(
            ny.day_start(key("2026-03-09")) - ny.day_start(key("2026-03-08")),
            23 * h
        );
        assert_eq!(
            ny.day_start(key("2026-11-02")) - ny.day_start(key("2026-11-01")),
            25 * h
        );
        // Santiago moves its clocks from 00:00 to 01:00 on 2026-09-06: no midnight.
        let scl = ReportZone::named("America/Santiago").unwrap();
        let start = scl.day_start(key("2026-09-06"));
        assert_eq!(start, us("2026-09-06T04:00:00Z"));
        assert_eq!(scl.day_of(start), key("2026-09-06"));
        assert_eq!(scl.day_of(start - 1), key("2026-09-05"));
    }

    #[test]
    fn day_of_floors_to_utc_midnight() {
        assert_eq!(day_of(DAY_US + 5), DAY_US);
        assert_eq!(day_of(-1), -DAY_US);
    }
}
