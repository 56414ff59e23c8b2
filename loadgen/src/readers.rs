//! The streams' readers: a few plain threads, one `epoll` each over its share of the streams,
//! reading every socket that has data until it would block and handing each frame to the
//! stream's [`Watch`].
//!
//! The load generator shares the machine's cores with the server under test, so whatever it
//! spends per receipt is spent between the server's sends, and shows in the server's figures.
//! Through a tokio task per stream (up to 0.11), each receipt also cost a wake-up, a trip
//! through the run queue and the poll of a future of a few KiB, 10,000 of them. The same server
//! build measured 50.5-65.0 ms of CPU per event to 10,000 streams with those readers and
//! 43.5-49.5 ms with these, fan-out p99 at the socket 48.2-65.4 ms against 43.3-52.5 ms (the
//! two load generators alternated, 2 cores, see `loadgen/README.md`). Clients on other
//! machines, as in production, cost the server's cores nothing at all; these come closer. The
//! kernel's work to receive each segment still runs on the server's side of the loopback.
//!
//! For the same reason they can send their streams' TCP ACKs themselves ([`Acks`]).

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::sse::{recv_stamped, Decoder, Frame, SseStream};

/// What a stream waits for, fed its frames in order.
pub trait Watch: Send + 'static {
    /// Takes the stream's next frame.
    fn frame(&mut self, frame: Frame);
    /// Whether the stream has seen everything it waits for (it is read no more).
    fn done(&self) -> bool;
}

/// Who sends a stream's TCP ACKs.
///
/// On loopback the receiving socket's TCP input runs inside the sender's `send`. After an idle
/// spell longer than its retransmission timeout (every event, at one a second), Linux puts the
/// receiving socket in quick-ACK mode and ACKs the segment at once, from that same input: the
/// ACK's transmission and the server socket's processing of it then also run inside the
/// server's `send`, which pays for both ends of the connection. A client on another machine
/// costs the server the ACK's input alone.
///
/// `Kernel` stays the default, measured: with `Reader` the ACK's work moves to the readers but
/// costs them more than it cost the server (the server's socket is cold by the time its ACK
/// comes in, on the other core), the readers fall behind, and the delayed-ACK timer sends the
/// ACKs of the streams they reach last, in whatever process it interrupts. At 10,000 streams,
/// alternated on 2 cores: server CPU per event 44-56 ms either way, the readers' 56-62.5 ms
/// against 37.5-45.5, fan-out p99 at the socket 50-57 ms against 42-56. At 50,000 streams (3
/// replicas, one run each) p99 at the socket 282 ms against 259 ms, and once, in a slow spell
/// of the machine, 310 ms against 1.26 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Acks {
    /// Linux's choice: after each idle second, at once, inside the server's `send`.
    Kernel,
    /// The reader, right after it has read: the socket stays in delayed-ACK mode
    /// (`TCP_QUICKACK` 0), and the reader sends the ACK it owes once the data is read
    /// (`TCP_QUICKACK` 1, which sends it, then 0 again). Two `setsockopt`s per receipt, in the
    /// reader's time, as on a client machine.
    Reader,
}

impl Acks {
    /// After reading what the socket had (the response head and whatever came with it, at
    /// first): sends the ACK owed for it, if any, and puts the socket back in delayed-ACK mode,
    /// so that the next segment's ACK waits for its reader too.
    fn after_read(self, fd: RawFd) -> io::Result<()> {
        match self {
            Self::Reader => {
                set_quickack(fd, true)?;
                set_quickack(fd, false)
            }
            Self::Kernel => Ok(()),
        }
    }
}

