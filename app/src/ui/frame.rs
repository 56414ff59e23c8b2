//! Rendering paced by the screen, not by the events.
//!
//! The runtime writes the tab's state as events arrive (the relay and the app's handlers run for
//! every one of them). The panels do not read that state directly: they read it through a
//! [`Paced`] view, which wakes them at most once per animation frame while the page is visible,
//! so a burst of events costs one render. While the page is hidden nothing is shown: its views
//! do not wake at all, and catch up at once when the page shows again. One exception: the
//! testing contract wants every received event in the DOM, hidden tabs included, so the event
//! log's rows ([`Paced::keeping_hidden`]) still go in while hidden, as soon as the log changes
//! (which a hidden page's log does once a second: `browser::HIDDEN_BATCH`).
//!
//! The views of the tabs' presence (who leads, the tab registry, the leadership timeline) wait
//! for a change of leader to settle ([`Paced::settled`]): when a leader leaves, every other tab
//! learns it at the same moment, and the tab that takes over waits for its lock on a main thread
//! (and a machine) busy with what all of them render. Rendered [`SETTLE`] later, the election
//! goes first. Those a hidden tab must keep current too (its DOM is read by tests: the timeline,
//! the role) still render there, as late ([`Paced::settled_keeping_hidden`]).

use leptos::prelude::*;

/// How long a [`Paced::settled`] view lets a change settle before it renders: longer than a Web
/// Locks hand-over takes on a loaded machine (the lock's grant, p95 ~20 ms with 12 tabs on 2
/// cores), short enough that a person sees the new leader at once.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// When a [`Paced`] view wakes its readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beat {
    /// At the next animation frame while visible; asleep while hidden.
    Frame,
    /// Like `Frame`, but a hidden page's readers wake at once (the source is batched already).
    KeepHidden,
    /// [`SETTLE`] after the first change while visible (later changes ride along); asleep while
    /// hidden; at the next frame when the page shows.
    Settle,
    /// Like `Settle`, but a hidden page's readers wake too, [`SETTLE`] after a change (or as
    /// soon as the browser's throttling of a hidden page's timers lets them).
    SettleKeepHidden,
}

/// Whether the page is visible, kept up to date by `visibilitychange` (always `true` in SSR).
/// One per page: provided by the dashboard, see [`provide_page_visible`].
#[derive(Debug, Clone, Copy)]
pub struct PageVisible(pub ReadSignal<bool>);

/// Creates the page's [`PageVisible`] signal and provides it as context.
pub fn provide_page_visible() -> PageVisible {
    let (visible, set_visible) = signal(true);
    #[cfg(feature = "hydrate")]
    {
        let is_visible = || document().visibility_state() == web_sys::VisibilityState::Visible;
        set_visible.set(is_visible());
        // A page that has left draws nothing more (and Firefox may have cut its code off
        // holding a lock: see `tabrelay::runtime::leaving`).
        let handle = window_event_listener_untyped("visibilitychange", move |_| {
            if !tabrelay::runtime::leaving::has_left() {
                set_visible.set(is_visible())
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_visible;
    let visible = PageVisible(visible);
    provide_context(visible);
    visible
}

/// The page's visibility, from context (`true` when no dashboard provided one).
pub fn use_page_visible() -> ReadSignal<bool> {
    use_context::<PageVisible>().map_or_else(|| signal(true).0, |v| v.0)
}

/// A read-only view of `source` whose readers wake at most once per animation frame, and only
/// while the page is visible (see the module's doc). `Copy`.
#[derive(Debug)]
pub struct Paced<T: 'static> {
    source: RwSignal<T>,
    tick: ReadSignal<u64>,
}

impl<T> Clone for Paced<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Paced<T> {}

impl<T: Send + Sync + 'static> Paced<T> {
    /// Wakes its readers at most once per frame while the page is visible, never while hidden.
    pub fn new(source: RwSignal<T>) -> Self {
        Self::with_beat(source, Beat::Frame)
    }

    /// Like [`Paced::new`], but a hidden page's readers wake as soon as `source` changes: for a
    /// source that is batched already (the event log, once a second while hidden).
    pub fn keeping_hidden(source: RwSignal<T>) -> Self {
        Self::with_beat(source, Beat::KeepHidden)
    }

    /// Wakes its readers [`SETTLE`] after a change while the page is visible (the changes of that
    /// time render together), never while hidden: for the views of who leads (see the module's
    /// doc).
    pub fn settled(source: RwSignal<T>) -> Self {
        Self::with_beat(source, Beat::Settle)
    }

    /// Like [`Paced::settled`], but a hidden page's readers wake too, [`SETTLE`] after a change:
    /// for what a hidden tab must keep current in its DOM (the leadership timeline, which tests
    /// read in Firefox's hidden tabs).
    pub fn settled_keeping_hidden(source: RwSignal<T>) -> Self {
        Self::with_beat(source, Beat::SettleKeepHidden)
    }

    fn with_beat(source: RwSignal<T>, beat: Beat) -> Self {
        // (Through a box: `pace` is one function whatever `T`.)
        Self {
            source,
            tick: pace(Box::new(move || source.track()), beat),
        }
    }

    /// Reads the value, subscribing to the paced tick (not to every write).
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.tick.track();
        self.source.with_untracked(f)
    }
}

impl<T: Clone + Send + Sync + 'static> Paced<T> {
    pub fn get(&self) -> T {
        self.with(T::clone)
    }
}

