//! The allocator the binary installs (and the scale benchmark measures), and returning its
//! free pages to the system.

use std::ffi::{CStr, c_int};
use std::ptr;

/// jemalloc. Not the system's: a pass allocates and frees the whole estate's snapshot and
/// plan, and with glibc's allocator that churn cost more per service the larger the estate
/// (half of a steady pass's CPU at 5,000 services). Not mimalloc, which the controller used
/// before: its pages freed in a pass were returned on a timer, not reused first, and the
/// process's RSS at 10,000 services rose 15 to 20 MiB above jemalloc's for the same heap
/// (docs/performance.md, "jemalloc in place of mimalloc").
pub type Shipped = tikv_jemallocator::Jemalloc;

/// The binary's global allocator.
pub const SHIPPED: Shipped = tikv_jemallocator::Jemalloc;

/// `arena.<i>.purge` for `MALLCTL_ARENAS_ALL` (4096 in `jemalloc.h`): every arena.
const PURGE_EVERY_ARENA: &CStr = c"arena.4096.purge";

/// The default dirty-page decay of new arenas, in milliseconds (an `ssize_t`).
const DIRTY_DECAY_MS: &CStr = c"arenas.dirty_decay_ms";

/// Has jemalloc return the pages no live allocation uses to the system now, rather than as
/// its decay lets them go: what [`crate::runtime::Controller::releasing_memory_with`] is
/// given by the binary.
///
/// Every arena is purged, whichever thread asks; what threads keep in their own caches
/// stays there. A failure leaves the pages to decay as before.
pub fn return_free_pages() {
    let code = purge_every_arena();
    debug_assert_eq!(code, 0, "jemalloc refused arena.<all>.purge");
}

/// `arena.<all>.purge`, returning mallctl's code (0: done).
fn purge_every_arena() -> c_int {
    // SAFETY: the name is a NUL-terminated literal; the control reads and writes nothing,
    // so both value pointers and the old value's length pointer are null and the new
    // value's length is 0, as mallctl requires of such a control.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_EVERY_ARENA.as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            0,
        )
    }
}

/// How long jemalloc keeps a page it freed before returning it to the system, in
/// milliseconds: jemalloc's default, ten seconds, unless `_RJEM_MALLOC_CONF` sets
/// `dirty_decay_ms` (`-1`: never). The scale benchmark reports it with its figures: the
/// process's RSS depends on it. `None` if jemalloc does not answer.
pub fn dirty_decay_ms() -> Option<isize> {
    // `isize` is Rust's `ssize_t`.
    let mut value: isize = 0;
    let mut size = size_of::<isize>();
    // SAFETY: the name is a NUL-terminated literal; the option is an `ssize_t`, read into
    // a value of that size with its size given; nothing is written (null, 0).
    let code = unsafe {
        tikv_jemalloc_sys::mallctl(
            DIRTY_DECAY_MS.as_ptr(),
            (&raw mut value).cast(),
            &mut size,
            ptr::null_mut(),
            0,
        )
    };
    (code == 0 && size == size_of::<isize>()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dirty_decay_read_is_jemallocs_option() {
        // This build of jemalloc reads its options from `_RJEM_MALLOC_CONF`: without it (and
        // without `/etc/_rjem_malloc.conf` or options built in with
        // `JEMALLOC_SYS_WITH_MALLOC_CONF`, which nothing here sets), the decay is
        // jemalloc's documented default, 10,000 ms.
        match std::env::var("_RJEM_MALLOC_CONF") {
            Ok(conf) if conf.contains("dirty_decay_ms") => assert!(dirty_decay_ms().is_some()),
            _ => assert_eq!(dirty_decay_ms(), Some(10_000)),
        }
    }

    #[test]
    fn every_arena_can_be_purged() {
        // The name is jemalloc's: a misspelt one would leave the release after a writing
        // pass silently undone.
        assert_eq!(purge_every_arena(), 0);
    }
}
