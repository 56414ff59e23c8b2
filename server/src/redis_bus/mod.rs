//! The Redis bus: several replicas behind a load balancer share one event log, one device
//! table and one connection count through Redis 7 (`--bus redis://…`).
//!
//! | module | job |
//! |---|---|
//! | [`scripts`] | the Lua scripts: every change to shared state is one atomic script |
//! | [`tail`] | each replica follows the log (`XREAD BLOCK`) into its own hub, resyncing when it must |
//! | [`count`] | each replica's share of the open streams, with a lease, and the deployment's total |
//! | [`decode`] | every value read back from Redis, checked |
//! | [`conn`] | a connection per job, reopened after a failure |
//! | [`url`] | the `--bus` URL, never shown with its password |
//!
//! # Keys (all under the prefix, `tabrelay` by default)
//!
//! | key | type | holds |
//! |---|---|---|
//! | `meta` | hash | the run: `epoch`, `floor`, `head` (the last id given), `devices_rev` |
//! | `log` | stream | one entry per event, stream id `<id>-0`, trimmed to about `--replay-capacity` |
//! | `devices`, `names` | hash | device → `"1:<changed_at_ms>"`, device → name |
//! | `replicas`, `counts`, `count` | zset, hash, string | lease end per replica, its open streams, the last total |
//! | `sim-lease` | string | the replica that runs the simulator, with an expiry |
//!
//! A new run (no `meta`: a first start, or a Redis that lost its data) gets a fresh epoch and a
//! floor from the clock, exactly like a restart of the embedded bus, so positions keep their
//! meaning ([`wire::resume`]) across Redis restarts too.

pub mod conn;
pub mod count;
pub mod decode;
pub mod scripts;
pub mod tail;
pub mod url;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use redis::Value;
use wire::model::{DeviceEvent, DeviceEventKind};

use crate::bus::{Bus, BusError};
use crate::cluster::ClusterView;
use crate::hub::{self, Hub};
use conn::LazyConnection;
use scripts::Scripts;
pub use url::{BusUrl, CaFile};

/// How long a publisher waits for its own event to reach this replica's hub.
const OWN_WRITE_WAIT: Duration = Duration::from_secs(2);
/// Connecting, and any command but the log's blocking read.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// A publish: a replica saturated by its fan-out may read the reply late; that is not Redis down.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// The names of every key, under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    pub meta: String,
    pub log: String,
    pub devices: String,
    pub names: String,
    pub replicas: String,
    pub counts: String,
    pub count: String,
    pub sim_lease: String,
    /// The pub/sub channel the total is announced on.
    pub count_channel: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        let key = |name: &str| format!("{prefix}:{name}");
        Self {
            meta: key("meta"),
            log: key("log"),
            devices: key("devices"),
            names: key("names"),
            replicas: key("replicas"),
            counts: key("counts"),
            count: key("count"),
            sim_lease: key("sim-lease"),
            count_channel: key("count-changed"),
        }
    }

    /// The keys of the run-scoped scripts, in the order they expect.
    fn run_keys<'a>(&'a self, invocation: &mut redis::ScriptInvocation<'a>) {
        invocation
            .key(&self.meta)
            .key(&self.log)
            .key(&self.devices)
            .key(&self.names);
    }
}

pub struct RedisBus {
    url: BusUrl,
    ca: Option<CaFile>,
    keys: Keys,
    scripts: Scripts,
    publisher: LazyConnection,
    hub: Arc<Hub>,
    instance: Arc<str>,
    /// How many events the log keeps (`MAXLEN ~`), and how many a replica loads on sync.
    log_length: usize,
    cluster: Arc<ClusterView>,
}

impl RedisBus {
    pub fn new(
        url: &BusUrl,
        ca: Option<&CaFile>,
        prefix: &str,
        hub: Arc<Hub>,
        instance: Arc<str>,
        log_length: usize,
        cluster: Arc<ClusterView>,
    ) -> Self {
        Self {
            url: url.clone(),
            ca: ca.cloned(),
            keys: Keys::new(prefix),
            scripts: Scripts::new(),
            publisher: LazyConnection::new(url, ca, COMMAND_TIMEOUT, PUBLISH_TIMEOUT),
            hub,
            instance,
            log_length: log_length.max(1),
            cluster,
        }
    }

