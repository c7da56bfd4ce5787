//! Replay (OPS-5).

pub mod record;
