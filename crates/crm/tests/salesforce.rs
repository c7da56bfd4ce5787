//! The Salesforce client against the conformance org (testsupport's `salesforce`): the
//! JWT bearer exchange, session refresh, 200-record batches, per-record errors,
//! `Sforce-Auto-Assign`, Tasks, `Sforce-Limit-Info`, REQUEST_LIMIT_EXCEEDED and a down
//! org, SOQL paging for users, accounts and leads (CRM-1, CRM-2, CRM-3).

use jiff::Timestamp;
use leadrouter_crm::salesforce::{SalesforceClient, SalesforceSettings};
use leadrouter_crm::{CallError, CrmClient, OwnerWrite, RecordOutcome, TaskSpec};
use leadrouter_testsupport::salesforce::{
    OrgConfig, SalesforceOrg, TEST_CLIENT_ID, TEST_PRIVATE_KEY_PEM, TEST_USERNAME,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn settings(org: &SalesforceOrg) -> SalesforceSettings {
    SalesforceSettings {
        login_url: org.uri(),
        instance_url: String::new(),
        client_id: TEST_CLIENT_ID.into(),
        username: TEST_USERNAME.into(),
        private_key_pem: TEST_PRIVATE_KEY_PEM.into(),
        api_version: "62.0".into(),
        external_id_field: "LeadRouter_Id__c".into(),
        task_external_id_field: Some("LeadRouter_Write_Id__c".into()),
        named_account_field: Some("Named_Account__c".into()),
        timeout: Duration::from_secs(10),
    }
}

fn write(i: usize, owner: &str) -> OwnerWrite {
    let mut fields = BTreeMap::new();
    fields.insert("LeadRouter_Tier__c".into(), "A".into());
    OwnerWrite {
        write_id: format!("w-{i}"),
        lead_id: format!("lead-{i}"),
        email: format!("person{i}@acme{i}.com"),
        first_name: Some("Pat".into()),
        last_name: Some(format!("Doe{i}")),
        company: Some(format!("Acme {i}")),
        owner_crm_id: Some(owner.to_string()),
        fields,
        task: None,
        crm_record_id: None,
    }
}

#[tokio::test]
async fn jwt_exchange_and_upsert_with_owner_kept() {
    let org = SalesforceOrg::start(OrgConfig {
        // An active assignment rule that would hand every lead to this user.
        assignment_rule_owner: Some("005RuleOwner00001AAA".into()),
        ..OrgConfig::default()
    })
    .await;
    let rep = org.add_user("rep@corp.com", "Rep One", true);
    let client = SalesforceClient::new(settings(&org)).unwrap();
    let out = client.upsert(&[write(1, &rep)]).await.unwrap();
    let RecordOutcome::Written { crm_id } = &out[0] else {
        panic!("{out:?}")
    };
    let stored = org
        .lead_by_external_id("LeadRouter_Id__c", "lead-1")
        .unwrap();
    assert_eq!(stored["Id"], crm_id.as_str());
    // Sforce-Auto-Assign: FALSE kept the assignment rule from overwriting our owner.
    assert_eq!(stored["OwnerId"], rep.as_str());
    assert_eq!(stored["LeadRouter_Tier__c"], "A");
    assert_eq!(
        client.integration_user().await.unwrap().as_deref(),
        Some(org.integration_user_id.as_str())
    );
    // The same write again updates the same Lead.
    let again = client.upsert(&[write(1, &rep)]).await.unwrap();
    assert_eq!(again, out);
    let c = org.counters();
    assert_eq!(
        (c.leads_created, c.leads_updated, c.token_grants),
        (1, 1, 1)
    );
    assert!(org.duplicate_creates().is_empty());
    // Headroom from Sforce-Limit-Info: two data calls of 100000.
    let h = client.headroom();
    assert_eq!((h.remaining, h.limit), (Some(99_998), Some(100_000)));
}

#[tokio::test]
async fn wrong_key_or_user_is_an_auth_error() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let client = SalesforceClient::new(SalesforceSettings {
        username: "nobody@corp.com".into(),
        ..settings(&org)
    })
    .unwrap();
    let err = client
        .upsert(&[write(1, &org.integration_user_id)])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Auth(m) if m.contains("invalid_grant")),
        "{err}"
    );
    assert!(!err.retryable());
    let other = SalesforceClient::new(SalesforceSettings {
        client_id: "another-app".into(),
        ..settings(&org)
    })
    .unwrap();
    let err = other.users(None, None).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Auth(m) if m.contains("invalid_client_id")),
        "{err}"
    );
    assert_eq!(org.counters().token_refusals, 2);
    assert!(org.records("Lead").is_empty());
    assert!(
        SalesforceClient::new(SalesforceSettings {
            private_key_pem: "not a key".into(),
            ..settings(&org)
        })
        .is_err()
    );
}

