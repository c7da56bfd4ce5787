//! Picking a member of a team (ASG-2, ASG-4): round-robin and weighted round-robin by
//! stride scheduling (the lowest effective pass takes the lead), least-loaded by load
//! then rotation or member order. Every member's verdict goes into the trace as a
//! compact walk.

use super::Ctx;
use crate::config::{Method, RepIdx, STRIDE_SCALE, TeamIdx, Tiebreaker};
use crate::state::{Effect, turn_pass};
use crate::text::Text;
use crate::trace::*;

impl<'a> Ctx<'a> {
    /// ASG-2 / ASG-4: pick a member of a team by its method.
    pub(super) fn pick_from_team(&mut self, t: TeamIdx) -> Option<RepIdx> {
        let cfg = self.cfg;
        let team = cfg.team(t);
        let rotations = &self.input.state.rotations;
        let by_team = rotations.by_index(&cfg.text.teams);
        let (rotation, vt) = match by_team {
            Some(by_team) => (None, by_team[t as usize].as_ref().map(|r| r.virtual_time)),
            None => {
                let rotation = rotations.get(&team.id);
                (rotation, rotation.map(|r| r.virtual_time))
            }
        };
        let vt = vt.unwrap_or(0);
        let stride = |r: RepIdx| match team.method {
            Method::RoundRobin => STRIDE_SCALE / 1000,
            _ => cfg.rep(r).stride,
        };
        // Effective pass: a rep new to the rotation, or back from time away, starts at the
        // team's clock — no reset for others, no catch-up burst for them.
        let effective = |pass: u64| turn_pass(Some(pass), vt);
        // SLA reassignment away from a member of this team: their position in it.
        let leaving = self.input.reassign_from.and_then(|id| {
            let r = *cfg.rep_by_id.get(id)?;
            team.members.iter().position(|&m| m == r)
        });
        let round_robin = matches!(team.method, Method::RoundRobin | Method::WeightedRoundRobin);
        // (pass, position, rep) per member, on the stack for teams of up to 64.
        let n = team.members.len();
        let mut inline = [Turn(0); 64];
        let mut heap = Vec::new();
        let order: &mut [Turn] = if n <= inline.len() {
            &mut inline[..n]
        } else {
            heap.resize(n, Turn(0));
            &mut heap
        };
        let indexed = by_team.map(|b| b[t as usize].as_ref());
        // `ready`: the turns hold every member's pass, in turn order for a round-robin
        // walk — read from the rotations' index, which keeps each team's order, or all at
        // the clock when the team has no rotation yet. Otherwise the passes are read below
        // and a round-robin walk sorts the team. Least-loaded walks in member order.
        let ready = match indexed {
            Some(Some(rot)) if round_robin && rot.turns.len() == n => {
                for (slot, &(pass, pos)) in order.iter_mut().zip(&rot.turns) {
                    *slot = Turn::new(pass, pos as usize, team.members[pos as usize]);
                }
                true
            }
            _ => {
                for (slot, (pos, &r)) in order.iter_mut().zip(team.members.iter().enumerate()) {
                    *slot = Turn::new(vt, pos, r);
                }
                matches!(indexed, Some(None))
            }
        };
        // The members' passes when not ready: from the rotations' index by team
        // and member position, else read from the rotation (keyed by rep id) in one
        // ordered pass over both when that is cheaper than a lookup per member.
        match indexed {
            _ if ready => {}
            Some(Some(rot)) => {
                for (slot, p) in order.iter_mut().zip(&rot.passes) {
                    if let Some(p) = p {
                        slot.set_pass(effective(*p));
                    }
                }
            }
            Some(None) => {}
            None => {
                if let Some(rot) = rotation.filter(|r| !r.passes.is_empty()) {
                    let slots = &mut *order;
                    if rot.passes.len() <= 4 * slots.len() {
                        let mut entries = rot.passes.iter().peekable();
                        for &pos in &cfg.text.team_members_by_id[t as usize] {
                            let slot = &mut slots[pos];
                            let id = cfg.text.rep_id[slot.rep() as usize].as_str();
                            while entries.next_if(|(k, _)| k.as_str() < id).is_some() {}
                            if let Some((k, p)) = entries.peek()
                                && k.as_str() == id
                            {
                                slot.set_pass(effective(**p));
                            }
                        }
                    } else {
                        for slot in slots.iter_mut() {
                            if let Some(p) = rot
                                .passes
                                .get(cfg.text.rep_id[slot.rep() as usize].as_str())
                            {
                                slot.set_pass(effective(*p));
                            }
                        }
                    }
                }
            }
        }
        let mut candidates: Vec<Walked> = Vec::with_capacity(n);
        let mut away = Vec::new();
        let mut chosen: Option<(RepIdx, u64)> = None;
        match team.method {
            Method::RoundRobin | Method::WeightedRoundRobin => {
                match leaving {
                    // An SLA reassignment inside the owner's team: the members after the
                    // owner, in team order, wrapping round (the owner last, excluded).
                    Some(from) => order.sort_by_key(|t| (t.pos() + n - from - 1) % n),
                    None if !ready => sort_turns(order, &team.members),
                    None => {}
                }
                for &turn in order.iter() {
                    let (pass, r) = (turn.pass(), turn.rep());
                    let mut w = if chosen.is_some() {
                        Walked::new(r, WalkVerdict::NotReached)
                    } else {
                        let res = self.check_rep(r, team.respect_working_hours, None);
                        if res.is_ok() {
                            chosen = Some((r, pass));
                        }
                        self.walked(r, res, &mut away)
                    };
                    (w.pass, w.has_pass) = (pass, true);
                    candidates.push(w);
                }
            }
            Method::LeastLoaded => {
                // Every member gets a verdict in member order; the chosen one (or ones, if
                // listed twice) is marked once the least loaded is known.
                let mut best: Option<(f64, u64, usize, RepIdx)> = None;
                for &turn in order.iter() {
                    let (pass, pos, r) = (turn.pass(), turn.pos(), turn.rep());
                    let load = self.load(r);
                    let res = self.check_rep(r, team.respect_working_hours, Some(load));
                    if res.is_ok() {
                        let key_pass = match team.tiebreaker {
                            Tiebreaker::Rotation => pass,
                            Tiebreaker::RepOrder => 0,
                        };
                        let better = match best {
                            None => true,
                            Some((bl, bp, bpos, _)) => (load, key_pass, pos) < (bl, bp, bpos),
                        };
                        if better {
                            best = Some((load, key_pass, pos, r));
                        }
                    }
                    let mut w = self.walked(r, res, &mut away);
                    if w.verdict == WalkVerdict::Chosen {
                        w.verdict = WalkVerdict::Passed;
                    }
                    (w.load, w.has_load) = (load, true);
                    (w.pass, w.has_pass) = (pass, true);
                    candidates.push(w);
                }
                if let Some((_, _, _, r)) = best {
                    let pass = order
                        .iter()
                        .find(|x| x.rep() == r)
                        .map(|x| x.pass())
                        .unwrap_or(vt);
                    chosen = Some((r, pass));
                    for (c, o) in candidates.iter_mut().zip(order.iter()) {
                        if o.rep() == r && c.verdict == WalkVerdict::Passed {
                            c.verdict = WalkVerdict::Chosen;
                        }
                    }
                }
            }
        }
        self.steps.push(Step::Team {
            team: cfg.text.team_id[t as usize].clone(),
            method: Text::from_static(team.method.name()),
            candidates: Candidates::walk(cfg.text.walk.clone(), candidates, away),
        });
        let (rep, pass) = chosen?;
        if let Some(from) = leaving {
            self.notes.push(format!(
                "SLA reassignment: team {} walked from the member after {}; its rotation is unchanged",
                team.id,
                cfg.rep(team.members[from]).id
            ));
            self.assign_effects(rep);
            return Some(rep);
        }
        self.effects.push(Effect::AdvanceRotation {
            team: cfg.text.team_id[t as usize].clone(),
            rep: cfg.text.rep_id[rep as usize].clone(),
            pass: pass.saturating_add(stride(rep)),
            virtual_time: pass,
        });
        self.assign_effects(rep);
        Some(rep)
    }
}

