//! What if, the work behind the page (OPS-5): the candidate compiled from what an admin
//! pasted or uploaded (or a stored version), and the replay run in the background — the
//! very code `leadrouter replay` runs, on a read-only snapshot of its own
//! ([`HistoryReader`]), so the running service is never blocked.
//!
//! Bounded on every side: one replay at a time per instance, on a thread of its own (its
//! decisions are CPU work that must not sit on the service's async workers), stopped after
//! [`TIME_LIMIT`]; the upload is at most [`MAX_UPLOAD_BYTES`]; the last [`KEEP_RUNS`] runs
//! are kept in memory only (a report is a view of the history, which stays in the
//! database: a run lost on restart is run again).

use crate::replay::{self, HistoryReader, ReplayOptions, Report};
use jiff::Timestamp;
use leadrouter_core::config::{self, CompiledConfig, LoadError, SourceText};
use leadrouter_store::ConfigVersionRow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most a candidate upload (TOML and CSVs together, with the form) may be.
pub const MAX_UPLOAD_BYTES: usize = 8 << 20;
/// Runs kept for the page; the oldest finished one goes first.
pub const KEEP_RUNS: usize = 5;
/// A replay running longer is stopped (a shorter window is the fix).
pub const TIME_LIMIT: Duration = Duration::from_secs(600);

/// Where a run is.
pub enum RunState {
    Running,
    Done(Arc<Report>),
    Failed(String),
}

/// One replay started from the page.
pub struct Run {
    pub id: String,
    pub by: String,
    /// Microseconds since the epoch.
    pub started_at: i64,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// What was replayed: "pasted config sha256:…" or "stored version sha256:…".
    pub candidate: String,
    started: Instant,
    done: AtomicU64,
    total: AtomicU64,
    state: Mutex<RunState>,
    took: Mutex<Option<Duration>>,
}

impl Run {
    /// Routing decisions re-decided so far, and how many the window holds.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    pub fn report(&self) -> Option<Arc<Report>> {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            RunState::Done(r) => Some(r.clone()),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<String> {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            RunState::Failed(e) => Some(e.clone()),
            _ => None,
        }
    }

    pub fn running(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|e| e.into_inner()),
            RunState::Running
        )
    }

    /// How long it ran (so far, while running).
    pub fn elapsed(&self) -> Duration {
        self.took
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_else(|| self.started.elapsed())
    }

    fn finish(&self, outcome: Result<Report, String>) {
        *self.took.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.started.elapsed());
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = match outcome {
            Ok(r) => RunState::Done(Arc::new(r)),
            Err(e) => RunState::Failed(e),
        };
    }
}

/// The runs of this instance and the gate that keeps them one at a time.
pub struct WhatIf {
    database_url: String,
    runs: Mutex<VecDeque<Arc<Run>>>,
    busy: Arc<tokio::sync::Semaphore>,
}

impl Default for WhatIf {
    fn default() -> Self {
        WhatIf::new(String::new())
    }
}

/// What to replay.
pub struct Request {
    pub by: String,
    pub now_us: i64,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub candidate: Arc<CompiledConfig>,
    pub label: String,
}

