//! The calendar worker: one task per process. At start it reads the last good copies
//! from the database; then, every tick, it fetches the feeds that are due (a few at a
//! time), keeps each 200 in memory and in the database, notes failures (the copy stays
//! and the console shows it stale), and submits an availability job for each rep whose
//! calendar out-of-office began, ended or changed since it last looked.

use super::fetch::{Fetched, Fetcher};
use super::{ACTOR, CalendarCache, CalendarSettings, note_for, to_chrono, to_jiff};
use crate::sequencer::{Job, Sequencer, Shared};
use jiff::Timestamp;
use leadrouter_calendar::Calendar;
use leadrouter_core::config::CompiledConfig;
use leadrouter_store::CalendarFeedRow;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Feeds fetched at once.
const CONCURRENT_FETCHES: usize = 4;
/// How far ahead out-of-office periods are chained to find when the rep is back.
const OOO_HORIZON_DAYS: i64 = 60;
/// Longest the worker waits for the sequencer to answer one job.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// What the worker remembers of one rep's feed between ticks.
struct Slot {
    source_hash: String,
    etag: Option<String>,
    last_modified: Option<String>,
    body: Option<Arc<str>>,
    /// What the body was parsed with (zone, settings), to parse again when it changes.
    parsed_with: String,
    next_due: Instant,
    /// The out-of-office last submitted to the sequencer (None: "not out").
    submitted: Option<Option<(Timestamp, String)>>,
}

pub fn spawn(shared: Arc<Shared>, sequencer: Sequencer, cache: Arc<CalendarCache>) {
    tokio::spawn(async move {
        let mut slots: HashMap<String, Slot> = HashMap::new();
        match shared.store.calendar_feeds().await {
            Ok(rows) => {
                for row in rows {
                    restore(&cache, &mut slots, row);
                }
            }
            Err(e) => tracing::error!(error = %e, "reading the calendar feeds' last copies failed"),
        }
        let mut settings = CalendarSettings::default();
        let mut fetcher: Option<(String, Arc<Fetcher>)> = None;
        loop {
            let cfg = shared.config.load_full();
            match CalendarSettings::from_config(&cfg) {
                Ok(s) => settings = s,
                Err(e) => {
                    tracing::warn!(error = %e, "[calendar] unreadable; keeping the previous settings")
                }
            }
            let key = format!(
                "{:?}{}{}",
                settings.timeout, settings.max_bytes, settings.allow_private
            );
            if fetcher.as_ref().is_none_or(|(k, _)| *k != key) {
                match Fetcher::new(&settings) {
                    Ok(f) => fetcher = Some((key, Arc::new(f))),
                    Err(e) => tracing::error!(error = %e, "calendar fetcher"),
                }
            }
            if let Some((_, f)) = &fetcher {
                tick(
                    &shared,
                    &sequencer,
                    &cache,
                    &mut slots,
                    &settings,
                    &cfg,
                    f.clone(),
                )
                .await;
            }
            let pause = settings
                .refresh
                .clamp(Duration::from_millis(500), Duration::from_secs(30));
            tokio::time::sleep(pause).await;
        }
    });
}

/// A copy read back from the database: its body and validators, parsed when the config
/// is known (the first tick).
fn restore(cache: &CalendarCache, slots: &mut HashMap<String, Slot>, row: CalendarFeedRow) {
    let ts = |m: Option<i64>| m.and_then(|m| Timestamp::from_microsecond(m).ok());
    cache.update(&row.rep, |s| {
        s.fetched_at = ts(row.fetched_at);
        s.changed_at = ts(row.changed_at);
        s.last_error = row.last_error.clone();
        s.error_at = ts(row.error_at);
    });
    slots.insert(
        row.rep.clone(),
        Slot {
            source_hash: row.source_hash,
            etag: row.etag,
            last_modified: row.last_modified,
            body: row.body.map(Arc::from),
            parsed_with: String::new(),
            next_due: Instant::now(),
            submitted: None,
        },
    );
}

/// The feed's address: the URL as written, or the environment variable `env:NAME` names.
fn address(source: &str) -> Result<String, String> {
    match source.strip_prefix("env:") {
        Some(name) => std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("environment variable {name} is not set")),
        None => Ok(source.to_string()),
    }
}

