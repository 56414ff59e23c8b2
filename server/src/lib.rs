//! tabrelay's server: an SSE hub that every open tab of the site shares through one leader tab.
//!
//! Its wire (payloads, bodies, `?mode=` words, positions and the resume rule) is the `wire` crate.
//! The modules' `crate::` references form no cycle ([`AppState`] in the crate root aside): the
//! stream's path is layered `frame`, `fanout`, `metrics`, `replay` → `live` → `direct_shard` →
//! `conn`, `hub` → `stats` → `sse` → `direct` → `serve`, each using only modules to its left.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | every knob: clap flags with env-var fallbacks |
//! | [`bus`] | the publisher seam: numbering events and reaching every replica ([`bus::LocalBus`] today) |
//! | [`hub`] | this process's device state, replay buffer, broadcast fan-out, the run's epoch and id floor, cached `reset` frames |
//! | [`live`] | what the hub sends every stream on its fan-out channel: the next event, or a `reset` and its cause |
//! | [`replay`] | the bounded ring buffer `Last-Event-ID` resumes from ([`wire::resume`] decides) |
//! | [`frame`] | SSE framing (and the HTTP/1.1 chunk of `direct`'s streams), done once per event and shared by every stream |
//! | [`sse`] | `GET /api/events`: one stream (hello, replay or reset, live, keep-alive, shutdown) |
//! | [`fanout`] | the hub's broadcast ring: one cursor and one persistent waker per stream |
//! | `direct` | plain-TCP connections whose first request is a stream: written without hyper |
//! | `direct_shard` | live events written to idle `direct` streams by one writer thread per runtime worker |
//! | [`serve`] | accepting connections, TLS, HTTP/1.1 and HTTP/2 through hyper |
//! | [`conn`] | exact count of open streams (a drop guard), by [`wire::Mode`], and the global / per-IP caps |
//! | [`stats`] | the coalescer that pushes `stats` events ([`wire::model::StatsEvent`]) |
//! | [`history`] | the open-connection count over the last minutes, for a new page's sparkline |
//! | [`metrics`] | counters and gauges, served as `/metrics` |
//! | [`api`] | `/api/devices`, `/api/stats` |
//! | [`pages`] | the seam to the Leptos UI: `app::shell` and the snapshot its first render shows |
//! | [`simulator`] | pretend devices, deterministic with a seed |
//! | [`security`] | security headers, CORS, who may inject events |
//! | [`error`] | JSON error bodies for every API failure |
//! | [`shutdown`] | SIGINT / SIGTERM |
//!
//! [`start`] builds everything from a [`Config`] and serves it on a given listener, which is how
//! both `main` and the integration tests (on port 0) run it. Its background tasks (the stats
//! coalescer, the simulator) are tracked: [`RunningServer::wait`] returns after they ended.
//! Accepted sockets get TCP keepalive and `TCP_USER_TIMEOUT` ([`Config::dead_peer_timeout`]), so
//! a peer that vanished without FIN or RST does not hold a stream open for hours.
//!
//! # Stream positions
//!
//! A position is `(epoch, id)` (see the `wire` crate). The epoch is random per process with the
//! embedded bus; ids start at `floor + 1` with the floor from the clock
//! ([`wire::floor_for_new_run`]), so they never repeat across restarts. The epoch is in `hello`,
//! `reset`, `/api/stats` and the `x-tabrelay-epoch` header of `/api/devices`.
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/events[?last_event_id=N][&epoch=E][&mode=M]` (`M`: a [`wire::Mode`] word) | the SSE stream (`Last-Event-ID` header wins over the query; `E`: 1–64 of `[0-9A-Za-z_-]`, the run `N` is from) |
//! | `GET /api/devices` | JSON array of [`wire::model::Device`]; headers `x-tabrelay-head-id`, `x-tabrelay-epoch` |
//! | `POST /api/devices/{id}/online\|offline` | publishes one event, answers it as JSON |
//! | `GET /api/stats` | [`wire::model::Stats`] plus extras ([`wire::model::StatsReport`]) |
//! | `GET /metrics` | OpenMetrics text for Prometheus |
//! | anything else | the Leptos pages, static files from the site root, or a rendered 404 |
//!
//! Every API error is JSON `{"error": "..."}`. The stream is never compressed and has no
//! request timeout; every other route answers 408 after `--request-timeout-secs`.

// Leptos view types nest deeply; the start-axum template sets the same limit.
#![recursion_limit = "256"]

pub mod api;
pub mod bus;
pub mod cluster;
pub mod config;
pub mod conn;
mod direct;
mod direct_shard;
pub mod error;
pub mod fanout;
pub mod frame;
pub mod history;
pub mod hub;
pub mod live;
pub mod metrics;
pub mod pages;
pub mod redis_bus;
pub mod replay;
pub mod security;
pub mod serve;
pub mod shutdown;
pub mod simulator;
pub mod sse;
pub mod stats;
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use wire::model::{DeviceEventKind, Stats};

pub use config::Config;

use crate::bus::{Bus, LocalBus};
use crate::cluster::ClusterView;
use crate::conn::Connections;
use crate::history::ConnectionHistory;
use crate::hub::Hub;
use crate::metrics::{Metrics, RejectReason, ResetReason};
use crate::redis_bus::RedisBus;
use crate::security::AdminAuth;
use wire::model::StatsReport;
use wire::Mode;

/// Samples of the open-connection count a page's sparkline gets at most: at one per coalescing
/// window (100 ms) that is a minute of constant churn; a quiet server has a handful.
const HISTORY_CAPACITY: usize = 600;

/// How long a replica waits for its first read of the shared log before serving anyway.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(3);

/// Everything a handler needs. Cheap to clone (all `Arc`s).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    /// With the Redis bus: the bus itself (its tasks are started by [`start`]) and what this
    /// replica knows of the others. `None` with the embedded bus.
    pub redis: Option<Arc<RedisBus>>,
    pub cluster: Option<Arc<ClusterView>>,
    pub conns: Arc<Connections>,
    pub metrics: Arc<Metrics>,
    pub stats_tx: Arc<watch::Sender<Bytes>>,
    /// Recorded by the stats coalescer; read into every page's snapshot.
    pub connection_history: Arc<ConnectionHistory>,
    pub admin: AdminAuth,
    /// Random per process: the replica id (the log's run is [`Hub::epoch`]).
    pub instance: Arc<str>,
    pub started: Instant,
    /// The address the main listener is bound to.
    pub bound: SocketAddr,
    /// Cancelled on shutdown; every open stream ends when it is.
    pub shutdown: CancellationToken,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// `bound`: the address actually listened on (decides whether the inject API is open).
    pub fn new(config: Config, leptos: LeptosOptions, bound: SocketAddr) -> Self {
        let metrics = Arc::new(Metrics::new());
        let floor = config
            .first_id_floor
            .unwrap_or_else(|| wire::floor_for_new_run(hub::now_micros()));
        let hub = Arc::new(
            Hub::new(
                config.replay_capacity,
                config.lag_capacity,
                Arc::clone(&metrics),
                hub::random_epoch(),
                floor,
            )
            .io_uring(config.io_uring),
        );
        let instance: Arc<str> = format!(
            "{:016x}",
            simulator::random_seed() ^ u64::from(std::process::id()).rotate_left(32)
        )
        .into();
        let (bus, redis, cluster): (Arc<dyn Bus>, _, _) = match &config.bus {
            None => (Arc::new(LocalBus::new(Arc::clone(&hub))), None, None),
            Some(url) => {
                // `rediss://` needs a process-wide rustls provider; an embedding app may have
                // installed one already.
                tls::install_crypto_provider();
                let cluster = Arc::new(ClusterView::new());
                let redis = Arc::new(RedisBus::new(
                    url,
                    config.bus_ca_file.as_ref(),
                    &config.bus_prefix,
                    Arc::clone(&hub),
                    Arc::clone(&instance),
                    config.replay_capacity,
                    Arc::clone(&cluster),
                ));
                (redis.clone(), Some(redis), Some(cluster))
            }
        };
        let conns = Arc::new(Connections::new(
            config.max_streams,
            config.max_streams_per_ip,
            Arc::clone(&metrics),
        ));
        let (stats_tx, _) = watch::channel(stats::stats_frame(&wire::model::StatsEvent::default()));
        let connection_history = Arc::new(ConnectionHistory::new(
            Duration::from_millis(app::data::HISTORY_WINDOW_MS as u64),
            HISTORY_CAPACITY,
        ));
        connection_history.record(hub::now_ms(), 0);
        let admin = AdminAuth::for_bind(bound, config.admin_token.as_deref());
        Self {
            config: Arc::new(config),
            leptos,
            hub,
            bus,
            redis,
            cluster,
            conns,
            metrics,
            stats_tx: Arc::new(stats_tx),
            connection_history,
            admin,
            instance,
            started: Instant::now(),
            bound,
            shutdown: CancellationToken::new(),
        }
    }

    pub fn stats(&self) -> StatsReport {
        let m = &self.metrics;
        let online = m.published_count(DeviceEventKind::DeviceOnline);
        let offline = m.published_count(DeviceEventKind::DeviceOffline);
        let head = self.hub.position();
        let own = self.conns.open() as u64;
        StatsReport {
            stats: Stats {
                open_connections: self.cluster.as_ref().map_or(own, |c| c.total(own)),
                total_connections: m.streams_total.get(),
                events_published: online + offline,
            },
            replica_open_connections: own,
            replicas: self.cluster.as_ref().map_or(1, |c| c.replicas()),
            instance: self.instance.to_string(),
            epoch: head.epoch,
            head_id: head.id,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            events_online: online,
            events_offline: offline,
            resets_resume: m.reset_count(ResetReason::Resume),
            resets_lagged: m.reset_count(ResetReason::Lagged),
            resets_other_run: m.reset_count(ResetReason::OtherRun),
            rejected_global_cap: m.rejected_count(RejectReason::GlobalCap),
            rejected_per_ip_cap: m.rejected_count(RejectReason::PerIpCap),
            streams_by_mode: Mode::ALL
                .into_iter()
                .map(|mode| (mode.as_str().to_owned(), m.mode_gauge(mode).get()))
                .collect(),
            shard_ports: self.config.shard_ports.clone(),
            streams_by_http_version: metrics::HTTP_VERSIONS
                .into_iter()
                .map(|version| (version.to_owned(), m.version_gauge(version).get()))
                .collect(),
        }
    }
}

