//! CRM sync (CRM-3): users/owners and accounts pulled incrementally by modification time
//! through any [`CrmClient`], page by page — each page and the position after it
//! (high-water mark, cursor) stored in one transaction — on a schedule and on demand
//! (`POST /v1/crm/sync`). After a pull the account overlay the sequencer routes with
//! ([`Shared::crm_accounts`]) is rebuilt from the stored rows, with owners mapped to reps
//! (`leadrouter_crm::mapping`): a changed owner in the CRM takes effect for the next
//! lead, without a config reload. At start the overlay is built from what is stored, so
//! a restart routes as before even while the CRM is unreachable.

use crate::sequencer::Shared;
use leadrouter_core::crm_accounts::{AccountPrecedence, CrmAccounts, SyncedAccount};
use leadrouter_crm::mapping::{self, MappingFinding, RepRef, UserMapping};
use leadrouter_crm::{CallError, CrmAccount, CrmClient, CrmUser};
use leadrouter_store::{CrmAccountRow, CrmUserRow, SyncPosition, SyncRows, from_micros, micros};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How the sync runs (the `[crm]` section fills this in).
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// Between scheduled pulls; zero: on demand only.
    pub interval: Duration,
    /// Which source wins for a domain both the config and the CRM hold.
    pub precedence: AccountPrecedence,
    /// Rep id → CRM user id or email (else matched by email).
    pub user_map: BTreeMap<String, String>,
    /// Pages read per kind and run (the rest continues from the stored cursor next run).
    pub max_pages: usize,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            interval: Duration::from_secs(300),
            precedence: AccountPrecedence::Crm,
            user_map: BTreeMap::new(),
            max_pages: 50,
        }
    }
}

/// What one run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SyncReport {
    pub provider: &'static str,
    /// Records read this run.
    pub users: usize,
    pub accounts: usize,
    pub pages: usize,
    /// Both reads reached their last page (false: the rest follows next run).
    pub complete: bool,
    /// Accounts the router now sees from the CRM.
    pub overlay_accounts: usize,
    /// Reps whose CRM user is deactivated.
    pub inactive_reps: Vec<String>,
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub finding: MappingFinding,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the CRM call failed: {0}")]
    Crm(#[from] CallError),
    #[error("storage failed: {0}")]
    Store(String),
}

/// The sync of one CRM connection.
pub struct CrmSync {
    client: Arc<dyn CrmClient>,
    settings: SyncSettings,
    shared: Arc<Shared>,
    /// One run at a time (schedule and API share it).
    running: tokio::sync::Mutex<()>,
    mapping: std::sync::Mutex<UserMapping>,
}

fn store_err(e: impl std::fmt::Display) -> SyncError {
    SyncError::Store(e.to_string())
}

impl CrmSync {
    pub fn new(
        client: Arc<dyn CrmClient>,
        settings: SyncSettings,
        shared: Arc<Shared>,
    ) -> Arc<CrmSync> {
        Arc::new(CrmSync {
            client,
            settings,
            shared,
            running: tokio::sync::Mutex::new(()),
            mapping: Default::default(),
        })
    }

