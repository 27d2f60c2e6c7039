//! [`CloudMapApi`] on the fake account, with Cloud Map's checks: unique service names per
//! namespace, DNS settings only in DNS namespaces, alias instances only in services with
//! A/AAAA records, `ResourceInUse` when deleting a service that has instances, 1,000
//! instances per service.

use std::collections::BTreeMap;

/// The instance attribute Cloud Map turns into an alias record (RegisterInstance docs).
const ALIAS_ATTRIBUTE: &str = "AWS_ALIAS_DNS_NAME";

use async_trait::async_trait;

use super::{FakeAws, World, error};
use crate::aws::{AwsError, CloudMapApi};
use crate::state::{
    CloudMapInstance, CloudMapNamespace, CloudMapService, CloudMapServiceSpec, Tags,
};

const SD: &str = "servicediscovery";
/// Cloud Map's page size for List* calls.
const PAGE: usize = 100;
/// Instances per service (not raisable).
pub const MAX_INSTANCES_PER_SERVICE: usize = 1000;

/// A Cloud Map service as the fake keeps it.
#[derive(Debug, Clone)]
pub struct FakeCloudMapService {
    pub service: CloudMapService,
    /// DNS record types it makes per instance; empty: no DNS settings.
    pub record_types: Vec<String>,
    pub tags: Tags,
    pub instances: BTreeMap<String, CloudMapInstance>,
}

/// The account's Cloud Map.
#[derive(Debug, Default)]
pub struct CloudMapWorld {
    next_id: u64,
    pub namespaces: BTreeMap<String, CloudMapNamespace>,
    pub services: BTreeMap<String, FakeCloudMapService>,
}

impl CloudMapWorld {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:016x}", self.next_id)
    }

    /// A namespace (`DNS_PRIVATE`, `DNS_PUBLIC` or `HTTP`); returns its id.
    pub fn add_namespace(&mut self, name: &str, kind: &str) -> String {
        let id = self.id("ns");
        self.namespaces.insert(
            id.clone(),
            CloudMapNamespace {
                id: id.clone(),
                name: name.to_string(),
                kind: kind.to_string(),
            },
        );
        id
    }

    /// Creates a service as CreateService does; `Err` carries Cloud Map's error.
    pub fn create_service(
        &mut self,
        spec: &CloudMapServiceSpec,
    ) -> Result<CloudMapService, AwsError> {
        let op = "CreateService";
        let Some(namespace) = self.namespaces.get(&spec.namespace_id).cloned() else {
            return Err(error(
                SD,
                op,
                "NamespaceNotFound",
                format!("namespace {} not found", spec.namespace_id),
            ));
        };
        if self.services.values().any(|s| {
            s.service.namespace_id == spec.namespace_id
                && s.service.name.eq_ignore_ascii_case(&spec.name)
        }) {
            return Err(error(
                SD,
                op,
                "ServiceAlreadyExists",
                format!("service {} already exists", spec.name),
            ));
        }
        if !spec.record_types.is_empty() && !namespace.is_dns() {
            return Err(error(
                SD,
                op,
                "InvalidInput",
                "DnsConfig is not allowed in an HTTP namespace".into(),
            ));
        }
        let id = self.id("srv");
        let service = CloudMapService {
            id: id.clone(),
            arn: format!(
                "arn:aws:servicediscovery:{}:{}:service/{id}",
                super::REGION,
                super::ACCOUNT
            ),
            name: spec.name.clone(),
            namespace_id: spec.namespace_id.clone(),
            description: Some(spec.description.clone()).filter(|d| !d.is_empty()),
        };
        self.services.insert(
            id,
            FakeCloudMapService {
                service: service.clone(),
                record_types: spec.record_types.clone(),
                tags: spec.tags.clone(),
                instances: BTreeMap::new(),
            },
        );
        Ok(service)
    }

    fn service_mut(
        &mut self,
        op: &'static str,
        id: &str,
    ) -> Result<&mut FakeCloudMapService, AwsError> {
        self.services
            .get_mut(id)
            .ok_or_else(|| error(SD, op, "ServiceNotFound", format!("service {id} not found")))
    }

    /// Registers (or replaces) an instance as RegisterInstance does.
    pub fn register(
        &mut self,
        service_id: &str,
        instance_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let op = "RegisterInstance";
        let service = self.service_mut(op, service_id)?;
        if instance_id.is_empty() || instance_id.len() > 64 {
            return Err(error(
                SD,
                op,
                "InvalidInput",
                "instance id must be 1-64 characters".into(),
            ));
        }
        if attributes.contains_key(ALIAS_ATTRIBUTE)
            && !service.record_types.iter().any(|t| t == "A" || t == "AAAA")
        {
            return Err(error(
                SD,
                op,
                "InvalidInput",
                "AWS_ALIAS_DNS_NAME needs a service with an A or AAAA record".into(),
            ));
        }
        if !service.instances.contains_key(instance_id)
            && service.instances.len() >= MAX_INSTANCES_PER_SERVICE
        {
            return Err(error(
                SD,
                op,
                "ResourceLimitExceeded",
                "too many instances".into(),
            ));
        }
        service.instances.insert(
            instance_id.to_string(),
            CloudMapInstance {
                id: instance_id.to_string(),
                attributes: attributes.clone(),
            },
        );
        Ok(())
    }
}

