//! Storage for leadrouter: one [`Store`] trait, implemented for SQLite (embedded default,
//! WAL, `BEGIN IMMEDIATE`) and PostgreSQL (several instances; the routing state is taken
//! under a row lock). Each backend has its own migrations under `migrations/`.
//!
//! Writes happen in routing transactions ([`Tx`]): lock the routing state, read what the
//! decisions need (state if it changed, known people, idempotency keys), write the leads,
//! their decisions and the state changes, commit. The server batches many leads into one
//! transaction (group commit); nothing is acknowledged before its commit returns.

// `pg_tx` defines `backend_tx!`, which `backend.rs` invokes: it comes first.
#[macro_use]
mod pg_tx;
pub mod audit;
mod backend;
pub mod bookings;
pub mod calendar;
pub mod crm_outbox;
pub mod crm_sync;
pub mod event_scan;
pub mod history;
pub mod history_read;
pub mod imports;
pub mod packed;
pub mod privacy;
pub mod reporting;
pub mod search;
mod search_index;
mod sqlite_batch;
mod sqlite_writer;

use async_trait::async_trait;
use leadrouter_core::lifecycle::{LeadStatus, Outcome, SlaStep, Stage};
use leadrouter_core::state::{PriorPerson, StateSnapshot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

pub use audit::{AuditEntry, AuditLog, AuditQuery, AuditRecord};
pub use backend::{ACCOUNT_VERSION_GRACE_US, PgStore, SqliteStore};
pub use bookings::{BookingRow, BookingStore};
pub use calendar::{CalendarFeedRow, CalendarStore};
pub use crm_outbox::{CrmOutbox, CrmRequeue, CrmResult, CrmRow};
pub use crm_sync::{CrmAccountRow, CrmSyncStore, CrmUserRow, SyncPosition, SyncRows};
pub use event_scan::{EventRange, EventRef};
pub use history::{Checkpoint, ConfigHistory, ConfigVersionRow, EventRow, StoredEvent};
pub use history_read::HistoryReader;
pub use imports::ImportStore;
pub use privacy::{ErasureCounts, PersonExport, Privacy};
pub use reporting::{ReadSnapshot, ReportZone, Reporting};
pub use search::{LeadCursor, LeadHit, LeadPage, LeadQuery, LeadSearch};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("SQLite writer: {0}")]
    Writer(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    Url(String),
    /// A scan of the replay history in storage order found an event out of commit order:
    /// what it had read may have skipped events. The reader reads by key from then on;
    /// the caller starts its reading again (see `HistoryReader::scan_events`).
    #[error("routing events are not stored in commit order ({0})")]
    HistoryOrder(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Microseconds since the Unix epoch.
pub fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub fn from_micros(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// A lifecycle enum from the text stored for it; other text is corrupt data.
pub(crate) fn stored_text<T>(column: &str, text: String) -> Result<T>
where
    T: std::str::FromStr<Err = leadrouter_core::lifecycle::UnknownText>,
{
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// A lead as stored, with its current owner/queue and lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadRecord {
    pub id: String,
    pub source: String,
    pub email: Option<String>,
    /// The lead as received (shared: the sequencer keeps a batch's records and writes
    /// them without copying the JSON tree).
    pub payload: std::sync::Arc<serde_json::Value>,
    pub received_at: i64,
    pub routed_at: i64,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub segment: Option<String>,
    pub tier: String,
    pub score: i64,
    pub path: String,
    pub rule: Option<String>,
    pub status: LeadStatus,
    pub stage: Stage,
    pub outcome: Option<Outcome>,
    pub outcome_at: Option<i64>,
    pub route_by: Option<i64>,
    pub contact_by: Option<i64>,
    pub config_version: String,
    #[serde(default)]
    pub account_domain: Option<String>,
    /// SLA-1: when the rep accepted the lead, and first touched it.
    #[serde(default)]
    pub accepted_at: Option<i64>,
    #[serde(default)]
    pub first_touch_at: Option<i64>,
    /// The decision fell back from its first choice (MET-1 fallback frequency).
    #[serde(default)]
    pub fallback: bool,
}

/// A message to deliver (transactional outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: String,
    pub lead_id: String,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxResult {
    Delivered { at: i64 },
    Retry { next_at: i64, error: String },
    Dead { error: String },
}

/// An SLA timer (SLA-1..3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerRow {
    pub id: String,
    pub lead_id: String,
    pub step: SlaStep,
    pub due_at: i64,
    pub status: String,
    pub owner: Option<String>,
    pub fired_at: Option<i64>,
    pub created_at: i64,
}

/// An account as configured, mirrored for reporting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRow {
    pub domain: String,
    pub name: String,
    pub owner: Option<String>,
    pub named: bool,
}

/// A JSON document kept as the text it is stored as. Decisions and traces are written
/// once per lead on the hot path, so they are serialised straight to text (no
/// `serde_json::Value` tree to build, print and drop) and parsed only when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// Serialise `v`; `None` if it cannot be (a type with a non-string map key).
    pub fn of<T: Serialize + ?Sized>(v: &T) -> Option<JsonText> {
        serde_json::to_string(v).ok().map(JsonText)
    }

    /// Text read back from the database; `None` unless it is valid JSON.
    pub fn from_stored(text: String) -> Option<JsonText> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .is_ok()
            .then_some(JsonText(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.0).ok()
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(v: serde_json::Value) -> JsonText {
        JsonText(v.to_string())
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // Always valid JSON (see the constructors), so it goes out as is.
        match serde_json::from_str::<&serde_json::value::RawValue>(&self.0) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<JsonText, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(JsonText(raw.get().to_string()))
    }
}

/// One entry of a lead's decision history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub lead_id: String,
    pub kind: String,
    pub decided_at: i64,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub reason: String,
    pub actor: Option<String>,
    pub config_version: String,
    pub decision: Option<JsonText>,
    pub trace: Option<JsonText>,
}

