//! The replay's reading side: the history of the window read in commit order from the
//! snapshot, page by page, each event's JSON decoded into what the worlds need, and whole
//! routing transactions handed on in chunks. It runs on the caller's thread while the
//! worlds ([`mod@super::run`]) re-decide the previous chunk on another, so reading and
//! decoding overlap with deciding. When the worlds' thread would wait, the reader leaves a
//! share of the transactions undecoded, their JSON copied, for that thread to decode
//! ([`Txn::finish`]).

use super::names::{LeadKey, LeadNo, LeadNumbers};
use super::record::{LeadAfter, RouteInput, RouteResult};
use super::run::ReplayError;
use super::world::PersonRow;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::state::Effect;
use leadrouter_store::{EventRange, EventRef, HistoryReader};
use std::collections::HashMap;
use std::sync::Arc;

/// Events read per page (one query each) on SQLite unless the caller says otherwise. A
/// page's decoded events take ~2.5 MB; a few pages are in flight at once. Pages are
/// small so that their memory is freed and used again while it is still in the cache.
pub const PAGE: i64 = 1_024;
/// The same on PostgreSQL, where every page is a query and a round trip: at 1,000,000
/// events, 8,192 a page took the replay from 8.4–9.2 s to 7.6 s against 1,024.
pub const PAGE_PG: i64 = 8_192;

/// One event, decoded.
pub struct Event {
    pub idx: i64,
    pub at: i64,
    pub lead_id: Option<String>,
    /// The lead's number (`names::LeadNumbers`): every event that names a lead, and every
    /// routing event (one without a lead id is the lead "").
    pub lead: Option<LeadNo>,
    /// The lead's key when this event is the first to name it, for the worlds' thread
    /// to keep (`names::Names::add_lead`).
    pub new_lead: Option<LeadKey>,
    pub actor: Option<String>,
    /// The config version that was live, as an index into the feed's list of versions
    /// (chunks carry the versions first seen in them).
    pub version: usize,
    pub effects: Vec<Effect>,
    pub people: Vec<PersonRow>,
    pub body: Body,
}

impl Event {
    /// A routing decision (decoded or not).
    pub fn is_route(&self) -> bool {
        match &self.body {
            Body::Route { .. } => true,
            Body::Change { .. } => false,
            Body::Left(j) => &*j.kind == "route",
        }
    }
}

pub enum Body {
    /// A routing decision: what it was made from and what was decided.
    Route {
        input: Box<RouteInput>,
        recorded: RouteResult,
        /// The normalised email the routing job read its person by, as an index into
        /// its transaction's `emails`.
        email: Option<usize>,
    },
    /// A change to a stored lead or to availability (`kind` as stored).
    Change {
        kind: String,
        after: Option<LeadAfter>,
    },
    /// Not decoded yet: the reader left the event's JSON to the worker ([`Txn::finish`]);
    /// its effects and person rows are empty until then.
    Left(Box<Json>),
}

/// An event's JSON columns as stored, copied for the worker to decode.
pub struct Json {
    kind: Box<str>,
    effects: Box<str>,
    input: Option<Box<str>>,
    input_packed: Option<Box<[u8]>>,
    result: Option<Box<str>>,
    /// None also where the rows are not kept (see `Feed::decode`).
    people: Option<Box<str>>,
}

/// An event's JSON columns, borrowed from the row or from [`Json`].
struct Texts<'a> {
    kind: &'a str,
    effects: &'a str,
    input: Option<&'a str>,
    input_packed: Option<&'a [u8]>,
    result: Option<&'a str>,
    people: Option<&'a str>,
}

impl Texts<'_> {
    fn to_json(&self) -> Json {
        Json {
            kind: self.kind.into(),
            effects: self.effects.into(),
            input: self.input.map(Box::from),
            input_packed: self.input_packed.map(Box::from),
            result: self.result.map(Box::from),
            people: self.people.map(Box::from),
        }
    }
}

