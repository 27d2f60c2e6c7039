//! The allocator the binary installs (and the scale benchmark measures), and returning its
//! free pages to the system.

use std::ffi::CStr;
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
/// stays there.
pub fn return_free_pages() {
    // SAFETY: `arena.<i>.purge` reads and writes nothing: both pointer pairs are null. A
    // failure (there is nothing it could be but an unknown name) leaves the pages to decay
    // as before, so its code is not looked at.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_EVERY_ARENA.as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            0,
        );
    }
}

/// How long jemalloc keeps a page it freed before returning it to the system, in
/// milliseconds: jemalloc's default, ten seconds, unless `_RJEM_MALLOC_CONF` sets
/// `dirty_decay_ms` (`-1`: never). The scale benchmark reports it with its figures: the
/// process's RSS depends on it. `None` if jemalloc does not answer.
pub fn dirty_decay_ms() -> Option<isize> {
    let mut value: isize = 0;
    let mut size = size_of::<isize>();
    // SAFETY: the option is an `ssize_t`, read into a value of that size whose size is
    // given; nothing is written.
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
        // This build of jemalloc reads its options from `_RJEM_MALLOC_CONF`: without it, the
        // decay is jemalloc's documented default, 10,000 ms.
        match std::env::var("_RJEM_MALLOC_CONF") {
            Ok(conf) if conf.contains("dirty_decay_ms") => assert!(dirty_decay_ms().is_some()),
            _ => assert_eq!(dirty_decay_ms(), Some(10_000)),
        }
    }
}
