//! A HubSpot conformance server: the subset of HubSpot's CRM v3 API leadrouter calls,
//! built from HubSpot's published reference (developers.hubspot.com, "legacy" v3 paths
//! `/crm/v3/...`), with its authentication, limits, error bodies and rate-limit headers.
//! It is one of the project's only two fakes (the other is Salesforce's); docs/crm.md
//! lists what it mirrors.
//!
//! - Every call needs `Authorization: Bearer <private-app token>`; otherwise 401 with
//!   HubSpot's `{"status":"error","message":…,"correlationId":…,"category":
//!   "INVALID_AUTHENTICATION"}`.
//! - Rate limits as documented for private apps: a rolling per-interval budget (100 or
//!   190 calls per 10 s by tier; the interval can be compressed for tests) and a daily
//!   budget. Every answer carries `X-HubSpot-RateLimit-Max/-Remaining/
//!   -Interval-Milliseconds/-Daily/-Daily-Remaining`; over budget answers 429 with
//!   `{"status":"error","message":"You have reached your ten_secondly_rolling limit.",
//!   "errorType":"RATE_LIMIT","correlationId":…,"policyName":"TEN_SECONDLY_ROLLING"}`.
//! - `POST /crm/v3/objects/contacts/batch/upsert`: 1..=100 inputs with `idProperty:
//!   "email"`; unknown properties and unknown owners are rejected per record (207 with
//!   `errors[]` / `numErrors`, HubSpot's batch error shape), the rest stored.
//! - `POST /crm/v3/objects/contacts/batch/read`, `POST /crm/v3/objects/contacts/search`,
//!   `POST /crm/v3/objects/companies/search` (filter on last-modified, `after` cursor,
//!   at most 200 a page), `GET /crm/v3/owners` (`after`, `limit` ≤ 500, `archived`),
//!   `POST /crm/v3/objects/tasks/batch/create` (associations to contacts, type 204).
//! - `down` mode answers 503 to everything (a HubSpot outage as clients see it).
//! - Counters: calls per endpoint, and every applied upsert input with its
//!   `objectWriteTraceId`, so a test can assert each write was stored exactly once.
//!
//! [`sign_v3`] signs a webhook batch the way HubSpot does (`X-HubSpot-Signature-v3`).

// The handlers' early returns are the HTTP answers themselves (wiremock's
// `ResponseTemplate`); boxing them would only add noise to a test server.
#![allow(clippy::result_large_err)]

mod handlers;

use crate::lock;
use base64::Engine;
use handlers::{Api, upsert_contact};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The private-app token the conformance server accepts.
pub const TOKEN: &str = "pat-na1-0b6c7c3e-7f4b-4c1e-9d55-leadrouter-test";
/// The app client secret webhook signatures are made with.
pub const CLIENT_SECRET: &str = "f3a5c0de-hubspot-client-secret-test";
/// Contact properties every portal has (a subset of HubSpot's defaults).
const DEFAULT_CONTACT_PROPERTIES: &[&str] = &[
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "jobtitle",
    "country",
    "state",
    "website",
    "hubspot_owner_id",
    "lifecyclestage",
    "hs_lead_status",
    "lastmodifieddate",
    "createdate",
];
/// Most inputs a batch call may carry.
pub const MAX_BATCH_INPUTS: usize = 100;
/// Most results a search page may carry.
pub const MAX_SEARCH_LIMIT: usize = 200;

/// Rate limits to enforce. `Limits::private_app_starter()` is HubSpot's published
/// Free/Starter private-app limit (100 calls per 10 s, 250,000 a day); `Professional`
/// and `Enterprise` allow 190 per 10 s.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_interval: u64,
    pub interval: Duration,
    pub daily: u64,
}

impl Limits {
    pub fn private_app_starter() -> Limits {
        Limits {
            per_interval: 100,
            interval: Duration::from_secs(10),
            daily: 250_000,
        }
    }

    pub fn private_app_professional() -> Limits {
        Limits {
            per_interval: 190,
            interval: Duration::from_secs(10),
            daily: 625_000,
        }
    }

    /// The same budget per interval with the interval shortened `factor` times (a
    /// time-compressed test): the header still reports the shortened interval.
    pub fn compressed(self, factor: u32) -> Limits {
        Limits {
            interval: self.interval / factor.max(1),
            ..self
        }
    }
}

/// A stored contact.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub properties: BTreeMap<String, String>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// A stored task with the contacts it is associated with.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub properties: BTreeMap<String, String>,
    pub contact_ids: Vec<String>,
}

