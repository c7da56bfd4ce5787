//! SQLite's `Tx::write`: the rows one routing transaction writes — leads, decisions,
//! people, rotation and rep state, idempotency keys, timers, outbox, the state version —
//! and the console rollups, through prepared single-row statements on the writer thread
//! (`sqlite_writer.rs`). The same rows and upserts as PostgreSQL's (`pg_tx.rs`,
//! `reporting/sql.rs`).

use crate::reporting::{self, LeadFacts, WINDOW_SUMS, WindowKey, WindowSums};
use crate::*;
use leadrouter_core::state::PriorStatus;
use rusqlite::{OptionalExtension, params};

/// The reporting columns of these leads, as stored now.
pub(crate) fn facts(db: &rusqlite::Connection, ids: &[String]) -> Result<Vec<LeadFacts>> {
    let mut st = db.prepare_cached(
        "SELECT id, received_at, routed_at, tier, path, team, owner, contact_by, first_touch_at, accepted_at, status, stage, fallback, reassignments FROM leads WHERE id = ?1",
    )?;
    let mut out = Vec::new();
    for id in ids {
        let found = st
            .query_row([id], |r| {
                Ok(LeadFacts {
                    id: r.get("id")?,
                    received_at: r.get("received_at")?,
                    routed_at: r.get("routed_at")?,
                    tier: r.get("tier")?,
                    path: r.get("path")?,
                    team: r.get("team")?,
                    owner: r.get("owner")?,
                    contact_by: r.get("contact_by")?,
                    first_touch_at: r.get("first_touch_at")?,
                    accepted_at: r.get("accepted_at")?,
                    status: r.get("status")?,
                    stage: r.get("stage")?,
                    fallback: r.get("fallback")?,
                    reassignments: r.get("reassignments")?,
                })
            })
            .optional()?;
        out.extend(found);
    }
    Ok(out)
}