/// The first response given for an idempotency key (CAP-4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredResponse {
    pub lead_id: String,
    pub status: u16,
    /// The response body as first sent, replayed byte for byte.
    pub response: Box<serde_json::value::RawValue>,
}

impl PartialEq for StoredResponse {
    fn eq(&self, other: &Self) -> bool {
        self.lead_id == other.lead_id
            && self.status == other.status
            && self.response.get() == other.response.get()
    }
}

/// A known person as read back (VAL-3).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPerson {
    pub prior: PriorPerson,
    pub last_lead_id: Option<String>,
}

/// A person row to upsert (VAL-3).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonWrite {
    pub email: String,
    pub prior: PriorPerson,
    pub seen_at: i64,
    pub new_leads: i64,
    pub last_lead_id: String,
}

/// Per-rep state row: load by stage, today's count, availability override.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepStateWrite {
    pub rep: String,
    pub early: i64,
    pub mid: i64,
    pub late: i64,
    pub daily_date: Option<String>,
    pub daily_count: i64,
    pub out: bool,
    pub out_until: Option<i64>,
    pub out_note: Option<String>,
}

/// A stored `rep_state` row into the snapshot: its load by stage, today's count (when its
/// date parses) and an availability override (when the rep is out).
pub(crate) fn add_rep_state(s: &mut StateSnapshot, r: RepStateWrite) {
    use leadrouter_core::state::{AvailabilityOverride, DailyCount, RepLoad};
    let count = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
    s.loads.insert(
        r.rep.clone(),
        RepLoad {
            early: count(r.early),
            mid: count(r.mid),
            late: count(r.late),
        },
    );
    if let Some(d) = r
        .daily_date
        .as_deref()
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
    {
        s.daily.insert(
            r.rep.clone(),
            DailyCount {
                date: d,
                count: count(r.daily_count),
            },
        );
    }
    if r.out {
        s.availability.insert(
            r.rep,
            AvailabilityOverride {
                out: true,
                out_until: r.out_until.map(from_micros),
                note: r.out_note,
            },
        );
    }
}

/// Changes to an existing lead (reassignment, disqualification, outcome).
#[derive(Debug, Clone, PartialEq)]
pub struct LeadUpdate {
    pub id: String,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub status: LeadStatus,
    pub stage: Stage,
    pub outcome: Option<Outcome>,
    pub outcome_at: Option<i64>,
    pub contact_by: Option<i64>,
    pub accepted_at: Option<i64>,
    pub first_touch_at: Option<i64>,
}

