//! The hub's fan-out channel: one ring of shared values, one cursor per receiver, and wakers
//! that stay registered for the receiver's whole life.
//!
//! `tokio::sync::broadcast` has the same ring and the same `Lagged` rule, but a receiver that
//! finds nothing new takes the channel's one `tail` mutex to store its waker, and a send
//! unlinks every waiter: at 10,000 streams that is 10,000 lock round-trips per event on one
//! mutex, fought over by every worker thread. Here a receiver registers its waker once (again
//! only if the task polling it changes) and a send wakes every registered waker without
//! unregistering it, so checking for news is an atomic load and reading it a shared slot lock.
//!
//! [`Sender::wake_all`] wakes every receiver without a value: streams also watch a few things
//! that change rarely (the `stats` frame, the shutdown token) with plain atomic checks and are
//! woken through here when those change.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    /// The position this slot holds (`u64::MAX`: never written).
    pos: u64,
    value: Option<T>,
}

struct Shared<T> {
    slots: Box<[RwLock<Slot<T>>]>,
    mask: u64,
    /// The next position to be written; every position below it is readable (or overwritten).
    tail: AtomicU64,
    /// Sends are serialised here (the tail's writer).
    write: Mutex<u64>,
    closed: AtomicBool,
    wakers: Mutex<Wakers>,
    /// Counts [`Sender::wake_all`] calls (not sends): a receiver that serves others (a
    /// [`crate::direct_shard`] writer) tells a wake-up for news apart from one for the rest.
    generation: AtomicU64,
}

/// Registered wakers: a slab, so a receiver's key stays valid until it leaves.
#[derive(Default)]
struct Wakers {
    entries: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Wakers {
    fn insert(&mut self, waker: Waker) -> usize {
        match self.free.pop() {
            Some(key) => {
                self.entries[key] = Some(waker);
                key
            }
            None => {
                self.entries.push(Some(waker));
                self.entries.len() - 1
            }
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some(entry) = self.entries.get_mut(key) {
            if entry.take().is_some() {
                self.free.push(key);
            }
        }
    }
}

/// Why [`Receiver::poll_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The receiver fell this many values behind; the next value is the oldest still held.
    Lagged(u64),
    /// The sender is gone and every value was read.
    Closed,
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
    /// The waker registered for this receiver, and its key in the slab.
    registered: Option<(usize, Waker)>,
}

/// A channel keeping the last `capacity` values (rounded up to a power of two, as
/// `tokio::sync::broadcast` does).
pub fn channel<T: Clone>(capacity: usize) -> Sender<T> {
    let capacity = capacity.max(1).next_power_of_two();
    let slots = (0..capacity)
        .map(|_| {
            RwLock::new(Slot {
                pos: u64::MAX,
                value: None,
            })
        })
        .collect();
    Sender {
        shared: Arc::new(Shared {
            slots,
            mask: capacity as u64 - 1,
            tail: AtomicU64::new(0),
            write: Mutex::new(0),
            closed: AtomicBool::new(false),
            wakers: Mutex::default(),
            generation: AtomicU64::new(0),
        }),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Clone> Sender<T> {
    /// Appends `value` (overwriting the oldest once the ring is full) and wakes every receiver.
    pub fn send(&self, value: T) {
        let shared = &*self.shared;
        {
            let mut tail = lock(&shared.write);
            let pos = *tail;
            {
                let mut slot = shared.slots[(pos & shared.mask) as usize]
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                slot.pos = pos;
                slot.value = Some(value);
            }
            *tail = pos + 1;
            shared.tail.store(pos + 1, Ordering::Release);
        }
        self.wake_registered();
    }

    /// A receiver that gets every value sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver {
            shared: Arc::clone(&self.shared),
            next: self.shared.tail.load(Ordering::Acquire),
            registered: None,
        }
    }

    /// Wakes every registered receiver (it finds no value unless one was sent).
    pub fn wake_all(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        self.wake_registered();
    }

    fn wake_registered(&self) {
        let wakers = lock(&self.shared.wakers);
        for waker in wakers.entries.iter().flatten() {
            waker.wake_by_ref();
        }
    }

    /// Receivers currently registered for wake-ups (those that have waited at least once).
    pub fn registered(&self) -> usize {
        let wakers = lock(&self.shared.wakers);
        wakers.entries.len() - wakers.free.len()
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        let wakers = lock(&self.shared.wakers);
        for waker in wakers.entries.iter().flatten() {
            waker.wake_by_ref();
        }
    }
}

impl<T: Clone> Receiver<T> {
    /// The next value.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next value, or `Pending` with this task registered to be woken by the next send.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        if let Some(next) = self.take() {
            return Poll::Ready(next);
        }
        if matches!(&self.registered, Some((_, w)) if w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        // First wait, or another task polls this receiver now: (re)register, then look again,
        // since a send may have finished between the look above and the registration.
        let mut wakers = lock(&self.shared.wakers);
        match &mut self.registered {
            Some((key, waker)) => {
                waker.clone_from(cx.waker());
                wakers.entries[*key] = Some(waker.clone());
            }
            None => {
                let key = wakers.insert(cx.waker().clone());
                self.registered = Some((key, cx.waker().clone()));
            }
        }
        drop(wakers);
        match self.take() {
            Some(next) => Poll::Ready(next),
            None => Poll::Pending,
        }
    }

