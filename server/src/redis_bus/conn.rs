//! One Redis connection per job (publishing, the log's tail, the count), opened on first use
//! and opened again after any failure, so a Redis that went away and came back is picked up by
//! the next command without a restart.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::Mutex;

use super::url::{BusUrl, CaFile};

pub struct LazyConnection {
    client: Client,
    url: BusUrl,
    config: AsyncConnectionConfig,
    slot: Mutex<Option<MultiplexedConnection>>,
}

impl LazyConnection {
    /// `response_timeout`: how long a command may take before the connection is given up
    /// (redis-rs' default of 500 ms would turn a blocking `XREAD` into an error).
    pub fn new(
        url: &BusUrl,
        ca: Option<&CaFile>,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        // The URL was checked when the config was parsed (and the CA file read).
        let client = match ca.filter(|_| url.is_tls()) {
            Some(ca) => Client::build_with_tls(
                url.expose(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.pem().to_vec()),
                },
            ),
            None => Client::open(url.expose()),
        }
        .expect("a URL BusUrl::parse accepted");
        Self {
            client,
            url: url.clone(),
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(response_timeout)),
            slot: Mutex::new(None),
        }
    }

    /// The open connection, or a new one.
    pub async fn get(&self) -> Result<MultiplexedConnection, String> {
        Ok(self.get_noting_reuse().await?.0)
    }

    /// Runs `command` on the connection. When a connection kept from before finds its socket
    /// gone (Redis restarted since), the command runs once more on a new connection, instead of
    /// failing the first request after every outage.
    pub async fn run<T, F, Fut>(&self, command: F) -> Result<T, String>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let (conn, reused) = self.get_noting_reuse().await?;
        match command(conn).await {
            Ok(value) => Ok(value),
            Err(e) if reused && e.is_connection_dropped() => {
                self.failed(&e).await;
                let conn = self.get().await?;
                match command(conn).await {
                    Ok(value) => Ok(value),
                    Err(e) => Err(self.failed(&e).await),
                }
            }
            Err(e) => Err(self.failed(&e).await),
        }
    }

    async fn get_noting_reuse(&self) -> Result<(MultiplexedConnection, bool), String> {
        let mut slot = self.slot.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok((conn.clone(), true));
        }
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|e| self.describe(&e))?;
        *slot = Some(conn.clone());
        Ok((conn, false))
    }

    /// Forgets the connection after `error` (the next [`LazyConnection::get`] opens another),
    /// and returns the error as text without the password.
    pub async fn failed(&self, error: &RedisError) -> String {
        // A script's own error (a bug, or a Redis too old) leaves the connection usable.
        if error.kind() != redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) {
            *self.slot.lock().await = None;
        }
        self.describe(error)
    }

    /// For pub/sub, which needs a connection of its own.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn describe(&self, error: &RedisError) -> String {
        self.url.scrub(&format!("Redis at {}: {error}", self.url))
    }
}
