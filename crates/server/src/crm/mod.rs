//! The CRM connection in the service (CRM-1..2): the runtime built from `[crm]` (the
//! client, the field map, the rep → CRM owner directory), the provider-neutral write the
//! sequencer puts in `crm_outbox` with each change, the write-back worker
//! ([`writeback`]), and the metrics both report. Routing never waits for the CRM: the
//! sequencer only adds a row to its transaction; everything after is the worker's.

pub mod poller;
pub mod sync;
pub mod writeback;

use arc_swap::{ArcSwap, ArcSwapOption};
use jiff::Timestamp;
use leadrouter_core::config::{CompiledConfig, ConfigError};
use leadrouter_core::lifecycle::DecisionKind;
use leadrouter_crm::config::{Credentials, CrmConfig};
use leadrouter_crm::{CrmClient, OwnerWrite, TaskSpec};
use leadrouter_store::{CrmRow, LeadRecord, from_micros, micros};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything the CRM connection needs for one config version.
pub struct CrmRuntime {
    pub config: CrmConfig,
    pub client: Arc<dyn CrmClient>,
    /// CRM owners by lower-cased email (active only), from the last owners read: how a
    /// rep without a `[crm.users]` entry is matched.
    pub owners_by_email: ArcSwap<BTreeMap<String, String>>,
    /// `[notify] base_url`, for the console link written to the CRM.
    pub console_base: String,
    /// Rep id → email, from the routing config.
    pub rep_emails: BTreeMap<String, String>,
}

