//! What the engine must remember between leads, as a snapshot going in and effects coming
//! out. The caller commits the effects in the same transaction as the assignment, so the
//! engine itself stays a pure function. `StateSnapshot::apply` is the reference semantics
//! of every effect; stores implement the same thing in SQL.
//!
//! Per-rep figures (loads, daily counts) are kept by rep id in a [`RepMap`], which also
//! keeps a copy of them by the compiled config's rep index, built on first use: a team
//! walk then reads one array slot per member instead of searching a tree of id strings.
//! The copy is derived data only. Any mutable access to the map drops it, and
//! [`StateSnapshot::apply`] updates it in place, so it can never disagree with the map.

mod effect;
mod effect_de;

use crate::text::Text;
use jiff::Timestamp;
use jiff::civil::Date;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

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
    pub rotations: RotationMap,
    #[serde(default)]
    pub loads: RepMap<RepLoad>,
    #[serde(default)]
    pub daily: RepMap<DailyCount>,
    #[serde(default)]
    pub availability: RepMap<AvailabilityOverride>,
    /// Known people by normalised email; the caller usually passes only the one person.
    #[serde(default)]
    pub people: PeopleMap,
}

pub use effect::Effect;

/// Known people by normalised email: a `BTreeMap<String, PriorPerson>` to read and write
/// (it derefs to one, and serialises, compares and prints as one). When it holds more
/// than [`PeopleMap::INDEX_MIN`] people, [`PeopleMap::person`] builds a hash index on
/// first use, so a lookup is one probe instead of a walk over many email strings. The
/// index is kept in step by [`PeopleMap::insert`] and [`PeopleMap::get_mut`] (which hands
/// that one email back to the map) and dropped by any other mutable access.
#[derive(Default)]
pub struct PeopleMap {
    map: BTreeMap<String, PriorPerson>,
    /// None: not indexed (few people). Some: every email of the map, with a copy of the
    /// person, or None when the map's entry may have changed since (read the map).
    index: OnceLock<Option<FxHashMap<Box<str>, Option<PriorPerson>>>>,
}

impl PeopleMap {
    /// Fewer people than this are looked up in the map directly.
    pub const INDEX_MIN: usize = 64;

    /// The person known by this normalised email.
    pub fn person(&self, email: &str) -> Option<&PriorPerson> {
        let index = self.index.get_or_init(|| {
            (self.map.len() >= Self::INDEX_MIN).then(|| {
                self.map
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), Some(v.clone())))
                    .collect()
            })
        });
        match index {
            Some(index) => match index.get(email)? {
                Some(p) => Some(p),
                None => self.map.get(email),
            },
            None => self.map.get(email),
        }
    }

    /// As `BTreeMap::insert`, keeping the index in step.
    pub fn insert(&mut self, email: String, person: PriorPerson) -> Option<PriorPerson> {
        if let Some(Some(index)) = self.index.get_mut() {
            index.insert(email.as_str().into(), Some(person.clone()));
        }
        self.map.insert(email, person)
    }

    /// As `BTreeMap::get_mut`; the index then reads this email from the map.
    pub fn get_mut(&mut self, email: &str) -> Option<&mut PriorPerson> {
        if let Some(Some(index)) = self.index.get_mut()
            && let Some(slot) = index.get_mut(email)
        {
            *slot = None;
        }
        self.map.get_mut(email)
    }

    pub fn into_inner(self) -> BTreeMap<String, PriorPerson> {
        self.map
    }
}

impl std::ops::Deref for PeopleMap {
    type Target = BTreeMap<String, PriorPerson>;
    fn deref(&self) -> &BTreeMap<String, PriorPerson> {
        &self.map
    }
}

impl std::ops::DerefMut for PeopleMap {
    /// Any other change made through the map drops the index.
    fn deref_mut(&mut self) -> &mut BTreeMap<String, PriorPerson> {
        self.index = OnceLock::new();
        &mut self.map
    }
}

impl Clone for PeopleMap {
    fn clone(&self) -> Self {
        PeopleMap::from(self.map.clone())
    }
}

impl From<BTreeMap<String, PriorPerson>> for PeopleMap {
    fn from(map: BTreeMap<String, PriorPerson>) -> Self {
        PeopleMap {
            map,
            index: OnceLock::new(),
        }
    }
}

