//! Counters, kept in `prometheus-client` metric types so `/api/stats` and `/metrics` read the
//! same atomics and cannot disagree.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use wire::model::DeviceEventKind;

use wire::Mode;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabel {
    pub mode: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabel {
    pub version: &'static str,
}

/// The HTTP versions streams are counted by.
pub const HTTP_VERSIONS: [&str; 2] = ["http/1.1", "h2"];

/// The label of a request's HTTP version (`http/1.1` for 1.0 and 1.1).
pub fn http_version_label(version: axum::http::Version) -> &'static str {
    if version == axum::http::Version::HTTP_2 {
        "h2"
    } else {
        "http/1.1"
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Why a stream was sent a `reset` (the `reason` label of `tabrelay_resets_total`).
#[derive(Debug, Clone, Copy)]
pub enum ResetReason {
    /// Its resume point is of this run but no longer held, or ahead of the head
    /// ([`wire::ResetReason::TooOld`], [`wire::ResetReason::Ahead`]).
    Resume,
    /// Its resume point is from another run: a restart, or lost history
    /// ([`wire::ResetReason::OtherRun`]).
    OtherRun,
    /// It read too slowly and fell behind the fan-out channel.
    Lagged,
}

impl ResetReason {
    pub const ALL: [ResetReason; 3] = [Self::Resume, Self::OtherRun, Self::Lagged];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resume => "resume",
            Self::OtherRun => "other_run",
            Self::Lagged => "lagged",
        }
    }

    /// The label of a resume that [`wire::resume`] answered with a reset.
    pub fn of_resume(reason: wire::ResetReason) -> Self {
        match reason {
            wire::ResetReason::OtherRun => Self::OtherRun,
            wire::ResetReason::Ahead | wire::ResetReason::TooOld => Self::Resume,
        }
    }
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy)]
pub enum RejectReason {
    GlobalCap,
    PerIpCap,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GlobalCap => "global_cap",
            Self::PerIpCap => "per_ip_cap",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    pub open_streams: Gauge,
    pub streams_total: Counter,
    pub streams_by_mode: Family<ModeLabel, Gauge>,
    pub streams_by_version: Family<VersionLabel, Gauge>,
    pub events_published: Family<KindLabel, Counter>,
    pub resets: Family<ReasonLabel, Counter>,
    pub rejected: Family<ReasonLabel, Counter>,
    /// Per event and writer (`direct_shard`): publish → the writer's last `send`.
    pub fanout_write: Histogram,
}

/// Bucket bounds of [`Metrics::fanout_write`], in seconds.
pub const FANOUT_WRITE_BUCKETS: [f64; 20] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.06,
    0.08, 0.1, 0.15, 0.2, 0.5, 1.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tabrelay");
        let open_streams = Gauge::default();
        let streams_total = Counter::default();
        let streams_by_mode = Family::<ModeLabel, Gauge>::default();
        let streams_by_version = Family::<VersionLabel, Gauge>::default();
        let events_published = Family::<KindLabel, Counter>::default();
        let resets = Family::<ReasonLabel, Counter>::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        let fanout_write = Histogram::new(FANOUT_WRITE_BUCKETS);
        registry.register(
            "fanout_direct_write_seconds",
            "Per event and writer: from publishing to the writer's last send to a plain-TCP stream",
            fanout_write.clone(),
        );
        registry.register("open_streams", "SSE streams open now", open_streams.clone());
        registry.register(
            "streams",
            "SSE streams accepted since start",
            streams_total.clone(),
        );
        registry.register(
            "open_streams_by_mode",
            "SSE streams open now, by client mode",
            streams_by_mode.clone(),
        );
        registry.register(
            "open_streams_by_http_version",
            "SSE streams open now, by HTTP version",
            streams_by_version.clone(),
        );
        registry.register(
            "events_published",
            "Device events published, by kind",
            events_published.clone(),
        );
        registry.register("resets", "reset events sent, by reason", resets.clone());
        registry.register(
            "rejected_streams",
            "SSE streams refused, by cap",
            rejected.clone(),
        );
        // Make every label value visible from the start, at zero.
        for mode in Mode::ALL {
            let _ = streams_by_mode.get_or_create(&ModeLabel {
                mode: mode.as_str(),
            });
        }
        for version in HTTP_VERSIONS {
            let _ = streams_by_version.get_or_create(&VersionLabel { version });
        }
        for kind in [
            DeviceEventKind::DeviceOnline,
            DeviceEventKind::DeviceOffline,
        ] {
            let _ = events_published.get_or_create(&KindLabel {
                kind: kind.event_name(),
            });
        }
        for reason in ResetReason::ALL {
            let _ = resets.get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        for reason in [RejectReason::GlobalCap, RejectReason::PerIpCap] {
            let _ = rejected.get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        Self {
            registry,
            open_streams,
            streams_total,
            streams_by_mode,
            streams_by_version,
            events_published,
            resets,
            rejected,
            fanout_write,
        }
    }

    pub fn published(&self, kind: DeviceEventKind) {
        self.events_published
            .get_or_create(&KindLabel {
                kind: kind.event_name(),
            })
            .inc();
    }

    pub fn published_count(&self, kind: DeviceEventKind) -> u64 {
        self.events_published
            .get_or_create(&KindLabel {
                kind: kind.event_name(),
            })
            .get()
    }

    pub fn reset(&self, reason: ResetReason) {
        self.resets
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    pub fn reset_count(&self, reason: ResetReason) -> u64 {
        self.resets
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .get()
    }

    pub fn rejected(&self, reason: RejectReason) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    pub fn rejected_count(&self, reason: RejectReason) -> u64 {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .get()
    }

    pub fn version_gauge(&self, version: &'static str) -> Gauge {
        self.streams_by_version
            .get_or_create(&VersionLabel { version })
            .clone()
    }

    pub fn mode_gauge(&self, mode: Mode) -> Gauge {
        self.streams_by_mode
            .get_or_create(&ModeLabel {
                mode: mode.as_str(),
            })
            .clone()
    }

    /// The registry in the OpenMetrics text format (which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