/// One upsert input the server applied.
#[derive(Debug, Clone)]
pub struct AppliedWrite {
    pub email: String,
    pub trace_id: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub archived: bool,
    pub updated_at: jiff::Timestamp,
}

#[derive(Debug, Clone)]
pub struct Company {
    pub id: String,
    pub properties: BTreeMap<String, String>,
    pub updated_at: jiff::Timestamp,
}

#[derive(Default)]
struct State {
    contacts: BTreeMap<String, Contact>,
    by_email: HashMap<String, String>,
    tasks: Vec<Task>,
    owners: Vec<Owner>,
    companies: Vec<Company>,
    applied: Vec<AppliedWrite>,
    calls: BTreeMap<String, u64>,
    throttled: u64,
    extra_properties: BTreeSet<String>,
    next_id: u64,
    window: Vec<Instant>,
    daily_used: u64,
    down: bool,
}

struct Shared {
    state: Mutex<State>,
    limits: Mutex<Limits>,
}

/// The running conformance server.
pub struct HubSpot {
    server: MockServer,
    shared: Arc<Shared>,
}

impl HubSpot {
    pub async fn start(limits: Limits) -> HubSpot {
        let server = MockServer::start().await;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_id: 100_000,
                ..State::default()
            }),
            limits: Mutex::new(limits),
        });
        Mock::given(wiremock::matchers::any())
            .respond_with(Api {
                shared: shared.clone(),
            })
            .mount(&server)
            .await;
        HubSpot { server, shared }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Add a custom contact property (as a portal admin would), e.g. `leadrouter_tier`.
    pub fn define_property(&self, name: &str) {
        lock(&self.shared.state)
            .extra_properties
            .insert(name.to_string());
    }

    pub fn add_owner(&self, id: &str, email: &str, first: &str, last: &str) {
        lock(&self.shared.state).owners.push(Owner {
            id: id.into(),
            email: email.into(),
            first_name: first.into(),
            last_name: last.into(),
            archived: false,
            updated_at: jiff::Timestamp::now(),
        });
    }

    pub fn add_company(&self, name: &str, domain: &str, owner: Option<&str>) -> String {
        let mut s = lock(&self.shared.state);
        s.next_id += 1;
        let id = s.next_id.to_string();
        let mut properties = BTreeMap::new();
        properties.insert("name".into(), name.into());
        properties.insert("domain".into(), domain.into());
        if let Some(o) = owner {
            properties.insert("hubspot_owner_id".into(), o.into());
        }
        s.companies.push(Company {
            id: id.clone(),
            properties,
            updated_at: jiff::Timestamp::now(),
        });
        id
    }

    /// A company's owner changed in HubSpot (a rep reassigning it): `hs_lastmodifieddate`
    /// moves, as HubSpot's does on any property change.
    pub fn set_company_owner(&self, id: &str, owner: Option<&str>) {
        let mut s = lock(&self.shared.state);
        let c = s
            .companies
            .iter_mut()
            .find(|c| c.id == id)
            .expect("a company of this portal");
        match owner {
            Some(o) => c.properties.insert("hubspot_owner_id".into(), o.into()),
            None => c.properties.remove("hubspot_owner_id"),
        };
        c.updated_at = jiff::Timestamp::now();
    }

    /// A user deactivated in HubSpot: their owner leaves `GET /crm/v3/owners` and is
    /// listed with `archived=true` (`archived: true`, `updatedAt` moved).
    pub fn archive_owner(&self, id: &str) {
        let mut s = lock(&self.shared.state);
        let o = s
            .owners
            .iter_mut()
            .find(|o| o.id == id)
            .expect("an owner of this portal");
        o.archived = true;
        o.updated_at = jiff::Timestamp::now();
    }

    /// A contact created in HubSpot itself (a form, an import, a rep): returns its id.
    pub fn create_contact(&self, properties: &[(&str, &str)]) -> String {
        let mut s = lock(&self.shared.state);
        let props: BTreeMap<String, String> = properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let email = props.get("email").cloned().unwrap_or_default();
        let id = upsert_contact(&mut s, &email, props, None).0;
        // Made in HubSpot itself, not through the API: not an applied API write.
        s.applied.pop();
        id
    }

    /// Set a contact's `lastmodifieddate` (a change made at that time, e.g. while
    /// leadrouter was down).
    pub fn set_contact_modified(&self, id: &str, at: jiff::Timestamp) {
        let mut s = lock(&self.shared.state);
        s.contacts
            .get_mut(id)
            .expect("a contact of this portal")
            .updated_at = at;
    }

    /// Answer 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        lock(&self.shared.state).down = down;
    }

    /// Calls made by other apps of the same portal (HubSpot's limits are shared by every
    /// app in an account): they use up the window and the day like ours.
    pub fn spend(&self, calls: u64) {
        let mut s = lock(&self.shared.state);
        let now = Instant::now();
        for _ in 0..calls {
            s.window.push(now);
        }
        s.daily_used += calls;
    }

    pub fn set_limits(&self, limits: Limits) {
        *lock(&self.shared.limits) = limits;
    }

    pub fn contact_by_email(&self, email: &str) -> Option<Contact> {
        let s = lock(&self.shared.state);
        let id = s.by_email.get(&email.to_ascii_lowercase())?;
        s.contacts.get(id).cloned()
    }

    pub fn contacts(&self) -> Vec<Contact> {
        lock(&self.shared.state)
            .contacts
            .values()
            .cloned()
            .collect()
    }

    pub fn tasks(&self) -> Vec<Task> {
        lock(&self.shared.state).tasks.clone()
    }

    /// Every upsert input applied, in the order applied.
    pub fn applied(&self) -> Vec<AppliedWrite> {
        lock(&self.shared.state).applied.clone()
    }

    /// Calls answered per `METHOD path` (throttled and failed ones included).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.state).calls.clone()
    }

    /// Calls answered 429.
    pub fn throttled(&self) -> u64 {
        lock(&self.shared.state).throttled
    }
}