/// A member's turn in a team walk: (pass, position in the team, rep) in one integer, so
/// sorting by it is sorting by the triple (one comparison instead of three).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Turn(u128);

impl Turn {
    fn new(pass: u64, pos: usize, rep: RepIdx) -> Turn {
        Turn((pass as u128) << 64 | (pos as u128 & 0xffff_ffff) << 32 | rep as u128)
    }
    fn pass(self) -> u64 {
        (self.0 >> 64) as u64
    }
    fn pos(self) -> usize {
        (self.0 >> 32) as u32 as usize
    }
    fn rep(self) -> RepIdx {
        self.0 as u32
    }
    fn set_pass(&mut self, pass: u64) {
        *self = Turn::new(pass, self.pos(), self.rep());
    }
}

/// Sort a team's turns by (pass, position): by a 64-bit key (pass relative to the
/// least, position) when the passes are close enough for one, which halves the work of
/// the comparisons and moves; else by the 128-bit turns. Positions are unique, so both
/// give the same order.
fn sort_turns(order: &mut [Turn], members: &[RepIdx]) {
    const POS_BITS: u32 = 16;
    if order.len() < 2 {
        return;
    }
    let (lo, hi) = order.iter().fold((u64::MAX, 0), |(lo, hi), t| {
        (lo.min(t.pass()), hi.max(t.pass()))
    });
    if order.len() > 32 || order.len() > 1 << POS_BITS || hi - lo >= 1 << (64 - POS_BITS) {
        sort_small(order);
        return;
    }
    let mut keys = [0u64; 32];
    let keys = &mut keys[..order.len()];
    for (k, t) in keys.iter_mut().zip(order.iter()) {
        *k = (t.pass() - lo) << POS_BITS | t.pos() as u64;
    }
    sort_small(keys);
    for (t, k) in order.iter_mut().zip(keys.iter()) {
        let pos = (k & ((1 << POS_BITS) - 1)) as usize;
        *t = Turn::new(lo + (k >> POS_BITS), pos, members[pos]);
    }
}

