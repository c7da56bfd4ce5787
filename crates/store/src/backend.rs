//! The two backends. Their SQL is the same text (SQLite ≥ 3.24 and PostgreSQL share
//! `INSERT … ON CONFLICT … DO UPDATE`, and `QueryBuilder` writes each one's placeholders),
//! so one body is expanded per backend by `backend!`; only connecting, beginning and
//! locking differ. PostgreSQL's routing transaction is `pg_tx.rs` (`backend_tx!`), the
//! console's reads `reporting/sql.rs`; this file is the `Store` trait's reads and the
//! writes outside routing (outbox outcomes, the account mirror, the enrichment cache).

use crate::*;
use sqlx::{QueryBuilder, Row};
use std::str::FromStr;

/// The result of reads in a read-only transaction, given how ending it went: a failed
/// read is the error to report; a failed end after good reads still fails the call.
pub(crate) fn read_then_end<T>(
    read: Result<T>,
    end: std::result::Result<(), sqlx::Error>,
) -> Result<T> {
    let read = read?;
    end?;
    Ok(read)
}

/// How long the account mirror of a config version outlives its supersession (the first
/// mirror of another version after it). Instances mirror on start and on reload, so
/// during a rolling reload — minutes — every version still serving keeps its rows; a
/// version no instance has mirrored for this long after a newer one is pruned by the
/// next mirror. An instance that starts or reloads on an old version revives it.
pub const ACCOUNT_VERSION_GRACE_US: i64 = 7 * 86_400_000_000;

fn outbox_from_json(payload: String) -> Result<serde_json::Value> {
    serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))
}

/// Claims the oldest deliverable rows; the lock clause is `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL and empty on SQLite (one process per file).
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET claimed_until = $1, claimed_by = $2 WHERE id IN (SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= $3 AND (o.claimed_until IS NULL OR o.claimed_until < $3) AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lead_id = o.lead_id AND p.channel = o.channel AND p.recipient = o.recipient AND p.status = 'pending' AND p.id < o.id) ORDER BY o.next_attempt_at, o.id LIMIT $4 ",
            $lock,
            ") RETURNING *"
        )
    };
}

