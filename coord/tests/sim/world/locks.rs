//! The Web Locks manager: one holder, a FIFO queue of requests, steals, and what the browser
//! does with a gone tab's lock and requests.
use coord::Input;

use super::*;

impl World {
    pub(super) fn lock_request(&mut self, i: usize, steal: bool) {
        if steal {
            if let Some(old) = self.lock_holder.replace(i) {
                if old != i {
                    let d = self.rng.range(self.cfg.lock_delay.0, self.cfg.lock_delay.1);
                    self.push(
                        self.now + d,
                        Ev::Input {
                            tab: old,
                            input: Input::LockLost,
                        },
                    );
                }
            }
            self.grant(i);
        } else if self.lock_holder.is_none() && self.lock_queue.is_empty() {
            self.lock_holder = Some(i);
            self.grant(i);
        } else {
            self.lock_queue.push_back(i);
        }
    }

    pub(super) fn grant(&mut self, i: usize) {
        let d = self.rng.range(self.cfg.lock_delay.0, self.cfg.lock_delay.1);
        self.push(
            self.now + d,
            Ev::Input {
                tab: i,
                input: Input::LockGranted,
            },
        );
    }

    pub(super) fn grant_next(&mut self) {
        if self.lock_holder.is_none() {
            if let Some(next) = self.lock_queue.pop_front() {
                self.lock_holder = Some(next);
                self.grant(next);
            }
        }
    }

    /// The browser forgets a gone tab's lock and requests.
    pub(super) fn drop_tab_resources(&mut self, i: usize) {
        self.lock_queue.retain(|&t| t != i);
        if self.lock_holder == Some(i) {
            self.lock_holder = None;
            self.grant_next();
        }
        self.tabs[i].stream = ServerStream::Closed;
        self.tabs[i].stream_gen += 1;
    }
}
