//! OPS-5 in the console, over HTTP through the real `leadrouter serve` on SQLite: the
//! What if page replays the stored leads through a pasted candidate, an uploaded one
//! (TOML and accounts CSV as files) and a stored version, in the background, and shows
//! figures that match what the service decided: the leads a candidate moves, per rep,
//! before and after, each changed lead linked to its two traces. The Config history page
//! lists the versions that served and tells, by id and field, what a reload changed.
//! Both are for admins only and their forms carry the CSRF token.

mod support;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};
use support::console::{console_hash, csrf_of, form, set_cookie};
use support::{ServeOptions, Server, TestDb, owner_of};

const PASSWORD: &str = "whatif-password-1";
const E2E: &str = include_str!("fixtures/e2e.toml");
const EMPLOYEES: [u32; 3] = [40, 500, 5000];

const COMPANIES: &[(&str, &str)] = &[
    ("Northwind Traders", "northwind-traders.io"),
    ("Globex", "globex.com"),
    ("Personal", "gmail.com"),
    ("Tailspin Toys", "tailspin-toys.io"),
];

/// The `n`th lead: the company decides the path (the pool's round robin, the globex.com
/// account, a personal address for review).
fn lead(n: usize) -> Value {
    let (company, domain) = COMPANIES[n % COMPANIES.len()];
    json!({
        "first_name": format!("Person{n}"),
        "last_name": "Whatif",
        "email": format!("person{n}@{domain}"),
        "company": company,
        "country": "US",
        "employees": EMPLOYEES[n % 3],
        "industry": "software",
        "action": if n.is_multiple_of(2) { "demo_request" } else { "content_download" },
    })
}

/// A server on a config of its own (so a test can change and reload it) with an admin,
/// an ops user and a manager.
fn start(dir: &Path) -> Server {
    start_with(dir, E2E, "")
}

/// [`start`] on `toml`, with `more_users` (`NAME:ROLE` entries) besides.
fn start_with(dir: &Path, toml: &str, more_users: &str) -> Server {
    Server::start(options(dir, toml, more_users))
}

fn options(dir: &Path, toml: &str, more_users: &str) -> ServeOptions {
    let config = dir.join("leadrouter.toml");
    std::fs::write(&config, toml).expect("writing the config");
    let hash = console_hash(PASSWORD);
    let mut users = format!("boss:admin:{hash};olly:ops:{hash};mgr:manager:{hash}");
    for u in more_users.split(';').filter(|u| !u.is_empty()) {
        users.push_str(&format!(";{u}:{hash}"));
    }
    support::serve(&config).env("LEADROUTER_CONSOLE_USERS", users)
}

fn login(server: &Server, user: &str) -> String {
    let page = server.get("/console/login").send().expect_status(200);
    let login_cookie = set_cookie(&page, "lr_console_login");
    let r = server
        .post("/console/login")
        .header("cookie", &login_cookie)
        .body(
            "application/x-www-form-urlencoded",
            form(&[
                ("username", user),
                ("password", PASSWORD),
                ("csrf", &csrf_of(&page.text)),
            ]),
        )
        .send()
        .expect_status(303);
    set_cookie(&r, "lr_console")
}

/// A multipart/form-data body: (name, file name for a file, value).
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let boundary = "----whatif-test-boundary-7d1f";
    let mut body = String::new();
    for (name, file, value) in parts {
        body.push_str(&format!("--{boundary}\r\n"));
        match file {
            Some(f) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/plain\r\n\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
        }
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Post the What if form; the response.
fn post_whatif<'a>(
    server: &'a Server,
    cookie: &str,
    parts: &[(&str, Option<&str>, &str)],
) -> leadrouter_testsupport::Resp<'a> {
    let (ct, body) = multipart(parts);
    server
        .post("/console/whatif")
        .header("cookie", cookie)
        .body(&ct, body)
        .send()
}

