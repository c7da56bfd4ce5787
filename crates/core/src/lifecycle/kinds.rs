//! The words a lead's lifecycle is stored in: statuses, stages, outcomes, SLA steps and
//! the kinds of entries in a lead's decision history. Each is an enum whose text (serde,
//! `Display`, `FromStr`) is exactly what the database has always held, so no migration
//! is needed and JSON responses are unchanged.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Stored text that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {what}")]
pub struct UnknownText {
    pub what: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownText;
            fn from_str(s: &str) -> Result<Self, UnknownText> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownText { what: $what, value: s.to_string() }),
                }
            }
        }
    };
}

text_enum! {
    /// Where a lead stands. Only an open lead counts toward its owner's load and is
    /// escalated by the SLA ladder.
    LeadStatus, "lead status" {
        Open = "open",
        Disqualified = "disqualified",
        Won = "won",
        Lost = "lost",
    }
}

text_enum! {
    /// How far an open lead has come (ASG-4): a rep's load is the stage-weighted count of
    /// their open leads.
    Stage, "lead stage" {
        Early = "early",
        Mid = "mid",
        Late = "late",
    }
}

text_enum! {
    /// What a rep reports about a lead (`POST /v1/leads/{id}/outcome`).
    Outcome, "outcome" {
        Opportunity = "opportunity",
        Proposal = "proposal",
        Won = "won",
        Lost = "lost",
    }
}

text_enum! {
    /// A rung of the SLA ladder (SLA-2/3), as a timer row's `step`.
    SlaStep, "SLA step" {
        /// 1x the contact SLA untouched: the owner's manager is alerted.
        Manager = "manager",
        /// 2x: the lead goes to another rep.
        Reassign = "reassign",
        /// 3x: leadership is alerted.
        Leadership = "leadership",
        /// An unowned lead has waited in an alerting queue for `queue_alert_after`.
        QueueAge = "queue_age",
    }
}

text_enum! {
    /// What an entry in a lead's decision history records.
    DecisionKind, "decision kind" {
        Route = "route",
        /// A known person with an open lead submitted again (VAL-3).
        Resubmission = "resubmission",
        /// A disqualified person came back and the lead was reopened (VAL-4).
        Recycle = "recycle",
        Manual = "manual",
        Disqualify = "disqualify",
        Outcome = "outcome",
        Accepted = "accepted",
        Contacted = "contacted",
        SlaManagerAlert = "sla_manager_alert",
        SlaReassign = "sla_reassign",
        SlaLeadershipAlert = "sla_leadership_alert",
        QueueAlert = "queue_alert",
        /// A meeting booked, moved or cancelled (issue 22); booking is first touch.
        Meeting = "meeting",
    }
}

impl Outcome {
    /// The status and stage a lead has after this outcome; `stage` is the one it had.
    pub fn result(self, stage: Stage) -> (LeadStatus, Stage) {
        match self {
            Outcome::Opportunity => (LeadStatus::Open, Stage::Mid),
            Outcome::Proposal => (LeadStatus::Open, Stage::Late),
            Outcome::Won => (LeadStatus::Won, stage),
            Outcome::Lost => (LeadStatus::Lost, stage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_from_its_stored_text_and_json() {
        fn check<T>(all: &[T])
        where
            T: Copy + fmt::Display + FromStr + Serialize + PartialEq + fmt::Debug,
            <T as FromStr>::Err: fmt::Debug,
        {
            for v in all {
                let text = v.to_string();
                assert_eq!(text.parse::<T>().unwrap(), *v);
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(text));
            }
        }
        check(LeadStatus::ALL);
        check(Stage::ALL);
        check(Outcome::ALL);
        check(SlaStep::ALL);
        check(DecisionKind::ALL);
    }

    #[test]
    fn the_stored_texts_are_the_ones_the_database_holds() {
        let texts = |all: &[&str]| all.join(" ");
        let status: Vec<_> = LeadStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(texts(&status), "open disqualified won lost");
        let steps: Vec<_> = SlaStep::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(texts(&steps), "manager reassign leadership queue_age");
    }

    #[test]
    fn unknown_text_is_refused_with_its_value() {
        let e = "closed".parse::<LeadStatus>().unwrap_err();
        assert_eq!(e.to_string(), "`closed` is not a lead status");
    }
}
