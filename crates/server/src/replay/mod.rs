//! Replay (OPS-5): the stored history of a window re-decided through a candidate config —
//! or, in fidelity mode, through the versions that were live, which must reproduce every
//! automatic decision — and the difference reported.
//!
//! `record` is the shape of the history the sequencer writes; `world` keeps the state as
//! it happened and as the candidate would have made it (pure); `run` reads the history in
//! commit order from one read-only snapshot and drives the worlds; `report` turns the
//! counts into figures; `render` and `html` print them.

pub mod feed;
pub mod html;
mod names;
pub mod record;
pub mod render;
pub mod report;
pub mod run;
pub mod world;

pub use leadrouter_store::HistoryReader;
pub use report::Report;
pub use run::{ReplayError, ReplayOptions, run};
