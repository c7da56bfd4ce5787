//! OPS-6 over HTTP, through the real `leadrouter serve` on SQLite: `GET /v1/leads` finds
//! leads by free text and by each filter, pages through a result exactly once while
//! leads keep arriving, exports the whole result as CSV, refuses bad filters with a 400
//! naming them, and no longer finds an erased person. Expected results come from the
//! decisions the service answered when the leads were submitted.

mod support;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use support::{Server, e2e, owner_of};

const EMPLOYEES: [u32; 3] = [40, 500, 5000];
const FIRST: &[&str] = &["Ada", "Bruno", "Chidi", "Dagny", "Emeka", "Farah"];
const LAST: &[&str] = &[
    "Lovelace",
    "Marchetti",
    "Okafor",
    "Taggart",
    "Eze",
    "Haddad",
];
const COMPANIES: &[(&str, &str)] = &[
    ("Northwind Traders", "northwind-traders.io"),
    ("Globex", "globex.com"),
    ("Personal", "gmail.com"),
    ("Tailspin Toys", "tailspin-toys.io"),
];

/// The `n`th lead: the company decides the path (a pool round robin, the globex.com
/// account, a personal address for review), employees the segment and tier.
fn lead(n: usize) -> Value {
    let (company, domain) = COMPANIES[n % COMPANIES.len()];
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / 2) % LAST.len()];
    json!({
        "first_name": first,
        "last_name": last,
        "email": format!("{}.{}{n}@{domain}", first.to_lowercase(), last.to_lowercase()),
        "company": company,
        "country": "US",
        "employees": EMPLOYEES[n % 3],
        "industry": "software",
        "action": if n.is_multiple_of(2) { "demo_request" } else { "content_download" },
    })
}

/// What the service decided for a lead, as submitted.
#[derive(Debug, Clone)]
struct Routed {
    id: String,
    body: Value,
    owner: Option<String>,
    queue: Option<String>,
    tier: String,
    path: String,
}

fn submit(server: &Server, n: usize) -> Routed {
    let body = lead(n);
    let d = server.submit(&body);
    let s = |k: &str| d[k].as_str().map(str::to_string);
    Routed {
        id: s("lead_id").expect("lead_id"),
        body,
        owner: owner_of(&d),
        queue: s("queue"),
        tier: s("tier").expect("tier"),
        path: s("path").expect("path"),
    }
}

fn get(server: &Server, query: &str) -> Value {
    server
        .get(&format!("/v1/leads?{query}"))
        .admin()
        .send()
        .expect_status(200)
        .json()
}

fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of `query`, following `next_cursor`; `between` runs after each page.
fn all_pages(server: &Server, query: &str, mut between: impl FnMut()) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = query.to_string();
    for _ in 0..500 {
        let page = get(server, &url);
        out.extend(item_ids(&page));
        between();
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{query}&cursor={c}"),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn set(ids: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

#[test]
fn ops_6_find_leads_over_http() {
    let server = Server::start(e2e());
    let routed: Vec<Routed> = (0..36).map(|n| submit(&server, n)).collect();
    let all = set(routed.iter().map(|r| r.id.clone()));

    // Admin keys only.
    server.get("/v1/leads").send().expect_status(401);
    server.get("/v1/leads").intake().send().expect_status(403);

    // Paging through everything exactly once while new leads arrive (newer, so after
    // the result began: they belong to no page of it).
    let mut extra = 100;
    let mut late = Vec::new();
    let seen = all_pages(&server, "limit=5", || {
        late.push(submit(&server, extra));
        extra += 1;
    });
    assert_eq!(seen.len(), all.len(), "each lead once: {seen:?}");
    assert_eq!(set(seen.clone()), all);
    let first = get(&server, "limit=5");
    assert_eq!(first["prev_cursor"], Value::Null);
    assert_eq!(
        item_ids(&first)[..late.len().min(5)],
        late.iter()
            .rev()
            .take(5)
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()[..],
        "newest first"
    );
    // And back: the previous page of the second page is the first page.
    let second = get(
        &server,
        &format!("limit=5&cursor={}", first["next_cursor"].as_str().unwrap()),
    );
    let back = get(
        &server,
        &format!("limit=5&cursor={}", second["prev_cursor"].as_str().unwrap()),
    );
    assert_eq!(item_ids(&back), item_ids(&first));

    // Each filter gives exactly the leads whose decision says so (the late arrivals are
    // kept out with `to`: the instant of the last original lead's page item).
    let by_id: BTreeMap<&str, &Routed> = routed.iter().map(|r| (r.id.as_str(), r)).collect();
    let owners = set(routed.iter().filter_map(|r| r.owner.clone()));
    let queues = set(routed.iter().filter_map(|r| r.queue.clone()));
    let tiers = set(routed.iter().map(|r| r.tier.clone()));
    let paths = set(routed.iter().map(|r| r.path.clone()));
    assert!(
        owners.len() >= 3 && !queues.is_empty() && tiers.len() >= 2 && paths.len() >= 3,
        "the fixture spreads: {owners:?} {queues:?} {tiers:?} {paths:?}"
    );
    let mut cases: Vec<(String, BTreeSet<String>)> = Vec::new();
    let want =
        |f: &dyn Fn(&Routed) -> bool| set(routed.iter().filter(|r| f(r)).map(|r| r.id.clone()));
    for o in &owners {
        cases.push((
            format!("owner={o}"),
            want(&|r| r.owner.as_deref() == Some(o)),
        ));
    }
    for q in &queues {
        cases.push((
            format!("queue={q}"),
            want(&|r| r.queue.as_deref() == Some(q)),
        ));
    }
    for t in &tiers {
        cases.push((format!("tier={t}"), want(&|r| &r.tier == t)));
    }
    for p in &paths {
        cases.push((format!("path={p}"), want(&|r| &r.path == p)));
    }
    cases.push((
        "q=haddad".into(),
        want(&|r| r.body["last_name"] == "Haddad"),
    ));
    cases.push(("q=Globex".into(), want(&|r| r.body["company"] == "Globex")));
    cases.push((
        "q=ada%20northwind".into(),
        want(&|r| r.body["first_name"] == "Ada" && r.body["company"] == "Northwind Traders"),
    ));
    cases.push((
        "q=gmail.com&tier=hot".into(),
        want(&|r| r.body["company"] == "Personal" && r.tier == "hot"),
    ));
    cases.push(("status=open".into(), all.clone()));
    cases.push(("status=won".into(), BTreeSet::new()));
    for (query, expected) in cases {
        // Only the 36 original leads: the late ones are all after them, so restrict to
        // ids we know (late arrivals are checked above).
        let got: BTreeSet<String> = all_pages(&server, &format!("{query}&limit=4"), || {})
            .into_iter()
            .filter(|id| by_id.contains_key(id.as_str()))
            .collect();
        assert_eq!(got, expected, "{query}");
    }
    // Time filters: `to` is exclusive, `from` inclusive, at the last original lead.
    let last = routed.last().unwrap();
    let at = get(
        &server,
        &format!("q={}", last.body["email"].as_str().unwrap()),
    )["items"][0]["received_at"]
        .as_str()
        .unwrap()
        .to_string();
    let before = set(all_pages(&server, &format!("to={at}&limit=50"), || {}));
    let mut want_before = all.clone();
    want_before.remove(&last.id);
    assert_eq!(before, want_before, "to={at}");
    let after = set(all_pages(&server, &format!("from={at}&limit=50"), || {}));
    let mut want_after = set(late.iter().map(|r| r.id.clone()));
    want_after.insert(last.id.clone());
    assert_eq!(after, want_after, "from={at}");

    // Bad filters: a 400 naming each.
    let r = server
        .get("/v1/leads?tier=boiling&status=closed&q=ab&from=yesterday&cursor=zz&limit=501")
        .admin()
        .send()
        .expect_status(400);
    let body = r.json();
    let fields: BTreeSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["tier", "status", "q", "from", "cursor", "limit"]),
        "{body:#}"
    );
    r.check(
        body["message"]
            .as_str()
            .unwrap()
            .contains("hot, warm, standard"),
        "the message lists the tiers",
    );
    let r = server
        .get("/v1/leads?ownr=ann")
        .admin()
        .send()
        .expect_status(400);
    r.check(r.text.contains("ownr"), "an unknown parameter is named");
    server
        .get("/v1/leads?format=xml")
        .admin()
        .send()
        .expect_status(400);

    // CSV: the whole result (not one page), by `format=csv` or by `Accept`.
    for call in [
        server.get("/v1/leads?format=csv&limit=2&q=haddad").admin(),
        server
            .get("/v1/leads?limit=2&q=haddad")
            .admin()
            .header("Accept", "text/csv"),
    ] {
        let r = call.send().expect_status(200);
        r.check(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/csv")),
            "text/csv",
        );
        let mut rd = csv::Reader::from_reader(r.text.as_bytes());
        let headers = rd.headers().unwrap().clone();
        assert_eq!(&headers[0], "id");
        let rows: Vec<csv::StringRecord> = rd.records().map(|x| x.unwrap()).collect();
        let ids = set(rows.iter().map(|row| row[0].to_string()));
        let haddad = routed
            .iter()
            .chain(late.iter())
            .filter(|r| r.body["last_name"] == "Haddad");
        assert_eq!(ids, set(haddad.map(|r| r.id.clone())));
        let last = headers.iter().position(|h| h == "last_name").unwrap();
        assert!(rows.iter().all(|row| &row[last] == "Haddad"));
    }
    let everything = server
        .get("/v1/leads?format=csv")
        .admin()
        .send()
        .expect_status(200);
    let n = csv::Reader::from_reader(everything.text.as_bytes())
        .records()
        .count();
    assert_eq!(n, all.len() + late.len());

    // Erasure: the person's name and address find nothing any more.
    let target = routed
        .iter()
        .find(|r| r.body["last_name"] == "Taggart")
        .unwrap();
    let email = target.body["email"].as_str().unwrap();
    assert!(item_ids(&get(&server, &format!("q={email}"))).contains(&target.id));
    server
        .call(reqwest::Method::DELETE, &format!("/v1/people/{email}"))
        .admin()
        .send()
        .expect_status(200);
    assert_eq!(
        item_ids(&get(&server, &format!("q={email}"))),
        Vec::<String>::new()
    );
    let taggart = item_ids(&get(&server, "q=taggart"));
    assert!(!taggart.contains(&target.id), "{taggart:?}");
}