impl Json {
    fn texts(&self) -> Texts<'_> {
        Texts {
            kind: &self.kind,
            effects: &self.effects,
            input: self.input.as_deref(),
            input_packed: self.input_packed.as_deref(),
            result: self.result.as_deref(),
            people: self.people.as_deref(),
        }
    }
}

/// An event's effects, person rows and body, decoded (a route's email not yet found).
/// `at` is its (state version, idx), for errors.
fn parse_event(
    at: (i64, i64),
    t: &Texts<'_>,
) -> Result<(Vec<Effect>, Vec<PersonRow>, Body), ReplayError> {
    let effects: Vec<Effect> = parse(at, "effects", Some(t.effects))?;
    let people = parse_people(at, t.people)?;
    let body = if t.kind == "route" {
        Body::Route {
            input: match t.input_packed {
                Some(b) => Box::new(
                    RouteInput::unpack(b)
                        .map_err(|e| corrupt(at.0, at.1, format!("input: {e}")))?,
                ),
                None => parse(at, "input", t.input)?,
            },
            recorded: parse(at, "result", t.result)?,
            email: None,
        }
    } else {
        Body::Change {
            kind: t.kind.to_string(),
            after: match t.result {
                Some(_) => Some(parse(at, "result", t.result)?),
                None => None,
            },
        }
    };
    Ok((effects, people, body))
}

/// Find a routing job's email (see [`email_of`]) and add it to its transaction's.
fn add_email(emails: &mut Vec<String>, body: &mut Body) {
    if let Body::Route { input, email, .. } = body {
        *email = email_of(input).map(|e| {
            emails.push(e);
            emails.len() - 1
        });
    }
}

/// One routing transaction (state version): the batch the sequencer committed at once.
pub struct Txn {
    pub version: i64,
    /// Emails of its routing jobs: the people the transaction read at its start.
    pub emails: Vec<String>,
    /// The reader left its events' JSON to be decoded and its emails to be found by the
    /// worker ([`Txn::finish`]), as it does when it is the slower thread
    /// ([`Feed::set_share`]).
    pub left: bool,
    pub events: Vec<Event>,
}

impl Txn {
    /// Finish what the reader left: decode each event and find each routing job's
    /// email, in order.
    pub fn finish(&mut self) -> Result<(), ReplayError> {
        if !std::mem::take(&mut self.left) {
            return Ok(());
        }
        for ev in &mut self.events {
            let Body::Left(json) = &ev.body else { continue };
            let (effects, people, mut body) = parse_event((self.version, ev.idx), &json.texts())?;
            add_email(&mut self.emails, &mut body);
            ev.effects = effects;
            ev.people = people;
            ev.body = body;
        }
        Ok(())
    }
}

/// Transactions per round of [`Feed::set_share`]'s share.
pub const SHARE_OF: u32 = 8;

/// A config version as the worlds see it: its name and, in fidelity mode when it decided
/// a lead in the window, compiled.
#[derive(Clone)]
pub struct Version {
    pub name: Arc<str>,
    pub compiled: Option<Arc<CompiledConfig>>,
}

/// What one page gave: the transactions it completed, and every config version seen so
/// far (by index) when that list changed with this page, else empty.
pub struct Chunk {
    pub versions: Vec<Version>,
    pub txns: Vec<Txn>,
    /// Routing events of the window in this chunk.
    pub routes: u64,
}

fn corrupt(v: i64, idx: i64, why: impl std::fmt::Display) -> ReplayError {
    ReplayError::Corrupt {
        version: v,
        idx,
        why: why.to_string(),
    }
}

fn parse<'a, T: serde::Deserialize<'a>>(
    (v, idx): (i64, i64),
    what: &str,
    text: Option<&'a str>,
) -> Result<T, ReplayError> {
    let text = text.ok_or_else(|| corrupt(v, idx, format!("{what} missing")))?;
    serde_json::from_str(text).map_err(|e| corrupt(v, idx, format!("{what}: {e}")))
}

