//! Following the shared log: each replica reads every entry (`XREAD BLOCK`) into its own hub,
//! which fans it out to the streams of that replica exactly as the embedded bus does.
//!
//! A replica (re)joins with one atomic read of the run, the devices and the newest entries
//! ([`super::scripts`] `SYNC`), handed to [`Hub::load_run`]: after a short outage the missed
//! events are published in order; if they are gone, or the run changed (Redis lost its data),
//! every stream gets a `reset`. Between blocking reads that came back empty it checks the run is
//! still the same one (a Redis restarted empty gets no entry to tell it).
//!
//! [`Hub::load_run`]: crate::hub::Hub::load_run

use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use tokio_util::sync::CancellationToken;

use super::conn::LazyConnection;
use super::{decode, Backoff, RedisBus};
use crate::hub::{IngestError, LoadOutcome};

/// How long one `XREAD` blocks; also how often an idle replica checks the run.
const BLOCK: Duration = Duration::from_secs(1);
/// Entries taken per read.
const BATCH: usize = 512;

/// Why the tail stopped following: shut down, or read the whole state again.
enum Stop {
    Shutdown,
    Resync(&'static str),
}

/// Follows the log until `shutdown`; `synced` is told after each successful (re)join.
pub async fn run(
    bus: Arc<RedisBus>,
    shutdown: CancellationToken,
    synced: tokio::sync::watch::Sender<u64>,
) {
    // A blocking read must outlast its BLOCK; a dead connection is noticed a little later.
    let conn = bus.connection(BLOCK + Duration::from_secs(2));
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        match follow(&bus, &conn, &shutdown, &synced, &mut backoff).await {
            Ok(Stop::Shutdown) => return,
            Ok(Stop::Resync(why)) => tracing::info!(why, "re-reading the shared log"),
            Err(problem) => {
                bus.cluster().set_tail_ready(false, Some(problem.clone()));
                let delay = backoff.next_delay();
                tracing::warn!(%problem, ?delay, "event log tail failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }
}

async fn follow(
    bus: &RedisBus,
    conn: &LazyConnection,
    shutdown: &CancellationToken,
    synced: &tokio::sync::watch::Sender<u64>,
    backoff: &mut Backoff,
) -> Result<Stop, String> {
    let hub = bus.hub();
    let keys = bus.keys();
    let mut c = conn.get().await?;
    let known = hub.position();
    let (epoch, floor) = RedisBus::candidate_run();
    let mut sync = bus.scripts().sync.prepare_invoke();
    keys.run_keys(&mut sync);
    sync.arg(epoch)
        .arg(floor)
        .arg(&known.epoch)
        .arg(known.id)
        .arg(bus.log_length());
    let reply: Value = match sync.invoke_async(&mut c).await {
        Ok(v) => v,
        Err(e) => return Err(conn.failed(&e).await),
    };
    let (snapshot, devices_rev) = decode::sync(&reply).map_err(|e| e.to_string())?;
    let run = snapshot.epoch.clone();
    let head = snapshot.head;
    match hub.load_run(snapshot) {
        LoadOutcome::UpToDate => {}
        LoadOutcome::CaughtUp { missed } => tracing::info!(missed, "caught up with the shared log"),
        LoadOutcome::Replaced(cause) => {
            tracing::warn!(epoch = %run, head, reason = cause.describe(), "joined the shared log anew; every stream is sent a reset")
        }
    }
    bus.cluster().set_tail_ready(true, None);
    backoff.reset();
    synced.send_modify(|n| *n += 1);

    let mut last = head;
    loop {
        let mut xread = redis::cmd("XREAD");
        xread
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("COUNT")
            .arg(BATCH)
            .arg("STREAMS")
            .arg(&keys.log)
            .arg(format!("{last}-0"));
        let read = xread.query_async::<Value>(&mut c);
        let reply = tokio::select! {
            _ = shutdown.cancelled() => return Ok(Stop::Shutdown),
            reply = read => match reply {
                Ok(v) => v,
                Err(e) => return Err(conn.failed(&e).await),
            },
        };
        let entries = decode::xread(&reply).map_err(|e| e.to_string())?;
        if entries.is_empty() {
            // Idle: is this still the run we follow, with the devices we have?
            let meta: Value = match redis::cmd("HMGET")
                .arg(&keys.meta)
                .arg("epoch")
                .arg("devices_rev")
                .query_async(&mut c)
                .await
            {
                Ok(v) => v,
                Err(e) => return Err(conn.failed(&e).await),
            };
            let fields = decode::array(&meta, "the run's meta hash").map_err(|e| e.to_string())?;
            let current = fields
                .first()
                .and_then(|v| decode::text(v, "meta epoch").ok());
            if current.as_deref() != Some(&*run) {
                return Ok(Stop::Resync("the run changed (or Redis lost it)"));
            }
            let rev = fields
                .get(1)
                .map(|v| decode::number(v, "meta devices_rev"))
                .transpose()
                .map_err(|e| e.to_string())?
                .unwrap_or(0);
            if rev != devices_rev {
                return Ok(Stop::Resync("devices were registered"));
            }
            continue;
        }
        for entry in entries {
            if entry.epoch != *run {
                return Ok(Stop::Resync("an entry of another run"));
            }
            match hub.ingest(&entry.event) {
                Ok(()) | Err(IngestError::Duplicate) => last = entry.event.id,
                Err(IngestError::Gap { .. }) => return Ok(Stop::Resync("entries are missing")),
            }
        }
    }
}
