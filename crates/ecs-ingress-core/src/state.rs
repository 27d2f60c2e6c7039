//! Plain snapshots of AWS resources as ecs-ingress sees them.
//!
//! Adapters translate SDK types into these; the model and planner only ever see these. They
//! hold exactly the fields the controller reasons about, nothing more.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::shared_str::SharedStr;

/// A key/value tag list, kept as AWS returns it (order irrelevant, keys unique); shared,
/// not copied, between the cache, the snapshot and the intents.
pub type Tags = crate::shared_map::SharedMap;

/// An ECS service (from DescribeServices with tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsService {
    pub arn: String,
    pub name: String,
    pub cluster_arn: String,
    pub status: EcsServiceStatus,
    /// Seconds since the epoch; absent on some emulators.
    pub created_at: Option<i64>,
    pub task_definition: String,
    pub deployment_controller: DeploymentController,
    /// What ecs-ingress reads of `deploymentConfiguration`: how ECS itself deploys it.
    pub deployment: DeploymentSettings,
    /// ECS reports a deployment of it under way (`deployments[]`: one IN_PROGRESS, or more
    /// than one). With a traffic-shifting strategy, ECS owns the rules and the entry then.
    pub deploying: bool,
    pub tags: Tags,
    pub load_balancers: Vec<LoadBalancerAttachment>,
    /// `networkConfiguration.awsvpcConfiguration.securityGroups`, in order (empty for other
    /// network modes).
    pub security_groups: Vec<String>,
}

/// An ECS service's `status`: only an active one is read for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsServiceStatus {
    Active,
    Draining,
    Inactive,
    /// One this version does not know, as ECS names it.
    Other(String),
}

impl EcsServiceStatus {
    /// As ECS names it (`ACTIVE`, `DRAINING`, `INACTIVE`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::Draining => "DRAINING",
            Self::Inactive => "INACTIVE",
            Self::Other(name) => name,
        }
    }

    pub fn parse(name: &str) -> Self {
        match name {
            "ACTIVE" => Self::Active,
            "DRAINING" => Self::Draining,
            "INACTIVE" => Self::Inactive,
            other => Self::Other(other.to_string()),
        }
    }
}

/// Who deploys an ECS service (`deploymentController.type`): ECS itself unless set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentController {
    Ecs,
    CodeDeploy,
    External,
    /// One this version does not know, as ECS names it.
    Other(String),
}

impl DeploymentController {
    /// As ECS names it (`ECS`, `CODE_DEPLOY`, `EXTERNAL`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ecs => "ECS",
            Self::CodeDeploy => "CODE_DEPLOY",
            Self::External => "EXTERNAL",
            Self::Other(name) => name,
        }
    }

    pub fn parse(name: &str) -> Self {
        match name {
            "ECS" => Self::Ecs,
            "CODE_DEPLOY" => Self::CodeDeploy,
            "EXTERNAL" => Self::External,
            other => Self::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for DeploymentController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ECS's deployment strategies (`deploymentConfiguration.strategy`). In all but `Rolling`,
/// ECS shifts traffic itself by rewriting the production rule's forward weights between two
/// target groups and swapping them when done.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeploymentStrategy {
    #[default]
    Rolling,
    BlueGreen,
    Linear,
    Canary,
    /// One this version does not know, as ECS names it.
    Other(String),
}

impl DeploymentStrategy {
    /// As ECS names it (`ROLLING`, `BLUE_GREEN`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Rolling => "ROLLING",
            Self::BlueGreen => "BLUE_GREEN",
            Self::Linear => "LINEAR",
            Self::Canary => "CANARY",
            Self::Other(name) => name,
        }
    }

    pub fn parse(name: &str) -> Self {
        match name {
            "ROLLING" | "" => Self::Rolling,
            "BLUE_GREEN" => Self::BlueGreen,
            "LINEAR" => Self::Linear,
            "CANARY" => Self::Canary,
            other => Self::Other(other.to_string()),
        }
    }
}

