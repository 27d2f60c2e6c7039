//! [`TaggingApi`] on the fake account. Like AWS, its answers can lag behind the resources'
//! own APIs ([`FakeAws::lag_tagging`]): then every GetResources answers what the previous
//! identical request saw.

use async_trait::async_trait;

use super::{FakeAws, lock};
use crate::aws::{AwsError, TaggingApi};
use crate::state::Tags;

const TAGGING: &str = "tagging";
/// GetResources' page size.
const PAGE: usize = 100;

impl FakeAws {
    /// Makes GetResources answer one request late (eventual consistency).
    pub fn lag_tagging(&self, lag: bool) {
        *lock(&self.tagging_lag) = lag;
    }

    fn tagged(&self, resource_types: &[&str], tag: Option<(&str, &str)>) -> Vec<(String, Tags)> {
        let world = self.world();
        let mut out: Vec<(String, Tags)> = Vec::new();
        for kind in resource_types {
            match *kind {
                "ecs:task-definition" => out.extend(
                    world
                        .task_definitions
                        .values()
                        .map(|t| (t.arn.clone(), t.tags.clone())),
                ),
                "elasticloadbalancing:targetgroup" => out.extend(
                    world
                        .target_groups
                        .values()
                        .map(|g| (g.arn.to_string(), g.tags.clone())),
                ),
                "elasticloadbalancing:loadbalancer" => {
                    out.extend(world.load_balancers.keys().map(|a| {
                        (
                            a.clone(),
                            world.elb_tags.get(a).cloned().unwrap_or_default(),
                        )
                    }))
                }
                "elasticloadbalancing:listener" => out.extend(world.listeners.keys().map(|a| {
                    (
                        a.clone(),
                        world.elb_tags.get(a).cloned().unwrap_or_default(),
                    )
                })),
                "elasticloadbalancing:listener-rule" => out.extend(
                    world
                        .rules
                        .values()
                        .filter(|r| !r.is_default())
                        .map(|r| (r.arn.to_string(), r.tags.clone())),
                ),
                _ => {}
            }
        }
        // Like AWS: only resources that carry tags, and the filter's tag if given.
        out.retain(|(_, tags)| {
            !tags.is_empty() && tag.is_none_or(|(k, v)| tags.get(k).is_some_and(|have| have == v))
        });
        out
    }
}

#[async_trait]
impl TaggingApi for FakeAws {
    async fn get_resources(
        &self,
        resource_types: &[&str],
        tag: Option<(&str, &str)>,
    ) -> Result<Vec<(String, Tags)>, AwsError> {
        let answer = self.server_side(|| {
            let now = self.tagged(resource_types, tag);
            if *lock(&self.tagging_lag) {
                let key = format!("{resource_types:?} {tag:?}");
                lock(&self.tagging_snapshots)
                    .insert(key, now.clone())
                    .unwrap_or_default()
            } else {
                now
            }
        });
        let count = answer.len();
        self.paged(
            TAGGING,
            "GetResources",
            move |_| count,
            PAGE,
            move |_| Ok(answer),
        )
        .await
    }
}
