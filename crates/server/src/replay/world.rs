//! The two worlds a replay keeps, with no I/O: the one that happened (the recorded
//! effects, in commit order) and the candidate's (the candidate's own decisions and
//! their effects, with the recorded changes to stored leads carried over onto the
//! candidate's owners). In fidelity mode there is one world: decisions are made again
//! on the recorded state and must come out the same.

use super::names::{LeadKey, LeadNo, Names, Rep, Row};
use super::record::{LeadAfter, RouteInput, RouteResult};
use jiff::{SignedDuration, Timestamp};
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::engine::{Routed, RoutingInput, decide};
use leadrouter_core::lifecycle::{self, Ladder, LeadStatus, LeadView, Stage};
use leadrouter_core::state::{Effect, PriorPerson, PriorStatus, StateSnapshot};
use leadrouter_core::text::Text;

/// A stored lead's lifecycle as far as routing effects depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    owner: Option<Rep>,
    status: LeadStatus,
    stage: Stage,
}

impl View {
    fn lead_view(&self, id: String, names: &Names) -> LeadView {
        LeadView {
            id,
            email: None,
            received_at: Timestamp::UNIX_EPOCH,
            owner: names.owner(self.owner),
            queue: None,
            team: None,
            status: self.status,
            stage: self.stage,
            outcome: None,
            outcome_at: None,
            contact_by: None,
            accepted_at: None,
            first_touch_at: None,
        }
    }
}

/// A person row as written (what the store's `people` table holds).
pub type PersonRow = (String, PriorPerson);

/// What a world knows of a person (by number, see [`Names::person`]): the person row as
/// stored and their last lead. Side by side: a routing event reads and writes each.
#[derive(Default)]
struct Known {
    row: Option<Row>,
    last_lead: Option<LeadNo>,
}

/// One world: its state, its stored leads' views and what it knows of each person.
/// Known people are as the service sees them: the person rows as stored, read into the
/// state at the start of each batch for the batch's routing jobs, then changed there by
/// the batch's effects (`state.people`).
///
/// Only a world whose decisions are made again reads its people: with a candidate the
/// recorded world keeps none (`people: None`), which spares it a lookup per routing
/// event. Both are vectors by the numbers [`Names`] gives (a lead or person this world
/// has not seen is None or a default entry).
#[derive(Default)]
struct Side {
    state: StateSnapshot,
    people: Option<Vec<Known>>,
    leads: Vec<Option<View>>,
}

/// `v[i]`, made (with every entry before it) when new.
fn slot<T: Default>(v: &mut Vec<T>, i: u32) -> &mut T {
    let i = i as usize;
    if i >= v.len() {
        v.resize_with(i + 1, T::default);
    }
    &mut v[i]
}

impl Side {
    fn begin_batch(&mut self, emails: &[String], names: &Names) {
        self.state.people.clear();
        let Some(people) = &self.people else { return };
        for e in emails {
            let row = names
                .find_person(e)
                .and_then(|n| people.get(n as usize))
                .and_then(|k| k.row.as_ref());
            if let Some(p) = row {
                self.state.people.insert(e.clone(), p.prior(names));
            }
        }
    }

    /// The person's entry, made when new; None in a world that keeps no people.
    fn known(&mut self, email: &str, names: &mut Names) -> Option<&mut Known> {
        let people = self.people.as_mut()?;
        Some(slot(people, names.person(email)))
    }

    fn set_last_lead(&mut self, email: &str, key: LeadNo, names: &mut Names) {
        if let Some(k) = self.known(email, names) {
            k.last_lead = Some(key);
        }
    }

    fn view(&self, key: LeadNo) -> Option<&View> {
        self.leads.get(key as usize)?.as_ref()
    }

    fn view_mut(&mut self, key: LeadNo) -> Option<&mut View> {
        self.leads.get_mut(key as usize)?.as_mut()
    }

    fn set_lead(&mut self, key: LeadNo, view: View) {
        *slot(&mut self.leads, key) = Some(view);
    }

    fn write_people(&mut self, rows: &[PersonRow], names: &mut Names) {
        if self.people.is_none() {
            return;
        }
        for (e, p) in rows {
            let row = Row::of(p, names);
            if let Some(k) = self.known(e, names) {
                k.row = Some(row);
            }
        }
    }

    /// The row the service writes for `email` after a change: as the state has it.
    fn person_row(&self, email: &str) -> PersonRow {
        let p = self
            .state
            .people
            .get(email)
            .cloned()
            .unwrap_or(PriorPerson {
                owner: None,
                status: PriorStatus::Open,
                disqualified_at: None,
                note: None,
            });
        (email.to_string(), p)
    }

