//! The conformance server's request handling: authentication, the rate-limit window,
//! and one handler per HubSpot endpoint, with HubSpot's answers and error bodies.

#![allow(clippy::result_large_err)] // the early returns are the HTTP answers themselves

use super::*;

pub(super) fn upsert_contact(
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

pub(super) struct Api {
    pub(super) shared: Arc<Shared>,
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
