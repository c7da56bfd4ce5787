//! End-to-end tests of the routing service (issue 3): each test starts the real
//! `leadrouter serve` on port 0 with a fresh SQLite database and drives it over HTTP.
//!
//! They run on `tests/fixtures/e2e.toml`, whose reps have no working hours, so every
//! outcome is the same at any time of day: the `pool` team is a round robin of
//! ann.archer then ben.baker (also the default team), `globex.com` belongs to cara.cole.
//! Tests are named after the requirement ids of PRODUCT.md where one applies.

mod support;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::{ADMIN_KEY, Server, cli, e2e, owner_of, serve};

const ANN: &str = "ann.archer";
const BEN: &str = "ben.baker";
const CARA: &str = "cara.cole";

/// A hot mid-market software demo request from a company no account matches: it goes
/// to the default team `pool`, i.e. the next rep in the round robin.
fn pool_lead(email: &str) -> Value {
    json!({
        "first_name": "Pat",
        "last_name": "Example",
        "email": email,
        "company": "Example Co",
        "title": "Head of Data",
        "country": "US",
        "employees": 500,
        "industry": "software",
        "action": "demo_request",
        "lead_source": "website",
    })
}

fn owner(v: &Value) -> String {
    owner_of(v).unwrap_or_else(|| panic!("no owner in {v:#}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v:#}"))
}

fn kinds(lead: &Value) -> Vec<String> {
    lead["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history array in {lead:#}"))
        .iter()
        .map(|h| h["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn timestamp(v: &Value, key: &str) -> Timestamp {
    let s = str_of(v, key);
    s.parse()
        .unwrap_or_else(|e| panic!("`{key}` = {s:?} is not an RFC 3339 instant: {e}"))
}

fn metrics_text(server: &Server) -> String {
    server
        .get("/metrics")
        .admin()
        .send()
        .expect_status(200)
        .text
}

/// Sum of the `leadrouter_leads_routed_total` counters.
fn routed_total(server: &Server) -> u64 {
    metrics_text(server)
        .lines()
        .filter(|l| l.starts_with("leadrouter_leads_routed_total"))
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|n| n.parse::<f64>().ok())
        .sum::<f64>() as u64
}

// --- CAP-1 ----------------------------------------------------------------------

