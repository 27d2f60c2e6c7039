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
//! - [`snapshot`], [`ownership`]: what a pass read, and how ecs-ingress knows what it made (core);
//! - [`fake`] and [`testing`]: the in-memory AWS and the harness on it.

pub mod admin;
pub mod apply;
pub mod aws;

pub mod config;
pub mod diagnose;
pub mod events;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod leadership;
pub mod lease;
pub mod logging;
pub mod model;
pub mod observe;
pub mod outcome;
pub mod output;
pub mod ownership;
pub mod page;
pub mod pass_facts;
pub mod plan;
pub mod pool_check;
pub mod probe;
pub mod provision;
pub mod ratelimit;
pub mod runtime;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod telemetry;
#[cfg(any(test, feature = "fake"))]
pub mod testing;
pub mod transitions;
pub mod usage;
