//! Personal data at rest (issue 24, SEC-3): the export of everything held about one
//! person, their erasure, and the retention passes.
//!
//! A person's data is copied into `people` (their row, keyed by the normalised email),
//! `leads` (`email`, `payload`), `decisions` (reasons, and the packed decision and trace,
//! whose facts and field issues repeat the email, names and phone), `outbox` (rendered
//! messages and recipients), `idempotency` (stored responses) and `enrichment_cache`
//! (entries keyed by the email). Erasure deletes what only serves the person (their
//! `people` row, cache entries, idempotency keys, undelivered messages) and pseudonymises
//! what the figures need: the lead row stays with its owner, status, stage, tier and
//! timestamps (so loads, rollups and reports are unchanged) but loses the email and every
//! personal field of its payload, and every string of its decisions, traces and sent
//! messages that contains one of the person's values is replaced; so is every string of
//! the weekly-report messages (`report:<week>`), which belong to no lead. Nothing is
//! hashed: a hash of an email can be reversed by guessing.
//!
//! Every write here takes the routing lock (PostgreSQL: the `state_version` row; SQLite:
//! the writer's turn and the write lock) and bumps the state version in the same
//! transaction, so each instance's sequencer reloads what it cached and any decision made
//! ahead on the old rows is made again: nothing brings the data back, and a later lead
//! from the same address is a new person.

use crate::*;
use serde_json::Value;
use sqlx::Row;

/// What an erasure or a retention pass changed, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureCounts {
    /// `people` rows deleted.
    pub people: u64,
    /// `leads` rows pseudonymised (kept for the figures).
    pub leads: u64,
    /// `decisions` rows whose reason, decision and trace were scrubbed.
    pub decisions: u64,
    /// Undelivered `outbox` rows deleted (the message is never sent).
    pub outbox_cancelled: u64,
    /// Sent or dead `outbox` rows whose message and recipient were scrubbed.
    pub outbox_scrubbed: u64,
    /// `idempotency` rows deleted (their stored responses).
    pub idempotency: u64,
    /// `enrichment_cache` rows deleted (entries keyed by the email).
    pub enrichment_cache: u64,
    /// `crm_outbox` rows deleted (pending write-backs are not sent).
    pub crm_writes: u64,
    /// `routing_events` rows (the replay history) whose lead and person rows were scrubbed.
    pub history_events: u64,
    /// `bookings` rows whose visitor data (time zone) was cleared (issue 22); the
    /// meeting's time and rep stay, like the lead's figures.
    #[serde(default)]
    pub bookings: u64,
}

impl ErasureCounts {
    fn add(&mut self, o: &ErasureCounts) {
        self.people += o.people;
        self.leads += o.leads;
        self.decisions += o.decisions;
        self.outbox_cancelled += o.outbox_cancelled;
        self.outbox_scrubbed += o.outbox_scrubbed;
        self.idempotency += o.idempotency;
        self.enrichment_cache += o.enrichment_cache;
        self.crm_writes += o.crm_writes;
        self.history_events += o.history_events;
        self.bookings += o.bookings;
    }
}

/// The `people` row as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub email: String,
    pub owner: Option<String>,
    pub status: String,
    pub disqualified_at: Option<i64>,
    pub note: Option<String>,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub lead_count: i64,
    pub last_lead_id: Option<String>,
}

/// One lead of the person with everything stored about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedLead {
    pub lead: LeadRecord,
    pub erased_at: Option<i64>,
    pub decisions: Vec<DecisionRecord>,
    pub messages: Vec<OutboxRow>,
    pub timers: Vec<TimerRow>,
    pub idempotency: Vec<ExportedResponse>,
}

/// A stored idempotent response (CAP-4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedResponse {
    pub key: String,
    pub status: i64,
    pub response: Value,
    pub created_at: i64,
}

/// An enrichment cache entry keyed by the person's email.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedCacheEntry {
    pub provider: String,
    pub key: String,
    pub value: Value,
    pub expires_at: i64,
}

