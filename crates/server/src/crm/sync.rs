//! CRM sync (CRM-3): users/owners and accounts pulled incrementally by modification time
//! through the `[crm]` connection's [`CrmClient`] (HubSpot or Salesforce), page by page —
//! each page and the position after it (high-water mark, cursor) stored in one
//! transaction — every `[crm] sync_every`, after a reload, and on demand
//! (`POST /v1/crm/sync`). After a pull the account overlay the sequencer routes with
//! ([`Shared::crm_accounts`]) is rebuilt from the stored rows, with owners mapped to reps
//! (`leadrouter_crm::mapping`, `[crm.users]` first, then by email): a changed owner in
//! the CRM takes effect for the next lead, without a config reload. At start the overlay
//! is built from what is stored, so a restart routes as before even while the CRM is
//! unreachable. `[crm] accounts` says which source wins (docs/crm.md "Sync").

use super::CrmRuntime;
use crate::sequencer::Shared;
use leadrouter_core::crm_accounts::{CrmAccounts, SyncedAccount};
use leadrouter_crm::config::{AccountSource, CrmConfig};
use leadrouter_crm::mapping::{self, MappingFinding, RepRef, UserMapping};
use leadrouter_crm::{CallError, CrmAccount, CrmClient, CrmUser};
use leadrouter_store::{CrmAccountRow, CrmUserRow, SyncPosition, SyncRows, from_micros, micros};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pages read per kind and run (the rest continues from the stored cursor next run).
const MAX_PAGES: usize = 50;
/// How often the schedule looks at the runtime (a reload, a due run).
const TICK: Duration = Duration::from_secs(2);
/// After a failed scheduled run, try again this soon (not a whole `sync_every` later).
const RETRY_FAILED: Duration = Duration::from_secs(60);

/// What one run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SyncReport {
    pub provider: &'static str,
    /// Which source wins for a domain both hold (`[crm] accounts`).
    pub accounts_source: &'static str,
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

