//! Holder processes: beyond one process's open-file limit (`ulimit -Hn`, 20,000 on the bench
//! machine), the streams are held by several copies of the loadgen (`--holder`), each its share.
//!
//! The main process publishes and measures as usual; a holder connects its streams, reports
//! how many it got, records when each stream parsed each round's event, and at the end turns
//! those into latencies with the send times the main process gave it. One clock for all: the
//! wall clock in nanoseconds (`wall_ns`), the same machine.
//!
//! Protocol, one line each: holder → main `connected <failed> <first error>`, then after `done`
//! `result <incomplete> <device frames> <stats frames> <other frames> <resets> <stamps before
//! the publish> <stamps after the receipt>`, `lat <ns>…` and `slat <ns>…` (at the socket) lines,
//! `end`; main → holder `sent <round> <ns>`, `done`; the holder closes its streams and
//! exits when its stdin closes.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Notify;

use crate::readers::{Readers, Watch};
use crate::{round_robin, source_of, sse, wall_ns, Args};

type Error = Box<dyn std::error::Error>;

/// The holders of a run (none with one process: every call is then a no-op).
#[derive(Default)]
pub struct Holders(Vec<Holder>);

struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// What the holders saw, summed.
#[derive(Default)]
pub struct Results {
    pub latencies: Vec<Duration>,
    pub at_socket: Vec<Duration>,
    pub odd_stamps: [u64; 2],
    pub incomplete: usize,
    pub frames: [u64; 3],
    pub resets: u64,
}

