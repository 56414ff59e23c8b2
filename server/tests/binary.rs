//! The real `server` binary, configured through its environment variables.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::DEADLINE;

/// Kills the child if a test fails half-way.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free loopback port and returns once it logs its address.
fn spawn(envs: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env_remove("LEPTOS_OUTPUT_NAME")
        .env_remove("LEPTOS_SITE_ROOT")
        .env_remove("LEPTOS_SITE_PKG_DIR")
        .env_remove("LEPTOS_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap().to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(DEADLINE).expect("server logs its address");
    Server { child, addr }
}

#[tokio::test]
async fn sim_interval_zero_turns_the_simulator_off() {
    let server = spawn(&[("TABRELAY_SIM_INTERVAL_MS", "0")]);
    let http = common::http();
    let devices: serde_json::Value = http
        .get(format!("http://{}/api/devices", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(devices, serde_json::json!([]), "no simulated devices");
    let stats: serde_json::Value = http
        .get(format!("http://{}/api/stats", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["events_published"], 0);
}

/// SIGTERM with open streams exits cleanly and promptly.
#[tokio::test]
async fn sigterm_with_open_streams_exits_cleanly() {
    let mut server = spawn(&[
        ("TABRELAY_SIM_INTERVAL_MS", "50"),
        ("TABRELAY_SIM_DEVICES", "3"),
    ]);
    let http = common::http();
    let mut streams = Vec::new();
    for _ in 0..5 {
        let res = http
            .get(format!("http://{}/api/events", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        streams.push(res);
    }
    // Simulated events are flowing to the open streams.
    let mut first = streams.pop().unwrap();
    let mut seen = String::new();
    while !seen.contains("event: device-") {
        let chunk = tokio::time::timeout(DEADLINE, first.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + DEADLINE;
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
    // The open streams were ended by the server, not cut.
    loop {
        match tokio::time::timeout(DEADLINE, first.chunk()).await.unwrap() {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => panic!("the stream was cut instead of ended: {e}"),
        }
    }
}

/// A deploy starts the binary with `LEPTOS_SITE_ROOT` (and an address), without cargo-leptos and
/// without `LEPTOS_OUTPUT_NAME`: the site's script, wasm and css must be served from that root.
#[tokio::test]
async fn site_root_alone_serves_the_built_assets() {
    let root = std::env::temp_dir().join(format!(
        "tabrelay-site-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    let files = [
        ("tabrelay.js", "console.log('tabrelay')"),
        ("tabrelay.wasm", "\0asm"),
        ("tabrelay.css", "body{}"),
    ];
    for (name, body) in files {
        std::fs::write(root.join("pkg").join(name), body).unwrap();
    }
    let server = spawn(&[
        ("LEPTOS_SITE_ROOT", root.to_str().unwrap()),
        ("TABRELAY_SIM_INTERVAL_MS", "0"),
    ]);
    let http = common::http();
    for (name, body) in files {
        let res = http
            .get(format!("http://{}/pkg/{name}", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "/pkg/{name}");
        assert_eq!(res.text().await.unwrap(), body);
    }
    // The page links the same output name.
    let page = http
        .get(format!("http://{}/", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/pkg/tabrelay"), "{page}");
    drop(server);
    let _ = std::fs::remove_dir_all(root);
}