impl serde::Serialize for DeploymentStrategy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl DeploymentStrategy {
    /// ECS shifts traffic itself between two target groups (blue/green, linear, canary).
    pub fn shifts_traffic(&self) -> bool {
        !matches!(self, Self::Rolling)
    }
}

/// A percentage in tenths of a percent (`125` is 12.5%): ECS takes doubles, tags give at
/// most one decimal, and whole numbers compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tenths(pub u16);

impl Tenths {
    /// ECS's double, rounded to a tenth; `None` outside 0–100%.
    pub fn from_percent(percent: f64) -> Option<Self> {
        let tenths = (percent * 10.0).round();
        (0.0..=1000.0)
            .contains(&tenths)
            .then_some(Self(tenths as u16))
    }

    pub fn percent(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 % 10 {
            0 => write!(f, "{}", self.0 / 10),
            d => write!(f, "{}.{d}", self.0 / 10),
        }
    }
}

/// The fields of a service's `deploymentConfiguration` that tags set (`alb.deploy` and its
/// settings). Read from ECS as they are; as a wish, a `None` field is one the tags leave to
/// ECS (written back as read, since UpdateService replaces the configuration whole).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DeploymentSettings {
    pub strategy: DeploymentStrategy,
    pub bake_minutes: Option<u16>,
    pub linear_step_percent: Option<Tenths>,
    pub linear_step_minutes: Option<u16>,
    pub canary_percent: Option<Tenths>,
    pub canary_minutes: Option<u16>,
}

impl DeploymentSettings {
    /// What differs between this wish and what ECS has, for people (`strategy ROLLING →
    /// BLUE_GREEN`); empty when ECS has what is wished.
    pub fn drift_from(&self, observed: &DeploymentSettings) -> Vec<String> {
        fn show<T: std::fmt::Display>(v: Option<T>) -> String {
            v.map_or_else(|| "unset".to_string(), |v| v.to_string())
        }
        let mut out = Vec::new();
        if self.strategy != observed.strategy {
            out.push(format!(
                "strategy {} → {}",
                observed.strategy.as_str(),
                self.strategy.as_str()
            ));
        }
        let mut field = |name: &str, wish: Option<String>, have: Option<String>| {
            if wish.is_some() && wish != have {
                out.push(format!("{name} {} → {}", show(have), show(wish)));
            }
        };
        let text = |v: Option<u16>| v.map(|v| v.to_string());
        let pct = |v: Option<Tenths>| v.map(|v| v.to_string());
        field(
            "bakeTimeInMinutes",
            text(self.bake_minutes),
            text(observed.bake_minutes),
        );
        field(
            "linearConfiguration.stepPercent",
            pct(self.linear_step_percent),
            pct(observed.linear_step_percent),
        );
        field(
            "linearConfiguration.stepBakeTimeInMinutes",
            text(self.linear_step_minutes),
            text(observed.linear_step_minutes),
        );
        field(
            "canaryConfiguration.canaryPercent",
            pct(self.canary_percent),
            pct(observed.canary_percent),
        );
        field(
            "canaryConfiguration.canaryBakeTimeInMinutes",
            text(self.canary_minutes),
            text(observed.canary_minutes),
        );
        out
    }
}

/// One entry of an ECS service's `loadBalancers`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LoadBalancerAttachment {
    pub target_group_arn: Option<String>,
    pub load_balancer_name: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<i32>,
    /// ECS's blue/green settings of the entry: written back exactly as read, since
    /// UpdateService replaces the whole list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedConfiguration>,
}

