//! How a tab reaches the server (`?mode=`): one type for the client, which picks it from its page
//! URL, and the server, which counts streams by it.

use std::fmt;
use std::str::FromStr;

/// How a tab reaches the server: four designs (and two variants of the naive one), side by side
/// on the same server. The word is the page's and the stream's `?mode=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
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

    /// The client's reading of the page's `?mode=`: anything absent or unknown is the default,
    /// [`Mode::Leader`]. (The server is strict instead: see [`Mode::from_str`].)
    ///
    /// ```
    /// use wire::Mode;
    /// assert_eq!(Mode::from_query(Some("naive")), Mode::Naive);
    /// assert_eq!(Mode::from_query(Some("bogus")), Mode::Leader);
    /// assert_eq!(Mode::from_query(None), Mode::Leader);
    /// ```
    pub fn from_query(value: Option<&str>) -> Self {
        value.and_then(|v| v.parse().ok()).unwrap_or_default()
    }

    /// What the mode is, in a few words for the dashboard.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Leader => "a leader tab relays over BroadcastChannel",
            Self::Naive => "every tab opens its own stream (the problem)",
            Self::Storage => "a leader tab relays through localStorage events",
            Self::SharedWorker => "a SharedWorker holds the stream for every tab",
            Self::Sharded => "every tab its own stream, spread over several ports (the cap moves)",
            Self::HiddenClose => "every tab its own stream, closed while the tab is hidden",
        }
    }

    /// Whether tabs elect a leader with the coordination core (the other modes have no election).
    pub fn elects_leader(self) -> bool {
        matches!(self, Self::Leader | Self::Storage)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `?mode=` word that names no [`Mode`]. Its message quotes at most 40 characters of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `escape_default`, not `{:?}`: the same quoting for what a URL holds, without core's
        // Unicode tables in the browser's bundle.
        let quoted: String = self
            .0
            .chars()
            .take(40)
            .flat_map(char::escape_default)
            .collect();
        write!(f, "unknown mode \"{quoted}\"; expected one of ")?;
        for (i, mode) in Mode::ALL.into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(mode.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    /// The exact word of [`Mode::as_str`]; anything else is an [`UnknownMode`].
    ///
    /// ```
    /// use wire::Mode;
    /// assert_eq!("hidden-close".parse(), Ok(Mode::HiddenClose));
    /// let err = "Leader".parse::<Mode>().unwrap_err();
    /// assert!(err.to_string().starts_with(r#"unknown mode "Leader"; expected one of leader, "#));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_parses_back_to_its_mode() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
            assert_eq!(Mode::from_query(Some(mode.as_str())), mode);
        }
        let mut words: Vec<_> = Mode::ALL.iter().map(|m| m.as_str()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Mode::ALL.len(), "words are distinct");
    }

    #[test]
    fn unknown_words_are_errors_for_the_server_and_leader_for_the_client() {
        for word in ["", "LEADER", "leader ", "shared-worker", "x"] {
            assert_eq!(word.parse::<Mode>(), Err(UnknownMode(word.to_owned())));
            assert_eq!(Mode::from_query(Some(word)), Mode::Leader);
        }
        let long = "z".repeat(100);
        let message = long.parse::<Mode>().unwrap_err().to_string();
        assert!(message.contains(&"z".repeat(40)), "{message}");
        assert!(!message.contains(&"z".repeat(41)), "{message}");
        assert!(message.ends_with("sharded, hidden-close"), "{message}");
    }

    #[test]
    fn only_the_relaying_modes_elect_a_leader() {
        let electing: Vec<_> = Mode::ALL
            .into_iter()
            .filter(|m| m.elects_leader())
            .collect();
        assert_eq!(electing, [Mode::Leader, Mode::Storage]);
    }
}
