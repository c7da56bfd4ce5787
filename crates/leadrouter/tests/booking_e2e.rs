//! Booking a meeting with the assigned rep (issue 22) through the real `leadrouter serve`:
//! a Web-to-Lead post redirected to the booking page, the page in the visitor's zone, a
//! slot booked, the confirmation page, the emails at the SMTP server, the rep's Slack
//! line, the webhook carrying the meeting, first touch (no SLA escalation), rescheduling
//! and cancelling through the signed pages, and two bookings racing for one slot on two
//! instances sharing PostgreSQL.

mod support;

use jiff::Timestamp;
use leadrouter_testsupport::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::notify::{Receivers, Service};

const BOOKING: &str = r#"

[booking]
actions = ["demo_request"]
tiers = ["hot"]
meeting = "30m"
buffer_after = "15m"
min_notice = "2h"
days_ahead = 7
daily_cap = 6
slot_step = "30m"
title = "Demo"

[[form]]
key = "demo"
action = "demo_request"
"#;

fn config(rx: &Receivers) -> String {
    rx.config_text() + BOOKING
}

fn form_body(email: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("first_name", "Lena")
        .append_pair("last_name", "Booker")
        .append_pair("email", email)
        .append_pair("company", "Globex Industries")
        .append_pair("employees", "500")
        .append_pair("industry", "software")
        .append_pair("retURL", "/thanks")
        .finish()
}

/// The first `…/pick?start=N` or `…/move?start=N` in a page: the slot's start.
fn first_start(html: &str, marker: &str) -> Timestamp {
    let i = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in:\n{html}"))
        + marker.len();
    let digits: String = html[i..].chars().take_while(char::is_ascii_digit).collect();
    Timestamp::from_second(digits.parse().unwrap()).unwrap()
}

async fn lead_id(svc: &Service, email: &str) -> String {
    let v = svc
        .admin(Method::GET, &format!("/v1/leads?q={email}"), None, 200)
        .await;
    v["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no lead for {email}: {v}"))
        .to_string()
}

