//! Test support shared by tabrelay's crates (a dev-dependency only).
//!
//! [`Counting`] counts the bytes a thread allocates, so a property test can check that a decoder
//! of untrusted input allocates at most linearly in its input. A test binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: testkit::Counting = testkit::Counting;
//! ```
//!
//! and measures a call with [`allocated_by`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting every allocation and reallocation of the calling thread in
/// full (frees are ignored: the count is an upper bound of the peak).
pub struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(bytes)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only a thread-local `Cell`, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// How many cases a property test runs: `ci_default`, unless `PROPTEST_CASES` is set (then
/// proptest's own reading of it applies, and this returns that number too).
pub fn cases(ci_default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci_default)
}

/// Runs `f`, returning its result and the bytes it allocated on this thread. Meaningful only in
/// a binary whose global allocator is [`Counting`] (otherwise the count stays 0).
pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    #[test]
    fn counts_what_the_thread_allocates() {
        let (v, bytes) = allocated_by(|| vec![0u8; 10_000]);
        assert_eq!(v.len(), 10_000);
        assert!(bytes >= 10_000, "{bytes}");
        let ((), none) = allocated_by(|| ());
        assert_eq!(none, 0);
    }
}
