//! Tags and labels → [`ServiceIntent`].
//!
//! Work is linear in the input: values longer than [`MAX_VALUE_LEN`] are rejected before
//! they are split, lists are capped at [`MAX_LIST_ITEMS`], and values echoed in errors are
//! shortened, so hostile tags cannot make the controller slow or large.

use super::keys;
use std::collections::BTreeMap;

use super::collector::{Collector, Value, shorten};
use super::intent::*;
use crate::state::{Tags, TaskDefinition};

pub use super::collector::{MAX_LIST_ITEMS, MAX_VALUE_LEN};
/// Longest host or path pattern in an ALB rule condition.
pub const MAX_PATTERN_LEN: usize = 128;

/// Every key ecs-ingress reads, without prefix (see [`keys`](super::keys)).
pub const KEYS: &[&str] = keys::ALL;

/// Key families: a key under `PREFIX + family` is ours, known or not.
const FAMILIES: &[&str] = &["alb.", "dns.", "cloudmap."];

/// What the model needs to know about one service.
pub struct IntentInput<'a> {
    pub prefix: &'a str,
    pub service_name: &'a str,
    pub service_tags: &'a Tags,
    pub task_definition: &'a TaskDefinition,
    /// The service's `awsvpcConfiguration.securityGroups` (empty for other network modes).
    pub service_security_groups: &'a [String],
}

/// The routing keys of one source, without prefix.
fn routing_keys<'a>(prefix: &str, map: &'a Tags) -> Vec<(&'a str, &'a str)> {
    map.iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(prefix)?;
            FAMILIES
                .iter()
                .any(|f| rest.starts_with(f))
                .then_some((rest, v))
        })
        .collect()
}

/// A DNS host name, optionally starting with `*.`; lower-cased, trailing dot dropped.
pub fn host_name(s: &str) -> Option<String> {
    let s = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    if s.is_empty() || s.len() > MAX_PATTERN_LEN {
        return None;
    }
    let rest = s.strip_prefix("*.").unwrap_or(&s);
    let labels_ok = rest.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (labels_ok && rest.contains('.')).then_some(s)
}

/// An ALB path pattern: starts with `/`, ≤128 characters, `*` and `?` as wildcards.
pub fn path_pattern(s: &str) -> Option<String> {
    let ok = s.starts_with('/')
        && s.len() <= MAX_PATTERN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.$/~\"'@:+&()!,;=*?%".contains(&b));
    ok.then(|| s.to_string())
}

/// Health-check matcher: HTTP codes 200–499 or gRPC codes 0–99, single, ranges or lists
/// (space- or comma-separated); returned in AWS's comma form.
fn matcher(s: &str, grpc: bool) -> Option<String> {
    let (low, high) = if grpc { (0, 99) } else { (200, 499) };
    let code = |c: &str| c.parse::<u32>().ok().filter(|n| (low..=high).contains(n));
    let parts: Vec<&str> = s.split([' ', ',']).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > 10 {
        return None;
    }
    for p in &parts {
        match p.split_once('-') {
            Some((a, b)) => {
                if code(a)? >= code(b)? {
                    return None;
                }
            }
            None => {
                code(p)?;
            }
        }
    }
    Some(parts.join(","))
}

/// Listener names appear in tags (`alb.listener=internal`), so they keep to tag-safe characters.
pub fn is_listener_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// An ELBv2 listener ARN: `arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:listener/app/LB/ID/ID`.
pub fn is_listener_arn(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn.split(':').nth(2) == Some("elasticloadbalancing")
        && arn.contains(":listener/app/")
}

fn listener_ref(s: &str) -> Option<ListenerRef> {
    if is_listener_arn(s) {
        Some(ListenerRef::Arn(s.to_string()))
    } else if is_listener_name(s) {
        Some(ListenerRef::Name(s.to_string()))
    } else {
        None
    }
}

fn zone_ref(s: &str) -> Option<String> {
    let id = s.strip_prefix("/hostedzone/").unwrap_or(s);
    if !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Some(id.to_string());
    }
    host_name(s).filter(|h| !h.starts_with('*'))
}

fn cloudmap_name(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 127
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_string())
}