/// One routing transaction's writes, the same rows and upserts as the sqlx backends'
/// (`backend.rs`), one prepared statement per table.
pub(crate) fn write(db: &rusqlite::Connection, b: &BatchWrite, version: i64) -> Result<()> {
    // Packed before anything is written, so a failure fails the batch (nothing of it is
    // acknowledged) rather than storing an empty value.
    let values = b.values()?;
    let changed = reporting::changed_leads(b);
    // Console rollups: the changed leads' reporting columns before this write.
    let before = facts(db, &changed)?;
    if !b.leads.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO leads (id, source, email, payload, received_at, routed_at, owner, queue, team, segment, tier, score, path, rule, status, stage, outcome, outcome_at, route_by, contact_by, config_version, account_domain, fallback) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
        )?;
        for (l, payload) in b.leads.iter().zip(&values.lead_payloads) {
            st.execute(params![
                l.id,
                l.source,
                l.email,
                payload,
                l.received_at,
                l.routed_at,
                l.owner,
                l.queue,
                l.team,
                l.segment,
                l.tier,
                l.score,
                l.path,
                l.rule,
                l.status.as_str(),
                l.stage.as_str(),
                l.outcome.map(|o| o.as_str()),
                l.outcome_at,
                l.route_by,
                l.contact_by,
                l.config_version,
                l.account_domain,
                i64::from(l.fallback),
            ])?;
        }
    }
    if !b.lead_updates.is_empty() {
        let mut st = db.prepare_cached(
            "UPDATE leads SET owner = ?1, queue = ?2, team = ?3, status = ?4, stage = ?5, outcome = ?6, outcome_at = ?7, contact_by = ?8, accepted_at = ?9, first_touch_at = ?10 WHERE id = ?11",
        )?;
        for u in &b.lead_updates {
            st.execute(params![
                u.owner,
                u.queue,
                u.team,
                u.status.as_str(),
                u.stage.as_str(),
                u.outcome.map(|o| o.as_str()),
                u.outcome_at,
                u.contact_by,
                u.accepted_at,
                u.first_touch_at,
                u.id,
            ])?;
        }
    }
    if !b.decisions.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO decisions (lead_id, kind, decided_at, owner, queue, reason, actor, config_version, decision_z, trace_z) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (d, (decision, trace)) in b.decisions.iter().zip(&values.decisions) {
            st.execute(params![
                d.lead_id,
                d.kind,
                d.decided_at,
                d.owner,
                d.queue,
                d.reason,
                d.actor,
                d.config_version,
                decision,
                trace,
            ])?;
        }
    }
    if !b.people.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO people (email, owner, status, disqualified_at, note, first_seen_at, last_seen_at, lead_count, last_lead_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8) ON CONFLICT (email) DO UPDATE SET owner = excluded.owner, status = excluded.status, disqualified_at = excluded.disqualified_at, note = excluded.note, last_seen_at = excluded.last_seen_at, lead_count = people.lead_count + excluded.lead_count, last_lead_id = excluded.last_lead_id",
        )?;
        for p in &b.people {
            let status = match p.prior.status {
                PriorStatus::Open => "open",
                PriorStatus::Disqualified => "disqualified",
            };
            st.execute(params![
                p.email,
                p.prior.owner,
                status,
                p.prior.disqualified_at.map(micros),
                p.prior.note,
                p.seen_at,
                p.new_leads,
                p.last_lead_id,
            ])?;
        }
    }
    if !b.rotations.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO rotations (team, rep, pass) VALUES (?1, ?2, ?3) ON CONFLICT (team, rep) DO UPDATE SET pass = excluded.pass",
        )?;
        for (team, rep, pass) in &b.rotations {
            st.execute(params![team, rep, pass])?;
        }
    }
    if !b.clocks.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO rotation_clocks (team, virtual_time) VALUES (?1, ?2) ON CONFLICT (team) DO UPDATE SET virtual_time = excluded.virtual_time",
        )?;
        for (team, vt) in &b.clocks {
            st.execute(params![team, vt])?;
        }
    }
    if !b.rep_state.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO rep_state (rep, early, mid, late, daily_date, daily_count, out, out_until, out_note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (rep) DO UPDATE SET early = excluded.early, mid = excluded.mid, late = excluded.late, daily_date = excluded.daily_date, daily_count = excluded.daily_count, out = excluded.out, out_until = excluded.out_until, out_note = excluded.out_note",
        )?;
        for r in &b.rep_state {
            st.execute(params![
                r.rep,
                r.early,
                r.mid,
                r.late,
                r.daily_date,
                r.daily_count,
                i64::from(r.out),
                r.out_until,
                r.out_note,
            ])?;
        }
    }
    if !b.idempotency.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO idempotency (key, lead_id, status, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for ((key, r, at), response) in b.idempotency.iter().zip(&values.responses) {
            st.execute(params![key, r.lead_id, i64::from(r.status), response, at])?;
        }
    }
    if !b.cancel_timers.is_empty() {
        let mut st = db.prepare_cached(
            "UPDATE sla_timers SET status = 'cancelled' WHERE status = 'pending' AND lead_id = ?1",
        )?;
        for lead in &b.cancel_timers {
            st.execute([lead])?;
        }
    }
    if !b.audit.is_empty() {
        let mut st = db.prepare_cached(concat!(
            "INSERT INTO audit_log (at, actor, action, lead_id, subject, address, detail) ",
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))?;
        for e in &b.audit {
            st.execute(params![
                e.at, e.actor, e.action, e.lead_id, e.subject, e.address, e.detail
            ])?;
        }
    }
    if !b.fired_timers.is_empty() {
        let mut st = db.prepare_cached(
            "UPDATE sla_timers SET status = 'fired', fired_at = ?1 WHERE id = ?2",
        )?;
        for (id, at) in &b.fired_timers {
            st.execute(params![at, id])?;
        }
    }
    if !b.timers.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO sla_timers (id, lead_id, step, due_at, status, owner, fired_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for t in &b.timers {
            st.execute(params![
                t.id,
                t.lead_id,
                t.step.as_str(),
                t.due_at,
                t.status,
                t.owner,
                t.fired_at,
                t.created_at,
            ])?;
        }
    }
    if !b.outbox.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO outbox (id, lead_id, kind, channel, recipient, payload, status, attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (o, payload) in b.outbox.iter().zip(&values.outbox_payloads) {
            st.execute(params![
                o.id,
                o.lead_id,
                o.kind,
                o.channel,
                o.recipient,
                payload,
                o.status,
                o.attempts,
                o.next_attempt_at,
                o.created_at,
            ])?;
        }
    }
    if !b.events.is_empty() {
        let mut st = db.prepare_cached(concat!(
            "INSERT INTO routing_events (state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people, input_packed) ",
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))?;
        for (i, e) in b.events.iter().enumerate() {
            st.execute(params![
                version,
                i as i64 + 1,
                e.at,
                e.kind,
                e.lead_id,
                e.actor,
                e.config_version,
                e.input,
                e.effects,
                e.result,
                e.people,
                e.input_packed
            ])?;
        }
    }
    if let Some((at, state)) = &b.checkpoint {
        db.prepare_cached(
            "INSERT INTO state_checkpoints (state_version, at, state) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![version - 1, at, state])?;
    }
    if !b.crm.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO crm_outbox (id, lead_id, kind, payload, status, attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for o in &b.crm {
            st.execute(params![
                o.id,
                o.lead_id,
                o.kind,
                o.payload.to_string(),
                o.status,
                o.attempts,
                o.next_attempt_at,
                o.created_at,
            ])?;
        }
    }
    crate::bookings::sqlite_write(db, &b.bookings)?;
    if !b.leads.is_empty() {
        // Free text, every few hundred leads (`search_index`).
        crate::search_index::index_if_due(db)?;
    }
    db.prepare_cached("UPDATE state_version SET version = ?1 WHERE id = 1")?
        .execute([version])?;
    // Console rollups and reporting columns, in the same transaction.
    write_rollups(db, b, &changed, before)
}