    /// The row the service writes for `email` after a change is `p` ([`Side::person_row`]
    /// without the copy).
    fn person_is(&self, email: &str, p: &PriorPerson) -> bool {
        match self.state.people.get(email) {
            Some(q) => q == p,
            None => {
                p.owner.is_none()
                    && p.status == PriorStatus::Open
                    && p.disqualified_at.is_none()
                    && p.note.is_none()
            }
        }
    }

    fn existing(&self, email: Option<&Text>, names: &Names) -> Option<LeadView> {
        let person = names.find_person(email?.as_str())?;
        let key = self.people.as_ref()?.get(person as usize)?.last_lead?;
        self.view(key)
            .map(|v| v.lead_view(names.lead_id(key), names))
    }

    /// A routing decision's lead and person afterwards.
    fn routed(
        &mut self,
        key: LeadNo,
        email: Option<&Text>,
        change: &lifecycle::Change,
        names: &mut Names,
    ) {
        let view = match &change.lead {
            Some(l) => View {
                owner: names.rep_opt(l.owner.as_deref()),
                status: l.status,
                stage: l.stage,
            },
            None => {
                let d = change.routed.as_ref().map(|r| &r.decision);
                View {
                    owner: names.rep_opt(d.and_then(|d| d.owner.as_ref().map(|o| o.id.as_str()))),
                    status: LeadStatus::Open,
                    stage: Stage::Early,
                }
            }
        };
        self.set_lead(key, view);
        if let Some(e) = email {
            self.set_last_lead(e, key, names);
        }
    }
}

/// What re-deciding one routing event gave.
pub struct Redecided {
    pub result: RouteResult,
    pub routed: Option<Routed>,
    /// Fidelity mode: the effects the decision made differ from those recorded.
    pub effects_differ: bool,
    /// Time spent in `engine::decide` alone (the benchmark's yardstick).
    pub decide_time: std::time::Duration,
}

pub struct World {
    live: Side,
    /// The candidate's world (None in fidelity mode: decisions are checked on `live`).
    cand: Option<Side>,
    names: Names,
}

fn ladder() -> Ladder<'static> {
    Ladder {
        alert_queues: &[],
        queue_alert_after: SignedDuration::ZERO,
    }
}

impl World {
    /// The worlds at the window's start: the routing state, and the person rows as stored.
    /// `leads` is about how many leads the replay will see: the maps are sized for it
    /// once (growing them page by page costs more than the rest of the bookkeeping).
    pub fn new(
        mut state: StateSnapshot,
        persisted: impl IntoIterator<Item = (String, PriorPerson)>,
        candidate: bool,
        leads: usize,
    ) -> World {
        state.people.clear();
        let mut names = Names::default();
        names.reserve(leads);
        let mut people: Vec<Known> = Vec::with_capacity(leads);
        for (e, p) in persisted {
            let row = Some(Row::of(&p, &mut names));
            slot(&mut people, names.person(&e)).row = row;
        }
        let side = |state: StateSnapshot, people: Option<Vec<Known>>| {
            let mut s = Side {
                state,
                people,
                ..Side::default()
            };
            s.leads.reserve(leads);
            s
        };
        let (live, cand) = if candidate {
            (side(state.clone(), None), Some(side(state, Some(people))))
        } else {
            (side(state, Some(people)), None)
        };
        World { live, cand, names }
    }

    /// A new batch (routing transaction) starts: its routing jobs' people are read.
    pub fn begin_batch(&mut self, emails: &[String]) {
        self.live.begin_batch(emails, &self.names);
        if let Some(c) = &mut self.cand {
            c.begin_batch(emails, &self.names);
        }
    }

    /// Changes that happened before the window: both worlds take them as recorded.
    pub fn apply_recorded(&mut self, effects: &[Effect], people: &[PersonRow]) {
        self.live.state.apply(effects);
        self.live.write_people(people, &mut self.names);
        if let Some(c) = &mut self.cand {
            c.state.apply(effects);
            c.write_people(people, &mut self.names);
        }
    }

    /// A lead number first seen (see `names::Names::add_lead`).
    pub fn add_lead(&mut self, no: LeadNo, key: LeadKey) {
        self.names.add_lead(no, key);
    }