// The console login over HTTP, with the shared console helpers.
use support::console::{console_hash, csrf_of, set_cookie};

fn console_login(server: &Server, user: &str, password: &str) -> String {
    let page = server.get("/console/login").send().expect_status(200);
    let login_cookie = set_cookie(&page, "lr_console_login");
    let csrf = csrf_of(&page.text);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", user)
        .append_pair("password", password)
        .append_pair("csrf", &csrf)
        .finish();
    let r = server
        .post("/console/login")
        .header("cookie", &login_cookie)
        .body("application/x-www-form-urlencoded", body)
        .send()
        .expect_status(303);
    set_cookie(&r, "lr_console")
}

/// A rep's leads page and CSV hold their own leads only, whatever owner the URL names;
/// staff see everyone's; a bad filter is a 400 page naming it; the overview and queue
/// pages link to the full list.
#[test]
fn ops_6_console_leads_page_is_scoped_to_the_rep() {
    let hash = console_hash("search-password-1");
    let server = Server::start(e2e().env(
        "LEADROUTER_CONSOLE_USERS",
        format!("ann.archer:rep:{hash};boss:admin:{hash}"),
    ));
    let routed: Vec<Routed> = (0..12).map(|n| submit(&server, n)).collect();
    let ann: BTreeSet<String> = routed
        .iter()
        .filter(|r| r.owner.as_deref() == Some("ann.archer"))
        .map(|r| r.id.clone())
        .collect();
    assert!(!ann.is_empty() && ann.len() < routed.len());
    let listed = |text: &str| -> BTreeSet<String> {
        text.split("<tr id=\"lead-")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    };

    let rep = console_login(&server, "ann.archer", "search-password-1");
    for url in [
        "/console/leads",
        "/console/leads?owner=ben.baker",
        "/console/leads?owner=",
    ] {
        let page = server
            .get(url)
            .header("cookie", &rep)
            .send()
            .expect_status(200);
        assert_eq!(listed(&page.text), ann, "{url}");
        page.check(
            !page.text.contains("name=\"owner\""),
            "a rep has no owner filter",
        );
    }
    let csv = server
        .get("/console/leads.csv?owner=ben.baker")
        .header("cookie", &rep)
        .send()
        .expect_status(200);
    let ids: BTreeSet<String> = csv::Reader::from_reader(csv.text.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(ids, ann);
    let my = server
        .get("/console/my")
        .header("cookie", &rep)
        .send()
        .expect_status(200);
    my.check(
        my.text.contains("href=\"/console/leads\""),
        "My leads links to the full list",
    );

    let boss = console_login(&server, "boss", "search-password-1");
    let page = server
        .get("/console/leads?owner=ben.baker")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    let ben = set(routed
        .iter()
        .filter(|r| r.owner.as_deref() == Some("ben.baker"))
        .map(|r| r.id.clone()));
    assert_eq!(listed(&page.text), ben);
    let bad = server
        .get("/console/leads?tier=boiling&q=%3Cb%3E")
        .header("cookie", &boss)
        .send()
        .expect_status(400);
    bad.check(
        bad.text.contains("must be one of hot, warm, standard"),
        "the tier is named",
    );
    bad.check(!bad.text.contains("<b>"), "the search text is escaped");
    let overview = server
        .get("/console/overview")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    overview.check(
        overview.text.contains("id=\"all-leads\""),
        "the overview links to every lead",
    );
    let queues = server
        .get("/console/queues?q=review")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    queues.check(
        queues
            .text
            .contains("/console/leads?queue=review&amp;status=open"),
        "a queue links to all its open leads",
    );
}
