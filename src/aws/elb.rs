//! ELBv2 adapter: SDK calls in, [`crate::state`] types out.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, Matcher, PathPatternConditionConfig, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, RuleCondition, RulePriorityPair, Tag, TargetDescription,
    TargetGroupAttribute, TargetGroupTuple, TargetHealthStateEnum, TargetTypeEnum,
};

use super::call::{CallContext, paged, send};
use super::{AwsError, ElbApi, ErrorKind};
use crate::state::{
    DefaultAction, HealthCheck, Listener, ListenerCertificates, ListenerSettings, LoadBalancer,
    LoadBalancerSettings, ProtocolVersion, Rule, RuleSpec, SharedStr, Tags, Target, TargetGroup,
    TargetGroupAttributes, TargetGroupSpec, TargetHealth, TargetHealthState,
};

const SERVICE: &str = "elbv2";
/// The largest page ELBv2 Describe* calls accept.
const PAGE_SIZE: i32 = 400;
/// ModifyLoadBalancerAttributes takes at most this many attributes per call.
const ATTRIBUTES_PER_CALL: usize = 20;

pub struct ElbAdapter {
    client: Client,
    ctx: CallContext,
}

impl ElbAdapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn conditions(hosts: &[String], paths: &[String]) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    if !hosts.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(hosts.to_vec()))
                        .build(),
                )
                .build(),
        );
    }
    if !paths.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(paths.to_vec()))
                        .build(),
                )
                .build(),
        );
    }
    out
}

fn forward(target_group_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

/// Forwards to `target_group_arn`, with `staged` beside it at weight 0: associated with the
/// ALB (ECS accepts it in `loadBalancers`) but sent no requests.
fn forward_staged(target_group_arn: &str, staged: &str) -> Action {
    forward_weighted(&[(target_group_arn.to_string(), 1), (staged.to_string(), 0)])
}

/// A forward action with a ForwardConfig: these groups, these weights.
fn forward_weighted(weights: &[(String, u32)]) -> Action {
    let config = weights
        .iter()
        .fold(ForwardActionConfig::builder(), |b, (group, weight)| {
            b.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(group)
                    .weight(i32::try_from(*weight).unwrap_or(i32::MAX))
                    .build(),
            )
        })
        .build();
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config)
        .build()
}

fn load_balancer(l: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> LoadBalancer {
    LoadBalancer {
        arn: l.load_balancer_arn().unwrap_or_default().into(),
        name: l.load_balancer_name().unwrap_or_default().to_string(),
        vpc_id: l.vpc_id().unwrap_or_default().to_string(),
        dns_name: l.dns_name().unwrap_or_default().to_string(),
        canonical_hosted_zone_id: l.canonical_hosted_zone_id().unwrap_or_default().to_string(),
        ip_address_type: l
            .ip_address_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "ipv4".into()),
        security_groups: l.security_groups().to_vec(),
    }
}

fn listener(l: &aws_sdk_elasticloadbalancingv2::types::Listener) -> Listener {
    Listener {
        arn: l.listener_arn().unwrap_or_default().to_string(),
        load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_string(),
        port: l.port(),
        protocol: l.protocol().map(|p| p.as_str().to_string()),
    }
}

