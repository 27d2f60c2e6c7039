//! The allocator the binary installs (and the scale benchmark measures), and returning its
//! free pages to the system.

use std::ffi::{c_int, c_long};

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
    // SAFETY: a C function taking a bool, safe to call from any thread at any time. If the
    // process allocates with another allocator, mimalloc has nothing to return.
    unsafe { mi_collect(true) };
}

/// mimalloc 3's index of `mi_option_purge_delay` in its `mi_option_t` (`mimalloc.h`); the
/// `mimalloc` crates export no name for it, so [`purge_delay_ms`] reads it only from
/// mimalloc 3.
const MI_OPTION_PURGE_DELAY: c_int = 15;

// mimalloc's functions the `mimalloc` crate does not wrap, in the library `SHIPPED` links.
unsafe extern "C" {
    // `void mi_collect(bool force)`.
    fn mi_collect(force: bool);
    // `int mi_version(void)`: major × 10,000 + minor × 100 + patch.
    fn mi_version() -> c_int;
    // `long mi_option_get(mi_option_t)`.
    fn mi_option_get(option: c_int) -> c_long;
}

/// How long mimalloc keeps a page it freed before returning it to the system, in
/// milliseconds (mimalloc's default, a second, unless `MIMALLOC_PURGE_DELAY` sets it), if
/// the linked library is mimalloc 3. The scale benchmark reports it with its figures: the
/// process's RSS depends on it (docs/performance.md, "The purge delay, measured again").
pub fn purge_delay_ms() -> Option<c_long> {
    // SAFETY: C functions without preconditions; the option index is used only with the
    // major version it is mimalloc's index in.
    unsafe { (mi_version() / 10_000 == 3).then(|| mi_option_get(MI_OPTION_PURGE_DELAY)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_read_is_mimalloc_3s_option() {
        // mimalloc reads its options from `MIMALLOC_*` variables (the purge delay under its
        // legacy name too, in either case): with none set, the delay is mimalloc 3's
        // documented default, 1,000 ms, which no option next to it has.
        let set_here = std::env::vars_os().any(|(name, _)| {
            name.to_string_lossy()
                .to_ascii_uppercase()
                .starts_with("MIMALLOC_")
        });
        if set_here {
            assert!(purge_delay_ms().is_some());
        } else {
            assert_eq!(purge_delay_ms(), Some(1000));
        }
    }
}