#[tokio::test]
async fn an_expired_session_is_renewed_once() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let client = SalesforceClient::new(settings(&org)).unwrap();
    client.users(None, None).await.unwrap();
    org.expire_sessions();
    client.users(None, None).await.unwrap();
    let c = org.counters();
    assert_eq!((c.token_grants, c.unauthorized), (2, 1));
}

#[tokio::test]
async fn batches_of_two_hundred_with_per_record_errors() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let rep = org.add_user("rep@corp.com", "Rep One", true);
    let gone = org.add_user("gone@corp.com", "Gone Rep", false);
    let client = SalesforceClient::new(settings(&org)).unwrap();
    let mut writes: Vec<OwnerWrite> = (0..450).map(|i| write(i, &rep)).collect();
    writes[7].email = "not an email".into();
    writes[300].owner_crm_id = Some(gone.clone());
    writes[301].owner_crm_id = Some("005000000000999AAA".into());
    let out = client.upsert(&writes).await.unwrap();
    assert_eq!(out.len(), 450);
    assert!(
        matches!(&out[7], RecordOutcome::Rejected { reason } if reason.contains("INVALID_EMAIL_ADDRESS")),
        "{:?}",
        out[7]
    );
    assert!(
        matches!(&out[300], RecordOutcome::Rejected { reason } if reason.contains("INACTIVE_OWNER_OR_USER"))
    );
    assert!(
        matches!(&out[301], RecordOutcome::Rejected { reason } if reason.contains("INVALID_CROSS_REFERENCE_KEY"))
    );
    let written = out
        .iter()
        .filter(|o| matches!(o, RecordOutcome::Written { .. }))
        .count();
    assert_eq!(written, 447);
    assert_eq!(org.records("Lead").len(), 447);
    // 450 records → 3 collection calls (200, 200, 50); none over the limit.
    let upserts: Vec<_> = org
        .log()
        .into_iter()
        .filter(|(m, p, _)| m == "PATCH" && p.contains("/composite/sobjects/Lead/"))
        .collect();
    assert_eq!(upserts.len(), 3);
    assert!(upserts.iter().all(|(_, _, s)| *s == 200));
}

#[tokio::test]
async fn tasks_are_upserted_by_write_id() {
    let org = SalesforceOrg::start(OrgConfig::default()).await;
    let rep = org.add_user("rep@corp.com", "Rep One", true);
    let client = SalesforceClient::new(settings(&org)).unwrap();
    let mut w = write(1, &rep);
    w.task = Some(TaskSpec {
        subject: "Call Pat Doe1 (SLA)".into(),
        body: "Tier A, routed by territory".into(),
        due: "2026-12-07T15:30:00Z".parse::<Timestamp>().unwrap(),
    });
    let out = client.upsert(std::slice::from_ref(&w)).await.unwrap();
    let RecordOutcome::Written { crm_id } = &out[0] else {
        panic!("{out:?}")
    };
    client.upsert(&[w]).await.unwrap();
    let tasks = org.records("Task");
    assert_eq!(tasks.len(), 1, "a retry must not create a second task");
    assert_eq!(tasks[0]["WhoId"], crm_id.as_str());
    assert_eq!(tasks[0]["ActivityDate"], "2026-12-07");
    assert_eq!(tasks[0]["OwnerId"], rep.as_str());
    assert_eq!(tasks[0]["LeadRouter_Write_Id__c"], "w-1");
}