/// `TCP_QUICKACK`: `true` sends a pending ACK now and leaves delayed-ACK mode, `false` enters it
/// (Linux keeps neither setting for good: a delayed ACK whose timer fires leaves the mode).
fn set_quickack(fd: RawFd, quick: bool) -> io::Result<()> {
    let value = libc::c_int::from(quick);
    // SAFETY: `value` is a live `c_int` for the call, its size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A stream after reading: its watch, how reading ended, and the socket, still open (the
/// server keeps counting the stream until it is dropped).
pub struct Read<W> {
    pub watch: W,
    pub result: io::Result<()>,
    pub socket: TcpStream,
}

/// The reader threads.
pub struct Readers<W> {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Read<W>>>>,
}

/// How long a reader waits in `epoll_wait` before it looks at the stop flag again.
const STOP_CHECK_MS: i32 = 100;

/// Readiness events taken per `epoll_wait`.
const EVENTS: usize = 1024;

impl<W: Watch> Readers<W> {
    /// Starts `threads` readers (at least one), stream i read by thread i mod `threads`; each
    /// thread runs `on_start` first (its niceness, its scheduling class).
    pub fn start(
        streams: Vec<(SseStream, W)>,
        threads: usize,
        acks: Acks,
        on_start: Arc<dyn Fn() + Send + Sync>,
    ) -> io::Result<Self> {
        let threads = threads.max(1);
        let mut shares: Vec<Vec<Entry<W>>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, (stream, watch)) in streams.into_iter().enumerate() {
            let (socket, decoder) = stream.into_parts()?;
            shares[i % threads].push(Entry {
                socket,
                decoder,
                watch,
                result: None,
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(threads);
        for (i, share) in shares.into_iter().enumerate() {
            let thread_stop = Arc::clone(&stop);
            let on_start = Arc::clone(&on_start);
            let spawned = std::thread::Builder::new()
                .name(format!("reader-{i}"))
                .spawn(move || {
                    on_start();
                    read(share, acks, &thread_stop)
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(Self {
            stop,
            threads: handles,
        })
    }

    /// Every stream once all are done, failed or closed, or `Err` after `timeout` (the readers
    /// are stopped then).
    pub async fn finish(mut self, timeout: Duration) -> Result<Vec<Read<W>>, &'static str> {
        let threads = std::mem::take(&mut self.threads);
        let joined = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            for thread in threads {
                // A frame that panics fails its own stream (see `guarded`); a thread that
                // panics anyway took its streams with it, and the run cannot count them.
                all.extend(thread.join().map_err(|_| "a reader thread panicked")?);
            }
            Ok(all)
        });
        match tokio::time::timeout(timeout, joined).await {
            Ok(Ok(all)) => all,
            Ok(Err(_)) => Err("a reader thread panicked"),
            Err(_) => Err("timed out waiting for streams to receive every event"),
        }
        // Dropped here: the threads are told to stop, if they have not.
    }
}

impl<W> Drop for Readers<W> {
    /// Readers left behind (an error before `finish`, a timeout) stop within [`STOP_CHECK_MS`].
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One stream in its reader.
struct Entry<W> {
    socket: TcpStream,
    decoder: Decoder,
    watch: W,
    /// `None` while it is read.
    result: Option<io::Result<()>>,
}

impl<W: Watch> Entry<W> {
    /// Hands over every whole frame the decoder holds; `Some` once reading this stream is over.
    fn frames(&mut self) -> Option<io::Result<()>> {
        loop {
            if self.watch.done() {
                return Some(Ok(()));
            }
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.watch.frame(frame),
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Reads what the socket has (or until reading is over). `closing`: the readiness says the
    /// peer closed or the socket failed, so it is read until it says so itself.
    fn read_all(
        &mut self,
        fd: RawFd,
        scratch: &mut [u8],
        closing: bool,
        acks: Acks,
    ) -> Option<io::Result<()>> {
        let caught_up = |acks: Acks| acks.after_read(fd).err().map(Err);
        loop {
            match recv_stamped(fd, scratch) {
                // The peer closed: the stream has failed, and what is left to ACK (its last
                // data, the FIN) is left to the kernel's timer.
                Ok((0, _)) => return Some(Err(io::ErrorKind::UnexpectedEof.into())),
                Ok((n, stamp)) => {
                    self.decoder.push(&scratch[..n], stamp);
                    if let Some(end) = self.frames() {
                        // Read no more, but what was read is ACKed like the rest (a stream
                        // that got all it waited for is complete whatever that says).
                        let _ = acks.after_read(fd);
                        return Some(end);
                    }
                    // A TCP read shorter than the buffer took all the data queued, and data
                    // that comes after it is a new edge: no second `recvmsg` just to hear
                    // EAGAIN (a syscall per receipt, on the server's cores). Not so for a FIN
                    // that came with the data: its edge is this one (`closing`).
                    if n < scratch.len() && !closing {
                        return caught_up(acks);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return caught_up(acks),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// A reader thread: its streams, read as they have data, until each is over or `stop`.
fn read<W: Watch>(mut entries: Vec<Entry<W>>, acks: Acks, stop: &AtomicBool) -> Vec<Read<W>> {
    let mut open = 0;
    match Epoll::new() {
        Ok(epoll) => {
            for (i, entry) in entries.iter_mut().enumerate() {
                // Frames read with the response head, or a stream that waits for nothing.
                let fd = entry.socket.as_raw_fd();
                entry.result = match acks.after_read(fd) {
                    Ok(()) => guarded(|| entry.frames()),
                    Err(e) => Some(Err(e)),
                };
                if entry.result.is_none() {
                    match epoll.add(fd, i as u64) {
                        Ok(()) => open += 1,
                        Err(e) => entry.result = Some(Err(e)),
                    }
                }
            }
            let mut scratch = [0u8; 4096];
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
            while open > 0 && !stop.load(Ordering::Relaxed) {
                let ready = match epoll.wait(&mut events, STOP_CHECK_MS) {
                    Ok(ready) => ready,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        for entry in entries.iter_mut().filter(|e| e.result.is_none()) {
                            entry.result = Some(Err(io::Error::new(e.kind(), e.to_string())));
                        }
                        break;
                    }
                };
                for event in &events[..ready] {
                    let Some(entry) = entries.get_mut(event.u64 as usize) else {
                        continue;
                    };
                    if entry.result.is_some() {
                        continue;
                    }
                    let fd = entry.socket.as_raw_fd();
                    let closing = event.events
                        & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32
                        != 0;
                    if let Some(end) = guarded(|| entry.read_all(fd, &mut scratch, closing, acks)) {
                        entry.result = Some(end);
                        // Read no more; the socket stays open until the run is over.
                        let _ = epoll.delete(fd);
                        open -= 1;
                    }
                }
            }
        }
        Err(e) => {
            for entry in &mut entries {
                entry.result = Some(Err(io::Error::new(e.kind(), e.to_string())));
            }
        }
    }
    entries
        .into_iter()
        .map(|entry| Read {
            result: entry
                .result
                .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into())),
            watch: entry.watch,
            socket: entry.socket,
        })
        .collect()
}

/// Runs one stream's reading; a panic in it (its `Watch`, the decoder) fails that stream alone,
/// whose socket stays open like the others', instead of the thread and all its streams.
fn guarded(read: impl FnOnce() -> Option<io::Result<()>>) -> Option<io::Result<()>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Some(Err(io::Error::other("reading the stream panicked"))))
}

/// An `epoll` instance, closed on drop.
struct Epoll(RawFd);

impl Epoll {
    fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(fd))
    }

    /// Watches `fd` for data (edge-triggered: each readiness is read until it would block).
    fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `fd` is an open socket, `event` a live `epoll_event`.
        let r = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut event) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: a null event is allowed for `EPOLL_CTL_DEL` (Linux 2.6.9 and later).
        let r = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout_ms` for readiness; how many of `events` were filled.
    fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        let max = i32::try_from(events.len()).unwrap_or(i32::MAX);
        // SAFETY: `events` is a live, writable buffer of at least `max` entries.
        let n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), max, timeout_ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: the fd is this instance's own, closed once.
        unsafe { libc::close(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{SocketAddr, TcpListener};
    use std::sync::mpsc;

    /// Counts device frames; done after `wants`; panics at frame `panic_at` if there is one.
    struct Count {
        wants: usize,
        seen: Vec<String>,
        panic_at: Option<usize>,
    }

    impl Count {
        fn wanting(wants: usize) -> Self {
            Self {
                wants,
                seen: Vec::new(),
                panic_at: None,
            }
        }
    }

    impl Watch for Count {
        fn frame(&mut self, frame: Frame) {
            if frame.event.starts_with("device-") {
                assert_ne!(Some(self.seen.len()), self.panic_at, "a watch that panics");
                self.seen.push(frame.data);
            }
        }

        fn done(&self) -> bool {
            self.seen.len() >= self.wants
        }
    }

    fn chunk(data: &str) -> Vec<u8> {
        format!("{:x}\r\n{data}\r\n", data.len()).into_bytes()
    }

    /// A test server (see [`serve`]).
    struct TestServer {
        addr: SocketAddr,
        /// The server writes its frames once told to (or once this is dropped), so that they
        /// reach the readers rather than the connects.
        go: mpsc::Sender<()>,
        /// Its sockets stay open until this is dropped (the test's end).
        _hold: mpsc::Sender<()>,
        /// Told once every segment it sent has been ACKed (the frames of the stream it closed
        /// aside).
        acked: mpsc::Receiver<()>,
    }

    /// A TCP-level option of `socket` (`IPPROTO_TCP`), read into a `T` that starts all-zero.
    fn tcp_option<T>(socket: &TcpStream, name: libc::c_int) -> T {
        // SAFETY: the `T`s read here (`c_int`, `tcp_info`) are valid all-zero.
        let mut value: T = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: `value` and `len` are live for the call, `len` the size of `value`.
        let r = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                name,
                (&mut value as *mut T).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        value
    }

    /// Segments a socket has sent that its peer has not ACKed yet (`TCP_INFO`).
    fn unacked(socket: &TcpStream) -> u32 {
        tcp_option::<libc::tcp_info>(socket, libc::TCP_INFO).tcpi_unacked
    }

    /// Waits until the peer has ACKed all `socket` sent; `false` if that takes over `limit`.
    fn acked_within(socket: &TcpStream, limit: Duration) -> bool {
        let since = std::time::Instant::now();
        while unacked(socket) > 0 {
            if since.elapsed() > limit {
                return false;
            }
            // The kernel tells no one when an ACK comes in: the condition is polled.
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    /// A server that answers every stream with 200 and then `frames` device events, each
    /// written on its own; the connection named `closes` (by accept order) is closed after
    /// the first event. `paced`: a stream's next event is written once its last is ACKed, so
    /// that each comes in a segment of its own, as the benchmark's events a second apart do.
    fn serve(streams: usize, frames: usize, closes: usize, paced: bool) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (hold, until) = mpsc::channel::<()>();
        let (all_acked, acked) = mpsc::channel::<()>();
        let (go, told) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for i in 0..streams {
                let (mut tcp, _) = listener.accept().unwrap();
                // The whole request, so that closing the socket later sends a FIN, not a RST.
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if std::io::Read::read(&mut tcp, &mut byte).unwrap() == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    .unwrap();
                held.push((i, tcp));
            }
            let _ = told.recv();
            for k in 0..frames {
                for (i, tcp) in &mut held {
                    if *i == closes && k > 0 {
                        continue;
                    }
                    if paced && !acked_within(tcp, Duration::from_secs(10)) {
                        return;
                    }
                    let frame = format!("event: device-online\ndata: {{\"n\":{k}}}\n\n");
                    let _ = tcp.write_all(&chunk(&frame));
                }
                held.retain(|(i, _)| *i != closes);
            }
            if held
                .iter()
                .all(|(_, tcp)| acked_within(tcp, Duration::from_secs(10)))
            {
                let _ = all_acked.send(());
            }
            // Held open until the test is over (its sender dropped).
            let _ = until.recv();
        });
        TestServer {
            addr,
            go,
            _hold: hold,
            acked,
        }
    }

    async fn connect(addr: SocketAddr) -> SseStream {
        tokio::time::timeout(
            Duration::from_secs(10),
            SseStream::connect(addr, None, "/api/events"),
        )
        .await
        .expect("the test server answers")
        .expect("a stream")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_stream_gets_every_frame_and_a_closed_one_is_an_error() {
        let (streams, frames, closes) = (40, 25, 7);
        let server = serve(streams, frames, closes, false);
        let mut watched = Vec::new();
        for i in 0..streams {
            let mut watch = Count::wanting(frames);
            // Stream 11's watch panics at its fourth frame: that stream alone fails.
            if i == 11 {
                watch.panic_at = Some(3);
            }
            watched.push((connect(server.addr).await, watch));
        }
        // One more that waits for nothing: done before it is read.
        let idle_server = serve(1, 0, usize::MAX, false);
        let idle = connect(idle_server.addr).await;
        watched.push((idle, Count::wanting(0)));
        let readers = Readers::start(watched, 3, Acks::Reader, Arc::new(|| {})).unwrap();
        server.go.send(()).unwrap();
        let all = readers.finish(Duration::from_secs(20)).await.unwrap();
        assert_eq!(
            all.len(),
            streams + 1,
            "every stream comes back, failed or not"
        );
        let failed: Vec<_> = all.iter().filter(|r| r.result.is_err()).collect();
        assert_eq!(
            failed.len(),
            2,
            "the stream the server closed, the one that panicked"
        );
        let closed = failed.iter().find(|r| r.watch.panic_at.is_none()).unwrap();
        assert_eq!(closed.watch.seen.len(), 1);
        let error = closed.result.as_ref().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let panicked = failed.iter().find(|r| r.watch.panic_at.is_some()).unwrap();
        assert_eq!(panicked.watch.seen.len(), 3);
        let error = panicked.result.as_ref().unwrap_err().to_string();
        assert!(error.contains("panicked"), "{error}");
        for read in all.iter().filter(|r| r.result.is_ok() && r.watch.wants > 0) {
            let expected: Vec<_> = (0..frames).map(|k| format!("{{\"n\":{k}}}")).collect();
            assert_eq!(read.watch.seen, expected, "in order, none missing");
        }
    }

    /// Linux's own view of a socket's ACK mode: `TCP_QUICKACK` reads 0 in delayed-ACK mode.
    fn quickack(socket: &TcpStream) -> libc::c_int {
        tcp_option(socket, libc::TCP_QUICKACK)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acks_by_the_reader_keep_every_socket_in_delayed_ack_mode_across_reads() {
        // Each read's ACK leaves delayed-ACK mode for a moment (`TCP_QUICKACK` 1); a reader
        // that did not go back to it would leave the next event's ACK to the server's `send`.
        // (With `Acks::Kernel` the mode is whatever the connection's timing made it.)
        // An ACK the reader's calls (its reads, its `TCP_QUICKACK`s) did not send is sent by
        // the delayed-ACK timer, which also takes the socket out of that mode: so once the
        // server has every ACK, a socket still in it had all its ACKs sent in its reader's
        // time. (Which of the reader's calls sent one, the test cannot choose: a young
        // connection's reads also ACK to open its window.)
        let (streams, frames) = (8, 12);
        let server = serve(streams, frames, usize::MAX, true);
        let mut watched = Vec::new();
        for _ in 0..streams {
            watched.push((connect(server.addr).await, Count::wanting(frames)));
        }
        let readers = Readers::start(watched, 2, Acks::Reader, Arc::new(|| {})).unwrap();
        server.go.send(()).unwrap();
        let all = readers.finish(Duration::from_secs(20)).await.unwrap();
        assert_eq!(all.len(), streams);
        server
            .acked
            .recv_timeout(Duration::from_secs(20))
            .expect("the server sees every segment ACKed");
        for read in &all {
            assert!(read.result.is_ok(), "{:?}", read.result);
            assert_eq!(read.watch.seen.len(), frames);
            assert_eq!(quickack(&read.socket), 0, "still in delayed-ACK mode");
        }
    }

    #[tokio::test]
    async fn a_reader_that_waits_too_long_is_stopped_and_says_so() {
        let server = serve(1, 1, usize::MAX, false);
        let stream = connect(server.addr).await;
        let readers = Readers::start(
            vec![(stream, Count::wanting(2))],
            1,
            Acks::Reader,
            Arc::new(|| {}),
        );
        server.go.send(()).unwrap();
        let timed_out = readers.unwrap().finish(Duration::from_millis(300)).await;
        let error = timed_out.err().expect("one of two events never comes");
        assert!(error.contains("timed out"), "{error}");
    }
}