/// A `loadBalancers` entry's `advancedConfiguration` (ECS blue/green, linear and canary).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct AdvancedConfiguration {
    pub alternate_target_group_arn: Option<String>,
    pub production_listener_rule: Option<String>,
    pub test_listener_rule: Option<String>,
    pub role_arn: Option<String>,
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
    /// Shared with its groups' lists of ALBs and the statuses placed on it (a configured
    /// ALB's; a departed one's is read apart).
    pub arn: SharedStr,
    pub name: String,
    pub vpc_id: String,
    pub dns_name: String,
    pub canonical_hosted_zone_id: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
    /// Its security groups: the sources a backend rule lets in.
    pub security_groups: Vec<String>,
}

/// An ACM certificate (ListCertificates + DescribeCertificate), as far as choosing one for a
/// host matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmCertificate {
    pub arn: String,
    /// The domain name and every subject alternative name.
    pub names: Vec<String>,
    pub status: CertificateStatus,
    /// Seconds since the epoch.
    pub not_after: Option<i64>,
}

/// ACM's certificate status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateStatus {
    Issued,
    PendingValidation,
    /// EXPIRED, REVOKED, FAILED, ... as ACM names it.
    Other(String),
}

impl CertificateStatus {
    pub fn parse(status: &str) -> Self {
        match status {
            "ISSUED" => Self::Issued,
            "PENDING_VALIDATION" => Self::PendingValidation,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Issued => "ISSUED",
            Self::PendingValidation => "PENDING_VALIDATION",
            Self::Other(s) => s,
        }
    }
}

/// The certificates of an HTTPS listener (DescribeListenerCertificates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerCertificates {
    pub default: Option<String>,
    /// The SNI list, the default excluded.
    pub extra: Vec<String>,
}

impl ListenerCertificates {
    pub fn presents(&self, arn: &str) -> bool {
        self.default.as_deref() == Some(arn) || self.extra.iter().any(|a| a == arn)
    }
}

/// An inbound security-group rule (DescribeSecurityGroupRules), as far as deciding whether
/// it lets an ALB reach a port matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRule {
    pub id: String,
    pub group_id: String,
    /// `tcp`, `udp`, `icmp`, ... or `-1` for every protocol.
    pub protocol: String,
    /// `-1` with every protocol.
    pub from_port: i32,
    pub to_port: i32,
    /// The source group, for a rule that references one (CIDR rules have none).
    pub source_group_id: Option<String>,
    pub tags: Tags,
}

impl SecurityGroupRule {
    /// It lets `source` reach tcp `port` of its group.
    pub fn allows(&self, source: &str, port: u16) -> bool {
        let port = i32::from(port);
        self.source_group_id.as_deref() == Some(source)
            && match self.protocol.as_str() {
                "-1" | "all" => true,
                "tcp" | "6" => self.from_port <= port && port <= self.to_port,
                _ => false,
            }
    }
}

/// Target-group health check settings, fully resolved (AWS fills in defaults).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheck {
    pub protocol: SharedStr,
    pub path: SharedStr,
    /// `traffic-port` or a port number.
    pub port: SharedStr,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    /// HTTP codes (`200`, `200-299`, `200,202`) or gRPC codes.
    pub matcher: SharedStr,
}

/// Target-group attributes that ecs-ingress manages, as AWS attribute key → value; shared
/// like [`Tags`].
pub type TargetGroupAttributes = crate::shared_map::SharedMap;

/// An ELBv2 target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Shared with the rules that forward to it and the statuses that list it.
    pub arn: SharedStr,
    pub name: String,
    // The fields that repeat across the estate's groups are shared (`shared_str`).
    pub protocol: SharedStr,
    pub protocol_version: Option<SharedStr>,
    pub port: i32,
    pub target_type: SharedStr,
    pub vpc_id: SharedStr,
    pub health_check: HealthCheck,
    pub load_balancer_arns: Vec<SharedStr>,
    pub tags: Tags,
    /// Read only for owned target groups.
    pub attributes: TargetGroupAttributes,
}

