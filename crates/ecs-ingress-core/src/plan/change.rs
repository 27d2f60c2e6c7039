//! Typed changes: what the applier does, in what order, and why.

use std::fmt;

use serde::Serialize;

use crate::status::ResourceKind;

use crate::state::{
    CloudMapServiceSpec, DeploymentSettings, EcsService, HealthCheck, LoadBalancerAttachment,
    RecordChange, RecordSet, Tags, Target, TargetGroupAttributes, TargetGroupSpec,
};

/// A target group that exists, or one created earlier in the same pass (by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetGroupRef {
    Existing(String),
    New(String),
}

impl fmt::Display for TargetGroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Existing(arn) => f.write_str(short_arn(arn)),
            Self::New(name) => write!(f, "{name} (new)"),
        }
    }
}

/// A listener rule that exists, or one of the service's created earlier in the same pass
/// (by the key of its ownership tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleRef {
    Existing(String),
    New(String),
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Existing(arn) => f.write_str(short_arn(arn)),
            Self::New(key) => write!(f, "{key} (new)"),
        }
    }
}

/// What ECS needs to shift a service's traffic itself (an entry's `advancedConfiguration`):
/// the group it deploys into, the production rule whose weights it rewrites, and the role
/// it does that with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftSetup {
    pub alternate: TargetGroupRef,
    pub production_rule: RuleRef,
    /// `alb.test-host`: the rule ECS sends test traffic through.
    pub test_rule: Option<RuleRef>,
    pub role_arn: String,
}

/// A Cloud Map service that exists, or one created earlier in the same pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudMapServiceRef {
    /// `name` is `namespace/service`, for people.
    Existing {
        id: String,
        name: String,
    },
    New {
        namespace_id: String,
        name: String,
    },
}

impl fmt::Display for CloudMapServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Existing { name, .. } => f.write_str(name),
            Self::New { name, .. } => write!(f, "{name} (new)"),
        }
    }
}

/// One entry of a service's desired `loadBalancers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachmentEntry {
    /// An entry ecs-ingress does not own: kept exactly as it is.
    Keep(LoadBalancerAttachment),
    Ours {
        target: TargetGroupRef,
        container: String,
        port: i32,
        /// Set when ECS shifts the service's traffic itself (`alb.deploy`).
        #[serde(skip_serializing_if = "Option::is_none")]
        shift: Option<ShiftSetup>,
    },
}

/// When a change is applied: changes go out phase by phase, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    WithdrawNames,
    CreateLoadBalancers,
    CreateTargetGroups,
    AuthorizeIngress,
    AddCertificates,
    ModifyTargetGroups,
    MovePriorities,
    CreateRules,
    ModifyRules,
    Attach,
    WriteRecords,
    CreateCloudMapServices,
    RegisterInstances,
    DeleteRules,
    Detach,
    DeleteTargetGroups,
    RemoveCertificates,
    RevokeIngress,
    DeleteLoadBalancers,
}

impl Phase {
    /// Publishing phases (target group → rule → attachment) run as one pipeline per
    /// service, many services at once: a service is attached as soon as its own rule
    /// exists, on the ECS bucket, while other services' rules still wait for ELBv2 tokens.
    pub fn is_pipelined(self) -> bool {
        (Self::CreateTargetGroups..=Self::Attach).contains(&self)
    }
}