/// Everything held about one person (a GDPR access request), read from one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonExport {
    /// The normalised address the export was made for.
    pub email: String,
    pub person: Option<PersonRow>,
    pub leads: Vec<ExportedLead>,
    pub enrichment_cache: Vec<ExportedCacheEntry>,
}

impl PersonExport {
    /// Nothing at all is held.
    pub fn is_empty(&self) -> bool {
        self.person.is_none() && self.leads.is_empty() && self.enrichment_cache.is_empty()
    }
}

/// How far a retention pass got: what it changed and where the next pass starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPass {
    pub counts: ErasureCounts,
    /// Rows handled (or skipped as already done) in this pass; fewer than the limit
    /// means the pass reached the cutoff.
    pub scanned: u64,
    /// The position to start the next pass from (a `received_at` for leads, a decision id
    /// for traces); everything before it is done.
    pub next: i64,
}

/// Erasure, export and retention, on both backends (a supertrait of [`Store`]).
#[async_trait]
pub trait Privacy {
    /// Everything held about the person with this email (any spelling the core
    /// normalises to the same address).
    async fn person_export(&self, email: &str) -> Result<PersonExport>;
    /// Erase the person everywhere in one transaction under the routing lock (see the
    /// module docs); `now` is recorded as the leads' `erased_at`.
    async fn erase_person(&self, email: &str, now: i64) -> Result<ErasureCounts>;
    /// Pseudonymise up to `limit` leads received before `before` (and at or after `from`)
    /// that are not yet, as erasure does for each one, deleting the person's row when the
    /// lead was their latest.
    async fn expire_leads(
        &self,
        before: i64,
        from: i64,
        limit: i64,
        now: i64,
    ) -> Result<RetentionPass>;
    /// Drop the traces of up to `limit` decisions made before `before`, from decision id
    /// `from` on (the decision itself and its reason stay).
    async fn expire_traces(&self, before: i64, from: i64, limit: i64) -> Result<RetentionPass>;
    /// Delete up to `limit` outbox rows delivered before `before`.
    async fn expire_delivered_outbox(&self, before: i64, limit: i64) -> Result<u64>;
}

/// The normalised form of an address as the core keys people by it; text that is not an
/// address is only trimmed and lower-cased (the person may still be found by it).
pub fn normalise_email(email: &str) -> String {
    leadrouter_core::domains::parse_email(email)
        .map(|e| e.normalized)
        .unwrap_or_else(|_| email.trim().to_lowercase())
}

/// The payload fields kept on a pseudonymised lead: what routing and the reports read
/// about the company, nothing about the person.
const KEPT_FIELDS: &[&str] = &[
    "company",
    "country",
    "state",
    "employees",
    "industry",
    "product",
    "lead_source",
    "action",
];

/// Payload fields whose values are searched for and replaced everywhere else.
const PERSONAL_FIELDS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "phone",
    "title",
    "description",
];

/// Shortest value searched for: shorter ones would shred unrelated words.
const MIN_NEEDLE: usize = 3;

/// What replaces a personal value.
pub const ERASED: &str = "[erased]";

/// The person's values to search for, lower-cased.
#[derive(Debug, Default, Clone)]
pub(crate) struct Needles(Vec<String>);

impl Needles {
    pub(crate) fn add(&mut self, s: &str) {
        let s = s.trim().to_ascii_lowercase();
        if s.chars().count() >= MIN_NEEDLE && !self.0.contains(&s) {
            self.0.push(s);
        }
    }

