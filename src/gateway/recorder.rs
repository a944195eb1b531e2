//! The run recorder: one task writes runs in batches (many runs per durable transaction), so
//! the request path never waits for an fsync, and the batch in flight is finished on shutdown.
//! A run's cost is added to the month's spend in the same transaction, also for runs the
//! workspace's retention does not keep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::{Run, SpendEntry};
use crate::store::Store;

/// Most runs written in one transaction.
const BATCH: usize = 256;

/// How long the writer waits for more runs after the first, so that one durable commit (one
/// fsync) covers many runs at any rate, not one run each when calls come one at a time.
const LINGER: Duration = Duration::from_millis(20);

/// A handle for queueing runs; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Record>,
    /// Records queued and not yet taken by the writer, for the metrics.
    queued: Arc<AtomicU64>,
}

/// One call's record: the run to keep (if the retention keeps it) and its spend.
type Record = (Option<Run>, Option<SpendEntry>);

impl Recorder {
    /// Starts the writer task. It ends once every handle is dropped and the queue is empty.
    pub fn spawn(store: Arc<dyn Store>) -> (Self, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
        let queued = Arc::new(AtomicU64::new(0));
        let taken = queued.clone();
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                let until = tokio::time::Instant::now() + LINGER;
                while batch.len() < BATCH {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(run)) => batch.push(run),
                        // The linger is over, or every handle is gone (shutdown).
                        Ok(None) | Err(_) => break,
                    }
                }
                let n = batch.len();
                taken.fetch_sub(n as u64, Ordering::Relaxed);
                let (runs, spend): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let runs: Vec<Run> = runs.into_iter().flatten().collect();
                let spend: Vec<SpendEntry> = spend.into_iter().flatten().collect();
                if let Err(e) = store.create_runs(runs, spend).await {
                    tracing::error!(error = ?e, runs = n, "could not record runs");
                }
            }
        });
        (Self { tx, queued }, task)
    }

    /// Records queued and not yet written.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues a run and its spend (never blocks; safe in `Drop`).
    pub fn record(&self, run: Option<Run>, spend: Option<SpendEntry>) {
        if run.is_none() && spend.is_none() {
            return;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send((run, spend)).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("the run recorder has stopped; a run was not recorded");
        }
    }
}
