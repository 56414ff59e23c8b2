//! Accepting connections and speaking HTTP on them: plain HTTP/1.1 (the default), or TLS with
//! ALPN offering HTTP/2 and HTTP/1.1 (`--tls`), on the main port and on the shard ports
//! (`--shard-ports`, for `?mode=sharded`).
//!
//! Built on hyper's connection builders rather than `axum::serve` so the per-connection settings
//! (socket options, TLS, HTTP/2 keep-alive) are ours, and so that a plain-TCP connection whose
//! first request is a stream is written by [`crate::direct`] instead of hyper. Every connection is a tracked task; on
//! shutdown each is asked to finish (streams end on the same token) and the server waits for
//! them, at most the grace period.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::direct;

/// Socket options every accepted connection gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketOptions {
    /// `(budget, TCP_USER_TIMEOUT)`: see [`crate::set_dead_peer_timeout`].
    pub dead_peer: Option<(Duration, Duration)>,
    pub send_buffer: Option<usize>,
}

impl SocketOptions {
    fn apply(&self, tcp: &TcpStream) {
        if let Some((budget, user_timeout)) = self.dead_peer {
            if let Err(e) =
                crate::set_dead_peer_timeout(&socket2::SockRef::from(tcp), budget, user_timeout)
            {
                tracing::debug!(error = %e, "TCP keepalive / TCP_USER_TIMEOUT failed");
            }
        }
        // Events are small and latency matters more than packet count.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        if let Some(size) = self.send_buffer {
            if let Err(e) = socket2::SockRef::from(tcp).set_send_buffer_size(size) {
                tracing::debug!(error = %e, "SO_SNDBUF failed");
            }
        }
    }
}

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings on an idle connection: a peer that vanished is noticed even behind a proxy that
/// keeps the TCP connection up.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

pub struct Server {
    pub router: Router,
    pub tls: Option<TlsAcceptor>,
    pub options: SocketOptions,
    pub shutdown: CancellationToken,
    pub grace: Duration,
}

