//! The page's task executor: wasm-bindgen's, made safe to re-enter.
//!
//! Every Leptos effect and every `spawn_local` runs as a task of this executor. wasm-bindgen's
//! own runs its queue from one `FnMut` closure handed to `queueMicrotask`. A closing Firefox page
//! runs a microtask checkpoint from inside a browser call the page makes (a `postMessage`, an
//! `EventSource.close`, a DOM write), so a task that scheduled another and then made such a call
//! has that closure called again while it runs: wasm-bindgen throws "closure invoked recursively
//! or after being dropped" (CI, a closing Web Locks leader). Here the queue runs from an `Fn`
//! closure that returns at once when it finds a run under way: that run goes on with the tasks
//! woken meanwhile, and no task is ever polled inside another. It is queued by the JavaScript
//! engine, not by a browser call (see `Queue::schedule`).
//!
//! A page that has left for good runs no task again ([`super::leaving`]): its effects would only
//! repaint a page no one sees, and Firefox may have cut the page's code off in the middle of one
//! with its locks taken.
//!
//! Installed once, before hydration ([`install`]); Leptos' own `init_wasm_bindgen` then finds an
//! executor set and leaves it.

use any_spawner::{CustomExecutor, Executor, PinnedFuture, PinnedLocalFuture};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsCast;

/// Makes this executor the one `leptos::task::spawn_local` and every effect use. Call it before
/// `hydrate_body`; a second call changes nothing.
pub fn install() {
    if Executor::init_local_custom_executor(MicrotaskExecutor).is_err() {
        leptos::logging::warn!("tabrelay: an executor was already set; re-entry is not guarded");
        return;
    }
    super::leaving::watch();
}

/// The [`CustomExecutor`] face of the thread's [`Queue`].
struct MicrotaskExecutor;

impl CustomExecutor for MicrotaskExecutor {
    fn spawn(&self, fut: PinnedFuture<()>) {
        QUEUE.with(|queue| queue.spawn(fut));
    }

    fn spawn_local(&self, fut: PinnedLocalFuture<()>) {
        QUEUE.with(|queue| queue.spawn(fut));
    }

    /// Tasks run in the microtask after they are woken, never from inside a caller.
    fn poll_local(&self) {}
}

thread_local! {
    static QUEUE: Queue = Queue::default();
    /// The microtask that runs the queue. `Fn`, so calling it while it runs is allowed.
    static RUN: Closure<dyn Fn()> = Closure::new(|| QUEUE.with(Queue::run));
    /// A settled promise: `then` on it queues a microtask.
    static SETTLED: Settled = resolve();
}

#[wasm_bindgen]
extern "C" {
    /// A promise that is already fulfilled.
    type Settled;

    /// `Promise.resolve()`.
    #[wasm_bindgen(js_namespace = Promise, js_name = resolve)]
    fn resolve() -> Settled;

    /// `promise.then(callback)`: the JavaScript engine queues `callback` as a microtask, without
    /// a browser call in between (see [`Queue::schedule`]).
    #[wasm_bindgen(method)]
    fn then(this: &Settled, callback: &js_sys::Function);
}

/// One task: its future while it waits (taken out while it is polled), and whether it is queued.
struct Task {
    future: Option<PinnedLocalFuture<()>>,
    queued: bool,
}

/// A task's place in [`Queue::slots`] and the generation of that slot: a waker of a finished
/// task does not wake the next task to use the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TaskId {
    index: u32,
    generation: u32,
}

