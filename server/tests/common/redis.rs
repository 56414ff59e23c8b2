//! A real `redis-server` (Debian's, installed by `scripts/setup`) for one test: on a Unix socket
//! in a directory of its own (no port to collide on), without persistence, stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    child: Option<Child>,
    dir: PathBuf,
    password: Option<String>,
    /// With TLS: the port (TLS only, no Unix socket) and the CA file that signed its certificate.
    tls: Option<(u16, PathBuf)>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with_password(None)
    }

    pub fn start_with_password(password: Option<&str>) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tabrelay-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            child: None,
            dir,
            password: password.map(str::to_owned),
            tls: None,
        };
        server.launch();
        server
    }

    /// A server that speaks only TLS, with a certificate for `localhost` from a CA of its own
    /// (made with the `openssl` command); [`RedisServer::ca_file`] is that CA.
    pub fn start_tls() -> Self {
        let mut server = Self::start_with_password(None);
        server.stop();
        let ca = server.dir.join("ca.pem");
        // A CA, and a certificate for localhost signed by it (webpki refuses a self-signed
        // certificate used as the server's own).
        let dir = server.dir.display().to_string();
        let script = format!(
            "set -e; cd {dir}
             openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=tabrelay-test-ca \
               -keyout ca.key -out ca.pem
             openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout redis.key -out redis.csr
             printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
             openssl x509 -req -in redis.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
               -extfile san.ext -out redis.pem"
        );
        let status = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("sh and the openssl command (Debian package openssl)");
        assert!(status.success(), "openssl could not make the certificates");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        server.tls = Some((port, ca));
        server.launch();
        server
    }

    /// The CA of a [`RedisServer::start_tls`] server.
    pub fn ca_file(&self) -> PathBuf {
        self.tls.as_ref().expect("a TLS server").1.clone()
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The `--bus` URL of this server.
    pub fn url(&self) -> String {
        self.url_with_password(self.password.as_deref())
    }

    pub fn url_with_password(&self, password: Option<&str>) -> String {
        if let Some((port, _)) = &self.tls {
            return format!("rediss://localhost:{port}");
        }
        let socket = self.socket();
        match password {
            // redis-rs reads the password of a unix URL from the query.
            Some(p) => format!("redis+unix://{}?pass={p}", socket.display()),
            None => format!("redis+unix://{}", socket.display()),
        }
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &self.password {
            cmd.args(["--requirepass", p]);
        }
        if let Some((port, _)) = &self.tls {
            cmd.args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(self.dir.join("redis.pem"))
                .arg("--tls-key-file")
                .arg(self.dir.join("redis.key"));
        }
        let child = cmd.spawn().expect(
            "redis-server is not installed: run scripts/setup (Debian package redis-server)",
        );
        self.child = Some(child);
        let deadline = std::time::Instant::now() + super::DEADLINE;
        let listening = |s: &Self| match &s.tls {
            Some((port, _)) => std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
            None => s.socket().exists(),
        };
        while !listening(self) {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server (its data is gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Stops it and starts an empty one on the same socket.
    pub fn restart_empty(&mut self) {
        self.stop();
        self.launch();
    }

    /// A plain client of this server, for looking at keys.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