    /// The email and the personal fields of a stored payload (and a phone number's
    /// digits alone, as a normaliser may have written it).
    pub(crate) fn add_lead(&mut self, email: Option<&str>, payload: &Value) {
        if let Some(e) = email {
            self.add(e);
            self.add(&normalise_email(e));
        }
        let first = payload.get("first_name").and_then(Value::as_str);
        let last = payload.get("last_name").and_then(Value::as_str);
        if let (Some(f), Some(l)) = (first, last) {
            self.add(&format!("{} {}", f.trim(), l.trim()));
        }
        for f in PERSONAL_FIELDS {
            if let Some(v) = payload.get(*f).and_then(Value::as_str) {
                self.add(v);
                self.add(&normalise_email(v));
            }
        }
        if let Some(p) = payload.get("phone").and_then(Value::as_str) {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 6 {
                self.add(&digits);
            }
        }
        if let Some(Value::Object(fields)) = payload.get("fields") {
            for v in fields.values().filter_map(Value::as_str) {
                self.add(v);
            }
        }
    }

    /// `s` with every occurrence of a needle (ASCII case-insensitively) replaced; longer
    /// needles first, so "jane doe" goes before "jane".
    pub(crate) fn scrub(&self, s: &str) -> String {
        let mut out = s.to_string();
        let mut order: Vec<&String> = self.0.iter().collect();
        order.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for n in order {
            let mut from = 0;
            loop {
                // ASCII lower-casing keeps byte offsets, so a match in the lowered text
                // is the same range of the original.
                let lower = out.to_ascii_lowercase();
                let Some(at) = lower[from..].find(n.as_str()) else {
                    break;
                };
                let at = from + at;
                out.replace_range(at..at + n.len(), ERASED);
                from = at + ERASED.len();
            }
        }
        out
    }

    /// Every string (not key) of a JSON document scrubbed; the shape stays, so the
    /// console and API still read it.
    pub(crate) fn scrub_value(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.scrub(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.scrub_value(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.scrub_value(x)),
            _ => {}
        }
    }

    pub(crate) fn scrub_json(&self, j: &JsonText) -> JsonText {
        let mut v = j.to_value();
        self.scrub_value(&mut v);
        JsonText::from(v)
    }
}

/// The payload a pseudonymised lead keeps.
pub(crate) fn minimal_payload(payload: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    for f in KEPT_FIELDS {
        if let Some(v) = payload.get(*f) {
            kept.insert((*f).to_string(), v.clone());
        }
    }
    Value::Object(kept)
}

