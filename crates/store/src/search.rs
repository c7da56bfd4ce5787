//! Finding leads (OPS-6, issue 21): free text over the email, name, company and account
//! domain, filters on the routing columns and the received time, newest first, paged by
//! keyset on `(received_at, id)` with an opaque cursor.
//!
//! Free text is answered from an index on both backends: an FTS5 trigram table on SQLite
//! (migration 0018; filled a few hundred leads at a time, `search_index`, with those not
//! yet in it matched directly), read newest first in chunks that stop once the page is
//! settled (0027, `sqlite_text_newest_first`); on PostgreSQL a pg_trgm GIN index over a
//! narrow side table of id, received time and searched text (0027), so matches are
//! rechecked and sorted there and only the page's leads are read from `leads`. Both match
//! each word of three or more characters anywhere inside the searched text,
//! case-insensitively; shorter words only narrow what a longer word found. Erasure rewrites the lead's
//! columns and triggers rewrite the searched text from them in the same transaction, so
//! an erased person cannot be found by their old name or address.
//!
//! A page never skips or repeats a lead while others are inserted: the cursor is the
//! position of the last row shown, and the next page starts strictly after it.

use crate::{PgStore, Result, SqliteStore, StoreError};
use async_trait::async_trait;
use leadrouter_core::config::Tier;
use leadrouter_core::lifecycle::LeadStatus;
use leadrouter_core::trace::RoutePath;
use serde::Serialize;
use sqlx::{QueryBuilder, Row};

/// Most leads one page may hold.
pub const MAX_LIMIT: i64 = 500;
/// Longest free text accepted, in characters.
pub const MAX_TEXT: usize = 200;
/// Most words in the free text.
pub const MAX_WORDS: usize = 8;
/// A free-text word must have this many characters for the index to find it.
pub const MIN_INDEXED_WORD: usize = 3;
/// SQLite: the leads not yet in the free-text index reach this many before the routing
/// transaction storing the last of them indexes them all (`search_index`). Larger
/// amortises FTS5's segment writes better but makes that one transaction longer, and
/// every request arriving meanwhile waits for it (docs/benchmarks.md, "Intake service").
pub const INDEX_EVERY: i64 = 256;
/// Longest value of an exact filter (owner, team, queue, segment).
pub const MAX_FILTER: usize = 200;

/// Which way a cursor pages: to older leads ("next") or back to newer ones ("previous").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Older,
    Newer,
}

/// A position in a result: the lead it was taken at and the way to go from it. Its text
/// form ([`LeadCursor::encode`]) is opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadCursor {
    pub received_at: i64,
    pub id: String,
    pub direction: Direction,
}

impl LeadCursor {
    /// Hex of `o|n`, the received time and the id: opaque, URL-safe, no dependency.
    pub fn encode(&self) -> String {
        let d = match self.direction {
            Direction::Older => 'o',
            Direction::Newer => 'n',
        };
        let plain = format!("{d}{}.{}", self.received_at, self.id);
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// The cursor from its text, or why it is not one of ours.
    pub fn decode(s: &str) -> std::result::Result<LeadCursor, String> {
        let bad = || "not a cursor this service returned (use `next_cursor` as given)".to_string();
        if s.is_empty() || s.len() > 2 * (24 + MAX_FILTER) || !s.len().is_multiple_of(2) {
            return Err(bad());
        }
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
            .collect::<std::result::Result<_, _>>()?;
        let plain = String::from_utf8(bytes).map_err(|_| bad())?;
        let direction = match plain.chars().next() {
            Some('o') => Direction::Older,
            Some('n') => Direction::Newer,
            _ => return Err(bad()),
        };
        let (at, id) = plain[1..].split_once('.').ok_or_else(bad)?;
        let received_at = at.parse::<i64>().map_err(|_| bad())?;
        if id.is_empty() || id.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(LeadCursor {
            received_at,
            id: id.to_string(),
            direction,
        })
    }
}

/// What to find. Every filter given must hold; `text`'s words must all appear.
#[derive(Debug, Clone, Default)]
pub struct LeadQuery {
    pub text: Option<String>,
    pub owner: Option<String>,
    /// The owner is one of these (a manager's reps in the console; none: no lead). Set by
    /// the caller from who is asking, never from a request's parameters.
    pub owner_in: Option<Vec<String>>,
    pub team: Option<String>,
    pub queue: Option<String>,
    pub tier: Option<String>,
    pub segment: Option<String>,
    pub status: Option<String>,
    pub path: Option<String>,
    /// `received_at >= from` (microseconds).
    pub received_from: Option<i64>,
    /// `received_at < to` (microseconds).
    pub received_to: Option<i64>,
    pub cursor: Option<LeadCursor>,
    /// 1..=[`MAX_LIMIT`].
    pub limit: i64,
}

/// A filter that cannot be used: the field, its value and what would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryIssue {
    pub field: &'static str,
    pub value: String,
    pub message: String,
}

