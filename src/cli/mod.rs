//! The command line's top layer (used by `main` only): usage errors, start-up checks of the
//! pools, what `plan` and `apply` print and how they exit, and the `healthcheck` probe. The
//! flags themselves are [`crate::config`], which every layer below reads.

pub mod outcome;
pub mod output;
pub mod pool_check;
pub mod probe;
pub mod usage;