/// One change to AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Change {
    CreateTargetGroup {
        spec: TargetGroupSpec,
        extra_attributes: TargetGroupAttributes,
    },
    ModifyHealthCheck {
        arn: String,
        name: String,
        health_check: HealthCheck,
    },
    ModifyAttributes {
        arn: String,
        name: String,
        attributes: TargetGroupAttributes,
    },
    SetRulePriorities {
        listener_arn: String,
        priorities: Vec<(String, u32)>,
    },
    CreateRule {
        listener_arn: String,
        priority: u32,
        hosts: Vec<String>,
        paths: Vec<String>,
        target: TargetGroupRef,
        /// Beside `target` at weight 0 (the alternate group of an ECS blue/green service).
        staged: Option<TargetGroupRef>,
        tags: Tags,
    },
    /// Conditions only: the action (and the weights ECS set in it) stays as it is.
    ModifyRuleConditions {
        arn: String,
        hosts: Vec<String>,
        paths: Vec<String>,
    },
    /// `alb.weight`: the conditions and a forward action over these groups and weights.
    ModifyRuleWeights {
        rule: RuleRef,
        hosts: Vec<String>,
        paths: Vec<String>,
        weights: Vec<(TargetGroupRef, u32)>,
    },
    /// `staged`: a replacement target group joins the forward action at weight 0.
    ModifyRule {
        arn: String,
        hosts: Vec<String>,
        paths: Vec<String>,
        target: TargetGroupRef,
        staged: Option<TargetGroupRef>,
    },
    /// `publish`: it adds our entry (after rules) or only removes ours (after rule deletes).
    UpdateServiceLoadBalancers {
        cluster: String,
        service: String,
        load_balancers: Vec<AttachmentEntry>,
        publish: bool,
        /// `alb.deploy`: the `deploymentConfiguration` fields to set in the same call (ECS
        /// takes blue/green entries only with a blue/green strategy, and back).
        #[serde(skip_serializing_if = "Option::is_none")]
        deployment: Option<DeploymentSettings>,
    },
    /// `alb.deploy` settings alone (the entries stay as ECS holds them: a deployment of its
    /// own may be swapping them).
    UpdateServiceDeployment {
        cluster: String,
        service: String,
        deployment: DeploymentSettings,
    },
    RegisterTargets {
        target: TargetGroupRef,
        targets: Vec<Target>,
    },
    DeregisterTargets {
        arn: String,
        targets: Vec<Target>,
    },
    DeleteRule {
        arn: String,
    },
    DeleteTargetGroup {
        arn: String,
        name: String,
    },
    /// Writes a name's records and its ownership marker in one change batch. `delete` holds
    /// owned records of types no longer wanted (alias → cname), with their current values.
    UpsertRecords {
        zone_id: String,
        name: String,
        delete: Vec<RecordSet>,
        upsert: Vec<RecordSet>,
        /// The name was ours already (an update, not a creation).
        exists: bool,
        /// The records point at another ALB than before: the marker's `since` is stamped
        /// again, on AWS's clock, right before the batch is sent (the drain counts from the
        /// switch, not from the read that planned it).
        moves: bool,
    },
    /// Removes a name's owned records and its marker, with their exact current values.
    DeleteRecords {
        zone_id: String,
        name: String,
        records: Vec<RecordSet>,
    },
    CreateCloudMapService {
        spec: CloudMapServiceSpec,
    },
    /// Creates or rewrites our instance (RegisterInstance replaces the attributes).
    RegisterInstance {
        service: CloudMapServiceRef,
        instance_id: String,
        attributes: std::collections::BTreeMap<String, String>,
        /// The instance was ours already (an update, not a creation).
        exists: bool,
    },
    DeregisterInstance {
        service_id: String,
        /// For people.
        service_name: String,
        instance_id: String,
    },
    /// An ALB for a pool that has no room left, cloned from the pool's first ALB and
    /// listener (read when the change is applied), carrying `tags`.
    CreateLoadBalancer {
        pool: String,
        name: String,
        template_listener_arn: String,
        tags: Tags,
    },
    /// An ALB ecs-ingress created, empty for `--pool-scale-in-after`.
    DeleteLoadBalancer {
        arn: String,
        name: String,
        /// The owner its tags must name: the applier checks them before deleting.
        owner: String,
    },
    /// A certificate onto an HTTPS listener's SNI list, recorded as ours on the listener's
    /// tags (`record` = owner id under `record_key`).
    ///
    /// Planned once for every service that needs it (`for_services`), ahead of their
    /// pipelines: if it fails, none of them gets a rule on the listener this pass.
    AddListenerCertificate {
        listener_arn: String,
        certificate_arn: String,
        record_key: String,
        record: String,
        for_services: Vec<String>,
    },
    /// A certificate ecs-ingress attached that no host it publishes there selects any more;
    /// its record goes with it.
    RemoveListenerCertificate {
        listener_arn: String,
        certificate_arn: String,
        record_key: String,
    },
    /// An inbound rule letting `source_group_id` (an ALB's group) reach tcp `port` of the
    /// service's backend group, tagged as ours.
    AuthorizeIngress {
        group_id: String,
        source_group_id: String,
        port: u16,
        tags: Tags,
    },
    /// A rule of ours no published service needs any more, by its id.
    RevokeIngress {
        group_id: String,
        rule_id: String,
        /// `sg-alb → tcp/8080`, for people.
        allows: String,
    },
    /// Only for Cloud Map services ecs-ingress created, once they have no instances.
    DeleteCloudMapService {
        id: String,
        arn: String,
        name: String,
        /// The owner its tags must name: the applier checks them before deleting.
        owner: String,
    },
}