impl FromIterator<(String, PriorPerson)> for PeopleMap {
    fn from_iter<I: IntoIterator<Item = (String, PriorPerson)>>(iter: I) -> Self {
        PeopleMap::from(BTreeMap::from_iter(iter))
    }
}

impl IntoIterator for PeopleMap {
    type Item = (String, PriorPerson);
    type IntoIter = std::collections::btree_map::IntoIter<String, PriorPerson>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter()
    }
}

impl<'a> IntoIterator for &'a PeopleMap {
    type Item = (&'a String, &'a PriorPerson);
    type IntoIter = std::collections::btree_map::Iter<'a, String, PriorPerson>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl PartialEq for PeopleMap {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl Eq for PeopleMap {}

impl std::fmt::Debug for PeopleMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map.fmt(f)
    }
}

impl Serialize for PeopleMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PeopleMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(d).map(PeopleMap::from)
    }
}

/// The reps of one compiled config, for indexing per-rep state by [`crate::config::RepIdx`]: their
/// ids (index = `RepIdx`), the indices in id order, and id → index. Shared by reference
/// count; an [`IndexedMap`]'s index remembers the table it was built for and is used
/// only with that same table.
#[derive(Debug, Default)]
pub struct RepTable {
    ids: Box<[Text]>,
    by_id_order: Box<[u32]>,
    by_id: FxHashMap<Text, u32>,
}

