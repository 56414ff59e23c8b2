//! The ticker's own tiny server: the page, and a plain SSE stream of prices, nothing of
//! tabrelay's own server. What a server needs for tabrelay to lose nothing is what any
//! `EventSource` server should do anyway: an `id:` on every event and a replay of what came after
//! the id a client resumes from (here `?last_event_id=N`, which is how tabrelay's leader
//! resumes, or the browser's `Last-Event-ID` header).
//!
//! - `GET /api/prices`: `price` events (`{"symbol", "cents"}`, with ids) and `viewers` events
//!   (`{"open"}`, the streams open now, no id), replayed after `last_event_id`;
//! - `POST /api/prices/{symbol}/{cents}`: publishes one price (the tests' and your own);
//! - `POST /api/halts/{symbol}`: publishes a `halt` event (with an id), which only tabs that
//!   take every event (`?events=all`) see;
//! - `GET /api/viewers`: `{"open": N}`.
//!
//! `TICKER_SIM_MS` (default 1000, 0 = off) publishes a random price that often.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use leptos::prelude::*;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ticker::{shell, Price, Viewers};
use tokio::sync::broadcast;

/// How many prices a resuming client can be given.
const LOG_CAPACITY: usize = 10_000;

/// A numbered event of the log.
#[derive(Clone, Debug)]
enum Numbered {
    Price(Price),
    Halt(String),
}

/// What goes out on every stream.
#[derive(Clone, Debug)]
enum Message {
    Logged(u64, Numbered),
    Viewers(u64),
}

struct Hub {
    log: Mutex<VecDeque<(u64, Numbered)>>,
    next_id: AtomicU64,
    open: AtomicU64,
    live: broadcast::Sender<Message>,
}

impl Hub {
    fn publish(&self, event: Numbered) -> u64 {
        // Under the log's lock: ids enter the log and the broadcast in order.
        let mut log = self.log.lock().expect("the log lock is never poisoned");
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        log.push_back((id, event.clone()));
        if log.len() > LOG_CAPACITY {
            log.pop_front();
        }
        let _ = self.live.send(Message::Logged(id, event));
        id
    }

    fn viewers_changed(&self) {
        let _ = self
            .live
            .send(Message::Viewers(self.open.load(Ordering::Relaxed)));
    }
}

/// Counts a stream while it is open (a drop guard: the count goes down however it ends).
struct Viewer(Arc<Hub>);

impl Drop for Viewer {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0.viewers_changed();
    }
}

#[derive(serde::Deserialize)]
struct Resume {
    last_event_id: Option<u64>,
}

fn to_event(message: &Message) -> Event {
    match message {
        Message::Logged(id, Numbered::Price(price)) => Event::default()
            .event("price")
            .id(id.to_string())
            .data(serde_json::to_string(price).unwrap_or_default()),
        Message::Logged(id, Numbered::Halt(symbol)) => Event::default()
            .event("halt")
            .id(id.to_string())
            .data(serde_json::json!({ "symbol": symbol }).to_string()),
        Message::Viewers(open) => Event::default()
            .event("viewers")
            .data(serde_json::to_string(&Viewers { open: *open }).unwrap_or_default()),
    }
}

