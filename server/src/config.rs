//! Every knob of the server, as command-line flags with environment-variable fallbacks.
//!
//! `LEPTOS_SITE_ADDR` (set by cargo-leptos) is the bind address, so `cargo leptos serve` and a
//! plain `./server` agree on where the site lives.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The defaults, in one place so [`Config::default`] and the clap attributes cannot drift.
pub mod defaults {
    pub const ADDR: &str = "127.0.0.1:3000";
    pub const SIM_DEVICES: usize = 6;
    pub const SIM_INTERVAL_MS: u64 = 2_000;
    pub const REPLAY_CAPACITY: usize = 1_024;
    pub const LAG_CAPACITY: usize = 1_024;
    pub const KEEP_ALIVE_SECS: u64 = 15;
    pub const RETRY_MS: u64 = 3_000;
    pub const STATS_INTERVAL_MS: u64 = 100;
    pub const MAX_STREAMS: usize = 20_000;
    pub const MAX_STREAMS_PER_IP: usize = 512;
    pub const REQUEST_TIMEOUT_SECS: u64 = 10;
    pub const SHUTDOWN_GRACE_MS: u64 = 2_000;
    pub const MALLOC_MMAP_THRESHOLD: usize = 8_192;
    pub const DEAD_PEER_TIMEOUT_SECS: u64 = 60;
    pub const BUS_PREFIX: &str = "tabrelay";
}

/// The server's configuration. Every field is a flag (`--sim-devices 8`) and an environment
/// variable (`TABRELAY_SIM_DEVICES=8`); the flag wins.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "server",
    version,
    about = "tabrelay: one SSE connection shared by every tab"
)]
pub struct Config {
    /// Address to bind. Loopback keeps the device inject API open without a token.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = defaults::ADDR)]
    pub addr: SocketAddr,

    /// How many simulated devices exist.
    #[arg(long, env = "TABRELAY_SIM_DEVICES", default_value_t = defaults::SIM_DEVICES)]
    pub sim_devices: usize,

    /// Milliseconds between two simulated device changes; 0 turns the simulator off.
    #[arg(long, env = "TABRELAY_SIM_INTERVAL_MS", default_value_t = defaults::SIM_INTERVAL_MS)]
    pub sim_interval_ms: u64,

    /// Seed of the simulator: the same seed gives the same sequence of changes. Random if unset.
    #[arg(long, env = "TABRELAY_SIM_SEED")]
    pub sim_seed: Option<u64>,

    /// How many recent device events are kept for `Last-Event-ID` resume.
    #[arg(long, env = "TABRELAY_REPLAY_CAPACITY", default_value_t = defaults::REPLAY_CAPACITY)]
    pub replay_capacity: usize,

    /// How many events a slow stream may fall behind before it is sent a `reset`.
    #[arg(long, env = "TABRELAY_LAG_CAPACITY", default_value_t = defaults::LAG_CAPACITY)]
    pub lag_capacity: usize,

    /// Seconds between SSE keep-alive comments on an idle stream.
    #[arg(long, env = "TABRELAY_KEEP_ALIVE_SECS", default_value_t = defaults::KEEP_ALIVE_SECS)]
    pub keep_alive_secs: u64,

    /// Reconnect delay suggested to clients (SSE `retry:` field and `hello.retry_ms`).
    #[arg(long, env = "TABRELAY_RETRY_MS", default_value_t = defaults::RETRY_MS)]
    pub retry_ms: u64,

    /// Coalescing window of `stats` events, in milliseconds (100 = at most ~10 per second).
    #[arg(long, env = "TABRELAY_STATS_INTERVAL_MS", default_value_t = defaults::STATS_INTERVAL_MS)]
    pub stats_interval_ms: u64,

    /// Most SSE streams open at once (503 beyond); 0 = unlimited.
    #[arg(long, env = "TABRELAY_MAX_STREAMS", default_value_t = defaults::MAX_STREAMS)]
    pub max_streams: usize,

    /// Most SSE streams open at once from one IP address (429 beyond); 0 = unlimited.
    #[arg(long, env = "TABRELAY_MAX_STREAMS_PER_IP", default_value_t = defaults::MAX_STREAMS_PER_IP)]
    pub max_streams_per_ip: usize,

    /// Bearer token for the device inject API when bound to a non-loopback address. Without
    /// one, the inject API answers 403 there.
    #[arg(long, env = "TABRELAY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Seconds before a non-streaming request is answered 408.
    #[arg(long, env = "TABRELAY_REQUEST_TIMEOUT_SECS", default_value_t = defaults::REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,

