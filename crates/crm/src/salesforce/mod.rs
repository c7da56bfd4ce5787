//! Salesforce (REST API v62.0 by default): the [`CrmClient`] over the OAuth 2.0 JWT
//! bearer flow (`auth.rs`), Lead upsert by an external-id field through sObject
//! Collections (≤ 200 records a call, `Sforce-Auto-Assign: FALSE` so the org's
//! assignment rules never overwrite our owner), optional Tasks upserted by their own
//! external id (a retry never makes a second Task), Users, Accounts and Leads through
//! SOQL by `LastModifiedDate` with `nextRecordsUrl` paging, and the Outbound Message
//! SOAP parser and answers ([`outbound`]).
//!
//! The access token is cached and refreshed once when a call answers
//! `INVALID_SESSION_ID`; `Sforce-Limit-Info` feeds [`Headroom`].

mod auth;
pub mod outbound;
pub mod wire;

use crate::model::*;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::Mutex;
use std::time::Duration;

/// The documented sObject Collections limit.
pub const MAX_BATCH: usize = 200;
/// Ids per `Id IN (…)` query (keeps the URL well under Salesforce's 16 KB limit).
const IDS_PER_QUERY: usize = 100;
/// Longest answer body read (a 2000-record query page is a few MB at most).
const MAX_BODY_BYTES: usize = 16 << 20;

/// What a Salesforce connection needs. Credentials come from the environment; the
/// caller (the `[crm]` config) fills this in.
#[derive(Clone, Debug)]
pub struct SalesforceSettings {
    /// Where the token is asked for, and the JWT audience:
    /// `https://login.salesforce.com`, `https://test.salesforce.com` or the My Domain URL.
    pub login_url: String,
    /// The org's instance URL (`https://acme.my.salesforce.com`); empty: the one the
    /// token endpoint names.
    pub instance_url: String,
    /// The connected app's consumer key (the JWT `iss`).
    pub client_id: String,
    /// The integration user's username (the JWT `sub`).
    pub username: String,
    /// The private key (PEM) whose certificate is uploaded to the connected app.
    pub private_key_pem: String,
    /// `62.0`.
    pub api_version: String,
    /// The Lead external-id field that holds leadrouter's lead id (`LeadRouter_Id__c`).
    pub external_id_field: String,
    /// The Task external-id field that holds the write id (`LeadRouter_Write_Id__c`);
    /// tasks are only written when set.
    pub task_external_id_field: Option<String>,
    /// The Account checkbox that marks a named account (`Named_Account__c`); `None`:
    /// every account is a plain account.
    pub named_account_field: Option<String>,
    /// Timeout of each HTTP call (the token call included).
    pub timeout: Duration,
}

impl SalesforceSettings {
    fn audience(&self) -> &str {
        self.login_url.trim_end_matches('/')
    }
}

/// A Salesforce org connection.
pub struct SalesforceClient {
    settings: SalesforceSettings,
    http: reqwest::Client,
    session: tokio::sync::Mutex<Option<auth::Session>>,
    headroom: Mutex<Headroom>,
}

const USER_FIELDS: &str = "Id, Username, Email, Name, IsActive, LastModifiedDate";
const LEAD_SELECT: &str = "Id, Email, FirstName, LastName, Company, Title, Phone, Country, State, PostalCode, LeadSource, NumberOfEmployees, Industry, OwnerId, LastModifiedDate, LastModifiedById";

