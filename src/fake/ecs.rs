//! [`EcsApi`] on the fake account.

use async_trait::async_trait;

use super::{FakeAws, World, error};
use crate::aws::{AwsError, DESCRIBE_SERVICES_BATCH, DESCRIBE_TASKS_BATCH, EcsApi};
use crate::state::{
    DeploymentSettings, EcsService, EcsTask, LoadBalancerAttachment, TaskDefinition,
};

const ECS: &str = "ecs";
/// ListServices and ListTasks return at most 100 ARNs per page.
const LIST_PAGE: usize = 100;

fn cluster_not_found(operation: &'static str, cluster: &str) -> AwsError {
    error(
        ECS,
        operation,
        "ClusterNotFoundException",
        format!("Cluster not found: {cluster}"),
    )
}

fn too_many(operation: &'static str, limit: usize) -> AwsError {
    error(
        ECS,
        operation,
        "InvalidParameterException",
        format!("at most {limit} items per call"),
    )
}

#[async_trait]
impl EcsApi for FakeAws {
    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        // AWS lists services for a while after they are deleted (INACTIVE).
        let count = |world: &World| {
            let arn = world.cluster_arn(cluster);
            world
                .services
                .values()
                .filter(|s| Some(&s.service.cluster_arn) == arn.as_ref())
                .count()
        };
        self.paged(ECS, "ListServices", count, LIST_PAGE, |world| {
            let arn = world
                .cluster_arn(cluster)
                .ok_or_else(|| cluster_not_found("ListServices", cluster))?;
            Ok(world
                .services
                .values()
                .filter(|s| s.service.cluster_arn == arn)
                .map(|s| s.service.arn.clone())
                .collect())
        })
        .await
    }

    async fn describe_services(
        &self,
        cluster: &str,
        service_arns: &[String],
    ) -> Result<Vec<EcsService>, AwsError> {
        let services = self
            .request(ECS, "DescribeServices", |world| {
                if service_arns.len() > DESCRIBE_SERVICES_BATCH {
                    return Err(too_many("DescribeServices", DESCRIBE_SERVICES_BATCH));
                }
                let arn = world
                    .cluster_arn(cluster)
                    .ok_or_else(|| cluster_not_found("DescribeServices", cluster))?;
                Ok(service_arns
                    .iter()
                    .filter_map(|a| world.services.get(a))
                    .filter(|s| s.service.cluster_arn == arn)
                    .map(|s| s.service.clone())
                    .collect())
            })
            .await?;
        self.services_read(service_arns);
        Ok(services)
    }

    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        self.request(ECS, "DescribeTaskDefinition", |world| {
            world.task_definitions.get(arn).cloned().ok_or_else(|| {
                error(
                    ECS,
                    "DescribeTaskDefinition",
                    "ClientException",
                    format!("Unable to describe task definition {arn}"),
                )
            })
        })
        .await
    }

    async fn list_tasks(&self, cluster: &str, service_name: &str) -> Result<Vec<String>, AwsError> {
        let group = format!("service:{service_name}");
        let mine = |t: &&super::FakeTask, cluster_arn: &str| {
            t.cluster_arn == cluster_arn
                && t.task.group.as_deref() == Some(group.as_str())
                && t.task.last_status == "RUNNING"
        };
        let count = |world: &World| {
            let arn = world.cluster_arn(cluster).unwrap_or_default();
            world.tasks.iter().filter(|t| mine(t, &arn)).count()
        };
        self.paged(ECS, "ListTasks", count, LIST_PAGE, |world| {
            let arn = world
                .cluster_arn(cluster)
                .ok_or_else(|| cluster_not_found("ListTasks", cluster))?;
            Ok(world
                .tasks
                .iter()
                .filter(|t| mine(t, &arn))
                .map(|t| t.task.arn.clone())
                .collect())
        })
        .await
    }

    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<EcsTask>, AwsError> {
        self.request(ECS, "DescribeTasks", |world| {
            if task_arns.len() > DESCRIBE_TASKS_BATCH {
                return Err(too_many("DescribeTasks", DESCRIBE_TASKS_BATCH));
            }
            let arn = world
                .cluster_arn(cluster)
                .ok_or_else(|| cluster_not_found("DescribeTasks", cluster))?;
            Ok(world
                .tasks
                .iter()
                .filter(|t| t.cluster_arn == arn && task_arns.contains(&t.task.arn))
                .map(|t| t.task.clone())
                .collect())
        })
        .await
    }

    async fn update_service_load_balancers(
        &self,
        cluster: &str,
        service: &str,
        load_balancers: Option<&[LoadBalancerAttachment]>,
        deployment: Option<&DeploymentSettings>,
    ) -> Result<(), AwsError> {
        self.request(ECS, "UpdateService", |world| {
            world.update_service(cluster, service, load_balancers, deployment)
        })
        .await
    }
}
