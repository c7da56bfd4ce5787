//! Issue 22, calendars → routing (ASG-5), on the real binary: a rep's iCalendar feed,
//! served on loopback with an ETag (304 on If-None-Match), makes the rep out of office
//! while a calendar out-of-office event covers now, with the trace saying "calendar: out
//! of office until …"; a failing feed keeps the last good copy (also across a restart,
//! from the database) and the console shows it stale; an edited feed ends the
//! out-of-office; a manual out-of-office is never cleared by the calendar.
//!
//! The address guard refuses loopback; the test config says `[calendar] allow_private =
//! true`, the same escape hatch the enrichment and webhook tests use.

mod support;

use jiff::{Timestamp, ToSpan};
use leadrouter_testsupport::receiver::{Answer, HttpReceiver, Script};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::console::{console_hash, login};
use support::{Server, e2e_config, serve};

const ANN: &str = "ann.archer";
const BEN: &str = "ben.baker";

/// What the feed server answers: the body (ETag = its hash) or a 500.
#[derive(Clone)]
struct Feed {
    body: String,
    fail: bool,
}

fn etag(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

fn script(feed: Arc<Mutex<Feed>>) -> Script {
    Arc::new(move |_, req| {
        let f = feed.lock().unwrap().clone();
        if f.fail {
            return Answer::status(500).body("upstream trouble");
        }
        let tag = etag(&f.body);
        let sent = req
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok());
        if sent == Some(tag.as_str()) {
            return Answer::status(304).header("etag", &tag);
        }
        Answer::status(200)
            .header("content-type", "text/calendar; charset=utf-8")
            .header("etag", &tag)
            .body(f.body)
    })
}

