//! A peer that vanished without FIN or RST must not hold a stream open for hours.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

/// The silent peer is simulated by a client that sends its request and then never reads, on a
/// socket with a tiny receive buffer: once the server has filled it, the client's window is
/// zero and the server's data stays unacknowledged. Linux applies `TCP_USER_TIMEOUT` to
/// zero-window probes as it does to retransmissions (a vanished peer), so this exercises the
/// same bound without root-only tricks (iptables/nft are not installed here; a network
/// namespace would need more privileges in CI than this test should ask for), and it is
/// deterministic: the window is shut as soon as the buffers are full.
///
/// Without the timeout (`--dead-peer-timeout-secs 0`, or before it existed) the kernel probes
/// the zero window forever and the stream stays counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_acknowledging_is_cut_within_the_dead_peer_timeout() {
    let t = start(server::Config {
        dead_peer_timeout_secs: 2,
        keep_alive_secs: 1,
        tcp_send_buffer: Some(4096),
        ..test_config()
    })
    .await;
    let mut healthy = t.sse("", &[]).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let mut silent = socket.connect(t.server.addr).await.unwrap();
    silent
        .write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    wait_until("both streams open", || async {
        t.open_connections().await == 2
    })
    .await;

    // Publish (the healthy reader keeps up) until the silent stream is gone.
    let name = "n".repeat(100);
    let started = Instant::now();
    let mut published = 0u32;
    while t.open_connections().await != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the silent peer's stream is still open after {:?} ({published} events)",
            started.elapsed()
        );
        let sent = t.inject_named("flood", "online", &name).await;
        published += 1;
        assert_eq!(healthy.next_device().await.0, sent.id);
    }
    let took = started.elapsed();
    eprintln!("silent peer cut after {took:?} ({published} events published)");
    // The budget (2 s) plus the time to fill the buffers and the probe backoff's granularity.
    assert!(took < Duration::from_secs(8), "{took:?}");
    // The healthy stream was not affected.
    let live = t.inject("after", "offline").await;
    assert_eq!(healthy.next_device().await.0, live.id);
    assert_eq!(t.open_connections().await, 1);
    drop(silent);
}
