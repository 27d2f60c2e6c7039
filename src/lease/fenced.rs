//! AWS adapters that refuse every write while this replica may not write.
//!
//! The applier already stops between changes when leadership is lost; this wrapper makes the
//! rule hold for every single write, including the second write of one change (attributes
//! after a create, the retries of a delete that waits for AWS), so a replica that lost the
//! lease in the middle of a change starts nothing more. Reads pass through.

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{Aws, AwsError, CloudMapApi, Ec2Api, EcsApi, ElbApi, Route53Api};
use crate::lease::leadership::Leadership;
use crate::state::{
    CloudMapInstance, CloudMapNamespace, CloudMapService, CloudMapServiceSpec, EcsService, EcsTask,
    HealthCheck, HostedZone, Listener, ListenerCertificates, ListenerSettings, LoadBalancer,
    LoadBalancerAttachment, LoadBalancerSettings, RecordChange, RecordSet, Rule, RuleSpec,
    SecurityGroupRule, Tags, Target, TargetGroup, TargetGroupAttributes, TargetGroupSpec,
    TargetHealth, TaskDefinition,
};

/// Told of every write that passed the fence, just before it is sent (tests attribute
/// writes to replicas with it).
pub type WriteWitness = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

pub use crate::aws::error::{NOT_LEADER, not_leader};

pub struct FencedAws {
    inner: Aws,
    leadership: Leadership,
    witness: Option<WriteWitness>,
}

impl FencedAws {
    /// `inner` with every write behind `leadership`'s fence.
    pub fn wrap(inner: Aws, leadership: Leadership) -> Aws {
        Self::wrap_with_witness(inner, leadership, None)
    }

    /// As [`FencedAws::wrap`], telling `witness` of every write let through.
    pub fn wrap_with_witness(
        inner: Aws,
        leadership: Leadership,
        witness: Option<WriteWitness>,
    ) -> Aws {
        let tagging = inner.tagging.clone();
        let acm = inner.acm.clone();
        let clock = inner.clock.clone();
        let fenced = Arc::new(Self {
            inner,
            leadership,
            witness,
        });
        Aws {
            ecs: fenced.clone(),
            elb: fenced.clone(),
            route53: fenced.clone(),
            ec2: fenced.clone(),
            cloudmap: fenced,
            // The tagging API and ACM are only read.
            tagging,
            acm,
            clock,
        }
    }

    /// Ok when the write may start now.
    fn check(&self, service: &'static str, operation: &'static str) -> Result<(), AwsError> {
        let sabotaged = crate::sabotage::is_on(crate::sabotage::Sabotage::LeaseFence);
        if !self.leadership.may_write() && !sabotaged {
            return Err(not_leader(service, operation));
        }
        if let Some(witness) = &self.witness {
            witness(service, operation);
        }
        Ok(())
    }
}

#[async_trait]
impl EcsApi for FencedAws {
    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.inner.ecs.list_services(cluster).await
    }
    async fn describe_services(
        &self,
        cluster: &str,
        service_arns: &[String],
    ) -> Result<Vec<EcsService>, AwsError> {
        self.inner
            .ecs
            .describe_services(cluster, service_arns)
            .await
    }
    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        self.inner.ecs.describe_task_definition(arn).await
    }
    async fn list_tasks(&self, cluster: &str, service_name: &str) -> Result<Vec<String>, AwsError> {
        self.inner.ecs.list_tasks(cluster, service_name).await
    }
    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<EcsTask>, AwsError> {
        self.inner.ecs.describe_tasks(cluster, task_arns).await
    }
    async fn update_service_load_balancers(
        &self,
        cluster: &str,
        service: &str,
        load_balancers: Option<&[LoadBalancerAttachment]>,
        deployment: Option<&crate::state::DeploymentSettings>,
    ) -> Result<(), AwsError> {
        self.check("ecs", "UpdateService")?;
        self.inner
            .ecs
            .update_service_load_balancers(cluster, service, load_balancers, deployment)
            .await
    }
}

