//! The driver's timer, kept on time while the page is hidden.
//!
//! A hidden page's own timers fire late: Firefox fires them at most once a second (measured: a
//! 100 ms timer chain in a hidden Firefox 153 tab fired every 1000–1200 ms), Chromium too, and
//! once a minute after five minutes hidden. The core's heartbeat (250 ms) and its silence and
//! probe deadlines then stretch to seconds, and a crashed leader is noticed that much later. A
//! dedicated worker's timers keep time (the same tab: 100–150 ms) and its messages reach the
//! hidden page at once, so while the page is hidden a timer is also armed in
//! `public/tabrelay-timer.js`; whichever fires first runs it. The page's own `setTimeout` is
//! always armed too: without the worker (no `Worker`, a page whose policy forbids it, a script
//! that failed to load) a timer fires as late as it did before, never later.

use leptos::prelude::{set_timeout_with_handle, TimeoutHandle};
use std::cell::{Cell, RefCell};
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, Worker};

/// A timer armed with [`arm`]; [`Armed::clear`] cancels it.
pub struct Armed {
    token: u64,
    timeout: TimeoutHandle,
    in_worker: bool,
}

impl Armed {
    /// Whether the worker keeps this timer too (it was armed while the page was hidden).
    pub fn in_worker(&self) -> bool {
        self.in_worker
    }

    pub fn clear(self) {
        self.timeout.clear();
        TIMERS.with(|timers| {
            timers.take(self.token);
            if self.in_worker {
                timers.post(self.token, -1.0);
            }
        });
    }
}

/// Runs `fire` once, after `delay`; while the page is `hidden`, on the worker's time.
pub fn arm(delay: Duration, hidden: bool, fire: impl FnOnce() + 'static) -> Result<Armed, JsValue> {
    let token = TIMERS.with(|timers| timers.add(Box::new(fire)));
    let timeout = match set_timeout_with_handle(move || run(token), delay) {
        Ok(timeout) => timeout,
        Err(err) => {
            TIMERS.with(|timers| timers.take(token));
            return Err(err);
        }
    };
    let in_worker = hidden && TIMERS.with(|timers| timers.post(token, delay.as_millis() as f64));
    Ok(Armed {
        token,
        timeout,
        in_worker,
    })
}

/// Runs the timer `token`, unless it ran (the worker and the page both fire it) or was cleared.
/// No borrow is held while it runs: it may arm the next timer.
fn run(token: u64) {
    let fire = TIMERS.with(|timers| timers.take(token));
    if let Some(fire) = fire {
        fire();
    }
}

thread_local! {
    static TIMERS: Timers = Timers::default();
    /// The worker's script (`Names::timer_script`): the first runtime of the page names it.
    static SCRIPT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Where the timer worker's script is served (`public/tabrelay-timer.js` of this crate). The
/// page's runtimes share one worker: the first script named is the one used.
pub fn set_script(url: &str) {
    SCRIPT.with(|script| {
        script.borrow_mut().get_or_insert_with(|| url.to_owned());
    });
}

/// What a timer runs when it fires.
type Fire = Box<dyn FnOnce()>;

#[derive(Default)]
struct Timers {
    /// The armed timers (one or two: the driver's, and one cleared but not yet removed).
    due: RefCell<Vec<(u64, Fire)>>,
    next_token: Cell<u64>,
    /// Started at the first timer of a hidden page; `None` inside once it could not be.
    worker: RefCell<Option<Option<Worker>>>,
}

impl Timers {
    fn add(&self, fire: Fire) -> u64 {
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        self.due.borrow_mut().push((token, fire));
        token
    }

    fn take(&self, token: u64) -> Option<Fire> {
        let mut due = self.due.borrow_mut();
        let at = due.iter().position(|(t, _)| *t == token)?;
        Some(due.swap_remove(at).1)
    }

    /// Sends `[token, delay_ms]` to the worker (a negative delay clears); whether it was sent.
    fn post(&self, token: u64, delay_ms: f64) -> bool {
        let worker = self
            .worker
            .borrow_mut()
            .get_or_insert_with(start_worker)
            .clone();
        let Some(worker) = worker else {
            return false;
        };
        let message = js_sys::Array::of2(&JsValue::from(token as f64), &JsValue::from(delay_ms));
        worker.post_message(&message).is_ok()
    }
}

fn start_worker() -> Option<Worker> {
    let url = SCRIPT.with(|script| script.borrow().clone())?;
    let worker = match Worker::new(&url) {
        Ok(worker) => worker,
        Err(err) => {
            leptos::logging::warn!("tabrelay: no timer worker, hidden timers run late: {err:?}");
            return None;
        }
    };
    // `Fn`: it runs a driver turn, which a browser may re-enter (see `runtime`).
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(|message: MessageEvent| {
        if let Some(token) = message.data().as_f64() {
            run(token as u64);
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // Lives as long as the page, like the worker.
    on_message.forget();
    Some(worker)
}
