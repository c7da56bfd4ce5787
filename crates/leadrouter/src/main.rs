//! The `leadrouter` binary: wires the core (and, later, the store and server) to a CLI.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use leadrouter_core::config::{self, CompiledConfig, LoadError};
use leadrouter_core::engine::{RoutingInput, decide};
use leadrouter_core::lead::{Enrichment, Lead};
use leadrouter_core::state::StateSnapshot;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod check_cmd;
mod demo;
mod import_cmd;
mod init_cmd;
mod replay_cmd;

#[derive(Parser)]
#[command(
    name = "leadrouter",
    version,
    about = "Route inbound leads to the right rep, in milliseconds, with the reason"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a config: errors (exit 1), and warnings — coverage gaps, shadowed and
    /// overlapping rules, inactive or unknown reps (exit 0 unless --strict).
    Check {
        config: PathBuf,
        /// Exit 1 on warnings too.
        #[arg(long)]
        strict: bool,
        /// Print findings as JSON.
        #[arg(long)]
        json: bool,
        /// Print every finding in full (by default many are grouped by kind and rule).
        #[arg(long)]
        verbose: bool,
        /// Also report reps and CRM users as last synced into this database (CRM-3):
        /// reps mapped to no active CRM user, CRM users owning accounts who are not reps.
        #[arg(long)]
        database: Option<String>,
    },
    /// Run the service: intake API, forms, imports, admin API, metrics.
    Serve {
        /// Routing config (TOML). Without it (and without LEADROUTER_CONFIG) the demo
        /// config embedded in this binary runs, from any folder.
        #[arg(long, env = "LEADROUTER_CONFIG")]
        config: Option<PathBuf>,
        /// sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB.
        #[arg(
            long = "database",
            env = "LEADROUTER_DATABASE_URL",
            default_value = "sqlite://data/leadrouter.db"
        )]
        database_url: String,
        /// Address to listen on (port 0 picks a free port; the chosen one is printed).
        #[arg(long, env = "LEADROUTER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Comma-separated intake keys (may only POST /v1/leads).
        #[arg(
            long,
            env = "LEADROUTER_INTAKE_KEYS",
            default_value = "",
            hide_env_values = true
        )]
        intake_keys: String,
        /// Comma-separated admin keys; a random one is generated and printed when empty.
        #[arg(
            long,
            env = "LEADROUTER_ADMIN_KEYS",
            default_value = "",
            hide_env_values = true
        )]
        admin_keys: String,
        /// Console users: `NAME:ROLE:ARGON2_HASH` entries separated by `;` (ROLE admin,
        /// ops or rep); a demo admin with a printed password when empty.
        #[arg(
            long,
            env = "LEADROUTER_CONSOLE_USERS",
            default_value = "",
            hide_env_values = true
        )]
        console_users: String,
        #[command(flatten)]
        limits: ListenLimits,
    },
    /// Write a commented starter config (leadrouter.toml) and the CSVs it reads
    /// (matrix.csv, accounts.csv) into DIR, ready to edit; never overwrites a file.
    Init {
        /// The folder to write into (created if missing).
        dir: PathBuf,
    },
    /// Hash a console password (argon2id) read from stdin, for LEADROUTER_CONSOLE_USERS.
    ConsoleHash,
    /// Import a CSV list into a running service (CAP-3), with a progress bar and per-row errors.
    Import {
        /// The CSV file (Excel exports with BOM and `;` are fine).
        file: PathBuf,
        /// The service's address.
        #[arg(long, env = "LEADROUTER_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An admin key; default: the first key of LEADROUTER_ADMIN_KEYS, the variable
        /// `serve` reads (LEADROUTER_ADMIN_KEY still works, with a deprecation warning).
        #[arg(long)]
        key: Option<String>,
        /// Rows per upload (each upload is one import job on the server).
        #[arg(long, default_value_t = 50_000)]
        chunk: usize,
        /// Print the per-row results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replay stored leads through a candidate config and print who would have got what
    /// (OPS-5); with no --config (or --as-live), through the versions that were live, which
    /// must reproduce every automatic decision (exit 1 if not). Reads the database
    /// read-only, without blocking a running service.
    Replay {
        /// sqlite://PATH or postgres://USER@HOST/DB (the service's database).
        #[arg(long = "database", env = "LEADROUTER_DATABASE_URL")]
        database_url: String,
        /// The candidate config (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A config version from the history as the candidate (sha256:…).
        #[arg(long)]
        stored_version: Option<String>,
        /// Replay each lead with the config version that was live (the default without
        /// --config).
        #[arg(long)]
        as_live: bool,
        /// Window start (RFC 3339 instant or a date, UTC); default: the start of history.
        #[arg(long)]
        since: Option<String>,
        /// Window end (inclusive); default: now.
        #[arg(long)]
        until: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Print the report as CSV (section,key,field,before,after).
        #[arg(long)]
        csv: bool,
        /// Also write a self-contained HTML report (SVG chart, both traces per lead).
        #[arg(long)]
        html: Option<PathBuf>,
        /// Changed leads listed (the rest are counted).
        #[arg(long, default_value_t = 1000)]
        list: usize,
        /// Events read per page (one query each); default 1,024 on SQLite, 8,192 on
        /// PostgreSQL (where each page is a round trip).
        #[arg(long, default_value_t = 0, hide_default_value = true, value_parser = clap::value_parser!(u32).range(0..=100_000))]
        page_events: u32,
        /// Of each 8 routing transactions, how many the reading thread leaves for the
        /// worker to finish decoding; default: shared as the replay goes (for tests).
        #[arg(long, hide = true, value_parser = clap::value_parser!(u32).range(0..=8))]
        worker_share: Option<u32>,
    },
    /// Route one lead offline and print the decision with its trace.
    Route {
        #[arg(long, env = "LEADROUTER_CONFIG")]
        config: PathBuf,
        /// The instant to decide at (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        /// State snapshot JSON (rotations, loads, daily counts, availability, people).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Enrichment JSON for the lead.
        #[arg(long)]
        enrichment: Option<PathBuf>,
        /// Print the decision as JSON: the fields `POST /v1/leads?explain=true` answers
        /// with (`lead_id` null: nothing is stored), plus the `effects` a store would
        /// commit.
        #[arg(long)]
        json: bool,
        /// Accepted for symmetry with the API's `?explain=true`: `route` always prints
        /// the trace with every rule considered.
        #[arg(long)]
        explain: bool,
        /// Run the config's enrichment chain first, as the service does (network
        /// providers included); `--enrichment FILE` wins over it.
        #[arg(long)]
        enrich: bool,
        /// The lead JSON file ("-" for stdin).
        lead: PathBuf,
    },
}

