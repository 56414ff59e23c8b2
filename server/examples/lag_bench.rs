//! Publish latency while many lagged streams are reset at once.
//!
//! `cargo run --release -p server --example lag_bench [-- STREAMS DEVICES]` (defaults 1000, 1000)
//!
//! Holds `STREAMS` raw SSE connections whose clients stop reading, fills the hub with `DEVICES`
//! devices (so a `reset` snapshot is tens of KB), publishes a burst of 4x the lag window while
//! nobody reads (every stream's broadcast cursor falls out of the window), then lets every client
//! read again while a publisher thread keeps publishing one event per 500 µs. Each stream now
//! meets `Lagged` and is sent a `reset`: the figure printed is how long each `publish_next` call
//! took during that storm (the reset snapshots compete with it for the hub's lock).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::DeviceEventKind;
use leptos::config::LeptosOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const LAG: usize = 64;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(arg(1, 1000), arg(2, 1000)));
}

async fn run(streams: usize, devices: usize) {
    let config = server::Config {
        sim_interval_ms: 0,
        max_streams: 0,
        max_streams_per_ip: 0,
        lag_capacity: LAG,
        replay_capacity: LAG,
        tcp_send_buffer: Some(4096),
        ..server::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let leptos = LeptosOptions::builder().output_name("tabrelay").build();
    let server = server::start(config, leptos, listener).await.unwrap();
    let addr = server.addr;
    let hub = Arc::clone(&server.state.hub);
    for i in 0..devices {
        hub.register_device(&format!("device-{i:05}"), i % 2 == 0);
    }

    let go = Arc::new(tokio::sync::Notify::new());
    let released = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::with_capacity(streams);
    for _ in 0..streams {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut tcp = socket.connect(addr).await.unwrap();
        tcp.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (go, released) = (Arc::clone(&go), Arc::clone(&released));
        clients.push(tokio::spawn(async move {
            let notified = go.notified();
            if !released.load(Ordering::SeqCst) {
                notified.await;
            }
            let mut buf = vec![0u8; 16 * 1024];
            while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.state.stats().stats.open_connections < streams as u64 {
        assert!(Instant::now() < deadline, "streams did not open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Nobody reads: the burst overflows every stream's window.
    for i in 0..LAG * 4 {
        hub.publish_next(&format!("device-{:05}", i % devices.max(1)), kind(i), None);
    }
    let (_, snapshot) = hub.devices_at_head();
    let snapshot_bytes = serde_json::to_vec(&snapshot).unwrap().len();

    // Everyone reads again; publish through the reset storm and time every call.
    let publisher = {
        let hub = Arc::clone(&hub);
        std::thread::spawn(move || {
            let mut took = Vec::with_capacity(4_000);
            for i in 0..4_000 {
                let started = Instant::now();
                hub.publish_next("busy", kind(i), None);
                took.push(started.elapsed());
                std::thread::sleep(Duration::from_micros(500));
            }
            took
        })
    };
    released.store(true, Ordering::SeqCst);
    go.notify_waiters();
    let mut took = tokio::task::spawn_blocking(move || publisher.join().unwrap())
        .await
        .unwrap();
    let resets = server.state.stats().resets_lagged;

    took.sort();
    let pct = |p: f64| took[((took.len() - 1) as f64 * p) as usize];
    println!(
        "streams={streams} devices={devices} reset_snapshot_bytes~{snapshot_bytes} \
         resets_lagged={resets} publishes={}",
        took.len()
    );
    println!(
        "publish latency: p50={:?} p99={:?} max={:?}",
        pct(0.50),
        pct(0.99),
        took[took.len() - 1]
    );
    server.shutdown();
    for c in clients {
        c.abort();
    }
    let _ = server.wait().await;
}

fn kind(i: usize) -> DeviceEventKind {
    if i.is_multiple_of(2) {
        DeviceEventKind::DeviceOnline
    } else {
        DeviceEventKind::DeviceOffline
    }
}
