//! Resource Groups Tagging API adapter: the tags of many resources in pages of 100, instead
//! of one read per resource.

use async_trait::async_trait;
use aws_sdk_resourcegroupstagging::Client;
use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::call::{CallContext, paged};
use super::{AwsError, TaggingApi};
use crate::state::Tags;

const SERVICE: &str = "tagging";
/// The largest page GetResources returns.
const PAGE_SIZE: i32 = 100;

pub struct TaggingAdapter {
    client: Client,
    ctx: CallContext,
}

impl TaggingAdapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

#[async_trait]
impl TaggingApi for TaggingAdapter {
    async fn get_resources(
        &self,
        resource_types: &[&str],
        tag: Option<(&str, &str)>,
    ) -> Result<Vec<(String, Tags)>, AwsError> {
        let filter = tag.map(|(k, v)| TagFilter::builder().key(k).values(v).build());
        let request = self
            .client
            .get_resources()
            .set_resource_type_filters(Some(resource_types.iter().map(|t| t.to_string()).collect()))
            .set_tag_filters(filter.map(|f| vec![f]))
            .resources_per_page(PAGE_SIZE);
        let pages = paged!(self, "GetResources", request, |p| p.pagination_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.resource_tag_mapping_list())
            .map(|m| {
                let tags = m
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect();
                (m.resource_arn().unwrap_or_default().to_string(), tags)
            })
            .collect())
    }
}