impl Change {
    /// Apply order. Publishing: target group → rule → attachment; withdrawing: rule →
    /// attachment → target group. Priorities move before rules are created in freed slots;
    /// new rules exist before old ones go, so traffic never falls to the default action.
    pub fn phase(&self) -> Phase {
        match self {
            // Names (DNS and Cloud Map) go first on withdrawal and last on publication: a
            // name never points at an ALB that has no rule for it.
            Self::DeleteRecords { .. } | Self::DeregisterInstance { .. } => Phase::WithdrawNames,
            Self::CreateLoadBalancer { .. } => Phase::CreateLoadBalancers,
            Self::DeleteLoadBalancer { .. } => Phase::DeleteLoadBalancers,
            Self::CreateTargetGroup { .. } => Phase::CreateTargetGroups,
            Self::ModifyHealthCheck { .. } | Self::ModifyAttributes { .. } => {
                Phase::ModifyTargetGroups
            }
            Self::SetRulePriorities { .. } => Phase::MovePriorities,
            Self::CreateRule { .. } => Phase::CreateRules,
            Self::ModifyRule { .. }
            | Self::ModifyRuleConditions { .. }
            | Self::ModifyRuleWeights { .. } => Phase::ModifyRules,
            Self::UpdateServiceLoadBalancers { publish: true, .. }
            | Self::UpdateServiceDeployment { .. }
            | Self::RegisterTargets { .. } => Phase::Attach,
            Self::UpsertRecords { .. } => Phase::WriteRecords,
            Self::CreateCloudMapService { .. } => Phase::CreateCloudMapServices,
            Self::RegisterInstance { .. } => Phase::RegisterInstances,
            Self::DeleteRule { .. } => Phase::DeleteRules,
            Self::UpdateServiceLoadBalancers { publish: false, .. }
            | Self::DeregisterTargets { .. } => Phase::Detach,
            Self::DeleteTargetGroup { .. } | Self::DeleteCloudMapService { .. } => {
                Phase::DeleteTargetGroups
            }
            // The backend rule exists before a listener rule sends traffic through it, and
            // goes only after every rule, attachment and group that used it.
            Self::AuthorizeIngress { .. } => Phase::AuthorizeIngress,
            Self::RevokeIngress { .. } => Phase::RevokeIngress,
            // The certificate is on the listener before a rule routes its host there, and
            // leaves after the hosts' rules.
            Self::AddListenerCertificate { .. } => Phase::AddCertificates,
            Self::RemoveListenerCertificate { .. } => Phase::RemoveCertificates,
        }
    }

    /// Removes something (held back after a failed read or by `upsert-only`/`create-only`).
    pub fn is_deletion(&self) -> bool {
        matches!(
            self,
            Self::DeleteRule { .. }
                | Self::DeleteTargetGroup { .. }
                | Self::DeleteRecords { .. }
                | Self::DeregisterInstance { .. }
                | Self::DeleteCloudMapService { .. }
                | Self::DeregisterTargets { .. }
                | Self::UpdateServiceLoadBalancers { publish: false, .. }
                | Self::DeleteLoadBalancer { .. }
                | Self::RevokeIngress { .. }
                | Self::RemoveListenerCertificate { .. }
        )
    }

    /// The load-balancer resource a deletion removes or empties, whose ownership must be
    /// confirmed by its own API first.
    pub fn removed_elb_resource(&self) -> Option<&str> {
        match self {
            Self::DeleteRule { arn }
            | Self::DeleteTargetGroup { arn, .. }
            | Self::DeregisterTargets { arn, .. } => Some(arn),
            _ => None,
        }
    }

    /// Changes something that exists (held back by `create-only`).
    pub fn is_update(&self) -> bool {
        matches!(
            self,
            Self::ModifyHealthCheck { .. }
                | Self::ModifyAttributes { .. }
                | Self::SetRulePriorities { .. }
                | Self::ModifyRule { .. }
                | Self::ModifyRuleConditions { .. }
                | Self::ModifyRuleWeights { .. }
                | Self::UpdateServiceLoadBalancers { publish: true, .. }
                | Self::UpdateServiceDeployment { .. }
                | Self::UpsertRecords { exists: true, .. }
                | Self::RegisterInstance { exists: true, .. }
        )
    }

