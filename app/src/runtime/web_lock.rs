//! The leader lock, on `navigator.locks`.
//!
//! Written with web-sys rather than leptos-use: `use_web_lock` (0.19) calls a web-sys method that
//! web-sys 0.3.107 no longer has, and it releases the lock when a callback returns, while the
//! leader must hold it for as long as the core says, steal it, and abort a queued request.

use super::driver::Driver;
use coord::Input;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, LockManager, LockOptions};

/// The Web Lock whose holder is the leader.
pub const LOCK_NAME: &str = "tabrelay-leader";

/// `navigator.locks`, or `None` where the page is not a secure context (plain http on a LAN IP).
pub fn lock_manager() -> Option<LockManager> {
    let navigator = web_sys::window()?.navigator();
    let locks = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| navigator.locks())
}

#[derive(Default)]
pub struct WebLock {
    manager: Option<LockManager>,
    /// Aborts the queued request (only non-steal requests are queued).
    queued: RefCell<Option<AbortController>>,
    /// Resolves the promise that holds the granted lock, which releases it.
    release: RefCell<Option<js_sys::Function>>,
    /// Bumped by every request and release, so a late settlement of an old request is ignored.
    generation: RefCell<u64>,
}

impl WebLock {
    pub fn new(manager: Option<LockManager>) -> Self {
        Self {
            manager,
            ..Self::default()
        }
    }

    /// Requests the lock; the driver gets `LockGranted`, and `LockLost` if it is stolen later.
    pub fn request(&self, driver: &Rc<Driver>, steal: bool) {
        let Some(manager) = &self.manager else {
            leptos::logging::warn!("tabrelay: asked for a Web Lock without navigator.locks");
            return;
        };
        let generation = self.next_generation();
        let options = LockOptions::new();
        if steal {
            options.set_steal(true);
        } else if let Ok(controller) = AbortController::new() {
            options.set_signal(&controller.signal());
            *self.queued.borrow_mut() = Some(controller);
        }

        let on_granted = {
            let driver = Rc::clone(driver);
            Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
                let lock = &driver.lock;
                lock.queued.borrow_mut().take();
                // Held until `release` resolves it, or the tab goes away.
                let held = js_sys::Promise::new(&mut |resolve, _reject| {
                    *lock.release.borrow_mut() = Some(resolve);
                });
                if *lock.generation.borrow() == generation {
                    driver.input(Input::LockGranted);
                }
                held
            })
        };
        let settled = manager.request_with_options(LOCK_NAME, &options, on_granted.unchecked_ref());

        // The request's promise settles when the lock is released (we resolved it), when the
        // queued request is aborted, or (rejected) when another tab steals the lock from us.
        let driver = Rc::clone(driver);
        leptos::task::spawn_local(async move {
            let stolen = JsFuture::from(settled).await.is_err();
            let lock = &driver.lock;
            let current = *lock.generation.borrow() == generation;
            if stolen && current && lock.release.borrow_mut().take().is_some() {
                driver.input(Input::LockLost);
            }
        });
    }

    /// Aborts a queued, not yet granted request.
    pub fn abort(&self) {
        self.next_generation();
        if let Some(controller) = self.queued.borrow_mut().take() {
            controller.abort();
        }
    }

    /// Releases the held lock.
    pub fn release(&self) {
        self.next_generation();
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }

    fn next_generation(&self) -> u64 {
        let mut generation = self.generation.borrow_mut();
        *generation += 1;
        *generation
    }
}
