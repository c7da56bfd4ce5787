//! Load testing for the intake API (issue 3).
//!
//! Two binaries share this library: `leadrouter-load`, a load generator that posts varied
//! leads to `POST /v1/leads` and reports throughput and latency, and `bare-baseline`, the
//! smallest durable server we can write (axum + one SQLite writer with group commit) that
//! leadrouter's throughput is reported against. Nothing here is used by the service itself.

pub mod lead;
pub mod summary;
