//! Intent + the listener's ALB → the resources a service should have.

use std::borrow::Cow;
use std::sync::Arc;

use crate::shared_str::SharedStr;

use rustc_hash::FxHashMap;

use crate::model::{AttributesIntent, HealthCheckIntent, Intent, Protocol, Stickiness};
use crate::ownership::Ownership;
use crate::ownership::naming::{TargetGroupIdentity, target_group_name, target_group_names};
use crate::state::{
    EcsService, HealthCheck, LoadBalancer, Tags, TargetGroupAttributes, TargetGroupSpec,
};

/// ALB's limit on condition values in one rule (hosts + paths together).
pub const MAX_CONDITION_VALUES: usize = 5;
/// ALB's limit on values in one condition (the hosts of a host-header condition, the paths
/// of a path-pattern one). Wildcards are limited to 5 per rule, which 5 values never exceed
/// by more than their own `*`s: see [`split_conditions`].
pub const MAX_VALUES_PER_CONDITION: usize = 3;
/// ALB's limit on wildcards (`*`, `?`) in one rule.
pub const MAX_WILDCARDS_PER_RULE: usize = 5;

/// Attribute keys ecs-ingress manages, with AWS's defaults for an ALB target group.
pub const ATTRIBUTE_DEFAULTS: &[(&str, &str)] = &[
    ("deregistration_delay.timeout_seconds", "300"),
    ("slow_start.duration_seconds", "0"),
    ("stickiness.enabled", "false"),
    ("stickiness.type", "lb_cookie"),
    ("stickiness.lb_cookie.duration_seconds", "86400"),
];

/// The ownership key of the test rule of a service ECS deploys itself (`alb.test-host`).
pub const TEST_RULE: &str = "test-0";

/// One listener rule a service should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRule<'a> {
    /// `rule-0`, `rule-1`, ...: stable identity within the service (ownership tag).
    /// Borrowed for the first ten (a service seldom needs more rules): every pass builds
    /// every winner's rules.
    pub key: Cow<'static, str>,
    /// Borrowed from the intent when one rule holds them all (most services): every pass
    /// builds every winner's rules.
    pub hosts: Values<'a>,
    pub paths: Values<'a>,
    /// From `alb.priority` (+ the rule's index when the service needs several rules).
    pub explicit_priority: Option<u32>,
}

/// A rule condition's values: borrowed from the intent, or a chunk of them.
pub type Values<'a> = Cow<'a, [String]>;

/// Everything a published service should have.
#[derive(Debug, Clone)]
pub struct DesiredService<'a> {
    pub service: &'a EcsService,
    pub intent: &'a Intent,
    /// The pool (listener name) it is placed in.
    pub pool: String,
    /// Where hosts and explicit priorities are claimed: the pool's first listener. DNS
    /// points a host at one ALB of the pool, and two names for one listener share it.
    pub claim_scope: String,
    /// Borrowed from the snapshot: every winner has them, and few changes name them.
    pub listener_arn: &'a str,
    pub load_balancer_arn: &'a SharedStr,
    pub target_group: TargetGroupSpec,
    /// The name its group takes on this ALB when the name a pool's first listener gives
    /// (`target_group.name`) is held by its group on another ALB: AWS lets a target group
    /// serve one ALB, so a move between pools' first listeners needs a second name.
    /// `None` when `target_group.name` is already this ALB's own.
    pub alb_group_name: Option<String>,
    pub rules: Vec<DesiredRule<'a>>,
    /// Where it is published now, while it moves to `listener_arn` (another ALB of its pool).
    pub previous: Option<Previous>,
    /// Its place in a rule shared by weight (`alb.weight`).
    pub weighted: Weighted,
}

/// `alb.weight`: the place of a service in a rule it shares with other weighted services.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Weighted {
    #[default]
    No,
    /// The oldest: its rule forwards to the members' groups too, with these weights
    /// (service ARN, weight), its own first.
    Owner { members: Vec<(String, u16)> },
    /// Its group is in the owner's rule; it has no rule of its own.
    Member { owner: String },
}

