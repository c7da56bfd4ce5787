//! Finding leads (OPS-6): every filter, free text, keyset paging while leads arrive, and
//! erasure, on both backends. Expected results come from a plain Rust filter over the
//! same fixture, so each case checks the SQL against an independent reading of the query.
//!
//! PostgreSQL cases need a server (`LEADROUTER_TEST_PG`); without one they fail and say
//! how to skip them (`LEADROUTER_SKIP_PG=1`).

use leadrouter_core::lifecycle::{LeadStatus, Stage};
use leadrouter_store::search::{Direction, LeadQuery};
use leadrouter_store::{BatchWrite, LeadPage, LeadRecord, LeadUpdate, Store};
use leadrouter_testsupport::TestDb;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// 2026-11-23T15:00:00Z in microseconds.
const T0: i64 = 1_795_446_000_000_000;
const MINUTE: i64 = 60_000_000;

macro_rules! both {
    ($($case:ident: $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            for index in [Index::Routing, Index::Part, Index::All] {
                println!("SQLite, new leads indexed: {index:?}");
                let db = TestDb::sqlite();
                INDEX.scope(index, $case(&db.url)).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let Some(db) = TestDb::postgres().await else {
                return;
            };
            INDEX.scope(Index::All, $case(&db.url)).await;
        }
    )*};
}

both! {
    each_filter_finds_exactly_its_leads: sqlite_each_filter_finds_exactly_its_leads, postgres_each_filter_finds_exactly_its_leads;
    free_text_finds_email_name_company_and_domain: sqlite_free_text_finds_email_name_company_and_domain, postgres_free_text_finds_email_name_company_and_domain;
    paging_shows_each_lead_once_while_leads_arrive: sqlite_paging_shows_each_lead_once_while_leads_arrive, postgres_paging_shows_each_lead_once_while_leads_arrive;
    erased_leads_cannot_be_found_by_personal_data: sqlite_erased_leads_cannot_be_found_by_personal_data, postgres_erased_leads_cannot_be_found_by_personal_data;
    bad_queries_are_refused: sqlite_bad_queries_are_refused, postgres_bad_queries_are_refused;
    free_text_is_exact_whatever_the_insertion_order: sqlite_free_text_is_exact_whatever_the_insertion_order, postgres_free_text_is_exact_whatever_the_insertion_order;
    text_with_filters_follows_reassignment: sqlite_text_with_filters_follows_reassignment, postgres_text_with_filters_follows_reassignment;
}

const FIRST: &[&str] = &["Jane", "Omar", "Li", "Zoë", "Priya", "Tom"];
const LAST: &[&str] = &["Doe", "Haddad", "Wei", "Müller", "Nair", "O'Brien"];
const COMPANIES: &[(&str, &str)] = &[
    ("Acme Corp", "acme.com"),
    ("Globex", "globex.io"),
    ("Initech 50% Off", "initech.net"),
    ("Umbrella_Labs", "umbrella.co.uk"),
];
const OWNERS: &[Option<&str>] = &[Some("ana"), Some("ben"), None, Some("cy")];
const TEAMS: &[&str] = &["emea", "amer"];
const SEGMENTS: &[Option<&str>] = &[Some("enterprise"), Some("smb"), None];
const TIERS: &[&str] = &["hot", "warm", "standard"];
const STATUSES: &[LeadStatus] = &[
    LeadStatus::Open,
    LeadStatus::Open,
    LeadStatus::Won,
    LeadStatus::Disqualified,
    LeadStatus::Lost,
];
const PATHS: &[&str] = &["territory", "catch_all", "account_owner", "default_team"];

