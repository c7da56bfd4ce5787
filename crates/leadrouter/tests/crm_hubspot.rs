//! Issue 20, HubSpot (CRM-1): owners written back through the durable CRM outbox, driving
//! the real `leadrouter serve` binary against the HubSpot conformance server
//! (`leadrouter_testsupport::hubspot`, CRM v3 as HubSpot documents it: bearer token,
//! batch upsert by email ≤ 100, 207 per-record errors, X-HubSpot-RateLimit-* headers and
//! 429 bodies).
//!
//! CRM-2: HubSpot webhooks in, signed with `X-HubSpot-Signature-v3` as HubSpot does
//! (`hs::sign_v3`), routed once, our own write-back never routed again.
//!
//! Config: `tests/fixtures/one_pool.toml` (seven reps round robin) with a `[crm]` table
//! pointing at the conformance server; reps r1..r7 map to HubSpot owners 501..507.

mod support;

use leadrouter_testsupport::hubspot::{self as hs, HubSpot, Limits};
use leadrouter_testsupport::{Clock, Server, eventually};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The pool config with a `[crm]` table for `hubspot`, written to `dir`.
fn config(dir: &tempfile::TempDir, hubspot: &HubSpot, extra: &str) -> PathBuf {
    let base = std::fs::read_to_string(support::fixture("one_pool.toml")).unwrap();
    let users: String = (1..=7).map(|i| format!("r{i} = \"50{i}\"\n")).collect();
    let text = format!(
        "{base}\n[crm]\nprovider = \"hubspot\"\nbase_url = \"{}\"\ntask = false\n{extra}\n[crm.hubspot]\ntoken_env = \"TEST_HUBSPOT_TOKEN\"\nclient_secret_env = \"TEST_HUBSPOT_SECRET\"\n\n[crm.users]\n{users}",
        hubspot.uri()
    );
    let path = dir.path().join("leadrouter.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn hubspot(limits: Limits) -> HubSpot {
    let h = HubSpot::start(limits).await;
    for p in [
        "leadrouter_tier",
        "leadrouter_segment",
        "leadrouter_score",
        "leadrouter_reason",
        "leadrouter_lead_id",
        "leadrouter_console_url",
    ] {
        h.define_property(p);
    }
    for i in 1..=7 {
        h.add_owner(
            &format!("50{i}"),
            &format!("r{i}@pool.example"),
            "Rep",
            &i.to_string(),
        );
    }
    h
}

async fn serve(hubspot: &HubSpot, clock: Clock) -> (Server, tempfile::TempDir) {
    serve_with(hubspot, clock, "").await
}

/// [`serve`] with more `[crm]` keys.
async fn serve_with(hubspot: &HubSpot, clock: Clock, extra: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, hubspot, extra);
    let opts = support::serve(&cfg)
        .env("TEST_HUBSPOT_TOKEN", hs::TOKEN)
        .env("TEST_HUBSPOT_SECRET", hs::CLIENT_SECRET)
        .clock(clock);
    (Server::start_async(opts).await, dir)
}

async fn submit(s: &Server, n: usize) -> String {
    let lead = json!({
        "email": format!("buyer{n}@customer{n}.com"),
        "first_name": "Pat",
        "last_name": format!("Buyer{n}"),
        "company": format!("Customer {n}"),
    });
    let r = s
        .post("/v1/leads")
        .intake()
        .json(&lead)
        .send_async()
        .await
        .expect_status(201);
    r.json()["lead_id"].as_str().unwrap().to_string()
}

async fn lead_of(s: &Server, id: &str) -> Value {
    s.get(&format!("/v1/leads/{id}"))
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json()
}

async fn advance(s: &Server, by: &str) {
    s.post("/v1/admin/clock")
        .admin()
        .json(&json!({ "advance": by }))
        .send_async()
        .await
        .expect_status(200);
}

async fn metrics(s: &Server) -> String {
    s.get("/metrics")
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .text
}

/// Applied upserts per lead id (the `leadrouter_lead_id` property each carried).
fn applied_by_lead(h: &HubSpot) -> BTreeMap<String, Vec<hs::AppliedWrite>> {
    let mut m: BTreeMap<String, Vec<hs::AppliedWrite>> = BTreeMap::new();
    for w in h.applied() {
        let id = w
            .properties
            .get("leadrouter_lead_id")
            .cloned()
            .unwrap_or_default();
        m.entry(id).or_default().push(w);
    }
    m
}

