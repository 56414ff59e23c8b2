//! The driver: feeds browser events to the core, carries out the core's outputs, keeps one timer
//! armed at the core's next deadline, and mirrors the core's state into the [`TabView`].
//!
//! [`TabView`]: crate::TabView

use super::channel::Channel;
use super::clock;
use super::feed::{Feed, Report};
use super::listeners::Listeners;
use super::sink::Sink;
use super::stream::Stream;
use super::timer;
use super::web_lock::WebLock;
use crate::options::{Options, ResyncReason};
use crate::view::{set_if_changed, LeaderChangeRow, TabRow};
use coord::{AppEvent, Body, Input, Instant, Output, Role, Tab};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use wire::Position;

pub struct Driver {
    core: RefCell<Tab>,
    /// Where this tab delivers: the view to mirror into, the app's handlers.
    sink: Rc<Sink>,
    /// The stream URL without the resume point, e.g. `/api/events?mode=leader`.
    stream_url: String,
    /// The event names the stream's `EventSource` listens for (`Options::listened_names`);
    /// `None`: every event, read with `fetch` ([`crate::Events::All`]).
    event_names: Option<Vec<String>>,
    /// The page lifecycle's listeners, removed when the runtime stops.
    listeners: RefCell<Option<Listeners>>,
    pub(super) lock: WebLock,
    channel: Channel,
    stream: RefCell<Option<Stream>>,
    timer: RefCell<Option<(Instant, timer::Armed)>>,
    /// What happened and is not handled yet, oldest first (see [`Driver::run`]).
    inbox: RefCell<VecDeque<Step>>,
    /// A turn is under way: whatever arrives now waits in `inbox` for it.
    busy: Cell<bool>,
    /// The app was told to resync after the first connect.
    resynced: Cell<bool>,
    /// The core's goodbye (`Tab::goodbye`) as it stood at the last turn, and the native
    /// `pagehide` listeners that post it (see [`Driver::leave`]).
    goodbye: RefCell<(Vec<coord::Message>, Vec<js_sys::Function>)>,
    /// Leaving with the goodbye armed: the core's own `Resign` / `Bye` are not posted again.
    goodbye_posted_natively: Cell<bool>,
    /// Left for good (`pagehide`, not into the back/forward cache): the view is no longer
    /// mirrored. Nobody will see it, and its effects would run on wasm-bindgen's executor while
    /// Firefox tears the page down, from inside DOM calls where Firefox runs microtask checkpoints
    /// nested; a microtask there that wakes the executor (a promise it awaits) calls it again
    /// while it runs ("closure invoked recursively or after being dropped").
    unloading: Cell<bool>,
    /// What the last turn mirrored into the view (see [`Driver::publish`]).
    mirrored: Cell<Option<Mirrored>>,
    /// The leader's last proof of life as the view shows it (a follower's).
    heartbeat_shown: Cell<Option<Instant>>,
    /// The other tabs as the Tabs panel last showed them, and this tab's role and visibility.
    tabs_shown: RefCell<Vec<SeenTab>>,
    me_shown: Cell<Option<(Role, bool)>>,
}

/// One thing for a turn to handle.
enum Step {
    Input(Input),
    /// The timer armed for the core's deadline `due` fired.
    Timer {
        due: Instant,
    },
    /// `pagehide` (see [`Driver::leave`]).
    Leave {
        persisted: bool,
    },
    /// The runtime stops (the last mount went away): leave, and close everything.
    Stop,
}

/// A timer this late means the tab did not run (frozen without a `freeze` event, a debugger, a
/// long task, a sleeping laptop, or Chrome's 1/min throttling): tell the core, as after `resume`.
const LONG_PAUSE: Duration = Duration::from_secs(5);