/// The same rollup rows as `RollupTx::write_rollups` (`reporting/sql.rs`), one upsert a
/// row.
fn write_rollups(
    db: &rusqlite::Connection,
    b: &BatchWrite,
    changed: &[String],
    before: Vec<LeadFacts>,
) -> Result<()> {
    // The zone is stored beside the state version and changes only under the write lock
    // (`Reporting::set_report_zone`); one primary-key read per batch.
    let zone: String = db
        .prepare_cached("SELECT report_zone FROM state_version WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let zone = zone_named(zone);
    let r = reporting::rollups(b, &zone);
    if !r.daily.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO console_daily (day, tier, path, leads, assigned, fallbacks, assign_us_sum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (day, tier, path) DO UPDATE SET leads = console_daily.leads + excluded.leads, assigned = console_daily.assigned + excluded.assigned, fallbacks = console_daily.fallbacks + excluded.fallbacks, assign_us_sum = console_daily.assign_us_sum + excluded.assign_us_sum",
        )?;
        for d in r.daily.values() {
            st.execute(params![
                d.day,
                d.tier,
                d.path,
                d.leads,
                d.assigned,
                d.fallbacks,
                d.assign_us_sum
            ])?;
        }
    }
    if !r.speed.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO console_speed (day, bucket, n) VALUES (?1, ?2, ?3) ON CONFLICT (day, bucket) DO UPDATE SET n = console_speed.n + excluded.n",
        )?;
        for ((day, bucket), n) in &r.speed {
            st.execute(params![day, bucket, n])?;
        }
    }
    if !r.reassigned.is_empty() {
        let mut st =
            db.prepare_cached("UPDATE leads SET reassignments = reassignments + ?1 WHERE id = ?2")?;
        for (id, n) in &r.reassigned {
            st.execute(params![n, id])?;
        }
    }
    // console_window: new leads from the batch itself (no read); changed leads as read
    // before the write and again now.
    let mut after = reporting::new_lead_facts(b, changed);
    after.extend(facts(db, changed)?);
    let deltas: Vec<(WindowKey, WindowSums)> = reporting::window_deltas(&before, &after, &zone)
        .into_iter()
        .collect();
    if !deltas.is_empty() {
        let mut st = db.prepare_cached(&WINDOW_UPSERT)?;
        for ((day, tier, path, team, owner), sums) in &deltas {
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![day, tier, path, team, owner];
            values.extend(sums.iter().map(|x| x as &dyn rusqlite::ToSql));
            st.execute(values.as_slice())?;
        }
    }
    Ok(())
}

/// The zone named `name`, resolved once per name on this thread (a time zone database
/// lookup per batch is avoidable work).
fn zone_named(name: String) -> reporting::ReportZone {
    thread_local! {
        static LAST: std::cell::RefCell<Option<reporting::ReportZone>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some(z) if z.name() == name => z.clone(),
        _ => {
            let z = reporting::ReportZone::stored(&name);
            *last = Some(z.clone());
            z
        }
    })
}

/// `INSERT INTO console_window … ON CONFLICT … DO UPDATE` adding every sum column.
static WINDOW_UPSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let cols = WINDOW_SUMS.join(", ");
    let params: Vec<String> = (1..=5 + WINDOW_SUMS.len())
        .map(|i| format!("?{i}"))
        .collect();
    let set: Vec<String> = WINDOW_SUMS
        .iter()
        .map(|c| format!("{c} = console_window.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO console_window (day, tier, path, team, owner, {cols}) VALUES ({}) ON CONFLICT (day, tier, path, team, owner) DO UPDATE SET {}",
        params.join(", "),
        set.join(", ")
    )
});
