//! What a routing event holds, as the sequencer writes it and the replay reads it back:
//! a routing decision's inputs ([`RouteInput`]) and outcome ([`RouteResult`]), and a
//! stored lead's lifecycle after a change ([`LeadAfter`]). JSON in `routing_events`.

use jiff::Timestamp;
use leadrouter_core::lead::{Enrichment, FieldIssue, Lead};
use leadrouter_core::lifecycle::{LeadStatus, Stage};
use leadrouter_core::trace::Decision;
use serde::{Deserialize, Serialize};

/// Everything `engine::decide` was given besides the state and the config: the lead as
/// parsed, its field issues, its enrichment (so a replay calls no provider) and the
/// exact instant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteInput {
    pub lead: Lead,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<FieldIssue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
    pub now: Timestamp,
    pub received_at: Timestamp,
}

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
