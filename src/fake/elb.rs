//! [`ElbApi`] on the fake account.

use async_trait::async_trait;

use super::traffic::FakeTargetState;
use super::{FakeAws, World, error};
use crate::aws::{AwsError, DESCRIBE_TAGS_BATCH, ElbApi, uncopyable_default_action};
use crate::state::{
    HealthCheck, Listener, ListenerCertificates, ListenerSettings, LoadBalancer,
    LoadBalancerSettings, Rule, RuleSpec, Tags, Target, TargetGroup, TargetGroupAttributes,
    TargetGroupSpec, TargetHealth, TargetHealthState,
};

const ELB: &str = "elbv2";
/// The page size the real adapter asks for.
const PAGE: usize = 400;
/// ModifyLoadBalancerAttributes takes at most this many attributes per call.
const ATTRIBUTES_PER_CALL: usize = 20;

fn not_found(operation: &'static str, code: &str, arn: &str) -> AwsError {
    error(
        ELB,
        operation,
        code,
        format!("One or more resources not found: {arn}"),
    )
}

#[async_trait]
impl ElbApi for FakeAws {
    async fn describe_listeners(&self, arns: &[String]) -> Result<Vec<Listener>, AwsError> {
        self.request(ELB, "DescribeListeners", |world| {
            arns.iter()
                .map(|a| {
                    world
                        .listeners
                        .get(a)
                        .cloned()
                        .ok_or_else(|| not_found("DescribeListeners", "ListenerNotFound", a))
                })
                .collect()
        })
        .await
    }

    async fn describe_load_balancer_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Result<Vec<Listener>, AwsError> {
        self.request(ELB, "DescribeListeners", |world| {
            if !world.load_balancers.contains_key(load_balancer_arn) {
                return Err(not_found(
                    "DescribeListeners",
                    "LoadBalancerNotFound",
                    load_balancer_arn,
                ));
            }
            Ok(world
                .listeners
                .values()
                .filter(|l| l.load_balancer_arn == load_balancer_arn)
                .cloned()
                .collect())
        })
        .await
    }

