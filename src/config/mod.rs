//! Command line and environment configuration.
//!
//! Every flag has an `ECS_INGRESS_<FLAG>` environment variable (lists are comma-separated)
//! so that the same image runs unchanged under ECS task definitions, Helm values and a
//! shell. Values are validated here, once, at start-up: the rest of the program only sees
//! a [`Config`] whose fields are already known to be well formed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod zone_roles;

pub use zone_roles::ZoneRoleArg;

/// Top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "ecs-ingress",
    version,
    about = "Publishes tagged Amazon ECS services on internal ALBs with private DNS names",
    long_about = "ecs-ingress watches ECS services for routing tags such as \
                  alb.host=service-a.in.example.com and keeps ALB target groups, listener \
                  rules, service load-balancer attachments and private DNS records equal to \
                  that intent. Every flag can also be set by its ECS_INGRESS_* variable."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The ways to run the controller, and its container health probe.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller: a reconcile pass every --interval, plus the admin HTTP server.
    Run(Options),
    /// Observe and plan once; print the changes, change nothing.
    /// Exit 0 = nothing to change, 2 = changes pending, 1 = error, 3 = --fail-on matched.
    Plan(PlanArgs),
    /// Observe, plan and apply once, print a per-service summary, then exit.
    /// Exit 1 if any change failed, 3 if --fail-on matched a service.
    Apply(PlanArgs),
    /// Ask a running daemon's /healthz; exit 0 when it answers 200, 1 otherwise. For
    /// container health checks in images without curl.
    Healthcheck(HealthcheckArgs),
}

/// `healthcheck` only needs the admin address.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The daemon's admin address (an unspecified address such as 0.0.0.0 means this host).
    #[arg(long, env = "ECS_INGRESS_ADMIN_ADDR", default_value = "127.0.0.1:8080")]
    pub admin_addr: SocketAddr,
}

/// `plan` and `apply` take every common option plus an output format.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub options: Options,
    /// Output format of the plan or the apply summary.
    #[arg(long, env = "ECS_INGRESS_OUTPUT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Exit 3 when a service ends in one of these states (comma-separated, e.g.
    /// `invalid,conflict,quota`), so CI fails on tags that need fixing.
    #[arg(long, env = "ECS_INGRESS_FAIL_ON", value_delimiter = ',', value_name = "STATES",
          value_parser = ecs_ingress_core::status::parse_state)]
    pub fail_on: Vec<ecs_ingress_core::status::ServiceState>,
}

/// Output format for `plan` and `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `--policy`: what the controller may do to resources it owns (the names follow
/// external-dns); the planner's [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFlag {
    /// Create, update and delete.
    Sync,
    /// Create and update, never delete.
    UpsertOnly,
    /// Only create what is missing.
    CreateOnly,
}

impl From<PolicyFlag> for Policy {
    fn from(flag: PolicyFlag) -> Self {
        match flag {
            PolicyFlag::Sync => Policy::Sync,
            PolicyFlag::UpsertOnly => Policy::UpsertOnly,
            PolicyFlag::CreateOnly => Policy::CreateOnly,
        }
    }
}

/// A feature flag's value: `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

pub(crate) use crate::telemetry::logging::LogFormat;

