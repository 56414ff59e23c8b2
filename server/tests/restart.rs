//! Restarts: a position `(epoch, id)` from a previous run is answered with a `reset`, never a
//! replay, whether or not the reader names its epoch; the new run's ids are above the old ones.

mod common;

use common::*;
use wire::model::{Hello, Reset};

/// Stops `t` and waits for it (and its background tasks).
async fn stop(t: TestServer) {
    let TestServer { server, .. } = t;
    server.shutdown();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("server stopped in time")
        .unwrap();
}

#[tokio::test]
async fn a_position_from_the_previous_run_gets_hello_then_a_reset_on_the_new_one() {
    let a = start(test_config()).await;
    let epoch_a = a.epoch().await;
    let mut ids_a = Vec::new();
    for i in 0..5 {
        ids_a.push(a.inject(&format!("old-{i}"), "online").await.id);
    }
    let last_a = *ids_a.last().unwrap();
    stop(a).await;

    // The restarted server: a new `start`, so a new epoch and a floor from the clock.
    let b = start(test_config()).await;
    let epoch_b = b.epoch().await;
    assert_ne!(epoch_a, epoch_b, "a new run has a new epoch");
    let mut ids_b = Vec::new();
    for i in 0..3 {
        ids_b.push(b.inject(&format!("b{i}"), "offline").await.id);
    }
    assert!(
        ids_b.iter().all(|id| ids_a.iter().all(|old| id > old)),
        "ids of the new run {ids_b:?} are above the old run's {ids_a:?}"
    );

    let last = last_a.to_string();
    let variants = [
        // A tab that knows the run its id is from.
        (format!("?last_event_id={last}&epoch={epoch_a}"), vec![]),
        (
            format!("?epoch={epoch_a}"),
            vec![("last-event-id", last.as_str())],
        ),
        // A browser's own EventSource reconnect: only Last-Event-ID, below the new floor.
        (String::new(), vec![("last-event-id", last.as_str())]),
        (format!("?last_event_id={last}"), vec![]),
    ];
    for (query, headers) in &variants {
        let head = b.head_id().await;
        let mut sse = b.sse(query, headers).await;
        let hello = sse.next().await;
        assert_eq!(hello.event, "hello", "{query}");
        let hello: Hello = serde_json::from_str(&hello.data).unwrap();
        assert_eq!(hello.epoch, epoch_b, "{query}: hello names the new run");
        let reset = sse.next().await;
        assert_eq!(
            reset.event, "reset",
            "{query}: never a replay: {}",
            reset.data
        );
        let reset: Reset = serde_json::from_str(&reset.data).unwrap();
        assert_eq!(reset.epoch, epoch_b);
        assert_eq!(reset.head_id, head);
        assert_eq!(reset.reason, wire::ResetReason::OtherRun.describe());
        let ids: Vec<_> = reset.devices.iter().map(|d| d.id.as_str()).collect();
        assert!(
            ["b0", "b1", "b2"].iter().all(|d| ids.contains(d))
                && !ids.iter().any(|d| d.starts_with("old-")),
            "the new run's snapshot only: {ids:?}"
        );
        let live = b.inject("after", "online").await;
        assert_eq!(sse.next_device().await.0, live.id, "{query}: then live");
    }
    let stats = b.stats().await;
    assert_eq!(stats["resets_other_run"], variants.len());
    assert_eq!(stats["resets_resume"], 0);
    let metrics = b.metrics().await;
    assert!(
        metrics.contains(&format!(
            "tabrelay_resets_total{{reason=\"other_run\"}} {}",
            variants.len()
        )),
        "{metrics}"
    );
}

/// Even when the old run's ids overlap the new run's (a forced floor), the epoch decides.
#[tokio::test]
async fn another_epoch_is_a_reset_even_when_its_id_is_in_range() {
    let config = || server::Config {
        first_id_floor: Some(100),
        ..test_config()
    };
    let a = start(config()).await;
    let epoch_a = a.epoch().await;
    for _ in 0..5 {
        a.inject("a", "online").await;
    }
    stop(a).await;
    let b = start(config()).await;
    for _ in 0..10 {
        b.inject("b", "online").await;
    }
    let mut sse = b
        .sse(&format!("?last_event_id=103&epoch={epoch_a}"), &[])
        .await;
    assert_eq!(sse.next().await.event, "hello");
    let reset = sse.next().await;
    assert_eq!(reset.event, "reset", "{}", reset.data);
    // The same id with the new run's epoch is a replay of exactly what was missed.
    let epoch_b = b.epoch().await;
    let mut sse = b
        .sse(&format!("?last_event_id=103&epoch={epoch_b}"), &[])
        .await;
    for expected in 104..=110 {
        assert_eq!(sse.next_device().await.0, expected);
    }
}
