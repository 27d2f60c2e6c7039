//! ecs-ingress: publishes tagged Amazon ECS services on internal ALBs with private DNS names.
//!
//! The crate follows the reconcile pass (see `docs/architecture.md`):
//! - [`model`]: tags and labels → a validated routing intent per service (pure);
//! - [`plan`]: intents + observed AWS state → desired state → typed changes (pure);
//! - [`aws`]: thin SDK adapters behind small traits;
//! - [`observe`] and [`apply`]: read and write through those traits;
//! - [`runtime`]: the pass and the daemon loop; [`admin`]: the HTTP endpoints;
//! - [`config`], [`telemetry`], [`status`], [`output`]: flags, logs and metrics, reports, what
//!   `plan` and `apply` print;
//! - [`snapshot`], [`ownership`]: what a pass read, and how ecs-ingress knows what it made;
//! - [`fake`] and [`testing`]: the in-memory AWS and the harness on it.
//!
//! [`model`], [`plan`], [`snapshot`], [`ownership`], [`state`] and the per-service part of
//! [`status`] are the `ecs-ingress-core` crate (pure, no SDK), re-exported here under their
//! old paths.

pub use ecs_ingress_core::{model, ownership, plan, sabotage, snapshot, state};

pub mod admin;
pub mod allocator;
pub mod apply;
pub mod aws;
pub mod cli;
pub mod config;

pub mod events;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod lease;
pub mod observe;
pub mod runtime;
#[cfg(feature = "fake")]
pub mod sim;
pub mod status;
pub mod telemetry;
#[cfg(any(test, feature = "fake"))]
pub mod testing;