/// A listener default action as [`DefaultAction`]: the copyable kinds with their settings,
/// forwards with their target groups (either form), anything else by its type name.
fn default_action(a: &Action) -> DefaultAction {
    match a.r#type() {
        Some(ActionTypeEnum::FixedResponse) => {
            let c = a.fixed_response_config();
            DefaultAction::FixedResponse {
                status_code: c
                    .and_then(|c| c.status_code())
                    .unwrap_or_default()
                    .to_string(),
                content_type: c.and_then(|c| c.content_type()).map(str::to_string),
                message_body: c.and_then(|c| c.message_body()).map(str::to_string),
            }
        }
        Some(ActionTypeEnum::Redirect) => {
            let c = a.redirect_config();
            let text =
                |f: fn(&RedirectActionConfig) -> Option<&str>| c.and_then(f).map(str::to_string);
            DefaultAction::Redirect {
                protocol: text(RedirectActionConfig::protocol),
                port: text(RedirectActionConfig::port),
                host: text(RedirectActionConfig::host),
                path: text(RedirectActionConfig::path),
                query: text(RedirectActionConfig::query),
                status_code: c
                    .and_then(|c| c.status_code())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            }
        }
        Some(ActionTypeEnum::Forward) => {
            let mut target_group_arns: Vec<String> = a
                .forward_config()
                .map(|c| {
                    c.target_groups()
                        .iter()
                        .filter_map(|t| t.target_group_arn().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if target_group_arns.is_empty() {
                target_group_arns.extend(a.target_group_arn().map(str::to_string));
            }
            DefaultAction::Forward { target_group_arns }
        }
        other => DefaultAction::Other {
            kind: other
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| "unknown".into()),
        },
    }
}

/// The SDK form of a copyable default action; `None` for forwards and other kinds, which
/// [`super::uncopyable_default_action`] refuses before this is asked.
fn sdk_default_action(a: &DefaultAction, order: i32) -> Option<Action> {
    let action = match a {
        DefaultAction::FixedResponse {
            status_code,
            content_type,
            message_body,
        } => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(status_code)
                    .set_content_type(content_type.clone())
                    .set_message_body(message_body.clone())
                    .build(),
            ),
        DefaultAction::Redirect {
            protocol,
            port,
            host,
            path,
            query,
            status_code,
        } => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .set_protocol(protocol.clone())
                    .set_port(port.clone())
                    .set_host(host.clone())
                    .set_path(path.clone())
                    .set_query(query.clone())
                    .status_code(RedirectActionStatusCodeEnum::from(status_code.as_str()))
                    .build(),
            ),
        DefaultAction::Forward { .. } | DefaultAction::Other { .. } => return None,
    };
    Some(action.order(order).build())
}

/// The attributes of `wanted` whose value differs from `current` (a new ALB's defaults).
fn changed_attributes(
    wanted: &std::collections::BTreeMap<String, String>,
    current: &std::collections::BTreeMap<String, String>,
) -> Vec<LoadBalancerAttribute> {
    wanted
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect()
}

fn certificate(arn: &str) -> Certificate {
    Certificate::builder().certificate_arn(arn).build()
}

/// Default actions in the order AWS performs them (`Order`; AWS lists them in any order).
fn sorted_actions(actions: &[Action]) -> Vec<&Action> {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    sorted
}

fn missing(operation: &'static str, what: &str) -> AwsError {
    AwsError::new(
        SERVICE,
        operation,
        ErrorKind::Other,
        format!("answer holds no {what}"),
    )
}

fn health_state(s: Option<&TargetHealthStateEnum>) -> TargetHealthState {
    match s {
        Some(TargetHealthStateEnum::Healthy) => TargetHealthState::Healthy,
        Some(TargetHealthStateEnum::Initial) => TargetHealthState::Initial,
        Some(TargetHealthStateEnum::Draining) => TargetHealthState::Draining,
        Some(TargetHealthStateEnum::Unused) => TargetHealthState::Unused,
        Some(TargetHealthStateEnum::Unavailable) => TargetHealthState::Unavailable,
        _ => TargetHealthState::Unhealthy,
    }
}