/// CRM-1, OPS-4: a burst of leads in waves while other apps of the portal use up the
/// shared rate-limit window, so our calls get 429 until they stop: every lead's
/// write still reaches HubSpot exactly once (none lost, none applied twice, no second
/// contact), with the right owner, and the 429s show in /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm1_rate_limit_storm_delivers_every_write_once() {
    let h = std::sync::Arc::new(
        hubspot(Limits {
            per_interval: 4,
            interval: Duration::from_secs(1),
            daily: 1_000_000,
        })
        .await,
    );
    let (s, _dir) = serve(&h, Clock::Real).await;
    let noisy = {
        let h = h.clone();
        tokio::spawn(async move {
            loop {
                h.spend(4);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let mut ids = Vec::new();
    for wave in 0..24 {
        for n in wave * 10..(wave + 1) * 10 {
            ids.push(submit(&s, n).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The other apps stop; ours catches up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    noisy.abort();
    let ids_c = ids.clone();
    eventually(
        WAIT,
        || {
            format!(
                "every lead written once; applied so far: {}, calls {:?}",
                h.applied().len(),
                h.calls()
            )
        },
        || {
            let done = applied_by_lead(&h);
            let all = ids_c.iter().all(|id| done.contains_key(id));
            async move { all.then_some(()) }
        },
    )
    .await;
    let done = applied_by_lead(&h);
    for (n, id) in ids.iter().enumerate() {
        let writes = &done[id];
        assert_eq!(writes.len(), 1, "lead {id} applied {} times", writes.len());
        let lead = lead_of(&s, id).await;
        let owner = lead["owner"].as_str().expect("routed to a rep");
        let c = h
            .contact_by_email(&format!("buyer{n}@customer{n}.com"))
            .unwrap();
        assert_eq!(
            c.properties["hubspot_owner_id"],
            format!("50{}", &owner[1..])
        );
        assert_eq!(c.properties["firstname"], "Pat");
        assert!(!c.properties["leadrouter_reason"].is_empty());
    }
    assert_eq!(h.contacts().len(), 240, "one contact per email");
    assert!(
        h.throttled() > 0,
        "the storm hit the rate limit: {:?}",
        h.calls()
    );
    let m = metrics(&s).await;
    assert!(
        m.contains("leadrouter_crm_calls_total{outcome=\"rate_limited\"}"),
        "{m}"
    );
    assert!(
        m.contains("leadrouter_crm_writes_total{outcome=\"done\"} 240"),
        "{m}"
    );
    let upserts = h.calls()["POST /crm/v3/objects/contacts/batch/upsert"];
    eprintln!(
        "240 leads: {upserts} upsert calls ({} throttled), {:.2} calls per lead",
        h.throttled(),
        upserts as f64 / 240.0
    );
}

/// CRM-1: HubSpot down for ten minutes of test clock. Routing goes on; nothing is lost;
/// once HubSpot is back every write lands, and a lead's later write (a manual
/// reassignment) lands after its first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm1_down_for_ten_minutes_then_caught_up_in_order() {
    let h = hubspot(Limits::private_app_starter()).await;
    let (s, _dir) = serve(&h, Clock::Test).await;
    // The owner directory is read at start; then HubSpot goes down.
    eventually(
        WAIT,
        || "owners read".into(),
        || {
            let n = h.calls().get("GET /crm/v3/owners").copied().unwrap_or(0);
            async move { (n > 0).then_some(()) }
        },
    )
    .await;
    h.set_down(true);
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(submit(&s, n).await);
    }
    let first = ids[0].clone();
    let before = lead_of(&s, &first).await["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let to = if before == "r7" { "r6" } else { "r7" };
    s.post(&format!("/v1/leads/{first}/reassign"))
        .admin()
        .json(&json!({ "rep": to, "note": "account owner asked" }))
        .send_async()
        .await
        .expect_status(200);
    for _ in 0..10 {
        advance(&s, "1m").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(h.applied().is_empty(), "nothing written while down");
    let m = metrics(&s).await;
    assert!(
        m.contains("leadrouter_crm_calls_total{outcome=\"unavailable\"}"),
        "{m}"
    );
    h.set_down(false);
    // The longest backoff is five minutes.
    advance(&s, "6m").await;
    let ids_c = ids.clone();
    eventually(
        WAIT,
        || format!("caught up; applied {}", h.applied().len()),
        || {
            let done = applied_by_lead(&h);
            let all = ids_c.iter().all(|id| done.contains_key(id))
                && done.get(&ids_c[0]).is_some_and(|w| w.len() == 2);
            async move { all.then_some(()) }
        },
    )
    .await;
    let done = applied_by_lead(&h);
    let w = &done[&first];
    assert_eq!(
        w[0].properties["hubspot_owner_id"],
        format!("50{}", &before[1..])
    );
    assert_eq!(
        w[1].properties["hubspot_owner_id"],
        format!("50{}", &to[1..]),
        "the reassignment lands last"
    );
    let c = h.contact_by_email("buyer0@customer0.com").unwrap();
    assert_eq!(c.properties["hubspot_owner_id"], format!("50{}", &to[1..]));
    assert_eq!(
        h.applied().len(),
        21,
        "20 decisions and one reassignment, each once"
    );
}

/// CRM-1: a record HubSpot refuses (a property the portal lacks) becomes a dead letter,
/// visible in the API, /metrics and the console; once the admin fixes the portal, a
/// retry writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm1_rejected_record_is_a_dead_letter_and_retryable() {
    let h = HubSpot::start(Limits::private_app_starter()).await;
    for i in 1..=7 {
        h.add_owner(
            &format!("50{i}"),
            &format!("r{i}@pool.example"),
            "Rep",
            &i.to_string(),
        );
    }
    // No leadrouter_* properties defined yet: HubSpot rejects each record (207).
    let (s, _dir) = serve(&h, Clock::Real).await;
    let id = submit(&s, 1).await;
    let dead = eventually(
        WAIT,
        || "a dead letter".into(),
        || {
            let s = &s;
            async move {
                let v: Value = s
                    .get("/v1/crm/dead-letters")
                    .admin()
                    .send_async()
                    .await
                    .expect_status(200)
                    .json();
                let list = v["dead_letters"].as_array().cloned().unwrap_or_default();
                (!list.is_empty()).then_some(list)
            }
        },
    )
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["lead_id"], id.as_str());
    let err = dead[0]["last_error"].as_str().unwrap();
    assert!(err.contains("PROPERTY_DOESNT_EXIST"), "{err}");
    assert!(h.contacts().is_empty());
    eventually(
        WAIT,
        || "dead gauge".into(),
        || {
            let s = &s;
            async move {
                metrics(s)
                    .await
                    .contains("leadrouter_crm_outbox_dead 1")
                    .then_some(())
            }
        },
    )
    .await;
    for p in [
        "leadrouter_tier",
        "leadrouter_segment",
        "leadrouter_score",
        "leadrouter_reason",
        "leadrouter_lead_id",
        "leadrouter_console_url",
    ] {
        h.define_property(p);
    }
    let dead_id = dead[0]["id"].as_str().unwrap();
    s.post(&format!("/v1/crm/dead-letters/{dead_id}/retry"))
        .admin()
        .send_async()
        .await
        .expect_status(200);
    eventually(
        WAIT,
        || "written after the retry".into(),
        || {
            let ok = h.contact_by_email("buyer1@customer1.com").is_some();
            async move { ok.then_some(()) }
        },
    )
    .await;
    // Retrying what is no longer dead is a 404; unknown ids too.
    s.post(&format!("/v1/crm/dead-letters/{dead_id}/retry"))
        .admin()
        .send_async()
        .await
        .expect_status(404);
    // Intake keys cannot see or retry dead letters.
    s.get("/v1/crm/dead-letters")
        .intake()
        .send_async()
        .await
        .expect_status(403);
}

/// Send a webhook batch signed with `secret` at `timestamp_ms` (HubSpot's headers).
async fn deliver<'a>(
    s: &'a Server,
    events: &Value,
    secret: &str,
    timestamp_ms: i64,
) -> leadrouter_testsupport::Resp<'a> {
    let body = events.to_string();
    let uri = format!("{}/v1/crm/hubspot/webhook", s.url);
    let sig = hs::sign_v3(secret, "POST", &uri, body.as_bytes(), timestamp_ms);
    s.post("/v1/crm/hubspot/webhook")
        .header("X-HubSpot-Signature-v3", &sig)
        .header("X-HubSpot-Request-Timestamp", &timestamp_ms.to_string())
        .body("application/json", body)
        .send_async()
        .await
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// CRM-2: a forged signature, a stale timestamp or no signature → 401, and nothing is
/// read from HubSpot or stored; the same batch properly signed routes the contact once,
/// and HubSpot redelivering it routes nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm2_forged_or_stale_signature_is_refused_and_nothing_stored() {
    let h = hubspot(Limits::private_app_starter()).await;
    let (s, _dir) = serve(&h, Clock::Real).await;
    let id = h.create_contact(&[
        ("email", "form.fill@prospect.com"),
        ("firstname", "Form"),
        ("company", "Prospect Inc"),
    ]);
    let events = hs::webhook_events("contact.creation", &[&id], "FORM");
    deliver(&s, &events, "not-the-secret", now_ms())
        .await
        .expect_status(401);
    let stale = now_ms() - 6 * 60 * 1000;
    deliver(&s, &events, hs::CLIENT_SECRET, stale)
        .await
        .expect_status(401);
    s.post("/v1/crm/hubspot/webhook")
        .body("application/json", events.to_string())
        .send_async()
        .await
        .expect_status(401);
    assert!(
        !h.calls()
            .contains_key("POST /crm/v3/objects/contacts/batch/read"),
        "nothing fetched for a refused request: {:?}",
        h.calls()
    );
    let ok = deliver(&s, &events, hs::CLIENT_SECRET, now_ms())
        .await
        .expect_status(200)
        .json();
    let routed = ok["routed"].as_array().unwrap();
    assert_eq!(routed.len(), 1, "{ok}");
    assert_eq!(
        routed[0]["replayed"], false,
        "the refused requests stored nothing: {ok}"
    );
    let lead_id = routed[0]["lead_id"].as_str().unwrap().to_string();
    let lead = lead_of(&s, &lead_id).await;
    assert!(lead["owner"].is_string(), "routed to a rep: {lead}");
    let again = deliver(&s, &events, hs::CLIENT_SECRET, now_ms())
        .await
        .expect_status(200)
        .json();
    // Redelivered: replayed through the idempotency key, or (once the write-back has
    // stamped the contact with its lead id) skipped; never a second lead.
    match again["routed"].as_array().unwrap().as_slice() {
        [] => assert_eq!(again["skipped"], 1, "{again}"),
        [r] => {
            assert_eq!(r["lead_id"], lead_id.as_str(), "{again}");
            assert_eq!(r["replayed"], true, "{again}");
        }
        _ => panic!("{again}"),
    }
}

/// CRM-2: a contact created in HubSpot is routed and its owner written back; the
/// events HubSpot then sends about our own write-back (the owner and leadrouter
/// properties changing, and a contact our write-back created) are not routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm2_our_write_back_arriving_as_a_webhook_is_not_routed() {
    let h = hubspot(Limits::private_app_starter()).await;
    let (s, _dir) = serve(&h, Clock::Real).await;
    let id = h.create_contact(&[("email", "rep.import@prospect.com"), ("firstname", "Imp")]);
    let ok = deliver(
        &s,
        &hs::webhook_events("contact.creation", &[&id], "IMPORT"),
        hs::CLIENT_SECRET,
        now_ms(),
    )
    .await
    .expect_status(200)
    .json();
    let lead_id = ok["routed"][0]["lead_id"].as_str().unwrap().to_string();
    eventually(
        WAIT,
        || "owner written back".into(),
        || {
            let c = h.contact_by_email("rep.import@prospect.com");
            let ok = c.is_some_and(|c| c.properties.contains_key("hubspot_owner_id"));
            async move { ok.then_some(()) }
        },
    )
    .await;
    let c = h.contact_by_email("rep.import@prospect.com").unwrap();
    assert_eq!(
        c.id, id,
        "the existing contact was updated, not a second one made"
    );
    assert_eq!(c.properties["leadrouter_lead_id"], lead_id);
    // HubSpot reports our write as property changes and (for a lead from the API) a
    // contact creation.
    let api_lead = submit(&s, 900).await;
    eventually(
        WAIT,
        || "API lead written".into(),
        || {
            let ok = h.contact_by_email("buyer900@customer900.com").is_some();
            async move { ok.then_some(()) }
        },
    )
    .await;
    let created = h.contact_by_email("buyer900@customer900.com").unwrap();
    let mut change = hs::webhook_events("contact.propertyChange", &[&id], "INTEGRATION");
    change[0]["propertyName"] = json!("hubspot_owner_id");
    let echo = deliver(&s, &change, hs::CLIENT_SECRET, now_ms())
        .await
        .expect_status(200)
        .json();
    assert_eq!(echo["routed"].as_array().unwrap().len(), 0, "{echo}");
    let creation = hs::webhook_events("contact.creation", &[&created.id], "INTEGRATION");
    let echo = deliver(&s, &creation, hs::CLIENT_SECRET, now_ms())
        .await
        .expect_status(200)
        .json();
    assert_eq!(echo["routed"].as_array().unwrap().len(), 0, "{echo}");
    assert_eq!(echo["skipped"], 1, "{echo}");
    // Each lead was written once: no routing loop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let done = applied_by_lead(&h);
    assert_eq!(done[&lead_id].len(), 1);
    assert_eq!(done[&api_lead].len(), 1);
    assert_eq!(done.len(), 2, "{:?}", done.keys().collect::<Vec<_>>());
}

/// CRM-2 without webhooks: with `poll_every`, a contact created in HubSpot is found by
/// the poller, routed once (later polls see it again and route nothing new), and its
/// owner written back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm2_poller_routes_contacts_created_in_hubspot_once() {
    let h = hubspot(Limits::private_app_starter()).await;
    let (s, _dir) = serve_with(&h, Clock::Real, "poll_every = \"1s\"\n").await;
    let id = h.create_contact(&[("email", "polled@prospect.com"), ("firstname", "Pol")]);
    eventually(
        WAIT,
        || format!("owner written back; calls {:?}", h.calls()),
        || {
            let c = h.contact_by_email("polled@prospect.com");
            let ok = c.is_some_and(|c| c.properties.contains_key("hubspot_owner_id"));
            async move { ok.then_some(()) }
        },
    )
    .await;
    let c = h.contact_by_email("polled@prospect.com").unwrap();
    assert_eq!(c.id, id);
    // More polls (each re-reads the last minute) route nothing new.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let done = applied_by_lead(&h);
    assert_eq!(done.len(), 1, "{:?}", done.keys().collect::<Vec<_>>());
    assert_eq!(done.values().next().unwrap().len(), 1);
    assert!(
        h.calls()["POST /crm/v3/objects/contacts/search"] >= 2,
        "{:?}",
        h.calls()
    );
    let m = metrics(&s).await;
    assert!(
        m.contains("leadrouter_crm_writes_total{outcome=\"done\"} 1\n"),
        "{m}"
    );
}

