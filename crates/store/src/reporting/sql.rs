//! The reporting statements of both backends, expanded per backend by
//! `reporting_backend!` (same SQL text; `QueryBuilder` writes the placeholders): the
//! [`Reporting`] reads, the [`ReadSnapshot`] that runs them in one transaction, the
//! rollup upserts of [`RollupTx`] and the rebuild behind [`Reporting::set_report_zone`].

use super::*;
use crate::{BatchWrite, CHUNK, Result, StoreError};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;

/// [`Reporting::snapshot`]: one read transaction.
pub(crate) struct Snapshot<DB: sqlx::Database>(sqlx::Transaction<'static, DB>);

/// Console user/role names are short; anything else in a session row is corrupt.
fn check_session(s: SessionRow) -> Result<SessionRow> {
    if s.username.is_empty() || s.role.is_empty() {
        return Err(StoreError::Corrupt("console session without user".into()));
    }
    Ok(s)
}

const SUMMARY_COLS: &str = "id, received_at, routed_at, email, payload, tier, path, rule, owner, queue, team, status, contact_by, first_touch_at, reassignments";

macro_rules! reporting_backend {
    ($store:ty, $db:ty, $conn:ty, $backend:ident, $zone_begin:literal, $zone_lock:literal) => {
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

        async fn daily_on(c: &mut <$db as sqlx::Database>::Connection, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>> {
            let rows = sqlx::query("SELECT day, tier, path, leads, assigned, fallbacks, assign_us_sum FROM console_daily WHERE day >= $1 AND day <= $2 ORDER BY day, tier, path")
                .bind(from_day)
                .bind(to_day)
                .fetch_all(&mut *c)
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


        async fn speed_on(c: &mut <$db as sqlx::Database>::Connection, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>> {
            let rows = sqlx::query("SELECT day, bucket, n FROM console_speed WHERE day >= $1 AND day <= $2 ORDER BY day, bucket")
                .bind(from_day)
                .bind(to_day)
                .fetch_all(&mut *c)
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


        /// The zone the rollups are in, read in the caller's snapshot.
        async fn zone_on(c: &mut <$db as sqlx::Database>::Connection) -> Result<ReportZone> {
            let name: String = sqlx::query_scalar("SELECT report_zone FROM state_version WHERE id = 1")
                .fetch_one(&mut *c)
                .await?;
            Ok(ReportZone::stored(&name))
        }

        async fn window_days_on(c: &mut <$db as sqlx::Database>::Connection, from_day: i64, to_day: i64, now: i64) -> Result<Vec<WindowGroup>> {
            // The local days' first and last instants, in the zone the rollup rows are in.
            let zone = zone_on(&mut *c).await?;
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
                .fetch_all(&mut *c)
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
            .bind(zone.day_start(from_day))
            .bind(zone.day_start(to_day + DAY_US))
            .fetch_all(&mut *c)
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


        async fn queue_counts_on(c: &mut <$db as sqlx::Database>::Connection, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>> {
            let mut out = Vec::new();
            // One range seek per queue on leads_queue_recent (queue, status, received_at).
            for q in queues {
                let r = sqlx::query("SELECT COUNT(*) AS open, CAST(COALESCE(SUM(CASE WHEN received_at < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS older FROM leads WHERE queue = $1 AND status = 'open'")
                    .bind(q.clone())
                    .bind(cutoff)
                    .fetch_one(&mut *c)
                    .await?;
                out.push(QueueCount {
                    queue: q.clone(),
                    open: r.try_get("open")?,
                    older: r.try_get("older")?,
                });
            }
            Ok(out)
        }


        async fn queue_leads_on(c: &mut <$db as sqlx::Database>::Connection, queue: &str, limit: i64) -> Result<Vec<LeadSummary>> {
            let sql = format!("SELECT {SUMMARY_COLS} FROM leads WHERE queue = $1 AND status = 'open' ORDER BY received_at DESC LIMIT $2");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(queue.to_string())
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
            rows.iter().map(summary_from_row).collect()
        }


        async fn rep_leads_on(c: &mut <$db as sqlx::Database>::Connection, rep: &str, limit: i64) -> Result<Vec<LeadSummary>> {
            let sql = format!("SELECT {SUMMARY_COLS} FROM leads WHERE owner = $1 ORDER BY received_at DESC LIMIT $2");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(rep.to_string())
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
            rows.iter().map(summary_from_row).collect()
        }


        async fn recent_leads_on(c: &mut <$db as sqlx::Database>::Connection, limit: i64) -> Result<Vec<LeadSummary>> {
            let sql = format!("SELECT {SUMMARY_COLS} FROM leads ORDER BY received_at DESC LIMIT $1");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
            rows.iter().map(summary_from_row).collect()
        }


        async fn flow_counts_on(c: &mut <$db as sqlx::Database>::Connection, from: i64, to: i64) -> Result<Vec<FlowGroup>> {
            let rows = sqlx::query("SELECT path, rule, team, owner, queue, COUNT(*) AS n FROM leads WHERE received_at >= $1 AND received_at < $2 GROUP BY path, rule, team, owner, queue ORDER BY path, rule, team, owner, queue")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *c)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(FlowGroup {
                        path: r.try_get("path")?,
                        rule: r.try_get("rule")?,
                        team: r.try_get("team")?,
                        owner: r.try_get("owner")?,
                        queue: r.try_get("queue")?,
                        leads: r.try_get("n")?,
                    })
                })
                .collect()
        }


        async fn flow_leads_on(c: &mut <$db as sqlx::Database>::Connection, f: &FlowFilter, from: i64, to: i64, limit: i64) -> Result<Vec<LeadSummary>> {
            let mut q = QueryBuilder::<$db>::new(format!("SELECT {SUMMARY_COLS} FROM leads WHERE received_at >= "));
            q.push_bind(from).push(" AND received_at < ").push_bind(to);
            for (col, v) in [("path", &f.path), ("rule", &f.rule), ("team", &f.team), ("owner", &f.owner), ("queue", &f.queue)] {
                if let Some(v) = v {
                    q.push(format!(" AND {col} = ")).push_bind(v.clone());
                }
            }
            q.push(" ORDER BY received_at DESC LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *c).await?;
            rows.iter().map(summary_from_row).collect()
        }


        async fn reasons_on(c: &mut <$db as sqlx::Database>::Connection, lead_ids: &[String]) -> Result<HashMap<String, String>> {
            let mut out = HashMap::new();
            for chunk in crate::statement_chunks(&lead_ids, CHUNK) {
                let mut q = QueryBuilder::<$db>::new("SELECT lead_id, reason FROM decisions WHERE lead_id IN (");
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push_bind(id.clone());
                }
                q.push(") ORDER BY id");
                for r in q.build().fetch_all(&mut *c).await? {
                    out.insert(r.try_get("lead_id")?, r.try_get("reason")?);
                }
            }
            Ok(out)
        }


        #[async_trait]
        impl Reporting for $store {
            async fn daily(&self, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>> {
                daily_on(&mut *self.pool.acquire().await?, from_day, to_day).await
            }

            async fn speed(&self, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>> {
                speed_on(&mut *self.pool.acquire().await?, from_day, to_day).await
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
                let mut tx = self.read_snapshot().await?;
                let read = window_days_on(&mut tx, from_day, to_day, now).await;
                crate::backend::read_then_end(read, tx.rollback().await)
            }

            async fn queue_counts(&self, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>> {
                let mut tx = self.read_snapshot().await?;
                let read = queue_counts_on(&mut tx, queues, cutoff).await;
                crate::backend::read_then_end(read, tx.rollback().await)
            }

            async fn queue_leads(&self, queue: &str, limit: i64) -> Result<Vec<LeadSummary>> {
                queue_leads_on(&mut *self.pool.acquire().await?, queue, limit).await
            }

            async fn rep_leads(&self, rep: &str, limit: i64) -> Result<Vec<LeadSummary>> {
                rep_leads_on(&mut *self.pool.acquire().await?, rep, limit).await
            }

            async fn recent_leads(&self, limit: i64) -> Result<Vec<LeadSummary>> {
                recent_leads_on(&mut *self.pool.acquire().await?, limit).await
            }

            async fn reasons(&self, lead_ids: &[String]) -> Result<HashMap<String, String>> {
                let mut tx = self.read_snapshot().await?;
                let read = reasons_on(&mut tx, lead_ids).await;
                crate::backend::read_then_end(read, tx.rollback().await)
            }

            async fn snapshot(&self) -> Result<Box<dyn ReadSnapshot>> {
                Ok(Box::new(Snapshot(self.read_snapshot().await?)))
            }

            async fn report_zone(&self) -> Result<String> {
                Ok(zone_on(&mut *self.pool.acquire().await?).await?.name().to_string())
            }

            async fn set_report_zone(&self, zone: &ReportZone) -> Result<bool> {
                // No routing transaction may write rollups between the rebuild and the
                // zone change: PostgreSQL takes the state lock, SQLite the writer's turn
                // and the write lock.
                let _turn = self.writer_turn().await;
                let mut tx = self.pool.begin_with($zone_begin).await?;
                let stored: String = sqlx::query_scalar($zone_lock).fetch_one(&mut *tx).await?;
                if stored == zone.name() {
                    tx.rollback().await?;
                    return Ok(false);
                }
                rebuild_on(&mut tx, zone).await?;
                sqlx::query("UPDATE state_version SET report_zone = $1 WHERE id = 1")
                    .bind(zone.name().to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
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
        impl ReadSnapshot for Snapshot<$db> {
            async fn daily(&mut self, from_day: i64, to_day: i64) -> Result<Vec<DailyRow>> {
                daily_on(&mut self.0, from_day, to_day).await
            }

            async fn speed(&mut self, from_day: i64, to_day: i64) -> Result<Vec<SpeedRow>> {
                speed_on(&mut self.0, from_day, to_day).await
            }

            async fn window_days(&mut self, from_day: i64, to_day: i64, now: i64) -> Result<Vec<WindowGroup>> {
                window_days_on(&mut self.0, from_day, to_day, now).await
            }

            async fn queue_counts(&mut self, queues: &[String], cutoff: i64) -> Result<Vec<QueueCount>> {
                queue_counts_on(&mut self.0, queues, cutoff).await
            }

            async fn queue_leads(&mut self, queue: &str, limit: i64) -> Result<Vec<LeadSummary>> {
                queue_leads_on(&mut self.0, queue, limit).await
            }

            async fn rep_leads(&mut self, rep: &str, limit: i64) -> Result<Vec<LeadSummary>> {
                rep_leads_on(&mut self.0, rep, limit).await
            }

            async fn recent_leads(&mut self, limit: i64) -> Result<Vec<LeadSummary>> {
                recent_leads_on(&mut self.0, limit).await
            }

            async fn reasons(&mut self, lead_ids: &[String]) -> Result<HashMap<String, String>> {
                reasons_on(&mut self.0, lead_ids).await
            }

            async fn flow_counts(&mut self, from: i64, to: i64) -> Result<Vec<FlowGroup>> {
                flow_counts_on(&mut self.0, from, to).await
            }

            async fn flow_leads(&mut self, filter: &FlowFilter, from: i64, to: i64, limit: i64) -> Result<Vec<LeadSummary>> {
                flow_leads_on(&mut self.0, filter, from, to, limit).await
            }

            async fn dead_letters(&mut self, limit: i64) -> Result<Vec<crate::OutboxRow>> {
                crate::backend::$backend::dead_letters_on(&mut *self.0, limit).await
            }

            async fn state(&mut self) -> Result<leadrouter_core::state::StateSnapshot> {
                crate::backend::$backend::load_state(&mut self.0).await
            }

            async fn end(self: Box<Self>) -> Result<()> {
                self.0.rollback().await?;
                Ok(())
            }
        }

        /// Every rollup row again from the stored leads, in `zone`'s days (the caller
        /// holds the routing lock and commits with the new zone). Leads are read in
        /// pages by id, so memory holds the rollup rows, not the leads.
        async fn rebuild_on(c: &mut <$db as sqlx::Database>::Connection, zone: &ReportZone) -> Result<()> {
            const PAGE: i64 = 10_000;
            let mut all = Rebuild::default();
            let mut last = String::new();
            loop {
                // `console_daily.assigned` counts leads that had an owner when routed:
                // the owner of their first decision (the lead row's, if it has none).
                let rows = sqlx::query(
                    "SELECT id, received_at, routed_at, tier, path, team, owner, contact_by, first_touch_at, accepted_at, status, stage, fallback, reassignments, \
                     CAST(COALESCE((SELECT CASE WHEN d.owner IS NULL THEN 0 ELSE 1 END FROM decisions d WHERE d.lead_id = leads.id ORDER BY d.id LIMIT 1), \
                     CASE WHEN owner IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS routed_owner \
                     FROM leads WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(last.clone())
                .bind(PAGE)
                .fetch_all(&mut *c)
                .await?;
                for r in &rows {
                    let f = facts_from_row(r)?;
                    let routed_owner: i64 = r.try_get("routed_owner")?;
                    all.add(&f, routed_owner != 0, zone);
                    last = f.id;
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
            for table in ["console_daily", "console_speed", "console_window"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                    .execute(&mut *c)
                    .await?;
            }
            let window: Vec<(WindowKey, WindowSums)> = all.window.into_iter().collect();
            upsert_rollups_on(&mut *c, &all.rollups, &window).await
        }

        fn facts_from_row(r: &<$db as sqlx::Database>::Row) -> Result<LeadFacts> {
            Ok(LeadFacts {
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
            })
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
                        out.push(facts_from_row(&r)?);
                    }
                }
                Ok(out)
            }

            async fn write_rollups(&mut self, b: &BatchWrite, before: Vec<LeadFacts>, zone: &ReportZone) -> Result<()> {
                let r = rollups(b, zone);
                for (id, n) in &r.reassigned {
                    sqlx::query("UPDATE leads SET reassignments = reassignments + $1 WHERE id = $2")
                        .bind(*n)
                        .bind(id.clone())
                        .execute(&mut *self)
                        .await?;
                }
                // console_window: new leads from the batch itself (no read); changed leads
                // as read before the write and again now.
                let changed = changed_leads(b);
                let mut after = new_lead_facts(b, &changed);
                if !changed.is_empty() {
                    after.extend(self.facts(&changed).await?);
                }
                let deltas: Vec<(WindowKey, WindowSums)> = window_deltas(&before, &after, zone).into_iter().collect();
                upsert_rollups_on(self, &r, &deltas).await
            }
        }

        /// Add rollup rows: `console_daily` and `console_speed` as counted, and the
        /// `console_window` changes; multi-row upserts.
        async fn upsert_rollups_on(c: &mut <$db as sqlx::Database>::Connection, r: &Rollups, deltas: &[(WindowKey, WindowSums)]) -> Result<()> {
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
            q.build().execute(&mut *c).await?;
        }
        let speed: Vec<(&(i64, i64), &i64)> = r.speed.iter().collect();
        for chunk in crate::statement_chunks(&speed, CHUNK) {
            let mut q = QueryBuilder::<$db>::new("INSERT INTO console_speed (day, bucket, n) ");
            q.push_values(chunk, |mut v, ((day, bucket), n)| {
                v.push_bind(*day).push_bind(*bucket).push_bind(**n);
            });
            q.push(" ON CONFLICT (day, bucket) DO UPDATE SET n = console_speed.n + excluded.n");
            q.build().execute(&mut *c).await?;
        }
        let cols = WINDOW_SUMS.join(", ");
        let set: Vec<String> = WINDOW_SUMS
            .iter()
            .map(|c| format!("{c} = console_window.{c} + excluded.{c}"))
            .collect();
        for chunk in crate::statement_chunks(deltas, CHUNK / 4) {
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
            q.build().execute(&mut *c).await?;
        }
            Ok(())
        }
    };
}

mod sqlite {
    use super::*;
    reporting_backend!(
        crate::SqliteStore,
        sqlx::Sqlite,
        sqlx::SqliteConnection,
        sqlite,
        "BEGIN IMMEDIATE",
        "SELECT report_zone FROM state_version WHERE id = 1"
    );
}

mod postgres {
    use super::*;
    reporting_backend!(
        crate::PgStore,
        sqlx::Postgres,
        sqlx::PgConnection,
        postgres,
        "BEGIN",
        "SELECT report_zone FROM state_version WHERE id = 1 FOR UPDATE"
    );
}
