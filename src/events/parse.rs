//! Reading one event (pure): an EventBridge envelope, or a CloudTrail record inside one,
//! into the types of event and what they are about ([`EventTarget`]).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::aws::clients::APP_NAME;
/// An ECS service ARN in the current format, `arn:PARTITION:ecs:REGION:ACCOUNT:service/CLUSTER/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceArn(String);

impl ServiceArn {
    /// `None` for anything else, including old-format ARNs without the cluster (their
    /// events fall back to a full pass).
    pub fn parse(arn: &str) -> Option<Self> {
        let (_, rest) = arn.split_once(":service/")?;
        let (cluster, name) = rest.split_once('/')?;
        let valid = arn.starts_with("arn:")
            && !cluster.is_empty()
            && !name.is_empty()
            && !name.contains('/');
        valid.then(|| Self(arn.to_string()))
    }

    /// The service `name` in `cluster` (a name or a cluster ARN) of the event's account.
    fn in_cluster(envelope: &Envelope, cluster: &str, name: &str) -> Option<Self> {
        if let Some(arn) = Self::parse(name) {
            return Some(arn);
        }
        let cluster = crate::config::cluster_name(cluster);
        let (region, account) = (envelope.region.as_deref()?, envelope.account.as_deref()?);
        Self::parse(&format!(
            "arn:{}:ecs:{region}:{account}:service/{cluster}/{name}",
            envelope.partition()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        self.0
            .split_once(":service/")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map_or("", |(cluster, _)| cluster)
    }
}

/// What an event asks the controller to look at again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventTarget {
    Service(ServiceArn),
    /// Every watched service that runs a revision of this task-definition family.
    TaskDefinitionFamily(String),
    /// A listener rule or target group (by ARN) changed by someone else: the service that
    /// owns it, if ecs-ingress does, is repaired. `attributes`: its attributes changed, so
    /// the cached ones must be read again.
    ElbResource {
        arn: String,
        attributes: bool,
    },
    /// A record name (lowercase, no trailing dot; a marker's name is folded into the name it
    /// marks) changed in a hosted zone by someone else.
    DnsName {
        zone_id: String,
        name: String,
    },
    /// Nothing narrower can be said: a full pass.
    Everything,
}

/// Event types, for `ecs_ingress_events_received_total{type}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    ServiceAction,
    DeploymentStateChange,
    TaskStateChange,
    EcsApiCall,
    ElbApiCall,
    Route53ApiCall,
    TagChange,
    Other,
    Malformed,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        Self::ServiceAction,
        Self::DeploymentStateChange,
        Self::TaskStateChange,
        Self::EcsApiCall,
        Self::ElbApiCall,
        Self::Route53ApiCall,
        Self::TagChange,
        Self::Other,
        Self::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServiceAction => "ecs-service-action",
            Self::DeploymentStateChange => "ecs-deployment-state-change",
            Self::TaskStateChange => "ecs-task-state-change",
            Self::EcsApiCall => "cloudtrail-ecs",
            Self::ElbApiCall => "cloudtrail-elbv2",
            Self::Route53ApiCall => "cloudtrail-route53",
            Self::TagChange => "tag-change",
            Self::Other => "other",
            Self::Malformed => "malformed",
        }
    }
}

/// A message that is not an EventBridge event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("no `{0}` string: not an EventBridge event")]
    MissingField(&'static str),
}

/// One event, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    pub event_type: EventType,
    /// The API call, for CloudTrail events (`TagResource`, `ModifyRule`, ...).
    pub event_name: Option<String>,
    /// Empty when the event concerns nothing ecs-ingress manages.
    pub targets: Vec<EventTarget>,
}

/// The fields of the EventBridge envelope every event has.
struct Envelope<'a> {
    detail_type: &'a str,
    source: &'a str,
    region: Option<String>,
    account: Option<String>,
    resources: Vec<&'a str>,
    detail: &'a Value,
}

impl Envelope<'_> {
    /// `aws`, or `aws-cn` / `aws-us-gov` as the event's own ARNs say.
    fn partition(&self) -> &str {
        self.resources
            .iter()
            .find_map(|r| r.strip_prefix("arn:")?.split(':').next())
            .unwrap_or("aws")
    }
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(*key))
        .and_then(Value::as_str)
}