/// The ALB a moving service leaves, and how far the move got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub listener_arn: String,
    pub load_balancer_arn: String,
    /// Its names point at the new ALB already: they never go back.
    pub switched: bool,
    /// Its names point at the new ALB and resolvers' cached answers have expired: the old
    /// rules and target group can go (once the new group has a healthy target).
    pub drained: bool,
    /// The ALB it leaves is no longer given with `--listener`.
    pub departed: bool,
    /// Clients reach it there through a name held for other services only: it stays
    /// until that name can move (a person fixes or untags them).
    pub held_for_others: bool,
}

/// Where a candidate is placed: a pool member and whether it is the pool's first (whose
/// target groups keep the names a single listener gives them).
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub listener_arn: &'a str,
    pub load_balancer: &'a LoadBalancer,
    pub home: bool,
}

use crate::ownership::TARGET_GROUP_RESOURCE;

/// The tags a target group of `service_arn` is created with: whose it is, and when (`now`,
/// the pass's read of AWS's clock).
pub fn creation_tags(ownership: &Ownership, service_arn: &str, now: i64) -> Tags {
    // The owner's tags and one more, in one map: a packed map is rewritten by every insert.
    ownership.tags_and(
        service_arn,
        TARGET_GROUP_RESOURCE,
        (crate::ownership::CREATED_TAG, &now.to_string()),
    )
}

/// The second group of a service ECS deploys blue/green: the primary's settings under the
/// alternate name.
pub fn alternate_spec(primary: &TargetGroupSpec) -> TargetGroupSpec {
    TargetGroupSpec {
        name: crate::ownership::naming::alternate_target_group_name(&primary.name),
        ..primary.clone()
    }
}

pub fn health_check(intent: &Intent) -> HealthCheck {
    let hc = &intent.health_check;
    HealthCheck {
        protocol: intent.protocol.as_str().into(),
        path: hc.path.as_str().into(),
        port: hc.port.to_string().into(),
        interval_seconds: i32::from(hc.interval),
        timeout_seconds: i32::from(hc.timeout),
        healthy_threshold: i32::from(hc.healthy_threshold),
        unhealthy_threshold: i32::from(hc.unhealthy_threshold),
        matcher: hc.matcher.as_str().into(),
    }
}

/// The attributes to compare and write. With stickiness off only `stickiness.enabled`
/// matters: a cookie duration left over from an earlier setting is harmless.
pub fn attributes(intent: &Intent) -> TargetGroupAttributes {
    let a = &intent.attributes;
    let mut out = vec![
        (
            "deregistration_delay.timeout_seconds".to_string(),
            a.deregistration_delay.to_string(),
        ),
        (
            "slow_start.duration_seconds".to_string(),
            a.slow_start.to_string(),
        ),
    ];
    match a.stickiness {
        Stickiness::Off => out.push(("stickiness.enabled".into(), "false".into())),
        Stickiness::LbCookie { seconds } => out.extend([
            ("stickiness.enabled".into(), "true".into()),
            ("stickiness.type".into(), "lb_cookie".into()),
            (
                "stickiness.lb_cookie.duration_seconds".into(),
                seconds.to_string(),
            ),
        ]),
    }
    // Collected, not inserted one by one: a packed map is rewritten by every insert.
    out.into_iter().collect()
}

