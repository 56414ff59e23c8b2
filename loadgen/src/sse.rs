//! A minimal SSE client over a raw TCP socket: one HTTP/1.1 request, a chunked-body decoder and
//! an SSE frame splitter. Lighter than a full HTTP client, which matters at 10,000 streams in
//! the same machine as the server under test.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One SSE event as seen on the wire.
#[derive(Debug, Default)]
pub struct Frame {
    pub event: String,
    pub id: Option<u64>,
    pub data: String,
}

pub struct SseStream {
    tcp: TcpStream,
    buf: Vec<u8>,
    /// Decoded body bytes not yet split into frames.
    body: Vec<u8>,
    /// Bytes left in the current chunk (`None`: a chunk-size line comes next).
    chunk_left: Option<usize>,
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
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut s = Self {
            tcp,
            buf: Vec::with_capacity(2048),
            body: Vec::new(),
            chunk_left: None,
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
        let n = self.tcp.read(&mut tmp).await?;
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
                let mut frame = Frame::default();
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