    /// DNS changes are sent in change batches per zone, not one call each.
    pub fn is_dns(&self) -> bool {
        matches!(
            self,
            Self::UpsertRecords { .. } | Self::DeleteRecords { .. }
        )
    }

    /// The Route 53 changes of a DNS change, deletions first.
    pub fn record_changes(&self) -> Vec<RecordChange> {
        match self {
            Self::UpsertRecords { delete, upsert, .. } => delete
                .iter()
                .cloned()
                .map(RecordChange::Delete)
                .chain(upsert.iter().cloned().map(RecordChange::Upsert))
                .collect(),
            Self::DeleteRecords { records, .. } => {
                records.iter().cloned().map(RecordChange::Delete).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Resource kind for metrics and output.
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::CreateTargetGroup { .. }
            | Self::ModifyHealthCheck { .. }
            | Self::ModifyAttributes { .. }
            | Self::DeleteTargetGroup { .. } => ResourceKind::TargetGroup,
            Self::SetRulePriorities { .. }
            | Self::CreateRule { .. }
            | Self::ModifyRule { .. }
            | Self::ModifyRuleConditions { .. }
            | Self::ModifyRuleWeights { .. }
            | Self::DeleteRule { .. } => ResourceKind::ListenerRule,
            Self::UpdateServiceLoadBalancers { .. } | Self::UpdateServiceDeployment { .. } => {
                ResourceKind::ServiceAttachment
            }
            Self::RegisterTargets { .. } | Self::DeregisterTargets { .. } => ResourceKind::Targets,
            Self::UpsertRecords { .. } | Self::DeleteRecords { .. } => ResourceKind::DnsRecord,
            Self::CreateCloudMapService { .. } | Self::DeleteCloudMapService { .. } => {
                ResourceKind::CloudMapService
            }
            Self::RegisterInstance { .. } | Self::DeregisterInstance { .. } => {
                ResourceKind::CloudMapInstance
            }
            Self::CreateLoadBalancer { .. } | Self::DeleteLoadBalancer { .. } => {
                ResourceKind::LoadBalancer
            }
            Self::AuthorizeIngress { .. } | Self::RevokeIngress { .. } => {
                ResourceKind::SecurityGroupRule
            }
            Self::AddListenerCertificate { .. } | Self::RemoveListenerCertificate { .. } => {
                ResourceKind::ListenerCertificate
            }
        }
    }

    /// What the change acts on, by name or ARN, for log fields.
    pub fn resource(&self) -> String {
        match self {
            Self::CreateTargetGroup { spec, .. } => spec.name.clone(),
            Self::CreateCloudMapService { spec } => spec.name.clone(),
            Self::ModifyHealthCheck { name, .. }
            | Self::ModifyAttributes { name, .. }
            | Self::DeleteTargetGroup { name, .. }
            | Self::DeleteCloudMapService { name, .. }
            | Self::CreateLoadBalancer { name, .. }
            | Self::DeleteLoadBalancer { name, .. }
            | Self::UpsertRecords { name, .. }
            | Self::DeleteRecords { name, .. } => name.clone(),
            Self::SetRulePriorities { listener_arn, .. }
            | Self::CreateRule { listener_arn, .. } => listener_arn.clone(),
            Self::ModifyRule { arn, .. }
            | Self::ModifyRuleConditions { arn, .. }
            | Self::DeleteRule { arn }
            | Self::DeregisterTargets { arn, .. } => arn.clone(),
            Self::UpdateServiceLoadBalancers {
                cluster, service, ..
            }
            | Self::UpdateServiceDeployment {
                cluster, service, ..
            } => {
                format!("{cluster}/{service}")
            }
            Self::RegisterTargets { target, .. } => target.to_string(),
            Self::ModifyRuleWeights { rule, .. } => rule.to_string(),
            Self::AuthorizeIngress { group_id, .. } => group_id.clone(),
            Self::AddListenerCertificate { listener_arn, .. }
            | Self::RemoveListenerCertificate { listener_arn, .. } => listener_arn.clone(),
            Self::RevokeIngress { rule_id, .. } => rule_id.clone(),
            Self::RegisterInstance {
                service,
                instance_id,
                ..
            } => format!("{service}/{instance_id}"),
            Self::DeregisterInstance {
                service_name,
                instance_id,
                ..
            } => {
                format!("{service_name}/{instance_id}")
            }
        }
    }

    /// Verb for metrics and output.
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateTargetGroup { .. }
            | Self::CreateRule { .. }
            | Self::CreateLoadBalancer { .. } => "create",
            Self::DeleteLoadBalancer { .. } => "delete",
            Self::ModifyHealthCheck { .. }
            | Self::ModifyAttributes { .. }
            | Self::ModifyRule { .. }
            | Self::ModifyRuleConditions { .. }
            | Self::ModifyRuleWeights { .. }
            | Self::UpdateServiceLoadBalancers { .. }
            | Self::UpdateServiceDeployment { .. } => "update",
            Self::SetRulePriorities { .. } => "reprioritize",
            Self::RegisterTargets { .. } => "register",
            Self::DeregisterTargets { .. } => "deregister",
            Self::DeleteRule { .. } | Self::DeleteTargetGroup { .. } => "delete",
            Self::UpsertRecords { exists: false, .. } => "create",
            Self::UpsertRecords { exists: true, .. } => "update",
            Self::DeleteRecords { .. } => "delete",
            Self::CreateCloudMapService { .. } => "create",
            Self::RegisterInstance { .. } => "register",
            Self::DeregisterInstance { .. } => "deregister",
            Self::DeleteCloudMapService { .. } => "delete",
            Self::AuthorizeIngress { .. } => "create",
            Self::RevokeIngress { .. } => "delete",
            Self::AddListenerCertificate { .. } => "create",
            Self::RemoveListenerCertificate { .. } => "delete",
        }
    }
}