/// The attributes a freshly created group lacks: only these need a call after creation.
pub fn non_default_attributes(attributes: &TargetGroupAttributes) -> TargetGroupAttributes {
    attributes
        .iter()
        .filter(|(k, v)| !ATTRIBUTE_DEFAULTS.iter().any(|(dk, dv)| dk == k && dv == v))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Splits hosts × paths into rules within ALB's limits — at most
/// [`MAX_VALUES_PER_CONDITION`] hosts and as many paths, [`MAX_CONDITION_VALUES`] values and
/// [`MAX_WILDCARDS_PER_RULE`] wildcards per rule — choosing the split that needs the fewest
/// rules. A rule matches when any of its hosts and any of its paths match, so covering every
/// (host chunk, path chunk) pair routes exactly the same requests as one big rule would.
pub fn split_conditions(hosts: &[String], paths: &[String]) -> Vec<(Vec<String>, Vec<String>)> {
    // Most services fit one rule: no split can need fewer, so the search below (dozens of
    // trial splits, each copying the values) is skipped. It finds the same single rule.
    if fits_one_rule(hosts, paths) {
        return vec![(hosts.to_vec(), paths.to_vec())];
    }
    search_split(hosts, paths)
}

/// One rule can hold every host and path: within every limit of [`split_conditions`].
fn fits_one_rule(hosts: &[String], paths: &[String]) -> bool {
    !hosts.is_empty()
        && hosts.len() <= MAX_VALUES_PER_CONDITION
        && paths.len() <= MAX_VALUES_PER_CONDITION
        && hosts.len() + paths.len() <= MAX_CONDITION_VALUES
        && hosts
            .iter()
            .chain(paths)
            .map(|v| wildcards(v))
            .sum::<usize>()
            <= MAX_WILDCARDS_PER_RULE
}

/// The rules `intent`'s hosts and paths need ([`split_conditions`]), borrowing them when
/// one rule holds them all.
fn conditions(intent: &Intent) -> Vec<(Values<'_>, Values<'_>)> {
    if fits_one_rule(&intent.hosts, &intent.paths) {
        return vec![(
            Cow::Borrowed(&intent.hosts[..]),
            Cow::Borrowed(&intent.paths[..]),
        )];
    }
    search_split(&intent.hosts, &intent.paths)
        .into_iter()
        .map(|(hosts, paths)| (Cow::Owned(hosts), Cow::Owned(paths)))
        .collect()
}

/// The split needing the fewest rules, by trying every chunk size and wildcard budget.
fn search_split(hosts: &[String], paths: &[String]) -> Vec<(Vec<String>, Vec<String>)> {
    let path_sizes: Vec<usize> = if paths.is_empty() {
        vec![0]
    } else {
        (1..=MAX_VALUES_PER_CONDITION).collect()
    };
    // (rules, host chunks, path chunks)
    let mut best: Option<(usize, Chunks, Chunks)> = None;
    for host_size in (1..=MAX_VALUES_PER_CONDITION).rev() {
        for &path_size in &path_sizes {
            if host_size + path_size > MAX_CONDITION_VALUES {
                continue;
            }
            for host_wildcards in 0..=MAX_WILDCARDS_PER_RULE {
                let path_wildcards = MAX_WILDCARDS_PER_RULE - host_wildcards;
                let (Some(h), Some(p)) = (
                    chunk(hosts, host_size, host_wildcards),
                    chunk(paths, path_size.max(1), path_wildcards),
                ) else {
                    continue;
                };
                let rules = h.len() * p.len().max(1);
                if best.as_ref().is_none_or(|(n, _, _)| rules < *n) {
                    best = Some((rules, h, p));
                }
            }
        }
    }
    // Only a single value with more wildcards than a rule allows gets here: one value per
    // rule, and AWS's answer names it.
    let (_, host_chunks, path_chunks) = best.unwrap_or_else(|| {
        let one = |v: &[String]| v.iter().map(|x| vec![x.clone()]).collect::<Vec<_>>();
        (0, one(hosts), one(paths))
    });
    let mut out = Vec::new();
    for h in &host_chunks {
        if path_chunks.is_empty() {
            out.push((h.clone(), Vec::new()));
        }
        for p in &path_chunks {
            out.push((h.clone(), p.clone()));
        }
    }
    out
}

/// Values split into the lists of consecutive rules' conditions.
type Chunks = Vec<Vec<String>>;

fn wildcards(value: &str) -> usize {
    value.matches(['*', '?']).count()
}

/// Greedy chunks of at most `size` values and `budget` wildcards each; `None` when one value
/// alone exceeds the budget.
fn chunk(values: &[String], size: usize, budget: usize) -> Option<Vec<Vec<String>>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut used = 0;
    for v in values {
        let w = wildcards(v);
        if w > budget {
            return None;
        }
        match out.last_mut() {
            Some(last) if last.len() < size && used + w <= budget => {
                last.push(v.clone());
                used += w;
            }
            _ => {
                out.push(vec![v.clone()]);
                used = w;
            }
        }
    }
    Some(out)
}