fn json_text(column: &str, text: String) -> Result<Value> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// One implementation per backend: `$begin` starts the write transaction, `$lock` takes
/// the routing lock inside it.
macro_rules! privacy_backend {
    ($store:ty, $db:ty, $backend:ident, $begin:literal, $lock:literal) => {
        #[async_trait]
        impl Privacy for $store {
            async fn person_export(&self, email: &str) -> Result<PersonExport> {
                let email = normalise_email(email);
                let mut tx = self.read_snapshot().await?;
                let read = export_on(&mut tx, &email).await;
                crate::backend::read_then_end(read, tx.rollback().await)
            }

            async fn erase_person(&self, email: &str, now: i64) -> Result<ErasureCounts> {
                let email = normalise_email(email);
                let _turn = self.writer_turn().await;
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query($lock).execute(&mut *tx).await?;
                let leads = person_leads_on(&mut tx, &email).await?;
                let mut needles = Needles::default();
                needles.add(&email);
                for (_, e, p) in &leads {
                    needles.add_lead(e.as_deref(), p);
                }
                let mut counts = ErasureCounts::default();
                for (id, _, p) in &leads {
                    counts.add(&pseudonymise_on(&mut tx, id, p, &needles, now).await?);
                }
                counts.add(&scrub_reports_on(&mut tx, &needles).await?);
                counts.people = sqlx::query("DELETE FROM people WHERE email = $1")
                    .bind(email.clone())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                counts.enrichment_cache = sqlx::query("DELETE FROM enrichment_cache WHERE key = $1")
                    .bind(email)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE state_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(counts)
            }

            async fn expire_leads(&self, before: i64, from: i64, limit: i64, now: i64) -> Result<RetentionPass> {
                let _turn = self.writer_turn().await;
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query($lock).execute(&mut *tx).await?;
                let rows = sqlx::query("SELECT id, email, payload, received_at FROM leads WHERE received_at >= $1 AND received_at < $2 AND erased_at IS NULL ORDER BY received_at, id LIMIT $3")
                    .bind(from)
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut pass = RetentionPass { next: from, ..RetentionPass::default() };
                for r in &rows {
                    let id: String = r.try_get("id")?;
                    let email: Option<String> = r.try_get("email")?;
                    let payload = json_text("leads.payload", r.try_get("payload")?)?;
                    let mut needles = Needles::default();
                    needles.add_lead(email.as_deref(), &payload);
                    pass.counts.add(&pseudonymise_on(&mut tx, &id, &payload, &needles, now).await?);
                    if let Some(e) = email {
                        let key = normalise_email(&e);
                        // The person goes with their latest lead; a newer lead keeps them.
                        pass.counts.people += sqlx::query("DELETE FROM people WHERE email = $1 AND last_lead_id = $2")
                            .bind(key.clone())
                            .bind(id.clone())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        pass.counts.enrichment_cache += sqlx::query("DELETE FROM enrichment_cache WHERE key = $1")
                            .bind(key)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    pass.next = r.try_get("received_at")?;
                    pass.scanned += 1;
                }
                if !rows.is_empty() {
                    sqlx::query("UPDATE state_version SET version = version + 1 WHERE id = 1")
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(pass)
            }

            async fn expire_traces(&self, before: i64, from: i64, limit: i64) -> Result<RetentionPass> {
                let _turn = self.writer_turn().await;
                let mut tx = self.pool.begin_with($begin).await?;
                // Decision ids grow with time, so the pass walks them in order and stops
                // at the first one still inside the retention period.
                let rows = sqlx::query("SELECT id, decided_at FROM decisions WHERE id >= $1 ORDER BY id LIMIT $2")
                    .bind(from)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut pass = RetentionPass { next: from, ..RetentionPass::default() };
                let mut last = None;
                for r in &rows {
                    let decided_at: i64 = r.try_get("decided_at")?;
                    if decided_at >= before {
                        break;
                    }
                    last = Some(r.try_get::<i64, _>("id")?);
                    pass.scanned += 1;
                }
                if let Some(last) = last {
                    pass.counts.decisions = sqlx::query("UPDATE decisions SET trace = NULL, trace_z = NULL WHERE id >= $1 AND id <= $2 AND (trace IS NOT NULL OR trace_z IS NOT NULL)")
                        .bind(from)
                        .bind(last)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    pass.next = last + 1;
                }
                tx.commit().await?;
                Ok(pass)
            }

            async fn expire_delivered_outbox(&self, before: i64, limit: i64) -> Result<u64> {
                let _turn = self.writer_turn().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let n = sqlx::query("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status = 'delivered' AND delivered_at < $1 ORDER BY id LIMIT $2)")
                    .bind(before)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n)
            }
        }

        /// The person's leads (id, email as received, payload), oldest first.
        async fn person_leads_on(
            tx: &mut sqlx::Transaction<'static, $db>,
            email: &str,
        ) -> Result<Vec<(String, Option<String>, Value)>> {
            // `leads.email` is the address as received; the core's normaliser decides
            // which of the candidates (same text, trimmed and lower-cased) are the person.
            let rows = sqlx::query("SELECT id, email, payload FROM leads WHERE email IS NOT NULL AND LOWER(TRIM(email)) = $1 ORDER BY received_at, id")
                .bind(email.to_string())
                .fetch_all(&mut **tx)
                .await?;
            let mut out = Vec::new();
            for r in &rows {
                let e: Option<String> = r.try_get("email")?;
                if e.as_deref().map(normalise_email).as_deref() != Some(email) {
                    continue;
                }
                out.push((r.try_get("id")?, e, json_text("leads.payload", r.try_get("payload")?)?));
            }
            Ok(out)
        }

        /// One lead pseudonymised (see the module docs).
        async fn pseudonymise_on(
            tx: &mut sqlx::Transaction<'static, $db>,
            id: &str,
            payload: &Value,
            needles: &Needles,
            now: i64,
        ) -> Result<ErasureCounts> {
            let mut c = ErasureCounts::default();
            c.leads = sqlx::query("UPDATE leads SET email = NULL, payload = $1, erased_at = $2 WHERE id = $3")
                .bind(minimal_payload(payload).to_string())
                .bind(now)
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            let rows = sqlx::query("SELECT id, reason, decision, trace, decision_z, trace_z FROM decisions WHERE lead_id = $1")
                .bind(id.to_string())
                .fetch_all(&mut **tx)
                .await?;
            for r in &rows {
                let did: i64 = r.try_get("id")?;
                let reason: String = r.try_get("reason")?;
                let decision = crate::packed::read(r.try_get("decision_z")?, r.try_get("decision")?)?;
                let trace = crate::packed::read(r.try_get("trace_z")?, r.try_get("trace")?)?;
                let pack = |j: Option<JsonText>| j.map(|j| crate::packed::pack(&needles.scrub_json(&j))).transpose();
                sqlx::query("UPDATE decisions SET reason = $1, decision = NULL, trace = NULL, decision_z = $2, trace_z = $3 WHERE id = $4")
                    .bind(needles.scrub(&reason))
                    .bind(pack(decision)?)
                    .bind(pack(trace)?)
                    .bind(did)
                    .execute(&mut **tx)
                    .await?;
                c.decisions += 1;
            }
            c.outbox_cancelled = sqlx::query("DELETE FROM outbox WHERE lead_id = $1 AND status = 'pending'")
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            let sent = sqlx::query("SELECT id, recipient, last_error FROM outbox WHERE lead_id = $1")
                .bind(id.to_string())
                .fetch_all(&mut **tx)
                .await?;
            for r in &sent {
                let oid: String = r.try_get("id")?;
                let recipient: String = r.try_get("recipient")?;
                let error: Option<String> = r.try_get("last_error")?;
                // The rendered message is all about the lead: none of it is kept.
                sqlx::query("UPDATE outbox SET payload = $1, recipient = $2, last_error = $3 WHERE id = $4")
                    .bind(serde_json::json!({ "erased": true }).to_string())
                    .bind(needles.scrub(&recipient))
                    .bind(error.map(|e| needles.scrub(&e)))
                    .bind(oid)
                    .execute(&mut **tx)
                    .await?;
                c.outbox_scrubbed += 1;
            }
            c.bookings = sqlx::query("UPDATE bookings SET lead_tz = NULL WHERE lead_id = $1")
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            c.idempotency = sqlx::query("DELETE FROM idempotency WHERE lead_id = $1")
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            // CRM write-backs: nothing more about the person is sent, and the rows kept
            // for the console go with them.
            c.crm_writes = sqlx::query("DELETE FROM crm_outbox WHERE lead_id = $1")
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            // The replay history (OPS-5): the lead as parsed, its enrichment, the effects
            // (people are keyed by address) and the person rows the job wrote are scrubbed
            // like the rest. Rep ids, counts and loads stay, so later leads still replay
            // from the right state; the erased person's own leads no longer replay exactly.
            let rows = sqlx::query("SELECT state_version, idx, input, effects, result, people, input_packed FROM routing_events WHERE lead_id = $1")
                .bind(id.to_string())
                .fetch_all(&mut **tx)
                .await?;
            let scrub = |t: Option<String>| {
                t.map(|t| match serde_json::from_str::<Value>(&t) {
                    Ok(mut v) => {
                        needles.scrub_value(&mut v);
                        v.to_string()
                    }
                    Err(_) => needles.scrub(&t),
                })
            };
            for r in &rows {
                let version: i64 = r.try_get("state_version")?;
                let idx: i64 = r.try_get("idx")?;
                let effects: String = r.try_get("effects")?;
                // A packed input is scrubbed as JSON and written back as JSON (the
                // column rows written before packing use); bytes that do not unpack are
                // dropped rather than kept unscrubbed.
                let packed: Option<Vec<u8>> = r.try_get("input_packed")?;
                let input: Option<String> = match packed {
                    Some(b) => leadrouter_core::record::RouteInput::unpack(&b)
                        .ok()
                        .and_then(|i| serde_json::to_string(&i).ok()),
                    None => r.try_get("input")?,
                };
                sqlx::query("UPDATE routing_events SET input = $1, effects = $2, result = $3, people = $4, input_packed = NULL WHERE state_version = $5 AND idx = $6")
                    .bind(scrub(input))
                    .bind(scrub(Some(effects)).unwrap_or_default())
                    .bind(scrub(r.try_get("result")?))
                    .bind(scrub(r.try_get("people")?))
                    .bind(version)
                    .bind(idx)
                    .execute(&mut **tx)
                    .await?;
                c.history_events += 1;
            }
            Ok(c)
        }

        /// The weekly-report messages (lead id `report:<week>`) belong to no lead, but a
        /// recipient, a rendered line or a delivery error may name the person. Undelivered
        /// ones addressed to them are cancelled; in the others every string holding one of
        /// their values is replaced (the message keeps its shape, so a pending one is
        /// still sent, without them).
        async fn scrub_reports_on(
            tx: &mut sqlx::Transaction<'static, $db>,
            needles: &Needles,
        ) -> Result<ErasureCounts> {
            let mut c = ErasureCounts::default();
            // A range on `outbox_lead` (';' follows ':'), not a LIKE.
            let rows = sqlx::query("SELECT id, status, recipient, payload, last_error FROM outbox WHERE lead_id >= 'report:' AND lead_id < 'report;'")
                .fetch_all(&mut **tx)
                .await?;
            for r in &rows {
                let oid: String = r.try_get("id")?;
                let status: String = r.try_get("status")?;
                let recipient: String = r.try_get("recipient")?;
                let payload: String = r.try_get("payload")?;
                let error: Option<String> = r.try_get("last_error")?;
                let new_recipient = needles.scrub(&recipient);
                if status == "pending" && new_recipient != recipient {
                    c.outbox_cancelled += sqlx::query("DELETE FROM outbox WHERE id = $1")
                        .bind(oid)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                    continue;
                }
                let new_payload = match serde_json::from_str::<Value>(&payload) {
                    Ok(v) => {
                        let mut scrubbed = v.clone();
                        needles.scrub_value(&mut scrubbed);
                        (scrubbed != v).then(|| scrubbed.to_string())
                    }
                    Err(_) => Some(needles.scrub(&payload)).filter(|p| *p != payload),
                };
                let new_error = error.as_deref().map(|e| needles.scrub(e));
                if new_recipient == recipient && new_error == error && new_payload.is_none() {
                    continue;
                }
                let new_payload = new_payload.unwrap_or(payload);
                sqlx::query("UPDATE outbox SET payload = $1, recipient = $2, last_error = $3 WHERE id = $4")
                    .bind(new_payload)
                    .bind(new_recipient)
                    .bind(new_error)
                    .bind(oid)
                    .execute(&mut **tx)
                    .await?;
                c.outbox_scrubbed += 1;
            }
            Ok(c)
        }

        async fn export_on(tx: &mut sqlx::Transaction<'static, $db>, email: &str) -> Result<PersonExport> {
            let person = sqlx::query("SELECT * FROM people WHERE email = $1")
                .bind(email.to_string())
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| -> Result<PersonRow> {
                    Ok(PersonRow {
                        email: r.try_get("email")?,
                        owner: r.try_get("owner")?,
                        status: r.try_get("status")?,
                        disqualified_at: r.try_get("disqualified_at")?,
                        note: r.try_get("note")?,
                        first_seen_at: r.try_get("first_seen_at")?,
                        last_seen_at: r.try_get("last_seen_at")?,
                        lead_count: r.try_get("lead_count")?,
                        last_lead_id: r.try_get("last_lead_id")?,
                    })
                })
                .transpose()?;
            let mut leads = Vec::new();
            for (id, _, _) in person_leads_on(tx, email).await? {
                let Some(detail) = crate::backend::$backend::detail_on(&mut **tx, &id).await? else {
                    continue;
                };
                let erased_at: Option<i64> = sqlx::query("SELECT erased_at FROM leads WHERE id = $1")
                    .bind(id.clone())
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get("erased_at")?;
                let mut idempotency = Vec::new();
                for r in sqlx::query("SELECT key, status, response, created_at FROM idempotency WHERE lead_id = $1 ORDER BY created_at")
                    .bind(id.clone())
                    .fetch_all(&mut **tx)
                    .await?
                {
                    idempotency.push(ExportedResponse {
                        key: r.try_get("key")?,
                        status: r.try_get("status")?,
                        response: json_text("idempotency.response", r.try_get("response")?)?,
                        created_at: r.try_get("created_at")?,
                    });
                }
                leads.push(ExportedLead {
                    lead: detail.lead,
                    erased_at,
                    decisions: detail.history,
                    messages: detail.outbox,
                    timers: detail.timers,
                    idempotency,
                });
            }
            let mut enrichment_cache = Vec::new();
            for r in sqlx::query("SELECT provider, key, value, expires_at FROM enrichment_cache WHERE key = $1 ORDER BY provider")
                .bind(email.to_string())
                .fetch_all(&mut **tx)
                .await?
            {
                enrichment_cache.push(ExportedCacheEntry {
                    provider: r.try_get("provider")?,
                    key: r.try_get("key")?,
                    value: json_text("enrichment_cache.value", r.try_get("value")?)?,
                    expires_at: r.try_get("expires_at")?,
                });
            }
            Ok(PersonExport { email: email.to_string(), person, leads, enrichment_cache })
        }
    };
}

