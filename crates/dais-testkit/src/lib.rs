//! Test helpers shared by the Dais crates. A dev-dependency only: nothing here ships.
//!
//! * [`CountingAlloc`]: a global allocator that counts allocations on the current thread, for
//!   the tests that prove the packet paths allocate nothing in steady state. Install it in a
//!   test binary of its own:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: dais_testkit::CountingAlloc = dais_testkit::CountingAlloc;
//! let before = dais_testkit::allocations();
//! // ... the code under test ...
//! assert_eq!(dais_testkit::allocations(), before);
//! ```
#![warn(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts `alloc` and `realloc` calls per thread, then defers to the system allocator.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every call to the system allocator with the same arguments; it only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: the thread-local may already be gone while a thread shuts down.
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (and reallocations) made so far on the current thread, when [`CountingAlloc`]
/// is the global allocator.
pub fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}
