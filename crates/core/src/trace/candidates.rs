//! The candidates of a team walk: [`Candidates`] records the walk compactly while the
//! engine decides (indices, one-byte verdicts, figures) and makes [`Candidate`]s from it on
//! first read, outside the decision.

use super::{LocalTime, Skip};
use crate::text::Text;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Chosen,
    Skipped {
        skip: Skip,
    },
    /// Available, but another rep came first (rotation turn or lower load).
    Passed,
    /// Later in the rotation than the chosen rep; not examined.
    NotReached,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub rep: Text,
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<u64>,
}

/// The candidates of a team walk, in walk order.
///
/// The engine records a walk compactly: per member its index, a one-byte verdict and the
/// figures the verdict names (local time, daily count, load, pass), 32 bytes each, with
/// the rep texts and limits the verdicts need in a table shared with the config
/// ([`WalkTable`]). The [`Candidate`]s (ids, skip reasons with their texts) are made from
/// it on first read, outside the decision, and kept; a walk read back from JSON holds
/// them directly. It reads like a `Vec<Candidate>` (it derefs to a slice), and
/// serialises, compares and `Debug`-prints as one.
#[derive(Default)]
pub struct Candidates {
    walk: Option<Walk>,
    list: std::sync::OnceLock<Box<[Candidate]>>,
}

struct Walk {
    table: std::sync::Arc<WalkTable>,
    /// In walk order (a boxed slice: the walk is written once, with one entry a member).
    members: Box<[Walked]>,
    /// Out-of-office skips, which carry their own instant and note (`Walked::count`
    /// indexes them).
    away: Vec<Skip>,
}

/// Per rep (index = [`crate::config::RepIdx`]): what a recorded verdict needs to be
/// written out as the availability check saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WalkTable {
    pub reps: Vec<WalkRep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WalkRep {
    pub id: Text,
    /// The zone name and working hours as written (for "outside working hours").
    pub zone: Text,
    pub hours: Text,
    pub capacity: f64,
    pub daily_cap: u32,
}

/// One member's verdict in a compact walk (see [`Candidates`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walked {
    pub rep: crate::config::RepIdx,
    pub verdict: WalkVerdict,
    /// [`WalkVerdict::OutsideHours`]: the local weekday (Mon = 0) and minute.
    pub weekday: u8,
    pub minute: u16,
    /// [`WalkVerdict::DailyCap`]: the count; [`WalkVerdict::OutOfOffice`]: the index of
    /// the skip among the walk's out-of-office skips.
    pub count: u32,
    /// The rep's load: [`Candidate::load`] when `has_load`, and the load of
    /// [`WalkVerdict::AtCapacity`].
    pub load: f64,
    pub pass: u64,
    pub has_load: bool,
    pub has_pass: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkVerdict {
    Chosen,
    Passed,
    NotReached,
    Inactive,
    Excluded,
    OutOfOffice,
    OutsideHours,
    DailyCap,
    AtCapacity,
}

impl Walked {
    pub fn new(rep: crate::config::RepIdx, verdict: WalkVerdict) -> Walked {
        Walked {
            rep,
            verdict,
            weekday: 0,
            minute: 0,
            count: 0,
            load: 0.0,
            pass: 0,
            has_load: false,
            has_pass: false,
        }
    }
}

impl WalkTable {
    /// The skip reason of a recorded verdict; None for a rep that was not skipped.
    /// `away` holds the walk's out-of-office skips.
    pub fn skip(&self, w: &Walked, away: &[Skip]) -> Option<Skip> {
        let rep = &self.reps[w.rep as usize];
        Some(match w.verdict {
            WalkVerdict::Chosen | WalkVerdict::Passed | WalkVerdict::NotReached => return None,
            WalkVerdict::Inactive => Skip::Inactive,
            WalkVerdict::Excluded => Skip::Excluded,
            WalkVerdict::OutOfOffice => away.get(w.count as usize)?.clone(),
            WalkVerdict::OutsideHours => Skip::OutsideHours {
                local_time: LocalTime::new(w.weekday as usize, w.minute, rep.zone.clone()),
                hours: rep.hours.clone(),
            },
            WalkVerdict::DailyCap => Skip::DailyCap {
                count: w.count,
                cap: rep.daily_cap,
            },
            WalkVerdict::AtCapacity => Skip::AtCapacity {
                load: w.load,
                capacity: rep.capacity,
            },
        })
    }

    /// The verdict as the trace writes it.
    pub fn verdict(&self, w: &Walked, away: &[Skip]) -> Verdict {
        match w.verdict {
            WalkVerdict::Chosen => Verdict::Chosen,
            WalkVerdict::Passed => Verdict::Passed,
            WalkVerdict::NotReached => Verdict::NotReached,
            _ => match self.skip(w, away) {
                Some(skip) => Verdict::Skipped { skip },
                None => Verdict::NotReached,
            },
        }
    }

    pub fn candidate(&self, w: &Walked, away: &[Skip]) -> Candidate {
        Candidate {
            rep: self.reps[w.rep as usize].id.clone(),
            verdict: self.verdict(w, away),
            load: w.has_load.then_some(w.load),
            pass: w.has_pass.then_some(w.pass),
        }
    }
}

