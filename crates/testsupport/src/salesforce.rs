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
//! - `GET /services/data/vXX.X/query?q=SOQL` (User, Account, Lead; `WHERE
//!   LastModifiedDate >= …`, `Id IN (…)`; `ORDER BY`), pages of `batch_size` records
//!   linked by `nextRecordsUrl` (`/services/data/vXX.X/query/{locator}`).
//! - A down switch (503) and counters to assert that every record was stored once.
//!
//! [`outbound_message`] builds an Outbound Message SOAP envelope (`notifications`) as
//! Salesforce sends it.

mod outbound;
mod soql;

pub use outbound::{OutboundNotification, outbound_message};

use crate::lock;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

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
                ("Lead".into(), "LeadRouter_Link__c".into()),
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

struct Handler {
    state: Arc<Mutex<OrgState>>,
    config: OrgConfig,
    base: String,
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
    pub fn lead_notifications(&self, ids: &[String], fields: &[&str]) -> String {
        let leads = self.records("Lead");
        let st = lock(&self.state);
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

fn error_list(code: &str, message: &str) -> Value {
    json!([{ "message": message, "errorCode": code }])
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = lock(&self.state);
        let path = req.url.path().to_string();
        let (status, body) = self.answer(&mut st, req);
        st.log.push((req.method.to_string(), path.clone(), status));
        let mut t = ResponseTemplate::new(status)
            .insert_header("content-type", "application/json;charset=UTF-8");
        if path.starts_with("/services/data/") {
            let limit = format!("api-usage={}/{}", st.usage, self.config.api_limit);
            t = t.insert_header("sforce-limit-info", limit.as_str());
        }
        t.set_body_string(body.to_string())
    }
}

impl Handler {
    fn answer(&self, st: &mut OrgState, req: &Request) -> (u16, Value) {
        let path = req.url.path();
        if st.down {
            st.counters.unavailable += 1;
            return (
                503,
                error_list("SERVER_UNAVAILABLE", "Server is temporarily unavailable"),
            );
        }
        if path == "/services/oauth2/token" && req.method.as_str() == "POST" {
            return self.token(st, req);
        }
        let Some(rest) = path.strip_prefix("/services/data/v") else {
            return (
                404,
                error_list("NOT_FOUND", "The requested resource does not exist"),
            );
        };
        st.counters.data_calls += 1;
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = auth
            .and_then(|t| st.tokens.get(t))
            .is_some_and(|exp| *exp > Timestamp::now());
        if !valid {
            st.counters.unauthorized += 1;
            return (
                401,
                error_list("INVALID_SESSION_ID", "Session expired or invalid"),
            );
        }
        if st.usage >= self.config.api_limit {
            st.counters.rate_limited += 1;
            return (
                403,
                error_list("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            );
        }
        st.usage += 1;
        let Some((version, rest)) = rest.split_once('/') else {
            return (
                404,
                error_list("NOT_FOUND", "The requested resource does not exist"),
            );
        };
        if version != self.config.api_version {
            return (
                404,
                error_list("NOT_FOUND", "The requested resource does not exist"),
            );
        }
        let method = req.method.as_str();
        if let Some(rest) = rest.strip_prefix("composite/sobjects/")
            && method == "PATCH"
            && let Some((object, field)) = rest.split_once('/')
        {
            return self.upsert(st, req, object, field);
        }
        if rest == "query" && method == "GET" {
            let q = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned());
            return match q {
                Some(q) => self.query(st, &q),
                None => (
                    400,
                    error_list("MALFORMED_QUERY", "q parameter is required"),
                ),
            };
        }
        if let Some(locator) = rest.strip_prefix("query/")
            && method == "GET"
        {
            return self.more(st, locator);
        }
        (
            404,
            error_list("NOT_FOUND", "The requested resource does not exist"),
        )
    }

    fn token(&self, st: &mut OrgState, req: &Request) -> (u16, Value) {
        let form: HashMap<String, String> =
            form_urlencoded::parse(&req.body).into_owned().collect();
        let refuse = |st: &mut OrgState, error: &str, description: &str| {
            st.counters.token_refusals += 1;
            (
                400,
                json!({ "error": error, "error_description": description }),
            )
        };
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return refuse(st, "unsupported_grant_type", "grant type not supported");
        }
        let Some(assertion) = form.get("assertion") else {
            return refuse(st, "invalid_request", "assertion is required");
        };
        let Ok(key) =
            jsonwebtoken::DecodingKey::from_rsa_pem(self.config.public_key_pem.as_bytes())
        else {
            return refuse(
                st,
                "invalid_client",
                "the connected app has no valid certificate",
            );
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // Claims are checked below, one by one, for Salesforce's own error texts.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
            Ok(d) => d.claims,
            Err(_) => return refuse(st, "invalid_grant", "invalid assertion"),
        };
        if claims["iss"] != self.config.client_id.as_str() {
            return refuse(st, "invalid_client_id", "client identifier invalid");
        }
        if claims["aud"] != self.base.as_str() {
            return refuse(st, "invalid_grant", "audience is invalid");
        }
        let now = Timestamp::now().as_second();
        match claims["exp"].as_i64() {
            Some(exp) if exp > now && exp <= now + 180 + 5 => {}
            Some(exp) if exp <= now => {
                return refuse(st, "invalid_grant", "expired authorization code");
            }
            _ => return refuse(st, "invalid_grant", "invalid assertion"),
        }
        let sub = claims["sub"].as_str().unwrap_or_default();
        let user = st
            .records
            .get("User")
            .and_then(|u| u.iter().find(|r| r["Username"] == sub))
            .cloned();
        let Some(user) = user.filter(|u| u["IsActive"] == true) else {
            return refuse(st, "invalid_grant", "user hasn't approved this consumer");
        };
        st.next_id += 1;
        let token = format!(
            "{}!AQ{:024x}",
            self.config.org_id,
            st.next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        st.tokens.insert(
            token.clone(),
            Timestamp::now() + jiff::SignedDuration::from_secs(self.config.session_seconds),
        );
        st.counters.token_grants += 1;
        (
            200,
            json!({
                "access_token": token,
                "scope": "api",
                "instance_url": self.base,
                "id": format!("{}/id/{}/{}", self.base, self.config.org_id, user["Id"].as_str().unwrap_or_default()),
                "token_type": "Bearer",
            }),
        )
    }

    fn field_exists(&self, object: &str, field: &str) -> bool {
        soql::standard_fields(object).contains(&field)
            || self
                .config
                .custom_fields
                .iter()
                .any(|(o, f)| o == object && f == field)
    }

    fn upsert(&self, st: &mut OrgState, req: &Request, object: &str, ext: &str) -> (u16, Value) {
        if !matches!(object, "Lead" | "Task") {
            return (
                404,
                error_list("NOT_FOUND", "The requested resource does not exist"),
            );
        }
        if !self.field_exists(object, ext) || !ext.ends_with("__c") {
            return (
                404,
                error_list(
                    "NOT_FOUND",
                    &format!(
                        "Provided external ID field does not exist or is not accessible: {ext}"
                    ),
                ),
            );
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    400,
                    error_list("JSON_PARSER_ERROR", &format!("Unexpected character: {e}")),
                );
            }
        };
        let Some(records) = body["records"].as_array() else {
            return (400, error_list("INVALID_FIELD", "records is required"));
        };
        if records.len() > MAX_COLLECTION_RECORDS {
            return (
                400,
                error_list(
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call",
                ),
            );
        }
        let all_or_none = body["allOrNone"].as_bool().unwrap_or(false);
        for r in records {
            let Some(obj) = r.as_object() else {
                return (
                    400,
                    error_list("JSON_PARSER_ERROR", "each record must be an object"),
                );
            };
            if r["attributes"]["type"] != object {
                return (
                    400,
                    error_list(
                        "INVALID_TYPE",
                        "Each record must have attributes.type matching the URI",
                    ),
                );
            }
            if obj.contains_key("Id") {
                return (
                    400,
                    error_list(
                        "INVALID_FIELD",
                        "Don't set the Id field; use the external ID field",
                    ),
                );
            }
            for k in obj.keys().filter(|k| *k != "attributes") {
                if !self.field_exists(object, k) {
                    return (
                        400,
                        error_list(
                            "INVALID_FIELD",
                            &format!("No such column '{k}' on sobject of type {object}"),
                        ),
                    );
                }
            }
        }
        let auto_assign = req
            .headers
            .get("sforce-auto-assign")
            .and_then(|v| v.to_str().ok())
            .map(|v| !v.eq_ignore_ascii_case("false"))
            .unwrap_or(true);
        let integration = st
            .records
            .get("User")
            .and_then(|u| u.iter().find(|r| r["Username"] == TEST_USERNAME))
            .and_then(|u| u["Id"].as_str().map(str::to_string))
            .unwrap_or_default();
        let before = st.records.clone();
        let before_counters = st.counters.clone();
        let before_created = st.created_by_ext.clone();
        let mut results = Vec::new();
        let mut failed = false;
        for r in records {
            let res = self.upsert_one(st, object, ext, r, auto_assign, &integration);
            failed |= res["success"] == false;
            results.push(res);
        }
        if all_or_none && failed {
            st.records = before;
            st.counters = before_counters;
            st.created_by_ext = before_created;
            for res in &mut results {
                if res["success"] == true {
                    *res = json!({ "success": false, "errors": [{ "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": [] }] });
                }
            }
        }
        (200, Value::Array(results))
    }

