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

async fn start(org: &SalesforceOrg, with_sync: bool) -> Server {
    let mut opts = serve(fixture("crm.toml"))
        .env("LEADROUTER_SALESFORCE_ORG_ID", org.config.org_id.clone())
        .env(
            "LEADROUTER_SALESFORCE_INTEGRATION_USER_ID",
            org.integration_user_id.clone(),
        )
        .env("LEADROUTER_SALESFORCE_OUTBOUND_TOKEN", "sf-outbound-token");
    if with_sync {
        opts = opts
            .env("LEADROUTER_SALESFORCE_CLIENT_ID", TEST_CLIENT_ID)
            .env("LEADROUTER_SALESFORCE_USERNAME", TEST_USERNAME)
            .env("LEADROUTER_SALESFORCE_PRIVATE_KEY", TEST_PRIVATE_KEY_PEM)
            .env("LEADROUTER_SALESFORCE_LOGIN_URL", org.uri())
            .env(
                "LEADROUTER_SALESFORCE_NAMED_ACCOUNT_FIELD",
                "Named_Account__c",
            )
            .env("LEADROUTER_CRM_SYNC_INTERVAL_SECS", "0");
    }
    Server::start_async(opts).await
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
    let srv = start(&org, false).await;

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
        }])
        .await
        .unwrap();
    let ours = org
        .lead_by_external_id("LeadRouter_Id__c", "lead-abc")
        .unwrap();
    let ours_id = ours["Id"].as_str().unwrap().to_string();
    // And a rep's new lead in the same message, which must be routed.
    let theirs = org.add_lead(&rep_lead(1), &rep);
    let srv = start(&org, false).await;
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
    let srv = start(&org, true).await;

    let report = sync(&srv).await;
    assert_eq!(report["accounts"], 3, "{report:#}");
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

    // `leadrouter check --database` reports the same from the synced rows.
    let config = fixture("crm.toml");
    let args = [
        "check",
        config.to_str().unwrap(),
        "--json",
        "--database",
        srv.database_url(),
    ];
    let out = tokio::task::block_in_place(|| cli(&args).expect_code(0));
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
    tokio::task::block_in_place(|| cli(&strict).expect_code(1));
}