/// Picks the routed container's name, or reports why it cannot.
fn routed_container<'a>(
    c: &mut Collector<'a>,
    input: &'a IntentInput<'a>,
    tag_choice: Option<Value<'a>>,
) -> Option<&'a crate::state::Container> {
    let containers = &input.task_definition.containers;
    if let Some(v) = tag_choice {
        let found = containers.iter().find(|x| x.name == v.text.trim());
        if found.is_none() {
            let names: Vec<&str> = containers.iter().map(|x| x.name.as_str()).collect();
            c.error(
                keys::ALB_CONTAINER,
                Some(&v),
                format!(
                    "no such container; the task definition has: {}",
                    names.join(", ")
                ),
            );
        }
        return found;
    }
    let labelled: Vec<_> = containers
        .iter()
        .filter(|x| !routing_keys(input.prefix, &x.docker_labels).is_empty())
        .collect();
    if labelled.len() == 1 {
        return Some(labelled[0]);
    }
    let candidates: Vec<_> = if labelled.len() > 1 {
        labelled
    } else {
        containers
            .iter()
            .filter(|x| x.port_mappings.iter().any(|p| !p.udp))
            .collect()
    };
    match candidates.len() {
        1 => Some(candidates[0]),
        0 => {
            c.error(
                keys::ALB_CONTAINER,
                None,
                "no container has a TCP port mapping to route to",
            );
            None
        }
        _ => {
            let list: Vec<String> = candidates
                .iter()
                .map(|x| {
                    let ports: Vec<String> = x
                        .port_mappings
                        .iter()
                        .map(|p| p.container_port.to_string())
                        .collect();
                    format!("{} ({})", x.name, ports.join(" "))
                })
                .collect();
            c.error(
                keys::ALB_CONTAINER,
                None,
                format!(
                    "required when several containers could take traffic; candidates: {}",
                    list.join(", ")
                ),
            );
            None
        }
    }
}

/// Computes the routing intent of one service: collect the keys (the routed container
/// decides whose labels count), parse every field, then decide.
pub fn compute_intent(input: &IntentInput<'_>) -> ServiceIntent {
    let Some((mut c, container)) = collect(input) else {
        return ServiceIntent::Unmanaged;
    };
    let warnings: Vec<String> = c
        .values
        .keys()
        .filter(|k| !KEYS.contains(k))
        .map(|k| {
            format!(
                "unknown key {}{} ignored (a typo?); known keys are listed in docs/tags.md",
                input.prefix,
                shorten(k)
            )
        })
        .collect();
    let host_missing = !c.values.contains_key(keys::ALB_HOST);
    let host_typo = c
        .values
        .keys()
        .find(|k| !KEYS.contains(k) && looks_like_host_key(k))
        .copied();
    if host_missing && let Some(typo) = host_typo {
        c.error(
            keys::ALB_HOST,
            None,
            format!(
                "not set, but {}{} looks like a typo of it; rename it to publish, or remove it to unpublish",
                input.prefix,
                shorten(typo)
            ),
        );
    }
    let fields = parse_fields(&mut c, input, container);
    let sources = c
        .values
        .iter()
        .filter_map(|(k, v)| Some((keys::known(k)?, v.source)))
        .collect();
    if c.errors.is_empty()
        && !host_missing
        && let (Some(container), Some(intent)) = (container, fields.into_intent(sources))
    {
        return ServiceIntent::Publish {
            intent: std::sync::Arc::new(Intent {
                container: container.name.clone(),
                ..intent
            }),
            warnings,
        };
    }
    // Removing `alb.host` is how a service is unpublished: leftover keys do not keep it
    // published, unless one of them has a bad value (a half-finished edit) or looks like a
    // misspelt `alb.host`.
    let bad_value = c.errors.iter().any(|e| {
        c.values
            .contains_key(e.key.strip_prefix(input.prefix).unwrap_or(&e.key))
    });
    if host_missing && host_typo.is_none() && !bad_value {
        return withdraw(&c, input.prefix, warnings);
    }
    ServiceIntent::Invalid {
        errors: c.errors,
        warnings,
    }
}