/// Everything one routing transaction writes.
#[derive(Debug, Clone, Default)]
pub struct BatchWrite {
    pub leads: Vec<LeadRecord>,
    pub lead_updates: Vec<LeadUpdate>,
    pub decisions: Vec<DecisionRecord>,
    pub people: Vec<PersonWrite>,
    pub rotations: Vec<(String, String, i64)>,
    pub clocks: Vec<(String, i64)>,
    pub rep_state: Vec<RepStateWrite>,
    pub idempotency: Vec<(String, StoredResponse, i64)>,
    pub outbox: Vec<OutboxRow>,
    pub timers: Vec<TimerRow>,
    /// Timers that fired: (id, fired_at).
    pub fired_timers: Vec<(String, i64)>,
    /// Leads whose pending timers are cancelled (accepted or touched, reassigned, closed).
    pub cancel_timers: Vec<String>,
    /// Audit entries for the changes this batch makes, committed with them.
    pub audit: Vec<AuditEntry>,
    /// The routing events of this batch, in the order their effects were applied
    /// (OPS-5 history), and a checkpoint (instant, state as JSON) of the state as the
    /// batch started, stored as the state after the previous version.
    pub events: Vec<EventRow>,
    pub checkpoint: Option<(i64, String)>,
    /// CRM write-backs for the changes this batch makes (CRM-1), committed with them.
    pub crm: Vec<CrmRow>,
    /// Bookings made, moved or cancelled (issue 22), inserted or updated by id.
    pub bookings: Vec<bookings::BookingRow>,
    /// The column values that take CPU to make, made before the transaction (see
    /// [`BatchWrite::prepare`]); `None` makes [`Tx::write`] make them itself.
    pub prepared: Option<Prepared>,
}

/// A decision and its trace as zstd frames (`decision_z`, `trace_z`).
pub type PackedDecision = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The batch's JSON texts and zstd frames, in the order of the rows they belong to.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// `leads[i].payload` as JSON text.
    pub lead_payloads: Vec<String>,
    /// `decisions[i]`'s decision and trace, packed ([`packed::pack`]).
    pub decisions: Vec<PackedDecision>,
    /// `idempotency[i]`'s response as JSON text.
    pub responses: Vec<String>,
    /// `outbox[i].payload` as JSON text.
    pub outbox_payloads: Vec<String>,
}

impl BatchWrite {
    /// Make the JSON texts and zstd frames now, outside the routing transaction: the
    /// sequencer does this while the previous batch's COMMIT is in flight, so the write
    /// (which holds the database's write lock) only binds them. Fails only if zstd
    /// cannot compress (out of memory); the batch is then left unprepared.
    ///
    /// It may be called again after more rows were appended: only the rows added since
    /// are made then. Rows of these four lists are only ever appended to a batch, never
    /// changed or removed, once prepared.
    pub fn prepare(&mut self) -> Result<()> {
        let mut p = self.prepared.take().unwrap_or_default();
        if p.lead_payloads.len() > self.leads.len()
            || p.decisions.len() > self.decisions.len()
            || p.responses.len() > self.idempotency.len()
            || p.outbox_payloads.len() > self.outbox.len()
        {
            p = Prepared::default();
        }
        let made = self.prepared_from(&p)?;
        p.lead_payloads.extend(made.lead_payloads);
        p.decisions.extend(made.decisions);
        p.responses.extend(made.responses);
        p.outbox_payloads.extend(made.outbox_payloads);
        self.prepared = Some(p);
        Ok(())
    }

