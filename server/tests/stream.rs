//! The SSE stream: framing, ids, inject → event, stats, resume.

mod common;

use common::*;
use futures::StreamExt;
use wire::model::{DeviceEventKind, Hello, Reset};

#[tokio::test]
async fn hello_first_then_injected_events_with_strictly_increasing_ids() {
    let t = start(test_config()).await;
    let res = t.http.get(t.url("/api/events")).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    assert!(res.headers().get("content-encoding").is_none());
    drop(res);

    let mut sse = t.sse("", &[]).await;
    let hello = sse.next().await;
    assert_eq!(hello.event, "hello");
    assert_eq!(hello.retry, Some(std::time::Duration::from_millis(3000)));
    let hello: Hello = serde_json::from_str(&hello.data).unwrap();
    // Nothing published yet: the head is this run's floor, taken from the clock (µs).
    let floor = t.head_id().await;
    assert_eq!(hello.head_id, floor);
    assert!(
        floor > 1_600_000_000_000_000,
        "floor {floor} is from the clock"
    );
    assert_eq!(hello.retry_ms, 3000);
    assert!(!hello.instance.is_empty());
    assert_eq!(hello.epoch.len(), 16, "{}", hello.epoch);
    assert!(hello.epoch.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(hello.epoch, t.epoch().await);
    assert_ne!(hello.epoch, hello.instance, "the run is not the replica");

    let mut last = floor;
    for i in 0..20 {
        let action = if i % 2 == 0 { "online" } else { "offline" };
        let sent = t.inject(&format!("dev-{}", i % 3), action).await;
        let (id, ev, name) = sse.next_device().await;
        assert_eq!(ev, sent, "exactly the injected event arrives, in order");
        assert_eq!(name, format!("device-{action}"));
        assert!(id > last, "ids strictly increase ({id} after {last})");
        last = id;
    }
    let stats = t.stats().await;
    assert_eq!(stats["events_published"], 20);
    assert_eq!(stats["head_id"], floor + 20);
    assert_eq!(last, floor + 20, "consecutive from floor + 1");
}

#[tokio::test]
async fn stats_event_follows_the_open_count_and_carries_no_id() {
    let t = start(test_config()).await;
    let mut first = t.sse("", &[]).await;
    first.stats_with_open(1).await;
    let second = t.sse("?mode=naive", &[]).await;
    let s = first.stats_with_open(2).await;
    assert_eq!(s.total_connections, 2);
    assert_eq!(t.stats().await["streams_by_mode"]["naive"], 1);
    drop(second);
    first.stats_with_open(1).await;

    // Raw bytes: a stats frame has no `id:` line (it must never move the resume point).
    t.inject("lamp", "online").await;
    let res = t.http.get(t.url("/api/events")).send().await.unwrap();
    let mut body = res.bytes_stream();
    let mut text = String::new();
    while !text.contains("event: stats") {
        let chunk = tokio::time::timeout(DEADLINE, body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let frame = text
        .split("\n\n")
        .find(|f| f.contains("event: stats"))
        .unwrap();
    assert!(!frame.lines().any(|l| l.starts_with("id:")), "{frame}");
    assert!(frame.contains("\"open_connections\""), "{frame}");
}

#[tokio::test]
async fn resume_replays_exactly_what_was_missed_then_goes_live() {
    let t = start(test_config()).await;
    let floor = t.head_id().await;
    let epoch = t.epoch().await;
    for i in 0..10 {
        t.inject(&format!("d{i}"), "online").await;
    }
    let four = (floor + 4).to_string();
    for (query, headers) in [
        (String::new(), vec![("last-event-id", four.as_str())]),
        (
            format!("?epoch={epoch}"),
            vec![("last-event-id", four.as_str())],
        ),
        (format!("?last_event_id={four}"), vec![]),
        (format!("?last_event_id={four}&epoch={epoch}"), vec![]),
        // The header wins over the query.
        (
            format!("?last_event_id={floor}&epoch={epoch}"),
            vec![("last-event-id", four.as_str())],
        ),
    ] {
        let mut sse = t.sse(&query, &headers).await;
        let hello: Hello = serde_json::from_str(&sse.next_named("hello").await.data).unwrap();
        assert!(hello.head_id >= floor + 10);
        assert_eq!(hello.epoch, epoch);
        let head = hello.head_id;
        let replayed: Vec<u64> = {
            let mut ids = Vec::new();
            for _ in floor + 5..=head {
                ids.push(sse.next_device().await.0);
            }
            ids
        };
        assert_eq!(replayed, (floor + 5..=head).collect::<Vec<_>>(), "{query}");
        let live = t.inject("after", "offline").await;
        assert_eq!(
            sse.next_device().await.0,
            live.id,
            "live follows the replay with no duplicate"
        );
    }
}

#[tokio::test]
async fn resume_seam_has_no_gap_and_no_duplicate_under_concurrent_publishing() {
    let t = start(test_config()).await;
    let floor = t.head_id().await;
    for _ in 0..50 {
        t.inject("seed", "online").await;
    }
    let hub = std::sync::Arc::clone(&t.server.state.hub);
    let stop = tokio_util::sync::CancellationToken::new();
    let publisher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                hub.publish_next("busy", DeviceEventKind::DeviceOnline, None);
                tokio::task::yield_now().await;
            }
        })
    };
    for resume_from in [floor + 10, floor + 30, floor + 45] {
        let mut sse = t.sse(&format!("?last_event_id={resume_from}"), &[]).await;
        for expected in resume_from + 1..=resume_from + 200 {
            let (id, _, _) = sse.next_device().await;
            assert_eq!(id, expected, "resuming from {resume_from}");
        }
    }
    stop.cancel();
    publisher.await.unwrap();
}

