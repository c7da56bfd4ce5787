//! A Salesforce org for tests: the conformance server of the REST API subset leadrouter
//! calls, built from Salesforce's published documentation (REST API Developer Guide,
//! API v62.0; OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration; Outbound
//! Messaging in the SOAP API guide). It is one of the project's only fakes (docs/crm.md).
//!
//! What it enforces, as the docs describe it:
//! - `POST /services/oauth2/token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`:
//!   the RS256 assertion is verified against the connected app's certificate (public
//!   key); `iss` = the consumer key, `sub` = a known username, `aud` = the login URL,
//!   `exp` in the future and at most 3 minutes ahead. Errors are
//!   `{"error":"invalid_grant","error_description":…}` with 400.
//! - Data calls need `Authorization: Bearer <token>`; otherwise 401
//!   `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`.
//! - Every data answer carries `Sforce-Limit-Info: api-usage=N/M`; past the limit, 403
//!   `REQUEST_LIMIT_EXCEEDED`.
//! - `PATCH /services/data/vXX.X/composite/sobjects/{Lead|Task}/{ExternalIdField}`:
//!   upsert ≤ 200 records (else 400 `EXCEEDED_ID_LIMIT`), `allOrNone` (default false),
//!   one UpsertResult per record in order (`id`, `success`, `errors[]`, `created`).
//!   Lead assignment rules run unless `Sforce-Auto-Assign: FALSE`.
//! - `PATCH /services/data/vXX.X/composite/sobjects`: update ≤ 200 Leads by record
//!   `id`, one SaveResult each (`ENTITY_IS_DELETED` for an unknown id), the same field,
//!   owner and assignment-rule checks.
//! - `GET /services/data/vXX.X/query?q=SOQL` (User, Account, Lead; `WHERE
//!   LastModifiedDate >= …`, `Id IN (…)`; `ORDER BY`), pages of `batch_size` records
//!   linked by `nextRecordsUrl` (`/services/data/vXX.X/query/{locator}`).
//! - A down switch (503) and counters to assert that every record was stored once.
//!
//! [`outbound_message`] builds an Outbound Message SOAP envelope (`notifications`) as
//! Salesforce sends it.

mod outbound;
mod rest;
mod soql;

pub use outbound::{OutboundNotification, outbound_message};

use crate::lock;
use jiff::Timestamp;
use rest::Handler;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer};

/// The connected app's private key (PKCS#8 PEM), generated for these tests only.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("salesforce/test_key.pem");
/// The certificate's public key the org verifies JWT assertions with.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("salesforce/test_key.pub.pem");
/// The consumer key of the test connected app.
pub const TEST_CLIENT_ID: &str = "3MVG9leadrouterTestConsumerKey";
/// The integration user's username (the JWT `sub`).
pub const TEST_USERNAME: &str = "integration@leadrouter.test";

/// The org's documented per-call record limit for sObject Collections.
pub const MAX_COLLECTION_RECORDS: usize = 200;

/// How the org is set up.
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub org_id: String,
    pub api_version: String,
    pub client_id: String,
    pub public_key_pem: String,
    /// API requests allowed in the rolling 24 hours (`Sforce-Limit-Info` denominator).
    pub api_limit: u64,
    /// Records per query page (Salesforce's default is 2000; tests use small pages).
    pub batch_size: usize,
    /// Custom fields that exist, by object (`("Lead", "LeadRouter_Id__c")`). The
    /// external-id fields must be listed here.
    pub custom_fields: Vec<(String, String)>,
    /// The owner an active Lead assignment rule gives a lead (when auto-assign runs).
    pub assignment_rule_owner: Option<String>,
    /// How long an access token stays valid.
    pub session_seconds: i64,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            org_id: "00D5g000004LeadRtr".into(),
            api_version: "62.0".into(),
            client_id: TEST_CLIENT_ID.into(),
            public_key_pem: TEST_PUBLIC_KEY_PEM.into(),
            api_limit: 100_000,
            batch_size: 2000,
            custom_fields: vec![
                ("Lead".into(), "LeadRouter_Id__c".into()),
                ("Lead".into(), "LeadRouter_Reason__c".into()),
                ("Lead".into(), "LeadRouter_Tier__c".into()),
                ("Lead".into(), "LeadRouter_Segment__c".into()),
                ("Lead".into(), "LeadRouter_Score__c".into()),
                ("Lead".into(), "LeadRouter_Console_URL__c".into()),
                ("Task".into(), "LeadRouter_Write_Id__c".into()),
                ("Account".into(), "Named_Account__c".into()),
            ],
            assignment_rule_owner: None,
            session_seconds: 7200,
        }
    }
}