/// The merged routing keys (labels of the routed container < task-definition tags <
/// service tags) and the routed container; `None` for a service with no routing key.
fn collect<'a>(
    input: &'a IntentInput<'a>,
) -> Option<(Collector<'a>, Option<&'a crate::state::Container>)> {
    let service_keys = routing_keys(input.prefix, input.service_tags);
    let td_keys = routing_keys(input.prefix, &input.task_definition.tags);
    let mut c = Collector {
        prefix: input.prefix,
        values: BTreeMap::new(),
        errors: Vec::new(),
    };
    // The container choice decides whose labels count, so it is read from tags first.
    let tag_value = |keys: &[(&'a str, &'a str)], source| {
        keys.iter()
            .find(|(k, _)| *k == keys::ALB_CONTAINER)
            .map(|(_, v)| Value { text: v, source })
    };
    let tag_container = tag_value(&service_keys, Source::ServiceTag)
        .or_else(|| tag_value(&td_keys, Source::TaskDefinitionTag));
    let any_label_keys = input
        .task_definition
        .containers
        .iter()
        .any(|x| !routing_keys(input.prefix, &x.docker_labels).is_empty());
    if service_keys.is_empty() && td_keys.is_empty() && !any_label_keys {
        return None;
    }
    let container = routed_container(&mut c, input, tag_container);
    let label_keys = container
        .map(|x| routing_keys(input.prefix, &x.docker_labels))
        .unwrap_or_default();
    for (keys, source) in [
        (label_keys, Source::DockerLabel),
        (td_keys, Source::TaskDefinitionTag),
        (service_keys, Source::ServiceTag),
    ] {
        for (k, v) in keys {
            c.values.insert(k, Value { text: v, source });
        }
    }
    Some((c, container))
}

/// `alb.host` removed: unpublished, the leftover keys named as ignored.
fn withdraw(c: &Collector<'_>, prefix: &str, mut warnings: Vec<String>) -> ServiceIntent {
    let leftover: Vec<String> = c
        .values
        .keys()
        .map(|k| format!("{prefix}{}", shorten(k)))
        .collect();
    warnings.push(format!(
        "alb.host is not set, so the service is not published; leftover keys ignored: {}",
        leftover.join(", ")
    ));
    ServiceIntent::Withdraw { warnings }
}

/// Every field of the intent, each `None` when its value was bad (the error recorded).
struct Fields {
    hosts: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    listener: Option<ListenerRef>,
    port: Option<u16>,
    priority: Option<u32>,
    protocol: Option<Protocol>,
    protocol_version: Option<ProtocolVersion>,
    health_check: Option<HealthCheckIntent>,
    attributes: Option<AttributesIntent>,
    targets: Option<TargetsMode>,
    target_type: Option<TargetType>,
    dns: Option<DnsIntent>,
    cloudmap: Option<Option<CloudMapIntent>>,
    deploy: Option<Option<DeploymentSettings>>,
    test_hosts: Option<Vec<String>>,
    weight: Option<Option<u16>>,
    backend_sg: Option<BackendSg>,
    tls: Option<TlsMode>,
    certificate_arns: Option<Vec<String>>,
}

impl Fields {
    /// The intent when every field parsed (the container is set by the caller).
    fn into_intent(self, sources: KeySources) -> Option<Intent> {
        Some(Intent {
            hosts: self.hosts?,
            paths: self.paths?,
            listener: self.listener?,
            container: String::new(),
            container_port: self.port?,
            priority: self.priority,
            protocol: self.protocol?,
            protocol_version: self.protocol_version?,
            target_type: self.target_type?,
            health_check: self.health_check?,
            attributes: self.attributes?,
            targets: self.targets?,
            dns: self.dns?,
            cloudmap: self.cloudmap?.map(Box::new),
            deploy: self.deploy?.map(Box::new),
            test_hosts: self.test_hosts?,
            weight: self.weight?,
            backend_sg: self.backend_sg?,
            tls: self.tls?,
            certificate_arns: self.certificate_arns?,
            sources,
        })
    }
}

