//! The routing model: what ECS says about a service → the service's routing intent.
//!
//! Pure and synchronous: no AWS types, no I/O. See `docs/tags.md` for the user-facing
//! reference of every key.

mod collector;
mod deploy;
pub mod intent;
pub mod keys;
pub mod parse;

pub use intent::*;
pub use parse::{IntentInput, KEYS, compute_intent, is_listener_arn, is_listener_name};

#[cfg(test)]
mod tests;
