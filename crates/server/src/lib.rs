//! leadrouter's HTTP service: `serve` loads the config, opens the store, starts the
//! sequencer (the single writer that group-commits decisions) and the API.

pub mod api;
pub mod auth;
pub mod booking;
pub mod calendar;
pub mod config_history;
pub mod console;
pub mod crm;
pub mod delivery;
pub mod form_guard;
pub mod imports;
pub mod intake;
pub mod listener;
pub mod metrics;
pub mod replay;
pub mod retention;
pub mod runtime;
pub mod security_headers;
pub mod sequencer;
pub mod sla;

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use leadrouter_core::config::{self, LoadError};
use sequencer::{Sequencer, Shared};
use std::path::PathBuf;
use std::sync::Arc;

pub struct ServeOptions {
    pub config: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub intake_keys: String,
    pub admin_keys: String,
    /// Console users (`NAME:ROLE:ARGON2_HASH;…`); empty: a demo admin is generated.
    pub console_users: String,
    /// Connection cap, timeouts and the in-flight body budget (see `listener`).
    pub limits: listener::Limits,
}

/// Recompile the config from its file; on error the old one keeps serving. `by` (the
/// admin key, console user or signal) is kept with the version in the config history,
/// which is written before the version serves its first lead.
pub async fn reload_config(st: &api::AppState, by: &str) -> Result<String, ReloadError> {
    let (cfg, sources) =
        config_history::load_recorded(&st.config_path).map_err(ReloadError::Config)?;
    let cfg = Arc::new(cfg);
    let nrt = runtime::NotifyRuntime::build(&cfg).map_err(ReloadError::Notify)?;
    let enricher =
        runtime::build_enricher(&cfg, st.shared.store.clone()).map_err(ReloadError::Enrichment)?;
    let crm = crm::CrmRuntime::build(&cfg).map_err(ReloadError::Crm)?;
    calendar::CalendarSettings::from_config(&cfg).map_err(ReloadError::Calendar)?;
    let version = cfg.version.clone();
    let now = st.shared.clock.now().as_microsecond();
    config_history::record(&*st.shared.store, &cfg, &sources, by, now)
        .await
        .map_err(|e| ReloadError::History(e.to_string()))?;
    st.shared.config.store(cfg.clone());
    st.shared.notify.store(Arc::new(nrt));
    st.shared.enricher.store(Arc::new(enricher));
    st.shared.crm.runtime.store(crm.map(Arc::new));
    st.shared.crm.wake.notify_one();
    tracing::info!(%version, "config reloaded");
    spawn_account_sync(st.shared.clone(), cfg);
    Ok(version)
}

/// Why a reload was refused (the previous config keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(LoadError),
    #[error("invalid [notify] settings:\n{0}")]
    Notify(String),
    #[error("invalid [enrichment] settings:\n{0}")]
    Enrichment(String),
    #[error("keeping the config version in the history failed: {0}")]
    History(String),
    #[error("invalid [crm] settings:\n{0}")]
    Crm(String),
    #[error("invalid [calendar] settings:\n{0}")]
    Calendar(String),
}

impl ReloadError {
    pub fn errors(&self) -> Vec<serde_json::Value> {
        match self {
            ReloadError::Config(e) => e
                .errors()
                .iter()
                .map(|x| serde_json::to_value(x).unwrap_or_default())
                .collect(),
            ReloadError::Notify(m) => vec![serde_json::json!({ "field": "notify", "message": m })],
            ReloadError::Enrichment(m) => {
                vec![serde_json::json!({ "field": "enrichment", "message": m })]
            }
            ReloadError::History(m) => {
                vec![serde_json::json!({ "field": "database", "message": m })]
            }
            ReloadError::Crm(m) => vec![serde_json::json!({ "field": "crm", "message": m })],
            ReloadError::Calendar(m) => {
                vec![serde_json::json!({ "field": "calendar", "message": m })]
            }
        }
    }
}

/// Mirror the config's accounts into the database in the background (reporting only;
/// routing reads the compiled config), and count the console's days in the
/// organisation's zone (rebuilding the rollups if it changed).
fn spawn_account_sync(shared: Arc<Shared>, cfg: Arc<config::CompiledConfig>) {
    tokio::spawn(async move {
        let zone = leadrouter_store::ReportZone::new(
            &cfg.organization_tz_name,
            cfg.organization_tz.clone(),
        );
        match shared.store.set_report_zone(&zone).await {
            Ok(true) => tracing::info!(zone = zone.name(), "console rollups rebuilt"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "setting the console's time zone failed"),
        }
        let rows: Vec<leadrouter_store::AccountRow> = cfg
            .accounts
            .iter()
            .map(|a| leadrouter_store::AccountRow {
                domain: a.domain.clone(),
                name: a.name.clone(),
                owner: a.owner.map(|o| cfg.rep(o).id.clone()),
                named: a.named,
            })
            .collect();
        let now = shared.clock.now().as_microsecond();
        let sync = shared.store.sync_accounts(&rows, &cfg.version, now);
        match tokio::time::timeout(std::time::Duration::from_secs(120), sync).await {
            Ok(Ok(())) => tracing::info!(accounts = rows.len(), "accounts mirrored"),
            Ok(Err(e)) => tracing::error!(error = %e, "mirroring accounts failed"),
            Err(_) => tracing::error!("mirroring accounts timed out"),
        }
    });
}

