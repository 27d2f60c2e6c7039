//! The routing intent of one service: what it asks ecs-ingress to publish.

use super::keys;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::Serialize;

use crate::state::Tags;

/// Where a routing value came from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    DockerLabel,
    TaskDefinitionTag,
    ServiceTag,
}

impl Source {
    /// How statuses and error messages name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DockerLabel => "docker label",
            Self::TaskDefinitionTag => "task definition tag",
            Self::ServiceTag => "service tag",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Each routing key a service has (without prefix) and where its value came from. Shared,
/// not copied: the intent is kept between passes, and every pass's status of the service
/// lists the keys. The keys are the routing keys' own names ([`keys::ALL`]), in key order
/// in one slice: a tree of owned strings cost about 300 bytes per service for two keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySources(Arc<[(&'static str, Source)]>);

impl KeySources {
    pub fn get(&self, key: &str) -> Option<Source> {
        self.0
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| self.0[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys and their sources, in key order.
    pub fn iter(&self) -> KeySourcesIter<'_> {
        self.0.iter().copied()
    }

    /// As a status shows them: each source in words (`task definition tag`).
    pub fn serialize_in_words<S: serde::Serializer>(
        keys: &KeySources,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(keys.iter().map(|(key, source)| (key, source.as_str())))
    }
}

/// The pairs of [`KeySources`], in key order.
pub type KeySourcesIter<'k> = std::iter::Copied<std::slice::Iter<'k, (&'static str, Source)>>;

/// Of pairs with one key, the last wins (as with inserts into a map).
impl FromIterator<(&'static str, Source)> for KeySources {
    fn from_iter<I: IntoIterator<Item = (&'static str, Source)>>(pairs: I) -> Self {
        let mut pairs: Vec<(&'static str, Source)> = pairs.into_iter().collect();
        crate::flat_map::sort_last_wins(&mut pairs);
        Self(pairs.into())
    }
}

impl<'k> IntoIterator for &'k KeySources {
    type Item = (&'static str, Source);
    type IntoIter = KeySourcesIter<'k>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// An intent's own serialization: the map, sources as their kebab-case names.
impl Serialize for KeySources {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

pub use crate::state::{
    DeploymentSettings, DeploymentStrategy, Protocol, ProtocolVersion, TargetType, Tenths,
};

/// `alb.backend-sg`: the security group of the service's tasks that gets the ingress rule
/// letting its ALB reach them (ip targets only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendSg {
    /// The first of the service's `awsvpcConfiguration.securityGroups`.
    Auto,
    /// No rule: the team writes its own.
    Off,
    /// This one of the service's groups.
    Group(String),
}

impl BackendSg {
    /// The group that gets the rule, of a service with these security groups.
    pub fn group<'a>(&'a self, service_groups: &'a [String]) -> Option<&'a str> {
        match self {
            Self::Auto => service_groups.first().map(String::as_str),
            Self::Off => None,
            Self::Group(id) => Some(id),
        }
    }
}

/// `alb.tls`: whether ecs-ingress finds and attaches the certificate of each host on an
/// HTTPS listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Auto,
    /// Published as on an HTTP listener: no certificate work.
    Off,
}

/// Who registers targets in the target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetsMode {
    /// ECS, through the service's `loadBalancers`.
    Ecs,
    /// ecs-ingress, from the service's running tasks.
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsType {
    Alias,
    Cname,
}

/// Health-check port: the target's own port, or a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum HealthCheckPort {
    TrafficPort,
    Port(u16),
}

impl fmt::Display for HealthCheckPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TrafficPort => f.write_str("traffic-port"),
            Self::Port(p) => write!(f, "{p}"),
        }
    }
}

/// Target-group health check, with AWS's defaults filled in so drift is comparable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HealthCheckIntent {
    pub path: String,
    pub port: HealthCheckPort,
    pub interval: u16,
    pub timeout: u16,
    pub healthy_threshold: u8,
    pub unhealthy_threshold: u8,
    /// AWS form: `200`, `200-299` or `200,202`.
    pub matcher: String,
}

/// Sticky sessions with an ALB cookie of the given duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Stickiness {
    Off,
    LbCookie { seconds: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct AttributesIntent {
    pub deregistration_delay: u32,
    pub slow_start: u32,
    pub stickiness: Stickiness,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DnsIntent {
    /// Explicit names; `None` means every `alb.host` inside a managed zone.
    pub names: Option<Vec<String>>,
    pub record_type: DnsType,
    pub ttl: u32,
    /// Hosted zone id or name; `None` means the longest managed zone that fits.
    pub zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CloudMapIntent {
    pub namespace: String,
    pub service: String,
}

/// A listener chosen by `alb.listener`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerRef {
    Name(String),
    Arn(String),
}

impl fmt::Display for ListenerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) | Self::Arn(n) => f.write_str(n),
        }
    }
}