impl Driver {
    pub fn new(
        core: Tab,
        sink: Rc<Sink>,
        options: &Options,
        lock: WebLock,
        channel: Channel,
    ) -> Self {
        Self {
            core: RefCell::new(core),
            sink,
            stream_url: options.stream_url(),
            event_names: match options.events {
                crate::Events::Named(_) => Some(options.listened_names()),
                crate::Events::All => None,
            },
            listeners: RefCell::new(None),
            lock,
            channel,
            stream: RefCell::new(None),
            timer: RefCell::new(None),
            inbox: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            resynced: Cell::new(false),
            goodbye: RefCell::new((Vec::new(), Vec::new())),
            goodbye_posted_natively: Cell::new(false),
            unloading: Cell::new(false),
            mirrored: Cell::new(None),
            heartbeat_shown: Cell::new(None),
            tabs_shown: RefCell::new(Vec::new()),
            me_shown: Cell::new(None),
        }
    }

    /// `pagehide`: resign, release the lock, say goodbye.
    ///
    /// The goodbye is armed in advance: after every turn the core's [`Tab::goodbye`] is bound to
    /// the channel's own post function (`BroadcastChannel.prototype.postMessage.bind(channel,
    /// text)`) and added as a `pagehide` listener *after* this one, so no wasm runs to post it
    /// (and it goes out even if this listener ran inside a turn, which then handles the leave
    /// after the step it is on). And the browser performs a microtask checkpoint between two
    /// listeners: a held Web Lock, released by the core here (its promise resolved), is given back
    /// before the goodbye goes out, so the next tab's grant does not wait behind the tabs waking
    /// up to read it.
    ///
    /// `persisted` (into the back/forward cache): the native listeners are removed (listeners
    /// removed during a dispatch are not called), the goodbye is posted from here and the channel
    /// closed after it.
    pub fn leave(self: &Rc<Self>, persisted: bool) {
        self.enqueue(Step::Leave { persisted });
    }

    /// Starts listening to the channel and the page's lifecycle.
    pub fn listen(self: &Rc<Self>) {
        self.channel.listen(&self.feed());
        let listeners = super::lifecycle::listen(&self.feed());
        *self.listeners.borrow_mut() = Some(listeners);
    }

    /// What the browser's listeners report through: back into this driver.
    fn feed(self: &Rc<Self>) -> Feed {
        let driver = Rc::clone(self);
        Feed::new(move |report| match report {
            Report::Input(input) => driver.input(input),
            Report::Leave { persisted } => driver.leave(persisted),
            Report::Return => {
                // Back from the bfcache: the channel first, then a hello with this tab's
                // position (it catches up by id).
                driver.channel.resume(&driver.feed());
                driver.input(Input::PageShow);
            }
        })
    }

    /// The runtime stops: the tab leaves as on `pagehide` (resigns, releases its lock, says
    /// goodbye), then closes its stream and channel and removes its listeners.
    pub fn stop(self: &Rc<Self>) {
        self.enqueue(Step::Stop);
    }

    /// Binds the core's goodbye to native `pagehide` listeners, when it changed.
    fn arm_goodbye(&self) {
        let goodbye = self.core.borrow().goodbye();
        // Empty once the tab has left: the listeners armed for this very `pagehide` must stay
        // (removed during the dispatch, they would not be called).
        if goodbye.is_empty() || self.goodbye.borrow().0 == goodbye {
            return;
        }
        self.disarm_goodbye();
        let Some(window) = web_sys::window() else {
            return;
        };
        let listeners: Vec<js_sys::Function> = goodbye
            .iter()
            .filter_map(|message| self.channel.native_post(&message.encode()))
            .collect();
        for listener in &listeners {
            let _ = window.add_event_listener_with_callback("pagehide", listener);
        }
        *self.goodbye.borrow_mut() = (goodbye, listeners);
    }

    fn disarm_goodbye(&self) {
        let (_, listeners) = std::mem::take(&mut *self.goodbye.borrow_mut());
        if let Some(window) = web_sys::window() {
            for listener in &listeners {
                let _ = window.remove_event_listener_with_callback("pagehide", listener);
            }
        }
    }

