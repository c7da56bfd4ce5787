//! What the engine must remember between leads, as a snapshot going in and effects coming
//! out. The caller commits the effects in the same transaction as the assignment, so the
//! engine itself stays a pure function. `StateSnapshot::apply` is the reference semantics
//! of every effect; stores implement the same thing in SQL.

use crate::text::Text;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A team's rotation: a stride-scheduling clock. Each rep has a pass (their next turn's
/// position); the rep with the lowest pass among the available ones gets the lead and
/// moves forward by their stride (1/weight). `virtual_time` is the pass of the last turn
/// handed out: a rep who joins, or comes back from time away, starts at it, so nobody
/// gets a catch-up burst and nobody is reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    #[serde(default)]
    pub virtual_time: u64,
    #[serde(default)]
    pub passes: BTreeMap<String, u64>,
}

/// Open leads per stage (ASG-4); the load is their stage-weighted sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepLoad {
    #[serde(default)]
    pub early: u32,
    #[serde(default)]
    pub mid: u32,
    #[serde(default)]
    pub late: u32,
}

impl RepLoad {
    pub fn weighted(&self, w: &crate::config::StageWeights) -> f64 {
        self.early as f64 * w.early + self.mid as f64 * w.mid + self.late as f64 * w.late
    }
}

/// New leads a rep got on one local date (the daily cap counts these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCount {
    pub date: Date,
    pub count: u32,
}

/// Availability set at run time (API / console), on top of the config's windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityOverride {
    /// Out of office until this instant (None = open-ended).
    #[serde(default)]
    pub out_until: Option<Timestamp>,
    #[serde(default)]
    pub out: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A person already known by normalised email (VAL-3, VAL-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorPerson {
    pub owner: Option<String>,
    #[serde(default)]
    pub status: PriorStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disqualified_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorStatus {
    #[default]
    Open,
    Disqualified,
}

/// Everything the engine reads besides the lead, the config and the clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    #[serde(default)]
    pub rotations: BTreeMap<String, Rotation>,
    #[serde(default)]
    pub loads: BTreeMap<String, RepLoad>,
    #[serde(default)]
    pub daily: BTreeMap<String, DailyCount>,
    #[serde(default)]
    pub availability: BTreeMap<String, AvailabilityOverride>,
    /// Known people by normalised email; the caller usually passes only the one person.
    #[serde(default)]
    pub people: BTreeMap<String, PriorPerson>,
}

/// A change to commit with the assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Move a team's rotation: `rep` took a turn, now at `pass`; the clock is `virtual_time`.
    AdvanceRotation {
        team: Text,
        rep: Text,
        pass: u64,
        virtual_time: u64,
    },
    /// One more open lead in the early stage.
    AddEarlyLoad { rep: Text },
    /// One more lead on the rep's local date.
    CountDaily { rep: Text, date: Date },
    /// The person (by normalised email) is now owned by `rep` and open.
    SetOwner { email: String, rep: Text },
}

impl StateSnapshot {
    pub fn apply(&mut self, effects: &[Effect]) {
        for e in effects {
            match e {
                Effect::AdvanceRotation {
                    team,
                    rep,
                    pass,
                    virtual_time,
                } => {
                    let r = self.rotations.entry(team.to_string()).or_default();
                    r.passes.insert(rep.to_string(), *pass);
                    r.virtual_time = r.virtual_time.max(*virtual_time);
                }
                Effect::AddEarlyLoad { rep } => {
                    self.loads.entry(rep.to_string()).or_default().early += 1;
                }
                Effect::CountDaily { rep, date } => {
                    let d = self.daily.entry(rep.to_string()).or_insert(DailyCount {
                        date: *date,
                        count: 0,
                    });
                    if d.date != *date {
                        *d = DailyCount {
                            date: *date,
                            count: 0,
                        };
                    }
                    d.count += 1;
                }
                Effect::SetOwner { email, rep } => {
                    self.people.insert(
                        email.clone(),
                        PriorPerson {
                            owner: Some(rep.to_string()),
                            status: PriorStatus::Open,
                            disqualified_at: None,
                            note: None,
                        },
                    );
                }
            }
        }
    }

    /// Leads counted for `rep` on local date `date`.
    pub fn daily_count(&self, rep: &str, date: Date) -> u32 {
        match self.daily.get(rep) {
            Some(d) if d.date == date => d.count,
            _ => 0,
        }
    }
}
