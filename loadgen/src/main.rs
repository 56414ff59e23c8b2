//! tabrelay load generator.
//!
//! Opens N concurrent SSE streams on loopback (spread round-robin over one or more replicas),
//! measures the servers' RSS per idle stream, then injects events through the API and measures
//! fan-out latency: from just before the loadgen sends the POST to the moment each stream has
//! parsed the event. A throughput phase then publishes bursts of events as fast as the servers
//! answer and measures how many events per second reach every stream.
//!
//! ```text
//! loadgen --streams 10000 --spawn target/release/server   # starts and stops the server itself
//! loadgen --streams 10000 --spawn target/release/server --bus redis --replicas 2
//! loadgen --streams 1000 --pid $(pgrep -n server) --addr 127.0.0.1:3000
//! ```

mod holder;
mod readers;
mod sse;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures::stream::{self, StreamExt};
use tokio::sync::Notify;
use wire::model::StatsReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Bus {
    /// One process, the in-process hub (no `TABRELAY_BUS`).
    Embedded,
    /// A redis-server started on a free port, every replica with `TABRELAY_BUS=redis://…`.
    Redis,
}

/// The scheduling class of the load generator's reader threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReaderSched {
    /// As started (`SCHED_OTHER`, at `--reader-nice`).
    Normal,
    /// `SCHED_IDLE`: the readers run only on a core nothing else wants. Models clients on
    /// other machines (in production the server's cores do not run its clients), so that the
    /// fan-out figures show the server alone; the loopback receive path still runs on the
    /// server's cores as before. Not the default, and its figures are not the default ones:
    /// next to other busy processes the readers may wait long for a core.
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PublishOn {
    /// Every event is published on the first address.
    First,
    /// Event k is published on address k mod (number of addresses).
    Alternate,
}

#[derive(Debug, Parser)]
#[command(
    about = "Hold N SSE streams against tabrelay replicas and measure RSS, fan-out latency and throughput",
    // A later occurrence wins: `loadgen/bench.sh N --rounds 30` overrides the script's flags.
    args_override_self = true
)]
struct Args {
    /// Concurrent SSE streams to hold (spread round-robin over the addresses).
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// Server addresses, comma-separated or repeated (loopback only). With --spawn, the first
    /// replica listens on the first address and replica i on its port + i; port 0 there: the
    /// load generator picks free ports itself (`loadgen/bench.sh` does).
    #[arg(long, default_value = "127.0.0.1:3000", value_delimiter = ',')]
    addr: Vec<SocketAddr>,
    /// Start this server binary (simulator off, caps raised) and stop it at the end.
    #[arg(long, conflicts_with = "pid")]
    spawn: Option<PathBuf>,
    /// With --spawn: how many replicas to start (more than one needs --bus redis).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// With --spawn: the bus the replicas share.
    #[arg(long, value_enum, default_value_t = Bus::Embedded)]
    bus: Bus,
    /// With --spawn --bus redis: the redis-server binary.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
    /// PIDs of already running servers (comma-separated), for their RSS and CPU.
    #[arg(long, value_delimiter = ',')]
    pid: Vec<u32>,
    /// PID of an already running redis-server, for its CPU.
    #[arg(long)]
    redis_pid: Option<u32>,
    /// Which address events are published on.
    #[arg(long, value_enum, default_value_t = PublishOn::Alternate)]
    publish_on: PublishOn,
    /// Events to publish for the latency measurement.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Pause between two published events, in milliseconds.
    #[arg(long, default_value_t = 250)]
    round_interval_ms: u64,
    /// Events to publish in the throughput phase (0: skip it).
    #[arg(long, default_value_t = 1000)]
    tput_events: usize,
    /// Throughput events per burst; the next burst starts once every stream has every event of
    /// this one. Keep it well under the server's TABRELAY_LAG_CAPACITY (1,024 by default) so
    /// that no stream can fall behind by more than the hub keeps.
    #[arg(long, default_value_t = 200)]
    tput_burst: usize,
    /// POSTs in flight at once in the throughput phase.
    #[arg(long, default_value_t = 8)]
    tput_concurrency: usize,
    /// Connections opened at once while ramping up.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Seconds to wait for every stream to receive every event.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Source addresses to connect from: 127.0.0.1 to 127.0.0.N, stream i from the (i mod N)-th
    /// (loopback allows ~28k ephemeral ports per source address and destination). 0: as many
    /// as keep each under 10,000 streams (1, the kernel's pick, up to 10,000 streams).
    #[arg(long, default_value_t = 0)]
    sources: usize,
    /// Processes holding the streams (each needs a descriptor per stream, and the open-file
    /// limit is per process). 0: as many as the limit requires (1 up to the limit minus 200).
    /// With more than one there is no throughput phase.
    #[arg(long, default_value_t = 0)]
    procs: usize,
    /// Internal: run as one of the holder processes of `--procs` (streams `--first-index` ..
    /// `+ --streams`), driven through stdin / stdout by the main process.
    #[arg(long, hide = true)]
    holder: bool,
    #[arg(long, hide = true, default_value_t = 0)]
    first_index: usize,
    /// Niceness of the load generator's reader threads (`reader-N`, in every holder process
    /// too): 1-19 let the server's writers have the shared cores first, so the
    /// user-space receipt times queue less behind the server. The publishing thread and the
    /// servers it starts keep their priority. 0: unchanged.
    #[arg(long, default_value_t = 0)]
    reader_nice: i32,
    /// Scheduling class of the reader threads (every holder process's too): `idle` models
    /// remote clients (see [`ReaderSched::Idle`]); its runs are labelled on their own line.
    #[arg(long, value_enum, default_value_t = ReaderSched::Normal)]
    reader_sched: ReaderSched,
    /// Who sends the streams' TCP ACKs (every holder process's too): `kernel`, Linux's choice,
    /// which on loopback charges them to the server's `send`; `reader`, right after it read.
    /// See [`readers::Acks`] for why `kernel` stays the default.
    #[arg(long, value_enum, default_value_t = readers::Acks::Kernel)]
    acks: readers::Acks,
}

