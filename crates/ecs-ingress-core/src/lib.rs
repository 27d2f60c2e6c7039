//! The pure core of ecs-ingress: synchronous, no AWS SDK, no async runtime.
//!
//! - [`state`]: plain snapshots of AWS resources, the shared vocabulary;
//! - [`snapshot`]: everything one pass read (failed reads as data);
//! - [`ownership`]: how ecs-ingress knows what it made (tags, names, DNS markers);
//! - [`model`]: tags and labels → a validated routing intent per service;
//! - [`plan`]: intents × snapshot → typed changes and per-service statuses, with the
//!   planner's own settings ([`plan::settings`]);
//! - [`status`]: what a service's state is and why, as every surface reports it;
//! - [`sabotage`]: safety rules the simulation turns off to prove it catches each.

pub mod flat_map;
pub mod model;
pub mod ownership;
pub mod plan;
pub mod sabotage;
pub mod shared_map;
pub mod shared_str;
pub mod snapshot;
pub mod sort_large;
pub mod state;
pub mod status;
