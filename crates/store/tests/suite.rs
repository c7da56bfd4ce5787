//! One storage test suite, run against both backends: every case is a plain async fn over
//! a database URL, called from a `sqlite_*` and a `postgres_*` test (see `both!`).
//!
//! PostgreSQL cases need a server (`LEADROUTER_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`); without one they fail and say how to skip
//! them (`LEADROUTER_SKIP_PG=1`).

use leadrouter_core::lifecycle::{LeadStatus, Outcome, SlaStep, Stage};
use leadrouter_core::state::{
    AvailabilityOverride, DailyCount, PriorPerson, PriorStatus, RepLoad, Rotation, StateSnapshot,
};
use leadrouter_store::{
    AccountRow, AuditEntry, AuditQuery, AuditRecord, BatchReads, BatchReadsFor, BatchWrite,
    DecisionRecord, LeadRecord, LeadUpdate, OutboxResult, OutboxRow, PersonWrite, RepStateWrite,
    Store, StoredPerson, StoredResponse, TimerRow, from_micros,
};
use leadrouter_testsupport::TestDb;
use leadrouter_testsupport::db::{PeopleColumns, applied_migrations, people_columns};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 2026-11-23T15:00:00Z in microseconds; every timestamp in the suite is relative to it.
const T0: i64 = 1_795_446_000_000_000;
const MINUTE: i64 = 60_000_000;

macro_rules! both {
    ($($case:ident: $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let db = TestDb::sqlite();
            $case(&db.url).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let Some(db) = TestDb::postgres().await else {
                return;
            };
            $case(&db.url).await;
        }
    )*};
}

both! {
    migrations_apply_once_and_reopen: sqlite_migrations_apply_once_and_reopen, postgres_migrations_apply_once_and_reopen;
    batch_reads_back_exactly: sqlite_batch_reads_back_exactly, postgres_batch_reads_back_exactly;
    lead_updates_change_the_lead: sqlite_lead_updates_change_the_lead, postgres_lead_updates_change_the_lead;
    people_upsert_accumulates: sqlite_people_upsert_accumulates, postgres_people_upsert_accumulates;
    lock_state_returns_written_version: sqlite_lock_state_returns_written_version, postgres_lock_state_returns_written_version;
    rollback_leaves_nothing: sqlite_rollback_leaves_nothing, postgres_rollback_leaves_nothing;
    duplicate_keys_are_rejected: sqlite_duplicate_keys_are_rejected, postgres_duplicate_keys_are_rejected;
    second_writer_waits_for_first: sqlite_second_writer_waits_for_first, postgres_second_writer_waits_for_first;
    accounts_of_each_version_survive_a_rolling_reload: sqlite_accounts_of_each_version_survive_a_rolling_reload, postgres_accounts_of_each_version_survive_a_rolling_reload;
    outbox_delivers_in_order_with_retries_and_dead_letters: sqlite_outbox_delivers_in_order_with_retries_and_dead_letters, postgres_outbox_delivers_in_order_with_retries_and_dead_letters;
    timers_come_due_fire_and_cancel: sqlite_timers_come_due_fire_and_cancel, postgres_timers_come_due_fire_and_cancel;
    console_rollups_and_window_figures: sqlite_console_rollups_and_window_figures, postgres_console_rollups_and_window_figures;
    console_sessions_expire_and_delete: sqlite_console_sessions_expire_and_delete, postgres_console_sessions_expire_and_delete;
    console_window_rollup_equals_direct_computation: sqlite_console_window_rollup_equals_direct_computation, postgres_console_window_rollup_equals_direct_computation;
    weekly_report_is_queued_once_and_delivered_like_any_message: sqlite_weekly_report_is_queued_once_and_delivered_like_any_message, postgres_weekly_report_is_queued_once_and_delivered_like_any_message;
    committed_reads_see_commits_only: sqlite_committed_reads_see_commits_only, postgres_committed_reads_see_commits_only;
    lead_detail_reads_one_snapshot: sqlite_lead_detail_reads_one_snapshot, postgres_lead_detail_reads_one_snapshot;
    idle_outbox_claim_does_not_wait_for_routing: sqlite_idle_outbox_claim_does_not_wait_for_routing, postgres_idle_outbox_claim_does_not_wait_for_routing;
    outbox_outcomes_recorded_as_one_batch: sqlite_outbox_outcomes_recorded_as_one_batch, postgres_outbox_outcomes_recorded_as_one_batch;
    rollup_days_follow_the_organisations_zone: sqlite_rollup_days_follow_the_organisations_zone, postgres_rollup_days_follow_the_organisations_zone;
    snapshot_reads_do_not_see_a_commit_between_them: sqlite_snapshot_reads_do_not_see_a_commit_between_them, postgres_snapshot_reads_do_not_see_a_commit_between_them;
    snapshot_reads_agree_while_batches_commit: sqlite_snapshot_reads_agree_while_batches_commit, postgres_snapshot_reads_agree_while_batches_commit;
    state_reads_one_snapshot: sqlite_state_reads_one_snapshot, postgres_state_reads_one_snapshot;
    audit_log_is_append_only: sqlite_audit_log_is_append_only, postgres_audit_log_is_append_only;
    person_export_erasure_and_retention: sqlite_person_export_erasure_and_retention, postgres_person_export_erasure_and_retention;
    erasure_scrubs_weekly_report_messages: sqlite_erasure_scrubs_weekly_report_messages, postgres_erasure_scrubs_weekly_report_messages;
    audit_log_prunes_only_entries_behind_the_horizon: sqlite_audit_log_prunes_only_entries_behind_the_horizon, postgres_audit_log_prunes_only_entries_behind_the_horizon;
    flow_counts_and_lists_a_window: sqlite_flow_counts_and_lists_a_window, postgres_flow_counts_and_lists_a_window;
}

/// The console's routing flow (issue 23): leads of a window counted by the way they went,
/// and one way's leads listed, newest first; a lead outside the window counts nowhere.
async fn flow_counts_and_lists_a_window(url: &str) {
    use leadrouter_store::reporting::{FlowFilter, FlowGroup};
    let store = open(url).await;
    let mut a = lead("a", Some("a@x.com"), Some("r1"), None);
    a.path = "territory".into();
    a.rule = Some("emea".into());
    let mut b = lead("b", Some("b@x.com"), Some("r2"), None);
    b.path = "territory".into();
    b.rule = Some("emea".into());
    b.received_at = T0 + MINUTE;
    let mut c = lead("c", Some("c@x.com"), None, Some("review"));
    c.path = "personal_email_review".into();
    c.rule = None;
    let mut late = lead("late", Some("d@x.com"), None, Some("review"));
    late.path = "personal_email_review".into();
    late.rule = None;
    late.received_at = T0 + 60 * MINUTE;
    let batch = BatchWrite {
        leads: vec![a, b, c, late],
        ..BatchWrite::default()
    };
    commit(&*store, &batch, 1).await;
    let mut snap = store.snapshot().await.unwrap();
    let groups = snap.flow_counts(T0, T0 + 30 * MINUTE).await.unwrap();
    let g =
        |path: &str, rule: Option<&str>, owner: Option<&str>, queue: Option<&str>, n| FlowGroup {
            path: path.into(),
            rule: rule.map(Into::into),
            team: owner.map(|_| "pool".into()),
            owner: owner.map(Into::into),
            queue: queue.map(Into::into),
            leads: n,
        };
    assert_eq!(
        groups,
        vec![
            g("personal_email_review", None, None, Some("review"), 1),
            g("territory", Some("emea"), Some("r1"), None, 1),
            g("territory", Some("emea"), Some("r2"), None, 1),
        ]
    );
    let rule = FlowFilter {
        rule: Some("emea".into()),
        ..FlowFilter::default()
    };
    let listed = snap
        .flow_leads(&rule, T0, T0 + 30 * MINUTE, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["b", "a"], "newest first");
    let review = FlowFilter {
        queue: Some("review".into()),
        path: Some("personal_email_review".into()),
        ..FlowFilter::default()
    };
    let listed = snap
        .flow_leads(&review, T0, T0 + 90 * MINUTE, 1)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "the limit holds");
    assert_eq!(listed[0].id, "late");
    snap.end().await.unwrap();
}

async fn state_version(store: &dyn Store) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let v = tx.lock_state().await.unwrap();
    tx.rollback().await.unwrap();
    v
}

