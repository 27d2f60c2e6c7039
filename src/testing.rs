//! The test harness on the fake AWS: an estate (one cluster, ALBs with the seed's listener
//! layout, a private zone), helpers to add tagged services, and convergence with the
//! served-traffic check. Shared by the tests and the scale benchmark; the fake itself knows
//! nothing of the controller.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, LogFormat, Policy, PriorityRange};
use crate::fake::{FakeAws, container, tags};
use crate::runtime::Controller;
use crate::telemetry::Metrics;

pub const CLUSTER: &str = "main";
pub const VPC: &str = "vpc-0fake";
/// The container and port every fixture service routes to.
pub const CONTAINER: &str = "app";
pub const PORT: i32 = 8080;
pub const ZONE: &str = "in.example.com";
/// The role ECS rewrites production rules with, in the harness's configuration.
pub const INFRASTRUCTURE_ROLE: &str = "arn:aws:iam::123456789012:role/ecs-infrastructure";
/// The seed article's ServiceA: its host and health-check settings as routing tags.
pub const SEED_TAGS: &[(&str, &str)] = &[
    ("alb.host", "service-a.in.example.com"),
    ("alb.healthcheck.path", "/application-status/health"),
    ("alb.healthcheck.healthy-threshold", "2"),
    ("alb.healthcheck.unhealthy-threshold", "10"),
    ("alb.healthcheck.interval", "5"),
    ("alb.healthcheck.timeout", "4"),
];

/// A fake account with a private zone `in.example.com` and `albs` internal ALBs; listener `default` is the first, `alb-N` the
/// N-th (0-based) of the others.
pub struct Estate {
    pub fake: Arc<FakeAws>,
    pub metrics: Arc<Metrics>,
    /// Listener name → ARN.
    pub listeners: BTreeMap<String, String>,
    /// The private zone `in.example.com`, managed through `--hosted-zone`.
    pub zone_id: String,
}

pub fn listener_name(index: usize) -> String {
    if index == 0 {
        "default".to_string()
    } else {
        format!("alb-{index}")
    }
}

impl Estate {
    pub fn new(albs: usize) -> Self {
        let metrics = Arc::new(Metrics::new(crate::aws::OPERATIONS));
        let fake = FakeAws::new(metrics.clone());
        let mut listeners = BTreeMap::new();
        let zone_id;
        {
            let mut world = fake.world();
            world.add_cluster(CLUSTER);
            zone_id = world.add_zone(ZONE);
            for i in 0..albs.max(1) {
                let (_, listener) = world.add_load_balancer(&format!("internal-alb-{i}"), VPC);
                listeners.insert(listener_name(i), listener);
            }
        }
        Self {
            fake,
            metrics,
            listeners,
            zone_id,
        }
    }

    /// The configuration `ecs-ingress --cluster main --listener ...` would produce.
    pub fn config(&self) -> Config {
        Config {
            clusters: vec![CLUSTER.to_string()],
            listeners: self.listeners.clone(),
            pools: crate::config::PoolSettings::single(&self.listeners),
            hosted_zones: vec![self.zone_id.clone()],
            zone_roles: Default::default(),
            zone_role_external_id: None,
            cloudmap_namespaces: vec![],
            ecs_infrastructure_role_arn: Some(INFRASTRUCTURE_ROLE.to_string()),
            owner_id: "ecs-ingress".into(),
            tag_prefix: String::new(),
            interval: Duration::from_secs(30),
            priority_range: PriorityRange {
                low: 1000,
                high: 49_999,
            },
            policy: Policy::Sync,
            dry_run: false,
            events_queue_url: None,
            resync_interval: None,
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_format: LogFormat::Text,
            rate_share: 100,
            backend_sg_rules: true,
            listener_certificates: true,
            max_certificates_per_alb: None,
            leader_election: None,
        }
    }

    /// The configuration with every listener of the estate in one pool named `default`
    /// (`--listener default=A --listener default=B ...`), in the estate's order.
    pub fn pool_config(&self) -> Config {
        let mut config = self.config();
        let mut members: Vec<(usize, String)> = self
            .listeners
            .iter()
            .map(|(name, arn)| {
                let index = name.strip_prefix("alb-").and_then(|n| n.parse().ok());
                (index.unwrap_or(0), arn.clone())
            })
            .collect();
        members.sort();
        let members: Vec<String> = members.into_iter().map(|(_, arn)| arn).collect();
        config.listeners = BTreeMap::from([("default".to_string(), members[0].clone())]);
        config.pools.members = BTreeMap::from([("default".to_string(), members)]);
        config
    }

    pub fn controller(&self) -> Controller {
        self.controller_with(self.config())
    }

    pub fn controller_with(&self, config: Config) -> Controller {
        Controller::new(config, self.fake.aws(), self.metrics.clone())
    }