/// What the org counted, for assertions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub token_grants: u64,
    pub token_refusals: u64,
    /// Data calls answered (any status).
    pub data_calls: u64,
    pub leads_created: u64,
    pub leads_updated: u64,
    pub tasks_created: u64,
    pub tasks_updated: u64,
    pub unauthorized: u64,
    pub rate_limited: u64,
    pub unavailable: u64,
}

/// One stored record: its fields by API name.
pub type Record = Map<String, Value>;

#[derive(Default)]
struct OrgState {
    tokens: HashMap<String, Timestamp>,
    records: BTreeMap<String, Vec<Record>>,
    usage: u64,
    down: bool,
    counters: Counters,
    cursors: HashMap<String, Vec<Record>>,
    next_id: u64,
    /// The clock for LastModifiedDate: real time unless set; strictly increasing.
    now: Option<Timestamp>,
    last_stamp: Option<Timestamp>,
    /// (external id) → how many times that Lead was created (must stay ≤ 1).
    created_by_ext: HashMap<String, u64>,
    log: Vec<(String, String, u16)>,
}

/// A running test org.
pub struct SalesforceOrg {
    server: MockServer,
    state: Arc<Mutex<OrgState>>,
    pub config: OrgConfig,
    /// The integration user's Id (the JWT `sub`'s user).
    pub integration_user_id: String,
}

