//! ECS adapter: SDK calls in, [`crate::state`] types out.

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};

use super::call::{CallContext, paged, send};
use super::{AwsError, EcsApi};
use crate::state::{
    AdvancedConfiguration, Container, DeploymentController, DeploymentSettings, DeploymentStrategy,
    EcsService, EcsServiceStatus, EcsTask, LoadBalancerAttachment, PortMapping, Tags,
    TaskDefinition, Tenths,
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
        status: EcsServiceStatus::parse(s.status().unwrap_or_default()),
        created_at: s.created_at().map(|t| t.secs()),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        deployment_controller: s
            .deployment_controller()
            .map(|d| DeploymentController::parse(d.r#type().as_str()))
            .unwrap_or(DeploymentController::Ecs),
        deployment: s
            .deployment_configuration()
            .map(deployment_settings)
            .unwrap_or_default(),
        deploying: s.deployments().len() > 1
            || s.deployments().iter().any(|d| {
                d.rollout_state()
                    .is_some_and(|r| r.as_str() == "IN_PROGRESS")
            }),
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
        security_groups: s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|a| a.security_groups().to_vec())
            .unwrap_or_default(),
    }
}

/// The fields of a `deploymentConfiguration` that tags set.
fn deployment_settings(c: &aws_sdk_ecs::types::DeploymentConfiguration) -> DeploymentSettings {
    let minutes = |m: Option<i32>| m.and_then(|m| u16::try_from(m).ok());
    let linear = c.linear_configuration();
    let canary = c.canary_configuration();
    DeploymentSettings {
        strategy: c
            .strategy()
            .map(|st| DeploymentStrategy::parse(st.as_str()))
            .unwrap_or_default(),
        bake_minutes: minutes(c.bake_time_in_minutes()),
        linear_step_percent: linear
            .and_then(|l| l.step_percent())
            .and_then(Tenths::from_percent),
        linear_step_minutes: minutes(linear.and_then(|l| l.step_bake_time_in_minutes())),
        canary_percent: canary
            .and_then(|l| l.canary_percent())
            .and_then(Tenths::from_percent),
        canary_minutes: minutes(canary.and_then(|l| l.canary_bake_time_in_minutes())),
    }
}

