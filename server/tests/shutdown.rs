//! Shutdown with open streams completes promptly (the real binary: see `binary.rs`).

mod common;

use common::*;

#[tokio::test]
async fn shutdown_ends_open_streams_and_the_server_stops() {
    let t = start(test_config()).await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(t.sse("", &[]).await);
    }
    wait_until("20 streams open", || async {
        t.open_connections().await == 20
    })
    .await;
    let TestServer { server, .. } = t;
    server.shutdown();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("server stopped in time")
        .unwrap();
    for mut s in streams {
        // Whatever was queued, then the end of the stream.
        while s.try_next().await.is_some() {}
    }
}