    /// The values [`BatchWrite::prepare`] makes: those already made, or made now.
    pub(crate) fn values(&self) -> Result<std::borrow::Cow<'_, Prepared>> {
        match &self.prepared {
            Some(p)
                if p.lead_payloads.len() == self.leads.len()
                    && p.decisions.len() == self.decisions.len()
                    && p.responses.len() == self.idempotency.len()
                    && p.outbox_payloads.len() == self.outbox.len() =>
            {
                Ok(std::borrow::Cow::Borrowed(p))
            }
            _ => Ok(std::borrow::Cow::Owned(self.prepared_values()?)),
        }
    }

    fn prepared_values(&self) -> Result<Prepared> {
        self.prepared_from(&Prepared::default())
    }

    /// The values of the rows past those `done` holds.
    fn prepared_from(&self, done: &Prepared) -> Result<Prepared> {
        let pack = |j: &Option<JsonText>| j.as_ref().map(packed::pack).transpose();
        Ok(Prepared {
            lead_payloads: self.leads[done.lead_payloads.len()..]
                .iter()
                .map(|l| l.payload.to_string())
                .collect(),
            decisions: self.decisions[done.decisions.len()..]
                .iter()
                .map(|d| Ok((pack(&d.decision)?, pack(&d.trace)?)))
                .collect::<Result<_>>()?,
            responses: self.idempotency[done.responses.len()..]
                .iter()
                .map(|(_, r, _)| r.response.get().to_string())
                .collect(),
            outbox_payloads: self.outbox[done.outbox_payloads.len()..]
                .iter()
                .map(|o| o.payload.to_string())
                .collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.outbox.is_empty()
            && self.events.is_empty()
            && self.crm.is_empty()
            && self.bookings.is_empty()
            && self.timers.is_empty()
            && self.fired_timers.is_empty()
            && self.cancel_timers.is_empty()
            && self.audit.is_empty()
            && self.leads.is_empty()
            && self.lead_updates.is_empty()
            && self.decisions.is_empty()
            && self.people.is_empty()
            && self.rotations.is_empty()
            && self.clocks.is_empty()
            && self.rep_state.is_empty()
            && self.idempotency.is_empty()
    }
}

#[async_trait]
/// Every store also answers the console's reads ([`Reporting`]), keeps the audit log
/// ([`AuditLog`]) and the import jobs ([`ImportStore`]), and exports and erases a person
/// ([`Privacy`]), keeps the CRM write-back outbox ([`CrmOutbox`]) and what the CRM sync
/// pulled ([`CrmSyncStore`]) and the calendar feeds' last good copies ([`CalendarStore`]).
pub trait Store:
    Reporting
    + AuditLog
    + ImportStore
    + Privacy
    + LeadSearch
    + ConfigHistory
    + CrmOutbox
    + CrmSyncStore
    + CalendarStore
    + BookingStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> &'static str;
    /// Start a routing transaction (SQLite: `BEGIN IMMEDIATE`).
    async fn begin(&self) -> Result<Box<dyn Tx>>;
    /// What [`Tx::batch_reads`] reads, from committed rows only, outside any routing
    /// transaction and without waiting for one (one read snapshot; SQLite: a reader
    /// connection of its own). For batches decided while a COMMIT is in flight.
    async fn committed_reads(&self, want: BatchReadsFor) -> Result<BatchReads>;
    async fn ping(&self) -> Result<()>;
    async fn lead(&self, id: &str) -> Result<Option<LeadRecord>>;
    async fn history(&self, lead_id: &str) -> Result<Vec<DecisionRecord>>;
    /// A lead with its history, messages and timers, all read from one snapshot (so a
    /// reader never sees a decision whose lead row it does not yet see, or the reverse).
    async fn lead_detail(&self, id: &str) -> Result<Option<LeadDetail>>;
    async fn idempotent(&self, key: &str) -> Result<Option<StoredResponse>>;
    /// Number of stored leads per owner (None = queued), for checks and metrics.
    async fn owner_counts(&self) -> Result<Vec<(Option<String>, i64)>>;
    async fn lead_count(&self) -> Result<i64>;
    /// The full routing state as committed.
    async fn state(&self) -> Result<StateSnapshot>;
    /// Mirror a config version's accounts (one transaction), keyed by that version: other
    /// versions' rows stay while an instance may still be serving them (a rolling reload)
    /// and are pruned once superseded for [`ACCOUNT_VERSION_GRACE_US`] at `now`.
    async fn sync_accounts(
        &self,
        accounts: &[AccountRow],
        config_version: &str,
        now: i64,
    ) -> Result<()>;
    /// Accounts mirrored for a config version (the caller's).
    async fn account_count(&self, config_version: &str) -> Result<i64>;
    /// Claim up to `limit` deliverable outbox rows for `lease_us` (PostgreSQL: `FOR UPDATE
    /// SKIP LOCKED`, so instances share the work). Only the oldest pending row of each
    /// (lead, channel, recipient) is deliverable, which keeps delivery in order per lead and
    /// receiver without making one recipient wait behind another.
    async fn claim_outbox(
        &self,
        worker: &str,
        now: i64,
        lease_us: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>>;
    async fn complete_outbox(&self, id: &str, result: &OutboxResult) -> Result<()>;
    /// Record several delivery outcomes in one transaction: one write lock and one commit
    /// for all of them (on SQLite every commit is an fsync under the one write lock the
    /// routing writer also needs). All or none.
    async fn complete_outbox_many(&self, done: &[(String, OutboxResult)]) -> Result<()>;
    async fn outbox(&self, lead_id: &str) -> Result<Vec<OutboxRow>>;
    async fn dead_letters(&self, limit: i64) -> Result<Vec<OutboxRow>>;
    /// Pending timers due at or before `now`.
    async fn due_timers(&self, now: i64, limit: i64) -> Result<Vec<TimerRow>>;
    async fn timers(&self, lead_id: &str) -> Result<Vec<TimerRow>>;
    async fn pending_timer_count(&self) -> Result<i64>;
    /// Enrichment cache (ENR-2): the value and its expiry, if present and not expired.
    async fn cache_get(
        &self,
        provider: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<(serde_json::Value, i64)>>;
    async fn cache_put(
        &self,
        provider: &str,
        key: &str,
        value: &serde_json::Value,
        expires_at: i64,
    ) -> Result<()>;
}

/// [`Store::lead_detail`]: one lead as of one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadDetail {
    pub lead: LeadRecord,
    pub history: Vec<DecisionRecord>,
    pub outbox: Vec<OutboxRow>,
    pub timers: Vec<TimerRow>,
}

/// What [`Tx::batch_reads`] is to read.
#[derive(Debug, Clone, Default)]
pub struct BatchReadsFor {
    pub keys: Vec<String>,
    pub emails: Vec<String>,
    pub timer_ids: Vec<String>,
    pub lead_ids: Vec<String>,
}

impl BatchReadsFor {
    /// The leads to read: the ones asked for, the known people's latest, the timers'.
    pub fn lead_ids_with(
        &self,
        known: &HashMap<String, StoredPerson>,
        timers: &[TimerRow],
    ) -> Vec<String> {
        known
            .values()
            .filter_map(|p| p.last_lead_id.clone())
            .chain(self.lead_ids.iter().cloned())
            .chain(timers.iter().map(|t| t.lead_id.clone()))
            .collect()
    }
}

/// What [`Tx::batch_reads`] found.
#[derive(Debug, Clone, Default)]
pub struct BatchReads {
    pub replays: HashMap<String, StoredResponse>,
    pub known: HashMap<String, StoredPerson>,
    pub timers: Vec<TimerRow>,
    pub leads: Vec<LeadRecord>,
}

#[async_trait]
pub trait Tx: Send {
    /// Take the routing-state lock (PostgreSQL: row lock on `state_version`) and return
    /// the committed state version.
    async fn lock_state(&mut self) -> Result<i64>;
    async fn load_state(&mut self) -> Result<StateSnapshot>;
    async fn idempotent(&mut self, keys: &[String]) -> Result<HashMap<String, StoredResponse>>;
    /// Known people by normalised email, with the id of their latest lead.
    async fn people(&mut self, emails: &[String]) -> Result<HashMap<String, StoredPerson>>;
    async fn leads(&mut self, ids: &[String]) -> Result<Vec<LeadRecord>>;
    async fn timers_by_id(&mut self, ids: &[String]) -> Result<Vec<TimerRow>>;
    /// Everything a batch reads, in one step where the backend can make it one (the
    /// SQLite writer: one call on its thread): the responses stored for these idempotency
    /// keys, these people, these timers, and the leads with these ids, the known people's
    /// latest leads and the timers' leads.
    async fn batch_reads(&mut self, want: BatchReadsFor) -> Result<BatchReads> {
        let replays = if want.keys.is_empty() {
            HashMap::new()
        } else {
            self.idempotent(&want.keys).await?
        };
        let known = if want.emails.is_empty() {
            HashMap::new()
        } else {
            self.people(&want.emails).await?
        };
        let timers = if want.timer_ids.is_empty() {
            Vec::new()
        } else {
            self.timers_by_id(&want.timer_ids).await?
        };
        let ids = want.lead_ids_with(&known, &timers);
        let leads = if ids.is_empty() {
            Vec::new()
        } else {
            self.leads(&ids).await?
        };
        Ok(BatchReads {
            replays,
            known,
            timers,
            leads,
        })
    }
    /// Bookings (issue 22), read under the state lock: the active bookings of `reps`
    /// ending after `since` and every booking of `lead_ids`.
    async fn bookings(
        &mut self,
        reps: &[String],
        lead_ids: &[String],
        since: i64,
    ) -> Result<Vec<bookings::BookingRow>>;
    /// Write a batch and set the state version.
    async fn write(&mut self, batch: BatchWrite, version: i64) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Open a store by URL: `sqlite://PATH` (created if missing) or `postgres://…`.
/// Runs migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::Url(url.to_string()))
    }
}