    fn upsert_one(
        &self,
        st: &mut OrgState,
        object: &str,
        ext: &str,
        r: &Value,
        auto_assign: bool,
        integration: &str,
    ) -> Value {
        let fail = |code: &str, message: &str, fields: &[&str]| json!({ "success": false, "errors": [{ "statusCode": code, "message": message, "fields": fields }] });
        let Some(key) = r[ext].as_str().filter(|s| !s.is_empty()) else {
            return fail(
                "REQUIRED_FIELD_MISSING",
                &format!("Required fields are missing: [{ext}]"),
                &[ext],
            );
        };
        if let Some(email) = r.get("Email").and_then(Value::as_str)
            && !email.is_empty()
            && !soql::plausible_email(email)
        {
            return fail(
                "INVALID_EMAIL_ADDRESS",
                &format!("Email: invalid email address: {email}"),
                &["Email"],
            );
        }
        for f in ["OwnerId", "WhoId"] {
            if let Some(id) = r.get(f).and_then(Value::as_str) {
                let found = if f == "OwnerId" {
                    st.records
                        .get("User")
                        .and_then(|u| u.iter().find(|u| u["Id"] == id))
                        .map(|u| u["IsActive"] == true)
                } else {
                    st.records
                        .get("Lead")
                        .and_then(|l| l.iter().find(|l| l["Id"] == id))
                        .map(|_| true)
                };
                match found {
                    None => {
                        return fail(
                            "INVALID_CROSS_REFERENCE_KEY",
                            &format!("invalid cross reference id: {id}"),
                            &[f],
                        );
                    }
                    Some(false) => {
                        return fail(
                            "INACTIVE_OWNER_OR_USER",
                            "operation performed with inactive user",
                            &[f],
                        );
                    }
                    Some(true) => {}
                }
            }
        }
        let now = st.stamp();
        let list = st.records.entry(object.to_string()).or_default();
        let existing = list
            .iter()
            .position(|x| x.get(ext).and_then(Value::as_str) == Some(key));
        let created = existing.is_none();
        if created && object == "Lead" {
            let missing: Vec<&str> = ["LastName", "Company"]
                .into_iter()
                .filter(|f| r.get(*f).and_then(Value::as_str).is_none_or(str::is_empty))
                .collect();
            if !missing.is_empty() {
                return fail(
                    "REQUIRED_FIELD_MISSING",
                    &format!("Required fields are missing: [{}]", missing.join(", ")),
                    &missing,
                );
            }
        }
        let idx = match existing {
            Some(i) => i,
            None => {
                list.push(Record::new());
                list.len() - 1
            }
        };
        let id = if created {
            let prefix = if object == "Lead" { "00Q" } else { "00T" };
            st.next_id += 1;
            format!("{prefix}{:012}AAA", st.next_id)
        } else {
            st.records[object][idx]["Id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let rec = &mut st.records.get_mut(object).expect("just inserted")[idx];
        rec.insert("Id".into(), json!(id));
        for (k, v) in r.as_object().into_iter().flatten() {
            if k != "attributes" {
                rec.insert(k.clone(), v.clone());
            }
        }
        if created {
            rec.insert("CreatedDate".into(), json!(sf_datetime(now)));
            rec.entry("OwnerId").or_insert(json!(integration));
        }
        // Lead assignment rules run on create and update unless the caller said FALSE.
        if object == "Lead"
            && auto_assign
            && let Some(owner) = &self.config.assignment_rule_owner
        {
            rec.insert("OwnerId".into(), json!(owner));
        }
        rec.insert("LastModifiedDate".into(), json!(sf_datetime(now)));
        rec.insert("LastModifiedById".into(), json!(integration));
        match (object, created) {
            ("Lead", true) => {
                st.counters.leads_created += 1;
                *st.created_by_ext.entry(key.to_string()).or_default() += 1;
            }
            ("Lead", false) => st.counters.leads_updated += 1,
            (_, true) => st.counters.tasks_created += 1,
            (_, false) => st.counters.tasks_updated += 1,
        }
        json!({ "id": id, "success": true, "errors": [], "created": created })
    }

    fn query(&self, st: &mut OrgState, q: &str) -> (u16, Value) {
        let parsed = match soql::parse(q) {
            Ok(p) => p,
            Err(m) => return (400, error_list("MALFORMED_QUERY", &m)),
        };
        for f in &parsed.fields {
            if !self.field_exists(&parsed.object, f) {
                return (
                    400,
                    error_list(
                        "INVALID_FIELD",
                        &format!("No such column '{f}' on entity '{}'", parsed.object),
                    ),
                );
            }
        }
        if !matches!(parsed.object.as_str(), "User" | "Account" | "Lead") {
            return (
                400,
                error_list(
                    "INVALID_TYPE",
                    &format!("sObject type '{}' is not supported.", parsed.object),
                ),
            );
        }
        let rows = soql::run(
            &parsed,
            st.records
                .get(&parsed.object)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        );
        let total = rows.len();
        let rows: Vec<Record> = rows
            .into_iter()
            .map(|r| {
                let mut out = Record::new();
                out.insert(
                    "attributes".into(),
                    json!({ "type": parsed.object, "url": format!("/services/data/v{}/sobjects/{}/{}", self.config.api_version, parsed.object, r["Id"].as_str().unwrap_or_default()) }),
                );
                for f in &parsed.fields {
                    out.insert(f.clone(), r.get(f).cloned().unwrap_or(Value::Null));
                }
                out
            })
            .collect();
        st.next_id += 1;
        let cursor = format!("01g5g{:013}", st.next_id);
        self.page(st, cursor, rows, 0, total)
    }

    fn page(
        &self,
        st: &mut OrgState,
        cursor: String,
        rows: Vec<Record>,
        offset: usize,
        total: usize,
    ) -> (u16, Value) {
        let end = (offset + self.config.batch_size).min(rows.len());
        let records: Vec<Value> = rows[offset..end]
            .iter()
            .cloned()
            .map(Value::Object)
            .collect();
        let done = end >= rows.len();
        let mut body = json!({ "totalSize": total, "done": done, "records": records });
        if !done {
            let locator = format!("{cursor}-{end}");
            body["nextRecordsUrl"] = json!(format!(
                "/services/data/v{}/query/{locator}",
                self.config.api_version
            ));
            st.cursors.insert(cursor, rows);
        } else {
            st.cursors.remove(&cursor);
        }
        (200, body)
    }

    fn more(&self, st: &mut OrgState, locator: &str) -> (u16, Value) {
        let parsed = locator
            .rsplit_once('-')
            .and_then(|(c, o)| Some((c.to_string(), o.parse::<usize>().ok()?)));
        let Some((cursor, offset)) = parsed else {
            return (
                400,
                error_list("INVALID_QUERY_LOCATOR", "invalid query locator"),
            );
        };
        let Some(rows) = st.cursors.get(&cursor).cloned() else {
            return (
                400,
                error_list("INVALID_QUERY_LOCATOR", "invalid query locator"),
            );
        };
        if offset > rows.len() {
            return (
                400,
                error_list("INVALID_QUERY_LOCATOR", "invalid query locator"),
            );
        }
        let total = rows.len();
        self.page(st, cursor, rows, offset, total)
    }
}