impl RepTable {
    /// `ids` are unique (as a compiled config's rep or team ids are).
    pub fn new(ids: &[Text]) -> RepTable {
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        order.sort_by(|a, b| ids[*a as usize].cmp(&ids[*b as usize]));
        RepTable {
            by_id: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect(),
            ids: ids.into(),
            by_id_order: order.into(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The teams of one compiled config and their members' ids, for indexing rotations by
/// [`crate::config::TeamIdx`] and member position.
#[derive(Debug, Default)]
pub struct TeamTable {
    teams: RepTable,
    /// Per team: member ids by position in the team's member list.
    members: Box<[Box<[Text]>]>,
    /// Per team: positions in the member list in the order of the members' ids.
    members_by_id: Box<[Box<[usize]>]>,
}

impl TeamTable {
    /// `members[t]` are team `t`'s member ids in member order; `members_by_id[t]` the
    /// positions in id order.
    pub fn new(ids: &[Text], members: Vec<Box<[Text]>>, members_by_id: Vec<Box<[usize]>>) -> Self {
        TeamTable {
            teams: RepTable::new(ids),
            members: members.into(),
            members_by_id: members_by_id.into(),
        }
    }
}

/// A team's rotation by member position (see [`Rotation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationByMember {
    pub virtual_time: u64,
    /// Per member position: the member's pass, if the rotation has one.
    pub passes: Box<[Option<u64>]>,
    /// The members' turns in round-robin order: (pass as the walk counts it, see
    /// [`turn_pass`], member position), ascending. Kept with the index so that a team
    /// walk reads its order instead of sorting the team on every decision.
    pub turns: Box<[(u64, u32)]>,
}

/// The pass a member's turn is ordered by at the team's clock `virtual_time`: a member
/// new to the rotation starts at the clock, and one whose pass fell behind it (skipped
/// while away) just after it, so whoever is due at the clock goes first and a returning
/// member gets no catch-up burst (ASG-4).
pub fn turn_pass(pass: Option<u64>, virtual_time: u64) -> u64 {
    match pass {
        None => virtual_time,
        Some(p) if p >= virtual_time => p,
        Some(_) => virtual_time.saturating_add(1),
    }
}

impl RotationByMember {
    fn of(r: &Rotation, members: &[Text], by_id: &[usize]) -> Self {
        let mut passes: Box<[Option<u64>]> = vec![None; members.len()].into();
        // Both in id order: one merge (a member listed twice gets the pass twice).
        let mut entries = r.passes.iter().peekable();
        for &pos in by_id {
            let id = members[pos].as_str();
            while entries.next_if(|(k, _)| k.as_str() < id).is_some() {}
            if let Some((k, p)) = entries.peek()
                && k.as_str() == id
            {
                passes[pos] = Some(**p);
            }
        }
        let vt = r.virtual_time;
        let mut turns: Box<[(u64, u32)]> = passes
            .iter()
            .enumerate()
            .map(|(pos, p)| (turn_pass(*p, vt), pos as u32))
            .collect();
        // Positions are unique: a total order, the same as a stable sort by pass.
        turns.sort_unstable();
        RotationByMember {
            virtual_time: vt,
            passes,
            turns,
        }
    }
}

/// How an [`IndexedMap`] keyed by id is laid out by index for one config.
pub trait Indexing<V> {
    type Slot: Clone;
    /// One slot per index, from the map (in id order).
    fn build(&self, map: &BTreeMap<String, V>) -> Box<[Self::Slot]>;
    /// The index of `key` and its slot as the map now has it; None for an unknown key.
    fn slot(&self, map: &BTreeMap<String, V>, key: &str) -> Option<(usize, Self::Slot)>;
}

impl RepTable {
    /// One slot per rep from a map by rep id: `f` of the value under each rep's id.
    fn slots<'a, V, S: Clone>(
        &self,
        map: &'a BTreeMap<String, V>,
        none: S,
        f: impl Fn(&'a V) -> S,
    ) -> Box<[S]> {
        let mut slots: Box<[S]> = vec![none; self.len()].into();
        // Both sides in id order: one merge, no lookups.
        let mut entries = map.iter().peekable();
        for &r in &self.by_id_order {
            let id = self.ids[r as usize].as_str();
            while entries.next_if(|(k, _)| k.as_str() < id).is_some() {}
            if let Some((k, v)) = entries.peek()
                && k.as_str() == id
            {
                slots[r as usize] = f(v);
            }
        }
        slots
    }
}

/// Small per-rep values (loads, daily counts) are held in their slots.
macro_rules! inline_slots {
    ($($v:ty),*) => {$(
        impl Indexing<$v> for RepTable {
            type Slot = Option<$v>;

            fn build(&self, map: &BTreeMap<String, $v>) -> Box<[Option<$v>]> {
                self.slots(map, None, |v| Some(v.clone()))
            }

            fn slot(&self, map: &BTreeMap<String, $v>, key: &str) -> Option<(usize, Option<$v>)> {
                let r = *self.by_id.get(key)? as usize;
                Some((r, map.get(key).cloned()))
            }
        }
    )*};
}
inline_slots!(RepLoad, DailyCount);

/// Availability overrides are few and larger: a slot points to a copy, so the slots of
/// the reps without one stay small and close together.
impl Indexing<AvailabilityOverride> for RepTable {
    type Slot = Option<Box<AvailabilityOverride>>;

    fn build(&self, map: &BTreeMap<String, AvailabilityOverride>) -> Box<[Self::Slot]> {
        self.slots(map, None, |v| Some(Box::new(v.clone())))
    }

    fn slot(
        &self,
        map: &BTreeMap<String, AvailabilityOverride>,
        key: &str,
    ) -> Option<(usize, Self::Slot)> {
        let r = *self.by_id.get(key)? as usize;
        Some((r, map.get(key).cloned().map(Box::new)))
    }
}

impl Indexing<Rotation> for TeamTable {
    type Slot = Option<RotationByMember>;

    fn build(&self, map: &BTreeMap<String, Rotation>) -> Box<[Self::Slot]> {
        let by_team = self.teams.slots(map, None, Some);
        by_team
            .iter()
            .enumerate()
            .map(|(t, r)| {
                r.map(|r| RotationByMember::of(r, &self.members[t], &self.members_by_id[t]))
            })
            .collect()
    }

    fn slot(&self, map: &BTreeMap<String, Rotation>, key: &str) -> Option<(usize, Self::Slot)> {
        let t = *self.teams.by_id.get(key)? as usize;
        let r = map
            .get(key)
            .map(|r| RotationByMember::of(r, &self.members[t], &self.members_by_id[t]));
        Some((t, r))
    }
}

/// Per-rep state by rep id, with an index by [`crate::config::RepIdx`].
pub type RepMap<V> = IndexedMap<V, RepTable>;
/// Rotations by team id, with an index by team and member position.
pub type RotationMap = IndexedMap<Rotation, TeamTable>;

/// A map by id (a `BTreeMap<String, V>` to read and write: it derefs to one, and
/// serialises, compares and prints as one) that also holds, once asked for it with a
/// config's table, the same values by that config's index.
pub struct IndexedMap<V, T: Indexing<V>> {
    map: BTreeMap<String, V>,
    index: OnceLock<MapIndex<T::Slot, T>>,
}

struct MapIndex<S, T> {
    table: Arc<T>,
    slots: Box<[S]>,
    /// Asked for with another table (the config was reloaded): the next change drops
    /// this index so that the next read builds one for the config in use.
    other_table_seen: AtomicBool,
}

impl<V, T: Indexing<V>> IndexedMap<V, T> {
    /// The values by the index of `table`'s config (built on first use; None when it
    /// was built for another config's table — then read the map by id).
    pub fn by_index(&self, table: &Arc<T>) -> Option<&[T::Slot]> {
        let index = self.index.get_or_init(|| MapIndex {
            table: table.clone(),
            slots: table.build(&self.map),
            other_table_seen: AtomicBool::new(false),
        });
        if Arc::ptr_eq(&index.table, table) {
            Some(&index.slots[..])
        } else {
            index.other_table_seen.store(true, Ordering::Relaxed);
            None
        }
    }

    /// Change the value under `key` (through its entry) and keep the index in step.
    fn update(
        &mut self,
        key: &str,
        f: impl FnOnce(std::collections::btree_map::Entry<'_, String, V>),
    ) {
        f(self.map.entry(key.to_string()));
        match self.index.get_mut() {
            Some(index) if index.other_table_seen.load(Ordering::Relaxed) => {
                self.index = OnceLock::new()
            }
            Some(index) => {
                if let Some((i, slot)) = index.table.slot(&self.map, key) {
                    index.slots[i] = slot;
                }
            }
            None => {}
        }
    }

    pub fn into_inner(self) -> BTreeMap<String, V> {
        self.map
    }
}

impl<V, T: Indexing<V>> std::ops::Deref for IndexedMap<V, T> {
    type Target = BTreeMap<String, V>;
    fn deref(&self) -> &BTreeMap<String, V> {
        &self.map
    }
}

impl<V, T: Indexing<V>> std::ops::DerefMut for IndexedMap<V, T> {
    /// Any change made through the map drops the index (it is rebuilt when next used).
    fn deref_mut(&mut self) -> &mut BTreeMap<String, V> {
        self.index = OnceLock::new();
        &mut self.map
    }
}

impl<V, T: Indexing<V>> Default for IndexedMap<V, T> {
    fn default() -> Self {
        IndexedMap {
            map: BTreeMap::new(),
            index: OnceLock::new(),
        }
    }
}

impl<V: Clone, T: Indexing<V>> Clone for IndexedMap<V, T> {
    fn clone(&self) -> Self {
        let index = OnceLock::new();
        if let Some(i) = self.index.get() {
            let _ = index.set(MapIndex {
                table: i.table.clone(),
                slots: i.slots.clone(),
                other_table_seen: AtomicBool::new(i.other_table_seen.load(Ordering::Relaxed)),
            });
        }
        IndexedMap {
            map: self.map.clone(),
            index,
        }
    }
}

impl<V, T: Indexing<V>> From<BTreeMap<String, V>> for IndexedMap<V, T> {
    fn from(map: BTreeMap<String, V>) -> Self {
        IndexedMap {
            map,
            index: OnceLock::new(),
        }
    }
}

impl<V, T: Indexing<V>> FromIterator<(String, V)> for IndexedMap<V, T> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        IndexedMap::from(BTreeMap::from_iter(iter))
    }
}

impl<V, T: Indexing<V>> IntoIterator for IndexedMap<V, T> {
    type Item = (String, V);
    type IntoIter = std::collections::btree_map::IntoIter<String, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter()
    }
}

impl<'a, V, T: Indexing<V>> IntoIterator for &'a IndexedMap<V, T> {
    type Item = (&'a String, &'a V);
    type IntoIter = std::collections::btree_map::Iter<'a, String, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl<V: PartialEq, T: Indexing<V>> PartialEq for IndexedMap<V, T> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<V: Eq, T: Indexing<V>> Eq for IndexedMap<V, T> {}

impl<V: std::fmt::Debug, T: Indexing<V>> std::fmt::Debug for IndexedMap<V, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map.fmt(f)
    }
}

impl<V: Serialize, T: Indexing<V>> Serialize for IndexedMap<V, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de, V: Deserialize<'de>, T: Indexing<V>> Deserialize<'de> for IndexedMap<V, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(d).map(IndexedMap::from)
    }
}

#[cfg(test)]
mod tests;