#[test]
fn cap_1_json_intake_returns_decision() {
    let server = Server::start(e2e());
    let resp = server
        .post("/v1/leads")
        .intake()
        .json(&pool_lead("pat.one@example-co.com"))
        .send()
        .expect_status(201);
    let d = resp.json();
    for key in [
        "lead_id", "owner", "queue", "segment", "tier", "sla", "reason",
    ] {
        resp.check(
            d.get(key).is_some(),
            &format!("the decision has no `{key}`"),
        );
    }
    resp.check(
        !str_of(&d, "lead_id").is_empty(),
        "lead_id must not be empty",
    );
    assert_eq!(
        d["owner"],
        json!({"id": ANN, "name": "Ann Archer"}),
        "{d:#}"
    );
    assert_eq!(d["queue"], Value::Null, "{d:#}");
    assert_eq!(d["segment"], "mid_market", "{d:#}");
    assert_eq!(d["tier"], "hot", "{d:#}");
    assert_eq!(d["team"], "pool", "{d:#}");
    assert_eq!(d["path"], "default_team", "{d:#}");
    assert_eq!(d["deduplicated"], false, "{d:#}");
    resp.check(
        str_of(&d, "reason").contains("Ann Archer"),
        "the reason names the rep",
    );
    resp.check(
        d["sla"]["route_by"].is_string() && d["sla"]["contact_by"].is_string(),
        "the SLA carries its deadlines",
    );
    resp.check(
        d.get("trace").is_none() && d.get("trace_text").is_none(),
        "no trace unless ?explain=true",
    );

    // ?explain=true adds the trace, structured and as text.
    let resp = server
        .post("/v1/leads?explain=true")
        .intake()
        .json(&pool_lead("pat.two@example-co.com"))
        .send()
        .expect_status(201);
    let d = resp.json();
    assert_eq!(owner(&d), BEN, "round robin: the second lead goes to ben");
    resp.check(
        d["trace"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "trace.steps lists the decision steps",
    );
    resp.check(
        d["trace"]["facts"]["email"] == "pat.two@example-co.com",
        "trace.facts shows the normalised lead",
    );
    let text = str_of(&d, "trace_text");
    resp.check(
        text.contains(BEN) || text.contains("Ben Baker"),
        "trace_text names the chosen rep",
    );
}

/// Every lead ends with an owner or in a named queue (deterministic parts of the demo
/// outcomes: junk, review, qualification, nurture, account owner).
#[test]
fn decisions_end_in_an_owner_or_a_named_queue() {
    let server = Server::start(e2e());
    let cases = [
        (
            "disposable domain",
            json!({"email": "bkeller2026@mailinator.com", "company": "Keller", "employees": 500, "action": "trial_signup"}),
            "junk",
        ),
        (
            "honeypot filled",
            json!({"email": "real.person@brightlane.io", "company": "Brightlane", "employees": 500,
                   "industry": "software", "action": "demo_request", "fields": {"website_url": "http://spam.example"}}),
            "junk",
        ),
        (
            "test values",
            json!({"email": "test@test.com", "first_name": "asdf", "last_name": "asdf", "company": "test"}),
            "junk",
        ),
        (
            "personal email, no company",
            json!({"email": "someone.private@gmail.com", "action": "demo_request"}),
            "review",
        ),
        (
            "no firmographics",
            json!({"email": "s.oduya@kestrelpartners.net", "company": "Kestrel Partners", "action": "demo_request"}),
            "qualification",
        ),
        (
            "low intent, small retail",
            json!({"email": "coordinator@smallshop.com", "company": "Small Shop", "employees": 10,
                   "industry": "retail", "action": "newsletter_signup"}),
            "nurture",
        ),
    ];
    for (what, lead, queue) in cases {
        let d = server.submit(&lead);
        assert_eq!(d["queue"], queue, "{what}: {d:#}");
        assert_eq!(d["owner"], Value::Null, "{what}: a queue, not a rep: {d:#}");
    }
    // ACC-1: an account's owner wins over the pool.
    let d = server.submit(&pool_lead("jane@globex.com"));
    assert_eq!(owner(&d), CARA, "{d:#}");
    assert_eq!(d["path"], "account_owner", "{d:#}");
    // None of the above consumed a pool turn.
    assert_eq!(owner(&server.submit(&pool_lead("first@pool-co.com"))), ANN);
}

// --- CAP-2 ----------------------------------------------------------------------

/// A Salesforce Web-to-Lead form as a browser encodes it.
fn web_to_lead_body(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

#[test]
fn cap_2_web_to_lead_form_post() {
    let server = Server::start(e2e());
    let custom = "00N5e00000AbCdE";
    let ret = "https://www.northwind.example/thanks?src=demo&lang=de";
    let description = "Need a demo: 50+ seats, ~3 regions & 100% cloud; \"ASAP\"";
    let body = web_to_lead_body(&[
        ("oid", "00D5e000000XyZ1"),
        ("retURL", ret),
        ("first_name", "José"),
        ("last_name", "Müller-Lüdenscheidt"),
        ("email", "jose.mueller@brightlane-software.com"),
        ("company", "Brightlane Software & Co"),
        ("title", "VP Sales"),
        ("phone", "+1 (415) 555-0123"),
        ("country", "US"),
        ("state", "CA"),
        ("employees", "450"),
        ("industry", "Software"),
        ("lead_source", "Web"),
        ("description", description),
        (custom, "Q1 2027"),
        ("website_url", ""),
        ("submit", "Request a demo"),
    ]);
    // What a browser sends: `+` for spaces, UTF-8 percent-encoding.
    assert!(body.contains("first_name=Jos%C3%A9"), "{body}");
    assert!(body.contains("title=VP+Sales"), "{body}");
    assert!(
        body.contains("company=Brightlane+Software+%26+Co"),
        "{body}"
    );

    let resp = server
        .post("/v1/forms/demo-request")
        .body("application/x-www-form-urlencoded", body)
        .send()
        .expect_status(303);
    resp.check(
        resp.header("location") == Some(ret),
        "303 back to the form's retURL",
    );

    // The browser got no lead id; the same person through the API finds the same lead.
    let again = server
        .submit(&json!({"email": "Jose.Mueller@Brightlane-Software.com", "phone": "+14155550123"}));
    assert_eq!(again["deduplicated"], true, "{again:#}");
    let lead = server.lead(str_of(&again, "lead_id"));
    assert_eq!(lead["source"], "form:demo-request", "{lead:#}");
    let stored = &lead["lead"];
    assert_eq!(stored["first_name"], "José", "{lead:#}");
    assert_eq!(stored["last_name"], "Müller-Lüdenscheidt", "{lead:#}");
    assert_eq!(stored["company"], "Brightlane Software & Co", "{lead:#}");
    assert_eq!(stored["phone"], "+1 (415) 555-0123", "{lead:#}");
    assert_eq!(stored["description"], description, "{lead:#}");
    assert_eq!(
        stored["lead_source"], "Web",
        "the form's value beats the default"
    );
    assert_eq!(
        stored["action"], "demo_request",
        "the form key's default action"
    );
    assert_eq!(stored["fields"][custom], "Q1 2027", "{lead:#}");
    for control in ["oid", "retURL", "submit", "website_url"] {
        assert!(
            stored.get(control).is_none() && stored["fields"].get(control).is_none(),
            "`{control}` is not a lead field: {lead:#}"
        );
    }
    assert_eq!(lead["segment"], "mid_market", "{lead:#}");
    assert_eq!(lead["tier"], "hot", "{lead:#}");
    assert_eq!(lead["owner"], ANN, "{lead:#}");

    // A relative retURL is followed too.
    let resp = server
        .post("/v1/forms/demo-request")
        .body(
            "application/x-www-form-urlencoded",
            web_to_lead_body(&[
                ("retURL", "/thanks"),
                ("email", "rel.person@relative-co.com"),
                ("company", "Relative Co"),
            ]),
        )
        .send()
        .expect_status(303);
    resp.check(
        resp.header("location") == Some("/thanks"),
        "relative retURL",
    );

    // A retURL on a foreign host is not followed (no open redirect): JSON instead.
    let resp = server
        .post("/v1/forms/demo-request")
        .body(
            "application/x-www-form-urlencoded",
            web_to_lead_body(&[
                ("retURL", "https://evil.example/phish"),
                ("first_name", "Eve"),
                ("email", "eve@elsewhere-co.com"),
                ("company", "Elsewhere"),
                ("employees", "500"),
                ("industry", "software"),
            ]),
        )
        .send()
        .expect_status(201);
    resp.check(resp.header("location").is_none(), "no Location header");
    let d = resp.json();
    resp.check(d["lead_id"].is_string(), "the decision comes back as JSON");

    // Honeypot filled in by a bot: accepted, but junk.
    let d = server
        .post("/v1/forms/demo-request")
        .body(
            "application/x-www-form-urlencoded",
            web_to_lead_body(&[
                ("email", "bot@brightlane-retail.com"),
                ("company", "Brightlane"),
                ("employees", "500"),
                ("website_url", "http://spam.example"),
            ]),
        )
        .send()
        .expect_status(201)
        .json();
    assert_eq!(d["queue"], "junk", "{d:#}");

    // Unknown form key.
    let resp = server
        .post("/v1/forms/no-such-form")
        .body(
            "application/x-www-form-urlencoded",
            web_to_lead_body(&[("email", "x@unknown-form.com")]),
        )
        .send()
        .expect_status(404);
    assert_eq!(resp.json()["error"], "not_found");

    // No usable contact: a field error, nothing stored.
    let resp = server
        .post("/v1/forms/demo-request")
        .body(
            "application/x-www-form-urlencoded",
            web_to_lead_body(&[("retURL", ret), ("email", "not-an-email")]),
        )
        .send()
        .expect_status(422);
    assert_eq!(resp.json()["errors"][0]["field"], "email", "{}", resp.text);
}

// --- CAP-3 ----------------------------------------------------------------------

/// An Excel "CSV UTF-8" export: BOM, `;`, CRLF, a quoted cell holding a `;`.
/// Line 2, 5 and 6 are good; line 3 has a bad email and no phone; line 4 is short.
const EXCEL_CSV: &str = "\u{feff}First Name;Last Name;Email Address;Company Name;Employees\r\n\
Jane;Doe;jane.doe@northstar-software.com;Northstar Software;1200\r\n\
Bad;Email;not-an-email;Nowhere Inc;5\r\n\
Short;Row\r\n\
Zoë;O'Brien;zoe.obrien@brightlane-retail.com;\"Brightlane; Retail & Co\";350\r\n\
Max;Power;max.power@globex.com;Globex;80\r\n";

fn lines_and_ids(import: &Value) -> Vec<(u64, String)> {
    import["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {import:#}"))
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["lead_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn error_lines(import: &Value) -> Vec<(u64, String)> {
    import["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {import:#}"))
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap_or(0),
                e["errors"][0]["field"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

const EXPECTED_ERRORS: [(u64, &str); 2] = [(3, "email"), (4, "row")];

fn expected_errors() -> Vec<(u64, String)> {
    EXPECTED_ERRORS
        .iter()
        .map(|(l, f)| (*l, f.to_string()))
        .collect()
}

/// `POST /v1/imports` with the Excel export: per-row errors with the file's line
/// numbers, good rows routed, and no duplicates when the list is sent again.
#[test]
fn cap_3_csv_import_with_bad_rows() {
    let server = Server::start(e2e());
    let import = |id: Option<&str>| {
        let mut call = server.post("/v1/imports").admin();
        if let Some(id) = id {
            call = call.header("x-import-id", id);
        }
        call.body("text/csv; charset=utf-8", EXCEL_CSV)
            .send()
            .expect_status(200)
            .json()
    };
    let first = import(Some("e2e-list-1"));
    assert_eq!(first["imported"], 3, "{first:#}");
    assert_eq!(first["rejected"], 2, "{first:#}");
    assert_eq!(
        error_lines(&first),
        expected_errors(),
        "errors at the lines Excel shows: {first:#}"
    );
    let rows = lines_and_ids(&first);
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![2, 5, 6],
        "{first:#}"
    );
    let ids: BTreeSet<String> = rows.iter().map(|r| r.1.clone()).collect();
    assert_eq!(ids.len(), 3, "three distinct leads: {first:#}");
    // Each row was routed: the pool in order, Globex to its owner.
    let owners: Vec<Option<String>> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(owner_of)
        .collect();
    assert_eq!(
        owners,
        vec![Some(ANN.into()), Some(BEN.into()), Some(CARA.into())],
        "{first:#}"
    );
    // The quoted cell with `;` and the non-ASCII name survived.
    let zoe = server.lead(&rows[1].1);
    assert_eq!(zoe["lead"]["first_name"], "Zoë", "{zoe:#}");
    assert_eq!(zoe["lead"]["company"], "Brightlane; Retail & Co", "{zoe:#}");
    assert_eq!(zoe["segment"], "mid_market", "{zoe:#}");

    // Re-sending the same import, or the same list as a new import: no duplicates.
    assert_eq!(lines_and_ids(&import(Some("e2e-list-1"))), rows);
    let fresh = import(None);
    assert_eq!(lines_and_ids(&fresh), rows, "dedupe by email: {fresh:#}");
    assert_eq!(error_lines(&fresh), error_lines(&first));
    for (_, id) in &rows {
        let lead = server.lead(id);
        let k = kinds(&lead);
        assert_eq!(k[0], "route", "{lead:#}");
        assert!(
            k[1..].iter().all(|k| k == "resubmission"),
            "re-imports only resubmit: {lead:#}"
        );
    }
}

/// Run `leadrouter import` on `text` in chunks of two rows (so the line offsets of later
/// chunks matter) and check the report, the exit code and that re-runs add nothing.
fn check_import_command(server: &Server, name: &str, text: &str) -> Vec<(u64, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    let file_s = file.display().to_string();
    let args = [
        "import",
        &file_s,
        "--url",
        &server.url,
        "--key",
        ADMIN_KEY,
        "--chunk",
        "2",
    ];
    let out = cli(&args).expect_code(3);
    for (line, field) in EXPECTED_ERRORS {
        out.check(
            out.stderr.contains(&format!("{file_s}:{line}: {field}: ")),
            &format!("stderr reports `{file_s}:{line}: {field}: …`"),
        );
    }
    out.check(
        out.stdout.contains("3 imported, 2 rejected"),
        "stdout says `3 imported, 2 rejected`",
    );

    // Re-running the same command creates nothing new: the same leads, line by line.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let mut seen: Option<Vec<(u64, String)>> = None;
    for run in 0..2 {
        let out = cli(&json_args).expect_code(3);
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| out.fail(&format!("--json output is not JSON: {e}")));
        let rows = lines_and_ids(&v);
        out.check(
            rows.iter().map(|r| r.0).collect::<Vec<_>>() == [2, 5, 6],
            &format!("run {run}: results for lines 2, 5 and 6, once each"),
        );
        out.check(
            error_lines(&v) == expected_errors(),
            &format!("run {run}: errors at the original file's lines 3 and 4"),
        );
        if let Some(prev) = &seen {
            out.check(*prev == rows, "a re-run maps to the same leads");
        }
        seen = Some(rows);
    }
    seen.unwrap()
}

/// `leadrouter import FILE.csv`: per-row errors as file:line: field: message, exit
/// code 3 when rows were rejected, idempotent re-runs. First with LF line ends, then
/// with the Excel export itself (BOM, `;`, CRLF).
#[test]
fn cap_3_import_command_reports_rows_and_reruns_cleanly() {
    let server = Server::start(e2e());
    let lf = EXCEL_CSV.replace("\r\n", "\n");
    let rows = check_import_command(&server, "trade-show.csv", &lf);
    let again = check_import_command(&server, "excel-export.csv", EXCEL_CSV);
    assert_eq!(again, rows, "the same people are the same leads");
    for (_, id) in &rows {
        let lead = server.lead(id);
        let k = kinds(&lead);
        assert_eq!(k[0], "route", "{lead:#}");
        assert!(
            k[1..].iter().all(|k| k == "resubmission"),
            "re-imports only resubmit: {lead:#}"
        );
    }
}

/// A list with a single row is a valid import.
#[test]
fn cap_3_import_command_single_row() {
    let server = Server::start(e2e());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.csv");
    std::fs::write(
        &file,
        "email,company,employees\nsolo@solo-co.com,Solo Co,500\n",
    )
    .unwrap();
    let file_s = file.display().to_string();
    let out = cli(&["import", &file_s, "--url", &server.url, "--key", ADMIN_KEY]).expect_code(0);
    out.check(
        out.stdout.contains("1 imported, 0 rejected"),
        "stdout says `1 imported, 0 rejected`",
    );
}

// --- CAP-4 ----------------------------------------------------------------------

#[test]
fn cap_4_idempotent_retry() {
    let server = Server::start(e2e());
    let lead = pool_lead("retry.me@retry-co.com");
    let send = |key: &str, lead: &Value| {
        server
            .post("/v1/leads")
            .intake()
            .header("Idempotency-Key", key)
            .json(lead)
            .send()
            .expect_status(201)
    };
    let first = send("order-form-7f3a", &lead);
    first.check(
        first.header("idempotent-replayed").is_none(),
        "the first response is not a replay",
    );
    let second = send("order-form-7f3a", &lead);
    second.check(
        second.header("idempotent-replayed") == Some("true"),
        "a retry is marked idempotent-replayed: true",
    );
    assert_eq!(
        second.json(),
        first.json(),
        "a retry gets the first response"
    );
    assert_eq!(owner(&first.json()), ANN);

    // Ten clients retrying at once with one key: one lead.
    let burst = pool_lead("burst@burst-co.com");
    let barrier = std::sync::Barrier::new(10);
    let answers: Vec<(String, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let r = send("burst-key-1", &burst);
                    let id = str_of(&r.json(), "lead_id").to_string();
                    (id, r.header("idempotent-replayed") == Some("true"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: BTreeSet<&String> = answers.iter().map(|a| &a.0).collect();
    assert_eq!(ids.len(), 1, "one lead for one key: {answers:?}");
    assert_eq!(
        answers.iter().filter(|a| !a.1).count(),
        1,
        "exactly one original answer, nine replays: {answers:?}"
    );
    // Replays took no turn: ann, ben, then ann again.
    assert_eq!(owner(&server.submit(&pool_lead("next@next-co.com"))), ANN);

    // A key longer than 255 characters is rejected before anything is stored.
    server
        .post("/v1/leads")
        .intake()
        .header("Idempotency-Key", &"k".repeat(256))
        .json(&pool_lead("long.key@long-co.com"))
        .send()
        .expect_status(400);
}

// --- CAP-5 ----------------------------------------------------------------------

#[test]
fn cap_5_timestamps() {
    let server = Server::start(e2e());
    let before = Timestamp::now();
    let d = server.submit(&pool_lead("clock@clock-co.com"));
    let after = Timestamp::now();
    let received = timestamp(&d, "received_at");
    let routed = timestamp(&d, "routed_at");
    assert!(
        before <= received && received <= routed && routed <= after,
        "{before} <= received_at <= routed_at <= {after}: {d:#}"
    );
    // Hot: route and contact within 5 minutes of the decision.
    let route_by = timestamp(&d["sla"], "route_by");
    assert_eq!(
        route_by.duration_since(routed),
        SignedDuration::from_mins(5),
        "{d:#}"
    );
    // The stored lead carries the same instants (stored to the microsecond).
    let lead = server.lead(str_of(&d, "lead_id"));
    let close =
        |a: Timestamp, b: Timestamp| a.duration_since(b).abs() < SignedDuration::from_micros(2);
    assert!(close(timestamp(&lead, "received_at"), received), "{lead:#}");
    assert!(close(timestamp(&lead, "routed_at"), routed), "{lead:#}");
}

// --- VAL-1 ----------------------------------------------------------------------

#[test]
fn val_1_bad_input_field_errors() {
    let server = Server::start(e2e());
    let raw = |body: &str| {
        server
            .post("/v1/leads")
            .intake()
            .header("Idempotency-Key", "val-1-key")
            .body("application/json", body)
            .send()
    };
    let resp = raw("{\n  \"email\": \"ok@valid-co.com\",\n  oops\n}").expect_status(400);
    let e = resp.json();
    assert_eq!(e["error"], "bad_request", "{e:#}");
    resp.check(
        str_of(&e, "message").contains("line 3, column"),
        "the JSON error names line and column",
    );
    raw("{\"email\": ").expect_status(400);

    for not_an_object in ["[1, 2]", "\"a string\"", "42", "null"] {
        let resp = raw(not_an_object).expect_status(422);
        assert_eq!(resp.json()["error"], "invalid", "{}", resp.text);
    }

    let resp = raw(r#"{"email": "not-an-email", "company": "X"}"#).expect_status(422);
    let e = resp.json();
    assert_eq!(e["errors"][0]["field"], "email", "{e:#}");
    assert_eq!(e["errors"][0]["value"], "not-an-email", "{e:#}");
    resp.check(
        str_of(&e["errors"][0], "message").contains("phone"),
        "the message says how to fix it",
    );

    let e = raw(r#"{"email": "not-an-email", "phone": "12"}"#)
        .expect_status(422)
        .json();
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "phone"], "{e:#}");

    let e = raw(r#"{"first_name": "No Contact"}"#)
        .expect_status(422)
        .json();
    assert_eq!(e["errors"][0]["field"], "email", "{e:#}");

    // Nothing was stored: the idempotency key is still unused, nothing was routed.
    assert_eq!(routed_total(&server), 0);
    let ok = raw(&pool_lead("ok@valid-co.com").to_string()).expect_status(201);
    ok.check(
        ok.header("idempotent-replayed").is_none(),
        "rejected requests did not consume the idempotency key",
    );
    assert_eq!(
        owner(&ok.json()),
        ANN,
        "the first stored lead takes the first turn"
    );
    assert_eq!(routed_total(&server), 1);

    // Unreadable optional fields are reported and ignored, not fatal.
    let d = server.submit(&json!({
        "email": "messy@messy-co.com", "employees": "lots", "country": "Atlantis"
    }));
    assert_eq!(d["queue"], "qualification", "{d:#}");
    assert!(
        d["flags"].to_string().contains("malformed"),
        "flagged as malformed input: {d:#}"
    );
}

// --- VAL-3 ----------------------------------------------------------------------

#[test]
fn val_3_resubmission_updates_existing_lead() {
    let server = Server::start(e2e());
    let first = server.submit(&pool_lead("pat.smith@example-co.com"));
    assert_eq!(owner(&first), ANN);
    assert_eq!(
        owner(&server.submit(&pool_lead("other1@other-co.com"))),
        BEN
    );
    assert_eq!(
        owner(&server.submit(&pool_lead("other2@other-co.com"))),
        ANN
    );
    // Next in rotation would be ben; the known person stays with ann.
    let mut again = pool_lead("  Pat.Smith@Example-Co.com ");
    again["title"] = json!("VP of Data");
    let d = server.submit(&again);
    assert_eq!(d["lead_id"], first["lead_id"], "same lead: {d:#}");
    assert_eq!(d["deduplicated"], true, "{d:#}");
    assert_eq!(owner(&d), ANN, "stays with the current owner: {d:#}");
    assert_eq!(d["path"], "known_person", "{d:#}");
    // The resubmission took no turn.
    assert_eq!(
        owner(&server.submit(&pool_lead("other3@other-co.com"))),
        BEN
    );

    let lead = server.lead(str_of(&first, "lead_id"));
    assert_eq!(kinds(&lead), ["route", "resubmission"], "{lead:#}");
    assert_eq!(lead["status"], "open", "{lead:#}");
    assert_eq!(lead["owner"], ANN, "{lead:#}");
}

/// The same person submitted by ten clients at once (no Idempotency-Key): one lead,
/// one routing decision, the rest resubmissions.
#[test]
fn val_3_concurrent_duplicates_make_one_lead() {
    let server = Server::start(e2e());
    let barrier = std::sync::Barrier::new(10);
    let answers: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    server.submit(&pool_lead("double.click@twice-co.com"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: BTreeSet<&str> = answers.iter().map(|a| str_of(a, "lead_id")).collect();
    assert_eq!(ids.len(), 1, "one lead for one person: {answers:#?}");
    let owners: BTreeSet<String> = answers.iter().map(owner).collect();
    assert_eq!(owners.len(), 1, "one owner: {answers:#?}");
    assert_eq!(
        answers
            .iter()
            .filter(|a| a["deduplicated"] == false)
            .count(),
        1,
        "one new lead, nine resubmissions: {answers:#?}"
    );
    let lead = server.lead(ids.iter().next().unwrap());
    let k = kinds(&lead);
    assert_eq!(k.len(), 10, "{lead:#}");
    assert_eq!(k.iter().filter(|k| *k == "route").count(), 1, "{lead:#}");
    // One turn taken: the next person goes to ben.
    assert_eq!(owner(&server.submit(&pool_lead("next@other-co.com"))), BEN);
}

/// The `_count` of one phase of `leadrouter_commit_batch_phase_seconds`.
fn phase_count(server: &Server, phase: &str) -> u64 {
    let text = metrics_text(server);
    let prefix = format!("leadrouter_commit_batch_phase_seconds_count{{phase=\"{phase}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// Sixteen clients sending without pause, so leads keep arriving while COMMITs are in
/// flight and are decided then (`decide_late`), some of them repeating a person or an
/// idempotency key of a batch still committing: every person still has one lead, every
/// key one original answer, and the round robin handed out one turn per new lead.
#[test]
fn val_3_cap_4_leads_arriving_during_commits_stay_consistent() {
    let server = Server::start(e2e());
    const CLIENTS: usize = 16;
    const EACH: usize = 40;
    const PEOPLE: usize = 120;
    // People 0..30 always send the same idempotency key; the others none.
    const KEYED: usize = 30;
    let answers: Vec<(usize, Value, bool)> = std::thread::scope(|s| {
        let server = &server;
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let n = ((t * EACH + i) * 7) % PEOPLE;
                            let lead = pool_lead(&format!("person{n}@mix-co.com"));
                            let mut call = server.post("/v1/leads").intake().json(&lead);
                            if n < KEYED {
                                call = call.header("Idempotency-Key", &format!("mix-key-{n}"));
                            }
                            let r = call.send().expect_status(201);
                            let replayed = r.header("idempotent-replayed") == Some("true");
                            (n, r.json(), replayed)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(answers.len(), CLIENTS * EACH);
    let mut new_per_owner: std::collections::BTreeMap<String, usize> = Default::default();
    for n in 0..PEOPLE {
        let mine: Vec<&(usize, Value, bool)> = answers.iter().filter(|a| a.0 == n).collect();
        assert!(!mine.is_empty(), "person {n} was sent");
        let ids: BTreeSet<&str> = mine.iter().map(|a| str_of(&a.1, "lead_id")).collect();
        assert_eq!(ids.len(), 1, "person {n} has one lead: {mine:#?}");
        let owners: BTreeSet<String> = mine.iter().map(|a| owner(&a.1)).collect();
        assert_eq!(owners.len(), 1, "person {n} has one owner: {mine:#?}");
        let lead = server.lead(ids.iter().next().unwrap());
        let k = kinds(&lead);
        if n < KEYED {
            let originals = mine.iter().filter(|a| !a.2).count();
            assert_eq!(
                originals, 1,
                "key of person {n}: one original answer: {mine:#?}"
            );
            assert_eq!(k, ["route"], "key of person {n}: one decision: {lead:#}");
        } else {
            assert!(mine.iter().all(|a| !a.2), "no key, no replay: {mine:#?}");
            let fresh = mine.iter().filter(|a| a.1["deduplicated"] == false).count();
            assert_eq!(
                fresh, 1,
                "person {n}: one new lead, the rest resubmissions: {mine:#?}"
            );
            assert_eq!(
                k.len(),
                mine.len(),
                "person {n}: a decision per submission: {lead:#}"
            );
            assert_eq!(k.iter().filter(|k| *k == "route").count(), 1, "{lead:#}");
        }
        *new_per_owner.entry(owner(&mine[0].1)).or_default() += 1;
    }
    let counts: Vec<usize> = new_per_owner.values().copied().collect();
    assert_eq!(counts.iter().sum::<usize>(), PEOPLE);
    assert!(
        new_per_owner.len() == 2 && counts[0].abs_diff(counts[1]) <= 1,
        "the round robin gave one turn per new lead: {new_per_owner:?}"
    );
    assert!(
        phase_count(&server, "decide_late") > 0,
        "some leads arrived while a COMMIT was in flight and were decided then"
    );
}

// --- VAL-4 ----------------------------------------------------------------------

#[test]
fn val_4_recycling() {
    let server = Server::start(e2e());
    let first = server.submit(&pool_lead("marco.ortiz@cobaltfab.com"));
    let id = str_of(&first, "lead_id").to_string();
    assert_eq!(owner(&first), ANN);
    assert_eq!(owner(&server.submit(&pool_lead("q@queue-co.com"))), BEN);

    let resp = server
        .post(&format!("/v1/leads/{id}/disqualify"))
        .admin()
        .header("X-Actor", "ann.archer")
        .json(&json!({"reason": "No budget until Q1"}))
        .send()
        .expect_status(200);
    assert_eq!(resp.json()["status"], "disqualified", "{}", resp.text);
    // Only open leads can be disqualified.
    let resp = server
        .post(&format!("/v1/leads/{id}/disqualify"))
        .admin()
        .json(&json!({"reason": "again"}))
        .send()
        .expect_status(422);
    assert_eq!(resp.json()["errors"][0]["field"], "status", "{}", resp.text);

    // The person comes back: the same lead reopens with the original rep and the note,
    // although ann would not be next in rotation.
    let d = server.submit(&pool_lead("Marco.Ortiz@CobaltFab.com"));
    assert_eq!(d["lead_id"], id.as_str(), "{d:#}");
    assert_eq!(d["path"], "recycled", "{d:#}");
    assert_eq!(d["deduplicated"], true, "{d:#}");
    assert_eq!(owner(&d), ANN, "back to the original rep: {d:#}");
    assert!(
        d["notes"].to_string().contains("No budget until Q1"),
        "the note carries the disqualification reason: {d:#}"
    );
    let lead = server.lead(&id);
    assert_eq!(lead["status"], "open", "{lead:#}");
    assert_eq!(kinds(&lead), ["route", "disqualify", "recycle"], "{lead:#}");
    let dq = &lead["history"][1];
    assert!(
        str_of(dq, "reason").contains("No budget until Q1"),
        "{lead:#}"
    );
    // The actor is the admin key's name; the X-Actor header is not trusted (issue 24).
    assert!(
        dq["actor"].as_str().is_some_and(|a| a.starts_with("key:")),
        "{lead:#}"
    );
}

// --- ASG-6 ----------------------------------------------------------------------

#[test]
fn asg_6_manual_reassign_recorded() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("moved@moved-co.com"));
    let id = str_of(&d, "lead_id").to_string();
    assert_eq!(owner(&d), ANN);
    let resp = server
        .post(&format!("/v1/leads/{id}/reassign"))
        .admin()
        .header("X-Actor", "ops.lead@e2e.example")
        .json(&json!({"rep": CARA, "note": "Cara knows this buyer"}))
        .send()
        .expect_status(200);
    assert_eq!(resp.json()["owner"], CARA, "{}", resp.text);

    let lead = server.lead(&id);
    assert_eq!(lead["owner"], CARA, "{lead:#}");
    assert_eq!(kinds(&lead), ["route", "manual"], "{lead:#}");
    let manual = &lead["history"][1];
    // The actor is the admin key's name; the X-Actor header is not trusted (issue 24).
    assert!(
        manual["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("key:")),
        "{lead:#}"
    );
    assert_eq!(manual["owner"], CARA, "{lead:#}");
    assert!(
        manual.to_string().contains("Cara knows this buyer"),
        "the note is recorded: {lead:#}"
    );

    let resp = server
        .post(&format!("/v1/leads/{id}/reassign"))
        .admin()
        .json(&json!({"rep": "nobody.here"}))
        .send()
        .expect_status(422);
    assert_eq!(resp.json()["errors"][0]["field"], "rep", "{}", resp.text);
    server
        .post("/v1/leads/00000000-0000-0000-0000-000000000000/reassign")
        .admin()
        .json(&json!({"rep": BEN}))
        .send()
        .expect_status(404);
    // The failed attempts changed nothing.
    assert_eq!(kinds(&server.lead(&id)), ["route", "manual"]);
}

/// After a manual reassignment the new owner is the person's owner: when the person
/// writes in again, the lead stays with them (VAL-3 "goes to the current owner").
#[test]
fn asg_6_resubmission_after_reassign_stays_with_new_owner() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("handed.over@handover-co.com"));
    let id = str_of(&d, "lead_id").to_string();
    assert_eq!(owner(&d), ANN);
    server
        .post(&format!("/v1/leads/{id}/reassign"))
        .admin()
        .json(&json!({"rep": CARA}))
        .send()
        .expect_status(200);
    let again = server.submit(&pool_lead("handed.over@handover-co.com"));
    assert_eq!(again["lead_id"], id.as_str(), "{again:#}");
    assert_eq!(
        owner(&again),
        CARA,
        "the current owner keeps the lead: {again:#}"
    );
    let lead = server.lead(&id);
    assert_eq!(lead["owner"], CARA, "{lead:#}");
}

// --- outcomes and availability ------------------------------------------------------

#[test]
fn outcome_recorded_on_the_lead() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("buyer@deal-co.com"));
    let id = str_of(&d, "lead_id").to_string();
    let outcome = |o: &str, status: u16| {
        server
            .post(&format!("/v1/leads/{id}/outcome"))
            .admin()
            .json(&json!({ "outcome": o }))
            .send()
            .expect_status(status)
            .json()
    };
    let v = outcome("opportunity", 200);
    assert_eq!(v["outcome"], "opportunity", "{v:#}");
    assert_eq!(v["stage"], "mid", "{v:#}");
    assert_eq!(v["status"], "open", "{v:#}");
    let e = outcome("maybe", 422);
    assert_eq!(e["errors"][0]["field"], "outcome", "{e:#}");
    let v = outcome("won", 200);
    assert_eq!(v["status"], "won", "{v:#}");
    let lead = server.lead(&id);
    assert_eq!(lead["outcome"], "won", "{lead:#}");
    assert!(lead["outcome_at"].is_string(), "{lead:#}");
    assert_eq!(kinds(&lead), ["route", "outcome", "outcome"], "{lead:#}");
}

fn set_out(server: &Server, rep: &str, out: bool) {
    let v = server
        .put(&format!("/v1/reps/{rep}/availability"))
        .admin()
        .json(&json!({ "out_of_office": out, "note": "e2e" }))
        .send()
        .expect_status(200)
        .json();
    assert_eq!(v["out_of_office"], out, "{v:#}");
}

fn next_owners(server: &Server, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| owner(&server.submit(&pool_lead(&format!("{tag}{i}@{tag}-co.com")))))
        .collect()
}

#[test]
fn availability_out_of_office_skips_the_rep() {
    let server = Server::start(e2e());
    assert_eq!(next_owners(&server, "before", 2), [ANN, BEN]);
    set_out(&server, ANN, true);
    assert_eq!(next_owners(&server, "away", 5), [BEN; 5], "ann is away");
    // The trace says why ann was passed over.
    let d = server
        .post("/v1/leads?explain=true")
        .intake()
        .json(&pool_lead("explained@away-co.com"))
        .send()
        .expect_status(201)
        .json();
    assert_eq!(owner(&d), BEN);
    let text = str_of(&d, "trace_text");
    assert!(text.contains(ANN), "the trace shows ann skipped: {text}");

    set_out(&server, ANN, false);
    let back = next_owners(&server, "back", 6);
    let ann = back.iter().filter(|o| *o == ANN).count();
    assert!(
        back[..2].contains(&ANN.to_string()),
        "ann is back in the rotation: {back:?}"
    );
    // Six leads went to ben alone; ann does not get them all back in one burst.
    assert!(ann <= 4, "no catch-up burst for ann: {back:?}");

    // `until`: out until a future instant skips the rep; an instant already past does not.
    let until = |mins: i64| (Timestamp::now() + SignedDuration::from_mins(mins)).to_string();
    let put = |body: Value| {
        server
            .put(&format!("/v1/reps/{BEN}/availability"))
            .admin()
            .json(&body)
            .send()
            .expect_status(200)
    };
    put(json!({"out_of_office": true, "until": until(60)}));
    assert_eq!(
        next_owners(&server, "ben-away", 2),
        [ANN, ANN],
        "ben is away for an hour"
    );
    put(json!({"out_of_office": true, "until": until(-1)}));
    let owners = next_owners(&server, "ben-was-away", 2);
    assert!(
        owners.contains(&BEN.to_string()),
        "ben's absence is over: {owners:?}"
    );

    // Errors name the field or the missing rep.
    server
        .put("/v1/reps/nobody.here/availability")
        .admin()
        .json(&json!({"out_of_office": true}))
        .send()
        .expect_status(404);
    let e = server
        .put(&format!("/v1/reps/{ANN}/availability"))
        .admin()
        .json(&json!({"out_of_office": true, "until": "next tuesday"}))
        .send()
        .expect_status(422)
        .json();
    assert_eq!(e["errors"][0]["field"], "until", "{e:#}");
}

/// In a plain two-rep round robin, a rep coming back from time away takes turns again
/// strictly alternating: the rotation resumes, the time away is not made up.
#[test]
fn availability_return_resumes_strict_alternation() {
    let server = Server::start(e2e());
    assert_eq!(next_owners(&server, "before", 3), [ANN, BEN, ANN]);
    set_out(&server, ANN, true);
    assert_eq!(next_owners(&server, "away", 4), [BEN; 4]);
    set_out(&server, ANN, false);
    let back = next_owners(&server, "back", 6);
    assert!(
        back.windows(2).all(|w| w[0] != w[1]),
        "after ann's return the pool alternates, without a catch-up turn: {back:?}"
    );
}

// --- auth -------------------------------------------------------------------------

#[test]
fn auth_keys_guard_every_non_intake_route() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("guarded@guard-co.com"));
    let id = str_of(&d, "lead_id").to_string();
    let admin_routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/v1/leads/{id}"), None),
        (
            "POST",
            format!("/v1/leads/{id}/reassign"),
            Some(json!({"rep": BEN})),
        ),
        (
            "POST",
            format!("/v1/leads/{id}/disqualify"),
            Some(json!({"reason": "x"})),
        ),
        (
            "POST",
            format!("/v1/leads/{id}/outcome"),
            Some(json!({"outcome": "won"})),
        ),
        (
            "PUT",
            format!("/v1/reps/{ANN}/availability"),
            Some(json!({"out_of_office": true})),
        ),
        ("POST", "/v1/imports".into(), None),
        ("GET", "/metrics".into(), None),
        ("POST", "/v1/admin/reload".into(), None),
    ];
    let call = |method: &str, path: &str, body: &Option<Value>| {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let c = server.call(m, path);
        match (body, path) {
            (Some(b), _) => c.json(b),
            (None, "/v1/imports") => c.body("text/csv", "email\nnew.person@import-co.com\n"),
            (None, _) => c,
        }
    };
    for (method, path, body) in &admin_routes {
        call(method, path, body).send().expect_status(401);
        call(method, path, body)
            .bearer("wrong-key")
            .send()
            .expect_status(401);
        call(method, path, body)
            .header("X-Api-Key", "wrong-key")
            .send()
            .expect_status(401);
        call(method, path, body)
            .bearer(&format!("{ADMIN_KEY}x"))
            .send()
            .expect_status(401);
        let resp = call(method, path, body).intake().send().expect_status(403);
        assert_eq!(resp.json()["error"], "forbidden", "{}", resp.text);
    }
    // Intake itself needs a key.
    server
        .post("/v1/leads")
        .json(&pool_lead("nokey@guard-co.com"))
        .send()
        .expect_status(401);
    server
        .post("/v1/leads")
        .bearer("wrong-key")
        .json(&pool_lead("nokey@guard-co.com"))
        .send()
        .expect_status(401);
    // Admin keys may also submit, and X-Api-Key works like Bearer.
    server
        .post("/v1/leads")
        .header("X-Api-Key", ADMIN_KEY)
        .json(&pool_lead("admin.submit@guard-co.com"))
        .send()
        .expect_status(201);
    server
        .get(&format!("/v1/leads/{id}"))
        .header("X-Api-Key", ADMIN_KEY)
        .send()
        .expect_status(200);

    // Nothing the rejected calls asked for happened.
    let lead = server.lead(&id);
    assert_eq!(lead["owner"], ANN, "{lead:#}");
    assert_eq!(lead["status"], "open", "{lead:#}");
    assert_eq!(kinds(&lead), ["route"], "{lead:#}");
    assert_eq!(
        owner(&server.submit(&pool_lead("still.rotating@guard-co.com"))),
        ANN,
        "ann was not set out of office (ben took the admin-submitted lead)"
    );

    // Public routes.
    assert_eq!(server.get("/healthz").send().expect_status(200).text, "ok");
    server.get("/readyz").send().expect_status(200);
    let spec = server
        .get("/v1/openapi.json")
        .send()
        .expect_status(200)
        .json();
    assert!(spec["openapi"].is_string(), "{spec:#}");
    assert!(spec["paths"]["/v1/leads"].is_object(), "{spec:#}");
    server
        .post("/v1/forms/demo-request")
        .body(
            "application/x-www-form-urlencoded",
            web_to_lead_body(&[("retURL", "/thanks"), ("email", "public@form-co.com")]),
        )
        .send()
        .expect_status(303);
}

/// A caller without a key learns nothing about the body it sent: the key is checked
/// first, so a missing or wrong key is 401 whatever the body.
#[test]
fn auth_checked_before_the_body_is_parsed() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("body@guard-co.com"));
    let id = str_of(&d, "lead_id").to_string();
    let mut wrong = Vec::new();
    for (method, path) in [
        (reqwest::Method::POST, format!("/v1/leads/{id}/reassign")),
        (reqwest::Method::POST, format!("/v1/leads/{id}/disqualify")),
        (reqwest::Method::POST, format!("/v1/leads/{id}/outcome")),
        (reqwest::Method::PUT, format!("/v1/reps/{ANN}/availability")),
        (reqwest::Method::POST, "/v1/imports".to_string()),
        (reqwest::Method::POST, "/v1/leads".to_string()),
    ] {
        for body in ["", "not json", "{\"unexpected\": true}"] {
            for key in [None, Some("wrong-key")] {
                let mut call = server.call(method.clone(), &path);
                if let Some(k) = key {
                    call = call.bearer(k);
                }
                let resp = call.body("application/json", body).send();
                if resp.status != 401 {
                    wrong.push(format!(
                        "{method} {path} key={key:?} body={body:?} -> {} {}",
                        resp.status, resp.text
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "expected 401 before any body parsing:\n{}",
        wrong.join("\n")
    );
}

// --- config reload ------------------------------------------------------------------

/// Post fresh pool leads until one is decided with a config other than `old`.
fn wait_for_new_version(server: &Server, old: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    for i in 0.. {
        let d = server.submit(&pool_lead(&format!("reload{i}@reload-co.com")));
        if d["config_version"] != old {
            return d;
        }
        if Instant::now() > deadline {
            server.fail(&format!("still deciding with {old} 10 s after SIGHUP"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    unreachable!()
}

#[test]
fn config_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routing.toml");
    let original = std::fs::read_to_string(support::e2e_config()).unwrap();
    std::fs::write(&path, &original).unwrap();
    let server = Server::start(serve(&path));
    let d = server.submit(&pool_lead("v1@reload-co.com"));
    let v1 = str_of(&d, "config_version").to_string();
    assert_eq!(d["sla"]["contact_within"], "PT5M", "{d:#}");

    // Broken: a default team that does not exist.
    let broken = original.replace("default_team = \"pool\"", "default_team = \"no-such-team\"");
    assert_ne!(broken, original);
    std::fs::write(&path, &broken).unwrap();
    let resp = server
        .post("/v1/admin/reload")
        .admin()
        .send()
        .expect_status(422);
    let e = resp.json();
    assert_eq!(e["error"], "invalid_config", "{e:#}");
    resp.check(
        e["errors"].as_array().is_some_and(|a| !a.is_empty()),
        "the errors are listed",
    );
    resp.check(
        e.to_string().contains("no-such-team"),
        "the error names the bad value",
    );
    assert_eq!(e["serving"], v1.as_str(), "{e:#}");
    let d = server.submit(&pool_lead("still.v1@reload-co.com"));
    assert_eq!(
        d["config_version"],
        v1.as_str(),
        "the old config keeps serving"
    );

    // SIGHUP with the broken file: rejected too, logged, still serving.
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("config reload rejected") {
        if Instant::now() > deadline {
            server.fail("SIGHUP with a broken config logged no rejection");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = server.submit(&pool_lead("still.v1.after.hup@reload-co.com"));
    assert_eq!(d["config_version"], v1.as_str(), "{d:#}");

    // Fixed, with a real change (hot leads: contact within 2 minutes), then SIGHUP.
    let fixed = original.replace(
        "[sla.hot]\nroute_within = \"5m\"\ncontact_within = \"5m\"",
        "[sla.hot]\nroute_within = \"5m\"\ncontact_within = \"2m\"",
    );
    assert_ne!(fixed, original);
    std::fs::write(&path, &fixed).unwrap();
    server.signal("HUP");
    let d = wait_for_new_version(&server, &v1);
    let v2 = str_of(&d, "config_version").to_string();
    assert_eq!(d["sla"]["contact_within"], "PT2M", "{d:#}");
    let lead = server.lead(str_of(&d, "lead_id"));
    assert_eq!(lead["config_version"], v2.as_str(), "{lead:#}");
    assert_eq!(
        lead["history"][0]["config_version"],
        v2.as_str(),
        "{lead:#}"
    );

    // The admin endpoint reports the version it loaded.
    let r = server
        .post("/v1/admin/reload")
        .admin()
        .send()
        .expect_status(200)
        .json();
    assert_eq!(r, json!({"reloaded": true, "version": v2}));
}

// --- lead read API --------------------------------------------------------------------

#[test]
fn get_lead_with_history_and_trace() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("history@history-co.com"));
    let id = str_of(&d, "lead_id").to_string();
    let lead = server.lead(&id);
    assert_eq!(lead["lead_id"], id.as_str(), "{lead:#}");
    assert_eq!(lead["owner"], ANN, "{lead:#}");
    assert_eq!(lead["status"], "open", "{lead:#}");
    assert_eq!(lead["source"], "api", "{lead:#}");
    assert_eq!(lead["tier"], "hot", "{lead:#}");
    assert_eq!(lead["lead"]["email"], "history@history-co.com", "{lead:#}");
    assert_eq!(lead["config_version"], d["config_version"], "{lead:#}");
    let history = lead["history"].as_array().expect("history array");
    assert_eq!(history.len(), 1, "{lead:#}");
    let h = &history[0];
    assert_eq!(h["kind"], "route", "{lead:#}");
    assert_eq!(h["owner"], ANN, "{lead:#}");
    assert_eq!(h["decision"]["owner"]["id"], ANN, "{lead:#}");
    assert!(
        h["trace"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "the stored trace: {lead:#}"
    );
    let text = str_of(h, "trace_text");
    assert!(
        text.contains(ANN) || text.contains("Ann Archer"),
        "trace_text names the rep: {text}"
    );
    assert!(timestamp(h, "decided_at") <= Timestamp::now());

    let resp = server
        .get("/v1/leads/00000000-0000-0000-0000-000000000000")
        .admin()
        .send()
        .expect_status(404);
    assert_eq!(resp.json()["error"], "not_found", "{}", resp.text);
}

#[test]
fn metrics_count_routed_leads() {
    let server = Server::start(e2e());
    server.submit(&pool_lead("m1@metrics-co.com"));
    server.submit(&json!({"email": "junk@mailinator.com"}));
    let resp = server.get("/metrics").admin().send().expect_status(200);
    resp.check(
        resp.text.contains("leadrouter_leads_routed_total"),
        "routed counter",
    );
    resp.check(
        resp.text.contains("leadrouter_speed_to_assign_seconds"),
        "speed-to-assign histogram",
    );
    assert_eq!(routed_total(&server), 2);
}

#[test]
fn metrics_export_enrichment_per_provider() {
    // ENR (issue 4): hit rate, field coverage, latency and errors per provider on /metrics.
    let demo =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.toml");
    let server = Server::start(serve(&demo));
    server.submit(&json!({"email": "ops@bluecrest-logistics.com", "action": "demo_request"}));
    server.submit(&json!({"email": "ops@no-such-company-in-the-file.com"}));
    let resp = server.get("/metrics").admin().send().expect_status(200);
    for line in [
        "leadrouter_enrichment_calls_total{provider=\"vendor-export\",kind=\"file\"} 2",
        "leadrouter_enrichment_hits_total{provider=\"vendor-export\",kind=\"file\"} 1",
        "leadrouter_enrichment_misses_total{provider=\"vendor-export\",kind=\"file\"} 1",
        "leadrouter_enrichment_field_filled_total{provider=\"vendor-export\",field=\"employees\"} 1",
    ] {
        resp.check(resp.text.lines().any(|l| l == line), line);
    }
    resp.check(
        resp.text.contains(
            "leadrouter_enrichment_latency_seconds{provider=\"vendor-export\",quantile=\"0.99\"}",
        ),
        "latency quantiles",
    );
}
