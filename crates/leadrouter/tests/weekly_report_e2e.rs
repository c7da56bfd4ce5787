//! MET-2 end to end: the weekly report is emailed to the managers by the schedule, through
//! the outbox and a real SMTP receiver, exactly once per week — also after a restart.
//!
//! The real `leadrouter serve` runs with the test clock (`LEADROUTER_TEST_CLOCK=1`); the
//! test moves it past the next Monday 08:00 UTC with `POST /v1/admin/clock`.

mod support;

use reqwest::Method;
use std::time::Duration;
use support::notify::*;

const BOARD: &str = "board@notify-test.example";
const MANAGERS: [&str; 2] = ["morgan@notify-test.example", "vera@notify-test.example"];

/// The fixture with the weekly report on: Monday 08:00 UTC, one extra recipient, no
/// catch-up (so the Monday already past when the service starts is never sent).
fn config(rx: &Receivers) -> String {
    let text = rx.config_text();
    let off = "[notify.weekly_report]\nenabled = false\n";
    assert!(
        text.contains(off),
        "the fixture turns the weekly report off"
    );
    text.replace(
        off,
        &format!(
            "[notify.weekly_report]\nday = \"monday\"\ntime = \"08:00\"\ntimezone = \"UTC\"\nto = [\"{BOARD}\"]\ncatch_up_hours = 0\n"
        ),
    )
}

async fn clock(svc: &Service) -> jiff::Timestamp {
    let v = svc.advance("0s").await;
    v["now"]
        .as_str()
        .expect("now")
        .parse()
        .expect("a timestamp")
}

/// Move the service clock to `to` (forward only).
async fn move_to(svc: &Service, to: jiff::Timestamp) {
    let now = clock(svc).await;
    let secs = to.as_second() - now.as_second();
    assert!(secs > 0, "the clock only moves forward: {now} → {to}");
    svc.advance(&format!("{secs}s")).await;
}

fn reports(rx: &Receivers, week: &str) -> Vec<Mail> {
    rx.smtp
        .all()
        .into_iter()
        .filter(|m| m.subject().contains(&format!("lead routing report {week}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_report_is_emailed_once_per_week() {
    let rx = Receivers::start().await;
    let mut svc = Service::start_with(&rx, config(&rx)).await;

    // One lead this week, so the report has something to count.
    let d = svc
        .submit(&hot_lead(
            "Jane",
            "Doe",
            "Acme Robotics",
            "jane.doe@acme-robotics.com",
        ))
        .await;
    svc.check(owner_id(&d).is_some(), || format!("assigned: {d}"));

    // This ISO week (UTC) and the Monday 08:00 UTC after it, when it is reported.
    let now = clock(&svc).await;
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let iso = today.iso_week_date();
    let week = format!("{}-W{:02}", iso.year(), iso.week());
    let monday =
        jiff::civil::ISOWeekDate::new(iso.year(), iso.week(), jiff::civil::Weekday::Monday)
            .unwrap()
            .date();
    let send_at = monday
        .checked_add(jiff::Span::new().days(7))
        .unwrap()
        .at(8, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();

    // Before the send time nothing goes out (the schedule checks every 5 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(reports(&rx, &week).is_empty(), "sent before its time");

    move_to(&svc, send_at + jiff::SignedDuration::from_mins(5)).await;
    for to in MANAGERS.iter().chain([&BOARD]) {
        rx.smtp
            .wait_for(&format!("the weekly report to {to}"), |m| {
                m.is_to(to) && m.subject().contains(&week)
            })
            .await;
    }
    // Give a duplicate time to show up.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let first = reports(&rx, &week);
    svc.check(first.len() == 3, || {
        format!(
            "one report per recipient, got {:?}",
            first.iter().map(|m| &m.to).collect::<Vec<_>>()
        )
    });
    for to in MANAGERS.iter().chain([&BOARD]) {
        let mine: Vec<&Mail> = first.iter().filter(|m| m.is_to(to)).collect();
        assert_eq!(mine.len(), 1, "{to}");
        let m = mine[0];
        assert!(
            m.header("Content-Type")
                .is_some_and(|c| c.starts_with("multipart/alternative")),
            "{}",
            m.data
        );
        let html = m.part("text/html").expect("an HTML part");
        assert!(
            html.contains(&format!("lead routing, week {week}")),
            "{html}"
        );
        assert!(html.contains("SLA compliance"), "{html}");
        let text = m.part("text/plain").expect("a text part");
        // The week's figures: the one lead, assigned to a rep, received and routed.
        assert!(text.contains("Leads received: 1\n"), "{text}");
        assert!(text.contains("Assigned to a rep: 1\n"), "{text}");
        assert!(text.contains("Unassigned rate: 0.0%  [0 of 1"), "{text}");
    }

    // The admin API will not send the week again; a malformed week is refused.
    let path = format!("/v1/reports/weekly/send?week={week}");
    let again = svc.admin(Method::POST, &path, None, 409).await;
    assert!(
        again["message"].as_str().unwrap_or("").contains("already"),
        "{again}"
    );
    let bad = svc
        .admin(
            Method::POST,
            "/v1/reports/weekly/send?week=2026-48",
            None,
            400,
        )
        .await;
    assert!(
        bad["message"].as_str().unwrap_or("").contains("ISO week"),
        "{bad}"
    );

    // After a restart (the test clock starts again at the real time) and moving past the
    // same send time again, the week is not sent a second time.
    svc.restart().await;
    move_to(&svc, send_at + jiff::SignedDuration::from_mins(10)).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let after = reports(&rx, &week);
    svc.check(after.len() == 3, || {
        format!("sent again after the restart: {} reports", after.len())
    });

    // The API sends another week on demand, once.
    let prev = monday
        .checked_sub(jiff::Span::new().days(7))
        .unwrap()
        .iso_week_date();
    let prev = format!("{}-W{:02}", prev.year(), prev.week());
    let path = format!("/v1/reports/weekly/send?week={prev}");
    let sent = svc.admin(Method::POST, &path, None, 202).await;
    assert_eq!(
        sent["recipients"].as_array().map(Vec::len),
        Some(3),
        "{sent}"
    );
    rx.smtp
        .wait_for("the on-demand report", |m| {
            m.is_to(MANAGERS[0]) && m.subject().contains(&prev)
        })
        .await;
    let m = reports(&rx, &prev)
        .into_iter()
        .find(|m| m.is_to(MANAGERS[0]))
        .unwrap();
    let text = m.part("text/plain").expect("a text part");
    assert!(text.contains("Leads received: 0\n"), "{text}");
    svc.admin(Method::POST, &path, None, 409).await;
}