impl SalesforceOrg {
    /// Start an org with the integration user [`TEST_USERNAME`] already in it.
    pub async fn start(config: OrgConfig) -> SalesforceOrg {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(OrgState::default()));
        let handler = Handler {
            state: state.clone(),
            config: config.clone(),
            base: server.uri(),
        };
        Mock::given(wiremock::matchers::any())
            .respond_with(handler)
            .mount(&server)
            .await;
        let mut org = SalesforceOrg {
            server,
            state,
            config,
            integration_user_id: String::new(),
        };
        org.integration_user_id = org.add_user(TEST_USERNAME, "LeadRouter Integration", true);
        org
    }

    /// The instance (and login) URL.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Add a User; its Id.
    pub fn add_user(&self, email: &str, name: &str, active: bool) -> String {
        let mut st = lock(&self.state);
        let id = st.new_id("005");
        let now = st.stamp();
        let mut r = Record::new();
        r.insert("Id".into(), json!(id));
        r.insert("Username".into(), json!(email));
        r.insert("Email".into(), json!(email));
        r.insert("Name".into(), json!(name));
        r.insert("IsActive".into(), json!(active));
        r.insert("LastModifiedDate".into(), json!(sf_datetime(now)));
        r.insert("LastModifiedById".into(), json!(id));
        st.records.entry("User".into()).or_default().push(r);
        id
    }

    /// Change a User's IsActive (as an admin, not the integration user).
    pub fn set_user_active(&self, id: &str, active: bool) {
        self.update("User", id, &[("IsActive", json!(active))]);
    }

    /// Add an Account; its Id.
    pub fn add_account(&self, name: &str, website: &str, owner: &str, named: bool) -> String {
        let mut st = lock(&self.state);
        let id = st.new_id("001");
        let now = st.stamp();
        let mut r = Record::new();
        r.insert("Id".into(), json!(id));
        r.insert("Name".into(), json!(name));
        r.insert("Website".into(), json!(website));
        r.insert("OwnerId".into(), json!(owner));
        r.insert("Named_Account__c".into(), json!(named));
        r.insert("LastModifiedDate".into(), json!(sf_datetime(now)));
        r.insert("LastModifiedById".into(), json!("005AdminUser000001"));
        st.records.entry("Account".into()).or_default().push(r);
        id
    }

    /// Change a record's fields as an admin would in the UI (LastModifiedDate moves on).
    pub fn update(&self, object: &str, id: &str, fields: &[(&str, Value)]) {
        let mut st = lock(&self.state);
        let now = st.stamp();
        let rec = st
            .records
            .get_mut(object)
            .and_then(|v| v.iter_mut().find(|r| r["Id"] == id))
            .unwrap_or_else(|| panic!("no {object} {id} in the test org"));
        for (k, v) in fields {
            rec.insert((*k).into(), v.clone());
        }
        rec.insert("LastModifiedDate".into(), json!(sf_datetime(now)));
        rec.insert("LastModifiedById".into(), json!("005AdminUser000001"));
    }

    /// Create a Lead as a Salesforce user would (web-to-lead, a rep); its Id.
    pub fn add_lead(&self, fields: &[(&str, Value)], by_user: &str) -> String {
        let mut st = lock(&self.state);
        let id = st.new_id("00Q");
        let now = st.stamp();
        let mut r = Record::new();
        r.insert("Id".into(), json!(id));
        for (k, v) in fields {
            r.insert((*k).into(), v.clone());
        }
        r.insert("CreatedDate".into(), json!(sf_datetime(now)));
        r.insert("LastModifiedDate".into(), json!(sf_datetime(now)));
        r.insert("LastModifiedById".into(), json!(by_user));
        st.records.entry("Lead".into()).or_default().push(r);
        id
    }

    /// All stored records of one object.
    pub fn records(&self, object: &str) -> Vec<Record> {
        lock(&self.state)
            .records
            .get(object)
            .cloned()
            .unwrap_or_default()
    }

    /// The stored Lead with this external id value.
    pub fn lead_by_external_id(&self, field: &str, value: &str) -> Option<Record> {
        self.records("Lead")
            .into_iter()
            .find(|r| r.get(field).and_then(Value::as_str) == Some(value))
    }

    pub fn counters(&self) -> Counters {
        lock(&self.state).counters.clone()
    }

    /// External ids of Leads created more than once (must be empty: idempotency).
    pub fn duplicate_creates(&self) -> Vec<String> {
        let st = lock(&self.state);
        let mut d: Vec<String> = st
            .created_by_ext
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect();
        d.sort();
        d
    }

    /// Every request: (method, path, status).
    pub fn log(&self) -> Vec<(String, String, u16)> {
        lock(&self.state).log.clone()
    }

    /// Switch the whole org down (503) or back up.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// Set the API requests used in the current 24 hours.
    pub fn set_usage(&self, used: u64) {
        lock(&self.state).usage = used;
    }

    /// Revoke every access token (the next data call gets INVALID_SESSION_ID).
    pub fn expire_sessions(&self) {
        lock(&self.state).tokens.clear();
    }

    /// Fix the org's clock (LastModifiedDate of later changes), `None` for real time.
    pub fn set_now(&self, now: Option<Timestamp>) {
        lock(&self.state).now = now;
    }

    /// The Outbound Message Salesforce would send for these Leads (fields as stored).
    /// Each call is a new trigger: its notifications get new ids (a redelivery is the
    /// same envelope sent again).
    pub fn lead_notifications(&self, ids: &[String], fields: &[&str]) -> String {
        let leads = self.records("Lead");
        let mut st = lock(&self.state);
        let mut n = Vec::new();
        let mut next = st.next_id;
        for id in ids {
            let r = leads
                .iter()
                .find(|r| r["Id"] == id.as_str())
                .unwrap_or_else(|| panic!("no Lead {id} in the test org"));
            next += 1;
            let mut values = vec![("Id".to_string(), id.clone())];
            for f in fields {
                if let Some(v) = r.get(*f).filter(|v| !v.is_null()) {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    values.push(((*f).to_string(), s));
                }
            }
            n.push(OutboundNotification {
                id: format!("04l5g{next:013}"),
                object: "Lead".into(),
                fields: values,
            });
        }
        st.next_id = next;
        drop(st);
        outbound_message(
            &self.config.org_id,
            "04k5g000000LeadRtr",
            None,
            &format!(
                "{}/services/Soap/c/{}/{}",
                self.uri(),
                self.config.api_version,
                self.config.org_id
            ),
            &format!(
                "{}/services/Soap/u/{}/{}",
                self.uri(),
                self.config.api_version,
                self.config.org_id
            ),
            &n,
        )
    }
}

impl OrgState {
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        // 15-character ids (prefix + 12) plus the 3-character case suffix, like the real ones.
        format!("{prefix}{:012}AAA", self.next_id)
    }

    fn stamp(&mut self) -> Timestamp {
        let mut t = self.now.unwrap_or_else(Timestamp::now);
        // Salesforce stores milliseconds; keep every change strictly after the last.
        t = Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t);
        // A clock the test set is taken as given (it may go back); the real one never
        // repeats a stamp.
        if let Some(last) = self.last_stamp
            && self.now.is_none()
            && t <= last
        {
            t = Timestamp::from_millisecond(last.as_millisecond() + 1).unwrap_or(t);
        }
        self.last_stamp = Some(t);
        t
    }
}

/// `2026-12-06T11:00:00.000+0000`, the format the REST API writes datetimes in.
pub fn sf_datetime(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%3f+0000").to_string()
}

/// Parse a REST/SOQL datetime (`…+0000`, `…Z`, with or without milliseconds).
pub fn parse_sf_datetime(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .ok()?
        .to_timestamp()
        .ok()
}