/// SEC-3: the export finds a person by any spelling of their address; erasure removes
/// them (and moves the state version, so sequencers reload) but keeps their lead rows
/// for the figures; retention does the same by age and drops old traces.
async fn person_export_erasure_and_retention(url: &str) {
    let store = open(url).await;
    let mut batch = full_batch();
    // The replay history holds the lead as parsed and the person row written (OPS-5).
    batch.events.push(leadrouter_store::EventRow {
        at: T0,
        kind: "route".into(),
        lead_id: Some("L1".into()),
        actor: None,
        config_version: "v1".into(),
        input: Some(json!({"lead": {"email": "ann@globex.com", "first_name": "Ann"}}).to_string()),
        effects: "[]".into(),
        result: Some(json!({"owner": "r1"}).to_string()),
        people: Some(json!([["ann@globex.com", {"owner": "r1"}]]).to_string()),
        input_packed: None,
    });
    // As the service writes it now: the input packed.
    batch.events.push(leadrouter_store::EventRow {
        input: None,
        input_packed: Some(
            leadrouter_core::record::RouteInput {
                lead: leadrouter_core::lead::Lead {
                    email: Some("ann@globex.com".into()),
                    first_name: Some("Ann".into()),
                    ..Default::default()
                },
                issues: vec![],
                enrichment: None,
                now: jiff::Timestamp::from_microsecond(T0).unwrap(),
                received_at: jiff::Timestamp::from_microsecond(T0).unwrap(),
            }
            .pack(),
        ),
        ..batch.events[0].clone()
    });
    commit(&*store, &batch, 1).await;
    store
        .cache_put(
            "people-api",
            "ann@globex.com",
            &json!({"title": "CFO"}),
            T0 + MINUTE,
        )
        .await
        .unwrap();
    let owners = sorted(store.owner_counts().await.unwrap());

    let export = store.person_export(" ANN@Globex.com ").await.unwrap();
    assert_eq!(export.email, "ann@globex.com");
    assert_eq!(export.person.as_ref().map(|p| p.lead_count), Some(1));
    assert_eq!(export.leads.len(), 1);
    assert_eq!(export.leads[0].decisions.len(), 2);
    assert_eq!(export.leads[0].idempotency.len(), 1);
    assert_eq!(export.enrichment_cache.len(), 1);

    let counts = store.erase_person("ann@globex.com", T0 + 9).await.unwrap();
    assert_eq!(
        counts,
        leadrouter_store::ErasureCounts {
            people: 1,
            leads: 1,
            decisions: 2,
            idempotency: 1,
            enrichment_cache: 1,
            history_events: 2,
            ..Default::default()
        }
    );
    let mut history = leadrouter_store::HistoryReader::open(url).await.unwrap();
    let events = history.events_after(0, 0, None).await.unwrap();
    history.close().await.unwrap();
    let text = format!("{events:?}");
    assert!(
        !text.contains("ann@globex.com")
            && events
                .iter()
                .any(|e| e.row.lead_id.as_deref() == Some("L1")),
        "erasure scrubs the replay history and keeps the event: {text}"
    );
    let l1: Vec<_> = events
        .iter()
        .filter(|e| e.row.lead_id.as_deref() == Some("L1"))
        .collect();
    assert_eq!(l1.len(), 2, "{text}");
    assert!(
        l1.iter().all(|e| e.row.input_packed.is_none())
            && l1.iter().any(|e| e
                .row
                .input
                .as_deref()
                .is_some_and(|i| i.contains("received_at"))),
        "a packed input is written back scrubbed, as JSON: {text}"
    );
    assert_eq!(
        state_version(&*store).await,
        2,
        "erasure moves the state version"
    );
    assert!(
        store
            .person_export("ann@globex.com")
            .await
            .unwrap()
            .is_empty()
    );
    let l1 = store.lead("L1").await.unwrap().unwrap();
    assert_eq!((l1.email, l1.owner.as_deref()), (None, Some("r1")));
    let text = serde_json::to_string(&(&*l1.payload, store.history("L1").await.unwrap())).unwrap();
    assert!(
        !text.contains("ann@globex.com") && !text.contains("Rebecca"),
        "{text}"
    );
    assert_eq!(
        sorted(store.owner_counts().await.unwrap()),
        owners,
        "lead rows stay"
    );
    assert!(store.idempotent("key-1").await.unwrap().is_none());
    assert!(
        store
            .cache_get("people-api", "ann@globex.com", T0)
            .await
            .unwrap()
            .is_none()
    );
    // Bob is untouched.
    assert_eq!(
        store.lead("L2").await.unwrap().unwrap().email.as_deref(),
        Some("bob@initech.com")
    );
    assert_eq!(
        store.erase_person("ann@globex.com", T0 + 10).await.unwrap(),
        Default::default()
    );

    // Retention: leads received before the cutoff (L1 is already done), in batches.
    let first = store.expire_leads(T0 + 1, 0, 1, T0 + 20).await.unwrap();
    assert_eq!((first.scanned, first.counts.leads), (1, 1));
    let rest = store
        .expire_leads(T0 + 1, first.next, 10, T0 + 20)
        .await
        .unwrap();
    assert_eq!(rest.scanned, 1);
    assert_eq!(
        first.counts.people + rest.counts.people,
        1,
        "bob's latest lead expired"
    );
    assert!(
        store
            .person_export("bob@initech.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.lead("L2").await.unwrap().unwrap().email, None);
    assert_eq!(sorted(store.owner_counts().await.unwrap()), owners);

    // Traces: decisions made before the cutoff lose theirs, later ones keep it.
    let t = store.expire_traces(T0 + 2, 0, 100).await.unwrap();
    assert_eq!(t.scanned, 2);
    assert!(store.history("L1").await.unwrap()[0].trace.is_none());
    assert_eq!(
        store.history("L3").await.unwrap()[0].trace.is_some(),
        decision("L3", "route", None, T0 + 2).trace.is_some()
    );
    assert_eq!(store.expire_delivered_outbox(T0, 100).await.unwrap(), 0);
}

/// `Store::state` reads three tables; a batch that commits meanwhile is seen whole or not
/// at all (each batch here moves a rep's pass, clock and load together).
async fn state_reads_one_snapshot(url: &str) {
    let store = open(url).await;
    const BATCHES: i64 = 150;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 1..=BATCHES {
                let batch = BatchWrite {
                    rotations: vec![("pool".into(), "r1".into(), n)],
                    clocks: vec![("pool".into(), n)],
                    rep_state: vec![RepStateWrite {
                        rep: "r1".into(),
                        early: n,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                commit(&*store, &batch, n).await;
            }
        })
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut reads = 0;
    while !writer.is_finished() {
        let s = store.state().await.unwrap();
        let pass = s.rotations.get("pool").map_or(0, |r| r.passes["r1"]);
        let clock = s.rotations.get("pool").map_or(0, |r| r.virtual_time);
        let load = s.loads.get("r1").map_or(0, |l| u64::from(l.early));
        assert_eq!((clock, load), (pass, pass), "read {reads}");
        seen.insert(pass);
        reads += 1;
    }
    writer.await.unwrap();
    assert!(
        seen.len() > 2,
        "the reads must overlap the commits to test anything: {reads} reads saw {} states",
        seen.len()
    );
}

/// Issue 25: the rollups count the organisation's calendar days. Leads on both sides of
/// local midnight around both DST changes in New York land on their local day; the
/// rollup-based window equals the direct computation over each local day's instants
/// (the 23- and the 25-hour day too); and a zone change rebuilds the rows the routing
/// transactions would have written, `assigned` counting the owner at routing time.
async fn rollup_days_follow_the_organisations_zone(url: &str) {
    use leadrouter_store::reporting::{DAY_US, ReportZone};
    let store = open(url).await;
    let ny = ReportZone::named("America/New_York").unwrap();
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_microsecond();
    let key = |d: &str| ReportZone::key(d.parse().unwrap());
    // (lead, received at, its day in New York)
    let cases = [
        ("a", "2026-03-08T04:59:00Z", "2026-03-07"), // 23:59 EST
        ("b", "2026-03-08T05:00:00Z", "2026-03-08"), // 00:00 EST: the 23-hour day
        ("c", "2026-03-09T03:59:00Z", "2026-03-08"), // 23:59 EDT
        ("d", "2026-03-09T04:00:00Z", "2026-03-09"),
        ("e", "2026-11-01T03:59:00Z", "2026-10-31"), // 23:59 EDT
        ("f", "2026-11-01T04:00:00Z", "2026-11-01"), // 00:00 EDT: the 25-hour day
        ("g", "2026-11-02T04:59:00Z", "2026-11-01"), // 23:59 EST
        ("h", "2026-11-02T05:00:00Z", "2026-11-02"),
    ];
    let batch = |ids: &str| {
        let mut b = BatchWrite::default();
        for (id, received, _) in cases.iter().filter(|c| ids.contains(c.0)) {
            let mut l = lead(id, None, Some("r1"), None);
            l.received_at = at(received);
            l.routed_at = l.received_at + 700;
            l.contact_by = Some(l.routed_at + 5 * MINUTE);
            b.leads.push(l);
            b.decisions
                .push(decision(id, "route", Some("r1"), at(received)));
        }
        b
    };
    let daily_by_day = |rows: Vec<leadrouter_store::reporting::DailyRow>| {
        let mut m: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for r in rows {
            let e = m.entry(r.day).or_default();
            e.0 += r.leads;
            e.1 += r.assigned;
        }
        m
    };
    let (first, last) = (key("2026-03-01"), key("2026-11-30"));
    let expected = |ids: &str| {
        let mut m: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (_, _, d) in cases.iter().filter(|c| ids.contains(c.0)) {
            let e = m.entry(key(d)).or_default();
            e.0 += 1;
            e.1 += 1;
        }
        m
    };

    // Rows written while the zone was UTC (as before issue 25), then the zone changes.
    assert_eq!(store.report_zone().await.unwrap(), "UTC");
    commit(&*store, &batch("abcd"), 1).await;
    assert_eq!(
        daily_by_day(store.daily(first, last).await.unwrap())[&key("2026-03-08")],
        (2, 2),
        "UTC days before the change"
    );
    assert!(store.set_report_zone(&ny).await.unwrap(), "rebuilt");
    assert!(
        !store.set_report_zone(&ny).await.unwrap(),
        "already in New York days"
    );
    assert_eq!(store.report_zone().await.unwrap(), "America/New_York");
    assert_eq!(
        daily_by_day(store.daily(first, last).await.unwrap()),
        expected("abcd")
    );

    // Rows written by routing transactions in New York days; g is then moved to a queue,
    // which leaves it counted as assigned when routed.
    commit(&*store, &batch("efgh"), 2).await;
    let moved = BatchWrite {
        lead_updates: vec![LeadUpdate {
            id: "g".into(),
            owner: None,
            queue: Some("review".into()),
            team: None,
            status: LeadStatus::Open,
            stage: Stage::Early,
            outcome: None,
            outcome_at: None,
            contact_by: None,
            accepted_at: None,
            first_touch_at: None,
        }],
        decisions: vec![decision("g", "manual", None, at("2026-11-03T12:00:00Z"))],
        ..Default::default()
    };
    commit(&*store, &moved, 3).await;
    let written = daily_by_day(store.daily(first, last).await.unwrap());
    assert_eq!(written, expected("abcdefgh"));
    let now = at("2026-11-05T00:00:00Z");
    let check = |label: &'static str| {
        let store = store.clone();
        let ny = ny.clone();
        async move {
            for (_, _, d) in cases {
                let k = key(d);
                let rolled = by_key(store.window_days(k, k, now).await.unwrap());
                let direct = by_key(
                    store
                        .window(ny.day_start(k), ny.day_start(k + DAY_US), now)
                        .await
                        .unwrap(),
                );
                assert_eq!(rolled, direct, "{label}: {d}");
                assert!(!rolled.is_empty(), "{label}: {d}");
            }
            let week = store
                .window_days(key("2026-10-26"), key("2026-11-01"), now)
                .await
                .unwrap();
            assert_eq!(week.iter().map(|g| g.leads).sum::<i64>(), 3, "{label}");
        }
    };
    check("written in New York days").await;
    let speed = store.speed(first, last).await.unwrap();
    let window = store.window_days(first, last, now).await.unwrap();

    // Back to UTC days and again to New York: the rebuild gives what was written.
    assert!(store.set_report_zone(&ReportZone::utc()).await.unwrap());
    let utc = daily_by_day(store.daily(first, last).await.unwrap());
    assert_eq!(utc[&key("2026-03-08")], (2, 2));
    assert_eq!(utc[&key("2026-11-02")], (2, 2), "g and h, UTC");
    assert!(store.set_report_zone(&ny).await.unwrap());
    assert_eq!(
        daily_by_day(store.daily(first, last).await.unwrap()),
        written
    );
    assert_eq!(store.speed(first, last).await.unwrap(), speed);
    assert_eq!(
        by_key(store.window_days(first, last, now).await.unwrap()),
        by_key(window)
    );
    check("rebuilt in New York days").await;
}

/// Issue 25: the console's multi-statement pages read one snapshot: a routing batch
/// committed between two reads of one snapshot is seen by neither, and by the next
/// snapshot; the snapshot does not hold the writer up.
async fn snapshot_reads_do_not_see_a_commit_between_them(url: &str) {
    use leadrouter_store::reporting::day_of;
    let store = open(url).await;
    commit(&*store, &full_batch(), 1).await;
    let queues = ["unassigned".to_string()];
    let day = day_of(T0);
    let mut snap = store.snapshot().await.unwrap();
    let listed = snap.recent_leads(100).await.unwrap();
    let counts = snap.queue_counts(&queues, T0 + MINUTE).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(counts[0].open, 1);

    let more = BatchWrite {
        leads: vec![lead("L9", None, None, Some("unassigned"))],
        decisions: vec![decision("L9", "route", None, T0 + 9)],
        rep_state: vec![RepStateWrite {
            rep: "r9".into(),
            early: 4,
            ..Default::default()
        }],
        ..Default::default()
    };
    tokio::time::timeout(Duration::from_secs(5), commit(&*store, &more, 2))
        .await
        .expect("an open snapshot does not hold the routing writer up");

    assert_eq!(snap.recent_leads(100).await.unwrap(), listed);
    assert_eq!(
        snap.queue_counts(&queues, T0 + MINUTE).await.unwrap(),
        counts
    );
    assert_eq!(snap.queue_leads("unassigned", 100).await.unwrap().len(), 1);
    let daily = snap.daily(day, day).await.unwrap();
    assert_eq!(daily.iter().map(|d| d.leads).sum::<i64>(), 3);
    let window = snap.window_days(day, day, T0).await.unwrap();
    assert_eq!(window.iter().map(|g| g.leads).sum::<i64>(), 3);
    assert!(!snap.state().await.unwrap().loads.contains_key("r9"));
    assert!(snap.reasons(&["L9".into()]).await.unwrap().is_empty());
    snap.end().await.unwrap();

    let mut next = store.snapshot().await.unwrap();
    assert_eq!(next.recent_leads(100).await.unwrap().len(), 4);
    assert_eq!(
        next.queue_counts(&queues, T0 + MINUTE).await.unwrap()[0].open,
        2
    );
    assert!(next.state().await.unwrap().loads.contains_key("r9"));
    let daily = next.daily(day, day).await.unwrap();
    assert_eq!(daily.iter().map(|d| d.leads).sum::<i64>(), 4);
    next.end().await.unwrap();
}

/// The figures one page combines agree inside a snapshot while batches commit beside it:
/// the daily rollup, the window rollup and the lead list count the same leads.
async fn snapshot_reads_agree_while_batches_commit(url: &str) {
    use leadrouter_store::reporting::day_of;
    let store = open(url).await;
    const BATCHES: i64 = 120;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 1..=BATCHES {
                let id = format!("S{n}");
                let batch = BatchWrite {
                    leads: vec![lead(&id, None, Some("r1"), None)],
                    decisions: vec![decision(&id, "route", Some("r1"), T0 + n)],
                    ..Default::default()
                };
                commit(&*store, &batch, n).await;
            }
        })
    };
    let day = day_of(T0);
    let mut seen = std::collections::BTreeSet::new();
    let mut reads = 0;
    while !writer.is_finished() {
        let mut snap = store.snapshot().await.unwrap();
        let daily: i64 = snap
            .daily(day, day)
            .await
            .unwrap()
            .iter()
            .map(|d| d.leads)
            .sum();
        let listed = snap.recent_leads(1000).await.unwrap().len() as i64;
        let window: i64 = snap
            .window_days(day, day, T0)
            .await
            .unwrap()
            .iter()
            .map(|g| g.leads)
            .sum();
        snap.end().await.unwrap();
        assert_eq!((daily, window), (listed, listed), "read {reads}");
        seen.insert(listed);
        reads += 1;
    }
    writer.await.unwrap();
    assert!(
        seen.len() > 2,
        "the reads must overlap the commits to test anything: {reads} reads saw {} counts",
        seen.len()
    );
}