/// Most rows in one multi-row statement: a power of two, so [`statement_chunks`] cuts
/// batches into at most a few sizes; keeps binds under SQLite's 32,766 and PostgreSQL's
/// 65,535 for the widest table.
pub(crate) const CHUNK: usize = 256;

/// `items` in chunks whose lengths are powers of two (largest first, at most `max`).
///
/// A multi-row statement's text depends on its row count, and both backends prepare each
/// distinct text once and keep it in the connection's statement cache; chunks of
/// arbitrary lengths would make nearly every batch prepare its statements anew (tens of
/// microseconds to parse and plan a 30-row INSERT). With powers of two a table needs at
/// most `log2(max) + 1` texts, and a batch of n rows `popcount(n)` statements.
pub(crate) fn statement_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = rest.len().min(max);
        let take = 1usize << (usize::BITS - 1 - n.leading_zeros());
        let (head, tail) = rest.split_at(take);
        rest = tail;
        Some(head)
    })
}

/// Keys for `… WHERE k IN (…)` lookups, in chunks of at most `max` padded to a power of
/// two by repeating the chunk's last key: an `IN` list matches each row once however often
/// a key repeats, so a lookup of n keys is one statement with one of a few cached texts
/// instead of `popcount(n)` statements.
pub(crate) fn key_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = Vec<&T>> {
    items.chunks(max.max(1)).map(|c| {
        let mut keys: Vec<&T> = c.iter().collect();
        if let Some(last) = c.last() {
            keys.resize(c.len().next_power_of_two(), last);
        }
        keys
    })
}