fn hash(address: &str) -> String {
    hex::encode(sha2::Sha256::digest(address.as_bytes()))
}

async fn tick(
    shared: &Arc<Shared>,
    sequencer: &Sequencer,
    cache: &Arc<CalendarCache>,
    slots: &mut HashMap<String, Slot>,
    settings: &CalendarSettings,
    cfg: &Arc<CompiledConfig>,
    fetcher: Arc<Fetcher>,
) {
    let reps: HashMap<&str, &leadrouter_core::config::Rep> = cfg
        .reps
        .iter()
        .filter(|r| r.calendar.is_some())
        .map(|r| (r.id.as_str(), r))
        .collect();
    slots.retain(|rep, _| reps.contains_key(rep.as_str()));
    cache.retain(&|rep| reps.contains_key(rep));

    // Fetch what is due, a few at a time.
    let now_i = Instant::now();
    let mut due = Vec::new();
    for (id, rep) in &reps {
        let source = rep.calendar.as_deref().unwrap_or_default();
        let addr = address(source);
        let h = addr.as_deref().map(hash).unwrap_or_default();
        let slot = slots.entry(id.to_string()).or_insert_with(|| Slot {
            source_hash: h.clone(),
            etag: None,
            last_modified: None,
            body: None,
            parsed_with: String::new(),
            next_due: now_i,
            submitted: None,
        });
        if slot.source_hash != h {
            // Another address: the old copy is not this feed's.
            *slot = Slot {
                source_hash: h.clone(),
                etag: None,
                last_modified: None,
                body: None,
                parsed_with: String::new(),
                next_due: now_i,
                submitted: slot.submitted.take(),
            };
            cache.update(id, |s| *s = Default::default());
        }
        if slot.next_due <= now_i {
            slot.next_due = now_i + settings.refresh;
            due.push((
                id.to_string(),
                addr,
                h,
                slot.etag.clone(),
                slot.last_modified.clone(),
            ));
        }
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_FETCHES));
    let mut tasks = tokio::task::JoinSet::new();
    for (rep, addr, h, etag, lm) in due {
        let (sem, fetcher) = (sem.clone(), fetcher.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let result = match addr {
                Ok(a) => fetcher.fetch(&a, etag.as_deref(), lm.as_deref()).await,
                Err(e) => Err(e),
            };
            (rep, h, result)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let Ok((rep, h, result)) = done else { continue };
        let now = shared.clock.now();
        let at = now.as_microsecond();
        let Some(slot) = slots.get_mut(&rep) else {
            continue;
        };
        let stored = match result {
            Ok(Fetched::Changed {
                body,
                etag,
                last_modified,
            }) => {
                // A body that does not parse is a failure: the last good copy stays.
                let zone = reps
                    .get(rep.as_str())
                    .and_then(|r| r.tz_name.parse::<chrono_tz::Tz>().ok());
                let opts = settings.parse_options(zone, year(now));
                let body: Arc<str> = Arc::from(body);
                let parse_body = body.clone();
                let parsed =
                    tokio::task::spawn_blocking(move || Calendar::parse(&parse_body, &opts))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| format!("the feed does not parse: {e}")));
                match parsed {
                    Ok(cal) => {
                        slot.etag = etag.clone();
                        slot.last_modified = last_modified.clone();
                        slot.body = Some(body.clone());
                        slot.parsed_with = parsed_key(settings, zone);
                        for w in cal.warnings().iter().take(5) {
                            tracing::warn!(rep = %rep, warning = %w, "calendar feed read approximately");
                        }
                        cache.update(&rep, |s| {
                            s.calendar = Some(Arc::new(cal));
                            s.fetched_at = Some(now);
                            s.changed_at = Some(now);
                            s.last_error = None;
                            s.error_at = None;
                        });
                        let row = CalendarFeedRow {
                            rep: rep.clone(),
                            source_hash: h,
                            etag,
                            last_modified,
                            body: Some(body.to_string()),
                            fetched_at: Some(at),
                            changed_at: Some(at),
                            last_error: None,
                            error_at: None,
                        };
                        shared.store.calendar_changed(&row).await
                    }
                    Err(e) => failed(shared, cache, &rep, &h, &e, now).await,
                }
            }
            Ok(Fetched::NotModified) => {
                cache.update(&rep, |s| {
                    s.fetched_at = Some(now);
                    s.last_error = None;
                    s.error_at = None;
                });
                shared.store.calendar_not_modified(&rep, at).await
            }
            Err(e) => failed(shared, cache, &rep, &h, &e, now).await,
        };
        if let Err(e) = stored {
            tracing::error!(rep = %rep, error = %e, "keeping the calendar feed's copy failed");
        }
    }

    // Copies read back at start (or parsed under other settings): parse them now.
    let now = shared.clock.now();
    for (id, slot) in slots.iter_mut() {
        let zone = reps
            .get(id.as_str())
            .and_then(|r| r.tz_name.parse::<chrono_tz::Tz>().ok());
        let key = parsed_key(settings, zone);
        let Some(body) = slot.body.clone() else {
            continue;
        };
        if slot.parsed_with == key {
            continue;
        }
        slot.parsed_with = key;
        let opts = settings.parse_options(zone, year(now));
        match tokio::task::spawn_blocking(move || Calendar::parse(&body, &opts)).await {
            Ok(Ok(cal)) => cache.update(id, |s| s.calendar = Some(Arc::new(cal))),
            Ok(Err(e)) => {
                tracing::warn!(rep = %id, error = %e, "the stored calendar copy does not parse")
            }
            Err(e) => tracing::error!(rep = %id, error = %e, "parsing a calendar copy"),
        }
    }

    // Out of office: submit what changed.
    let now_c = to_chrono(now);
    for (id, slot) in slots.iter_mut() {
        let Some(status) = cache.status(id) else {
            continue;
        };
        let want = status.calendar.as_ref().map(|cal| {
            cal.out_of_office_at(now_c, chrono::Duration::days(OOO_HORIZON_DAYS))
                .map(|o| (to_jiff(o.interval.end), o.title))
        });
        cache.update(id, |s| {
            s.out_of_office = want.clone().flatten();
            s.stale_after = settings.stale_after;
        });
        // No copy yet: nothing is known, nothing is submitted.
        let Some(want) = want else { continue };
        if slot.submitted.as_ref() == Some(&want) {
            continue;
        }
        match submit(sequencer, id, want.as_ref()).await {
            Ok(()) => slot.submitted = Some(want),
            Err(e) => {
                tracing::warn!(rep = %id, error = %e, "calendar out-of-office not applied yet")
            }
        }
    }
}

