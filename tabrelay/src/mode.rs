//! How a tab reaches the server. Until the wire crate carries the one `Mode` of server and
//! client, it lives here.

/// How this tab reaches the server: four designs and two baselines, side by side on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// One leader tab holds the connection and relays over a BroadcastChannel.
    #[default]
    Leader,
    /// Every tab opens its own `EventSource`: the baseline that shows the 6-connection limit.
    Naive,
    /// The same election and relay as `Leader`, but tabs talk through `localStorage` and the
    /// `storage` event: the older scheme, for browsers without BroadcastChannel.
    Storage,
    /// One SharedWorker per origin holds the connection and fans events out over MessagePorts.
    SharedWorker,
    /// Naive, with the streams spread over the server's shard ports (other origins).
    Sharded,
    /// Naive, but a hidden tab closes its stream and resumes it when shown again.
    HiddenClose,
}

impl Mode {
    /// Every mode, in the order the dashboard offers them.
    pub const ALL: [Mode; 6] = [
        Mode::Leader,
        Mode::Storage,
        Mode::SharedWorker,
        Mode::Naive,
        Mode::Sharded,
        Mode::HiddenClose,
    ];

    /// Parses the `?mode=` query value; anything unknown is the default, `leader`.
    pub fn from_query(value: Option<&str>) -> Self {
        Self::ALL
            .into_iter()
            .find(|mode| Some(mode.as_str()) == value)
            .unwrap_or_default()
    }

    /// The word in the URL, the stream's `?mode=` (the server counts streams by it) and the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leader => "leader",
            Self::Naive => "naive",
            Self::Storage => "storage",
            Self::SharedWorker => "sharedworker",
            Self::Sharded => "sharded",
            Self::HiddenClose => "hidden-close",
        }
    }

    /// Whether tabs elect a leader with the coordination core (the other modes have no election).
    pub fn elects_leader(self) -> bool {
        matches!(self, Self::Leader | Self::Storage)
    }
}
