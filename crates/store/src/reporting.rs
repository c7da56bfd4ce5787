//! Reads for the operations console and the MET-1 figures (issue 6), kept apart from the
//! routing [`Store`](crate::Store) trait: rollups per day, window aggregates over a
//! covering index, queue and rep listings, and the console's own session rows.
//!
//! The rollups (`console_daily`, `console_speed`, `console_window`) and the
//! `reassignments` column are written by [`RollupTx::write_rollups`] (the `fallback`
//! column comes with the lead row itself, from `LeadRecord::fallback`), which every
//! backend's `Tx::write` calls inside the routing transaction, so a rollup never
//! disagrees with the leads it counts.

use crate::{BatchWrite, CHUNK, Result, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};
use std::collections::{BTreeMap, HashMap};

pub const DAY_US: i64 = 86_400_000_000;

/// Microseconds at the UTC midnight on or before `us`.
pub fn day_of(us: i64) -> i64 {
    us.div_euclid(DAY_US) * DAY_US
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
    /// `console_daily` rows for days in `[from_day, to_day]`.
    async fn daily(&self, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>>;
    /// `console_speed` rows for days in `[from_day, to_day]`.
    async fn speed(&self, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>>;
    /// Leads received in `[from, to)`, grouped; `now` decides which deadlines have passed.
    async fn window(&self, from: i64, to: i64, now: i64) -> Result<Vec<WindowGroup>>;
    /// The same groups as [`Reporting::window`] over the UTC days `[from_day, to_day]`, read
    /// from the `console_window` rollup (a few thousand rows at most) and the untouched
    /// leads whose deadline has not passed at `now`.
    async fn window_days(&self, from_day: i64, to_day: i64, now: i64) -> Result<Vec<WindowGroup>>;
    /// Open leads per queue among `queues`, and how many were received before `cutoff`.
    async fn queue_counts(&self, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>>;
    /// Open leads in a queue, newest first.
    async fn queue_leads(&self, queue: &str, limit: i64) -> Result<Vec<LeadSummary>>;
    /// A rep's leads, newest first.
    async fn rep_leads(&self, rep: &str, limit: i64) -> Result<Vec<LeadSummary>>;
    /// The newest leads.
    async fn recent_leads(&self, limit: i64) -> Result<Vec<LeadSummary>>;
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

/// The rollup and reporting-column changes one batch implies.
#[derive(Debug, Default, PartialEq)]
pub struct Rollups {
    pub daily: BTreeMap<(i64, String, String), DailyRow>,
    pub speed: BTreeMap<(i64, i64), i64>,
    /// Reassignments per lead (manual or SLA).
    pub reassigned: BTreeMap<String, i64>,
}

/// What a batch adds to the rollups: its new leads (counted once, on the day they were
/// received) and its reassignment decisions.
pub fn rollups(b: &BatchWrite) -> Rollups {
    let mut r = Rollups::default();
    for d in &b.decisions {
        if matches!(d.kind.as_str(), "manual" | "sla_reassign") {
            *r.reassigned.entry(d.lead_id.clone()).or_default() += 1;
        }
    }
    for l in &b.leads {
        let day = day_of(l.received_at);
        let us = (l.routed_at - l.received_at).max(0);
        let fb = l.fallback;
        let row = r
            .daily
            .entry((day, l.tier.clone(), l.path.clone()))
            .or_insert_with(|| DailyRow {
                day,
                tier: l.tier.clone(),
                path: l.path.clone(),
                ..DailyRow::default()
            });
        row.leads += 1;
        row.assigned += i64::from(l.owner.is_some());
        row.fallbacks += i64::from(fb);
        row.assign_us_sum += us;
        *r.speed.entry((day, speed_bucket(us))).or_default() += 1;
    }
    r
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
pub fn contribution(f: &LeadFacts) -> (WindowKey, WindowSums) {
    let key = (
        day_of(f.received_at),
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
pub fn window_deltas(before: &[LeadFacts], after: &[LeadFacts]) -> BTreeMap<WindowKey, WindowSums> {
    let mut out: BTreeMap<WindowKey, WindowSums> = BTreeMap::new();
    for (facts, sign) in before
        .iter()
        .map(|f| (f, -1))
        .chain(after.iter().map(|f| (f, 1)))
    {
        let (key, sums) = contribution(facts);
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
    async fn write_rollups(&mut self, b: &BatchWrite, before: Vec<LeadFacts>) -> Result<()>;
}

/// Console user/role names are short; anything else in a session row is corrupt.
fn check_session(s: SessionRow) -> Result<SessionRow> {
    if s.username.is_empty() || s.role.is_empty() {
        return Err(StoreError::Corrupt("console session without user".into()));
    }
    Ok(s)
}

const SUMMARY_COLS: &str = "id, received_at, routed_at, email, payload, tier, path, rule, owner, queue, team, status, contact_by, first_touch_at, reassignments";

macro_rules! reporting_backend {
    ($store:ty, $db:ty, $conn:ty) => {
        fn summary_from_row(r: &<$db as sqlx::Database>::Row) -> Result<LeadSummary> {
            let payload: String = r.try_get("payload")?;
            Ok(LeadSummary {
                id: r.try_get("id")?,
                received_at: r.try_get("received_at")?,
                routed_at: r.try_get("routed_at")?,
                email: r.try_get("email")?,
                payload: serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("lead payload: {e}")))?,
                tier: r.try_get("tier")?,
                path: r.try_get("path")?,
                rule: r.try_get("rule")?,
                owner: r.try_get("owner")?,
                queue: r.try_get("queue")?,
                team: r.try_get("team")?,
                status: r.try_get("status")?,
                contact_by: r.try_get("contact_by")?,
                first_touch_at: r.try_get("first_touch_at")?,
                reassignments: r.try_get("reassignments")?,
            })
        }

        #[async_trait]
        impl Reporting for $store {
            async fn daily(&self, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>> {
                let rows = sqlx::query("SELECT day, tier, path, leads, assigned, fallbacks, assign_us_sum FROM console_daily WHERE day >= $1 AND day <= $2 ORDER BY day, tier, path")
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(DailyRow {
                            day: r.try_get("day")?,
                            tier: r.try_get("tier")?,
                            path: r.try_get("path")?,
                            leads: r.try_get("leads")?,
                            assigned: r.try_get("assigned")?,
                            fallbacks: r.try_get("fallbacks")?,
                            assign_us_sum: r.try_get("assign_us_sum")?,
                        })
                    })
                    .collect()
            }

            async fn speed(&self, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>> {
                let rows = sqlx::query("SELECT day, bucket, n FROM console_speed WHERE day >= $1 AND day <= $2 ORDER BY day, bucket")
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(SpeedRow {
                            day: r.try_get("day")?,
                            bucket: r.try_get("bucket")?,
                            n: r.try_get("n")?,
                        })
                    })
                    .collect()
            }

            async fn window(&self, from: i64, to: i64, now: i64) -> Result<Vec<WindowGroup>> {
                // Every SUM is cast: PostgreSQL sums BIGINT into NUMERIC.
                let rows = sqlx::query(
                    "SELECT tier, path, team, owner, COUNT(*) AS leads, \
                     CAST(COALESCE(SUM(fallback), 0) AS BIGINT) AS fallbacks, \
                     CAST(COALESCE(SUM(CASE WHEN reassignments > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS reassigned, \
                     CAST(COALESCE(SUM(CASE WHEN contact_by IS NOT NULL AND first_touch_at IS NOT NULL AND first_touch_at <= contact_by THEN 1 ELSE 0 END), 0) AS BIGINT) AS sla_met, \
                     CAST(COALESCE(SUM(CASE WHEN contact_by IS NOT NULL AND (first_touch_at IS NOT NULL OR contact_by < $3) THEN 1 ELSE 0 END), 0) AS BIGINT) AS sla_due, \
                     CAST(COALESCE(SUM(CASE WHEN first_touch_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS contacted, \
                     CAST(COALESCE(SUM(CASE WHEN first_touch_at IS NOT NULL THEN first_touch_at - routed_at ELSE 0 END), 0) AS BIGINT) AS contact_us_sum, \
                     CAST(COALESCE(SUM(CASE WHEN accepted_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS accepted, \
                     CAST(COALESCE(SUM(CASE WHEN accepted_at IS NOT NULL THEN accepted_at - routed_at ELSE 0 END), 0) AS BIGINT) AS accept_us_sum, \
                     CAST(COALESCE(SUM(routed_at - received_at), 0) AS BIGINT) AS assign_us_sum, \
                     CAST(COALESCE(SUM(CASE WHEN stage IN ('mid', 'late') OR status = 'won' THEN 1 ELSE 0 END), 0) AS BIGINT) AS opportunities, \
                     CAST(COALESCE(SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END), 0) AS BIGINT) AS won \
                     FROM leads WHERE received_at >= $1 AND received_at < $2 \
                     GROUP BY tier, path, team, owner ORDER BY tier, path, team, owner",
                )
                .bind(from)
                .bind(to)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(WindowGroup {
                            tier: r.try_get("tier")?,
                            path: r.try_get("path")?,
                            team: r.try_get("team")?,
                            owner: r.try_get("owner")?,
                            leads: r.try_get("leads")?,
                            fallbacks: r.try_get("fallbacks")?,
                            reassigned: r.try_get("reassigned")?,
                            sla_met: r.try_get("sla_met")?,
                            sla_due: r.try_get("sla_due")?,
                            contacted: r.try_get("contacted")?,
                            contact_us_sum: r.try_get("contact_us_sum")?,
                            accepted: r.try_get("accepted")?,
                            accept_us_sum: r.try_get("accept_us_sum")?,
                            assign_us_sum: r.try_get("assign_us_sum")?,
                            opportunities: r.try_get("opportunities")?,
                            won: r.try_get("won")?,
                        })
                    })
                    .collect()
            }

            async fn window_days(&self, from_day: i64, to_day: i64, now: i64) -> Result<Vec<WindowGroup>> {
                let sums: Vec<String> = WINDOW_SUMS
                    .iter()
                    .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}"))
                    .collect();
                let sql = format!(
                    "SELECT tier, path, team, owner, {} FROM console_window WHERE day >= $1 AND day <= $2 GROUP BY tier, path, team, owner ORDER BY tier, path, team, owner",
                    sums.join(", ")
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&self.pool)
                    .await?;
                // Pending deadlines that have not passed yet are not due: few rows, read
                // through the partial index leads_sla_open. The unary `+` keeps SQLite's
                // planner off leads_received_at (a week of leads, ~78,000 rows at 1M).
                let open = sqlx::query(
                    "SELECT tier, path, COALESCE(team, '') AS team, COALESCE(owner, '') AS owner, COUNT(*) AS n FROM leads \
                     WHERE contact_by IS NOT NULL AND first_touch_at IS NULL AND contact_by >= $1 \
                     AND +received_at >= $2 AND +received_at < $3 GROUP BY tier, path, COALESCE(team, ''), COALESCE(owner, '')",
                )
                .bind(now)
                .bind(from_day)
                .bind(to_day + DAY_US)
                .fetch_all(&self.pool)
                .await?;
                let mut not_due: HashMap<(String, String, String, String), i64> = HashMap::new();
                for r in &open {
                    not_due.insert(
                        (r.try_get("tier")?, r.try_get("path")?, r.try_get("team")?, r.try_get("owner")?),
                        r.try_get("n")?,
                    );
                }
                let mut out = Vec::new();
                for r in &rows {
                    let tier: String = r.try_get("tier")?;
                    let path: String = r.try_get("path")?;
                    let team: String = r.try_get("team")?;
                    let owner: String = r.try_get("owner")?;
                    let leads: i64 = r.try_get("leads")?;
                    if leads == 0 {
                        continue;
                    }
                    let waiting = not_due
                        .get(&(tier.clone(), path.clone(), team.clone(), owner.clone()))
                        .copied()
                        .unwrap_or(0);
                    let touched: i64 = r.try_get("sla_touched")?;
                    let pending: i64 = r.try_get("sla_pending")?;
                    out.push(WindowGroup {
                        tier,
                        path,
                        team: (!team.is_empty()).then_some(team),
                        owner: (!owner.is_empty()).then_some(owner),
                        leads,
                        fallbacks: r.try_get("fallbacks")?,
                        reassigned: r.try_get("reassigned")?,
                        sla_met: r.try_get("sla_met")?,
                        sla_due: touched + pending - waiting,
                        contacted: r.try_get("contacted")?,
                        contact_us_sum: r.try_get("contact_us_sum")?,
                        accepted: r.try_get("accepted")?,
                        accept_us_sum: r.try_get("accept_us_sum")?,
                        assign_us_sum: r.try_get("assign_us_sum")?,
                        opportunities: r.try_get("opportunities")?,
                        won: r.try_get("won")?,
                    });
                }
                Ok(out)
            }

            async fn queue_counts(&self, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>> {
                let mut out = Vec::new();
                // One range seek per queue on leads_queue_recent (queue, status, received_at).
                for q in queues {
                    let r = sqlx::query("SELECT COUNT(*) AS open, CAST(COALESCE(SUM(CASE WHEN received_at < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS older FROM leads WHERE queue = $1 AND status = 'open'")
                        .bind(q.clone())
                        .bind(cutoff)
                        .fetch_one(&self.pool)
                        .await?;
                    out.push(QueueCount {
                        queue: q.clone(),
                        open: r.try_get("open")?,
                        older: r.try_get("older")?,
                    });
                }
                Ok(out)
            }

            async fn queue_leads(&self, queue: &str, limit: i64) -> Result<Vec<LeadSummary>> {
                let sql = format!("SELECT {SUMMARY_COLS} FROM leads WHERE queue = $1 AND status = 'open' ORDER BY received_at DESC LIMIT $2");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(queue.to_string())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(summary_from_row).collect()
            }

            async fn rep_leads(&self, rep: &str, limit: i64) -> Result<Vec<LeadSummary>> {
                let sql = format!("SELECT {SUMMARY_COLS} FROM leads WHERE owner = $1 ORDER BY received_at DESC LIMIT $2");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(rep.to_string())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(summary_from_row).collect()
            }

            async fn recent_leads(&self, limit: i64) -> Result<Vec<LeadSummary>> {
                let sql = format!("SELECT {SUMMARY_COLS} FROM leads ORDER BY received_at DESC LIMIT $1");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(summary_from_row).collect()
            }

            async fn reasons(&self, lead_ids: &[String]) -> Result<HashMap<String, String>> {
                let mut out = HashMap::new();
                for chunk in crate::statement_chunks(&lead_ids, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT lead_id, reason FROM decisions WHERE lead_id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(id.clone());
                    }
                    q.push(") ORDER BY id");
                    for r in q.build().fetch_all(&self.pool).await? {
                        out.insert(r.try_get("lead_id")?, r.try_get("reason")?);
                    }
                }
                Ok(out)
            }

            async fn person(&self, email: &str) -> Result<Option<leadrouter_core::state::PriorPerson>> {
                use leadrouter_core::state::{PriorPerson, PriorStatus};
                let row = sqlx::query("SELECT owner, status, disqualified_at, note FROM people WHERE email = $1")
                    .bind(email.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    let status: String = r.try_get("status")?;
                    let dq: Option<i64> = r.try_get("disqualified_at")?;
                    Ok(PriorPerson {
                        owner: r.try_get("owner")?,
                        status: if status == "disqualified" { PriorStatus::Disqualified } else { PriorStatus::Open },
                        disqualified_at: dq.map(crate::from_micros),
                        note: r.try_get("note")?,
                    })
                })
                .transpose()
            }

            async fn weekly_report_queue(&self, r: &WeeklyReportRow, outbox: &[crate::OutboxRow]) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("INSERT INTO weekly_reports (week, queued_at, recipients, actor) VALUES ($1, $2, $3, $4) ON CONFLICT (week) DO NOTHING")
                    .bind(r.week.clone())
                    .bind(r.queued_at)
                    .bind(r.recipients)
                    .bind(r.actor.clone())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for chunk in crate::statement_chunks(&outbox, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO outbox (id, lead_id, kind, channel, recipient, payload, status, attempts, next_attempt_at, created_at) ");
                    q.push_values(chunk, |mut v, o| {
                        v.push_bind(o.id.clone())
                            .push_bind(o.lead_id.clone())
                            .push_bind(o.kind.clone())
                            .push_bind(o.channel.clone())
                            .push_bind(o.recipient.clone())
                            .push_bind(o.payload.to_string())
                            .push_bind(o.status.clone())
                            .push_bind(o.attempts)
                            .push_bind(o.next_attempt_at)
                            .push_bind(o.created_at);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn weekly_report(&self, week: &str) -> Result<Option<WeeklyReportRow>> {
                let row = sqlx::query("SELECT week, queued_at, recipients, actor FROM weekly_reports WHERE week = $1")
                    .bind(week.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(WeeklyReportRow {
                        week: r.try_get("week")?,
                        queued_at: r.try_get("queued_at")?,
                        recipients: r.try_get("recipients")?,
                        actor: r.try_get("actor")?,
                    })
                })
                .transpose()
            }

            async fn session_create(&self, s: &SessionRow) -> Result<()> {
                sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
                    .bind(s.created_at)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("INSERT INTO console_sessions (id, username, role, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(s.id.clone())
                    .bind(s.username.clone())
                    .bind(s.role.clone())
                    .bind(s.csrf.clone())
                    .bind(s.created_at)
                    .bind(s.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_get(&self, id: &str, now: i64) -> Result<Option<SessionRow>> {
                let row = sqlx::query("SELECT id, username, role, csrf, created_at, expires_at FROM console_sessions WHERE id = $1 AND expires_at > $2")
                    .bind(id.to_string())
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    check_session(SessionRow {
                        id: r.try_get("id")?,
                        username: r.try_get("username")?,
                        role: r.try_get("role")?,
                        csrf: r.try_get("csrf")?,
                        created_at: r.try_get("created_at")?,
                        expires_at: r.try_get("expires_at")?,
                    })
                })
                .transpose()
            }

            async fn session_delete(&self, id: &str) -> Result<()> {
                sqlx::query("DELETE FROM console_sessions WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl RollupTx for $conn {
            async fn facts(&mut self, ids: &[String]) -> Result<Vec<LeadFacts>> {
                let mut out = Vec::new();
                for chunk in crate::key_chunks(ids, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT id, received_at, routed_at, tier, path, team, owner, contact_by, first_touch_at, accepted_at, status, stage, fallback, reassignments FROM leads WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(id.clone());
                    }
                    q.push(")");
                    for r in q.build().fetch_all(&mut *self).await? {
                        out.push(LeadFacts {
                            id: r.try_get("id")?,
                            received_at: r.try_get("received_at")?,
                            routed_at: r.try_get("routed_at")?,
                            tier: r.try_get("tier")?,
                            path: r.try_get("path")?,
                            team: r.try_get("team")?,
                            owner: r.try_get("owner")?,
                            contact_by: r.try_get("contact_by")?,
                            first_touch_at: r.try_get("first_touch_at")?,
                            accepted_at: r.try_get("accepted_at")?,
                            status: r.try_get("status")?,
                            stage: r.try_get("stage")?,
                            fallback: r.try_get("fallback")?,
                            reassignments: r.try_get("reassignments")?,
                        });
                    }
                }
                Ok(out)
            }

            async fn write_rollups(&mut self, b: &BatchWrite, before: Vec<LeadFacts>) -> Result<()> {
                let r = rollups(b);
                let rows: Vec<&DailyRow> = r.daily.values().collect();
                for chunk in crate::statement_chunks(&rows, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO console_daily (day, tier, path, leads, assigned, fallbacks, assign_us_sum) ");
                    q.push_values(chunk, |mut v, d| {
                        v.push_bind(d.day)
                            .push_bind(d.tier.clone())
                            .push_bind(d.path.clone())
                            .push_bind(d.leads)
                            .push_bind(d.assigned)
                            .push_bind(d.fallbacks)
                            .push_bind(d.assign_us_sum);
                    });
                    q.push(" ON CONFLICT (day, tier, path) DO UPDATE SET leads = console_daily.leads + excluded.leads, assigned = console_daily.assigned + excluded.assigned, fallbacks = console_daily.fallbacks + excluded.fallbacks, assign_us_sum = console_daily.assign_us_sum + excluded.assign_us_sum");
                    q.build().execute(&mut *self).await?;
                }
                let speed: Vec<(&(i64, i64), &i64)> = r.speed.iter().collect();
                for chunk in crate::statement_chunks(&speed, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO console_speed (day, bucket, n) ");
                    q.push_values(chunk, |mut v, ((day, bucket), n)| {
                        v.push_bind(*day).push_bind(*bucket).push_bind(**n);
                    });
                    q.push(" ON CONFLICT (day, bucket) DO UPDATE SET n = console_speed.n + excluded.n");
                    q.build().execute(&mut *self).await?;
                }
                for (id, n) in &r.reassigned {
                    sqlx::query("UPDATE leads SET reassignments = reassignments + $1 WHERE id = $2")
                        .bind(*n)
                        .bind(id.clone())
                        .execute(&mut *self)
                        .await?;
                }
                // console_window: new leads from the batch itself (no read); changed leads
                // as read before the write and again now. One multi-row upsert.
                let changed = changed_leads(b);
                let mut after = new_lead_facts(b, &changed);
                if !changed.is_empty() {
                    after.extend(self.facts(&changed).await?);
                }
                let deltas: Vec<(WindowKey, WindowSums)> = window_deltas(&before, &after).into_iter().collect();
                let cols = WINDOW_SUMS.join(", ");
                let set: Vec<String> = WINDOW_SUMS
                    .iter()
                    .map(|c| format!("{c} = console_window.{c} + excluded.{c}"))
                    .collect();
                for chunk in crate::statement_chunks(&deltas, CHUNK / 4) {
                    let mut q = QueryBuilder::<$db>::new(format!("INSERT INTO console_window (day, tier, path, team, owner, {cols}) "));
                    q.push_values(chunk, |mut v, ((day, tier, path, team, owner), sums)| {
                        v.push_bind(*day)
                            .push_bind(tier.clone())
                            .push_bind(path.clone())
                            .push_bind(team.clone())
                            .push_bind(owner.clone());
                        for x in sums {
                            v.push_bind(*x);
                        }
                    });
                    q.push(format!(" ON CONFLICT (day, tier, path, team, owner) DO UPDATE SET {}", set.join(", ")));
                    q.build().execute(&mut *self).await?;
                }
                Ok(())
            }
        }
    };
}

mod sqlite {
    use super::*;
    reporting_backend!(crate::SqliteStore, sqlx::Sqlite, sqlx::SqliteConnection);
}

mod postgres {
    use super::*;
    reporting_backend!(crate::PgStore, sqlx::Postgres, sqlx::PgConnection);
}

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

    #[test]
    fn day_of_floors_to_utc_midnight() {
        assert_eq!(day_of(DAY_US + 5), DAY_US);
        assert_eq!(day_of(-1), -DAY_US);
    }
}
