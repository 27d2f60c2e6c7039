//! The fake account's state and the AWS rules that guard it. Synchronous: the async trait
//! impls only admit a request and then call into here.

use std::collections::{BTreeMap, BTreeSet};

use super::error;
use crate::aws::AwsError;
use crate::state::{
    Container, DefaultAction, EcsService, EcsTask, HealthCheck, HostedZone, Listener,
    ListenerSettings, LoadBalancer, LoadBalancerAttachment, LoadBalancerSettings, RecordSet, Rule,
    RuleSpec, SharedStr, Tags, Target, TargetGroup, TargetGroupAttributes, TargetGroupSpec,
    TaskDefinition,
};

use super::{ACCOUNT, REGION};

pub(crate) mod accounts;
pub mod certificates;
pub mod deployments;
mod load_balancers;
pub mod security_groups;
pub use load_balancers::{
    CANONICAL_HOSTED_ZONE_ID, LOAD_BALANCERS_PER_ACCOUNT, load_balancer_attribute_defaults,
};
const ELB: &str = "elbv2";
/// AWS quotas (see `aws-limits`): per ALB, and per rule.
pub const RULES_PER_ALB: usize = 100;
pub const TARGET_GROUPS_PER_ALB: usize = 100;
/// "You can attach up to five target groups to a service" (ECS service load balancing).
pub(super) const TARGET_GROUPS_PER_SERVICE: usize = 5;
/// "You can specify up to three match evaluations per condition and up to five match
/// evaluations per rule", and at most five wildcards per rule (ELB "Listener rules").
const CONDITION_VALUES_PER_CONDITION: usize = 3;
const CONDITION_VALUES_PER_RULE: usize = 5;
const WILDCARDS_PER_RULE: usize = 5;
/// What CreateTargetGroup gives an ALB target group ("Edit target group attributes").
const TARGET_GROUP_ATTRIBUTE_DEFAULTS: &[(&str, &str)] = &[
    ("deregistration_delay.timeout_seconds", "300"),
    ("slow_start.duration_seconds", "0"),
    ("stickiness.enabled", "false"),
    ("stickiness.type", "lb_cookie"),
    ("stickiness.lb_cookie.duration_seconds", "86400"),
    ("load_balancing.algorithm.type", "round_robin"),
];

/// When a target was registered in a group, and when its draining ends.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    pub since: tokio::time::Instant,
    pub draining_until: Option<tokio::time::Instant>,
}

/// An ECS service and how many deployments ecs-ingress caused.
#[derive(Debug, Clone)]
pub struct FakeService {
    pub service: EcsService,
    /// UpdateService calls that changed its load balancers: each one is an ECS deployment.
    pub deployments: u32,
}

#[derive(Debug, Clone)]
pub struct FakeTask {
    pub cluster_arn: String,
    pub task: EcsTask,
}

/// Everything in the fake account.
#[derive(Debug, Default)]
pub struct World {
    next_id: u64,
    pub clusters: BTreeMap<String, String>,
    pub services: BTreeMap<String, FakeService>,
    pub task_definitions: BTreeMap<String, TaskDefinition>,
    pub tasks: Vec<FakeTask>,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub listeners: BTreeMap<String, Listener>,
    /// Every rule, default rules included.
    pub rules: BTreeMap<String, Rule>,
    /// Target groups with their tags and (complete) attributes; `load_balancer_arns` is
    /// derived on read.
    pub target_groups: BTreeMap<String, TargetGroup>,
    pub targets: BTreeMap<String, BTreeSet<Target>>,
    /// Hosted zones by id, with their record sets.
    pub zones: BTreeMap<String, (HostedZone, Vec<RecordSet>)>,
    /// Other accounts: their zones and roles, and credentials handed out for them.
    pub accounts: accounts::Accounts,
    pub cloudmap: super::cloudmap::CloudMapWorld,
    /// When each target was registered in each group, and when its draining ends.
    pub registrations: BTreeMap<(String, Target), Registration>,
    /// (service ARN, port): that service's tasks fail health checks on that port (nothing
    /// listens there).
    pub refuses_health_checks: BTreeSet<(String, i32)>,
    /// The account's rules-per-ALB quota when raised or lowered (DescribeAccountLimits).
    pub rules_quota: Option<usize>,
    /// Answers resolvers may still hold after a record changed target: clients keep calling
    /// the old target until the answer's TTL runs out.
    pub cached_answers: Vec<super::answers::CachedAnswer>,
    /// The account's ALB quota when raised or lowered (DescribeAccountLimits
    /// `application-load-balancers`).
    pub load_balancers_quota: Option<usize>,
    /// Subnets of the account: CreateLoadBalancer takes known subnets only, and the ALB's
    /// VPC is theirs.
    pub subnets: BTreeMap<String, FakeSubnet>,
    /// Security groups of the account, by id → VPC id.
    pub security_groups: BTreeMap<String, String>,
    /// Inbound security-group rules, by rule id.
    pub ingress_rules: BTreeMap<String, security_groups::FakeIngressRule>,
    /// Certificate ARNs (ACM) that HTTPS listeners may use.
    pub certificates: BTreeSet<String>,
    /// ACM's certificates with their names, status and key type, by ARN.
    pub acm: BTreeMap<String, certificates::FakeCertificate>,
    /// What DescribeLoadBalancers and DescribeLoadBalancerAttributes say of each ALB beyond
    /// [`LoadBalancer`], by ALB ARN.
    pub load_balancer_settings: BTreeMap<String, LoadBalancerSettings>,
    /// Default actions, certificates and SSL policy of each listener, by listener ARN.
    pub listener_settings: BTreeMap<String, ListenerSettings>,
    /// Tags of load balancers and listeners, by ARN.
    pub elb_tags: BTreeMap<String, Tags>,
    /// ECS's own deployments in progress, by service ARN.
    pub ecs_deployments: BTreeMap<String, deployments::EcsDeployment>,
}