/// The whole application: API, SSE stream, metrics, and the Leptos pages and static files.
pub fn router(state: AppState) -> Result<Router, String> {
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.config.request_timeout());

    // No timeout on the stream: it is meant to stay open. No request tracing either: its
    // response-body wrapper would sit in every stream's path for every frame it sends.
    let traced = tower::ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(timeout);
    let api = Router::new()
        .route("/events", get(sse::events))
        .route("/devices", get(api::devices::list).layer(traced.clone()))
        .route(
            "/devices/{id}/{action}",
            post(api::devices::inject).layer(traced.clone()),
        )
        .route("/stats", get(api::stats::get).layer(traced.clone()))
        .fallback(error::api_not_found)
        .method_not_allowed_fallback(error::method_not_allowed);

    let leptos = state.leptos.clone();
    let context = pages::context(&state);
    // One page: a plain route, no leptos_router (it would only add size to the wasm bundle).
    // `leptos_routes` would also have set up the executor Leptos renders on.
    let _ = any_spawner::Executor::init_tokio();
    let page_context = {
        let context = context.clone();
        let leptos = leptos.clone();
        let shard_ports = state.config.shard_ports.clone();
        move || {
            context();
            security::provide_page_csp(&leptos, &shard_ports);
        }
    };
    let page = leptos_axum::render_app_to_stream_with_context(page_context, move || {
        app::shell(leptos.clone())
    });
    let mut router = Router::new()
        .route("/", get(page))
        .route("/metrics", get(api::stats::metrics))
        .route("/healthz", get(api::health::live))
        .route("/readyz", get(api::health::ready))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::not_found_shell))
        .layer(traced)
        .nest("/api", api);
    for layer in security::header_layers(&state.leptos) {
        router = router.layer(layer);
    }
    if let Some(cors) = security::cors_layer(
        &state.config.cors_origins,
        state.bound.port(),
        &state.config.shard_ports,
    )? {
        router = router.layer(cors);
    }
    Ok(router.with_state(state))
}

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    task: JoinHandle<io::Result<()>>,
    tasks: TaskTracker,
}

