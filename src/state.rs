//! Plain snapshots of AWS resources as ecs-ingress sees them.
//!
//! Adapters translate SDK types into these; the model and planner only ever see these. They
//! hold exactly the fields the controller reasons about, nothing more.

use std::collections::BTreeMap;

/// A key/value tag list, kept as AWS returns it (order irrelevant, keys unique).
pub type Tags = BTreeMap<String, String>;

/// An ECS service (from DescribeServices with tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsService {
    pub arn: String,
    pub name: String,
    pub cluster_arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// Seconds since the epoch; absent on some emulators.
    pub created_at: Option<i64>,
    pub task_definition: String,
    /// `ECS`, `CODE_DEPLOY` or `EXTERNAL`.
    pub deployment_controller: String,
    pub tags: Tags,
    pub load_balancers: Vec<LoadBalancerAttachment>,
}

/// One entry of an ECS service's `loadBalancers`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LoadBalancerAttachment {
    pub target_group_arn: Option<String>,
    pub load_balancer_name: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<i32>,
}

/// A task definition revision (contents immutable, tags not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinition {
    pub arn: String,
    /// `awsvpc`, `bridge`, `host` or `none`; absent means `bridge` on EC2.
    pub network_mode: Option<String>,
    pub containers: Vec<Container>,
    pub tags: Tags,
}

/// A container definition: what the routing model needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub docker_labels: Tags,
    pub port_mappings: Vec<PortMapping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    pub container_port: i32,
    pub host_port: Option<i32>,
    /// `tcp` or `udp`.
    pub udp: bool,
}

/// A running (or not) ECS task, for `alb.targets=direct`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTask {
    pub arn: String,
    /// `service:NAME` for tasks a service started.
    pub group: Option<String>,
    pub last_status: String,
    pub private_ip: Option<String>,
}

/// An ALB listener and the load balancer it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: Option<i32>,
    pub protocol: Option<String>,
}

/// An application load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub vpc_id: String,
    pub dns_name: String,
    pub canonical_hosted_zone_id: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
}

/// Target-group health check settings, fully resolved (AWS fills in defaults).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheck {
    pub protocol: String,
    pub path: String,
    /// `traffic-port` or a port number.
    pub port: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    /// HTTP codes (`200`, `200-299`, `200,202`) or gRPC codes.
    pub matcher: String,
}

/// Target-group attributes that ecs-ingress manages, as AWS attribute key → value.
pub type TargetGroupAttributes = BTreeMap<String, String>;

/// An ELBv2 target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: String,
    pub protocol_version: Option<String>,
    pub port: i32,
    pub target_type: String,
    pub vpc_id: String,
    pub health_check: HealthCheck,
    pub load_balancer_arns: Vec<String>,
    pub tags: Tags,
    /// Read only for owned target groups.
    pub attributes: TargetGroupAttributes,
}

/// A listener rule, with both condition forms AWS returns folded into lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub arn: String,
    pub listener_arn: String,
    /// `None` for the listener's default rule.
    pub priority: Option<u32>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    /// Conditions other than host-header and path-pattern (we never write them; a rule that
    /// has them was changed by hand).
    pub other_conditions: usize,
    /// Target groups of a `forward` action; empty for other actions.
    pub forward_target_groups: Vec<String>,
    /// Actions other than a single forward (redirects, fixed responses, ...).
    pub other_actions: usize,
    pub tags: Tags,
}

impl Rule {
    pub fn is_default(&self) -> bool {
        self.priority.is_none()
    }
}

/// A registered target of a target group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Target {
    pub id: String,
    pub port: i32,
}

/// Everything needed to create a target group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetGroupSpec {
    pub name: String,
    pub protocol: String,
    pub protocol_version: String,
    pub port: i32,
    pub target_type: String,
    pub vpc_id: String,
    pub health_check: HealthCheck,
    pub attributes: TargetGroupAttributes,
    pub tags: Tags,
}

/// Everything needed to create a listener rule that forwards to one target group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSpec {
    pub listener_arn: String,
    pub priority: u32,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub target_group_arn: String,
    pub tags: Tags,
}