impl WhatIf {
    /// Replays read `database_url` (the one the service serves from) read-only.
    pub fn new(database_url: String) -> WhatIf {
        WhatIf {
            database_url,
            runs: Mutex::new(VecDeque::new()),
            busy: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The runs kept, newest first.
    pub fn runs(&self) -> Vec<Arc<Run>> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().rev().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Run>> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().find(|r| r.id == id).cloned()
    }

    /// Start a replay in the background; refused while another one runs.
    pub fn start(&self, req: Request) -> Result<Arc<Run>, String> {
        if self.database_url.is_empty() || self.database_url.contains(":memory:") {
            return Err(
                "this instance serves from a database a second connection cannot open; run `leadrouter replay` against a file or PostgreSQL database".into(),
            );
        }
        let permit = self.busy.clone().try_acquire_owned().map_err(|_| {
            "a replay is already running on this instance; wait for it to finish".to_string()
        })?;
        let run = Arc::new(Run {
            id: uuid::Uuid::now_v7().simple().to_string(),
            by: req.by,
            started_at: req.now_us,
            since: req.since,
            until: req.until,
            candidate: req.label,
            started: Instant::now(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            state: Mutex::new(RunState::Running),
            took: Mutex::new(None),
        });
        {
            let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
            runs.push_back(run.clone());
            while runs.len() > KEEP_RUNS {
                runs.pop_front();
            }
        }
        let opts = ReplayOptions {
            since: req.since,
            until: req.until,
            candidate: Some(req.candidate),
            list_limit: ReplayOptions::LIST_LIMIT,
            trace_limit: ReplayOptions::TRACE_LIMIT,
            page_events: 0,
            worker_share: None,
        };
        let url = self.database_url.clone();
        let r = run.clone();
        let spawned = std::thread::Builder::new()
            .name("whatif-replay".into())
            .spawn(move || {
                let _permit = permit;
                let outcome = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(replay_once(&url, &opts, &r)),
                    Err(e) => Err(format!("starting the replay failed: {e}")),
                };
                if let Err(e) = &outcome {
                    tracing::warn!(run = %r.id, error = %e, "what-if replay failed");
                }
                r.finish(outcome);
            });
        if let Err(e) = spawned {
            run.finish(Err(format!("starting the replay failed: {e}")));
        }
        Ok(run)
    }
}

async fn replay_once(url: &str, opts: &ReplayOptions, run: &Run) -> Result<Report, String> {
    let work = async {
        let mut reader = HistoryReader::open(url)
            .await
            .map_err(|e| format!("opening the history read-only failed: {e}"))?;
        let mut progress = |done: u64, total: u64| {
            run.done.store(done, Ordering::Relaxed);
            run.total.store(total, Ordering::Relaxed);
        };
        let report = replay::run(&mut reader, opts, &mut progress).await;
        let _ = reader.close().await;
        report.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(TIME_LIMIT, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "the replay ran longer than {} and was stopped; choose a shorter window",
            super::time::seconds(TIME_LIMIT.as_secs_f64())
        )),
    }
}

/// A candidate as pasted or uploaded: the TOML and, optionally, the CSVs it names.
#[derive(Default)]
pub struct Upload {
    pub toml: String,
    pub matrix_csv: Option<String>,
    pub accounts_csv: Option<String>,
}

