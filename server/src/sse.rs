//! `GET /api/events`: one SSE stream.
//!
//! A stream is a small state machine polled only when the socket can take more data (by
//! `crate::direct` on a plain-TCP connection opened for it, by hyper otherwise), so a client
//! that stops reading simply stops being polled: its broadcast cursor falls behind, and when it
//! reads again it gets `Lagged`, answered with a `reset` snapshot before going live. Nothing is
//! queued per stream beyond the frame being written (hyper: its bounded write queue of shared
//! frames).
//!
//! Order on the wire: `hello` (with `retry:`), then the replay or a `reset`, then the current
//! `stats`, then live device events interleaved with coalesced `stats` and keep-alive comments.
//!
//! A resuming reader sends its position as `Last-Event-ID` (or `?last_event_id=`) and, when it
//! knows it, the run that id is from as `?epoch=`; [`wire::resume`] decides between a replay and
//! a `reset` (see [`crate::hub::Hub::subscribe`]).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use wire::model::{event_name, Hello, StatsEvent};
use wire::Mode;

use crate::conn::StreamGuard;
use crate::error::ApiError;
use crate::fanout::{self, RecvError};
use crate::frame;
use crate::hub::{Hub, Live, ResetCause};
use crate::metrics::{RejectReason, ResetReason};
use crate::stats::stats_frame;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    last_event_id: Option<String>,
    mode: Option<String>,
    epoch: Option<String>,
}

/// How long a resume ahead of this replica's head waits for its tail (Redis bus only).
const TAIL_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest accepted `?epoch=`.
pub const MAX_EPOCH_LEN: usize = 64;

/// Checks `?epoch=`: 1 to [`MAX_EPOCH_LEN`] ASCII letters, digits, `-` or `_`.
pub fn parse_epoch(raw: &str) -> Result<&str, ApiError> {
    let ok = (1..=MAX_EPOCH_LEN).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw)
    } else {
        Err(ApiError::bad_request(format!(
            "epoch must be 1 to {MAX_EPOCH_LEN} of [0-9A-Za-z_-], got {:?}",
            raw.chars().take(40).collect::<String>()
        )))
    }
}

/// Parses a resume point: ASCII digits only (no sign, no spaces), fitting in a `u64`. An empty
/// value means "none" (that is what `EventSource` has before its first id).
pub fn parse_last_event_id(raw: &str, source: &str) -> Result<Option<u64>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ApiError::bad_request(format!(
            "{source} must be a decimal event id (digits only), got {:?}",
            raw.chars().take(40).collect::<String>()
        ))
    };
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    raw.parse::<u64>().map(Some).map_err(|_| bad())
}

/// What a stream request asks for, from its `Last-Event-ID` header and its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    pub mode: Mode,
    pub last_event_id: Option<u64>,
    /// Checked by [`parse_epoch`].
    pub epoch: Option<String>,
}

impl StreamRequest {
    /// Parses a request's `Last-Event-ID` header and its query (`uri`'s, as axum's `Query`
    /// would). Every malformed value is a 400 (axum's query rejection for a query that is not
    /// `application/x-www-form-urlencoded`); nothing here panics, and error messages quote at
    /// most 40 characters of the input.
    pub fn parse(headers: &HeaderMap, uri: &Uri) -> Result<Self, ApiError> {
        let Query(query) = Query::<EventsQuery>::try_from_uri(uri)?;
        // Absent or empty is the default; any other word must name a mode.
        let mode = match query.mode.as_deref() {
            None | Some("") => Mode::Leader,
            Some(m) => m
                .parse::<Mode>()
                .map_err(|unknown| ApiError::bad_request(unknown.to_string()))?,
        };
        // The header (sent by `EventSource` on reconnect) wins over the query (used by a new
        // leader tab taking over from the previous one).
        let last_event_id = match headers.get("last-event-id") {
            Some(v) => {
                let v = v
                    .to_str()
                    .map_err(|_| ApiError::bad_request("Last-Event-ID is not ASCII"))?;
                parse_last_event_id(v.trim(), "Last-Event-ID")?
            }
            None => match query.last_event_id.as_deref() {
                Some(v) => parse_last_event_id(v, "last_event_id")?,
                None => None,
            },
        };
        let epoch = query.epoch.as_deref().map(parse_epoch).transpose()?;
        Ok(Self {
            mode,
            last_event_id,
            epoch: epoch.map(str::to_owned),
        })
    }