    async fn describe_account_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, AwsError> {
        self.request(ELB, "DescribeAccountLimits", |world| {
            Ok(world.account_limits())
        })
        .await
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> Result<Vec<LoadBalancer>, AwsError> {
        self.request(ELB, "DescribeLoadBalancers", |world| {
            arns.iter()
                .map(|a| {
                    world.load_balancers.get(a).cloned().ok_or_else(|| {
                        not_found("DescribeLoadBalancers", "LoadBalancerNotFound", a)
                    })
                })
                .collect()
        })
        .await
    }

    async fn describe_rules(&self, listener_arn: &str) -> Result<Vec<Rule>, AwsError> {
        let count = |world: &World| world.rules_of_listener(listener_arn).len();
        let rules = self
            .paged(ELB, "DescribeRules", count, PAGE, |world| {
                if !world.listeners.contains_key(listener_arn) {
                    return Err(not_found("DescribeRules", "ListenerNotFound", listener_arn));
                }
                Ok(world
                    .rules_of_listener(listener_arn)
                    .into_iter()
                    .map(|r| Rule {
                        tags: Tags::new(),
                        ..r.clone()
                    })
                    .collect())
            })
            .await?;
        self.controller_read(listener_arn);
        Ok(rules)
    }

    async fn describe_target_groups(&self) -> Result<Vec<TargetGroup>, AwsError> {
        let count = |world: &World| world.target_groups.len();
        self.paged(ELB, "DescribeTargetGroups", count, PAGE, |world| {
            Ok(world.target_group_views())
        })
        .await
    }

    async fn describe_target_groups_by_arn(
        &self,
        arns: &[String],
    ) -> Result<Vec<TargetGroup>, AwsError> {
        self.request(ELB, "DescribeTargetGroups", |world| {
            let views = world.target_group_views();
            // AWS fails the whole call when one ARN does not exist.
            arns.iter()
                .map(|arn| {
                    views
                        .iter()
                        .find(|g| &g.arn == arn)
                        .cloned()
                        .ok_or_else(|| {
                            error(
                                ELB,
                                "DescribeTargetGroups",
                                "TargetGroupNotFound",
                                format!("One or more target groups not found: {arn}"),
                            )
                        })
                })
                .collect()
        })
        .await
    }

    async fn describe_tags(&self, arns: &[String]) -> Result<Vec<(String, Tags)>, AwsError> {
        self.request(ELB, "DescribeTags", |world| {
            if arns.len() > DESCRIBE_TAGS_BATCH {
                return Err(error(
                    ELB,
                    "DescribeTags",
                    "ValidationError",
                    format!("at most {DESCRIBE_TAGS_BATCH} resource ARNs"),
                ));
            }
            arns.iter()
                .map(|a| {
                    if let Some(g) = world.target_groups.get(a) {
                        Ok((a.clone(), g.tags.clone()))
                    } else if let Some(r) = world.rules.get(a) {
                        Ok((a.clone(), r.tags.clone()))
                    } else if world.load_balancers.contains_key(a)
                        || world.listeners.contains_key(a)
                    {
                        Ok((
                            a.clone(),
                            world.elb_tags.get(a).cloned().unwrap_or_default(),
                        ))
                    } else {
                        Err(not_found("DescribeTags", "RuleNotFound", a))
                    }
                })
                .collect()
        })
        .await
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> Result<TargetGroupAttributes, AwsError> {
        self.request(ELB, "DescribeTargetGroupAttributes", |world| {
            Ok(world
                .target_group_mut("DescribeTargetGroupAttributes", arn)?
                .attributes
                .clone())
        })
        .await
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealth>, AwsError> {
        let health = self
            .request(ELB, "DescribeTargetHealth", |world| {
                world.target_group_mut("DescribeTargetHealth", target_group_arn)?;
                Ok(world
                    .target_health(target_group_arn)
                    .into_iter()
                    .map(|(target, state)| TargetHealth {
                        target,
                        state: match state {
                            FakeTargetState::Initial => TargetHealthState::Initial,
                            FakeTargetState::Healthy => TargetHealthState::Healthy,
                            FakeTargetState::Unhealthy => TargetHealthState::Unhealthy,
                            FakeTargetState::Draining => TargetHealthState::Draining,
                        },
                    })
                    .collect())
            })
            .await?;
        self.controller_read(target_group_arn);
        Ok(health)
    }

    async fn create_target_group(&self, spec: &TargetGroupSpec) -> Result<String, AwsError> {
        self.request(ELB, "CreateTargetGroup", |world| {
            world.insert_target_group(spec)
        })
        .await
    }

    async fn modify_target_group(
        &self,
        arn: &str,
        health_check: &HealthCheck,
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyTargetGroup", |world| {
            if health_check.timeout_seconds >= health_check.interval_seconds {
                return Err(error(
                    ELB,
                    "ModifyTargetGroup",
                    "ValidationError",
                    "Health check timeout must be smaller than the interval".into(),
                ));
            }
            world
                .target_group_mut("ModifyTargetGroup", arn)?
                .health_check = health_check.clone();
            Ok(())
        })
        .await
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &TargetGroupAttributes,
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyTargetGroupAttributes", |world| {
            let group = world.target_group_mut("ModifyTargetGroupAttributes", arn)?;
            group.attributes.extend(
                attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            Ok(())
        })
        .await
    }

    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError> {
        self.request(ELB, "DeleteTargetGroup", |world| {
            world.remove_target_group(arn)
        })
        .await
    }

    async fn create_rule(&self, spec: &RuleSpec) -> Result<String, AwsError> {
        self.request(ELB, "CreateRule", |world| world.insert_rule(spec))
            .await
    }

