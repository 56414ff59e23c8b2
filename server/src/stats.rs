//! The stats snapshot and the coalescer that pushes it to every stream.
//!
//! Opening or closing a stream wakes [`run`]; it publishes a fresh `stats` frame on a `watch`
//! channel (only when `open_connections` really changed) and then sleeps for the coalescing
//! window, so 10,000 clients connecting at once cause at most ~10 `stats` frames per second per
//! stream, not 10,000. A `watch` keeps only the newest value: a slow stream never sees stale
//! ones queue up.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use wire::model::{event_name, StatsEvent};

use crate::frame;
use crate::AppState;

pub fn stats_frame(stats: &StatsEvent) -> Bytes {
    frame::event(event_name::STATS, None, None, stats)
}

/// Resolves when the other replicas' count changed (never with the embedded bus).
async fn cluster_changed(state: &AppState) {
    match &state.cluster {
        Some(cluster) => cluster.changed.notified().await,
        None => std::future::pending().await,
    }
}

/// Publishes coalesced `stats` frames on `tx` until `shutdown`.
pub async fn run(
    state: AppState,
    tx: Arc<watch::Sender<Bytes>>,
    window: Duration,
    shutdown: CancellationToken,
) {
    let mut last = None;
    loop {
        tokio::select! {
            _ = state.conns.changed.notified() => {}
            _ = cluster_changed(&state) => {}
            _ = shutdown.cancelled() => return,
        }
        let report = state.stats();
        let shown = (
            report.stats.open_connections,
            report.replica_open_connections,
            report.replicas,
        );
        if last != Some(shown) {
            if last.map(|l| l.0) != Some(shown.0) {
                state
                    .connection_history
                    .record(crate::hub::now_ms(), report.stats.open_connections);
            }
            last = Some(shown);
            tx.send_replace(stats_frame(&StatsEvent::from(&report)));
            // Streams check the stats frame when woken, and are woken through the hub.
            state.hub.wake_streams();
        }
        tokio::select! {
            _ = tokio::time::sleep(window) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use wire::Mode;

    /// 100 connections in one second produce about 10 `stats` frames, and the last one is exact.
    #[tokio::test(start_paused = true)]
    async fn stats_are_coalesced_to_the_window() {
        let leptos = leptos::config::LeptosOptions::builder()
            .output_name("t")
            .build();
        let state = AppState::new(crate::Config::default(), leptos, ([127, 0, 0, 1], 0).into());
        let shutdown = CancellationToken::new();
        let window = Duration::from_millis(100);
        tokio::spawn(run(
            state.clone(),
            Arc::clone(&state.stats_tx),
            window,
            shutdown.clone(),
        ));

        let frames = Arc::new(AtomicUsize::new(0));
        let mut rx = state.stats_tx.subscribe();
        let counter = {
            let frames = Arc::clone(&frames);
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    frames.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let mut guards = Vec::new();
        for _ in 0..100 {
            guards.push(
                state
                    .conns
                    .try_open([10, 0, 0, 1].into(), Mode::Leader, "http/1.1")
                    .unwrap(),
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(window * 2).await;
        let sent = frames.load(Ordering::SeqCst);
        assert!(
            (9..=12).contains(&sent),
            "{sent} stats frames for 100 changes in 1 s"
        );
        let last = state.stats_tx.borrow().clone();
        assert!(std::str::from_utf8(&last)
            .unwrap()
            .contains("\"open_connections\":100"));
        shutdown.cancel();
        counter.abort();
    }
}
