//! What a routing event holds, as the sequencer writes it and the replay reads it back:
//! a routing decision's inputs ([`RouteInput`], packed in `routing_events.input_packed`,
//! or JSON in `input` in rows written before) and outcome ([`RouteResult`]), and a
//! stored lead's lifecycle after a change ([`LeadAfter`]), JSON in `routing_events`.

use leadrouter_core::lifecycle::{LeadStatus, Stage};
use leadrouter_core::trace::Decision;
use serde::{Deserialize, Serialize};

/// Everything `engine::decide` was given besides the state and the config, with its
/// compact encoding (in the core, where the store reads it for erasure).
pub use leadrouter_core::record::RouteInput;

/// What was decided: the figures a replay compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteResult {
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub tier: String,
    pub segment: Option<String>,
    pub path: String,
    pub rule: Option<String>,
    /// A resubmission that reused the person's stored lead.
    #[serde(default)]
    pub dedup: bool,
}

impl RouteResult {
    pub fn of(d: &Decision, dedup: bool) -> RouteResult {
        RouteResult {
            owner: d.owner.as_ref().map(|o| o.id.to_string()),
            queue: d.queue.as_deref().map(str::to_string),
            team: d.team.as_deref().map(str::to_string),
            tier: d.tier.name().into(),
            segment: d.segment.as_deref().map(str::to_string),
            path: crate::metrics::path_name(d.path),
            rule: d.rule.as_deref().map(str::to_string),
            dedup,
        }
    }

    /// Same owner, queue, tier, segment, path and rule (team follows from them).
    pub fn same_decision(&self, other: &RouteResult) -> bool {
        self.owner == other.owner
            && self.queue == other.queue
            && self.tier == other.tier
            && self.segment == other.segment
            && self.path == other.path
            && self.rule == other.rule
    }
}

/// A stored lead's lifecycle after a change (reassignment, outcome, SLA step, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadAfter {
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub status: LeadStatus,
    pub stage: Stage,
}