#[tokio::test]
async fn form_to_booked_meeting_with_emails_and_no_escalation() {
    let rx = Receivers::start().await;
    let svc = Service::start_with(&rx, config(&rx)).await;
    let email = "lena.booker@globex-industries.com";

    // The form post goes to the booking page instead of the retURL.
    let r = svc
        .server
        .post("/v1/forms/demo")
        .body("application/x-www-form-urlencoded", form_body(email))
        .send_async()
        .await
        .expect_status(303);
    let book = r.header("location").unwrap_or_default().to_string();
    svc.check(book.starts_with("/book/"), || {
        format!("303 to the booking page, got {book}")
    });

    // The page in New York time: escaped, scripted only by its hash, no framing.
    let page = svc
        .server
        .get(&format!("{book}?tz=America/New_York"))
        .send_async()
        .await
        .expect_status(200);
    let csp = page
        .header("content-security-policy")
        .unwrap_or_default()
        .to_string();
    svc.check(
        csp.contains("script-src 'sha256-") && csp.contains("default-src 'none'"),
        || csp.clone(),
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let html = page.text.clone();
    svc.check(
        html.contains("Book a time with") && html.contains("<label for=tz>Time zone</label>"),
        || html.clone(),
    );
    svc.check(
        html.contains("<option value=\"America/New_York\" selected>"),
        || html.clone(),
    );
    let start = first_start(&html, "/pick?start=");
    // The first slot's time is shown in New York time.
    let ny = start.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap());
    let shown = ny.strftime("%H:%M").to_string();
    svc.check(html.contains(&format!(">{shown}</button>")), || {
        format!("{shown} in {html}")
    });

    // Pick it: 303 to the meeting's page, which confirms in the visitor's zone.
    let r = svc
        .server
        .post(&format!(
            "{book}/pick?start={}&tz=America%2FNew_York",
            start.as_second()
        ))
        .send_async()
        .await
        .expect_status(303);
    let confirm = r.header("location").unwrap_or_default().to_string();
    svc.check(
        confirm.starts_with("/book/manage/") && confirm.ends_with("&booked=1"),
        || confirm.clone(),
    );
    let (status, html) = svc.page(Method::GET, &confirm).await;
    assert_eq!(status, 200, "{html}");
    svc.check(
        html.contains("Your meeting is booked") && html.contains(&shown),
        || html.clone(),
    );

    // The booking page now says the meeting exists.
    let (_, again) = svc.page(Method::GET, &book).await;
    svc.check(again.contains("You already have a meeting"), || {
        again.clone()
    });

    // First touch: the SLA ladder stopped; the history says why.
    let id = lead_id(&svc, email).await;
    let lead = svc.lead(&id).await;
    let owner = lead["owner"].as_str().unwrap().to_string();
    svc.check(lead["first_touch_at"].is_string(), || format!("{lead:#}"));
    let history = lead["history"].as_array().cloned().unwrap_or_default();
    svc.check(
        history.iter().any(|h| {
            h["kind"] == "meeting"
                && h["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("counts as first touch")
        }),
        || format!("{lead:#}"),
    );

    // Both sides get an email, each in their own zone (the rep is in UTC).
    let m = rx
        .smtp
        .wait_for("to the lead about the meeting", |m| {
            m.is_to(email) && m.subject().starts_with("Confirmed:")
        })
        .await;
    let body = m.body();
    assert!(
        body.contains("America/New_York") && body.contains(&shown),
        "{body}"
    );
    assert!(
        body.contains("/book/manage/"),
        "the reschedule/cancel link: {body}"
    );
    // The iCalendar invitation rides along: METHOD:REQUEST, the slot in UTC.
    let ics = m
        .part("text/calendar")
        .unwrap_or_else(|| panic!("no invitation in {}", m.data));
    let unfolded = ics.replace("\n ", "");
    assert!(
        unfolded.contains("METHOD:REQUEST")
            && unfolded.contains(&format!("DTSTART:{}", start.strftime("%Y%m%dT%H%M%SZ")))
            && unfolded.contains("SEQUENCE:0"),
        "{ics}"
    );
    let rep_mail = format!("{owner}@notify-test.example");
    let m = rx
        .smtp
        .wait_for("to the rep about the meeting", |m| {
            m.is_to(&rep_mail) && m.subject().contains("booked")
        })
        .await;
    assert!(
        m.body().contains(&start.strftime("%H:%M").to_string()),
        "{}",
        m.body()
    );
    rx.slack
        .wait(Duration::from_secs(10), "the rep's Slack line", |hits| {
            hits.iter().any(|h| {
                let b = String::from_utf8_lossy(&h.body);
                b.contains("Meeting booked for") && b.contains("Lena Booker")
            })
        })
        .await;
    rx.hooks()
        .wait(
            Duration::from_secs(10),
            "lead.contacted with the meeting",
            |hits| {
                hits.iter().any(|h| {
                    let v: Value = serde_json::from_slice(&h.body).unwrap_or_default();
                    v["type"] == "lead.contacted" && v["data"]["meeting"]["start"] == json!(start)
                })
            },
        )
        .await;

    // Three times the hot SLA later, nothing escalated.
    svc.advance("35m").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let lead = svc.lead(&id).await;
    let kinds: Vec<String> = lead["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap_or("").to_string())
        .collect();
    svc.check(!kinds.iter().any(|k| k.starts_with("sla_")), || {
        format!("escalated after booking: {kinds:?}")
    });
    svc.check(lead["owner"] == json!(owner), || format!("{lead:#}"));

    // Move it: the meeting page lists the rep's other times; the lead hears of the move.
    let (_, html) = svc.page(Method::GET, &confirm).await;
    let token = confirm
        .trim_start_matches("/book/manage/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let to = first_start(&html, "/move?start=");
    assert_ne!(to, start);
    let (status, _) = svc
        .page(
            Method::POST,
            &format!(
                "/book/manage/{token}/move?start={}&tz=America%2FNew_York",
                to.as_second()
            ),
        )
        .await;
    assert_eq!(status, 303);
    rx.smtp
        .wait_for("the move", |m| {
            m.is_to(email) && m.subject().starts_with("Updated:")
        })
        .await;
    // Webhooks carry the move: `meeting.rescheduled` with the new time and the next
    // SEQUENCE.
    rx.hooks()
        .wait(
            Duration::from_secs(10),
            "meeting.rescheduled for the move",
            |hits| {
                hits.iter().any(|h| {
                    let v: Value = serde_json::from_slice(&h.body).unwrap_or_default();
                    v["type"] == "meeting.rescheduled"
                        && v["data"]["meeting"]["method"] == "REQUEST"
                        && v["data"]["meeting"]["sequence"] == 1
                        && v["data"]["meeting"]["start"] == json!(to)
                })
            },
        )
        .await;
    let b = svc
        .admin(Method::GET, &format!("/v1/leads/{id}/booking"), None, 200)
        .await;
    assert_eq!(b["bookings"][0]["sequence"], 1, "{b}");
    assert_eq!(b["bookings"][0]["start"], json!(to), "{b}");

    // Cancel it.
    let (status, html) = svc
        .page(Method::POST, &format!("/book/manage/{token}/cancel"))
        .await;
    assert_eq!(status, 200, "{html}");
    rx.smtp
        .wait_for("the cancellation", |m| {
            m.is_to(email) && m.subject().starts_with("Cancelled:")
        })
        .await;
    let b = svc
        .admin(Method::GET, &format!("/v1/leads/{id}/booking"), None, 200)
        .await;
    assert_eq!(b["bookings"][0]["status"], "cancelled", "{b}");
    assert_eq!(b["bookings"][0]["sequence"], 2, "{b}");
    let (_, html) = svc.page(Method::GET, &confirm).await;
    assert!(html.contains("This meeting was cancelled"), "{html}");

    // Erasure covers the booking's visitor data (its zone); the meeting's time stays.
    let v = svc
        .admin(Method::DELETE, &format!("/v1/people/{email}"), None, 200)
        .await;
    assert_eq!(v["erased"]["bookings"], 1, "{v}");
    let b = svc
        .admin(Method::GET, &format!("/v1/leads/{id}/booking"), None, 200)
        .await;
    assert_eq!(b["bookings"][0]["start"], json!(to), "{b}");

    // A token is a capability: altered, it opens nothing.
    let (status, _) = svc.page(Method::GET, &format!("{book}x")).await;
    assert_eq!(status, 400);
}

/// Two leads of one rep booking the same slot at once on two instances sharing
/// PostgreSQL: one booking, one 409 "that time was just taken" with fresh slots.
#[tokio::test]
async fn two_instances_race_for_one_slot() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let rx = Receivers::start().await;
    let a = Service::start_on(&rx, config(&rx), &db.url).await;
    let b = Service::start_on(&rx, config(&rx), &db.url).await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let d = a
            .submit(&json!({
                "email": format!("racer{i}@globex-industries.com"),
                "first_name": "Racer",
                "company": "Globex Industries",
                "employees": 500,
                "industry": "software",
                "action": "demo_request",
            }))
            .await;
        ids.push(d["lead_id"].as_str().unwrap().to_string());
    }
    // Both leads with one rep.
    let owner = a.lead(&ids[0]).await["owner"].as_str().unwrap().to_string();
    a.admin(
        Method::POST,
        &format!("/v1/leads/{}/reassign", ids[1]),
        Some(&json!({"rep": owner})),
        200,
    )
    .await;
    let s0 = a
        .admin(
            Method::GET,
            &format!("/v1/leads/{}/slots?tz=Europe/Berlin", ids[0]),
            None,
            200,
        )
        .await;
    let s1 = b
        .admin(
            Method::GET,
            &format!("/v1/leads/{}/slots", ids[1]),
            None,
            200,
        )
        .await;
    assert_eq!(s0["rep"]["id"], json!(owner), "{s0}");
    assert_eq!(s0["time_zone"], "Europe/Berlin");
    let start = s0["slots"][0]["start"].clone();
    assert_eq!(
        s1["slots"][0]["start"], start,
        "both are offered the same first slot"
    );

    for round in 0..3 {
        let body = json!({ "start": start, "time_zone": "Europe/Berlin" });
        let (ra, rb) = tokio::join!(
            a.server
                .post(&format!("/v1/leads/{}/booking", ids[0]))
                .admin()
                .json(&body)
                .send_async(),
            b.server
                .post(&format!("/v1/leads/{}/booking", ids[1]))
                .admin()
                .json(&body)
                .send_async(),
        );
        let mut statuses = [ra.status, rb.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {} / {}",
            ra.text,
            rb.text
        );
        let lost = if ra.status == 409 { &ra } else { &rb };
        let v: Value = serde_json::from_str(&lost.text).unwrap();
        assert_eq!(v["message"], "that time was just taken", "{v}");
        let fresh: Vec<&Value> = v["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["start"])
            .collect();
        assert!(
            !fresh.is_empty() && !fresh.contains(&&start),
            "fresh slots without the taken one: {v}"
        );
        // Free the slot for the next round: cancel the winner's booking.
        let (won_lead, won) = if ra.status == 201 {
            (&ids[0], &ra)
        } else {
            (&ids[1], &rb)
        };
        let w: Value = serde_json::from_str(&won.text).unwrap();
        let bid = w["booking"]["id"].as_str().unwrap();
        a.admin(
            Method::POST,
            &format!("/v1/leads/{won_lead}/booking/{bid}/cancel"),
            None,
            200,
        )
        .await;
    }
    // One active booking at most per (rep, start), ever: the database agrees.
    let mut conn = db.pg_connection().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings WHERE status = 'booked'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(all, 3);
}

/// The owner has no free slot (out of office): the team's earliest free rep is offered,
/// and booking with them reassigns the lead, the history saying why. A second lead asking
/// for the same slot of that rep gets 409 with fresh slots.
#[tokio::test]
async fn owner_without_slots_books_with_a_free_teammate() {
    let rx = Receivers::start().await;
    let svc = Service::start_with(&rx, config(&rx)).await;
    let lead = |i: usize| {
        json!({
            "email": format!("alt{i}@globex-industries.com"),
            "first_name": "Alt",
            "company": "Globex Industries",
            "employees": 500,
            "industry": "software",
            "action": "demo_request",
        })
    };
    let id = svc.submit(&lead(0)).await["lead_id"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = svc.lead(&id).await["owner"].as_str().unwrap().to_string();
    svc.admin(
        Method::PUT,
        &format!("/v1/reps/{owner}/availability"),
        Some(&json!({"out_of_office": true})),
        200,
    )
    .await;
    let s = svc
        .admin(Method::GET, &format!("/v1/leads/{id}/slots"), None, 200)
        .await;
    let other = s["rep"]["id"].as_str().unwrap().to_string();
    assert_ne!(other, owner, "{s}");
    assert_eq!(s["reassigns"], true, "{s}");
    let why = s["why"].as_str().unwrap();
    assert!(why.contains("had no free slot in the next 7 days"), "{why}");
    let start = s["slots"][0]["start"].clone();
    let r = svc
        .admin(
            Method::POST,
            &format!("/v1/leads/{id}/booking"),
            Some(&json!({"start": start})),
            201,
        )
        .await;
    assert_eq!(r["booking"]["rep"], json!(other), "{r}");
    let l = svc.lead(&id).await;
    assert_eq!(l["owner"], json!(other), "{l:#}");
    let history = l["history"].as_array().unwrap();
    assert!(
        history.iter().any(|h| h["kind"] == "manual"
            && h["owner"] == json!(other)
            && h["reason"]
                .as_str()
                .unwrap_or("")
                .contains("had no free slot")),
        "{l:#}"
    );
    assert!(history.iter().any(|h| h["kind"] == "meeting"), "{l:#}");

    // Another lead of that rep wants the same time: taken, with the free ones now.
    let id2 = svc.submit(&lead(1)).await["lead_id"]
        .as_str()
        .unwrap()
        .to_string();
    svc.admin(
        Method::POST,
        &format!("/v1/leads/{id2}/reassign"),
        Some(&json!({"rep": other})),
        200,
    )
    .await;
    let v = svc
        .admin(
            Method::POST,
            &format!("/v1/leads/{id2}/booking"),
            Some(&json!({"start": start})),
            409,
        )
        .await;
    assert_eq!(v["message"], "that time was just taken", "{v}");
    assert!(
        !v["slots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["start"] == start),
        "{v}"
    );
    // The same lead cannot book twice.
    let next = v["slots"][0]["start"].clone();
    svc.admin(
        Method::POST,
        &format!("/v1/leads/{id2}/booking"),
        Some(&json!({"start": next})),
        201,
    )
    .await;
    let s2 = svc
        .admin(Method::GET, &format!("/v1/leads/{id2}/slots"), None, 200)
        .await;
    let later = s2["slots"][0]["start"].clone();
    svc.admin(
        Method::POST,
        &format!("/v1/leads/{id2}/booking"),
        Some(&json!({"start": later})),
        422,
    )
    .await;
}
