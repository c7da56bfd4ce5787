//! Hold for the owner (`[routing] hold_for_owner_within`): a named-account lead that
//! arrives while its owner is off shift waits for them, instead of going to whoever is
//! on, when their next working window starts within the configured delay. Only working
//! hours may stand in the way: an owner who is away, inactive, excluded, capped or full
//! is not waited for. The SLA clock then starts at that window.

use super::{Ctx, Miss, Outcome};
use crate::config::{RepIdx, WorkingHours};
use crate::trace::*;
use jiff::{SignedDuration, Timestamp};

const DAY: u32 = 24 * 60;

/// Minutes from (`weekday`, `minute`) to the start of the next working window, looking a
/// week ahead; None without any window.
pub(crate) fn minutes_to_next_window(wh: &WorkingHours, weekday: u8, minute: u16) -> Option<u32> {
    let now = minute as u32;
    (0..8u32)
        .flat_map(|d| {
            let wd = (weekday as usize + d as usize) % 7;
            wh.days[wd]
                .iter()
                .map(move |&(start, _)| d * DAY + start as u32)
        })
        .filter(|&at| at > now)
        .map(|at| at - now)
        .min()
}

impl Ctx<'_> {
    /// The owner, held for, when holding applies; None to route as usual.
    pub(super) fn hold_for_owner(&mut self, owner: RepIdx) -> Option<Outcome> {
        let cfg = self.cfg;
        let within = cfg.routing.hold_for_owner_within?;
        let rep = cfg.rep(owner);
        let wh = rep.working_hours.as_ref()?;
        let Err(Miss::Hours { weekday, minute }) = self.check_rep(owner, true, None) else {
            return None;
        };
        // Off shift is the only reason: without the hours they would take it.
        self.check_rep(owner, false, None).ok()?;
        let wait = minutes_to_next_window(wh, weekday, minute)?;
        let now = self.input.now;
        // From the start of the current minute (the local minute is whole).
        let seconds_in = now.as_second().rem_euclid(60);
        let opens = now
            .checked_add(SignedDuration::from_secs(wait as i64 * 60 - seconds_in))
            .ok()?;
        if opens.duration_since(now) > within {
            return None;
        }
        self.hold(owner, opens, within);
        Some(Outcome::Rep(owner, None))
    }

    fn hold(&mut self, owner: RepIdx, opens: Timestamp, within: SignedDuration) {
        let cfg = self.cfg;
        let rep = cfg.rep(owner);
        let local = opens.to_zoned(rep.tz.clone());
        let when = format!("{} {} ({})", local.strftime("%a %H:%M"), rep.tz_name, opens);
        self.steps.push(Step::Rep {
            rep: cfg.text.rep_id[owner as usize].clone(),
            role: format!("account owner, held until their working hours start at {when}").into(),
            verdict: Verdict::Chosen,
        });
        self.notes.push(format!(
            "Held for the account owner {}: off shift now, back at {when}, within the {} hold ([routing] hold_for_owner_within); the contact SLA starts then.",
            rep.id,
            jiff::Span::try_from(within)
                .map(|s| format!("{s:#}"))
                .unwrap_or_else(|_| format!("{within:?}"))
        ));
        self.sla_from = Some(opens);
        self.assign_effects(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_window_wraps_over_the_weekend() {
        let mut wh = WorkingHours::default();
        for d in 0..5 {
            wh.days[d] = vec![(9 * 60, 17 * 60)];
        }
        // Monday 08:00 → 60 minutes; Monday 12:00 → Tuesday 09:00.
        assert_eq!(minutes_to_next_window(&wh, 0, 8 * 60), Some(60));
        assert_eq!(minutes_to_next_window(&wh, 0, 12 * 60), Some(21 * 60));
        // Friday 18:00 → Monday 09:00: 63 hours.
        assert_eq!(minutes_to_next_window(&wh, 4, 18 * 60), Some(63 * 60));
        assert_eq!(minutes_to_next_window(&WorkingHours::default(), 0, 0), None);
    }
}
