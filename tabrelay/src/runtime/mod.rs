//! The browser shell of the coordination core (feature `hydrate`).
//!
//! The core (`coord`) decides everything: who leads, when to beat, when to steal, when to
//! reconnect, what to relay. This module only carries its decisions out with browser APIs and
//! feeds back what happens:
//!
//! | module      | browser side                                                                 |
//! |-------------|------------------------------------------------------------------------------|
//! | [`Shared`]  | one page's runtime for one stream: mounts, start and stop                    |
//! | `sink`      | where every mode delivers: the view, the app's handlers, its resync          |
//! | `driver`    | feeds inputs to the core, performs its outputs, one timer, mirrors the view  |
//! | `feed`      | how listeners report to the driver without knowing it                        |
//! | `web_lock`  | `navigator.locks`: hold (never-resolving promise), steal, abort, lost        |
//! | `channel`   | the tabs' channel: post, decode, count foreign input; a `BroadcastChannel`   |
//! |             | ([`Mode::Leader`]) or `storage_channel` ([`Mode::Storage`], `localStorage`)  |
//! | `stream`    | the leader's `EventSource`, resume via `?last_event_id=N&epoch=E`             |
//! | `fetch_stream` | the leader's stream read with `fetch`, for every event (`Events::All`)    |
//! | `lifecycle` | `visibilitychange`, `pagehide`, `pageshow`, `freeze`, `resume`, `online`     |
//! | `listeners` | event listeners removed when dropped                                        |
//! | `clock`     | microseconds on a time line shared by every tab                             |
//! | `timer`     | the driver's timer; while hidden also in a worker (`tabrelay-timer.js`)      |
//! | `naive`     | [`Mode::Naive`] and its variants: a tab with its own `EventSource` (no core) |
//! | `shared_worker` | [`Mode::SharedWorker`]: a client of `tabrelay-worker.js` (no core)       |
//! | [`http`]    | a small `fetch` (the sharded mode's port list; apps may use it)              |
//! | [`executor`] | the tasks of every effect and `spawn_local`, run from a re-entrant microtask |
//! | [`leaving`] | the page's last `pagehide`: from then on nothing runs that need not            |
//!
//! Closures that feed the driver are `Fn`: a browser may fire an event from inside a call made
//! by that very listener (Firefox does, while it closes a tab), and wasm-bindgen throws "closure
//! invoked recursively" for an `FnMut` called again while it runs; the driver queues what arrives
//! during a turn (`Driver::run`).

mod channel;
pub mod clock;
mod driver;
pub mod executor;
mod feed;
mod fetch_stream;
pub mod http;
pub mod leaving;
pub mod lifecycle;
mod listeners;
mod naive;
#[cfg(feature = "alternative-modes")]
mod shared_worker;
mod sink;
mod storage_channel;
mod stream;
mod timer;
mod web_lock;

use crate::handler::Handler;
use crate::options::{Election, Mode, Options};
use crate::view::TabView;
use coord::handlers::HandlerId;
use coord::{Input, Mechanism, Tab, TabId};
use driver::Driver;
use leptos::prelude::*;
use sink::Sink;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsValue;

thread_local! {
    /// The page's runtimes, by [`Options::key`]: a second mount of the same stream shares the
    /// first, so a page is always one tab.
    /// (A list: a page has one or two, and a map type would cost the bundle more code.)
    static PAGE: RefCell<Vec<Rc<Shared>>> = const { RefCell::new(Vec::new()) };
}

/// One page's runtime for one stream, shared by every mount of the hook with the same options.
pub struct Shared {
    key: String,
    options: Options,
    sink: Rc<Sink>,
    mounts: Cell<usize>,
    run: RefCell<Run>,
    /// Inputs (connect, disconnect, step down) sent before the runtime started, in order.
    early: RefCell<Vec<Input>>,
}

enum Run {
    /// Mounted, waiting for hydration to finish.
    NotStarted,
    /// The leader and storage modes: the core and its driver.
    Driver(Rc<Driver>),
    /// The modes without a core (their streams and ports live as long as the page).
    Other,
    /// The last mount went away.
    Stopped,
}