/// Target-group settings built once per plan for each setting services ask for: services
/// asking the same share one (a clone is a reference count), instead of a map of five
/// strings and a health check of four each, every pass.
#[derive(Default)]
pub struct SharedSettings<'a> {
    attributes: FxHashMap<AttributesIntent, TargetGroupAttributes>,
    /// Keyed by what [`health_check`] reads of an intent.
    health_checks: FxHashMap<(Protocol, &'a HealthCheckIntent), Arc<HealthCheck>>,
}

impl<'a> SharedSettings<'a> {
    /// The settings `intent` asks for.
    pub fn of(&mut self, intent: &'a Intent) -> GroupSettings {
        GroupSettings {
            attributes: self
                .attributes
                .entry(intent.attributes)
                .or_insert_with(|| attributes(intent))
                .clone(),
            health_check: self
                .health_checks
                .entry((intent.protocol, &intent.health_check))
                .or_insert_with(|| Arc::new(health_check(intent)))
                .clone(),
        }
    }
}

/// The settings of a service's target group that several services may share.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub attributes: TargetGroupAttributes,
    pub health_check: Arc<HealthCheck>,
}

impl GroupSettings {
    /// Built for `intent` alone, shared with no one: what a test compares the shared ones
    /// with, or hands a candidate it builds.
    #[cfg(test)]
    pub fn of(intent: &Intent) -> Self {
        Self {
            attributes: attributes(intent),
            health_check: Arc::new(health_check(intent)),
        }
    }

    /// The settings `spec` has.
    pub fn of_spec(spec: &TargetGroupSpec) -> Self {
        Self {
            attributes: spec.attributes.clone(),
            health_check: Arc::clone(&spec.health_check),
        }
    }
}

/// The pool a service is placed in, and where its hosts are claimed (see
/// [`DesiredService::claim_scope`]).
pub struct PoolScope {
    pub pool: String,
    pub claim_scope: String,
}

/// The ownership key of a service's `i`-th rule.
fn rule_key(i: usize) -> Cow<'static, str> {
    const KEYS: [&str; 10] = [
        "rule-0", "rule-1", "rule-2", "rule-3", "rule-4", "rule-5", "rule-6", "rule-7", "rule-8",
        "rule-9",
    ];
    KEYS.get(i)
        .map_or_else(|| Cow::Owned(format!("rule-{i}")), |k| Cow::Borrowed(*k))
}

