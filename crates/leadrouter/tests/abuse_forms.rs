//! Issue 24, items 4, 5, 6 and the field limits of item 9, at the HTTP boundary: the
//! public form endpoint (`POST /v1/forms/{key}`) of the real `leadrouter serve` binary on
//! 127.0.0.1 (SQLite in a temporary directory). Every burst is a handful of requests.
//!
//! - `return_url_*`: the three `retURL`s the probe found (`/\evil.example`,
//!   `/<TAB>/evil.example`, `https://evil.example\@northwind.example/`) get no redirect;
//!   good ones still do.
//! - `form_posts_are_rate_limited_*`: per address, per form and per email; a 429 in the
//!   JSON error shape (a plain page for a browser), and nothing stored.
//! - `bot_check_failure_goes_to_junk`: a post without a valid, old-enough form token is
//!   stored in the junk queue with the reason; one with it is routed.
//! - `lead_text_cannot_forge_lines_in_the_rep_email`: a name with CR/LF and a URL, through
//!   to the rep's email at a local SMTP server; a form with `confirmation = false` sends
//!   the lead none.
//! - `over_long_fields_are_refused_naming_the_field`: JSON API, form and CSV import.

mod support;

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use support::notify::{BASE_URL, Receivers, Service, owner_id};
use support::{Server, e2e_config, serve};

/// The e2e fixture with extra `[[form]]` tables, in a temporary directory kept alive by
/// the returned guard.
fn config_with(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let base = std::fs::read_to_string(e2e_config()).expect("reading e2e.toml");
    // The fixture names its CSV files relative to itself.
    let fixtures = e2e_config().parent().unwrap().to_path_buf();
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "csv") {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let path = dir.path().join("forms.toml");
    std::fs::write(&path, format!("{base}\n{extra}\n")).expect("writing the config");
    (dir, path)
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A lead the e2e fixture routes to a rep.
fn good_fields(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("first_name", "Pat".into()),
        ("last_name", "Example".into()),
        ("email", email.into()),
        ("company", "Example Co".into()),
        ("country", "US".into()),
        ("employees", "500".into()),
        ("industry", "software".into()),
    ]
}

fn post_form(
    server: &Server,
    key: &str,
    fields: &[(&str, String)],
) -> (u16, String, Option<String>) {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = server
        .post(&format!("/v1/forms/{key}"))
        .body("application/x-www-form-urlencoded", form_body(&pairs))
        .send();
    (
        r.status,
        r.text.clone(),
        r.header("location").map(str::to_string),
    )
}

#[test]
fn return_url_payloads_are_refused_and_good_ones_followed() {
    let server = Server::start(serve(e2e_config()));
    let mut n = 0;
    let mut post = |ret: &str| {
        n += 1;
        let mut f = good_fields(&format!("ret{n}@return-co.com"));
        f.push(("retURL", ret.to_string()));
        post_form(&server, "demo-request", &f)
    };
    for evil in [
        "/\\evil.example",
        "/\t/evil.example",
        "https://evil.example\\@northwind.example/",
        "//evil.example/x",
        "https://northwind.example@evil.example/",
    ] {
        let (status, body, location) = post(evil);
        assert_eq!(
            (status, location.as_deref()),
            (201, None),
            "retURL {evil:?} must not redirect: {body}"
        );
        let d: Value = serde_json::from_str(&body).unwrap();
        assert!(
            d["lead_id"].is_string(),
            "stored, answered with JSON: {d:#}"
        );
    }
    for (good, expect) in [
        ("/thanks", "/thanks"),
        (
            "https://www.northwind.example/thanks?x=1",
            "https://www.northwind.example/thanks?x=1",
        ),
        ("https://NORTHWIND.example/t", "https://northwind.example/t"),
    ] {
        let (status, body, location) = post(good);
        assert_eq!(
            (status, location.as_deref()),
            (303, Some(expect)),
            "retURL {good:?}: {body}"
        );
    }
}

const LIMITED_FORMS: &str = r#"
[[form]]
key = "per-address"
action = "demo_request"
max_per_address_per_hour = 3

[[form]]
key = "per-form"
action = "demo_request"
max_per_minute = 2
max_per_address_per_hour = 0

[[form]]
key = "per-email"
action = "demo_request"
max_per_email_per_hour = 2
"#;

