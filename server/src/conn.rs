//! Counting open SSE streams exactly, and capping them.
//!
//! A [`StreamGuard`] is taken before a stream's response is returned and lives inside the
//! stream's body, so it is dropped however the stream ends: the client read to the end, closed
//! the tab, or vanished mid-write (hyper drops the body on any I/O error).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Notify;

use crate::metrics::{Metrics, RejectReason};
use wire::Mode;

pub struct Connections {
    max_total: usize,
    max_per_ip: usize,
    counts: Mutex<Counts>,
    metrics: Arc<Metrics>,
    /// Woken on every open/close; the stats coalescer waits on it.
    pub changed: Notify,
    /// Woken on every open/close as well, for the Redis bus's count reporter.
    pub reported: Notify,
}

#[derive(Default)]
struct Counts {
    open: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Holds one slot of the caps; dropping it frees the slot and updates the counters.
pub struct StreamGuard {
    conns: Arc<Connections>,
    ip: IpAddr,
    mode_gauge: Gauge,
    version_gauge: Gauge,
}

impl Connections {
    /// A cap of 0 means unlimited.
    pub fn new(max_total: usize, max_per_ip: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            max_total,
            max_per_ip,
            counts: Mutex::default(),
            metrics,
            changed: Notify::new(),
            reported: Notify::new(),
        }
    }

    /// Takes a slot for a stream from `ip`, or says which cap refused it.
    /// `version`: the label of the request's HTTP version ([`crate::metrics::http_version_label`]).
    pub fn try_open(
        self: &Arc<Self>,
        ip: IpAddr,
        mode: Mode,
        version: &'static str,
    ) -> Result<StreamGuard, RejectReason> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let reject = if self.max_total > 0 && counts.open >= self.max_total {
            Some(RejectReason::GlobalCap)
        } else if self.max_per_ip > 0
            && counts.per_ip.get(&ip).copied().unwrap_or(0) >= self.max_per_ip
        {
            Some(RejectReason::PerIpCap)
        } else {
            None
        };
        if let Some(reason) = reject {
            self.metrics.rejected(reason);
            return Err(reason);
        }
        counts.open += 1;
        *counts.per_ip.entry(ip).or_default() += 1;
        self.metrics.open_streams.inc();
        self.metrics.streams_total.inc();
        let mode_gauge = self.metrics.mode_gauge(mode);
        mode_gauge.inc();
        let version_gauge = self.metrics.version_gauge(version);
        version_gauge.inc();
        drop(counts);
        self.changed.notify_one();
        self.reported.notify_one();
        Ok(StreamGuard {
            conns: Arc::clone(self),
            ip,
            mode_gauge,
            version_gauge,
        })
    }

    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).open
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let conns = &self.conns;
        let mut counts = conns.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.open -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
        conns.metrics.open_streams.dec();
        self.mode_gauge.dec();
        self.version_gauge.dec();
        drop(counts);
        conns.changed.notify_one();
        conns.reported.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_release() {
        let conns = Arc::new(Connections::new(3, 2, Arc::new(Metrics::new())));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let g1 = conns.try_open(a, Mode::Leader, "h2").unwrap();
        let _g2 = conns.try_open(a, Mode::Naive, "h2").unwrap();
        assert!(matches!(
            conns.try_open(a, Mode::Leader, "h2"),
            Err(RejectReason::PerIpCap)
        ));
        let _g3 = conns.try_open(b, Mode::Leader, "h2").unwrap();
        assert!(matches!(
            conns.try_open(b, Mode::Leader, "h2"),
            Err(RejectReason::GlobalCap)
        ));
        drop(g1);
        assert_eq!(conns.open(), 2);
        assert!(conns.try_open(a, Mode::Leader, "h2").is_ok());
        assert_eq!(
            conns.open(),
            2,
            "the guard above was dropped at the end of its statement"
        );
    }
}
