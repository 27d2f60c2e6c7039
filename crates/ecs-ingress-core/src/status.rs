//! Per-service status: where each service stands and why, and the facts of a pass about its
//! ALBs and target groups — what `apply` prints, `/status` serves and the page shows.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::KeySources;
use crate::shared_str::SharedStr;

/// Where a managed service stands after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Everything it asks for exists and matches.
    Published,
    /// Changes are planned (or were applied in this pass) and not yet confirmed by a read.
    Pending,
    /// Its tags are wrong; what was already published for it is kept as it was.
    Invalid,
    /// Another service, or a resource ecs-ingress does not own, holds what it asks for.
    Conflict,
    /// Publishing it would exceed an ALB quota; nothing already published is touched.
    Quota,
    /// Its ALB rule is published, but a DNS name it asks for is held by a record ecs-ingress
    /// does not own (or by an older service): that name is not written.
    DnsConflict,
    /// Its routing tags are gone (or the service is): its resources are being removed.
    Withdrawn,
    /// A change for it failed in this pass; the next pass retries.
    Error,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Pending => "pending",
            Self::Invalid => "invalid",
            Self::Conflict => "conflict",
            Self::Quota => "quota",
            Self::DnsConflict => "dns-conflict",
            Self::Withdrawn => "withdrawn",
            Self::Error => "error",
        }
    }

    pub const ALL: [ServiceState; 8] = [
        Self::Published,
        Self::Pending,
        Self::Invalid,
        Self::Conflict,
        Self::Quota,
        Self::DnsConflict,
        Self::Withdrawn,
        Self::Error,
    ];
}

/// One problem, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The routing key concerned, when there is one (`alb.healthcheck.interval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub reason: String,
}

/// An AWS resource made for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    /// An ARN read with the records is shared with the record it names.
    pub id: SharedStr,
}

/// What kind of AWS resource a change acts on or a status lists (its name in metrics, logs
/// and `/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    TargetGroup,
    ListenerRule,
    ServiceAttachment,
    Targets,
    DnsRecord,
    /// A name with its records and ownership marker (managed-resource counts).
    DnsName,
    CloudMapService,
    CloudMapInstance,
    /// An ALB ecs-ingress created for a pool.
    LoadBalancer,
    /// An inbound rule on a service's security group letting its ALB in.
    SecurityGroupRule,
    /// A certificate on an HTTPS listener's SNI list.
    ListenerCertificate,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetGroup => "target-group",
            Self::ListenerRule => "listener-rule",
            Self::ServiceAttachment => "service-attachment",
            Self::Targets => "targets",
            Self::DnsRecord => "dns-record",
            Self::DnsName => "dns-name",
            Self::CloudMapService => "cloudmap-service",
            Self::CloudMapInstance => "cloudmap-instance",
            Self::LoadBalancer => "load-balancer",
            Self::SecurityGroupRule => "security-group-rule",
            Self::ListenerCertificate => "listener-certificate",
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ResourceKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The status of one managed service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub cluster: String,
    pub service: String,
    pub service_arn: String,
    pub state: ServiceState,
    /// A one-line summary of the routing intent (`service-a.in.example.com → web:8080`).
    pub intent: String,
    pub hosts: Vec<String>,
    pub resources: Vec<ResourceRef>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    /// What it waits for before it is fully published (healthy targets before its name is
    /// published, a replacement target group getting healthy), with how long where known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    /// RFC 3339 time of the last change applied for it by this process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
    /// The ALB it is placed on (ARN), when it publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<SharedStr>,
    /// Each routing key it has, with where the value came from (`docker label`, `task
    /// definition tag`, `service tag`; the later wins).
    #[serde(
        skip_serializing_if = "KeySources::is_empty",
        serialize_with = "KeySources::serialize_in_words"
    )]
    pub keys: KeySources,
    /// Changes for it the last pass planned but did not make (held back, or a dry run), as
    /// `plan` prints them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

/// Sorts statuses by cluster, then service name, stably, moving each status twice
/// ([`crate::sort_large`]).
pub fn sort_by_name(services: &mut Vec<ServiceStatus>) {
    crate::sort_large::sort_by(services, |a, b| {
        (&a.cluster, &a.service).cmp(&(&b.cluster, &b.service))
    });
}

