//! The tabs this tab knows about: filled by hello / presence / heartbeats, emptied by bye and by
//! expiry of silent tabs.
//!
//! A vector in id order rather than a `BTreeMap`: a page knows tens of tabs at most, and each
//! `BTreeMap` instantiation costs the browser's bundle a few kilobytes.

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
    /// In id order, one entry per id.
    tabs: Vec<TabInfo>,
}

impl Registry {
    /// Any message from `id` proves it is alive.
    pub(crate) fn seen(&mut self, id: TabId, now: Instant) {
        if let Ok(at) = self.find(id) {
            let t = &mut self.tabs[at];
            t.last_seen = t.last_seen.max(now);
        }
    }

    pub(crate) fn update(&mut self, id: TabId, info: PeerInfo, now: Instant) {
        let entry = TabInfo {
            id,
            info,
            last_seen: now,
        };
        match self.find(id) {
            Ok(at) => self.tabs[at] = entry,
            Err(at) => self.tabs.insert(at, entry),
        }
    }

    pub(crate) fn remove(&mut self, id: TabId) {
        if let Ok(at) = self.find(id) {
            self.tabs.remove(at);
        }
    }

    fn find(&self, id: TabId) -> Result<usize, usize> {
        self.tabs.binary_search_by_key(&id, |t| t.id)
    }

    /// Drops tabs silent for longer than their expiry (longer for hidden tabs, whose timers may
    /// fire only once a minute). `stretch`: how much a crowd stretches presence intervals (see
    /// `Config::presence_budget`), and so the visible tabs' expiry.
    pub(crate) fn expire(&mut self, now: Instant, config: &Config, stretch: f64) {
        self.tabs
            .retain(|t| now.saturating_since(t.last_seen) < Self::expiry(t, config, stretch));
    }

    /// When the next entry expires.
    pub(crate) fn next_expiry(&self, config: &Config, stretch: f64) -> Option<Instant> {
        self.tabs
            .iter()
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

    /// In id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &TabInfo> {
        self.tabs.iter()
    }
}