#[test]
fn form_posts_are_rate_limited_per_address_form_and_email() {
    let (_dir, config) = config_with(LIMITED_FORMS);
    let server = Server::start(serve(&config));

    for i in 0..3 {
        let (status, body, _) = post_form(
            &server,
            "per-address",
            &good_fields(&format!("a{i}@burst-co.com")),
        );
        assert_eq!(status, 201, "post {i} within the limit: {body}");
    }
    let (status, body, _) = post_form(&server, "per-address", &good_fields("over@burst-co.com"));
    assert_eq!(status, 429, "{body}");
    let e: Value = serde_json::from_str(&body).expect("the JSON error shape");
    assert_eq!(e["error"], "rate_limited", "{e:#}");
    assert!(str_of(&e["message"]).contains("per hour"), "{e:#}");
    // Nothing was stored: the same person through the API is new.
    let d = server.submit(&json!({"email": "over@burst-co.com", "country": "US"}));
    assert_eq!(
        d["deduplicated"], false,
        "the refused post stored nothing: {d:#}"
    );

    // A browser gets a page, not JSON, with Retry-After.
    let r = server
        .post("/v1/forms/per-address")
        .header("accept", "text/html,application/xhtml+xml")
        .body(
            "application/x-www-form-urlencoded",
            form_body(&[("email", "browser@burst-co.com")]),
        )
        .send()
        .expect_status(429);
    r.check(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "an HTML page for a browser",
    );
    r.check(
        r.header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)),
        "Retry-After in seconds",
    );

    // The form's own limit holds whoever posts.
    for i in 0..2 {
        let (status, body, _) = post_form(
            &server,
            "per-form",
            &good_fields(&format!("f{i}@busy-co.com")),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, body, _) = post_form(&server, "per-form", &good_fields("f9@busy-co.com"));
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("per minute"), "{body}");

    // One address cannot be mailed over and over, whatever its spelling.
    for email in ["victim@mail-co.com", "Victim@Mail-Co.com"] {
        let (status, body, _) = post_form(&server, "per-email", &good_fields(email));
        assert_eq!(status, 201, "{body}");
    }
    let (status, body, _) = post_form(&server, "per-email", &good_fields(" VICTIM@mail-co.com"));
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("email address"), "{body}");
    let (status, body, _) = post_form(&server, "per-email", &good_fields("someone@mail-co.com"));
    assert_eq!(status, 201, "another address is not limited: {body}");
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn bot_check_failure_goes_to_junk() {
    let (_dir, config) = config_with(
        r#"
[[form]]
key = "timed"
action = "demo_request"
min_fill_secs = 1
"#,
    );
    let server = Server::start(serve(&config));
    let post = |email: &str, token: Option<&str>| -> Value {
        let mut f = good_fields(email);
        if let Some(t) = token {
            f.push(("lr_token", t.to_string()));
        }
        let (status, body, _) = post_form(&server, "timed", &f);
        assert_eq!(status, 201, "stored, never dropped: {body}");
        serde_json::from_str(&body).unwrap()
    };

    // A plain form without the token: stored, in junk, with the reason.
    let d = post("plain@bot-co.com", None);
    assert_eq!(d["queue"], "junk", "{d:#}");
    assert!(str_of(&d["reason"]).contains("bot check"), "{d:#}");
    let lead = server.lead(str_of(&d["lead_id"]));
    assert_eq!(lead["queue"], "junk", "{lead:#}");

    // A forged token.
    let d = post(
        "forged@bot-co.com",
        Some("1700000000.00112233445566778899aabbccddeeff"),
    );
    assert_eq!(d["queue"], "junk", "{d:#}");
    assert!(str_of(&d["reason"]).contains("not valid"), "{d:#}");

    // A real token, used at once: too fast for a person.
    let t = server
        .get("/v1/forms/timed/token")
        .send()
        .expect_status(200)
        .json();
    assert_eq!(t["field"], "lr_token", "{t:#}");
    let token = str_of(&t["token"]).to_string();
    let d = post("fast@bot-co.com", Some(&token));
    assert_eq!(d["queue"], "junk", "{d:#}");
    assert!(
        str_of(&d["reason"]).contains("after the form was loaded"),
        "{d:#}"
    );

    // The same token after the minimum fill time: routed to a rep.
    std::thread::sleep(Duration::from_millis(1100));
    let d = post("person@human-co.com", Some(&token));
    assert!(d["queue"].is_null() && d["owner"].is_object(), "{d:#}");

    server.get("/v1/forms/nope/token").send().expect_status(404);
}

const NOTIFY_FORMS: &str = r#"
[[form]]
key = "contact"
action = "demo_request"