/// A listener rule, with both condition forms AWS returns folded into lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Shared with the statuses that list it.
    pub arn: SharedStr,
    /// Shared by the listener's rules (`shared_str`).
    pub listener_arn: SharedStr,
    /// `None` for the listener's default rule.
    pub priority: Option<u32>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    /// Conditions other than host-header and path-pattern (we never write them; a rule that
    /// has them was changed by hand).
    pub other_conditions: usize,
    /// Target groups of a `forward` action that receive traffic (weight above 0); empty for
    /// other actions.
    pub forward_target_groups: Vec<SharedStr>,
    /// Target groups of the `forward` action with weight 0: associated with the ALB (so ECS
    /// accepts them in a service's `loadBalancers`) but sent no requests. ecs-ingress stages
    /// a replacement target group here until it has healthy targets.
    pub staged_target_groups: Vec<SharedStr>,
    /// The weight of each group of a forward action's ForwardConfig, as read (`alb.weight`
    /// compares them). A forward of every request to one group lists none, however AWS
    /// describes it (its answer gives that group a ForwardConfig at weight 1).
    pub weights: BTreeMap<String, u32>,
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

/// A target's health as DescribeTargetHealth reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetHealthState {
    Initial,
    Healthy,
    Unhealthy,
    Unused,
    Draining,
    Unavailable,
}

/// A registered target with its health.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct TargetHealth {
    pub target: Target,
    pub state: TargetHealthState,
}

/// Target protocol of the target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ProtocolVersion {
    #[serde(rename = "HTTP1")]
    Http1,
    #[serde(rename = "HTTP2")]
    Http2,
    #[serde(rename = "GRPC")]
    Grpc,
}

impl ProtocolVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "HTTP1",
            Self::Http2 => "HTTP2",
            Self::Grpc => "GRPC",
        }
    }
}

/// ALB target type, from the task definition's network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// `awsvpc`: each task has its own IP.
    Ip,
    /// `bridge` or `host`: targets are container instances and host ports.
    Instance,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Instance => "instance",
        }
    }
}

/// Everything needed to create a target group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetGroupSpec {
    pub name: String,
    pub protocol: Protocol,
    pub protocol_version: ProtocolVersion,
    pub port: i32,
    pub target_type: TargetType,
    pub vpc_id: String,
    /// Shared: the planner builds one per health-check setting services ask for, not one
    /// (four strings) per service every pass.
    pub health_check: std::sync::Arc<HealthCheck>,
    pub attributes: TargetGroupAttributes,
    pub tags: Tags,
}

/// Everything needed to create a listener rule that forwards to one target group (and
/// optionally a second at weight 0).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSpec {
    pub listener_arn: String,
    pub priority: u32,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub target_group_arn: String,
    /// Beside the target at weight 0 (the alternate group ECS deploys into).
    pub staged_target_group_arn: Option<String>,
    pub tags: Tags,
}

/// A Route 53 hosted zone ecs-ingress may write in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedZone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Lowercase, without the trailing dot.
    pub name: String,
}

/// Where an alias record points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct AliasTarget {
    /// Shared by the records aliased to one ALB (`shared_str`), as is the zone.
    pub dns_name: SharedStr,
    pub hosted_zone_id: SharedStr,
    pub evaluate_target_health: bool,
}

/// A Route 53 record set, names lowercase without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct RecordSet {
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, ... (shared, `shared_str`).
    pub record_type: SharedStr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Resource record values as Route 53 holds them (TXT values with their quotes).
    pub values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasTarget>,
    /// Weighted, latency and other routing policies have one; ecs-ingress writes none and
    /// treats such records as someone else's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
}

/// One change of a Route 53 change batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", content = "record", rename_all = "UPPERCASE")]
pub enum RecordChange {
    Upsert(RecordSet),
    /// Must carry the record's exact current values.
    Delete(RecordSet),
}

impl RecordChange {
    pub fn record(&self) -> &RecordSet {
        match self {
            Self::Upsert(r) | Self::Delete(r) => r,
        }
    }