/// A subnet: its VPC and Availability Zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubnet {
    pub vpc_id: String,
    pub availability_zone: String,
}

fn elb_arn(kind: &str, rest: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:{kind}/{rest}")
}

fn not_found(operation: &'static str, code: &str, arn: &str) -> AwsError {
    error(
        ELB,
        operation,
        code,
        format!("One or more resources not found: {arn}"),
    )
}

impl World {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{:016x}", self.next_id)
    }

    // ---- fixtures ---------------------------------------------------------------------

    pub fn add_cluster(&mut self, name: &str) -> String {
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}");
        self.clusters.insert(name.to_string(), arn.clone());
        arn
    }

    /// An internal ALB with an HTTP listener whose default action forwards to an empty
    /// target group, as in the seed. Returns (load balancer ARN, listener ARN).
    pub fn add_load_balancer(&mut self, name: &str, vpc_id: &str) -> (String, String) {
        let id = self.id();
        let lb_arn = elb_arn("loadbalancer", &format!("app/{name}/{id}"));
        let (subnets, security_group) = self.fixture_network(vpc_id);
        self.load_balancer_settings.insert(
            lb_arn.clone(),
            LoadBalancerSettings {
                scheme: "internal".into(),
                subnets,
                security_groups: vec![security_group.clone()],
                ip_address_type: "ipv4".into(),
                attributes: load_balancer_attribute_defaults(),
            },
        );
        self.load_balancers.insert(
            lb_arn.clone(),
            LoadBalancer {
                arn: lb_arn.clone().into(),
                name: name.to_string(),
                vpc_id: vpc_id.to_string(),
                dns_name: format!(
                    "internal-{name}-{}.{REGION}.elb.amazonaws.com",
                    self.next_id
                ),
                canonical_hosted_zone_id: CANONICAL_HOSTED_ZONE_ID.into(),
                ip_address_type: "ipv4".into(),
                security_groups: vec![security_group.clone()],
            },
        );
        let listener_id = self.id();
        let listener_arn = elb_arn("listener", &format!("app/{name}/{id}/{listener_id}"));
        self.listeners.insert(
            listener_arn.clone(),
            Listener {
                arn: listener_arn.clone(),
                load_balancer_arn: lb_arn.clone(),
                port: Some(80),
                protocol: Some("HTTP".into()),
            },
        );
        let invalid = self
            .insert_target_group(&TargetGroupSpec {
                name: format!("invalid-{}", self.next_id),
                protocol: crate::state::Protocol::Http,
                protocol_version: crate::state::ProtocolVersion::Http1,
                port: 80,
                target_type: crate::state::TargetType::Ip,
                vpc_id: vpc_id.to_string(),
                health_check: default_health_check().into(),
                attributes: TargetGroupAttributes::new(),
                tags: Tags::new(),
            })
            .unwrap_or_else(|e| unreachable!("fixture target group is valid: {e}"));
        self.listener_settings.insert(
            listener_arn.clone(),
            ListenerSettings {
                port: 80,
                protocol: "HTTP".into(),
                default_actions: vec![DefaultAction::Forward {
                    target_group_arns: vec![invalid.clone()],
                }],
                certificates: vec![],
                ssl_policy: None,
            },
        );
        let rule_id = self.id();
        let default_arn = elb_arn(
            "listener-rule",
            &format!("app/{name}/{id}/{listener_id}/{rule_id}"),
        );
        self.rules.insert(
            default_arn.clone(),
            Rule {
                arn: default_arn.into(),
                listener_arn: listener_arn.as_str().into(),
                priority: None,
                hosts: vec![],
                paths: vec![],
                other_conditions: 0,
                forward_target_groups: vec![invalid.into()],
                staged_target_groups: vec![],
                weights: Default::default(),
                other_actions: 0,
                tags: Tags::new(),
            },
        );
        (lb_arn, listener_arn)
    }

    /// Another listener on an existing ALB (forwarding to an empty group by default), as a
    /// team might add by hand. Returns its ARN.
    pub fn add_listener(&mut self, load_balancer_arn: &str, port: i32) -> Option<String> {
        let lb = self.load_balancers.get(load_balancer_arn)?.clone();
        let id = self.id();
        let rest = load_balancer_arn
            .split(":loadbalancer/")
            .nth(1)?
            .to_string();
        let arn = elb_arn("listener", &format!("{rest}/{id}"));
        self.listeners.insert(
            arn.clone(),
            Listener {
                arn: arn.clone(),
                load_balancer_arn: lb.arn.to_string(),
                port: Some(port),
                protocol: Some("HTTP".into()),
            },
        );
        // A hand-made listener answers what it does not route with a fixed 404.
        self.listener_settings.insert(
            arn.clone(),
            ListenerSettings {
                port,
                protocol: "HTTP".into(),
                default_actions: vec![DefaultAction::FixedResponse {
                    status_code: "404".into(),
                    content_type: Some("text/plain".into()),
                    message_body: None,
                }],
                certificates: vec![],
                ssl_policy: None,
            },
        );
        self.add_fixed_default_rule(&arn);
        Some(arn)
    }

    /// The default rule of a listener whose default action answers itself (a fixed
    /// response).
    pub(super) fn add_fixed_default_rule(&mut self, listener_arn: &str) {
        let rule_id = self.id();
        let arn = format!(
            "{}/{rule_id}",
            listener_arn.replace(":listener/", ":listener-rule/")
        );
        self.rules.insert(
            arn.clone(),
            Rule {
                arn: arn.into(),
                listener_arn: listener_arn.into(),
                priority: None,
                hosts: vec![],
                paths: vec![],
                other_conditions: 0,
                forward_target_groups: vec![],
                staged_target_groups: vec![],
                weights: Default::default(),
                other_actions: 1,
                tags: Tags::new(),
            },
        );
    }

    /// DeleteListener: the listener and its rules go.
    pub fn delete_listener(&mut self, listener_arn: &str) {
        self.listeners.remove(listener_arn);
        self.listener_settings.remove(listener_arn);
        self.elb_tags.remove(listener_arn);
        self.rules.retain(|_, r| r.listener_arn != listener_arn);
    }

    pub fn add_task_definition(
        &mut self,
        family: &str,
        network_mode: &str,
        containers: Vec<Container>,
        tags: Tags,
    ) -> String {
        let revision = self
            .task_definitions
            .keys()
            .filter(|a| a.contains(&format!("task-definition/{family}:")))
            .count()
            + 1;
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}");
        self.task_definitions.insert(
            arn.clone(),
            TaskDefinition {
                arn: arn.clone(),
                network_mode: Some(network_mode.to_string()),
                containers,
                tags,
            },
        );
        arn
    }

    /// An ACTIVE service; creation order is its age.
    pub fn add_service(
        &mut self,
        cluster: &str,
        name: &str,
        task_definition: &str,
        tags: Tags,
    ) -> String {
        let cluster_arn = self
            .clusters
            .get(cluster)
            .cloned()
            .unwrap_or_else(|| self.add_cluster(cluster));
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}");
        self.next_id += 1;
        self.services.insert(
            arn.clone(),
            FakeService {
                service: EcsService {
                    arn: arn.clone(),
                    name: name.to_string(),
                    cluster_arn,
                    status: crate::state::EcsServiceStatus::Active,
                    created_at: Some(1_700_000_000 + self.next_id as i64),
                    task_definition: task_definition.to_string(),
                    deployment_controller: crate::state::DeploymentController::Ecs,
                    deployment: Default::default(),
                    deploying: false,
                    tags,
                    load_balancers: vec![],
                    security_groups: vec![],
                },
                deployments: 0,
            },
        );
        arn
    }

    pub fn service_mut(&mut self, arn: &str) -> Option<&mut EcsService> {
        self.services.get_mut(arn).map(|s| &mut s.service)
    }

    /// DeleteService: the service stays listed as INACTIVE for a while, as on AWS.
    pub fn delete_service(&mut self, arn: &str) {
        let Some(s) = self.service_mut(arn) else {
            return;
        };
        s.status = crate::state::EcsServiceStatus::Inactive;
        let before = std::mem::take(&mut s.load_balancers);
        self.ecs_sync_registrations(arn, &before);
        // Its tasks stop with it.
        let group = arn.rsplit('/').next().map(|n| format!("service:{n}"));
        for t in &mut self.tasks {
            if t.task.group == group {
                t.task.last_status = "STOPPED".into();
            }
        }
    }

    /// The account's ELB quotas as DescribeAccountLimits names them.
    pub fn account_limits(&self) -> BTreeMap<String, u64> {
        let rules = self.rules_quota.unwrap_or(RULES_PER_ALB);
        let load_balancers = self
            .load_balancers_quota
            .unwrap_or(LOAD_BALANCERS_PER_ACCOUNT);
        BTreeMap::from([
            (
                "application-load-balancers".to_string(),
                load_balancers as u64,
            ),
            (
                "rules-per-application-load-balancer".to_string(),
                rules as u64,
            ),
            (
                "target-groups-per-application-load-balancer".to_string(),
                TARGET_GROUPS_PER_ALB as u64,
            ),
            ("target-groups".to_string(), 3000),
            (
                "listeners-per-application-load-balancer".to_string(),
                load_balancers::LISTENERS_PER_ALB as u64,
            ),
            (
                "certificates-per-application-load-balancer".to_string(),
                load_balancers::CERTIFICATES_PER_ALB as u64,
            ),
        ])
    }

    /// A RUNNING task of `service` (started by it: group `service:NAME`).
    pub fn add_task(&mut self, service_arn: &str, ip: &str) -> Option<String> {
        let arn = self.add_task_unregistered(service_arn, ip)?;
        // ECS registers a service's new task in every target group of its load balancers.
        let listed = self
            .services
            .get(service_arn)?
            .service
            .load_balancers
            .clone();
        for lb in listed {
            if let (Some(tg), Some(port)) = (lb.target_group_arn, lb.container_port) {
                self.register(
                    &tg,
                    &[Target {
                        id: ip.to_string(),
                        port,
                    }],
                );
            }
        }
        Some(arn)
    }

    /// A RUNNING task of `service`, in no target group yet.
    fn add_task_unregistered(&mut self, service_arn: &str, ip: &str) -> Option<String> {
        let service = &self.services.get(service_arn)?.service;
        let cluster_arn = service.cluster_arn.clone();
        let group = format!("service:{}", service.name);
        let cluster = cluster_arn
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let id = self.id();
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{id}");
        self.tasks.push(FakeTask {
            cluster_arn,
            task: EcsTask {
                arn: arn.clone(),
                group: Some(group),
                last_status: "RUNNING".into(),
                private_ip: Some(ip.to_string()),
            },
        });
        Some(arn)
    }

    /// A task stops: ECS deregisters it from its service's target groups.
    pub fn stop_task(&mut self, task_arn: &str) {
        let mut stopped = None;
        for t in &mut self.tasks {
            if t.task.arn == task_arn {
                t.task.last_status = "STOPPED".into();
                stopped = Some((
                    t.cluster_arn.clone(),
                    t.task.group.clone(),
                    t.task.private_ip.clone(),
                ));
            }
        }
        let Some((cluster_arn, Some(group), Some(ip))) = stopped else {
            return;
        };
        // Only the groups ECS registered it in (a service's `loadBalancers`); targets
        // registered by someone else stay, and fail their health checks.
        let listed: Vec<LoadBalancerAttachment> = self
            .services
            .values()
            .find(|s| {
                s.service.cluster_arn == cluster_arn
                    && group.strip_prefix("service:") == Some(s.service.name.as_str())
            })
            .map(|s| s.service.load_balancers.clone())
            .unwrap_or_default();
        for lb in listed {
            if let (Some(tg), Some(port)) = (lb.target_group_arn, lb.container_port) {
                self.deregister(
                    &tg,
                    &[Target {
                        id: ip.clone(),
                        port,
                    }],
                );
            }
        }
    }

    /// A private hosted zone with its SOA and NS records. Returns its id.
    pub fn add_zone(&mut self, name: &str) -> String {
        let id = format!("Z{}", self.id().to_ascii_uppercase());
        let base = |t: &str, v: &str| RecordSet {
            name: name.to_string(),
            record_type: t.into(),
            ttl: Some(900),
            values: vec![v.into()],
            alias: None,
            set_identifier: None,
        };
        let records = vec![
            base("NS", "ns-1.awsdns-00.com."),
            base(
                "SOA",
                "ns-1.awsdns-00.com. hostmaster.example.com. 1 7200 900 1209600 86400",
            ),
        ];
        self.zones.insert(
            id.clone(),
            (
                HostedZone {
                    id: id.clone(),
                    name: name.to_string(),
                },
                records,
            ),
        );
        id
    }

    // ---- views ------------------------------------------------------------------------

    pub fn cluster_arn(&self, cluster: &str) -> Option<String> {
        if cluster.starts_with("arn:") {
            return self.clusters.values().find(|a| *a == cluster).cloned();
        }
        self.clusters.get(cluster).cloned()
    }

    /// Load balancers a target group is used by (through any rule of their listeners).
    pub fn load_balancers_of(&self, target_group_arn: &str) -> Vec<String> {
        self.rules
            .values()
            .filter(|r| {
                r.forward_target_groups
                    .iter()
                    .chain(&r.staged_target_groups)
                    .any(|t| t == target_group_arn)
            })
            .filter_map(|r| self.listeners.get(r.listener_arn.as_str()))
            .map(|l| l.load_balancer_arn.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Load balancers of every target group used by a rule, in one scan of the rules
    /// (asking [`World::load_balancers_of`] per group would be quadratic at scale).
    pub fn load_balancer_index(&self) -> BTreeMap<&str, BTreeSet<String>> {
        let mut index: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for rule in self.rules.values() {
            let Some(listener) = self.listeners.get(rule.listener_arn.as_str()) else {
                continue;
            };
            for tg in rule
                .forward_target_groups
                .iter()
                .chain(&rule.staged_target_groups)
            {
                index
                    .entry(tg.as_str())
                    .or_default()
                    .insert(listener.load_balancer_arn.clone());
            }
        }
        index
    }

    /// Every target group as DescribeTargetGroups returns it (no tags, no attributes).
    pub fn target_group_views(&self) -> Vec<TargetGroup> {
        let index = self.load_balancer_index();
        self.target_groups
            .values()
            .map(|group| TargetGroup {
                load_balancer_arns: index
                    .get(group.arn.as_str())
                    .map(|s| s.iter().map(SharedStr::from).collect())
                    .unwrap_or_default(),
                tags: Tags::new(),
                attributes: TargetGroupAttributes::new(),
                ..group.clone()
            })
            .collect()
    }

    /// Rules whose ARN lies under `prefix`. A rule's ARN is its listener's with
    /// `listener-rule` for `listener` plus its own id, and a listener's is its load
    /// balancer's path plus its id (AWS's ARN format), so the rules of a listener or of a
    /// load balancer are one range of the map, not a scan of every rule of the account.
    fn rules_under(&self, prefix: &str) -> Vec<&Rule> {
        self.rules
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(arn, _)| arn.starts_with(prefix))
            .map(|(_, rule)| rule)
            .collect()
    }

    /// Every rule of a listener, its default rule included.
    pub(crate) fn rules_of_listener(&self, listener_arn: &str) -> Vec<&Rule> {
        let prefix = format!("{}/", listener_arn.replace(":listener/", ":listener-rule/"));
        let mut rules = self.rules_under(&prefix);
        rules.retain(|r| r.listener_arn == listener_arn);
        rules
    }

    /// Every rule of every listener of a load balancer, default rules included.
    fn rules_of_load_balancer(&self, lb_arn: &str) -> Vec<&Rule> {
        let prefix = format!("{}/", lb_arn.replace(":loadbalancer/", ":listener-rule/"));
        let mut rules = self.rules_under(&prefix);
        rules.retain(|r| {
            self.listeners
                .get(r.listener_arn.as_str())
                .is_some_and(|l| l.load_balancer_arn == lb_arn)
        });
        rules
    }

    /// Rules of a listener that are not its default rule.
    pub fn listener_rules(&self, listener_arn: &str) -> Vec<&Rule> {
        let mut rules = self.rules_of_listener(listener_arn);
        rules.retain(|r| !r.is_default());
        rules
    }

    fn rules_on_load_balancer(&self, lb_arn: &str) -> usize {
        self.rules_of_load_balancer(lb_arn)
            .iter()
            .filter(|r| !r.is_default())
            .count()
    }

    fn target_groups_on_load_balancer(&self, lb_arn: &str) -> BTreeSet<String> {
        self.rules_of_load_balancer(lb_arn)
            .iter()
            .flat_map(|r| {
                r.forward_target_groups
                    .iter()
                    .chain(&r.staged_target_groups)
            })
            .map(|g| g.to_string())
            .collect()
    }

    // ---- ELBv2 rules ------------------------------------------------------------------

    pub fn insert_target_group(&mut self, spec: &TargetGroupSpec) -> Result<String, AwsError> {
        const OP: &str = "CreateTargetGroup";
        let name = &spec.name;
        let valid_name = !name.is_empty()
            && name.len() <= 32
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.starts_with("internal-");
        if !valid_name {
            return Err(error(
                ELB,
                OP,
                "ValidationError",
                format!(
                    "Target group name '{name}' is not valid: up to 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen"
                ),
            ));
        }
        let hc = &spec.health_check;
        if hc.timeout_seconds >= hc.interval_seconds {
            return Err(error(
                ELB,
                OP,
                "ValidationError",
                "Health check timeout must be smaller than the interval".into(),
            ));
        }
        if let Some(existing) = self.target_groups.values().find(|g| g.name == *name) {
            // AWS: creating a group with the same name and settings returns the existing one.
            let same = existing.protocol == spec.protocol.as_str()
                && existing.port == spec.port
                && existing.vpc_id == spec.vpc_id
                && existing.target_type == spec.target_type.as_str()
                && existing.health_check == *spec.health_check;
            return if same {
                Ok(existing.arn.to_string())
            } else {
                Err(error(
                    ELB,
                    OP,
                    "DuplicateTargetGroupName",
                    format!(
                        "A target group with the same name '{name}' exists, but with different settings"
                    ),
                ))
            };
        }
        let arn = elb_arn("targetgroup", &format!("{name}/{}", self.id()));
        let attributes: TargetGroupAttributes = TARGET_GROUP_ATTRIBUTE_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.target_groups.insert(
            arn.clone(),
            TargetGroup {
                arn: arn.clone().into(),
                name: name.clone(),
                protocol: spec.protocol.as_str().into(),
                protocol_version: Some(spec.protocol_version.as_str().into()),
                port: spec.port,
                target_type: spec.target_type.as_str().into(),
                vpc_id: spec.vpc_id.as_str().into(),
                health_check: HealthCheck::clone(&spec.health_check),
                load_balancer_arns: vec![],
                tags: spec.tags.clone(),
                attributes,
            },
        );
        Ok(arn)
    }

    fn check_conditions(
        operation: &'static str,
        hosts: &[String],
        paths: &[String],
    ) -> Result<(), AwsError> {
        if hosts.is_empty() && paths.is_empty() {
            return Err(error(
                ELB,
                operation,
                "ValidationError",
                "A rule must have at least one condition".into(),
            ));
        }
        if hosts.len() > CONDITION_VALUES_PER_CONDITION
            || paths.len() > CONDITION_VALUES_PER_CONDITION
        {
            return Err(error(
                ELB,
                operation,
                "ValidationError",
                format!("A condition can only have '{CONDITION_VALUES_PER_CONDITION}' values"),
            ));
        }
        if hosts.len() + paths.len() > CONDITION_VALUES_PER_RULE {
            return Err(error(
                ELB,
                operation,
                "TooManyConditionValues",
                format!("A rule can only have '{CONDITION_VALUES_PER_RULE}' condition values"),
            ));
        }
        let wildcards: usize = hosts
            .iter()
            .chain(paths)
            .map(|v| v.matches(['*', '?']).count())
            .sum();
        if wildcards > WILDCARDS_PER_RULE {
            return Err(error(
                ELB,
                operation,
                "ValidationError",
                format!("A rule can only have '{WILDCARDS_PER_RULE}' wildcards"),
            ));
        }
        Ok(())
    }

    /// The target group may be used by `lb_arn`: it exists, uses no other load balancer,
    /// and the ALB stays within its target-group quota.
    fn check_forward(
        &self,
        operation: &'static str,
        target_group_arn: &str,
        lb_arn: &str,
    ) -> Result<(), AwsError> {
        if !self.target_groups.contains_key(target_group_arn) {
            return Err(not_found(
                operation,
                "TargetGroupNotFound",
                target_group_arn,
            ));
        }
        let used_by = self.load_balancers_of(target_group_arn);
        if used_by.iter().any(|l| l != lb_arn) {
            return Err(error(
                ELB,
                operation,
                "TargetGroupAssociationLimit",
                format!("Target group {target_group_arn} is already used by another load balancer"),
            ));
        }
        if used_by.is_empty()
            && self.target_groups_on_load_balancer(lb_arn).len() >= TARGET_GROUPS_PER_ALB
        {
            return Err(error(
                ELB,
                operation,
                "TooManyUniqueTargetGroupsPerLoadBalancer",
                format!(
                    "Load balancer {lb_arn} already uses {TARGET_GROUPS_PER_ALB} target groups"
                ),
            ));
        }
        Ok(())
    }

    fn check_priority(
        &self,
        operation: &'static str,
        listener_arn: &str,
        priority: u32,
        except: Option<&str>,
    ) -> Result<(), AwsError> {
        if !(1..=50_000).contains(&priority) {
            return Err(error(
                ELB,
                operation,
                "ValidationError",
                format!("Priority {priority} is not between 1 and 50000"),
            ));
        }
        let taken = self
            .rules_of_listener(listener_arn)
            .iter()
            .any(|r| r.priority == Some(priority) && Some(r.arn.as_str()) != except);
        if taken {
            return Err(error(
                ELB,
                operation,
                "PriorityInUse",
                format!("Priority '{priority}' is currently in use"),
            ));
        }
        Ok(())
    }

    pub fn insert_rule(&mut self, spec: &RuleSpec) -> Result<String, AwsError> {
        const OP: &str = "CreateRule";
        let listener = self
            .listeners
            .get(spec.listener_arn.as_str())
            .cloned()
            .ok_or_else(|| not_found(OP, "ListenerNotFound", &spec.listener_arn))?;
        Self::check_conditions(OP, &spec.hosts, &spec.paths)?;
        self.check_priority(OP, &spec.listener_arn, spec.priority, None)?;
        self.check_forward(OP, &spec.target_group_arn, &listener.load_balancer_arn)?;
        if let Some(staged) = &spec.staged_target_group_arn {
            self.check_forward(OP, staged, &listener.load_balancer_arn)?;
        }
        let quota = self.rules_quota.unwrap_or(RULES_PER_ALB);
        if self.rules_on_load_balancer(&listener.load_balancer_arn) >= quota {
            return Err(error(
                ELB,
                OP,
                "TooManyRules",
                format!("Load balancer already has {quota} rules"),
            ));
        }
        let arn = format!(
            "{}/{}",
            spec.listener_arn.replace(":listener/", ":listener-rule/"),
            self.id()
        );
        self.rules.insert(
            arn.clone(),
            Rule {
                arn: arn.clone().into(),
                listener_arn: spec.listener_arn.as_str().into(),
                priority: Some(spec.priority),
                hosts: spec.hosts.clone(),
                paths: spec.paths.clone(),
                other_conditions: 0,
                forward_target_groups: vec![spec.target_group_arn.clone().into()],
                staged_target_groups: spec
                    .staged_target_group_arn
                    .iter()
                    .map(SharedStr::from)
                    .collect(),
                weights: weights_as_read(&forward_groups(
                    &spec.target_group_arn,
                    spec.staged_target_group_arn.as_deref(),
                )),
                other_actions: 0,
                tags: spec.tags.clone(),
            },
        );
        Ok(arn)
    }

    pub fn modify_rule(
        &mut self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        target_group_arn: &str,
        staged: Option<&str>,
    ) -> Result<(), AwsError> {
        let groups = forward_groups(target_group_arn, staged);
        self.modify_rule_weighted(arn, hosts, paths, &groups)
    }

    /// ModifyRule with a ForwardConfig of several groups (`alb.weight`): AWS takes at most
    /// five groups, weights 0–999, some weight above 0.
    pub fn modify_rule_weighted(
        &mut self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        weights: &[(String, u32)],
    ) -> Result<(), AwsError> {
        const OP: &str = "ModifyRule";
        let rule = self
            .rules
            .get(arn)
            .cloned()
            .ok_or_else(|| not_found(OP, "RuleNotFound", arn))?;
        Self::check_conditions(OP, hosts, paths)?;
        let invalid = |m: String| error(ELB, OP, "ValidationError", m);
        if weights.is_empty() || weights.len() > GROUPS_PER_FORWARD {
            return Err(invalid(format!(
                "A forward action takes 1 to {GROUPS_PER_FORWARD} target groups"
            )));
        }
        if weights.iter().any(|(_, w)| *w > MAX_FORWARD_WEIGHT)
            || weights.iter().all(|(_, w)| *w == 0)
        {
            return Err(invalid(format!(
                "Target group weights must be 0–{MAX_FORWARD_WEIGHT}, at least one above 0"
            )));
        }
        let lb = self
            .listeners
            .get(rule.listener_arn.as_str())
            .map(|l| l.load_balancer_arn.clone())
            .unwrap_or_default();
        for (g, _) in weights {
            self.check_forward(OP, g, &lb)?;
        }
        if let Some(r) = self.rules.get_mut(arn) {
            r.hosts = hosts.to_vec();
            r.paths = paths.to_vec();
            r.other_conditions = 0;
            r.other_actions = 0;
            r.weights = weights_as_read(weights);
            r.forward_target_groups = weights
                .iter()
                .filter(|(_, w)| *w > 0)
                .map(|(g, _)| g.into())
                .collect();
            r.staged_target_groups = weights
                .iter()
                .filter(|(_, w)| *w == 0)
                .map(|(g, _)| g.into())
                .collect();
        }
        Ok(())
    }

    /// ModifyRule without `Actions`: the conditions change, the action and weights stay.
    pub fn modify_rule_conditions(
        &mut self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
    ) -> Result<(), AwsError> {
        const OP: &str = "ModifyRule";
        Self::check_conditions(OP, hosts, paths)?;
        let r = self
            .rules
            .get_mut(arn)
            .ok_or_else(|| not_found(OP, "RuleNotFound", arn))?;
        r.hosts = hosts.to_vec();
        r.paths = paths.to_vec();
        r.other_conditions = 0;
        Ok(())
    }

    pub fn set_rule_priorities(&mut self, priorities: &[(String, u32)]) -> Result<(), AwsError> {
        const OP: &str = "SetRulePriorities";
        let mut after: BTreeMap<String, Option<u32>> = self
            .rules
            .iter()
            .map(|(a, r)| (a.clone(), r.priority))
            .collect();
        for (arn, p) in priorities {
            match self.rules.get(arn) {
                None => return Err(not_found(OP, "RuleNotFound", arn)),
                Some(r) if r.is_default() => {
                    return Err(error(
                        ELB,
                        OP,
                        "OperationNotPermitted",
                        "The default rule's priority cannot be changed".into(),
                    ));
                }
                Some(_) => {
                    after.insert(arn.clone(), Some(*p));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (arn, p) in &after {
            if let (Some(p), Some(rule)) = (p, self.rules.get(arn))
                && !seen.insert((rule.listener_arn.clone(), *p))
            {
                return Err(error(
                    ELB,
                    OP,
                    "PriorityInUse",
                    format!("Priority '{p}' is currently in use"),
                ));
            }
        }
        for (arn, p) in priorities {
            if let Some(r) = self.rules.get_mut(arn) {
                r.priority = Some(*p);
            }
        }
        Ok(())
    }

    pub fn remove_rule(&mut self, arn: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteRule";
        match self.rules.get(arn) {
            None => Err(not_found(OP, "RuleNotFound", arn)),
            Some(r) if r.is_default() => Err(error(
                ELB,
                OP,
                "OperationNotPermitted",
                "A listener's default rule cannot be deleted".into(),
            )),
            Some(_) => {
                self.rules.remove(arn);
                Ok(())
            }
        }
    }

    pub fn remove_target_group(&mut self, arn: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteTargetGroup";
        if !self.target_groups.contains_key(arn) {
            return Err(not_found(OP, "TargetGroupNotFound", arn));
        }
        if let Some(rule) = self.rules.values().find(|r| {
            r.forward_target_groups
                .iter()
                .chain(&r.staged_target_groups)
                .any(|t| t == arn)
        }) {
            return Err(error(
                ELB,
                OP,
                "ResourceInUse",
                format!(
                    "Target group '{arn}' is currently in use by a listener or a rule ({})",
                    rule.arn
                ),
            ));
        }
        self.target_groups.remove(arn);
        self.targets.remove(arn);
        self.registrations.retain(|(g, _), _| g != arn);
        Ok(())
    }

    pub fn target_group_mut(
        &mut self,
        operation: &'static str,
        arn: &str,
    ) -> Result<&mut TargetGroup, AwsError> {
        self.target_groups
            .get_mut(arn)
            .ok_or_else(|| not_found(operation, "TargetGroupNotFound", arn))
    }
}

/// AWS's limits on a forward action's ForwardConfig.
const GROUPS_PER_FORWARD: usize = 5;
const MAX_FORWARD_WEIGHT: u32 = 999;

/// The groups of a forward to `target`, with a group staged beside it at weight 0.
fn forward_groups(target: &str, staged: Option<&str>) -> Vec<(String, u32)> {
    let mut groups = vec![(target.to_string(), 1)];
    groups.extend(staged.map(|s| (s.to_string(), 0)));
    groups
}

/// A forward's weights as the ELBv2 adapter reads AWS's answer for it: none where one
/// group takes every request (AWS describes it with a ForwardConfig of that group at
/// weight 1, which the adapter reads as a plain forward), else each group's.
fn weights_as_read(groups: &[(String, u32)]) -> BTreeMap<String, u32> {
    match groups {
        [(_, 1)] => BTreeMap::new(),
        _ => groups.iter().cloned().collect(),
    }
}

/// What AWS fills in for a target group created without a health check.
pub fn default_health_check() -> HealthCheck {
    HealthCheck {
        protocol: "HTTP".into(),
        path: "/".into(),
        port: "traffic-port".into(),
        interval_seconds: 30,
        timeout_seconds: 5,
        healthy_threshold: 5,
        unhealthy_threshold: 2,
        matcher: "200".into(),
    }
}