/// Streams per source address at most. Loopback has ~28k ephemeral ports per source address,
/// but a `bind` to port 0 (how a source address is chosen) takes the odd half first and then
/// crawls: 50,000 streams from 3 sources stalled at ~14,000 each. 10,000 stays clear of that.
const STREAMS_PER_SOURCE: usize = 10_000;

/// The source address of stream `i` (`None`: one source, the kernel's pick).
fn source_of(sources: usize, i: usize) -> Option<std::net::IpAddr> {
    (sources > 1).then(|| std::net::Ipv4Addr::new(127, 0, 0, 1 + (i % sources) as u8).into())
}

/// How many source addresses `streams` need (`requested` unless 0).
fn sources_for(requested: usize, streams: usize) -> usize {
    if requested > 0 {
        requested.min(254)
    } else {
        streams.div_ceil(STREAMS_PER_SOURCE).max(1)
    }
}

/// How many holder processes `streams` need under an open-file limit of `limit` (`requested`
/// unless 0).
fn procs_for(requested: usize, streams: usize, limit: u64) -> usize {
    if requested > 0 {
        return requested;
    }
    let per_proc = (limit.saturating_sub(200) as usize).max(1);
    streams.div_ceil(per_proc).max(1)
}

/// The soft open-file limit of this process.
fn open_file_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Nanoseconds since the Unix epoch: one clock for the main process and its holders.
fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sum of the RSS of every process (`None` if any could not be read, or there is none).
fn rss_sum_kib(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| rss_kib(p)).sum()
}

/// User + system CPU time of a process, in milliseconds (assumes the usual 100 Hz clock tick).
fn cpu_ms(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10)
}

/// Summed CPU time of several processes (`None` if any could not be read, or there is none).
fn cpu_sum_ms(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| cpu_ms(&p.to_string())).sum()
}

/// CPU time of the kernel's `ksoftirqd/N` threads, in milliseconds: network receive work the
/// kernel deferred out of the syscalls that caused it (on loopback, a sender's `send` normally
/// runs the receiving side's TCP input itself, and the server's CPU counts it). Machine-wide.
fn softirq_threads_ms() -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let is_softirq = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.starts_with("ksoftirqd"));
        if is_softirq {
            total += cpu_ms(pid).unwrap_or(0);
        }
    }
    Some(total)
}

/// The machine's count of ACKs sent by the delayed-ACK timer (`TcpExt: DelayedACKs` in
/// `/proc/net/netstat`): with `--acks reader`, the receipts whose reader did not send the ACK
/// first. The timer's ACK runs in whichever process the timer interrupts, the server's often.
fn timer_acks() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let at = names.split_whitespace().position(|n| n == "DelayedACKs")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// CPU snapshots of the servers, redis-server and the loadgen, to take differences of.
#[derive(Clone, Copy)]
struct Cpu {
    servers: Option<u64>,
    redis: Option<u64>,
    own: Option<u64>,
    softirq: Option<u64>,
    /// Not CPU: [`timer_acks`], taken with the rest.
    timer_acks: Option<u64>,
}

impl Cpu {
    /// `holders`: the loadgen's holder processes, counted as its own.
    fn now(servers: &[u32], redis: Option<u32>, holders: &[u32]) -> Self {
        let holders = if holders.is_empty() {
            Some(0)
        } else {
            cpu_sum_ms(holders)
        };
        Self {
            servers: cpu_sum_ms(servers),
            redis: redis.and_then(|p| cpu_ms(&p.to_string())),
            own: cpu_ms("self").zip(holders).map(|(a, b)| a + b),
            softirq: softirq_threads_ms(),
            timer_acks: timer_acks(),
        }
    }

    fn since(self, before: Self) -> Self {
        let diff = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.saturating_sub(b));
        Self {
            servers: diff(self.servers, before.servers),
            redis: diff(self.redis, before.redis),
            own: diff(self.own, before.own),
            softirq: diff(self.softirq, before.softirq),
            timer_acks: diff(self.timer_acks, before.timer_acks),
        }
    }
}