    /// A routing event before the window: both worlds take it as it happened.
    pub fn before_window_route(
        &mut self,
        key: LeadNo,
        email: Option<&str>,
        recorded: &RouteResult,
        effects: &[Effect],
        people: &[PersonRow],
    ) {
        self.apply_recorded(effects, people);
        let owner = self.names.rep_opt(recorded.owner.as_deref());
        let view = View {
            owner,
            status: LeadStatus::Open,
            stage: Stage::Early,
        };
        for side in std::iter::once(&mut self.live).chain(self.cand.as_mut()) {
            match side.view_mut(key) {
                Some(v) if recorded.dedup => {
                    v.owner = owner;
                    v.status = LeadStatus::Open;
                }
                _ => side.set_lead(key, view),
            }
            if let Some(e) = email {
                side.set_last_lead(e, key, &mut self.names);
            }
        }
    }

    /// Re-decide a routing event of the window with `cfg`: on the candidate's world (its
    /// own effects) or, in fidelity mode, on the recorded one (the recorded effects, which
    /// the decision's own must equal).
    pub fn route(
        &mut self,
        cfg: &CompiledConfig,
        key: LeadNo,
        input: &RouteInput,
        recorded: &RouteResult,
        recorded_effects: &[Effect],
        recorded_people: &[PersonRow],
    ) -> Redecided {
        let candidate = self.cand.is_some();
        let names = &mut self.names;
        let side = self.cand.as_mut().unwrap_or(&mut self.live);
        let mut ri = RoutingInput::new(&input.lead, &side.state, input.now);
        ri.issues = &input.issues;
        ri.enrichment = input.enrichment.as_ref();
        let started = std::time::Instant::now();
        let routed = decide(cfg, ri);
        let decide_time = started.elapsed();
        let email = routed.trace.facts.email.clone();
        let existing = side.existing(email.as_ref(), names);
        let mut result = RouteResult::of(&routed.decision, false);
        let mut change = lifecycle::route(routed, existing.as_ref(), input.now, &ladder());
        result.dedup = change.lead.is_some();
        // A resubmission keeps the stored lead's id; a new lead in the candidate's world
        // where the service reused one gets the id the event names either way.
        let effects_differ = if candidate {
            side.state.apply(&change.effects);
            if let Some(e) = &change.person {
                let row = side.person_row(e);
                side.write_people(&[row], names);
            }
            side.routed(key, email.as_ref(), &change, names);
            self.live.state.apply(recorded_effects);
            self.live.write_people(recorded_people, names);
            self.live_routed(key, email.as_ref(), recorded);
            false
        } else {
            side.state.apply(recorded_effects);
            // The person row the service would have written, against the one it wrote.
            let people_differ = match (&change.person, recorded_people) {
                (None, []) => false,
                (Some(e), [(re, rp)]) => e != re || !side.person_is(e, rp),
                _ => true,
            };
            side.write_people(recorded_people, names);
            side.routed(key, email.as_ref(), &change, names);
            people_differ || change.effects != recorded_effects
        };
        Redecided {
            result,
            // `lifecycle::route` hands the decision back with the change.
            routed: change.routed.take(),
            effects_differ,
            decide_time,
        }
    }

    fn live_routed(&mut self, key: LeadNo, email: Option<&Text>, recorded: &RouteResult) {
        let owner = self.names.rep_opt(recorded.owner.as_deref());
        let live = &mut self.live;
        let stage = match live.view(key) {
            Some(v) if recorded.dedup && v.owner == owner => v.stage,
            _ => Stage::Early,
        };
        live.set_lead(
            key,
            View {
                owner,
                status: LeadStatus::Open,
                stage,
            },
        );
        if let Some(e) = email {
            live.set_last_lead(e, key, &mut self.names);
        }
    }

    /// A change to a stored lead (reassignment, outcome, SLA step, …) or to availability:
    /// the recorded world takes it as it happened; the candidate's takes it with the
    /// lead's owner in that world in place of the recorded owner where the change did not
    /// itself choose the owner. Returns the lead's owner in the candidate's world before.
    pub fn change(
        &mut self,
        lead: Option<LeadNo>,
        after: Option<&LeadAfter>,
        effects: &[Effect],
        people: &[PersonRow],
    ) -> Option<String> {
        let names = &mut self.names;
        let live_before = lead
            .and_then(|k| self.live.view(k))
            .and_then(|v| names.owner(v.owner));
        self.live.state.apply(effects);
        self.live.write_people(people, names);
        let key = match (lead, after) {
            (Some(key), Some(a)) => {
                let owner = names.rep_opt(a.owner.as_deref());
                self.live.set_lead(
                    key,
                    View {
                        owner,
                        status: a.status,
                        stage: a.stage,
                    },
                );
                Some((key, a))
            }
            _ => None,
        };
        let Some(cand) = &mut self.cand else {
            return live_before;
        };
        let known = key.and_then(|(k, a)| cand.view(k).map(|v| (k, a, names.owner(v.owner))));
        let Some((key, a, cand_before)) = known else {
            cand.state.apply(effects);
            cand.write_people(people, names);
            return None;
        };
        let moved = a.owner != live_before;
        let translated = translate(
            effects,
            live_before.as_deref(),
            cand_before.as_deref(),
            moved,
        );
        cand.state.apply(&translated);
        // The person rows follow the lead's owner in the candidate's world.
        let rows: Vec<PersonRow> = people
            .iter()
            .map(|(e, p)| {
                let mut p = p.clone();
                if !moved && p.owner.is_some() && p.owner == live_before {
                    p.owner = cand_before.clone();
                }
                (e.clone(), p)
            })
            .collect();
        cand.write_people(&rows, names);
        let owner = if moved {
            names.rep_opt(a.owner.as_deref())
        } else {
            names.rep_opt(cand_before.as_deref())
        };
        cand.set_lead(
            key,
            View {
                owner,
                status: a.status,
                stage: a.stage,
            },
        );
        cand_before
    }