/// `X-HubSpot-Signature-v3` for a request: base64(HMAC-SHA256(client secret, method +
/// URI + body + timestamp)), as HubSpot documents ("Validating requests", v3).
pub fn sign_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp_ms: i64) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A webhook batch as HubSpot sends it: a JSON array of events, one per object.
pub fn webhook_events(subscription_type: &str, object_ids: &[&str], change_source: &str) -> Value {
    let now = jiff::Timestamp::now().as_millisecond();
    Value::Array(
        object_ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                json!({
                    "eventId": 1_000_000 + i as i64,
                    "subscriptionId": 4_242,
                    "portalId": 62_515,
                    "appId": 1_160_452,
                    "occurredAt": now,
                    "subscriptionType": subscription_type,
                    "attemptNumber": 0,
                    "objectId": id.parse::<i64>().unwrap_or(0),
                    "changeFlag": "CREATED",
                    "changeSource": change_source,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_v3_matches_an_independent_hmac() {
        // Computed with Python's hmac/hashlib/base64 over the same concatenation.
        let sig = sign_v3(
            "secret",
            "POST",
            "https://example.com/hook",
            br#"[{"objectId":1}]"#,
            1_700_000_000_000,
        );
        assert_eq!(sig, "95UYHUsYSv8nsj2jojewvSn4f9MZsOyxCwMZc+X23N4=");
    }

    #[tokio::test]
    async fn upsert_is_idempotent_by_email_and_throttles_past_the_budget() {
        let hs = HubSpot::start(Limits {
            per_interval: 3,
            interval: Duration::from_secs(60),
            daily: 1000,
        })
        .await;
        hs.add_owner("501", "ana@example.com", "Ana", "Lopez");
        let http = reqwest::Client::new();
        let url = format!("{}/crm/v3/objects/contacts/batch/upsert", hs.uri());
        let body = json!({"inputs": [
            {"idProperty": "email", "id": "Lead@Example.com", "properties": {"hubspot_owner_id": "501"}, "objectWriteTraceId": "w1"},
            {"idProperty": "email", "id": "b@example.com", "properties": {"nope": "x"}},
        ]});
        let unauth = http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(unauth.status(), 401);
        let v: Value = unauth.json().await.unwrap();
        assert_eq!(v["category"], "INVALID_AUTHENTICATION");
        for _ in 0..2 {
            let r = http
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 207);
            assert_eq!(r.headers()["x-hubspot-ratelimit-max"], "3");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["numErrors"], 1);
            assert_eq!(v["errors"][0]["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
        }
        assert_eq!(
            hs.contacts().len(),
            1,
            "the same email twice is one contact"
        );
        assert_eq!(hs.applied().len(), 2);
        let r = http
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 207);
        let r = http
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["x-hubspot-ratelimit-remaining"], "0");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["errorType"], "RATE_LIMIT");
        assert_eq!(hs.applied().len(), 3, "a throttled call stores nothing");
        let too_many: Vec<Value> = (0..101)
            .map(|i| json!({"idProperty": "email", "id": format!("{i}@x.com"), "properties": {}}))
            .collect();
        hs.set_limits(Limits {
            per_interval: 100,
            ..Limits::private_app_starter()
        });
        let r = http
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&json!({"inputs": too_many}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
}
