//! What a pass read from AWS, as plain data: the input of the planner.
//!
//! `observe` fills it through the adapters; the planner reads it. It holds no AWS SDK type
//! and no error type of the adapters: a failed read is a [`FailedRead`], which is all the
//! planner needs to know (any failure forbids deletions).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::state::{AcmCertificate, ListenerCertificates, Tags};
use crate::state::{
    CloudMapInstance, CloudMapNamespace, CloudMapService, EcsService, EcsTask, HostedZone,
    Listener, LoadBalancer, RecordSet, Rule, SecurityGroupRule, TargetGroup, TargetHealth,
    TaskDefinition,
};

/// How far two replicas' readings of AWS's clock may differ: each reading truncates twice
/// to whole seconds (the `Date` header, the host's clock) and an answer takes a moment to
/// arrive, so two readings can be 2 s and more apart. A DNS drain is held this much longer.
pub const CLOCK_UNCERTAINTY_SECONDS: i64 = 5;

/// Everything one pass read from AWS, as plain data: what the planner plans from.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// ACTIVE services of every watched cluster.
    pub services: Vec<Arc<EcsService>>,
    /// Shared with the edge's cache of revisions (contents never change per revision), so a
    /// pass does not copy them. Hashed: only ever looked up, once per service.
    pub task_definitions: rustc_hash::FxHashMap<String, Arc<TaskDefinition>>,
    /// Configured listeners that exist, by ARN.
    pub listeners: BTreeMap<String, Listener>,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    /// Every rule of the configured listeners; non-default rules carry their tags.
    pub rules: Vec<Rule>,
    /// Every target group of the account; ecs-ingress-named ones carry tags, owned ones
    /// their attributes.
    pub target_groups: Vec<TargetGroup>,
    /// Running tasks per service ARN, for services routed with `alb.targets=direct`.
    pub tasks: BTreeMap<String, Vec<EcsTask>>,
    /// Registered targets and their health per owned target group ARN: read for
    /// `alb.targets=direct`, and for groups whose health decides the next step of a
    /// publication or a replacement.
    pub targets: BTreeMap<String, Vec<TargetHealth>>,
    /// When the pass read AWS: seconds since the epoch on AWS's clock (as its answers told
    /// it), so that times written by one replica and compared by another agree.
    pub read_at: i64,
    /// DescribeTargetGroups answered: `target_groups` is every group of the account.
    pub target_groups_complete: bool,
    /// Non-default rules per load balancer of a configured listener, across all of its
    /// listeners (the rule quota counts them all).
    pub rules_per_load_balancer: BTreeMap<String, usize>,
    /// The account's rules-per-ALB quota, when DescribeAccountLimits answered.
    pub rules_quota: Option<usize>,
    /// Configured listeners that do not exist (DescribeListeners said so).
    pub missing_listeners: BTreeSet<String>,
    /// Listeners no longer given with `--listener` (nor of an ALB ecs-ingress created) that
    /// still hold rules of its target groups: read with their ALB and rules, so that the
    /// services on them move off as from a drained pool member. In `listeners` too.
    pub departed_listeners: BTreeSet<String>,
    /// Managed hosted zones that could be read, by id.
    pub zones: BTreeMap<String, HostedZone>,
    /// Record sets per managed zone id.
    pub records: BTreeMap<String, Vec<RecordSet>>,
    /// The managed Cloud Map namespaces, their services and instances.
    pub cloudmap: CloudMapSnapshot,
    /// Reads that failed. A failure forbids deletions in this pass, except a managed zone's
    /// whose name is known: that one holds back only the services with a name in it
    /// ([`Snapshot::complete_but_zones`]).
    pub failed_reads: Vec<FailedRead>,
    /// Managed zones that could not be read this pass, by id: their name when known (names
    /// never change, so an earlier pass's answer counts) and why.
    pub unread_zones: BTreeMap<String, UnreadZone>,
    /// ALBs ecs-ingress created for pools that may grow (found by their tags).
    pub provisioned: Vec<ProvisionedAlb>,
    /// The account's ALBs and quota, read when a pool needs to grow.
    pub alb_account: Option<AlbAccount>,
    /// Since when (seconds since the epoch) each provisioned ALB has held no rules, as far as
    /// this process saw: a restart starts the count again, which only delays a scale-in.
    pub empty_since: BTreeMap<String, i64>,
    /// The inbound rules of the services' security groups (`--backend-sg-rules`).
    pub backend_rules: BackendRulesRead,
    /// ACM's certificates (`--listener-certificates`).
    pub certificates: CertificatesRead,
    /// The certificates of each HTTPS listener of the configured listeners' ALBs.
    pub listener_certificates: BTreeMap<String, ListenerCertificates>,
    /// Tags of those HTTPS listeners: which certificates ecs-ingress attached.
    pub listener_tags: BTreeMap<String, Tags>,
    /// The account's `certificates-per-application-load-balancer`, when read.
    pub certificates_quota: Option<usize>,
    /// Certificates besides the default on every HTTPS listener of each ALB of a
    /// configured listener (the quota counts them all).
    pub certificates_per_load_balancer: BTreeMap<String, usize>,
}