/// The free text split into words, lower-cased: those the index finds and the short ones
/// that only narrow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextWords {
    pub indexed: Vec<String>,
    pub short: Vec<String>,
}

impl LeadQuery {
    /// Every problem with the query, each naming its field (empty when it can run).
    pub fn check(&self) -> Vec<QueryIssue> {
        let mut issues = Vec::new();
        let mut issue = |field: &'static str, value: &str, message: String| {
            issues.push(QueryIssue {
                field,
                value: value.chars().take(MAX_FILTER).collect(),
                message,
            })
        };
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            issue(
                "limit",
                &self.limit.to_string(),
                format!("must be 1-{MAX_LIMIT}"),
            );
        }
        if let Some(t) = &self.text
            && let Err(m) = text_words(t)
        {
            issue("q", t, m);
        }
        for (field, v) in [
            ("owner", &self.owner),
            ("team", &self.team),
            ("queue", &self.queue),
            ("segment", &self.segment),
        ] {
            if let Some(v) = v
                && (v.is_empty()
                    || v.chars().count() > MAX_FILTER
                    || v.chars().any(char::is_control))
            {
                issue(
                    field,
                    v,
                    format!("a name of 1-{MAX_FILTER} characters without control characters"),
                );
            }
        }
        if let Some(v) = &self.tier
            && !Tier::ALL.iter().any(|t| t.name() == v)
        {
            let all: Vec<&str> = Tier::ALL.iter().map(|t| t.name()).collect();
            issue("tier", v, format!("must be one of {}", all.join(", ")));
        }
        if let Some(v) = &self.status
            && v.parse::<LeadStatus>().is_err()
        {
            let all: Vec<&str> = LeadStatus::ALL.iter().map(|s| s.as_str()).collect();
            issue("status", v, format!("must be one of {}", all.join(", ")));
        }
        if let Some(v) = &self.path
            && serde_json::from_value::<RoutePath>(serde_json::Value::String(v.clone())).is_err()
        {
            issue("path", v, format!("must be one of {}", PATHS.join(", ")));
        }
        if let (Some(f), Some(t)) = (self.received_from, self.received_to)
            && f >= t
        {
            issue("to", &t.to_string(), "must be after `from`".into());
        }
        issues
    }
}

/// The stored names of routing paths (`leads.path`), as filters accept them.
pub const PATHS: &[&str] = &[
    "junk",
    "known_person",
    "recycled",
    "account_owner",
    "named_account",
    "personal_email_review",
    "qualification",
    "nurture",
    "territory",
    "segment",
    "default_team",
    "catch_all",
    "manual",
];