/// Reads an EventBridge event. Anything that is not a JSON object with `source` and
/// `detail-type` strings is malformed.
pub fn parse_event(body: &str) -> Result<ParsedEvent, EventError> {
    let value: Value = serde_json::from_str(body)?;
    let field = |k: &'static str| value.get(k).and_then(Value::as_str);
    let envelope = Envelope {
        source: field("source").ok_or(EventError::MissingField("source"))?,
        detail_type: field("detail-type").ok_or(EventError::MissingField("detail-type"))?,
        region: field("region").map(str::to_string),
        account: field("account").map(str::to_string),
        resources: value
            .get("resources")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        detail: value.get("detail").unwrap_or(&Value::Null),
    };
    let event_name = text(envelope.detail, &["eventName"]).map(str::to_string);
    let (event_type, targets) = match envelope.detail_type {
        "ECS Service Action" => (EventType::ServiceAction, service_resources(&envelope)),
        "ECS Deployment State Change" => (
            EventType::DeploymentStateChange,
            service_resources(&envelope),
        ),
        "ECS Task State Change" => (EventType::TaskStateChange, task_service(&envelope)),
        "AWS API Call via CloudTrail" => cloudtrail(&envelope),
        "Tag Change on Resource" => (EventType::TagChange, tagged_resources(&envelope)),
        _ => (EventType::Other, vec![EventTarget::Everything]),
    };
    Ok(ParsedEvent {
        event_type,
        event_name,
        targets,
    })
}

/// The services in `resources` (service and deployment events name them there).
fn service_resources(envelope: &Envelope) -> Vec<EventTarget> {
    let services: Vec<EventTarget> = envelope
        .resources
        .iter()
        .filter_map(|r| ServiceArn::parse(r))
        .map(EventTarget::Service)
        .collect();
    if services.is_empty() {
        vec![EventTarget::Everything]
    } else {
        services
    }
}

/// A task started by a service has `group: service:NAME`; other tasks concern nothing.
fn task_service(envelope: &Envelope) -> Vec<EventTarget> {
    let detail = envelope.detail;
    let Some(group) = text(detail, &["group"]) else {
        return vec![EventTarget::Everything];
    };
    let Some(name) = group.strip_prefix("service:") else {
        return Vec::new();
    };
    match text(detail, &["clusterArn"]).and_then(|c| ServiceArn::in_cluster(envelope, c, name)) {
        Some(arn) => vec![EventTarget::Service(arn)],
        None => vec![EventTarget::Everything],
    }
}

/// `Tag Change on Resource` events name the tagged resources.
fn tagged_resources(envelope: &Envelope) -> Vec<EventTarget> {
    let targets: Vec<EventTarget> = envelope
        .resources
        .iter()
        .filter_map(|arn| tagged_ecs_resource(arn))
        .collect();
    if targets.is_empty() {
        vec![EventTarget::Everything]
    } else {
        targets
    }
}

/// A tagged ECS service or task definition; `None` for anything else.
fn tagged_ecs_resource(arn: &str) -> Option<EventTarget> {
    if let Some(service) = ServiceArn::parse(arn) {
        return Some(EventTarget::Service(service));
    }
    task_definition_family(arn).map(EventTarget::TaskDefinitionFamily)
}

/// `web` of `arn:aws:ecs:r:a:task-definition/web:7` (or of a bare `web:7`).
pub fn task_definition_family(arn_or_family: &str) -> Option<String> {
    let rest = match arn_or_family.split_once(":task-definition/") {
        Some((_, rest)) => rest,
        None if !arn_or_family.starts_with("arn:") => arn_or_family,
        None => return None,
    };
    let family = rest.split(':').next().unwrap_or(rest);
    (!family.is_empty()).then(|| family.to_string())
}

/// A CloudTrail "AWS API Call" event. A failed call changed nothing, and calls made by
/// ecs-ingress itself need no repair: both concern nothing.
fn cloudtrail(envelope: &Envelope) -> (EventType, Vec<EventTarget>) {
    let detail = envelope.detail;
    let event_type = match text(detail, &["eventSource"]).unwrap_or(envelope.source) {
        "ecs.amazonaws.com" | "aws.ecs" => EventType::EcsApiCall,
        "elasticloadbalancing.amazonaws.com" | "aws.elasticloadbalancing" => EventType::ElbApiCall,
        "route53.amazonaws.com" | "aws.route53" => EventType::Route53ApiCall,
        _ => return (EventType::Other, vec![EventTarget::Everything]),
    };
    let failed = text(detail, &["errorCode"]).is_some();
    let ours =
        text(detail, &["userAgent"]).is_some_and(|ua| ua.contains(&format!("app/{APP_NAME}")));
    if failed || ours {
        return (event_type, Vec::new());
    }
    let name = text(detail, &["eventName"]).unwrap_or_default();
    let targets = match event_type {
        EventType::EcsApiCall => ecs_call(envelope, name),
        EventType::ElbApiCall => elb_call(detail, name),
        _ => route53_call(detail, name),
    };
    (event_type, targets)
}

