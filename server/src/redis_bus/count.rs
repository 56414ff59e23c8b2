//! The deployment's open-stream count: each replica reports its own share with a lease (every
//! [`HEARTBEAT`], and at once when it changes); a share whose lease ran out (a replica killed
//! without a word) is dropped by whichever replica reports next, so the total forgets it within
//! [`LEASE`] + [`HEARTBEAT`]. A replica that shuts down withdraws its share before it exits.
//! Changes of the total are announced on a pub/sub channel, so every replica pushes the new
//! total to its streams without waiting for its next heartbeat.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::PubSubStream;
use redis::Value;
use tokio_util::sync::CancellationToken;

use super::conn::LazyConnection;
use super::{decode, RedisBus};
use crate::conn::Connections;

/// How often a replica renews its share.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a share counts without being renewed.
pub const LEASE: Duration = Duration::from_secs(3);

/// Reports this replica's share until `shutdown`, then withdraws it.
pub async fn run(bus: Arc<RedisBus>, conns: Arc<Connections>, shutdown: CancellationToken) {
    let conn = bus.connection(Duration::from_secs(1));
    let mut announcements: Option<PubSubStream> = None;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reported: Option<u64> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = heartbeat.tick() => {}
            _ = conns.reported.notified() => {}
            message = next_message(&mut announcements) => {
                match message {
                    Some(payload) => {
                        match decode::summary(&payload) {
                            Ok((total, replicas)) => {
                                if let Some(own) = reported {
                                    bus.cluster().set_count(total, replicas, own);
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "ignored a count message"),
                        }
                        continue;
                    }
                    None => announcements = None,
                }
            }
        }
        if announcements.is_none() {
            announcements = subscribe(&bus, &conn).await;
        }
        let own = conns.open() as u64;
        match report(&bus, &conn, Some(own)).await {
            Ok((total, replicas)) => {
                reported = Some(own);
                bus.cluster().set_count(total, replicas, own);
                bus.cluster().set_count_ready(true, None);
            }
            Err(problem) => {
                tracing::warn!(%problem, "could not report the open streams");
                bus.cluster().set_count_ready(false, Some(problem));
            }
        }
    }
    // Leave at once: the total must not count streams that were just closed by the shutdown.
    if let Err(problem) = report(&bus, &conn, None).await {
        tracing::warn!(%problem, "could not withdraw this replica's streams from the count; its lease runs out instead");
    }
}

async fn next_message(stream: &mut Option<PubSubStream>) -> Option<String> {
    match stream {
        Some(s) => s.next().await.and_then(|m| m.get_payload::<String>().ok()),
        None => std::future::pending().await,
    }
}

async fn subscribe(bus: &RedisBus, conn: &LazyConnection) -> Option<PubSubStream> {
    let attempt = async {
        let mut pubsub = conn.client().get_async_pubsub().await?;
        pubsub.subscribe(&bus.keys().count_channel).await?;
        Ok::<_, redis::RedisError>(pubsub.into_on_message())
    };
    match tokio::time::timeout(Duration::from_secs(1), attempt).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(error = %conn.describe(&e), "count announcements: subscribe failed");
            None
        }
        Err(_) => None,
    }
}

/// Reports `own` streams (`None`: withdraws) and returns the deployment's `(total, replicas)`.
async fn report(
    bus: &RedisBus,
    conn: &LazyConnection,
    own: Option<u64>,
) -> Result<(u64, u64), String> {
    let keys = bus.keys();
    let mut invocation = bus.scripts().report.prepare_invoke();
    invocation
        .key(&keys.replicas)
        .key(&keys.counts)
        .key(&keys.count)
        .arg(bus.instance())
        .arg(own.map_or_else(|| "-".to_owned(), |n| n.to_string()))
        .arg(LEASE.as_millis() as u64)
        .arg(&keys.count_channel);
    let invocation = &invocation;
    let reply = conn
        .run(|mut c| async move { invocation.invoke_async::<Value>(&mut c).await })
        .await?;
    decode::report(&reply).map_err(|e| e.to_string())
}