/// `A alias → lb.example.com` or `CNAME lb.example.com (ttl 60)`.
fn describe_record(r: &RecordSet) -> String {
    match &r.alias {
        Some(a) => format!("{} alias → {}", r.record_type, a.dns_name),
        None => format!(
            "{} {} (ttl {})",
            r.record_type,
            r.values.join(" "),
            r.ttl.unwrap_or_default()
        ),
    }
}

/// The resource part of an ARN (`targetgroup/ei-web-…/abc`), readable in one line.
pub fn short_arn(arn: &str) -> &str {
    arn.splitn(6, ':').nth(5).unwrap_or(arn)
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_name() {
            self.fmt_name(f)
        } else {
            self.fmt_alb(f)
        }
    }
}

impl Change {
    /// DNS and Cloud Map changes.
    fn is_name(&self) -> bool {
        matches!(
            self,
            Self::UpsertRecords { .. }
                | Self::DeleteRecords { .. }
                | Self::CreateCloudMapService { .. }
                | Self::RegisterInstance { .. }
                | Self::DeregisterInstance { .. }
                | Self::DeleteCloudMapService { .. }
        )
    }

    /// Backend security-group rules and listener certificates.
    fn fmt_backend_rule(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthorizeIngress {
                group_id,
                source_group_id,
                port,
                ..
            } => write!(
                f,
                "create security-group-rule on {group_id}: {source_group_id} → tcp/{port}"
            ),
            Self::RevokeIngress {
                group_id,
                rule_id,
                allows,
            } => write!(
                f,
                "delete security-group-rule {rule_id} on {group_id} ({allows})"
            ),
            Self::AddListenerCertificate {
                listener_arn,
                certificate_arn,
                ..
            } => write!(
                f,
                "create listener-certificate {} on {}",
                short_arn(certificate_arn),
                short_arn(listener_arn)
            ),
            Self::RemoveListenerCertificate {
                listener_arn,
                certificate_arn,
                ..
            } => write!(
                f,
                "delete listener-certificate {} from {}",
                short_arn(certificate_arn),
                short_arn(listener_arn)
            ),
            _ => Ok(()),
        }
    }

    fn fmt_rule(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let staged = |s: &Option<TargetGroupRef>, how: &str| match s {
            Some(s) => format!(" ({how} {s} at weight 0)"),
            None => String::new(),
        };
        match self {
            Self::CreateRule {
                priority,
                hosts,
                paths,
                target,
                staged: s,
                ..
            } => write!(
                f,
                "create listener-rule priority {priority} {} → {target}{}",
                describe_conditions(hosts, paths),
                staged(s, "and")
            ),
            Self::ModifyRuleConditions { arn, hosts, paths } => write!(
                f,
                "update listener-rule {} conditions {} (its weights kept)",
                short_arn(arn),
                describe_conditions(hosts, paths)
            ),
            Self::ModifyRuleWeights {
                rule,
                hosts,
                paths,
                weights,
            } => {
                let spread: Vec<String> = weights.iter().map(|(g, w)| format!("{g} {w}")).collect();
                write!(
                    f,
                    "update listener-rule {rule} {} → weighted {}",
                    describe_conditions(hosts, paths),
                    spread.join(", ")
                )
            }
            Self::ModifyRule {
                arn,
                hosts,
                paths,
                target,
                staged: s,
            } => write!(
                f,
                "update listener-rule {} {} → {target}{}",
                short_arn(arn),
                describe_conditions(hosts, paths),
                staged(s, "staging")
            ),
            _ => Ok(()),
        }
    }

    fn fmt_alb(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateTargetGroup { spec, .. } => write!(
                f,
                "create target-group {} ({} {} {}, health check {} every {}s)",
                spec.name,
                spec.protocol.as_str(),
                spec.port,
                spec.target_type.as_str(),
                spec.health_check.path,
                spec.health_check.interval_seconds
            ),
            Self::ModifyHealthCheck { name, .. } => {
                write!(f, "update target-group {name} health check")
            }
            Self::ModifyAttributes { name, .. } => {
                write!(f, "update target-group {name} attributes")
            }
            Self::SetRulePriorities { priorities, .. } => {
                f.write_str(&describe_priorities(priorities))
            }
            Self::AuthorizeIngress { .. } | Self::RevokeIngress { .. } => self.fmt_backend_rule(f),
            Self::CreateRule { .. }
            | Self::ModifyRuleConditions { .. }
            | Self::ModifyRuleWeights { .. }
            | Self::ModifyRule { .. } => self.fmt_rule(f),
            Self::UpdateServiceLoadBalancers {
                service,
                load_balancers,
                deployment,
                ..
            } => {
                f.write_str(&describe_attachment(service, load_balancers))?;
                match deployment {
                    Some(d) => write!(f, "; deployment strategy {}", d.strategy.as_str()),
                    None => Ok(()),
                }
            }
            Self::UpdateServiceDeployment {
                service,
                deployment,
                ..
            } => write!(
                f,
                "update service-deployment {service}: strategy {}",
                deployment.strategy.as_str()
            ),
            Self::RegisterTargets { target, targets } => {
                write!(f, "register {} targets in {target}", targets.len())
            }
            Self::DeregisterTargets { arn, targets } => write!(
                f,
                "deregister {} targets from {}",
                targets.len(),
                short_arn(arn)
            ),
            Self::DeleteRule { arn } => write!(f, "delete listener-rule {}", short_arn(arn)),
            Self::DeleteTargetGroup { name, .. } => write!(f, "delete target-group {name}"),
            Self::CreateLoadBalancer { pool, name, .. } => write!(
                f,
                "create load-balancer {name} for pool {pool} (a clone of its first ALB and listener)"
            ),
            Self::DeleteLoadBalancer { name, .. } => {
                write!(f, "delete load-balancer {name} (empty)")
            }
            // Names are written by `fmt_name` (see `fmt`).
            _ => f.write_str(self.action()),
        }
    }

    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UpsertRecords {
                zone_id,
                name,
                upsert,
                exists,
                ..
            } => {
                let records: Vec<String> = upsert
                    .iter()
                    .filter(|r| r.record_type != "TXT")
                    .map(describe_record)
                    .collect();
                write!(
                    f,
                    "{} dns-record {name} {} in zone {zone_id}",
                    if *exists { "update" } else { "create" },
                    records.join(", ")
                )
            }
            Self::DeleteRecords {
                zone_id,
                name,
                records,
            } => {
                let types: Vec<&str> = records.iter().map(|r| r.record_type.as_str()).collect();
                write!(
                    f,
                    "delete dns-record {name} ({}) in zone {zone_id}",
                    types.join(", ")
                )
            }
            Self::CreateCloudMapService { spec } => write!(
                f,
                "create cloudmap-service {} in namespace {}{}",
                spec.name,
                spec.namespace_id,
                if spec.record_types.is_empty() {
                    String::new()
                } else {
                    format!(" (records {})", spec.record_types.join(", "))
                }
            ),
            Self::RegisterInstance {
                service,
                instance_id,
                attributes,
                exists,
            } => {
                let alb = attributes
                    .get(crate::ownership::ALIAS_ATTRIBUTE)
                    .or_else(|| attributes.get(crate::ownership::HTTP_ALB_ATTRIBUTE))
                    .map(String::as_str)
                    .unwrap_or_default();
                write!(
                    f,
                    "{} cloudmap-instance {instance_id} in {service} → {alb}",
                    if *exists { "update" } else { "register" }
                )
            }
            Self::DeregisterInstance {
                service_name,
                instance_id,
                ..
            } => write!(
                f,
                "deregister cloudmap-instance {instance_id} from {service_name}"
            ),
            Self::DeleteCloudMapService { name, id, .. } => {
                write!(f, "delete cloudmap-service {name} ({id})")
            }
            // Load-balancer changes are written by `fmt_alb` (see `fmt`).
            _ => f.write_str(self.action()),
        }
    }
}