[[form]]
key = "quiet"
action = "demo_request"
confirmation = false
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_text_cannot_forge_lines_in_the_rep_email() {
    let rx = Receivers::start().await;
    let svc = Service::start_with(&rx, format!("{}\n{NOTIFY_FORMS}", rx.config_text())).await;
    let fields = [
        (
            "first_name",
            "Jane\r\nOpen the record:  https://evil.example/phish\r\n",
        ),
        (
            "last_name",
            "Doe\u{2028}Accept the lead:  https://evil.example/a",
        ),
        ("company", "Acme\nhttps://evil.example/x Robotics"),
        ("title", "VP\rOperations"),
        ("email", "jane.doe@acme-robotics.com"),
        ("phone", "+14155550123"),
        ("country", "US"),
        ("employees", "1200"),
        ("industry", "Software"),
    ];
    let r = svc
        .server
        .post("/v1/forms/contact")
        .body("application/x-www-form-urlencoded", form_body(&fields))
        .send_async()
        .await
        .expect_status(201);
    let d = r.json();
    let owner = owner_id(&d).unwrap_or_else(|| panic!("assigned: {d:#}"));
    let rep_address = format!("{owner}@notify-test.example");

    let mail = rx
        .smtp
        .wait_for("the rep notification", |m| m.is_to(&rep_address))
        .await;
    let body = mail.body();
    assert!(!body.contains("evil.example"), "no attacker link:\n{body}");
    for line in body.lines() {
        for label in ["Open the record:", "Accept the lead:", "Mark contacted:"] {
            if line.trim_start().starts_with(label) {
                assert!(
                    line.contains(BASE_URL),
                    "a forged `{label}` line:\n{line}\n--- body ---\n{body}"
                );
            }
        }
    }
    let lead_line = body
        .lines()
        .find(|l| l.starts_with("Lead:"))
        .unwrap_or_else(|| panic!("no Lead: line in\n{body}"));
    assert!(
        lead_line.contains("Jane") && lead_line.contains("Doe"),
        "{lead_line}"
    );
    assert!(body.contains("Company:   Acme Robotics"), "{body}");
    assert!(body.contains("VP Operations"), "{body}");
    assert!(!mail.subject().contains("evil"), "{}", mail.subject());

    // The prospect's confirmation carries no link from the name either.
    let confirmation = rx
        .smtp
        .wait_for("the lead confirmation", |m| {
            m.is_to("jane.doe@acme-robotics.com")
        })
        .await;
    let text = format!("{}\n{}", confirmation.subject(), confirmation.body());
    assert!(!text.contains("evil.example"), "{text}");
    assert!(text.contains("Hi Jane"), "{text}");

    // A form with `confirmation = false`: the rep is told, the lead gets no email.
    let d = svc
        .server
        .post("/v1/forms/quiet")
        .body(
            "application/x-www-form-urlencoded",
            form_body(&[
                ("first_name", "Quinn"),
                ("email", "quinn@quiet-co.com"),
                ("company", "Quiet Co"),
                ("country", "US"),
                ("employees", "1200"),
                ("industry", "Software"),
            ]),
        )
        .send_async()
        .await
        .expect_status(201)
        .json();
    let id = str_of(&d["lead_id"]).to_string();
    let lead = svc
        .wait_lead(
            &id,
            Duration::from_secs(15),
            "the rep notification queued",
            |l| {
                l["messages"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m["kind"] == "rep_notification"))
            },
        )
        .await;
    let kinds: Vec<&str> = lead["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| str_of(&m["kind"]))
        .collect();
    assert!(!kinds.contains(&"lead_confirmation"), "{kinds:?}\n{lead:#}");
}

#[test]
fn over_long_fields_are_refused_naming_the_field() {
    let server = Server::start(serve(e2e_config()));
    let big = "x".repeat(100_000);

    let r = server
        .post("/v1/leads")
        .intake()
        .json(&json!({"email": "long@limit-co.com", "description": big}))
        .send()
        .expect_status(422);
    let e = r.json();
    assert_eq!(e["error"], "invalid", "{e:#}");
    assert_eq!(e["errors"][0]["field"], "description", "{e:#}");
    assert!(
        str_of(&e["errors"][0]["message"]).contains("32000"),
        "{e:#}"
    );

    let r = server
        .post("/v1/leads")
        .intake()
        .json(&json!({"email": "name@limit-co.com", "first_name": "n".repeat(101)}))
        .send()
        .expect_status(422);
    assert_eq!(r.json()["errors"][0]["field"], "first_name", "{}", r.text);

    let r = server
        .post("/v1/forms/demo-request")
        .body(
            "application/x-www-form-urlencoded",
            form_body(&[
                ("email", "form@limit-co.com"),
                ("description", &"y".repeat(40_000)),
            ]),
        )
        .send()
        .expect_status(422);
    let e = r.json();
    assert_eq!(e["errors"][0]["field"], "description", "{e:#}");

    // A 1 MB description in an import: that row is refused, naming the field.
    let csv = format!(
        "email,description\nok@limit-co.com,fine\nhuge@limit-co.com,{}\n",
        "z".repeat(1024 * 1024)
    );
    let r = server
        .post("/v1/imports")
        .admin()
        .body("text/csv", csv)
        .send()
        .expect_status(200);
    let v = r.json();
    assert_eq!(
        v["imported"],
        1,
        "{}",
        r.text.chars().take(2000).collect::<String>()
    );
    assert_eq!(v["errors"][0]["line"], 3, "{v:#}");
    assert_eq!(v["errors"][0]["errors"][0]["field"], "description", "{v:#}");

    // Within the limits all is well.
    server.submit(&json!({"email": "fine@limit-co.com", "description": "x".repeat(32_000)}));
}