fn parse_fields(
    c: &mut Collector<'_>,
    input: &IntentInput<'_>,
    container: Option<&crate::state::Container>,
) -> Fields {
    let hosts = c.list(
        keys::ALB_HOST,
        "host names (RFC 1123, optional leading *.)",
        host_name,
    );
    let paths = if c.values.contains_key(keys::ALB_PATH) {
        c.list(
            keys::ALB_PATH,
            "path patterns (start with /, ≤128 characters, * and ? as wildcards)",
            path_pattern,
        )
    } else {
        Some(Vec::new())
    };
    let listener = if c.values.contains_key(keys::ALB_LISTENER) {
        c.parse(
            keys::ALB_LISTENER,
            "expected a --listener name or a listener ARN",
            listener_ref,
        )
    } else {
        Some(ListenerRef::Name("default".into()))
    };
    let port = container.and_then(|x| select_port(c, x));
    let priority = c.number(keys::ALB_PRIORITY, 1, 50_000, "a rule priority");
    let (protocol, protocol_version) = protocols(c);
    let grpc = protocol_version == Some(ProtocolVersion::Grpc);
    let health_check = health_check(c, grpc);
    let attributes = attributes(c);
    let (targets, target_type) = targets(c, input);
    let dns = dns(c);
    let cloudmap = cloudmap(c, input.service_name);
    let deploy = super::deploy::deploy(c);
    let test_hosts = test_hosts(c, deploy.as_ref());
    let weight = weight(c, deploy.as_ref());
    let backend_sg = backend_sg(c, input.service_security_groups);
    let (tls, certificate_arns) = tls(c);
    Fields {
        hosts,
        paths,
        listener,
        port,
        priority,
        protocol,
        protocol_version,
        health_check,
        attributes,
        targets,
        target_type,
        dns,
        cloudmap,
        deploy,
        test_hosts,
        weight,
        backend_sg,
        tls,
        certificate_arns,
    }
}

/// `alb.tls` and `alb.certificate-arn`.
fn tls(c: &mut Collector<'_>) -> (Option<TlsMode>, Option<Vec<String>>) {
    let tls = if c.values.contains_key(keys::ALB_TLS) {
        c.parse(keys::ALB_TLS, "expected auto or off", |s| match s {
            "auto" => Some(TlsMode::Auto),
            "off" => Some(TlsMode::Off),
            _ => None,
        })
    } else {
        Some(TlsMode::Auto)
    };
    let certificate_arns = if c.values.contains_key(keys::ALB_CERTIFICATE_ARN) {
        c.list(
            keys::ALB_CERTIFICATE_ARN,
            "ACM certificate ARNs (arn:aws:acm:REGION:ACCOUNT:certificate/ID)",
            certificate_arn,
        )
    } else {
        Some(Vec::new())
    };
    (tls, certificate_arns)
}

/// An ACM certificate ARN: `arn:PARTITION:acm:REGION:ACCOUNT:certificate/ID`.
pub fn certificate_arn(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let id = resource.strip_prefix("certificate/")?;
    let ok = arn == "arn"
        && partition.starts_with("aws")
        && service == "acm"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| s.to_string())
}

/// `alb.backend-sg`: `auto` (the service's first security group), `off`, or one of the
/// service's own groups. A group the service does not have would let the ALB reach nothing.
fn backend_sg(c: &mut Collector<'_>, groups: &[String]) -> Option<BackendSg> {
    if !c.values.contains_key(keys::ALB_BACKEND_SG) {
        return Some(BackendSg::Auto);
    }
    let v = c.get(keys::ALB_BACKEND_SG)?;
    match v.text.trim() {
        "auto" => Some(BackendSg::Auto),
        "off" => Some(BackendSg::Off),
        id if groups.iter().any(|g| g == id) => Some(BackendSg::Group(id.to_string())),
        id => {
            let expected = if !id.starts_with("sg-") {
                "expected auto, off or a security group id (sg-…) of the service".to_string()
            } else if groups.is_empty() {
                "the service has no security groups (awsvpc network configuration) to choose from"
                    .to_string()
            } else {
                format!(
                    "must be one of the service's security groups: {}",
                    groups.join(", ")
                )
            };
            c.error(keys::ALB_BACKEND_SG, Some(&v), expected);
            None
        }
    }
}