    /// Origins allowed by CORS, comma-separated. Empty: no CORS headers (same origin only).
    #[arg(long, env = "TABRELAY_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// SO_SNDBUF of accepted sockets, in bytes: bounds the kernel memory a stalled reader can
    /// pin. Unset: the kernel's autotuning.
    #[arg(long, env = "TABRELAY_TCP_SEND_BUFFER")]
    pub tcp_send_buffer: Option<usize>,

    /// Seconds after which a peer that stopped acknowledging (vanished without FIN or RST: a
    /// laptop lid closed, a NAT entry dropped) is cut and its stream closed: TCP keepalive
    /// probes on an idle socket and `TCP_USER_TIMEOUT` on unacknowledged data (the stream's
    /// keep-alive comments guarantee there is some). 0 leaves the kernel's defaults (hours).
    #[arg(long, env = "TABRELAY_DEAD_PEER_TIMEOUT_SECS", default_value_t = defaults::DEAD_PEER_TIMEOUT_SECS)]
    pub dead_peer_timeout_secs: u64,

    /// Advanced, for tests: the id floor of this run (the first event is floor + 1) instead of
    /// the clock's (`wire::floor_for_new_run`). A floor below a previous run's ids breaks the
    /// rule that ids never repeat across runs.
    #[arg(long, env = "TABRELAY_ID_FLOOR", hide = true)]
    pub first_id_floor: Option<u64>,

    /// After SIGINT/SIGTERM, milliseconds to wait for connections to close before exiting.
    #[arg(long, env = "TABRELAY_SHUTDOWN_GRACE_MS", default_value_t = defaults::SHUTDOWN_GRACE_MS)]
    pub shutdown_grace_ms: u64,

    /// glibc only, read by the binary: allocations of at least this many bytes get their own
    /// mapping. hyper keeps a 16 KiB read and an 8 KiB header buffer per connection that an SSE
    /// stream barely writes; on glibc's heap the boundary tags at both ends make each cost two
    /// resident pages, mapped separately only the first page is resident. This cuts the RSS of
    /// an idle stream from ~20 KiB to ~12.5 KiB. 0 keeps glibc's default.
    #[arg(long, env = "TABRELAY_MALLOC_MMAP_THRESHOLD", default_value_t = defaults::MALLOC_MMAP_THRESHOLD)]
    pub malloc_mmap_threshold: usize,

    /// Linux: the fan-out's writers send each event to the idle streams through an io_uring, one
    /// system call per batch instead of one per stream (about a quarter less server CPU per
    /// event). Where the kernel or a seccomp profile refuses io_uring they use `send`, as with
    /// `false`.
    #[arg(long, env = "TABRELAY_IO_URING", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub io_uring: bool,

    /// Share the event log, the devices and the connection count with other replicas through
    /// Redis 7: `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS) or
    /// `redis+unix:///path`. Unset: the embedded in-process bus (one replica, nothing to install).
    /// Prefer the environment variable when the URL has a password (a flag shows in `ps`).
    #[arg(long, env = "TABRELAY_BUS", hide_env_values = true)]
    pub bus: Option<crate::redis_bus::BusUrl>,

    /// Serve HTTPS (HTTP/2 and HTTP/1.1 over TLS): `self-signed` makes a certificate at start,
    /// for local use. Unset (and no --tls-cert): plain HTTP/1.1.
    #[arg(long, env = "TABRELAY_TLS", value_name = "self-signed")]
    pub tls: Option<String>,

    /// HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "TABRELAY_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "TABRELAY_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Extra ports on the bind address that serve the same app, for `?mode=sharded` (naive
    /// streams spread over several origins, as subdomain sharding does). Comma-separated.
    #[arg(long, env = "TABRELAY_SHARD_PORTS", value_delimiter = ',')]
    pub shard_ports: Vec<u16>,

    /// For `rediss://`: a PEM file of the certificate authority that signed Redis' certificate,
    /// instead of the system's trust store (a private CA, a self-signed Redis).
    #[arg(long, env = "TABRELAY_BUS_CA_FILE")]
    pub bus_ca_file: Option<crate::redis_bus::CaFile>,

    /// The prefix of every Redis key (several deployments can share one Redis).
    #[arg(long, env = "TABRELAY_BUS_PREFIX", default_value = defaults::BUS_PREFIX)]
    pub bus_prefix: String,
}