#[async_trait]
impl CloudMapApi for FakeAws {
    async fn list_namespaces(&self) -> Result<Vec<CloudMapNamespace>, AwsError> {
        let count = |world: &World| world.cloudmap.namespaces.len();
        self.paged(SD, "ListNamespaces", count, PAGE, |w| {
            Ok(w.cloudmap.namespaces.values().cloned().collect())
        })
        .await
    }

    async fn list_services(&self, namespace_id: &str) -> Result<Vec<CloudMapService>, AwsError> {
        let select = |w: &super::World| -> Vec<CloudMapService> {
            w.cloudmap
                .services
                .values()
                .filter(|s| s.service.namespace_id == namespace_id)
                .map(|s| s.service.clone())
                .collect()
        };
        let count = |world: &World| select(world).len();
        self.paged(SD, "ListServices", count, PAGE, |w| Ok(select(w)))
            .await
    }

    async fn list_instances(&self, service_id: &str) -> Result<Vec<CloudMapInstance>, AwsError> {
        let count = |world: &World| {
            world
                .cloudmap
                .services
                .get(service_id)
                .map_or(0, |s| s.instances.len())
        };
        self.paged(SD, "ListInstances", count, PAGE, |w| {
            Ok(w.cloudmap
                .service_mut("ListInstances", service_id)?
                .instances
                .values()
                .cloned()
                .collect())
        })
        .await
    }

    async fn create_service(
        &self,
        spec: &CloudMapServiceSpec,
    ) -> Result<CloudMapService, AwsError> {
        self.request(SD, "CreateService", |w| w.cloudmap.create_service(spec))
            .await
    }

    async fn list_tags(&self, arn: &str) -> Result<Tags, AwsError> {
        self.request(SD, "ListTagsForResource", |w| {
            w.cloudmap
                .services
                .values()
                .find(|s| s.service.arn == arn)
                .map(|s| s.tags.clone())
                .ok_or_else(|| {
                    error(
                        SD,
                        "ListTagsForResource",
                        "ResourceNotFoundException",
                        format!("{arn} not found"),
                    )
                })
        })
        .await
    }

    async fn register_instance(
        &self,
        service_id: &str,
        instance_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.request(SD, "RegisterInstance", |w| {
            w.cloudmap.register(service_id, instance_id, attributes)
        })
        .await
    }

    async fn deregister_instance(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> Result<(), AwsError> {
        self.request(SD, "DeregisterInstance", |w| {
            let service = w.cloudmap.service_mut("DeregisterInstance", service_id)?;
            service
                .instances
                .remove(instance_id)
                .map(|_| ())
                .ok_or_else(|| {
                    error(
                        SD,
                        "DeregisterInstance",
                        "InstanceNotFound",
                        format!("instance {instance_id} not found"),
                    )
                })
        })
        .await
    }

    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError> {
        self.request(SD, "DeleteService", |w| {
            let service = w.cloudmap.service_mut("DeleteService", service_id)?;
            if !service.instances.is_empty() {
                return Err(error(
                    SD,
                    "DeleteService",
                    "ResourceInUse",
                    format!("service {service_id} has instances"),
                ));
            }
            w.cloudmap.services.remove(service_id);
            Ok(())
        })
        .await
    }
}
