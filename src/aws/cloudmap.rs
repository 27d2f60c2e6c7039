//! Cloud Map (service discovery) adapter: SDK calls in, [`crate::state`] types out.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_servicediscovery::Client;
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsRecord, FilterCondition, RecordType, RoutingPolicy, ServiceFilter,
    ServiceFilterName, Tag,
};

use super::call::{CallContext, paged, send};
use super::{AwsError, CloudMapApi, ErrorKind};
use crate::state::{
    CloudMapInstance, CloudMapNamespace, CloudMapService, CloudMapServiceSpec, Tags,
};

const SERVICE: &str = "servicediscovery";
/// The largest page Cloud Map List* calls return.
const PAGE_SIZE: i32 = 100;
/// TTL of the records Cloud Map makes for a service we create (alias records ignore it,
/// but the API requires one).
const RECORD_TTL: i64 = 60;

pub struct CloudMapAdapter {
    client: Client,
    ctx: CallContext,
}

impl CloudMapAdapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

fn invalid(
    operation: &'static str,
) -> impl Fn(aws_sdk_servicediscovery::error::BuildError) -> AwsError {
    move |e| AwsError::new(SERVICE, operation, ErrorKind::Validation, e.to_string())
}

fn dns_config(record_types: &[String]) -> Result<Option<DnsConfig>, AwsError> {
    if record_types.is_empty() {
        return Ok(None);
    }
    let mut b = DnsConfig::builder().routing_policy(RoutingPolicy::Weighted);
    for t in record_types {
        b = b.dns_records(
            DnsRecord::builder()
                .r#type(RecordType::from(t.as_str()))
                .ttl(RECORD_TTL)
                .build()
                .map_err(invalid("CreateService"))?,
        );
    }
    b.build().map(Some).map_err(invalid("CreateService"))
}

#[async_trait]
impl CloudMapApi for CloudMapAdapter {
    async fn list_namespaces(&self) -> Result<Vec<CloudMapNamespace>, AwsError> {
        let request = self.client.list_namespaces().max_results(PAGE_SIZE);
        let pages = paged!(self, "ListNamespaces", request, |p| p.next_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.namespaces())
            .map(|n| CloudMapNamespace {
                id: n.id().unwrap_or_default().to_string(),
                name: n.name().unwrap_or_default().to_string(),
                kind: n
                    .r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect())
    }

    async fn list_services(&self, namespace_id: &str) -> Result<Vec<CloudMapService>, AwsError> {
        let filter = ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(namespace_id)
            .condition(FilterCondition::Eq)
            .build()
            .map_err(invalid("ListServices"))?;
        let request = self
            .client
            .list_services()
            .filters(filter)
            .max_results(PAGE_SIZE);
        let pages = paged!(self, "ListServices", request, |p| p.next_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.services())
            .map(|s| CloudMapService {
                id: s.id().unwrap_or_default().to_string(),
                arn: s.arn().unwrap_or_default().to_string(),
                name: s.name().unwrap_or_default().to_string(),
                namespace_id: namespace_id.to_string(),
                description: s.description().map(str::to_string),
            })
            .collect())
    }

    async fn list_instances(&self, service_id: &str) -> Result<Vec<CloudMapInstance>, AwsError> {
        let request = self
            .client
            .list_instances()
            .service_id(service_id)
            .max_results(PAGE_SIZE);
        let pages = paged!(self, "ListInstances", request, |p| p.next_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.instances())
            .map(|i| CloudMapInstance {
                id: i.id().unwrap_or_default().to_string(),
                attributes: i
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            })
            .collect())
    }

    async fn create_service(
        &self,
        spec: &CloudMapServiceSpec,
    ) -> Result<CloudMapService, AwsError> {
        let tags = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid("CreateService"))?;
        let out = send!(
            self,
            "CreateService",
            self.client
                .create_service()
                .name(&spec.name)
                .namespace_id(&spec.namespace_id)
                .description(&spec.description)
                .set_dns_config(dns_config(&spec.record_types)?)
                .set_tags(Some(tags))
        )?;
        let service = out.service().ok_or_else(|| {
            AwsError::new(
                SERVICE,
                "CreateService",
                ErrorKind::Other,
                "no service in the answer",
            )
        })?;
        Ok(CloudMapService {
            id: service.id().unwrap_or_default().to_string(),
            arn: service.arn().unwrap_or_default().to_string(),
            name: service.name().unwrap_or_default().to_string(),
            namespace_id: spec.namespace_id.clone(),
            description: service.description().map(str::to_string),
        })
    }

    async fn list_tags(&self, arn: &str) -> Result<Tags, AwsError> {
        let out = send!(
            self,
            "ListTagsForResource",
            self.client.list_tags_for_resource().resource_arn(arn)
        )?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    async fn register_instance(
        &self,
        service_id: &str,
        instance_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        send!(
            self,
            "RegisterInstance",
            self.client
                .register_instance()
                .service_id(service_id)
                .instance_id(instance_id)
                .set_attributes(Some(attributes.clone().into_iter().collect()))
        )?;
        Ok(())
    }

    async fn deregister_instance(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> Result<(), AwsError> {
        send!(
            self,
            "DeregisterInstance",
            self.client
                .deregister_instance()
                .service_id(service_id)
                .instance_id(instance_id)
        )?;
        Ok(())
    }

    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError> {
        send!(
            self,
            "DeleteService",
            self.client.delete_service().id(service_id)
        )?;
        Ok(())
    }
}
