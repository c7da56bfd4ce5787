//! The engine's availability check and target resolution, asked outside a decision (the
//! console's reps page and its queue suggestion): the same code a decision runs, on the
//! caller's copy of the committed state, with no lead and no effects kept. A separate
//! entry point so the console never re-implements when a rep is available.

use super::{Ctx, LOCAL_INLINE, Outcome, RoutingInput, local_times};
use crate::config::{CompiledConfig, RepIdx, Target};
use crate::lead::Lead;
use crate::state::StateSnapshot;
use crate::trace::{Skip, Step};
use jiff::Timestamp;

/// Whether `rep` could be given a lead routed at `now`, checked as a decision checks a
/// team member (ASG-4/5: inactive, out of office, working hours when the rep's team
/// respects them, daily cap, capacity): `Ok`, or why not as the trace would say it.
pub fn rep_availability(
    cfg: &CompiledConfig,
    state: &StateSnapshot,
    now: Timestamp,
    rep: RepIdx,
) -> Result<(), Skip> {
    let lead = Lead::default();
    let (mut inline, mut heap) = ([None; LOCAL_INLINE], Vec::new());
    let input = RoutingInput::new(&lead, state, now);
    let mut cx = Ctx::new(cfg, input, 0, local_times(cfg, &mut inline, &mut heap));
    let hours = cx.respects_hours(rep);
    cx.check_rep(rep, hours, None).map_err(|m| cx.skip(rep, m))
}

/// Who routing would give a lead for `target` to at `now`: the rep (with the team whose
/// rotation chose them) or the queue it would overflow to, and the steps that led there
/// (team walks with each member's verdict, fallbacks).
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub rep: Option<RepIdx>,
    pub queue: Option<u32>,
    pub steps: Vec<Step>,
}

/// Resolve `target` as a decision would (rep → backup → team lead → team → overflow) on
/// `state`; the effects are dropped, so nothing about the state changes.
pub fn suggest(
    cfg: &CompiledConfig,
    state: &StateSnapshot,
    now: Timestamp,
    target: Target,
) -> Suggestion {
    let lead = Lead::default();
    let (mut inline, mut heap) = ([None; LOCAL_INLINE], Vec::new());
    let input = RoutingInput::new(&lead, state, now);
    let mut cx = Ctx::new(cfg, input, 4, local_times(cfg, &mut inline, &mut heap));
    let (rep, queue) = match cx.resolve(target, "suggested") {
        Outcome::Rep(r, _) => (Some(r), None),
        Outcome::Queue(q) => (None, Some(q)),
    };
    Suggestion {
        rep,
        queue,
        steps: std::mem::take(&mut cx.steps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Effect;
    use crate::text::Text;

    fn cfg() -> CompiledConfig {
        crate::config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/demo.toml"
        )))
        .expect("the demo config compiles")
    }

    /// The reps page and a decision agree: a rep marked out of office is unavailable with
    /// the same reason the trace gives, and a team suggestion passes over them.
    #[test]
    fn availability_and_suggestion_follow_the_decision_rules() {
        let cfg = cfg();
        let team = cfg
            .teams
            .iter()
            .position(|t| t.members.len() >= 2)
            .expect("a team with two members") as u32;
        let now: Timestamp = "2026-11-25T15:00:00Z".parse().unwrap();
        let mut state = StateSnapshot::default();
        let first = suggest(&cfg, &state, now, Target::Team(team));
        let Some(first_rep) = first.rep else {
            // Everyone may be outside hours at this instant; the queue is then named.
            assert!(first.queue.is_some());
            return;
        };
        assert_eq!(rep_availability(&cfg, &state, now, first_rep), Ok(()));
        state.apply(&[Effect::SetOutOfOffice {
            rep: Text::from(cfg.rep(first_rep).id.clone()),
            until: None,
            note: Some("holiday".into()),
        }]);
        let away = rep_availability(&cfg, &state, now, first_rep).unwrap_err();
        assert!(away.to_string().starts_with("out of office"), "{away}");
        let second = suggest(&cfg, &state, now, Target::Team(team));
        assert_ne!(second.rep, Some(first_rep), "{second:?}");
    }
}