impl Finding {
    pub fn of(f: &MappingFinding) -> Finding {
        Finding {
            finding: f.clone(),
            message: f.message(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no CRM connection is configured ([crm] in the routing config; docs/crm.md)")]
    NotConfigured,
    #[error("the CRM call failed: {0}")]
    Crm(#[from] CallError),
    #[error("storage failed: {0}")]
    Store(String),
}

/// The sync of the `[crm]` connection in force (none without `[crm]`: then the overlay
/// is empty and runs answer [`SyncError::NotConfigured`]).
pub struct CrmSync {
    shared: Arc<Shared>,
    /// One run at a time (schedule and API share it).
    running: tokio::sync::Mutex<()>,
    mapping: std::sync::Mutex<UserMapping>,
}

fn store_err(e: impl std::fmt::Display) -> SyncError {
    SyncError::Store(e.to_string())
}

impl CrmSync {
    pub fn new(shared: Arc<Shared>) -> Arc<CrmSync> {
        Arc::new(CrmSync {
            shared,
            running: tokio::sync::Mutex::new(()),
            mapping: Default::default(),
        })
    }

    /// The latest rep ↔ CRM user mapping findings (for `check` and the console).
    pub fn findings(&self) -> Vec<MappingFinding> {
        self.mapping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .findings
            .clone()
    }

    /// Pull users, then accounts (unless `[crm] accounts = "config_only"`), then rebuild
    /// the overlay.
    pub async fn run(&self) -> Result<SyncReport, SyncError> {
        let _one = self.running.lock().await;
        let rt = self
            .shared
            .crm
            .runtime
            .load_full()
            .ok_or(SyncError::NotConfigured)?;
        let client = &*rt.client;
        let (users, up, ud) = self.pull(client, Kind::Users).await?;
        let (accounts, ap, ad) = match rt.config.accounts {
            AccountSource::ConfigOnly => (0, 0, true),
            _ => self.pull(client, Kind::Accounts).await?,
        };
        let (overlay, mapping) = self.rebuild_with(Some(&rt)).await?;
        tracing::info!(
            provider = client.provider(),
            users,
            accounts,
            overlay,
            "CRM sync done"
        );
        Ok(SyncReport {
            provider: client.provider(),
            accounts_source: rt.config.accounts.as_str(),
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
            findings: mapping.findings.iter().map(Finding::of).collect(),
        })
    }

    /// Read one kind from its stored position; returns (records, pages, complete).
    async fn pull(
        &self,
        client: &dyn CrmClient,
        kind: Kind,
    ) -> Result<(usize, usize, bool), SyncError> {
        let provider = client.provider();
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
        while pages < MAX_PAGES {
            let read = match kind {
                Kind::Users => client
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
                Kind::Accounts => client
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

    /// Rebuild the overlay and the mapping from the stored rows and the live config and
    /// runtime (none: no overlay). Returns the number of accounts in the overlay.
    pub async fn rebuild(&self) -> Result<(usize, UserMapping), SyncError> {
        let _one = self.running.lock().await;
        let rt = self.shared.crm.runtime.load_full();
        self.rebuild_with(rt.as_deref()).await
    }

    async fn rebuild_with(
        &self,
        rt: Option<&CrmRuntime>,
    ) -> Result<(usize, UserMapping), SyncError> {
        let Some(rt) = rt else {
            self.shared
                .crm_accounts
                .store(Arc::new(CrmAccounts::default()));
            *self.mapping.lock().unwrap_or_else(|e| e.into_inner()) = UserMapping::default();
            return Ok((0, UserMapping::default()));
        };
        let provider = rt.client.provider();
        let store = &self.shared.store;
        let cfg = self.shared.config.load_full();
        let (users, accounts, mapping) =
            stored_mapping(&**store, &cfg, provider, &rt.config).await?;
        let active: BTreeMap<&str, bool> = users
            .iter()
            .map(|u| (u.crm_id.as_str(), u.active))
            .collect();
        let overlay = match rt.config.accounts.precedence() {
            None => CrmAccounts::default(),
            Some(precedence) => CrmAccounts::new(
                provider,
                precedence,
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
            ),
        };
        let n = overlay.len();
        self.shared.crm_accounts.store(Arc::new(overlay));
        *self.mapping.lock().unwrap_or_else(|e| e.into_inner()) = mapping.clone();
        Ok((n, mapping))
    }

    /// Build the overlay from what is stored, then pull: at once, every `[crm]
    /// sync_every`, and after a reload (new reps, a new connection); a failed pull is
    /// tried again within a minute and keeps the last overlay meanwhile.
    pub fn spawn(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut seen: Option<(usize, String)> = None;
            let mut next_run: Option<Instant> = None;
            loop {
                let rt = me.shared.crm.runtime.load_full();
                let key = (
                    rt.as_ref().map_or(0, |r| Arc::as_ptr(r) as usize),
                    me.shared.config.load().version.clone(),
                );
                if seen.as_ref() != Some(&key) {
                    // Started, reloaded, or [crm] added/removed: the overlay follows the
                    // new reps and settings now, from what is stored; then a pull.
                    seen = Some(key);
                    if let Err(e) = me.rebuild().await {
                        tracing::error!(error = %e, "building the CRM account overlay from storage failed");
                    }
                    next_run = Some(Instant::now());
                }
                if let Some(rt) = &rt
                    && next_run.is_some_and(|t| t <= Instant::now())
                {
                    next_run = Some(match me.run().await {
                        Ok(_) => Instant::now() + rt.config.sync_every,
                        Err(e) => {
                            tracing::warn!(provider = rt.client.provider(), error = %e, "CRM sync failed; the overlay keeps what was stored");
                            Instant::now() + RETRY_FAILED.min(rt.config.sync_every)
                        }
                    });
                }
                tokio::time::sleep(TICK).await;
            }
        });
    }
}

/// For `leadrouter check --database`: the `[crm]` connection's provider and the rep ↔
/// CRM user findings from the rows last synced into `store`. `None` without `[crm]` (or
/// one that does not parse: the check reports that itself) or before any user is synced.
pub async fn stored_findings(
    store: &dyn leadrouter_store::Store,
    cfg: &leadrouter_core::config::CompiledConfig,
) -> Result<Option<(&'static str, Vec<MappingFinding>)>, SyncError> {
    let env = |k: &str| std::env::var(k).ok();
    let Ok(Some(crm)) = CrmConfig::parse(&cfg.source, &env) else {
        return Ok(None);
    };
    let provider = crm.provider.as_str();
    let (users, _, mapping) = stored_mapping(store, cfg, provider, &crm).await?;
    Ok((!users.is_empty()).then_some((provider, mapping.findings)))
}

/// The stored users and accounts of `provider` and the rep ↔ CRM user mapping against
/// `cfg`'s reps and `crm`'s `[crm.users]` (the sync and `leadrouter check --database`
/// share it).
pub async fn stored_mapping(
    store: &dyn leadrouter_store::Store,
    cfg: &leadrouter_core::config::CompiledConfig,
    provider: &str,
    crm: &CrmConfig,
) -> Result<(Vec<CrmUser>, Vec<CrmAccount>, UserMapping), SyncError> {
    let users: Vec<CrmUser> = store
        .crm_users(provider)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(crm_user)
        .collect();
    // With `accounts = "config_only"` the CRM's accounts are not read (nor reported).
    let accounts: Vec<CrmAccount> = match crm.accounts {
        AccountSource::ConfigOnly => Vec::new(),
        _ => store
            .crm_accounts(provider)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(crm_account)
            .collect(),
    };
    let reps: Vec<RepRef> = cfg
        .reps
        .iter()
        .map(|r| RepRef {
            id: r.id.clone(),
            email: r.email.clone(),
            active: r.active,
        })
        .collect();
    let mapping = mapping::map_users(&reps, &users, &accounts, &crm.users);
    Ok((users, accounts, mapping))
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