/// One ALB of a configured listener: what it uses of its quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlbUsage {
    pub arn: String,
    pub name: String,
    /// The listener name (pool) its listeners are given as.
    pub pool: String,
    /// Non-default rules across all of its listeners.
    pub rules_used: usize,
    /// The account's quota, or `--max-rules-per-alb` when lower.
    pub rules_max: usize,
    /// Target groups (of anyone) forwarding from it.
    pub target_groups_used: usize,
    pub target_groups_max: usize,
    /// Certificates besides the default across its HTTPS listeners.
    pub certificates_used: usize,
    /// The account's quota, or `--max-certificates-per-alb` when lower.
    pub certificates_max: usize,
    /// ecs-ingress created it (`--pool-max-albs`).
    pub provisioned: bool,
    /// A listener of it is given with `--drain-listener`.
    pub draining: bool,
}

/// An owned target group: the ALB it serves and, where the pass read it, its targets' health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupFacts {
    /// Names of the ALBs forwarding to it: one copy of each name for all the groups of a
    /// pass, since a hundred groups share an ALB.
    pub albs: Vec<crate::shared_str::SharedStr>,
    /// Healthy and registered targets, when this pass read its health.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<usize>,
}

/// The page's extra facts of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassFacts {
    /// `--dry-run`: nothing is changed.
    pub dry_run: bool,
    pub albs: Vec<AlbUsage>,
    /// Target groups named in services' resources, by ARN.
    pub target_groups: BTreeMap<SharedStr, GroupFacts>,
    /// The managed hosted zones, in `--hosted-zone` order.
    pub zones: Vec<ZoneFacts>,
}

/// A managed hosted zone, for `/status` and the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneFacts {
    pub id: String,
    /// Its name, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The account written in: `default` (ecs-ingress's own credentials) or the account of
    /// its `--zone-role` role.
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Why it could not be read this pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A `--fail-on` value: a state name as `/status` spells it.
pub fn parse_state(value: &str) -> Result<ServiceState, String> {
    let value = value.trim();
    ServiceState::ALL
        .into_iter()
        .find(|s| s.as_str() == value)
        .ok_or_else(|| {
            let names: Vec<&str> = ServiceState::ALL.iter().map(|s| s.as_str()).collect();
            format!("`{value}` is not a state; one of {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{ServiceState, ServiceStatus, sort_by_name};

    fn status(cluster: &str, service: &str, arn: usize) -> ServiceStatus {
        ServiceStatus {
            cluster: cluster.to_string(),
            service: service.to_string(),
            service_arn: format!("arn:aws:ecs:eu-west-1:123456789012:service/{cluster}/{arn}"),
            state: ServiceState::Published,
            intent: String::new(),
            hosts: Vec::new(),
            resources: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            waiting: Vec::new(),
            last_change: None,
            load_balancer: None,
            keys: Default::default(),
            pending: Vec::new(),
        }
    }

    #[test]
    fn statuses_sort_by_cluster_then_service() {
        let mut services = vec![
            status("b", "web", 0),
            status("a", "zeta", 1),
            status("a", "alpha", 2),
            status("b", "api", 3),
        ];
        sort_by_name(&mut services);
        let names: Vec<(&str, &str)> = services
            .iter()
            .map(|s| (s.cluster.as_str(), s.service.as_str()))
            .collect();
        assert_eq!(
            names,
            [("a", "alpha"), ("a", "zeta"), ("b", "api"), ("b", "web")]
        );
    }

    proptest! {
        /// The same order as a stable sort of the statuses themselves, ties (one name read
        /// in two copies) in the order they came.
        #[test]
        fn sorting_positions_orders_as_a_stable_sort_does(
            names in proptest::collection::vec((0..3usize, 0..6usize), 0..40)
        ) {
            let services: Vec<ServiceStatus> = names
                .iter()
                .enumerate()
                .map(|(i, (c, s))| status(&format!("c{c}"), &format!("s{s}"), i))
                .collect();
            let mut expected = services.clone();
            expected.sort_by(|a, b| (&a.cluster, &a.service).cmp(&(&b.cluster, &b.service)));
            let mut sorted = services;
            sort_by_name(&mut sorted);
            prop_assert_eq!(sorted, expected);
        }
    }
}