    /// Passes until one succeeds, writes nothing and no service waits (for healthy targets,
    /// a replacement...), letting virtual time run an interval between passes that wait, as
    /// the daemon does. Returns the passes run and the last report; panics after `max`.
    pub async fn converge_report(
        &self,
        controller: &Controller,
        max: usize,
    ) -> (usize, crate::runtime::PassReport) {
        let mut last = None;
        for n in 1..=max {
            let before = self.fake.writes();
            let report = controller.pass(true).await;
            let waiting = report.plan.services.iter().any(|s| !s.waiting.is_empty());
            if self.fake.writes() == before && !waiting && report.succeeded() {
                return (n, report);
            }
            if waiting && self.fake.writes() == before {
                tokio::time::sleep(controller.config.interval).await;
            }
            last = Some(report);
        }
        let waiting: Vec<String> = last
            .map(|r| {
                r.plan
                    .services
                    .iter()
                    .flat_map(|s| s.waiting.iter().map(move |w| format!("{}: {w}", s.service)))
                    .collect()
            })
            .unwrap_or_default();
        panic!("no convergence within {max} passes; waiting: {waiting:?}");
    }

    /// [`Estate::converge_report`] without the report.
    pub async fn converge(&self, controller: &Controller, max: usize) -> usize {
        self.converge_report(controller, max).await.0
    }

    /// Expects `host` (path `/`) to be served by `service_arn` from now on, checked after
    /// every write (see [`FakeAws::expect_served`]).
    pub fn expect_served(&self, host: &str, service_arn: &str) {
        self.fake.expect_served(host, "/", service_arn);
    }

    /// Fails the test if any write broke the served-traffic invariant, or if an expected
    /// name is not served now.
    pub fn assert_traffic_served(&self, case: &str) {
        let (violations, writes) = self.fake.traffic_report();
        assert!(
            violations.is_empty(),
            "{case}: traffic dropped ({writes} writes checked): {violations:#?}"
        );
        let unserved = self.fake.unserved();
        assert!(
            unserved.is_empty(),
            "{case}: not served at the end: {unserved:?}"
        );
    }

    /// Rules carrying an ecs-ingress owner tag (any owner).
    pub fn owned_rules(&self) -> Vec<crate::state::Rule> {
        self.fake
            .world()
            .rules
            .values()
            .filter(|r| r.tags.contains_key(crate::ownership::OWNER_TAG))
            .cloned()
            .collect()
    }

    /// DNS name of the first ALB (listener `default`'s).
    pub fn load_balancer_dns(&self) -> String {
        let world = self.fake.world();
        self.listeners
            .get("default")
            .and_then(|l| world.listeners.get(l))
            .and_then(|l| world.load_balancers.get(&l.load_balancer_arn))
            .map(|lb| lb.dns_name.clone())
            .unwrap_or_default()
    }

    /// Edits the tags of the task definition a service runs (as a deploy of a new
    /// revision with other tags would).
    pub fn edit_task_definition_tags(
        &self,
        service: &str,
        f: impl FnOnce(&mut crate::state::Tags),
    ) {
        let mut world = self.fake.world();
        let Some(td) = world
            .services
            .values()
            .find(|s| s.service.name == service)
            .map(|s| s.service.task_definition.clone())
        else {
            return;
        };
        if let Some(td) = world.task_definitions.get_mut(&td) {
            f(&mut td.tags);
        }
    }

    /// Removes every task definition's tags (untags every fixture service).
    pub fn untag_task_definitions(&self) {
        for td in self.fake.world().task_definitions.values_mut() {
            td.tags.clear();
        }
    }

    /// The records of the managed zone, to edit by hand.
    pub fn edit_records(&self, f: impl FnOnce(&mut Vec<crate::state::RecordSet>)) {
        if let Some((_, records)) = self.fake.world().zones.get_mut(&self.zone_id) {
            f(records);
        }
    }

    /// Hand-made rules on `listener_arn`, one per host from `first_priority` on, forwarding
    /// to one hand-made target group of the estate's VPC (`legacy`). Returns the rules'
    /// ARNs. Panics with the fake's answer when it refuses one: a test built on fewer rules
    /// than it asked for would test something else.
    pub fn add_hand_made_rules(
        &self,
        listener_arn: &str,
        first_priority: u32,
        hosts: &[String],
    ) -> Vec<String> {
        let mut world = self.fake.world();
        let legacy = match world.insert_target_group(&crate::state::TargetGroupSpec {
            name: "legacy".into(),
            protocol: crate::state::Protocol::Http,
            protocol_version: crate::state::ProtocolVersion::Http1,
            port: 80,
            target_type: crate::state::TargetType::Ip,
            vpc_id: VPC.into(),
            health_check: crate::fake::default_health_check().into(),
            attributes: Default::default(),
            tags: Default::default(),
        }) {
            Ok(arn) => arn,
            Err(e) => panic!("the fake refused the hand-made target group: {e}"),
        };
        hosts
            .iter()
            .zip(first_priority..)
            .map(|(host, priority)| {
                let spec = crate::state::RuleSpec {
                    listener_arn: listener_arn.to_string(),
                    priority,
                    hosts: vec![host.clone()],
                    paths: vec![],
                    target_group_arn: legacy.clone(),
                    staged_target_group_arn: None,
                    tags: Default::default(),
                };
                match world.insert_rule(&spec) {
                    Ok(arn) => arn,
                    Err(e) => panic!("the fake refused a hand-made rule for {host}: {e}"),
                }
            })
            .collect()
    }