/// Sort a short list in place (insertion sort: no set-up, and the rotation order is
/// often nearly sorted already); the result is `sort_unstable`'s for a total order.
fn sort_small<T: Ord + Copy>(v: &mut [T]) {
    if v.len() > 32 {
        v.sort_unstable();
        return;
    }
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_small_sorts() {
        let mut seed = 7u64;
        for n in [0, 1, 2, 5, 20, 32, 33, 70] {
            let mut v: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((seed >> 60) % 4, i)
                })
                .collect();
            let mut w = v.clone();
            sort_small(&mut v);
            w.sort_unstable();
            assert_eq!(v, w);
        }
    }

    #[test]
    fn sort_turns_is_a_sort_of_the_turns() {
        let members: Vec<RepIdx> = (0..40).map(|i| (i * 7 % 41) as RepIdx).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for case in 0..1000 {
            let n = case % 41;
            // Equal passes, close ones, spreads near and past what the 64-bit key holds.
            let spread = [0u64, 3, 1 << 40, (1 << 48) - 1, 1 << 48, u64::MAX / 4][case % 6];
            let base = 1u64 << 20;
            let mut turns: Vec<Turn> = (0..n)
                .map(|pos| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let pass = base + if spread == 0 { 0 } else { (seed >> 1) % spread };
                    Turn::new(pass, pos, members[pos])
                })
                .collect();
            let mut want = turns.clone();
            want.sort_unstable();
            sort_turns(&mut turns, &members);
            assert!(turns == want, "case {case}: n {n}, spread {spread}");
        }
    }
}
