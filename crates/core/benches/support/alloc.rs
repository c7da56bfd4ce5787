//! The bench's counting global allocator: live and peak heap bytes and allocation calls,
//! switchable so timed runs skip the atomic bookkeeping. It wraps mimalloc, the product
//! binary's allocator (crates/leadrouter), so decisions run on the allocator they run on in
//! production; `--features bench-system-alloc` wraps the system allocator (glibc) instead.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};

pub struct Counting;

#[cfg(not(feature = "bench-system-alloc"))]
pub static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(not(feature = "bench-system-alloc"))]
pub const ALLOCATOR: &str = "mimalloc";
#[cfg(feature = "bench-system-alloc")]
pub static INNER: std::alloc::System = std::alloc::System;
#[cfg(feature = "bench-system-alloc")]
pub const ALLOCATOR: &str = "system";

pub static COUNTING: AtomicBool = AtomicBool::new(true);
pub static CURRENT: AtomicIsize = AtomicIsize::new(0);
pub static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Number of `alloc` / `alloc_zeroed` and of `realloc` calls while counting is on.
pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static REALLOCS: AtomicUsize = AtomicUsize::new(0);

pub fn account(delta: isize) {
    let now = CURRENT.fetch_add(delta, Relaxed) + delta;
    PEAK.fetch_max(now, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { INNER.dealloc(ptr, layout) };
        if COUNTING.load(Relaxed) {
            account(-(layout.size() as isize));
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            REALLOCS.fetch_add(1, Relaxed);
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
pub static ALLOC: Counting = Counting;