/// `alb.weight` 0–999; not where ECS sets the weights itself (`alb.deploy`).
fn weight(
    c: &mut Collector<'_>,
    deploy: Option<&Option<DeploymentSettings>>,
) -> Option<Option<u16>> {
    if !c.values.contains_key(keys::ALB_WEIGHT) {
        return Some(None);
    }
    let shifted = deploy.is_some_and(|d| d.as_ref().is_some_and(|d| d.strategy.shifts_traffic()));
    if shifted {
        let v = c.values.get(keys::ALB_WEIGHT).cloned();
        c.error(
            keys::ALB_WEIGHT,
            v.as_ref(),
            "cannot be combined with alb.deploy=blue-green, linear or canary: ECS sets the rule's weights then",
        );
        return None;
    }
    let w = c.number(keys::ALB_WEIGHT, 0, 999, "a weight")?;
    Some(u16::try_from(w).ok())
}

/// `alb.test-host`: only where ECS deploys the service itself (it sends test traffic
/// through that rule).
fn test_hosts(
    c: &mut Collector<'_>,
    deploy: Option<&Option<DeploymentSettings>>,
) -> Option<Vec<String>> {
    if !c.values.contains_key(keys::ALB_TEST_HOST) {
        return Some(Vec::new());
    }
    let shifted = deploy.is_some_and(|d| d.as_ref().is_some_and(|d| d.strategy.shifts_traffic()));
    if deploy.is_some() && !shifted {
        let v = c.values.get(keys::ALB_TEST_HOST).cloned();
        c.error(
            keys::ALB_TEST_HOST,
            v.as_ref(),
            "needs alb.deploy=blue-green, linear or canary (ECS sends test traffic through it during its deployments)",
        );
        return None;
    }
    c.list(
        keys::ALB_TEST_HOST,
        "host names (RFC 1123, optional leading *.)",
        host_name,
    )
}

fn protocols(c: &mut Collector<'_>) -> (Option<Protocol>, Option<ProtocolVersion>) {
    let protocol = match c.values.contains_key(keys::ALB_PROTOCOL) {
        true => c.parse(keys::ALB_PROTOCOL, "expected HTTP or HTTPS", |s| {
            match s.to_ascii_uppercase().as_str() {
                "HTTP" => Some(Protocol::Http),
                "HTTPS" => Some(Protocol::Https),
                _ => None,
            }
        }),
        false => Some(Protocol::Http),
    };
    let protocol_version = match c.values.contains_key(keys::ALB_PROTOCOL_VERSION) {
        true => c.parse(
            keys::ALB_PROTOCOL_VERSION,
            "expected HTTP1, HTTP2 or GRPC",
            |s| match s.to_ascii_uppercase().as_str() {
                "HTTP1" => Some(ProtocolVersion::Http1),
                "HTTP2" => Some(ProtocolVersion::Http2),
                "GRPC" => Some(ProtocolVersion::Grpc),
                _ => None,
            },
        ),
        false => Some(ProtocolVersion::Http1),
    };
    (protocol, protocol_version)
}

/// How targets are registered, and their type from the network mode.
fn targets(
    c: &mut Collector<'_>,
    input: &IntentInput<'_>,
) -> (Option<TargetsMode>, Option<TargetType>) {
    let targets = match c.values.contains_key(keys::ALB_TARGETS) {
        true => c.parse(keys::ALB_TARGETS, "expected ecs or direct", |s| match s {
            "ecs" => Some(TargetsMode::Ecs),
            "direct" => Some(TargetsMode::Direct),
            _ => None,
        }),
        false => Some(TargetsMode::Ecs),
    };
    let target_type = match input
        .task_definition
        .network_mode
        .as_deref()
        .unwrap_or("bridge")
    {
        "awsvpc" => Some(TargetType::Ip),
        "bridge" | "host" => Some(TargetType::Instance),
        other => {
            c.error(keys::ALB_HOST, None, format!("network mode `{}` cannot receive traffic from an ALB (needs awsvpc, bridge or host)", shorten(other)));
            None
        }
    };
    if targets == Some(TargetsMode::Direct) && target_type == Some(TargetType::Instance) {
        let v = c.values.get(keys::ALB_TARGETS).cloned();
        c.error(
            keys::ALB_TARGETS,
            v.as_ref(),
            "direct needs network mode awsvpc (ip targets); use ecs for bridge or host",
        );
    }
    (targets, target_type)
}