    /// The position to resume from, if the request has one.
    pub fn resume(&self) -> Option<wire::ResumeRequest<'_>> {
        self.last_event_id.map(|last_id| wire::ResumeRequest {
            epoch: self.epoch.as_deref(),
            last_id,
        })
    }
}

pub async fn events(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    version: axum::http::Version,
    handover: Option<Extension<Handover>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let parsed = StreamRequest::parse(&headers, &uri)?;
    let (mode, request) = (parsed.mode, parsed.resume());

    let retry_after = app.config.retry_ms.div_ceil(1000).max(1);
    let guard = app
        .conns
        .try_open(peer.ip(), mode, crate::metrics::http_version_label(version))
        .map_err(|reason| match reason {
            RejectReason::GlobalCap => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many open event streams; retry later",
            )
            .retry_after(retry_after),
            RejectReason::PerIpCap => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many open event streams from this address",
            )
            .retry_after(retry_after),
        })?;

    if let (Some(request), Some(_)) = (request, &app.redis) {
        // A reader another replica already sent this id to, arriving before this replica's tail
        // read it: wait that moment out rather than answer "ahead" with a needless reset.
        if request.last_id > app.hub.head_id() {
            app.hub.wait_for_head(request.last_id, TAIL_CATCH_UP).await;
        }
    }
    app.hub.watch_shutdown(&app.shutdown);
    let sub = app.hub.subscribe(request);
    if let Some(reason) = sub.reset {
        app.metrics.reset(ResetReason::of_resume(reason));
    }
    let mut pending = VecDeque::with_capacity(sub.first.len() + 2);
    let hello = Hello {
        instance: app.instance.to_string(),
        epoch: sub.epoch.to_string(),
        head_id: sub.skip_through,
        retry_ms: app.config.retry_ms,
    };
    pending.push_back(frame::event(
        event_name::HELLO,
        None,
        Some(app.config.retry_ms),
        &hello,
    ));
    pending.extend(sub.first);
    let mut stats_rx = app.stats_tx.subscribe();
    stats_rx.borrow_and_update();
    pending.push_back(stats_frame(&StatsEvent::from(&app.stats())));

    let period = app.config.keep_alive();
    let mut keep_alive = tokio::time::interval_at(Instant::now() + period, period);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let stream = EventStream {
        passive: false,
        pending,
        live: sub.rx,
        skip_through: sub.skip_through,
        stats: Some(stats_rx),
        keep_alive,
        last_live: Instant::now(),
        hub: Arc::clone(&app.hub),
        metrics: Arc::clone(&app.metrics),
        _guard: guard,
    };
    let body = match handover {
        Some(Extension(handover)) => {
            handover.put(stream);
            Body::empty()
        }
        None => Body::new(stream),
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response())
}

/// One frame from [`EventStream::poll_piece`].
pub(crate) struct Piece {
    pub sse: Bytes,
    /// `sse` already framed as an HTTP/1.1 chunk, when the hub did it (live events).
    pub chunked: Option<Bytes>,
}

/// Put in a request's extensions by [`crate::direct`], which writes the stream itself: the
/// handler leaves its [`EventStream`] here (and answers with an empty body) instead of handing
/// it to hyper as the response body.
#[derive(Clone, Default)]
pub struct Handover(Arc<Mutex<Option<EventStream>>>);

impl Handover {
    fn put(&self, stream: EventStream) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(stream);
    }

    pub(crate) fn take(&self) -> Option<EventStream> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// One stream: polled (as a response body by hyper, or by [`crate::direct`]) only when the