    pub fn url(&self) -> &BusUrl {
        &self.url
    }

    /// A new connection of its own for a job (the tail, the count).
    pub fn connection(&self, response_timeout: Duration) -> LazyConnection {
        LazyConnection::new(
            &self.url,
            self.ca.as_ref(),
            COMMAND_TIMEOUT,
            response_timeout,
        )
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn cluster(&self) -> &Arc<ClusterView> {
        &self.cluster
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn scripts(&self) -> &Scripts {
        &self.scripts
    }

    pub fn log_length(&self) -> usize {
        self.log_length
    }

    /// What a new run would start as, should the script find none.
    fn candidate_run() -> (String, u64) {
        (
            hub::random_epoch(),
            wire::floor_for_new_run(hub::now_micros()),
        )
    }

    async fn run_script(
        &self,
        script: &redis::Script,
        args: impl FnOnce(&mut redis::ScriptInvocation<'_>),
    ) -> Result<Value, BusError> {
        let (epoch, floor) = Self::candidate_run();
        let mut invocation = script.prepare_invoke();
        self.keys.run_keys(&mut invocation);
        invocation.arg(epoch).arg(floor);
        args(&mut invocation);
        let invocation = &invocation;
        self.publisher
            .run(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
            .await
            .map_err(BusError::Unavailable)
    }
}

impl Bus for RedisBus {
    fn publish(
        &self,
        device: &str,
        kind: DeviceEventKind,
        name: Option<String>,
    ) -> BoxFuture<'_, Result<DeviceEvent, BusError>> {
        let device = device.to_owned();
        Box::pin(async move {
            let at_ms = hub::now_ms();
            let reply = self
                .run_script(&self.scripts.publish, |inv| {
                    inv.arg(self.log_length)
                        .arg(&device)
                        .arg(kind.event_name())
                        .arg(at_ms)
                        .arg(name.as_deref().unwrap_or(""));
                })
                .await?;
            let (_epoch, id, name) =
                decode::published(&reply).map_err(|e| BusError::Unavailable(e.to_string()))?;
            if !self.hub.wait_for_head(id, OWN_WRITE_WAIT).await {
                tracing::warn!(id, "published, but this replica's tail has not read it yet");
            }
            Ok(DeviceEvent {
                id,
                device,
                kind,
                at_ms,
                name,
            })
        })
    }

    fn register_devices(
        &self,
        devices: Vec<(String, bool)>,
    ) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            self.run_script(&self.scripts.register, |inv| {
                inv.arg(hub::now_ms());
                for (id, online) in &devices {
                    inv.arg(id).arg(if *online { "1" } else { "0" });
                }
            })
            .await
            .map(|_| ())
        })
    }

    fn simulator_turn(&self, interval: Duration) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let lease = (interval * 3).max(Duration::from_secs(3));
            let mut invocation = self.scripts.lease.prepare_invoke();
            invocation
                .key(&self.keys.sim_lease)
                .arg(&*self.instance)
                .arg(lease.as_millis() as u64)
                .arg("1");
            let invocation = &invocation;
            let held = self
                .publisher
                .run(|mut conn| async move { invocation.invoke_async::<i64>(&mut conn).await })
                .await;
            match held {
                Ok(held) => held == 1,
                Err(problem) => {
                    tracing::debug!(%problem, "simulator lease");
                    false
                }
            }
        })
    }
}

/// Delay between attempts after a failure: doubling from `min` to `max`, with jitter so that
/// replicas that lost Redis together do not come back in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        // Up to a quarter less, from the clock's low bits (no RNG dependency needed).
        let jitter = (hub::now_micros() % 256) as u32;
        delay - delay / 4 * jitter / 256
    }
}
