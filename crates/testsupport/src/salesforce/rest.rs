//! The org's REST answers: the token endpoint, sObject Collections upsert, SOQL queries
//! and their pages, each behind the checks Salesforce makes (session, API limit, down).

use super::{
    MAX_COLLECTION_RECORDS, OrgConfig, OrgState, Record, TEST_USERNAME, sf_datetime, soql,
};
use crate::lock;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wiremock::{Request, Respond, ResponseTemplate};

pub(super) struct Handler {
    pub(super) state: Arc<Mutex<OrgState>>,
    pub(super) config: OrgConfig,
    pub(super) base: String,
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
        if rest == "composite/sobjects" && method == "PATCH" {
            return self.update(st, req);
        }
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

    /// sObject Collections update (`PATCH /composite/sobjects`): up to 200 records, each
    /// with `attributes.type` and its record `id`; one SaveResult per record, in order
    /// (`allOrNone` false). Lead assignment rules run unless `Sforce-Auto-Assign: FALSE`.
    fn update(&self, st: &mut OrgState, req: &Request) -> (u16, Value) {
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
        let auto_assign = req
            .headers
            .get("sforce-auto-assign")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let integration = st
            .records
            .get("User")
            .and_then(|u| u.iter().find(|r| r["Username"] == TEST_USERNAME))
            .and_then(|u| u["Id"].as_str().map(str::to_string))
            .unwrap_or_default();
        let fail = |code: &str, message: &str, fields: &[&str]| json!({ "success": false, "errors": [{ "statusCode": code, "message": message, "fields": fields }] });
        let mut results = Vec::new();
        for r in records {
            let object = r["attributes"]["type"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let id = r
                .get("id")
                .or_else(|| r.get("Id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if object != "Lead" || id.is_empty() {
                results.push(fail(
                    "MALFORMED_ID",
                    "a Lead with its id is required",
                    &["Id"],
                ));
                continue;
            }
            let fields: Vec<(&String, &Value)> = r
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !matches!(k.as_str(), "attributes" | "id" | "Id"))
                .collect();
            if let Some((k, _)) = fields.iter().find(|(k, _)| !self.field_exists("Lead", k)) {
                return (
                    400,
                    error_list(
                        "INVALID_FIELD",
                        &format!("No such column '{k}' on sobject of type Lead"),
                    ),
                );
            }
            if let Some(o) = r.get("OwnerId").and_then(Value::as_str) {
                let active = st
                    .records
                    .get("User")
                    .and_then(|u| u.iter().find(|u| u["Id"] == o))
                    .map(|u| u["IsActive"] == true);
                match active {
                    None => {
                        results.push(fail(
                            "INVALID_CROSS_REFERENCE_KEY",
                            &format!("invalid cross reference id: {o}"),
                            &["OwnerId"],
                        ));
                        continue;
                    }
                    Some(false) => {
                        results.push(fail(
                            "INACTIVE_OWNER_OR_USER",
                            "operation performed with inactive user",
                            &["OwnerId"],
                        ));
                        continue;
                    }
                    Some(true) => {}
                }
            }
            let now = st.stamp();
            let Some(rec) = st
                .records
                .get_mut("Lead")
                .and_then(|l| l.iter_mut().find(|x| x["Id"] == id.as_str()))
            else {
                results.push(fail("ENTITY_IS_DELETED", "entity is deleted", &[]));
                continue;
            };
            for (k, v) in &fields {
                rec.insert((*k).clone(), (*v).clone());
            }
            if auto_assign && let Some(owner) = &self.config.assignment_rule_owner {
                rec.insert("OwnerId".into(), json!(owner));
            }
            rec.insert("LastModifiedDate".into(), json!(sf_datetime(now)));
            rec.insert("LastModifiedById".into(), json!(integration));
            st.counters.leads_updated += 1;
            results.push(json!({ "id": id, "success": true, "errors": [] }));
        }
        (200, Value::Array(results))
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