pub async fn serve(opts: ServeOptions) -> Result<()> {
    let (cfg, sources) =
        config_history::load_recorded(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let nrt = runtime::NotifyRuntime::build(&cfg)
        .map_err(|e| anyhow::anyhow!("invalid [notify] settings:\n{e}"))?;
    tracing::info!(version = %cfg.version, config = %opts.config.display(), "config loaded");
    let store = leadrouter_store::open(&opts.database_url)
        .await
        .with_context(|| format!("opening database {}", redact(&opts.database_url)))?;
    let enricher = runtime::build_enricher(&cfg, store.clone())
        .map_err(|e| anyhow::anyhow!("invalid [enrichment] settings:\n{e}"))?;
    let crm_runtime = crm::CrmRuntime::build(&cfg)
        .map_err(|e| anyhow::anyhow!("invalid [crm] settings:\n{e}"))?;
    calendar::CalendarSettings::from_config(&cfg)
        .map_err(|e| anyhow::anyhow!("invalid [calendar] settings:\n{e}"))?;
    let mut keys = auth::Keys::parse(&opts.intake_keys, &opts.admin_keys)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if keys.is_empty() {
        let admin = auth::generate();
        eprintln!(
            "leadrouter: no LEADROUTER_ADMIN_KEYS set; generated an admin key for this run: {admin}"
        );
        keys = auth::Keys::new(&opts.intake_keys, &admin);
    }
    let mut console_users =
        console::Users::parse(&opts.console_users).map_err(|e| anyhow::anyhow!("{e}"))?;
    console_users
        .check_reps(&cfg)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut demo_password = None;
    if console_users.is_empty() {
        let (users, password) = console::Users::demo();
        console_users = users;
        demo_password = Some(password);
    }
    let test_clock = std::env::var("LEADROUTER_TEST_CLOCK").is_ok_and(|v| v == "1");
    if test_clock {
        eprintln!(
            "leadrouter: LEADROUTER_TEST_CLOCK=1: the clock can be moved with POST /v1/admin/clock (tests only)"
        );
    }
    let metrics = metrics::Metrics::default();
    let crm = crm::CrmState::new(crm_runtime, &metrics);
    let shared = Arc::new(Shared {
        config: ArcSwap::from_pointee(cfg),
        store,
        metrics,
        notify: ArcSwap::from_pointee(nrt),
        clock: runtime::Clock::new(test_clock),
        enricher: ArcSwap::from_pointee(enricher),
        outbox_wake: tokio::sync::Notify::new(),
        crm,
        crm_accounts: Default::default(),
    });
    shared
        .metrics
        .register_collector(Box::new(metrics::EnrichmentCollector {
            shared: Arc::downgrade(&shared),
        }));
    config_history::record(
        &*shared.store,
        &shared.config.load(),
        &sources,
        "startup",
        shared.clock.now().as_microsecond(),
    )
    .await
    .context("keeping the config version in the history")?;
    let sequencer = Sequencer::start(shared.clone());
    let imports = Arc::new(imports::Imports::from_env().map_err(|e| anyhow::anyhow!("{e}"))?);
    imports::spawn(shared.clone(), sequencer.clone(), imports.clone());
    delivery::spawn(shared.clone());
    crm::writeback::spawn(shared.clone());
    sla::spawn(shared.clone(), sequencer.clone());
    crm::poller::spawn(shared.clone(), sequencer.clone());
    retention::spawn(shared.clone());
    let calendars = Arc::new(calendar::CalendarCache::default());
    calendar::worker::spawn(shared.clone(), sequencer.clone(), calendars.clone());
    spawn_account_sync(shared.clone(), shared.config.load_full());
    let state = api::AppState {
        shared: shared.clone(),
        sequencer,
        keys,
        config_path: opts.config.clone(),
        imports,
        key_use: Default::default(),
        forms: Arc::new(form_guard::FormGuard::from_env()?),
        salesforce: api::crm_salesforce::OutboundSettings::from_env().map(Arc::new),
        crm_sync: Some(crm::sync::CrmSync::new(shared.clone())),
        calendars: calendars.clone(),
        busy: Arc::new(calendar::BookingBusy(calendars)),
    };
    if let Some(sync) = &state.crm_sync {
        sync.spawn();
    }
    #[cfg(unix)]
    {
        let st = state.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                let result = reload_config(&st, "signal:SIGHUP").await;
                let detail = serde_json::json!({ "reloaded": result.is_ok(), "signal": "SIGHUP" });
                let entry = api::audit::Audit::new("signal:SIGHUP", "config.reload").detail(detail);
                let _ = api::audit::audit(&st.shared, entry).await;
                if let Err(e) = result {
                    tracing::error!(error = %e, "config reload rejected; the previous config keeps serving");
                    eprintln!(
                        "leadrouter: config reload rejected; still serving the previous config:\n{e}"
                    );
                }
            }
        });
    }
    let console_state = console::ConsoleState {
        app: state.clone(),
        users: Arc::new(console_users),
        whatif: Arc::new(console::whatif_run::WhatIf::new(opts.database_url.clone())),
    };
    console::spawn_gauges(console_state.clone());
    console::report_mail::spawn(console_state.clone());
    let app = api::router(state)
        .merge(console::router(console_state))
        .layer(axum::middleware::from_fn(api::audit::client_scope))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(api::trace_span));
    let tcp = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = tcp.local_addr()?;
    if let Some(password) = demo_password {
        eprintln!(
            "leadrouter: no LEADROUTER_CONSOLE_USERS set; console login for this run: admin / {password} at http://{addr}/console"
        );
    }
    // Tests and scripts read this line to find the port when listening on port 0.
    println!(
        "leadrouter listening on http://{addr} (database: {})",
        shared.store.backend()
    );
    // The peer address (what the audit log records as "from where", and what the public forms'
    // per-address limits count) reaches
    // handlers as `ConnectInfo`, set by the listener.
    let listener_metrics = listener::ListenerMetrics::new(&opts.limits, &shared.metrics);
    listener::serve(tcp, app, opts.limits, listener_metrics, shutdown()).await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}