impl Shared {
    /// The runtime for `options` in this page: the one already mounted with the same stream and
    /// names, or a new one that starts once the page has hydrated.
    pub fn mount(options: Options) -> Rc<Shared> {
        let key = options.key();
        let mounted = PAGE.with(|page| page.borrow().iter().find(|s| s.key == key).cloned());
        if let Some(shared) = mounted {
            shared.mounts.set(shared.mounts.get() + 1);
            return shared;
        }
        let shared = Rc::new(Shared {
            key,
            sink: Rc::new(Sink::new(options.resync.clone())),
            options,
            mounts: Cell::new(1),
            run: RefCell::new(Run::NotStarted),
            early: RefCell::new(Vec::new()),
        });
        PAGE.with(|page| page.borrow_mut().push(Rc::clone(&shared)));
        leaving::watch();
        let starting = Rc::clone(&shared);
        // Effects run after hydration; `untrack` keeps the runtime's reads from re-running it.
        Effect::new(move |_| untrack(|| starting.start()));
        shared
    }

    /// The tab's view, which this runtime writes.
    pub fn view(&self) -> TabView {
        self.sink.view
    }

    /// A mount's owner was cleaned up; the last one stops the runtime: the tab leaves as on
    /// `pagehide` (resigns, releases its lock, says goodbye, closes its stream).
    pub fn unmount(self: &Rc<Self>) {
        let left = self.mounts.get().saturating_sub(1);
        self.mounts.set(left);
        if left > 0 {
            return;
        }
        PAGE.with(|page| page.borrow_mut().retain(|s| !Rc::ptr_eq(s, self)));
        let run = self.run.replace(Run::Stopped);
        if let Run::Driver(driver) = run {
            driver.stop();
        }
        self.sink.clear();
    }

    /// Registers a handler for the events named `name`.
    pub fn on(&self, name: &str, handler: Handler) -> HandlerId {
        self.sink.on(name, handler)
    }

    /// Removes a handler; `false` if it was not registered.
    pub fn off(&self, id: HandlerId) -> bool {
        self.sink.off(id)
    }

    /// Feeds an input to the core (connect, disconnect, step down); queued until the runtime starts.
    pub fn input(&self, input: Input) {
        let driver = match &*self.run.borrow() {
            Run::Driver(driver) => Some(Rc::clone(driver)),
            Run::NotStarted => None,
            Run::Other | Run::Stopped => return,
        };
        match driver {
            Some(driver) => driver.input(input),
            None => self.early.borrow_mut().push(input),
        }
    }

    fn start(self: &Rc<Self>) {
        if !matches!(*self.run.borrow(), Run::NotStarted) {
            return;
        }
        let run = match start(&self.sink, &self.options) {
            Some(driver) => {
                for input in self.early.take() {
                    driver.input(input);
                }
                Run::Driver(driver)
            }
            None => Run::Other,
        };
        *self.run.borrow_mut() = run;
    }
}

/// `mode`, or the closest mode this build (see the `alternative-modes` feature) and this browser
/// support: Chrome on Android has no SharedWorker,
/// Safari before 15.4 no BroadcastChannel, and storage can be blocked (then `localStorage`
/// throws). `naive` needs only `EventSource`: a tab with no way to reach other tabs keeps its
/// own stream rather than none.
pub fn available_mode(mode: Mode) -> Mode {
    let Some(window) = web_sys::window() else {
        return built_mode(mode);
    };
    let has = |name: &str| js_sys::Reflect::has(&window, &JsValue::from_str(name)).unwrap_or(false);
    let storage = || matches!(window.local_storage(), Ok(Some(_)));
    match built_mode(mode) {
        Mode::SharedWorker if !has("SharedWorker") => available_mode(Mode::Leader),
        Mode::Leader | Mode::Storage if !has("BroadcastChannel") && !storage() => Mode::Naive,
        Mode::Leader if !has("BroadcastChannel") && storage() => Mode::Storage,
        Mode::Storage if !storage() && has("BroadcastChannel") => Mode::Leader,
        mode => mode,
    }
}