/// Split and check the free text.
pub fn text_words(text: &str) -> std::result::Result<TextWords, String> {
    if text.chars().count() > MAX_TEXT {
        return Err(format!("at most {MAX_TEXT} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("control characters are not searched".into());
    }
    let mut w = TextWords::default();
    for word in text.split_whitespace() {
        let word = word.to_lowercase();
        if w.indexed.contains(&word) || w.short.contains(&word) {
            continue;
        }
        if word.chars().count() >= MIN_INDEXED_WORD {
            w.indexed.push(word);
        } else {
            w.short.push(word);
        }
    }
    if w.indexed.len() + w.short.len() > MAX_WORDS {
        return Err(format!("at most {MAX_WORDS} words"));
    }
    if w.indexed.is_empty() {
        return Err(format!(
            "needs a word of at least {MIN_INDEXED_WORD} characters (part of an email, name, company or domain)"
        ));
    }
    Ok(w)
}

/// One lead found: what a result list shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeadHit {
    pub id: String,
    pub received_at: i64,
    pub source: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub account_domain: Option<String>,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub segment: Option<String>,
    pub tier: String,
    pub score: i64,
    pub path: String,
    pub status: String,
    /// When the lead's personal data was erased or pseudonymised.
    pub erased_at: Option<i64>,
}

/// One page of a result, newest first, with the cursors to its neighbours.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeadPage {
    pub items: Vec<LeadHit>,
    /// Older leads follow.
    pub next: Option<LeadCursor>,
    /// Newer leads precede (none on the first page).
    pub prev: Option<LeadCursor>,
}

#[async_trait]
pub trait LeadSearch: Send + Sync {
    /// The page of leads matching `q`. A query that fails [`LeadQuery::check`] is refused
    /// with [`StoreError::Corrupt`] naming the first problem; callers check first.
    async fn search_leads(&self, q: &LeadQuery) -> Result<LeadPage>;

    /// Indexes now, in one transaction, up to `max` of the leads that free text does not
    /// yet find from its index, oldest first; how many. SQLite indexes new leads a few
    /// hundred at a time, inside the routing transaction that reaches that many
    /// (`search_index`), and search reads the leads not yet indexed directly, so nothing
    /// needs to call this but tests and benchmarks. PostgreSQL indexes each lead as it is
    /// written: always 0.
    async fn index_new_leads(&self, max: i64) -> Result<u64>;
}

fn refuse(q: &LeadQuery) -> Result<TextWordsOpt> {
    if let Some(i) = q.check().first() {
        return Err(StoreError::Corrupt(format!(
            "lead query: {}: {} (`{}`)",
            i.field, i.message, i.value
        )));
    }
    Ok(match &q.text {
        Some(t) => Some(text_words(t).map_err(StoreError::Corrupt)?),
        None => None,
    })
}

type TextWordsOpt = Option<TextWords>;