    /// The position of the next value this receiver takes.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Skips to `pos` (values below it were delivered some other way); never moves back.
    pub fn advance_to(&mut self, pos: u64) {
        self.next = self.next.max(pos);
    }

    /// `true` if a value (or the close) is there to take.
    pub fn has_news(&self) -> bool {
        self.shared.tail.load(Ordering::SeqCst) > self.next
            || self.shared.closed.load(Ordering::Acquire)
    }

    /// How many times [`Sender::wake_all`] was called.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The next value if there is one now (`None`: nothing yet), without waiting.
    pub fn try_recv(&mut self) -> Option<Result<T, RecvError>> {
        self.take()
    }

    fn take(&mut self) -> Option<Result<T, RecvError>> {
        let shared = &*self.shared;
        loop {
            let tail = shared.tail.load(Ordering::Acquire);
            if self.next >= tail {
                return shared
                    .closed
                    .load(Ordering::Acquire)
                    .then_some(Err(RecvError::Closed));
            }
            let slot = shared.slots[(self.next & shared.mask) as usize]
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if slot.pos == self.next {
                let value = slot.value.clone().expect("a written slot holds a value");
                self.next += 1;
                return Some(Ok(value));
            }
            drop(slot);
            // Overwritten: resume at the oldest value still held.
            let tail = shared.tail.load(Ordering::Acquire);
            let oldest = tail.saturating_sub(shared.mask + 1);
            if oldest > self.next {
                let missed = oldest - self.next;
                self.next = oldest;
                return Some(Err(RecvError::Lagged(missed)));
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            lock(&self.shared.wakers).remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    #[test]
    fn values_arrive_in_order_and_waiting_registers_once() {
        let tx = channel::<u32>(4);
        let mut rx = tx.subscribe();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert_eq!(tx.registered(), 1);
        tx.send(1);
        tx.send(2);
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "woken by each send");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(1)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(2)));
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.send(3);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            3,
            "still registered after a wake"
        );
        tx.wake_all();
        assert_eq!(count.0.load(Ordering::SeqCst), 4);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(3)));
        drop(rx);
        assert_eq!(tx.registered(), 0, "a dropped receiver leaves");
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let tx = channel::<u32>(4);
        let mut rx = tx.subscribe();
        let (first, a) = counting();
        let (second, b) = counting();
        assert!(rx.poll_recv(&mut Context::from_waker(&a)).is_pending());
        assert!(rx.poll_recv(&mut Context::from_waker(&b)).is_pending());
        tx.send(1);
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert_eq!(tx.registered(), 1);
    }

    #[test]
    fn a_receiver_that_falls_behind_is_told_how_far_then_gets_the_oldest() {
        let tx = channel::<u32>(3); // rounded up to 4
        let mut rx = tx.subscribe();
        for v in 0..10 {
            tx.send(v);
        }
        let (_, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(
            rx.poll_recv(&mut cx),
            Poll::Ready(Err(RecvError::Lagged(6)))
        );
        for v in 6..10 {
            assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(v)));
        }
        assert!(rx.poll_recv(&mut cx).is_pending());
    }

    #[test]
    fn a_late_subscriber_sees_only_new_values_and_closing_ends_it() {
        let tx = channel::<u32>(4);
        tx.send(1);
        let mut rx = tx.subscribe();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.send(2);
        drop(tx);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            2,
            "woken by the send and the close"
        );
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(2)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Err(RecvError::Closed)));
    }
}