/// The `n`th lead of the fixture: columns cycle at different periods so filters combine.
fn lead(n: usize, received_at: i64) -> LeadRecord {
    let (company, domain) = COMPANIES[n % COMPANIES.len()];
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / 2) % LAST.len()];
    let email = format!(
        "{}.{}{n}@{domain}",
        first.to_lowercase(),
        last.to_lowercase().replace('\'', "")
    );
    let owner = OWNERS[n % OWNERS.len()];
    LeadRecord {
        id: format!("L{n:04}5"),
        source: "api".into(),
        email: Some(email.clone()),
        payload: Arc::new(json!({
            "email": email, "first_name": first, "last_name": last, "company": company,
            "country": "DE",
        })),
        received_at,
        routed_at: received_at + 1_000,
        owner: owner.map(str::to_string),
        queue: owner.is_none().then(|| "unassigned".to_string()),
        team: owner.map(|_| TEAMS[n % TEAMS.len()].to_string()),
        segment: SEGMENTS[n % SEGMENTS.len()].map(str::to_string),
        tier: TIERS[n % TIERS.len()].into(),
        score: n as i64,
        path: PATHS[n % PATHS.len()].into(),
        rule: None,
        status: STATUSES[n % STATUSES.len()],
        stage: Stage::Early,
        outcome: None,
        outcome_at: None,
        route_by: None,
        contact_by: None,
        config_version: "sha256:test".into(),
        account_domain: n.is_multiple_of(2).then(|| domain.to_string()),
        accepted_at: None,
        first_touch_at: None,
        fallback: false,
    }
}

