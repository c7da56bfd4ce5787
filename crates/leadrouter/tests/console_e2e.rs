//! The operations console in a real headless Chromium (Debian `chromium` +
//! `chromium-driver`, driven over WebDriver by fantoccini), against the real binary:
//! log in, see a lead arrive, open its trace, toggle a rep out of office and see the next
//! lead skip them, assign from a queue, try a lead; a lead whose name and company are
//! script injections renders inert on every page that shows it. Screenshots of each page
//! go to `target/tmp/console/`; with `LEADROUTER_UPDATE_SCREENSHOTS=1` they replace the
//! README's in `docs/console/` (a plain test run leaves the tree as it was).
//!
//! Chromium is installed with apt-get when missing (as root); if it cannot be, the test
//! fails and says so.

mod support;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::time::Duration;
use support::browser::{assert_no_alert, body_text, el, screenshot, start_browser, wait_path};
use support::{ADMIN_KEY, Server, e2e};

const XSS_NAME: &str = "<script>alert(1)</script>";
const XSS_COMPANY: &str = "\"><img src=x onerror=alert(1)>";

async fn post_lead(server: &Server, lead: &Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/leads", server.url))
        .bearer_auth(ADMIN_KEY)
        .json(lead)
        .send()
        .await
        .expect("posting a lead");
    assert_eq!(r.status().as_u16(), 201, "lead not accepted");
    r.json().await.expect("decision JSON")
}

async fn get_lead(server: &Server, id: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}/v1/leads/{id}", server.url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("reading a lead")
        .json()
        .await
        .expect("lead JSON")
}

fn lead(first: &str, last: &str, email: &str, company: &str) -> Value {
    json!({
        "first_name": first, "last_name": last, "email": email, "company": company,
        "title": "Head of Data", "country": "US", "employees": 500, "industry": "software",
        "action": "demo_request", "lead_source": "website",
    })
}

