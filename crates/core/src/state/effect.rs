//! [`Effect`]: every change to routing state, and [`StateSnapshot::apply`], the reference
//! semantics of each. The engine returns effects with a decision; the lead-lifecycle rules
//! (`crate::lifecycle`) return them for reassignments, outcomes, disqualifications and
//! availability changes. Nothing else changes a snapshot's routing state, so what a store
//! writes back (the reps, rotations and people the effects touched) is all that changed.

use super::{AvailabilityOverride, DailyCount, PriorPerson, PriorStatus, StateSnapshot};
use crate::lifecycle::Stage;
use crate::text::Text;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

/// A change to commit with the assignment. Written as an object tagged by `effect`
/// (`{"effect": "add_load", "rep": "ann", "stage": "early"}`); read back by the
/// hand-written `Deserialize` in `effect_de.rs`, which accepts the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    SetOwner { email: Text, rep: Text },
    /// One more open lead at `stage` (a lead moved to `rep` keeps its stage; an outcome
    /// moves a lead to a later stage).
    AddLoad { rep: Text, stage: Stage },
    /// One open lead fewer at `stage` (closed, disqualified, moved away or advanced);
    /// never below zero.
    RemoveLoad { rep: Text, stage: Stage },
    /// The rep is out of office until `until` (None: until they are set back).
    SetOutOfOffice {
        rep: Text,
        until: Option<Timestamp>,
        note: Option<String>,
    },
    /// The rep is back: their override is removed (the config's windows still apply).
    ClearOutOfOffice { rep: Text },
    /// The person was disqualified (VAL-4): their next submission is a recycle, which
    /// remembers `owner`.
    DisqualifyPerson {
        email: Text,
        owner: Option<Text>,
        at: Timestamp,
        note: Option<String>,
    },
    /// The person's lead is open again (a resubmission or a recycle): their status is
    /// open; owner, disqualification time and note stay as they were.
    ReopenPerson { email: Text },
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
                    self.rotations.update(team, |r| {
                        let r = r.or_default();
                        r.passes.insert(rep.to_string(), *pass);
                        r.virtual_time = r.virtual_time.max(*virtual_time);
                    });
                }
                Effect::AddEarlyLoad { rep } => {
                    self.loads
                        .update(rep, |l| l.or_insert_with(Default::default).early += 1);
                }
                Effect::CountDaily { rep, date } => self.daily.update(rep, |d| {
                    let d = d.or_insert(DailyCount {
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
                }),
                Effect::SetOwner { email, rep } => {
                    self.people.insert(
                        email.to_string(),
                        PriorPerson {
                            owner: Some(rep.to_string()),
                            status: PriorStatus::Open,
                            disqualified_at: None,
                            note: None,
                        },
                    );
                }
                Effect::AddLoad { rep, stage } => self.loads.update(rep, |l| {
                    let slot = load_slot(l.or_default(), *stage);
                    *slot = slot.saturating_add(1);
                }),
                Effect::RemoveLoad { rep, stage } => self.loads.update(rep, |l| {
                    let slot = load_slot(l.or_default(), *stage);
                    *slot = slot.saturating_sub(1);
                }),
                Effect::SetOutOfOffice { rep, until, note } => self.availability.update(rep, |a| {
                    *a.or_default() = AvailabilityOverride {
                        out: true,
                        out_until: *until,
                        note: note.clone(),
                    }
                }),
                Effect::ClearOutOfOffice { rep } => self.availability.update(rep, |a| {
                    if let std::collections::btree_map::Entry::Occupied(o) = a {
                        o.remove();
                    }
                }),
                Effect::DisqualifyPerson {
                    email,
                    owner,
                    at,
                    note,
                } => {
                    self.people.insert(
                        email.to_string(),
                        PriorPerson {
                            owner: owner.as_ref().map(|o| o.to_string()),
                            status: PriorStatus::Disqualified,
                            disqualified_at: Some(*at),
                            note: note.clone(),
                        },
                    );
                }
                Effect::ReopenPerson { email } => {
                    if let Some(p) = self.people.get_mut(email) {
                        p.status = PriorStatus::Open;
                    }
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

fn load_slot(l: &mut super::RepLoad, stage: Stage) -> &mut u32 {
    match stage {
        Stage::Early => &mut l.early,
        Stage::Mid => &mut l.mid,
        Stage::Late => &mut l.late,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_moves_between_stages_and_never_goes_below_zero() {
        let mut st = StateSnapshot::default();
        st.apply(&[
            Effect::AddLoad {
                rep: "a".into(),
                stage: Stage::Mid,
            },
            Effect::RemoveLoad {
                rep: "a".into(),
                stage: Stage::Early,
            },
            Effect::AddLoad {
                rep: "a".into(),
                stage: Stage::Late,
            },
            Effect::RemoveLoad {
                rep: "a".into(),
                stage: Stage::Mid,
            },
        ]);
        let l = st.loads["a"];
        assert_eq!((l.early, l.mid, l.late), (0, 0, 1));
    }

    #[test]
    fn out_of_office_is_set_replaced_and_cleared() {
        let mut st = StateSnapshot::default();
        let until = Timestamp::from_second(1_800_000_000).unwrap();
        st.apply(&[Effect::SetOutOfOffice {
            rep: "a".into(),
            until: None,
            note: Some("trip".into()),
        }]);
        st.apply(&[Effect::SetOutOfOffice {
            rep: "a".into(),
            until: Some(until),
            note: None,
        }]);
        assert_eq!(
            st.availability.get("a"),
            Some(&AvailabilityOverride {
                out: true,
                out_until: Some(until),
                note: None
            })
        );
        st.apply(&[Effect::ClearOutOfOffice { rep: "a".into() }]);
        assert!(st.availability.is_empty());
    }

    #[test]
    fn a_disqualified_person_keeps_owner_and_note_when_reopened() {
        let mut st = StateSnapshot::default();
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        st.apply(&[Effect::DisqualifyPerson {
            email: "p@x.com".into(),
            owner: Some("a".into()),
            at,
            note: Some("student".into()),
        }]);
        assert_eq!(st.people["p@x.com"].status, PriorStatus::Disqualified);
        st.apply(&[
            Effect::ReopenPerson {
                email: "p@x.com".into(),
            },
            Effect::ReopenPerson {
                email: "unknown@x.com".into(),
            },
        ]);
        assert_eq!(
            st.people["p@x.com"],
            PriorPerson {
                owner: Some("a".into()),
                status: PriorStatus::Open,
                disqualified_at: Some(at),
                note: Some("student".into()),
            }
        );
        assert_eq!(st.people.len(), 1);
    }
}