/// Folds both forms AWS may return a condition in (`Values` or the `*Config` block).
fn rule(listener_arn: &str, r: &aws_sdk_elasticloadbalancingv2::types::Rule) -> Rule {
    let mut hosts = Vec::new();
    let mut paths = Vec::new();
    let mut other_conditions = 0;
    for c in r.conditions() {
        match c.field() {
            Some("host-header") => {
                let from_config = c
                    .host_header_config()
                    .map(|h| h.values())
                    .unwrap_or_default();
                let values = if from_config.is_empty() {
                    c.values()
                } else {
                    from_config
                };
                hosts.extend(values.iter().cloned());
            }
            Some("path-pattern") => {
                let from_config = c
                    .path_pattern_config()
                    .map(|p| p.values())
                    .unwrap_or_default();
                let values = if from_config.is_empty() {
                    c.values()
                } else {
                    from_config
                };
                paths.extend(values.iter().cloned());
            }
            _ => other_conditions += 1,
        }
    }
    let mut forward_target_groups = Vec::new();
    let mut staged_target_groups = Vec::new();
    let mut weights = std::collections::BTreeMap::new();
    let mut other_actions = 0;
    for a in r.actions() {
        if a.r#type() == Some(&ActionTypeEnum::Forward) {
            if let Some(arn) = plain_forward(a) {
                forward_target_groups.push(SharedStr::from(arn));
            } else if let Some(cfg) = a.forward_config().filter(|c| !c.target_groups().is_empty()) {
                for t in cfg.target_groups() {
                    let Some(arn) = t.target_group_arn() else {
                        continue;
                    };
                    // No weight means 1; weight 0 receives no requests.
                    weights.insert(
                        arn.to_string(),
                        t.weight().and_then(|w| u32::try_from(w).ok()).unwrap_or(1),
                    );
                    if t.weight() == Some(0) {
                        staged_target_groups.push(SharedStr::from(arn));
                    } else {
                        forward_target_groups.push(SharedStr::from(arn));
                    }
                }
            }
        } else {
            other_actions += 1;
        }
    }
    forward_target_groups.dedup();
    staged_target_groups.dedup();
    Rule {
        arn: r.rule_arn().unwrap_or_default().into(),
        listener_arn: listener_arn.into(),
        priority: if r.is_default() == Some(true) {
            None
        } else {
            r.priority().and_then(|p| p.parse().ok())
        },
        hosts,
        paths,
        other_conditions,
        forward_target_groups,
        staged_target_groups,
        weights,
        other_actions,
        tags: Tags::new(),
    }
}

/// The group of a forward action that sends every request to one group, as the rule was
/// written: with `TargetGroupArn` alone, or a ForwardConfig of that one group at weight 1.
///
/// AWS describes every single-group forward the second way, whichever way it was written
/// (its answer carries both fields). Read as a plain forward, with no weights, a rule holds
/// no map of one group per copy of the records (each pass's read, the base of targeted
/// passes): a tree node and an ARN, about 0.4 KiB per rule. Weights only matter where a
/// rule shares requests out, and one group at weight 1 takes them all either way.
fn plain_forward(a: &Action) -> Option<&str> {
    match a.forward_config().map(ForwardActionConfig::target_groups) {
        None | Some([]) => a.target_group_arn(),
        Some([only]) if only.weight().is_none_or(|w| w == 1) => only.target_group_arn(),
        Some(_) => None,
    }
}

