//! HubSpot (CRM v3, private-app token): owners written back by upserting contacts by
//! email through `POST /crm/v3/objects/contacts/batch/upsert` (at most 100 a call),
//! optional follow-up tasks associated to the contact, owners from `/crm/v3/owners`,
//! companies and contacts read incrementally through the search API, contacts fetched by
//! id after a webhook, and webhook signature v3 ([`signature`]).
//!
//! Every answer's `X-HubSpot-RateLimit-*` headers update the [`Headroom`]; a 429 becomes
//! [`CallError::RateLimited`] with the wait HubSpot implies (its `Retry-After` when sent,
//! else the rolling window's length). Each call has its own timeout.

pub mod signature;
mod wire;

use crate::model::*;
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use wire::*;

/// HubSpot's public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// Most inputs one batch call takes (HubSpot's documented limit).
pub const MAX_BATCH: usize = 100;
/// Results per search page (HubSpot allows up to 200).
const SEARCH_PAGE: usize = 100;
/// Owners per page (HubSpot allows up to 500).
const OWNERS_PAGE: usize = 100;
/// Largest answer body read.
const MAX_BODY: usize = 8 << 20;
/// HubSpot's association type id for task → contact.
const TASK_TO_CONTACT: i64 = 204;

/// Contact properties read for an inbound lead, with the lead field each becomes.
const LEAD_PROPERTIES: &[(&str, &str)] = &[
    ("email", "email"),
    ("firstname", "first_name"),
    ("lastname", "last_name"),
    ("company", "company"),
    ("jobtitle", "title"),
    ("phone", "phone"),
    ("country", "country"),
    ("state", "state"),
    ("zip", "zip"),
    ("industry", "industry"),
    ("numemployees", "employees"),
];

/// What a HubSpot connection needs (resolved from `[crm]` by the caller).
#[derive(Debug, Clone)]
pub struct HubSpotSettings {
    pub base_url: url::Url,
    /// The private-app access token (read from the environment by the caller).
    pub token: String,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Company property that marks a named account (`None`: no company is named).
    pub named_account_property: Option<String>,
    /// Contact property that holds leadrouter's lead id: a contact that has one was
    /// already routed (or written) by leadrouter and is not routed again.
    pub lead_id_property: Option<String>,
}

/// The HubSpot [`CrmClient`].
pub struct HubSpot {
    http: reqwest::Client,
    s: HubSpotSettings,
    headroom: Mutex<Headroom>,
}