impl Default for Config {
    /// The defaults, without reading the command line or the environment (for tests).
    fn default() -> Self {
        Self {
            addr: defaults::ADDR.parse().expect("valid default address"),
            sim_devices: defaults::SIM_DEVICES,
            sim_interval_ms: defaults::SIM_INTERVAL_MS,
            sim_seed: None,
            replay_capacity: defaults::REPLAY_CAPACITY,
            lag_capacity: defaults::LAG_CAPACITY,
            keep_alive_secs: defaults::KEEP_ALIVE_SECS,
            retry_ms: defaults::RETRY_MS,
            stats_interval_ms: defaults::STATS_INTERVAL_MS,
            max_streams: defaults::MAX_STREAMS,
            max_streams_per_ip: defaults::MAX_STREAMS_PER_IP,
            admin_token: None,
            request_timeout_secs: defaults::REQUEST_TIMEOUT_SECS,
            cors_origins: Vec::new(),
            tcp_send_buffer: None,
            shutdown_grace_ms: defaults::SHUTDOWN_GRACE_MS,
            dead_peer_timeout_secs: defaults::DEAD_PEER_TIMEOUT_SECS,
            first_id_floor: None,
            malloc_mmap_threshold: defaults::MALLOC_MMAP_THRESHOLD,
            io_uring: true,
            bus: None,
            tls: None,
            tls_cert: None,
            tls_key: None,
            shard_ports: Vec::new(),
            bus_ca_file: None,
            bus_prefix: defaults::BUS_PREFIX.to_owned(),
        }
    }
}

