//! CRM connectors (CRM-1..3): one provider-neutral interface, [`CrmClient`], implemented
//! for HubSpot ([`hubspot`]) and Salesforce ([`salesforce`]). The server owns scheduling,
//! the durable write-back outbox, webhooks and sync state; this crate owns the wire
//! formats, authentication, batching limits and the reading of each vendor's rate-limit
//! and error answers.
//!
//! Every call has a timeout and returns a typed outcome: the caller decides whether to
//! retry, wait or dead-letter from [`CallError`] and [`RecordOutcome`].

pub mod config;
pub mod hubspot;
pub mod mapping;
pub mod model;
pub mod salesforce;

pub use model::*;
