//! Nanoseconds per `Message::decode` and `Message::encode` of the messages tabs exchange most:
//! a relayed device event (every event, on every follower) and the leader's heartbeat (4 a
//! second). Native code, so the absolute figures are below a browser's wasm ones; the ratio
//! between two builds is what to compare.
//!
//!   cargo run --release -p coord --example codec_bench [-- <iterations, default 200000>]

use std::hint::black_box;
use std::time::Instant as Clock;

use coord::{Body, Instant, Message, PeerInfo, Role, ServerEvent, StreamState, TabId, Term};

fn relay() -> Message {
    // A device event as the server sends it (app::model::DeviceEvent), relayed by a leader.
    let data = r#"{"id":1795998772857196,"device":"sensor-0042","kind":"online","at_ms":1795998772857,"name":"Hall \"B\" sensor"}"#;
    Message::new(
        TabId(7_301_234_567_890_123),
        Body::Relay {
            term: Term {
                n: 12,
                tab: TabId(7_301_234_567_890_123),
            },
            event: ServerEvent::new(Some(1_795_998_772_857_196), "device-online", data),
            sent_at: Instant(1_795_998_772_857_196),
            epoch: Some("adf01d829abfcfc1".into()),
            prev: Some(1_795_998_772_857_195),
        },
    )
}

fn heartbeat() -> Message {
    let term = Term {
        n: 12,
        tab: TabId(7_301_234_567_890_123),
    };
    Message::new(
        TabId(7_301_234_567_890_123),
        Body::Heartbeat {
            term,
            stream: StreamState::Open,
            info: PeerInfo {
                role: Role::Leader,
                visible: true,
                highest_id: Some(1_795_998_772_857_196),
                epoch: Some("adf01d829abfcfc1".into()),
                term,
            },
            crowd: Some(50),
        },
    )
}

/// Best of 5 runs of `iters` calls, in ns per call.
fn time(iters: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Clock::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let iters: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    for (name, message) in [("relay", relay()), ("heartbeat", heartbeat())] {
        let text = message.encode();
        assert_eq!(Message::decode(&text).as_ref(), Ok(&message));
        let decode = time(iters, || {
            black_box(Message::decode(black_box(&text)).ok());
        });
        let encode = time(iters, || {
            black_box(black_box(&message).encode());
        });
        println!(
            "{name:<9} ({} bytes): decode {decode:>7.0} ns, encode {encode:>7.0} ns",
            text.len()
        );
    }
}