    /// Something happened in the browser.
    pub fn input(self: &Rc<Self>, input: Input) {
        // A tab that has left (or sits in the back/forward cache) heeds only a return and a stray
        // lock grant (`Tab::handle` drops the rest), so the rest starts no turn. Firefox fires a
        // closing tab's `visibilitychange` from inside whatever script runs after `pagehide`,
        // wasm-bindgen's executor microtask included, and checkpoints microtasks right after: a
        // turn there would schedule Leptos effects on the executor from inside its own running
        // microtask, which the checkpoint then calls again ("closure invoked recursively or
        // after being dropped"), and the executor never runs anything again.
        let heeded = matches!(input, Input::PageShow | Input::LockGranted);
        if !heeded && !self.busy.get() && !self.core.borrow().is_active() {
            return;
        }
        self.enqueue(Step::Input(input));
    }

    fn on_timer(self: &Rc<Self>, due: Instant) {
        self.enqueue(Step::Timer { due });
    }

    /// Runs a turn, unless one is under way: that one takes `step` too.
    fn enqueue(self: &Rc<Self>, step: Step) {
        self.inbox.borrow_mut().push_back(step);
        self.run();
    }

    /// Carries out a turn: handles every step in the inbox and performs every output of the core,
    /// then re-arms the timer, the goodbye, and refreshes the view; until nothing is left.
    ///
    /// Any browser call may call back into the driver before it returns: an event it fires
    /// synchronously (`AbortController.abort`, a `pagehide` listener added here, the app's
    /// handlers), and in Firefox, while it closes a tab, its remaining lifecycle events and a
    /// microtask checkpoint, from inside `BroadcastChannel.postMessage`, `EventSource.close` and
    /// others. So no borrow of the driver's state is held across a browser call, and a call back
    /// only queues its step (`busy`): this turn handles it after the step it is on, in order.
    pub fn run(self: &Rc<Self>) {
        if self.busy.replace(true) {
            return;
        }
        loop {
            let step = self.inbox.borrow_mut().pop_front();
            if let Some(step) = step {
                self.step(step);
                continue;
            }
            let output = self.core.borrow_mut().poll_output();
            if let Some(output) = output {
                self.perform(output);
                continue;
            }
            self.arm_timer();
            self.arm_goodbye();
            self.publish();
            if self.inbox.borrow().is_empty() {
                break;
            }
        }
        self.busy.set(false);
    }

    fn step(self: &Rc<Self>, step: Step) {
        let now = clock::now();
        match step {
            Step::Input(input) => self.core.borrow_mut().handle(now, input),
            Step::Timer { due } => {
                // Not the timer armed now (it was re-armed since): nothing of it is due.
                let armed = self.timer.borrow().as_ref().map(|(at, _)| *at);
                if armed != Some(due) {
                    return;
                }
                *self.timer.borrow_mut() = None;
                if now.saturating_since(due) > LONG_PAUSE {
                    self.core.borrow_mut().handle(now, Input::Resumed);
                }
                self.core.borrow_mut().handle_timer(now, due);
            }
            Step::Leave { persisted } => {
                // What earlier steps of this turn asked for goes out first, as it would have.
                self.perform_all();
                // Into the cache: the native listeners must not post (the page may come back);
                // the goodbye is posted below, before the channel closes.
                if persisted {
                    self.disarm_goodbye();
                }
                let armed = !self.goodbye.borrow().1.is_empty();
                self.goodbye_posted_natively.set(armed);
                self.unloading.set(!persisted);
                self.core.borrow_mut().handle(now, Input::PageHide);
                // The goodbye and the lock's release, now: they are what this step is for.
                self.perform_all();
                self.goodbye_posted_natively.set(false);
                if persisted {
                    self.channel.suspend();
                }
            }
            Step::Stop => {
                self.perform_all();
                // No `pagehide` will post the armed goodbye: the core's own messages go out.
                self.disarm_goodbye();
                self.unloading.set(true);
                self.core.borrow_mut().handle(now, Input::PageHide);
                self.perform_all();
                self.close_stream();
                self.channel.close();
                let listeners = self.listeners.borrow_mut().take();
                drop(listeners);
                let timer = self.timer.borrow_mut().take();
                if let Some((_, armed)) = timer {
                    armed.clear();
                }
            }
        }
    }

