//! Shared helpers: a real server on port 0, a real SSE client, and condition polling.
#![allow(dead_code)]

pub mod redis;

use std::future::Future;
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures::stream::BoxStream;
use futures::StreamExt;
use leptos::config::LeptosOptions;
use server::{Config, RunningServer};
use wire::model::{DeviceEvent, Stats};

/// Generous: the machine may be busy with other builds.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The config tests start from: no simulator, caps out of the way.
pub fn test_config() -> Config {
    Config {
        sim_interval_ms: 0,
        max_streams: 10_000,
        max_streams_per_ip: 10_000,
        stats_interval_ms: 20,
        ..Config::default()
    }
}

pub struct TestServer {
    pub server: RunningServer,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start(config: Config) -> TestServer {
    start_on("127.0.0.1:0", config).await
}

/// An HTTP client (reqwest over rustls, which needs the process's crypto provider first).
pub fn http() -> reqwest::Client {
    server::tls::install_crypto_provider();
    reqwest::Client::new()
}

pub async fn start_on(bind: &str, config: Config) -> TestServer {
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let leptos = LeptosOptions::builder().output_name("tabrelay").build();
    let server = server::start(config, leptos, listener).await.unwrap();
    let base = format!("http://127.0.0.1:{}", server.addr.port());
    TestServer {
        server,
        base,
        http: http(),
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stats(&self) -> serde_json::Value {
        self.http
            .get(self.url("/api/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn devices(&self) -> Vec<wire::model::Device> {
        self.http
            .get(self.url("/api/devices"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The newest id (this run's floor before anything was published).
    pub async fn head_id(&self) -> u64 {
        self.stats().await["head_id"].as_u64().unwrap()
    }

    /// This run's epoch.
    pub async fn epoch(&self) -> String {
        self.stats().await["epoch"].as_str().unwrap().to_owned()
    }

    pub async fn open_connections(&self) -> u64 {
        self.stats().await["open_connections"].as_u64().unwrap()
    }

    /// Injects one event through the HTTP API and returns it.
    pub async fn inject(&self, device: &str, action: &str) -> DeviceEvent {
        let res = self
            .http
            .post(self.url(&format!("/api/devices/{device}/{action}")))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "inject failed: {}", res.status());
        res.json().await.unwrap()
    }

    /// Injects one event that also sets the device's display name (JSON body `{"name": …}`).
    pub async fn inject_named(&self, device: &str, action: &str, name: &str) -> DeviceEvent {
        let res = self
            .http
            .post(self.url(&format!("/api/devices/{device}/{action}")))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "inject failed: {}", res.status());
        res.json().await.unwrap()
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Opens `/api/events{query}` with optional extra headers.
    pub async fn sse(&self, query: &str, headers: &[(&str, &str)]) -> Sse {
        let mut req = self.http.get(self.url(&format!("/api/events{query}")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "stream refused");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Sse {
            events: res.bytes_stream().eventsource().boxed(),
        }
    }
}

/// An SSE stream parsed by a real SSE parser.
pub struct Sse {
    events: BoxStream<'static, Result<Event, eventsource_stream::EventStreamError<reqwest::Error>>>,
}

impl Sse {
    /// The next event of any kind; panics on timeout or end of stream.
    pub async fn next(&mut self) -> Event {
        self.try_next().await.expect("stream ended")
    }

    /// The next event, or `None` when the stream ended.
    pub async fn try_next(&mut self) -> Option<Event> {
        match tokio::time::timeout(DEADLINE, self.events.next()).await {
            Ok(Some(Ok(ev))) => Some(ev),
            Ok(Some(Err(e))) => panic!("stream error: {e}"),
            Ok(None) => None,
            Err(_) => panic!("no event within {DEADLINE:?}"),
        }
    }

    /// The next event named `name`, skipping others.
    pub async fn next_named(&mut self, name: &str) -> Event {
        loop {
            let ev = self.next().await;
            if ev.event == name {
                return ev;
            }
        }
    }

    /// The next device event (online or offline), skipping stats and keep-alives.
    pub async fn next_device(&mut self) -> (u64, DeviceEvent, String) {
        loop {
            let ev = self.next().await;
            if ev.event == "device-online" || ev.event == "device-offline" {
                let data: DeviceEvent = serde_json::from_str(&ev.data).unwrap();
                let id: u64 = ev.id.parse().expect("device events carry a numeric id");
                assert_eq!(id, data.id, "SSE id and payload id agree");
                return (id, data, ev.event);
            }
            assert!(ev.event != "reset", "unexpected reset: {}", ev.data);
        }
    }

    /// Waits for a `stats` event with this many open connections.
    pub async fn stats_with_open(&mut self, open: u64) -> Stats {
        loop {
            let ev = self.next_named("stats").await;
            let stats: Stats = serde_json::from_str(&ev.data).unwrap();
            if stats.open_connections == open {
                return stats;
            }
        }
    }
}

/// Polls `check` until it returns true, failing after [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