macro_rules! backend {
    ($store:ident, $db:ty, $claim_lock:literal, $accounts_begin:literal, $accounts_lock:literal) => {
        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                self.name
            }

            async fn begin(&self) -> Result<Box<dyn Tx>> {
                self.begin_routing().await
            }

            async fn committed_reads(&self, want: BatchReadsFor) -> Result<BatchReads> {
                self.read_committed(want).await
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn lead(&self, id: &str) -> Result<Option<LeadRecord>> {
                lead_on(&self.pool, id).await
            }

            async fn history(&self, lead_id: &str) -> Result<Vec<DecisionRecord>> {
                history_on(&self.pool, lead_id).await
            }

            async fn lead_detail(&self, id: &str) -> Result<Option<LeadDetail>> {
                let mut tx = self.read_snapshot().await?;
                let read = detail_on(&mut tx, id).await;
                read_then_end(read, tx.rollback().await)
            }

            async fn idempotent(&self, key: &str) -> Result<Option<StoredResponse>> {
                let row = sqlx::query("SELECT lead_id, status, response FROM idempotency WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| stored_from_row(&r)).transpose()
            }

            async fn owner_counts(&self) -> Result<Vec<(Option<String>, i64)>> {
                let rows = sqlx::query("SELECT owner, COUNT(*) AS n FROM leads GROUP BY owner ORDER BY owner NULLS FIRST")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("owner")?, r.try_get("n")?)))
                    .collect()
            }

            async fn lead_count(&self) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM leads")
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn state(&self) -> Result<StateSnapshot> {
                // Three tables (clocks, passes, rep state): one snapshot, so a batch that
                // commits meanwhile is seen whole or not at all.
                let mut tx = self.read_snapshot().await?;
                let read = load_state(&mut tx).await;
                read_then_end(read, tx.rollback().await)
            }

            async fn sync_accounts(&self, accounts: &[AccountRow], config_version: &str, now: i64) -> Result<()> {
                let mut tx = self.pool.begin_with($accounts_begin).await?;
                sync_accounts_on(&mut tx, accounts, config_version, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn account_count(&self, config_version: &str) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE config_version = $1")
                    .bind(config_version.to_string())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn claim_outbox(&self, worker: &str, now: i64, lease_us: i64, limit: i64) -> Result<Vec<OutboxRow>> {
                // The worker polls whether or not anything is due. The UPDATE is a write
                // transaction even when it matches no row (on SQLite it takes, or waits
                // for, the database's one write lock beside the routing writer), so a read
                // that needs no lock asks first.
                let due: Option<String> = sqlx::query_scalar("SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1")
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let rows = sqlx::query(claim_sql!($claim_lock))
                    .bind(now + lease_us)
                    .bind(worker.to_string())
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                let mut out: Vec<OutboxRow> = rows.iter().map(outbox_from_row).collect::<Result<_>>()?;
                out.sort_by(|a, b| a.id.cmp(&b.id));
                Ok(out)
            }

            async fn complete_outbox(&self, id: &str, result: &OutboxResult) -> Result<()> {
                complete_on(&self.pool, id, result).await
            }

            async fn complete_outbox_many(&self, done: &[(String, OutboxResult)]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for (id, result) in done {
                    complete_on(&mut *tx, id, result).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn outbox(&self, lead_id: &str) -> Result<Vec<OutboxRow>> {
                outbox_on(&self.pool, lead_id).await
            }

            async fn dead_letters(&self, limit: i64) -> Result<Vec<OutboxRow>> {
                dead_letters_on(&self.pool, limit).await
            }

            async fn due_timers(&self, now: i64, limit: i64) -> Result<Vec<TimerRow>> {
                let rows = sqlx::query("SELECT * FROM sla_timers WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2")
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(timer_from_row).collect()
            }

            async fn timers(&self, lead_id: &str) -> Result<Vec<TimerRow>> {
                timers_on(&self.pool, lead_id).await
            }

            async fn cache_get(&self, provider: &str, key: &str, now: i64) -> Result<Option<(serde_json::Value, i64)>> {
                let row = sqlx::query("SELECT value, expires_at FROM enrichment_cache WHERE provider = $1 AND key = $2 AND expires_at > $3")
                    .bind(provider.to_string())
                    .bind(key.to_string())
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    None => Ok(None),
                    Some(r) => {
                        let v: String = r.try_get("value")?;
                        let value = serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(format!("enrichment cache: {e}")))?;
                        Ok(Some((value, r.try_get("expires_at")?)))
                    }
                }
            }

            async fn cache_put(&self, provider: &str, key: &str, value: &serde_json::Value, expires_at: i64) -> Result<()> {
                sqlx::query("INSERT INTO enrichment_cache (provider, key, value, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (provider, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at")
                    .bind(provider.to_string())
                    .bind(key.to_string())
                    .bind(value.to_string())
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn pending_timer_count(&self) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM sla_timers WHERE status = 'pending'")
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }
        }

        async fn complete_on<'e, E: sqlx::Executor<'e, Database = $db>>(e: E, id: &str, result: &OutboxResult) -> Result<()> {
            let q = match result {
                OutboxResult::Delivered { at } => sqlx::query("UPDATE outbox SET status = 'delivered', delivered_at = $1, attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = $2")
                    .bind(*at)
                    .bind(id.to_string()),
                OutboxResult::Retry { next_at, error } => sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2, attempts = attempts + 1, claimed_until = NULL WHERE id = $3 AND status = 'pending'")
                    .bind(*next_at)
                    .bind(error.clone())
                    .bind(id.to_string()),
                OutboxResult::Dead { error } => sqlx::query("UPDATE outbox SET status = 'dead', last_error = $1, attempts = attempts + 1, claimed_until = NULL WHERE id = $2 AND status = 'pending'")
                    .bind(error.clone())
                    .bind(id.to_string()),
            };
            q.execute(e).await?;
            Ok(())
        }

        /// [`Store::sync_accounts`] inside its transaction (see [`ACCOUNT_VERSION_GRACE_US`]).
        async fn sync_accounts_on(tx: &mut sqlx::Transaction<'static, $db>, accounts: &[AccountRow], version: &str, now: i64) -> Result<()> {
            sqlx::query($accounts_lock).execute(&mut **tx).await?;
            // A version is a hash of the config's files: rows once mirrored for it are
            // the same rows, so a restart on a known version writes none again.
            let known: Option<i64> = sqlx::query_scalar("SELECT synced_at FROM account_versions WHERE config_version = $1")
                .bind(version.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            if known.is_none() {
                for chunk in crate::statement_chunks(accounts, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO accounts (config_version, domain, name, owner, named) ");
                    q.push_values(chunk, |mut v, a| {
                        v.push_bind(version.to_string())
                            .push_bind(a.domain.clone())
                            .push_bind(a.name.clone())
                            .push_bind(a.owner.clone())
                            .push_bind(i64::from(a.named));
                    });
                    // One config has one row per domain; a repeated domain keeps the last.
                    q.push(" ON CONFLICT (config_version, domain) DO UPDATE SET name = excluded.name, owner = excluded.owner, named = excluded.named");
                    q.build().execute(&mut **tx).await?;
                }
            }
            sqlx::query("INSERT INTO account_versions (config_version, synced_at, superseded_at) VALUES ($1, $2, NULL) ON CONFLICT (config_version) DO UPDATE SET synced_at = excluded.synced_at, superseded_at = NULL")
                .bind(version.to_string())
                .bind(now)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE account_versions SET superseded_at = $2 WHERE config_version <> $1 AND superseded_at IS NULL")
                .bind(version.to_string())
                .bind(now)
                .execute(&mut **tx)
                .await?;
            let cutoff = now - ACCOUNT_VERSION_GRACE_US;
            sqlx::query("DELETE FROM accounts WHERE config_version IN (SELECT config_version FROM account_versions WHERE superseded_at < $1)")
                .bind(cutoff)
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM account_versions WHERE superseded_at < $1")
                .bind(cutoff)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        pub(crate) async fn dead_letters_on<'e, E: sqlx::Executor<'e, Database = $db>>(e: E, limit: i64) -> Result<Vec<OutboxRow>> {
            let rows = sqlx::query("SELECT * FROM outbox WHERE status = 'dead' ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(e)
                .await?;
            rows.iter().map(outbox_from_row).collect()
        }

        /// A lead with its history, messages and timers (also the privacy export's).
        pub(crate) async fn detail_on(tx: &mut <$db as sqlx::Database>::Connection, id: &str) -> Result<Option<LeadDetail>> {
            let Some(lead) = lead_on(&mut *tx, id).await? else {
                return Ok(None);
            };
            Ok(Some(LeadDetail {
                lead,
                history: history_on(&mut *tx, id).await?,
                outbox: outbox_on(&mut *tx, id).await?,
                timers: timers_on(&mut *tx, id).await?,
            }))
        }

        async fn lead_on<'e, E: sqlx::Executor<'e, Database = $db>>(e: E, id: &str) -> Result<Option<LeadRecord>> {
            let row = sqlx::query("SELECT * FROM leads WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(e)
                .await?;
            row.map(|r| lead_from_row(&r)).transpose()
        }

        async fn history_on<'e, E: sqlx::Executor<'e, Database = $db>>(e: E, lead_id: &str) -> Result<Vec<DecisionRecord>> {
            let rows = sqlx::query("SELECT * FROM decisions WHERE lead_id = $1 ORDER BY id")
                .bind(lead_id.to_string())
                .fetch_all(e)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(DecisionRecord {
                        lead_id: r.try_get("lead_id")?,
                        kind: r.try_get("kind")?,
                        decided_at: r.try_get("decided_at")?,
                        owner: r.try_get("owner")?,
                        queue: r.try_get("queue")?,
                        reason: r.try_get("reason")?,
                        actor: r.try_get("actor")?,
                        config_version: r.try_get("config_version")?,
                        decision: crate::packed::read(r.try_get("decision_z")?, r.try_get("decision")?)?,
                        trace: crate::packed::read(r.try_get("trace_z")?, r.try_get("trace")?)?,
                    })
                })
                .collect()
        }

        async fn outbox_on<'e, E: sqlx::Executor<'e, Database = $db>>(e: E, lead_id: &str) -> Result<Vec<OutboxRow>> {
            let rows = sqlx::query("SELECT * FROM outbox WHERE lead_id = $1 ORDER BY id")
                .bind(lead_id.to_string())
                .fetch_all(e)
                .await?;
            rows.iter().map(outbox_from_row).collect()
        }

        async fn timers_on<'e, E: sqlx::Executor<'e, Database = $db>>(e: E, lead_id: &str) -> Result<Vec<TimerRow>> {
            let rows = sqlx::query("SELECT * FROM sla_timers WHERE lead_id = $1 ORDER BY due_at, id")
                .bind(lead_id.to_string())
                .fetch_all(e)
                .await?;
            rows.iter().map(timer_from_row).collect()
        }

        fn outbox_from_row(r: &<$db as sqlx::Database>::Row) -> Result<OutboxRow> {
            Ok(OutboxRow {
                id: r.try_get("id")?,
                lead_id: r.try_get("lead_id")?,
                kind: r.try_get("kind")?,
                channel: r.try_get("channel")?,
                recipient: r.try_get("recipient")?,
                payload: outbox_from_json(r.try_get("payload")?)?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
                delivered_at: r.try_get("delivered_at")?,
            })
        }

        fn timer_from_row(r: &<$db as sqlx::Database>::Row) -> Result<TimerRow> {
            Ok(TimerRow {
                id: r.try_get("id")?,
                lead_id: r.try_get("lead_id")?,
                step: crate::stored_text("step", r.try_get("step")?)?,
                due_at: r.try_get("due_at")?,
                status: r.try_get("status")?,
                owner: r.try_get("owner")?,
                fired_at: r.try_get("fired_at")?,
                created_at: r.try_get("created_at")?,
            })
        }


        fn lead_from_row(r: &<$db as sqlx::Database>::Row) -> Result<LeadRecord> {
            let payload: String = r.try_get("payload")?;
            Ok(LeadRecord {
                id: r.try_get("id")?,
                source: r.try_get("source")?,
                email: r.try_get("email")?,
                payload: serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("lead payload: {e}")))?,
                received_at: r.try_get("received_at")?,
                routed_at: r.try_get("routed_at")?,
                owner: r.try_get("owner")?,
                queue: r.try_get("queue")?,
                team: r.try_get("team")?,
                segment: r.try_get("segment")?,
                tier: r.try_get("tier")?,
                score: r.try_get("score")?,
                path: r.try_get("path")?,
                rule: r.try_get("rule")?,
                status: crate::stored_text("status", r.try_get("status")?)?,
                stage: crate::stored_text("stage", r.try_get("stage")?)?,
                outcome: r.try_get::<Option<String>, _>("outcome")?.map(|o| crate::stored_text("outcome", o)).transpose()?,
                outcome_at: r.try_get("outcome_at")?,
                route_by: r.try_get("route_by")?,
                contact_by: r.try_get("contact_by")?,
                config_version: r.try_get("config_version")?,
                account_domain: r.try_get("account_domain")?,
                accepted_at: r.try_get("accepted_at")?,
                first_touch_at: r.try_get("first_touch_at")?,
                fallback: r.try_get::<i64, _>("fallback")? != 0,
            })
        }

        fn stored_from_row(r: &<$db as sqlx::Database>::Row) -> Result<StoredResponse> {
            let response: String = r.try_get("response")?;
            let status: i64 = r.try_get("status")?;
            Ok(StoredResponse {
                lead_id: r.try_get("lead_id")?,
                status: status as u16,
                response: serde_json::value::RawValue::from_string(response)
                    .map_err(|e| StoreError::Corrupt(format!("idempotent response: {e}")))?,
            })
        }

        pub(crate) async fn load_state(conn: &mut <$db as sqlx::Database>::Connection) -> Result<StateSnapshot> {
            use leadrouter_core::state::*;
            let mut s = StateSnapshot::default();
            for r in sqlx::query("SELECT team, virtual_time FROM rotation_clocks")
                .fetch_all(&mut *conn)
                .await?
            {
                let vt: i64 = r.try_get("virtual_time")?;
                s.rotations.entry(r.try_get("team")?).or_default().virtual_time = vt.max(0) as u64;
            }
            for r in sqlx::query("SELECT team, rep, pass FROM rotations")
                .fetch_all(&mut *conn)
                .await?
            {
                let pass: i64 = r.try_get("pass")?;
                s.rotations
                    .entry(r.try_get("team")?)
                    .or_default()
                    .passes
                    .insert(r.try_get("rep")?, pass.max(0) as u64);
            }
            for r in sqlx::query("SELECT * FROM rep_state").fetch_all(&mut *conn).await? {
                let out: i64 = r.try_get("out")?;
                crate::add_rep_state(
                    &mut s,
                    RepStateWrite {
                        rep: r.try_get("rep")?,
                        early: r.try_get("early")?,
                        mid: r.try_get("mid")?,
                        late: r.try_get("late")?,
                        daily_date: r.try_get("daily_date")?,
                        daily_count: r.try_get("daily_count")?,
                        out: out != 0,
                        out_until: r.try_get("out_until")?,
                        out_note: r.try_get("out_note")?,
                    },
                );
            }
            Ok(s)
        }

    };
}