impl RunningServer {
    /// Ends every stream and stops accepting; [`RunningServer::wait`] then returns promptly.
    pub fn shutdown(&self) {
        self.state.shutdown.cancel();
    }

    /// The background tasks (stats coalescer, simulator); empty once [`RunningServer::wait`]
    /// has returned.
    pub fn tasks(&self) -> TaskTracker {
        self.tasks.clone()
    }

    /// Waits until the server has stopped and its background tasks have ended (after
    /// [`RunningServer::shutdown`]).
    pub async fn wait(self) -> io::Result<()> {
        let served = self.task.await.map_err(io::Error::other);
        self.tasks.close();
        self.tasks.wait().await;
        served?
    }
}

/// Builds the state and router from `config`, starts the simulator (unless off) and the stats
/// coalescer, and serves on `listener` until [`RunningServer::shutdown`].
pub async fn start(
    config: Config,
    leptos: LeptosOptions,
    listener: TcpListener,
) -> io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let state = AppState::new(config, leptos, addr);
    let app = router(state.clone()).map_err(io::Error::other)?;
    let cfg = Arc::clone(&state.config);
    let tasks = TaskTracker::new();

    tasks.spawn(stats::run(
        state.clone(),
        Arc::clone(&state.stats_tx),
        cfg.stats_interval(),
        state.shutdown.clone(),
    ));
    if let Some(redis) = &state.redis {
        tracing::info!(bus = %redis.url(), "sharing the event log through Redis");
        let (synced_tx, mut synced) = watch::channel(0u64);
        tasks.spawn(redis_bus::tail::run(
            Arc::clone(redis),
            state.shutdown.clone(),
            synced_tx,
        ));
        tasks.spawn(redis_bus::count::run(
            Arc::clone(redis),
            Arc::clone(&state.conns),
            state.shutdown.clone(),
        ));
        // Serve with the log's run and devices when Redis answers; if it does not, serve
        // anyway (not ready: `/readyz` says why) and join the log when it comes.
        let joined = tokio::time::timeout(FIRST_SYNC_WAIT, synced.wait_for(|n| *n > 0)).await;
        if !matches!(joined, Ok(Ok(_))) {
            tracing::warn!(
                problem = state.cluster.as_ref().and_then(|c| c.problem()),
                "serving before the shared log could be read"
            );
        }
    }
    if let Some(interval) = cfg.sim_interval() {
        let seed = cfg.sim_seed.unwrap_or_else(simulator::random_seed);
        tracing::info!(
            devices = cfg.sim_devices,
            ?interval,
            seed,
            "device simulator on"
        );
        tasks.spawn(simulator::run(
            simulator::Simulator::new(cfg.sim_devices, seed),
            Arc::clone(&state.hub),
            Arc::clone(&state.bus),
            interval,
            state.shutdown.clone(),
        ));
    }

    let tls = tls::acceptor(&cfg).map_err(io::Error::other)?;
    let mut listeners = vec![listener];
    for port in &cfg.shard_ports {
        let shard = TcpListener::bind(SocketAddr::new(addr.ip(), *port)).await?;
        tracing::info!(addr = %shard.local_addr()?, "listening (shard)");
        listeners.push(shard);
    }
    let server = serve::Server {
        router: app,
        tls,
        options: serve::SocketOptions {
            dead_peer: cfg.dead_peer_timeout().zip(cfg.tcp_user_timeout()),
            send_buffer: cfg.tcp_send_buffer,
        },
        shutdown: state.shutdown.clone(),
        grace: Duration::from_millis(cfg.shutdown_grace_ms),
    };
    let task = tokio::spawn(server.run(listeners));
    tracing::info!(%addr, "listening");
    Ok(RunningServer {
        addr,
        state,
        task,
        tasks,
    })
}