/// Options shared by every subcommand. Raw values: [`Options::validate`] turns them into a
/// [`Config`].
#[derive(Debug, Args)]
pub struct Options {
    /// ECS cluster (name or ARN) whose services are watched. Repeatable.
    #[arg(long = "cluster", env = "ECS_INGRESS_CLUSTER", value_delimiter = ',', required = true,
          value_parser = parse_cluster)]
    pub clusters: Vec<String>,

    /// ALB listener as NAME=ARN, or a bare ARN which is named `default`. Services choose one
    /// with the alb.listener tag. Repeatable; a name given several times (each on another
    /// ALB, same port and protocol) is a pool whose services are spread by capacity.
    #[arg(long = "listener", env = "ECS_INGRESS_LISTENER", value_delimiter = ',', required = true,
          value_name = "NAME=ARN", value_parser = parse_listener)]
    pub listeners: Vec<ListenerArg>,

    /// Route 53 hosted zone id (with or without `/hostedzone/`) that ecs-ingress may write
    /// records in. Repeatable. Without one, no DNS records are managed.
    #[arg(long = "hosted-zone", env = "ECS_INGRESS_HOSTED_ZONE", value_delimiter = ',',
          value_name = "ZONE_ID", value_parser = parse_hosted_zone)]
    pub hosted_zones: Vec<String>,

    /// Cloud Map namespace (name or id) that ecs-ingress may register services in, for
    /// services tagged `cloudmap.namespace`. Repeatable. Without one, Cloud Map is not read.
    #[arg(long = "cloudmap-namespace", env = "ECS_INGRESS_CLOUDMAP_NAMESPACE", value_delimiter = ',',
          value_name = "NAME", value_parser = parse_cloudmap_namespace)]
    pub cloudmap_namespaces: Vec<String>,

    /// A hosted zone of another account, written through a role assumed there, as
    /// ZONE_ID=ROLE_ARN. The zone must be given with --hosted-zone too. Repeatable; every
    /// Route 53 call for that zone is signed with the role's credentials.
    #[arg(long = "zone-role", env = "ECS_INGRESS_ZONE_ROLE", value_delimiter = ',',
          value_name = "ZONE_ID=ROLE_ARN", value_parser = zone_roles::parse_zone_role)]
    pub zone_roles: Vec<ZoneRoleArg>,

    /// The ExternalId sent when assuming every --zone-role role (one value for all).
    #[arg(long = "zone-role-external-id", env = "ECS_INGRESS_ZONE_ROLE_EXTERNAL_ID",
          value_name = "ID", value_parser = zone_roles::parse_external_id)]
    pub zone_role_external_id: Option<String>,

    /// The role ECS uses to rewrite the production rule of services it deploys blue/green,
    /// linear or canary (`alb.deploy`): written into their `loadBalancers` entry. Without
    /// it, such services are `invalid`; others are unaffected.
    #[arg(long = "ecs-infrastructure-role-arn", env = "ECS_INGRESS_ECS_INFRASTRUCTURE_ROLE_ARN",
          value_name = "ROLE_ARN", value_parser = zone_roles::parse_role_arn)]
    pub ecs_infrastructure_role_arn: Option<String>,

    /// Identity written into ownership tags. Two controllers with different owner ids never
    /// touch each other's resources.
    #[arg(long, env = "ECS_INGRESS_OWNER_ID", default_value = "ecs-ingress",
          value_parser = parse_owner_id)]
    pub owner_id: String,

    /// Prefix in front of every routing key, e.g. `ingress/` reads `ingress/alb.host`.
    #[arg(long, env = "ECS_INGRESS_TAG_PREFIX", default_value = "",
          value_parser = parse_tag_prefix)]
    pub tag_prefix: String,

    /// Time between reconcile passes of `run` (jittered by up to 10%), e.g. `30s`, `2m`.
    #[arg(long, env = "ECS_INGRESS_INTERVAL", default_value = "30s",
          value_parser = parse_interval)]
    pub interval: Duration,

    /// Band of listener-rule priorities used for automatic priorities, as `LOW-HIGH`.
    /// Hand-made rules can sit outside it.
    #[arg(long, env = "ECS_INGRESS_PRIORITY_RANGE", default_value = "1000-49999",
          value_parser = parse_priority_range)]
    pub priority_range: PriorityRange,

    /// sync: create, update, delete; upsert-only: never delete; create-only: only create.
    #[arg(long, env = "ECS_INGRESS_POLICY", value_enum, default_value_t = PolicyFlag::Sync)]
    pub policy: PolicyFlag,

    /// Plan and log every change but make none. The variable takes true/false, 1/0, yes/no.
    #[arg(long, env = "ECS_INGRESS_DRY_RUN", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dry_run: bool,

    /// SQS queue fed by EventBridge with ECS and CloudTrail events: an event that names
    /// services reconciles just those within seconds (a targeted pass), others trigger a
    /// full pass (used by `run`).
    #[arg(long, env = "ECS_INGRESS_EVENTS_QUEUE_URL", value_parser = parse_queue_url)]
    pub events_queue_url: Option<String>,

    /// With --events-queue-url: time between full passes (the safety net for lost events),
    /// e.g. `10m` (the default). Without a queue the full pass runs every --interval.
    #[arg(long, env = "ECS_INGRESS_RESYNC_INTERVAL", value_parser = parse_interval)]
    pub resync_interval: Option<Duration>,

    /// Address of the admin HTTP server (/healthz, /readyz, /metrics, /status; used by `run`).
    #[arg(long, env = "ECS_INGRESS_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    pub admin_addr: SocketAddr,

    /// Log format; the level comes from RUST_LOG (default `info`).
    #[arg(long, env = "ECS_INGRESS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Share of each AWS API rate bucket this controller may use, in percent (1-100). The
    /// rest is left for the console, Terraform and CI, which share the same account buckets.
    #[arg(long, env = "ECS_INGRESS_RATE_SHARE", default_value_t = 50,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub rate_share: u8,

    /// on: keep the inbound rule that lets each published service's ALB reach its tasks
    /// (ip targets) on the service's security group (`alb.backend-sg`); off: no EC2 call,
    /// and rules made before are left as they are.
    #[arg(long, env = "ECS_INGRESS_BACKEND_SG_RULES", value_enum, default_value_t = Switch::On)]
    pub backend_sg_rules: Switch,

    /// on: on HTTPS listeners, attach for each published host an ISSUED ACM certificate
    /// covering it (`alb.tls`, `alb.certificate-arn`), and hold a host none covers; off: no
    /// ACM or listener-certificate call.
    #[arg(long, env = "ECS_INGRESS_LISTENER_CERTIFICATES", value_enum, default_value_t = Switch::On)]
    pub listener_certificates: Switch,

    /// `--leader-election-table`, `-lease`, `-id` (see `crate::lease`).
    #[command(flatten)]
    pub leader_election: crate::lease::settings::LeaderElectionArgs,

    /// `--max-rules-per-alb`, `--drain-listener`, ... (ALB pools).
    #[command(flatten)]
    pub pools: PoolArgs,
}

