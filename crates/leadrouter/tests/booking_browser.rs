//! The booking flow in real Chromium (issue 22) with the browser in Tokyo's time zone: a
//! Web-to-Lead form post, the 303 to the booking page, the page's script selecting the
//! browser's zone, a slot picked by keyboard-free clicks, the confirmation page, and the
//! lead's email at the test SMTP server in that zone.

mod support;

use fantoccini::Locator;
use support::browser::{body_text, el, screenshot, start_browser_in};
use support::notify::{Receivers, Service};

const BOOKING: &str = r#"

[booking]
actions = ["demo_request"]
tiers = ["hot"]
meeting = "30m"
min_notice = "2h"
days_ahead = 7

[[form]]
key = "demo"
action = "demo_request"
"#;

#[tokio::test]
async fn book_in_chromium_in_tokyo() {
    let rx = Receivers::start().await;
    let svc = Service::start_with(&rx, rx.config_text() + BOOKING).await;
    let (_driver, c) = start_browser_in(Some("Asia/Tokyo")).await;
    let email = "kenji.browser@globex-industries.com";
    // The visitor's form, on another origin, posting to the public form endpoint.
    let form = format!(
        "<!doctype html><form method=post action=\"{}/v1/forms/demo\">\
         <input name=first_name value=Kenji><input name=last_name value=Sato>\
         <input name=email value=\"{email}\"><input name=company value=\"Globex Industries\">\
         <input name=employees value=500><input name=industry value=software>\
         <input name=retURL value=/thanks><button id=send type=submit>Send</button></form>",
        svc.server.url
    );
    c.goto(&format!(
        "data:text/html,{}",
        form_urlencoded::byte_serialize(form.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    ))
    .await
    .expect("the form page");
    el(&c, Locator::Id("send"))
        .await
        .expect("send button")
        .click()
        .await
        .expect("submit");

    // The booking page; its script picks the browser's zone and shows the times in it.
    let start = std::time::Instant::now();
    loop {
        let url = c.current_url().await.expect("url");
        if url.path().starts_with("/book/")
            && url.query().is_some_and(|q| q.contains("tz=Asia%2FTokyo"))
        {
            break;
        }
        assert!(
            start.elapsed() < support::browser::PAGE_WAIT,
            "not on the booking page in Tokyo time: {url}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = body_text(&c).await;
    assert!(text.contains("Times are shown in Asia/Tokyo"), "{text}");
    let zone = el(&c, Locator::Id("tz")).await.expect("zone selector");
    assert_eq!(
        zone.prop("value").await.unwrap().as_deref(),
        Some("Asia/Tokyo")
    );
    screenshot(&c, "booking-page-tokyo").await;

    // Pick the first time.
    let slot = el(&c, Locator::Css("main ul li button"))
        .await
        .expect("a slot");
    let shown = slot.text().await.expect("slot text");
    let label = slot.attr("aria-label").await.unwrap().unwrap_or_default();
    assert!(
        label.starts_with("Book ") && label.ends_with(&shown),
        "{label}"
    );
    slot.click().await.expect("pick");
    let start = std::time::Instant::now();
    loop {
        let url = c.current_url().await.expect("url");
        if url.path().starts_with("/book/manage/") {
            break;
        }
        assert!(
            start.elapsed() < support::browser::PAGE_WAIT,
            "no confirmation page: {url}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = body_text(&c).await;
    assert!(
        text.contains("Your meeting is booked")
            && text.contains(&shown)
            && text.contains("Asia/Tokyo"),
        "{text}"
    );
    screenshot(&c, "booking-confirmed-tokyo").await;

    // The lead's email says the same time, in Tokyo.
    let m = rx
        .smtp
        .wait_for("to the lead", |m| {
            m.is_to(email) && m.subject().starts_with("Confirmed:")
        })
        .await;
    let body = m.body();
    assert!(
        body.contains("Asia/Tokyo") && body.contains(&shown),
        "{body}"
    );
    c.close().await.ok();
}
