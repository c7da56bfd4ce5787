//! The SLA timer poller (SLA-2/3): timers are rows, so they survive restarts. Every
//! `POLL` it reads the timers that are due and hands each to the sequencer, which
//! re-reads it inside the locked routing transaction and fires it exactly once.

use crate::sequencer::{Job, Sequencer, Shared};
use leadrouter_store::micros;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

pub const POLL: Duration = Duration::from_millis(200);
const BATCH: i64 = 2000;

pub fn spawn(shared: Arc<Shared>, sequencer: Sequencer) {
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    tokio::spawn(async move {
        loop {
            let now = shared.clock.now();
            match shared.store.due_timers(micros(now), BATCH).await {
                Ok(due) => {
                    for t in due {
                        if !in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(t.id.clone())
                        {
                            continue;
                        }
                        let (tx, rx) = oneshot::channel();
                        let lag = now.duration_since(leadrouter_store::from_micros(t.due_at));
                        shared.metrics.observe_timer_lag(lag.as_secs_f64().max(0.0));
                        if sequencer
                            .submit(Job::Sla {
                                timer_id: t.id.clone(),
                                reply: tx,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                        let in_flight = in_flight.clone();
                        tokio::spawn(async move {
                            let r = tokio::time::timeout(Duration::from_secs(60), rx).await;
                            if let Ok(Ok(Err(e))) = &r {
                                tracing::warn!(timer = %t.id, error = %e, "SLA timer not fired; will retry");
                            }
                            in_flight
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&t.id);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading due SLA timers failed; retrying"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
}