/// How the ALBs of a pool fill up and empty.
#[derive(Debug, Args)]
pub struct PoolArgs {
    /// Place at most this many rules on one ALB (across all its listeners, hand-made rules
    /// included), below the account's quota, to keep headroom for hand-made rules.
    #[arg(long, env = "ECS_INGRESS_MAX_RULES_PER_ALB", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_rules_per_alb: Option<u32>,

    /// Attach at most this many certificates besides the default to one ALB (across its
    /// listeners), below the account's quota (25 by default).
    #[arg(long, env = "ECS_INGRESS_MAX_CERTIFICATES_PER_ALB", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_certificates_per_alb: Option<u32>,

    /// Place at most this many target groups on one ALB (AWS's hard limit is 100).
    #[arg(long, env = "ECS_INGRESS_MAX_TARGET_GROUPS_PER_ALB", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_target_groups_per_alb: Option<u32>,

    /// A pool member that should empty: no new placements, and its services move to the
    /// pool's other ALBs without downtime. Repeatable.
    #[arg(long = "drain-listener", env = "ECS_INGRESS_DRAIN_LISTENER", value_delimiter = ',',
          value_name = "ARN", value_parser = parse_listener_arn)]
    pub drain_listeners: Vec<String>,

    /// Let a pool grow to N ALBs (the given ones included) as NAME=N: when none has room,
    /// ecs-ingress creates one cloned from the pool's first ALB. Repeatable.
    #[arg(long = "pool-max-albs", env = "ECS_INGRESS_POOL_MAX_ALBS", value_delimiter = ',',
          value_name = "NAME=N", value_parser = parse_pool_max)]
    pub pool_max_albs: Vec<(String, usize)>,

    /// An ALB ecs-ingress created is deleted once it has held no rules this long.
    #[arg(long, env = "ECS_INGRESS_POOL_SCALE_IN_AFTER", default_value = "1h",
          value_parser = parse_interval)]
    pub pool_scale_in_after: Duration,

    /// How long a moved service's old ALB keeps routing after its DNS records point at the
    /// new one, so resolvers' cached answers still reach it. Default: twice the record's
    /// TTL (an alias record counts 60 s).
    #[arg(long, env = "ECS_INGRESS_DNS_DRAIN", value_parser = parse_interval)]
    pub dns_drain: Option<Duration>,
}

/// A `--listener` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerArg {
    pub name: String,
    pub arn: String,
}

pub use crate::plan::{Policy, PoolSettings, PriorityRange};

/// Validated configuration the rest of the program runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub clusters: Vec<String>,
    /// Listener name → its first (home) listener's ARN; the whole pool is in `pools`.
    pub listeners: BTreeMap<String, String>,
    pub pools: PoolSettings,
    pub hosted_zones: Vec<String>,
    /// Zones written through an assumed role: zone id → role ARN.
    pub zone_roles: BTreeMap<String, String>,
    pub zone_role_external_id: Option<String>,
    /// Cloud Map namespace names or ids.
    pub cloudmap_namespaces: Vec<String>,
    pub ecs_infrastructure_role_arn: Option<String>,
    pub owner_id: String,
    pub tag_prefix: String,
    pub interval: Duration,
    pub priority_range: PriorityRange,
    pub policy: Policy,
    pub dry_run: bool,
    pub events_queue_url: Option<String>,
    /// Time between full passes when events drive targeted passes (`Some` only with an
    /// events queue); without a queue every pass is full, every `interval`.
    pub resync_interval: Option<Duration>,
    pub admin_addr: SocketAddr,
    pub log_format: LogFormat,
    pub rate_share: u8,
    /// `--backend-sg-rules on`.
    pub backend_sg_rules: bool,
    /// `--listener-certificates on`.
    pub listener_certificates: bool,
    /// `--max-certificates-per-alb`.
    pub max_certificates_per_alb: Option<usize>,
    /// `None`: a single replica that always writes.
    pub leader_election: Option<crate::lease::settings::LeaseSettings>,
}

