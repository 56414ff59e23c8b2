//! HTTPS with HTTP/2 (`--tls self-signed`) and the shard ports of `?mode=sharded`, through real
//! HTTP clients: reqwest negotiating h2 by ALPN, and plain HTTP/1.1.

mod common;

use axum::http::Version;
use common::{start, test_config, wait_until};
use server::Config;

fn https_client(http1_only: bool) -> reqwest::Client {
    server::tls::install_crypto_provider();
    let builder = reqwest::Client::builder().danger_accept_invalid_certs(true);
    let builder = if http1_only {
        builder.http1_only()
    } else {
        builder
    };
    builder.build().unwrap()
}

#[tokio::test]
async fn https_serves_http2_and_counts_streams_by_http_version() {
    let t = start(Config {
        tls: Some("self-signed".into()),
        ..test_config()
    })
    .await;
    let base = format!("https://localhost:{}", t.server.addr.port());
    let h2 = https_client(false);
    let stats = h2.get(format!("{base}/api/stats")).send().await.unwrap();
    assert_eq!(stats.version(), Version::HTTP_2, "ALPN picks HTTP/2");

    // Twelve streams from one client: one connection, twelve HTTP/2 streams, twelve SSE streams.
    let mut streams = Vec::new();
    for _ in 0..12 {
        let res = h2
            .get(format!("{base}/api/events?mode=naive"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.version(), Version::HTTP_2);
        streams.push(res);
    }
    let h1 = https_client(true);
    let old = h1
        .get(format!("{base}/api/events?mode=naive"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.version(), Version::HTTP_11);
    wait_until("12 h2 streams and 1 http/1.1 stream counted", || async {
        let stats: serde_json::Value = h1
            .get(format!("{base}/api/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["streams_by_http_version"]["h2"] == 12
            && stats["streams_by_http_version"]["http/1.1"] == 1
            && stats["open_connections"] == 13
    })
    .await;
    // Plain HTTP on a TLS port is refused, not served.
    let plain = reqwest::get(format!(
        "http://127.0.0.1:{}/api/stats",
        t.server.addr.port()
    ))
    .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test]
async fn shard_ports_serve_the_same_app_and_let_the_main_origin_read_them() {
    let shard = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = start(Config {
        shard_ports: vec![shard],
        ..test_config()
    })
    .await;
    let main = t.server.addr.port();
    let origin = format!("http://127.0.0.1:{main}");
    let on_shard = |origin: String| {
        t.http
            .get(format!("http://127.0.0.1:{shard}/api/events?mode=sharded"))
            .header("origin", origin)
            .send()
    };
    let res = on_shard(origin.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        origin.as_str()
    );
    let stranger = on_shard("http://127.0.0.1:9".into()).await.unwrap();
    assert!(stranger
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let other_host = on_shard(format!("http://evil.example:{main}"))
        .await
        .unwrap();
    assert!(other_host
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    wait_until("the sharded streams are counted by mode", || async {
        t.stats().await["streams_by_mode"]["sharded"] == 3
    })
    .await;
    let modes = t.stats().await["streams_by_mode"].clone();
    for mode in [
        "naive",
        "leader",
        "storage",
        "sharedworker",
        "sharded",
        "hidden-close",
    ] {
        assert!(modes[mode].is_i64(), "{mode} listed in {modes}");
    }
    // The page may open streams on the shard port.
    let page = t.http.get(t.url("/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains(&format!("http://*:{shard}")), "{csp}");
}