/// The file names the TOML gives its matrix and accounts CSVs (`[routing] matrix_csv`,
/// `accounts_csv`), when it parses.
fn csv_names(toml_text: &str) -> (Option<String>, Option<String>) {
    let Ok(t) = toml_text.parse::<toml::Table>() else {
        return (None, None);
    };
    let routing = t.get("routing").and_then(|r| r.as_table());
    let name = |k: &str| {
        routing
            .and_then(|r| r.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (name("matrix_csv"), name("accounts_csv"))
}

/// Compile a candidate: the CSVs it names come from the upload, else from `fallback` (the
/// live version's stored files, by the same name). Errors name the file and line.
pub fn compile_upload(
    u: &Upload,
    fallback: Option<&ConfigVersionRow>,
) -> Result<CompiledConfig, String> {
    let (matrix, accounts) = csv_names(&u.toml);
    let read = |rel: &str| -> Result<SourceText, LoadError> {
        let uploaded = if matrix.as_deref() == Some(rel) {
            u.matrix_csv.as_ref()
        } else if accounts.as_deref() == Some(rel) {
            u.accounts_csv.as_ref()
        } else {
            None
        };
        if let Some(text) = uploaded.or_else(|| fallback.and_then(|f| f.files.get(rel))) {
            return Ok(SourceText::new(rel.to_string(), text.clone()));
        }
        Err(LoadError::Io {
            path: rel.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not uploaded with the candidate and not in the live config; upload it",
            ),
        })
    };
    config::compile::compile(
        SourceText::new("candidate.toml".to_string(), u.toml.clone()),
        &read,
    )
    .map_err(|e| e.to_string())
}

/// An instant from the form: RFC 3339, a civil date-time (`2026-11-23T15:00`, as a
/// browser's datetime-local field sends it) or a date, the last two in `tz`.
pub fn instant(field: &str, s: &str, tz: &jiff::tz::TimeZone) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil = s.parse::<jiff::civil::DateTime>().or_else(|_| {
        s.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    match civil {
        Ok(dt) => dt
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| format!("{field} {s:?}: {e}")),
        Err(_) => Err(format!(
            "{field} {s:?}: expected a date (2026-11-23), a date and time (2026-11-23T15:00) or an RFC 3339 instant"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = include_str!("../../../leadrouter/tests/fixtures/e2e.toml");

    #[test]
    fn a_pasted_candidate_compiles_and_names_missing_csvs() {
        let cfg = compile_upload(
            &Upload {
                toml: TOML.into(),
                ..Upload::default()
            },
            None,
        )
        .expect("the e2e config compiles");
        assert_eq!(cfg.reps.len(), 3);
        let with_csv = TOML.replace(
            "[routing]\n",
            "[routing]\naccounts_csv = \"accounts.csv\"\n",
        );
        let err = compile_upload(
            &Upload {
                toml: with_csv.clone(),
                ..Upload::default()
            },
            None,
        )
        .expect_err("the CSV is missing");
        assert!(err.contains("accounts.csv"), "{err}");
        let cfg = compile_upload(
            &Upload {
                toml: with_csv.clone(),
                accounts_csv: Some("domain,name,owner\nacme.com,Acme,ben.baker\n".into()),
                ..Upload::default()
            },
            None,
        )
        .expect("the uploaded CSV is read");
        assert!(cfg.account_by_domain.contains_key("acme.com"));
        // Not uploaded: the live version's file of that name.
        let live = ConfigVersionRow {
            version: "v".into(),
            loaded_at: 0,
            loaded_by: "startup".into(),
            main_name: "x.toml".into(),
            main_text: String::new(),
            files: [(
                "accounts.csv".to_string(),
                "domain,name,owner\ninitech.com,Initech,ann.archer\n".to_string(),
            )]
            .into(),
        };
        let cfg = compile_upload(
            &Upload {
                toml: with_csv,
                ..Upload::default()
            },
            Some(&live),
        )
        .expect("the live CSV is read");
        assert!(cfg.account_by_domain.contains_key("initech.com"));
        let err = compile_upload(
            &Upload {
                toml: "[routing\n".into(),
                ..Upload::default()
            },
            None,
        )
        .expect_err("bad TOML");
        assert!(err.contains("candidate.toml"), "{err}");
    }

    fn request(n: i64) -> Request {
        let cfg = compile_upload(
            &Upload {
                toml: TOML.into(),
                ..Upload::default()
            },
            None,
        )
        .expect("compiles");
        Request {
            by: "boss".into(),
            now_us: n,
            since: None,
            until: None,
            candidate: Arc::new(cfg),
            label: format!("run {n}"),
        }
    }

    fn wait(run: &Run) {
        let start = Instant::now();
        while run.running() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the run did not end"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One run at a time; a run that fails says why and frees the gate; the last
    /// KEEP_RUNS are kept, newest first.
    #[test]
    fn runs_are_one_at_a_time_and_the_last_few_are_kept() {
        let dir = tempfile::tempdir().expect("a directory");
        let url = format!("sqlite://{}", dir.path().join("absent.db").display());
        let w = WhatIf::new(url);
        let held = w
            .busy
            .clone()
            .try_acquire_owned()
            .expect("the gate is free");
        let refused = w.start(request(0)).err().expect("refused while busy");
        assert!(refused.contains("already running"), "{refused}");
        drop(held);
        for n in 1..=(KEEP_RUNS as i64 + 1) {
            let run = w.start(request(n)).expect("started");
            wait(&run);
            let e = run.error().expect("no database: the run fails");
            assert!(e.contains("opening the history"), "{e}");
            assert!(run.report().is_none());
        }
        let kept: Vec<i64> = w.runs().iter().map(|r| r.started_at).collect();
        assert_eq!(kept, vec![6, 5, 4, 3, 2]);
        assert!(w.get(&w.runs()[0].id).is_some());
        let memory = WhatIf::new("sqlite::memory:".into());
        assert!(
            memory.start(request(9)).is_err(),
            "a second connection cannot see it"
        );
    }

    #[test]
    fn window_instants_in_the_viewers_zone() {
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            instant("since", "2026-11-23", &tz).unwrap().to_string(),
            "2026-11-22T23:00:00Z"
        );
        assert_eq!(
            instant("since", "2026-11-23T15:00", &tz)
                .unwrap()
                .to_string(),
            "2026-11-23T14:00:00Z"
        );
        assert_eq!(
            instant("since", "2026-11-23T15:00:00Z", &tz)
                .unwrap()
                .to_string(),
            "2026-11-23T15:00:00Z"
        );
        assert!(
            instant("until", "last week", &tz)
                .unwrap_err()
                .contains("until")
        );
    }
}