async fn open(url: &str) -> Arc<dyn Store> {
    leadrouter_store::open(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// How much of what a case stores SQLite's free-text index holds when it searches
/// (`LeadSearch::index_new_leads`; the service indexes in the background, and search
/// must be exact whatever it has got to).
#[derive(Debug, Clone, Copy)]
enum Index {
    /// Only what routing transactions index themselves (`search::INDEX_EVERY`): in
    /// most cases every lead is read from the tail.
    Routing,
    /// After each insert, leads up to two thirds of its count, oldest first: the tail
    /// grows and spans several inserts.
    Part,
    /// Everything, after each insert.
    All,
}

tokio::task_local! {
    static INDEX: Index;
}

async fn insert(store: &dyn Store, leads: Vec<LeadRecord>) {
    let n = leads.len() as i64;
    let mut tx = store.begin().await.expect("begin");
    let v = tx.lock_state().await.expect("lock_state");
    let batch = BatchWrite {
        leads,
        ..Default::default()
    };
    tx.write(batch, v + 1).await.expect("write");
    tx.commit().await.expect("commit");
    match INDEX.get() {
        Index::Routing => {}
        Index::Part => {
            store.index_new_leads(n - n / 3).await.expect("index");
        }
        Index::All => {
            let mut indexed = 0;
            loop {
                let k = store.index_new_leads(7).await.expect("index");
                if k == 0 {
                    break;
                }
                indexed += k as i64;
            }
            if store.backend() == "sqlite" {
                assert_eq!(indexed, n, "every new lead indexed, once");
            }
        }
    }
}

/// The fixture: 60 leads a minute apart, with two sharing one received time.
fn fixture() -> Vec<LeadRecord> {
    (0..60)
        .map(|n| lead(n, T0 + (n.min(58) as i64) * MINUTE))
        .collect()
}

/// The query read in Rust: what the store must return, newest first.
fn expected(leads: &[LeadRecord], q: &LeadQuery) -> Vec<String> {
    let eq =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == have);
    let mut hits: Vec<&LeadRecord> = leads
        .iter()
        .filter(|l| {
            eq(&q.owner, l.owner.as_deref())
                && q.owner_in
                    .as_ref()
                    .is_none_or(|of| l.owner.as_ref().is_some_and(|o| of.contains(o)))
                && eq(&q.team, l.team.as_deref())
                && eq(&q.queue, l.queue.as_deref())
                && eq(&q.tier, Some(&l.tier))
                && eq(&q.segment, l.segment.as_deref())
                && eq(&q.status, Some(l.status.as_str()))
                && eq(&q.path, Some(&l.path))
                && q.received_from.is_none_or(|f| l.received_at >= f)
                && q.received_to.is_none_or(|t| l.received_at < t)
                && q.text.as_deref().is_none_or(|t| {
                    let p = &l.payload;
                    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let body = format!(
                        "{} {} {} {} {}",
                        l.email.as_deref().unwrap_or(""),
                        s("first_name"),
                        s("last_name"),
                        s("company"),
                        l.account_domain.as_deref().unwrap_or("")
                    )
                    .to_lowercase();
                    t.split_whitespace()
                        .all(|w| body.contains(&w.to_lowercase()))
                })
        })
        .collect();
    hits.sort_by(|a, b| (b.received_at, &b.id).cmp(&(a.received_at, &a.id)));
    hits.into_iter().map(|l| l.id.clone()).collect()
}

fn ids(page: &LeadPage) -> Vec<String> {
    page.items.iter().map(|h| h.id.clone()).collect()
}

/// Every page of `q` going older, concatenated.
async fn all_pages(store: &dyn Store, q: &LeadQuery) -> Vec<String> {
    let mut q = q.clone();
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = store.search_leads(&q).await.expect("search");
        out.extend(ids(&page));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn query() -> LeadQuery {
    LeadQuery {
        limit: 7,
        ..Default::default()
    }
}

async fn each_filter_finds_exactly_its_leads(url: &str) {
    let store = open(url).await;
    let leads = fixture();
    insert(&*store, leads.clone()).await;
    let some = |s: &str| Some(s.to_string());
    let mut cases: Vec<(&str, LeadQuery)> = vec![
        ("everything", query()),
        (
            "owner",
            LeadQuery {
                owner: some("ben"),
                ..query()
            },
        ),
        (
            "owner among (a manager's reps)",
            LeadQuery {
                owner_in: Some(vec!["ana".into(), "cy".into()]),
                ..query()
            },
        ),
        (
            "no match: owner among none",
            LeadQuery {
                owner_in: Some(Vec::new()),
                ..query()
            },
        ),
        (
            "owner and owner among",
            LeadQuery {
                owner: some("ben"),
                owner_in: Some(vec!["ana".into(), "ben".into()]),
                ..query()
            },
        ),
        (
            "team",
            LeadQuery {
                team: some("emea"),
                ..query()
            },
        ),
        (
            "queue",
            LeadQuery {
                queue: some("unassigned"),
                ..query()
            },
        ),
        (
            "tier",
            LeadQuery {
                tier: some("warm"),
                ..query()
            },
        ),
        (
            "segment",
            LeadQuery {
                segment: some("smb"),
                ..query()
            },
        ),
        (
            "status",
            LeadQuery {
                status: some("won"),
                ..query()
            },
        ),
        (
            "path",
            LeadQuery {
                path: some("catch_all"),
                ..query()
            },
        ),
        (
            "from",
            LeadQuery {
                received_from: Some(T0 + 40 * MINUTE),
                ..query()
            },
        ),
        (
            "to",
            LeadQuery {
                received_to: Some(T0 + 10 * MINUTE),
                ..query()
            },
        ),
        (
            "window",
            LeadQuery {
                received_from: Some(T0 + 10 * MINUTE),
                received_to: Some(T0 + 20 * MINUTE),
                ..query()
            },
        ),
        (
            "owner, status and tier",
            LeadQuery {
                owner: some("ana"),
                status: some("open"),
                tier: some("hot"),
                ..query()
            },
        ),
        (
            "text and team",
            LeadQuery {
                text: some("jane"),
                team: some("emea"),
                ..query()
            },
        ),
        (
            "no match",
            LeadQuery {
                owner: some("nobody"),
                ..query()
            },
        ),
    ];
    // The backward pages of the full list: one case per filter is enough for paging.
    cases.push((
        "one per page",
        LeadQuery {
            limit: 1,
            status: some("lost"),
            ..query()
        },
    ));
    for (name, q) in cases {
        let want = expected(&leads, &q);
        assert!(
            name.starts_with("no match") || !want.is_empty(),
            "{name}: the fixture covers it"
        );
        assert_eq!(all_pages(&*store, &q).await, want, "{name}");
        let first = store.search_leads(&q).await.unwrap();
        assert_eq!(
            first.prev, None,
            "{name}: the first page has no previous page"
        );
    }
}

async fn free_text_finds_email_name_company_and_domain(url: &str) {
    let store = open(url).await;
    let leads = fixture();
    insert(&*store, leads.clone()).await;
    for text in [
        "jane",           // first name
        "HADDAD",         // last name, any case
        "o'brien",        // a quote
        "müller",         // non-ASCII
        "ZOË",            // non-ASCII, upper case
        "globex",         // company and domain
        "initech 50%",    // a LIKE wildcard taken literally
        "umbrella_labs",  // `_` taken literally
        "co.uk",          // domain suffix
        "jane.doe0@acme", // part of an email
        "jane acme",      // two words: both must appear
        "doe li",         // a short word narrows a long one
        "omar globex",    // no lead has both
        "xyzzy",          // nothing
    ] {
        let q = LeadQuery {
            text: Some(text.into()),
            limit: 500,
            ..Default::default()
        };
        let want = expected(&leads, &q);
        let got = ids(&store.search_leads(&q).await.unwrap());
        assert_eq!(got, want, "q={text}");
    }
    // The wildcard cases really are literal: `%` alone would match everything.
    let pct = LeadQuery {
        text: Some("50%".into()),
        limit: 500,
        ..Default::default()
    };
    let found = store.search_leads(&pct).await.unwrap().items.len();
    assert!(found > 0 && found < leads.len(), "50% matched {found}");
    let hit = &store
        .search_leads(&LeadQuery {
            text: Some("jane.doe0@".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .items[0];
    assert_eq!(
        (
            hit.first_name.as_deref(),
            hit.last_name.as_deref(),
            hit.company.as_deref()
        ),
        (Some("Jane"), Some("Doe"), Some("Acme Corp"))
    );
}

async fn paging_shows_each_lead_once_while_leads_arrive(url: &str) {
    let store = open(url).await;
    let leads = fixture();
    insert(&*store, leads.clone()).await;
    let q = LeadQuery {
        limit: 4,
        ..Default::default()
    };
    let want = expected(&leads, &q);

    // Going older: after every page, new leads arrive: one newer than all, and one at
    // the very instant of the page's last lead with a smaller id, which sorts after it
    // and must therefore appear later, exactly once.
    let mut all_now = leads.clone();
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut cursor_q = q.clone();
    let mut extra = 1000;
    let mut late_arrivals = Vec::new();
    loop {
        let page = store.search_leads(&cursor_q).await.unwrap();
        seen.extend(ids(&page));
        pages.push(page.clone());
        let mut arrivals = vec![lead(extra, T0 + 1000 * MINUTE + extra as i64)];
        if let (Some(last), Some(_)) = (page.items.last(), &page.next) {
            let mut same_instant = lead(extra + 1, last.received_at);
            // Same length, digits only after the `L`: byte order and any collation agree.
            same_instant.id = format!("{}3", &last.id[..last.id.len() - 1]);
            assert!(same_instant.id < last.id);
            late_arrivals.push(same_instant.id.clone());
            arrivals.push(same_instant);
        }
        all_now.extend(arrivals.iter().cloned());
        insert(&*store, arrivals).await;
        extra += 2;
        match page.next {
            Some(c) => {
                assert_eq!(c.direction, Direction::Older);
                cursor_q.cursor = Some(c);
            }
            None => break,
        }
    }
    assert!(pages.len() >= 10, "{} pages", pages.len());
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no lead shown twice");
    let mut want_all: Vec<String> = want.clone();
    want_all.extend(late_arrivals.iter().cloned());
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    want_all.sort();
    assert_eq!(
        seen_sorted, want_all,
        "every lead there at the start, and those arriving behind the cursor, exactly once"
    );

    // Going back from the last page: the pages before it, each newest first, and
    // together every lead now newer than that page, in order, once.
    let last = pages
        .iter()
        .rev()
        .find(|p| !p.items.is_empty())
        .unwrap()
        .clone();
    let start = (last.items[0].received_at, last.items[0].id.clone());
    let mut back_q = q.clone();
    back_q.cursor = last.prev.clone();
    let mut back_pages = Vec::new();
    while let Some(c) = back_q.cursor.clone() {
        assert_eq!(c.direction, Direction::Newer);
        let page = store.search_leads(&back_q).await.unwrap();
        assert!(!page.items.is_empty() && page.items.len() <= 4);
        assert!(page.next.is_some(), "a previous page has a next page");
        back_pages.push(ids(&page));
        back_q.cursor = page.prev;
        assert!(back_pages.len() < 100, "paging back did not end");
    }
    back_pages.reverse();
    let back: Vec<String> = back_pages.concat();
    let newer: Vec<String> = {
        let by_id: std::collections::HashMap<&str, &LeadRecord> =
            all_now.iter().map(|l| (l.id.as_str(), l)).collect();
        expected(&all_now, &q)
            .into_iter()
            .filter(|id| {
                let l = by_id[id.as_str()];
                (l.received_at, l.id.clone()) > start
            })
            .collect()
    };
    assert_eq!(back, newer);
    assert!(back[0].starts_with("L1"), "newest first: {back:?}");
    // The newest page going back has no previous page; all others are full.
    assert!(back_pages[1..].iter().all(|p| p.len() == 4));
}

async fn erased_leads_cannot_be_found_by_personal_data(url: &str) {
    let store = open(url).await;
    let mut leads = fixture();
    let mut target = lead(7, T0 + 100 * MINUTE);
    target.id = "ERASE-ME".into();
    target.email = Some("vera.quintero@acme.com".into());
    target.payload = Arc::new(json!({
        "email": "vera.quintero@acme.com", "first_name": "Vera", "last_name": "Quintero",
        "company": "Acme Corp",
    }));
    leads.push(target);
    insert(&*store, leads).await;
    if url.starts_with("sqlite:") {
        // SQLite: the index follows the lead's rowid, which VACUUM must keep.
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("DELETE FROM leads WHERE id = 'L00035'")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("VACUUM").execute(&pool).await.unwrap();
        pool.close().await;
    }
    let find = |text: &str| LeadQuery {
        text: Some(text.into()),
        limit: 10,
        ..Default::default()
    };
    for t in ["quintero", "vera.q", "vera"] {
        assert_eq!(
            ids(&store.search_leads(&find(t)).await.unwrap()),
            vec!["ERASE-ME"],
            "{t} before erasure"
        );
    }
    assert!(
        store
            .search_leads(&find("L00035"))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    store
        .erase_person("Vera.Quintero@acme.com", T0 + 200 * MINUTE)
        .await
        .unwrap();
    for t in ["quintero", "vera.q", "vera", "vera.quintero@acme.com"] {
        assert!(
            store.search_leads(&find(t)).await.unwrap().items.is_empty(),
            "{t} finds nothing after erasure"
        );
    }
    // The pseudonymised row keeps its company, as the reports do, and says it was erased.
    let by_company = store
        .search_leads(&LeadQuery {
            text: Some("acme".into()),
            owner: OWNERS[7 % OWNERS.len()].map(str::to_string),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    let erased = by_company
        .items
        .iter()
        .find(|h| h.id == "ERASE-ME")
        .expect("still counted");
    assert_eq!(
        (erased.email.as_deref(), erased.first_name.as_deref()),
        (None, None)
    );
    assert!(erased.erased_at.is_some());
    if url.starts_with("sqlite:") {
        // Nothing of the name is left in the index's own rows.
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM lead_search WHERE body LIKE '%quintero%' OR lead_id = 'L00035'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 0);
        pool.close().await;
    }
}

async fn bad_queries_are_refused(url: &str) {
    let store = open(url).await;
    insert(&*store, fixture()).await;
    for q in [
        LeadQuery {
            text: Some("ab".into()),
            limit: 5,
            ..Default::default()
        },
        LeadQuery {
            status: Some("closed".into()),
            limit: 5,
            ..Default::default()
        },
        LeadQuery {
            limit: 0,
            ..Default::default()
        },
        LeadQuery {
            limit: 501,
            ..Default::default()
        },
    ] {
        let e = store.search_leads(&q).await.expect_err("refused");
        assert!(e.to_string().contains("lead query"), "{e}");
    }
}

/// Free text reads matches in insertion order on SQLite and stops early; leads stored out
/// of received order (an import of old leads after live ones, a batch stored newest
/// first, several at one instant) must still come back exactly in the query's order,
/// over many chunks, both ways, with filters and windows.
async fn free_text_is_exact_whatever_the_insertion_order(url: &str) {
    let store = open(url).await;
    // 700 leads; times are a permutation of the insertion order.
    let at = |n: usize| T0 + ((n * 37) % 700) as i64 * MINUTE / 2;
    let all: Vec<LeadRecord> = (0..700)
        .map(|n| lead(n, if n % 50 == 7 { at(n - 1) } else { at(n) }))
        .collect();
    // Middle times first, then the newest stored newest first, then an old import.
    let mut batches: Vec<Vec<LeadRecord>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for l in &all {
        let rank = (l.received_at - T0) / (MINUTE / 2);
        batches[if rank < 200 {
            2
        } else if rank < 450 {
            0
        } else {
            1
        }]
        .push(l.clone());
    }
    batches[1].sort_by_key(|l| std::cmp::Reverse(l.received_at));
    for b in batches {
        for part in b.chunks(90) {
            insert(&*store, part.to_vec()).await;
        }
    }
    for (text, owner, window) in [
        ("jane", None, None),
        ("acme", None, None),
        ("co.uk", Some("ben"), None),
        ("doe li", None, None),
        ("acme", None, Some((T0 + 100 * MINUTE, T0 + 240 * MINUTE))),
        (
            "globex",
            Some("ana"),
            Some((T0 + 30 * MINUTE, T0 + 120 * MINUTE)),
        ),
        ("xyzzy", None, None),
    ] {
        for limit in [1, 3, 50, 500] {
            let q = LeadQuery {
                text: Some(text.into()),
                owner: owner.map(String::from),
                received_from: window.map(|w: (i64, i64)| w.0),
                received_to: window.map(|w: (i64, i64)| w.1),
                limit,
                ..Default::default()
            };
            let want = expected(&all, &q);
            let name = format!("q={text} owner={owner:?} window={window:?} limit={limit}");
            assert_eq!(all_pages(&*store, &q).await, want, "{name}");
            // From every page, the previous page is the `limit` leads just before it.
            let mut older = q.clone();
            let mut shown: usize = 0;
            loop {
                let page = store.search_leads(&older).await.unwrap();
                if let Some(prev) = page.prev.clone() {
                    let back = LeadQuery {
                        cursor: Some(prev),
                        ..q.clone()
                    };
                    let got = ids(&store.search_leads(&back).await.unwrap());
                    let from = shown.saturating_sub(limit as usize);
                    assert_eq!(got, want[from..shown], "{name}: back from {shown}");
                }
                shown += page.items.len();
                match page.next {
                    Some(c) if limit < 50 || shown < 200 => older.cursor = Some(c),
                    _ => break,
                }
            }
        }
    }
}

/// Text with routing filters after leads were reassigned and their status changed: on
/// PostgreSQL the filters are answered from the search table, which must follow `leads`.
async fn text_with_filters_follows_reassignment(url: &str) {
    let store = open(url).await;
    let mut leads = fixture();
    insert(&*store, leads.clone()).await;
    let mut updates = Vec::new();
    for l in leads
        .iter_mut()
        .filter(|l| l.id.len() == 6 && l.id[1..5].parse::<usize>().unwrap() % 3 == 0)
    {
        l.owner = Some("zed".into());
        l.queue = Some("review".into());
        l.team = Some("apac".into());
        l.status = LeadStatus::Won;
        updates.push(LeadUpdate {
            id: l.id.clone(),
            owner: l.owner.clone(),
            queue: l.queue.clone(),
            team: l.team.clone(),
            status: l.status,
            stage: Stage::Early,
            outcome: None,
            outcome_at: None,
            contact_by: None,
            accepted_at: None,
            first_touch_at: None,
        });
    }
    assert!(updates.len() >= 20);
    let mut tx = store.begin().await.expect("begin");
    let v = tx.lock_state().await.expect("lock_state");
    let batch = BatchWrite {
        lead_updates: updates,
        ..Default::default()
    };
    tx.write(batch, v + 1).await.expect("write");
    tx.commit().await.expect("commit");
    for (text, owner, queue, team, status) in [
        ("acme", Some("zed"), None, None, None),
        ("jane", None, Some("review"), None, None),
        ("globex", None, None, Some("apac"), Some("won")),
        ("acme", Some("ana"), None, None, None),
        ("co.uk", None, None, Some("amer"), Some("open")),
    ] {
        let q = LeadQuery {
            text: Some(text.into()),
            owner: owner.map(String::from),
            queue: queue.map(String::from),
            team: team.map(String::from),
            status: status.map(String::from),
            limit: 3,
            ..Default::default()
        };
        let want = expected(&leads, &q);
        assert!(!want.is_empty(), "{text}: the case finds something");
        assert_eq!(
            all_pages(&*store, &q).await,
            want,
            "{text} {owner:?} {queue:?} {team:?} {status:?}"
        );
    }
}

/// SQLite gives a new row the highest rowid plus one: after the newest leads are deleted,
/// a new lead takes a rowid the index has used. The mark comes down with the delete, so
/// the new lead is found (from the tail, then from the index) and indexed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_reused_rowid_is_indexed_again() {
    let db = TestDb::sqlite();
    let store = open(&db.url).await;
    let leads: Vec<LeadRecord> = (0..5).map(|n| lead(n, T0 + n as i64 * MINUTE)).collect();
    INDEX.scope(Index::All, insert(&*store, leads)).await;
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT max(rowid) FROM leads")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM leads WHERE rowid >= ?1")
        .bind(newest - 1)
        .execute(&pool)
        .await
        .unwrap();
    let mut new = lead(9, T0 + 50 * MINUTE);
    new.id = "REUSED".into();
    new.email = Some("quill.reuse@acme.com".into());
    INDEX
        .scope(Index::Routing, insert(&*store, vec![new]))
        .await;
    let reused: i64 = sqlx::query_scalar("SELECT rowid FROM leads WHERE id = 'REUSED'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reused, newest - 1, "SQLite reused the deleted rowid");
    let q = LeadQuery {
        text: Some("quill".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(&store.search_leads(&q).await.unwrap()), vec!["REUSED"]);
    assert_eq!(store.index_new_leads(100).await.unwrap(), 1);
    assert_eq!(store.index_new_leads(100).await.unwrap(), 0);
    assert_eq!(ids(&store.search_leads(&q).await.unwrap()), vec!["REUSED"]);
    let (indexed, bounds, rows): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM lead_search), (SELECT count(*) FROM lead_search_bound), (SELECT count(*) FROM leads)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((indexed, bounds), (rows, rows));
    pool.close().await;
}

/// A routing transaction that brings the leads not yet indexed to `INDEX_EVERY` indexes
/// them all; until then none are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_routing_transactions_index_every_few_hundred_leads() {
    use leadrouter_store::search::INDEX_EVERY;
    let db = TestDb::sqlite();
    let store = open(&db.url).await;
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let part = (INDEX_EVERY / 2 - 1) as usize;
    let mut all = Vec::new();
    let mut n = 0;
    for (inserts, indexed) in [(1, 0), (2, 0), (3, 3 * part as i64)] {
        let leads: Vec<LeadRecord> = (n..n + part)
            .map(|k| lead(k, T0 + k as i64 * MINUTE))
            .collect();
        n += part;
        all.extend(leads.iter().cloned());
        INDEX.scope(Index::Routing, insert(&*store, leads)).await;
        let (upto, rows): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT upto FROM lead_search_mark), (SELECT count(*) FROM lead_search)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((upto, rows), (indexed, indexed), "after {inserts} inserts");
        let q = LeadQuery {
            text: Some("acme".into()),
            limit: 500,
            ..Default::default()
        };
        assert_eq!(all_pages(&*store, &q).await, expected(&all, &q));
    }
    pool.close().await;
}