/// The servers' `tabrelay_fanout_direct_write_seconds` histogram, summed over replicas.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// `(upper bound, cumulative count)`, in the order the server lists them.
    buckets: Vec<(f64, u64)>,
    count: u64,
    sum: f64,
}

impl Histogram {
    /// Parses the histogram out of `/metrics` text (`None` if the server has none).
    fn parse(text: &str) -> Option<Self> {
        const NAME: &str = "tabrelay_fanout_direct_write_seconds";
        let mut h = Self::default();
        let mut seen = false;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(NAME) else {
                continue;
            };
            let value = rest.rsplit(' ').next()?;
            if let Some(le) = rest.strip_prefix("_bucket{le=\"") {
                let bound = le.split('"').next()?;
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().ok()?
                };
                h.buckets.push((bound, value.parse().ok()?));
            } else if rest.starts_with("_count") {
                h.count = value.parse().ok()?;
                seen = true;
            } else if rest.starts_with("_sum") {
                h.sum = value.parse().ok()?;
            }
        }
        seen.then_some(h)
    }

    fn add(mut self, other: &Self) -> Self {
        if self.buckets.is_empty() {
            self.buckets = other.buckets.iter().map(|&(b, _)| (b, 0)).collect();
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            mine.1 += theirs.1;
        }
        self.count += other.count;
        self.sum += other.sum;
        self
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            buckets: self
                .buckets
                .iter()
                .zip(before.buckets.iter().chain(std::iter::repeat(&(0.0, 0))))
                .map(|(&(b, a), &(_, z))| (b, a.saturating_sub(z)))
                .collect(),
            count: self.count.saturating_sub(before.count),
            sum: self.sum - before.sum,
        }
    }

    /// The upper bound of the bucket holding quantile `q`.
    fn quantile(&self, q: f64) -> f64 {
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        self.buckets
            .iter()
            .find(|&&(_, n)| n >= rank)
            .map_or(f64::INFINITY, |&(b, _)| b)
    }
}

/// The fan-out write histogram of every server, summed (`None` if one has none).
async fn fanout_writes(http: &reqwest::Client, addrs: &[SocketAddr]) -> Option<Histogram> {
    let mut total = Histogram::default();
    for addr in addrs {
        let text = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        total = total.add(&Histogram::parse(&text)?);
    }
    Some(total)
}