/// `host a b path /x` of a rule.
fn describe_conditions(hosts: &[String], paths: &[String]) -> String {
    if paths.is_empty() {
        format!("host {}", hosts.join(" "))
    } else {
        format!("host {} path {}", hosts.join(" "), paths.join(" "))
    }
}

fn describe_priorities(priorities: &[(String, u32)]) -> String {
    let moves: Vec<String> = priorities
        .iter()
        .map(|(arn, p)| format!("{} → {p}", short_arn(arn)))
        .collect();
    format!(
        "reprioritize {} listener-rules: {}",
        priorities.len(),
        moves.join(", ")
    )
}

fn describe_attachment(service: &str, load_balancers: &[AttachmentEntry]) -> String {
    let ours: Vec<String> = load_balancers
        .iter()
        .filter_map(|e| match e {
            AttachmentEntry::Ours {
                target,
                container,
                port,
                shift,
            } => Some(match shift {
                None => format!("{target} ← {container}:{port}"),
                Some(s) => format!(
                    "{target} ← {container}:{port} (alternate {}, production rule {})",
                    s.alternate, s.production_rule
                ),
            }),
            AttachmentEntry::Keep(_) => None,
        })
        .collect();
    if ours.is_empty() {
        format!("update service-attachment {service}: remove ecs-ingress target groups")
    } else {
        format!("update service-attachment {service}: {}", ours.join(", "))
    }
}

