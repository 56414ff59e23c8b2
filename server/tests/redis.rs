//! Several replicas sharing one real Redis (Debian's `redis-server`, started per test on a Unix
//! socket): one log, one device table, one connection count, and what happens when Redis or a
//! replica goes away.

mod common;

use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::{start, test_config, wait_until, TestServer, DEADLINE};
use server::redis_bus::BusUrl;
use server::Config;

fn replica_config(redis: &RedisServer) -> Config {
    Config {
        bus: Some(BusUrl::parse(&redis.url()).unwrap()),
        keep_alive_secs: 1,
        ..test_config()
    }
}

async fn replica(redis: &RedisServer) -> TestServer {
    start(replica_config(redis)).await
}

async fn status(t: &TestServer, path: &str) -> (u16, String) {
    let res = t.http.get(t.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn an_event_published_on_one_replica_reaches_the_others_with_the_same_id() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis).await, replica(&redis).await);
    assert_eq!(
        a.epoch().await,
        b.epoch().await,
        "one run for the deployment"
    );
    let mut on_b = b.sse("", &[]).await;
    on_b.next_named("hello").await;

    let first = a.inject("lamp-1", "online").await;
    let (id, event, name) = on_b.next_device().await;
    assert_eq!(
        (id, event.device.as_str(), name.as_str()),
        (first.id, "lamp-1", "device-online")
    );

    let second = b.inject_named("lamp-1", "offline", "Hall lamp").await;
    assert_eq!(second.id, first.id + 1, "ids are global and consecutive");
    let (id, event, _) = on_b.next_device().await;
    assert_eq!((id, event.name.as_deref()), (second.id, Some("Hall lamp")));
    // A publisher reads its own write, and every replica serves the same devices.
    assert_eq!(a.devices().await, b.devices().await);
    let (_, devices_a) = (a.head_id().await, a.devices().await);
    assert_eq!(devices_a[0].name.as_deref(), Some("Hall lamp"));
    assert_eq!(a.head_id().await, second.id);
}

#[tokio::test]
async fn the_count_is_the_deployments_total_with_each_replicas_share() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis).await, replica(&redis).await);
    let _s1 = a.sse("", &[]).await;
    let _s2 = a.sse("", &[]).await;
    let mut s3 = b.sse("", &[]).await;
    s3.stats_with_open(3).await;
    wait_until("both replicas count 3 streams on 2 replicas", || async {
        let (sa, sb) = (a.stats().await, b.stats().await);
        sa["open_connections"] == 3
            && sb["open_connections"] == 3
            && sa["replica_open_connections"] == 2
            && sb["replica_open_connections"] == 1
            && sa["replicas"] == 2
    })
    .await;
    drop(_s1);
    s3.stats_with_open(2).await;
}

#[tokio::test]
async fn a_reader_resumes_on_another_replica_without_a_gap() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis).await, replica(&redis).await);
    let epoch = a.epoch().await;
    let mut on_a = a.sse("", &[]).await;
    let seen = a.inject("d", "online").await;
    assert_eq!(on_a.next_device().await.0, seen.id);
    drop(on_a);
    let mut missed = Vec::new();
    for i in 0..5 {
        missed.push(
            a.inject("d", if i % 2 == 0 { "offline" } else { "online" })
                .await
                .id,
        );
    }
    let mut on_b = b
        .sse(
            &format!("?epoch={epoch}"),
            &[("Last-Event-ID", &seen.id.to_string())],
        )
        .await;
    let mut got = Vec::new();
    for _ in 0..missed.len() {
        got.push(on_b.next_device().await.0);
    }
    assert_eq!(
        got, missed,
        "replayed from the shared log, in order, no reset"
    );
}

#[tokio::test]
async fn a_redis_restarted_empty_is_a_new_run_and_every_stream_gets_a_reset() {
    let mut redis = RedisServer::start();
    let a = replica(&redis).await;
    let old_epoch = a.epoch().await;
    let old = a.inject("d", "online").await;
    let mut stream = a.sse("", &[]).await;
    stream.next_named("hello").await;

    redis.restart_empty();
    let reset = stream.next_named("reset").await;
    let reset: wire::model::Reset = serde_json::from_str(&reset.data).unwrap();
    assert_ne!(reset.epoch, old_epoch, "a new run");
    assert!(
        reset.head_id > old.id,
        "ids of the new run are above every old one"
    );
    // Resuming with a position of the lost run is a reset too, never a replay.
    let mut resumed = a
        .sse(
            &format!("?epoch={old_epoch}"),
            &[("Last-Event-ID", &old.id.to_string())],
        )
        .await;
    let ev = resumed.next().await;
    assert_eq!(ev.event, "hello");
    let ev = resumed.next().await;
    assert_eq!(ev.event, "reset", "{}", ev.data);
    // And the new run works.
    let new = a.inject("d", "offline").await;
    assert_eq!(stream.next_device().await.0, new.id);
}

