//! What this replica knows of the deployment: the open streams of the other replicas, how many
//! replicas are alive, and whether the shared log is reachable. Written by the Redis bus's tasks
//! ([`crate::redis_bus`]), read by the stats and `/readyz`; with the embedded bus there is none.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub struct ClusterView {
    /// Open streams on the other replicas, as of the last count read from Redis.
    others: AtomicU64,
    /// Live replicas, this one included.
    replicas: AtomicU64,
    /// The log's tail is reading (this replica's hub is in step with the log).
    tail_ready: AtomicBool,
    /// The last command on the count connection succeeded.
    count_ready: AtomicBool,
    /// Why this replica is not ready, for `/readyz` (never holds a password).
    problem: Mutex<Option<String>>,
    /// Woken when the others' count or the replica count changed (the stats coalescer waits).
    pub changed: Notify,
}

impl ClusterView {
    pub fn new() -> Self {
        Self {
            replicas: AtomicU64::new(1),
            ..Self::default()
        }
    }

    /// The deployment's open streams, given this replica's own.
    pub fn total(&self, own: u64) -> u64 {
        self.others.load(Ordering::Relaxed) + own
    }

    pub fn replicas(&self) -> u64 {
        self.replicas.load(Ordering::Relaxed).max(1)
    }

    /// A count read from Redis: `total` streams on `replicas` replicas, of which `own` (the
    /// share this replica last reported) are this replica's.
    pub fn set_count(&self, total: u64, replicas: u64, own: u64) {
        let others = total.saturating_sub(own);
        let before = (
            self.others.swap(others, Ordering::Relaxed),
            self.replicas.swap(replicas, Ordering::Relaxed),
        );
        if before != (others, replicas) {
            self.changed.notify_one();
        }
    }

    pub fn set_tail_ready(&self, ready: bool, problem: Option<String>) {
        self.tail_ready.store(ready, Ordering::Relaxed);
        self.note(ready, problem);
    }

    pub fn set_count_ready(&self, ready: bool, problem: Option<String>) {
        self.count_ready.store(ready, Ordering::Relaxed);
        self.note(ready, problem);
    }

    fn note(&self, ready: bool, problem: Option<String>) {
        let mut slot = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        if !ready {
            *slot = problem;
        } else if self.ready() {
            *slot = None;
        }
    }

    pub fn ready(&self) -> bool {
        self.tail_ready.load(Ordering::Relaxed) && self.count_ready.load(Ordering::Relaxed)
    }

    /// Why not ready (`None` when ready).
    pub fn problem(&self) -> Option<String> {
        if self.ready() {
            return None;
        }
        let problem = self
            .problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Some(problem.unwrap_or_else(|| "not connected to Redis yet".to_owned()))
    }
}