    /// Performs the core's outputs until it has none.
    fn perform_all(self: &Rc<Self>) {
        loop {
            let output = self.core.borrow_mut().poll_output();
            match output {
                Some(output) => self.perform(output),
                None => break,
            }
        }
    }

    fn perform(self: &Rc<Self>, output: Output) {
        match output {
            Output::Post(message) => {
                if matches!(message.body, Body::Heartbeat { .. }) {
                    // The leader's pulse is its own heartbeat; followers' is the one they receive.
                    self.sink.view.heartbeat_at_ms.set(Some(clock::now_ms()));
                }
                // The native listener posted the goodbye (`Tab::goodbye`: held relays, resign,
                // bye); the leave turn must not post them again.
                let goodbye = matches!(
                    message.body,
                    Body::Relays { .. } | Body::Resign { .. } | Body::Bye
                );
                if !(goodbye && self.goodbye_posted_natively.get()) {
                    self.channel.post(&message);
                }
            }
            Output::OpenStream { resume } => self.open_stream(resume.as_ref()),
            Output::CloseStream => self.close_stream(),
            Output::RequestLock { steal } => self.lock.request(&self.feed(), steal),
            Output::AbortLockRequest => self.lock.abort(),
            Output::ReleaseLock => self.lock.release(),
            Output::Emit(event) => self.emit(event),
        }
    }

    /// Taken out first, closed after: `EventSource.close` is a browser call (see [`Driver::run`]).
    fn close_stream(&self) {
        let stream = self.stream.borrow_mut().take();
        drop(stream);
    }

    fn open_stream(self: &Rc<Self>, resume: Option<&Position>) {
        self.close_stream();
        let url = stream_url(&self.stream_url, resume);
        match Stream::open(&self.feed(), &url, self.event_names.as_deref()) {
            Ok(stream) => {
                let replaced = self.stream.borrow_mut().replace(stream);
                drop(replaced);
            }
            Err(err) => {
                leptos::logging::error!("tabrelay: cannot open {url}: {err:?}");
                self.inbox
                    .borrow_mut()
                    .push_back(Step::Input(Input::StreamError));
            }
        }
    }

    /// One timer at the core's earliest deadline is enough. After every turn it is re-armed when
    /// that deadline came sooner, or when the page hid since it was armed (a hidden page's timer
    /// runs in the worker too, see `timer`). A deadline that moved later keeps the timer: it fires
    /// early, finds nothing due, and the turn arms the next one. Every message from the leader
    /// moves a follower's silence deadline, so re-arming on every change cost a timer per event.
    /// The core measures how busy the tab is by the lateness of the timer it was armed for
    /// (`Tab::handle_timer`), so a kept timer hides nothing.
    fn arm_timer(self: &Rc<Self>) {
        // The core's view of the page (fed by `visibilitychange`): no DOM read per turn.
        let (deadline, hidden) = {
            let core = self.core.borrow();
            (core.poll_timeout(), !core.is_visible())
        };
        let kept = self.timer.borrow().as_ref().is_some_and(|(at, armed)| {
            let keeps_time = armed.in_worker() || !hidden;
            keeps_time && deadline.is_none_or(|deadline| *at <= deadline)
        });
        if kept {
            return;
        }
        let replaced = self.timer.borrow_mut().take();
        if let Some((_, armed)) = replaced {
            armed.clear();
        }
        let Some(deadline) = deadline else { return };
        // Rounded up: a timer that fires a fraction of a millisecond early finds nothing due.
        let delay = deadline.saturating_since(clock::now());
        let delay = Duration::from_millis(delay.as_micros().div_ceil(1000) as u64);
        let driver = Rc::clone(self);
        match timer::arm(delay, hidden, move || driver.on_timer(deadline)) {
            Ok(armed) => *self.timer.borrow_mut() = Some((deadline, armed)),
            Err(err) => leptos::logging::error!("tabrelay: cannot set a timer: {err:?}"),
        }
    }

