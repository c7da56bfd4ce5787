//! leadrouter-core: the pure decision core.
//!
//! Routing is a function `(lead, enrichment, state snapshot, config, now) -> decision +
//! trace + effects`. Nothing in this crate does I/O on the hot path, reads the clock, holds
//! global mutable state or spawns anything; loading a config from disk is the one
//! exception and happens before any lead is routed.
pub mod analysis;
pub mod booking;
pub mod config;
pub mod crm_accounts;
pub mod domains;
pub mod engine;
pub mod geo;
pub mod lead;
pub mod lifecycle;
pub mod matrix;
pub mod netguard;
pub mod normalize;
pub mod record;
pub mod state;
pub mod text;
pub mod trace;
pub mod words;
pub mod zone;