#[async_trait]
impl ElbApi for FencedAws {
    async fn describe_listeners(&self, arns: &[String]) -> Result<Vec<Listener>, AwsError> {
        self.inner.elb.describe_listeners(arns).await
    }
    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> Result<Vec<LoadBalancer>, AwsError> {
        self.inner.elb.describe_load_balancers(arns).await
    }
    async fn describe_target_groups_by_arn(
        &self,
        arns: &[String],
    ) -> Result<Vec<crate::state::TargetGroup>, AwsError> {
        self.inner.elb.describe_target_groups_by_arn(arns).await
    }
    async fn describe_rules(&self, listener_arn: &str) -> Result<Vec<Rule>, AwsError> {
        self.inner.elb.describe_rules(listener_arn).await
    }
    async fn describe_target_groups(&self) -> Result<Vec<TargetGroup>, AwsError> {
        self.inner.elb.describe_target_groups().await
    }
    async fn describe_tags(&self, arns: &[String]) -> Result<Vec<(String, Tags)>, AwsError> {
        self.inner.elb.describe_tags(arns).await
    }
    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> Result<TargetGroupAttributes, AwsError> {
        self.inner.elb.describe_target_group_attributes(arn).await
    }
    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealth>, AwsError> {
        self.inner
            .elb
            .describe_target_health(target_group_arn)
            .await
    }
    async fn describe_load_balancer_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Result<Vec<Listener>, AwsError> {
        self.inner
            .elb
            .describe_load_balancer_listeners(load_balancer_arn)
            .await
    }
    async fn describe_account_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, AwsError> {
        self.inner.elb.describe_account_limits().await
    }
    async fn create_target_group(&self, spec: &TargetGroupSpec) -> Result<String, AwsError> {
        self.check("elbv2", "CreateTargetGroup")?;
        self.inner.elb.create_target_group(spec).await
    }
    async fn modify_target_group(
        &self,
        arn: &str,
        health_check: &HealthCheck,
    ) -> Result<(), AwsError> {
        self.check("elbv2", "ModifyTargetGroup")?;
        self.inner.elb.modify_target_group(arn, health_check).await
    }
    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &TargetGroupAttributes,
    ) -> Result<(), AwsError> {
        self.check("elbv2", "ModifyTargetGroupAttributes")?;
        self.inner
            .elb
            .modify_target_group_attributes(arn, attributes)
            .await
    }
    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError> {
        self.check("elbv2", "DeleteTargetGroup")?;
        self.inner.elb.delete_target_group(arn).await
    }
    async fn create_rule(&self, spec: &RuleSpec) -> Result<String, AwsError> {
        self.check("elbv2", "CreateRule")?;
        self.inner.elb.create_rule(spec).await
    }
    async fn modify_rule(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        target_group_arn: &str,
        staged: Option<&str>,
    ) -> Result<(), AwsError> {
        self.check("elbv2", "ModifyRule")?;
        self.inner
            .elb
            .modify_rule(arn, hosts, paths, target_group_arn, staged)
            .await
    }
    async fn modify_rule_weighted(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        weights: &[(String, u32)],
    ) -> Result<(), AwsError> {
        self.check("elbv2", "ModifyRule")?;
        self.inner
            .elb
            .modify_rule_weighted(arn, hosts, paths, weights)
            .await
    }
    async fn modify_rule_conditions(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
    ) -> Result<(), AwsError> {
        self.check("elbv2", "ModifyRule")?;
        self.inner
            .elb
            .modify_rule_conditions(arn, hosts, paths)
            .await
    }
    async fn set_rule_priorities(&self, priorities: &[(String, u32)]) -> Result<(), AwsError> {
        self.check("elbv2", "SetRulePriorities")?;
        self.inner.elb.set_rule_priorities(priorities).await
    }
    async fn delete_rule(&self, arn: &str) -> Result<(), AwsError> {
        self.check("elbv2", "DeleteRule")?;
        self.inner.elb.delete_rule(arn).await
    }
    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        self.check("elbv2", "RegisterTargets")?;
        self.inner
            .elb
            .register_targets(target_group_arn, targets)
            .await
    }
    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        self.check("elbv2", "DeregisterTargets")?;
        self.inner
            .elb
            .deregister_targets(target_group_arn, targets)
            .await
    }
    async fn describe_all_load_balancers(&self) -> Result<Vec<LoadBalancer>, AwsError> {
        self.inner.elb.describe_all_load_balancers().await
    }
    async fn describe_load_balancer_settings(
        &self,
        arn: &str,
    ) -> Result<LoadBalancerSettings, AwsError> {
        self.inner.elb.describe_load_balancer_settings(arn).await
    }
    async fn describe_listener_settings(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerSettings, AwsError> {
        self.inner
            .elb
            .describe_listener_settings(listener_arn)
            .await
    }
    async fn create_load_balancer(
        &self,
        name: &str,
        settings: &LoadBalancerSettings,
        tags: &Tags,
    ) -> Result<LoadBalancer, AwsError> {
        self.check("elbv2", "CreateLoadBalancer")?;
        self.inner
            .elb
            .create_load_balancer(name, settings, tags)
            .await
    }
    async fn create_listener(
        &self,
        load_balancer_arn: &str,
        settings: &ListenerSettings,
        tags: &Tags,
    ) -> Result<Listener, AwsError> {
        self.check("elbv2", "CreateListener")?;
        self.inner
            .elb
            .create_listener(load_balancer_arn, settings, tags)
            .await
    }
    async fn delete_load_balancer(&self, arn: &str) -> Result<(), AwsError> {
        self.check("elbv2", "DeleteLoadBalancer")?;
        self.inner.elb.delete_load_balancer(arn).await
    }
    async fn describe_listener_certificates(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerCertificates, AwsError> {
        self.inner
            .elb
            .describe_listener_certificates(listener_arn)
            .await
    }
    async fn add_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        self.check("elbv2", "AddListenerCertificates")?;
        self.inner
            .elb
            .add_listener_certificate(listener_arn, certificate_arn)
            .await
    }
    async fn remove_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        self.check("elbv2", "RemoveListenerCertificates")?;
        self.inner
            .elb
            .remove_listener_certificate(listener_arn, certificate_arn)
            .await
    }
    async fn add_tags(&self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        self.check("elbv2", "AddTags")?;
        self.inner.elb.add_tags(arn, tags).await
    }
    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.check("elbv2", "RemoveTags")?;
        self.inner.elb.remove_tags(arn, keys).await
    }
}