impl Config {
    /// The start-up line, with the configuration a reader of the log needs.
    pub fn log_started(&self) {
        let listeners: Vec<String> = self
            .pools
            .members
            .iter()
            .flat_map(|(name, arns)| arns.iter().map(move |arn| format!("{name}={arn}")))
            .collect();
        tracing::info!(
            addr = %self.admin_addr,
            owner_id = %self.owner_id,
            clusters = %crate::telemetry::logging::list(&self.clusters),
            listeners = %crate::telemetry::logging::list(&listeners),
            hosted_zones = %crate::telemetry::logging::list(&self.hosted_zones),
            zone_roles = %crate::telemetry::logging::list(
                &self
                    .zone_roles
                    .iter()
                    .map(|(zone, role)| format!("{zone}={role}"))
                    .collect::<Vec<_>>()
            ),
            dry_run = self.dry_run,
            "ecs-ingress started"
        );
    }

    /// The status page's header: this configuration as an operator reads it.
    pub fn page_header(&self) -> crate::status::page::Header {
        crate::status::page::Header {
            version: env!("CARGO_PKG_VERSION").into(),
            owner_id: self.owner_id.clone(),
            clusters: self.clusters.clone(),
            listeners: self
                .pools
                .members
                .iter()
                .flat_map(|(name, arns)| arns.iter().map(move |arn| format!("{name} = {arn}")))
                .collect(),
            interval: humantime::format_duration(self.interval).to_string(),
            dry_run: self.dry_run,
            leader: None,
        }
    }

    /// The accounts the watched services live in, from the listeners' and the clusters'
    /// ARNs (a cluster given by name adds none).
    pub fn accounts(&self) -> std::collections::BTreeSet<String> {
        let listeners = self.pools.members.values().flatten();
        listeners
            .chain(&self.clusters)
            .filter_map(|arn| crate::ownership::arn_account(arn))
            .map(str::to_string)
            .collect()
    }

    /// What `--zone-role` asks of the AWS adapters.
    pub fn zone_role_settings(&self) -> crate::aws::zone_roles::ZoneRoleSettings {
        crate::aws::zone_roles::ZoneRoleSettings {
            roles: self.zone_roles.clone(),
            external_id: self.zone_role_external_id.clone(),
            session_name: crate::aws::sts::session_name(&self.owner_id),
        }
    }

    /// What the planner needs of it, in the planner's own terms.
    pub fn plan_config(&self) -> crate::plan::PlanConfig {
        crate::plan::PlanConfig {
            ownership: crate::ownership::Ownership::new(&self.owner_id)
                .in_accounts(self.accounts()),
            pools: self.pools.clone(),
            clusters: self.clusters.clone(),
            priority_range: self.priority_range,
            policy: self.policy,
            hosted_zones: self.hosted_zones.clone(),
            cloudmap_namespaces: self.cloudmap_namespaces.clone(),
            ecs_infrastructure_role_arn: self.ecs_infrastructure_role_arn.clone(),
            max_certificates_per_alb: self.max_certificates_per_alb,
        }
    }
}

/// A configuration that parses flag by flag but does not hold together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "--listener {arn} is given twice (as `{first}` and as `{second}`); a listener of a pool belongs to that pool alone"
    )]
    DuplicateListener {
        arn: String,
        first: String,
        second: String,
    },
    #[error(
        "--drain-listener {arn}: not a listener given with --listener; only a pool member can drain"
    )]
    DrainUnknownListener { arn: String },
    #[error(
        "--drain-listener {arn}: every listener of pool `{pool}` would drain, leaving its services nowhere to go"
    )]
    DrainEmptiesPool { arn: String, pool: String },
    #[error(
        "--listener {pool}=...: a pool of several ALBs moves names between them, which needs --hosted-zone"
    )]
    PoolNeedsHostedZone { pool: String },
    #[error("--pool-max-albs {pool}={max}: no --listener is named `{pool}` (known: {known})")]
    PoolMaxUnknownPool {
        pool: String,
        max: usize,
        known: String,
    },
    #[error(
        "--pool-max-albs {pool}={max}: the pool already has {given} listeners; give at least {given}"
    )]
    PoolMaxBelowGiven {
        pool: String,
        max: usize,
        given: usize,
    },
    #[error(
        "--resync-interval needs --events-queue-url: without a queue every pass is a full pass, every --interval"
    )]
    ResyncWithoutQueue,
    #[error(
        "--zone-role {zone}={role_arn}: zone {zone} is not given with --hosted-zone; a role is only used for a managed zone"
    )]
    ZoneRoleUnknownZone { zone: String, role_arn: String },
    #[error(
        "--zone-role: zone {zone} is given two roles ({first} and {second}); a zone is written through one role"
    )]
    ZoneGivenTwoRoles {
        zone: String,
        first: String,
        second: String,
    },
}

/// Full passes run this often when an events queue feeds targeted passes.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(600);