#[cfg(test)]
mod chunk_tests {
    use super::{key_chunks, statement_chunks};

    #[test]
    fn key_chunks_pad_to_powers_of_two_with_the_last_key() {
        let items: Vec<u32> = (0..300).collect();
        let chunks: Vec<Vec<&u32>> = key_chunks(&items, 256).collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].len(), 256);
        assert_eq!(chunks[1].len(), 64);
        assert_eq!(*chunks[1][43], 299);
        assert_eq!(*chunks[1][44], 299);
        assert!(
            chunks
                .iter()
                .flatten()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == 300
        );
        assert_eq!(key_chunks(&[7u8; 0], 256).count(), 0);
        assert_eq!(
            key_chunks(&[1u8, 2, 3], 256).next().unwrap(),
            vec![&1, &2, &3, &3]
        );
    }

    #[test]
    fn chunks_are_powers_of_two_and_cover_everything_in_order() {
        for n in 0..600usize {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = statement_chunks(&items, 256).collect();
            let flat: Vec<usize> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(flat, items, "n = {n}");
            for c in &chunks {
                assert!(
                    c.len().is_power_of_two() && c.len() <= 256,
                    "n = {n}: {}",
                    c.len()
                );
            }
            if n < 256 {
                assert_eq!(chunks.len(), n.count_ones() as usize, "n = {n}");
            }
        }
        let odd: Vec<u8> = vec![0; 100];
        assert!(statement_chunks(&odd, 100).all(|c| c.len() <= 64));
    }
}