/// A valid routing intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub listener: ListenerRef,
    pub container: String,
    pub container_port: u16,
    pub priority: Option<u32>,
    pub protocol: Protocol,
    pub protocol_version: ProtocolVersion,
    pub target_type: TargetType,
    pub health_check: HealthCheckIntent,
    pub attributes: AttributesIntent,
    pub targets: TargetsMode,
    pub dns: DnsIntent,
    /// Boxed, as `deploy`: few services have one, and every service's intent is held
    /// between passes (boxed, the two take 16 of the 96 bytes they took in every intent).
    pub cloudmap: Option<Box<CloudMapIntent>>,
    /// `alb.deploy` and its settings: how ECS deploys the service. `None`: its
    /// `deploymentConfiguration` is never written.
    pub deploy: Option<Box<DeploymentSettings>>,
    /// `alb.test-host`: hosts of the test rule ECS sends test traffic through during a
    /// deployment (with the service's paths); empty without.
    pub test_hosts: Vec<String>,
    /// `alb.weight`: its share of a rule it shares with other weighted services routing the
    /// same hosts and paths (a canary across services).
    pub weight: Option<u16>,
    /// `alb.backend-sg`.
    pub backend_sg: BackendSg,
    /// `alb.tls`.
    pub tls: TlsMode,
    /// `alb.certificate-arn`: exactly these certificates serve its hosts (empty: found in
    /// ACM by host).
    pub certificate_arns: Vec<String>,
    /// Where each key's value came from (keys without prefix; defaults are absent).
    pub sources: KeySources,
}

impl Intent {
    /// ECS shifts this service's traffic between two target groups itself (`alb.deploy`
    /// blue-green, linear or canary).
    pub fn shifted_by_ecs(&self) -> bool {
        self.deploy
            .as_ref()
            .is_some_and(|d| d.strategy.shifts_traffic())
    }

    /// A one-line summary for logs and status: `a.example.com/api → web:8080`.
    pub fn summary(&self) -> String {
        // Built piece by piece, in one allocation: every pass summarizes every published
        // service.
        let values: usize = self
            .hosts
            .iter()
            .chain(&self.paths)
            .map(|v| v.len() + 1)
            .sum();
        let len = values + self.container.len();
        let mut s = String::with_capacity(len + " → :65535".len());
        for (i, host) in self.hosts.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(host);
        }
        for path in &self.paths {
            s.push(' ');
            s.push_str(path);
        }
        s.push_str(" → ");
        s.push_str(&self.container);
        s.push(':');
        // Into the summary itself: a port's own string would be one more allocation.
        let _ = write!(s, "{}", self.container_port);
        s
    }

    /// The documented key/value form of this intent (every key explicit), under `prefix`.
    /// Parsing it back as docker labels gives the same intent.
    pub fn to_labels(&self, prefix: &str) -> Tags {
        // Pairs first, then one map: a packed map is rewritten by every insert.
        let mut pairs = Vec::new();
        let mut put = |k: &str, v: String| {
            pairs.push((format!("{prefix}{k}"), v));
        };
        put(keys::ALB_HOST, self.hosts.join(" "));
        if !self.paths.is_empty() {
            put(keys::ALB_PATH, self.paths.join(" "));
        }
        put(keys::ALB_LISTENER, self.listener.to_string());
        put(keys::ALB_CONTAINER, self.container.clone());
        put(keys::ALB_PORT, self.container_port.to_string());
        if let Some(p) = self.priority {
            put(keys::ALB_PRIORITY, p.to_string());
        }
        put(keys::ALB_PROTOCOL, self.protocol.as_str().into());
        put(
            keys::ALB_PROTOCOL_VERSION,
            self.protocol_version.as_str().into(),
        );
        let hc = &self.health_check;
        put(keys::ALB_HEALTHCHECK_PATH, hc.path.clone());
        put(keys::ALB_HEALTHCHECK_PORT, hc.port.to_string());
        put(keys::ALB_HEALTHCHECK_INTERVAL, hc.interval.to_string());
        put(keys::ALB_HEALTHCHECK_TIMEOUT, hc.timeout.to_string());
        put(
            keys::ALB_HEALTHCHECK_HEALTHY_THRESHOLD,
            hc.healthy_threshold.to_string(),
        );
        put(
            keys::ALB_HEALTHCHECK_UNHEALTHY_THRESHOLD,
            hc.unhealthy_threshold.to_string(),
        );
        put(keys::ALB_HEALTHCHECK_MATCHER, hc.matcher.replace(',', " "));
        put(
            keys::ALB_DEREGISTRATION_DELAY,
            self.attributes.deregistration_delay.to_string(),
        );
        put(keys::ALB_SLOW_START, self.attributes.slow_start.to_string());
        put(
            keys::ALB_STICKINESS,
            match self.attributes.stickiness {
                Stickiness::Off => "off".into(),
                Stickiness::LbCookie { seconds } => seconds.to_string(),
            },
        );
        put(
            keys::ALB_TARGETS,
            match self.targets {
                TargetsMode::Ecs => "ecs".into(),
                TargetsMode::Direct => "direct".into(),
            },
        );
        if let Some(names) = &self.dns.names {
            put(keys::DNS_NAME, names.join(" "));
        }
        put(
            keys::DNS_TYPE,
            match self.dns.record_type {
                DnsType::Alias => "alias".into(),
                DnsType::Cname => "cname".into(),
            },
        );
        put(keys::DNS_TTL, self.dns.ttl.to_string());
        if let Some(zone) = &self.dns.zone {
            put(keys::DNS_ZONE, zone.clone());
        }
        self.deployment_labels(&mut put);
        if let Some(cm) = &self.cloudmap {
            put(keys::CLOUDMAP_NAMESPACE, cm.namespace.clone());
            put(keys::CLOUDMAP_SERVICE, cm.service.clone());
        }
        pairs.into_iter().collect()
    }
}