impl Candidates {
    /// A walk recorded by the engine: `away` are the out-of-office skips its verdicts
    /// index.
    pub fn walk(table: std::sync::Arc<WalkTable>, members: Vec<Walked>, away: Vec<Skip>) -> Self {
        Candidates {
            walk: Some(Walk {
                table,
                members: members.into_boxed_slice(),
                away,
            }),
            list: std::sync::OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.walk {
            Some(w) => w.members.len(),
            None => self.list.get().map_or(0, |l| l.len()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The candidates, made from the compact walk on first call.
    pub fn as_slice(&self) -> &[Candidate] {
        self.list.get_or_init(|| match &self.walk {
            Some(w) => w
                .members
                .iter()
                .map(|m| w.table.candidate(m, &w.away))
                .collect(),
            None => Box::default(),
        })
    }
}

impl From<Vec<Candidate>> for Candidates {
    fn from(list: Vec<Candidate>) -> Self {
        Candidates {
            walk: None,
            list: std::sync::OnceLock::from(list.into_boxed_slice()),
        }
    }
}

impl FromIterator<Candidate> for Candidates {
    fn from_iter<I: IntoIterator<Item = Candidate>>(it: I) -> Self {
        Candidates::from(it.into_iter().collect::<Vec<_>>())
    }
}

impl std::ops::Deref for Candidates {
    type Target = [Candidate];
    fn deref(&self) -> &[Candidate] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Candidates {
    type Item = &'a Candidate;
    type IntoIter = std::slice::Iter<'a, Candidate>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl Clone for Candidates {
    fn clone(&self) -> Self {
        match &self.walk {
            Some(w) => Candidates {
                walk: Some(Walk {
                    table: w.table.clone(),
                    members: w.members.clone(),
                    away: w.away.clone(),
                }),
                list: self.list.clone(),
            },
            None => Candidates::from(self.as_slice().to_vec()),
        }
    }
}

impl PartialEq for Candidates {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for Candidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl Serialize for Candidates {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Candidates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Candidate>::deserialize(d).map(Candidates::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{LocalTime, Skip};

    #[test]
    fn compact_walk_reads_as_its_candidates() {
        let rep = |id: &'static str, cap: f64| WalkRep {
            id: id.into(),
            zone: "Asia/Singapore".into(),
            hours: "Mon-Fri 09:00-18:00".into(),
            capacity: cap,
            daily_cap: 12,
        };
        let table = std::sync::Arc::new(WalkTable {
            reps: vec![rep("ana", 20.0), rep("bo", 8.5)],
        });
        let with = |mut w: Walked, f: &dyn Fn(&mut Walked)| {
            f(&mut w);
            w
        };
        let away = Skip::OutOfOffice {
            until: Some("2026-11-28T00:00:00Z".parse().unwrap()),
            note: Some("Thanksgiving week".into()),
        };
        let members = vec![
            with(Walked::new(1, WalkVerdict::OutsideHours), &|w| {
                (w.weekday, w.minute, w.pass, w.has_pass) = (6, 5, 7, true)
            }),
            with(Walked::new(0, WalkVerdict::DailyCap), &|w| w.count = 12),
            with(Walked::new(1, WalkVerdict::AtCapacity), &|w| {
                (w.load, w.has_load) = (9.25, true)
            }),
            Walked::new(0, WalkVerdict::OutOfOffice),
            Walked::new(1, WalkVerdict::Inactive),
            Walked::new(1, WalkVerdict::Excluded),
            Walked::new(0, WalkVerdict::Chosen),
            with(Walked::new(1, WalkVerdict::Passed), &|w| {
                (w.load, w.has_load) = (0.5, true)
            }),
            Walked::new(0, WalkVerdict::NotReached),
        ];
        let skipped = |skip| Verdict::Skipped { skip };
        let c = |rep: &'static str, verdict, load, pass| Candidate {
            rep: rep.into(),
            verdict,
            load,
            pass,
        };
        let expected = vec![
            c(
                "bo",
                skipped(Skip::OutsideHours {
                    local_time: LocalTime::new(6, 5, "Asia/Singapore".into()),
                    hours: "Mon-Fri 09:00-18:00".into(),
                }),
                None,
                Some(7),
            ),
            c(
                "ana",
                skipped(Skip::DailyCap { count: 12, cap: 12 }),
                None,
                None,
            ),
            c(
                "bo",
                skipped(Skip::AtCapacity {
                    load: 9.25,
                    capacity: 8.5,
                }),
                Some(9.25),
                None,
            ),
            c("ana", skipped(away.clone()), None, None),
            c("bo", skipped(Skip::Inactive), None, None),
            c("bo", skipped(Skip::Excluded), None, None),
            c("ana", Verdict::Chosen, None, None),
            c("bo", Verdict::Passed, Some(0.5), None),
            c("ana", Verdict::NotReached, None, None),
        ];
        let walk = Candidates::walk(table, members, vec![away]);
        assert_eq!(walk.len(), expected.len());
        let copy = walk.clone();
        assert_eq!(&*walk, &expected[..]);
        assert_eq!(copy, Candidates::from(expected.clone()));
        assert_eq!(format!("{walk:?}"), format!("{expected:?}"));
        let json = serde_json::to_string(&copy).unwrap();
        assert_eq!(json, serde_json::to_string(&expected).unwrap());
        let back: Candidates = serde_json::from_str(&json).unwrap();
        assert_eq!(back, walk);
        assert_eq!(back.iter().count(), back.len());
    }
}