#[tokio::test]
async fn too_old_or_foreign_resume_point_gets_a_reset_with_the_snapshot() {
    let t = start(server::Config {
        replay_capacity: 4,
        ..test_config()
    })
    .await;
    let floor = t.head_id().await;
    let epoch = t.epoch().await;
    for i in 0..10 {
        t.inject(
            &format!("d{i}"),
            if i % 2 == 0 { "online" } else { "offline" },
        )
        .await;
    }
    // Too old, then ahead of the head.
    for (i, resume) in [floor + 2, floor + 999].into_iter().enumerate() {
        let resume = resume.to_string();
        let mut sse = t.sse("", &[("last-event-id", resume.as_str())]).await;
        assert_eq!(sse.next().await.event, "hello");
        let reset = sse.next().await;
        assert_eq!(reset.event, "reset", "resume from {resume}");
        let reset: Reset = serde_json::from_str(&reset.data).unwrap();
        assert_eq!(reset.epoch, epoch, "a reset names its run");
        assert_eq!(reset.head_id, floor + 10 + i as u64);
        assert_eq!(reset.devices.len(), 10 + i.min(1));
        assert!(reset.devices.iter().any(|d| d.id == "d0" && d.online));
        assert!(reset.devices.iter().any(|d| d.id == "d1" && !d.online));
        let live = t.inject("new", "online").await;
        assert_eq!(sse.next_device().await.0, live.id);
    }
    let stats = t.stats().await;
    assert_eq!(stats["resets_resume"], 2);
    assert_eq!(stats["resets_other_run"], 0);
    // Still in the buffer: a replay, not a reset.
    let nine = (floor + 9).to_string();
    let mut sse = t.sse("", &[("last-event-id", nine.as_str())]).await;
    assert_eq!(sse.next_device().await.0, floor + 10);
}

#[tokio::test]
async fn malformed_resume_point_is_a_400_with_a_json_error() {
    let t = start(test_config()).await;
    for (query, header) in [
        ("", Some("abc")),
        ("", Some("-1")),
        ("", Some("1.5")),
        ("?last_event_id=x7", None),
        ("?last_event_id=%2B3", None),
        ("?last_event_id=99999999999999999999999", None),
        ("?mode=carrier-pigeon", None),
        ("?last_event_id=5&epoch=", None),
        ("?last_event_id=5&epoch=a%20b", None),
        ("?last_event_id=5&epoch=%C3%A9", None),
        ("?epoch=x.y", None),
        ("?last_event_id=5&epoch=LONG", None),
    ] {
        let query = query.replace("LONG", &"e".repeat(65));
        let mut req = t.http.get(t.url(&format!("/api/events{query}")));
        if let Some(h) = header {
            req = req.header("last-event-id", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 400, "{query} {header:?}");
        let body: wire::model::ApiError = res.json().await.unwrap();
        assert!(!body.error.is_empty());
    }
    assert_eq!(
        t.open_connections().await,
        0,
        "refused streams are not counted"
    );
}