/// Start a run; wait for it to finish; its page.
fn run(server: &Server, cookie: &str, parts: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let r = post_whatif(server, cookie, parts);
    if r.status != 303 {
        r.fail("expected a redirect to the run");
    }
    let location = r.header("location").expect("location").to_string();
    let id = location
        .strip_prefix("/console/whatif/")
        .expect("a run page")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let page = server
            .get(&location)
            .header("cookie", cookie)
            .send()
            .expect_status(200);
        if !page.text.contains("Replaying…") {
            assert!(page.header("refresh").is_none(), "done: no more reloads");
            assert!(!page.text.contains("id=\"run-error\""), "{}", page.text);
            return (id, page.text);
        }
        assert_eq!(page.header("refresh"), Some("2"), "reloads while running");
        assert!(Instant::now() < deadline, "the replay did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// "N routing decisions, M changed".
fn summary(html: &str) -> (u64, u64) {
    let at = html.find(" routing decisions, ").expect("a summary");
    let routed = html[..at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("routed");
    let changed = html[at + 20..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("changed");
    (routed, changed)
}

/// A rep's leads before and after, from the report's rep table.
fn rep_leads(html: &str, rep: &str) -> (u64, u64) {
    let at = html
        .find(&format!("<tr data-rep=\"{rep}\">"))
        .unwrap_or_else(|| panic!("no row for {rep}"));
    let row = &html[at..at + html[at..].find("</tr>").expect("row end")];
    let cells: Vec<&str> = row
        .split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').expect("cell") + 1..];
            &c[..c.find("</td>").expect("cell end")]
        })
        .collect();
    (
        cells[2].parse().expect("before"),
        cells[3].parse().expect("after"),
    )
}

/// The leads the report links to their traces.
fn changed_links(html: &str, run: &str) -> BTreeSet<String> {
    let prefix = format!("/console/whatif/{run}/leads/");
    html.match_indices(&prefix)
        .map(|(i, _)| {
            let rest = &html[i + prefix.len()..];
            rest[..rest.find('"').expect("link end")].to_string()
        })
        .collect()
}

struct Routed {
    id: String,
    domain: &'static str,
    owner: Option<String>,
}

fn count(routed: &[Routed], rep: &str) -> u64 {
    routed
        .iter()
        .filter(|r| r.owner.as_deref() == Some(rep))
        .count() as u64
}

#[test]
fn ops_5_what_if_replays_a_candidate_in_the_console() {
    let dir = tempfile::tempdir().expect("temporary directory");
    what_if_story(&start(dir.path()));
}

/// The same on PostgreSQL: the replay reads its own `REPEATABLE READ, READ ONLY` snapshot
/// while the service keeps its pool.
#[test]
fn ops_5_what_if_on_postgres() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let Some(db) = rt.block_on(TestDb::postgres()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(options(dir.path(), E2E, "").database(db.url.clone()));
    what_if_story(&server);
}

/// Leads through the service, then the What if page: refusals, a candidate that does not
/// compile, and four runs whose figures must match the service's own decisions.
fn what_if_story(server: &Server) {
    let routed: Vec<Routed> = (0..16)
        .map(|n| {
            let d = server.submit(&lead(n));
            Routed {
                id: d["lead_id"].as_str().expect("lead_id").to_string(),
                domain: COMPANIES[n % COMPANIES.len()].1,
                owner: owner_of(&d),
            }
        })
        .collect();
    let (ann, ben, cara) = (
        count(&routed, "ann.archer"),
        count(&routed, "ben.baker"),
        count(&routed, "cara.cole"),
    );
    assert!(ann > 0 && ben > 0 && cara > 0, "every rep got leads");

    // Admins only; a form without the token is refused.
    let ops = login(server, "olly");
    server
        .get("/console/whatif")
        .header("cookie", &ops)
        .send()
        .expect_status(403);
    let boss = login(server, "boss");
    let page = server
        .get("/console/whatif")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    assert!(page.text.contains("No runs yet."), "{}", page.text);
    let csrf = csrf_of(&page.text);
    let r = post_whatif(
        server,
        &boss,
        &[("source", None, "paste"), ("toml", None, E2E)],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("security token"), "{}", r.text);
    let r = post_whatif(
        server,
        &ops,
        &[
            ("csrf", None, &csrf),
            ("source", None, "paste"),
            ("toml", None, E2E),
        ],
    );
    assert_eq!(r.status, 403, "ops may not run a replay");
    // A candidate that does not compile: the error names the file and what is wrong.
    let broken = E2E.replace("owner = \"cara.cole\"", "owner = \"nobody\"");
    let r = post_whatif(
        server,
        &boss,
        &[
            ("csrf", None, &csrf),
            ("source", None, "paste"),
            ("toml", None, &broken),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("candidate.toml") && r.text.contains("nobody"),
        "{}",
        r.text
    );

    // Pasted: Ben leaves the pool for the account team. Every lead he got goes to Ann;
    // Cara's account leads and the review queue do not move.
    let candidate = E2E.replace(
        "email = \"ben@e2e.example\"\nteam = \"pool\"",
        "email = \"ben@e2e.example\"\nteam = \"accounts\"",
    );
    assert_ne!(candidate, E2E);
    let (id, report) = run(
        server,
        &boss,
        &[
            ("csrf", None, &csrf),
            ("source", None, "paste"),
            ("toml", None, &candidate),
        ],
    );
    assert_eq!(summary(&report), (16, ben), "{report}");
    assert_eq!(rep_leads(&report, "ann.archer"), (ann, ann + ben));
    assert_eq!(rep_leads(&report, "ben.baker"), (ben, 0));
    assert_eq!(rep_leads(&report, "cara.cole"), (cara, cara));
    assert!(report.contains("<svg"), "the chart of leads per rep");
    let bens: BTreeSet<String> = routed
        .iter()
        .filter(|r| r.owner.as_deref() == Some("ben.baker"))
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(changed_links(&report, &id), bens);
    // One changed lead's two traces, side by side.
    let lead_id = bens.iter().next().expect("a changed lead");
    let traces = server
        .get(&format!("/console/whatif/{id}/leads/{lead_id}"))
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    let pre = |class: &str| {
        let at = traces
            .text
            .find(&format!("<pre class=\"{class}\">"))
            .unwrap_or_else(|| panic!("no {class} trace: {}", traces.text));
        traces.text[at..at + traces.text[at..].find("</pre>").expect("pre end")].to_string()
    };
    assert!(pre("before").contains("Ben Baker"), "{}", pre("before"));
    assert!(pre("after").contains("Ann Archer"), "{}", pre("after"));
    assert!(!pre("after").contains("Ben Baker"), "{}", pre("after"));
    assert!(
        traces
            .text
            .contains(&format!("href=\"/console/leads/{lead_id}\""))
    );
    server
        .get(&format!("/console/whatif/{id}/leads/not-a-lead"))
        .header("cookie", &boss)
        .send()
        .expect_status(404);

    // Uploaded as files, with an accounts CSV giving Northwind to Cara: Northwind's leads
    // go to her; the pool's round robin then deals the other pool leads in turn.
    let with_csv = E2E.replace(
        "[routing]\n",
        "[routing]\naccounts_csv = \"accounts.csv\"\n",
    );
    let accounts = "domain,name,owner\nnorthwind-traders.io,Northwind Traders,cara.cole\n";
    let (_, report) = run(
        server,
        &boss,
        &[
            ("csrf", None, &csrf),
            ("source", None, "paste"),
            ("toml_file", Some("candidate.toml"), &with_csv),
            ("accounts_file", Some("accounts.csv"), accounts),
        ],
    );
    let pool: Vec<&Routed> = routed
        .iter()
        .filter(|r| matches!(r.domain, "northwind-traders.io" | "tailspin-toys.io"))
        .collect();
    let first = pool[0]
        .owner
        .clone()
        .expect("the pool's first lead has an owner");
    let order = if first == "ann.archer" {
        ["ann.archer", "ben.baker"]
    } else {
        ["ben.baker", "ann.archer"]
    };
    let mut after: BTreeMap<&str, String> = BTreeMap::new();
    let mut turn = 0;
    for r in &pool {
        if r.domain == "northwind-traders.io" {
            after.insert(&r.id, "cara.cole".into());
        } else {
            after.insert(&r.id, order[turn % 2].into());
            turn += 1;
        }
    }
    let moved = pool
        .iter()
        .filter(|r| r.owner.as_deref() != Some(after[r.id.as_str()].as_str()))
        .count() as u64;
    let after_count = |rep: &str| after.values().filter(|o| *o == rep).count() as u64;
    assert_eq!(summary(&report), (16, moved), "{report}");
    assert_eq!(
        rep_leads(&report, "ann.archer"),
        (ann, after_count("ann.archer"))
    );
    assert_eq!(
        rep_leads(&report, "ben.baker"),
        (ben, after_count("ben.baker"))
    );
    assert_eq!(
        rep_leads(&report, "cara.cole"),
        (cara, cara + after_count("cara.cole"))
    );

    // The live version from the history: nothing changes. A window after every lead: no
    // decision to replay.
    let live = server
        .get("/console/whatif")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    let at = live
        .text
        .find("<option value=\"")
        .expect("a stored version")
        + 15;
    let version = live.text[at..]
        .split('"')
        .next()
        .expect("version")
        .to_string();
    let (_, report) = run(
        server,
        &boss,
        &[
            ("csrf", None, &csrf),
            ("source", None, "stored"),
            ("stored_version", None, &version),
        ],
    );
    assert_eq!(summary(&report), (16, 0), "{report}");
    let (_, report) = run(
        server,
        &boss,
        &[
            ("csrf", None, &csrf),
            ("since", None, "2999-01-01"),
            ("source", None, "stored"),
            ("stored_version", None, &version),
        ],
    );
    assert_eq!(summary(&report).0, 0, "{report}");
    // The runs are listed, newest first, at most five kept.
    let list = server
        .get("/console/whatif")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    assert_eq!(
        list.text
            .matches("<tr><td><a href=\"/console/whatif/")
            .count(),
        4
    );
    assert!(
        list.text.contains(&format!("done: {ben} of 16 changed")),
        "{}",
        list.text
    );
}

#[test]
fn ops_5_config_history_lists_versions_and_diffs_rules() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = start(dir.path());
    let changed = E2E
        .replace(
            "email = \"ben@e2e.example\"\nteam = \"pool\"",
            "email = \"ben@e2e.example\"\nteam = \"accounts\"",
        )
        .replace("recycle_after_days = 90", "recycle_after_days = 60")
        + "\n[[rule]]\nid = \"us-smb\"\npriority = 5\ncountry = [\"US\"]\nsegment = [\"smb\"]\nroute_to = \"rep:ann.archer\"\n";
    std::fs::write(dir.path().join("leadrouter.toml"), &changed).expect("writing the config");
    let r: Value = server
        .post("/v1/admin/reload")
        .admin()
        .send()
        .expect_status(200)
        .json();
    assert_eq!(r["reloaded"], true, "{r}");

    let ops = login(&server, "olly");
    server
        .get("/console/config")
        .header("cookie", &ops)
        .send()
        .expect_status(403);
    let boss = login(&server, "boss");
    let page = server
        .get("/console/config")
        .header("cookie", &boss)
        .send()
        .expect_status(200)
        .text;
    assert_eq!(page.matches("<tr data-version=").count(), 2, "{page}");
    assert!(page.contains("<td>startup</td>"), "{page}");
    assert_eq!(page.matches("pill good\">live").count(), 1);
    // By default: the version before against the newest.
    has_change(&page, "ben.baker", "team", "pool", "accounts");
    has_change(
        &page,
        "pool",
        "members",
        "ann.archer, ben.baker",
        "ann.archer",
    );
    has_change(
        &page,
        "accounts",
        "members",
        "cara.cole",
        "ben.baker, cara.cole",
    );
    has_change(&page, "routing.recycle_after_days", "value", "90", "60");
    let rules = &page[page.find("id=\"diff-rules\"").expect("rules")..];
    let rules = &rules[..rules.find("</table>").expect("end")];
    assert!(
        rules.contains("<strong>us-smb</strong></td><td><span class=\"pill good\">added</span></td><td colspan=\"3\" class=\"muted\">priority=5, layer=territory, segment=smb, country=US, route_to=rep:ann.archer</td>"),
        "{rules}"
    );
    assert_eq!(rules.matches("<tr class=").count(), 1, "{rules}");
    assert!(page.contains("id=\"text-diff\""), "{page}");
    assert!(page.contains("+ recycle_after_days = 60"), "{page}");
    assert!(page.contains("- recycle_after_days = 90"), "{page}");

    // The other way round: the rule is removed.
    let versions: Vec<String> = page
        .match_indices("<tr data-version=\"")
        .map(|(i, _)| {
            page[i + 18..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let back = server
        .get(&format!(
            "/console/config?a={}&b={}",
            versions[0], versions[1]
        ))
        .header("cookie", &boss)
        .send()
        .expect_status(200)
        .text;
    assert!(
        back.contains("<strong>us-smb</strong></td><td><span class=\"pill bad\">removed"),
        "{back}"
    );
    server
        .get("/console/config?a=sha256:nope&b=sha256:nope")
        .header("cookie", &boss)
        .send()
        .expect_status(404);
}

/// The changed row of `id` on the page has this field change.
fn has_change(page: &str, id: &str, field: &str, before: &str, after: &str) {
    let want = format!("<td>{field}</td><td class=\"muted\">{before}</td><td>{after}</td>");
    let marker = format!("<td><strong>{id}</strong>");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no change for {id}: {page}"))
        + marker.len();
    // Up to the next item's row.
    let rest = &page[at..];
    let end = rest.find("<td><strong>").unwrap_or(rest.len());
    assert!(
        rest[..end].contains(&want),
        "{id}: {want} in {}",
        &rest[..end]
    );
}

/// The lead rows of a console leads page.
fn listed(html: &str) -> BTreeSet<String> {
    html.match_indices("<tr id=\"lead-")
        .map(|(i, _)| {
            html[i + 13..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn ops_6_managers_find_only_their_reps_leads() {
    // Cara and the account team get a manager of their own.
    let toml =
        E2E.replace(
            "email = \"cara@e2e.example\"\nteam = \"accounts\"\nmanager = \"mgr\"",
            "email = \"cara@e2e.example\"\nteam = \"accounts\"\nmanager = \"mgr2\"",
        )
        .replace(
            "id = \"accounts\"\nname = \"Account owners\"\nmanager = \"mgr\"",
            "id = \"accounts\"\nname = \"Account owners\"\nmanager = \"mgr2\"",
        ) + "\n[[manager]]\nid = \"mgr2\"\nname = \"Mia Manager\"\nemail = \"mia@e2e.example\"\n";
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = start_with(dir.path(), &toml, "mgr2:manager;ann.archer:rep");
    let routed: Vec<Routed> = (0..12)
        .map(|n| {
            let d = server.submit(&lead(n));
            Routed {
                id: d["lead_id"].as_str().expect("lead_id").to_string(),
                domain: COMPANIES[n % COMPANIES.len()].1,
                owner: owner_of(&d),
            }
        })
        .collect();
    let of = |reps: &[&str]| -> BTreeSet<String> {
        routed
            .iter()
            .filter(|r| r.owner.as_deref().is_some_and(|o| reps.contains(&o)))
            .map(|r| r.id.clone())
            .collect()
    };
    let pool = of(&["ann.archer", "ben.baker"]);
    let cara = of(&["cara.cole"]);
    assert!(!pool.is_empty() && !cara.is_empty());
    assert!(
        routed.iter().any(|r| r.owner.is_none()),
        "some leads wait in a queue"
    );
    let page = |user: &str, query: &str| {
        let cookie = login(&server, user);
        let r = server
            .get(&format!("/console/leads{query}"))
            .header("cookie", &cookie)
            .send()
            .expect_status(200);
        listed(&r.text)
    };
    assert_eq!(page("boss", "").len(), routed.len(), "staff see every lead");
    assert_eq!(page("mgr", ""), pool);
    assert_eq!(page("mgr2", ""), cara);
    // Another manager's rep, asked for by name: nothing.
    assert!(page("mgr", "?owner=cara.cole").is_empty());
    assert_eq!(page("mgr", "?owner=ben.baker"), of(&["ben.baker"]));
    assert_eq!(page("ann.archer", ""), of(&["ann.archer"]));
    // The CSV of a manager's search: the same leads.
    let cookie = login(&server, "mgr2");
    let csv = server
        .get("/console/leads.csv")
        .header("cookie", &cookie)
        .send()
        .expect_status(200)
        .text;
    let ids: BTreeSet<String> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(str::to_string)
        .collect();
    assert_eq!(ids, cara);
}