impl Holders {
    /// Starts `procs` holders, streams split as evenly as possible, stream indices (and so
    /// addresses and source addresses) as one process would have them.
    pub fn spawn(
        args: &Args,
        addrs: &[SocketAddr],
        procs: usize,
        sources: usize,
    ) -> Result<Self, Error> {
        let exe = std::env::current_exe()?;
        let addr_list = addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut holders = Vec::with_capacity(procs);
        let mut first = 0;
        for p in 0..procs {
            let n = args.streams / procs + usize::from(p < args.streams % procs);
            let mut child = Command::new(&exe)
                .arg("--holder")
                .args(["--streams", &n.to_string()])
                .args(["--first-index", &first.to_string()])
                .args(["--addr", &addr_list])
                .args(["--sources", &sources.to_string()])
                .args(["--rounds", &args.rounds.to_string()])
                .args(["--timeout-secs", &args.timeout_secs.to_string()])
                .args(["--reader-nice", &args.reader_nice.to_string()])
                .args([
                    "--reader-sched",
                    match args.reader_sched {
                        crate::ReaderSched::Normal => "normal",
                        crate::ReaderSched::Idle => "idle",
                    },
                ])
                .args([
                    "--acks",
                    match args.acks {
                        crate::readers::Acks::Reader => "reader",
                        crate::readers::Acks::Kernel => "kernel",
                    },
                ])
                .args([
                    "--connect-concurrency",
                    &(args.connect_concurrency / procs).max(1).to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            first += n;
            let stdin = child.stdin.take();
            let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
            holders.push(Holder {
                child,
                stdin,
                stdout,
            });
        }
        Ok(Self(holders))
    }

    pub fn pids(&self) -> Vec<u32> {
        self.0.iter().filter_map(|h| h.child.id()).collect()
    }

    /// Waits for every holder to have connected its streams; returns how many failed.
    pub async fn connected(&mut self) -> Result<usize, Error> {
        let mut failed = 0;
        for h in &mut self.0 {
            let line = h.stdout.next_line().await?.ok_or("a holder exited")?;
            let mut words = line.splitn(3, ' ');
            if words.next() != Some("connected") {
                return Err(format!("holder said {line:?}").into());
            }
            let n: usize = words.next().ok_or("no count")?.parse()?;
            if n > 0 {
                eprintln!(
                    "connect failed ({n} in a holder): {}",
                    words.next().unwrap_or("")
                );
            }
            failed += n;
        }
        Ok(failed)
    }

    async fn tell(&mut self, line: &str) -> Result<(), Error> {
        for h in &mut self.0 {
            let stdin = h.stdin.as_mut().ok_or("holder stdin closed")?;
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await?;
        }
        Ok(())
    }

    pub async fn sent(&mut self, round: usize, ns: u64) -> Result<(), Error> {
        self.tell(&format!("sent {round} {ns}\n")).await
    }

    pub async fn done(&mut self) -> Result<(), Error> {
        self.tell("done\n").await
    }

    pub async fn results(&mut self) -> Result<Results, Error> {
        let mut all = Results::default();
        for h in &mut self.0 {
            loop {
                let line = h.stdout.next_line().await?.ok_or("a holder exited")?;
                let mut words = line.split(' ');
                match words.next() {
                    Some("result") => {
                        let v: Vec<u64> = words.map(str::parse).collect::<Result<_, _>>()?;
                        let [incomplete, f0, f1, f2, resets, odd0, odd1] = v[..] else {
                            return Err(format!("holder said {line:?}").into());
                        };
                        all.incomplete += incomplete as usize;
                        all.frames[0] += f0;
                        all.frames[1] += f1;
                        all.frames[2] += f2;
                        all.resets += resets;
                        all.odd_stamps[0] += odd0;
                        all.odd_stamps[1] += odd1;
                    }
                    Some("lat") => {
                        for w in words {
                            all.latencies.push(Duration::from_nanos(w.parse()?));
                        }
                    }
                    Some("slat") => {
                        for w in words {
                            all.at_socket.push(Duration::from_nanos(w.parse()?));
                        }
                    }
                    Some("end") => break,
                    _ => return Err(format!("holder said {line:?}").into()),
                }
            }
        }
        Ok(all)
    }

    /// Closes every holder's stdin (they close their streams and exit) and waits for them.
    pub async fn stop(mut self) {
        for h in &mut self.0 {
            h.stdin = None;
        }
        for h in &mut self.0 {
            let _ = tokio::time::timeout(Duration::from_secs(30), h.child.wait()).await;
        }
    }
}

/// What one stream saw: `(round, receipt ns, socket arrival ns)` and frame counts; it waits
/// for `rounds` receipts.
struct Seen {
    rounds: usize,
    receipts: Vec<(usize, u64, Option<u64>)>,
    frames: [u64; 3],
    resets: u64,
}

impl Watch for Seen {
    fn done(&self) -> bool {
        self.receipts.len() >= self.rounds
    }

    fn frame(&mut self, frame: sse::Frame) {
        self.frames[frame.kind()] += 1;
        if frame.event == "reset" {
            self.resets += 1;
            return;
        }
        if !frame.event.starts_with("device-") {
            return;
        }
        let at = wall_ns();
        let round = crate::device_of(&frame.data)
            .and_then(|d| d.strip_prefix("bench-"))
            .and_then(|r| r.parse::<usize>().ok());
        if let Some(round) = round {
            self.receipts.push((round, at, frame.arrived_ns));
        }
    }
}

/// The holder side (`--holder`).
pub async fn run(args: &Args) -> Result<(), Error> {
    let addrs = &args.addr;
    let connected: Vec<_> = stream::iter(args.first_index..args.first_index + args.streams)
        .map(|i| {
            sse::SseStream::connect(
                round_robin(addrs, i),
                source_of(args.sources, i),
                "/api/events?mode=naive",
            )
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .collect()
        .await;
    let mut streams = Vec::with_capacity(args.streams);
    let mut failed = 0;
    let mut first_error = String::from("-");
    for c in connected {
        match c {
            Ok(s) => streams.push(s),
            Err(e) => {
                if failed == 0 {
                    first_error = e.to_string();
                }
                failed += 1;
            }
        }
    }
    println!("connected {failed} {first_error}");

    // Send times from the main process, by round; `done` once they are all there.
    let sent: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(vec![0; args.rounds]));
    let all_sent = Arc::new(Notify::new());
    let stdin_closed = Arc::new(Notify::new());
    {
        let (sent, all_sent, stdin_closed) = (
            Arc::clone(&sent),
            Arc::clone(&all_sent),
            Arc::clone(&stdin_closed),
        );
        tokio::spawn(async move {
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut words = line.split(' ');
                match (words.next(), words.next(), words.next()) {
                    (Some("sent"), Some(r), Some(ns)) => {
                        if let (Ok(r), Ok(ns)) = (r.parse::<usize>(), ns.parse::<u64>()) {
                            if let Some(slot) = sent.lock().unwrap().get_mut(r) {
                                *slot = ns;
                            }
                        }
                    }
                    (Some("done"), _, _) => all_sent.notify_one(),
                    _ => {}
                }
            }
            stdin_closed.notify_one();
        });
    }

    let watched = streams
        .into_iter()
        .map(|stream| {
            let seen = Seen {
                rounds: args.rounds,
                receipts: Vec::with_capacity(args.rounds),
                frames: [0; 3],
                resets: 0,
            };
            (stream, seen)
        })
        .collect();
    let readers = Readers::start(
        watched,
        crate::reader_threads(),
        args.acks,
        crate::reader_setup(args.reader_nice, args.reader_sched),
    )?;
    all_sent.notified().await;
    let results = readers
        .finish(Duration::from_secs(args.timeout_secs))
        .await?;
    let sent = sent.lock().unwrap().clone();
    let (mut incomplete, mut frames, mut resets) = (0u64, [0u64; 3], 0u64);
    let mut latencies = Vec::new();
    let mut at_socket = Vec::new();
    let mut odd_stamps = [0u64; 2];
    let mut kept = Vec::new();
    for read in results {
        let seen = read.watch;
        kept.push(read.socket);
        if read.result.is_err() {
            incomplete += 1;
            continue;
        }
        for (sum, n) in frames.iter_mut().zip(seen.frames) {
            *sum += n;
        }
        resets += seen.resets;
        for &(round, at, arrived) in &seen.receipts {
            let Some(&sent) = sent.get(round) else {
                continue;
            };
            latencies.push(at.saturating_sub(sent));
            if let Some(arrived) = arrived {
                let d = crate::socket_latency(arrived, sent, at, &mut odd_stamps);
                at_socket.push(d.as_nanos() as u64);
            }
        }
    }
    println!(
        "result {incomplete} {} {} {} {resets} {} {}",
        frames[0], frames[1], frames[2], odd_stamps[0], odd_stamps[1]
    );
    for (tag, values) in [("lat", &latencies), ("slat", &at_socket)] {
        for chunk in values.chunks(4096) {
            let words: Vec<String> = chunk.iter().map(u64::to_string).collect();
            println!("{tag} {}", words.join(" "));
        }
    }
    println!("end");
    // Hold the streams (the main process measures the servers' RSS after the fan-out) until
    // told to stop.
    stdin_closed.notified().await;
    drop(kept);
    Ok(())
}