async fn failed(
    shared: &Arc<Shared>,
    cache: &CalendarCache,
    rep: &str,
    source_hash: &str,
    error: &str,
    now: Timestamp,
) -> Result<(), leadrouter_store::StoreError> {
    tracing::warn!(rep = %rep, error = %error, "calendar feed fetch failed; the last good copy stays");
    cache.update(rep, |s| {
        s.last_error = Some(error.to_string());
        s.error_at = Some(now);
    });
    shared
        .store
        .calendar_failed(rep, source_hash, error, now.as_microsecond())
        .await
}

fn parsed_key(s: &CalendarSettings, zone: Option<chrono_tz::Tz>) -> String {
    format!(
        "{:?}|{:?}|{}|{}|{:?}",
        zone,
        s.ooo_titles.as_ref().map(|r| r.as_str().to_string()),
        s.long_event.as_secs(),
        s.max_events,
        s.max_bytes
    )
}

fn year(t: Timestamp) -> i32 {
    i32::from(t.to_zoned(jiff::tz::TimeZone::UTC).year())
}

/// Set (until, title) or clear the rep's calendar out-of-office through the sequencer.
async fn submit(
    sequencer: &Sequencer,
    rep: &str,
    want: Option<&(Timestamp, String)>,
) -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Job::Availability {
        rep: rep.to_string(),
        out: want.is_some(),
        until: want.map(|w| w.0),
        note: want.map(|w| note_for(&w.1)),
        actor: ACTOR.to_string(),
        address: None,
        reply: tx,
    };
    sequencer.submit(job).await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(JOB_TIMEOUT, rx).await {
        Ok(Ok(Ok(_))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(_)) => Err("the sequencer dropped the job".into()),
        Err(_) => Err("the sequencer did not answer in time".into()),
    }
}
