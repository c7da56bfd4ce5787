//! CRM-2 and CRM-3 with Salesforce, end to end: the real `leadrouter serve` against the
//! Salesforce conformance org (testsupport's `salesforce`). Outbound Messages of 100
//! notifications are routed once each and acknowledged only after commit (a redelivery
//! adds nothing); our own write-back echoed back is acknowledged and not routed; after a
//! sync, a changed account owner in the CRM decides the next lead from that domain, and
//! a deactivated CRM user shows as an inactive rep with their accounts flagged.

mod support;

use leadrouter_crm::salesforce::{SalesforceClient, SalesforceSettings};
use leadrouter_crm::{CrmClient, OwnerWrite};
use leadrouter_testsupport::salesforce::{
    OrgConfig, SalesforceOrg, TEST_CLIENT_ID, TEST_PRIVATE_KEY_PEM, TEST_USERNAME,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use support::*;

const LEAD_FIELDS: &[&str] = &[
    "Email",
    "FirstName",
    "LastName",
    "Company",
    "LastModifiedById",
    "LeadRouter_Id__c",
];

/// The config of these tests with a `[crm]` table for the org: `provider =
/// "salesforce"`, the JWT bearer flow's inputs named by environment variable, syncs on
/// demand (a day between scheduled ones), `extra` more `[crm]` keys. In `dir`.
fn crm_config(dir: &tempfile::TempDir, org: &SalesforceOrg, extra: &str) -> PathBuf {
    let base = std::fs::read_to_string(fixture("crm.toml")).unwrap();
    let text = format!(
        "{base}\n[crm]\nprovider = \"salesforce\"\nbase_url = \"{}\"\nsync_every = \"24h\"\nnamed_account_property = \"Named_Account__c\"\n{extra}\n[crm.salesforce]\nclient_id_env = \"TEST_SF_CLIENT_ID\"\nusername_env = \"TEST_SF_USERNAME\"\nprivate_key_env = \"TEST_SF_PRIVATE_KEY\"\norganization_id = \"{}\"\n",
        org.uri(),
        org.config.org_id
    );
    let path = dir.path().join("leadrouter.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const SF_ENV: [(&str, &str); 3] = [
    ("TEST_SF_CLIENT_ID", TEST_CLIENT_ID),
    ("TEST_SF_USERNAME", TEST_USERNAME),
    ("TEST_SF_PRIVATE_KEY", TEST_PRIVATE_KEY_PEM),
];

/// `serve` for the outbound-message tests (no `[crm]`: nothing is written back).
async fn start(org: &SalesforceOrg) -> Server {
    let opts = serve(fixture("crm.toml"))
        .env("LEADROUTER_SALESFORCE_ORG_ID", org.config.org_id.clone())
        .env(
            "LEADROUTER_SALESFORCE_INTEGRATION_USER_ID",
            org.integration_user_id.clone(),
        )
        .env("LEADROUTER_SALESFORCE_OUTBOUND_TOKEN", "sf-outbound-token");
    Server::start_async(opts).await
}

/// `serve` with `[crm] provider = "salesforce"` against `org` (write-back and sync).
async fn start_crm(org: &SalesforceOrg, clock: Clock, extra: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = crm_config(&dir, org, extra);
    let mut opts = serve(&cfg)
        .clock(clock)
        .env("LEADROUTER_SALESFORCE_ORG_ID", org.config.org_id.clone())
        .env(
            "LEADROUTER_SALESFORCE_INTEGRATION_USER_ID",
            org.integration_user_id.clone(),
        )
        .env("LEADROUTER_SALESFORCE_OUTBOUND_TOKEN", "sf-outbound-token");
    for (k, v) in SF_ENV {
        opts = opts.env(k, v);
    }
    (Server::start_async(opts).await, dir)
}

async fn post_outbound<'a>(
    srv: &'a Server,
    body: &str,
    token: &str,
) -> leadrouter_testsupport::Resp<'a> {
    srv.post(&format!("/v1/crm/salesforce/outbound?token={token}"))
        .body("text/xml; charset=utf-8", body.to_string())
        .send_async()
        .await
}

/// Rows of `table` (`leads`, `decisions`) in the server's database.
async fn count_rows(srv: &Server, table: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(srv.database_url())
        .await
        .expect("open the database");
    let sql = match table {
        "leads" => "SELECT COUNT(*) FROM leads",
        "decisions" => "SELECT COUNT(*) FROM decisions",
        other => panic!("no count for {other}"),
    };
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(&pool)
        .await
        .expect("count rows");
    pool.close().await;
    n
}