mod sqlite {
    use super::*;
    privacy_backend!(
        crate::SqliteStore,
        sqlx::Sqlite,
        sqlite,
        "BEGIN IMMEDIATE",
        "SELECT version FROM state_version WHERE id = 1"
    );
}

mod postgres {
    use super::*;
    privacy_backend!(
        crate::PgStore,
        sqlx::Postgres,
        postgres,
        "BEGIN",
        "SELECT version FROM state_version WHERE id = 1 FOR UPDATE"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_spelling_and_keeps_the_shape() {
        let mut n = Needles::default();
        n.add_lead(
            Some("Jane.Doe@Example.com"),
            &serde_json::json!({"first_name": "Jane", "last_name": "Doe", "phone": "+1 (415) 555-0134", "country": "US"}),
        );
        let mut v = serde_json::json!({"facts": {"email": "jane.doe@example.com", "country": "US"},
            "issues": [{"field": "phone", "value": "14155550134"}], "reason": "Jane Doe wrote"});
        n.scrub_value(&mut v);
        let s = v.to_string().to_lowercase();
        for needle in ["jane", "doe", "4155550134", "555-0134"] {
            assert!(!s.contains(needle), "{needle} in {s}");
        }
        assert_eq!(v["facts"]["country"], "US");
        assert_eq!(v["reason"], "[erased] wrote");
    }

    #[test]
    fn short_values_are_not_searched() {
        let mut n = Needles::default();
        n.add("Al");
        assert_eq!(n.scrub("global"), "global");
    }

    #[test]
    fn minimal_payload_keeps_only_company_fields() {
        let p = serde_json::json!({"email": "a@b.example", "first_name": "A", "company": "Acme", "country": "DE", "fields": {"x": "y"}});
        assert_eq!(
            minimal_payload(&p),
            serde_json::json!({"company": "Acme", "country": "DE"})
        );
    }
}