/// `complete_outbox_many` records delivered, retry and dead outcomes together, each as
/// `complete_outbox` would: a row waiting for its retry still holds back the next row of
/// its lead and channel.
async fn outbox_outcomes_recorded_as_one_batch(url: &str) {
    let store = open(url).await;
    let batch = BatchWrite {
        outbox: vec![
            outbox_row("o1", "L1", "slack", T0),
            outbox_row("o2", "L1", "slack", T0),
            outbox_row("o3", "L1", "email", T0),
            outbox_row("o4", "L2", "slack", T0),
        ],
        ..Default::default()
    };
    commit(&*store, &batch, 1).await;
    let claimed: Vec<String> = store
        .claim_outbox("w1", T0, MINUTE, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(claimed, vec!["o1", "o3", "o4"]);
    let done = vec![
        (
            "o1".to_string(),
            OutboxResult::Retry {
                next_at: T0 + 10 * MINUTE,
                error: "HTTP 503".into(),
            },
        ),
        ("o3".to_string(), OutboxResult::Delivered { at: T0 + 1 }),
        (
            "o4".to_string(),
            OutboxResult::Dead {
                error: "HTTP 410".into(),
            },
        ),
    ];
    store.complete_outbox_many(&done).await.unwrap();
    store.complete_outbox_many(&[]).await.unwrap();
    let mut rows: BTreeMap<String, OutboxRow> = BTreeMap::new();
    for lead in ["L1", "L2"] {
        for o in store.outbox(lead).await.unwrap() {
            rows.insert(o.id.clone(), o);
        }
    }
    let o1 = &rows["o1"];
    assert_eq!(
        (o1.status.as_str(), o1.attempts, o1.next_attempt_at),
        ("pending", 1, T0 + 10 * MINUTE)
    );
    assert_eq!(o1.last_error.as_deref(), Some("HTTP 503"));
    let o3 = &rows["o3"];
    assert_eq!(
        (o3.status.as_str(), o3.delivered_at),
        ("delivered", Some(T0 + 1))
    );
    let o4 = &rows["o4"];
    assert_eq!(
        (o4.status.as_str(), o4.last_error.as_deref()),
        ("dead", Some("HTTP 410"))
    );
    assert_eq!(rows["o2"].attempts, 0);
    // o2 waits behind o1's retry; once o1 is delivered, o2 is next.
    assert!(
        store
            .claim_outbox("w1", T0 + 5 * MINUTE, MINUTE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store
        .claim_outbox("w1", T0 + 10 * MINUTE, MINUTE, 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, "o1");
}

/// The delivery worker polls whether or not anything is due. With nothing to claim, a
/// poll must not wait for (on SQLite: queue behind) an open routing transaction.
async fn idle_outbox_claim_does_not_wait_for_routing(url: &str) {
    let store = open(url).await;
    let batch = BatchWrite {
        outbox: vec![outbox_row("o1", "L1", "slack", T0 + MINUTE)],
        ..Default::default()
    };
    commit(&*store, &batch, 1).await;
    let mut routing = store.begin().await.unwrap();
    routing.lock_state().await.unwrap();
    let started = Instant::now();
    let claimed = tokio::time::timeout(
        Duration::from_secs(3),
        store.claim_outbox("w1", T0, MINUTE, 10),
    )
    .await
    .expect("an idle claim waited for the routing transaction");
    assert_eq!(claimed.unwrap(), vec![], "o1 is not due at T0");
    let waited = started.elapsed();
    routing.rollback().await.unwrap();
    // Once due, it is claimed as before.
    let claimed = store
        .claim_outbox("w1", T0 + MINUTE, MINUTE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert!(waited < Duration::from_secs(3));
}

/// `Store::lead_detail` is what `lead`, `history`, `outbox` and `timers` return, read
/// from one snapshot: while owner changes commit one after another (each with its history
/// entry), every read's lead row names the owner of its latest history entry.
async fn lead_detail_reads_one_snapshot(url: &str) {
    let store = open(url).await;
    commit(&*store, &full_batch(), 1).await;
    let batch = BatchWrite {
        outbox: vec![outbox_row("M1", "L1", "email", T0)],
        timers: vec![timer("T1", "L1", "manager", T0 + 10 * MINUTE)],
        ..Default::default()
    };
    commit(&*store, &batch, 2).await;
    let got = store.lead_detail("L1").await.unwrap().expect("L1 exists");
    assert_eq!(Some(&got.lead), store.lead("L1").await.unwrap().as_ref());
    assert_eq!(got.history, store.history("L1").await.unwrap());
    assert_eq!(got.outbox, store.outbox("L1").await.unwrap());
    assert_eq!(got.timers, store.timers("L1").await.unwrap());
    assert_eq!((got.outbox.len(), got.timers.len()), (1, 1));
    assert_eq!(store.lead_detail("nope").await.unwrap(), None);

    const CHANGES: i64 = 150;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 1..=CHANGES {
                let owner = format!("r{n}");
                let update = LeadUpdate {
                    id: "L1".into(),
                    owner: Some(owner.clone()),
                    queue: None,
                    team: Some("pool".into()),
                    status: LeadStatus::Open,
                    stage: Stage::Early,
                    outcome: None,
                    outcome_at: None,
                    contact_by: None,
                    accepted_at: None,
                    first_touch_at: None,
                };
                let batch = BatchWrite {
                    lead_updates: vec![update],
                    decisions: vec![decision("L1", "manual", Some(&owner), T0 + n * MINUTE)],
                    ..Default::default()
                };
                commit(&*store, &batch, 2 + n).await;
            }
        })
    };
    let mut reads = 0;
    let mut seen = std::collections::BTreeSet::new();
    while !writer.is_finished() {
        let d = store.lead_detail("L1").await.unwrap().expect("L1 exists");
        let last = d.history.last().expect("history").owner.clone();
        assert_eq!(
            d.lead.owner, last,
            "read {reads}: the lead row and its history come from different commits"
        );
        seen.insert(d.lead.owner);
        reads += 1;
    }
    writer.await.unwrap();
    assert!(
        seen.len() > 2,
        "the reads must overlap the commits to test anything: {reads} reads saw {} owners",
        seen.len()
    );
}

/// `Store::committed_reads` answers beside an open routing transaction, without waiting
/// for it, with what is committed: the open transaction's rows appear once it commits.
async fn committed_reads_see_commits_only(url: &str) {
    let store = open(url).await;
    commit(&*store, &full_batch(), 1).await;
    let want = || BatchReadsFor {
        keys: vec!["key-1".into(), "key-9".into(), "key-2".into()],
        emails: vec!["ann@globex.com".into(), "cat@newco.com".into()],
        timer_ids: vec![],
        lead_ids: vec!["L3".into()],
    };
    let ids = |r: &BatchReads| {
        let mut v: Vec<String> = r.leads.iter().map(|l| l.id.clone()).collect();
        v.sort();
        v
    };
    let keys = |r: &BatchReads| {
        let mut v: Vec<String> = r.replays.keys().cloned().collect();
        v.sort();
        v
    };
    let people = |r: &BatchReads| {
        let mut v: Vec<String> = r.known.keys().cloned().collect();
        v.sort();
        v
    };

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_state().await.unwrap(), 1);
    let more = BatchWrite {
        leads: vec![lead("L9", Some("cat@newco.com"), Some("r1"), None)],
        decisions: vec![decision("L9", "route", Some("r1"), T0 + 9)],
        people: vec![person("cat@newco.com", "r1", T0 + 9, 1, "L9")],
        idempotency: vec![("key-9".into(), response("L9", Some("r1")), T0 + 9)],
        ..Default::default()
    };
    tx.write(more, 2).await.unwrap();
    // The routing transaction holds the write lock; these reads must not wait for it.
    let before = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        store.committed_reads(want()),
    )
    .await
    .expect("committed reads do not wait for an open routing transaction")
    .unwrap();
    assert_eq!(keys(&before), ["key-1"]);
    assert_eq!(before.replays["key-1"], response("L1", Some("r1")));
    assert_eq!(people(&before), ["ann@globex.com"]);
    assert_eq!(
        before.known["ann@globex.com"].last_lead_id.as_deref(),
        Some("L1")
    );
    // The asked-for lead and the known person's latest one.
    assert_eq!(ids(&before), ["L1", "L3"]);
    tx.commit().await.unwrap();

    let after = store.committed_reads(want()).await.unwrap();
    assert_eq!(keys(&after), ["key-1", "key-9"]);
    assert_eq!(after.replays["key-9"], response("L9", Some("r1")));
    assert_eq!(people(&after), ["ann@globex.com", "cat@newco.com"]);
    assert_eq!(ids(&after), ["L1", "L3", "L9"]);
}

