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

use crate::lock;
use base64::Engine;
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

fn upsert_contact(
    s: &mut State,
    email: &str,
    props: BTreeMap<String, String>,
    trace_id: Option<String>,
) -> (String, bool) {
    let now = jiff::Timestamp::now();
    let key = email.to_ascii_lowercase();
    let (id, new) = match s.by_email.get(&key) {
        Some(id) => (id.clone(), false),
        None => {
            s.next_id += 1;
            let id = s.next_id.to_string();
            s.by_email.insert(key.clone(), id.clone());
            s.contacts.insert(
                id.clone(),
                Contact {
                    id: id.clone(),
                    properties: BTreeMap::from([("email".to_string(), key.clone())]),
                    created_at: now,
                    updated_at: now,
                },
            );
            (id, true)
        }
    };
    let c = s.contacts.get_mut(&id).expect("just stored");
    c.properties.extend(props.clone());
    c.properties.insert("email".into(), key.clone());
    c.updated_at = now;
    s.applied.push(AppliedWrite {
        email: key,
        trace_id,
        properties: props,
        at: Instant::now(),
    });
    (id, new)
}

struct Api {
    shared: Arc<Shared>,
}

/// A correlation id shaped like HubSpot's (a UUID), unique per answer.
fn correlation() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("4c1f0d2e-7a9b-4e3c-8d5f-{n:012x}")
}

fn error(status: u16, category: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "status": "error",
        "message": message,
        "correlationId": correlation(),
        "category": category,
    }))
}

fn iso(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn contact_json(c: &Contact, props: Option<&[String]>, new: Option<bool>) -> Value {
    let mut properties: serde_json::Map<String, Value> = match props {
        Some(want) => want
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    c.properties.get(p).map(|v| json!(v)).unwrap_or(Value::Null),
                )
            })
            .collect(),
        None => c
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect(),
    };
    properties.insert("hs_object_id".into(), json!(c.id));
    properties.insert("lastmodifieddate".into(), json!(iso(c.updated_at)));
    properties.insert("createdate".into(), json!(iso(c.created_at)));
    let mut v = json!({
        "id": c.id,
        "properties": properties,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "archived": false,
    });
    if let Some(n) = new {
        v["new"] = json!(n);
    }
    v
}

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let limits = *lock(&self.shared.limits);
        let mut s = lock(&self.shared.state);
        let path = req.url.path().to_string();
        *s.calls
            .entry(format!("{} {}", req.method, path))
            .or_default() += 1;
        if s.down {
            return error(503, "SERVICE_UNAVAILABLE", "Service Unavailable");
        }
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match auth.strip_prefix("Bearer ") {
            None => {
                return error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                );
            }
            Some(t) if t != TOKEN => {
                return error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. The access token used is not valid.",
                );
            }
            Some(_) => {}
        }
        // Rolling window and daily budget; throttled calls do not count against either.
        let now = Instant::now();
        s.window
            .retain(|t| now.duration_since(*t) < limits.interval);
        let over_daily = s.daily_used >= limits.daily;
        let over_window = s.window.len() as u64 >= limits.per_interval;
        if over_daily || over_window {
            s.throttled += 1;
            let (policy, msg) = if over_daily {
                ("DAILY", "You have reached your daily limit.")
            } else {
                (
                    "TEN_SECONDLY_ROLLING",
                    "You have reached your ten_secondly_rolling limit.",
                )
            };
            let t = ResponseTemplate::new(429).set_body_json(json!({
                "status": "error",
                "message": msg,
                "errorType": "RATE_LIMIT",
                "correlationId": correlation(),
                "policyName": policy,
                "requestId": correlation(),
            }));
            return rate_headers(t, &limits, 0, limits.daily.saturating_sub(s.daily_used));
        }
        s.window.push(now);
        s.daily_used += 1;
        let remaining = limits.per_interval - s.window.len() as u64;
        let daily_remaining = limits.daily - s.daily_used;
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    return error(
                        400,
                        "VALIDATION_ERROR",
                        &format!("Invalid input JSON on line 1: {e}"),
                    );
                }
            }
        };
        let t = route(&mut s, req.method.as_str(), &path, req, &body);
        rate_headers(t, &limits, remaining, daily_remaining)
    }
}