/// socket can take more data.
///
/// A hand-written state machine rather than an async loop: what it waits on is checked with
/// atomic loads and woken through one waker registered for the stream's life (the hub's
/// [`crate::fanout`] receiver; the `stats` frame's changes and the shutdown are announced
/// through the hub as well: [`Hub::end_streams`]). Per event and stream that is no lock beyond
/// the ring slot's shared one.
pub(crate) struct EventStream {
    /// Live events are written by the hub's writers ([`crate::direct_shard`]): the ring is read
    /// without registering this task to be woken by every event.
    passive: bool,
    pending: VecDeque<Bytes>,
    live: fanout::Receiver<Live>,
    skip_through: u64,
    /// `None` once the stats channel closed (the server is shutting down).
    stats: Option<watch::Receiver<Bytes>>,
    /// Ticks a keep-alive period after the last write it knows of; see [`Self::poll_chunk`].
    keep_alive: Interval,
    /// When the last live event this stream was sent was published.
    last_live: Instant,
    hub: Arc<Hub>,
    metrics: Arc<crate::metrics::Metrics>,
    _guard: StreamGuard,
}

impl EventStream {
    /// Hands live events to the hub's writers while this stream waits: returns its slot, and
    /// from now on the ring is read without registering for its wake-ups (the caller parks the
    /// slot whenever it has written everything: see [`crate::direct_shard`]).
    pub(crate) fn go_direct(&mut self, fd: std::os::fd::RawFd) -> Arc<crate::direct_shard::Slot> {
        self.passive = true;
        self.hub.register_direct(fd, self.skip_through)
    }

    /// The ring position of the next live event this stream reads.
    pub(crate) fn position(&self) -> u64 {
        self.live.position()
    }

    /// Live events before `pos` were written for this stream by the hub's writer.
    pub(crate) fn advance_to(&mut self, pos: u64) {
        self.live.advance_to(pos);
    }

    pub(crate) fn skip_through(&self) -> u64 {
        self.skip_through
    }

    /// `true` if the ring holds an event this stream has not read (or closed).
    pub(crate) fn has_news(&self) -> bool {
        self.live.has_news()
    }

    /// The hub's writer sent this stream an event published `at`.
    pub(crate) fn note_live(&mut self, at: Instant) {
        self.last_live = self.last_live.max(at);
    }

    /// A `reset` with the hub's snapshot; live events it covers are skipped.
    fn reset(&mut self, cause: ResetCause) -> Bytes {
        let (bytes, head) = self.hub.reset_frame(cause);
        self.skip_through = head;
        self.metrics.reset(cause.metric());
        bytes
    }

    /// The next frame to write, `Ready(None)` to end the stream (shutdown).
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.poll_piece(cx).map(|piece| piece.map(|p| p.sse))
    }

    /// The next frame to write (with its HTTP/1.1 chunk when the hub framed one: a live
    /// event), `Ready(None)` to end the stream (shutdown), in this order of priority: what is
    /// queued (hello, replay), shutdown, live events, stats, keep-alive.
    pub(crate) fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        let plain = |sse| Poll::Ready(Some(Piece { sse, chunked: None }));
        if let Some(bytes) = self.pending.pop_front() {
            if self.pending.is_empty() {
                // A replay may have been long: give its slots back for the stream's lifetime.
                self.pending = VecDeque::new();
            }
            return plain(bytes);
        }
        if self.hub.ending() {
            return Poll::Ready(None);
        }
        loop {
            let next = if self.passive {
                match self.live.try_recv() {
                    Some(next) => Poll::Ready(next),
                    None => Poll::Pending,
                }
            } else {
                self.live.poll_recv(cx)
            };
            match next {
                Poll::Ready(Ok(Live::Event(frame))) if frame.id <= self.skip_through => {}
                // The keep-alive timer is not reset here (at 10,000 streams that would be
                // 10,000 timer-wheel updates per event): when it ticks, it is moved to a
                // period after this event instead, once.
                Poll::Ready(Ok(Live::Event(frame))) => {
                    self.last_live = frame.at;
                    return Poll::Ready(Some(Piece {
                        sse: frame.bytes,
                        chunked: Some(frame.chunked),
                    }));
                }
                Poll::Ready(Ok(Live::Reset(cause))) => return plain(self.reset(cause)),
                Poll::Ready(Err(RecvError::Lagged(missed))) => {
                    tracing::debug!(missed, "slow stream fell behind; sending reset");
                    return plain(self.reset(ResetCause::Lagged));
                }
                Poll::Ready(Err(RecvError::Closed)) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        if let Some(stats) = &mut self.stats {
            match stats.has_changed() {
                Ok(true) => return plain(stats.borrow_and_update().clone()),
                Ok(false) => {}
                Err(_) => self.stats = None,
            }
        }
        // A keep-alive only keeps an idle connection open: one that was sent an event less than a
        // period ago gets none (while events flow, a fixed beat would be one more write per
        // stream and period: 667 a second at 10,000 streams and 15 s), and the timer is moved
        // to a period after that event, so no gap between writes exceeds the period.
        while let Poll::Ready(tick) = self.keep_alive.poll_tick(cx) {
            let due = self.last_live + self.keep_alive.period();
            if due <= tick {
                return plain(frame::KEEP_ALIVE);
            }
            self.keep_alive.reset_at(due);
        }
        Poll::Pending
    }
}

