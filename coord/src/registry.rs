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
    /// fire only once a minute). `stretch`: how much a crowd stretches presence intervals (see
    /// `Config::presence_budget`), and so the visible tabs' expiry.
    pub(crate) fn expire(&mut self, now: Instant, config: &Config, stretch: f64) {
        self.tabs
            .retain(|_, t| now.saturating_since(t.last_seen) < Self::expiry(t, config, stretch));
    }

    /// When the next entry expires.
    pub(crate) fn next_expiry(&self, config: &Config, stretch: f64) -> Option<Instant> {
        self.tabs
            .values()
            .map(|t| t.last_seen + Self::expiry(t, config, stretch))
            .min()
    }

    fn expiry(t: &TabInfo, config: &Config, stretch: f64) -> std::time::Duration {
        let visible = config.tab_expiry.mul_f64(stretch.max(1.0));
        if t.info.visible {
            visible
        } else {
            config.hidden_tab_expiry.max(visible)
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.tabs.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &TabInfo> {
        self.tabs.values()
    }
}