    /// The recorded world's state (fidelity: the only one).
    pub fn live_state(&self) -> &StateSnapshot {
        &self.live.state
    }

    pub fn candidate_state(&self) -> &StateSnapshot {
        self.cand.as_ref().map_or(&self.live.state, |c| &c.state)
    }
}

/// Carry a recorded change to a lead owned by `live` over to the world where `cand`
/// owns it: what the change did to the live owner's load (close, advance a stage) it
/// does to the candidate's; a move away from the live owner is a move away from the
/// candidate's. Rotations and other reps are left as recorded.
fn translate(
    effects: &[Effect],
    live: Option<&str>,
    cand: Option<&str>,
    moved: bool,
) -> Vec<Effect> {
    if live == cand {
        return effects.to_vec();
    }
    let is_live = |rep: &Text| live.is_some_and(|l| l == rep.as_str());
    let mut out = Vec::with_capacity(effects.len());
    for e in effects {
        let swap = |_: &Text| cand.map(Text::copy);
        match e {
            Effect::RemoveLoad { rep, stage } if is_live(rep) => {
                if let Some(c) = swap(rep) {
                    out.push(Effect::RemoveLoad {
                        rep: c,
                        stage: *stage,
                    });
                }
            }
            Effect::AddLoad { rep, stage } if is_live(rep) && !moved => {
                if let Some(c) = swap(rep) {
                    out.push(Effect::AddLoad {
                        rep: c,
                        stage: *stage,
                    });
                }
            }
            Effect::AddEarlyLoad { rep } if is_live(rep) && !moved => {
                if let Some(c) = swap(rep) {
                    out.push(Effect::AddEarlyLoad { rep: c });
                }
            }
            Effect::DisqualifyPerson {
                email,
                owner: Some(o),
                at,
                note,
            } if is_live(o) => out.push(Effect::DisqualifyPerson {
                email: email.clone(),
                owner: cand.map(Text::copy),
                at: *at,
                note: note.clone(),
            }),
            other => out.push(other.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_lead_closes_on_the_candidates_owner() {
        let effects = vec![
            Effect::RemoveLoad {
                rep: "ann".into(),
                stage: Stage::Early,
            },
            Effect::AddLoad {
                rep: "ann".into(),
                stage: Stage::Late,
            },
        ];
        let t = translate(&effects, Some("ann"), Some("bob"), false);
        assert_eq!(
            t,
            vec![
                Effect::RemoveLoad {
                    rep: "bob".into(),
                    stage: Stage::Early
                },
                Effect::AddLoad {
                    rep: "bob".into(),
                    stage: Stage::Late
                },
            ]
        );
        // Queued in the candidate's world: nothing to move.
        assert!(translate(&effects, Some("ann"), None, false).is_empty());
        // Same owner: as recorded.
        assert_eq!(
            translate(&effects, Some("ann"), Some("ann"), false),
            effects
        );
    }

    #[test]
    fn a_reassignment_moves_the_lead_away_from_the_candidates_owner() {
        let effects = vec![
            Effect::RemoveLoad {
                rep: "ann".into(),
                stage: Stage::Mid,
            },
            Effect::AddLoad {
                rep: "cy".into(),
                stage: Stage::Mid,
            },
        ];
        let t = translate(&effects, Some("ann"), Some("bob"), true);
        assert_eq!(
            t,
            vec![
                Effect::RemoveLoad {
                    rep: "bob".into(),
                    stage: Stage::Mid
                },
                Effect::AddLoad {
                    rep: "cy".into(),
                    stage: Stage::Mid
                },
            ]
        );
    }
}