    async fn modify_rule(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        target_group_arn: &str,
        staged: Option<&str>,
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyRule", |world| {
            world.modify_rule(arn, hosts, paths, target_group_arn, staged)
        })
        .await
    }

    async fn modify_rule_weighted(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        weights: &[(String, u32)],
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyRule", |world| {
            world.modify_rule_weighted(arn, hosts, paths, weights)
        })
        .await
    }

    async fn modify_rule_conditions(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyRule", |world| {
            world.modify_rule_conditions(arn, hosts, paths)
        })
        .await
    }

    async fn set_rule_priorities(&self, priorities: &[(String, u32)]) -> Result<(), AwsError> {
        self.request(ELB, "SetRulePriorities", |world| {
            world.set_rule_priorities(priorities)
        })
        .await
    }

    async fn delete_rule(&self, arn: &str) -> Result<(), AwsError> {
        self.request(ELB, "DeleteRule", |world| world.remove_rule(arn))
            .await
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        self.request(ELB, "RegisterTargets", |world| {
            world.target_group_mut("RegisterTargets", target_group_arn)?;
            world.register(target_group_arn, targets);
            Ok(())
        })
        .await
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        self.request(ELB, "DeregisterTargets", |world| {
            world.target_group_mut("DeregisterTargets", target_group_arn)?;
            world.deregister(target_group_arn, targets);
            Ok(())
        })
        .await
    }

    async fn describe_all_load_balancers(&self) -> Result<Vec<LoadBalancer>, AwsError> {
        let count = |world: &World| world.load_balancers.len();
        self.paged(ELB, "DescribeLoadBalancers", count, PAGE, |world| {
            Ok(world.load_balancers.values().cloned().collect())
        })
        .await
    }

    async fn describe_load_balancer_settings(
        &self,
        arn: &str,
    ) -> Result<LoadBalancerSettings, AwsError> {
        self.request(ELB, "DescribeLoadBalancers", |world| {
            world.load_balancer_settings("DescribeLoadBalancers", arn)?;
            Ok(())
        })
        .await?;
        self.request(ELB, "DescribeLoadBalancerAttributes", |world| {
            world
                .load_balancer_settings("DescribeLoadBalancerAttributes", arn)
                .cloned()
        })
        .await
    }

    async fn describe_listener_settings(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerSettings, AwsError> {
        let settings = self
            .request(ELB, "DescribeListeners", |world| {
                world
                    .listener_settings("DescribeListeners", listener_arn)
                    .cloned()
            })
            .await?;
        if settings.protocol != "HTTPS" {
            return Ok(settings);
        }
        // As the adapter: the certificates beyond the default come from their own call.
        self.request(ELB, "DescribeListenerCertificates", |world| {
            world
                .listener_settings("DescribeListenerCertificates", listener_arn)
                .cloned()
        })
        .await
    }

    async fn create_load_balancer(
        &self,
        name: &str,
        settings: &LoadBalancerSettings,
        tags: &Tags,
    ) -> Result<LoadBalancer, AwsError> {
        let created = self
            .request(ELB, "CreateLoadBalancer", |world| {
                world.create_load_balancer(name, settings, tags)
            })
            .await?;
        let defaults = self
            .request(ELB, "DescribeLoadBalancerAttributes", |world| {
                Ok(world
                    .load_balancer_settings("DescribeLoadBalancerAttributes", &created.arn)?
                    .attributes
                    .clone())
            })
            .await?;
        let changed: Vec<(String, String)> = settings
            .attributes
            .iter()
            .filter(|(k, v)| defaults.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for chunk in changed.chunks(ATTRIBUTES_PER_CALL) {
            let chunk = chunk.iter().cloned().collect();
            self.request(ELB, "ModifyLoadBalancerAttributes", |world| {
                world.modify_load_balancer_attributes(&created.arn, &chunk)
            })
            .await?;
        }
        Ok(created)
    }

    async fn create_listener(
        &self,
        load_balancer_arn: &str,
        settings: &ListenerSettings,
        tags: &Tags,
    ) -> Result<Listener, AwsError> {
        if let Some(refused) = uncopyable_default_action(ELB, settings) {
            return Err(refused);
        }
        let (first, more) = match settings.certificates.split_first() {
            Some((first, more)) => (vec![first.clone()], more),
            None => (vec![], &[][..]),
        };
        let with_default_certificate = ListenerSettings {
            certificates: first,
            ..settings.clone()
        };
        let listener = self
            .request(ELB, "CreateListener", |world| {
                world.create_listener(load_balancer_arn, &with_default_certificate, tags)
            })
            .await?;
        if !more.is_empty() {
            self.request(ELB, "AddListenerCertificates", |world| {
                world.add_listener_certificates(&listener.arn, more)
            })
            .await?;
        }
        Ok(listener)
    }

    async fn delete_load_balancer(&self, arn: &str) -> Result<(), AwsError> {
        self.request(ELB, "DeleteLoadBalancer", |world| {
            world.delete_load_balancer(arn)
        })
        .await
    }

    async fn describe_listener_certificates(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerCertificates, AwsError> {
        let settings = self
            .request(ELB, "DescribeListenerCertificates", |world| {
                world
                    .listener_settings("DescribeListenerCertificates", listener_arn)
                    .cloned()
            })
            .await?;
        let mut certificates = settings.certificates.into_iter();
        Ok(ListenerCertificates {
            default: certificates.next(),
            extra: certificates.collect(),
        })
    }

    async fn add_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        self.request(ELB, "AddListenerCertificates", |world| {
            world.add_listener_certificates(listener_arn, &[certificate_arn.to_string()])
        })
        .await
    }

    async fn remove_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        self.request(ELB, "RemoveListenerCertificates", |world| {
            world.remove_listener_certificate(listener_arn, certificate_arn)
        })
        .await
    }

    async fn add_tags(&self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        self.request(ELB, "AddTags", |world| world.add_elb_tags(arn, tags))
            .await
    }

    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.request(ELB, "RemoveTags", |world| world.remove_elb_tags(arn, keys))
            .await
    }
}