    /// A new security group of the estate's VPC (as a team makes one for its service).
    pub fn add_security_group(&self) -> String {
        self.fake.world().add_security_group(VPC)
    }

    /// Puts the tasks of service `service_arn` in `groups` (its
    /// `awsvpcConfiguration.securityGroups`): from then on its ALB reaches them only
    /// through a rule of one of these groups.
    pub fn set_security_groups(&self, service_arn: &str, groups: &[String]) {
        if let Some(s) = self.fake.world().service_mut(service_arn) {
            s.security_groups = groups.to_vec();
        }
    }

    /// The security groups of the ALB of listener `name`.
    pub fn alb_security_groups(&self, name: &str) -> Vec<String> {
        let world = self.fake.world();
        self.listeners
            .get(name)
            .and_then(|l| world.listeners.get(l))
            .and_then(|l| world.load_balancers.get(&l.load_balancer_arn))
            .map(|lb| lb.security_groups.clone())
            .unwrap_or_default()
    }

    /// A service whose task definition (awsvpc, container `app` on 8080) carries
    /// `td_tags`, and whose service carries `service_tags`. Returns its ARN.
    pub fn add_service(
        &self,
        name: &str,
        td_tags: &[(&str, &str)],
        service_tags: &[(&str, &str)],
    ) -> String {
        self.add_service_in(CLUSTER, name, td_tags, service_tags)
    }

    /// As [`Estate::add_service`], in `cluster` (which must exist in the fake's world).
    pub fn add_service_in(
        &self,
        cluster: &str,
        name: &str,
        td_tags: &[(&str, &str)],
        service_tags: &[(&str, &str)],
    ) -> String {
        let mut world = self.fake.world();
        let td = world.add_task_definition(
            name,
            "awsvpc",
            vec![container(CONTAINER, PORT, Default::default())],
            tags(td_tags),
        );
        let arn = world.add_service(cluster, name, &td, tags(service_tags));
        // A service runs a task, as on ECS: requests can only be served by running tasks.
        let n = world.tasks.len();
        let ip = format!("10.1.{}.{}", n / 250, n % 250 + 1);
        world.add_task(&arn, &ip);
        arn
    }
}

/// A non-default rule of `listener_arn` as DescribeRules reads it, at priority 1, with no
/// conditions, no forward and no tags: for tests that build a snapshot by hand.
pub fn rule(arn: &str, listener_arn: &str) -> crate::state::Rule {
    crate::state::Rule {
        arn: arn.into(),
        listener_arn: listener_arn.into(),
        priority: Some(1),
        hosts: vec![],
        paths: vec![],
        other_conditions: 0,
        forward_target_groups: vec![],
        staged_target_groups: vec![],
        weights: Default::default(),
        other_actions: 0,
        tags: Default::default(),
    }
}

/// An internal IPv4 ALB named `internal` with no DNS name, VPC or security groups: for tests
/// that build a snapshot by hand.
pub fn load_balancer(arn: &str) -> crate::state::LoadBalancer {
    crate::state::LoadBalancer {
        arn: arn.into(),
        name: "internal".into(),
        vpc_id: String::new(),
        dns_name: String::new(),
        canonical_hosted_zone_id: String::new(),
        ip_address_type: "ipv4".into(),
        security_groups: vec![],
    }
}

/// A target group as DescribeTargetGroups reads it, on no ALB, with AWS's default health
/// check: for tests that build a snapshot by hand.
pub fn target_group(arn: &str, tags: crate::state::Tags) -> crate::state::TargetGroup {
    crate::state::TargetGroup {
        arn: arn.into(),
        name: "ei-a-1".into(),
        protocol: "HTTP".into(),
        protocol_version: None,
        port: 8080,
        target_type: "ip".into(),
        vpc_id: "vpc".into(),
        health_check: crate::fake::default_health_check(),
        load_balancer_arns: vec![],
        tags,
        attributes: Default::default(),
    }
}

/// A status of service `name` (cluster `main`) with ARN `service_arn`, in `state`, with no
/// intent, hosts, resources or messages: for tests that build statuses by hand and set what
/// they look at.
pub fn service_status(
    service_arn: &str,
    name: &str,
    state: crate::status::ServiceState,
) -> crate::status::ServiceStatus {
    crate::status::ServiceStatus {
        cluster: "main".into(),
        service: name.into(),
        service_arn: service_arn.into(),
        state,
        intent: String::new(),
        hosts: vec![],
        resources: vec![],
        problems: vec![],
        warnings: vec![],
        waiting: vec![],
        last_change: None,
        load_balancer: None,
        keys: Default::default(),
        pending: Vec::new(),
    }
}