/// `POST /v1/crm/sync` as an admin: the run's report.
async fn sync_now(s: &Server) -> Value {
    s.post("/v1/crm/sync")
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json()
}

async fn route_from(s: &Server, email: &str) -> Value {
    s.post("/v1/leads")
        .intake()
        .json(&json!({ "email": email, "first_name": "Lee", "last_name": "Buyer", "company": "Acme" }))
        .send_async()
        .await
        .expect_status(201)
        .json()
}

/// CRM-3 with HubSpot, from `[crm]` alone: companies (domain + `hubspot_owner_id`) and
/// owners (active, then `archived=true`) are synced into routing. A company's owner
/// changed in HubSpot decides the next lead from its domain after the next sync, with no
/// config reload; an owner deactivated in HubSpot is an inactive rep in the sync's
/// report, in `check --database` and on the console CRM page, and their companies route
/// as ownerless, flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm3_hubspot_company_owner_change_takes_effect_for_the_next_lead() {
    let h = hubspot(Limits::private_app_starter()).await;
    h.add_owner("900", "stranger@pool.example", "Not", "A Rep");
    let acme = h.add_company("Acme", "acme.com", Some("501"));
    h.add_company("Initech", "www.initech.com", Some("900"));
    let dir = tempfile::tempdir().unwrap();
    // A day between scheduled syncs: the test syncs on demand.
    let cfg = config(&dir, &h, "sync_every = \"24h\"\n");
    let hash = support::console::console_hash("crm-password-1");
    let opts = support::serve(&cfg)
        .env("TEST_HUBSPOT_TOKEN", hs::TOKEN)
        .env("TEST_HUBSPOT_SECRET", hs::CLIENT_SECRET)
        .env("LEADROUTER_CONSOLE_USERS", format!("boss:admin:{hash}"));
    let s = Server::start_async(opts).await;

    let report = sync_now(&s).await;
    assert_eq!(report["provider"], "hubspot", "{report:#}");
    assert_eq!(report["accounts_source"], "crm", "{report:#}");
    assert_eq!(report["overlay_accounts"], 2, "{report:#}");
    assert!(
        report["findings"]
            .to_string()
            .contains("account_owner_not_rep"),
        "owner 900 owns a company but is no rep: {report:#}"
    );
    let d = route_from(&s, "lee@acme.com").await;
    assert_eq!(support::owner_of(&d).as_deref(), Some("r1"), "{d:#}");

    // Reassigned in HubSpot: the next lead follows after the next sync, without reload.
    h.set_company_owner(&acme, Some("502"));
    let report = sync_now(&s).await;
    assert!(
        report["accounts"].as_u64().unwrap() >= 1,
        "the changed company is read again: {report:#}"
    );
    let d = route_from(&s, "kim@acme.com").await;
    assert_eq!(support::owner_of(&d).as_deref(), Some("r2"), "{d:#}");
    let id = d["lead_id"].as_str().unwrap();
    let trace = lead_of(&s, id).await.to_string();
    assert!(
        trace.contains("hubspot account"),
        "the trace names the source: {trace}"
    );

    // r2's user is deactivated in HubSpot (its owner archived).
    h.archive_owner("502");
    let report = sync_now(&s).await;
    assert_eq!(report["inactive_reps"], json!(["r2"]), "{report:#}");
    assert!(
        report["findings"]
            .to_string()
            .contains("accounts_of_inactive_user"),
        "{report:#}"
    );
    let d = route_from(&s, "max@acme.com").await;
    assert_ne!(support::owner_of(&d).as_deref(), Some("r2"), "{d:#}");
    assert!(d.to_string().contains("account_owner_inactive"), "{d:#}");

    // The console CRM page shows the inactive user and flags their company.
    let cookie = support::console::login(&s, "boss", "crm-password-1").await;
    let page = s
        .get("/console/crm")
        .header("cookie", &cookie)
        .send_async()
        .await
        .expect_status(200);
    let users = page
        .text
        .split("id=\"crm-users\"")
        .nth(1)
        .unwrap_or_else(|| panic!("the CRM users table: {}", page.text));
    let row = users
        .split("<tr")
        .find(|r| r.contains("502"))
        .unwrap_or_else(|| panic!("owner 502 listed: {users}"));
    assert!(
        row.contains("inactive") && row.contains("flagged: owner deactivated"),
        "{row}"
    );

    // `check --database` reports the same from the synced rows.
    let db = s.database_url().to_string();
    let cfg_s = cfg.to_str().unwrap().to_string();
    let out = tokio::task::block_in_place(|| {
        leadrouter_testsupport::Cli::run_in(
            support::binary(),
            &["check", &cfg_s, "--json", "--database", &db],
            &[
                ("TEST_HUBSPOT_TOKEN", hs::TOKEN),
                ("TEST_HUBSPOT_SECRET", hs::CLIENT_SECRET),
            ],
            None,
        )
        .expect_code(0)
    });
    let v: Value = serde_json::from_str(&out.stdout).expect("check --json prints JSON");
    let crm = v["crm_findings"].to_string();
    out.check(
        crm.contains("rep_crm_user_inactive") && crm.contains("\"r2\""),
        "r2 is inactive in HubSpot",
    );
    out.check(crm.contains("\"hubspot\""), "the provider is named");
}