pub mod sqlite {
    use super::*;
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };

    /// Embedded SQLite: WAL journal, `synchronous=FULL` (a commit is on disk before it
    /// returns), `BEGIN IMMEDIATE` for routing transactions.
    pub struct SqliteStore {
        pub(crate) pool: sqlx::SqlitePool,
        /// The one connection routing transactions use, on a thread of its own
        /// (`sqlite_writer.rs`).
        writer: crate::sqlite_writer::Writer,
        /// Reads of committed rows beside the writer (`Store::committed_reads`).
        reader: crate::sqlite_writer::Reader,
        name: &'static str,
        _checkpointer: AbortOnDrop,
    }

    /// Stops the background checkpointer when the store is dropped.
    struct AbortOnDrop(tokio::task::JoinHandle<()>);

    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }

    /// How often the WAL is copied back into the database file.
    const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

    /// Passive checkpoints on a connection of their own: they never wait for the writer
    /// and the writer never waits for them, so the copy-back happens beside routing
    /// rather than inside one of its commits.
    async fn checkpoint_loop(pool: sqlx::SqlitePool) {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            let run = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool);
            match tokio::time::timeout(std::time::Duration::from_secs(30), run).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
                Err(_) => tracing::warn!("WAL checkpoint took over 30 s; retrying"),
            }
        }
    }

    impl SqliteStore {
        pub async fn open(url: &str) -> Result<Self> {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
            }
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(std::time::Duration::from_secs(10))
                .foreign_keys(true)
                // Statement journals of multi-row INSERTs stay in memory.
                .pragma("temp_store", "memory")
                // The writer's own checkpoint would run inside a routing COMMIT and hold
                // every request of that batch; the background checkpointer below keeps
                // the WAL short instead. This is only the backstop if it falls behind.
                .pragma("wal_autocheckpoint", "16384");
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect_with(opts.clone())
                .await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            // Index pages of a large database stay in the writer's memory (64 MiB; the
            // default is 2 MiB, and every random-key index insert then reads its page
            // from disk). Only the writer's: every other connection's cache is dropped
            // whenever the writer commits, and dropping a large cache scans all of it.
            let writer = crate::sqlite_writer::Writer::start(path.into()).await?;
            let reader = crate::sqlite_writer::Reader::start(path.into()).await?;
            let checkpointer = AbortOnDrop(tokio::spawn(checkpoint_loop(pool.clone())));
            Ok(SqliteStore {
                pool,
                writer,
                reader,
                name: "sqlite",
                _checkpointer: checkpointer,
            })
        }

        async fn begin_routing(&self) -> Result<Box<dyn Tx>> {
            Ok(Box::new(self.writer.begin().await?))
        }

        async fn read_committed(&self, want: BatchReadsFor) -> Result<BatchReads> {
            self.reader.batch_reads(want).await
        }

        /// A read transaction on the pool: in WAL mode a deferred `BEGIN` reads one
        /// snapshot from its first SELECT and never takes the write lock.
        pub(crate) async fn read_snapshot(
            &self,
        ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
            Ok(self.pool.begin().await?)
        }

        /// The routing writer connection, between routing transactions
        /// (`search_index`).
        pub(crate) fn writer(&self) -> &crate::sqlite_writer::Writer {
            &self.writer
        }

        /// The routing writer's turn, for a write on another connection that no routing
        /// transaction may interleave with (`Reporting::set_report_zone`).
        pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
            Some(self.writer.turn().await)
        }
    }

    // Mirrors take the write lock at BEGIN: a deferred transaction that reads first could
    // not upgrade while another writer holds the lock.
    backend!(SqliteStore, sqlx::Sqlite, "", "BEGIN IMMEDIATE", "SELECT 1");
}

