//! The allocator the binary installs (and the scale benchmark measures), and returning its
//! free pages to the system.

/// mimalloc, not the system's: a pass allocates and frees the whole estate's snapshot and
/// plan, and with glibc's allocator that churn cost more per service the larger the estate
/// (half of a steady pass's CPU at 5,000 services; docs/performance.md).
pub type Shipped = mimalloc::MiMalloc;

/// The binary's global allocator.
pub const SHIPPED: Shipped = mimalloc::MiMalloc;

/// Has mimalloc return the pages no live allocation uses to the system now, rather than
/// after its purge delay: what [`crate::runtime::Controller::releasing_memory_with`] is
/// given by the binary.
///
/// mimalloc collects the calling thread's pages and purges its arenas, which are
/// process-wide; pages another thread holds are returned after the purge delay as before.
/// A current-thread runtime (the scale benchmark's) therefore returns every free page.
pub fn return_free_pages() {
    unsafe extern "C" {
        // mimalloc's `void mi_collect(bool force)`, in the library `SHIPPED` links (the
        // `mimalloc` crate does not wrap it).
        fn mi_collect(force: bool);
    }
    // SAFETY: a C function taking a bool, safe to call from any thread at any time. If the
    // process allocates with another allocator, mimalloc has nothing to return.
    unsafe { mi_collect(true) };
}