fn target_group(t: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> TargetGroup {
    let matcher = t
        .matcher()
        .and_then(|m| m.http_code().or(m.grpc_code()))
        .unwrap_or_default()
        .into();
    TargetGroup {
        arn: t.target_group_arn().unwrap_or_default().into(),
        name: t.target_group_name().unwrap_or_default().to_string(),
        protocol: t.protocol().map(|p| p.as_str()).unwrap_or_default().into(),
        protocol_version: t.protocol_version().map(SharedStr::from),
        port: t.port().unwrap_or_default(),
        target_type: t
            .target_type()
            .map(|p| p.as_str())
            .unwrap_or_default()
            .into(),
        vpc_id: t.vpc_id().unwrap_or_default().into(),
        health_check: HealthCheck {
            protocol: t
                .health_check_protocol()
                .map(|p| p.as_str())
                .unwrap_or_default()
                .into(),
            path: t.health_check_path().unwrap_or_default().into(),
            port: t.health_check_port().unwrap_or_default().into(),
            interval_seconds: t.health_check_interval_seconds().unwrap_or_default(),
            timeout_seconds: t.health_check_timeout_seconds().unwrap_or_default(),
            healthy_threshold: t.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold: t.unhealthy_threshold_count().unwrap_or_default(),
            matcher,
        },
        // Some implementations repeat an ALB once per rule that uses the group.
        load_balancer_arns: t
            .load_balancer_arns()
            .iter()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(SharedStr::from)
            .collect(),
        tags: Tags::new(),
        attributes: TargetGroupAttributes::new(),
    }
}

fn matcher(health_check: &HealthCheck, grpc: bool) -> Matcher {
    if grpc {
        Matcher::builder()
            .grpc_code(health_check.matcher.as_str())
            .build()
    } else {
        Matcher::builder()
            .http_code(health_check.matcher.as_str())
            .build()
    }
}

#[async_trait]
impl ElbApi for ElbAdapter {
    async fn describe_listeners(&self, arns: &[String]) -> Result<Vec<Listener>, AwsError> {
        let out = send!(
            self,
            "DescribeListeners",
            self.client
                .describe_listeners()
                .set_listener_arns(Some(arns.to_vec()))
        )?;
        Ok(out.listeners().iter().map(listener).collect())
    }

    async fn describe_load_balancer_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Result<Vec<Listener>, AwsError> {
        let request = self
            .client
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .page_size(PAGE_SIZE);
        let pages = paged!(self, "DescribeListeners", request, |p| p.next_marker())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.listeners())
            .map(listener)
            .collect())
    }

    async fn describe_account_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, AwsError> {
        let request = self.client.describe_account_limits();
        let pages = paged!(self, "DescribeAccountLimits", request, |p| p.next_marker())?;
        let mut out = std::collections::BTreeMap::new();
        for l in pages.iter().flat_map(|p| p.limits()) {
            if let (Some(name), Some(max)) = (l.name(), l.max())
                && let Ok(max) = max.trim().parse::<u64>()
            {
                out.insert(name.to_string(), max);
            }
        }
        Ok(out)
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> Result<Vec<LoadBalancer>, AwsError> {
        let out = send!(
            self,
            "DescribeLoadBalancers",
            self.client
                .describe_load_balancers()
                .set_load_balancer_arns(Some(arns.to_vec()))
        )?;
        Ok(out.load_balancers().iter().map(load_balancer).collect())
    }

    async fn describe_rules(&self, listener_arn: &str) -> Result<Vec<Rule>, AwsError> {
        let request = self
            .client
            .describe_rules()
            .listener_arn(listener_arn)
            .page_size(PAGE_SIZE);
        let pages = paged!(self, "DescribeRules", request, |p| p.next_marker())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.rules())
            .map(|r| rule(listener_arn, r))
            .collect())
    }

    async fn describe_target_groups(&self) -> Result<Vec<TargetGroup>, AwsError> {
        let request = self.client.describe_target_groups().page_size(PAGE_SIZE);
        let pages = paged!(self, "DescribeTargetGroups", request, |p| p.next_marker())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.target_groups())
            .map(target_group)
            .collect())
    }

    async fn describe_target_groups_by_arn(
        &self,
        arns: &[String],
    ) -> Result<Vec<TargetGroup>, AwsError> {
        let page = send!(
            self,
            "DescribeTargetGroups",
            self.client
                .describe_target_groups()
                .set_target_group_arns(Some(arns.to_vec()))
        )?;
        Ok(page.target_groups().iter().map(target_group).collect())
    }

    async fn describe_tags(&self, arns: &[String]) -> Result<Vec<(String, Tags)>, AwsError> {
        let out = send!(
            self,
            "DescribeTags",
            self.client
                .describe_tags()
                .set_resource_arns(Some(arns.to_vec()))
        )?;
        Ok(out
            .tag_descriptions()
            .iter()
            .map(|d| {
                let tags = d
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                (d.resource_arn().unwrap_or_default().to_string(), tags)
            })
            .collect())
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> Result<TargetGroupAttributes, AwsError> {
        let out = send!(
            self,
            "DescribeTargetGroupAttributes",
            self.client
                .describe_target_group_attributes()
                .target_group_arn(arn)
        )?;
        Ok(out
            .attributes()
            .iter()
            .filter_map(|a| {
                Some((
                    a.key()?.to_string(),
                    a.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealth>, AwsError> {
        let out = send!(
            self,
            "DescribeTargetHealth",
            self.client
                .describe_target_health()
                .target_group_arn(target_group_arn)
        )?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let t = d.target()?;
                Some(TargetHealth {
                    target: Target {
                        id: t.id()?.to_string(),
                        port: t.port().unwrap_or_default(),
                    },
                    state: health_state(d.target_health().and_then(|h| h.state())),
                })
            })
            .collect())
    }

    async fn create_target_group(&self, spec: &TargetGroupSpec) -> Result<String, AwsError> {
        let hc = &spec.health_check;
        let grpc = spec.protocol_version == ProtocolVersion::Grpc;
        let out = send!(
            self,
            "CreateTargetGroup",
            self.client
                .create_target_group()
                .name(&spec.name)
                .protocol(ProtocolEnum::from(spec.protocol.as_str()))
                .protocol_version(spec.protocol_version.as_str())
                .port(spec.port)
                .target_type(TargetTypeEnum::from(spec.target_type.as_str()))
                .vpc_id(&spec.vpc_id)
                .health_check_enabled(true)
                .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
                .health_check_path(hc.path.as_str())
                .health_check_port(hc.port.as_str())
                .health_check_interval_seconds(hc.interval_seconds)
                .health_check_timeout_seconds(hc.timeout_seconds)
                .healthy_threshold_count(hc.healthy_threshold)
                .unhealthy_threshold_count(hc.unhealthy_threshold)
                .matcher(matcher(hc, grpc))
                .set_tags(Some(sdk_tags(&spec.tags)))
        )?;
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                AwsError::new(
                    SERVICE,
                    "CreateTargetGroup",
                    ErrorKind::Other,
                    "answer holds no target group ARN",
                )
            })
    }

    async fn modify_target_group(&self, arn: &str, hc: &HealthCheck) -> Result<(), AwsError> {
        let grpc = hc
            .matcher
            .split([',', '-'])
            .all(|c| c.parse::<u32>().is_ok_and(|n| n < 100));
        send!(
            self,
            "ModifyTargetGroup",
            self.client
                .modify_target_group()
                .target_group_arn(arn)
                .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
                .health_check_path(hc.path.as_str())
                .health_check_port(hc.port.as_str())
                .health_check_interval_seconds(hc.interval_seconds)
                .health_check_timeout_seconds(hc.timeout_seconds)
                .healthy_threshold_count(hc.healthy_threshold)
                .unhealthy_threshold_count(hc.unhealthy_threshold)
                .matcher(matcher(hc, grpc))
        )?;
        Ok(())
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &TargetGroupAttributes,
    ) -> Result<(), AwsError> {
        let attrs = attributes
            .iter()
            .map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build())
            .collect();
        send!(
            self,
            "ModifyTargetGroupAttributes",
            self.client
                .modify_target_group_attributes()
                .target_group_arn(arn)
                .set_attributes(Some(attrs))
        )?;
        Ok(())
    }

    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError> {
        send!(
            self,
            "DeleteTargetGroup",
            self.client.delete_target_group().target_group_arn(arn)
        )?;
        Ok(())
    }

    async fn create_rule(&self, spec: &RuleSpec) -> Result<String, AwsError> {
        let out = send!(
            self,
            "CreateRule",
            self.client
                .create_rule()
                .listener_arn(&spec.listener_arn)
                .priority(spec.priority as i32)
                .set_conditions(Some(conditions(&spec.hosts, &spec.paths)))
                .actions(match &spec.staged_target_group_arn {
                    Some(staged) => forward_staged(&spec.target_group_arn, staged),
                    None => forward(&spec.target_group_arn),
                })
                .set_tags(Some(sdk_tags(&spec.tags)))
        )?;
        out.rules()
            .first()
            .and_then(|r| r.rule_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                AwsError::new(
                    SERVICE,
                    "CreateRule",
                    ErrorKind::Other,
                    "answer holds no rule ARN",
                )
            })
    }

    async fn modify_rule(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        target_group_arn: &str,
        staged: Option<&str>,
    ) -> Result<(), AwsError> {
        let action = match staged {
            Some(s) => forward_staged(target_group_arn, s),
            None => forward(target_group_arn),
        };
        self.rewrite_rule(arn, hosts, paths, Some(action)).await
    }

    async fn modify_rule_weighted(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        weights: &[(String, u32)],
    ) -> Result<(), AwsError> {
        self.rewrite_rule(arn, hosts, paths, Some(forward_weighted(weights)))
            .await
    }

    async fn modify_rule_conditions(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
    ) -> Result<(), AwsError> {
        // Without `Actions`, ModifyRule leaves the action (and its weights) as it is.
        self.rewrite_rule(arn, hosts, paths, None).await
    }

    async fn set_rule_priorities(&self, priorities: &[(String, u32)]) -> Result<(), AwsError> {
        let pairs = priorities
            .iter()
            .map(|(arn, p)| {
                RulePriorityPair::builder()
                    .rule_arn(arn)
                    .priority(*p as i32)
                    .build()
            })
            .collect();
        send!(
            self,
            "SetRulePriorities",
            self.client
                .set_rule_priorities()
                .set_rule_priorities(Some(pairs))
        )?;
        Ok(())
    }

    async fn delete_rule(&self, arn: &str) -> Result<(), AwsError> {
        send!(self, "DeleteRule", self.client.delete_rule().rule_arn(arn))?;
        Ok(())
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        let targets = targets
            .iter()
            .map(|t| TargetDescription::builder().id(&t.id).port(t.port).build())
            .collect::<Vec<_>>();
        send!(
            self,
            "RegisterTargets",
            self.client
                .register_targets()
                .target_group_arn(target_group_arn)
                .set_targets(Some(targets))
        )?;
        Ok(())
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        let targets = targets
            .iter()
            .map(|t| TargetDescription::builder().id(&t.id).port(t.port).build())
            .collect::<Vec<_>>();
        send!(
            self,
            "DeregisterTargets",
            self.client
                .deregister_targets()
                .target_group_arn(target_group_arn)
                .set_targets(Some(targets))
        )?;
        Ok(())
    }

    async fn describe_all_load_balancers(&self) -> Result<Vec<LoadBalancer>, AwsError> {
        let request = self.client.describe_load_balancers().page_size(PAGE_SIZE);
        let pages = paged!(self, "DescribeLoadBalancers", request, |p| p.next_marker())?;
        // Network and gateway load balancers have quotas of their own.
        Ok(pages
            .iter()
            .flat_map(|p| p.load_balancers())
            .filter(|l| l.r#type() == Some(&LoadBalancerTypeEnum::Application))
            .map(load_balancer)
            .collect())
    }

    async fn describe_load_balancer_settings(
        &self,
        arn: &str,
    ) -> Result<LoadBalancerSettings, AwsError> {
        let described = send!(
            self,
            "DescribeLoadBalancers",
            self.client
                .describe_load_balancers()
                .load_balancer_arns(arn)
        )?;
        let lb = described
            .load_balancers()
            .first()
            .ok_or_else(|| missing("DescribeLoadBalancers", "load balancer"))?;
        let attributes = self.load_balancer_attributes(arn).await?;
        Ok(LoadBalancerSettings {
            scheme: lb
                .scheme()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            subnets: lb
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_string))
                .collect(),
            security_groups: lb.security_groups().to_vec(),
            ip_address_type: lb
                .ip_address_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| "ipv4".into()),
            attributes,
        })
    }

    async fn describe_listener_settings(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerSettings, AwsError> {
        let described = send!(
            self,
            "DescribeListeners",
            self.client.describe_listeners().listener_arns(listener_arn)
        )?;
        let l = described
            .listeners()
            .first()
            .ok_or_else(|| missing("DescribeListeners", "listener"))?;
        let protocol = l.protocol().map(|p| p.as_str().to_string());
        // DescribeListeners names only the default certificate; the others are listed by
        // DescribeListenerCertificates, which HTTP listeners have none of.
        let certificates = if protocol.as_deref() == Some("HTTPS") {
            self.listener_certificates(listener_arn).await?
        } else {
            Vec::new()
        };
        Ok(ListenerSettings {
            port: l
                .port()
                .ok_or_else(|| missing("DescribeListeners", "listener port"))?,
            protocol: protocol.ok_or_else(|| missing("DescribeListeners", "listener protocol"))?,
            default_actions: sorted_actions(l.default_actions())
                .into_iter()
                .map(default_action)
                .collect(),
            certificates,
            ssl_policy: l.ssl_policy().map(str::to_string),
        })
    }

    async fn create_load_balancer(
        &self,
        name: &str,
        settings: &LoadBalancerSettings,
        tags: &Tags,
    ) -> Result<LoadBalancer, AwsError> {
        let created = send!(
            self,
            "CreateLoadBalancer",
            self.client
                .create_load_balancer()
                .name(name)
                .r#type(LoadBalancerTypeEnum::Application)
                .scheme(LoadBalancerSchemeEnum::from(settings.scheme.as_str()))
                .set_subnets(Some(settings.subnets.clone()))
                .set_security_groups(Some(settings.security_groups.clone()))
                .ip_address_type(IpAddressType::from(settings.ip_address_type.as_str()))
                .set_tags(Some(sdk_tags(tags)))
        )?;
        let lb = created
            .load_balancers()
            .first()
            .map(load_balancer)
            .ok_or_else(|| missing("CreateLoadBalancer", "load balancer"))?;
        // A new ALB's defaults are read, not assumed: AWS adds attributes over time.
        let defaults = self.load_balancer_attributes(&lb.arn).await?;
        let changed = changed_attributes(&settings.attributes, &defaults);
        for chunk in changed.chunks(ATTRIBUTES_PER_CALL) {
            send!(
                self,
                "ModifyLoadBalancerAttributes",
                self.client
                    .modify_load_balancer_attributes()
                    .load_balancer_arn(lb.arn.as_str())
                    .set_attributes(Some(chunk.to_vec()))
            )?;
        }
        Ok(lb)
    }

    async fn create_listener(
        &self,
        load_balancer_arn: &str,
        settings: &ListenerSettings,
        tags: &Tags,
    ) -> Result<Listener, AwsError> {
        if let Some(refused) = super::uncopyable_default_action(SERVICE, settings) {
            return Err(refused);
        }
        let actions: Vec<Action> = settings
            .default_actions
            .iter()
            .zip(1..)
            .filter_map(|(a, order)| sdk_default_action(a, order))
            .collect();
        // CreateListener takes exactly one certificate, the default; the others are added
        // to the new listener after.
        let (default_certificate, more_certificates) = match settings.certificates.split_first() {
            Some((first, rest)) => (Some(first), rest),
            None => (None, &[][..]),
        };
        let created = send!(
            self,
            "CreateListener",
            self.client
                .create_listener()
                .load_balancer_arn(load_balancer_arn)
                .port(settings.port)
                .protocol(ProtocolEnum::from(settings.protocol.as_str()))
                .set_default_actions(Some(actions))
                .set_certificates(default_certificate.map(|arn| vec![certificate(arn)]))
                .set_ssl_policy(settings.ssl_policy.clone())
                .set_tags(Some(sdk_tags(tags)))
        )?;
        let new = created
            .listeners()
            .first()
            .map(listener)
            .ok_or_else(|| missing("CreateListener", "listener"))?;
        if !more_certificates.is_empty() {
            send!(
                self,
                "AddListenerCertificates",
                self.client
                    .add_listener_certificates()
                    .listener_arn(&new.arn)
                    .set_certificates(Some(
                        more_certificates.iter().map(|a| certificate(a)).collect()
                    ))
            )?;
        }
        Ok(new)
    }

    async fn delete_load_balancer(&self, arn: &str) -> Result<(), AwsError> {
        send!(
            self,
            "DeleteLoadBalancer",
            self.client.delete_load_balancer().load_balancer_arn(arn)
        )?;
        Ok(())
    }

    async fn describe_listener_certificates(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerCertificates, AwsError> {
        let request = self
            .client
            .describe_listener_certificates()
            .listener_arn(listener_arn)
            .page_size(PAGE_SIZE);
        let pages = paged!(self, "DescribeListenerCertificates", request, |p| p
            .next_marker())?;
        let mut out = ListenerCertificates::default();
        for c in pages.iter().flat_map(|p| p.certificates()) {
            let Some(arn) = c.certificate_arn() else {
                continue;
            };
            if c.is_default() == Some(true) {
                out.default = Some(arn.to_string());
            } else if !out.extra.iter().any(|a| a == arn) {
                out.extra.push(arn.to_string());
            }
        }
        // AWS lists the default in the SNI list too when it was also added there.
        let default = out.default.clone();
        out.extra.retain(|a| Some(a) != default.as_ref());
        Ok(out)
    }

    async fn add_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        send!(
            self,
            "AddListenerCertificates",
            self.client
                .add_listener_certificates()
                .listener_arn(listener_arn)
                .certificates(certificate(certificate_arn))
        )?;
        Ok(())
    }

    async fn remove_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        send!(
            self,
            "RemoveListenerCertificates",
            self.client
                .remove_listener_certificates()
                .listener_arn(listener_arn)
                .certificates(certificate(certificate_arn))
        )?;
        Ok(())
    }

    async fn add_tags(&self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        send!(
            self,
            "AddTags",
            self.client
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(sdk_tags(tags)))
        )?;
        Ok(())
    }

    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        send!(
            self,
            "RemoveTags",
            self.client
                .remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(keys.to_vec()))
        )?;
        Ok(())
    }
}