pub mod postgres {
    use super::*;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    /// PostgreSQL: several instances share one database; the routing state is taken under
    /// a row lock (`state_version … FOR UPDATE`) so no two instances hand out the same turn
    /// or exceed a capacity limit. `synchronous_commit` stays on.
    pub struct PgStore {
        pub(crate) pool: sqlx::PgPool,
        name: &'static str,
    }

    impl PgStore {
        pub async fn open(url: &str) -> Result<Self> {
            let opts = PgConnectOptions::from_str(url)?
                .options([("synchronous_commit", "on"), ("statement_timeout", "30000")]);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            // Several instances may start at once: migrate under an advisory lock
            // (sqlx's migrator takes one itself on PostgreSQL).
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Ok(PgStore {
                pool,
                name: "postgres",
            })
        }

        async fn begin_routing(&self) -> Result<Box<dyn Tx>> {
            Ok(Box::new(PgTx {
                tx: self.pool.begin().await?,
                zone: None,
            }))
        }

        /// A read-only transaction whose statements all see one snapshot.
        pub(crate) async fn read_snapshot(
            &self,
        ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
            Ok(self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?)
        }

        /// PostgreSQL's routing lock is the `state_version` row, taken by the caller.
        pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
            None
        }

        /// The routing transaction's reads in a plain transaction of their own (no state
        /// lock, nothing written), so they see one snapshot of committed rows.
        async fn read_committed(&self, want: BatchReadsFor) -> Result<BatchReads> {
            let mut tx = PgTx {
                tx: self.read_snapshot().await?,
                zone: None,
            };
            let read = tx.batch_reads(want).await;
            read_then_end(read, tx.tx.rollback().await)
        }

        /// Drop every table (tests use a fresh schema per run).
        pub async fn reset(url: &str) -> Result<()> {
            let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
            sqlx::query("DROP SCHEMA public CASCADE")
                .execute(&pool)
                .await?;
            sqlx::query("CREATE SCHEMA public").execute(&pool).await?;
            Ok(())
        }
    }

    // Two instances mirroring at once (a rolling reload) would mark each other's version
    // rows superseded in opposite orders and deadlock; the mirrors take turns instead.
    backend!(
        PgStore,
        sqlx::Postgres,
        "FOR UPDATE SKIP LOCKED",
        "BEGIN",
        "SELECT pg_advisory_xact_lock(7325630912)"
    );
    backend_tx!(
        PgTx,
        sqlx::Postgres,
        sqlx::Transaction<'static, sqlx::Postgres>,
        "SELECT version, report_zone FROM state_version WHERE id = 1 FOR UPDATE"
    );
}

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