impl SalesforceClient {
    pub fn new(settings: SalesforceSettings) -> Result<SalesforceClient, CallError> {
        for (name, v) in [
            ("login_url", &settings.login_url),
            ("client_id", &settings.client_id),
            ("username", &settings.username),
            ("private_key_pem", &settings.private_key_pem),
            ("external_id_field", &settings.external_id_field),
        ] {
            if v.trim().is_empty() {
                return Err(CallError::Invalid(format!("Salesforce {name} is empty")));
            }
        }
        if !valid_version(&settings.api_version) {
            return Err(CallError::Invalid(format!(
                "Salesforce api_version `{}` is not like `62.0` (46.0 or later: sObject Collections upsert)",
                settings.api_version
            )));
        }
        // Reject an unusable key now, not at the first write.
        auth::assertion(&settings, 0)?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| CallError::Invalid(format!("HTTP client: {e}")))?;
        Ok(SalesforceClient {
            settings,
            http,
            session: tokio::sync::Mutex::new(None),
            headroom: Mutex::new(Headroom::default()),
        })
    }

    /// The integration user's Id (known after the first call), for loop prevention.
    pub async fn integration_user(&self) -> Result<Option<String>, CallError> {
        Ok(self.session(false).await?.user_id)
    }

    /// The org's id (from the identity URL), once a session is granted.
    pub async fn organization(&self) -> Result<Option<String>, CallError> {
        Ok(self.session(false).await?.org_id)
    }

    async fn session(&self, renew: bool) -> Result<auth::Session, CallError> {
        let mut s = self.session.lock().await;
        if renew || s.is_none() {
            *s = Some(auth::grant(&self.http, &self.settings).await?);
        }
        Ok(s.clone().expect("set above"))
    }

    /// One data call; on `INVALID_SESSION_ID` the session is renewed and the call made
    /// once more. `path` is relative to the instance (`/services/data/…`).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let mut renewed = false;
        loop {
            let session = self.session(false).await?;
            let mut url =
                url::Url::parse(&format!("{}{path}", session.instance_url)).map_err(|e| {
                    CallError::Invalid(format!("instance URL {}: {e}", session.instance_url))
                })?;
            if let Some(q) = query {
                url.query_pairs_mut().append_pair("q", q);
            }
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&session.token)
                .header("Sforce-Auto-Assign", "FALSE");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(wire::transport)?;
            let status = resp.status().as_u16();
            if let Some(h) = resp
                .headers()
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
                .and_then(wire::parse_limit_info)
            {
                *self.headroom.lock().unwrap_or_else(|e| e.into_inner()) = h;
            }
            let retry_after = wire::retry_after(resp.headers());
            let bytes = read_limited(resp).await?;
            if (200..300).contains(&status) {
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_slice(&bytes).map_err(|e| {
                    CallError::Invalid(format!(
                        "Salesforce answered {status} with a body that is not JSON: {e}"
                    ))
                });
            }
            if status == 401 && !renewed && wire::error_code(&bytes).0 == "INVALID_SESSION_ID" {
                renewed = true;
                self.session(true).await?;
                continue;
            }
            return Err(wire::classify(status, retry_after, &bytes));
        }
    }

    async fn query_page(
        &self,
        soql: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<Map<String, Value>>, Option<String>), CallError> {
        let v = match cursor {
            Some(next) => {
                // Only follow a cursor to this org's query resource.
                if !next.starts_with("/services/data/v")
                    || next.contains("..")
                    || next.contains("//")
                {
                    return Err(CallError::Invalid(format!("not a nextRecordsUrl: {next}")));
                }
                self.call(reqwest::Method::GET, next, None, None).await?
            }
            None => {
                let path = format!("/services/data/v{}/query", self.settings.api_version);
                self.call(reqwest::Method::GET, &path, Some(soql), None)
                    .await?
            }
        };
        let records = v["records"]
            .as_array()
            .ok_or_else(|| CallError::Invalid("query answer without records".into()))?
            .iter()
            .filter_map(|r| r.as_object().cloned())
            .collect();
        let next = if v["done"].as_bool() == Some(false) {
            v["nextRecordsUrl"].as_str().map(str::to_string)
        } else {
            None
        };
        Ok((records, next))
    }

    fn lead_record(&self, w: &OwnerWrite) -> Value {
        let mut r = Map::new();
        r.insert("attributes".into(), json!({ "type": "Lead" }));
        r.insert(self.settings.external_id_field.clone(), json!(w.lead_id));
        if !w.email.is_empty() {
            r.insert("Email".into(), json!(w.email));
        }
        if let Some(v) = &w.first_name {
            r.insert("FirstName".into(), json!(v));
        }
        // LastName and Company are required on a new Lead; Web-to-Lead's placeholder is
        // used when the lead did not give them.
        let last = w.last_name.clone().filter(|s| !s.trim().is_empty());
        r.insert(
            "LastName".into(),
            json!(last.unwrap_or_else(|| "[not provided]".into())),
        );
        let company = w.company.clone().filter(|s| !s.trim().is_empty());
        r.insert(
            "Company".into(),
            json!(company.unwrap_or_else(|| "[not provided]".into())),
        );
        if let Some(o) = &w.owner_crm_id {
            r.insert("OwnerId".into(), json!(o));
        }
        for (k, v) in &w.fields {
            r.insert(k.clone(), json!(v));
        }
        Value::Object(r)
    }

    /// The update of a Lead that started in Salesforce, by its record id: our external
    /// id, the owner and the mapped fields; its own name and company are not replaced by
    /// placeholders.
    fn lead_update(&self, w: &OwnerWrite, id: &str) -> Value {
        let mut r = Map::new();
        r.insert("attributes".into(), json!({ "type": "Lead" }));
        r.insert("id".into(), json!(id));
        r.insert(self.settings.external_id_field.clone(), json!(w.lead_id));
        for (k, v) in [
            ("FirstName", &w.first_name),
            ("LastName", &w.last_name),
            ("Company", &w.company),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.trim().is_empty()) {
                r.insert(k.into(), json!(v));
            }
        }
        if let Some(o) = &w.owner_crm_id {
            r.insert("OwnerId".into(), json!(o));
        }
        for (k, v) in &w.fields {
            r.insert(k.clone(), json!(v));
        }
        Value::Object(r)
    }

    /// sObject Collections update (`PATCH /composite/sobjects`, ≤ 200 records, one
    /// SaveResult each).
    async fn update_collection(
        &self,
        records: Vec<Value>,
    ) -> Result<Vec<RecordOutcome>, CallError> {
        self.collection_call("composite/sobjects", "an update", records)
            .await
    }

    /// One sObject Collections `PATCH` to `tail` (under `/services/data/vNN/`): each
    /// record's outcome, in order; an answer without one result per record is invalid.
    async fn collection_call(
        &self,
        tail: &str,
        what: &str,
        records: Vec<Value>,
    ) -> Result<Vec<RecordOutcome>, CallError> {
        let n = records.len();
        let path = format!("/services/data/v{}/{tail}", self.settings.api_version);
        let body = json!({ "allOrNone": false, "records": records });
        let v = self
            .call(reqwest::Method::PATCH, &path, None, Some(&body))
            .await?;
        let results = v.as_array().filter(|a| a.len() == n).ok_or_else(|| {
            CallError::Invalid(format!(
                "Salesforce answered {what} of {n} records without {n} results"
            ))
        })?;
        Ok(results.iter().map(outcome).collect())
    }

    /// Leads written: those that started in Salesforce updated by their id, the others
    /// upserted by our external id; outcomes in the order of `chunk`.
    async fn write_leads(&self, chunk: &[OwnerWrite]) -> Result<Vec<RecordOutcome>, CallError> {
        let (known, new): (Vec<usize>, Vec<usize>) =
            (0..chunk.len()).partition(|&i| chunk[i].crm_record_id.is_some());
        let mut got: Vec<Option<RecordOutcome>> = vec![None; chunk.len()];
        if !new.is_empty() {
            let records = new.iter().map(|&i| self.lead_record(&chunk[i])).collect();
            let o = self
                .upsert_collection("Lead", &self.settings.external_id_field, records)
                .await?;
            for (i, o) in new.into_iter().zip(o) {
                got[i] = Some(o);
            }
        }
        if !known.is_empty() {
            let records = known
                .iter()
                .map(|&i| {
                    let w = &chunk[i];
                    self.lead_update(w, w.crm_record_id.as_deref().unwrap_or_default())
                })
                .collect();
            let o = self.update_collection(records).await?;
            for (i, o) in known.into_iter().zip(o) {
                got[i] = Some(o);
            }
        }
        Ok(got.into_iter().flatten().collect())
    }

    /// sObject Collections upsert by an external id field (≤ 200 records).
    async fn upsert_collection(
        &self,
        object: &str,
        field: &str,
        records: Vec<Value>,
    ) -> Result<Vec<RecordOutcome>, CallError> {
        self.collection_call(
            &format!("composite/sobjects/{object}/{field}"),
            "an upsert",
            records,
        )
        .await
    }
}