/// The poller's stored watermark (`crm_sync_state`, kind `leads`), micros.
async fn poll_watermark(s: &Server) -> Option<i64> {
    let pool = sqlx::SqlitePool::connect(s.database_url()).await.ok()?;
    let w: Option<i64> = sqlx::query_scalar(
        "SELECT high_water FROM crm_sync_state WHERE provider = 'hubspot' AND kind = 'leads'",
    )
    .fetch_optional(&pool)
    .await
    .ok()?
    .flatten();
    pool.close().await;
    w
}

/// CRM-2: the poller's position is stored, so a restart does not miss what changed in
/// HubSpot while leadrouter was down: with the last poll ten minutes back (the stored
/// watermark moved there, as if leadrouter had been down since) and a contact created
/// five minutes ago, the first poll after the restart routes it. (Kept in memory, the
/// poller would have looked back only `poll_every` and the minute of overlap.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm2_poller_position_survives_a_restart() {
    let h = hubspot(Limits::private_app_starter()).await;
    let (mut s, _dir) = serve_with(&h, Clock::Real, "poll_every = \"1s\"\n").await;
    let first = eventually(
        WAIT,
        || "a stored poller watermark".into(),
        || {
            let s = &s;
            async move { poll_watermark(s).await }
        },
    )
    .await;
    let later = eventually(
        WAIT,
        || "the watermark moves with each poll".into(),
        || {
            let s = &s;
            async move { poll_watermark(s).await.filter(|w| *w > first) }
        },
    )
    .await;
    assert!(later > first);
    s.kill();
    let now = jiff::Timestamp::now();
    let ten_ago = now - jiff::SignedDuration::from_mins(10);
    {
        let pool = sqlx::SqlitePool::connect(s.database_url()).await.unwrap();
        sqlx::query("UPDATE crm_sync_state SET high_water = $1 WHERE provider = 'hubspot' AND kind = 'leads'")
            .bind(ten_ago.as_microsecond())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let id = h.create_contact(&[("email", "while-down@prospect.com"), ("firstname", "Dee")]);
    h.set_contact_modified(&id, now - jiff::SignedDuration::from_mins(5));
    s.restart_async().await;
    eventually(
        WAIT,
        || {
            format!(
                "the contact made while down routed and written back; calls {:?}",
                h.calls()
            )
        },
        || {
            let c = h.contact_by_email("while-down@prospect.com");
            let ok = c.is_some_and(|c| c.properties.contains_key("hubspot_owner_id"));
            async move { ok.then_some(()) }
        },
    )
    .await;
    let w = poll_watermark(&s).await.unwrap();
    assert!(
        w > now.as_microsecond(),
        "the watermark moved on after the restart"
    );
}