    /// Applies an app event to the view, then calls the app's handlers for it. A tab that has
    /// left for good delivers nothing more: nobody will see it, and its handlers would run while
    /// the browser tears the page down.
    fn emit(self: &Rc<Self>, event: AppEvent) {
        if self.unloading.get() {
            return;
        }
        self.apply(&event);
        self.sink.emit(&event);
    }

    fn apply(&self, event: &AppEvent) {
        let view = self.sink.view;
        match event {
            AppEvent::Connected if !self.resynced.replace(true) => {
                self.sink.resync(ResyncReason::FirstConnect)
            }
            // Events the core could not recover: the app's state may be stale.
            AppEvent::Lost { from, to } => self.sink.resync(ResyncReason::Lost {
                from: *from,
                to: *to,
            }),
            AppEvent::RoleChanged(role) => {
                if *role == Role::Leader {
                    view.leader_since_ms.set(Some(clock::now_ms()));
                }
                set_if_changed(view.role, *role);
            }
            _ => {}
        }
    }

    /// Mirrors the core's state into the signals the UI reads. The view is read out of the core
    /// first: setting a signal wakes effects, a browser call (see [`Driver::run`]). Compared in
    /// the core's terms with what the last turn mirrored: a turn that changed none of it (most
    /// turns: an event) formats, allocates and writes nothing.
    fn publish(&self) {
        if self.unloading.get() {
            return;
        }
        let (mirrored, heard, tabs) = {
            let core = self.core.borrow();
            let version = core.leader_changes_version();
            let mirrored = Mirrored {
                role: core.role(),
                leader: core.leader(),
                term: core.term().n,
                stream: core.stream_state(),
                next_attempt: core.reconnect().next_attempt,
                ignored_messages: core.stats().undecodable + core.stats().stale,
                timeline_version: version,
            };
            let before = self.mirrored.get();
            let changed = (before != Some(mirrored)).then(|| {
                let timeline = before
                    .is_none_or(|before| before.timeline_version != version)
                    .then(|| core.leader_changes().map(change_row).collect());
                let leader_id = mirrored.leader.map(crate::tab_id_text);
                (mirrored, leader_id, timeline)
            });
            let heard = (core.role() != Role::Leader).then(|| core.last_heartbeat_at());
            (changed, heard, self.changed_tab_rows(&core))
        };
        let state = self.sink.view;
        if let Some((mirrored, leader_id, timeline)) = mirrored {
            self.mirrored.set(Some(mirrored));
            set_if_changed(state.role, mirrored.role);
            set_if_changed(state.leader_id, leader_id);
            set_if_changed(state.term, mirrored.term);
            set_if_changed(state.stream, mirrored.stream);
            set_if_changed(
                state.next_attempt_ms,
                mirrored.next_attempt.map(clock::to_ms),
            );
            if let Some(timeline) = timeline {
                state.timeline.set(timeline);
            }
            set_if_changed(state.ignored_messages, mirrored.ignored_messages);
        }
        if let Some(heard) = heard {
            // Every relayed event proves the leader alive too: shown at most every
            // SEEN_RESOLUTION, or each event would restart the panel's pulse in every follower.
            let shown = self.heartbeat_shown.get();
            let recent = matches!((shown, heard), (Some(shown), Some(heard))
                if heard >= shown && heard.saturating_since(shown) < SEEN_RESOLUTION);
            if !recent {
                self.heartbeat_shown.set(heard);
                set_if_changed(state.heartbeat_at_ms, heard.map(clock::to_ms));
            }
        }
        if let Some(rows) = tabs {
            state.tabs.set(rows);
        }
    }

