//! The run recorder: one task writes runs in batches (many runs per durable transaction), so
//! the request path never waits for an fsync, and the batch in flight is finished on shutdown.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::Run;
use crate::store::Store;

/// Most runs written in one transaction.
const BATCH: usize = 256;

/// A handle for queueing runs; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Run>,
}

impl Recorder {
    /// Starts the writer task. It ends once every handle is dropped and the queue is empty.
    pub fn spawn(store: Arc<dyn Store>) -> (Self, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Run>();
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(run) => batch.push(run),
                        Err(_) => break,
                    }
                }
                let n = batch.len();
                if let Err(e) = store.create_runs(batch).await {
                    tracing::error!(error = ?e, runs = n, "could not record runs");
                }
            }
        });
        (Self { tx }, task)
    }

    /// Queues a run (never blocks; safe in `Drop`).
    pub fn record(&self, run: Run) {
        if self.tx.send(run).is_err() {
            tracing::error!("the run recorder has stopped; a run was not recorded");
        }
    }
}