/// Issue 22 with CRM-1: a meeting booked through the booking API is written back — the
/// `[crm.fields] meeting` property gets its start (UTC) and the reason says it was
/// booked — and a cancellation writes `cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm1_a_booked_meeting_is_written_back() {
    let h = hubspot(Limits::private_app_starter()).await;
    h.define_property("leadrouter_meeting");
    let extra = "[crm.fields]\nmeeting = \"leadrouter_meeting\"\n\n[booking]\nactions = [\"demo_request\"]\nmin_notice = \"1h\"\ndefault_hours = [\"Mon-Sun 09:00-17:00\"]\n\n";
    let (s, _dir) = serve_with(&h, Clock::Real, extra).await;
    let id = s
        .post("/v1/leads")
        .intake()
        .json(&json!({
            "email": "meet@meeting-co.com",
            "first_name": "Mia",
            "last_name": "Meeting",
            "action": "demo_request",
        }))
        .send_async()
        .await
        .expect_status(201)
        .json()["lead_id"]
        .as_str()
        .unwrap()
        .to_string();
    let slots = s
        .get(&format!("/v1/leads/{id}/slots"))
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json();
    let start = slots["slots"][0]["start"]
        .as_str()
        .unwrap_or_else(|| panic!("no slot: {slots}"))
        .to_string();
    let booked = s
        .post(&format!("/v1/leads/{id}/booking"))
        .admin()
        .json(&json!({ "start": start }))
        .send_async()
        .await
        .expect_status(201)
        .json();
    let written = |what: &'static str, want: String| {
        let h = &h;
        eventually(
            WAIT,
            move || format!("the meeting written back ({what})"),
            move || {
                let want = want.clone();
                async move {
                    h.applied()
                        .into_iter()
                        .find(|w| {
                            w.email == "meet@meeting-co.com"
                                && w.properties.get("leadrouter_meeting") == Some(&want)
                        })
                        .map(|w| w.properties)
                }
            },
        )
    };
    let props = written("booked", start.clone()).await;
    assert!(
        props["leadrouter_reason"].contains("meeting booked"),
        "{props:?}"
    );
    let booking = booked["booking"]["id"]
        .as_str()
        .or(booked["id"].as_str())
        .unwrap_or_else(|| panic!("no booking id in {booked}"))
        .to_string();
    s.post(&format!("/v1/leads/{id}/booking/{booking}/cancel"))
        .admin()
        .json(&json!({}))
        .send_async()
        .await
        .expect_status(200);
    written("cancelled", "cancelled".to_string()).await;
}
