//! What schedules and scenarios make happen ([`Action`]): opening, closing, crashing, freezing
//! and hiding tabs, server outages and restarts, channel loss, busy main threads, the
//! back/forward cache, and faults aimed at whichever tab leads.
use coord::{Input, Role};

use super::*;

/// Things a schedule or a scenario makes happen.
#[derive(Debug, Clone)]
pub enum Action {
    Open {
        visible: bool,
    },
    Close(usize),
    Crash(usize),
    Freeze {
        tab: usize,
        announced: bool,
    },
    Thaw(usize),
    SetVisible(usize, bool),
    Publish,
    ServerDown,
    ServerUp,
    Loss {
        until: u64,
        p: f64,
    },
    StepDown(usize),
    /// Close / crash / freeze whichever tab leads at that moment (measured as a leader loss).
    CloseLeader,
    CrashLeader,
    FreezeLeader {
        announced: bool,
        for_us: u64,
    },
    /// The server restarts: a new run (epoch) whose ids start far above the old ones; every
    /// stream is cut; the server is back after `down_us`.
    ServerRestart {
        down_us: u64,
    },
    /// Tab `Some(i)` (or every tab, also those opened meanwhile) has a busy main thread until
    /// `until`: each input waits 100–300 ms before it is handled, in order.
    Busy {
        tab: Option<usize>,
        until: u64,
    },
    /// `pagehide` into the back/forward cache; the tab receives nothing until `BfcacheReturn`.
    BfcacheLeave(usize),
    BfcacheReturn(usize),
}

impl World {
    pub fn act(&mut self, a: Action) {
        self.act_inner(a);
        for i in 0..self.tabs.len() {
            self.refresh_timer(i);
        }
    }

    pub(super) fn act_inner(&mut self, a: Action) {
        if self.trace {
            println!("{:>10} action {a:?}", self.now - T0);
        }
        match a {
            Action::Open { visible } => {
                self.open_tab(visible);
            }
            Action::Close(i) => {
                self.note_leader_fault(i, "close");
                if self.tabs[i].is_live() {
                    self.deliver(i, Input::PageHide);
                    self.tabs[i].life = Life::Closed;
                    self.drop_tab_resources(i);
                }
            }
            Action::Crash(i) => {
                self.note_leader_fault(i, "crash");
                if self.tabs[i].is_present() {
                    self.tabs[i].life = Life::Crashed;
                    self.drop_tab_resources(i);
                }
            }
            Action::Freeze { tab, announced } => {
                self.note_leader_fault(tab, "freeze");
                if self.tabs[tab].is_live() {
                    if announced {
                        self.deliver(tab, Input::Frozen);
                    }
                    self.tabs[tab].life = Life::Frozen;
                }
            }
            Action::Thaw(i) => {
                if self.tabs[i].life == Life::Frozen {
                    self.tabs[i].life = Life::Running;
                    self.deliver(i, Input::Resumed);
                    while let Some(input) = self.tabs[i].inbox.pop_front() {
                        if self.tabs[i].life != Life::Running {
                            break;
                        }
                        self.deliver(i, input);
                    }
                }
            }
            Action::SetVisible(i, v) => {
                if self.tabs[i].is_live() {
                    self.tabs[i].visible = v;
                    self.tabs[i].hidden_since = if v { None } else { Some(self.now) };
                    self.deliver(i, Input::VisibilityChanged { visible: v });
                }
            }
            Action::Publish => self.publish(),
            Action::ServerDown => {
                self.server_up = false;
                for i in 0..self.tabs.len() {
                    if self.tabs[i].stream != ServerStream::Closed {
                        self.stream_send(i, Input::StreamError);
                    }
                }
            }
            Action::ServerUp => self.server_up = true,
            Action::Loss { until, p } => {
                // A lossy channel may cut the leader off: a partition.
                self.leader_faults.push((self.now, "partition"));
                self.leader_faults.push((until, "partition"));
                self.loss_until = until;
                self.loss_p = p;
            }
            Action::StepDown(i) => {
                self.note_leader_fault(i, "step-down");
                self.deliver(i, Input::StepDown)
            }
            Action::ServerRestart { down_us } => {
                self.restart_server();
                self.server_up = false;
                for i in 0..self.tabs.len() {
                    if self.tabs[i].stream != ServerStream::Closed {
                        self.stream_send(i, Input::StreamError);
                    }
                }
                self.at(self.now + down_us, Action::ServerUp);
            }
            Action::Busy { tab, until } => match tab {
                Some(i) => self.tabs[i].busy_until = self.tabs[i].busy_until.max(until),
                None => self.busy_all_until = self.busy_all_until.max(until),
            },
            Action::BfcacheLeave(i) => {
                self.note_leader_fault(i, "bfcache");
                if self.tabs[i].is_live() {
                    self.handle_now(i, Input::PageHide);
                    self.tabs[i].life = Life::Away;
                    self.tabs[i].timer_queued = false;
                    self.drop_tab_resources(i);
                }
            }
            Action::BfcacheReturn(i) => {
                if self.tabs[i].life == Life::Away {
                    self.tabs[i].life = Life::Running;
                    self.handle_now(i, Input::PageShow);
                }
            }
            Action::CloseLeader | Action::CrashLeader | Action::FreezeLeader { .. } => {
                let Some(l) = self.leader() else { return };
                let (kind, action) = match a {
                    Action::CloseLeader => ("close", Action::Close(l)),
                    Action::CrashLeader => ("crash", Action::Crash(l)),
                    Action::FreezeLeader { announced, for_us } => {
                        self.at(self.now + for_us, Action::Thaw(l));
                        (
                            if announced {
                                "freeze-announced"
                            } else {
                                "freeze"
                            },
                            Action::Freeze { tab: l, announced },
                        )
                    }
                    _ => unreachable!(),
                };
                // Hidden tabs' timers fire at 1 s boundaries: report those elections apart.
                let visible_left = (0..self.tabs.len())
                    .any(|i| i != l && self.tabs[i].is_live() && self.tabs[i].visible);
                let kind = match (kind, visible_left) {
                    (k, true) => k,
                    ("close", false) => "close (all hidden)",
                    ("crash", false) => "crash (all hidden)",
                    ("freeze", false) => "freeze (all hidden)",
                    (_, false) => "freeze-announced (all hidden)",
                };
                self.leader_loss = Some((self.now, kind, l));
                self.act_inner(action);
            }
        }
    }

    /// A fault hit tab `i`: if it leads (or is about to), a leadership change may follow.
    pub(super) fn note_leader_fault(&mut self, i: usize, what: &'static str) {
        if i < self.tabs.len() && self.tabs[i].tab.role() == Role::Leader {
            self.leader_faults.push((self.now, what));
        }
    }
}
