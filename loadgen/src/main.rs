//! tabrelay load generator.
//!
//! Opens N concurrent SSE streams on loopback, measures the server's RSS per idle stream, then
//! injects events through the API and measures fan-out latency: from just before the loadgen
//! sends the POST to the moment each stream has parsed the event.
//!
//! ```text
//! loadgen --streams 10000 --spawn target/release/server   # starts and stops the server itself
//! loadgen --streams 1000 --pid $(pgrep -n server) --addr 127.0.0.1:3000
//! ```

mod sse;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::stream::{self, StreamExt};

#[derive(Debug, Parser)]
#[command(
    about = "Hold N SSE streams against a tabrelay server and measure RSS and fan-out latency"
)]
struct Args {
    /// Concurrent SSE streams to hold.
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Start this server binary (simulator off, caps raised) and stop it at the end.
    #[arg(long, conflicts_with = "pid")]
    spawn: Option<PathBuf>,
    /// PID of an already running server, for its RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// Events to publish for the latency measurement.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Pause between two published events, in milliseconds.
    #[arg(long, default_value_t = 250)]
    round_interval_ms: u64,
    /// Connections opened at once while ramping up.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Seconds to wait for every stream to receive every event.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of a process, in milliseconds (assumes the usual 100 Hz clock tick).
fn cpu_ms(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10)
}

async fn stats(http: &reqwest::Client, addr: SocketAddr) -> Option<serde_json::Value> {
    http.get(format!("http://{addr}/api/stats"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        return Err("loopback only".into());
    }
    let http = reqwest::Client::new();

    let _spawned = match &args.spawn {
        Some(bin) => Some(Spawned(
            Command::new(bin)
                .env("LEPTOS_SITE_ADDR", args.addr.to_string())
                .env("TABRELAY_SIM_INTERVAL_MS", "0")
                .env("TABRELAY_MAX_STREAMS", (args.streams + 100).to_string())
                .env("TABRELAY_MAX_STREAMS_PER_IP", "0")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()?,
        )),
        None => None,
    };
    let pid = args.pid.or(_spawned.as_ref().map(|s| s.0.id()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats(&http, args.addr).await.is_none() {
        if Instant::now() > deadline {
            return Err(format!("no server answering on {}", args.addr).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_before = pid.and_then(rss_kib);

    // Ramp up.
    let started = Instant::now();
    let connected: Vec<_> = stream::iter(0..args.streams)
        .map(|_| sse::SseStream::connect(args.addr, "/api/events?mode=naive"))
        .buffer_unordered(args.connect_concurrency)
        .collect()
        .await;
    let ramp = started.elapsed();
    let mut streams = Vec::with_capacity(args.streams);
    let mut failed = 0;
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

    // Wait until the server counts them all and the ramp-up's stats bursts have drained.
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let held = loop {
        let open = stats(&http, args.addr)
            .await
            .and_then(|s| s["open_connections"].as_u64())
            .unwrap_or(0);
        if open as usize >= streams.len() || Instant::now() > deadline {
            break open;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_held = pid.and_then(rss_kib);

    // Readers: every stream records its receipt time for each round's event.
    let base = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.rounds).map(|_| AtomicU64::new(0)).collect());
    let rounds = args.rounds;
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            let sent_at = Arc::clone(&sent_at);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(rounds);
                while latencies.len() < rounds {
                    let frame = s.next().await?;
                    if !frame.event.starts_with("device-") {
                        continue;
                    }
                    let received = base.elapsed();
                    let Ok(data) = serde_json::from_str::<serde_json::Value>(&frame.data) else {
                        continue;
                    };
                    let Some(round) = data["device"]
                        .as_str()
                        .and_then(|d| d.strip_prefix("bench-"))
                    else {
                        continue;
                    };
                    let Ok(round) = round.parse::<usize>() else {
                        continue;
                    };
                    let sent = Duration::from_nanos(sent_at[round].load(Ordering::Acquire));
                    latencies.push(received.saturating_sub(sent));
                }
                Ok::<_, std::io::Error>((latencies, s))
            })
        })
        .collect();

    let server_cpu_before = pid.and_then(|p| cpu_ms(&p.to_string()));
    let own_cpu_before = cpu_ms("self");
    for round in 0..args.rounds {
        sent_at[round].store(base.elapsed().as_nanos() as u64, Ordering::Release);
        let res = http
            .post(format!(
                "http://{}/api/devices/bench-{round}/online",
                args.addr
            ))
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(format!("inject answered {}", res.status()).into());
        }
        tokio::time::sleep(Duration::from_millis(args.round_interval_ms)).await;
    }

    let mut all = Vec::new();
    let mut incomplete = 0;
    let mut kept = Vec::new();
    let results = tokio::time::timeout(
        Duration::from_secs(args.timeout_secs),
        futures::future::join_all(readers),
    )
    .await;
    match results {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(Ok((l, s))) => {
                        all.extend(l);
                        kept.push(s);
                    }
                    _ => incomplete += 1,
                }
            }
        }
        Err(_) => return Err("timed out waiting for streams to receive every event".into()),
    }
    all.sort();
    let server_cpu = pid
        .and_then(|p| cpu_ms(&p.to_string()))
        .zip(server_cpu_before)
        .map(|(a, b)| a - b);
    let own_cpu = cpu_ms("self").zip(own_cpu_before).map(|(a, b)| a - b);
    let rss_after = pid.and_then(rss_kib);

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
    if let Some(ms) = server_cpu {
        println!(
            "server CPU / event     {:.1} ms",
            ms as f64 / args.rounds as f64
        );
    }
    if let Some(ms) = own_cpu {
        println!(
            "loadgen CPU / event    {:.1} ms",
            ms as f64 / args.rounds as f64
        );
    }
    println!(
        "fan-out latency max    {:.2?}",
        all.last().copied().unwrap_or_default()
    );
    drop(kept);
    Ok(())
}