impl HubSpot {
    pub fn new(s: HubSpotSettings) -> Result<HubSpot, CallError> {
        let http = reqwest::Client::builder()
            .timeout(s.timeout)
            .connect_timeout(s.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("leadrouter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CallError::Invalid(format!("HTTP client: {e}")))?;
        Ok(HubSpot {
            http,
            s,
            headroom: Mutex::new(Headroom::default()),
        })
    }

    fn url(&self, path: &str) -> Result<url::Url, CallError> {
        self.s
            .base_url
            .join(path)
            .map_err(|e| CallError::Invalid(format!("URL {path}: {e}")))
    }

    /// Send one call and read its answer: the status and the JSON body for 2xx, a
    /// [`CallError`] otherwise.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<(StatusCode, Value), CallError> {
        let resp = req
            .bearer_auth(&self.s.token)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.note_headroom(&headers);
        let bytes = read_body(resp).await?;
        if status.is_success() {
            let v = serde_json::from_slice(&bytes).map_err(|e| {
                CallError::Unavailable(format!("unreadable answer ({status}): {e}"))
            })?;
            return Ok((status, v));
        }
        let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
        let what = match &err.category {
            Some(c) => format!("{status} {c}: {}", err.message),
            None => format!("{status}: {}", err.message),
        };
        Err(match status.as_u16() {
            429 => CallError::RateLimited {
                retry_after: retry_after(&headers).or_else(|| self.headroom().resets_in),
            },
            401 | 403 => CallError::Auth(what),
            408 => CallError::Timeout,
            s if s >= 500 => CallError::Unavailable(what),
            _ => CallError::Invalid(what),
        })
    }

    fn note_headroom(&self, h: &reqwest::header::HeaderMap) {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (limit, remaining, interval) = (
            num("x-hubspot-ratelimit-max"),
            num("x-hubspot-ratelimit-remaining"),
            num("x-hubspot-ratelimit-interval-milliseconds"),
        );
        if limit.is_none() && remaining.is_none() {
            return;
        }
        let daily_left = num("x-hubspot-ratelimit-daily-remaining");
        let mut hr = self.headroom.lock().unwrap_or_else(|e| e.into_inner());
        *hr = Headroom {
            // The tighter of the rolling window and the day.
            remaining: match (remaining, daily_left) {
                (Some(r), Some(d)) => Some(r.min(d)),
                (r, d) => r.or(d),
            },
            limit,
            // HubSpot's window rolls: a full interval is the longest a caller must wait.
            resets_in: interval.map(Duration::from_millis),
        };
    }

    /// The contacts upsert for writes with distinct emails: one outcome per write.
    async fn upsert_round(&self, writes: &[&OwnerWrite]) -> Result<Vec<RecordOutcome>, CallError> {
        let props: Vec<BTreeMap<&str, &str>> = writes.iter().map(|w| properties(w)).collect();
        let body = UpsertBody {
            inputs: writes
                .iter()
                .zip(props)
                .map(|(w, properties)| UpsertInput {
                    id_property: "email",
                    id: &w.email,
                    properties,
                    object_write_trace_id: &w.write_id,
                })
                .collect(),
        };
        let req = self
            .http
            .post(self.url("/crm/v3/objects/contacts/batch/upsert")?)
            .json(&body);
        let (_, v) = self.call(req).await?;
        let answer: BatchAnswer = serde_json::from_value(v)
            .map_err(|e| CallError::Unavailable(format!("unreadable batch answer: {e}")))?;
        let by_email: HashMap<String, &Object> = answer
            .results
            .iter()
            .filter_map(|o| o.prop("email").map(|e| (e.to_ascii_lowercase(), o)))
            .collect();
        let by_trace: HashMap<&str, &Object> = answer
            .results
            .iter()
            .filter_map(|o| o.object_write_trace_id.as_deref().map(|t| (t, o)))
            .collect();
        let mut refused: HashMap<String, String> = HashMap::new();
        for e in &answer.errors {
            for id in e.context.get("id").into_iter().flatten() {
                refused.insert(id.to_ascii_lowercase(), e.reason());
            }
        }
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let key = w.email.to_ascii_lowercase();
            let found = by_trace
                .get(w.write_id.as_str())
                .or_else(|| by_email.get(&key));
            out.push(match (found, refused.get(&key)) {
                (Some(o), _) => RecordOutcome::Written {
                    crm_id: o.id.clone(),
                },
                (None, Some(reason)) => RecordOutcome::Rejected {
                    reason: reason.clone(),
                },
                // Neither stored nor refused: HubSpot's answer is incomplete, so the call
                // is retried (the upsert is idempotent).
                (None, None) => {
                    return Err(CallError::Unavailable(format!(
                        "the batch answer names neither a result nor an error for {}",
                        w.email
                    )));
                }
            });
        }
        self.create_tasks(writes, &mut out).await?;
        Ok(out)
    }

