//! Fixtures shared by the planner's unit tests.

use std::collections::BTreeMap;

use crate::ownership::Ownership;
use crate::plan::PlanConfig;
use crate::plan::settings::{Policy, PoolSettings, PriorityRange};
use crate::snapshot::Snapshot;
use crate::state::{EcsService, Listener, LoadBalancer};

/// The listener of [`one_alb`], given as `--listener default=...`.
pub const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/1/2";
/// The ALB of [`one_alb`].
pub const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb/1";

/// `--cluster main --listener default=LISTENER` with `policy`, and the ECS infrastructure
/// role when given.
pub fn plan_config(policy: Policy, ecs_infrastructure_role_arn: Option<&str>) -> PlanConfig {
    PlanConfig {
        ownership: Ownership::new("ecs-ingress"),
        pools: PoolSettings::single(&BTreeMap::from([(
            "default".to_string(),
            LISTENER.to_string(),
        )])),
        clusters: vec!["main".into()],
        priority_range: PriorityRange {
            low: 1000,
            high: 49_999,
        },
        policy,
        hosted_zones: vec![],
        cloudmap_namespaces: vec![],
        ecs_infrastructure_role_arn: ecs_infrastructure_role_arn.map(str::to_string),
        max_certificates_per_alb: None,
    }
}

/// A group someone made by hand, with AWS's default health check, forwarded to from
/// `load_balancer_arns`.
pub fn bare_group(arn: &str, load_balancer_arns: &[&str]) -> crate::state::TargetGroup {
    crate::state::TargetGroup {
        arn: arn.into(),
        name: String::new(),
        protocol: "HTTP".into(),
        protocol_version: None,
        port: 80,
        target_type: "ip".into(),
        vpc_id: "vpc-1".into(),
        health_check: crate::state::HealthCheck {
            protocol: "HTTP".into(),
            path: "/".into(),
            port: "traffic-port".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        },
        load_balancer_arns: load_balancer_arns.iter().map(|&a| a.into()).collect(),
        tags: crate::state::Tags::new(),
        attributes: Default::default(),
    }
}

/// The group AWS holds after CreateTargetGroup of `spec`, once a rule of [`LB`] forwards to
/// it.
pub fn created_group(
    arn: String,
    spec: &crate::state::TargetGroupSpec,
) -> crate::state::TargetGroup {
    crate::state::TargetGroup {
        arn: arn.into(),
        name: spec.name.clone(),
        protocol: spec.protocol.as_str().into(),
        protocol_version: Some(spec.protocol_version.as_str().into()),
        port: spec.port,
        target_type: spec.target_type.as_str().into(),
        vpc_id: spec.vpc_id.as_str().into(),
        health_check: crate::state::HealthCheck::clone(&spec.health_check),
        load_balancer_arns: vec![LB.into()],
        tags: spec.tags.clone(),
        attributes: spec.attributes.clone(),
    }
}

/// A read of the one listener and its ALB, and nothing else.
pub fn one_alb() -> Snapshot {
    Snapshot {
        listeners: BTreeMap::from([(
            LISTENER.to_string(),
            Listener {
                arn: LISTENER.into(),
                load_balancer_arn: LB.into(),
                port: Some(80),
                protocol: Some("HTTP".into()),
            },
        )]),
        load_balancers: BTreeMap::from([(
            LB.to_string(),
            LoadBalancer {
                arn: LB.into(),
                name: "lb".into(),
                vpc_id: "vpc-1".into(),
                dns_name: "lb.example".into(),
                canonical_hosted_zone_id: "Z1".into(),
                ip_address_type: "ipv4".into(),
                security_groups: vec![],
            },
        )]),
        ..Default::default()
    }
}

/// An internal ALB; `dualstack` also answers AAAA.
pub fn load_balancer(dualstack: bool, dns_name: &str) -> LoadBalancer {
    LoadBalancer {
        arn: "arn:lb".into(),
        name: "lb".into(),
        vpc_id: "vpc-1".into(),
        dns_name: dns_name.into(),
        canonical_hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
        ip_address_type: if dualstack { "dualstack" } else { "ipv4" }.into(),
        security_groups: vec![],
    }
}

/// An ACTIVE service `main/<name>` with no tags.
pub fn ecs_service(name: &str) -> EcsService {
    EcsService {
        arn: format!("arn:aws:ecs:us-east-1:1:service/main/{name}"),
        name: name.into(),
        cluster_arn: "arn:aws:ecs:us-east-1:1:cluster/main".into(),
        status: crate::state::EcsServiceStatus::Active,
        created_at: None,
        task_definition: "td".into(),
        deployment_controller: crate::state::DeploymentController::Ecs,
        deployment: Default::default(),
        deploying: false,
        tags: Default::default(),
        load_balancers: vec![],
        security_groups: vec![],
    }
}

/// `main/<name>` with `tags` on the service and a one-container awsvpc task definition
/// (container `web`, port 80), and the intent the model computes for it.
pub fn tagged_service(
    name: &str,
    tags: &[(&str, &str)],
) -> (std::sync::Arc<EcsService>, crate::model::ServiceIntent) {
    use crate::state::{Container, PortMapping, Tags, TaskDefinition};
    let svc = EcsService {
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ecs_service(name)
    };
    let td = TaskDefinition {
        arn: "td".into(),
        network_mode: Some("awsvpc".into()),
        containers: vec![Container {
            name: "web".into(),
            docker_labels: Tags::new(),
            port_mappings: vec![PortMapping {
                container_port: 80,
                host_port: None,
                udp: false,
            }],
        }],
        tags: Tags::new(),
    };
    let intent = crate::model::compute_intent(&crate::model::IntentInput {
        prefix: "",
        service_name: name,
        service_tags: &svc.tags,
        task_definition: &td,
        service_security_groups: &svc.security_groups,
    });
    (svc.into(), intent)
}
