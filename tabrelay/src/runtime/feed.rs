//! The one way back from the browser to the driver: every listener (stream, channel, lock,
//! lifecycle, timer) reports what happened through a [`Feed`], so none of them knows the driver.

use coord::Input;
use std::rc::Rc;

/// What a listener reports.
pub enum Report {
    /// An input for the core.
    Input(Input),
    /// `pagehide`: into the back/forward cache (`persisted`) or for good.
    Leave { persisted: bool },
    /// `pageshow` from the back/forward cache: reopen the channel, then tell the core.
    Return,
}

/// Cloned into every listener; calls the driver. An `Fn`: a browser may fire an event from
/// inside a call the driver makes (see `Driver::run`), which then only queues it.
#[derive(Clone)]
pub struct Feed(Rc<dyn Fn(Report)>);

impl Feed {
    pub fn new(report: impl Fn(Report) + 'static) -> Self {
        Self(Rc::new(report))
    }

    pub fn input(&self, input: Input) {
        self.report(Report::Input(input));
    }

    /// Once the page has left for good, only the `pagehide` itself and a lock's grant (which the
    /// core gives back at once) reach the driver: see [`super::leaving`].
    pub fn report(&self, report: Report) {
        let heeded = matches!(
            report,
            Report::Leave { .. } | Report::Input(Input::LockGranted)
        );
        if heeded || !super::leaving::has_left() {
            (self.0)(report);
        }
    }
}