    /// What the change counts against Route 53's batch limits: (records, characters).
    /// An UPSERT counts twice.
    pub fn batch_weight(&self) -> (usize, usize) {
        let r = self.record();
        let chars: usize = r.values.iter().map(String::len).sum::<usize>()
            + r.alias.as_ref().map(|a| a.dns_name.len()).unwrap_or(0);
        let values = r.values.len().max(1);
        match self {
            Self::Upsert(_) => (2 * values, 2 * chars),
            Self::Delete(_) => (values, chars),
        }
    }
}

/// A Cloud Map namespace ecs-ingress may register in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudMapNamespace {
    pub id: String,
    pub name: String,
    /// `DNS_PRIVATE`, `DNS_PUBLIC` or `HTTP`.
    pub kind: String,
}

impl CloudMapNamespace {
    /// DNS namespaces turn instances into Route 53 records; HTTP namespaces only answer
    /// DiscoverInstances.
    pub fn is_dns(&self) -> bool {
        self.kind.starts_with("DNS")
    }
}

/// A Cloud Map service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudMapService {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub namespace_id: String,
    pub description: Option<String>,
}

/// A registered Cloud Map instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudMapInstance {
    pub id: String,
    pub attributes: BTreeMap<String, String>,
}

/// A Cloud Map service to create (tags are set in the same call).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CloudMapServiceSpec {
    pub namespace_id: String,
    pub name: String,
    /// DNS records to make per instance (`A`, `AAAA`), weighted so alias records are
    /// allowed; empty for HTTP namespaces.
    pub record_types: Vec<String>,
    pub description: String,
    pub tags: Tags,
}

/// Settings of an ALB that a clone copies (`CreateLoadBalancer` + its attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerSettings {
    /// `internal` or `internet-facing`.
    pub scheme: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `ipv4`, `dualstack`, `dualstack-without-public-ipv4`.
    pub ip_address_type: String,
    /// DescribeLoadBalancerAttributes, every key as AWS returns it.
    pub attributes: BTreeMap<String, String>,
}

/// A listener's settings that a clone copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSettings {
    pub port: i32,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    pub default_actions: Vec<DefaultAction>,
    /// Certificate ARNs (HTTPS): the default one first.
    pub certificates: Vec<String>,
    pub ssl_policy: Option<String>,
}

/// A listener default action that can be copied to another ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultAction {
    FixedResponse {
        status_code: String,
        content_type: Option<String>,
        message_body: Option<String>,
    },
    Redirect {
        protocol: Option<String>,
        port: Option<String>,
        host: Option<String>,
        path: Option<String>,
        query: Option<String>,
        status_code: String,
    },
    /// A forward to a target group: a target group belongs to one ALB, so it cannot be copied.
    Forward { target_group_arns: Vec<String> },
    /// Anything else (authenticate-oidc, ...), by its type name.
    Other { kind: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_status_and_deployment_controller_read_as_ecs_names_them() {
        for (name, status) in [
            ("ACTIVE", EcsServiceStatus::Active),
            ("DRAINING", EcsServiceStatus::Draining),
            ("INACTIVE", EcsServiceStatus::Inactive),
            ("PAUSED", EcsServiceStatus::Other("PAUSED".into())),
        ] {
            assert_eq!(EcsServiceStatus::parse(name), status);
            assert_eq!(status.as_str(), name);
        }
        for (name, controller) in [
            ("ECS", DeploymentController::Ecs),
            ("CODE_DEPLOY", DeploymentController::CodeDeploy),
            ("EXTERNAL", DeploymentController::External),
            ("ROCKET", DeploymentController::Other("ROCKET".into())),
        ] {
            assert_eq!(DeploymentController::parse(name), controller);
            assert_eq!(controller.to_string(), name);
        }
        // Only an exact name is a known one: anything else is kept as it was read.
        assert_eq!(
            EcsServiceStatus::parse("active"),
            EcsServiceStatus::Other("active".into())
        );
    }
}