fn rate_headers(
    t: ResponseTemplate,
    l: &Limits,
    remaining: u64,
    daily_remaining: u64,
) -> ResponseTemplate {
    t.insert_header(
        "X-HubSpot-RateLimit-Max",
        l.per_interval.to_string().as_str(),
    )
    .insert_header(
        "X-HubSpot-RateLimit-Remaining",
        remaining.to_string().as_str(),
    )
    .insert_header(
        "X-HubSpot-RateLimit-Interval-Milliseconds",
        l.interval.as_millis().to_string().as_str(),
    )
    .insert_header("X-HubSpot-RateLimit-Daily", l.daily.to_string().as_str())
    .insert_header(
        "X-HubSpot-RateLimit-Daily-Remaining",
        daily_remaining.to_string().as_str(),
    )
}

fn route(s: &mut State, method: &str, path: &str, req: &Request, body: &Value) -> ResponseTemplate {
    match (method, path) {
        ("POST", "/crm/v3/objects/contacts/batch/upsert") => batch_upsert(s, body),
        ("POST", "/crm/v3/objects/contacts/batch/read") => batch_read(s, body),
        ("POST", "/crm/v3/objects/contacts/search") => search_contacts(s, body),
        ("POST", "/crm/v3/objects/companies/search") => search_companies(s, body),
        ("POST", "/crm/v3/objects/tasks/batch/create") => create_tasks(s, body),
        ("GET", "/crm/v3/owners") | ("GET", "/crm/v3/owners/") => owners(s, req),
        _ => error(
            404,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {path}"),
        ),
    }
}

fn inputs(body: &Value) -> Result<&Vec<Value>, ResponseTemplate> {
    let Some(inputs) = body.get("inputs").and_then(Value::as_array) else {
        return Err(error(
            400,
            "VALIDATION_ERROR",
            "Invalid input JSON: inputs is required",
        ));
    };
    if inputs.is_empty() || inputs.len() > MAX_BATCH_INPUTS {
        return Err(error(
            400,
            "VALIDATION_ERROR",
            &format!(
                "Invalid input JSON on line 1: inputs size must be between 1 and {MAX_BATCH_INPUTS} (was {})",
                inputs.len()
            ),
        ));
    }
    Ok(inputs)
}

fn batch_upsert(s: &mut State, body: &Value) -> ResponseTemplate {
    let started = jiff::Timestamp::now();
    let inputs = match inputs(body) {
        Ok(i) => i,
        Err(t) => return t,
    };
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let owners: BTreeSet<String> = s
        .owners
        .iter()
        .filter(|o| !o.archived)
        .map(|o| o.id.clone())
        .collect();
    for input in inputs {
        let id_property = input.get("idProperty").and_then(Value::as_str);
        let id = input.get("id").and_then(Value::as_str).unwrap_or("");
        if id_property != Some("email") {
            return error(
                400,
                "VALIDATION_ERROR",
                "Invalid input JSON: idProperty must be a unique property (email) on every input",
            );
        }
        if !id.contains('@') || id.len() > 254 {
            errors.push(batch_error(
                id,
                "INVALID_EMAIL",
                &format!("Email address {id} is invalid"),
            ));
            continue;
        }
        let props: BTreeMap<String, String> = input
            .get("properties")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let unknown: Vec<&String> = props
            .keys()
            .filter(|k| {
                !DEFAULT_CONTACT_PROPERTIES.contains(&k.as_str())
                    && !s.extra_properties.contains(*k)
            })
            .collect();
        if let Some(k) = unknown.first() {
            errors.push(batch_error(
                id,
                "PROPERTY_DOESNT_EXIST",
                &format!("Property \"{k}\" does not exist"),
            ));
            continue;
        }
        if let Some(o) = props.get("hubspot_owner_id")
            && !o.is_empty()
            && !owners.contains(o)
        {
            errors.push(batch_error(
                id,
                "INVALID_OPTION",
                &format!("{o} is not a valid owner id for property hubspot_owner_id"),
            ));
            continue;
        }
        let trace = input
            .get("objectWriteTraceId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (cid, new) = upsert_contact(s, id, props, trace.clone());
        let c = &s.contacts[&cid];
        let mut r = contact_json(c, None, Some(new));
        if let Some(t) = trace {
            r["objectWriteTraceId"] = json!(t);
        }
        results.push(r);
    }
    let done = jiff::Timestamp::now();
    let mut out = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(done),
        "requestedAt": iso(started),
    });
    if errors.is_empty() {
        return ResponseTemplate::new(200).set_body_json(out);
    }
    out["numErrors"] = json!(errors.len());
    out["errors"] = Value::Array(errors);
    ResponseTemplate::new(207).set_body_json(out)
}