/// mimalloc instead of glibc's allocator: the request path allocates and frees many
/// short-lived strings and JSON values on two runtime threads and the database driver's,
/// and glibc's arenas spent ~15% of the service's CPU in malloc, free and consolidation
/// under load (perf, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, v3; the index the `libmimalloc-sys`
/// bindings leave unnamed): how long freed memory is kept before it is handed back to the
/// system, in milliseconds (1000 by default; -1 never).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep the memory this process frees instead of handing it back to the system after a
/// second. For a command that runs to its end and exits (`replay`): it frees each page of
/// decoded history and allocates the next, and with the default every page came back as
/// fresh memory the kernel had to zero (70,000–120,000 page faults and about a tenth of
/// the CPU for 1,000,000 leads; with this, ~1,100: docs/benchmarks.md, Replay). Not for
/// `serve`, which must give back what a burst took.
pub(crate) fn keep_freed_memory() {
    // SAFETY: mimalloc's documented option setter; an option's value is a plain integer
    // that mimalloc reads whenever it purges, and this runs before any other thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADROUTER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        // `leadrouter route … | head`: the reader left; nothing more to say to anyone.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve {
            config,
            database_url,
            listen,
            intake_keys,
            admin_keys,
            console_users,
            limits,
        } => {
            // `_demo` lives until serve returns: the embedded demo's folder is removed on drop.
            let (config, _demo) = match config {
                Some(c) => (c, None),
                None => {
                    let d = demo::write()?;
                    eprintln!(
                        "leadrouter: no --config given: running the demo config embedded in this binary \
                         (Northwind Analytics, written to {}); pass --config FILE (or set LEADROUTER_CONFIG) \
                         for your own, or write a starter with `leadrouter init DIR`",
                        d.config.display()
                    );
                    (d.config.clone(), Some(d))
                }
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(leadrouter_server::serve(leadrouter_server::ServeOptions {
                config,
                database_url,
                listen,
                intake_keys,
                admin_keys,
                console_users,
                limits: limits.into(),
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { dir } => init_cmd::run(&dir),
        Command::ConsoleHash => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']);
            let hash = leadrouter_server::console::hash_password(password).map_err(|e| {
                anyhow::anyhow!(
                    "{e}; pipe the password in: echo -n 'secret' | leadrouter console-hash"
                )
            })?;
            println!("{hash}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            url,
            key,
            chunk,
            json,
        } => {
            let key = import_cmd::admin_key(key)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(import_cmd::run(&file, &url, &key, chunk.max(1), json))
        }
        Command::Check {
            config,
            strict,
            json,
            verbose,
            database,
        } => check_cmd::run(&config, strict, json, verbose, database.as_deref()),
        Command::Replay {
            database_url,
            config,
            stored_version,
            as_live,
            since,
            until,
            json,
            csv,
            html,
            list,
            page_events,
            worker_share,
        } => replay_cmd::run(replay_cmd::ReplayArgs {
            database_url,
            config,
            stored_version,
            as_live,
            since,
            until,
            json,
            csv,
            html,
            list: list.clamp(1, 1_000_000),
            page_events,
            worker_share,
        }),
        Command::Route {
            config,
            at,
            state,
            enrichment,
            json,
            explain: _,
            enrich,
            lead,
        } => {
            let cfg = load_config(&config)?;
            let now = match at {
                Some(s) => s.parse::<jiff::Timestamp>().with_context(|| {
                    format!("--at {s:?}: expected an RFC 3339 instant such as 2026-11-23T15:00:00Z")
                })?,
                None => jiff::Timestamp::now(),
            };
            let state: StateSnapshot = match state {
                Some(p) => read_json(&p)?,
                None => StateSnapshot::default(),
            };
            let mut enrichment: Option<Enrichment> =
                enrichment.map(|p| read_json(&p)).transpose()?;
            let value: serde_json::Value = read_json(&lead)?;
            let (lead_v, issues) = Lead::from_json(&value)
                .map_err(|e| anyhow::anyhow!("{}: {}: {}", lead.display(), e.field, e.problem))?;
            if enrich && enrichment.is_none() {
                let enricher = leadrouter_server::runtime::enricher(&cfg, None).map_err(|e| {
                    anyhow::anyhow!("invalid [enrichment] settings:\n{}", LoadError::Invalid(e))
                })?;
                let rt = tokio::runtime::Runtime::new()?;
                enrichment = Some(rt.block_on(enricher.enrich(&lead_v)));
            }
            let mut input = RoutingInput::new(&lead_v, &state, now);
            input.enrichment = enrichment.as_ref();
            input.issues = &issues;
            let mut routed = decide(&cfg, input);
            routed.trace.explain(&cfg);
            let text = if json {
                let out = route_json(&routed, now)?;
                format!("{}\n", serde_json::to_string_pretty(&out)?)
            } else {
                routed.trace.render(&routed.decision)
            };
            write_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn load_config(path: &Path) -> Result<CompiledConfig> {
    match config::load(path) {
        Ok(c) => Ok(c),
        Err(e) => bail!("{e}"),
    }
}

/// `route --json`: the body `POST /v1/leads?explain=true` answers with, built by the same
/// function, so the two never drift apart; `lead_id` is null (nothing is stored),
/// received and routed at `--at`, and `effects` (what a store commits) is added.
fn route_json(
    routed: &leadrouter_core::engine::Routed,
    now: jiff::Timestamp,
) -> Result<serde_json::Value> {
    let body = leadrouter_server::api::responses::route_body(
        "",
        &routed.decision,
        Some(&routed.trace),
        now,
        now,
        false,
    );
    let mut out: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body.get())?;
    out.insert("lead_id".into(), serde_json::Value::Null);
    out.insert("effects".into(), serde_json::to_value(&routed.effects)?);
    Ok(serde_json::Value::Object(out))
}

/// All of `text` to stdout; a closed pipe comes back as an error [`is_broken_pipe`] knows.
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}

/// `serve`'s listener bounds (docs/security.md, "Connections and timeouts").
#[derive(clap::Args)]
struct ListenLimits {
    /// Connections served at once; more wait in the reserve or are closed.
    #[arg(long, env = "LEADROUTER_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Extra connections that may only ask /healthz and /readyz when the cap is reached.
    #[arg(long, env = "LEADROUTER_HEALTH_CONNECTIONS", default_value_t = 16)]
    health_connections: usize,
    /// Seconds to receive a request's headers; also how long an idle connection is kept.
    #[arg(long, env = "LEADROUTER_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds to receive a whole request body.
    #[arg(long, env = "LEADROUTER_BODY_TIMEOUT_SECS", default_value_t = 60)]
    body_timeout_secs: u64,
    /// Seconds from a request's arrival to its answer.
    #[arg(long, env = "LEADROUTER_REQUEST_TIMEOUT_SECS", default_value_t = 90)]
    request_timeout_secs: u64,
    /// Request-body bytes held in flight across all connections.
    #[arg(long, env = "LEADROUTER_BODY_BUDGET_BYTES", default_value_t = 64 << 20)]
    body_budget_bytes: usize,
    /// Milliseconds a request waits for body budget before it gets 503.
    #[arg(long, env = "LEADROUTER_BODY_BUDGET_WAIT_MS", default_value_t = 1000)]
    body_budget_wait_ms: u64,
}

impl From<ListenLimits> for leadrouter_server::listener::Limits {
    fn from(l: ListenLimits) -> Self {
        use std::time::Duration;
        leadrouter_server::listener::Limits {
            max_connections: l.max_connections,
            health_connections: l.health_connections,
            header_timeout: Duration::from_secs(l.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(l.body_timeout_secs.max(1)),
            request_timeout: Duration::from_secs(l.request_timeout_secs.max(1)),
            body_budget_bytes: l.body_budget_bytes,
            body_budget_wait: Duration::from_millis(l.body_budget_wait_ms),
        }
    }
}

#[cfg(test)]
mod allocator_tests {
    use super::MI_OPTION_PURGE_DELAY;

    /// The unnamed index is the purge delay: its default is v3's 1000 ms (a bindings
    /// update that moved the options would fail here, not silently set another one).
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading a mimalloc option.
        let v = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(v, 1000, "mimalloc option {MI_OPTION_PURGE_DELAY}");
    }
}