/// A seeded history with known answers: rollups per day/tier/path, the speed histogram,
/// fallback and reassignment columns, window sums, queue counts and listings.
async fn console_rollups_and_window_figures(url: &str) {
    use leadrouter_store::reporting::{DAY_US, day_of, speed_bucket};
    let store = open(url).await;
    let day0 = day_of(T0);
    let mut a = lead("a", Some("a@x.com"), Some("r1"), None);
    a.received_at = T0;
    a.routed_at = T0 + 500;
    a.tier = "hot".into();
    a.path = "territory".into();
    a.team = Some("t1".into());
    a.contact_by = Some(T0 + 5 * MINUTE);
    a.first_touch_at = Some(T0 + 2 * MINUTE);
    a.accepted_at = Some(T0 + MINUTE);
    a.stage = Stage::Mid;
    let mut b = lead("b", Some("b@x.com"), Some("r2"), None);
    b.received_at = T0 + 10;
    b.routed_at = T0 + 10 + 2000;
    b.tier = "hot".into();
    b.path = "territory".into();
    b.team = Some("t1".into());
    b.contact_by = Some(T0 + 5 * MINUTE);
    b.first_touch_at = Some(T0 + 9 * MINUTE);
    b.status = LeadStatus::Won;
    let mut c = lead("c", Some("c@x.com"), None, Some("catch_all"));
    c.received_at = T0 + DAY_US;
    c.routed_at = T0 + DAY_US + 300;
    c.tier = "standard".into();
    c.path = "catch_all".into();
    // The sequencer sets the flag from the decision's `fallback` flag.
    b.fallback = true;
    let mut d_fb = decision("b", "route", Some("r2"), T0);
    d_fb.decision = Some(json!({"flags": ["fallback"]}).into());
    let batch = BatchWrite {
        leads: vec![a, b, c],
        decisions: vec![
            decision("a", "route", Some("r1"), T0),
            d_fb,
            decision("c", "route", None, T0 + DAY_US),
        ],
        ..BatchWrite::default()
    };
    commit(&*store, &batch, 1).await;
    // Later: a is accepted and touched (touches arrive as updates), then reassigned.
    let touch =
        |id: &str, owner: &str, stage: &str, status: &str, accepted: Option<i64>, touched: i64| {
            LeadUpdate {
                id: id.into(),
                owner: Some(owner.into()),
                queue: None,
                team: Some("t1".into()),
                status: status.parse().expect("a status"),
                stage: stage.parse().expect("a stage"),
                outcome: None,
                outcome_at: None,
                contact_by: Some(T0 + 5 * MINUTE),
                accepted_at: accepted,
                first_touch_at: Some(touched),
            }
        };
    let later = BatchWrite {
        lead_updates: vec![
            touch("a", "r1", "mid", "open", Some(T0 + MINUTE), T0 + 2 * MINUTE),
            touch("b", "r2", "early", "won", None, T0 + 9 * MINUTE),
        ],
        decisions: vec![decision("a", "manual", Some("r1"), T0 + 3 * MINUTE)],
        ..BatchWrite::default()
    };
    commit(&*store, &later, 2).await;

    let daily = store.daily(day0, day0 + DAY_US).await.unwrap();
    assert_eq!(daily.len(), 2, "{daily:?}");
    let hot = daily.iter().find(|r| r.tier == "hot").unwrap();
    assert_eq!(
        (
            hot.day,
            hot.leads,
            hot.assigned,
            hot.fallbacks,
            hot.assign_us_sum
        ),
        (day0, 2, 2, 1, 2500)
    );
    let std_row = daily.iter().find(|r| r.tier == "standard").unwrap();
    assert_eq!(
        (std_row.day, std_row.leads, std_row.assigned),
        (day0 + DAY_US, 1, 0)
    );
    let speed = store.speed(day0, day0).await.unwrap();
    let mut got: Vec<(i64, i64)> = speed.iter().map(|r| (r.bucket, r.n)).collect();
    got.sort();
    let mut want = vec![(speed_bucket(500), 1), (speed_bucket(2000), 1)];
    want.sort();
    assert_eq!(got, want);

    let groups = store
        .window(day0, day0 + DAY_US, T0 + 10 * MINUTE)
        .await
        .unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    let g1 = groups
        .iter()
        .find(|g| g.owner.as_deref() == Some("r1"))
        .unwrap();
    assert_eq!(
        (
            g1.leads,
            g1.reassigned,
            g1.sla_met,
            g1.sla_due,
            g1.opportunities,
            g1.won
        ),
        (1, 1, 1, 1, 1, 0)
    );
    assert_eq!(
        (
            g1.contacted,
            g1.contact_us_sum,
            g1.accepted,
            g1.accept_us_sum
        ),
        (1, 2 * MINUTE - 500, 1, MINUTE - 500)
    );
    let g2 = groups
        .iter()
        .find(|g| g.owner.as_deref() == Some("r2"))
        .unwrap();
    assert_eq!(
        (
            g2.leads,
            g2.fallbacks,
            g2.reassigned,
            g2.sla_met,
            g2.sla_due,
            g2.opportunities,
            g2.won
        ),
        (1, 1, 0, 0, 1, 1, 1)
    );
    // Before b's deadline passes and before it is touched, it is not yet decided.
    let early = store
        .window(day0, day0 + DAY_US, T0 + MINUTE)
        .await
        .unwrap();
    assert_eq!(
        early.iter().map(|g| g.sla_due).sum::<i64>(),
        2,
        "touched leads are decided"
    );

    let counts = store
        .queue_counts(&["catch_all".into(), "review".into()], T0 + DAY_US + 1)
        .await
        .unwrap();
    assert_eq!(counts[0].open, 1);
    assert_eq!(counts[0].older, 1);
    assert_eq!(counts[1].open, 0);
    let listed = store.queue_leads("catch_all", 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    let mine = store.rep_leads("r1", 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].reassignments, 1);
    let recent = store.recent_leads(2).await.unwrap();
    assert_eq!(
        recent.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["c", "b"]
    );
    let reasons = store.reasons(&["a".into(), "c".into()]).await.unwrap();
    assert_eq!(reasons.len(), 2);
}

/// Sorted, with the group key first, so two group lists compare exactly.
fn by_key(
    mut g: Vec<leadrouter_store::reporting::WindowGroup>,
) -> Vec<leadrouter_store::reporting::WindowGroup> {
    g.sort_by(|a, b| {
        (&a.tier, &a.path, &a.team, &a.owner).cmp(&(&b.tier, &b.path, &b.team, &b.owner))
    });
    g
}

/// The rollup-based window figures (`window_days`, kept by `Tx::write`) equal the direct
/// computation over the leads table (`window`) for a seeded history of new leads,
/// touches, acceptances, manual and SLA reassignments, closes and fallbacks, for several
/// windows and several "now"s; and the 0007 backfill rebuilds the same rollup.
async fn console_window_rollup_equals_direct_computation(url: &str) {
    use leadrouter_store::reporting::{DAY_US, day_of};
    let store = open(url).await;
    // A small deterministic generator (no dependency needed).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let tiers = ["hot", "warm", "standard"];
    let paths = ["territory", "segment", "account_owner", "catch_all", "junk"];
    let reps = [("r1", "t1"), ("r2", "t1"), ("r3", "t2")];
    let day0 = day_of(T0) - 5 * DAY_US;
    let mut version = 1;
    let mut all: Vec<LeadRecord> = Vec::new();
    for round in 0..6 {
        let mut b = BatchWrite::default();
        for i in 0..60 {
            let id = format!("l{round}-{i}");
            let mut l = lead(&id, None, None, None);
            l.received_at = day0 + next(6) as i64 * DAY_US + next(DAY_US as u64) as i64;
            l.routed_at = l.received_at + 100 + next(5000) as i64;
            l.tier = tiers[next(3) as usize].into();
            l.path = paths[next(5) as usize].into();
            if matches!(l.path.as_str(), "catch_all" | "junk") {
                l.queue = Some(l.path.clone());
            } else {
                let (r, t) = reps[next(3) as usize];
                l.owner = Some(r.into());
                l.team = Some(t.into());
                l.contact_by = Some(l.routed_at + (1 + next(120) as i64) * MINUTE);
            }
            let mut d = decision(&id, "route", l.owner.as_deref(), l.routed_at);
            if next(5) == 0 {
                d.decision = Some(json!({"flags": ["fallback"]}).into());
                l.fallback = true;
            }
            b.decisions.push(d);
            b.leads.push(l);
        }
        // Changes to leads from earlier rounds in the same batch as the new ones.
        for _ in 0..(if all.is_empty() { 0 } else { 40 }) {
            let l = all[next(all.len() as u64) as usize].clone();
            if b.lead_updates.iter().any(|u| u.id == l.id) {
                continue;
            }
            let mut u = LeadUpdate {
                id: l.id.clone(),
                owner: l.owner.clone(),
                queue: l.queue.clone(),
                team: l.team.clone(),
                status: LeadStatus::Open,
                stage: Stage::Early,
                outcome: None,
                outcome_at: None,
                contact_by: l.contact_by,
                accepted_at: None,
                first_touch_at: None,
            };
            match next(6) {
                0 => u.accepted_at = Some(l.routed_at + next(10 * MINUTE as u64) as i64),
                1 => u.first_touch_at = Some(l.routed_at + next(150 * MINUTE as u64) as i64),
                2 => {
                    // Reassigned (manual or by the SLA): new owner, team and deadline.
                    let (r, t) = reps[next(3) as usize];
                    u.owner = Some(r.into());
                    u.team = Some(t.into());
                    u.queue = None;
                    u.contact_by = Some(l.routed_at + 30 * MINUTE);
                    let kind = if next(2) == 0 {
                        "manual"
                    } else {
                        "sla_reassign"
                    };
                    b.decisions
                        .push(decision(&l.id, kind, Some(r), l.routed_at + MINUTE));
                }
                3 => {
                    u.status = LeadStatus::Won;
                    u.stage = Stage::Late;
                    u.first_touch_at = Some(l.routed_at + 2 * MINUTE);
                }
                4 => u.stage = Stage::Mid,
                _ => u.status = LeadStatus::Lost,
            }
            b.lead_updates.push(u);
        }
        all.extend(b.leads.iter().cloned());
        commit(&*store, &b, version).await;
        version += 1;
    }
    let check = |label: &'static str| {
        let store = store.clone();
        async move {
            for (from, to) in [
                (day0, day0 + 5 * DAY_US),
                (day0 + DAY_US, day0 + DAY_US),
                (day0 + 2 * DAY_US, day0 + 4 * DAY_US),
                (day0 + 9 * DAY_US, day0 + 12 * DAY_US),
            ] {
                for now in [
                    day0,
                    day0 + 2 * DAY_US + 7 * MINUTE,
                    day0 + 4 * DAY_US,
                    day0 + 30 * DAY_US,
                ] {
                    let direct = by_key(store.window(from, to + DAY_US, now).await.unwrap());
                    let rolled = by_key(store.window_days(from, to, now).await.unwrap());
                    assert_eq!(rolled, direct, "{label}: days {from}..={to} at {now}");
                }
            }
        }
    };
    check("kept by Tx::write").await;
    // Something to compare: the history has leads, deadlines pending and due, and changes.
    let full = store
        .window(day0, day0 + 6 * DAY_US, day0 + 4 * DAY_US)
        .await
        .unwrap();
    assert_eq!(full.iter().map(|g| g.leads).sum::<i64>(), 360);
    assert!(full.iter().map(|g| g.reassigned).sum::<i64>() > 0);
    assert!(full.iter().map(|g| g.won).sum::<i64>() > 0);
    assert!(full.iter().map(|g| g.accepted).sum::<i64>() > 0);
    assert!(full.iter().map(|g| g.fallbacks).sum::<i64>() > 0);
    let due = |groups: Vec<leadrouter_store::reporting::WindowGroup>| {
        groups.iter().map(|g| g.sla_due).sum::<i64>()
    };
    let due_before = due(store.window(day0, day0 + 6 * DAY_US, day0).await.unwrap());
    let due_after = due(store
        .window(day0, day0 + 6 * DAY_US, day0 + 30 * DAY_US)
        .await
        .unwrap());
    assert!(
        0 < due_before && due_before < due_after,
        "touched leads are due at once, untouched ones when their deadline passes: {due_before} {due_after}"
    );

    // The migration's backfill rebuilds the same rollup from the leads table.
    // Each backend runs its own migration file (today they have the same text).
    let migrations = [
        include_str!("../migrations/sqlite/0007_console_rollups.sql"),
        include_str!("../migrations/postgres/0007_console_rollups.sql"),
    ];
    let migration = migrations[usize::from(!url.starts_with("sqlite"))];
    let start = migration.find("INSERT INTO console_window").unwrap();
    let end = migration[start..]
        .find("DROP INDEX")
        .map_or(migration.len(), |e| start + e);
    let backfill = &migration[start..end];
    if url.starts_with("sqlite") {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql("DELETE FROM console_window")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(backfill.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql("DELETE FROM console_window")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(backfill.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
    }
    assert!(
        store
            .window_days(day0, day0 + 6 * DAY_US, day0)
            .await
            .unwrap()
            .len()
            > 10
    );
    check("rebuilt by the 0007 backfill").await;
}

/// A week's report is queued once (its row and its outbox rows in one transaction), even
/// when two instances race; the rows, keyed `report:<week>` instead of a lead id, are
/// claimed, retried and dead-lettered like any message.
async fn weekly_report_is_queued_once_and_delivered_like_any_message(url: &str) {
    use leadrouter_store::reporting::WeeklyReportRow;
    let store = open(url).await;
    let row = |actor: &str| WeeklyReportRow {
        week: "2026-W48".into(),
        queued_at: T0,
        recipients: 2,
        actor: actor.into(),
    };
    let mail = |id: &str, to: &str| {
        let mut o = outbox_row(id, "report:2026-W48", "email", T0);
        o.kind = "weekly_report".into();
        o.recipient = to.into();
        o
    };
    assert_eq!(store.weekly_report("2026-W48").await.unwrap(), None);
    // Two instances at once: exactly one wins, and only its rows exist.
    let (row_a, row_b) = (row("schedule"), row("admin-api"));
    let rows_a = [mail("w-a1", "m1@x.com"), mail("w-a2", "m2@x.com")];
    let rows_b = [mail("w-b1", "m1@x.com"), mail("w-b2", "m2@x.com")];
    let (a, b) = tokio::join!(
        store.weekly_report_queue(&row_a, &rows_a),
        store.weekly_report_queue(&row_b, &rows_b),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a != b,
        "exactly one of two racing writers queues the week: {a} {b}"
    );
    let winner = if a { "w-a" } else { "w-b" };
    let stored = store.weekly_report("2026-W48").await.unwrap().unwrap();
    assert_eq!(stored.actor, if a { "schedule" } else { "admin-api" });
    assert_eq!(stored.recipients, 2);
    let rows = store.outbox("report:2026-W48").await.unwrap();
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, [format!("{winner}1"), format!("{winner}2")]);
    // A later attempt (a restart) queues nothing.
    assert!(
        !store
            .weekly_report_queue(&row("schedule"), &[mail("w-c1", "m1@x.com")])
            .await
            .unwrap()
    );
    assert_eq!(store.outbox("report:2026-W48").await.unwrap().len(), 2);
    // Both recipients are claimable at once (ordering is per recipient); one dies.
    let claimed = store.claim_outbox("worker", T0, MINUTE, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    store
        .complete_outbox(&claimed[0].id, &OutboxResult::Delivered { at: T0 + 1 })
        .await
        .unwrap();
    store
        .complete_outbox(
            &claimed[1].id,
            &OutboxResult::Dead {
                error: "mailbox unavailable".into(),
            },
        )
        .await
        .unwrap();
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].lead_id, "report:2026-W48");
    assert_eq!(dead[0].kind, "weekly_report");
}