    pub fn provider(&self) -> &'static str {
        self.client.provider()
    }

    /// The latest rep ↔ CRM user mapping findings (for `check` and the console).
    pub fn findings(&self) -> Vec<MappingFinding> {
        self.mapping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .findings
            .clone()
    }

    /// Pull users, then accounts, then rebuild the overlay.
    pub async fn run(&self) -> Result<SyncReport, SyncError> {
        let _one = self.running.lock().await;
        let (users, up, ud) = self.pull(Kind::Users).await?;
        let (accounts, ap, ad) = self.pull(Kind::Accounts).await?;
        let (overlay, mapping) = self.rebuild().await?;
        tracing::info!(
            provider = self.provider(),
            users,
            accounts,
            overlay,
            "CRM sync done"
        );
        Ok(SyncReport {
            provider: self.provider(),
            users,
            accounts,
            pages: up + ap,
            complete: ud && ad,
            overlay_accounts: overlay,
            inactive_reps: mapping
                .inactive_in_crm()
                .into_iter()
                .map(str::to_string)
                .collect(),
            findings: mapping
                .findings
                .iter()
                .map(|f| Finding {
                    finding: f.clone(),
                    message: f.message(),
                })
                .collect(),
        })
    }

    /// Read one kind from its stored position; returns (records, pages, complete).
    async fn pull(&self, kind: Kind) -> Result<(usize, usize, bool), SyncError> {
        let provider = self.provider();
        let store = &self.shared.store;
        let pos = store
            .crm_position(provider, kind.name())
            .await
            .map_err(store_err)?
            .unwrap_or_default();
        let mut high = pos.high_water;
        let (mut since, mut cursor) = match pos.cursor {
            Some(c) => (pos.cursor_since, Some(c)),
            None => (pos.high_water, None),
        };
        let (mut records, mut pages) = (0, 0);
        while pages < self.settings.max_pages.max(1) {
            let read = match kind {
                Kind::Users => self
                    .client
                    .users(since.map(from_micros), cursor.as_deref())
                    .await
                    .map(|p| {
                        let newest = p.items.iter().map(|u| micros(u.modified)).max();
                        (
                            SyncRows::Users(p.items.into_iter().map(user_row).collect()),
                            newest,
                            p.next,
                        )
                    }),
                Kind::Accounts => self
                    .client
                    .accounts(since.map(from_micros), cursor.as_deref())
                    .await
                    .map(|p| {
                        let newest = p.items.iter().map(|a| micros(a.modified)).max();
                        (
                            SyncRows::Accounts(p.items.into_iter().map(account_row).collect()),
                            newest,
                            p.next,
                        )
                    }),
            };
            let (rows, newest, next) = match read {
                Ok(r) => r,
                // A query cursor expires (Salesforce: 15 minutes unused): start the pass
                // again from the high-water mark; reading a record twice is harmless.
                Err(CallError::Invalid(m)) if cursor.is_some() => {
                    tracing::warn!(provider, kind = kind.name(), error = %m, "CRM cursor refused; restarting from the high-water mark");
                    cursor = None;
                    since = high;
                    continue;
                }
                Err(e) => {
                    let now = micros(self.shared.clock.now());
                    let _ = store
                        .crm_sync_failed(provider, kind.name(), &e.to_string(), now)
                        .await;
                    return Err(e.into());
                }
            };
            pages += 1;
            records += match &rows {
                SyncRows::Users(u) => u.len(),
                SyncRows::Accounts(a) => a.len(),
            };
            // Pages come in modification order, so the mark can move page by page.
            high = high.max(newest);
            let done = next.is_none();
            let position = SyncPosition {
                high_water: high,
                cursor: next.clone(),
                cursor_since: if done { None } else { since },
                last_error: None,
                updated_at: 0,
            };
            let now = micros(self.shared.clock.now());
            store
                .crm_put_page(provider, &rows, &position, now)
                .await
                .map_err(store_err)?;
            if done {
                return Ok((records, pages, true));
            }
            cursor = next;
        }
        Ok((records, pages, false))
    }

    /// Build the overlay and the mapping from the stored rows and the live config, and
    /// hand the overlay to the router. Returns the number of accounts in it.
    pub async fn rebuild(&self) -> Result<(usize, UserMapping), SyncError> {
        let provider = self.provider();
        let store = &self.shared.store;
        let cfg = self.shared.config.load_full();
        let (users, accounts, mapping) =
            stored_mapping(&**store, &cfg, provider, &self.settings.user_map).await?;
        let active: BTreeMap<&str, bool> = users
            .iter()
            .map(|u| (u.crm_id.as_str(), u.active))
            .collect();
        let overlay = CrmAccounts::new(
            provider,
            self.settings.precedence,
            accounts.iter().filter_map(|a| {
                let owner_crm = a.owner_crm_id.clone();
                // A deactivated CRM user's accounts route as ownerless and are flagged.
                let owner = owner_crm
                    .as_deref()
                    .filter(|o| active.get(o).copied().unwrap_or(false))
                    .and_then(|o| mapping.rep_of.get(o).cloned());
                Some(SyncedAccount {
                    crm_id: a.crm_id.clone(),
                    name: a.name.clone(),
                    domain: a.domain.clone()?,
                    owner,
                    owner_crm_id: owner_crm,
                    named: a.named,
                })
            }),
        );
        let n = overlay.len();
        self.shared.crm_accounts.store(Arc::new(overlay));
        *self.mapping.lock().unwrap_or_else(|e| e.into_inner()) = mapping.clone();
        Ok((n, mapping))
    }

    /// Build the overlay from what is stored, then pull on the schedule; a config
    /// reload (new reps) rebuilds the mapping within a few seconds.
    pub fn spawn(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.rebuild().await {
                tracing::error!(error = %e, "building the CRM account overlay from storage failed");
            }
            let mut version = me.shared.config.load().version.clone();
            let mut last_run: Option<std::time::Instant> = None;
            loop {
                let due = !me.settings.interval.is_zero()
                    && last_run.is_none_or(|t| t.elapsed() >= me.settings.interval);
                if due {
                    last_run = Some(std::time::Instant::now());
                    if let Err(e) = me.run().await {
                        tracing::warn!(provider = me.provider(), error = %e, "CRM sync failed; the overlay keeps what was stored");
                    }
                }
                let now_version = me.shared.config.load().version.clone();
                if now_version != version {
                    version = now_version;
                    let _one = me.running.lock().await;
                    if let Err(e) = me.rebuild().await {
                        tracing::error!(error = %e, "rebuilding the CRM account overlay failed");
                    }
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }
}

/// The stored users and accounts of `provider` and the rep ↔ CRM user mapping against
/// `cfg`'s reps (the sync and `leadrouter check --database` share it).
pub async fn stored_mapping(
    store: &dyn leadrouter_store::Store,
    cfg: &leadrouter_core::config::CompiledConfig,
    provider: &str,
    user_map: &BTreeMap<String, String>,
) -> Result<(Vec<CrmUser>, Vec<CrmAccount>, UserMapping), SyncError> {
    let users: Vec<CrmUser> = store
        .crm_users(provider)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(crm_user)
        .collect();
    let accounts: Vec<CrmAccount> = store
        .crm_accounts(provider)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(crm_account)
        .collect();
    let reps: Vec<RepRef> = cfg
        .reps
        .iter()
        .map(|r| RepRef {
            id: r.id.clone(),
            email: r.email.clone(),
            active: r.active,
        })
        .collect();
    let mapping = mapping::map_users(&reps, &users, &accounts, user_map);
    Ok((users, accounts, mapping))
}

/// `rep_id=crm_user_id_or_email;…` (`LEADROUTER_CRM_USER_MAP`).
pub fn parse_user_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (rep, user) = pair.split_once('=').ok_or_else(|| {
            format!("LEADROUTER_CRM_USER_MAP entry `{pair}`: write rep_id=crm_user_id_or_email, entries separated by `;`")
        })?;
        out.insert(rep.trim().to_string(), user.trim().to_string());
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    Users,
    Accounts,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Accounts => "accounts",
        }
    }
}