/// An unknown `alb.`/`dns.` key that is probably `alb.host` misspelt (`alb.hosts`,
/// `alb.hots`, `dns.host`).
fn looks_like_host_key(key: &str) -> bool {
    let Some(rest) = key
        .strip_prefix("alb.")
        .or_else(|| key.strip_prefix("dns."))
    else {
        return false;
    };
    let rest = rest.to_ascii_lowercase();
    rest.starts_with("host") || edit_distance(&rest, "host") <= 2 && rest.len() >= 3
}

/// Levenshtein distance, for short keys only (callers pass keys bounded by the tag limits).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().take(64).enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn select_port(c: &mut Collector<'_>, container: &crate::state::Container) -> Option<u16> {
    let tcp: Vec<u16> = container
        .port_mappings
        .iter()
        .filter(|p| !p.udp)
        .filter_map(|p| u16::try_from(p.container_port).ok())
        .collect();
    if c.values.contains_key(keys::ALB_PORT) {
        let port = c.number(keys::ALB_PORT, 1, 65_535, "a container port")?;
        let port = u16::try_from(port).ok()?;
        if !tcp.contains(&port) {
            let v = c.values.get(keys::ALB_PORT).cloned();
            let list: Vec<String> = tcp.iter().map(u16::to_string).collect();
            c.error(
                keys::ALB_PORT,
                v.as_ref(),
                format!(
                    "container {} maps no TCP port {port}; it maps: {}",
                    container.name,
                    if list.is_empty() {
                        "none".into()
                    } else {
                        list.join(" ")
                    }
                ),
            );
            return None;
        }
        return Some(port);
    }
    match tcp.as_slice() {
        [one] => Some(*one),
        [] => {
            c.error(
                keys::ALB_PORT,
                None,
                format!(
                    "container {} has no TCP port mapping to route to",
                    container.name
                ),
            );
            None
        }
        many => {
            let list: Vec<String> = many.iter().map(u16::to_string).collect();
            c.error(
                keys::ALB_PORT,
                None,
                format!(
                    "required: container {} maps several ports: {}",
                    container.name,
                    list.join(" ")
                ),
            );
            None
        }
    }
}

fn health_check(c: &mut Collector<'_>, grpc: bool) -> Option<HealthCheckIntent> {
    let before = c.errors.len();
    let path = c
        .parse(
            keys::ALB_HEALTHCHECK_PATH,
            "expected a path starting with / (≤1024 characters)",
            |s| {
                (s.starts_with('/') && s.len() <= 1024 && !s.contains(char::is_whitespace))
                    .then(|| s.to_string())
            },
        )
        .unwrap_or_else(|| {
            if grpc {
                "/AWS.ALB/healthcheck".into()
            } else {
                "/".into()
            }
        });
    let port = c
        .parse(
            keys::ALB_HEALTHCHECK_PORT,
            "expected traffic-port or a port 1–65535",
            |s| {
                if s == "traffic-port" {
                    Some(HealthCheckPort::TrafficPort)
                } else {
                    s.parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .map(HealthCheckPort::Port)
                }
            },
        )
        .unwrap_or(HealthCheckPort::TrafficPort);
    let interval = c
        .number(keys::ALB_HEALTHCHECK_INTERVAL, 5, 300, "seconds")
        .unwrap_or(30) as u16;
    let timeout = c
        .number(keys::ALB_HEALTHCHECK_TIMEOUT, 2, 120, "seconds")
        .unwrap_or(5) as u16;
    if timeout >= interval && c.errors.len() == before {
        timeout_not_shorter(c, timeout, interval);
    }
    let healthy = c
        .number(keys::ALB_HEALTHCHECK_HEALTHY_THRESHOLD, 2, 10, "a count")
        .unwrap_or(5) as u8;
    let unhealthy = c
        .number(keys::ALB_HEALTHCHECK_UNHEALTHY_THRESHOLD, 2, 10, "a count")
        .unwrap_or(2) as u8;
    let expected = if grpc {
        "expected gRPC codes 0–99 (12, 0-99, 0 12)"
    } else {
        "expected HTTP codes 200–499 (200, 200-299, 200 202)"
    };
    let matcher = c
        .parse(keys::ALB_HEALTHCHECK_MATCHER, expected, |s| {
            matcher(s, grpc)
        })
        .unwrap_or_else(|| if grpc { "12".into() } else { "200".into() });
    (c.errors.len() == before).then_some(HealthCheckIntent {
        path,
        port,
        interval,
        timeout,
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
        matcher,
    })
}