fn valid_version(v: &str) -> bool {
    v.split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .is_some_and(|(major, _)| major >= 46)
}

/// One UpsertResult → an outcome.
fn outcome(r: &Value) -> RecordOutcome {
    if r["success"] == true
        && let Some(id) = r["id"].as_str()
    {
        return RecordOutcome::Written {
            crm_id: id.to_string(),
        };
    }
    let reason = r["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    let fields = e["fields"].as_array().map(|f| {
                        f.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    });
                    match fields.filter(|f| !f.is_empty()) {
                        Some(f) => format!(
                            "{}: {} [{f}]",
                            e["statusCode"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        ),
                        None => format!(
                            "{}: {}",
                            e["statusCode"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "refused without an error".into());
    RecordOutcome::Rejected { reason }
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, CallError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(wire::transport)? {
        if out.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(CallError::Invalid(format!(
                "Salesforce answered more than {MAX_BODY_BYTES} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn since_clause(since: Option<Timestamp>) -> String {
    match since {
        Some(t) => format!(" WHERE LastModifiedDate >= {}", wire::soql_datetime(t)),
        None => String::new(),
    }
}

fn text(r: &Map<String, Value>, k: &str) -> Option<String> {
    r.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn modified(r: &Map<String, Value>) -> Timestamp {
    text(r, "LastModifiedDate")
        .and_then(|s| wire::parse_datetime(&s))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[async_trait::async_trait]
impl CrmClient for SalesforceClient {
    fn provider(&self) -> &'static str {
        "salesforce"
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    async fn upsert(&self, writes: &[OwnerWrite]) -> Result<Vec<RecordOutcome>, CallError> {
        let mut outcomes = Vec::with_capacity(writes.len());
        for chunk in writes.chunks(MAX_BATCH) {
            let mut got = self.write_leads(chunk).await?;
            if let Some(task_field) = &self.settings.task_external_id_field {
                // Tasks for the leads that were written, upserted by the write id.
                let mut idx = Vec::new();
                let mut tasks = Vec::new();
                for (i, (w, o)) in chunk.iter().zip(&got).enumerate() {
                    if let (Some(t), RecordOutcome::Written { crm_id }) = (&w.task, o) {
                        let mut r = Map::new();
                        r.insert("attributes".into(), json!({ "type": "Task" }));
                        r.insert(task_field.clone(), json!(w.write_id));
                        r.insert("Subject".into(), json!(t.subject));
                        r.insert("Description".into(), json!(t.body));
                        r.insert(
                            "ActivityDate".into(),
                            json!(t.due.strftime("%Y-%m-%d").to_string()),
                        );
                        r.insert("IsReminderSet".into(), json!(true));
                        r.insert(
                            "ReminderDateTime".into(),
                            json!(t.due.strftime("%Y-%m-%dT%H:%M:%S.000+0000").to_string()),
                        );
                        r.insert("WhoId".into(), json!(crm_id));
                        r.insert("Status".into(), json!("Not Started"));
                        r.insert("Priority".into(), json!("High"));
                        if let Some(o) = &w.owner_crm_id {
                            r.insert("OwnerId".into(), json!(o));
                        }
                        idx.push(i);
                        tasks.push(Value::Object(r));
                    }
                }
                if !tasks.is_empty() {
                    let task_outcomes = self.upsert_collection("Task", task_field, tasks).await?;
                    for (i, t) in idx.into_iter().zip(task_outcomes) {
                        if let RecordOutcome::Rejected { reason } = t {
                            let lead = match &got[i] {
                                RecordOutcome::Written { crm_id } => crm_id.clone(),
                                RecordOutcome::Rejected { .. } => String::new(),
                            };
                            got[i] = RecordOutcome::Rejected {
                                reason: format!(
                                    "Lead {lead} written; its Task was refused: {reason}"
                                ),
                            };
                        }
                    }
                }
            }
            outcomes.extend(got);
        }
        Ok(outcomes)
    }

    async fn users(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> Result<Page<CrmUser>, CallError> {
        let soql = format!(
            "SELECT {USER_FIELDS} FROM User{} ORDER BY LastModifiedDate, Id",
            since_clause(since)
        );
        let (records, next) = self.query_page(&soql, cursor).await?;
        let items = records
            .iter()
            .filter_map(|r| {
                Some(CrmUser {
                    crm_id: text(r, "Id")?,
                    email: text(r, "Email").unwrap_or_default(),
                    name: text(r, "Name").unwrap_or_default(),
                    active: r.get("IsActive").and_then(Value::as_bool).unwrap_or(false),
                    modified: modified(r),
                })
            })
            .collect();
        Ok(Page { items, next })
    }

    async fn accounts(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> Result<Page<CrmAccount>, CallError> {
        let named = self.settings.named_account_field.as_deref();
        let extra = named.map(|f| format!(", {f}")).unwrap_or_default();
        let soql = format!(
            "SELECT Id, Name, Website, OwnerId, LastModifiedDate{extra} FROM Account{} ORDER BY LastModifiedDate, Id",
            since_clause(since)
        );
        let (records, next) = self.query_page(&soql, cursor).await?;
        let items = records
            .iter()
            .filter_map(|r| {
                Some(CrmAccount {
                    crm_id: text(r, "Id")?,
                    name: text(r, "Name").unwrap_or_default(),
                    domain: text(r, "Website"),
                    owner_crm_id: text(r, "OwnerId"),
                    named: named.is_some_and(|f| r.get(f).and_then(Value::as_bool) == Some(true)),
                    modified: modified(r),
                })
            })
            .collect();
        Ok(Page { items, next })
    }

    async fn leads_since(
        &self,
        since: Timestamp,
        cursor: Option<&str>,
    ) -> Result<Page<InboundLead>, CallError> {
        let ext = &self.settings.external_id_field;
        let soql = format!(
            "SELECT {LEAD_SELECT}, {ext} FROM Lead{} ORDER BY LastModifiedDate, Id",
            since_clause(Some(since))
        );
        let (records, next) = self.query_page(&soql, cursor).await?;
        let us = self.session(false).await?.user_id;
        let items = records
            .iter()
            .filter_map(|r| wire::inbound_lead(r, us.as_deref(), ext))
            .collect();
        Ok(Page { items, next })
    }

    async fn leads_by_id(&self, ids: &[String]) -> Result<Vec<InboundLead>, CallError> {
        if let Some(bad) = ids.iter().find(|i| !wire::valid_id(i)) {
            return Err(CallError::Invalid(format!(
                "`{bad}` is not a Salesforce record id"
            )));
        }
        let ext = &self.settings.external_id_field;
        let mut out = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let list = chunk
                .iter()
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let soql = format!("SELECT {LEAD_SELECT}, {ext} FROM Lead WHERE Id IN ({list})");
            let mut cursor: Option<String> = None;
            loop {
                let (records, next) = self.query_page(&soql, cursor.as_deref()).await?;
                let us = self.session(false).await?.user_id;
                out.extend(
                    records
                        .iter()
                        .filter_map(|r| wire::inbound_lead(r, us.as_deref(), ext)),
                );
                match next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
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