impl ElbAdapter {
    /// ModifyRule: the conditions, and the action when given (without one, AWS keeps the
    /// rule's action and its weights).
    async fn rewrite_rule(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        action: Option<Action>,
    ) -> Result<(), AwsError> {
        send!(
            self,
            "ModifyRule",
            self.client
                .modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(conditions(hosts, paths)))
                .set_actions(action.map(|a| vec![a]))
        )?;
        Ok(())
    }

    /// DescribeLoadBalancerAttributes of one ALB, every key as AWS returns it.
    async fn load_balancer_attributes(
        &self,
        arn: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, AwsError> {
        let out = send!(
            self,
            "DescribeLoadBalancerAttributes",
            self.client
                .describe_load_balancer_attributes()
                .load_balancer_arn(arn)
        )?;
        Ok(out
            .attributes()
            .iter()
            .filter_map(|a| {
                Some((
                    a.key()?.to_string(),
                    a.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    /// Every certificate of a listener (all pages), the default one first.
    async fn listener_certificates(&self, listener_arn: &str) -> Result<Vec<String>, AwsError> {
        let certs = self.describe_listener_certificates(listener_arn).await?;
        Ok(certs.default.into_iter().chain(certs.extra).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/1/2";
    const A: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1";
    const B: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2";

    fn with_config(groups: &[(&str, Option<i32>)], target_group_arn: Option<&str>) -> Action {
        let config = groups
            .iter()
            .fold(ForwardActionConfig::builder(), |b, (group, weight)| {
                b.target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(*group)
                        .set_weight(*weight)
                        .build(),
                )
            })
            .build();
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .set_target_group_arn(target_group_arn.map(str::to_string))
            .forward_config(config)
            .build()
    }

    fn read(action: Action) -> Rule {
        let sdk = aws_sdk_elasticloadbalancingv2::types::Rule::builder()
            .rule_arn("arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/a/1/2/3")
            .priority("7")
            .is_default(false)
            .actions(action)
            .build();
        rule(LISTENER, &sdk)
    }

    /// What AWS answers, and the groups sent requests, the groups at weight 0 and the
    /// weights read from it.
    type Case = (
        &'static str,
        Action,
        Vec<&'static str>,
        Vec<&'static str>,
        Weights,
    );
    type Weights = Vec<(&'static str, u32)>;

    #[test]
    fn a_forward_reads_as_written_whichever_way_aws_describes_it() {
        let cases: Vec<Case> = vec![
            ("plain, as written", forward(A), vec![A], vec![], vec![]),
            (
                // AWS's own answer for a plain forward: both fields, the group at weight 1.
                "plain, as AWS describes it",
                with_config(&[(A, Some(1))], Some(A)),
                vec![A],
                vec![],
                vec![],
            ),
            (
                "one group, no weight given",
                with_config(&[(A, None)], None),
                vec![A],
                vec![],
                vec![],
            ),
            (
                "one group at another weight",
                with_config(&[(A, Some(5))], None),
                vec![A],
                vec![],
                vec![(A, 5)],
            ),
            (
                "staged beside it",
                forward_staged(A, B),
                vec![A],
                vec![B],
                vec![(A, 1), (B, 0)],
            ),
            (
                "shared by weight",
                forward_weighted(&[(A.to_string(), 90), (B.to_string(), 10)]),
                vec![A, B],
                vec![],
                vec![(A, 90), (B, 10)],
            ),
        ];
        for (case, action, forwarded, staged, weights) in cases {
            let r = read(action);
            assert_eq!(r.forward_target_groups, forwarded, "{case}");
            assert_eq!(r.staged_target_groups, staged, "{case}");
            let weights: std::collections::BTreeMap<String, u32> =
                weights.iter().map(|(g, w)| (g.to_string(), *w)).collect();
            assert_eq!(r.weights, weights, "{case}");
            assert_eq!(r.other_actions, 0, "{case}");
        }
    }
}