/// A tick that follows what `track` reads, [`SETTLE`] after it changed, hidden or not (as
/// [`Paced::settled_keeping_hidden`], for views that read several signals).
pub fn settle(track: Box<dyn Fn() + Send + Sync>) -> ReadSignal<u64> {
    pace(track, Beat::SettleKeepHidden)
}

/// A tick that follows what `track` reads, on the given [`Beat`]; a page that shows again wakes
/// its readers at the next frame, whether or not anything changed. Not generic (one copy in the
/// wasm, whatever the paced types).
fn pace(track: Box<dyn Fn() + Send + Sync>, beat: Beat) -> ReadSignal<u64> {
    let visible = use_page_visible();
    let (tick, set_tick) = signal(0u64);
    #[cfg(feature = "hydrate")]
    {
        let pending: StoredValue<Option<Pending>, LocalStorage> = StoredValue::new_local(None);
        let wake = move || {
            if tabrelay::runtime::leaving::has_left() {
                return;
            }
            pending.set_value(None);
            set_tick.update(|t| *t = t.wrapping_add(1));
        };
        // Returns whether the page was visible, for the next run.
        Effect::new(move |was_visible: Option<bool>| {
            track();
            let visible = visible.get();
            let shown = visible && was_visible == Some(false);
            // What this change asks for: 0 nothing (asleep), 1 a wake now, 2 a frame, 3 a timer.
            let want = match (visible, beat) {
                (false, Beat::Frame | Beat::Settle) => 0,
                (false, Beat::KeepHidden) => 1,
                (false, Beat::SettleKeepHidden) => 3,
                (true, Beat::Settle | Beat::SettleKeepHidden) if !shown => 3,
                (true, _) => 2,
            };
            pending.update_value(|slot| {
                match (slot.take(), want) {
                    // Already due: this change rides along.
                    (Some(due @ Pending::Frame(_)), 2) | (Some(due @ Pending::Timer(_)), 3) => {
                        *slot = Some(due);
                        return;
                    }
                    // Due otherwise now (the page hid or showed).
                    (Some(Pending::Frame(handle)), _) => handle.cancel(),
                    (Some(Pending::Timer(handle)), _) => handle.clear(),
                    (None, _) => {}
                }
                *slot = match want {
                    2 => request_animation_frame_with_handle(wake)
                        .ok()
                        .map(Pending::Frame),
                    3 => set_timeout_with_handle(wake, SETTLE)
                        .ok()
                        .map(Pending::Timer),
                    _ => None,
                };
            });
            let wake_now = want == 1;
            if wake_now {
                set_tick.update(|t| *t = t.wrapping_add(1));
            }
            visible
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (track, visible, set_tick, beat);
    tick
}

/// What a [`Paced`] view is waiting for.
#[cfg(feature = "hydrate")]
enum Pending {
    Frame(AnimationFrameRequestHandle),
    Timer(TimeoutHandle),
}
