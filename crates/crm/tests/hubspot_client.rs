//! The HubSpot client against the HubSpot conformance server: batch upsert by email with
//! per-record outcomes, tasks, 429 → RateLimited with headroom, 401 → Auth, owners and
//! companies paging, contacts by id and by modified time.

use jiff::Timestamp;
use leadrouter_crm::hubspot::{HubSpot, HubSpotSettings};
use leadrouter_crm::{CallError, CrmClient, OwnerWrite, RecordOutcome, TaskSpec};
use leadrouter_testsupport::hubspot::{self as hs, Limits};
use std::collections::BTreeMap;
use std::time::Duration;

fn client(uri: &str, token: &str) -> HubSpot {
    HubSpot::new(HubSpotSettings {
        base_url: uri.parse().unwrap(),
        token: token.into(),
        timeout: Duration::from_secs(5),
        named_account_property: Some("named_account".into()),
        lead_id_property: Some("leadrouter_lead_id".into()),
    })
    .unwrap()
}

fn write(n: usize, owner: Option<&str>) -> OwnerWrite {
    OwnerWrite {
        write_id: format!("w{n}"),
        lead_id: format!("lead-{n}"),
        email: format!("person{n}@acme.example"),
        first_name: Some("Pat".into()),
        last_name: Some(format!("N{n}")),
        company: Some("Acme".into()),
        owner_crm_id: owner.map(str::to_string),
        fields: BTreeMap::from([
            ("leadrouter_lead_id".to_string(), format!("lead-{n}")),
            ("leadrouter_tier".to_string(), "A".to_string()),
        ]),
        task: None,
        crm_record_id: None,
    }
}

#[tokio::test]
async fn upsert_batches_by_email_with_per_record_outcomes_and_tasks() {
    let server = hs::HubSpot::start(Limits::private_app_starter()).await;
    server.define_property("leadrouter_lead_id");
    server.define_property("leadrouter_tier");
    server.add_owner("501", "ana@corp.example", "Ana", "Lopez");
    let c = client(&server.uri(), hs::TOKEN);
    assert_eq!(c.max_batch(), 100);
    let mut writes: Vec<OwnerWrite> = (0..150).map(|n| write(n, Some("501"))).collect();
    writes[3].owner_crm_id = Some("999".into()); // no such owner
    writes[7]
        .fields
        .insert("no_such_property".into(), "x".into());
    writes[9].task = Some(TaskSpec {
        subject: "Call Pat".into(),
        body: "Tier A".into(),
        due: Timestamp::from_second(1_900_000_000).unwrap(),
    });
    // The same email again, later in the batch: written after the first.
    let mut again = write(0, Some("501"));
    again.write_id = "w0-again".into();
    again.fields.insert("leadrouter_tier".into(), "B".into());
    writes.push(again);
    let out = c.upsert(&writes).await.unwrap();
    assert_eq!(out.len(), writes.len());
    let rejected: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, RecordOutcome::Rejected { .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(rejected, vec![3, 7], "{out:?}");
    match &out[7] {
        RecordOutcome::Rejected { reason } => {
            assert!(reason.contains("PROPERTY_DOESNT_EXIST"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(server.contacts().len(), 148);
    let p0 = server.contact_by_email("person0@acme.example").unwrap();
    assert_eq!(
        p0.properties["leadrouter_tier"], "B",
        "the later write landed last"
    );
    assert_eq!(p0.properties["hubspot_owner_id"], "501");
    let tasks = server.tasks();
    assert_eq!(tasks.len(), 1);
    let p9 = server.contact_by_email("person9@acme.example").unwrap();
    assert_eq!(tasks[0].contact_ids, vec![p9.id.clone()]);
    assert_eq!(tasks[0].properties["hs_timestamp"], "1900000000000");
    assert_eq!(tasks[0].properties["hubspot_owner_id"], "501");
    // 150 distinct emails → 2 calls, the repeated email → a third; one task call.
    let calls = server.calls();
    assert_eq!(
        calls["POST /crm/v3/objects/contacts/batch/upsert"], 3,
        "{calls:?}"
    );
    let hr = c.headroom();
    assert_eq!(hr.limit, Some(100));
    assert_eq!(hr.remaining, Some(96));
    assert_eq!(hr.resets_in, Some(Duration::from_secs(10)));
    // Idempotent: the same writes again create nothing new.
    let out2 = c.upsert(&writes[..10]).await.unwrap();
    assert_eq!(out2[0], out[0]);
    assert_eq!(server.contacts().len(), 148);
}

#[tokio::test]
async fn rate_limit_and_auth_errors_are_typed() {
    let server = hs::HubSpot::start(Limits {
        per_interval: 1,
        interval: Duration::from_secs(3),
        daily: 100,
    })
    .await;
    server.define_property("leadrouter_lead_id");
    server.define_property("leadrouter_tier");
    let bad = client(&server.uri(), "pat-wrong");
    match bad.upsert(&[write(1, None)]).await {
        Err(CallError::Auth(m)) => assert!(m.contains("INVALID_AUTHENTICATION"), "{m}"),
        r => panic!("{r:?}"),
    }
    let c = client(&server.uri(), hs::TOKEN);
    c.upsert(&[write(1, None)]).await.unwrap();
    match c.upsert(&[write(2, None)]).await {
        Err(CallError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(c.headroom().remaining, Some(0));
    server.set_down(true);
    assert!(matches!(
        c.upsert(&[write(2, None)]).await,
        Err(CallError::Unavailable(_))
    ));
}

#[tokio::test]
async fn owners_companies_and_contacts_are_read_page_by_page() {
    let server = hs::HubSpot::start(Limits::private_app_starter()).await;
    for i in 0..130 {
        server.add_owner(
            &format!("{}", 600 + i),
            &format!("o{i}@corp.example"),
            "O",
            &format!("{i}"),
        );
    }
    let c = client(&server.uri(), hs::TOKEN);
    let mut users = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = c.users(None, cursor.as_deref()).await.unwrap();
        users.extend(p.items);
        match p.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(users.len(), 130);
    assert!(users.iter().all(|u| u.active));
    for i in 0..150 {
        server.add_company(&format!("Co {i}"), &format!("co{i}.example"), Some("600"));
    }
    let mut accounts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = c.accounts(None, cursor.as_deref()).await.unwrap();
        accounts.extend(p.items);
        match p.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(accounts.len(), 150);
    assert_eq!(accounts[0].owner_crm_id.as_deref(), Some("600"));
    let id = server.create_contact(&[
        ("email", "form@lead.example"),
        ("firstname", "Fo"),
        ("company", "Lead Co"),
    ]);
    let mine =
        server.create_contact(&[("email", "ours@lead.example"), ("leadrouter_lead_id", "x")]);
    let got = c.leads_by_id(&[id.clone(), mine.clone()]).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].lead["email"], "form@lead.example");
    assert_eq!(got[0].lead["first_name"], "Fo");
    assert!(!got[0].changed_by_us);
    assert!(got[1].changed_by_us);
    let since = c
        .leads_since(Timestamp::now() - jiff::SignedDuration::from_mins(1), None)
        .await
        .unwrap();
    assert_eq!(since.items.len(), 2);
}