/// `current` with the fields the tags set replaced: ECS's UpdateService replaces the whole
/// `deploymentConfiguration`, so everything else (circuit breaker, alarms, lifecycle hooks,
/// maximum and minimum percent, fields newer than this code) goes back as it was read.
fn merged_deployment(
    current: Option<&aws_sdk_ecs::types::DeploymentConfiguration>,
    wish: &DeploymentSettings,
) -> aws_sdk_ecs::types::DeploymentConfiguration {
    use aws_sdk_ecs::types::{CanaryConfiguration, LinearConfiguration};
    let mut c = current
        .cloned()
        .unwrap_or_else(|| aws_sdk_ecs::types::DeploymentConfiguration::builder().build());
    c.strategy = Some(aws_sdk_ecs::types::DeploymentStrategy::from(
        wish.strategy.as_str(),
    ));
    if let Some(m) = wish.bake_minutes {
        c.bake_time_in_minutes = Some(i32::from(m));
    }
    if wish.linear_step_percent.is_some() || wish.linear_step_minutes.is_some() {
        let had = c.linear_configuration.take();
        c.linear_configuration = Some(
            LinearConfiguration::builder()
                .set_step_percent(
                    wish.linear_step_percent
                        .map(Tenths::percent)
                        .or(had.as_ref().and_then(|l| l.step_percent())),
                )
                .set_step_bake_time_in_minutes(
                    wish.linear_step_minutes
                        .map(i32::from)
                        .or(had.as_ref().and_then(|l| l.step_bake_time_in_minutes())),
                )
                .build(),
        );
    }
    if wish.canary_percent.is_some() || wish.canary_minutes.is_some() {
        let had = c.canary_configuration.take();
        c.canary_configuration = Some(
            CanaryConfiguration::builder()
                .set_canary_percent(
                    wish.canary_percent
                        .map(Tenths::percent)
                        .or(had.as_ref().and_then(|l| l.canary_percent())),
                )
                .set_canary_bake_time_in_minutes(
                    wish.canary_minutes
                        .map(i32::from)
                        .or(had.as_ref().and_then(|l| l.canary_bake_time_in_minutes())),
                )
                .build(),
        );
    }
    c
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
        load_balancers: Option<&[LoadBalancerAttachment]>,
        deployment: Option<&DeploymentSettings>,
    ) -> Result<(), AwsError> {
        let lbs = load_balancers.map(|l| l.iter().map(sdk_load_balancer).collect());
        let configuration = match deployment {
            // Read right before the write, so what the tags do not set goes back as it is.
            Some(wish) => {
                let request = self
                    .client
                    .describe_services()
                    .cluster(cluster)
                    .services(service);
                let out = send!(self, "DescribeServices", request)?;
                let current = out
                    .services()
                    .first()
                    .and_then(|s| s.deployment_configuration());
                Some(merged_deployment(current, wish))
            }
            None => None,
        };
        let request = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_load_balancers(lbs)
            .set_deployment_configuration(configuration);
        send!(self, "UpdateService", request)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        DeploymentCircuitBreaker, DeploymentConfiguration, LinearConfiguration,
    };

    #[test]
    fn a_services_status_and_deployment_controller_map_to_their_types() {
        use aws_sdk_ecs::types::{DeploymentControllerType, Service};
        let bare = service(&Service::builder().service_arn("arn:svc").build());
        assert_ne!(
            bare.status,
            EcsServiceStatus::Active,
            "no status is not active"
        );
        assert_eq!(
            bare.deployment_controller,
            DeploymentController::Ecs,
            "ECS deploys a service that names no controller"
        );
        let code_deploy = aws_sdk_ecs::types::DeploymentController::builder()
            .r#type(DeploymentControllerType::CodeDeploy)
            .build()
            .expect("a type is given");
        let read = service(
            &Service::builder()
                .status("DRAINING")
                .deployment_controller(code_deploy)
                .build(),
        );
        assert_eq!(read.status, EcsServiceStatus::Draining);
        assert_eq!(read.deployment_controller, DeploymentController::CodeDeploy);
        let active = service(&Service::builder().status("ACTIVE").build());
        assert_eq!(active.status, EcsServiceStatus::Active);
    }

    #[test]
    fn a_merged_deployment_keeps_every_field_the_tags_do_not_set() {
        let current = DeploymentConfiguration::builder()
            .maximum_percent(150)
            .minimum_healthy_percent(50)
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(true)
                    .rollback(true)
                    .build(),
            )
            .bake_time_in_minutes(30)
            .linear_configuration(
                LinearConfiguration::builder()
                    .step_percent(20.0)
                    .step_bake_time_in_minutes(3)
                    .build(),
            )
            .build();
        let wish = DeploymentSettings {
            strategy: DeploymentStrategy::Linear,
            linear_step_percent: Some(Tenths(125)),
            ..Default::default()
        };
        let merged = merged_deployment(Some(&current), &wish);
        assert_eq!(merged.maximum_percent, Some(150));
        assert_eq!(merged.minimum_healthy_percent, Some(50));
        assert_eq!(
            merged.deployment_circuit_breaker,
            current.deployment_circuit_breaker
        );
        assert_eq!(merged.bake_time_in_minutes, Some(30), "not set by tags");
        assert_eq!(merged.strategy.as_ref().map(|s| s.as_str()), Some("LINEAR"));
        let linear = merged.linear_configuration.as_ref().unwrap();
        assert_eq!(linear.step_percent, Some(12.5));
        assert_eq!(linear.step_bake_time_in_minutes, Some(3), "kept");
        assert_eq!(
            deployment_settings(&merged).linear_step_percent,
            Some(Tenths(125))
        );
    }
}