fn batch_error(id: &str, code: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": message,
        "context": {"id": [id]},
        "errors": [{"message": message, "code": code, "context": {"id": [id]}}],
    })
}

fn wanted_properties(body: &Value) -> Option<Vec<String>> {
    body.get("properties").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

fn batch_read(s: &mut State, body: &Value) -> ResponseTemplate {
    let inputs = match inputs(body) {
        Ok(i) => i,
        Err(t) => return t,
    };
    let props = wanted_properties(body);
    let results: Vec<Value> = inputs
        .iter()
        .filter_map(|i| i.get("id").and_then(Value::as_str))
        .filter_map(|id| s.contacts.get(id))
        .map(|c| contact_json(c, props.as_deref(), None))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(jiff::Timestamp::now()),
        "completedAt": iso(jiff::Timestamp::now()),
    }))
}

/// The `GTE` bound of a search's last-modified filter, in epoch milliseconds: the one
/// filter leadrouter sends (the first of the first group); any other filter is refused.
fn modified_since(body: &Value, property: &str) -> Result<Option<i64>, ResponseTemplate> {
    let Some(f) = body.pointer("/filterGroups/0/filters/0") else {
        return Ok(None);
    };
    let name = f.get("propertyName").and_then(Value::as_str).unwrap_or("");
    if name != property {
        return Err(error(
            400,
            "VALIDATION_ERROR",
            &format!("There was a problem with the request. Unsupported filter property {name}"),
        ));
    }
    let v = f.get("value").and_then(|v| {
        v.as_str()
            .map(str::to_string)
            .or_else(|| Some(v.to_string()))
    });
    let ms = v.and_then(|v| v.parse::<i64>().ok());
    if f.get("operator").and_then(Value::as_str) != Some("GTE") || ms.is_none() {
        return Err(error(
            400,
            "VALIDATION_ERROR",
            "filter must be GTE with an epoch-milliseconds value",
        ));
    }
    Ok(ms)
}

fn page_args(body: &Value) -> Result<(usize, usize), ResponseTemplate> {
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(error(
            400,
            "VALIDATION_ERROR",
            &format!("limit must be between 1 and {MAX_SEARCH_LIMIT}"),
        ));
    }
    let after = match body.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
            .parse::<usize>()
            .map_err(|_| error(400, "VALIDATION_ERROR", "after must be a paging cursor"))?,
    };
    Ok((limit, after))
}

fn paged(results: Vec<Value>, total: usize, after: usize, limit: usize) -> ResponseTemplate {
    let mut out = json!({"total": total, "results": results});
    if after + limit < total {
        out["paging"] = json!({"next": {"after": (after + limit).to_string()}});
    }
    ResponseTemplate::new(200).set_body_json(out)
}

fn search_contacts(s: &mut State, body: &Value) -> ResponseTemplate {
    let (since, (limit, after)) = match (modified_since(body, "lastmodifieddate"), page_args(body))
    {
        (Ok(a), Ok(b)) => (a, b),
        (Err(t), _) | (_, Err(t)) => return t,
    };
    let props = wanted_properties(body);
    let mut all: Vec<&Contact> = s
        .contacts
        .values()
        .filter(|c| since.is_none_or(|ms| c.updated_at.as_millisecond() >= ms))
        .collect();
    all.sort_by_key(|c| (c.updated_at, c.id.clone()));
    let total = all.len();
    let results = all
        .iter()
        .skip(after)
        .take(limit)
        .map(|c| contact_json(c, props.as_deref(), None))
        .collect();
    paged(results, total, after, limit)
}

