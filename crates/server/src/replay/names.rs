//! The worlds' compact keys. A replay of a million leads keeps a view of every lead and
//! a row for every person, in each world; as strings (a 36-character lead id, a rep id
//! per lead) they were most of the worlds' memory, and first touches of fresh memory
//! were a large part of keeping them. Lead ids are the service's UUIDs (16 bytes as a
//! key); rep ids are few and kept once, as numbers. Each lead and each person (by
//! normalised email) gets a number here, once for both worlds: a world keeps its views
//! and rows in vectors by those numbers, so it holds no map of its own and a lookup
//! hashes the key once whichever world asks. Leads are numbered on the reading thread
//! ([`LeadNumbers`], as each event is decoded), which hands each new number's key on with
//! its event: the worlds' thread, the replay's busier one, only keeps the keys.

use jiff::Timestamp;
use leadrouter_core::state::{PriorPerson, PriorStatus};
type HashMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;

/// A rep's number in [`Names`].
pub type Rep = u32;
/// A lead's number in [`Names`] (an index into a world's views).
pub type LeadNo = u32;
/// A person's number in [`Names`] (an index into a world's person rows).
pub type PersonNo = u32;

/// A stored lead's id as a key: a UUID in its canonical text (what the service makes)
/// as its 128 bits, any other text as it is (so every id is kept exact).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LeadKey {
    Uuid([u64; 2]),
    Other(Box<str>),
}

impl LeadKey {
    fn of(id: &str) -> LeadKey {
        match canonical_uuid(id) {
            Some(u) => LeadKey::Uuid(u),
            None => LeadKey::Other(id.into()),
        }
    }

    /// The id the key was made from, exactly.
    fn id(&self) -> String {
        match self {
            LeadKey::Uuid([a, b]) => uuid::Uuid::from_u64_pair(*a, *b).hyphenated().to_string(),
            LeadKey::Other(s) => s.to_string(),
        }
    }
}

/// The canonical text of a UUID (lowercase, hyphenated) as its bits; None for any other
/// text, so that two texts never share a key.
fn canonical_uuid(s: &str) -> Option<[u64; 2]> {
    if s.len() != 36 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let (a, b) = uuid::Uuid::try_parse(s).ok()?.as_u64_pair();
    Some([a, b])
}

/// Each lead id's number, made in order of first sight (on the reading thread).
#[derive(Default)]
pub struct LeadNumbers {
    /// By its UUID, and by its id when that is not a canonical UUID.
    uuid_nos: HashMap<[u64; 2], LeadNo>,
    other_nos: HashMap<Box<str>, LeadNo>,
    next: LeadNo,
}

impl LeadNumbers {
    /// Room for `leads` leads, made once.
    pub fn reserve(&mut self, leads: usize) {
        self.uuid_nos.reserve(leads);
    }

    /// The number of a lead id, and its key when the number is new (for
    /// [`Names::add_lead`]).
    pub fn number(&mut self, id: &str) -> (LeadNo, Option<LeadKey>) {
        let key = LeadKey::of(id);
        let next = self.next;
        let no = match &key {
            LeadKey::Uuid(u) => *self.uuid_nos.entry(*u).or_insert(next),
            LeadKey::Other(s) => *self.other_nos.entry(s.clone()).or_insert(next),
        };
        if no != next {
            return (no, None);
        }
        self.next = next.checked_add(1).expect("fewer than 2^32 leads");
        (no, Some(key))
    }
}

/// Rep ids, lead ids (by the numbers [`LeadNumbers`] gave) and emails, each kept once,
/// by number.
#[derive(Default)]
pub struct Names {
    rep_ids: HashMap<Box<str>, Rep>,
    reps: Vec<Box<str>>,
    /// Each lead number's key.
    keys: Vec<LeadKey>,
    people: HashMap<Box<str>, PersonNo>,
}

impl Names {
    pub fn rep(&mut self, s: &str) -> Rep {
        if let Some(&r) = self.rep_ids.get(s) {
            return r;
        }
        let r = Rep::try_from(self.reps.len()).expect("fewer than 2^32 reps");
        self.reps.push(s.into());
        self.rep_ids.insert(s.into(), r);
        r
    }

    pub fn rep_opt(&mut self, s: Option<&str>) -> Option<Rep> {
        s.map(|s| self.rep(s))
    }

    pub fn rep_name(&self, r: Rep) -> &str {
        &self.reps[r as usize]
    }

    pub fn owner(&self, r: Option<Rep>) -> Option<String> {
        r.map(|r| self.rep_name(r).to_string())
    }