fn parse_people(at: (i64, i64), text: Option<&str>) -> Result<Vec<PersonRow>, ReplayError> {
    match text {
        Some(_) => parse(at, "people", text),
        None => Ok(Vec::new()),
    }
}

/// The person rows an event wrote.
pub fn people(ev: &EventRef<'_>) -> Result<Vec<PersonRow>, ReplayError> {
    parse_people((ev.state_version, ev.idx), ev.people)
}

/// The normalised email a routing job reads its person by (as the sequencer does).
fn email_of(input: &RouteInput) -> Option<String> {
    input
        .lead
        .email
        .as_deref()
        .and_then(|e| leadrouter_core::domains::parse_email_parts(e).ok())
        .map(|e| e.normalized().to_string())
}

/// [`HistoryReader::scan_events`] with a callback that can fail: its first error stops
/// the scan and is returned. Gives the events read and the last one's place.
pub async fn scan(
    reader: &mut HistoryReader,
    range: EventRange,
    mut f: impl FnMut(EventRef<'_>) -> Result<(), ReplayError> + Send,
) -> Result<(u64, Option<(i64, i64)>), ReplayError> {
    let mut failed = None;
    let read = reader
        .scan_events(range, &mut |ev| match f(ev) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        })
        .await?;
    match failed {
        Some(e) => Err(e),
        None => Ok(read),
    }
}

/// The reading side's state between pages.
pub struct Feed {
    /// Events per page.
    page: i64,
    since: Option<i64>,
    until: Option<i64>,
    /// Fidelity mode (no candidate): compile each version that decided a lead in the
    /// window, and keep the person rows its routing events wrote.
    fidelity: bool,
    cursor: (i64, i64),
    /// Lead numbers, made here so that the worlds' thread (the busier) does not hash
    /// every lead id.
    leads: LeadNumbers,
    index: HashMap<String, usize>,
    versions: Vec<Version>,
    /// The list changed since the last chunk.
    changed: bool,
    /// The last event's version.
    last: Option<usize>,
    /// The last transaction read, which may go on in the next page.
    open: Option<Txn>,
    done: bool,
    /// Of each [`SHARE_OF`] transactions begun, how many leave their emails to the worker.
    share: u32,
    begun: u32,
}

impl Feed {
    pub fn new(
        start: i64,
        since: Option<i64>,
        until: Option<i64>,
        fidelity: bool,
        page: i64,
    ) -> Feed {
        Feed {
            page: page.max(1),
            since,
            until,
            fidelity,
            cursor: (start, i64::MAX),
            leads: LeadNumbers::default(),
            index: HashMap::new(),
            versions: Vec::new(),
            changed: false,
            last: None,
            open: None,
            done: false,
            share: 0,
            begun: 0,
        }
    }

    /// Room for about `leads` leads in the lead numbers, made once.
    pub fn reserve(&mut self, leads: usize) {
        self.leads.reserve(leads);
    }

    /// How many of each [`SHARE_OF`] transactions read from now on leave decoding their
    /// events and finding their emails to the worker.
    pub fn set_share(&mut self, share: u32) {
        self.share = share.min(SHARE_OF);
    }

    pub fn share(&self) -> u32 {
        self.share
    }

    fn version(&mut self, name: &str) -> usize {
        // Runs of events share their version: compare with the last one first.
        if let Some(i) = self.last
            && *self.versions[i].name == *name
        {
            return i;
        }
        if let Some(&i) = self.index.get(name) {
            self.last = Some(i);
            return i;
        }
        let i = self.versions.len();
        self.changed = true;
        self.index.insert(name.to_string(), i);
        self.versions.push(Version {
            name: name.into(),
            compiled: None,
        });
        self.last = Some(i);
        i
    }

