//! A minimal SSE client over a raw TCP socket: one HTTP/1.1 request ([`SseStream::connect`]),
//! then a chunked-body decoder and SSE frame splitter that does no I/O ([`Decoder`]), fed by
//! whoever reads the socket ([`crate::readers`]). Lighter than a full HTTP client, which
//! matters at 10,000 streams in the same machine as the server under test.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::{TcpSocket, TcpStream};

/// `SO_TIMESTAMPNS` / `SCM_TIMESTAMPNS` (the same number) on x86-64 and arm64 Linux: the kernel
/// stamps each received segment with the wall clock when it reaches the network stack, and
/// hands the last one a `recvmsg` consumed over as a control message (TCP: `tcp_recv_timestamp`).
const SO_TIMESTAMPNS: libc::c_int = 35;

/// Asks the kernel for receive timestamps on `fd` (`SO_TIMESTAMPNS`).
fn enable_timestamps(fd: RawFd) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `fd` is an open socket; the option value is a live `c_int` of the given size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_TIMESTAMPNS,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One non-blocking `recvmsg` into `buf`: the bytes read and the kernel's receive time of the
/// last segment they came from (nanoseconds since the Unix epoch), if it gave one.
pub(crate) fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> std::io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a `timespec` control message, 8-byte aligned.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero `msghdr` is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at `iov` (over `buf`) and `control`, all alive for the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the kernel filled `msg_control` / `msg_controllen`; the CMSG macros walk it
    // within those bounds, and a `SCM_TIMESTAMPNS` message carries one `timespec`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

/// One SSE event as seen on the wire.
#[derive(Debug, Default)]
pub struct Frame {
    pub event: String,
    pub id: Option<u64>,
    pub data: String,
    /// When the kernel received the last TCP segment of the read that completed this frame
    /// (wall clock, nanoseconds since the Unix epoch; `None`: no timestamp came with it).
    pub arrived_ns: Option<u64>,
}

/// The bytes of one stream after its response head: chunks decoded, frames split. Each read is
/// decoded in place and compacted once, and a frame is parsed where it lies: the readers run
/// on the server's cores, so what they spend per receipt shows in the server's figures.
#[derive(Default)]
pub struct Decoder {
    /// Bytes read and not yet decoded.
    buf: Vec<u8>,
    /// Decoded body bytes; those before `body_at` are split into frames already.
    body: Vec<u8>,
    body_at: usize,
    /// Bytes left in the current chunk (`None`: a chunk-size line comes next).
    chunk_left: Option<usize>,
    /// The kernel's receive time of the last read's last segment.
    arrived_ns: Option<u64>,
}

impl Decoder {
    /// Takes what one read got, and the receive time the kernel gave with it.
    pub fn push(&mut self, bytes: &[u8], stamp: Option<u64>) {
        if stamp.is_some() {
            self.arrived_ns = stamp;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Moves whatever complete chunk data `buf` holds into `body`.
    fn decode_chunks(&mut self) -> std::io::Result<()> {
        let mut at = 0;
        let result = loop {
            match self.chunk_left {
                None => {
                    let Some(pos) = find_pair(&self.buf[at..], b'\r', b'\n') else {
                        break Ok(());
                    };
                    let line = &self.buf[at..at + pos];
                    let size = std::str::from_utf8(line)
                        .ok()
                        .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
                    match size {
                        Some(0) => break Err(std::io::ErrorKind::UnexpectedEof.into()),
                        Some(size) => self.chunk_left = Some(size),
                        None => {
                            let line = String::from_utf8_lossy(line);
                            break Err(std::io::Error::other(format!("bad chunk size {line:?}")));
                        }
                    }
                    at += pos + 2;
                }
                Some(0) => {
                    // The CRLF after a chunk's data.
                    if self.buf.len() - at < 2 {
                        break Ok(());
                    }
                    at += 2;
                    self.chunk_left = None;
                }
                Some(left) => {
                    let take = (self.buf.len() - at).min(left);
                    if take == 0 {
                        break Ok(());
                    }
                    self.body.extend_from_slice(&self.buf[at..at + take]);
                    at += take;
                    self.chunk_left = Some(left - take);
                }
            }
        };
        drain_front(&mut self.buf, at);
        result
    }

    /// The next complete SSE frame in what was pushed (comments skipped), if there is one.
    pub fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        self.decode_chunks()?;
        while let Some(pos) = find_pair(&self.body[self.body_at..], b'\n', b'\n') {
            let raw = &self.body[self.body_at..self.body_at + pos];
            self.body_at += pos + 2;
            let text = std::str::from_utf8(raw)
                .map_err(|e| std::io::Error::other(format!("a frame that is not UTF-8: {e}")))?;
            let mut frame = Frame {
                arrived_ns: self.arrived_ns,
                ..Frame::default()
            };
            let mut any = false;
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    frame.event = v.to_owned();
                    any = true;
                } else if let Some(v) = line.strip_prefix("id: ") {
                    frame.id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    frame.data = v.to_owned();
                }
            }
            if any {
                return Ok(Some(frame));
            }
        }
        drain_front(&mut self.body, self.body_at);
        self.body_at = 0;
        Ok(None)
    }
}