fn owner(v: &Value) -> Option<String> {
    v["owner"]["id"]
        .as_str()
        .or_else(|| v["owner"].as_str())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_real_browser() {
    let server = Server::start_async(e2e()).await;
    let password = server.demo_password();
    let (_driver, c) = start_browser().await;
    let base = server.url.clone();

    // Log in (a wrong password first).
    c.goto(&format!("{base}/console")).await.unwrap();
    wait_path(&c, "/console/login").await;
    screenshot(&c, "login").await;
    let form = c.form(Locator::Css("form.box")).await.unwrap();
    form.set_by_name("username", "admin").await.unwrap();
    form.set_by_name("password", "wrong").await.unwrap();
    form.submit().await.unwrap();
    let err = el(&c, Locator::Id("login-error"))
        .await
        .expect("a login error");
    assert!(
        err.text()
            .await
            .unwrap()
            .contains("Wrong user name or password")
    );
    let form = c.form(Locator::Css("form.box")).await.unwrap();
    form.set_by_name("username", "admin").await.unwrap();
    form.set_by_name("password", &password).await.unwrap();
    form.submit().await.unwrap();
    wait_path(&c, "/console/overview").await;

    // See a lead arrive and open its trace.
    let first = post_lead(
        &server,
        &lead("Wendy", "Arrival", "wendy@arrival-labs.com", "Arrival Labs"),
    )
    .await;
    c.refresh().await.unwrap();
    let recent = el(&c, Locator::Id("recent"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        recent.contains("Wendy Arrival"),
        "the new lead is not on the overview: {recent}"
    );
    assert!(body_text(&c).await.to_lowercase().contains("leads today"));
    screenshot(&c, "overview").await;
    el(&c, Locator::LinkText("Wendy Arrival"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    el(&c, Locator::Css("ul.trace > li"))
        .await
        .expect("the trace timeline");
    let steps = c.find_all(Locator::Css("ul.trace > li")).await.unwrap();
    assert!(
        steps.len() >= 3,
        "the trace timeline has {} steps",
        steps.len()
    );
    let text = body_text(&c).await;
    let first_owner = owner(&first).expect("the first lead has an owner");
    assert!(
        text.contains("Team pool"),
        "the trace shows the team step: {text}"
    );
    screenshot(&c, "lead").await;

    // Toggle the other pool rep out of office; the next two leads skip them.
    let other = if first_owner == "ann.archer" {
        "ben.baker"
    } else {
        "ann.archer"
    };
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    el(
        &c,
        Locator::Css(&format!("tr[id='rep-{other}'] button.ooo")),
    )
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    // The post redirects back to the roster; load it afresh so no node of the old page
    // is read while the browser navigates.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    let row = el(&c, Locator::Css(&format!("tr[id='rep-{other}']")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("out of office"), "{row}");
    screenshot(&c, "reps").await;
    let mut skipped_lead = String::new();
    for i in 0..2 {
        let d = post_lead(
            &server,
            &lead(
                "Next",
                &format!("Lead{i}"),
                &format!("next{i}@nextlead.io"),
                "Next Co",
            ),
        )
        .await;
        assert_eq!(
            owner(&d).as_deref(),
            Some(first_owner.as_str()),
            "the out-of-office rep got a lead: {d}"
        );
        skipped_lead = d["lead_id"].as_str().unwrap().to_string();
    }
    c.goto(&format!("{base}/console/leads/{skipped_lead}"))
        .await
        .unwrap();
    let text = body_text(&c).await;
    assert!(
        text.contains(&format!("{other}: skipped")) && text.contains("out of office"),
        "the trace does not say the rep was skipped as out of office: {text}"
    );
    // Back in office.
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    el(
        &c,
        Locator::Css(&format!("tr[id='rep-{other}'] button.ooo")),
    )
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    // The post redirects back to the roster; load it afresh so no node of the old page
    // is read while the browser navigates.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    let row = el(&c, Locator::Css(&format!("tr[id='rep-{other}']")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!row.contains("out of office"), "{row}");

    // Assign from a queue: a personal-email lead waits in review.
    let queued = post_lead(&server, &json!({"first_name": "Quinn", "last_name": "Queue", "email": "quinn.queue@gmail.com", "action": "demo_request"})).await;
    assert_eq!(queued["queue"], "review", "{queued}");
    let qid = queued["lead_id"].as_str().unwrap().to_string();
    c.goto(&format!("{base}/console/queues?q=review"))
        .await
        .unwrap();
    let row = el(&c, Locator::Css(&format!("tr[id='lead-{qid}']")))
        .await
        .unwrap();
    assert!(row.text().await.unwrap().contains("Quinn Queue"));
    screenshot(&c, "queues").await;
    let form = c
        .form(Locator::Css(&format!("tr[id='lead-{qid}'] form")))
        .await
        .unwrap();
    form.set_by_name("rep", "cara.cole").await.unwrap();
    form.submit().await.unwrap();
    let flash = el(&c, Locator::Id("flash"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(flash.contains("Assigned to"), "{flash}");
    let stored = get_lead(&server, &qid).await;
    assert_eq!(stored["owner"], "cara.cole", "{stored}");
    assert!(
        c.find(Locator::Css(&format!("tr[id='lead-{qid}']")))
            .await
            .is_err(),
        "the lead is still listed in review"
    );
    let history = stored["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["kind"] == "manual" && h["actor"] == "console:admin"),
        "{stored}"
    );

    // Try a lead: the default example, then check nothing was stored.
    let before = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    c.goto(&format!("{base}/console/try")).await.unwrap();
    el(&c, Locator::Id("try-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let result = el(&c, Locator::Id("try-result"))
        .await
        .expect("a dry-run result")
        .text()
        .await
        .unwrap();
    assert!(
        result.contains("Would go to") || result.contains("Would be queued"),
        "{result}"
    );
    assert!(result.contains("Junk check"), "{result}");
    screenshot(&c, "try").await;
    let after = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let routed = |m: &str| {
        m.lines()
            .filter(|l| l.starts_with("leadrouter_leads_routed_total"))
            .map(|l| {
                l.split_whitespace()
                    .last()
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    assert_eq!(routed(&before), routed(&after), "trying a lead routed one");

    c.goto(&format!("{base}/console/matrix")).await.unwrap();
    assert!(
        el(&c, Locator::Id("config-version"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .starts_with("sha256:")
    );
    screenshot(&c, "matrix").await;
    c.goto(&format!("{base}/console/report")).await.unwrap();
    assert!(el(&c, Locator::Id("report")).await.is_ok());
    screenshot(&c, "report").await;

    // Script injection renders inert, as text, everywhere the lead shows.
    let xss = post_lead(
        &server,
        &json!({
            "first_name": XSS_NAME, "email": "mallory@inject.example.com", "company": XSS_COMPANY,
            "employees": 500, "industry": "software", "country": "US", "action": "demo_request"
        }),
    )
    .await;
    let xid = xss["lead_id"].as_str().unwrap().to_string();
    let xss_queued = post_lead(&server, &json!({"first_name": XSS_NAME, "company": XSS_COMPANY, "email": "mallory.inject@gmail.com", "action": "demo_request"})).await;
    assert_eq!(xss_queued["queue"], "review");
    for page in [
        "/console/overview".to_string(),
        format!("/console/leads/{xid}"),
        format!("/console/leads/{}", xss_queued["lead_id"].as_str().unwrap()),
        "/console/queues?q=review".to_string(),
    ] {
        c.goto(&format!("{base}{page}")).await.unwrap();
        assert_no_alert(&c, &page).await;
        let text = body_text(&c).await;
        assert!(
            text.contains(XSS_NAME),
            "{page} does not show the name as text"
        );
        assert!(
            text.contains(XSS_COMPANY),
            "{page} does not show the company as text"
        );
        assert!(
            c.find(Locator::Css("img[src='x']")).await.is_err(),
            "{page} has an injected <img>"
        );
    }
    c.goto(&format!("{base}/console/try")).await.unwrap();
    let form = c.form(Locator::Id("try-form")).await.unwrap();
    form.set_by_name("first_name", XSS_NAME).await.unwrap();
    form.set_by_name("company", XSS_COMPANY).await.unwrap();
    form.set_by_name("email", "mallory@inject.example.com")
        .await
        .unwrap();
    form.submit().await.unwrap();
    assert_no_alert(&c, "/console/try").await;
    assert!(el(&c, Locator::Id("try-result")).await.is_ok());
    assert!(c.find(Locator::Css("img[src='x']")).await.is_err());

    // A form post with the real session but without its CSRF token is refused, and a
    // forged session goes to the login page.
    let session = c
        .get_named_cookie("lr_console")
        .await
        .expect("the session cookie");
    assert_eq!(
        session.http_only(),
        Some(true),
        "the session cookie is not HttpOnly"
    );
    assert_eq!(
        format!("{:?}", session.same_site()),
        "Some(Strict)",
        "the session cookie is not SameSite=Strict"
    );
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .post(format!("{base}/console/reps/{other}/availability"))
        .header("cookie", format!("lr_console={}", session.value()))
        .form(&[("out", "1"), ("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        400,
        "a post without the CSRF token was accepted"
    );
    let r = plain
        .post(format!("{base}/console/reps/{other}/availability"))
        .header("cookie", "lr_console=forged")
        .form(&[("out", "1"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_redirection(),
        "a forged session was not sent to the login page: {}",
        r.status()
    );
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    let row = el(&c, Locator::Css(&format!("tr[id='rep-{other}']")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !row.contains("out of office"),
        "a refused post changed availability: {row}"
    );

    // Log out.
    c.goto(&format!("{base}/console/overview")).await.unwrap();
    el(&c, Locator::Css("form#logout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_path(&c, "/console/login").await;
    c.goto(&format!("{base}/console/overview")).await.unwrap();
    wait_path(&c, "/console/login").await;
    c.close().await.unwrap();
}

/// Log in as the demo admin whose password `serve` printed.
async fn log_in(c: &Client, server: &Server) {
    let password = server.demo_password();
    c.goto(&format!("{}/console/login", server.url))
        .await
        .unwrap();
    let form = c.form(Locator::Css("form.box")).await.unwrap();
    form.set_by_name("username", "admin").await.unwrap();
    form.set_by_name("password", &password).await.unwrap();
    form.submit().await.unwrap();
    wait_path(c, "/console/overview").await;
}

/// The lead ids of the leads table on the page, top to bottom.
async fn listed(c: &Client) -> Vec<String> {
    el(c, Locator::Id("leads")).await.expect("the leads table");
    let mut ids = Vec::new();
    for row in c
        .find_all(Locator::Css("#leads tbody tr[id]"))
        .await
        .unwrap()
    {
        let id = row.attr("id").await.unwrap().unwrap_or_default();
        ids.push(id.trim_start_matches("lead-").to_string());
    }
    ids
}

/// OPS-6 and issue 23 in the browser: the overview links to every lead, the list pages
/// by "Older"/"Newer" without losing or repeating a lead, the header's search box finds
/// a lead by name, a filter narrows the list, a bad search is named on the page, and a
/// name that is a script injection renders inert in the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_finds_and_pages_leads_in_a_real_browser() {
    let server = Server::start_async(e2e()).await;
    for i in 0..56 {
        post_lead(
            &server,
            &lead(
                "Paged",
                &format!("Person{i:02}"),
                &format!("paged{i}@pagedco.io"),
                "Paged Co",
            ),
        )
        .await;
    }
    let needle = post_lead(
        &server,
        &lead("Quentin", "Quokka", "quentin@quokka-labs.io", "Quokka Labs"),
    )
    .await;
    let xss = post_lead(
        &server,
        &lead(XSS_NAME, "Injector", "inj@evil-co.io", XSS_COMPANY),
    )
    .await;
    let (_driver, c) = start_browser().await;
    log_in(&c, &server).await;
    let base = server.url.clone();

    // The overview's latest leads link to the whole list.
    el(&c, Locator::Id("all-leads"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_path(&c, "/console/leads").await;
    let first = listed(&c).await;
    assert_eq!(first.len(), 50, "a page holds 50 leads");
    assert_eq!(first[0], xss["lead_id"].as_str().unwrap(), "newest first");
    screenshot(&c, "leads").await;
    assert_no_alert(&c, "the leads page").await;
    el(&c, Locator::Id("older"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    el(&c, Locator::Id("newer")).await.expect("a link back");
    let second = listed(&c).await;
    assert!(
        c.find(Locator::Id("older")).await.is_err(),
        "two pages in all"
    );
    let mut all: Vec<String> = first.iter().chain(second.iter()).cloned().collect();
    assert_eq!(all.len(), 58);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 58, "no lead on both pages");
    el(&c, Locator::Id("newer"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    el(&c, Locator::Id("older")).await.unwrap();
    assert_eq!(listed(&c).await, first, "back to the first page");

    // The header's search box, from another page.
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    let form = c.form(Locator::Css("form.lead-search")).await.unwrap();
    form.set_by_name("q", "QUOKKA").await.unwrap();
    form.submit().await.unwrap();
    wait_path(&c, "/console/leads").await;
    assert_eq!(
        listed(&c).await,
        vec![needle["lead_id"].as_str().unwrap().to_string()]
    );
    screenshot(&c, "lead-search").await;

    // A filter: one rep's leads only.
    let owner_of_needle = owner(&needle).expect("an owner");
    c.goto(&format!("{base}/console/leads")).await.unwrap();
    let form = c.form(Locator::Id("lead-filters")).await.unwrap();
    form.set_by_name("owner", &owner_of_needle).await.unwrap();
    form.set_by_name("q", "").await.unwrap();
    form.submit().await.unwrap();
    el(&c, Locator::Css("select[name=owner] option[selected]"))
        .await
        .unwrap();
    let mine = listed(&c).await;
    assert!(mine.contains(&needle["lead_id"].as_str().unwrap().to_string()));
    assert!(
        mine.len() < 50 && mine.len() >= 20,
        "{} leads for one of two reps",
        mine.len()
    );
    for id in &mine {
        let l = get_lead(&server, id).await;
        assert_eq!(owner(&l).as_deref(), Some(owner_of_needle.as_str()), "{id}");
    }

    // A bad search is named on the page; the injection renders as text.
    c.goto(&format!("{base}/console/leads?q=ab")).await.unwrap();
    let text = body_text(&c).await;
    assert!(
        text.contains("needs a word of at least 3 characters"),
        "{text}"
    );
    c.goto(&format!("{base}/console/leads?q=injector"))
        .await
        .unwrap();
    assert_eq!(
        listed(&c).await,
        vec![xss["lead_id"].as_str().unwrap().to_string()]
    );
    assert!(body_text(&c).await.contains(XSS_NAME));
    assert!(c.find(Locator::Css("img[src='x']")).await.is_err());
    assert_no_alert(&c, "the search results").await;
    c.close().await.unwrap();
}
