//! The leader lock, on `navigator.locks`.
//!
//! Written with web-sys rather than leptos-use: `use_web_lock` (0.19) calls a web-sys method that
//! web-sys 0.3.107 no longer has, and it releases the lock when a callback returns, while the
//! leader must hold it for as long as the core says, steal it, and abort a queued request.
//!
//! Only the *current* request may talk to the core. Every request gets a generation number;
//! `abort` and `release` end the current one. A grant that arrives for an ended request (it raced
//! with the abort, or a steal cannot be aborted at all) is handed straight back to the browser,
//! so no tab ever sits on the lock without knowing it.

use super::feed::Feed;
use coord::{Config, Input, Tab};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, LockManager, LockOptions};

/// `navigator.locks`, or `None` where the page is not a secure context (plain http on a LAN IP).
pub fn lock_manager() -> Option<LockManager> {
    let navigator = web_sys::window()?.navigator();
    let locks = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| navigator.locks())
}

/// Once the page is idle, runs a Web Locks handover on scratch cores ([`Tab::rehearse_handover`]):
/// the first grant then runs compiled code rather than waiting for each function of the leader's
/// path to be compiled on its first call (Chromium compiles wasm lazily). Nothing of it reaches
/// the page.
pub fn rehearse_when_idle(config: Config) {
    let rehearse = move || {
        Tab::rehearse_handover(&config);
    };
    // No `requestIdleCallback` (Safari): right after this task instead.
    if let Err(rehearse) = request_idle(rehearse) {
        leptos::prelude::set_timeout(rehearse, std::time::Duration::ZERO);
    }
}

/// `requestIdleCallback(f)`, or `f` back where the browser has none.
fn request_idle<F: Fn() + Clone + 'static>(f: F) -> Result<(), F> {
    leptos::prelude::request_idle_callback_with_handle(f.clone())
        .map(drop)
        .map_err(|_| f)
}

/// The request the core currently cares about.
struct Current {
    generation: u64,
    /// Aborts it while queued (steals are never queued, so they have none).
    queued: Option<AbortController>,
    /// Resolves the promise that holds the granted lock, which releases it.
    release: Option<js_sys::Function>,
    /// Its promise settled: released, aborted, or stolen by another tab.
    settled: bool,
}

/// The lock and its current request; shared with the request's promise callbacks.
pub struct WebLock(Rc<Inner>);

struct Inner {
    manager: Option<LockManager>,
    /// See `Names::lock_for`.
    name: String,
    current: RefCell<Option<Current>>,
    generations: RefCell<u64>,
}

impl WebLock {
    pub fn new(manager: Option<LockManager>, name: String) -> Self {
        Self(Rc::new(Inner {
            manager,
            name,
            current: RefCell::new(None),
            generations: RefCell::new(0),
        }))
    }

    /// Requests the lock; the driver gets `LockGranted`, and `LockLost` if it is stolen later.
    pub fn request(&self, feed: &Feed, steal: bool) {
        let this = &self.0;
        let Some(manager) = &this.manager else {
            leptos::logging::warn!("tabrelay: asked for a Web Lock without navigator.locks");
            return;
        };
        let generation = {
            let mut generations = this.generations.borrow_mut();
            *generations += 1;
            *generations
        };
        let options = LockOptions::new();
        let mut queued = None;
        if steal {
            options.set_steal(true);
        } else if let Ok(controller) = AbortController::new() {
            options.set_signal(&controller.signal());
            queued = Some(controller);
        }
        *this.current.borrow_mut() = Some(Current {
            generation,
            queued,
            release: None,
            settled: false,
        });

        let on_granted = {
            let (lock, feed) = (Rc::clone(this), feed.clone());
            Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
                lock.granted(&feed, generation)
            })
        };
        let settled =
            manager.request_with_options(&this.name, &options, on_granted.unchecked_ref());

        // The request's promise settles when we release the lock (resolved), when the queued
        // request is aborted, or when another tab steals the lock (both rejected). Its reactions
        // call in directly rather than through wasm-bindgen's executor: a closing leader's release
        // settles it while Firefox tears the tab down, and the executor does not survive being
        // woken from the microtask checkpoints Firefox runs nested then (see `Driver::run`).
        let on_settled = |rejected: bool| {
            let (lock, feed) = (Rc::clone(this), feed.clone());
            Closure::once(move |_: JsValue| lock.settled(&feed, generation, rejected))
        };
        let (on_resolved, on_rejected) = (on_settled(false), on_settled(true));
        let _ = settled.then2(&on_resolved, &on_rejected);
        // Owned by the promise from here; the one never called goes when it is collected.
        on_resolved.forget();
        on_rejected.forget();
    }

    /// Ends a request that has not been granted yet (queued, or a steal in flight, whose grant
    /// will then be handed back). A held lock is left alone: that is `release`.
    pub fn abort(&self) {
        self.0.abort();
    }

    /// Releases the held lock (and ends a request still waiting, if that is all there is).
    pub fn release(&self) {
        self.0.release();
    }
}

impl Inner {
    /// Request `generation` settled: `LockLost` if it was held and taken from us.
    fn settled(&self, feed: &Feed, generation: u64, rejected: bool) {
        let lost = match self.current.borrow_mut().as_mut() {
            Some(c) if c.generation == generation => {
                c.settled = true;
                rejected && c.release.take().is_some()
            }
            _ => false,
        };
        if lost {
            feed.input(Input::LockLost);
        }
    }

    /// The browser granted request `generation`: hold it if it is still wanted, else give it back.
    fn granted(&self, feed: &Feed, generation: u64) -> js_sys::Promise {
        let wanted = matches!(
            self.current.borrow().as_ref(),
            Some(c) if c.generation == generation && !c.settled
        );
        if !wanted {
            // Abandoned, or stolen before this callback ran: the lock is not ours to keep.
            return js_sys::Promise::resolve(&JsValue::UNDEFINED);
        }
        // Made before `current` is borrowed: no borrow is held across a browser call (see
        // `Driver::run`).
        let mut resolver = None;
        let held = js_sys::Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
        match self.current.borrow_mut().as_mut() {
            Some(c) if c.generation == generation && !c.settled => {
                c.queued = None;
                c.release = resolver;
            }
            _ => return js_sys::Promise::resolve(&JsValue::UNDEFINED),
        }
        feed.input(Input::LockGranted);
        held
    }

    fn abort(&self) {
        if self
            .current
            .borrow()
            .as_ref()
            .is_some_and(|c| c.release.is_some())
        {
            leptos::logging::warn!(
                "tabrelay: asked to abort the lock request, but the lock is held"
            );
            return;
        }
        // Taken out first: `abort()` fires the signal's `abort` event right away.
        let ended = self.current.borrow_mut().take();
        if let Some(controller) = ended.and_then(|c| c.queued) {
            controller.abort();
        }
    }

    fn release(&self) {
        let ended = self.current.borrow_mut().take();
        let Some(current) = ended else {
            return;
        };
        if let Some(resolve) = current.release {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        } else if let Some(controller) = current.queued {
            controller.abort();
        }
    }
}
