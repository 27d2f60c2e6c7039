//! ECS adapter: SDK calls in, [`crate::state`] types out.

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};

use super::call::{CallContext, paged, send};
use super::{AwsError, EcsApi};
use crate::state::{
    AdvancedConfiguration, Container, DeploymentStrategy, EcsService, EcsTask,
    LoadBalancerAttachment, PortMapping, Tags, TaskDefinition,
};

const SERVICE: &str = "ecs";

pub struct EcsAdapter {
    client: Client,
    ctx: CallContext,
}

impl EcsAdapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

fn tags(list: &[aws_sdk_ecs::types::Tag]) -> Tags {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn service(s: &aws_sdk_ecs::types::Service) -> EcsService {
    EcsService {
        arn: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        cluster_arn: s.cluster_arn().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        created_at: s.created_at().map(|t| t.secs()),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        deployment_controller: s
            .deployment_controller()
            .map(|d| d.r#type().as_str().to_string())
            .unwrap_or_else(|| "ECS".to_string()),
        deployment_strategy: s
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|st| DeploymentStrategy::parse(st.as_str()))
            .unwrap_or_default(),
        tags: tags(s.tags()),
        load_balancers: s
            .load_balancers()
            .iter()
            .map(|lb| LoadBalancerAttachment {
                target_group_arn: lb.target_group_arn().map(str::to_string),
                load_balancer_name: lb.load_balancer_name().map(str::to_string),
                container_name: lb.container_name().map(str::to_string),
                container_port: lb.container_port(),
                advanced: lb.advanced_configuration().map(|a| AdvancedConfiguration {
                    alternate_target_group_arn: a.alternate_target_group_arn().map(str::to_string),
                    production_listener_rule: a.production_listener_rule().map(str::to_string),
                    test_listener_rule: a.test_listener_rule().map(str::to_string),
                    role_arn: a.role_arn().map(str::to_string),
                }),
            })
            .collect(),
    }
}

/// An entry as ECS takes it back, `advancedConfiguration` included.
fn sdk_load_balancer(lb: &LoadBalancerAttachment) -> aws_sdk_ecs::types::LoadBalancer {
    let advanced = lb.advanced.as_ref().map(|a| {
        aws_sdk_ecs::types::AdvancedConfiguration::builder()
            .set_alternate_target_group_arn(a.alternate_target_group_arn.clone())
            .set_production_listener_rule(a.production_listener_rule.clone())
            .set_test_listener_rule(a.test_listener_rule.clone())
            .set_role_arn(a.role_arn.clone())
            .build()
    });
    aws_sdk_ecs::types::LoadBalancer::builder()
        .set_target_group_arn(lb.target_group_arn.clone())
        .set_load_balancer_name(lb.load_balancer_name.clone())
        .set_container_name(lb.container_name.clone())
        .set_container_port(lb.container_port)
        .set_advanced_configuration(advanced)
        .build()
}

fn task_ip(t: &aws_sdk_ecs::types::Task) -> Option<String> {
    t.attachments()
        .iter()
        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value().map(str::to_string))
}

#[async_trait]
impl EcsApi for EcsAdapter {
    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let request = self
            .client
            .list_services()
            .cluster(cluster)
            .max_results(100);
        let pages = paged!(self, "ListServices", request, |p| p.next_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.service_arns())
            .cloned()
            .collect())
    }

    async fn describe_services(
        &self,
        cluster: &str,
        service_arns: &[String],
    ) -> Result<Vec<EcsService>, AwsError> {
        let request = self
            .client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(service_arns.to_vec()))
            .include(ServiceField::Tags);
        let out = send!(self, "DescribeServices", request)?;
        Ok(out.services().iter().map(service).collect())
    }

    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        let request = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags);
        let out = send!(self, "DescribeTaskDefinition", request)?;
        let td = out.task_definition();
        Ok(TaskDefinition {
            arn: td
                .and_then(|t| t.task_definition_arn())
                .unwrap_or(arn)
                .to_string(),
            network_mode: td
                .and_then(|t| t.network_mode())
                .map(|m| m.as_str().to_string()),
            containers: td
                .map(|t| t.container_definitions())
                .unwrap_or_default()
                .iter()
                .map(|c| Container {
                    name: c.name().unwrap_or_default().to_string(),
                    docker_labels: c
                        .docker_labels()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    port_mappings: c
                        .port_mappings()
                        .iter()
                        .filter_map(|p| {
                            Some(PortMapping {
                                container_port: p.container_port()?,
                                host_port: p.host_port(),
                                udp: p.protocol().map(|p| p.as_str() == "udp").unwrap_or(false),
                            })
                        })
                        .collect(),
                })
                .collect(),
            tags: tags(out.tags()),
        })
    }

    async fn list_tasks(&self, cluster: &str, service_name: &str) -> Result<Vec<String>, AwsError> {
        let request = self
            .client
            .list_tasks()
            .cluster(cluster)
            .service_name(service_name)
            .max_results(100);
        let pages = paged!(self, "ListTasks", request, |p| p.next_token())?;
        Ok(pages.iter().flat_map(|p| p.task_arns()).cloned().collect())
    }

    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<EcsTask>, AwsError> {
        let request = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(task_arns.to_vec()));
        let out = send!(self, "DescribeTasks", request)?;
        Ok(out
            .tasks()
            .iter()
            .map(|t| EcsTask {
                arn: t.task_arn().unwrap_or_default().to_string(),
                group: t.group().map(str::to_string),
                last_status: t.last_status().unwrap_or_default().to_string(),
                private_ip: task_ip(t),
            })
            .collect())
    }

    async fn update_service_load_balancers(
        &self,
        cluster: &str,
        service: &str,
        load_balancers: &[LoadBalancerAttachment],
    ) -> Result<(), AwsError> {
        let lbs = load_balancers.iter().map(sdk_load_balancer).collect();
        let request = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_load_balancers(Some(lbs));
        send!(self, "UpdateService", request)?;
        Ok(())
    }
}