impl http_body::Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .poll_chunk(cx)
            .map(|chunk| chunk.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wire::model::DeviceEventKind;

    /// A stream of its own hub, as the handler builds one, with the keep-alive `period`.
    fn stream(hub: &Arc<Hub>, period: Duration) -> EventStream {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let conns = Arc::new(crate::conn::Connections::new(0, 0, Arc::clone(&metrics)));
        let sub = hub.subscribe(None);
        let mut keep_alive = tokio::time::interval_at(Instant::now() + period, period);
        keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        EventStream {
            passive: false,
            pending: VecDeque::new(),
            live: sub.rx,
            skip_through: sub.skip_through,
            stats: None,
            keep_alive,
            last_live: Instant::now(),
            hub: Arc::clone(hub),
            metrics,
            _guard: conns
                .try_open([127, 0, 0, 1].into(), Mode::Naive, "http/1.1")
                .unwrap(),
        }
    }

    fn next_now(stream: &mut EventStream) -> Poll<Option<Bytes>> {
        stream.poll_chunk(&mut Context::from_waker(std::task::Waker::noop()))
    }

    /// A keep-alive only keeps an idle connection open: a stream that was sent an event less
    /// than a period ago gets none (at 10,000 streams and a 15 s period, that is 667 writes a
    /// second for nothing while events flow), and an idle one still gets one a period after
    /// its last write.
    #[tokio::test(start_paused = true)]
    async fn keep_alives_come_a_period_after_the_last_event_not_on_a_fixed_beat() {
        let hub = Arc::new(Hub::new(
            8,
            8,
            Arc::new(crate::metrics::Metrics::new()),
            "e",
            0,
        ));
        let period = Duration::from_secs(10);
        let mut s = stream(&hub, period);
        assert!(next_now(&mut s).is_pending());
        tokio::time::advance(Duration::from_secs(6)).await;
        hub.publish_next("d", DeviceEventKind::DeviceOnline, None);
        assert!(matches!(next_now(&mut s), Poll::Ready(Some(b)) if b.starts_with(b"id: 1\n")));
        assert!(next_now(&mut s).is_pending());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(
            next_now(&mut s).is_pending(),
            "an event went out 5 s ago: no keep-alive yet"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(next_now(&mut s), Poll::Ready(Some(frame::KEEP_ALIVE)));
        assert!(next_now(&mut s).is_pending());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            next_now(&mut s),
            Poll::Ready(Some(frame::KEEP_ALIVE)),
            "idle: one per period"
        );
    }

    #[test]
    fn last_event_id_parsing_is_strict() {
        assert_eq!(parse_last_event_id("42", "x").unwrap(), Some(42));
        assert_eq!(parse_last_event_id("", "x").unwrap(), None);
        for bad in ["-1", "+1", "1.0", "abc", "1 2", "99999999999999999999999"] {
            assert!(
                parse_last_event_id(bad, "x").is_err(),
                "{bad} must be rejected"
            );
        }
    }

    #[test]
    fn epoch_parsing_is_strict() {
        assert!(parse_epoch("0123456789abcdef").is_ok());
        assert!(parse_epoch("A-z_9").is_ok());
        assert!(parse_epoch(&"e".repeat(MAX_EPOCH_LEN)).is_ok());
        for bad in [
            "",
            " a",
            "a b",
            "a.b",
            "é",
            "a/b",
            &"e".repeat(MAX_EPOCH_LEN + 1),
        ] {
            assert!(parse_epoch(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