impl CrmRuntime {
    /// [`CrmRuntime::try_build`] with the errors formatted for the serve/reload messages.
    pub fn build(cfg: &CompiledConfig) -> Result<Option<CrmRuntime>, String> {
        Self::try_build(cfg).map_err(|e| {
            e.iter()
                .map(|x| format!("  [crm] {x}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// Parse `[crm]` and build its client (secrets from the process environment).
    /// `serve`, a reload and `leadrouter check` all call this.
    pub fn try_build(cfg: &CompiledConfig) -> Result<Option<CrmRuntime>, Vec<ConfigError>> {
        let env = |k: &str| std::env::var(k).ok();
        let Some(config) = CrmConfig::parse(&cfg.source, &env)? else {
            return Ok(None);
        };
        let errs = config.check_reps(&cfg.source, cfg.reps.iter().map(|r| r.id.as_str()));
        if !errs.is_empty() {
            return Err(errs);
        }
        let client: Arc<dyn CrmClient> = match &config.credentials {
            Credentials::HubSpot(h) => {
                let base_url = config.base_url.clone().unwrap_or_else(|| {
                    leadrouter_crm::hubspot::DEFAULT_BASE_URL
                        .parse()
                        .expect("the default URL parses")
                });
                let settings = leadrouter_crm::hubspot::HubSpotSettings {
                    base_url,
                    token: h.token.0.clone(),
                    timeout: config.timeout,
                    named_account_property: config.named_account_property.clone(),
                    lead_id_property: config.fields.lead_id.clone(),
                };
                let c = leadrouter_crm::hubspot::HubSpot::new(settings)
                    .map_err(|e| vec![build_error(cfg, &config, format!("HubSpot client: {e}"))])?;
                Arc::new(c)
            }
            Credentials::Salesforce(sf) => {
                // `base_url` overrides the login URL (sandboxes, tests); the instance URL
                // is the configured one or the one the token endpoint names.
                let login_url = config
                    .base_url
                    .clone()
                    .unwrap_or_else(|| sf.login_url.clone());
                let settings = leadrouter_crm::salesforce::SalesforceSettings {
                    login_url: login_url.as_str().trim_end_matches('/').to_string(),
                    instance_url: sf
                        .instance_url
                        .as_ref()
                        .map(|u| u.as_str().trim_end_matches('/').to_string())
                        .unwrap_or_default(),
                    client_id: sf.client_id.0.clone(),
                    username: sf.username.clone(),
                    private_key_pem: sf.private_key_pem.0.clone(),
                    api_version: "62.0".into(),
                    external_id_field: config
                        .fields
                        .lead_id
                        .clone()
                        .unwrap_or_else(|| "LeadRouter_Id__c".into()),
                    // Tasks are upserted by the write id, so a retry never adds a second.
                    task_external_id_field: config
                        .task
                        .then(|| "LeadRouter_Write_Id__c".to_string()),
                    named_account_field: config.named_account_property.clone(),
                    timeout: config.timeout,
                };
                let c =
                    leadrouter_crm::salesforce::SalesforceClient::new(settings).map_err(|e| {
                        vec![build_error(cfg, &config, format!("Salesforce client: {e}"))]
                    })?;
                Arc::new(c)
            }
        };
        let console_base = leadrouter_notify::NotifyConfig::parse(&cfg.source)
            .map(|n| n.base_url.trim_end_matches('/').to_string())
            .unwrap_or_default();
        let rep_emails = cfg
            .reps
            .iter()
            .filter_map(|r| r.email.as_ref().map(|e| (r.id.clone(), e.clone())))
            .collect();
        Ok(Some(CrmRuntime {
            config,
            client,
            owners_by_email: ArcSwap::from_pointee(BTreeMap::new()),
            console_base,
            rep_emails,
        }))
    }

    /// The CRM owner id for a rep, if it maps to one.
    pub fn owner_for(&self, rep: &str) -> Option<String> {
        let by_email = self.owners_by_email.load();
        self.config
            .crm_user(rep, self.rep_emails.get(rep).map(String::as_str), &by_email)
            .map(str::to_string)
    }

    /// The CRM write for a stored row's payload, with owner and fields mapped now (so a
    /// mapping fixed after a failure applies to the retry).
    pub fn owner_write(&self, row: &CrmRow) -> Result<OwnerWrite, String> {
        let p: CrmPayload = serde_json::from_value(row.payload.clone())
            .map_err(|e| format!("stored write is unreadable: {e}"))?;
        let owner_crm_id = match &p.owner {
            Some(rep) => Some(self.owner_for(rep).ok_or_else(|| {
                format!("rep {rep} maps to no CRM user: add it to [crm.users] or give the rep the email of a CRM user")
            })?),
            None => None,
        };
        let f = &self.config.fields;
        let mut fields = BTreeMap::new();
        let mut put = |name: &Option<String>, v: Option<String>| {
            if let (Some(n), Some(v)) = (name, v) {
                fields.insert(n.clone(), v);
            }
        };
        put(&f.tier, Some(p.tier.clone()));
        put(&f.segment, p.segment.clone());
        put(&f.score, Some(p.score.to_string()));
        put(&f.reason, Some(p.reason.clone()));
        put(&f.lead_id, Some(p.lead_id.clone()));
        let link = (!self.console_base.is_empty())
            .then(|| format!("{}/console/leads/{}", self.console_base, p.lead_id));
        put(&f.console_link, link);
        put(&f.meeting, p.meeting.clone());
        let task = match (&p.contact_by, &owner_crm_id) {
            (Some(due), Some(_)) if self.config.task && p.assigns() => Some(TaskSpec {
                subject: format!(
                    "Contact {} (routed by leadrouter)",
                    p.name().unwrap_or_else(|| p.email.clone())
                ),
                body: p.reason.clone(),
                due: from_micros(*due),
            }),
            _ => None,
        };
        Ok(OwnerWrite {
            write_id: row.id.clone(),
            lead_id: p.lead_id,
            email: p.email,
            first_name: p.first_name,
            last_name: p.last_name,
            company: p.company,
            owner_crm_id,
            fields,
            task,
            crm_record_id: p.crm_record_id,
        })
    }
}

fn build_error(cfg: &CompiledConfig, c: &CrmConfig, message: String) -> ConfigError {
    ConfigError {
        file: cfg.source.path.clone(),
        line: Some(c.line),
        field: "crm.provider".into(),
        value: Some(c.provider.as_str().into()),
        message,
        fix: None,
    }
}

/// The provider-neutral write stored in `crm_outbox.payload`: what leadrouter knows
/// about the lead after the change. CRM ids are resolved when it is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrmPayload {
    pub kind: String,
    pub lead_id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    /// The owning rep's id (None: the lead is in a queue; the CRM owner is left as is).
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub tier: String,
    pub segment: Option<String>,
    pub score: i64,
    pub reason: String,
    pub status: String,
    /// SLA contact-by time (microseconds), the task's due date.
    pub contact_by: Option<i64>,
    /// The CRM record the lead came from (a Salesforce Lead's Id, kept by the Outbound
    /// Message intake as the custom field `salesforce_id`): written back to that record.
    #[serde(default)]
    pub crm_record_id: Option<String>,
    /// A meeting change (issue 22): the meeting's start (RFC 3339, UTC) or `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<String>,
}

impl CrmPayload {
    /// Does this change give the lead a (new) owner who should get a task?
    fn assigns(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "route" | "resubmission" | "recycle" | "manual" | "sla_reassign"
        )
    }

    fn name(&self) -> Option<String> {
        let n: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        (!n.is_empty()).then(|| n.join(" "))
    }
}

/// The changes written back: a decision, a manual or SLA reassignment, a
/// disqualification, an outcome (alerts and accept/contact marks are not).
pub fn writes_back(kind: DecisionKind) -> bool {
    matches!(
        kind,
        DecisionKind::Route
            | DecisionKind::Resubmission
            | DecisionKind::Recycle
            | DecisionKind::Manual
            | DecisionKind::SlaReassign
            | DecisionKind::Disqualify
            | DecisionKind::Outcome
            | DecisionKind::Meeting
    )
}

/// The `crm_outbox` row for a change to `lead` (as it is after the change), or `None`
/// when the change is not written back or the lead has no email (HubSpot upserts by
/// email; such leads are counted in `/metrics`).
pub fn row_for(
    crm: &CrmState,
    lead: &LeadRecord,
    kind: DecisionKind,
    reason: &str,
    meeting: Option<String>,
    now: Timestamp,
) -> Option<CrmRow> {
    if !writes_back(kind) {
        return None;
    }
    let Some(email) = lead
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        crm.metrics.skipped_no_email.inc();
        return None;
    };
    let text = |k: &str| {
        lead.payload
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let payload = CrmPayload {
        kind: kind.as_str().to_string(),
        lead_id: lead.id.clone(),
        email: email.to_string(),
        first_name: text("first_name"),
        last_name: text("last_name"),
        company: text("company"),
        owner: lead.owner.clone(),
        queue: lead.queue.clone(),
        tier: lead.tier.clone(),
        segment: lead.segment.clone(),
        score: lead.score,
        reason: reason.to_string(),
        status: lead.status.as_str().to_string(),
        contact_by: lead.contact_by,
        crm_record_id: lead
            .payload
            .pointer("/fields/salesforce_id")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty() && s.len() <= 18)
            .map(str::to_string),
        meeting,
    };
    let value = serde_json::to_value(&payload).ok()?;
    Some(CrmRow::new(
        uuid::Uuid::now_v7().to_string(),
        lead.id.clone(),
        kind.as_str().to_string(),
        value,
        micros(now),
    ))
}

/// The CRM connection's shared state: the runtime in force (none without `[crm]`), the
/// worker's wake-up, and the metrics.
pub struct CrmState {
    pub runtime: ArcSwapOption<CrmRuntime>,
    pub wake: tokio::sync::Notify,
    pub metrics: CrmMetrics,
}

impl CrmState {
    /// No CRM connection and no metrics registered (benches, tools).
    pub fn off() -> CrmState {
        CrmState {
            runtime: ArcSwapOption::empty(),
            wake: tokio::sync::Notify::new(),
            metrics: CrmMetrics::new(),
        }
    }

    pub fn new(runtime: Option<CrmRuntime>, metrics: &crate::metrics::Metrics) -> CrmState {
        CrmState {
            runtime: ArcSwapOption::from(runtime.map(Arc::new)),
            wake: tokio::sync::Notify::new(),
            metrics: CrmMetrics::register(metrics),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// `/metrics`: write-backs by outcome, CRM calls by result, the lag from change to CRM
/// acknowledgment, rows pending and dead, the CRM's reported headroom.
pub struct CrmMetrics {
    pub writes: Family<OutcomeLabels, Counter>,
    pub calls: Family<OutcomeLabels, Counter>,
    pub lag: Histogram,
    pub pending: Gauge,
    pub dead: Gauge,
    pub headroom: Gauge,
    pub skipped_no_email: Counter,
}

impl CrmMetrics {
    fn new() -> CrmMetrics {
        CrmMetrics {
            writes: Family::default(),
            calls: Family::default(),
            lag: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
            pending: Gauge::default(),
            dead: Gauge::default(),
            headroom: Gauge::default(),
            skipped_no_email: Counter::default(),
        }
    }

    fn register(m: &crate::metrics::Metrics) -> CrmMetrics {
        let c = CrmMetrics::new();
        m.register(
            "crm_writes",
            "CRM write-backs by outcome (done, rejected, retry, dead)",
            c.writes.clone(),
        );
        m.register(
            "crm_calls",
            "CRM upsert calls by result (ok, rate_limited, unavailable, timeout, auth, invalid)",
            c.calls.clone(),
        );
        m.register(
            "crm_writeback_lag_seconds",
            "From the change to the CRM's acknowledgment",
            c.lag.clone(),
        );
        m.register(
            "crm_outbox_pending",
            "CRM write-backs waiting",
            c.pending.clone(),
        );
        m.register(
            "crm_outbox_dead",
            "CRM write-backs dead-lettered (console: /console/crm)",
            c.dead.clone(),
        );
        m.register(
            "crm_rate_limit_remaining",
            "Calls left in the CRM's rate-limit window, as it last reported",
            c.headroom.clone(),
        );
        m.register(
            "crm_skipped_no_email",
            "Changes not written back because the lead has no email",
            c.skipped_no_email.clone(),
        );
        c
    }

    pub fn write(&self, outcome: &str) {
        self.writes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn call(&self, outcome: &str) {
        self.calls
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }
}