/// `mode` if this build has it: without the `alternative-modes` feature, the modes that stand
/// for the alternatives run as `leader`.
fn built_mode(mode: Mode) -> Mode {
    match mode {
        #[cfg(not(feature = "alternative-modes"))]
        Mode::Sharded | Mode::HiddenClose | Mode::SharedWorker => Mode::Leader,
        mode => mode,
    }
}

/// Starts this tab's runtime for `options`, delivering to `sink`; the driver for the modes with
/// a core.
fn start(sink: &Rc<Sink>, options: &Options) -> Option<Rc<Driver>> {
    let view = sink.view;
    let id = random_tab_id();
    view.tab_id.set(crate::tab_id_text(id));
    let built = built_mode(options.mode);
    if built != options.mode {
        leptos::logging::error!(
            "tabrelay: mode {} needs the crate feature `alternative-modes`; using {}",
            options.mode.as_str(),
            built.as_str()
        );
    }
    let wanted = built;
    let mode = available_mode(wanted);
    if mode != wanted {
        leptos::logging::warn!(
            "tabrelay: mode {} needs what this browser lacks; using {}",
            wanted.as_str(),
            mode.as_str()
        );
    }
    let options = &Options {
        mode,
        ..options.clone()
    };
    view.mode.set(Some(mode));
    timer::set_script(&options.names.timer_script);
    let channel = match mode {
        // No election in these: nothing for `connect` / `step_down` to drive.
        Mode::Naive => {
            naive::start(sink, options);
            return None;
        }
        #[cfg(feature = "alternative-modes")]
        Mode::Sharded => {
            naive::start_sharded(sink, options);
            return None;
        }
        #[cfg(feature = "alternative-modes")]
        Mode::HiddenClose => {
            naive::start_hidden_close(sink, options);
            return None;
        }
        #[cfg(feature = "alternative-modes")]
        Mode::SharedWorker => {
            shared_worker::start(sink, options);
            return None;
        }
        // (Without the feature, `built_mode` made these `leader`.)
        #[cfg(not(feature = "alternative-modes"))]
        Mode::Sharded | Mode::HiddenClose | Mode::SharedWorker => {
            channel::Channel::broadcast(&options.names.channel)
        }
        Mode::Leader => channel::Channel::broadcast(&options.names.channel),
        Mode::Storage => channel::Channel::storage(&options.names.storage_prefix),
    };
    let channel = match channel {
        Ok(channel) => channel,
        Err(err) => {
            leptos::logging::error!("tabrelay: no channel between tabs: {err:?}");
            return None;
        }
    };
    let locks = web_lock::lock_manager();
    let mechanism = match (options.election, &locks) {
        (Election::Protocol, _) | (Election::Auto, None) => Mechanism::Protocol,
        (Election::Locks, None) => {
            leptos::logging::warn!("tabrelay: Web Locks asked for, but navigator.locks is missing");
            Mechanism::Protocol
        }
        (Election::Locks | Election::Auto, Some(_)) => Mechanism::Locks,
    };
    view.mechanism.set(Some(match mechanism {
        Mechanism::Locks => "locks",
        Mechanism::Protocol => "protocol",
    }));

    let seed = (js_sys::Math::random() * 2f64.powi(53)) as u64;
    let core = Tab::new(id, mechanism, options.config.clone(), clock::now(), seed);
    let driver = Rc::new(Driver::new(
        core,
        Rc::clone(sink),
        options,
        web_lock::WebLock::new(locks, options.names.lock_for(mode)),
        channel,
    ));
    driver.listen();
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        driver.input(Input::VisibilityChanged {
            visible: lifecycle::is_visible(&document),
        });
    }
    if options.auto_connect {
        driver.input(Input::Connect);
    }
    driver.run();
    web_lock::rehearse_when_idle(options.config.clone());
    Some(driver)
}

/// 48 random bits: unique among the tabs of a browser, and short enough to read.
fn random_tab_id() -> TabId {
    let high = (js_sys::Math::random() * f64::from(1u32 << 16)) as u64;
    let low = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    TabId((high << 32) | low)
}
