//! The provider-neutral model: what leadrouter writes to a CRM and what it reads back.

use jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// One owner write-back: the lead as leadrouter knows it, the owner in CRM terms and the
/// mapped properties (CRM property/field name → value, already mapped by the caller).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnerWrite {
    /// Idempotency: leadrouter's outbox row id for this write (a retry carries the same).
    pub write_id: String,
    /// leadrouter's lead id (also sent as the external id where the CRM has one).
    pub lead_id: String,
    /// The lead's email: HubSpot's upsert key; Salesforce's Email field.
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    /// The CRM user/owner id of the new owner; `None` leaves the owner unchanged
    /// (a lead parked in a queue).
    pub owner_crm_id: Option<String>,
    /// Mapped fields: CRM property name → value.
    pub fields: BTreeMap<String, String>,
    /// An optional follow-up task for the owner, due at the SLA deadline (NTF-1).
    pub task: Option<TaskSpec>,
    /// The CRM's own record id when the lead started in the CRM (a Salesforce Lead from
    /// an Outbound Message): that record is updated by its id (and given our external
    /// id) rather than a second one created. HubSpot upserts by email and ignores it.
    #[serde(default)]
    pub crm_record_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskSpec {
    pub subject: String,
    pub body: String,
    pub due: Timestamp,
}

/// What happened to one record of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored; the CRM's record id.
    Written { crm_id: String },
    /// Refused for this record's own content (validation, unknown owner): retrying the
    /// same record will not help. The CRM's message.
    Rejected { reason: String },
}

/// Why a whole call failed. The caller retries `RateLimited`/`Unavailable`/`Timeout`
/// (after `retry_after` when given) and dead-letters on `Auth`/`Invalid` after
/// alerting.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("rate limited by the CRM (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the CRM is unavailable: {0}")]
    Unavailable(String),
    #[error("the CRM call timed out")]
    Timeout,
    #[error("the CRM refused the credentials: {0}")]
    Auth(String),
    #[error("the CRM refused the request: {0}")]
    Invalid(String),
}

impl CallError {
    /// Worth retrying the same call later.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            CallError::RateLimited { .. } | CallError::Unavailable(_) | CallError::Timeout
        )
    }
}

/// Rate-limit headroom the CRM reported on its last answer (HubSpot's
/// `X-HubSpot-RateLimit-*`, Salesforce's `Sforce-Limit-Info`), for pacing and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headroom {
    /// Calls left in the current window, when the CRM said.
    pub remaining: Option<u64>,
    /// The window's size in calls, when the CRM said.
    pub limit: Option<u64>,
    /// How long until the window resets, when the CRM said.
    pub resets_in: Option<Duration>,
}

/// A CRM user/owner.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrmUser {
    pub crm_id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub modified: Timestamp,
}

/// A CRM account/company with its owner.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrmAccount {
    pub crm_id: String,
    pub name: String,
    /// Registrable domain as the CRM holds it (website or domain field), not normalised.
    pub domain: Option<String>,
    pub owner_crm_id: Option<String>,
    /// The configurable named-account flag (Salesforce) or property (HubSpot).
    pub named: bool,
    pub modified: Timestamp,
}

/// A lead/contact created in the CRM, to be routed by leadrouter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InboundLead {
    pub crm_id: String,
    /// The lead's fields in leadrouter's JSON lead shape (email, first_name, company, …),
    /// ready for `Lead::from_json`.
    pub lead: serde_json::Map<String, serde_json::Value>,
    pub modified: Timestamp,
    /// True when the last change was made by leadrouter's own integration user / app
    /// (loop prevention: never route our own write-back).
    pub changed_by_us: bool,
}

/// One page of an incremental read: the records and the cursor for the next page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `after` (HubSpot) or `nextRecordsUrl` (Salesforce); `None` on the last page.
    pub next: Option<String>,
}

/// One CRM connection. Implementations are cheap to clone behind an `Arc` and safe to
/// call from several tasks; each call has its own timeout.
#[async_trait::async_trait]
pub trait CrmClient: Send + Sync {
    /// `hubspot` or `salesforce`.
    fn provider(&self) -> &'static str;
    /// The most records one upsert call may carry (HubSpot 100, Salesforce 200).
    fn max_batch(&self) -> usize;
    /// Upsert owners and mapped fields (and tasks) for up to [`CrmClient::max_batch`]
    /// records in as few calls as the API allows. Idempotent: the same writes again
    /// update the same records, never create second ones. On success, one outcome per
    /// write, in order.
    async fn upsert(&self, writes: &[OwnerWrite]) -> Result<Vec<RecordOutcome>, CallError>;
    /// Users/owners modified at or after `since` (all when `None`), one page.
    async fn users(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> Result<Page<CrmUser>, CallError>;
    /// Accounts/companies modified at or after `since` (all when `None`), one page.
    async fn accounts(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> Result<Page<CrmAccount>, CallError>;
    /// Leads/contacts created or modified at or after `since`, one page (the poller).
    async fn leads_since(
        &self,
        since: Timestamp,
        cursor: Option<&str>,
    ) -> Result<Page<InboundLead>, CallError>;
    /// Fetch records by CRM id (after a webhook names them).
    async fn leads_by_id(&self, ids: &[String]) -> Result<Vec<InboundLead>, CallError>;
    /// The headroom the CRM reported on its latest answer.
    fn headroom(&self) -> Headroom;
}