#[async_trait]
impl Route53Api for FencedAws {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, AwsError> {
        self.inner.route53.get_hosted_zone(zone_id).await
    }
    async fn list_record_sets(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
        self.inner.route53.list_record_sets(zone_id).await
    }
    async fn list_record_sets_from(
        &self,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<crate::aws::RecordPage, AwsError> {
        self.inner
            .route53
            .list_record_sets_from(zone_id, start_name, max_items)
            .await
    }
    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        self.check("route53", "ChangeResourceRecordSets")?;
        self.inner
            .route53
            .change_record_sets(zone_id, changes)
            .await
    }
}

#[async_trait]
impl Ec2Api for FencedAws {
    async fn describe_ingress_rules(
        &self,
        group_ids: &[String],
    ) -> Result<Vec<SecurityGroupRule>, AwsError> {
        self.inner.ec2.describe_ingress_rules(group_ids).await
    }
    async fn describe_owned_ingress_rules(
        &self,
        owner: &str,
    ) -> Result<Vec<SecurityGroupRule>, AwsError> {
        self.inner.ec2.describe_owned_ingress_rules(owner).await
    }
    async fn authorize_ingress(
        &self,
        group_id: &str,
        source_group_id: &str,
        port: u16,
        tags: &Tags,
    ) -> Result<String, AwsError> {
        self.check("ec2", "AuthorizeSecurityGroupIngress")?;
        self.inner
            .ec2
            .authorize_ingress(group_id, source_group_id, port, tags)
            .await
    }
    async fn revoke_ingress(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        self.check("ec2", "RevokeSecurityGroupIngress")?;
        self.inner.ec2.revoke_ingress(group_id, rule_id).await
    }
}

#[async_trait]
impl CloudMapApi for FencedAws {
    async fn list_namespaces(&self) -> Result<Vec<CloudMapNamespace>, AwsError> {
        self.inner.cloudmap.list_namespaces().await
    }
    async fn list_services(&self, namespace_id: &str) -> Result<Vec<CloudMapService>, AwsError> {
        self.inner.cloudmap.list_services(namespace_id).await
    }
    async fn list_instances(&self, service_id: &str) -> Result<Vec<CloudMapInstance>, AwsError> {
        self.inner.cloudmap.list_instances(service_id).await
    }
    async fn create_service(
        &self,
        spec: &CloudMapServiceSpec,
    ) -> Result<CloudMapService, AwsError> {
        self.check("servicediscovery", "CreateService")?;
        self.inner.cloudmap.create_service(spec).await
    }
    async fn list_tags(&self, arn: &str) -> Result<Tags, AwsError> {
        self.inner.cloudmap.list_tags(arn).await
    }
    async fn register_instance(
        &self,
        service_id: &str,
        instance_id: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.check("servicediscovery", "RegisterInstance")?;
        self.inner
            .cloudmap
            .register_instance(service_id, instance_id, attributes)
            .await
    }
    async fn deregister_instance(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> Result<(), AwsError> {
        self.check("servicediscovery", "DeregisterInstance")?;
        self.inner
            .cloudmap
            .deregister_instance(service_id, instance_id)
            .await
    }
    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError> {
        self.check("servicediscovery", "DeleteService")?;
        self.inner.cloudmap.delete_service(service_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::call::CallContext;
    use crate::aws::ratelimit::RateLimiter;
    use crate::telemetry::Metrics;

    #[tokio::test(start_paused = true)]
    async fn a_fenced_call_context_sends_reads_but_no_write_without_the_lease() {
        let ctx = CallContext::new(
            Arc::new(Metrics::new(crate::aws::OPERATIONS)),
            Arc::new(RateLimiter::new(100)),
        )
        .fenced({
            let leadership = Leadership::elected("a");
            Arc::new(move || leadership.may_write())
        });
        let read = ctx
            .call("elbv2", "DescribeRules", async { Ok::<_, AwsError>(()) })
            .await;
        assert!(read.is_ok());
        let sent = std::sync::atomic::AtomicBool::new(false);
        let write = ctx
            .call("elbv2", "CreateRule", async {
                sent.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, AwsError>(())
            })
            .await;
        assert_eq!(
            write.expect_err("refused").code.as_deref(),
            Some(NOT_LEADER)
        );
        assert!(!sent.load(std::sync::atomic::Ordering::SeqCst));
    }
}