/// The desired resources of one service on the given listener and ALB, with the
/// settings its intent asks for (see [`SharedSettings`]).
pub fn desired_service<'a>(
    ownership: &Ownership,
    service: &'a EcsService,
    intent: &'a Intent,
    scope: PoolScope,
    at: Location<'a>,
    settings: GroupSettings,
) -> DesiredService<'a> {
    let (listener_arn, load_balancer) = (at.listener_arn, at.load_balancer);
    let identity = TargetGroupIdentity {
        owner_id: ownership.owner_id(),
        service_arn: &service.arn,
        service_name: &service.name,
        container: &intent.container,
        port: intent.container_port,
        protocol: intent.protocol.as_str(),
        protocol_version: intent.protocol_version.as_str(),
        target_type: intent.target_type.as_str(),
        vpc_id: &load_balancer.vpc_id,
        load_balancer: None,
    };
    let (name, alb_group_name) = if at.home {
        let (home, alb_own) = target_group_names(&identity, &load_balancer.arn);
        (home, Some(alb_own))
    } else {
        let alb_own = target_group_name(&TargetGroupIdentity {
            load_balancer: Some(&load_balancer.arn),
            ..identity
        });
        (alb_own, None)
    };
    let target_group = TargetGroupSpec {
        name,
        protocol: intent.protocol,
        protocol_version: intent.protocol_version,
        port: i32::from(intent.container_port),
        target_type: intent.target_type,
        vpc_id: load_balancer.vpc_id.clone(),
        health_check: settings.health_check,
        attributes: settings.attributes,
        // Given when the group is created ([`creation_tags`]): a pass builds every
        // winner's spec, and few create anything.
        tags: Tags::new(),
    };
    let mut rules: Vec<DesiredRule<'a>> = conditions(intent)
        .into_iter()
        .enumerate()
        .map(|(i, (hosts, paths))| DesiredRule {
            key: rule_key(i),
            hosts,
            paths,
            explicit_priority: intent.priority.map(|p| p + i as u32),
        })
        .collect();
    if !intent.test_hosts.is_empty() {
        // The test rule ECS sends test traffic through (`alb.test-host`), after the others.
        rules.push(DesiredRule {
            key: Cow::Borrowed(TEST_RULE),
            hosts: Cow::Borrowed(&intent.test_hosts),
            paths: Cow::Borrowed(&intent.paths),
            explicit_priority: intent.priority.map(|p| p + rules.len() as u32),
        });
    }
    DesiredService {
        service,
        intent,
        pool: scope.pool,
        claim_scope: scope.claim_scope,
        listener_arn,
        load_balancer_arn: &load_balancer.arn,
        target_group,
        alb_group_name,
        rules,
        previous: None,
        weighted: Weighted::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn splitting_covers_every_pair_within_the_limit() {
        for h in 1..=12 {
            for p in 0..=12 {
                let hosts = names("h", h);
                let paths = names("/p", p);
                let rules = split_conditions(&hosts, &paths);
                let mut pairs = std::collections::BTreeSet::new();
                for (rh, rp) in &rules {
                    assert!(rh.len() + rp.len() <= MAX_CONDITION_VALUES);
                    assert!(rh.len() <= MAX_VALUES_PER_CONDITION);
                    assert!(rp.len() <= MAX_VALUES_PER_CONDITION);
                    assert!(!rh.is_empty());
                    for host in rh {
                        if rp.is_empty() {
                            pairs.insert((host.clone(), String::new()));
                        }
                        for path in rp {
                            pairs.insert((host.clone(), path.clone()));
                        }
                    }
                }
                let expected = h * p.max(1);
                assert_eq!(pairs.len(), expected, "hosts {h} paths {p}");
            }
        }
        assert_eq!(split_conditions(&names("h", 2), &names("/p", 3)).len(), 1);
        assert_eq!(split_conditions(&names("h", 6), &[]).len(), 2);
        // Four hosts no longer fit one host-header condition.
        assert_eq!(split_conditions(&names("h", 4), &[]).len(), 2);
        assert_eq!(split_conditions(&names("h", 3), &names("/p", 3)).len(), 2);
    }

    #[test]
    fn the_one_rule_shortcut_gives_what_the_search_gives() {
        let values = |prefix: &str, n: usize, wild: usize| -> Vec<String> {
            (0..n)
                .map(|i| {
                    let stars = if i < wild { "*" } else { "" };
                    format!("{stars}{prefix}{i}")
                })
                .collect()
        };
        for h in 0..=4 {
            for p in 0..=4 {
                for hw in 0..=h {
                    for pw in 0..=p {
                        let hosts = values("h", h, hw);
                        let paths = values("/p", p, pw);
                        assert_eq!(
                            split_conditions(&hosts, &paths),
                            search_split(&hosts, &paths),
                            "{hosts:?} {paths:?}"
                        );
                    }
                }
            }
        }
        // Five wildcards in one host-and-path pair still fit one rule; six do not.
        let one = split_conditions(&["*.*.a*".into()], &["/*/*".into()]);
        assert_eq!(one.len(), 1);
        let two = split_conditions(&["*.*.a*".into(), "*.b".into()], &["/*/*".into()]);
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn wildcards_stay_within_five_per_rule() {
        let hosts: Vec<String> = (0..3).map(|i| format!("*.h{i}.example.com")).collect();
        let paths: Vec<String> = (0..3).map(|i| format!("/p{i}/*/x*")).collect();
        for (h, p) in split_conditions(&hosts, &paths) {
            let w: usize = h.iter().chain(&p).map(|v| wildcards(v)).sum();
            assert!(w <= MAX_WILDCARDS_PER_RULE, "{h:?} {p:?}");
        }
    }

    /// The publishing intent of a service with `tags` (`alb.host` given when they lack it).
    fn intent_of(tags: &[(&str, &str)]) -> Intent {
        let mut all = tags.to_vec();
        if !tags.iter().any(|(k, _)| *k == "alb.host") {
            all.push(("alb.host", "a.example.com"));
        }
        match super::super::fixtures::tagged_service("svc", &all).1 {
            crate::model::ServiceIntent::Publish { intent, .. } => Intent::clone(&intent),
            other => panic!("not publishable: {other:?}"),
        }
    }

    #[test]
    fn services_asking_one_setting_share_its_health_check_and_attributes() {
        let plain = intent_of(&[]);
        let same = intent_of(&[]);
        let other_path = intent_of(&[("alb.healthcheck.path", "/ready")]);
        let other_interval = intent_of(&[("alb.healthcheck.interval", "10")]);
        // The same health-check settings under another protocol: a check of its own.
        let https = intent_of(&[("alb.protocol", "HTTPS")]);
        let mut shared = SharedSettings::default();
        let a = shared.of(&plain);
        let b = shared.of(&same);
        let c = shared.of(&other_path);
        let d = shared.of(&other_interval);
        let e = shared.of(&https);
        assert!(Arc::ptr_eq(&a.health_check, &b.health_check));
        assert!(a.attributes.is_shared_with(&b.attributes));
        assert!(!Arc::ptr_eq(&a.health_check, &c.health_check));
        assert!(!Arc::ptr_eq(&a.health_check, &d.health_check));
        assert_eq!(https.health_check, plain.health_check);
        assert!(!Arc::ptr_eq(&a.health_check, &e.health_check));
        assert_eq!(e.health_check.protocol, "HTTPS");
        // What is shared is what each service alone would be given.
        for (intent, got) in [
            (&plain, &a),
            (&same, &b),
            (&other_path, &c),
            (&other_interval, &d),
            (&https, &e),
        ] {
            let alone = GroupSettings::of(intent);
            assert_eq!(*got.health_check, *alone.health_check);
            assert_eq!(got.attributes, alone.attributes);
        }
        assert_eq!(c.health_check.path, "/ready");
        assert_eq!(d.health_check.interval_seconds, 10);
    }

    #[test]
    fn rules_borrow_the_intents_values_when_one_rule_holds_them_and_split_them_otherwise() {
        // (hosts, paths, whether they need more than one rule)
        for (hosts, paths, split_here) in [
            ("a.example.com", "", false),
            ("a.example.com b.example.com", "/api/* /v2/*", false),
            // Four hosts: more than one condition holds.
            (
                "a.example.com b.example.com c.example.com d.example.com",
                "",
                true,
            ),
            // Six values: more than one rule holds.
            (
                "a.example.com b.example.com c.example.com",
                "/a /b /c",
                true,
            ),
            // Six wildcards: more than one rule allows, though the values fit.
            ("*.a.example.com *.b.example.com", "/x/*/* /y/*/*", true),
        ] {
            let mut tags = vec![("alb.host", hosts)];
            if !paths.is_empty() {
                tags.push(("alb.path", paths));
            }
            let intent = intent_of(&tags);
            let got = conditions(&intent);
            let split = split_conditions(&intent.hosts, &intent.paths);
            let as_split: Vec<(Vec<String>, Vec<String>)> =
                got.iter().map(|(h, p)| (h.to_vec(), p.to_vec())).collect();
            assert_eq!(as_split, split, "{hosts} {paths}");
            let borrowed = got
                .iter()
                .all(|(h, p)| matches!((h, p), (Cow::Borrowed(_), Cow::Borrowed(_))));
            assert_eq!(borrowed, split.len() == 1, "{hosts} {paths}");
            assert_eq!(split.len() > 1, split_here, "{hosts} {paths}");
        }
    }

    #[test]
    fn rule_keys_are_numbered_past_the_borrowed_ones() {
        for i in 0..13 {
            assert_eq!(rule_key(i), format!("rule-{i}"));
        }
    }

    #[test]
    fn only_non_default_attributes_need_a_call_after_creation() {
        let mut a = TargetGroupAttributes::new();
        a.insert("deregistration_delay.timeout_seconds".into(), "300".into());
        a.insert("slow_start.duration_seconds".into(), "30".into());
        let extra = non_default_attributes(&a);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra.get("slow_start.duration_seconds"), Some("30"));
    }
}