    /// Room for `leads` leads and as many people, made once (growing maps of a million
    /// entries page by page costs more than the rest of the bookkeeping).
    pub fn reserve(&mut self, leads: usize) {
        self.keys.reserve(leads);
        self.people.reserve(leads);
    }

    /// The key of a new lead number, in the order [`LeadNumbers::number`] made them.
    pub fn add_lead(&mut self, no: LeadNo, key: LeadKey) {
        assert_eq!(no as usize, self.keys.len(), "lead numbers arrive in order");
        self.keys.push(key);
    }

    /// The id a lead number was made from, exactly.
    pub fn lead_id(&self, no: LeadNo) -> String {
        self.keys[no as usize].id()
    }

    /// The number of a person (by normalised email), made when new (the email copied
    /// only then).
    pub fn person(&mut self, email: &str) -> PersonNo {
        if let Some(&n) = self.people.get(email) {
            return n;
        }
        let n = PersonNo::try_from(self.people.len()).expect("fewer than 2^32 people");
        self.people.insert(email.into(), n);
        n
    }

    /// The number of a person seen before.
    pub fn find_person(&self, email: &str) -> Option<PersonNo> {
        self.people.get(email).copied()
    }
}

/// A person row (the store's `people` table) with its owner by number. The
/// disqualification's time and note, which few rows have, are kept apart: a world holds
/// a row per person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub owner: Option<Rep>,
    pub status: PriorStatus,
    rest: Option<Box<Disqualified>>,
}

/// A person row's disqualification time and note.
type Disqualified = (Option<Timestamp>, Option<Box<str>>);

impl Row {
    pub fn of(p: &PriorPerson, names: &mut Names) -> Row {
        Row {
            owner: names.rep_opt(p.owner.as_deref()),
            status: p.status,
            rest: (p.disqualified_at.is_some() || p.note.is_some())
                .then(|| Box::new((p.disqualified_at, p.note.as_deref().map(Into::into)))),
        }
    }

    pub fn prior(&self, names: &Names) -> PriorPerson {
        let (disqualified_at, note) = match self.rest.as_deref() {
            Some((at, note)) => (*at, note.as_deref().map(str::to_string)),
            None => (None, None),
        };
        PriorPerson {
            owner: names.owner(self.owner),
            status: self.status,
            disqualified_at,
            note,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lead_id_comes_back_exactly_and_only_canonical_uuids_share_the_fast_key() {
        let mut n = Names::default();
        let mut numbers = LeadNumbers::default();
        let ids = [
            "0193a4f2-7c1e-7d3a-9b2f-5e6d7c8b9a01",
            "0193A4F2-7C1E-7D3A-9B2F-5E6D7C8B9A01",
            "0193a4f27c1e7d3a9b2f5e6d7c8b9a01",
            "L1",
            "",
        ];
        let keys: Vec<LeadKey> = ids.iter().map(|i| LeadKey::of(i)).collect();
        assert!(matches!(keys[0], LeadKey::Uuid(_)));
        assert!(keys[1..].iter().all(|k| matches!(k, LeadKey::Other(_))));
        let nos: Vec<LeadNo> = ids
            .iter()
            .map(|i| {
                let (no, key) = numbers.number(i);
                n.add_lead(no, key.expect("a new id gives its key"));
                no
            })
            .collect();
        assert_eq!(nos, [0, 1, 2, 3, 4], "numbered in order of first sight");
        for (i, k) in ids.iter().zip(&nos) {
            assert_eq!(n.lead_id(*k), *i);
            assert_eq!(numbers.number(i), (*k, None), "seen before: no key");
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(n.find_person("ann@x.com"), None);
        assert_eq!(n.person("ann@x.com"), 0);
        assert_eq!(n.person("bob@x.com"), 1);
        assert_eq!(n.person("ann@x.com"), 0);
        assert_eq!(n.find_person("bob@x.com"), Some(1));
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(numbers.number("L2"), (5, Some(LeadKey::Other("L2".into()))));
    }

    #[test]
    fn a_person_row_comes_back_as_written() {
        let mut n = Names::default();
        let p = PriorPerson {
            owner: Some("ann".into()),
            status: PriorStatus::Disqualified,
            disqualified_at: Some(Timestamp::from_second(1_800_000_000).unwrap()),
            note: Some("student".into()),
        };
        let r = Row::of(&p, &mut n);
        assert_eq!(r.prior(&n), p);
        assert_eq!(Row::of(&p, &mut n), r, "the same owner is one number");
        assert_eq!(n.rep_name(r.owner.unwrap()), "ann");
    }
}
