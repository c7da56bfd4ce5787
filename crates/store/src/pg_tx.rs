//! PostgreSQL's routing transaction (`backend_tx!`, expanded in `backend.rs`'s
//! `postgres` module, where the row decoders it uses live): the state lock
//! (`state_version … FOR UPDATE`, which also reads the rollups' zone), the batch's reads
//! and the whole `BatchWrite` as multi-row statements. SQLite's counterpart is
//! `sqlite_writer.rs` / `sqlite_batch.rs`; both write the same rows.

/// The routing transaction of a backend whose writes go through sqlx (PostgreSQL).
macro_rules! backend_tx {
    ($tx:ident, $db:ty, $inner:ty, $lock_sql:expr) => {
        pub struct $tx {
            tx: $inner,
            /// The rollups' zone, read with the state lock ([`Tx::lock_state`]).
            zone: Option<crate::reporting::ReportZone>,
        }

        #[async_trait]
        impl Tx for $tx {
            async fn lock_state(&mut self) -> Result<i64> {
                let row = sqlx::query($lock_sql).fetch_one(&mut *self.tx).await?;
                let zone: String = row.try_get("report_zone")?;
                if self.zone.as_ref().is_none_or(|z| z.name() != zone) {
                    self.zone = Some(crate::reporting::ReportZone::stored(&zone));
                }
                Ok(row.try_get("version")?)
            }

            async fn load_state(&mut self) -> Result<StateSnapshot> {
                load_state(&mut self.tx).await
            }

            async fn idempotent(&mut self, keys: &[String]) -> Result<HashMap<String, StoredResponse>> {
                let mut out = HashMap::new();
                for chunk in crate::key_chunks(keys, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT key, lead_id, status, response FROM idempotency WHERE key IN (");
                    let mut sep = q.separated(", ");
                    for k in chunk {
                        sep.push_bind(k.clone());
                    }
                    q.push(")");
                    for r in q.build().fetch_all(&mut *self.tx).await? {
                        out.insert(r.try_get("key")?, stored_from_row(&r)?);
                    }
                }
                Ok(out)
            }

            async fn people(&mut self, emails: &[String]) -> Result<HashMap<String, StoredPerson>> {
                use leadrouter_core::state::PriorStatus;
                let mut out = HashMap::new();
                for chunk in crate::key_chunks(emails, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT email, owner, status, disqualified_at, note, last_lead_id FROM people WHERE email IN (");
                    let mut sep = q.separated(", ");
                    for e in chunk {
                        sep.push_bind(e.clone());
                    }
                    q.push(")");
                    for r in q.build().fetch_all(&mut *self.tx).await? {
                        let status: String = r.try_get("status")?;
                        let dq: Option<i64> = r.try_get("disqualified_at")?;
                        out.insert(
                            r.try_get("email")?,
                            StoredPerson {
                                prior: PriorPerson {
                                    owner: r.try_get("owner")?,
                                    status: if status == "disqualified" { PriorStatus::Disqualified } else { PriorStatus::Open },
                                    disqualified_at: dq.map(from_micros),
                                    note: r.try_get("note")?,
                                },
                                last_lead_id: r.try_get("last_lead_id")?,
                            },
                        );
                    }
                }
                Ok(out)
            }

            async fn leads(&mut self, ids: &[String]) -> Result<Vec<LeadRecord>> {
                let mut out = Vec::new();
                for chunk in crate::key_chunks(ids, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT * FROM leads WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(id.clone());
                    }
                    q.push(")");
                    for r in q.build().fetch_all(&mut *self.tx).await? {
                        out.push(lead_from_row(&r)?);
                    }
                }
                Ok(out)
            }

            async fn timers_by_id(&mut self, ids: &[String]) -> Result<Vec<TimerRow>> {
                let mut out = Vec::new();
                for chunk in crate::key_chunks(ids, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT * FROM sla_timers WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(id.clone());
                    }
                    q.push(")");
                    for r in q.build().fetch_all(&mut *self.tx).await? {
                        out.push(timer_from_row(&r)?);
                    }
                }
                Ok(out)
            }

            async fn bookings(&mut self, reps: &[String], lead_ids: &[String], since: i64) -> Result<Vec<crate::bookings::BookingRow>> {
                crate::bookings::pg_read(&mut *self.tx, reps, lead_ids, since).await
            }

            async fn write(&mut self, b: BatchWrite, version: i64) -> Result<()> {
                let b = &b;
                // Console rollups: the changed leads' reporting columns before this write.
                let before = crate::reporting::RollupTx::facts(
                    &mut *self.tx,
                    &crate::reporting::changed_leads(b),
                )
                .await?;
                let values = b.values()?;
                let tx = &mut *self.tx;
                let mut payloads = values.lead_payloads.iter();
                for chunk in crate::statement_chunks(&b.leads, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO leads (id, source, email, payload, received_at, routed_at, owner, queue, team, segment, tier, score, path, rule, status, stage, outcome, outcome_at, route_by, contact_by, config_version, account_domain, fallback) ",
                    );
                    q.push_values(chunk, |mut v, l| {
                        v.push_bind(l.id.clone())
                            .push_bind(l.source.clone())
                            .push_bind(l.email.clone())
                            .push_bind(payloads.next().map(String::as_str))
                            .push_bind(l.received_at)
                            .push_bind(l.routed_at)
                            .push_bind(l.owner.clone())
                            .push_bind(l.queue.clone())
                            .push_bind(l.team.clone())
                            .push_bind(l.segment.clone())
                            .push_bind(l.tier.clone())
                            .push_bind(l.score)
                            .push_bind(l.path.clone())
                            .push_bind(l.rule.clone())
                            .push_bind(l.status.as_str())
                            .push_bind(l.stage.as_str())
                            .push_bind(l.outcome.map(|o| o.as_str()))
                            .push_bind(l.outcome_at)
                            .push_bind(l.route_by)
                            .push_bind(l.contact_by)
                            .push_bind(l.config_version.clone())
                            .push_bind(l.account_domain.clone())
                            .push_bind(i64::from(l.fallback));
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for u in &b.lead_updates {
                    sqlx::query("UPDATE leads SET owner = $1, queue = $2, team = $3, status = $4, stage = $5, outcome = $6, outcome_at = $7, contact_by = $8, accepted_at = $9, first_touch_at = $10 WHERE id = $11")
                        .bind(u.owner.clone())
                        .bind(u.queue.clone())
                        .bind(u.team.clone())
                        .bind(u.status.as_str())
                        .bind(u.stage.as_str())
                        .bind(u.outcome.map(|o| o.as_str()))
                        .bind(u.outcome_at)
                        .bind(u.contact_by)
                        .bind(u.accepted_at)
                        .bind(u.first_touch_at)
                        .bind(u.id.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                // Packed before any statement is built (`values` above), so a failure
                // fails the batch (nothing of it is acknowledged) rather than storing an
                // empty value.
                let mut packed = values.decisions.iter().cloned();
                for chunk in crate::statement_chunks(&b.decisions, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO decisions (lead_id, kind, decided_at, owner, queue, reason, actor, config_version, decision_z, trace_z) ",
                    );
                    let rows: Vec<_> = chunk.iter().zip(packed.by_ref()).collect();
                    q.push_values(rows, |mut v, (d, (decision, trace))| {
                        v.push_bind(d.lead_id.clone())
                            .push_bind(d.kind.clone())
                            .push_bind(d.decided_at)
                            .push_bind(d.owner.clone())
                            .push_bind(d.queue.clone())
                            .push_bind(d.reason.clone())
                            .push_bind(d.actor.clone())
                            .push_bind(d.config_version.clone())
                            .push_bind(decision)
                            .push_bind(trace);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in crate::statement_chunks(&b.people, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO people (email, owner, status, disqualified_at, note, first_seen_at, last_seen_at, lead_count, last_lead_id) ",
                    );
                    q.push_values(chunk, |mut v, p| {
                        let status = match p.prior.status {
                            leadrouter_core::state::PriorStatus::Open => "open",
                            leadrouter_core::state::PriorStatus::Disqualified => "disqualified",
                        };
                        v.push_bind(p.email.clone())
                            .push_bind(p.prior.owner.clone())
                            .push_bind(status)
                            .push_bind(p.prior.disqualified_at.map(micros))
                            .push_bind(p.prior.note.clone())
                            .push_bind(p.seen_at)
                            .push_bind(p.seen_at)
                            .push_bind(p.new_leads)
                            .push_bind(p.last_lead_id.clone());
                    });
                    q.push(" ON CONFLICT (email) DO UPDATE SET owner = excluded.owner, status = excluded.status, disqualified_at = excluded.disqualified_at, note = excluded.note, last_seen_at = excluded.last_seen_at, lead_count = people.lead_count + excluded.lead_count, last_lead_id = excluded.last_lead_id");
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in crate::statement_chunks(&b.rotations, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO rotations (team, rep, pass) ");
                    q.push_values(chunk, |mut v, (team, rep, pass)| {
                        v.push_bind(team.clone()).push_bind(rep.clone()).push_bind(*pass);
                    });
                    q.push(" ON CONFLICT (team, rep) DO UPDATE SET pass = excluded.pass");
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in crate::statement_chunks(&b.clocks, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO rotation_clocks (team, virtual_time) ");
                    q.push_values(chunk, |mut v, (team, vt)| {
                        v.push_bind(team.clone()).push_bind(*vt);
                    });
                    q.push(" ON CONFLICT (team) DO UPDATE SET virtual_time = excluded.virtual_time");
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in crate::statement_chunks(&b.rep_state, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO rep_state (rep, early, mid, late, daily_date, daily_count, out, out_until, out_note) ",
                    );
                    q.push_values(chunk, |mut v, r| {
                        v.push_bind(r.rep.clone())
                            .push_bind(r.early)
                            .push_bind(r.mid)
                            .push_bind(r.late)
                            .push_bind(r.daily_date.clone())
                            .push_bind(r.daily_count)
                            .push_bind(i64::from(r.out))
                            .push_bind(r.out_until)
                            .push_bind(r.out_note.clone());
                    });
                    q.push(" ON CONFLICT (rep) DO UPDATE SET early = excluded.early, mid = excluded.mid, late = excluded.late, daily_date = excluded.daily_date, daily_count = excluded.daily_count, out = excluded.out, out_until = excluded.out_until, out_note = excluded.out_note");
                    q.build().execute(&mut *tx).await?;
                }
                let mut responses = values.responses.iter();
                for chunk in crate::statement_chunks(&b.idempotency, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO idempotency (key, lead_id, status, response, created_at) ");
                    q.push_values(chunk, |mut v, (key, r, at)| {
                        v.push_bind(key.clone())
                            .push_bind(r.lead_id.clone())
                            .push_bind(i64::from(r.status))
                            .push_bind(responses.next().map(String::as_str))
                            .push_bind(*at);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in crate::statement_chunks(&b.cancel_timers, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("UPDATE sla_timers SET status = 'cancelled' WHERE status = 'pending' AND lead_id IN (");
                    let mut ids = q.separated(", ");
                    for lead in chunk {
                        ids.push_bind(lead.clone());
                    }
                    q.push(")");
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in crate::statement_chunks(&b.audit, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(crate::audit::INSERT_AUDIT);
                    q.push_values(chunk, |mut v, e| {
                        v.push_bind(e.at)
                            .push_bind(e.actor.clone())
                            .push_bind(e.action.clone())
                            .push_bind(e.lead_id.clone())
                            .push_bind(e.subject.clone())
                            .push_bind(e.address.clone())
                            .push_bind(e.detail.clone());
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for (id, at) in &b.fired_timers {
                    sqlx::query("UPDATE sla_timers SET status = 'fired', fired_at = $1 WHERE id = $2")
                        .bind(*at)
                        .bind(id.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                for chunk in crate::statement_chunks(&b.timers, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO sla_timers (id, lead_id, step, due_at, status, owner, fired_at, created_at) ");
                    q.push_values(chunk, |mut v, t| {
                        v.push_bind(t.id.clone())
                            .push_bind(t.lead_id.clone())
                            .push_bind(t.step.as_str())
                            .push_bind(t.due_at)
                            .push_bind(t.status.clone())
                            .push_bind(t.owner.clone())
                            .push_bind(t.fired_at)
                            .push_bind(t.created_at);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let mut outbox_payloads = values.outbox_payloads.iter();
                for chunk in crate::statement_chunks(&b.outbox, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO outbox (id, lead_id, kind, channel, recipient, payload, status, attempts, next_attempt_at, created_at) ");
                    q.push_values(chunk, |mut v, o| {
                        v.push_bind(o.id.clone())
                            .push_bind(o.lead_id.clone())
                            .push_bind(o.kind.clone())
                            .push_bind(o.channel.clone())
                            .push_bind(o.recipient.clone())
                            .push_bind(outbox_payloads.next().map(String::as_str))
                            .push_bind(o.status.clone())
                            .push_bind(o.attempts)
                            .push_bind(o.next_attempt_at)
                            .push_bind(o.created_at);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let mut event_idx = 0i64;
                for chunk in crate::statement_chunks(&b.events, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(crate::history::INSERT_EVENT);
                    q.push_values(chunk, |mut v, e| {
                        event_idx += 1;
                        v.push_bind(version)
                            .push_bind(event_idx)
                            .push_bind(e.at)
                            .push_bind(e.kind.clone())
                            .push_bind(e.lead_id.clone())
                            .push_bind(e.actor.clone())
                            .push_bind(e.config_version.clone())
                            .push_bind(e.input.clone())
                            .push_bind(e.effects.clone())
                            .push_bind(e.result.clone())
                            .push_bind(e.people.clone())
                            .push_bind(e.input_packed.clone());
                    });
                    q.build().execute(&mut *tx).await?;
                }
                if let Some((at, state)) = &b.checkpoint {
                    sqlx::query("INSERT INTO state_checkpoints (state_version, at, state) VALUES ($1, $2, $3)")
                        .bind(version - 1)
                        .bind(*at)
                        .bind(state.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                for chunk in crate::statement_chunks(&b.crm, CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO crm_outbox (id, lead_id, kind, payload, status, attempts, next_attempt_at, created_at) ");
                    q.push_values(chunk, |mut v, o| {
                        v.push_bind(o.id.clone())
                            .push_bind(o.lead_id.clone())
                            .push_bind(o.kind.clone())
                            .push_bind(o.payload.to_string())
                            .push_bind(o.status.clone())
                            .push_bind(o.attempts)
                            .push_bind(o.next_attempt_at)
                            .push_bind(o.created_at);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                crate::bookings::pg_write(&mut *tx, &b.bookings).await?;
                sqlx::query("UPDATE state_version SET version = $1 WHERE id = 1")
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                // Console rollups and reporting columns, in the same transaction.
                let zone = match &self.zone {
                    Some(z) => z.clone(),
                    None => {
                        let name: String = sqlx::query_scalar("SELECT report_zone FROM state_version WHERE id = 1")
                            .fetch_one(&mut *self.tx)
                            .await?;
                        crate::reporting::ReportZone::stored(&name)
                    }
                };
                crate::reporting::RollupTx::write_rollups(&mut *self.tx, b, before, &zone).await?;
                Ok(())
            }

            async fn commit(self: Box<Self>) -> Result<()> {
                self.tx.commit().await?;
                Ok(())
            }

            async fn rollback(self: Box<Self>) -> Result<()> {
                self.tx.rollback().await?;
                Ok(())
            }
        }
    };
}