async fn console_sessions_expire_and_delete(url: &str) {
    use leadrouter_store::reporting::SessionRow;
    let store = open(url).await;
    let s = SessionRow {
        id: "h1".into(),
        username: "jane".into(),
        role: "admin".into(),
        csrf: "tok".into(),
        created_at: T0,
        expires_at: T0 + MINUTE,
    };
    store.session_create(&s).await.unwrap();
    assert_eq!(
        store.session_get("h1", T0 + 1).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        store.session_get("h1", T0 + MINUTE).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.session_get("nope", T0).await.unwrap(), None);
    store.session_delete("h1").await.unwrap();
    assert_eq!(store.session_get("h1", T0 + 1).await.unwrap(), None);
}

fn outbox_row(id: &str, lead_id: &str, channel: &str, at: i64) -> OutboxRow {
    OutboxRow {
        id: id.into(),
        lead_id: lead_id.into(),
        kind: "rep_notification".into(),
        channel: channel.into(),
        recipient: "r1".into(),
        payload: serde_json::json!({"text": id}),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: at,
        last_error: None,
        created_at: at,
        delivered_at: None,
    }
}

/// Only the oldest pending message of a (lead, channel) is deliverable; a claim hides rows
/// from other workers until its lease runs out; retries and dead letters are recorded.
async fn outbox_delivers_in_order_with_retries_and_dead_letters(url: &str) {
    let store = open(url).await;
    let batch = BatchWrite {
        outbox: vec![
            outbox_row("o1", "L1", "slack", T0),
            outbox_row("o2", "L1", "slack", T0),
            outbox_row("o3", "L1", "email", T0),
            outbox_row("o4", "L2", "slack", T0 + MINUTE),
        ],
        ..Default::default()
    };
    commit(&*store, &batch, 1).await;
    let ids = |v: Vec<OutboxRow>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
    // At T0: o1 (first on L1/slack) and o3 (first on L1/email); o2 waits behind o1, o4 is not due.
    let claimed = ids(store.claim_outbox("w1", T0, MINUTE, 10).await.unwrap());
    assert_eq!(claimed, vec!["o1", "o3"]);
    // A second worker sees nothing while the lease holds…
    assert!(
        store
            .claim_outbox("w2", T0 + 1, MINUTE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // …and takes over when it lapses (the first worker died).
    let again = ids(store
        .claim_outbox("w2", T0 + 2 * MINUTE, MINUTE, 10)
        .await
        .unwrap());
    assert_eq!(again, vec!["o1", "o3", "o4"]);
    store
        .complete_outbox(
            "o1",
            &OutboxResult::Retry {
                next_at: T0 + 10 * MINUTE,
                error: "HTTP 500".into(),
            },
        )
        .await
        .unwrap();
    store
        .complete_outbox(
            "o3",
            &OutboxResult::Delivered {
                at: T0 + 2 * MINUTE,
            },
        )
        .await
        .unwrap();
    store
        .complete_outbox(
            "o4",
            &OutboxResult::Dead {
                error: "HTTP 400".into(),
            },
        )
        .await
        .unwrap();
    // o1 is waiting for its retry, so o2 (same lead and channel) must wait too.
    assert!(
        store
            .claim_outbox("w2", T0 + 5 * MINUTE, MINUTE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = ids(store
        .claim_outbox("w2", T0 + 10 * MINUTE, MINUTE, 10)
        .await
        .unwrap());
    assert_eq!(later, vec!["o1"]);
    store
        .complete_outbox(
            "o1",
            &OutboxResult::Delivered {
                at: T0 + 10 * MINUTE,
            },
        )
        .await
        .unwrap();
    let last = ids(store
        .claim_outbox("w2", T0 + 10 * MINUTE, MINUTE, 10)
        .await
        .unwrap());
    assert_eq!(last, vec!["o2"]);
    let l1 = store.outbox("L1").await.unwrap();
    let o1 = l1.iter().find(|o| o.id == "o1").unwrap();
    assert_eq!((o1.status.as_str(), o1.attempts), ("delivered", 2));
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(dead[0].payload, serde_json::json!({"text": "o4"}));
}

fn timer(id: &str, lead_id: &str, step: &str, due: i64) -> TimerRow {
    TimerRow {
        id: id.into(),
        lead_id: lead_id.into(),
        step: step.parse().expect("an SLA step"),
        due_at: due,
        status: "pending".into(),
        owner: Some("r1".into()),
        fired_at: None,
        created_at: T0,
    }
}

async fn timers_come_due_fire_and_cancel(url: &str) {
    let store = open(url).await;
    let batch = BatchWrite {
        timers: vec![
            timer("t1", "L1", "manager", T0 + 5 * MINUTE),
            timer("t2", "L1", "reassign", T0 + 10 * MINUTE),
            timer("t3", "L2", "manager", T0 + 5 * MINUTE),
        ],
        ..Default::default()
    };
    commit(&*store, &batch, 1).await;
    assert_eq!(store.pending_timer_count().await.unwrap(), 3);
    let due: Vec<String> = store
        .due_timers(T0 + 5 * MINUTE, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(due, vec!["t1", "t3"]);
    let fire = BatchWrite {
        fired_timers: vec![("t1".into(), T0 + 5 * MINUTE)],
        cancel_timers: vec!["L2".into()],
        ..Default::default()
    };
    commit(&*store, &fire, 2).await;
    let l1 = store.timers("L1").await.unwrap();
    assert_eq!(l1[0].status, "fired");
    assert_eq!(l1[0].fired_at, Some(T0 + 5 * MINUTE));
    assert_eq!(l1[1].status, "pending");
    assert_eq!(store.timers("L2").await.unwrap()[0].status, "cancelled");
    assert_eq!(store.pending_timer_count().await.unwrap(), 1);
    let mut tx = store.begin().await.unwrap();
    let by_id = tx
        .timers_by_id(&["t2".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].step, SlaStep::Reassign);
    tx.rollback().await.unwrap();
}

async fn open(url: &str) -> Arc<dyn Store> {
    leadrouter_store::open(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

async fn commit(store: &dyn Store, batch: &BatchWrite, version: i64) {
    let mut tx = store.begin().await.expect("begin");
    tx.lock_state().await.expect("lock_state");
    tx.write(batch.clone(), version).await.expect("write");
    tx.commit().await.expect("commit");
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn lead(id: &str, email: Option<&str>, owner: Option<&str>, queue: Option<&str>) -> LeadRecord {
    LeadRecord {
        id: id.into(),
        source: "api".into(),
        email: email.map(str::to_string),
        payload: std::sync::Arc::new(json!({
            "email": email,
            "first_name": "Rebecca",
            "employees": 2400,
            "page_history": ["/pricing", "/demo"],
            "fields": { "utm_campaign": "q4 – ünïcode" },
        })),
        received_at: T0,
        routed_at: T0 + 1_234,
        owner: owner.map(str::to_string),
        queue: queue.map(str::to_string),
        team: owner.map(|_| "pool".to_string()),
        segment: Some("enterprise".into()),
        tier: "hot".into(),
        score: 140,
        path: "matrix".into(),
        rule: Some("catch-all".into()),
        status: LeadStatus::Open,
        stage: Stage::Early,
        outcome: None,
        outcome_at: None,
        route_by: Some(T0 + 5 * MINUTE),
        contact_by: owner.map(|_| T0 + 3 * MINUTE),
        config_version: "sha256:0123456789abcdef".into(),
        account_domain: email
            .and_then(|e| e.split_once('@'))
            .map(|(_, d)| d.to_string()),
        accepted_at: None,
        first_touch_at: None,
        fallback: false,
    }
}

fn decision(lead_id: &str, kind: &str, owner: Option<&str>, at: i64) -> DecisionRecord {
    DecisionRecord {
        lead_id: lead_id.into(),
        kind: kind.into(),
        decided_at: at,
        owner: owner.map(str::to_string),
        queue: owner.is_none().then(|| "unassigned".to_string()),
        reason: format!("{kind} for {lead_id}"),
        actor: (kind == "manual").then(|| "admin-api".to_string()),
        config_version: "sha256:0123456789abcdef".into(),
        decision: (kind == "route").then(|| json!({ "owner": owner, "score": 140 }).into()),
        trace: (kind == "route")
            .then(|| json!({ "steps": [{ "n": 1, "text": "rule catch-all" }] }).into()),
    }
}

fn person(email: &str, owner: &str, seen_at: i64, new_leads: i64, last: &str) -> PersonWrite {
    PersonWrite {
        email: email.into(),
        prior: PriorPerson {
            owner: Some(owner.into()),
            status: PriorStatus::Open,
            disqualified_at: None,
            note: None,
        },
        seen_at,
        new_leads,
        last_lead_id: last.into(),
    }
}

fn response(lead_id: &str, owner: Option<&str>) -> StoredResponse {
    StoredResponse {
        lead_id: lead_id.into(),
        status: 201,
        response: serde_json::value::to_raw_value(&json!({ "lead_id": lead_id, "owner": owner.map(|o| json!({ "id": o, "name": o })), "deduplicated": false }))
            .expect("JSON"),
    }
}

/// A batch touching every table.
fn full_batch() -> BatchWrite {
    BatchWrite {
        leads: vec![
            lead("L1", Some("ann@globex.com"), Some("r1"), None),
            lead("L2", Some("bob@initech.com"), Some("r2"), None),
            lead("L3", None, None, Some("unassigned")),
        ],
        lead_updates: vec![],
        decisions: vec![
            decision("L1", "route", Some("r1"), T0),
            decision("L2", "route", Some("r2"), T0 + 1),
            decision("L3", "route", None, T0 + 2),
            decision("L1", "manual", Some("r1"), T0 + 3),
        ],
        people: vec![
            person("ann@globex.com", "r1", T0, 1, "L1"),
            PersonWrite {
                email: "bob@initech.com".into(),
                prior: PriorPerson {
                    owner: Some("r2".into()),
                    status: PriorStatus::Disqualified,
                    disqualified_at: Some(from_micros(T0 - 10 * MINUTE)),
                    note: Some("not a buyer".into()),
                },
                seen_at: T0 + 1,
                new_leads: 1,
                last_lead_id: "L2".into(),
            },
        ],
        rotations: vec![
            ("pool".into(), "r1".into(), 2_000_000_000),
            ("pool".into(), "r2".into(), 1_000_000_000),
            ("emea".into(), "r3".into(), 7),
        ],
        clocks: vec![("pool".into(), 1_000_000_000), ("emea".into(), 0)],
        rep_state: vec![
            RepStateWrite {
                rep: "r1".into(),
                early: 2,
                mid: 1,
                late: 3,
                daily_date: Some("2026-11-23".into()),
                daily_count: 4,
                out: false,
                out_until: None,
                out_note: None,
            },
            RepStateWrite {
                rep: "r2".into(),
                early: 1,
                out: true,
                out_until: Some(T0 + 60 * MINUTE),
                out_note: Some("dentist".into()),
                ..Default::default()
            },
            RepStateWrite {
                rep: "r3".into(),
                out: true,
                ..Default::default()
            },
        ],
        idempotency: vec![
            ("key-1".into(), response("L1", Some("r1")), T0),
            ("key-3".into(), response("L3", None), T0 + 2),
        ],
        ..Default::default()
    }
}

fn full_batch_state() -> StateSnapshot {
    let mut s = StateSnapshot::default();
    s.rotations.insert(
        "pool".into(),
        Rotation {
            virtual_time: 1_000_000_000,
            passes: BTreeMap::from([
                ("r1".to_string(), 2_000_000_000),
                ("r2".to_string(), 1_000_000_000),
            ]),
        },
    );
    s.rotations.insert(
        "emea".into(),
        Rotation {
            virtual_time: 0,
            passes: BTreeMap::from([("r3".to_string(), 7)]),
        },
    );
    s.loads.insert(
        "r1".into(),
        RepLoad {
            early: 2,
            mid: 1,
            late: 3,
        },
    );
    s.loads.insert(
        "r2".into(),
        RepLoad {
            early: 1,
            mid: 0,
            late: 0,
        },
    );
    s.loads.insert("r3".into(), RepLoad::default());
    s.daily.insert(
        "r1".into(),
        DailyCount {
            date: "2026-11-23".parse().unwrap(),
            count: 4,
        },
    );
    s.availability.insert(
        "r2".into(),
        AvailabilityOverride {
            out: true,
            out_until: Some(from_micros(T0 + 60 * MINUTE)),
            note: Some("dentist".into()),
        },
    );
    s.availability.insert(
        "r3".into(),
        AvailabilityOverride {
            out: true,
            out_until: None,
            note: None,
        },
    );
    s
}

fn sorted(mut v: Vec<(Option<String>, i64)>) -> Vec<(Option<String>, i64)> {
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

/// Opening runs the migrations; opening again (a restart) applies nothing new and keeps
/// the data.
async fn migrations_apply_once_and_reopen(url: &str) {
    let store = open(url).await;
    assert_eq!(store.lead_count().await.unwrap(), 0);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.lock_state().await.unwrap(),
        0,
        "a fresh database is at version 0"
    );
    tx.rollback().await.unwrap();
    commit(&*store, &full_batch(), 1).await;
    drop(store);

    let again = open(url).await;
    assert_eq!(
        again.lead_count().await.unwrap(),
        3,
        "reopening kept the data"
    );
    assert_eq!(again.state().await.unwrap(), full_batch_state());
    let third = open(url).await;
    assert_eq!(third.lead_count().await.unwrap(), 3);
    let dir = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let files = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .count() as i64;
    assert_eq!(
        applied_migrations(url).await,
        files,
        "each migration is recorded once"
    );
    let mut tx = third.begin().await.unwrap();
    assert_eq!(
        tx.lock_state().await.unwrap(),
        1,
        "reopening kept the version"
    );
    tx.rollback().await.unwrap();
}

/// Everything a routing transaction writes reads back exactly, through every reader.
async fn batch_reads_back_exactly(url: &str) {
    let store = open(url).await;
    let batch = full_batch();
    commit(&*store, &batch, 1).await;

    for l in &batch.leads {
        assert_eq!(
            store.lead(&l.id).await.unwrap().as_ref(),
            Some(l),
            "lead {}",
            l.id
        );
    }
    assert_eq!(store.lead("nope").await.unwrap(), None);

    let h1 = store.history("L1").await.unwrap();
    assert_eq!(
        h1,
        vec![batch.decisions[0].clone(), batch.decisions[3].clone()]
    );
    assert_eq!(
        store.history("L3").await.unwrap(),
        vec![batch.decisions[2].clone()]
    );
    assert_eq!(store.history("nope").await.unwrap(), vec![]);

    assert_eq!(
        store.idempotent("key-1").await.unwrap(),
        Some(response("L1", Some("r1")))
    );
    assert_eq!(
        store.idempotent("key-3").await.unwrap(),
        Some(response("L3", None))
    );
    assert_eq!(store.idempotent("key-2").await.unwrap(), None);

    assert_eq!(store.state().await.unwrap(), full_batch_state());
    // The trait does not promise an order (SQLite sorts NULL first, PostgreSQL last).
    assert_eq!(
        sorted(store.owner_counts().await.unwrap()),
        vec![(None, 1), (Some("r1".into()), 1), (Some("r2".into()), 1)]
    );
    assert_eq!(store.lead_count().await.unwrap(), 3);

    // The same rows through a transaction's readers.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_state().await.unwrap(), 1);
    assert_eq!(tx.load_state().await.unwrap(), full_batch_state());
    let keys = vec![
        "key-1".to_string(),
        "key-2".to_string(),
        "key-3".to_string(),
    ];
    let found = tx.idempotent(&keys).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found["key-1"], response("L1", Some("r1")));
    assert_eq!(found["key-3"], response("L3", None));
    let mut leads = tx
        .leads(&["L3".into(), "L1".into(), "missing".into()])
        .await
        .unwrap();
    leads.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(leads, vec![batch.leads[0].clone(), batch.leads[2].clone()]);
    let people = tx
        .people(&[
            "ann@globex.com".into(),
            "bob@initech.com".into(),
            "zed@x.com".into(),
        ])
        .await
        .unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(
        people["ann@globex.com"],
        StoredPerson {
            prior: batch.people[0].prior.clone(),
            last_lead_id: Some("L1".into()),
        }
    );
    assert_eq!(
        people["bob@initech.com"],
        StoredPerson {
            prior: batch.people[1].prior.clone(),
            last_lead_id: Some("L2".into()),
        }
    );
    tx.rollback().await.unwrap();
}

/// Reassignment, disqualification and outcomes update the stored lead in place.
async fn lead_updates_change_the_lead(url: &str) {
    let store = open(url).await;
    commit(&*store, &full_batch(), 1).await;
    let update = LeadUpdate {
        id: "L1".into(),
        owner: None,
        queue: Some("review".into()),
        team: None,
        status: LeadStatus::Won,
        stage: Stage::Late,
        outcome: Some(Outcome::Won),
        outcome_at: Some(T0 + 90 * MINUTE),
        contact_by: None,
        accepted_at: Some(T0 + MINUTE),
        first_touch_at: Some(T0 + 2 * MINUTE),
    };
    let batch = BatchWrite {
        lead_updates: vec![update],
        decisions: vec![decision("L1", "outcome", None, T0 + 90 * MINUTE)],
        ..Default::default()
    };
    commit(&*store, &batch, 2).await;
    let mut want = lead("L1", Some("ann@globex.com"), Some("r1"), None);
    want.owner = None;
    want.queue = Some("review".into());
    want.team = None;
    want.status = LeadStatus::Won;
    want.stage = Stage::Late;
    want.outcome = Some(Outcome::Won);
    want.outcome_at = Some(T0 + 90 * MINUTE);
    want.contact_by = None;
    want.accepted_at = Some(T0 + MINUTE);
    want.first_touch_at = Some(T0 + 2 * MINUTE);
    assert_eq!(store.lead("L1").await.unwrap(), Some(want));
    assert_eq!(store.history("L1").await.unwrap().len(), 3);
    assert_eq!(
        store.lead("L2").await.unwrap(),
        Some(full_batch().leads[1].clone()),
        "other leads untouched"
    );
}

/// VAL-3 bookkeeping: an upsert adds to `lead_count`, keeps `first_seen_at`, moves
/// `last_seen_at`, and replaces owner, status and the latest lead id.
async fn people_upsert_accumulates(url: &str) {
    let store = open(url).await;
    let first = BatchWrite {
        people: vec![person("ann@globex.com", "r1", T0, 1, "L1")],
        ..Default::default()
    };
    commit(&*store, &first, 1).await;
    assert_eq!(
        people_columns(url, "ann@globex.com").await,
        Some(PeopleColumns {
            first_seen_at: T0,
            last_seen_at: T0,
            lead_count: 1
        })
    );

    let later = T0 + 30 * MINUTE;
    let disqualified = PriorPerson {
        owner: Some("r2".into()),
        status: PriorStatus::Disqualified,
        disqualified_at: Some(from_micros(later)),
        note: Some("student".into()),
    };
    let second = BatchWrite {
        people: vec![PersonWrite {
            email: "ann@globex.com".into(),
            prior: disqualified.clone(),
            seen_at: later,
            new_leads: 2,
            last_lead_id: "L9".into(),
        }],
        ..Default::default()
    };
    commit(&*store, &second, 2).await;
    assert_eq!(
        people_columns(url, "ann@globex.com").await,
        Some(PeopleColumns {
            first_seen_at: T0,
            last_seen_at: later,
            lead_count: 3
        })
    );

    // A touch that adds no lead (a disqualification) keeps the count.
    let third = BatchWrite {
        people: vec![PersonWrite {
            new_leads: 0,
            seen_at: later + 1,
            ..second.people[0].clone()
        }],
        ..Default::default()
    };
    commit(&*store, &third, 3).await;
    assert_eq!(
        people_columns(url, "ann@globex.com")
            .await
            .map(|c| c.lead_count),
        Some(3)
    );

    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    let people = tx
        .people(&["ann@globex.com".into(), "nobody@globex.com".into()])
        .await
        .unwrap();
    assert_eq!(people.len(), 1, "unknown emails are absent: {people:?}");
    assert_eq!(
        people["ann@globex.com"],
        StoredPerson {
            prior: disqualified,
            last_lead_id: Some("L9".into()),
        }
    );
    tx.rollback().await.unwrap();
}

/// `write` sets the version; the next transaction's `lock_state` returns it.
async fn lock_state_returns_written_version(url: &str) {
    let store = open(url).await;
    let mut version = {
        let mut tx = store.begin().await.unwrap();
        let v = tx.lock_state().await.unwrap();
        tx.rollback().await.unwrap();
        v
    };
    assert_eq!(version, 0);
    for next in [1, 2, 7, 8] {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.lock_state().await.unwrap(), version);
        let batch = BatchWrite {
            clocks: vec![("pool".into(), next)],
            ..Default::default()
        };
        tx.write(batch.clone(), next).await.unwrap();
        tx.commit().await.unwrap();
        version = next;
    }
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_state().await.unwrap(), 8);
    tx.rollback().await.unwrap();
    assert_eq!(
        store.state().await.unwrap().rotations["pool"].virtual_time,
        8
    );
}

/// A rolled-back transaction leaves no lead, decision, person, state or key behind.
async fn rollback_leaves_nothing(url: &str) {
    let store = open(url).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_state().await.unwrap(), 0);
    tx.write(full_batch(), 1).await.unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(store.lead_count().await.unwrap(), 0);
    assert_eq!(store.lead("L1").await.unwrap(), None);
    assert_eq!(store.history("L1").await.unwrap(), vec![]);
    assert_eq!(store.idempotent("key-1").await.unwrap(), None);
    assert_eq!(store.owner_counts().await.unwrap(), vec![]);
    assert_eq!(store.state().await.unwrap(), StateSnapshot::default());
    assert_eq!(people_columns(url, "ann@globex.com").await, None);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.lock_state().await.unwrap(),
        0,
        "the version did not move"
    );
    assert!(
        tx.people(&["ann@globex.com".into()])
            .await
            .unwrap()
            .is_empty()
    );
    tx.rollback().await.unwrap();

    // A transaction dropped without commit or rollback (a crashed request) is rolled back too.
    {
        let mut tx = store.begin().await.unwrap();
        tx.lock_state().await.unwrap();
        tx.write(full_batch(), 1).await.unwrap();
    }
    assert_eq!(store.lead_count().await.unwrap(), 0);
    commit(&*store, &full_batch(), 1).await;
    assert_eq!(
        store.lead_count().await.unwrap(),
        3,
        "the store still works"
    );
}

/// CAP-4: an idempotency key (and a lead id) can be stored once; a second insert fails
/// and rolls back the whole transaction, leaving the first response in place.
async fn duplicate_keys_are_rejected(url: &str) {
    let store = open(url).await;
    commit(&*store, &full_batch(), 1).await;

    let again = BatchWrite {
        leads: vec![lead("L4", Some("dan@hooli.com"), Some("r1"), None)],
        idempotency: vec![("key-1".into(), response("L4", Some("r1")), T0 + 5)],
        ..Default::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    let err = tx.write(again.clone(), 2).await;
    assert!(
        err.is_err(),
        "a second row for idempotency key key-1 must violate the unique key"
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        store.idempotent("key-1").await.unwrap(),
        Some(response("L1", Some("r1"))),
        "the first response stays"
    );
    assert_eq!(
        store.lead("L4").await.unwrap(),
        None,
        "nothing of the failed batch"
    );

    // Twice in one batch.
    let twice = BatchWrite {
        idempotency: vec![
            ("key-9".into(), response("L1", None), T0),
            ("key-9".into(), response("L2", None), T0),
        ],
        ..Default::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    assert!(tx.write(twice.clone(), 2).await.is_err());
    tx.rollback().await.unwrap();
    assert_eq!(store.idempotent("key-9").await.unwrap(), None);

    // A lead id is unique too.
    let dup_lead = BatchWrite {
        leads: vec![lead("L1", None, None, Some("unassigned"))],
        ..Default::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    assert!(tx.write(dup_lead.clone(), 2).await.is_err());
    tx.rollback().await.unwrap();
    assert_eq!(store.lead_count().await.unwrap(), 3);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.lock_state().await.unwrap(),
        1,
        "failed batches did not move the version"
    );
    tx.rollback().await.unwrap();
}

/// Two routing transactions at once (two instances on PostgreSQL, two writers on
/// SQLite): the second cannot take the state until the first commits, and then sees the
/// first one's version. This is what keeps two instances from handing out the same turn.
async fn second_writer_waits_for_first(url: &str) {
    let store = open(url).await;
    let mut first = store.begin().await.unwrap();
    let v = first.lock_state().await.unwrap();
    assert_eq!(v, 0);

    let other = store.clone();
    let second = tokio::spawn(async move {
        let mut tx = other.begin().await.expect("second begin");
        let seen = tx.lock_state().await.expect("second lock_state");
        let locked_at = Instant::now();
        (tx, seen, locked_at)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !second.is_finished(),
        "the second transaction took the routing state while the first held it"
    );

    let batch = BatchWrite {
        rotations: vec![("pool".into(), "r1".into(), 1_000_000_000)],
        clocks: vec![("pool".into(), 0)],
        ..Default::default()
    };
    first.write(batch.clone(), v + 1).await.unwrap();
    let committing = Instant::now();
    first.commit().await.unwrap();

    let (mut tx, seen, locked_at) = tokio::time::timeout(Duration::from_secs(15), second)
        .await
        .expect("the second transaction never got the lock after the first committed")
        .expect("second task panicked");
    assert!(
        locked_at >= committing,
        "the second lock was granted before the first transaction committed"
    );
    assert_eq!(
        seen,
        v + 1,
        "the second transaction must see the committed version"
    );
    assert_eq!(
        tx.load_state().await.unwrap().rotations["pool"].passes["r1"],
        1_000_000_000,
        "and the committed state"
    );
    tx.write(BatchWrite::default(), seen + 1).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_state().await.unwrap(), 2);
    tx.rollback().await.unwrap();
}

/// The account mirror follows the config: a sync upserts the config's accounts and
/// removes the ones it no longer has.
/// Issue 25: during a rolling reload instances on two config versions mirror their
/// accounts in turn; neither deletes the other's rows. A version superseded for longer
/// than the grace period is pruned by the next mirror; one mirrored again is not.
async fn accounts_of_each_version_survive_a_rolling_reload(url: &str) {
    use leadrouter_store::ACCOUNT_VERSION_GRACE_US as GRACE;
    let store = open(url).await;
    let account = |domain: &str, owner: Option<&str>| AccountRow {
        domain: domain.into(),
        name: domain.into(),
        owner: owner.map(str::to_string),
        named: owner.is_some(),
    };
    let v1 = [
        account("globex.com", Some("r1")),
        account("initech.com", None),
    ];
    let v2 = [account("globex.com", Some("r2"))];
    assert_eq!(store.account_count("sha256:1").await.unwrap(), 0);
    // Instance A starts on version 1, instance B reloads to version 2, A restarts (still
    // on version 1), then B mirrors again: both versions keep their rows throughout.
    store.sync_accounts(&v1, "sha256:1", T0).await.unwrap();
    store
        .sync_accounts(&v2, "sha256:2", T0 + MINUTE)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:1").await.unwrap(), 2);
    assert_eq!(store.account_count("sha256:2").await.unwrap(), 1);
    store
        .sync_accounts(&v1, "sha256:1", T0 + 2 * MINUTE)
        .await
        .unwrap();
    store
        .sync_accounts(&v2, "sha256:2", T0 + 3 * MINUTE)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:1").await.unwrap(), 2);
    assert_eq!(store.account_count("sha256:2").await.unwrap(), 1);

    // Version 1 was superseded at +3 min; within the grace period it stays.
    store
        .sync_accounts(&v2, "sha256:2", T0 + 3 * MINUTE + GRACE - 1)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:1").await.unwrap(), 2);
    // Past it, the next mirror of any version prunes it.
    store
        .sync_accounts(&[], "sha256:3", T0 + 4 * MINUTE + GRACE)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:1").await.unwrap(), 0);
    assert_eq!(store.account_count("sha256:2").await.unwrap(), 1);
    assert_eq!(store.account_count("sha256:3").await.unwrap(), 0);
    // Version 2 was superseded just now: it outlives the grace period from here.
    store
        .sync_accounts(&[], "sha256:3", T0 + 4 * MINUTE + 2 * GRACE - 1)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:2").await.unwrap(), 1);
    store
        .sync_accounts(&[], "sha256:3", T0 + 5 * MINUTE + 2 * GRACE)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:2").await.unwrap(), 0);
    // A version mirrored again after being pruned gets its rows back.
    store
        .sync_accounts(&v1, "sha256:1", T0 + 6 * MINUTE + 2 * GRACE)
        .await
        .unwrap();
    assert_eq!(store.account_count("sha256:1").await.unwrap(), 2);
}

/// Several instances start at once on a fresh PostgreSQL database: the migrations run
/// once (sqlx takes an advisory lock) and every instance opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_open_concurrently() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { leadrouter_store::PgStore::open(&url).await })
        })
        .collect();
    for o in opens {
        let store = o.await.unwrap().expect("concurrent open");
        assert_eq!(store.lead_count().await.unwrap(), 0);
    }
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count() as i64;
    assert_eq!(applied_migrations(&db.url).await, files);
}

/// Migration 0010 (SQLite) rebuilds `people` and `sla_timers` as WITHOUT ROWID tables and
/// `decisions` without AUTOINCREMENT, and makes `leads_account` partial: every row comes
/// through unchanged, the new tables have that shape, and decision ids go on from the
/// largest one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_0010_keeps_people_timers_and_decisions() {
    use sqlx::Connection;
    let db = TestDb::sqlite();
    let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db.url)
        .unwrap()
        .create_if_missing(true);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let mut before = sqlx::migrate!("migrations/sqlite");
    let upto: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < 10)
        .cloned()
        .collect();
    assert_eq!(upto.len(), 9, "migrations 1..=9");
    before.migrations = std::borrow::Cow::Owned(upto);
    before.run(&mut c).await.unwrap();
    for sql in [
        "INSERT INTO leads (id, source, payload, received_at, routed_at, tier, score, path, config_version) VALUES ('L1', 'api', '{}', 1, 2, 'tier_2', 50, 'segment_rule', 'v1')",
        "INSERT INTO leads (id, source, payload, received_at, routed_at, tier, score, path, config_version) VALUES ('L2', 'api', '{}', 3, 4, 'tier_4', 10, 'nurture', 'v2')",
        "INSERT INTO people VALUES ('a@x.com', 'rep1', 'open', NULL, NULL, 1, 2, 3, 'L1')",
        "INSERT INTO people VALUES ('b@y.com', NULL, 'disqualified', 5, 'no budget', 4, 6, 1, 'L2')",
        "INSERT INTO sla_timers VALUES ('t1', 'L1', 'manager', 100, 'pending', 'rep1', NULL, 7)",
        "INSERT INTO sla_timers VALUES ('t2', 'L2', 'reassign', 200, 'fired', NULL, 150, 8)",
        "INSERT INTO decisions (lead_id, kind, decided_at, owner, queue, reason, actor, config_version, decision, trace) VALUES ('L1', 'route', 10, 'rep1', NULL, 'r1', NULL, 'v1', '{\"a\":1}', '{\"t\":1}')",
        "INSERT INTO decisions (lead_id, kind, decided_at, owner, queue, reason, actor, config_version, decision_z, trace_z) VALUES ('L1', 'manual', 11, 'rep2', NULL, 'r2', 'admin', 'v1', x'0102', x'0304')",
        "INSERT INTO decisions (lead_id, kind, decided_at, owner, queue, reason, actor, config_version) VALUES ('L2', 'route', 12, NULL, 'review', 'r3', NULL, 'v2')",
    ] {
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
    const PEOPLE: &str = "SELECT json_array(email, owner, status, disqualified_at, note, first_seen_at, last_seen_at, lead_count, last_lead_id) FROM people ORDER BY email";
    const TIMERS: &str = "SELECT json_array(id, lead_id, step, due_at, status, owner, fired_at, created_at) FROM sla_timers ORDER BY id";
    const DECISIONS: &str = "SELECT json_array(id, lead_id, kind, decided_at, owner, queue, reason, actor, config_version, decision, trace, hex(decision_z), hex(trace_z)) FROM decisions ORDER BY id";
    let mut rows = Vec::new();
    for q in [PEOPLE, TIMERS, DECISIONS] {
        let r: Vec<String> = sqlx::query_scalar(q).fetch_all(&mut c).await.unwrap();
        assert!(!r.is_empty(), "{q}");
        rows.push(r);
    }
    c.close().await.unwrap();

    // Opening the store applies 0010.
    drop(open(&db.url).await);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    for (q, want) in [PEOPLE, TIMERS, DECISIONS].into_iter().zip(&rows) {
        let got: Vec<String> = sqlx::query_scalar(q).fetch_all(&mut c).await.unwrap();
        assert_eq!(&got, want, "{q}");
    }
    for (table, without_rowid) in [("people", 1), ("sla_timers", 1), ("decisions", 0)] {
        let wr: i64 = sqlx::query_scalar("SELECT wr FROM pragma_table_list WHERE name = $1")
            .bind(table)
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(wr, without_rowid, "{table}: WITHOUT ROWID");
    }
    let autoincrement: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'decisions' AND sql LIKE '%AUTOINCREMENT%'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(autoincrement, 0);
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('sla_timers', 'decisions') AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        ["decisions_lead", "sla_timers_due", "sla_timers_lead"]
    );
    let account_index: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = 'leads_account'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(
        account_index.ends_with("WHERE account_domain IS NOT NULL"),
        "{account_index}"
    );
    sqlx::query("INSERT INTO decisions (lead_id, kind, decided_at, reason, config_version) VALUES ('L2', 'route', 13, 'r4', 'v2')")
        .execute(&mut c)
        .await
        .unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM decisions")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(last, 4, "ids go on from the largest");
}