fn user_row(u: CrmUser) -> CrmUserRow {
    CrmUserRow {
        crm_id: u.crm_id,
        email: u.email,
        name: u.name,
        active: u.active,
        modified: micros(u.modified),
    }
}

fn account_row(a: CrmAccount) -> CrmAccountRow {
    CrmAccountRow {
        crm_id: a.crm_id,
        name: a.name,
        domain: a.domain,
        owner_crm_id: a.owner_crm_id,
        named: a.named,
        modified: micros(a.modified),
    }
}

fn crm_user(u: CrmUserRow) -> CrmUser {
    CrmUser {
        crm_id: u.crm_id,
        email: u.email,
        name: u.name,
        active: u.active,
        modified: from_micros(u.modified),
    }
}

fn crm_account(a: CrmAccountRow) -> CrmAccount {
    CrmAccount {
        crm_id: a.crm_id,
        name: a.name,
        domain: a.domain,
        owner_crm_id: a.owner_crm_id,
        named: a.named,
        modified: from_micros(a.modified),
    }
}

/// The interim wiring until `[crm]` carries these: a Salesforce connection and its sync
/// from `LEADROUTER_SALESFORCE_*` (docs/operations.md). `None` when
/// `LEADROUTER_SALESFORCE_CLIENT_ID` is unset.
pub fn salesforce_from_env(shared: Arc<Shared>) -> anyhow::Result<Option<Arc<CrmSync>>> {
    use anyhow::Context;
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let Some(client_id) = var("LEADROUTER_SALESFORCE_CLIENT_ID") else {
        return Ok(None);
    };
    let private_key_pem = match (
        var("LEADROUTER_SALESFORCE_PRIVATE_KEY"),
        var("LEADROUTER_SALESFORCE_PRIVATE_KEY_FILE"),
    ) {
        (Some(k), _) => k,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("reading LEADROUTER_SALESFORCE_PRIVATE_KEY_FILE {path}"))?,
        (None, None) => anyhow::bail!(
            "LEADROUTER_SALESFORCE_CLIENT_ID is set but no private key: set LEADROUTER_SALESFORCE_PRIVATE_KEY or LEADROUTER_SALESFORCE_PRIVATE_KEY_FILE"
        ),
    };
    let settings = leadrouter_crm::salesforce::SalesforceSettings {
        login_url: var("LEADROUTER_SALESFORCE_LOGIN_URL").unwrap_or_else(|| "https://login.salesforce.com".into()),
        instance_url: var("LEADROUTER_SALESFORCE_INSTANCE_URL").unwrap_or_default(),
        client_id,
        username: var("LEADROUTER_SALESFORCE_USERNAME")
            .context("LEADROUTER_SALESFORCE_USERNAME (the integration user) is required with LEADROUTER_SALESFORCE_CLIENT_ID")?,
        private_key_pem,
        api_version: var("LEADROUTER_SALESFORCE_API_VERSION").unwrap_or_else(|| "62.0".into()),
        external_id_field: var("LEADROUTER_SALESFORCE_EXTERNAL_ID_FIELD").unwrap_or_else(|| "LeadRouter_Id__c".into()),
        task_external_id_field: var("LEADROUTER_SALESFORCE_TASK_EXTERNAL_ID_FIELD"),
        named_account_field: var("LEADROUTER_SALESFORCE_NAMED_ACCOUNT_FIELD"),
        timeout: Duration::from_secs(30),
    };
    let client = leadrouter_crm::salesforce::SalesforceClient::new(settings)
        .map_err(|e| anyhow::anyhow!("Salesforce settings: {e}"))?;
    let mut sync = SyncSettings::default();
    if let Some(s) = var("LEADROUTER_CRM_SYNC_INTERVAL_SECS") {
        sync.interval = Duration::from_secs(s.trim().parse().with_context(|| {
            format!("LEADROUTER_CRM_SYNC_INTERVAL_SECS `{s}` is not a number of seconds (0: on demand only)")
        })?);
    }
    if let Some(p) = var("LEADROUTER_CRM_ACCOUNT_PRECEDENCE") {
        sync.precedence = match p.trim() {
            "crm" => AccountPrecedence::Crm,
            "csv" => AccountPrecedence::Csv,
            other => {
                anyhow::bail!("LEADROUTER_CRM_ACCOUNT_PRECEDENCE `{other}`: write `crm` or `csv`")
            }
        };
    }
    if let Some(m) = var("LEADROUTER_CRM_USER_MAP") {
        sync.user_map = parse_user_map(&m).map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(Some(CrmSync::new(Arc::new(client), sync, shared)))
}