#[tokio::test]
async fn limits_and_outages_are_classified_for_retry() {
    let org = SalesforceOrg::start(OrgConfig {
        api_limit: 5,
        ..OrgConfig::default()
    })
    .await;
    let client = SalesforceClient::new(settings(&org)).unwrap();
    org.set_usage(5);
    let err = client
        .upsert(&[write(1, &org.integration_user_id)])
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::RateLimited { .. }), "{err}");
    assert!(err.retryable());
    assert_eq!(client.headroom().remaining, Some(0));
    org.set_usage(0);
    org.set_down(true);
    let err = client.users(None, None).await.unwrap_err();
    assert!(matches!(err, CallError::Unavailable(_)), "{err}");
    assert!(err.retryable());
    org.set_down(false);
    client
        .upsert(&[write(1, &org.integration_user_id)])
        .await
        .unwrap();
    assert_eq!(org.records("Lead").len(), 1);
    assert_eq!(org.counters().rate_limited, 1);
}

#[tokio::test]
async fn users_accounts_and_leads_page_by_modified_time() {
    let org = SalesforceOrg::start(OrgConfig {
        batch_size: 2,
        ..OrgConfig::default()
    })
    .await;
    let a = org.add_user("a@corp.com", "Ann", true);
    org.add_user("b@corp.com", "Bob", false);
    for i in 0..5 {
        org.add_account(
            &format!("Acct {i}"),
            &format!("https://www.acct{i}.com/"),
            &a,
            i % 2 == 0,
        );
    }
    let client = SalesforceClient::new(settings(&org)).unwrap();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let p = client.accounts(None, cursor.as_deref()).await.unwrap();
        pages += 1;
        all.extend(p.items);
        match p.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!((all.len(), pages), (5, 3));
    assert_eq!(all[0].domain.as_deref(), Some("https://www.acct0.com/"));
    assert!(all[0].named && !all[1].named);
    assert_eq!(all[4].owner_crm_id.as_deref(), Some(a.as_str()));
    // Incremental: only what changed at or after the high-water mark.
    let mark = all[4].modified;
    std::thread::sleep(Duration::from_millis(1100));
    org.update(
        "Account",
        &all[2].crm_id,
        &[("OwnerId", json!(org.integration_user_id))],
    );
    let since = client
        .accounts(Some(mark + jiff::SignedDuration::from_secs(1)), None)
        .await
        .unwrap();
    assert_eq!(since.items.len(), 1);
    assert_eq!(since.items[0].crm_id, all[2].crm_id);

    let users = client.users(None, None).await.unwrap();
    let mut got = users.items;
    let mut next = users.next;
    while let Some(n) = next {
        let p = client.users(None, Some(&n)).await.unwrap();
        got.extend(p.items);
        next = p.next;
    }
    assert_eq!(got.len(), 3);
    assert!(got.iter().any(|u| u.email == "b@corp.com" && !u.active));

    // Leads: one made by a rep in Salesforce, one written by us (changed_by_us).
    let theirs = org.add_lead(
        &[
            ("Email", json!("x@ext.com")),
            ("LastName", json!("X")),
            ("Company", json!("Ext")),
        ],
        &a,
    );
    client.upsert(&[write(9, &a)]).await.unwrap();
    let leads = client
        .leads_by_id(std::slice::from_ref(&theirs))
        .await
        .unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].lead["email"], "x@ext.com");
    assert!(!leads[0].changed_by_us);
    let recent = client
        .leads_since(Timestamp::UNIX_EPOCH, None)
        .await
        .unwrap();
    let ours: Vec<_> = recent.items.iter().filter(|l| l.changed_by_us).collect();
    assert_eq!(ours.len(), 1);
    assert!(
        client
            .leads_by_id(&["00Q') OR Name != ('".into()])
            .await
            .is_err()
    );
    // A cursor that is not this org's query resource is refused before any call.
    assert!(
        client
            .users(None, Some("https://evil.example/x"))
            .await
            .is_err()
    );
}