/// A change with the service it is for and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// `None` for changes that concern a whole listener (re-prioritisation).
    pub service_arn: Option<String>,
    /// `cluster/service` for people.
    pub service: String,
    #[serde(flatten)]
    pub change: Change,
    pub reason: String,
}

impl PlannedChange {
    pub fn new(service: &EcsService, change: Change, reason: impl Into<String>) -> Self {
        let cluster = service
            .cluster_arn
            .rsplit('/')
            .next()
            .unwrap_or(&service.cluster_arn);
        Self {
            service_arn: Some(service.arn.clone()),
            service: format!("{cluster}/{}", service.name),
            change,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for PlannedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  [{}]  ({})", self.change, self.service, self.reason)
    }
}

/// `interval 30 → 5, path / → /health`.
pub fn describe_health_check_drift(have: &HealthCheck, want: &HealthCheck) -> String {
    let mut parts = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            parts.push(format!("{name} {a} → {b}"));
        }
    };
    field(
        "protocol",
        have.protocol.to_string(),
        want.protocol.to_string(),
    );
    field("path", have.path.to_string(), want.path.to_string());
    field("port", have.port.to_string(), want.port.to_string());
    field(
        "interval",
        have.interval_seconds.to_string(),
        want.interval_seconds.to_string(),
    );
    field(
        "timeout",
        have.timeout_seconds.to_string(),
        want.timeout_seconds.to_string(),
    );
    field(
        "healthy-threshold",
        have.healthy_threshold.to_string(),
        want.healthy_threshold.to_string(),
    );
    field(
        "unhealthy-threshold",
        have.unhealthy_threshold.to_string(),
        want.unhealthy_threshold.to_string(),
    );
    field(
        "matcher",
        have.matcher.to_string(),
        want.matcher.to_string(),
    );
    parts.join(", ")
}