/// What a pass knows of ACM's certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CertificatesRead {
    /// `--listener-certificates off`: no certificate work.
    #[default]
    Off,
    /// The read failed (why): services on HTTPS listeners are held as they are.
    Failed(String),
    /// Every certificate of the region (every key type and status), by ARN.
    Read(BTreeMap<String, AcmCertificate>),
}

/// What a pass knows of the services' security-group rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BackendRulesRead {
    /// `--backend-sg-rules off`: nothing read, nothing written.
    #[default]
    Off,
    /// The read failed (why): no rule is added or revoked this pass. Not a failed read of
    /// the pass: nothing else rests on it.
    Failed(String),
    /// Every inbound rule of the services' security groups.
    Read(Vec<SecurityGroupRule>),
}

/// An ALB ecs-ingress created for a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedAlb {
    pub arn: String,
    pub name: String,
    pub pool: String,
    /// Its listener, once created (the clone of the pool's first listener).
    pub listener_arn: Option<String>,
}

/// How many ALBs the account has, and may have (`application-load-balancers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlbAccount {
    pub used: usize,
    pub quota: usize,
}

/// Rules' listeners by rule ARN ([`Snapshot::rule_listeners`]). Hashed: ARNs share a long
/// prefix an ordered map compares at every step.
pub struct RuleListeners<'a> {
    rules: &'a [Rule],
    index: std::cell::OnceCell<rustc_hash::FxHashMap<&'a str, &'a str>>,
}

impl<'a> RuleListeners<'a> {
    /// The listener of the rule `rule_arn`, if the snapshot has that rule.
    pub fn get(&self, rule_arn: &str) -> Option<&'a str> {
        self.index
            .get_or_init(|| {
                self.rules
                    .iter()
                    .map(|r| (r.arn.as_str(), r.listener_arn.as_str()))
                    .collect()
            })
            .get(rule_arn)
            .copied()
    }
}

impl Snapshot {
    /// How many target groups (of anyone) each ALB forwards to. A group counts once per
    /// ALB, however its ALBs are listed (some implementations repeat one per rule). One
    /// walk of the groups: quotas and the status page ask it for every ALB.
    pub fn target_groups_per_load_balancer(&self) -> rustc_hash::FxHashMap<&str, usize> {
        let mut out = rustc_hash::FxHashMap::default();
        for g in &self.target_groups {
            // A group has a handful of ALBs at most: a scan, not a set per group.
            let arns = &g.load_balancer_arns;
            for (i, lb) in arns.iter().enumerate() {
                if !arns[..i].contains(lb) {
                    *out.entry(lb.as_str()).or_default() += 1;
                }
            }
        }
        out
    }

    /// The listener of each rule, by the rule's ARN, indexed the first time one is asked
    /// for: only passes that rewrite a rule ask, and most rewrite none.
    pub fn rule_listeners(&self) -> RuleListeners<'_> {
        RuleListeners {
            rules: &self.rules,
            index: std::cell::OnceCell::new(),
        }
    }

    /// True when the read health of target group `arn` shows a healthy target; `None` when
    /// its health was not read.
    pub fn has_healthy_targets(&self, arn: &str) -> Option<bool> {
        self.targets.get(arn).map(|targets| {
            targets
                .iter()
                .any(|t| t.state == crate::state::TargetHealthState::Healthy)
        })
    }

    /// Every read succeeded.
    pub fn complete(&self) -> bool {
        self.failed_reads.is_empty()
    }

    /// Every read succeeded but some of managed hosted zones', and each of those zones'
    /// names is known. Deletions are then safe for every service without a name in those
    /// zones: what they rest on was read. A zone whose name is unknown could hold any name,
    /// so it holds back every deletion.
    pub fn complete_but_zones(&self) -> bool {
        self.failed_reads.iter().all(|f| f.zone.is_some())
            && self.unread_zones.values().all(|z| z.name.is_some())
    }
}

/// A managed zone that could not be read this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadZone {
    pub name: Option<String>,
    /// The failed read, for people (it names the role of a `--zone-role` zone).
    pub reason: String,
}

/// A read that failed, for people: the planner only asks whether there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRead {
    pub service: String,
    pub operation: String,
    pub message: String,
    /// The managed hosted zone whose read this was, if it was one.
    pub zone: Option<String>,
}

/// What Cloud Map looks like in the managed namespaces.
#[derive(Debug, Default, Clone)]
pub struct CloudMapSnapshot {
    /// Managed namespaces that exist.
    pub namespaces: Vec<CloudMapNamespace>,
    /// Managed namespaces (as configured) that were not found.
    pub missing: Vec<String>,
    /// Every service of the managed namespaces.
    pub services: Vec<CloudMapService>,
    /// Instances per Cloud Map service id.
    pub instances: BTreeMap<String, Vec<CloudMapInstance>>,
}

impl CloudMapSnapshot {
    /// The managed namespace a tag or flag names (by name or id).
    pub fn namespace(&self, name_or_id: &str) -> Option<&CloudMapNamespace> {
        self.namespaces.iter().find(|n| {
            n.id == name_or_id
                || n.name
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(name_or_id.trim_end_matches('.'))
        })
    }
}
