//! HubSpot CRM v3 request and response bodies, as far as leadrouter reads and writes
//! them (serde models of the calls we make; unknown fields are ignored).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct UpsertBody<'a> {
    pub inputs: Vec<UpsertInput<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertInput<'a> {
    pub id_property: &'static str,
    pub id: &'a str,
    pub properties: BTreeMap<&'a str, &'a str>,
    /// HubSpot echoes it back on the result: our outbox row id.
    pub object_write_trace_id: &'a str,
}

/// The answer of a batch call (200, or 207 with `errors`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BatchAnswer {
    #[serde(default)]
    pub results: Vec<Object>,
    #[serde(default)]
    pub errors: Vec<BatchError>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    pub id: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
}

impl Object {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .filter(|v| !v.is_empty())
    }
}

/// One record's error in a batch answer: `context.id` names the input.
#[derive(Deserialize, Clone, Debug)]
pub struct BatchError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

impl BatchError {
    /// `CODE: message` (the first detail's code, when HubSpot gives one).
    pub fn reason(&self) -> String {
        match self
            .errors
            .iter()
            .find_map(|e| e.get("code").and_then(Value::as_str))
        {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// HubSpot's error body for a failed call (401, 400, 429, …).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub category: Option<String>,
}

/// A search or list page.
#[derive(Deserialize)]
pub struct PageAnswer<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Deserialize)]
pub struct Paging {
    pub next: Option<NextPage>,
}

#[derive(Deserialize)]
pub struct NextPage {
    pub after: String,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub updated_at: Option<String>,
}
