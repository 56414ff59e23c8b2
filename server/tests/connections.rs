//! Exact connection counting, caps, and slow readers.

mod common;

use std::time::Duration;

use common::*;
use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wire::model::ApiError;

const REQUEST: &[u8] =
    b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

/// Sends the request and reads until the response headers are complete.
async fn raw_stream(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(REQUEST).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the headers");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_abrupt_disconnects_bring_the_count_back_to_zero() {
    let t = start(test_config()).await;
    let addr = t.server.addr;
    // Half are dropped politely by an HTTP client, half reset (RST) mid-stream.
    let raw: Vec<TcpStream> = join_all((0..500).map(|_| raw_stream(addr))).await;
    let client = common::http();
    let responses = join_all((0..500).map(|_| client.get(t.url("/api/events")).send())).await;
    let responses: Vec<_> = responses.into_iter().map(|r| r.unwrap()).collect();
    assert!(responses.iter().all(|r| r.status() == 200));

    assert_eq!(t.open_connections().await, 1000, "exact count while open");
    t.inject("ping", "online").await;
    for tcp in raw {
        // Zero linger: close() sends RST, the most abrupt disconnect there is.
        socket2::SockRef::from(&tcp)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(tcp);
    }
    drop(responses);
    wait_until("open_connections back to 0", || async {
        t.open_connections().await == 0
    })
    .await;
    let stats = t.stats().await;
    assert_eq!(stats["total_connections"], 1000);
}

#[tokio::test]
async fn global_cap_is_503_with_retry_after() {
    let t = start(server::Config {
        max_streams: 3,
        max_streams_per_ip: 0,
        ..test_config()
    })
    .await;
    let _held = [
        t.sse("", &[]).await,
        t.sse("", &[]).await,
        t.sse("", &[]).await,
    ];
    let res = t.http.get(t.url("/api/events")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(!res.json::<ApiError>().await.unwrap().error.is_empty());
    assert_eq!(t.open_connections().await, 3);
    assert_eq!(t.stats().await["rejected_global_cap"], 1);
}

#[tokio::test]
async fn per_ip_cap_is_429_and_frees_on_disconnect() {
    let t = start(server::Config {
        max_streams_per_ip: 2,
        ..test_config()
    })
    .await;
    let a = t.sse("", &[]).await;
    let _b = t.sse("", &[]).await;
    let res = t.http.get(t.url("/api/events")).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(!res.json::<ApiError>().await.unwrap().error.is_empty());
    drop(a);
    wait_until("a slot frees up", || async {
        t.open_connections().await == 1
    })
    .await;
    let _c = t.sse("", &[]).await;
}

/// A client that sends its request and never reads must not slow anyone down, must not make
/// the server buffer without bound, and gets a `reset` (not a silent gap) when it reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_does_not_delay_others_and_ends_up_with_a_reset() {
    let lag = 64u64;
    let t = start(server::Config {
        lag_capacity: lag as usize,
        replay_capacity: lag as usize,
        // Small kernel buffers so the stalled socket fills up after a few hundred events.
        tcp_send_buffer: Some(4096),
        // Ids 1, 2, 3, ... keep the arithmetic below readable.
        first_id_floor: Some(0),
        ..test_config()
    })
    .await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(t.server.addr).await.unwrap();
    stalled.write_all(REQUEST).await.unwrap();
    let mut healthy = t.sse("", &[]).await;
    wait_until("both streams open", || async {
        t.open_connections().await == 2
    })
    .await;

    // Publish far more than the stalled socket's buffers and the lag window can hold, never more
    // than half the window ahead of the healthy reader (so only a stall can make it lag).
    let total = 3_000u64;
    let mut received = 0u64;
    for i in 1..=total {
        let sent = t
            .inject("flood", if i % 2 == 0 { "online" } else { "offline" })
            .await;
        assert_eq!(sent.id, i);
        while received + lag / 2 < i || (i == total && received < total) {
            let (id, _, _) = healthy.next_device().await; // panics on a reset
            assert_eq!(
                id,
                received + 1,
                "the healthy reader sees every event in order"
            );
            received = id;
        }
    }
    // No count of resets is asserted here: the stalled socket is not guaranteed to stay full.
    // The kernel at times lets more into an unread socket (with 4 KiB buffers, for instance
    // once it has collapsed the receive queue), and the stream then writes, finds itself lagged
    // and is reset before its reader reads: seen under load, 1–3 resets during the flood (it
    // failed 4 of 6 runs at a load average of 10–26). What the test is about is asserted around
    // it: the healthy reader never lagged, and the stalled one finds a reset, then live events.

    // Now the stalled client reads: it must find a reset, then live events after it.
    let mut text = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut after_reset_id = None;
    while after_reset_id.is_none() {
        let n = tokio::time::timeout_at(deadline, stalled.read(&mut buf))
            .await
            .expect("reset within deadline")
            .unwrap();
        assert!(n > 0, "stream closed");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(pos) = text.find("event: reset") {
            if after_reset_id.is_none() && text[pos..].contains("\n\n") {
                let live = t.inject("after", "online").await;
                after_reset_id = Some(live.id);
            }
        }
    }
    // The reset found first may be an early one (see above): the stream then fills the socket
    // again, falls behind again and is reset again, and that later reset covers the event just
    // published (its snapshot has it; no `id:` line will). So each time the newest reset covers
    // the awaited event, publish another one and wait for that.
    let mut live_id = after_reset_id.unwrap();
    while !text.contains(&format!("id: {live_id}\n")) {
        if resets(&text).last().is_some_and(|&head| head >= live_id) {
            live_id = t.inject("after", "online").await.id;
            continue;
        }
        let n = tokio::time::timeout_at(deadline, stalled.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "live event {live_id} after reset: not within the deadline; resets' heads {:?}",
                    resets(&text)
                )
            })
            .unwrap();
        assert!(n > 0);
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let reset_at = text.find("event: reset").unwrap();
    let live_at = text.find(&format!("id: {live_id}\n")).unwrap();
    assert!(reset_at < live_at);
    // Ids delivered before the reset were in order; the reset says where live resumes.
    let ids: Vec<u64> = text[..reset_at]
        .lines()
        .filter_map(|l| l.strip_prefix("id: ")?.parse().ok())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no silent gap before the reset"
    );
    assert!(
        (ids.len() as u64) < total,
        "the stalled reader really fell behind"
    );
    assert!(t.stats().await["resets_lagged"].as_u64().unwrap() >= 1);
}

/// The `head_id` of every complete `reset` event in `text`, in order.
fn resets(text: &str) -> Vec<u64> {
    text.split("event: reset\ndata: ")
        .skip(1)
        .filter_map(|rest| {
            let line = rest.split_once('\n')?.0;
            Some(
                serde_json::from_str::<wire::model::Reset>(line)
                    .ok()?
                    .head_id,
            )
        })
        .collect()
}