async fn lead_count(srv: &Server) -> i64 {
    let pool = sqlx::SqlitePool::connect(srv.database_url())
        .await
        .expect("open the database");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM leads")
        .fetch_one(&pool)
        .await
        .expect("count leads");
    pool.close().await;
    n
}

fn rep_lead(i: usize) -> Vec<(&'static str, Value)> {
    vec![
        ("Email", json!(format!("buyer{i}@prospect{i}.com"))),
        ("FirstName", json!("Pat")),
        ("LastName", json!(format!("Buyer{i}"))),
        ("Company", json!(format!("Prospect {i}"))),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_2_hundred_notifications_routed_once_and_acked_after_commit() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let rep = org.add_user("web@corp.test", "Web To Lead", true);
    let ids: Vec<String> = (0..100).map(|i| org.add_lead(&rep_lead(i), &rep)).collect();
    let envelope = org.lead_notifications(&ids, LEAD_FIELDS);
    let srv = start(&org).await;

    // Authentication before the body, then the organisation.
    post_outbound(&srv, &envelope, "wrong")
        .await
        .expect_status(401);
    let other_org = envelope.replace(&org.config.org_id, "00D5g000004Other1");
    let r = post_outbound(&srv, &other_org, "sf-outbound-token")
        .await
        .expect_status(403);
    r.check(r.text.contains("soapenv:Fault"), "a SOAP fault");
    assert_eq!(lead_count(&srv).await, 0);

    let r = post_outbound(&srv, &envelope, "sf-outbound-token")
        .await
        .expect_status(200);
    r.check(r.text.contains("<Ack>true</Ack>"), "the Ack");
    // The Ack came after the commit: every lead is stored by the time it arrives.
    assert_eq!(lead_count(&srv).await, 100);

    // Salesforce redelivers (it may, even after an Ack): nothing is routed twice.
    let r = post_outbound(&srv, &envelope, "sf-outbound-token")
        .await
        .expect_status(200);
    r.check(r.text.contains("<Ack>true</Ack>"), "the Ack");
    assert_eq!(lead_count(&srv).await, 100);

    // A body that is not an Outbound Message is a fault; nothing is stored.
    let r = post_outbound(&srv, "<a>b</a>", "sf-outbound-token")
        .await
        .expect_status(500);
    r.check(r.text.contains("soapenv:Client"), "a client fault");
    assert_eq!(lead_count(&srv).await, 100);

    // No [crm]: there is nothing to sync.
    srv.post("/v1/crm/sync")
        .admin()
        .send_async()
        .await
        .expect_status(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_2_our_write_back_echoed_back_is_not_routed() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let rep = org.add_user("cy@crm-test.example", "Cy Pool", true);
    // Our write-back, made through the client as the integration user.
    let client = SalesforceClient::new(SalesforceSettings {
        login_url: org.uri(),
        instance_url: String::new(),
        client_id: TEST_CLIENT_ID.into(),
        username: TEST_USERNAME.into(),
        private_key_pem: TEST_PRIVATE_KEY_PEM.into(),
        api_version: "62.0".into(),
        external_id_field: "LeadRouter_Id__c".into(),
        task_external_id_field: None,
        named_account_field: None,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    client
        .upsert(&[OwnerWrite {
            write_id: "w1".into(),
            lead_id: "lead-abc".into(),
            email: "echo@prospect.com".into(),
            first_name: Some("Echo".into()),
            last_name: Some("Back".into()),
            company: Some("Prospect".into()),
            owner_crm_id: Some(rep.clone()),
            fields: BTreeMap::new(),
            task: None,
            crm_record_id: None,
        }])
        .await
        .unwrap();
    let ours = org
        .lead_by_external_id("LeadRouter_Id__c", "lead-abc")
        .unwrap();
    let ours_id = ours["Id"].as_str().unwrap().to_string();
    // And a rep's new lead in the same message, which must be routed.
    let theirs = org.add_lead(&rep_lead(1), &rep);
    let srv = start(&org).await;
    let envelope = org.lead_notifications(&[ours_id.clone(), theirs], LEAD_FIELDS);
    let r = post_outbound(&srv, &envelope, "sf-outbound-token")
        .await
        .expect_status(200);
    r.check(r.text.contains("<Ack>true</Ack>"), "the Ack");
    assert_eq!(lead_count(&srv).await, 1, "only the rep's lead is routed");
    // Last modified by the integration user alone (no external id sent) also counts.
    let by_us_only = org.lead_notifications(
        &[ours_id],
        &["Email", "LastName", "Company", "LastModifiedById"],
    );
    post_outbound(&srv, &by_us_only, "sf-outbound-token")
        .await
        .expect_status(200);
    assert_eq!(lead_count(&srv).await, 1);
}

/// Wait until the pull made at start has stored its accounts' position.
async fn first_sync_done(srv: &Server) {
    let url = srv.database_url().to_string();
    leadrouter_testsupport::eventually(
        Duration::from_secs(60),
        || "the first CRM sync at start".into(),
        || {
            let url = url.clone();
            async move {
                let pool = sqlx::SqlitePool::connect(&url).await.ok()?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM crm_sync_state WHERE provider = 'salesforce' AND kind = 'accounts' AND cursor IS NULL AND last_error IS NULL",
                )
                .fetch_one(&pool)
                .await
                .ok()?;
                pool.close().await;
                (n == 1).then_some(())
            }
        },
    )
    .await;
}

async fn sync(srv: &Server) -> Value {
    srv.post("/v1/crm/sync")
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json()
}

async fn route_from(srv: &Server, email: &str) -> Value {
    srv.post("/v1/leads")
        .intake()
        .json(&json!({ "email": email, "first_name": "Lee", "last_name": "Buyer", "company": "Initech", "employees": "500", "industry": "software" }))
        .send_async()
        .await
        .expect_status(201)
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_3_account_owner_change_takes_effect_for_the_next_lead() {
    let org = SalesforceOrg::start(OrgConfig {
        batch_size: 2,
        ..OrgConfig::default()
    })
    .await;
    let ann = org.add_user("ann@crm-test.example", "Ann Account", true);
    let bob = org.add_user("bob@crm-test.example", "Bob Account", true);
    let stranger = org.add_user("stranger@crm-test.example", "Not A Rep", true);
    // Made in the past, ten seconds apart (the incremental read's high-water mark is
    // compared by the second, as SOQL datetimes are).
    let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
    org.set_now(at("2026-01-05T09:00:00Z"));
    let initech = org.add_account("Initech", "https://www.initech.com/", &ann, true);
    org.set_now(at("2026-01-05T09:00:10Z"));
    org.add_account("Globex (CRM)", "globex.com", &bob, false);
    org.set_now(at("2026-01-05T09:00:20Z"));
    org.add_account("Umbrella", "umbrella.com", &stranger, false);
    org.set_now(None);
    let (srv, dir) = start_crm(&org, Clock::Real, "task = false").await;
    // The first pull runs at start; wait for it, so the counts below are this test's.
    first_sync_done(&srv).await;

    let report = sync(&srv).await;
    assert_eq!(report["provider"], "salesforce", "{report:#}");
    assert_eq!(report["overlay_accounts"], 3, "{report:#}");
    assert!(report["complete"].as_bool().unwrap(), "{report:#}");
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("account_owner_not_rep") && findings.contains(&stranger),
        "{report:#}"
    );

    let d = route_from(&srv, "lee@initech.com").await;
    assert_eq!(owner_of(&d).as_deref(), Some("ann"), "{d:#}");
    // The CRM wins over the config's account for the same domain (default precedence).
    let d = route_from(&srv, "lee@globex.com").await;
    assert_eq!(owner_of(&d).as_deref(), Some("bob"), "{d:#}");

    // The owner changes in Salesforce; after the next sync the next lead follows it,
    // without a config reload.
    org.update("Account", &initech, &[("OwnerId", json!(bob))]);
    let report = sync(&srv).await;
    assert_eq!(
        report["accounts"], 2,
        "only the changed account and the one in the high-water mark's second are read again: {report:#}"
    );
    let d = route_from(&srv, "kim@initech.com").await;
    assert_eq!(owner_of(&d).as_deref(), Some("bob"), "{d:#}");
    let id = d["lead_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no lead_id: {d:#}"));
    let lead = srv
        .get(&format!("/v1/leads/{id}"))
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json();
    let trace = lead.to_string();
    assert!(
        trace.contains("salesforce account"),
        "the trace names the source: {lead:#}"
    );

    // Bob is deactivated in Salesforce: an inactive rep, his accounts flagged and routed on.
    org.set_user_active(&bob, false);
    let report = sync(&srv).await;
    assert_eq!(report["inactive_reps"], json!(["bob"]), "{report:#}");
    assert!(
        report["findings"]
            .to_string()
            .contains("accounts_of_inactive_user"),
        "{report:#}"
    );
    let d = route_from(&srv, "max@initech.com").await;
    assert_eq!(owner_of(&d).as_deref(), Some("cy"), "{d:#}");
    assert!(d.to_string().contains("account_owner_inactive"), "{d:#}");

    // Each on-demand sync is in the audit log, with what it did.
    let audit = srv
        .get("/v1/audit?action=crm.sync&limit=10")
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "three on-demand syncs: {audit:#}");
    assert!(
        entries[0]["detail"].to_string().contains("salesforce"),
        "{audit:#}"
    );

    // `leadrouter check --database` reports the same from the synced rows.
    let config = dir.path().join("leadrouter.toml");
    let args = [
        "check",
        config.to_str().unwrap(),
        "--json",
        "--database",
        srv.database_url(),
    ];
    let check = |args: &[&str]| {
        tokio::task::block_in_place(|| {
            leadrouter_testsupport::Cli::run_in(support::binary(), args, &SF_ENV, None)
        })
    };
    let out = check(&args).expect_code(0);
    let v: Value = serde_json::from_str(&out.stdout).expect("check --json prints JSON");
    let crm = v["crm_findings"].to_string();
    out.check(
        crm.contains("rep_crm_user_inactive") && crm.contains("\"bob\""),
        "bob is inactive in the CRM",
    );
    out.check(
        crm.contains("account_owner_not_rep") && crm.contains(&stranger),
        "the stranger owns an account",
    );
    // --strict fails on them.
    let strict = [
        "check",
        config.to_str().unwrap(),
        "--strict",
        "--database",
        srv.database_url(),
    ];
    check(&strict).expect_code(1);
}

const WAIT: Duration = Duration::from_secs(60);

async fn submit(srv: &Server, n: usize) -> String {
    let d = srv
        .post("/v1/leads")
        .intake()
        .json(&json!({
            "email": format!("buyer{n}@customer{n}.com"),
            "first_name": "Pat",
            "last_name": format!("Buyer{n}"),
            "company": format!("Customer {n}"),
            "employees": "500",
            "industry": "software",
        }))
        .send_async()
        .await
        .expect_status(201)
        .json();
    d["lead_id"].as_str().unwrap().to_string()
}

async fn advance(srv: &Server, by: &str) {
    srv.post("/v1/admin/clock")
        .admin()
        .json(&json!({ "advance": by }))
        .send_async()
        .await
        .expect_status(200);
}

/// Wait until every lead of `ids` is in the org (by our external id); the Leads.
async fn all_in_org(
    org: &SalesforceOrg,
    ids: &[String],
) -> Vec<leadrouter_testsupport::salesforce::Record> {
    leadrouter_testsupport::eventually(
        WAIT,
        || {
            format!(
                "all {} leads in the org; counters {:?}; calls {:?}",
                ids.len(),
                org.counters(),
                org.log()
            )
        },
        || {
            let got: Vec<_> = ids
                .iter()
                .filter_map(|id| org.lead_by_external_id("LeadRouter_Id__c", id))
                .collect();
            let n = ids.len();
            async move { (got.len() == n).then_some(got) }
        },
    )
    .await
}

/// CRM-1 with Salesforce through the real worker: each routed lead is upserted by the
/// external id with the owner's User Id and the mapped fields, with `Sforce-Auto-Assign:
/// FALSE` (the org has an active assignment rule that would otherwise take the lead);
/// then the org's daily API limit is spent (`REQUEST_LIMIT_EXCEEDED`) while a storm of
/// leads comes in: once the limit is lifted every lead lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_1_write_back_upserts_each_lead_once_through_a_rate_limit_storm() {
    // The org's active assignment rule gives every lead to a queue when it runs.
    let queue_user = "00G5g000001RuleQueue".to_string();
    let org = SalesforceOrg::start(OrgConfig {
        assignment_rule_owner: Some(queue_user.clone()),
        ..OrgConfig::default()
    })
    .await;
    let ann = org.add_user("ann@crm-test.example", "Ann Account", true);
    org.add_user("bob@crm-test.example", "Bob Account", true);
    let cy = org.add_user("cy@crm-test.example", "Cy Pool", true);
    let (srv, _dir) = start_crm(&org, Clock::Real, "task = false").await;

    let first = submit(&srv, 0).await;
    let lead = &all_in_org(&org, std::slice::from_ref(&first)).await[0];
    assert_eq!(
        lead["OwnerId"],
        json!(cy),
        "our owner, not the assignment rule's: {lead:#?}"
    );
    assert_eq!(lead["Email"], "buyer0@customer0.com");
    assert_eq!(lead["LastName"], "Buyer0");
    assert_eq!(lead["Company"], "Customer 0");
    assert!(
        lead["LeadRouter_Reason__c"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "the mapped reason: {lead:#?}"
    );
    assert!(lead["LeadRouter_Tier__c"].is_string(), "{lead:#?}");
    assert!(
        lead["LeadRouter_Console_URL__c"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/console/leads/{first}"))),
        "the console link: {lead:#?}"
    );

    // The storm: the org's API allowance is spent while leads keep coming.
    org.set_usage(org.config.api_limit);
    let mut ids = vec![first.clone()];
    for n in 1..=120 {
        ids.push(submit(&srv, n).await);
    }
    let reassigned = ids[5].clone();
    srv.post(&format!("/v1/leads/{reassigned}/reassign"))
        .admin()
        .json(&json!({ "rep": "ann", "note": "the account's owner" }))
        .send_async()
        .await
        .expect_status(200);
    leadrouter_testsupport::eventually(
        WAIT,
        || format!("refused for the limit; {:?}", org.counters()),
        || {
            let n = org.counters().rate_limited;
            async move { (n >= 2).then_some(()) }
        },
    )
    .await;
    assert_eq!(
        org.records("Lead").len(),
        1,
        "nothing lands while the limit is spent"
    );
    org.set_usage(0);
    let leads = all_in_org(&org, &ids).await;
    // The reassignment is a later write for the same lead: it lands after the first.
    leadrouter_testsupport::eventually(
        WAIT,
        || "the reassignment written".into(),
        || {
            let owner = org
                .lead_by_external_id("LeadRouter_Id__c", &reassigned)
                .and_then(|l| l.get("OwnerId").cloned());
            let ann = ann.clone();
            async move { (owner == Some(json!(ann))).then_some(()) }
        },
    )
    .await;
    assert_eq!(org.records("Lead").len(), ids.len(), "one Lead per lead");
    assert!(
        org.duplicate_creates().is_empty(),
        "{:?}",
        org.duplicate_creates()
    );
    let c = org.counters();
    assert_eq!(c.leads_created, ids.len() as u64, "{c:?}");
    assert_eq!(
        c.leads_updated, 1,
        "only the reassignment updates a Lead: {c:?}"
    );
    assert!(c.rate_limited > 0, "{c:?}");
    for l in &leads {
        assert_ne!(l["OwnerId"], json!(queue_user), "{l:#?}");
    }
    let m = srv
        .get("/metrics")
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .text;
    assert!(
        m.contains("leadrouter_crm_calls_total{outcome=\"rate_limited\"}"),
        "{m}"
    );
}

/// CRM-1 with Salesforce: the org down for ten minutes of test clock. Routing goes on,
/// nothing is written meanwhile; when it is back every lead lands once, and a lead's
/// manual reassignment lands after its routing (its owner in Salesforce is the new one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_1_org_down_for_ten_minutes_then_caught_up_in_order() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let ann = org.add_user("ann@crm-test.example", "Ann Account", true);
    org.add_user("bob@crm-test.example", "Bob Account", true);
    let cy = org.add_user("cy@crm-test.example", "Cy Pool", true);
    let (srv, _dir) = start_crm(&org, Clock::Test, "task = false").await;
    // The users are read at start (owners by email); then the org goes down.
    first_sync_done(&srv).await;
    org.set_down(true);
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(submit(&srv, n).await);
    }
    srv.post(&format!("/v1/leads/{}/reassign", ids[0]))
        .admin()
        .json(&json!({ "rep": "ann", "note": "account owner asked" }))
        .send_async()
        .await
        .expect_status(200);
    for _ in 0..10 {
        advance(&srv, "1m").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(org.records("Lead").is_empty(), "nothing written while down");
    assert!(org.counters().unavailable > 0, "{:?}", org.counters());
    org.set_down(false);
    // The longest backoff is five minutes.
    advance(&srv, "6m").await;
    let leads = all_in_org(&org, &ids).await;
    leadrouter_testsupport::eventually(
        WAIT,
        || format!("the reassignment written; {:?}", org.counters()),
        || {
            let n = org.counters().leads_updated;
            async move { (n >= 1).then_some(()) }
        },
    )
    .await;
    let first = org
        .lead_by_external_id("LeadRouter_Id__c", &ids[0])
        .unwrap();
    assert_eq!(
        first["OwnerId"],
        json!(ann),
        "the reassignment lands last: {first:#?}"
    );
    for l in &leads[1..] {
        assert_eq!(l["OwnerId"], json!(cy), "{l:#?}");
    }
    let c = org.counters();
    assert_eq!(c.leads_created, 20, "{c:?}");
    assert_eq!(
        c.leads_updated, 1,
        "20 decisions and one reassignment, each once: {c:?}"
    );
    assert!(org.duplicate_creates().is_empty());
}

/// CRM-1 + CRM-2 with Salesforce: a Lead a rep created in Salesforce arrives as an
/// Outbound Message, is routed, and its owner is written back to that same Lead (updated
/// by its Id, given our external id in the field `[crm.fields] lead_id` names): no
/// second Lead. Our update echoed back as another Outbound Message is not routed again:
/// it carries that field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_1_a_lead_from_salesforce_is_written_back_to_the_same_record() {
    // The admin chose their own external-id field for leadrouter's lead id.
    let mut config = OrgConfig {
        assignment_rule_owner: Some("00G5g000001RuleQueue".into()),
        ..OrgConfig::default()
    };
    config
        .custom_fields
        .push(("Lead".into(), "LR_Lead__c".into()));
    let org = SalesforceOrg::start(config).await;
    let web = org.add_user("web@corp.test", "Web To Lead", true);
    org.add_user("ann@crm-test.example", "Ann Account", true);
    let cy = org.add_user("cy@crm-test.example", "Cy Pool", true);
    let mut fields = rep_lead(7);
    fields.push(("NumberOfEmployees", json!(500)));
    fields.push(("Industry", json!("Software")));
    let sf_id = org.add_lead(&fields, &web);
    let (srv, _dir) = start_crm(
        &org,
        Clock::Real,
        "task = false\n[crm.fields]\nlead_id = \"LR_Lead__c\"",
    )
    .await;
    let with_size = [LEAD_FIELDS, &["NumberOfEmployees", "Industry"]].concat();
    let envelope = org.lead_notifications(std::slice::from_ref(&sf_id), &with_size);
    let r = post_outbound(&srv, &envelope, "sf-outbound-token")
        .await
        .expect_status(200);
    r.check(r.text.contains("<Ack>true</Ack>"), "the Ack");
    assert_eq!(lead_count(&srv).await, 1);
    let lead = leadrouter_testsupport::eventually(
        WAIT,
        || format!("the Lead updated; {:?}; {:?}", org.counters(), org.log()),
        || {
            let l = org
                .records("Lead")
                .into_iter()
                .find(|l| l["Id"] == json!(sf_id) && l.contains_key("LR_Lead__c"));
            async move { l }
        },
    )
    .await;
    assert_eq!(lead.get("OwnerId"), Some(&json!(cy)), "{lead:#?}");
    assert_eq!(lead["LastName"], "Buyer7", "its own name kept: {lead:#?}");
    assert!(lead["LeadRouter_Reason__c"].is_string(), "{lead:#?}");
    assert_eq!(org.records("Lead").len(), 1, "no second Lead");
    assert_eq!(org.counters().leads_created, 0);
    let decisions = count_rows(&srv, "decisions").await;
    // Our update triggers the Outbound Message again: acknowledged, not routed. The
    // message carries our external id (the configured field) but not who modified it.
    let echo = org.lead_notifications(
        std::slice::from_ref(&sf_id),
        &["Email", "LastName", "Company", "LR_Lead__c"],
    );
    post_outbound(&srv, &echo, "sf-outbound-token")
        .await
        .expect_status(200);
    assert_eq!(lead_count(&srv).await, 1);
    assert_eq!(
        count_rows(&srv, "decisions").await,
        decisions,
        "not routed again (not even as a resubmission)"
    );
}