/// `GET /api/stats`, typed; `None` while the server does not answer (or answers something else).
async fn stats(http: &reqwest::Client, addr: SocketAddr) -> Option<StatsReport> {
    http.get(format!("http://{addr}/api/stats"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// An error with the server's answer if a publish was refused.
async fn refused(res: reqwest::Response, phase: &str) -> Result<(), String> {
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let body = res.text().await.unwrap_or_default();
    Err(format!(
        "inject answered {status} in the {phase} phase: {body}"
    ))
}

/// Processes this run started; dropping it sends each SIGTERM, then waits for all of them.
#[derive(Default)]
struct Spawned(Vec<Child>);

impl Drop for Spawned {
    fn drop(&mut self) {
        for child in &self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

impl Spawned {
    fn pids(&self) -> Vec<u32> {
        self.0.iter().map(Child::id).collect()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The address stream (or event) `i` goes to: round-robin over `addrs`.
fn round_robin(addrs: &[SocketAddr], i: usize) -> SocketAddr {
    addrs[i % addrs.len()]
}

/// Replica `i` of a spawned deployment listens on the first address's port + i.
fn replica_addrs(first: SocketAddr, replicas: usize) -> Vec<SocketAddr> {
    (0..replicas)
        .map(|i| SocketAddr::new(first.ip(), first.port() + i as u16))
        .collect()
}

/// The `device` field of a device event's JSON, without a JSON parser (the bench's device
/// names have no escapes). Cheap, since it runs once per event per stream.
fn device_of(data: &str) -> Option<&str> {
    const KEY: &str = "\"device\":\"";
    // Built once: `str::find` builds its searcher on every call, 10,000 times per event.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(KEY));
    let start = FINDER.find(data.as_bytes())? + KEY.len();
    let len = data[start..].find('"')?;
    Some(&data[start..start + len])
}

/// The throughput phase's bursts: `total` events cut into consecutive ranges of at most `burst`.
fn bursts(total: usize, burst: usize) -> Vec<std::ops::Range<usize>> {
    let burst = burst.max(1);
    (0..total)
        .step_by(burst)
        .map(|start| start..(start + burst).min(total))
        .collect()
}

/// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The first of `n` consecutive ports nobody listens on right now: an ephemeral port the
/// kernel picks, if the `n - 1` after it can be bound too (a few tries, then an error).
fn free_ports(n: usize) -> std::io::Result<u16> {
    for _ in 0..64 {
        let first = TcpListener::bind("127.0.0.1:0")?;
        let base = first.local_addr()?.port();
        if usize::from(base) + n > usize::from(u16::MAX) {
            continue;
        }
        let rest: Result<Vec<_>, _> = (1..n)
            .map(|i| TcpListener::bind(("127.0.0.1", base + i as u16)))
            .collect();
        if rest.is_ok() {
            return Ok(base);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no {n} consecutive free ports found"),
    ))
}

/// Whether a Redis answers `PING` on `addr`.
fn redis_ping(addr: SocketAddr) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    c.write_all(b"PING\r\n").is_ok()
        && matches!(c.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

/// Starts redis-server on a free loopback port, no persistence; returns it and its address.
fn spawn_redis(bin: &PathBuf) -> Result<(Child, SocketAddr), Box<dyn std::error::Error>> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis_ping(addr) {
        if Instant::now() > deadline {
            // Dropped here: stopped.
            drop(Spawned(vec![child]));
            return Err(format!("redis-server did not answer on {addr}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, addr))
}

/// What one stream's reader saw, and what it waits for.
struct Received {
    latencies: Vec<Duration>,
    /// The same receipts measured at the socket: the kernel's receive time of the event's
    /// segment minus the publish time (only receipts that came with a timestamp).
    at_socket: Vec<Duration>,
    /// Socket timestamps before the publish, and after the user-space receipt (both should be 0).
    odd_stamps: [u64; 2],
    /// Frames parsed: device events, `stats` events, anything else.
    frames: [u64; 3],
    /// Throughput events seen, in all and per burst.
    tput_seen: usize,
    per_burst: Vec<usize>,
    run: Arc<Run>,
}

/// What every stream's reader shares: the publish times, the bursts, the counters.
struct Run {
    /// Latency rounds and throughput events each stream waits for.
    rounds: usize,
    tput_events: usize,
    tput_burst: usize,
    /// Streams read in this process.
    readers_total: usize,
    /// The clock of `sent_at` and of the receipts.
    base: Instant,
    /// Each round's publish time, after `base` and on the wall clock (which the kernel's
    /// socket timestamps use), in nanoseconds.
    sent_at: Vec<AtomicU64>,
    sent_wall: Vec<AtomicU64>,
    burst_ranges: Vec<std::ops::Range<usize>>,
    burst_state: Vec<Burst>,
    resets: AtomicUsize,
}

impl Received {
    fn new(run: &Arc<Run>) -> Self {
        Self {
            latencies: Vec::with_capacity(run.rounds),
            at_socket: Vec::with_capacity(run.rounds),
            odd_stamps: [0; 2],
            frames: [0; 3],
            tput_seen: 0,
            per_burst: vec![0; run.burst_ranges.len()],
            run: Arc::clone(run),
        }
    }
}

impl readers::Watch for Received {
    fn done(&self) -> bool {
        self.latencies.len() >= self.run.rounds && self.tput_seen >= self.run.tput_events
    }

    fn frame(&mut self, frame: sse::Frame) {
        let run = &*self.run;
        self.frames[frame.kind()] += 1;
        if frame.event == "reset" {
            run.resets.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !frame.event.starts_with("device-") {
            return;
        }
        let received = run.base.elapsed();
        let received_wall = wall_ns();
        let Some(device) = device_of(&frame.data) else {
            return;
        };
        if let Some(round) = device.strip_prefix("bench-") {
            let Some(round) = round.parse::<usize>().ok().filter(|&r| r < run.rounds) else {
                return;
            };
            let sent = Duration::from_nanos(run.sent_at[round].load(Ordering::Acquire));
            self.latencies.push(received.saturating_sub(sent));
            if let Some(arrived) = frame.arrived_ns {
                self.at_socket.push(socket_latency(
                    arrived,
                    run.sent_wall[round].load(Ordering::Acquire),
                    received_wall,
                    &mut self.odd_stamps,
                ));
            }
        } else if let Some(k) = device.strip_prefix("tput-") {
            let Ok(k) = k.parse::<usize>() else {
                return;
            };
            let b = k / run.tput_burst;
            let Some(count) = self.per_burst.get_mut(b) else {
                return;
            };
            self.tput_seen += 1;
            *count += 1;
            if *count == run.burst_ranges[b].len() {
                let state = &run.burst_state[b];
                state
                    .last_receipt
                    .fetch_max(received.as_nanos() as u64, Ordering::AcqRel);
                if state.done.fetch_add(1, Ordering::AcqRel) + 1 == run.readers_total {
                    state.complete.notify_one();
                }
            }
        }
    }
}

/// Per-burst bookkeeping of the throughput phase, shared by every reader.
struct Burst {
    /// Streams that have every event of this burst.
    done: AtomicUsize,
    /// The latest of their last receipts, in nanoseconds since `base`.
    last_receipt: AtomicU64,
    /// Woken when the last stream completes the burst.
    complete: Notify,
}

/// A socket timestamp checked against the publish and the user-space receipt (wall clock, ns):
/// the latency at the socket, and which of `odd` it counts in (before the publish, after the
/// receipt).
fn socket_latency(arrived: u64, sent: u64, received: u64, odd: &mut [u64; 2]) -> Duration {
    if arrived < sent {
        odd[0] += 1;
    }
    if arrived > received {
        odd[1] += 1;
    }
    Duration::from_nanos(arrived.saturating_sub(sent))
}

/// What each reader thread runs first: `nice` and `sched`'s class for itself (Linux keeps a
/// niceness and a scheduling policy per thread). The publishing side and the servers keep
/// theirs.
fn reader_setup(nice: i32, sched: ReaderSched) -> Arc<dyn Fn() + Send + Sync> {
    Arc::new(move || {
        if nice != 0 {
            // SAFETY: plain syscall on the calling thread (`who` 0: this thread on Linux).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
        }
        if sched == ReaderSched::Idle {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: plain syscall on the calling thread (pid 0), `param` lives across it.
            if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
                eprintln!(
                    "SCHED_IDLE for a reader thread: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    })
}

/// Reader threads: one per core, as many as the runtime had workers when they read.
fn reader_threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.holder {
        return holder::run(&args).await;
    }
    if args.addr.iter().any(|a| !a.ip().is_loopback()) {
        return Err("loopback only".into());
    }
    if args.spawn.is_some() && args.replicas > 1 && args.bus != Bus::Redis {
        return Err("several replicas need --bus redis".into());
    }
    let http = reqwest::Client::new();

    // Declared first so that it stops last, after the replicas have left the shared count.
    let mut redis = Spawned::default();
    let mut servers = Spawned::default();
    let mut redis_addr = None;
    let addrs = match &args.spawn {
        Some(bin) => {
            let first = match args.addr[0].port() {
                0 => SocketAddr::new(args.addr[0].ip(), free_ports(args.replicas.max(1))?),
                _ => args.addr[0],
            };
            let addrs = replica_addrs(first, args.replicas.max(1));
            let bus_url = if args.bus == Bus::Redis {
                let (child, addr) = spawn_redis(&args.redis_server)?;
                redis.0.push(child);
                redis_addr = Some(addr);
                Some(format!("redis://{addr}"))
            } else {
                None
            };
            for addr in &addrs {
                let mut cmd = Command::new(bin);
                cmd.env("LEPTOS_SITE_ADDR", addr.to_string())
                    .env("TABRELAY_SIM_INTERVAL_MS", "0")
                    .env("TABRELAY_MAX_STREAMS", (args.streams + 100).to_string())
                    .env("TABRELAY_MAX_STREAMS_PER_IP", "0")
                    .env("RUST_LOG", "warn")
                    .env_remove("TABRELAY_BUS")
                    .stdout(Stdio::null());
                if let Some(url) = &bus_url {
                    cmd.env("TABRELAY_BUS", url);
                }
                servers.0.push(cmd.spawn()?);
            }
            addrs
        }
        None => args.addr.clone(),
    };
    let pids = if servers.0.is_empty() {
        args.pid.clone()
    } else {
        servers.pids()
    };
    let redis_pid = redis.pids().first().copied().or(args.redis_pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    for &addr in &addrs {
        while stats(&http, addr).await.is_none() {
            if Instant::now() > deadline {
                return Err(format!("no server answering on {addr}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Every replica counts the others (with Redis, each registers itself on its first count).
    let deadline = Instant::now() + Duration::from_secs(10);
    let replicas_seen = loop {
        let seen = stats(&http, addrs[0])
            .await
            .map(|s| s.replicas)
            .unwrap_or(1);
        if seen as usize >= addrs.len() || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rss_before = rss_sum_kib(&pids);

    let sources = sources_for(args.sources, args.streams);
    let procs = procs_for(args.procs, args.streams, open_file_limit());
    // Ramp up: stream i on address i mod n, from source address i mod `sources`; with several
    // processes, each connects its share and reports.
    let started = Instant::now();
    let mut holders = holder::Holders::default();
    let mut streams = Vec::with_capacity(args.streams);
    let mut failed = 0;
    if procs > 1 {
        holders = holder::Holders::spawn(&args, &addrs, procs, sources)?;
        failed = holders.connected().await?;
    } else {
        let connected: Vec<_> = stream::iter(0..args.streams)
            .map(|i| {
                sse::SseStream::connect(
                    round_robin(&addrs, i),
                    source_of(sources, i),
                    "/api/events?mode=naive",
                )
            })
            .buffer_unordered(args.connect_concurrency)
            .collect()
            .await;
        for c in connected {
            match c {
                Ok(s) => streams.push(s),
                Err(e) => {
                    failed += 1;
                    if failed <= 3 {
                        eprintln!("connect failed: {e}");
                    }
                }
            }
        }
    }
    let ramp = started.elapsed();
    let opened = args.streams - failed;

    // Wait until the deployment counts them all and the ramp-up's stats bursts have drained.
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let held = loop {
        let open = stats(&http, addrs[0])
            .await
            .map(|s| s.stats.open_connections)
            .unwrap_or(0);
        if open as usize >= opened || Instant::now() > deadline {
            break open;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_replica = Vec::new();
    for &addr in &addrs {
        let s = stats(&http, addr).await;
        per_replica.push(
            s.map(|s| s.replica_open_connections)
                .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        );
    }
    let rss_held = rss_sum_kib(&pids);

    // Readers: every stream records its receipt time for each round's event (`bench-<k>`) and
    // counts the throughput phase's events (`tput-<k>`) per burst.
    // Bursts wait for every stream: only when they are all in this process.
    let tput_events = if procs > 1 { 0 } else { args.tput_events };
    let tput_burst = args.tput_burst.max(1);
    let burst_ranges = bursts(tput_events, tput_burst);
    let readers_total = streams.len();
    let run = Arc::new(Run {
        rounds: args.rounds,
        tput_events,
        tput_burst,
        readers_total,
        base: Instant::now(),
        sent_at: (0..args.rounds).map(|_| AtomicU64::new(0)).collect(),
        sent_wall: (0..args.rounds).map(|_| AtomicU64::new(0)).collect(),
        burst_state: burst_ranges
            .iter()
            .map(|_| Burst {
                done: AtomicUsize::new(0),
                last_receipt: AtomicU64::new(0),
                complete: Notify::new(),
            })
            .collect(),
        burst_ranges,
        resets: AtomicUsize::new(0),
    });
    let watched = streams
        .into_iter()
        .map(|stream| (stream, Received::new(&run)))
        .collect();
    let readers = readers::Readers::start(
        watched,
        reader_threads(),
        args.acks,
        reader_setup(args.reader_nice, args.reader_sched),
    )?;
    let base = run.base;

    // Latency phase: one event at a time, `round_interval_ms` apart.
    let publish_addr = |k: usize| match args.publish_on {
        PublishOn::First => addrs[0],
        PublishOn::Alternate => round_robin(&addrs, k),
    };
    let writes_before = fanout_writes(&http, &addrs).await;
    let cpu_before = Cpu::now(&pids, redis_pid, &holders.pids());
    for round in 0..args.rounds {
        let wall = wall_ns();
        run.sent_at[round].store(base.elapsed().as_nanos() as u64, Ordering::Release);
        run.sent_wall[round].store(wall, Ordering::Release);
        holders.sent(round, wall).await?;
        let res = http
            .post(format!(
                "http://{}/api/devices/bench-{round}/online",
                publish_addr(round)
            ))
            .send()
            .await?;
        refused(res, "latency").await?;
        tokio::time::sleep(Duration::from_millis(args.round_interval_ms)).await;
    }
    let latency_cpu = Cpu::now(&pids, redis_pid, &holders.pids()).since(cpu_before);
    let server_writes = fanout_writes(&http, &addrs)
        .await
        .zip(writes_before)
        .map(|(after, before)| after.since(&before));
    holders.done().await?;

    // Throughput phase: each burst's events published with `tput_concurrency` POSTs in flight;
    // the burst ends when the last stream has the last of its events.
    let tput_cpu_before = Cpu::now(&pids, redis_pid, &holders.pids());
    let mut delivering = Duration::ZERO;
    let mut publishing = Duration::ZERO;
    for (b, range) in run.burst_ranges.iter().enumerate() {
        let first_sent = base.elapsed();
        let answers: Vec<_> = stream::iter(range.clone())
            .map(|k| {
                let url = format!("http://{}/api/devices/tput-{k}/online", publish_addr(k));
                let http = &http;
                async move { http.post(url).send().await }
            })
            .buffer_unordered(args.tput_concurrency.max(1))
            .collect()
            .await;
        publishing += base.elapsed() - first_sent;
        for a in answers {
            refused(a?, "throughput").await?;
        }
        let state = &run.burst_state[b];
        if state.done.load(Ordering::Acquire) < readers_total
            && tokio::time::timeout(
                Duration::from_secs(args.timeout_secs),
                state.complete.notified(),
            )
            .await
            .is_err()
        {
            return Err(format!(
                "timed out waiting for every stream to receive burst {b} ({} of {readers_total} \
                 streams complete, resets seen: {})",
                state.done.load(Ordering::Acquire),
                run.resets.load(Ordering::Relaxed)
            )
            .into());
        }
        let last = Duration::from_nanos(state.last_receipt.load(Ordering::Acquire));
        delivering += last.saturating_sub(first_sent);
    }
    let tput_cpu = Cpu::now(&pids, redis_pid, &holders.pids()).since(tput_cpu_before);

    let mut all = Vec::new();
    let mut at_socket = Vec::new();
    let mut odd_stamps = [0u64; 2];
    let mut incomplete = 0;
    let mut kept = Vec::new();
    let mut frames = [0u64; 3];
    for read in readers
        .finish(Duration::from_secs(args.timeout_secs))
        .await?
    {
        let received = read.watch;
        if read.result.is_err() {
            incomplete += 1;
        } else {
            all.extend(received.latencies);
            at_socket.extend(received.at_socket);
            odd_stamps[0] += received.odd_stamps[0];
            odd_stamps[1] += received.odd_stamps[1];
            for (sum, n) in frames.iter_mut().zip(received.frames) {
                *sum += n;
            }
        }
        kept.push(read.socket);
    }
    let from_holders = holders.results().await?;
    all.extend(from_holders.latencies);
    at_socket.extend(from_holders.at_socket);
    odd_stamps[0] += from_holders.odd_stamps[0];
    odd_stamps[1] += from_holders.odd_stamps[1];
    at_socket.sort();
    incomplete += from_holders.incomplete;
    for (sum, n) in frames.iter_mut().zip(from_holders.frames) {
        *sum += n;
    }
    run.resets
        .fetch_add(from_holders.resets as usize, Ordering::Relaxed);
    all.sort();
    let rss_after = rss_sum_kib(&pids);
    let mut lagged = 0;
    for &addr in &addrs {
        lagged += stats(&http, addr)
            .await
            .map(|s| s.resets_lagged)
            .unwrap_or(0);
    }

    println!("streams requested      {}", args.streams);
    println!("streams failed         {failed}");
    println!("streams held (server)  {held}");
    println!("ramp-up                {:.2?}", ramp);
    if let (Some(before), Some(held_rss)) = (rss_before, rss_held) {
        let per = (held_rss.saturating_sub(before) as f64 * 1024.0) / held.max(1) as f64;
        println!("server RSS before      {before} KiB");
        println!("server RSS held        {held_rss} KiB");
        println!(
            "server RSS / stream    {:.0} B ({:.2} KiB)",
            per,
            per / 1024.0
        );
    }
    if let Some(after) = rss_after {
        println!("server RSS after fan   {after} KiB");
    }
    println!("events published       {}", args.rounds);
    println!(
        "receipts               {} (streams incomplete: {incomplete})",
        all.len()
    );
    println!("fan-out latency p50    {:.2?}", percentile(&all, 50.0));
    println!("fan-out latency p99    {:.2?}", percentile(&all, 99.0));
    let per_event = |ms: u64, events: usize| ms as f64 / events.max(1) as f64;
    if let Some(ms) = latency_cpu.servers {
        println!(
            "server CPU / event     {:.1} ms",
            per_event(ms, args.rounds)
        );
    }
    if let Some(ms) = latency_cpu.own {
        println!(
            "loadgen CPU / event    {:.1} ms",
            per_event(ms, args.rounds)
        );
    }
    println!(
        "fan-out latency max    {:.2?}",
        all.last().copied().unwrap_or_default()
    );
    // The servers' own side of the latency phase (added in 0.9; absent from older servers).
    if let Some(w) = server_writes.filter(|w| w.count > 0) {
        println!(
            "server fan-out p50     <= {:.0} ms (publish -> a writer's last send; bucket bound)",
            w.quantile(0.5) * 1e3
        );
        println!(
            "server fan-out p99     <= {:.0} ms (over {} writer walks, mean {:.1} ms)",
            w.quantile(0.99) * 1e3,
            w.count,
            w.sum / w.count as f64 * 1e3
        );
    }
    // Added in 0.10: the same receipts timed by the kernel when each event's TCP segment reached
    // the stream's socket (`SO_TIMESTAMPNS`), so the load generator's own wait for a core
    // (it reads on the same cores as the server writes) is not counted.
    if !at_socket.is_empty() {
        println!(
            "fan-out at socket p50  {:.2?} (publish -> the kernel received the event's segment)",
            percentile(&at_socket, 50.0)
        );
        println!(
            "fan-out at socket p99  {:.2?}",
            percentile(&at_socket, 99.0)
        );
        println!(
            "fan-out at socket max  {:.2?}",
            at_socket.last().copied().unwrap_or_default()
        );
    }
    if let Some(ms) = latency_cpu.softirq {
        println!(
            "ksoftirqd CPU / event  {:.1} ms (machine-wide: receive work deferred out of the \
             sending syscalls, not in server CPU)",
            per_event(ms, args.rounds)
        );
    }
    println!(
        "socket timestamps      {} of {} receipts ({} before the publish, {} after the \
         user-space receipt)",
        at_socket.len(),
        all.len(),
        odd_stamps[0],
        odd_stamps[1]
    );
    println!(
        "loadgen reader nice    {}{}",
        args.reader_nice,
        if args.reader_nice > 0 {
            " (readers yield the cores to the server)"
        } else {
            ""
        }
    );
    println!(
        "loadgen reader sched   {}",
        match args.reader_sched {
            ReaderSched::Normal => "normal",
            ReaderSched::Idle =>
                "idle (SCHED_IDLE: readers only on otherwise idle cores, modelling clients on \
                 other machines; not the default figures)",
        }
    );
    println!(
        "loadgen acks           {}",
        match args.acks {
            readers::Acks::Reader => "reader (each reader ACKs what it read, in its own time)",
            readers::Acks::Kernel =>
                "kernel (Linux ACKs each event at once, inside the server's send)",
        }
    );
    if let Some(n) = latency_cpu.timer_acks {
        println!(
            "timer ACKs             {n} during the rounds, {} receipts (machine-wide: ACKs the \
             delayed-ACK timer sent, in whatever process it interrupted)",
            all.len()
        );
    }
    // Added with several replicas and the throughput phase; the lines above keep their labels.
    println!(
        "bus                    {}",
        match redis_addr {
            Some(a) => format!("redis ({a})"),
            None if args.spawn.is_some() => "embedded".to_owned(),
            None => "as running".to_owned(),
        }
    );
    println!("replicas (server)      {replicas_seen}");
    println!(
        "streams per replica    {} ({})",
        per_replica.join(" / "),
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "published on           {}",
        match args.publish_on {
            PublishOn::First => "the first address",
            PublishOn::Alternate => "each address in turn",
        }
    );
    if let Some(ms) = latency_cpu.redis {
        println!(
            "redis CPU / event      {:.1} ms",
            per_event(ms, args.rounds)
        );
    }
    println!(
        "source addresses       {sources} (127.0.0.1{})",
        if sources > 1 {
            format!(" to 127.0.0.{sources}")
        } else {
            String::new()
        }
    );
    println!("loadgen processes      {procs}");
    if tput_events > 0 {
        let events = tput_events as f64;
        println!(
            "tput events            {} ({} bursts of <= {tput_burst}, {} POSTs in flight)",
            tput_events,
            run.burst_ranges.len(),
            args.tput_concurrency.max(1)
        );
        println!(
            "tput publish           {:.0} events/s (POSTs answered)",
            events / publishing.as_secs_f64()
        );
        println!(
            "tput delivered         {:.0} events/s (every stream has every event)",
            events / delivering.as_secs_f64()
        );
        if let Some(ms) = tput_cpu.servers {
            println!(
                "tput server CPU/event  {:.2} ms",
                per_event(ms, tput_events)
            );
        }
        if let Some(ms) = tput_cpu.redis {
            println!(
                "tput redis CPU/event   {:.2} ms",
                per_event(ms, tput_events)
            );
        }
        if let Some(ms) = tput_cpu.own {
            println!(
                "tput loadgen CPU/event {:.2} ms",
                per_event(ms, tput_events)
            );
        }
    }
    println!(
        "frames received        {} device, {} stats, {} other (all streams, both phases)",
        frames[0], frames[1], frames[2]
    );
    println!(
        "resets                 {} seen by streams, {lagged} lagged (servers)",
        run.resets.load(Ordering::Relaxed)
    );
    drop(kept);
    holders.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_fanout_histogram_is_read_from_metrics_text() {
        let text = |n: [u64; 3], sum: f64| {
            format!(
                "# TYPE tabrelay_fanout_direct_write_seconds histogram\n\
                 tabrelay_fanout_direct_write_seconds_sum {sum}\n\
                 tabrelay_fanout_direct_write_seconds_count {}\n\
                 tabrelay_fanout_direct_write_seconds_bucket{{le=\"0.01\"}} {}\n\
                 tabrelay_fanout_direct_write_seconds_bucket{{le=\"0.05\"}} {}\n\
                 tabrelay_fanout_direct_write_seconds_bucket{{le=\"+Inf\"}} {}\n\
                 tabrelay_open_streams 3\n",
                n[2], n[0], n[1], n[2]
            )
        };
        let before = Histogram::parse(&text([1, 2, 2], 0.02)).unwrap();
        let after = Histogram::parse(&text([1, 101, 102], 3.0)).unwrap();
        let d = after.since(&before);
        assert_eq!(d.count, 100);
        assert!((d.sum - 2.98).abs() < 1e-9);
        assert_eq!(d.quantile(0.5), 0.05);
        assert_eq!(d.quantile(0.99), 0.05);
        assert_eq!(d.quantile(1.0), f64::INFINITY);
        let two = Histogram::default().add(&after).add(&after);
        assert_eq!(two.count, 204);
        assert!(Histogram::parse("tabrelay_open_streams 3\n").is_none());
    }

    #[test]
    fn socket_latencies_count_impossible_stamps() {
        let mut odd = [0; 2];
        assert_eq!(
            socket_latency(150, 100, 200, &mut odd),
            Duration::from_nanos(50)
        );
        assert_eq!(odd, [0, 0]);
        assert_eq!(socket_latency(90, 100, 200, &mut odd), Duration::ZERO);
        assert_eq!(
            socket_latency(250, 100, 200, &mut odd),
            Duration::from_nanos(150)
        );
        assert_eq!(odd, [1, 1]);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&v, 50.0), ms(50));
        assert_eq!(percentile(&v, 99.0), ms(99));
        assert_eq!(percentile(&v, 100.0), ms(100));
        assert_eq!(percentile(&v, 0.0), ms(1));
        assert_eq!(percentile(&[ms(7)], 99.0), ms(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn streams_and_events_go_round_robin() {
        let a: SocketAddr = "127.0.0.1:3999".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(replica_addrs(a, 2), vec![a, b]);
        let picked: Vec<_> = (0..5).map(|i| round_robin(&[a, b], i)).collect();
        assert_eq!(picked, vec![a, b, a, b, a]);
        assert!((0..3).all(|i| round_robin(&[a], i) == a));
    }

    #[test]
    fn device_is_read_from_the_event_json() {
        let data = r#"{"id":7,"device":"tput-12","kind":"online","at_ms":1}"#;
        assert_eq!(device_of(data), Some("tput-12"));
        assert_eq!(device_of(r#"{"id":7}"#), None);
        assert_eq!(device_of(r#"{"device":"unterminated"#), None);
    }

    #[test]
    fn bursts_cover_every_event_once() {
        assert_eq!(bursts(1000, 500), vec![0..500, 500..1000]);
        assert_eq!(bursts(7, 3), vec![0..3, 3..6, 6..7]);
        assert_eq!(bursts(0, 500), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(bursts(2, 0), vec![0..1, 1..2]);
    }
}
