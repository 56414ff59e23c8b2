//! The tabs this tab knows about: filled by hello / presence / heartbeats, emptied by bye and by
//! expiry of silent tabs.

use std::collections::BTreeMap;

use crate::{Config, Instant, PeerInfo, TabId};

/// One known tab, as exposed to the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabInfo {
    pub id: TabId,
    pub info: PeerInfo,
    /// When we last heard from it (any message).
    pub last_seen: Instant,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    tabs: BTreeMap<TabId, TabInfo>,
}

impl Registry {
    /// Any message from `id` proves it is alive.
    pub(crate) fn seen(&mut self, id: TabId, now: Instant) {
        if let Some(t) = self.tabs.get_mut(&id) {
            t.last_seen = t.last_seen.max(now);
        }
    }

    pub(crate) fn update(&mut self, id: TabId, info: PeerInfo, now: Instant) {
        self.tabs.insert(
            id,
            TabInfo {
                id,
                info,
                last_seen: now,
            },
        );
    }

    pub(crate) fn remove(&mut self, id: TabId) {
        self.tabs.remove(&id);
    }

    /// Drops tabs silent for longer than their expiry (longer for hidden tabs, whose timers may
    /// fire only once a minute).
    pub(crate) fn expire(&mut self, now: Instant, config: &Config) {
        self.tabs
            .retain(|_, t| now.saturating_since(t.last_seen) < Self::expiry(t, config));
    }

    /// When the next entry expires.
    pub(crate) fn next_expiry(&self, config: &Config) -> Option<Instant> {
        self.tabs
            .values()
            .map(|t| t.last_seen + Self::expiry(t, config))
            .min()
    }

    fn expiry(t: &TabInfo, config: &Config) -> std::time::Duration {
        if t.info.visible {
            config.tab_expiry
        } else {
            config.hidden_tab_expiry
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &TabInfo> {
        self.tabs.values()
    }
}
