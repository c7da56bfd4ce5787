//! The free-text indexer (SQLite; `leadrouter_store::search_index`): routing commits only
//! insert their leads, and this task indexes what they stored every `POLL`, many leads a
//! transaction, on the routing writer's connection between two routing transactions.
//! Search never waits for it (it reads the leads not yet indexed directly), so a slow or
//! failing pass only makes free text read a longer tail. On PostgreSQL every call
//! returns 0 and the task only sleeps.

use crate::sequencer::Shared;
use std::sync::Arc;
use std::time::Duration;

/// How often the indexer looks for new leads.
const POLL: Duration = Duration::from_millis(250);
/// Leads a transaction: one FTS5 segment for all of them, short enough (tens of
/// milliseconds) that routing batches hardly notice the wait.
const BATCH: i64 = 1000;
/// After a failure (a full disk, a locked file), before trying again.
const RETRY: Duration = Duration::from_secs(2);

pub fn spawn(shared: Arc<Shared>) {
    tokio::spawn(async move {
        loop {
            match shared.store.index_new_leads(BATCH).await {
                // A full batch: more are waiting (a burst, or a start after downtime).
                Ok(n) if n as i64 >= BATCH => tokio::task::yield_now().await,
                Ok(_) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::warn!(error = %e, "indexing new leads for search failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    });
}
