//! A minimal SSE client over a raw TCP socket: one HTTP/1.1 request, a chunked-body decoder and
//! an SSE frame splitter. Lighter than a full HTTP client, which matters at 10,000 streams in
//! the same machine as the server under test.

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
fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> std::io::Result<(usize, Option<u64>)> {
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

pub struct SseStream {
    tcp: TcpStream,
    buf: Vec<u8>,
    /// Decoded body bytes not yet split into frames.
    body: Vec<u8>,
    /// Bytes left in the current chunk (`None`: a chunk-size line comes next).
    chunk_left: Option<usize>,
    /// The kernel's receive time of the last read's last segment.
    arrived_ns: Option<u64>,
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
        let mut s = Self {
            tcp,
            buf: Vec::with_capacity(2048),
            body: Vec::new(),
            chunk_left: None,
            arrived_ns: None,
        };
        // Response headers.
        let end = loop {
            if let Some(pos) = s.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            s.fill().await?;
        };
        let head = String::from_utf8_lossy(&s.buf[..end]).to_string();
        if !head.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!(
                "stream refused: {}",
                head.lines().next().unwrap_or("")
            )));
        }
        s.buf.drain(..end);
        Ok(s)
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut tmp = [0u8; 4096];
        let fd = self.tcp.as_raw_fd();
        let (n, stamp) = loop {
            self.tcp.readable().await?;
            match self
                .tcp
                .try_io(Interest::READABLE, || recv_stamped(fd, &mut tmp))
            {
                Ok(got) => break got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        };
        if stamp.is_some() {
            self.arrived_ns = stamp;
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }

    /// Moves whatever complete chunk data `buf` holds into `body`.
    fn decode_chunks(&mut self) -> std::io::Result<()> {
        loop {
            match self.chunk_left {
                None => {
                    let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") else {
                        return Ok(());
                    };
                    let line =
                        std::str::from_utf8(&self.buf[..pos]).map_err(std::io::Error::other)?;
                    let size =
                        usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                            .map_err(|_| {
                                std::io::Error::other(format!("bad chunk size {line:?}"))
                            })?;
                    if size == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    self.buf.drain(..pos + 2);
                    self.chunk_left = Some(size);
                }
                Some(0) => {
                    // The CRLF after a chunk's data.
                    if self.buf.len() < 2 {
                        return Ok(());
                    }
                    self.buf.drain(..2);
                    self.chunk_left = None;
                }
                Some(left) => {
                    let take = self.buf.len().min(left);
                    if take == 0 {
                        return Ok(());
                    }
                    self.body.extend_from_slice(&self.buf[..take]);
                    self.buf.drain(..take);
                    self.chunk_left = Some(left - take);
                }
            }
        }
    }

    /// The next complete SSE frame (comments skipped).
    pub async fn next(&mut self) -> std::io::Result<Frame> {
        loop {
            if let Some(pos) = self.body.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.body.drain(..pos + 2).collect();
                let text = String::from_utf8_lossy(&raw[..pos]);
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
                    return Ok(frame);
                }
                continue;
            }
            self.fill().await?;
            self.decode_chunks()?;
        }
    }
}