impl Server {
    /// Serves every listener until the shutdown token is cancelled, then waits for the open
    /// connections to finish (at most the grace period).
    pub async fn run(self, listeners: Vec<TcpListener>) -> io::Result<()> {
        let server = Arc::new(self);
        let connections = TaskTracker::new();
        let accepts: Vec<_> = listeners
            .into_iter()
            .map(|listener| accept_loop(Arc::clone(&server), listener, connections.clone()))
            .collect();
        futures::future::join_all(accepts).await;
        connections.close();
        if tokio::time::timeout(server.grace, connections.wait())
            .await
            .is_err()
        {
            // A half-sent page on a dead socket must not keep the process alive.
            tracing::warn!(
                open = connections.len(),
                "connections still open after the shutdown grace period; exiting anyway"
            );
        }
        Ok(())
    }
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener, connections: TaskTracker) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    loop {
        let accepted = tokio::select! {
            _ = server.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            // The peer gave up between SYN and accept: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                tracing::error!(error = %e, port, "accept failed; retrying in 1 s");
                tokio::select! {
                    _ = server.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        server.options.apply(&tcp);
        connections.spawn(serve_connection(Arc::clone(&server), tcp, peer));
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Every connection's task holds this future, so its size is each idle stream's memory: all but
/// a plain-TCP stream's [`direct::Pump`] is boxed (reading and routing the first request, hyper,
/// the TLS and HTTP/2 paths: a rustls session, an h2 connection are kilobytes), so that a
/// stream's task carries only its own state.
async fn serve_connection(server: Arc<Server>, tcp: TcpStream, peer: SocketAddr) {
    match &server.tls {
        None => match Box::pin(direct::accept(&server.router, &server.shutdown, tcp, peer)).await {
            // The stream ends on the shutdown token itself.
            direct::Next::Stream(pump) => pump.await,
            direct::Next::Hyper { io, first_head_by } => {
                Box::pin(speak_http(&server, io, false, peer, first_head_by)).await
            }
            direct::Next::Close => {}
        },
        Some(acceptor) => {
            Box::pin(async {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        Box::pin(speak_http(&server, tls, h2, peer, None)).await
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            })
            .await
        }
    }
}

/// Serves HTTP/2 when ALPN chose it, else HTTP/1.1 (plain TCP is always HTTP/1.1: browsers
/// never speak cleartext HTTP/2, and hyper-util's auto-detecting builder would hold a buffer of
/// its own per connection, a third more memory per idle stream). `first_head_by`: the
/// connection is closed then if no request has reached the router by that time.
async fn speak_http<I>(
    server: &Server,
    io: I,
    h2: bool,
    peer: SocketAddr,
    first_head_by: Option<tokio::time::Instant>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = server.router.clone();
    let first_head = first_head_by.map(|by| (by, Arc::new(AtomicBool::new(false))));
    let seen = first_head.as_ref().map(|(_, seen)| Arc::clone(seen));
    let service =
        TowerToHyperService::new(tower::service_fn(move |mut request: Request<Incoming>| {
            if let Some(seen) = &seen {
                seen.store(true, Ordering::Release);
            }
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        }));
    let io = TokioIo::new(io);
    if h2 {
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_KEEP_ALIVE)
            .keep_alive_timeout(H2_KEEP_ALIVE)
            .serve_connection(io, service);
        Box::pin(drive(connection, &server.shutdown, peer, None)).await;
    } else {
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(io, service);
        drive(connection, &server.shutdown, peer, first_head).await;
    }
}

/// Runs a connection until it ends; on shutdown, lets the requests in flight finish (streams
/// end on the same token) and accepts no new ones. `first_head`: a deadline, and whether a
/// request has reached the router by then; if not, the connection is dropped.
async fn drive<C>(
    connection: C,
    shutdown: &CancellationToken,
    peer: SocketAddr,
    first_head: Option<(tokio::time::Instant, Arc<AtomicBool>)>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let mut connection = std::pin::pin!(connection);
    // The timer is boxed: this future is part of every connection hyper serves (TLS and
    // HTTP/2 streams too), which should not carry a timer they do not use.
    let first_head_late = async {
        match first_head {
            Some((by, seen)) => {
                Box::pin(tokio::time::sleep_until(by)).await;
                if seen.load(Ordering::Acquire) {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::trace!(error = %e, %peer, "connection ended with an error");
            }
            return;
        }
        _ = first_head_late => {
            tracing::debug!(%peer, "no request within the head timeout of accept; closing");
            return;
        }
        _ = shutdown.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A request head longer than [`crate::direct`] parses goes on to hyper, whose own head
    /// timeout starts when it gets the connection: a client that dribbles that much head for
    /// almost the whole timeout must not get a second one.
    #[tokio::test(start_paused = true)]
    async fn a_long_head_dribbled_in_is_cut_one_head_timeout_after_accept() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server {
            router: Router::new(),
            tls: None,
            options: SocketOptions::default(),
            shutdown: CancellationToken::new(),
            grace: Duration::from_secs(1),
        };
        let shutdown = server.shutdown.clone();
        let running = tokio::spawn(server.run(vec![listener]));
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let accepted = tokio::time::Instant::now();
        tcp.write_all(b"GET /api/stats HTTP/1.1\r\nX-Long: ")
            .await
            .unwrap();
        // 9 KiB of one header value, 32 bytes every 100 ms: 28.8 s, never the head's end.
        for _ in 0..288 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tcp.write_all(&[b'a'; 32]).await.unwrap();
        }
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
        let closed_after = accepted.elapsed();
        assert!(
            closed_after <= Duration::from_secs(31),
            "closed {closed_after:?} after accept, not one head timeout (30 s)"
        );
        shutdown.cancel();
        running.await.unwrap().unwrap();
    }
}