async fn prices(
    State(hub): State<Arc<Hub>>,
    Query(resume): Query<Resume>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let after = resume.last_event_id.or(header);
    // Subscribed before the log is read: nothing published in between is missed.
    let live = hub.live.subscribe();
    let replay: Vec<Message> = match after {
        Some(after) => hub
            .log
            .lock()
            .expect("the log lock is never poisoned")
            .iter()
            .filter(|(id, _)| *id > after)
            .map(|(id, event)| Message::Logged(*id, event.clone()))
            .collect(),
        None => Vec::new(),
    };
    let mut last = replay
        .iter()
        .filter_map(|m| match m {
            Message::Logged(id, _) => Some(*id),
            Message::Viewers(_) => None,
        })
        .max()
        .or(after)
        .unwrap_or(0);
    hub.open.fetch_add(1, Ordering::Relaxed);
    let viewer = Viewer(Arc::clone(&hub));
    hub.viewers_changed();
    // A reader that lagged behind the channel ends its stream (`recv` fails): the client
    // resumes by id.
    let live = stream::unfold((live, viewer), |(mut live, viewer)| async move {
        let message = live.recv().await.ok()?;
        Some((message, (live, viewer)))
    })
    .filter(move |message| {
        // What the replay already gave.
        let fresh = match message {
            Message::Logged(id, _) if *id <= last => false,
            Message::Logged(id, _) => {
                last = *id;
                true
            }
            Message::Viewers(_) => true,
        };
        std::future::ready(fresh)
    });
    let events = stream::iter(replay)
        .chain(live)
        .map(|message| Ok(to_event(&message)));
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn publish(
    State(hub): State<Arc<Hub>>,
    Path((symbol, cents)): Path<(String, u64)>,
) -> (StatusCode, Json<serde_json::Value>) {
    if !valid_symbol(&symbol) {
        return bad_symbol();
    }
    let id = hub.publish(Numbered::Price(Price { symbol, cents }));
    (StatusCode::OK, Json(serde_json::json!({ "id": id })))
}

async fn halt(
    State(hub): State<Arc<Hub>>,
    Path(symbol): Path<String>,
) -> (StatusCode, Json<serde_json::Value>) {
    if !valid_symbol(&symbol) {
        return bad_symbol();
    }
    let id = hub.publish(Numbered::Halt(symbol));
    (StatusCode::OK, Json(serde_json::json!({ "id": id })))
}

fn valid_symbol(symbol: &str) -> bool {
    !symbol.is_empty() && symbol.len() <= 8 && symbol.bytes().all(|b| b.is_ascii_uppercase())
}

fn bad_symbol() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": "a symbol is 1 to 8 capital letters"})),
    )
}

async fn viewers(State(hub): State<Arc<Hub>>) -> Json<Viewers> {
    Json(Viewers {
        open: hub.open.load(Ordering::Relaxed),
    })
}

/// A random walk over a few symbols.
async fn simulate(hub: Arc<Hub>, every: Duration) {
    const SYMBOLS: [&str; 4] = ["ACME", "GLOBEX", "INITECH", "UMBRELLA"];
    let mut cents = [12_000u64, 4_550, 870, 31_020];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = (seed % SYMBOLS.len() as u64) as usize;
        let step = (seed >> 8) % 41;
        cents[at] = (cents[at] + step).saturating_sub(20).max(1);
        hub.publish(Numbered::Price(Price {
            symbol: SYMBOLS[at].to_owned(),
            cents: cents[at],
        }));
    }
}

#[tokio::main]
async fn main() {
    let conf = get_configuration(None).expect("cargo-leptos sets the LEPTOS_* variables");
    let leptos = conf.leptos_options;
    let addr = leptos.site_addr;
    let (live, _) = broadcast::channel(4096);
    let hub = Arc::new(Hub {
        log: Mutex::new(VecDeque::new()),
        next_id: AtomicU64::new(1),
        open: AtomicU64::new(0),
        live,
    });
    let every = std::env::var("TICKER_SIM_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1000);
    if every > 0 {
        tokio::spawn(simulate(Arc::clone(&hub), Duration::from_millis(every)));
    }
    let _ = any_spawner::Executor::init_tokio();
    let page = {
        let leptos = leptos.clone();
        leptos_axum::render_app_to_stream(move || shell(leptos.clone()))
    };
    let api = Router::new()
        .route("/prices", get(prices))
        .route("/prices/{symbol}/{cents}", post(publish))
        .route("/halts/{symbol}", post(halt))
        .route("/viewers", get(viewers))
        .with_state(hub);
    let app = Router::new()
        .route("/", get(page))
        .nest("/api", api)
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("the ticker's address is free");
    println!("ticker on http://{addr}");
    axum::serve(listener, app).await.expect("the server runs");
}