fn search_companies(s: &mut State, body: &Value) -> ResponseTemplate {
    let (since, (limit, after)) =
        match (modified_since(body, "hs_lastmodifieddate"), page_args(body)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(t), _) | (_, Err(t)) => return t,
        };
    let mut all: Vec<&Company> = s
        .companies
        .iter()
        .filter(|c| since.is_none_or(|ms| c.updated_at.as_millisecond() >= ms))
        .collect();
    all.sort_by_key(|c| (c.updated_at, c.id.clone()));
    let total = all.len();
    let results = all
        .iter()
        .skip(after)
        .take(limit)
        .map(|c| {
            let mut p: serde_json::Map<String, Value> =
                c.properties.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            p.insert("hs_object_id".into(), json!(c.id));
            p.insert("hs_lastmodifieddate".into(), json!(iso(c.updated_at)));
            json!({"id": c.id, "properties": p, "createdAt": iso(c.updated_at), "updatedAt": iso(c.updated_at), "archived": false})
        })
        .collect();
    paged(results, total, after, limit)
}

fn owners(s: &mut State, req: &Request) -> ResponseTemplate {
    let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
    let limit = q
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100);
    if limit == 0 || limit > 500 {
        return error(400, "VALIDATION_ERROR", "limit must be between 1 and 500");
    }
    let after = match q.get("after").map(|v| v.parse::<usize>()) {
        None => 0,
        Some(Ok(a)) => a,
        Some(Err(_)) => return error(400, "VALIDATION_ERROR", "after must be a paging cursor"),
    };
    let archived = q.get("archived").is_some_and(|v| v == "true");
    let all: Vec<&Owner> = s.owners.iter().filter(|o| o.archived == archived).collect();
    let total = all.len();
    let results: Vec<Value> = all
        .iter()
        .skip(after)
        .take(limit)
        .map(|o| {
            json!({
                "id": o.id, "email": o.email, "type": "PERSON",
                "firstName": o.first_name, "lastName": o.last_name,
                "userId": o.id.parse::<i64>().unwrap_or(0),
                "createdAt": iso(o.updated_at), "updatedAt": iso(o.updated_at),
                "archived": o.archived,
            })
        })
        .collect();
    let mut out = json!({"results": results});
    if after + limit < total {
        out["paging"] = json!({"next": {"after": (after + limit).to_string(), "link": format!("/crm/v3/owners?after={}", after + limit)}});
    }
    ResponseTemplate::new(200).set_body_json(out)
}

fn create_tasks(s: &mut State, body: &Value) -> ResponseTemplate {
    let inputs = match inputs(body) {
        Ok(i) => i.clone(),
        Err(t) => return t,
    };
    let mut results = Vec::new();
    for input in &inputs {
        let props: BTreeMap<String, String> = input
            .get("properties")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !props.contains_key("hs_timestamp") {
            return error(
                400,
                "VALIDATION_ERROR",
                "Property values were not valid: hs_timestamp is required",
            );
        }
        let mut contact_ids = Vec::new();
        for a in input
            .get("associations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let to = a.pointer("/to/id").and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| Some(v.to_string()))
            });
            let type_ok = a.get("types").and_then(Value::as_array).is_some_and(|t| {
                t.iter()
                    .any(|t| t.get("associationTypeId").and_then(Value::as_i64) == Some(204))
            });
            match to {
                Some(id) if type_ok && s.contacts.contains_key(&id) => contact_ids.push(id),
                _ => {
                    return error(
                        400,
                        "VALIDATION_ERROR",
                        "association to a contact (type 204) with an existing id is required",
                    );
                }
            }
        }
        s.next_id += 1;
        let id = s.next_id.to_string();
        s.tasks.push(Task {
            id: id.clone(),
            properties: props.clone(),
            contact_ids,
        });
        results.push(json!({"id": id, "properties": props, "archived": false}));
    }
    ResponseTemplate::new(201).set_body_json(json!({"status": "COMPLETE", "results": results}))
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
