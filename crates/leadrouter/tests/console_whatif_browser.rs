//! OPS-5 in a real headless Chromium against the real binary: an admin uploads a
//! candidate config as a file on the What if page, the run's page reloads itself until
//! the replay is done, the figures per rep are the ones the service's own decisions imply,
//! a changed lead opens on its two traces, and the Config history page shows what a reload
//! changed. Screenshots go to docs/console with LEADROUTER_UPDATE_SCREENSHOTS=1.

mod support;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::browser::{PAGE_WAIT, body_text, el, screenshot, start_browser};
use support::console::console_hash;
use support::{Server, owner_of};

const PASSWORD: &str = "whatif-browser-1";
const E2E: &str = include_str!("fixtures/e2e.toml");

async fn browser_login(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/console/login")).await.unwrap();
    let f = c.form(Locator::Css("form.box")).await.unwrap();
    f.set_by_name("username", user).await.unwrap();
    f.set_by_name("password", PASSWORD).await.unwrap();
    f.submit().await.unwrap();
    let start = Instant::now();
    while c.current_url().await.unwrap().path().ends_with("/login") {
        assert!(start.elapsed() < PAGE_WAIT, "{user} not logged in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the cells of the report's row for `rep`: before and after.
async fn rep_row(c: &Client, rep: &str) -> (u64, u64) {
    let row = el(c, Locator::Css(&format!("tr[data-rep=\"{rep}\"]")))
        .await
        .unwrap_or_else(|e| panic!("no row for {rep}: {e}"));
    let mut cells = Vec::new();
    for td in row.find_all(Locator::Css("td")).await.unwrap() {
        cells.push(td.text().await.unwrap());
    }
    (cells[2].parse().unwrap(), cells[3].parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_5_what_if_and_config_history_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadrouter.toml");
    std::fs::write(&config, E2E).unwrap();
    let hash = console_hash(PASSWORD);
    let server = Server::start_async(
        support::serve(&config).env("LEADROUTER_CONSOLE_USERS", format!("boss:admin:{hash}")),
    )
    .await;
    let base = server.url.clone();
    let mut owners = Vec::new();
    for n in 0..10 {
        let lead = json!({
            "first_name": format!("Browser{n}"), "last_name": "Lead",
            "email": format!("browser{n}@northwind-traders.io"), "company": "Northwind Traders",
            "country": "US", "employees": 500, "industry": "software", "action": "demo_request",
        });
        let d: Value = server
            .post("/v1/leads")
            .admin()
            .json(&lead)
            .send_async()
            .await
            .expect_status(201)
            .json();
        owners.push(owner_of(&d).expect("a pool lead has an owner"));
    }
    let count = |rep: &str| owners.iter().filter(|o| *o == rep).count() as u64;
    let (ann, ben) = (count("ann.archer"), count("ben.baker"));
    assert!(ann > 0 && ben > 0, "{owners:?}");

    // The candidate as a file: Ben leaves the pool.
    let candidate = dir.path().join("candidate.toml");
    std::fs::write(
        &candidate,
        E2E.replace(
            "email = \"ben@e2e.example\"\nteam = \"pool\"",
            "email = \"ben@e2e.example\"\nteam = \"accounts\"",
        ),
    )
    .unwrap();

    let (_driver, c) = start_browser().await;
    browser_login(&c, &base, "boss").await;
    c.goto(&format!("{base}/console/whatif")).await.unwrap();
    el(&c, Locator::Id("toml-file"))
        .await
        .unwrap()
        .send_keys(&candidate.display().to_string())
        .await
        .unwrap();
    el(&c, Locator::Id("whatif-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The run's page, reloading itself until the report is there.
    let start = Instant::now();
    loop {
        let path = c.current_url().await.unwrap().path().to_string();
        if path.starts_with("/console/whatif/") && c.find(Locator::Id("reps")).await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no report on {path}: {}",
            body_text(&c).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = body_text(&c).await;
    assert!(
        text.contains(&format!("10 routing decisions, {ben} changed")),
        "{text}"
    );
    assert!(text.contains("uploaded config sha256:"), "{text}");
    assert_eq!(rep_row(&c, "ann.archer").await, (ann, ann + ben));
    assert_eq!(rep_row(&c, "ben.baker").await, (ben, 0));
    assert!(
        c.find(Locator::Css("#report svg")).await.is_ok(),
        "the chart"
    );
    screenshot(&c, "whatif").await;

    // A changed lead: its two traces side by side.
    el(&c, Locator::LinkText("both traces"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let before = el(&c, Locator::Css("pre.before"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let after = el(&c, Locator::Css("pre.after"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(before.contains("assigned to Ben Baker"), "{before}");
    assert!(after.contains("assigned to Ann Archer"), "{after}");

    // A reload, then the Config history page says what it changed.
    std::fs::write(
        &config,
        E2E.replace("recycle_after_days = 90", "recycle_after_days = 45"),
    )
    .unwrap();
    let r: Value = server
        .post("/v1/admin/reload")
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json();
    assert_eq!(r["reloaded"], true, "{r}");
    c.goto(&format!("{base}/console/config")).await.unwrap();
    let settings = el(&c, Locator::Id("diff-settings"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        settings.contains("routing.recycle_after_days") && settings.contains("45"),
        "{settings}"
    );
    let rules = el(&c, Locator::Id("diff-rules"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rules.contains("No change."), "{rules}");
    screenshot(&c, "config_history").await;
    c.close().await.unwrap();
}