/// Makes the kernel close a connection whose peer went silent (vanished without FIN or RST) in
/// about `budget`:
///
/// * `TCP_USER_TIMEOUT` (`user_timeout`, see [`Config::tcp_user_timeout`]): sent data that stays
///   unacknowledged this long, or a zero window that stays shut this long (Linux applies it to
///   zero-window probes too), aborts the connection. An SSE stream always has data in flight
///   within a keep-alive period, so this is the bound for streams.
/// * keepalive probes for sockets with nothing in flight (an idle keep-alive HTTP connection):
///   the first after `budget / 2` of silence, then every `budget / 6`, three of them.
///
/// The aborted socket's next read or write fails; hyper drops the connection, and with it the
/// stream and its slot in the open count.
pub(crate) fn set_dead_peer_timeout(
    socket: &socket2::SockRef<'_>,
    budget: Duration,
    user_timeout: Duration,
) -> io::Result<()> {
    let second = Duration::from_secs(1);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time((budget / 2).max(second))
        .with_interval((budget / 6).max(second));
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "freebsd"
    ))]
    let keepalive = keepalive.with_retries(3);
    socket.set_tcp_keepalive(&keepalive)?;
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    socket.set_tcp_user_timeout(Some(user_timeout))?;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
    let _ = user_timeout;
    Ok(())
}
