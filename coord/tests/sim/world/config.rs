//! What the simulated world is like: its knobs ([`WorldConfig`]), simulated time units, the
//! browser's timer throttling constants and the seeded generator every run depends on.

use std::time::Duration;

use coord::{Config, Mechanism};

/// SplitMix64, the same generator the core uses, so runs depend on nothing but the seed.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

pub const MS: u64 = 1_000;
pub const SEC: u64 = 1_000_000;
/// Simulated time starts here so that negative clock skews stay representable.
pub const T0: u64 = 1_000 * SEC;

/// Hidden tabs' timers fire on 1 s boundaries (Chrome's throttling of hidden tabs)…
pub const HIDDEN_TIMER_GRANULARITY: u64 = SEC;
/// …and on 1 min boundaries once hidden for 5 minutes (intensive throttling).
pub const INTENSIVE_TIMER_GRANULARITY: u64 = 60 * SEC;
pub const INTENSIVE_AFTER: u64 = 5 * 60 * SEC;

/// Handling delay of a busy main thread.
pub const BUSY_DELAY: (u64, u64) = (100 * MS, 300 * MS);

/// What the world is like.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub mechanism: Mechanism,
    pub core: Config,
    /// Channel delivery delay range (per message, per receiver).
    pub channel_delay: (u64, u64),
    /// Lock grant / rejection delay range.
    pub lock_delay: (u64, u64),
    /// Time from `OpenStream` to the server answering.
    pub connect_delay: (u64, u64),
    /// Server → tab delay per stream event.
    pub stream_delay: (u64, u64),
    /// Events the server replays before answering `reset`.
    pub server_buffer: usize,
    /// Max clock skew of a tab (± micros).
    pub max_skew: u64,
    /// Round-trip every nth channel message through `encode` / `decode` (0: never).
    pub encode_every: u64,
}

impl WorldConfig {
    pub fn new(mechanism: Mechanism) -> Self {
        let core = Config {
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(2),
            ..Config::default()
        };
        Self {
            mechanism,
            core,
            channel_delay: (100, 3 * MS),
            lock_delay: (50, 500),
            connect_delay: (2 * MS, 20 * MS),
            stream_delay: (200, 5 * MS),
            server_buffer: 64,
            max_skew: 2 * MS,
            encode_every: 0,
        }
    }
}
