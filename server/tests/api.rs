//! The JSON API, error bodies, headers, metrics and the inject API's access rules.

mod common;

use common::*;
use wire::model::ApiError;

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "error bodies are JSON"
    );
    (status, res.json::<ApiError>().await.unwrap().error)
}

#[tokio::test]
async fn devices_snapshot_follows_injected_events() {
    let t = start(test_config()).await;
    let floor = t.head_id().await;
    t.inject("lamp-1", "online").await;
    t.inject("door.2", "online").await;
    t.inject("door.2", "offline").await;
    let devices = t.devices().await;
    let by_id = |id: &str| devices.iter().find(|d| d.id == id).unwrap().online;
    assert_eq!(devices.len(), 2);
    assert!(by_id("lamp-1"));
    assert!(!by_id("door.2"));
    // The raw JSON has the contract's field names.
    let raw: serde_json::Value = t
        .http
        .get(t.url("/api/devices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(raw[0]["id"].is_string() && raw[0]["online"].is_boolean());
    // The list says which event of which run it is current to.
    let res = t.http.get(t.url("/api/devices")).send().await.unwrap();
    assert_eq!(
        res.headers()[wire::model::HEAD_ID_HEADER],
        (floor + 3).to_string().as_str()
    );
    let epoch = res.headers()[wire::model::EPOCH_HEADER].to_str().unwrap();
    assert_eq!(epoch.len(), 16, "{epoch}");
    assert_eq!(epoch, t.epoch().await);
}

#[tokio::test]
async fn a_display_name_travels_with_events_and_sticks_to_the_device() {
    let t = start(test_config()).await;
    let mut stream = t.sse("", &[]).await;
    let hostile = "<img src=x onerror=alert(1)>";
    let named = t.inject_named("xss-1", "online", hostile).await;
    assert_eq!(named.name.as_deref(), Some(hostile));
    // A later event without a body keeps the name.
    let later = t.inject("xss-1", "offline").await;
    assert_eq!(later.name.as_deref(), Some(hostile));

    let on_stream = stream.next_named("device-online").await;
    let parsed: wire::model::DeviceEvent = serde_json::from_str(&on_stream.data).unwrap();
    assert_eq!(
        parsed.name.as_deref(),
        Some(hostile),
        "the stream carries the name verbatim"
    );

    let devices = t.devices().await;
    assert_eq!(devices[0].name.as_deref(), Some(hostile));

    for (body, why) in [
        (serde_json::json!({ "name": "" }), "empty name"),
        (serde_json::json!({ "name": "a".repeat(101) }), "too long"),
        (
            serde_json::json!({ "name": "a\u{7}b" }),
            "control character",
        ),
        (serde_json::json!({ "nom": "x" }), "unknown field"),
        (serde_json::json!({ "name": 5 }), "not a string"),
    ] {
        let res = t
            .http
            .post(t.url("/api/devices/xss-1/online"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, message) = error_of(res).await;
        assert!((400..500).contains(&status), "{why}: {status} {message}");
    }
    assert_eq!(
        t.stats().await["events_published"],
        2,
        "rejected bodies publish nothing"
    );
}

#[tokio::test]
async fn simulator_populates_devices_when_on() {
    let t = start(server::Config {
        sim_interval_ms: 3_600_000,
        sim_devices: 4,
        sim_seed: Some(1),
        ..test_config()
    })
    .await;
    wait_until("simulated devices registered", || async {
        t.devices().await.len() == 4
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_a_4xx_with_a_json_error() {
    let t = start(test_config()).await;
    let post = |path: &str| t.http.post(t.url(path)).send();
    let (status, msg) = error_of(post("/api/devices/lamp/explode").await.unwrap()).await;
    assert_eq!(status, 404);
    assert!(msg.contains("online"), "{msg}");
    let (status, msg) = error_of(post("/api/devices/bad%20id/online").await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(msg.contains("device id"), "{msg}");
    let long = "x".repeat(65);
    let (status, _) = error_of(post(&format!("/api/devices/{long}/online")).await.unwrap()).await;
    assert_eq!(status, 400);
    let (status, _) = error_of(
        t.http
            .get(t.url("/api/devices/lamp/online"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
    let (status, _) = error_of(t.http.get(t.url("/api/nope")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(
        t.stats().await["events_published"],
        0,
        "nothing was published by bad requests"
    );
}

#[tokio::test]
async fn stats_metrics_and_security_headers() {
    let t = start(test_config()).await;
    t.inject("a", "online").await;
    let res = t.http.get(t.url("/api/stats")).send().await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "CORS is closed by default"
    );
    let stats: serde_json::Value = res.json().await.unwrap();
    for key in ["open_connections", "total_connections", "events_published"] {
        assert!(stats[key].is_u64(), "{key} in {stats}");
    }
    assert_eq!(stats["events_published"], 1);
    assert_eq!(stats["events_online"], 1);

    let _sse = t.sse("?mode=sharedworker", &[]).await;
    let metrics = t.metrics().await;
    assert!(metrics.contains("tabrelay_open_streams 1"), "{metrics}");
    assert!(
        metrics.contains("tabrelay_open_streams_by_mode{mode=\"sharedworker\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tabrelay_events_published_total{kind=\"device-online\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let t = start(server::Config {
        cors_origins: vec!["https://ok.example".into()],
        ..test_config()
    })
    .await;
    let res = t
        .http
        .get(t.url("/api/stats"))
        .header("origin", "https://ok.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://ok.example"
    );
    let res = t
        .http
        .get(t.url("/api/stats"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn inject_api_off_without_token_on_a_non_loopback_bind() {
    let t = start_on("0.0.0.0:0", test_config()).await;
    let res = t
        .http
        .post(t.url("/api/devices/lamp/online"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 403);

    let t = start_on(
        "0.0.0.0:0",
        server::Config {
            admin_token: Some("tok".into()),
            ..test_config()
        },
    )
    .await;
    let res = t
        .http
        .post(t.url("/api/devices/lamp/online"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 401);
    let res = t
        .http
        .post(t.url("/api/devices/lamp/online"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 401);
    let res = t
        .http
        .post(t.url("/api/devices/lamp/online"))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(t.stats().await["events_published"], 1);
}

#[tokio::test]
async fn the_page_is_server_rendered() {
    let t = start(test_config()).await;
    t.inject("ssr-lamp-7", "online").await;
    let res = t.http.get(t.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("'wasm-unsafe-eval'"));
    let html = res.text().await.unwrap();
    assert!(html.contains("<html"), "{html}");
    // The first render already shows the hub's devices (snapshot from the Leptos context).
    assert!(html.contains("ssr-lamp-7"), "{html}");
    let res = t.http.get(t.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

/// The `nonce="…"` attribute values of every `<script` tag in `html` (in order).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.split("<script")
        .skip(1)
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            tag.split_once("nonce=\"")
                .map(|(_, rest)| rest[..rest.find('"').unwrap()].to_owned())
        })
        .collect()
}

/// The page's CSP: a nonce, fresh per response and equal to every executable `<script>`'s, and
/// no `'unsafe-inline'` for scripts. The JSON data block is not executable and carries none.
#[tokio::test]
async fn the_page_csp_has_a_fresh_nonce_matching_its_scripts() {
    let t = start(test_config()).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let res = t.http.get(t.url("/")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src "))
            .unwrap_or_else(|| panic!("no script-src in {csp}"));
        assert!(!script_src.contains("'unsafe-inline'"), "{csp}");
        assert!(!csp.contains("'unsafe-inline'"), "style-src too: {csp}");
        let nonce = script_src
            .split_whitespace()
            .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
            .unwrap_or_else(|| panic!("no nonce in {csp}"))
            .to_owned();
        assert!(nonce.len() >= 22, "128 bits at least: {nonce}");
        let html = res.text().await.unwrap();
        let nonces = script_nonces(&html);
        assert!(nonces.len() >= 2, "data block and hydration script: {html}");
        for (i, tag) in html.split("<script").skip(1).enumerate() {
            if tag.trim_start().starts_with("type=\"application/json\"") {
                assert_eq!(nonces[i], None, "the data block needs no nonce");
            } else {
                assert_eq!(nonces[i].as_deref(), Some(nonce.as_str()), "{html}");
            }
        }
        seen.push(nonce);
    }
    assert_ne!(seen[0], seen[1], "a fresh nonce per response");

    // API routes and static files keep a strict policy without a nonce.
    let res = t.http.get(t.url("/api/stats")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        !csp.contains("'unsafe-inline'") && !csp.contains("nonce-"),
        "{csp}"
    );
}

/// A client that sends its headers and then trickles (here: withholds) its body cannot hold an
/// inject handler: the request times out with 408 after `--request-timeout-secs`.
#[tokio::test]
async fn a_slow_request_body_is_cut_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = start(server::Config {
        request_timeout_secs: 1,
        ..test_config()
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(t.server.addr).await.unwrap();
    tcp.write_all(
        b"POST /api/devices/slow/online HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut answer = vec![0; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("answered within the timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(t.stats().await["events_published"], 0);
}

/// An empty `Content-Length` is malformed: the stream path answers it as hyper answers it
/// anywhere else (400), instead of opening a stream.
#[tokio::test]
async fn a_stream_request_with_an_empty_content_length_is_refused_with_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = start(test_config()).await;
    let mut tcp = tokio::net::TcpStream::connect(t.server.addr).await.unwrap();
    tcp.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0; 256];
    let n = tokio::time::timeout(DEADLINE, tcp.read(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(t.stats().await["open_connections"], 0);
}