impl Config {
    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs.max(1))
    }

    pub fn stats_interval(&self) -> Duration {
        Duration::from_millis(self.stats_interval_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    /// `None`: leave the kernel's keepalive and user timeout alone.
    pub fn dead_peer_timeout(&self) -> Option<Duration> {
        (self.dead_peer_timeout_secs > 0).then(|| Duration::from_secs(self.dead_peer_timeout_secs))
    }

    /// `TCP_USER_TIMEOUT` of accepted sockets: how long sent data may stay unacknowledged.
    ///
    /// A stream sends something at least every keep-alive period, so a peer that vanishes has
    /// unacknowledged data at the latest one period later; the user timeout is the rest of the
    /// dead-peer budget (at least half of it), so the stream is closed within
    /// [`Config::dead_peer_timeout`] of the peer going silent.
    pub fn tcp_user_timeout(&self) -> Option<Duration> {
        let budget = self.dead_peer_timeout()?;
        Some(budget - self.keep_alive().min(budget / 2))
    }

    /// `None` when the simulator is off.
    pub fn sim_interval(&self) -> Option<Duration> {
        (self.sim_interval_ms > 0 && self.sim_devices > 0)
            .then(|| Duration::from_millis(self.sim_interval_ms))
    }
}

/// The Leptos options of a run, read from the `LEPTOS_*` variables through `var` (the process
/// environment in `main`), each with a default when unset, with or without cargo-leptos.
///
/// A deploy (a copy of `target/release/server` and `target/site`) needs:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `LEPTOS_SITE_ROOT` | `target/site` | the directory holding the built site (`pkg/`, assets) |
/// | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` | the address to bind (also `--addr`, which wins) |
/// | `LEPTOS_OUTPUT_NAME` | `tabrelay` | the base name of `pkg/<name>.js`, `.wasm`, `.css` |
/// | `LEPTOS_SITE_PKG_DIR` | `pkg` | the directory under the site root holding those files |
/// | `LEPTOS_ENV` | `DEV` | `PROD` in production: no live-reload socket in the CSP |
/// | `LEPTOS_RELOAD_PORT`, `LEPTOS_RELOAD_EXTERNAL_PORT`, `LEPTOS_RELOAD_WS_PROTOCOL` | `3001`, unset, `ws` | cargo-leptos' live reload (development only) |
/// | `LEPTOS_HASH_FILES`, `LEPTOS_HASH_FILE_NAME` | `false`, `hash.txt` | hashed asset names, if the site was built with them |
/// | `LEPTOS_NOT_FOUND_PATH` | `/404` | Leptos' not-found path |
///
/// So from the repository root, `LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD
/// LEPTOS_SITE_ADDR=0.0.0.0:3000 target/release/server` serves a `cargo leptos build --release`.
/// (Leptos' own `get_configuration(None)` reads the same variables but takes the output name's
/// default from the build environment, empty without cargo-leptos, which is why the binary
/// does not use it.)
pub fn leptos_options_from_env(
    var: impl Fn(&str) -> Option<String>,
    addr: SocketAddr,
) -> Result<leptos::config::LeptosOptions, String> {
    use leptos::config::{Env, LeptosOptions, ReloadWSProtocol};

    fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
        value
            .trim()
            .parse()
            .map_err(|_| format!("{key}={value:?} is not valid"))
    }
    let get = |key: &str, default: &str| var(key).unwrap_or_else(|| default.to_owned());
    let mut options = LeptosOptions::builder()
        .output_name(get("LEPTOS_OUTPUT_NAME", "tabrelay"))
        .site_root(get("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(get("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(addr)
        .build();
    options.env = match var("LEPTOS_ENV")
        .map(|v| v.trim().to_lowercase())
        .as_deref()
    {
        None | Some("dev" | "development") => Env::DEV,
        Some("prod" | "production") => Env::PROD,
        Some(other) => return Err(format!("LEPTOS_ENV={other:?} is not dev or prod")),
    };
    options.reload_port = parse("LEPTOS_RELOAD_PORT", &get("LEPTOS_RELOAD_PORT", "3001"))?;
    options.reload_external_port = var("LEPTOS_RELOAD_EXTERNAL_PORT")
        .map(|v| parse("LEPTOS_RELOAD_EXTERNAL_PORT", &v))
        .transpose()?;
    options.reload_ws_protocol = match var("LEPTOS_RELOAD_WS_PROTOCOL") {
        Some(v) => parse::<ReloadWSProtocol>("LEPTOS_RELOAD_WS_PROTOCOL", &v)?,
        None => ReloadWSProtocol::WS,
    };
    options.not_found_path = get("LEPTOS_NOT_FOUND_PATH", "/404").into();
    options.hash_file = get("LEPTOS_HASH_FILE_NAME", "hash.txt").into();
    options.hash_files = parse("LEPTOS_HASH_FILES", &get("LEPTOS_HASH_FILES", "false"))?;
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_default_matches_clap_defaults() {
        let parsed = Config::try_parse_from(["server", "--addr", "127.0.0.1:3000"]).unwrap();
        let default = Config::default();
        assert_eq!(parsed.addr, default.addr);
        assert_eq!(parsed.replay_capacity, default.replay_capacity);
        assert_eq!(parsed.max_streams_per_ip, default.max_streams_per_ip);

        let c = Config::try_parse_from([
            "server",
            "--addr",
            "0.0.0.0:8080",
            "--sim-interval-ms",
            "0",
            "--cors-origins",
            "https://a.example,https://b.example",
        ])
        .unwrap();
        assert_eq!(c.addr.port(), 8080);
        assert_eq!(c.sim_interval(), None);
        assert_eq!(c.cors_origins.len(), 2);
        assert!(
            parsed.io_uring && default.io_uring,
            "io_uring is on by default"
        );
        for off in ["false", "0", "no"] {
            let c = Config::try_parse_from(["server", "--io-uring", off]).unwrap();
            assert!(!c.io_uring, "--io-uring {off}");
        }
    }

    #[test]
    fn leptos_options_come_from_every_leptos_variable_with_defaults() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let none = leptos_options_from_env(|_| None, addr).unwrap();
        assert_eq!(&*none.output_name, "tabrelay");
        assert_eq!(&*none.site_root, "target/site");
        assert_eq!(&*none.site_pkg_dir, "pkg");
        assert_eq!(none.site_addr, addr);
        assert_eq!(none.reload_port, 3001);
        assert!(!none.hash_files);

        let vars = [
            ("LEPTOS_SITE_ROOT", "/srv/site"),
            ("LEPTOS_OUTPUT_NAME", "other"),
            ("LEPTOS_SITE_PKG_DIR", "assets"),
            ("LEPTOS_ENV", "PROD"),
            ("LEPTOS_RELOAD_PORT", "4001"),
            ("LEPTOS_HASH_FILES", "true"),
        ];
        let lookup = |k: &str| {
            vars.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        let set = leptos_options_from_env(lookup, addr).unwrap();
        assert_eq!(&*set.site_root, "/srv/site");
        assert_eq!(&*set.output_name, "other");
        assert_eq!(&*set.site_pkg_dir, "assets");
        assert_eq!(set.env, leptos::config::Env::PROD);
        assert_eq!(set.reload_port, 4001);
        assert!(set.hash_files);

        let bad = leptos_options_from_env(
            |k| (k == "LEPTOS_RELOAD_PORT").then(|| "x".to_owned()),
            addr,
        );
        assert!(bad.unwrap_err().contains("LEPTOS_RELOAD_PORT"));
    }

    #[test]
    fn dead_peer_budget_includes_the_keep_alive_period() {
        let c = Config::default();
        assert_eq!(c.dead_peer_timeout(), Some(Duration::from_secs(60)));
        // A comment at most 15 s after the peer vanished, then 45 s of retransmissions.
        assert_eq!(c.tcp_user_timeout(), Some(Duration::from_secs(45)));
        let fast = Config {
            dead_peer_timeout_secs: 2,
            keep_alive_secs: 1,
            ..Config::default()
        };
        assert_eq!(fast.tcp_user_timeout(), Some(Duration::from_secs(1)));
        let off = Config {
            dead_peer_timeout_secs: 0,
            ..Config::default()
        };
        assert_eq!(off.tcp_user_timeout(), None);
    }
}