fn ecs_call(envelope: &Envelope, name: &str) -> Vec<EventTarget> {
    let detail = envelope.detail;
    let request = |k: &str| text(detail, &["requestParameters", k]);
    let target = match name {
        "CreateService" | "UpdateService" | "DeleteService" => {
            text(detail, &["responseElements", "service", "serviceArn"])
                .and_then(ServiceArn::parse)
                .or_else(|| {
                    let service = request("service").or(request("serviceName"))?;
                    ServiceArn::in_cluster(
                        envelope,
                        request("cluster").unwrap_or("default"),
                        service,
                    )
                })
                .map(EventTarget::Service)
        }
        // Tags of a cluster or a task set route nothing.
        "TagResource" | "UntagResource" => match request("resourceArn") {
            Some(arn) if arn.contains(":cluster/") || arn.contains(":task-set/") => {
                return Vec::new();
            }
            Some(arn) => tagged_ecs_resource(arn),
            None => None,
        },
        "RegisterTaskDefinition" => request("family")
            .or(text(
                detail,
                &["responseElements", "taskDefinition", "taskDefinitionArn"],
            ))
            .and_then(task_definition_family)
            .map(EventTarget::TaskDefinitionFamily),
        _ => None,
    };
    vec![target.unwrap_or(EventTarget::Everything)]
}

fn elb_call(detail: &Value, name: &str) -> Vec<EventTarget> {
    let request = |k: &str| text(detail, &["requestParameters", k]).map(str::to_string);
    let resource = |arn: Option<String>, attributes: bool| {
        arn.map(|arn| EventTarget::ElbResource { arn, attributes })
    };
    let targets: Vec<EventTarget> = match name {
        "ModifyRule" | "DeleteRule" => resource(request("ruleArn"), false).into_iter().collect(),
        "SetRulePriorities" => detail
            .get("requestParameters")
            .and_then(|r| r.get("rulePriorities"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| resource(text(p, &["ruleArn"]).map(str::to_string), false))
            .collect(),
        "ModifyTargetGroup" | "DeleteTargetGroup" | "DeregisterTargets" => {
            resource(request("targetGroupArn"), false)
                .into_iter()
                .collect()
        }
        "ModifyTargetGroupAttributes" => resource(request("targetGroupArn"), true)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    if targets.is_empty() {
        vec![EventTarget::Everything]
    } else {
        targets
    }
}

fn route53_call(detail: &Value, name: &str) -> Vec<EventTarget> {
    let zone = text(detail, &["requestParameters", "hostedZoneId"])
        .map(|z| z.trim_start_matches("/hostedzone/").to_ascii_uppercase());
    let changes = detail
        .get("requestParameters")
        .and_then(|r| r.get("changeBatch"))
        .and_then(|b| b.get("changes"))
        .and_then(Value::as_array);
    let (Some(zone_id), Some(changes), "ChangeResourceRecordSets") = (zone, changes, name) else {
        return vec![EventTarget::Everything];
    };
    let names: BTreeSet<String> = changes
        .iter()
        .filter_map(|c| text(c, &["resourceRecordSet", "name"]))
        .map(record_name)
        .collect();
    if names.is_empty() {
        return vec![EventTarget::Everything];
    }
    names
        .into_iter()
        .map(|name| EventTarget::DnsName {
            zone_id: zone_id.clone(),
            name,
        })
        .collect()
}

/// Lowercase, without the trailing dot, and a marker's name as the name it marks.
fn record_name(raw: &str) -> String {
    let name = raw.trim_end_matches('.').to_ascii_lowercase();
    match name.strip_prefix(crate::ownership::marker::MARKER_PREFIX) {
        Some(marked) => marked.to_string(),
        None => name,
    }
}