impl Config {
    /// The longest the daemon goes between passes when nothing happens: the resync
    /// interval with an events queue, the pass interval without. Health and alerts scale
    /// with it.
    pub fn pass_gap(&self) -> Duration {
        self.resync_interval
            .map_or(self.interval, |r| r.max(self.interval))
    }
}

/// The name a cluster is known by: `main` and `arn:aws:ecs:...:cluster/main` are one.
pub fn cluster_name(cluster: &str) -> &str {
    match cluster.split_once(":cluster/") {
        Some((_, name)) => name,
        None => cluster,
    }
}

/// Clusters deduplicated by name, in the order first given: a cluster named twice (as a
/// name and as an ARN, or repeated in a list) is read once, so its services are never seen
/// twice.
pub fn canonical_clusters(clusters: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    clusters
        .into_iter()
        .filter(|c| seen.insert(cluster_name(c).to_string()))
        .collect()
}

impl Options {
    /// Checks what single-flag parsers cannot: cross-flag consistency.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let max_certificates_per_alb = self
            .pools
            .max_certificates_per_alb
            .and_then(|n| usize::try_from(n).ok());
        let pools = pool_settings(self.listeners, self.pools, &self.hosted_zones)?;
        let listeners = pools
            .members
            .iter()
            .map(|(name, members)| (name.clone(), members[0].clone()))
            .collect();
        let clusters = canonical_clusters(self.clusters);
        let mut hosted_zones = self.hosted_zones;
        hosted_zones.sort();
        hosted_zones.dedup();
        let zone_roles = zone_roles::zone_roles(self.zone_roles, &hosted_zones)?;
        let mut cloudmap_namespaces = self.cloudmap_namespaces;
        cloudmap_namespaces.sort();
        cloudmap_namespaces.dedup();
        let resync_interval = match (&self.events_queue_url, self.resync_interval) {
            (Some(_), given) => Some(given.unwrap_or(DEFAULT_RESYNC_INTERVAL)),
            (None, Some(_)) => return Err(ConfigError::ResyncWithoutQueue),
            (None, None) => None,
        };
        Ok(Config {
            clusters,
            listeners,
            pools,
            hosted_zones,
            zone_roles,
            zone_role_external_id: self.zone_role_external_id,
            cloudmap_namespaces,
            ecs_infrastructure_role_arn: self.ecs_infrastructure_role_arn,
            owner_id: self.owner_id,
            tag_prefix: self.tag_prefix,
            interval: self.interval,
            priority_range: self.priority_range,
            policy: self.policy.into(),
            dry_run: self.dry_run,
            events_queue_url: self.events_queue_url,
            resync_interval,
            admin_addr: self.admin_addr,
            log_format: self.log_format,
            rate_share: self.rate_share,
            backend_sg_rules: self.backend_sg_rules == Switch::On,
            listener_certificates: self.listener_certificates == Switch::On,
            max_certificates_per_alb,
            leader_election: self.leader_election.settings(),
        })
    }
}

