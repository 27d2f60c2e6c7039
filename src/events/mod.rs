//! The event fast path: an SQS queue fed by EventBridge (ECS service, deployment and task
//! events; CloudTrail calls to ECS, ELBv2 and Route 53). Each event is read into what it
//! is about ([`EventTarget`]): a service, a task-definition family, a load-balancer resource
//! or a DNS name, which the runtime resolves to the services to reconcile in a targeted
//! pass; an event it cannot narrow down asks for a full pass. The periodic full resync stays
//! the source of truth, so an event lost or late only costs latency. Messages are deleted
//! only after the pass they triggered has finished, so a crash mid-pass leaves them to be
//! delivered again; events that concern nothing (a failed call, ecs-ingress's own calls, a
//! standalone task) are deleted at once.
//!
//! `parse` reads one message (pure, table-tested); `queue` receives, holds and deletes;
//! `runtime::targeted` maps what the events name to the services a targeted pass covers.

mod parse;
mod queue;

pub use parse::*;
pub use queue::*;

#[cfg(test)]
mod tests;