/// ALB needs the health-check timeout shorter than the interval: named on the key given.
fn timeout_not_shorter(c: &mut Collector<'_>, timeout: u16, interval: u16) {
    let v = c
        .values
        .get(keys::ALB_HEALTHCHECK_TIMEOUT)
        .or_else(|| c.values.get(keys::ALB_HEALTHCHECK_INTERVAL))
        .cloned();
    let key = if c.values.contains_key(keys::ALB_HEALTHCHECK_TIMEOUT) {
        keys::ALB_HEALTHCHECK_TIMEOUT
    } else {
        keys::ALB_HEALTHCHECK_INTERVAL
    };
    c.error(
        key,
        v.as_ref(),
        format!("timeout ({timeout}s) must be shorter than the interval ({interval}s)"),
    );
}

fn attributes(c: &mut Collector<'_>) -> Option<AttributesIntent> {
    let before = c.errors.len();
    let deregistration_delay = c
        .number(keys::ALB_DEREGISTRATION_DELAY, 0, 3600, "seconds")
        .unwrap_or(300);
    let slow_start = c
        .parse(
            keys::ALB_SLOW_START,
            "expected 0 (off) or seconds 30–900",
            |s| {
                s.parse::<u32>()
                    .ok()
                    .filter(|n| *n == 0 || (30..=900).contains(n))
            },
        )
        .unwrap_or(0);
    let stickiness = c
        .parse(
            keys::ALB_STICKINESS,
            "expected off, on (one day) or cookie seconds 1–604800",
            |s| match s {
                "off" => Some(Stickiness::Off),
                "on" => Some(Stickiness::LbCookie { seconds: 86_400 }),
                n => n
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=604_800).contains(n))
                    .map(|seconds| Stickiness::LbCookie { seconds }),
            },
        )
        .unwrap_or(Stickiness::Off);
    (c.errors.len() == before).then_some(AttributesIntent {
        deregistration_delay,
        slow_start,
        stickiness,
    })
}

fn dns(c: &mut Collector<'_>) -> Option<DnsIntent> {
    let before = c.errors.len();
    let names = if c.values.contains_key(keys::DNS_NAME) {
        c.list(keys::DNS_NAME, "DNS names", host_name)
    } else {
        None
    };
    let record_type = c
        .parse(keys::DNS_TYPE, "expected alias or cname", |s| match s {
            "alias" => Some(DnsType::Alias),
            "cname" => Some(DnsType::Cname),
            _ => None,
        })
        .unwrap_or(DnsType::Alias);
    let ttl = c
        .number(keys::DNS_TTL, 0, 2_147_483_647, "seconds")
        .unwrap_or(60);
    let zone = c.parse(
        keys::DNS_ZONE,
        "expected a hosted zone id (Z...) or a zone name",
        zone_ref,
    );
    (c.errors.len() == before).then_some(DnsIntent {
        names,
        record_type,
        ttl,
        zone,
    })
}

fn cloudmap(c: &mut Collector<'_>, service_name: &str) -> Option<Option<CloudMapIntent>> {
    let before = c.errors.len();
    let expected = "expected a Cloud Map name: 1–127 letters, digits, `-`, `_` or `.`";
    let namespace = c.parse(keys::CLOUDMAP_NAMESPACE, expected, cloudmap_name);
    let service = c.parse(keys::CLOUDMAP_SERVICE, expected, cloudmap_name);
    if namespace.is_none() && service.is_some() {
        c.error(
            keys::CLOUDMAP_NAMESPACE,
            None,
            "required when cloudmap.service is set",
        );
    }
    if c.errors.len() != before {
        return None;
    }
    Some(namespace.map(|namespace| CloudMapIntent {
        namespace,
        service: service.unwrap_or_else(|| service_name.to_string()),
    }))
}
