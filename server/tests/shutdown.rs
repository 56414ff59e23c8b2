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

/// The stats coalescer and the simulator are tracked: `wait` returns only after they ended.
#[tokio::test]
async fn wait_returns_after_the_background_tasks_have_ended() {
    let t = start(server::Config {
        sim_interval_ms: 3_600_000,
        sim_devices: 2,
        ..test_config()
    })
    .await;
    let tasks = t.server.tasks();
    assert_eq!(tasks.len(), 2, "the stats coalescer and the simulator");
    let hub = std::sync::Arc::downgrade(&t.server.state.hub);
    let TestServer { server, .. } = t;
    server.shutdown();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("server stopped in time")
        .unwrap();
    assert!(tasks.is_closed(), "no task can be added after shutdown");
    assert!(
        tasks.is_empty(),
        "{} background tasks still running",
        tasks.len()
    );
    // The simulator's and the coalescer's references to the hub are gone with them.
    assert!(hub.upgrade().is_none(), "nothing holds the hub any more");
}