/// `%`, `_` and `\` taken literally in a LIKE pattern with `\` as the escape.
fn like_literal(w: &str) -> String {
    let mut out = String::with_capacity(w.len() + 2);
    out.push('%');
    for c in w.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The FTS5 query: each word a quoted string (trigram: a substring), all required.
fn fts_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Turn the rows of one query into a page: `rows` holds up to `limit + 1` hits in the
/// query's own order (newest first going older, oldest first going newer).
fn page_of(q: &LeadQuery, mut rows: Vec<LeadHit>) -> LeadPage {
    let limit = q.limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let going_newer = q
        .cursor
        .as_ref()
        .is_some_and(|c| c.direction == Direction::Newer);
    if going_newer {
        rows.reverse();
    }
    let at = |h: &LeadHit, direction| LeadCursor {
        received_at: h.received_at,
        id: h.id.clone(),
        direction,
    };
    let (next, prev) = if going_newer {
        let c = q.cursor.as_ref().expect("going newer has a cursor");
        let next = match rows.last() {
            Some(h) => Some(at(h, Direction::Older)),
            None => Some(LeadCursor {
                direction: Direction::Older,
                ..c.clone()
            }),
        };
        (
            next,
            if more {
                rows.first().map(|h| at(h, Direction::Newer))
            } else {
                None
            },
        )
    } else {
        let next = if more {
            rows.last().map(|h| at(h, Direction::Older))
        } else {
            None
        };
        let prev = match (&q.cursor, rows.first()) {
            (None, _) => None,
            (Some(_), Some(h)) => Some(at(h, Direction::Newer)),
            (Some(c), None) => Some(LeadCursor {
                direction: Direction::Newer,
                ..c.clone()
            }),
        };
        (next, prev)
    };
    LeadPage {
        items: rows,
        next,
        prev,
    }
}

/// The columns of a [`LeadHit`], from `leads l`. `$first`, `$last`, `$company` extract the
/// payload's fields.
macro_rules! hit_columns {
    ($first:literal, $last:literal, $company:literal) => {
        concat!(
            "SELECT l.id, l.received_at, l.source, l.email, ",
            $first,
            " AS first_name, ",
            $last,
            " AS last_name, ",
            $company,
            " AS company, l.account_domain, l.owner, l.queue, l.team, l.segment, l.tier, l.score, l.path, l.status, l.erased_at"
        )
    };
}

/// Every condition of `q` but the free text, and the order and limit: `$t` names the table
/// holding the routing columns, `$at` and `$id` the received time and id the keyset uses
/// (the same values as `l.received_at`, `l.id`).
/// Evaluates to whether the query goes to newer leads (oldest first).
macro_rules! push_conditions {
    ($b:expr, $q:expr, $t:literal, $at:literal, $id:literal) => {{
        let b = $b;
        let q: &LeadQuery = $q;
        for (col, v) in [
            (concat!(" AND ", $t, ".owner = "), &q.owner),
            (concat!(" AND ", $t, ".team = "), &q.team),
            (concat!(" AND ", $t, ".queue = "), &q.queue),
            (concat!(" AND ", $t, ".tier = "), &q.tier),
            (concat!(" AND ", $t, ".segment = "), &q.segment),
            (concat!(" AND ", $t, ".status = "), &q.status),
            (concat!(" AND ", $t, ".path = "), &q.path),
        ] {
            if let Some(v) = v {
                b.push(col).push_bind(v.clone());
            }
        }
        match q.owner_in.as_deref() {
            Some([]) => {
                b.push(" AND 1 = 0");
            }
            Some(owners) => {
                b.push(concat!(" AND ", $t, ".owner IN ("));
                let mut list = b.separated(", ");
                for o in owners {
                    list.push_bind(o.clone());
                }
                b.push(")");
            }
            None => {}
        }
        if let Some(f) = q.received_from {
            b.push(concat!(" AND ", $at, " >= ")).push_bind(f);
        }
        if let Some(t) = q.received_to {
            b.push(concat!(" AND ", $at, " < ")).push_bind(t);
        }
        let newer = match &q.cursor {
            Some(c) if c.direction == Direction::Newer => {
                b.push(concat!(" AND ", $at, " >= "))
                    .push_bind(c.received_at);
                b.push(concat!(" AND (", $at, " > "))
                    .push_bind(c.received_at);
                b.push(concat!(" OR ", $id, " > "))
                    .push_bind(c.id.clone())
                    .push(")");
                true
            }
            Some(c) => {
                b.push(concat!(" AND ", $at, " <= "))
                    .push_bind(c.received_at);
                b.push(concat!(" AND (", $at, " < "))
                    .push_bind(c.received_at);
                b.push(concat!(" OR ", $id, " < "))
                    .push_bind(c.id.clone())
                    .push(")");
                false
            }
            None => false,
        };
        b.push(if newer {
            concat!(" ORDER BY ", $at, " ASC, ", $id, " ASC LIMIT ")
        } else {
            concat!(" ORDER BY ", $at, " DESC, ", $id, " DESC LIMIT ")
        });
        b.push_bind(q.limit.clamp(1, MAX_LIMIT) + 1);
        newer
    }};
}

/// The hits of a query built from [`hit_columns`].
macro_rules! fetch_hits {
    ($query:expr, $exec:expr) => {{
        let rows = $query.build().fetch_all($exec).await?;
        rows.iter()
            .map(|r| {
                Ok(LeadHit {
                    id: r.try_get("id")?,
                    received_at: r.try_get("received_at")?,
                    source: r.try_get("source")?,
                    email: r.try_get("email")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                    company: r.try_get("company")?,
                    account_domain: r.try_get("account_domain")?,
                    owner: r.try_get("owner")?,
                    queue: r.try_get("queue")?,
                    team: r.try_get("team")?,
                    segment: r.try_get("segment")?,
                    tier: r.try_get("tier")?,
                    score: r.try_get("score")?,
                    path: r.try_get("path")?,
                    status: r.try_get("status")?,
                    erased_at: r.try_get("erased_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?
    }};
}

const SQLITE_HIT: &str = hit_columns!(
    "json_extract(l.payload, '$.first_name')",
    "json_extract(l.payload, '$.last_name')",
    "json_extract(l.payload, '$.company')"
);
const PG_HIT: &str = hit_columns!(
    "(l.payload::jsonb ->> 'first_name')",
    "(l.payload::jsonb ->> 'last_name')",
    "(l.payload::jsonb ->> 'company')"
);

/// FTS rowids read by the first chunk of a free-text search on SQLite, per lead asked for.
const FIRST_CHUNK_PER_LEAD: i64 = 2;
/// Most FTS rowids one chunk reads (chunks double up to this).
const MAX_CHUNK: i64 = 4096;

#[async_trait]
impl LeadSearch for SqliteStore {
    async fn search_leads(&self, q: &LeadQuery) -> Result<LeadPage> {
        let Some(words) = refuse(q)? else {
            let mut b = QueryBuilder::<sqlx::Sqlite>::new(SQLITE_HIT);
            b.push(" FROM leads l WHERE 1 = 1");
            push_conditions!(&mut b, q, "l", "l.received_at", "l.id");
            let hits = fetch_hits!(b, &self.pool);
            return Ok(page_of(q, hits));
        };
        // One read transaction: the tail and every chunk see the same snapshot.
        let mut tx = self.pool.begin().await?;
        let hits = sqlite_text_newest_first(&mut tx, q, &words).await?;
        tx.rollback().await?;
        Ok(page_of(q, hits))
    }

    async fn index_new_leads(&self, max: i64) -> Result<u64> {
        self.writer()
            .between(move |db| crate::search_index::index_tail(db, max))
            .await
    }
}

/// The leads at `rowids` that meet every condition of `q` but the free text, at most
/// `limit + 1` of them in the page's order.
async fn sqlite_hits_at(
    conn: &mut sqlx::SqliteConnection,
    q: &LeadQuery,
    rowids: Vec<i64>,
) -> Result<Vec<LeadHit>> {
    // CROSS JOIN keeps SQLite on the given rowids rather than an index of `leads` that
    // avoids the sort.
    let mut b = QueryBuilder::<sqlx::Sqlite>::new(SQLITE_HIT);
    b.push(" FROM json_each(")
        .push_bind(serde_json::Value::from(rowids).to_string())
        .push(") j CROSS JOIN leads l ON l.rowid = j.value WHERE 1 = 1");
    push_conditions!(&mut b, q, "l", "l.received_at", "l.id");
    Ok(fetch_hits!(b, &mut *conn))
}

/// Free text on SQLite without sorting every match.
///
/// The leads not yet indexed (`search_index`, migration 0030) are matched first, then
/// FTS5 hands out the matches by rowid, newest inserted first, in chunks; each chunk's
/// leads are filtered and merged into the best `limit + 1` so far (in the page's order).
/// `lead_search_bound` (migration 0027) bounds the received time of every lead below a
/// rowid, so the walk stops as soon as no unread match can enter the page:
/// - going older: the page is full and its last lead is strictly newer than the bound;
/// - either way: the bound is older than the oldest time the query accepts (`from`, or
///   the cursor going newer).
///
/// Otherwise it reads on to the last match, so the result is exact whatever the order
/// of insertion (imports of old leads, concurrent intake).
async fn sqlite_text_newest_first(
    conn: &mut sqlx::SqliteConnection,
    q: &LeadQuery,
    words: &TextWords,
) -> Result<Vec<LeadHit>> {
    let want = (q.limit.clamp(1, MAX_LIMIT) + 1) as usize;
    let newer = q
        .cursor
        .as_ref()
        .is_some_and(|c| c.direction == Direction::Newer);
    let oldest_accepted = [
        q.received_from,
        q.cursor
            .as_ref()
            .filter(|c| c.direction == Direction::Newer)
            .map(|c| c.received_at),
    ]
    .into_iter()
    .flatten()
    .max();
    let order = |a: &LeadHit, b: &LeadHit| {
        let o = (a.received_at, &a.id).cmp(&(b.received_at, &b.id));
        if newer { o } else { o.reverse() }
    };
    let fts = fts_query(&words.indexed);
    let mut best: Vec<LeadHit> = Vec::with_capacity(want * 2);
    let tail = crate::search_index::tail_matches(&mut *conn, words).await?;
    if !tail.is_empty() {
        best = sqlite_hits_at(&mut *conn, q, tail).await?;
        best.sort_by(order);
        best.truncate(want);
    }
    let mut below = i64::MAX;
    let mut chunk = (want as i64 * FIRST_CHUNK_PER_LEAD).clamp(64, MAX_CHUNK);
    loop {
        // The chunk's rowids, and whether the short words are in each one's text.
        let mut a = QueryBuilder::<sqlx::Sqlite>::new("SELECT rowid AS r, ");
        if words.short.is_empty() {
            a.push("1");
        } else {
            for (i, s) in words.short.iter().enumerate() {
                if i > 0 {
                    a.push(" AND ");
                }
                a.push("instr(lower(body), ")
                    .push_bind(s.clone())
                    .push(") > 0");
            }
        }
        a.push(" AS ok FROM lead_search WHERE lead_search MATCH ")
            .push_bind(fts.clone())
            .push(" AND rowid < ")
            .push_bind(below)
            .push(" ORDER BY rowid DESC LIMIT ")
            .push_bind(chunk);
        let rows = a.build().fetch_all(&mut *conn).await?;
        let Some(last) = rows.last() else { break };
        let low: i64 = last.try_get("r")?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.try_get::<bool, _>("ok")? {
                found.push(r.try_get::<i64, _>("r")?);
            }
        }
        if !found.is_empty() {
            best.extend(sqlite_hits_at(&mut *conn, q, found).await?);
            best.sort_by(order);
            best.truncate(want);
        }
        if (rows.len() as i64) < chunk {
            break;
        }
        below = low;
        let bound: Option<i64> = sqlx::query_scalar(
            "SELECT bound FROM lead_search_bound WHERE pos < ?1 ORDER BY pos DESC LIMIT 1",
        )
        .bind(low)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(bound) = bound else { break };
        if oldest_accepted.is_some_and(|t| bound < t) {
            break;
        }
        if !newer && best.len() == want && best.last().is_some_and(|h| h.received_at > bound) {
            break;
        }
        chunk = (chunk * 2).min(MAX_CHUNK);
    }
    Ok(best)
}

#[async_trait]
impl LeadSearch for PgStore {
    async fn search_leads(&self, q: &LeadQuery) -> Result<LeadPage> {
        let words = refuse(q)?;
        let mut b = QueryBuilder::<sqlx::Postgres>::new(PG_HIT);
        let hits = match &words {
            None => {
                b.push(" FROM leads l WHERE 1 = 1");
                push_conditions!(&mut b, q, "l", "l.received_at", "l.id");
                fetch_hits!(b, &self.pool)
            }
            Some(w) => {
                // The narrow table (migration 0027) answers the words, the filters, the
                // time and the order; only the page's own leads are read from `leads`.
                b.push(" FROM (SELECT s.lead_id, s.received_at FROM lead_search s WHERE 1 = 1");
                pg_text(&mut b, w);
                let newer = push_conditions!(&mut b, q, "s", "s.received_at", "s.lead_id");
                b.push(if newer {
                    ") s JOIN leads l ON l.id = s.lead_id ORDER BY s.received_at ASC, s.lead_id ASC"
                } else {
                    ") s JOIN leads l ON l.id = s.lead_id ORDER BY s.received_at DESC, s.lead_id DESC"
                });
                fetch_hits!(b, &self.pool)
            }
        };
        Ok(page_of(q, hits))
    }

    async fn index_new_leads(&self, _max: i64) -> Result<u64> {
        Ok(0)
    }
}

/// PostgreSQL: each indexed word is a LIKE the trigram index answers; short words are
/// `strpos` (which the index cannot serve, so the planner never tries it with them).
/// `lead_search.body` is already lower-cased.
fn pg_text(b: &mut QueryBuilder<sqlx::Postgres>, w: &TextWords) {
    for word in &w.indexed {
        b.push(" AND s.body LIKE ").push_bind(like_literal(word));
    }
    for s in &w.short {
        b.push(" AND strpos(s.body, ")
            .push_bind(s.clone())
            .push(") > 0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_anything_else() {
        let c = LeadCursor {
            received_at: 1_795_446_000_000_000,
            id: "L-ü.1".into(),
            direction: Direction::Newer,
        };
        assert_eq!(LeadCursor::decode(&c.encode()), Ok(c));
        for bad in ["", "zz", "6f", "6f31", "7831322e61", "6f31322e", "6f782e61"] {
            assert!(LeadCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_splits_into_indexed_and_short_words() {
        let w = text_words("  Jane  DOE acme jo jane ").unwrap();
        assert_eq!(w.indexed, vec!["jane", "doe", "acme"]);
        assert_eq!(w.short, vec!["jo"]);
        assert!(text_words("jo li").is_err());
        assert!(text_words(&"x".repeat(MAX_TEXT + 1)).is_err());
        assert!(text_words("a b c d e f g h abc").is_err());
        assert!(text_words("abc\u{7}").is_err());
    }

    #[test]
    fn check_names_each_bad_filter() {
        let q = LeadQuery {
            tier: Some("boiling".into()),
            status: Some("closed".into()),
            path: Some("catch-all".into()),
            owner: Some(String::new()),
            received_from: Some(10),
            received_to: Some(5),
            limit: 501,
            ..Default::default()
        };
        let fields: Vec<&str> = q.check().iter().map(|i| i.field).collect();
        assert_eq!(
            fields,
            vec!["limit", "owner", "tier", "status", "path", "to"]
        );
        let ok = LeadQuery {
            tier: Some("hot".into()),
            status: Some("won".into()),
            path: Some("catch_all".into()),
            limit: 500,
            ..Default::default()
        };
        assert!(ok.check().is_empty());
    }

    #[test]
    fn every_route_path_is_listed() {
        for p in PATHS {
            let v = serde_json::Value::String((*p).into());
            assert!(serde_json::from_value::<RoutePath>(v).is_ok(), "{p}");
        }
    }

    #[test]
    fn like_and_fts_quote_their_input() {
        assert_eq!(like_literal("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(
            fts_query(&["ja\"ne".into(), "acme".into()]),
            "\"ja\"\"ne\" \"acme\""
        );
    }
}