fn audit_entry(actor: &str, action: &str, lead: Option<&str>, at: i64) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.into(),
        action: action.into(),
        lead_id: lead.map(str::to_string),
        subject: None,
        address: Some("127.0.0.1".into()),
        detail: Some(r#"{"why":"test"}"#.into()),
    }
}

/// A raw statement on the database, as an operator's console or a bug would send it.
async fn raw(url: &str, sql: &'static str) -> Result<u64, sqlx::Error> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await?;
        Ok(sqlx::query(sql).execute(&mut c).await?.rows_affected())
    } else {
        let mut c = sqlx::PgConnection::connect(url).await?;
        Ok(sqlx::query(sql).execute(&mut c).await?.rows_affected())
    }
}

/// Issue 24: audit entries written on their own and inside a routing transaction (only
/// when it commits) read back newest first, filtered and paged by keyset; UPDATE, DELETE
/// (and on PostgreSQL TRUNCATE) are refused by the database itself.
async fn audit_log_is_append_only(url: &str) {
    let store = open(url).await;
    store
        .audit_append(&[
            audit_entry("console:jane", "console.login", None, T0),
            audit_entry("key:ops", "config.reload", None, T0 + MINUTE),
        ])
        .await
        .unwrap();
    let mut batch = full_batch();
    batch.audit = vec![audit_entry(
        "key:ops",
        "lead.reassign",
        Some("lead-1"),
        T0 + 2 * MINUTE,
    )];
    commit(&*store, &batch, 1).await;
    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    let rolled_back = BatchWrite {
        audit: vec![audit_entry(
            "key:ops",
            "lead.disqualify",
            Some("lead-2"),
            T0 + 3 * MINUTE,
        )],
        ..BatchWrite::default()
    };
    tx.write(rolled_back, 2).await.unwrap();
    tx.rollback().await.unwrap();

    let all = |q: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .audit_list(&AuditQuery { limit: 100, ..q })
                .await
                .unwrap()
        }
    };
    let every = all(AuditQuery::default()).await;
    let actions: Vec<&str> = every.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        ["lead.reassign", "config.reload", "console.login"],
        "newest first, the rolled back one absent"
    );
    assert_eq!(
        every[0].entry,
        audit_entry("key:ops", "lead.reassign", Some("lead-1"), T0 + 2 * MINUTE)
    );
    let by_actor = all(AuditQuery {
        actor: Some("key:ops".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_actor.len(), 2);
    let by_lead = all(AuditQuery {
        lead_id: Some("lead-1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_lead.len(), 1);
    let window = all(AuditQuery {
        from: Some(T0 + MINUTE),
        to: Some(T0 + 2 * MINUTE),
        ..Default::default()
    })
    .await;
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].entry.action, "config.reload");
    let page1 = store
        .audit_list(&AuditQuery {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let page2 = all(AuditQuery {
        before: Some(page1[1].id),
        ..Default::default()
    })
    .await;
    assert_eq!((page1.len(), page2.len()), (2, 1));
    assert_eq!(page2[0].entry.action, "console.login");

    for sql in [
        "UPDATE audit_log SET actor = 'console:someone-else'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'console.login'",
    ] {
        let r = raw(url, sql).await;
        assert!(
            r.as_ref()
                .is_err_and(|e| e.to_string().contains("append-only")),
            "{sql} must be refused: {r:?}"
        );
    }
    if !url.starts_with("sqlite:") {
        let r = raw(url, "TRUNCATE audit_log").await;
        assert!(r.is_err(), "TRUNCATE must be refused: {r:?}");
    }
    assert_eq!(all(AuditQuery::default()).await, every, "nothing changed");
}

/// SEC-3: weekly-report messages (`report:<week>`) belong to no lead; erasure cancels the
/// undelivered ones addressed to the person and scrubs every other one that names them,
/// leaving the rest as they were.
async fn erasure_scrubs_weekly_report_messages(url: &str) {
    use leadrouter_store::reporting::WeeklyReportRow;
    let store = open(url).await;
    commit(&*store, &full_batch(), 1).await;
    let mail = |id: &str, to: &str, text: &str| {
        let mut o = outbox_row(id, "report:2026-W48", "email", T0);
        o.kind = "weekly_report".into();
        o.recipient = to.into();
        o.payload = json!({"subject": "Weekly report", "text": text});
        o
    };
    let week = WeeklyReportRow {
        week: "2026-W48".into(),
        queued_at: T0,
        recipients: 3,
        actor: "schedule".into(),
    };
    let rows = [
        mail("w1", "ANN@globex.com", "Your report"),
        mail(
            "w2",
            "m1@x.com",
            "Slowest lead: Ann Rebecca <ann@globex.com>",
        ),
        mail("w3", "m2@x.com", "All leads answered"),
    ];
    assert!(store.weekly_report_queue(&week, &rows).await.unwrap());
    let counts = store.erase_person("ann@globex.com", T0 + 9).await.unwrap();
    assert_eq!(counts.outbox_cancelled, 1, "{counts:?}");
    assert_eq!(counts.outbox_scrubbed, 1, "{counts:?}");
    let left = store.outbox("report:2026-W48").await.unwrap();
    let text = serde_json::to_string(&left).unwrap().to_lowercase();
    assert!(
        !text.contains("ann@globex.com") && !text.contains("rebecca"),
        "{text}"
    );
    let ids: Vec<&str> = left.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["w2", "w3"], "the message to the person is cancelled");
    assert_eq!(
        left[0].payload["subject"], "Weekly report",
        "the shape stays"
    );
    assert_eq!(left[0].recipient, "m1@x.com");
    assert_eq!(left[1].payload, rows[2].payload, "untouched");
}

/// Issue 24: the audit log's retention deletes only entries behind the horizon, oldest
/// first, and records that it did; the database itself refuses to delete anything newer,
/// to move the horizon back or within 30 days of its clock, and to drop the horizon.
async fn audit_log_prunes_only_entries_behind_the_horizon(url: &str) {
    const DAY: i64 = 86_400_000_000;
    let store = open(url).await;
    let now = jiff::Timestamp::now().as_microsecond();
    store
        .audit_append(&[
            audit_entry("key:ops", "lead.reassign", Some("L1"), now - 500 * DAY),
            audit_entry("key:ops", "lead.reassign", Some("L2"), now - 450 * DAY),
            audit_entry("key:ops", "lead.reassign", Some("L3"), now - 10 * DAY),
            audit_entry("console:jane", "console.login", None, now),
        ])
        .await
        .unwrap();
    let list = || {
        let store = store.clone();
        async move {
            store
                .audit_list(&AuditQuery {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    let cutoff = now - 400 * DAY;
    assert_eq!(
        store.audit_prune(cutoff, 1, now).await.unwrap(),
        1,
        "oldest first"
    );
    assert_eq!(store.audit_prune(cutoff, 500, now).await.unwrap(), 1);
    assert_eq!(store.audit_prune(cutoff, 500, now).await.unwrap(), 0);
    let left = list().await;
    let leads: Vec<Option<&str>> = left.iter().map(|r| r.entry.lead_id.as_deref()).collect();
    assert!(
        !leads.contains(&Some("L1")) && !leads.contains(&Some("L2")),
        "{left:?}"
    );
    assert!(leads.contains(&Some("L3")), "{left:?}");
    let prunes: Vec<&AuditRecord> = left
        .iter()
        .filter(|r| r.entry.action == "audit.prune")
        .collect();
    assert_eq!(prunes.len(), 2, "each pruning is itself recorded: {left:?}");
    assert_eq!(prunes[0].entry.actor, "retention");

    // Inside the window the log is as append-only as before.
    for sql in [
        "DELETE FROM audit_log",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log_horizon",
        "UPDATE audit_log_horizon SET before_at = 0",
        "UPDATE audit_log_horizon SET before_at = 9000000000000000000",
    ] {
        let r = raw(url, sql).await;
        assert!(r.is_err(), "{sql} must be refused: {r:?}");
    }
    // The retention job cannot be told to cut into the last 30 days either.
    assert!(store.audit_prune(now - 5 * DAY, 500, now).await.is_err());
    assert_eq!(list().await, left, "nothing changed");
}