#[tokio::test]
async fn redis_down_refuses_publishing_keeps_streams_and_recovers() {
    let mut redis = RedisServer::start();
    let a = replica(&redis).await;
    let mut stream = a.sse("", &[]).await;
    stream.next_named("hello").await;
    redis.stop();

    // Publishing answers 503 with a JSON error.
    let res = a
        .http
        .post(a.url("/api/devices/d/online"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("unavailable"),
        "{body}"
    );
    wait_until("/readyz says not ready", || async {
        status(&a, "/readyz").await.0 == 503
    })
    .await;
    assert_eq!(status(&a, "/healthz").await.0, 200, "alive all the same");
    assert_eq!(a.open_connections().await, 1, "the stream stays open");

    redis.restart_empty();
    wait_until("ready again", || async {
        status(&a, "/readyz").await.0 == 200
    })
    .await;
    // The stream that stayed open learns of the new run, then gets new events.
    stream.next_named("reset").await;
    let event = a.inject("d", "online").await;
    assert_eq!(stream.next_device().await.0, event.id);
}

#[tokio::test]
async fn one_replica_runs_the_simulator() {
    let redis = RedisServer::start();
    let config = Config {
        sim_interval_ms: 100,
        sim_devices: 3,
        ..replica_config(&redis)
    };
    let (a, b) = (start(config.clone()).await, start(config).await);
    let mut stream = b.sse("", &[]).await;
    let first = stream.next_device().await.0;
    let started = Instant::now();
    let mut last = first;
    while started.elapsed() < Duration::from_secs(2) {
        last = stream.next_device().await.0;
    }
    // Two simulators would publish ~40 events in 2 s; one publishes ~20.
    let published = last - first;
    assert!(
        published <= 30,
        "{published} events in 2 s from a 100 ms simulator"
    );
    assert_eq!(
        a.devices().await.len(),
        3,
        "its devices are registered for every replica"
    );
    assert_eq!(b.devices().await.len(), 3);
}

#[tokio::test]
async fn the_password_never_shows() {
    let redis = RedisServer::start_with_password(Some("s3cret-pw"));
    let wrong = Config {
        bus: Some(BusUrl::parse(&redis.url_with_password(Some("wr0ng-pw"))).unwrap()),
        ..test_config()
    };
    let bad = start(wrong).await;
    let (code, body) = status(&bad, "/readyz").await;
    assert_eq!(code, 503);
    assert!(!body.contains("wr0ng-pw"), "{body}");
    let res = bad
        .http
        .post(bad.url("/api/devices/d/online"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    assert!(!body.contains("wr0ng-pw") && body.contains("***"), "{body}");
    for page in ["/metrics", "/api/stats"] {
        assert!(!status(&bad, page).await.1.contains("wr0ng-pw"), "{page}");
    }
    let good = replica(&redis).await;
    wait_until("ready with the right password", || async {
        status(&good, "/readyz").await.0 == 200
    })
    .await;
    good.inject("d", "online").await;
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let redis = RedisServer::start_tls();
    let url = BusUrl::parse(&redis.url()).unwrap();
    let trusting = Config {
        bus: Some(url.clone()),
        bus_ca_file: Some(redis.ca_file().to_str().unwrap().parse().unwrap()),
        ..test_config()
    };
    let (a, b) = (start(trusting.clone()).await, start(trusting).await);
    let mut on_b = b.sse("", &[]).await;
    let event = a.inject("d", "online").await;
    assert_eq!(
        on_b.next_device().await.0,
        event.id,
        "over TLS, replica to replica"
    );
    // Without the CA, the system's trust store does not know this certificate: not ready.
    let doubting = start(Config {
        bus: Some(url),
        ..test_config()
    })
    .await;
    let (code, body) = status(&doubting, "/readyz").await;
    assert_eq!(code, 503, "{body}");
}

/// Kills replicas for real: the binary, with SIGKILL and SIGTERM.
mod processes {
    use super::*;
    use std::process::{Child, Command, Stdio};

    struct Replica {
        child: Child,
        base: String,
    }

    impl Drop for Replica {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn spawn(redis: &RedisServer) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("TABRELAY_BUS", redis.url())
            .env("TABRELAY_SIM_INTERVAL_MS", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Replica {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn open(http: &reqwest::Client, replica: &Replica) -> Option<u64> {
        let stats: serde_json::Value = http
            .get(format!("{}/api/stats", replica.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        stats["open_connections"].as_u64()
    }

    async fn ready(http: &reqwest::Client, replica: &Replica) {
        wait_until("the replica is ready", || async {
            http.get(format!("{}/readyz", replica.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    #[tokio::test]
    async fn a_killed_replica_leaves_the_count_within_5_s_a_stopped_one_at_once() {
        let redis = RedisServer::start();
        let http = common::http();
        let (a, b, c) = (spawn(&redis), spawn(&redis), spawn(&redis));
        for r in [&a, &b, &c] {
            ready(&http, r).await;
        }
        let stream_on = |r: &Replica| http.get(format!("{}/api/events", r.base)).send();
        let _on_b = stream_on(&b).await.unwrap();
        let _on_c = stream_on(&c).await.unwrap();
        wait_until("a counts both streams", || async {
            open(&http, &a).await == Some(2)
        })
        .await;

        // SIGKILL: no goodbye; the share's lease runs out.
        let mut b = b;
        b.child.kill().unwrap();
        let killed = Instant::now();
        while open(&http, &a).await != Some(1) {
            assert!(
                killed.elapsed() < Duration::from_secs(5),
                "the killed replica still counts after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // SIGTERM: the replica withdraws its share before it exits.
        let pid = c.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let mut c = c;
        let exited = tokio::task::spawn_blocking(move || {
            let status = c.child.wait();
            (c, status)
        });
        let (_c, status) = tokio::time::timeout(DEADLINE, exited)
            .await
            .unwrap()
            .unwrap();
        assert!(status.unwrap().success());
        let stopped = Instant::now();
        while open(&http, &a).await != Some(0) {
            assert!(
                stopped.elapsed() < Duration::from_millis(500),
                "a stopped replica must leave the count at once, not when its lease ends"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