    /// Decode an event of the transaction `txn` (which gets its email, if a route), or,
    /// in a transaction left to the worker, copy its JSON.
    fn decode(
        &mut self,
        ev: &EventRef<'_>,
        txn: &mut Txn,
        need: &mut Vec<usize>,
    ) -> Result<Event, ReplayError> {
        let version = self.version(ev.config_version);
        let route = ev.kind == "route";
        let in_window = self.since.is_none_or(|s| ev.at >= s);
        if route
            && in_window
            && self.fidelity
            && self.versions[version].compiled.is_none()
            && !need.contains(&version)
        {
            need.push(version);
        }
        let texts = Texts {
            kind: ev.kind,
            effects: ev.effects,
            input: ev.input,
            input_packed: ev.input_packed,
            result: ev.result,
            // The person rows a routing decision of the window wrote are compared and
            // kept only where it is made again on the recorded world (fidelity); a
            // candidate's world writes its own, and the recorded world beside it keeps no
            // people.
            people: ev
                .people
                .filter(|_| !(route && in_window && !self.fidelity)),
        };
        let (lead, new_lead) = match ev.lead_id.or(route.then_some("")) {
            Some(id) => {
                let (no, key) = self.leads.number(id);
                (Some(no), key)
            }
            None => (None, None),
        };
        let (effects, people, body) = if txn.left {
            (
                Vec::new(),
                Vec::new(),
                Body::Left(Box::new(texts.to_json())),
            )
        } else {
            let (effects, people, mut body) = parse_event((ev.state_version, ev.idx), &texts)?;
            add_email(&mut txn.emails, &mut body);
            (effects, people, body)
        };
        Ok(Event {
            idx: ev.idx,
            at: ev.at,
            lead_id: ev.lead_id.map(str::to_string),
            lead,
            new_lead,
            actor: ev.actor.map(str::to_string),
            version,
            effects,
            people,
            body,
        })
    }

    /// Read and decode the next page; None when the window is read.
    pub async fn next(&mut self, reader: &mut HistoryReader) -> Result<Option<Chunk>, ReplayError> {
        if self.done {
            return Ok(None);
        }
        let range = EventRange {
            after: self.cursor,
            through: None,
            until: self.until,
            limit: self.page,
        };
        let mut txns: Vec<Txn> = Vec::new();
        let mut open = self.open.take();
        let mut need = Vec::new();
        let (n, last) = scan(reader, range, |ev| {
            if open.as_ref().is_none_or(|t| t.version != ev.state_version) {
                txns.extend(open.take());
            }
            let txn = open.get_or_insert_with(|| {
                self.begun = (self.begun + 1) % SHARE_OF;
                Txn {
                    version: ev.state_version,
                    emails: Vec::new(),
                    left: self.begun < self.share,
                    events: Vec::new(),
                }
            });
            let e = self.decode(&ev, txn, &mut need)?;
            txn.events.push(e);
            Ok(())
        })
        .await?;
        if let Some(l) = last {
            self.cursor = l;
        }
        if n < self.page as u64 {
            // The window is read: the open transaction is whole.
            self.done = true;
            txns.extend(open.take());
        } else {
            self.open = open;
        }
        for v in need {
            let name = self.versions[v].name.clone();
            let row = reader
                .config_version(&name)
                .await?
                .ok_or_else(|| ReplayError::MissingVersion(name.to_string()))?;
            let cfg =
                crate::config_history::compile_stored(&row).map_err(|e| ReplayError::Compile {
                    version: name.to_string(),
                    error: e.to_string(),
                })?;
            self.versions[v].compiled = Some(Arc::new(cfg));
            self.changed = true;
        }
        let since = self.since;
        let routes = txns
            .iter()
            .flat_map(|t| &t.events)
            .filter(|e| e.is_route() && since.is_none_or(|s| e.at >= s))
            .count() as u64;
        let versions = if std::mem::take(&mut self.changed) {
            self.versions.clone()
        } else {
            Vec::new()
        };
        Ok(Some(Chunk {
            versions,
            txns,
            routes,
        }))
    }
}
