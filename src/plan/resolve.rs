//! Resolution: each service's intent becomes a candidate (its desired resources on its
//! listener's ALB), a status that keeps what it has (invalid tags, an unknown or missing
//! listener), or a withdrawal.

use std::collections::BTreeSet;

use super::arbitrate::Candidate;
use super::desired::desired_service;
use super::owned::Owned;
use super::{PlanConfig, problem, status};
use crate::model::{Intent, ListenerRef, ServiceIntent, TargetsMode};
use crate::snapshot::Snapshot;
use crate::state::{EcsService, LoadBalancer};
use crate::status::{Problem, ServiceState, ServiceStatus};

/// What resolution decided.
#[derive(Default)]
pub struct Resolution<'a> {
    /// In age order.
    pub candidates: Vec<Candidate<'a>>,
    pub statuses: Vec<ServiceStatus>,
    /// Services whose resources stay as they are.
    pub kept: BTreeSet<&'a str>,
    /// Services with owned resources that no longer ask for any (with their intent, for
    /// the warnings of an `alb.host` removal).
    pub withdrawn: Vec<(&'a EcsService, &'a ServiceIntent)>,
}

/// Resolves every service, oldest first.
pub fn resolve_intents<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    owned: &Owned<'_>,
    ordered: &[&'a (EcsService, ServiceIntent)],
) -> Resolution<'a> {
    let mut out = Resolution::default();
    for (service, intent) in ordered.iter().map(|p| (&p.0, &p.1)) {
        match intent {
            ServiceIntent::Unmanaged | ServiceIntent::Withdraw { .. } => {
                if owned.groups.contains_key(service.arn.as_str())
                    || owned.rules.contains_key(service.arn.as_str())
                {
                    out.withdrawn.push((service, intent));
                }
            }
            ServiceIntent::Invalid { errors, warnings } => {
                out.kept.insert(&service.arn);
                let mut s = status(
                    service,
                    ServiceState::Invalid,
                    None,
                    owned.resources(&service.arn),
                );
                s.problems = errors
                    .iter()
                    .map(|e| problem(Some(&e.key), e.to_string()))
                    .collect();
                s.warnings = warnings.clone();
                out.statuses.push(s);
            }
            ServiceIntent::Publish { intent, warnings } => {
                match resolve_listener(config, observed, service, intent) {
                    Ok((listener_arn, lb)) => out.candidates.push(Candidate {
                        desired: desired_service(
                            &config.ownership,
                            service,
                            intent,
                            &listener_arn,
                            lb,
                            observed.read_at,
                        ),
                        warnings: warnings.clone(),
                    }),
                    Err(p) => {
                        out.kept.insert(&service.arn);
                        let state = if p.key.is_none() || !observed.complete() {
                            ServiceState::Error
                        } else {
                            ServiceState::Invalid
                        };
                        let mut s =
                            status(service, state, Some(intent), owned.resources(&service.arn));
                        s.problems.push(p);
                        s.warnings = warnings.clone();
                        out.statuses.push(s);
                    }
                }
            }
        }
    }
    out
}

/// The service's listener and its ALB, or why it cannot publish.
fn resolve_listener<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    service: &EcsService,
    intent: &Intent,
) -> Result<(String, &'a LoadBalancer), Problem> {
    if intent.targets == TargetsMode::Ecs && service.deployment_controller != "ECS" {
        return Err(problem(
            Some("alb.targets"),
            format!(
                "alb.targets=ecs needs the ECS deployment controller, this service uses {}; set alb.targets=direct",
                service.deployment_controller
            ),
        ));
    }
    resolve(config, observed, intent)
}

/// Resolves a service's listener and ALB, or says why not.
fn resolve<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    intent: &Intent,
) -> Result<(String, &'a LoadBalancer), Problem> {
    let arn = match &intent.listener {
        ListenerRef::Name(name) => config.listeners.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = config.listeners.keys().map(String::as_str).collect();
            problem(
                Some("alb.listener"),
                format!(
                    "alb.listener={name}: no --listener of that name (known: {})",
                    known.join(", ")
                ),
            )
        })?,
        ListenerRef::Arn(arn) => {
            if !config.listeners.values().any(|a| a == arn) {
                return Err(problem(
                    Some("alb.listener"),
                    format!(
                        "alb.listener={arn}: not a listener given with --listener; ecs-ingress only writes to those"
                    ),
                ));
            }
            arn.clone()
        }
    };
    if observed.missing_listeners.contains(&arn) {
        let name = config
            .listeners
            .iter()
            .find(|(_, a)| **a == arn)
            .map(|(n, _)| n.as_str())
            .unwrap_or("default");
        return Err(problem(
            None,
            format!(
                "listener {arn} (--listener {name}) does not exist: fix the flag or recreate the listener; what this service has is kept"
            ),
        ));
    }
    let listener = observed.listeners.get(&arn).ok_or_else(|| {
        problem(
            Some("alb.listener"),
            format!("listener {arn} could not be read"),
        )
    })?;
    let lb = observed
        .load_balancers
        .get(&listener.load_balancer_arn)
        .ok_or_else(|| {
            problem(
                None,
                format!(
                    "load balancer {} could not be read",
                    listener.load_balancer_arn
                ),
            )
        })?;
    Ok((arn, lb))
}
