//! Rendering paced by the screen, not by the events.
//!
//! The runtime writes the tab's state as events arrive (the relay and the app's handlers run for
//! every one of them). The panels do not read that state directly: they read it through a
//! [`Paced`] view, which wakes them at most once per animation frame while the page is visible,
//! so a burst of events costs one render. While the page is hidden nothing is shown: its views
//! do not wake at all, and catch up at once when the page shows again. One exception: the
//! testing contract wants every received event in the DOM, hidden tabs included, so the event
//! log's rows ([`Paced::keeping_hidden`]) still go in once a second (`HIDDEN_RENDER`).

use leptos::prelude::*;

/// How often a hidden page brings the views that must stay current ([`Paced::keeping_hidden`])
/// up to date (browsers throttle a hidden page's timers to about once a second anyway).
#[cfg(feature = "hydrate")]
const HIDDEN_RENDER: std::time::Duration = std::time::Duration::from_millis(1000);

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
        let handle = window_event_listener_untyped("visibilitychange", move |_| {
            set_visible.set(is_visible())
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
        Self {
            source,
            tick: pace(Box::new(move || source.track()), false),
        }
    }

    /// Like [`Paced::new`], but a hidden page's readers still wake, once per `HIDDEN_RENDER`.
    pub fn keeping_hidden(source: RwSignal<T>) -> Self {
        Self {
            source,
            tick: pace(Box::new(move || source.track()), true),
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

/// A tick that follows what `track` reads, at most once per frame while the page is visible;
/// while it is hidden once per `HIDDEN_RENDER` (`keep_hidden`) or not at all (then once when it
/// shows, whether or not anything changed). Not generic (one copy in the wasm, whatever the
/// paced types).
fn pace(track: Box<dyn Fn() + Send + Sync>, keep_hidden: bool) -> ReadSignal<u64> {
    let visible = use_page_visible();
    let (tick, set_tick) = signal(0u64);
    #[cfg(feature = "hydrate")]
    {
        let pending: StoredValue<Option<Pending>, LocalStorage> = StoredValue::new_local(None);
        Effect::new(move |_| {
            track();
            let visible = visible.get();
            pending.update_value(|slot| {
                match slot {
                    // Already due: this change rides along.
                    Some(Pending::Frame(_)) if visible => return,
                    Some(Pending::Timer(_)) if !visible => return,
                    // The page hid with a frame pending: a hidden page runs no frames, so the
                    // slow beat takes over.
                    Some(Pending::Frame(handle)) => handle.cancel(),
                    // Due in a hidden page's slow beat, but the page shows: render now.
                    Some(Pending::Timer(handle)) => handle.clear(),
                    None => {}
                }
                *slot = None;
                if !visible && !keep_hidden {
                    // Asleep while hidden: showing the page runs this effect again.
                    return;
                }
                let wake = move || {
                    pending.set_value(None);
                    set_tick.update(|t| *t = t.wrapping_add(1));
                };
                *slot = if visible {
                    request_animation_frame_with_handle(wake)
                        .ok()
                        .map(Pending::Frame)
                } else {
                    set_timeout_with_handle(wake, HIDDEN_RENDER)
                        .ok()
                        .map(Pending::Timer)
                };
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (track, visible, set_tick, keep_hidden);
    tick
}

/// What a [`Paced`] view is waiting for.
#[cfg(feature = "hydrate")]
enum Pending {
    Frame(AnimationFrameRequestHandle),
    Timer(TimeoutHandle),
}