    /// The Tabs panel's rows, when they changed: a tab came or went, or changed role or
    /// visibility, or was heard from at least [`SEEN_RESOLUTION`] after the time shown. Every
    /// relayed event is a message from the leader: without the resolution each one would rebuild
    /// the panel's leader row in every follower. Compared in the core's terms, before any
    /// formatting, without allocating (the registry iterates in id order).
    fn changed_tab_rows(&self, core: &Tab) -> Option<Vec<TabRow>> {
        let (role, visible) = (core.role(), core.is_visible());
        let me_unchanged = self.me_shown.replace(Some((role, visible))) == Some((role, visible));
        let mut shown = self.tabs_shown.borrow_mut();
        let unchanged = me_unchanged && {
            let mut tabs = core.tabs();
            shown.iter().all(|old| {
                tabs.next().is_some_and(|new| {
                    old.id == new.id
                        && old.role == new.info.role
                        && old.visible == new.info.visible
                        && new.last_seen.saturating_since(old.last_seen) < SEEN_RESOLUTION
                })
            }) && tabs.next().is_none()
        };
        if unchanged {
            return None;
        }
        *shown = core
            .tabs()
            .map(|tab| SeenTab {
                id: tab.id,
                role: tab.info.role,
                visible: tab.info.visible,
                last_seen: tab.last_seen,
            })
            .collect();
        // In id order, as the registry iterates; this tab's own row goes in its place. No sort:
        // each sort's instantiation costs the bundle a few kilobytes.
        let mine = shown.partition_point(|tab| tab.id < core.id());
        let mut rows: Vec<TabRow> = shown
            .iter()
            .map(|tab| TabRow {
                id: crate::tab_id_text(tab.id),
                role: tab.role,
                visible: tab.visible,
                last_seen_ms: clock::to_ms(tab.last_seen),
                is_self: false,
            })
            .collect();
        rows.insert(
            mine,
            TabRow {
                id: crate::tab_id_text(core.id()),
                role,
                visible,
                last_seen_ms: clock::now_ms(),
                is_self: true,
            },
        );
        Some(rows)
    }
}

/// How much later a tab must be heard from before the Tabs panel shows the newer time (its ages
/// are shown to a tenth of a second, and every tab is heard from at least once a second).
const SEEN_RESOLUTION: Duration = Duration::from_millis(500);

/// A row of the Tabs panel as last shown, in the core's terms.
#[derive(Debug, Clone, Copy)]
struct SeenTab {
    id: coord::TabId,
    role: Role,
    visible: bool,
    last_seen: Instant,
}

/// What [`Driver::publish`] mirrored last, in the core's terms: compared before anything is
/// formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mirrored {
    role: Role,
    leader: Option<coord::TabId>,
    term: u64,
    stream: coord::StreamState,
    next_attempt: Option<Instant>,
    ignored_messages: u64,
    /// `Tab::leader_changes_version`: the timeline changed.
    timeline_version: u64,
}

/// A change of leader for the timeline panel (times on the shared clock, in ms).
fn change_row(change: &coord::LeaderChange) -> LeaderChangeRow {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    LeaderChangeRow {
        at_ms: clock::to_ms(change.at),
        cause: change.cause.as_str(),
        from: change.from.map(crate::tab_id_text),
        to: change.to.map(crate::tab_id_text),
        leaderless_ms: change.leaderless.map(ms),
        until_delivering_ms: change.until_delivering.map(ms),
        replayed: change.replayed,
    }
}

/// `/api/events?mode=leader` + `&last_event_id=N&epoch=E`: the position travels with its run, so
/// a server of another run answers with a `reset`, never a replay of ids that mean something else.
pub(super) fn stream_url(base: &str, resume: Option<&Position>) -> String {
    match resume {
        None => base.to_string(),
        Some(position) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let mut url = format!("{base}{sep}last_event_id={}", position.id);
            // A server that names no run: the id alone (it never repeats across runs).
            if !position.epoch.is_empty() {
                url.push_str("&epoch=");
                url.push_str(&String::from(js_sys::encode_uri_component(&position.epoch)));
            }
            url
        }
    }
}
