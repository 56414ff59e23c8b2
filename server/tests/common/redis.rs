//! A real `redis-server` (Debian's, installed by `scripts/setup`) for one test: on a Unix socket
//! in a directory of its own (no port to collide on), without persistence, stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    child: Option<Child>,
    dir: PathBuf,
    password: Option<String>,
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
        };
        server.launch();
        server
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The `--bus` URL of this server.
    pub fn url(&self) -> String {
        self.url_with_password(self.password.as_deref())
    }

    pub fn url_with_password(&self, password: Option<&str>) -> String {
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
        let child = cmd.spawn().expect(
            "redis-server is not installed: run scripts/setup (Debian package redis-server)",
        );
        self.child = Some(child);
        let deadline = std::time::Instant::now() + super::DEADLINE;
        while !self.socket().exists() {
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