/// Groups `--listener` values by name into pools and checks the pool flags against them.
fn pool_settings(
    listeners: Vec<ListenerArg>,
    args: PoolArgs,
    hosted_zones: &[String],
) -> Result<PoolSettings, ConfigError> {
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Listener → the first name it was given under. Two names for one listener (aliases,
    // as before pools) stay allowed; a listener in a pool of several belongs to that pool.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut aliases: Vec<(String, String, String)> = Vec::new();
    for ListenerArg { name, arn } in listeners {
        match seen.get(&arn) {
            Some(first) if *first == name => {
                return Err(ConfigError::DuplicateListener {
                    arn,
                    first: first.clone(),
                    second: name,
                });
            }
            Some(first) => aliases.push((arn.clone(), first.clone(), name.clone())),
            None => {
                seen.insert(arn.clone(), name.clone());
            }
        }
        members.entry(name).or_default().push(arn);
    }
    if let Some((arn, first, second)) = aliases
        .into_iter()
        .find(|(_, a, b)| members[a].len() > 1 || members[b].len() > 1)
    {
        return Err(ConfigError::DuplicateListener { arn, first, second });
    }
    let mut max_albs = BTreeMap::new();
    for (pool, max) in args.pool_max_albs {
        let Some(given) = members.get(&pool).map(Vec::len) else {
            let known: Vec<&str> = members.keys().map(String::as_str).collect();
            return Err(ConfigError::PoolMaxUnknownPool {
                pool,
                max,
                known: known.join(", "),
            });
        };
        if max < given {
            return Err(ConfigError::PoolMaxBelowGiven { pool, max, given });
        }
        max_albs.insert(pool, max);
    }
    let draining: BTreeSet<String> = args.drain_listeners.into_iter().collect();
    for arn in &draining {
        let Some(pool) = seen.get(arn) else {
            return Err(ConfigError::DrainUnknownListener { arn: arn.clone() });
        };
        let grows = max_albs.get(pool).is_some_and(|&m| m > members[pool].len());
        if !grows && members[pool].iter().all(|m| draining.contains(m)) {
            return Err(ConfigError::DrainEmptiesPool {
                arn: arn.clone(),
                pool: pool.clone(),
            });
        }
    }
    if hosted_zones.is_empty()
        && let Some((pool, _)) = members
            .iter()
            .find(|(name, m)| m.len() > 1 || max_albs.get(*name).is_some_and(|&n| n > 1))
    {
        return Err(ConfigError::PoolNeedsHostedZone { pool: pool.clone() });
    }
    Ok(PoolSettings {
        members,
        max_rules_per_alb: args.max_rules_per_alb.map(|n| n as usize),
        max_target_groups_per_alb: args.max_target_groups_per_alb.map(|n| n as usize),
        draining,
        dns_drain: args.dns_drain,
        max_albs,
        scale_in_after: args.pool_scale_in_after,
    })
}

fn parse_pool_max(value: &str) -> Result<(String, usize), String> {
    let err = || {
        format!(
            "`{value}` is not NAME=N (a listener name and how many ALBs its pool may have, 1-100)"
        )
    };
    let (name, n) = value.trim().split_once('=').ok_or_else(err)?;
    let n: usize = n.trim().parse().map_err(|_| err())?;
    if !is_listener_name(name.trim()) || !(1..=100).contains(&n) {
        return Err(err());
    }
    Ok((name.trim().to_string(), n))
}

fn parse_listener_arn(value: &str) -> Result<String, String> {
    let arn = value.trim();
    if is_listener_arn(arn) {
        Ok(arn.to_string())
    } else {
        Err(format!(
            "`{arn}` is not an ALB listener ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID)"
        ))
    }
}

fn parse_cluster(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("cluster name must not be empty".into());
    }
    if value.starts_with("arn:") {
        if !value.contains(":cluster/") {
            return Err(format!(
                "`{value}` is an ARN but not an ECS cluster ARN (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME)"
            ));
        }
        return Ok(value.to_string());
    }
    if value.len() > 255
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{value}` is not an ECS cluster name: up to 255 letters, digits, `-` and `_`, or a cluster ARN"
        ));
    }
    Ok(value.to_string())
}

pub(crate) use crate::model::{is_listener_arn, is_listener_name};

fn parse_listener(value: &str) -> Result<ListenerArg, String> {
    let value = value.trim();
    let (name, arn) = match value.split_once('=') {
        Some((name, arn)) => (name.trim(), arn.trim()),
        None => ("default", value),
    };
    if !is_listener_name(name) {
        return Err(format!(
            "listener name `{name}` must be 1-64 letters, digits, `-`, `_` or `.` (it is used in alb.listener tags)"
        ));
    }
    if !is_listener_arn(arn) {
        return Err(format!(
            "`{arn}` is not an ALB listener ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID); \
             expected NAME=ARN or a bare ARN"
        ));
    }
    Ok(ListenerArg {
        name: name.to_string(),
        arn: arn.to_string(),
    })
}

fn parse_hosted_zone(value: &str) -> Result<String, String> {
    let id = value.trim();
    let id = id.strip_prefix("/hostedzone/").unwrap_or(id);
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "`{value}` is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ, with or without /hostedzone/)"
        ));
    }
    Ok(id.to_ascii_uppercase())
}

fn parse_cloudmap_namespace(value: &str) -> Result<String, String> {
    let v = value.trim().trim_end_matches('.');
    let ok = !v.is_empty()
        && v.len() <= 1024
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "`{value}` is not a Cloud Map namespace name or id (letters, digits, `-`, `_`, `.`)"
        ))
    }
}

fn parse_owner_id(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_string())
    } else {
        Err("owner id must be 1-64 letters, digits, `-`, `_` or `.`".into())
    }
}

fn parse_tag_prefix(value: &str) -> Result<String, String> {
    // AWS tag keys allow letters, digits, spaces and `_ . : / = + - @`; the prefix leaves
    // room for the longest routing key within the 128-character key limit.
    let ok = value.len() <= 64
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
        });
    if ok {
        Ok(value.to_string())
    } else {
        Err(
            "tag prefix must be at most 64 letters, digits or `_ . : / = + - @` (e.g. `ingress/`)"
                .into(),
        )
    }
}

fn parse_interval(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value.trim())
        .map_err(|e| format!("`{value}` is not a duration like 30s or 2m: {e}"))?;
    if duration < Duration::from_secs(1) || duration > Duration::from_secs(24 * 3600) {
        return Err(format!("`{value}`: interval must be between 1s and 24h"));
    }
    Ok(duration)
}

fn parse_priority_range(value: &str) -> Result<PriorityRange, String> {
    let err = || {
        format!(
            "`{value}` is not a priority range: expected LOW-HIGH with 1 <= LOW <= HIGH <= 50000"
        )
    };
    let (low, high) = value.trim().split_once('-').ok_or_else(err)?;
    let low: u32 = low.trim().parse().map_err(|_| err())?;
    let high: u32 = high.trim().parse().map_err(|_| err())?;
    if low == 0 || low > high || high > 50_000 {
        return Err(err());
    }
    Ok(PriorityRange { low, high })
}

fn parse_queue_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value.to_string())
    } else {
        Err(format!(
            "`{value}` is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/internal/50dc6c495c0c9188/f2f7dc8efc522ab2";

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut full = vec!["ecs-ingress"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full)
    }

    fn options(args: &[&str]) -> Options {
        match parse(args).expect("arguments parse").command {
            Command::Run(o) => o,
            Command::Plan(p) | Command::Apply(p) => p.options,
            Command::Healthcheck(_) => panic!("not a controller command"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_listener_arn_is_named_default() {
        let o = options(&["run", "--cluster", "main", "--listener", ARN]);
        assert_eq!(
            o.listeners,
            vec![ListenerArg {
                name: "default".into(),
                arn: ARN.into()
            }]
        );
    }

    #[test]
    fn named_listener_and_defaults() {
        let o = options(&[
            "apply",
            "--cluster",
            "main",
            "--listener",
            &format!("internal={ARN}"),
        ]);
        assert_eq!(o.listeners[0].name, "internal");
        assert_eq!(o.owner_id, "ecs-ingress");
        assert_eq!(o.interval, Duration::from_secs(30));
        assert_eq!(
            o.priority_range,
            PriorityRange {
                low: 1000,
                high: 49999
            }
        );
        assert_eq!(o.policy, PolicyFlag::Sync);
        assert_eq!(o.admin_addr, "0.0.0.0:8080".parse().expect("addr"));
        assert_eq!(o.rate_share, 50);
    }

    #[test]
    fn hosted_zone_accepts_both_forms() {
        let o = options(&[
            "plan",
            "--cluster",
            "main",
            "--listener",
            ARN,
            "--hosted-zone",
            "/hostedzone/Z0ABC",
            "--hosted-zone",
            "z0def",
        ]);
        assert_eq!(o.hosted_zones, vec!["Z0ABC", "Z0DEF"]);
    }

    #[test]
    fn bad_values_are_rejected_with_the_reason() {
        let cases: &[(&[&str], &str)] = &[
            (&["--listener", "not-an-arn"], "is not an ALB listener ARN"),
            (&["--listener", "bad name=x"], "listener name `bad name`"),
            (
                &["--hosted-zone", "Z12-3"],
                "is not a Route 53 hosted zone id",
            ),
            (&["--interval", "soon"], "is not a duration"),
            (&["--interval", "10ms"], "between 1s and 24h"),
            (&["--priority-range", "10-5"], "is not a priority range"),
            (&["--priority-range", "0-5"], "is not a priority range"),
            (&["--priority-range", "1-50001"], "is not a priority range"),
            (&["--policy", "yolo"], "invalid value 'yolo'"),
            (&["--owner-id", "a b"], "owner id must be"),
            (&["--tag-prefix", "a*"], "tag prefix must be"),
            (&["--rate-share", "0"], "--rate-share"),
            (&["--events-queue-url", "queue"], "is not an SQS queue URL"),
            (&["--resync-interval", "0s"], "between 1s and 24h"),
        ];
        for (extra, expected) in cases {
            let mut args = vec!["run", "--cluster", "main", "--listener", ARN];
            args.extend_from_slice(extra);
            let err = parse(&args).expect_err("must be rejected").to_string();
            assert!(
                err.contains(expected),
                "{extra:?}: `{err}` lacks `{expected}`"
            );
        }
    }

    #[test]
    fn cluster_and_listener_are_required() {
        let err = parse(&["run", "--listener", ARN]).expect_err("no cluster");
        assert!(err.to_string().contains("--cluster"), "{err}");
        let err = parse(&["run", "--cluster", "main"]).expect_err("no listener");
        assert!(err.to_string().contains("--listener"), "{err}");
    }

    #[test]
    fn a_cluster_named_twice_is_read_once() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:cluster/dup";
        let config = options(&[
            "run",
            "--cluster",
            "dup",
            "--cluster",
            arn,
            "--cluster",
            "c1,dup",
            "--listener",
            ARN,
        ])
        .validate()
        .expect("valid");
        assert_eq!(config.clusters, vec!["dup".to_string(), "c1".to_string()]);
        assert_eq!(cluster_name(arn), "dup");
    }

    fn arn(lb: &str) -> String {
        ARN.replace(
            "internal/50dc6c495c0c9188",
            &format!("{lb}/50dc6c495c0c9188"),
        )
    }

    #[test]
    fn resync_defaults_to_ten_minutes_with_a_queue_and_needs_one() {
        const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/events";
        let base = ["run", "--cluster", "main", "--listener", ARN];
        let with_queue = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(&["--events-queue-url", QUEUE]);
            args.extend_from_slice(extra);
            options(&args).validate().expect("valid")
        };
        let config = with_queue(&[]);
        assert_eq!(config.resync_interval, Some(DEFAULT_RESYNC_INTERVAL));
        assert_eq!(config.pass_gap(), DEFAULT_RESYNC_INTERVAL);
        let config = with_queue(&["--resync-interval", "1h"]);
        assert_eq!(config.resync_interval, Some(Duration::from_secs(3600)));
        let polling = options(&base).validate().expect("valid");
        assert_eq!(polling.resync_interval, None);
        assert_eq!(polling.pass_gap(), Duration::from_secs(30));
        let mut args = base.to_vec();
        args.extend_from_slice(&["--resync-interval", "1h"]);
        let err = options(&args).validate().expect_err("no queue");
        assert_eq!(err, ConfigError::ResyncWithoutQueue);
        assert!(err.to_string().contains("--events-queue-url"), "{err}");
    }

    #[test]
    fn a_name_given_several_times_is_a_pool() {
        let (a, b) = (arn("a"), arn("b"));
        let config = options(&[
            "run",
            "--cluster",
            "main",
            "--hosted-zone",
            "Z1",
            "--listener",
            &format!("internal={a}"),
            "--listener",
            &format!("internal={b}"),
            "--listener",
            &format!("other={ARN}"),
            "--max-rules-per-alb",
            "80",
            "--drain-listener",
            &b,
        ])
        .validate()
        .expect("valid");
        assert_eq!(config.pools.members["internal"], vec![a.clone(), b.clone()]);
        assert_eq!(config.listeners["internal"], a);
        assert_eq!(config.pools.pool_of(&b), Some("internal"));
        assert_eq!(config.pools.max_rules_per_alb, Some(80));
        assert!(config.pools.draining.contains(&b));
        assert_eq!(config.pools.listener_arns().len(), 3);
    }

    #[test]
    fn one_listener_under_two_names_is_still_allowed() {
        let config = options(&[
            "run",
            "--cluster",
            "main",
            "--listener",
            ARN,
            "--listener",
            &format!("internal={ARN}"),
        ])
        .validate()
        .expect("aliases");
        assert_eq!(config.listeners["default"], ARN);
        assert_eq!(config.listeners["internal"], ARN);
    }

    #[test]
    fn inconsistent_pool_flags_are_rejected_naming_the_flag() {
        let (a, b) = (arn("a"), arn("b"));
        let cases: Vec<(Vec<String>, &str)> = vec![
            (
                vec![format!("x={a}"), format!("x={b}"), format!("y={a}")],
                "is given twice (as `x` and as `y`)",
            ),
            (
                vec![format!("x={a}"), format!("x={a}")],
                "is given twice (as `x` and as `x`)",
            ),
            (
                vec![format!("x={a}"), "--drain-listener".into(), b.clone()],
                "--drain-listener",
            ),
            (
                vec![format!("x={a}"), "--drain-listener".into(), a.clone()],
                "every listener of pool `x` would drain",
            ),
            (
                vec![format!("x={a}"), "--pool-max-albs".into(), "y=3".into()],
                "--pool-max-albs y=3: no --listener is named `y` (known: x)",
            ),
            (
                vec![
                    format!("x={a}"),
                    format!("x={b}"),
                    "--pool-max-albs".into(),
                    "x=1".into(),
                ],
                "the pool already has 2 listeners",
            ),
        ];
        for (listeners, expected) in cases {
            let mut args: Vec<String> = ["run", "--cluster", "main", "--hosted-zone", "Z1"]
                .map(String::from)
                .to_vec();
            let mut iter = listeners.into_iter();
            while let Some(v) = iter.next() {
                if v.starts_with("--") {
                    args.push(v);
                    args.extend(iter.next());
                } else {
                    args.push("--listener".into());
                    args.push(v);
                }
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let err = options(&argv).validate().expect_err(expected).to_string();
            assert!(err.contains(expected), "`{err}` lacks `{expected}`");
        }
        let no_zone = options(&[
            "run",
            "--cluster",
            "main",
            "--listener",
            &format!("p={a}"),
            "--listener",
            &format!("p={b}"),
        ]);
        let err = no_zone.validate().expect_err("no zone").to_string();
        assert!(err.contains("needs --hosted-zone"), "{err}");
    }

    #[test]
    fn every_flag_names_its_environment_variable() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                if arg.get_id() == "help" || arg.get_id() == "version" {
                    continue;
                }
                let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
                assert!(
                    env.starts_with("ECS_INGRESS_"),
                    "{} --{} has no ECS_INGRESS_ variable",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