/// A Google-shaped feed; with `vacation`, an all-day "Out of office" from yesterday to
/// the day after tomorrow (UTC dates, the rep's zone is UTC) and nothing else today.
fn ics(vacation: bool) -> String {
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let d = |n: i64| (today + n.days()).strftime("%Y%m%d").to_string();
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-TIMEZONE:UTC\r\n",
    );
    s.push_str(&format!(
        "BEGIN:VEVENT\r\nDTSTART:{}T090000Z\r\nDTEND:{}T093000Z\r\nRRULE:FREQ=WEEKLY\r\nUID:weekly@google.com\r\nSUMMARY:Weekly 1:1\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\n",
        d(-14),
        d(-14)
    ));
    if vacation {
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nUID:vacation@google.com\r\nSUMMARY:Out of office\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",
            d(-1),
            d(2)
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// The e2e config with a calendar feed for ann (address from the environment) and a
/// one-second refresh.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(e2e_config()).unwrap();
    let text = text.replacen(
        "id = \"ann.archer\"\n",
        "id = \"ann.archer\"\ncalendar = \"env:ANN_CALENDAR_URL\"\n",
        1,
    );
    assert!(text.contains("ANN_CALENDAR_URL"));
    let text =
        format!("{text}\n[calendar]\nrefresh = \"1s\"\ntimeout = \"5s\"\nallow_private = true\n");
    let path = dir.join("calendar.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn pool_lead(email: &str) -> Value {
    json!({
        "first_name": "Pat",
        "last_name": "Example",
        "email": email,
        "company": "Example Co",
        "country": "US",
        "employees": 500,
        "industry": "software",
        "action": "demo_request",
    })
}

/// Route a lead with its trace: (owner, trace text).
async fn route(server: &Server, n: usize) -> (String, String) {
    let v = server
        .post("/v1/leads?explain=true")
        .intake()
        .json(&pool_lead(&format!("cal{n}@cal{n}-co.com")))
        .send_async()
        .await
        .expect_status(201)
        .json();
    let owner = support::owner_of(&v).unwrap_or_default();
    (
        owner,
        v["trace_text"].as_str().unwrap_or_default().to_string(),
    )
}

/// Route leads until `ok(owner, trace)` or the deadline.
async fn until_routed(
    server: &Server,
    n: &mut usize,
    what: &str,
    ok: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        *n += 1;
        let (owner, trace) = route(server, *n).await;
        if ok(&owner, &trace) {
            return (owner, trace);
        }
        if Instant::now() > deadline {
            server.fail(&format!("{what}: last lead went to {owner}: {trace}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn reps_page(server: &Server, cookie: &str) -> String {
    server
        .get("/console/reps")
        .header("cookie", cookie)
        .send_async()
        .await
        .expect_status(200)
        .text
}

/// The reps page's row for ann.
fn ann_row(page: &str) -> String {
    let at = page.find("id=\"rep-ann.archer\"").expect("ann's row");
    page[at..]
        .split("</tr>")
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn until_page(
    server: &Server,
    cookie: &str,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = ann_row(&reps_page(server, cookie).await);
        if ok(&row) {
            return row;
        }
        if Instant::now() > deadline {
            server.fail(&format!("{what}: ann's row is {row}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asg_5_calendar_out_of_office_routes_around_the_rep() {
    let feed = Arc::new(Mutex::new(Feed {
        body: ics(true),
        fail: false,
    }));
    let receiver = HttpReceiver::start(script(feed.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let hash = console_hash("calendar-password-1");
    let mut server = Server::start_async(
        serve(config(dir.path()))
            .env(
                "ANN_CALENDAR_URL",
                format!("{}/calendars/ann/private-8f3e/basic.ics", receiver.uri()),
            )
            .env("LEADROUTER_CONSOLE_USERS", format!("boss:admin:{hash}")),
    )
    .await;
    let mut n = 0;

    // The all-day "Out of office" covers now: ann is skipped, and the trace says why.
    let (owner, trace) = until_routed(&server, &mut n, "calendar out of office", |o, t| {
        o == BEN && t.contains("calendar: out of office until")
    })
    .await;
    assert_eq!(owner, BEN);
    assert!(trace.contains(ANN), "{trace}");
    assert!(trace.contains("(Out of office)"), "{trace}");
    for _ in 0..3 {
        assert_eq!(
            route(&server, {
                n += 1;
                n
            })
            .await
            .0,
            BEN,
            "ann stays out"
        );
    }
    // The next fetches are conditional and answered 304.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !receiver.hits().iter().any(|h| h.status == 304) {
        assert!(
            Instant::now() < deadline,
            "no conditional request: {:?}",
            receiver.hits().len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tag = etag(&ics(true));
    assert!(
        receiver
            .hits()
            .iter()
            .filter(|h| h.status == 304)
            .all(|h| h.header("if-none-match") == Some(tag.as_str()))
    );

    // A note set by hand may not pose as the calendar's.
    let r = server
        .put(&format!("/v1/reps/{BEN}/availability"))
        .admin()
        .json(&json!({ "out_of_office": true, "note": "calendar: fake" }))
        .send_async()
        .await;
    assert!(
        r.status == 400 || r.status == 422,
        "{} {}",
        r.status,
        r.text
    );

    // The console shows the feed fresh and the calendar's out-of-office.
    let cookie = login(&server, "boss", "calendar-password-1").await;
    let row = until_page(&server, &cookie, "fresh feed", |r| r.contains(">fresh<")).await;
    assert!(
        row.contains("calendar-ooo") && row.contains("Out of office"),
        "{row}"
    );

    // The feed fails: the last good copy stays (ann still out), the console says stale.
    feed.lock().unwrap().fail = true;
    let row = until_page(&server, &cookie, "stale feed", |r| r.contains(">stale<")).await;
    assert!(row.contains("HTTP 500"), "{row}");
    assert!(
        row.contains("Out of office"),
        "the last good copy still counts: {row}"
    );
    assert_eq!(
        route(&server, {
            n += 1;
            n
        })
        .await
        .0,
        BEN
    );

    // A restart while the feed still fails: the copy comes back from the database.
    server.restart_async().await;
    let cookie = login(&server, "boss", "calendar-password-1").await;
    let row = until_page(&server, &cookie, "copy after restart", |r| {
        r.contains(">stale<") && r.contains("calendar-ooo")
    })
    .await;
    assert!(row.contains("Out of office"), "{row}");
    assert_eq!(
        route(&server, {
            n += 1;
            n
        })
        .await
        .0,
        BEN
    );

    // The feed comes back without the out-of-office: ann is back in the rotation.
    *feed.lock().unwrap() = Feed {
        body: ics(false),
        fail: false,
    };
    let (_, trace) = until_routed(&server, &mut n, "out of office ended", |o, _| o == ANN).await;
    assert!(!trace.contains("calendar:"), "{trace}");
    let row = until_page(&server, &cookie, "fresh again", |r| r.contains(">fresh<")).await;
    assert!(!row.contains("calendar-ooo"), "{row}");

    // A manual out-of-office is the calendar's to leave alone: with the vacation back in
    // the feed, ann's manual override (open-ended, its own note) stays as set.
    let r = server
        .put(&format!("/v1/reps/{ANN}/availability"))
        .admin()
        .json(&json!({ "out_of_office": true, "note": "conference" }))
        .send_async()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    feed.lock().unwrap().body = ics(true);
    let hits = receiver.hits().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.hits()[hits..]
        .iter()
        .filter(|h| h.status == 200)
        .count()
        < 1
    {
        assert!(Instant::now() < deadline, "the edited feed was not fetched");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Two leads: whichever of them finds ann first in the rotation shows why she is
    // skipped — the manual note, not the calendar's.
    let mut traces = Vec::new();
    for _ in 0..2 {
        n += 1;
        let (owner, trace) = route(&server, n).await;
        assert_eq!(owner, BEN, "{trace}");
        traces.push(trace);
    }
    assert!(
        traces.iter().any(|t| t.contains("(conference)")),
        "{traces:?}"
    );
    assert!(
        !traces.iter().any(|t| t.contains("calendar:")),
        "{traces:?}"
    );
    drop(receiver);
}

/// `check` reads `[calendar]` and a rep's `calendar` as serve does: values out of bounds
/// and an unusable feed reference fail it, naming the key; the secret address is never
/// echoed.
#[test]
fn check_refuses_bad_calendar_settings() {
    let dir = tempfile::tempdir().unwrap();
    let good = config(dir.path());
    support::cli(&["check", good.to_str().unwrap()]).expect_code(0);
    let text = std::fs::read_to_string(&good).unwrap();
    let bad_settings = dir.path().join("bad-settings.toml");
    std::fs::write(
        &bad_settings,
        text.replace("refresh = \"1s\"", "refresh = \"0s\""),
    )
    .unwrap();
    let out = support::cli(&["check", bad_settings.to_str().unwrap()]).expect_failure();
    let all = format!("{}{}", out.stdout, out.stderr);
    out.check(all.contains("refresh = \"0s\""), "names the key and value");
    let bad_source = dir.path().join("bad-source.toml");
    std::fs::write(
        &bad_source,
        text.replace(
            "calendar = \"env:ANN_CALENDAR_URL\"",
            "calendar = \"webcal://calendar.example/private-secret-token/basic.ics\"",
        ),
    )
    .unwrap();
    let out = support::cli(&["check", bad_source.to_str().unwrap()]).expect_failure();
    let all = format!("{}{}", out.stdout, out.stderr);
    out.check(
        all.contains("rep ann.archer calendar"),
        "names the rep's key",
    );
    out.check(all.contains("https://"), "says how to fix it");
    out.check(
        !all.contains("private-secret-token"),
        "never echoes the address",
    );
}

/// A feed whose rep is busy 10:00–16:00 UTC every day (a daily recurring event, Outlook
/// style with no out-of-office status).
fn busy_ics() -> String {
    let start = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date() - 14.days();
    format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nBEGIN:VEVENT\r\nDTSTART:{d}T100000Z\r\nDTEND:{d}T160000Z\r\nRRULE:FREQ=DAILY\r\nUID:blocked-daily@outlook.com\r\nSUMMARY:Customer workshops\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        d = start.strftime("%Y%m%d")
    )
}

/// Issue 22: booking offers the rep's working hours minus the busy blocks of their
/// calendar feed. Ann works the default 09:00–17:00 (UTC) and her feed blocks 10:00–16:00
/// every day, so once the feed is read her slots start only at 09:00, 09:30, 16:00 and
/// 16:30; before it is read, the middle of the day is offered (the check can fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_slots_leave_out_the_calendars_busy_blocks() {
    let feed = Arc::new(Mutex::new(Feed {
        body: busy_ics(),
        fail: false,
    }));
    let receiver = HttpReceiver::start(script(feed)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path());
    let text = std::fs::read_to_string(&path).unwrap()
        + "\n[booking]\nactions = [\"demo_request\"]\nmeeting = \"30m\"\nmin_notice = \"1h\"\ndays_ahead = 7\nslot_step = \"30m\"\ndefault_hours = [\"Mon-Sun 09:00-17:00\"]\n";
    std::fs::write(&path, text).unwrap();
    let server = Server::start_async(serve(path).env(
        "ANN_CALENDAR_URL",
        format!("{}/calendars/ann/private-1c2d/calendar.ics", receiver.uri()),
    ))
    .await;
    // A lead of ann's (the pool alternates between ann and ben).
    let mut lead = None;
    for n in 0..6 {
        let v = server
            .post("/v1/leads")
            .intake()
            .json(&pool_lead(&format!("busy{n}@busy{n}-co.com")))
            .send_async()
            .await
            .expect_status(201)
            .json();
        if support::owner_of(&v).as_deref() == Some(ANN) {
            lead = v["lead_id"].as_str().map(str::to_string);
            break;
        }
    }
    let lead = lead.unwrap_or_else(|| server.fail("no lead went to ann"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = server
            .get(&format!("/v1/leads/{lead}/slots?tz=UTC"))
            .bearer(support::ADMIN_KEY)
            .send_async()
            .await
            .expect_status(200)
            .json();
        assert_eq!(v["rep"]["id"], ANN, "{v}");
        let hours: Vec<String> = v["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let t: Timestamp = s["start"].as_str().unwrap().parse().unwrap();
                t.to_zoned(jiff::tz::TimeZone::UTC)
                    .strftime("%H:%M")
                    .to_string()
            })
            .collect();
        let inside = hours
            .iter()
            .filter(|h| h.as_str() >= "10:00" && h.as_str() < "16:00")
            .count();
        if inside == 0 && !hours.is_empty() {
            assert!(
                hours
                    .iter()
                    .all(|h| ["09:00", "09:30", "16:00", "16:30"].contains(&h.as_str())),
                "{hours:?}"
            );
            break;
        }
        if Instant::now() > deadline {
            server.fail(&format!(
                "slots still inside the busy block ({inside} of {}): {hours:?}",
                hours.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