    /// Follow-up tasks for the written records that ask for one, associated to their
    /// contact. A retryable failure fails the whole call (the contacts upsert is
    /// idempotent, so the retry only re-sends the same values); a refusal marks the
    /// records rejected.
    async fn create_tasks(
        &self,
        writes: &[&OwnerWrite],
        out: &mut [RecordOutcome],
    ) -> Result<(), CallError> {
        let mut idx = Vec::new();
        let mut inputs = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            let (Some(t), RecordOutcome::Written { crm_id }) = (&w.task, &out[i]) else {
                continue;
            };
            let mut p = json!({
                "hs_timestamp": t.due.as_millisecond().to_string(),
                "hs_task_subject": t.subject,
                "hs_task_body": t.body,
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
                "hs_task_type": "TODO",
            });
            if let Some(o) = &w.owner_crm_id {
                p["hubspot_owner_id"] = json!(o);
            }
            inputs.push(json!({
                "properties": p,
                "associations": [{
                    "to": {"id": crm_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}],
                }],
            }));
            idx.push(i);
        }
        if inputs.is_empty() {
            return Ok(());
        }
        let req = self
            .http
            .post(self.url("/crm/v3/objects/tasks/batch/create")?)
            .json(&json!({ "inputs": inputs }));
        match self.call(req).await {
            Ok(_) => Ok(()),
            Err(e) if e.retryable() => Err(e),
            Err(e) => {
                for i in idx {
                    out[i] = RecordOutcome::Rejected {
                        reason: format!("contact written, follow-up task refused: {e}"),
                    };
                }
                Ok(())
            }
        }
    }

    fn inbound(&self, o: &Object) -> InboundLead {
        let mut lead = serde_json::Map::new();
        for (prop, field) in LEAD_PROPERTIES {
            if let Some(v) = o.prop(prop) {
                lead.insert((*field).into(), json!(v));
            }
        }
        lead.insert("lead_source".into(), json!("hubspot"));
        let changed_by_us = self
            .s
            .lead_id_property
            .as_deref()
            .is_some_and(|p| o.prop(p).is_some());
        InboundLead {
            crm_id: o.id.clone(),
            lead,
            modified: o
                .prop("lastmodifieddate")
                .or(o.updated_at.as_deref())
                .and_then(|t| t.parse().ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            changed_by_us,
        }
    }

    fn contact_properties(&self) -> Vec<&str> {
        let mut p: Vec<&str> = LEAD_PROPERTIES.iter().map(|(p, _)| *p).collect();
        p.push("lastmodifieddate");
        if let Some(l) = &self.s.lead_id_property {
            p.push(l);
        }
        p
    }

    async fn search(
        &self,
        object: &str,
        modified_prop: &str,
        since: Option<Timestamp>,
        cursor: Option<&str>,
        properties: Vec<&str>,
    ) -> Result<(Vec<Object>, Option<String>), CallError> {
        let mut body = json!({
            "sorts": [{"propertyName": modified_prop, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": SEARCH_PAGE,
        });
        if let Some(s) = since {
            body["filterGroups"] = json!([{"filters": [{
                "propertyName": modified_prop,
                "operator": "GTE",
                "value": s.as_millisecond().to_string(),
            }]}]);
        }
        if let Some(c) = cursor {
            body["after"] = json!(c);
        }
        let req = self
            .http
            .post(self.url(&format!("/crm/v3/objects/{object}/search"))?)
            .json(&body);
        let (_, v) = self.call(req).await?;
        let page: PageAnswer<Object> = serde_json::from_value(v)
            .map_err(|e| CallError::Unavailable(format!("unreadable search answer: {e}")))?;
        Ok((
            page.results,
            page.paging.and_then(|p| p.next).map(|n| n.after),
        ))
    }
}

/// The properties one write sets: names, owner, and the mapped fields.
fn properties(w: &OwnerWrite) -> BTreeMap<&str, &str> {
    let mut p: BTreeMap<&str, &str> = BTreeMap::new();
    if let Some(v) = &w.first_name {
        p.insert("firstname", v);
    }
    if let Some(v) = &w.last_name {
        p.insert("lastname", v);
    }
    if let Some(v) = &w.company {
        p.insert("company", v);
    }
    if let Some(o) = &w.owner_crm_id {
        p.insert("hubspot_owner_id", o);
    }
    for (k, v) in &w.fields {
        p.insert(k, v);
    }
    p
}

fn transport(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else {
        CallError::Unavailable(e.to_string())
    }
}

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, CallError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(CallError::Unavailable(format!(
                "answer larger than {MAX_BODY} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `Retry-After` in seconds (HubSpot sends it on some 429s; the date form is not used).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn truthy(v: Option<&str>) -> bool {
    matches!(
        v.map(|s| s.trim().to_ascii_lowercase()).as_deref(),
        Some("true" | "yes" | "1" | "y" | "named")
    )
}

#[async_trait::async_trait]
impl CrmClient for HubSpot {
    fn provider(&self) -> &'static str {
        "hubspot"
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    /// Writes for the same email go in separate calls, in order (HubSpot refuses
    /// duplicate ids in one batch, and a later write must land after an earlier one).
    async fn upsert(&self, writes: &[OwnerWrite]) -> Result<Vec<RecordOutcome>, CallError> {
        let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; writes.len()];
        let mut left: Vec<usize> = (0..writes.len()).collect();
        while !left.is_empty() {
            let mut seen = HashSet::new();
            let (round, rest): (Vec<usize>, Vec<usize>) = left
                .iter()
                .partition(|&&i| seen.insert(writes[i].email.to_ascii_lowercase()));
            for chunk in round.chunks(MAX_BATCH) {
                let ws: Vec<&OwnerWrite> = chunk.iter().map(|&i| &writes[i]).collect();
                let got = self.upsert_round(&ws).await?;
                for (&i, o) in chunk.iter().zip(got) {
                    outcomes[i] = Some(o);
                }
            }
            left = rest;
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    async fn users(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> Result<Page<CrmUser>, CallError> {
        // Active owners first, then archived ones; the cursor says which list and where.
        let (archived, after) = match cursor.and_then(|c| c.split_once(':')) {
            Some(("x", a)) => (true, Some(a)),
            Some((_, a)) => (false, Some(a).filter(|a| !a.is_empty())),
            None => (false, None),
        };
        let mut url = self.url("/crm/v3/owners")?;
        url.query_pairs_mut()
            .append_pair("limit", &OWNERS_PAGE.to_string())
            .append_pair("archived", if archived { "true" } else { "false" });
        if let Some(a) = after.filter(|a| !a.is_empty()) {
            url.query_pairs_mut().append_pair("after", a);
        }
        let (_, v) = self.call(self.http.get(url)).await?;
        let page: PageAnswer<Owner> = serde_json::from_value(v)
            .map_err(|e| CallError::Unavailable(format!("unreadable owners answer: {e}")))?;
        let items = page
            .results
            .into_iter()
            .map(|o| CrmUser {
                name: [o.first_name.as_deref(), o.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                email: o.email.unwrap_or_default(),
                active: !o.archived,
                modified: o
                    .updated_at
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(Timestamp::UNIX_EPOCH),
                crm_id: o.id,
            })
            .filter(|u| since.is_none_or(|s| u.modified >= s))
            .collect();
        let next = match (page.paging.and_then(|p| p.next), archived) {
            (Some(n), false) => Some(format!("a:{}", n.after)),
            (Some(n), true) => Some(format!("x:{}", n.after)),
            (None, false) => Some("x:".to_string()),
            (None, true) => None,
        };
        Ok(Page { items, next })
    }

    async fn accounts(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> Result<Page<CrmAccount>, CallError> {
        let mut props = vec!["name", "domain", "hubspot_owner_id", "hs_lastmodifieddate"];
        if let Some(n) = &self.s.named_account_property {
            props.push(n);
        }
        let (objects, next) = self
            .search("companies", "hs_lastmodifieddate", since, cursor, props)
            .await?;
        let named = self.s.named_account_property.as_deref();
        let items = objects
            .iter()
            .map(|o| CrmAccount {
                crm_id: o.id.clone(),
                name: o.prop("name").unwrap_or_default().to_string(),
                domain: o.prop("domain").map(str::to_string),
                owner_crm_id: o.prop("hubspot_owner_id").map(str::to_string),
                named: named.is_some_and(|n| truthy(o.prop(n))),
                modified: o
                    .prop("hs_lastmodifieddate")
                    .or(o.updated_at.as_deref())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(Timestamp::UNIX_EPOCH),
            })
            .collect();
        Ok(Page { items, next })
    }

    async fn leads_since(
        &self,
        since: Timestamp,
        cursor: Option<&str>,
    ) -> Result<Page<InboundLead>, CallError> {
        let props = self.contact_properties();
        let (objects, next) = self
            .search("contacts", "lastmodifieddate", Some(since), cursor, props)
            .await?;
        Ok(Page {
            items: objects.iter().map(|o| self.inbound(o)).collect(),
            next,
        })
    }

    async fn leads_by_id(&self, ids: &[String]) -> Result<Vec<InboundLead>, CallError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_BATCH) {
            let body = json!({
                "properties": self.contact_properties(),
                "inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            });
            let req = self
                .http
                .post(self.url("/crm/v3/objects/contacts/batch/read")?)
                .json(&body);
            let (_, v) = self.call(req).await?;
            let answer: BatchAnswer = serde_json::from_value(v)
                .map_err(|e| CallError::Unavailable(format!("unreadable batch answer: {e}")))?;
            out.extend(answer.results.iter().map(|o| self.inbound(o)));
        }
        Ok(out)
    }

    fn headroom(&self) -> Headroom {
        self.headroom
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