impl Intent {
    /// How the service is deployed and shares traffic, as labels: `alb.deploy` and its
    /// settings, `alb.test-host`, `alb.weight`.
    fn deployment_labels(&self, put: &mut impl FnMut(&str, String)) {
        if let Some(d) = &self.deploy {
            deploy_labels(d, put);
        }
        if !self.test_hosts.is_empty() {
            put(keys::ALB_TEST_HOST, self.test_hosts.join(" "));
        }
        if let Some(w) = self.weight {
            put(keys::ALB_WEIGHT, w.to_string());
        }
        if self.tls == TlsMode::Off {
            put(keys::ALB_TLS, "off".into());
        }
        if !self.certificate_arns.is_empty() {
            put(keys::ALB_CERTIFICATE_ARN, self.certificate_arns.join(" "));
        }
        match &self.backend_sg {
            BackendSg::Auto => {}
            BackendSg::Off => put(keys::ALB_BACKEND_SG, "off".into()),
            BackendSg::Group(id) => put(keys::ALB_BACKEND_SG, id.clone()),
        }
    }
}

/// `alb.deploy` and the settings it has, as labels.
fn deploy_labels(d: &DeploymentSettings, put: &mut impl FnMut(&str, String)) {
    put(keys::ALB_DEPLOY, deploy_tag(&d.strategy).into());
    let minutes = [
        (keys::ALB_BAKE_MINUTES, d.bake_minutes),
        (keys::ALB_LINEAR_STEP_MINUTES, d.linear_step_minutes),
        (keys::ALB_CANARY_MINUTES, d.canary_minutes),
    ];
    for (k, v) in minutes {
        if let Some(v) = v {
            put(k, v.to_string());
        }
    }
    let percents = [
        (keys::ALB_LINEAR_STEP_PERCENT, d.linear_step_percent),
        (keys::ALB_CANARY_PERCENT, d.canary_percent),
    ];
    for (k, v) in percents {
        if let Some(v) = v {
            put(k, v.to_string());
        }
    }
}

/// The `alb.deploy` value of a strategy.
pub fn deploy_tag(strategy: &DeploymentStrategy) -> &str {
    match strategy {
        DeploymentStrategy::Rolling => "rolling",
        DeploymentStrategy::BlueGreen => "blue-green",
        DeploymentStrategy::Linear => "linear",
        DeploymentStrategy::Canary => "canary",
        DeploymentStrategy::Other(name) => name,
    }
}

/// One thing wrong with a service's routing tags, phrased for the person who wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntentError {
    /// The key as written, prefix included.
    pub key: String,
    /// The offending value (shortened when long), if a value was given.
    pub value: Option<String>,
    pub source: Option<Source>,
    /// What is allowed.
    pub expected: String,
}

impl fmt::Display for IntentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        if let Some(s) = &self.source {
            write!(f, " ({s})")?;
        }
        write!(f, ": {}", self.expected)
    }
}

/// What the model concludes about one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceIntent {
    /// No routing keys: not ours to manage.
    Unmanaged,
    /// `alb.host` is gone but other routing keys remain: unpublished like `Unmanaged` (what
    /// was made for it is withdrawn), and the leftover keys are reported as ignored.
    Withdraw { warnings: Vec<String> },
    /// Routing keys with problems: reported, nothing changed.
    Invalid {
        errors: Vec<IntentError>,
        warnings: Vec<String>,
    },
    /// Publish this.
    Publish {
        intent: Arc<Intent>,
        warnings: Vec<String>,
    },
}