/// Drops the first `n` bytes of `bytes`. When that is all of them the allocation goes too: a
/// stream is read once a second, and by then its own buffer has left the caches, where the
/// allocator's next block of that size is one another stream has just freed (writing into the
/// cold one was the readers' largest single cost: 15 % of their CPU at 10,000 streams).
fn drain_front(bytes: &mut Vec<u8>, n: usize) {
    if n >= bytes.len() {
        *bytes = Vec::new();
    } else {
        bytes.drain(..n);
    }
}

/// Where the two-byte sequence `a b` first starts in `hay`. (`memmem::find` builds a searcher
/// on every call, which costs more than the search over a frame or two.)
fn find_pair(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(a, &hay[from..]) {
        let at = from + i;
        if hay.get(at + 1) == Some(&b) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

impl Frame {
    /// Which of the counters of `frames received` this frame goes to: 0 a device event, 1 a
    /// `stats` event, 2 anything else.
    pub fn kind(&self) -> usize {
        match self.event.as_str() {
            e if e.starts_with("device-") => 0,
            "stats" => 1,
            _ => 2,
        }
    }
}

/// A stream whose request was answered with 200: its socket and what was read past the head.
pub struct SseStream {
    tcp: TcpStream,
    decoder: Decoder,
}

impl SseStream {
    /// `source`: the local address to connect from (loopback allows ~28k ephemeral ports per
    /// source address and destination; several sources go beyond). `None`: the kernel's pick.
    pub async fn connect(
        addr: SocketAddr,
        source: Option<IpAddr>,
        path: &str,
    ) -> std::io::Result<Self> {
        let mut tcp = match source {
            None => TcpStream::connect(addr).await?,
            Some(ip) => {
                let socket = TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await?
            }
        };
        tcp.set_nodelay(true)?;
        enable_timestamps(tcp.as_raw_fd())?;
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut decoder = Decoder::default();
        // Response headers.
        let end = loop {
            if let Some(pos) = decoder.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let mut tmp = [0u8; 4096];
            let fd = tcp.as_raw_fd();
            let (n, stamp) = loop {
                tcp.readable().await?;
                match tcp.try_io(Interest::READABLE, || recv_stamped(fd, &mut tmp)) {
                    Ok(got) => break got,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            decoder.push(&tmp[..n], stamp);
        };
        let head = String::from_utf8_lossy(&decoder.buf[..end]).to_string();
        if !head.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!(
                "stream refused: {}",
                head.lines().next().unwrap_or("")
            )));
        }
        drain_front(&mut decoder.buf, end);
        Ok(Self { tcp, decoder })
    }

    /// The socket (out of the runtime, non-blocking) and the bytes already read from it.
    pub fn into_parts(self) -> std::io::Result<(std::net::TcpStream, Decoder)> {
        Ok((self.tcp.into_std()?, self.decoder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: &str) -> Vec<u8> {
        format!("{:x}\r\n{data}\r\n", data.len()).into_bytes()
    }

    #[test]
    fn frames_come_out_whole_whatever_the_reads_cut() {
        let mut wire = chunk("event: hello\ndata: {}\n\n");
        wire.extend(chunk(": keep-alive\n\n"));
        wire.extend(chunk(
            "id: 7\nevent: device-online\ndata: {\"device\":\"d\"}\n\n",
        ));
        for cut in 1..wire.len() {
            let mut decoder = Decoder::default();
            let mut frames = Vec::new();
            for (i, piece) in wire.chunks(cut).enumerate() {
                decoder.push(piece, Some(i as u64 + 1));
                while let Some(frame) = decoder.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            let names: Vec<_> = frames.iter().map(|f| f.event.as_str()).collect();
            assert_eq!(names, ["hello", "device-online"], "reads of {cut} bytes");
            assert_eq!(frames[1].id, Some(7));
            assert_eq!(frames[1].data, "{\"device\":\"d\"}");
            // Stamped by the read that brought its last byte (the chunk's CRLF comes after it).
            let last_byte = wire.len() - 3;
            assert_eq!(frames[1].arrived_ns, Some((last_byte / cut) as u64 + 1));
        }
    }

    #[test]
    fn a_pair_is_found_where_it_starts_and_nowhere_else() {
        assert_eq!(find_pair(b"\r\r\n", b'\r', b'\n'), Some(1));
        assert_eq!(find_pair(b"a\nb\n\n", b'\n', b'\n'), Some(3));
        assert_eq!(find_pair(b"\n\n", b'\n', b'\n'), Some(0));
        assert_eq!(find_pair(b"a\nb\n", b'\n', b'\n'), None);
        assert_eq!(find_pair(b"\r", b'\r', b'\n'), None);
        assert_eq!(find_pair(b"", b'\r', b'\n'), None);
    }

    #[test]
    fn the_last_chunk_ends_the_stream_and_a_bad_size_is_an_error() {
        let mut decoder = Decoder::default();
        decoder.push(b"0\r\n\r\n", None);
        let end = decoder.next_frame().unwrap_err();
        assert_eq!(end.kind(), std::io::ErrorKind::UnexpectedEof);
        let mut decoder = Decoder::default();
        decoder.push(b"zz\r\n", None);
        assert!(decoder
            .next_frame()
            .unwrap_err()
            .to_string()
            .contains("bad chunk size"));
        let mut decoder = Decoder::default();
        let data: &[u8] = b"event: x\ndata: \xff\n\n";
        let mut wire = format!("{:x}\r\n", data.len()).into_bytes();
        wire.extend_from_slice(data);
        wire.extend_from_slice(b"\r\n");
        decoder.push(&wire, None);
        assert!(decoder
            .next_frame()
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
    }
}