impl TaskId {
    fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    fn from_bits(bits: u64) -> Self {
        Self {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }
}

#[derive(Default)]
struct Slot {
    generation: u32,
    task: Option<Task>,
}

/// The tasks in a slab (a page has a few dozen at most; no hash map in the wasm for them).
#[derive(Default)]
struct Queue {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    ready: RefCell<VecDeque<TaskId>>,
    /// A microtask that runs the queue is pending.
    scheduled: Cell<bool>,
    /// The queue is running (further up the stack, when a run is re-entered).
    running: Cell<bool>,
}

impl Queue {
    fn spawn(&self, future: PinnedLocalFuture<()>) {
        let task = Task {
            future: Some(future),
            queued: true,
        };
        let mut slots = self.slots.borrow_mut();
        let index = match self.free.borrow_mut().pop() {
            Some(index) => index,
            None => {
                slots.push(Slot::default());
                (slots.len() - 1) as u32
            }
        };
        let slot = &mut slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.task = Some(task);
        let id = TaskId {
            index,
            generation: slot.generation,
        };
        drop(slots);
        self.ready.borrow_mut().push_back(id);
        self.schedule();
    }

    /// The task `id`, if it has not finished.
    fn with_task<R>(&self, id: TaskId, f: impl FnOnce(&mut Task) -> R) -> Option<R> {
        let mut slots = self.slots.borrow_mut();
        let slot = slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.task.as_mut().map(f)
    }

    /// Queues the task `id` once, however often it is woken before it runs; a task that has
    /// finished is not woken.
    fn wake(&self, id: TaskId) {
        let newly_queued = self.with_task(id, |task| !std::mem::replace(&mut task.queued, true));
        if newly_queued == Some(true) {
            self.ready.borrow_mut().push_back(id);
            self.schedule();
        }
    }

    /// Queues the microtask that runs the queue, unless it is pending.
    ///
    /// A task is woken by whoever changed what it waits for, and a Leptos effect's waker is called
    /// with the effect's lock held (`mark_dirty`). So the microtask is queued with a JavaScript
    /// builtin (`then` on a settled promise), not with a browser call: Firefox runs a closing
    /// page's `visibilitychange` and microtask checkpoints from inside browser calls the page
    /// makes, `queueMicrotask` included, and there a listener that wakes the same effect, or the
    /// queue's own run polling it, takes that lock again: std's lock on one thread aborts the
    /// page's wasm ("unreachable executed"; CI 2026-11-30, and the re-entry test's lifecycle
    /// mode once its `visibilitychange` reached the window's listeners).
    fn schedule(&self) {
        // Once the page has left, no task runs again: no microtask for them either.
        if super::leaving::has_left() || self.scheduled.get() {
            return;
        }
        SETTLED.with(|settled| RUN.with(|run| settled.then(run.as_ref().unchecked_ref())));
        // After the call: one cut off inside it leaves the next wake-up to queue again.
        self.scheduled.set(true);
    }

    /// Polls the tasks that were ready when it started (tasks woken meanwhile wait for the next
    /// microtask, so a task that wakes itself cannot starve the page).
    fn run(&self) {
        // This call is the pending microtask, whether it runs at the top or nested.
        self.scheduled.set(false);
        if super::leaving::has_left() || self.running.replace(true) {
            return;
        }
        let mut left = self.ready.borrow().len();
        // A task polled here may see the page leave (a `pagehide` fired from inside one of its
        // calls): the rest are not polled.
        while left > 0 && !super::leaving::has_left() {
            left -= 1;
            let Some(id) = self.ready.borrow_mut().pop_front() else {
                break;
            };
            let future = self.with_task(id, |task| {
                task.queued = false;
                task.future.take()
            });
            let Some(mut future) = future.flatten() else {
                continue;
            };
            let waker = Waker::from(Arc::new(TaskWaker(id.to_bits())));
            match future.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(()) => {
                    let finished = self.with_task(id, |_| ()).is_some();
                    if finished {
                        self.slots.borrow_mut()[id.index as usize].task = None;
                        self.free.borrow_mut().push(id.index);
                    }
                }
                Poll::Pending => {
                    self.with_task(id, |task| task.future = Some(future));
                }
            }
        }
        self.running.set(false);
        if !self.ready.borrow().is_empty() {
            self.schedule();
        }
    }
}

/// Wakes a task by its id. `Send + Sync` as [`Wake`] requires; the page has one thread, and the
/// queue is that thread's.
struct TaskWaker(u64);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        QUEUE.with(|queue| queue.wake(TaskId::from_bits(self.0)));
    }
}
