//! What a client of the ALB sees: target registration and health as ECS and ELB make them,
//! and the served-traffic oracle.
//!
//! Written from AWS's documentation, not from the controller's code:
//! - ECS registers a service's running tasks in every target group of its `loadBalancers`
//!   when a deployment starts (UpdateService) or a task starts, and deregisters them when
//!   the group leaves the list or the task stops ("Use load balancing to distribute Amazon
//!   ECS service traffic").
//! - A registered target is `initial` until it passed `HealthyThresholdCount` consecutive
//!   checks, one every `HealthCheckIntervalSeconds`; a deregistered one is `draining` for
//!   the group's deregistration delay and receives no new requests ("Health checks for
//!   Application Load Balancer target groups", "Deregistration delay").
//! - A request resolves its name in Route 53, reaches the ALB the record points at, is
//!   matched by the listener's rules in priority order (host-header case-insensitive,
//!   path-pattern case-sensitive, `*` and `?` wildcards; the default rule last) and is
//!   forwarded to a target group with a weight above 0, which routes it to a healthy target
//!   ("Listener rules for your Application Load Balancer"). A name an HTTPS listener routes
//!   is called over HTTPS, and is served only if the listener presents a certificate
//!   covering it (`world/certificates.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::answers::record_target;
use super::world::{Registration, World};
use crate::state::{RecordSet, Rule, Target};

/// What AWS reports for a registered target (DescribeTargetHealth `State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FakeTargetState {
    Initial,
    Healthy,
    Unhealthy,
    Draining,
}

/// Where a request for (host, path) ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// Forwarded to target groups that all have healthy targets; the services those
    /// targets' tasks belong to.
    By(BTreeSet<String>),
    /// No record answers for the host.
    NoRecord,
    /// The record points at a name that is no load balancer here.
    Dangling(String),
    /// The ALB's default action answers (the seed's "invalid" target group: a 502/503).
    DefaultAction,
    /// A rule answers with something other than a forward (redirect, fixed response).
    OtherAction(String),
    /// The matching rule forwards to a group without healthy targets.
    NoHealthyTargets { rule: String, target_group: String },
    /// The HTTPS listener routing the host presents no certificate covering it: the
    /// client's handshake fails.
    NoCertificate(String),
}

/// AWS's own wildcard matching for host and path conditions: `*` any run, `?` one char.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn rule_matches(rule: &Rule, host: &str, path: &str) -> bool {
    if rule.is_default() {
        return true;
    }
    // Conditions we do not model (headers, source IPs...) are not met by a plain request.
    if rule.other_conditions > 0 {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let host_ok = rule.hosts.is_empty()
        || rule
            .hosts
            .iter()
            .any(|h| glob(h.to_ascii_lowercase().as_bytes(), host.as_bytes()));
    let path_ok = rule.paths.is_empty()
        || rule
            .paths
            .iter()
            .any(|p| glob(p.as_bytes(), path.as_bytes()));
    host_ok && path_ok
}

fn answers(record: &RecordSet, host: &str) -> bool {
    record.name.eq_ignore_ascii_case(host.trim_end_matches('.'))
        && record.set_identifier.is_none()
        && matches!(record.record_type.as_str(), "A" | "AAAA" | "CNAME")
}

impl World {
    /// The state of a registered (or draining) target now.
    pub fn target_state(&self, target_group_arn: &str, target: &Target) -> FakeTargetState {
        let Some(reg) = self
            .registrations
            .get(&(target_group_arn.to_string(), target.clone()))
        else {
            return FakeTargetState::Unhealthy;
        };
        let now = Instant::now();
        if reg.draining_until.is_some() {
            return FakeTargetState::Draining;
        }
        let Some(group) = self.target_groups.get(target_group_arn) else {
            return FakeTargetState::Unhealthy;
        };
        let answers_checks = self.task_service(&target.id).is_some_and(|service| {
            !self
                .refuses_health_checks
                .contains(&(service.to_string(), target.port))
        }) && self.health_checks_reach(target_group_arn, target);
        let hc = &group.health_check;
        let checks = u64::try_from(hc.healthy_threshold.max(1)).unwrap_or(1)
            * u64::try_from(hc.interval_seconds.max(1)).unwrap_or(1);
        if now.duration_since(reg.since) < Duration::from_secs(checks) {
            FakeTargetState::Initial
        } else if answers_checks {
            FakeTargetState::Healthy
        } else {
            FakeTargetState::Unhealthy
        }
    }

    /// The service whose RUNNING task has this IP.
    pub fn task_service(&self, ip: &str) -> Option<&str> {
        let task = self.tasks.iter().find(|t| {
            t.task.last_status == "RUNNING" && t.task.private_ip.as_deref() == Some(ip)
        })?;
        let name = task.task.group.as_deref()?.strip_prefix("service:")?;
        self.services
            .values()
            .find(|s| s.service.cluster_arn == task.cluster_arn && s.service.name == name)
            .map(|s| s.service.arn.as_str())
    }

    /// Registers targets (RegisterTargets, or ECS on a service's behalf). Registering a
    /// target that is already registered changes nothing, as on AWS.
    pub fn register(&mut self, target_group_arn: &str, targets: &[Target]) {
        let now = Instant::now();
        for t in targets {
            let key = (target_group_arn.to_string(), t.clone());
            let fresh = self
                .registrations
                .get(&key)
                .is_none_or(|r| r.draining_until.is_some());
            if fresh {
                self.registrations.insert(
                    key,
                    Registration {
                        since: now,
                        draining_until: None,
                    },
                );
            }
            self.targets
                .entry(target_group_arn.to_string())
                .or_default()
                .insert(t.clone());
        }
    }

    /// Deregisters targets: they drain for the group's deregistration delay, receiving no
    /// new requests, then disappear.
    pub fn deregister(&mut self, target_group_arn: &str, targets: &[Target]) {
        let delay = self
            .target_groups
            .get(target_group_arn)
            .and_then(|g| g.attributes.get("deregistration_delay.timeout_seconds"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(300);
        let until = Instant::now() + Duration::from_secs(delay);
        for t in targets {
            if let Some(set) = self.targets.get_mut(target_group_arn) {
                set.remove(t);
            }
            if let Some(reg) = self
                .registrations
                .get_mut(&(target_group_arn.to_string(), t.clone()))
            {
                reg.draining_until = Some(until);
            }
        }
    }

    /// Registered and draining targets of a group with their states (DescribeTargetHealth).
    pub fn target_health(&self, target_group_arn: &str) -> Vec<(Target, FakeTargetState)> {
        let now = Instant::now();
        self.registrations
            .iter()
            .filter(|((g, _), r)| g == target_group_arn && r.draining_until.is_none_or(|u| u > now))
            .map(|((_, t), _)| (t.clone(), self.target_state(target_group_arn, t)))
            .collect()
    }

    /// Targets ECS registers for a service: its running tasks, on the entry's port.
    fn service_targets(&self, service_arn: &str, port: i32) -> Vec<Target> {
        let Some(service) = self.services.get(service_arn) else {
            return Vec::new();
        };
        let group = format!("service:{}", service.service.name);
        self.tasks
            .iter()
            .filter(|t| {
                t.cluster_arn == service.service.cluster_arn
                    && t.task.group.as_deref() == Some(group.as_str())
                    && t.task.last_status == "RUNNING"
            })
            .filter_map(|t| t.task.private_ip.clone().map(|id| Target { id, port }))
            .collect()
    }

    /// ECS's side of a deployment: tasks registered in every listed group, deregistered from
    /// groups no longer listed.
    pub(crate) fn ecs_sync_registrations(
        &mut self,
        service_arn: &str,
        before: &[crate::state::LoadBalancerAttachment],
    ) {
        let Some(service) = self.services.get(service_arn) else {
            return;
        };
        let now_listed: Vec<(String, i32)> = service
            .service
            .load_balancers
            .iter()
            .filter_map(|l| Some((l.target_group_arn.clone()?, l.container_port?)))
            .collect();
        for (tg, port) in before
            .iter()
            .filter_map(|l| Some((l.target_group_arn.clone()?, l.container_port?)))
        {
            if !now_listed.contains(&(tg.clone(), port)) {
                let targets = self.service_targets(service_arn, port);
                self.deregister(&tg, &targets);
            }
        }
        for (tg, port) in now_listed {
            let targets = self.service_targets(service_arn, port);
            self.register(&tg, &targets);
        }
    }

    /// Where a request for `host` and `path` ends now.
    pub fn served(&self, host: &str, path: &str) -> Served {
        match self.record_target_of(host) {
            Some(target) => self.served_at(&target, host, path),
            None => Served::NoRecord,
        }
    }

    /// Where a request ends for a client still holding an older answer for `host`: one per
    /// cached answer whose TTL has not run out.
    pub fn served_from_cache(&self, host: &str, path: &str) -> Vec<(String, Served)> {
        let now = Instant::now();
        self.cached_answers
            .iter()
            .filter(|c| c.until > now && c.name.eq_ignore_ascii_case(host))
            .map(|c| (c.target.clone(), self.served_at(&c.target, host, path)))
            .collect()
    }

    /// Where a request for (host, path) ends on each ALB, by the ALB's DNS name.
    pub fn served_on_each_alb(&self, host: &str, path: &str) -> Vec<(String, Served)> {
        self.load_balancers
            .values()
            .map(|lb| {
                (
                    lb.dns_name.clone(),
                    self.served_at(&lb.dns_name, host, path),
                )
            })
            .collect()
    }

    /// The DNS names of the ALBs a listener or a target group belongs to.
    pub fn alb_names_of(&self, listener_or_group_arn: &str) -> Vec<String> {
        let arns: Vec<&str> = match self.listeners.get(listener_or_group_arn) {
            Some(l) => vec![l.load_balancer_arn.as_str()],
            None => self
                .target_groups
                .get(listener_or_group_arn)
                .map(|g| g.load_balancer_arns.iter().map(|a| a.as_str()).collect())
                .unwrap_or_default(),
        };
        arns.into_iter()
            .filter_map(|arn| self.load_balancers.get(arn))
            .map(|lb| lb.dns_name.clone())
            .collect()
    }

    /// Where a request for (host, path) sent to the ALB named `target` ends.
    fn served_at(&self, target: &str, host: &str, path: &str) -> Served {
        let Some(lb) = self
            .load_balancers
            .values()
            .find(|lb| lb.dns_name.eq_ignore_ascii_case(target))
        else {
            return Served::Dangling(target.to_string());
        };
        // Clients call the name on HTTP's port when the ALB listens there.
        let mut listeners: Vec<_> = self
            .listeners
            .values()
            .filter(|l| l.load_balancer_arn == lb.arn)
            .collect();
        listeners.sort_by_key(|l| (l.port != Some(80), l.arn.clone()));
        // A name an HTTPS listener routes is called over HTTPS; its handshake needs a
        // certificate the listener presents for the host.
        let https = listeners.iter().find(|l| {
            l.protocol.as_deref() == Some("HTTPS")
                && self.rules.values().any(|r| {
                    r.listener_arn == l.arn && !r.is_default() && rule_matches(r, host, path)
                })
        });
        if let Some(l) = https
            && !self.presents_certificate_for(&l.arn, host)
        {
            return Served::NoCertificate(l.arn.clone());
        }
        let Some(listener) = https.or(listeners.first()) else {
            return Served::Dangling(target.to_string());
        };
        let mut rules: Vec<&Rule> = self
            .rules
            .values()
            .filter(|r| r.listener_arn == listener.arn)
            .collect();
        rules.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
        let Some(rule) = rules.into_iter().find(|r| rule_matches(r, host, path)) else {
            return Served::DefaultAction;
        };
        if rule.is_default() {
            return Served::DefaultAction;
        }
        if rule.other_actions > 0 || rule.forward_target_groups.is_empty() {
            return Served::OtherAction(rule.arn.to_string());
        }
        let mut services = BTreeSet::new();
        for tg in &rule.forward_target_groups {
            // A healthy target this ALB cannot reach on the traffic port (a health check on
            // another port passes) takes no request.
            let healthy: Vec<Target> = self
                .target_health(tg)
                .into_iter()
                .filter(|(t, s)| {
                    *s == FakeTargetState::Healthy && self.alb_reaches(&lb.arn, t, t.port)
                })
                .map(|(t, _)| t)
                .collect();
            if healthy.is_empty() {
                return Served::NoHealthyTargets {
                    rule: rule.arn.to_string(),
                    target_group: tg.to_string(),
                };
            }
            services.extend(
                healthy
                    .iter()
                    .filter_map(|t| self.task_service(&t.id).map(str::to_string)),
            );
        }
        Served::By(services)
    }

    /// Where the record answering for `host` points (an ALB's DNS name), if one answers.
    pub fn record_target_of(&self, host: &str) -> Option<String> {
        self.zones
            .values()
            .flat_map(|(_, records)| records)
            .find(|r| answers(r, host))
            .map(record_target)
    }

    /// True when a record answers for `host`.
    pub fn has_record(&self, host: &str) -> bool {
        self.zones
            .values()
            .flat_map(|(_, records)| records)
            .any(|r| answers(r, host))
    }
}

/// Whether requests end on healthy targets of the allowed services only.
fn served_by(served: &Served, allowed: &BTreeSet<String>) -> bool {
    matches!(served, Served::By(s) if !s.is_empty() && s.is_subset(allowed))
}

/// The served-traffic invariant, checked after every write the fake serves: every expected
/// (host, path) is served by healthy targets of its service from the moment a record
/// answers for the host, and once served it stays served until it is released.
#[derive(Debug, Default)]
pub struct TrafficCheck {
    /// (host, path) → the service ARNs that may serve it (several for a weighted canary:
    /// every request lands on one of them).
    expected: BTreeMap<(String, String), BTreeSet<String>>,
    /// Expected pairs that have been served at least once.
    published: BTreeSet<(String, String)>,
    /// Expected pairs held to nothing until they are served — or, when the value is true,
    /// until no record answers for their host: a name another service still holds, or one
    /// someone else broke (a deleted rule, tasks failing their health checks). A path on a
    /// host several services share waits to be served: the host's record is not its own.
    excused: BTreeMap<(String, String), bool>,
    /// (host, ALB DNS name) someone else broke the host on: clients holding an answer for
    /// that ALB are not held to the check until the host is served there again.
    excused_targets: BTreeSet<(String, String)>,
    /// (host, ALB DNS name) someone else broke the host on (deleted or rewrote its rule,
    /// made its targets fail) since the controller last read that ALB's rules or its
    /// groups' health. A write pointing the host there acts on a read from before the
    /// damage: the host is excused until it is served again. Once the controller has read
    /// the ALB again, it is held to what it read.
    unread_damage: BTreeSet<(String, String)>,
    /// (host, path, ALB DNS name): answers clients cached for the host on that ALB before the
    /// pair was first served (a path joining a host that then moves): they never served it,
    /// and prove nothing about it until it is served there.
    cached_before_served: BTreeSet<(String, String, String)>,
    /// Expected pairs on a host other services share ([`TrafficCheck::expect_once_served`]).
    shared: BTreeSet<(String, String)>,
    /// Services changed by others (retagged, an ECS deployment started, stepped or rolled
    /// back) since the controller last described them (DescribeServices): a pass that read
    /// them before may still act on what it read, so a pair of theirs that stops being
    /// served is excused again instead of reported. Once the controller has described them
    /// again, it is held to what it read.
    changes_unread: BTreeSet<String>,
    /// Writes checked.
    pub writes: usize,
    pub violations: Vec<String>,
}

impl TrafficCheck {
    pub fn expect(&mut self, host: &str, path: &str, service_arn: &str) {
        self.expect_any(host, path, &[service_arn]);
    }

    /// (host, path) must be served by healthy targets of these services only (a weighted
    /// rule across them).
    pub fn expect_any(&mut self, host: &str, path: &str, service_arns: &[&str]) {
        self.expected.insert(
            (host.to_string(), path.to_string()),
            service_arns.iter().map(|s| s.to_string()).collect(),
        );
    }

    /// As [`TrafficCheck::expect_any`] for a name that may still be held by another
    /// service, or its old owner's records still be withdrawn: checked once it is served,
    /// or once no record answers for the host.
    pub fn expect_once_free(
        &mut self,
        world: &World,
        host: &str,
        path: &str,
        service_arns: &[&str],
    ) {
        self.expect_fresh(world, (host, path), service_arns, true);
    }

    /// As [`TrafficCheck::expect_once_free`] for a path of a host other services' paths
    /// share: its host's record may answer before its own rule exists, so it is checked
    /// only once it is served.
    pub fn expect_once_served(
        &mut self,
        world: &World,
        host: &str,
        path: &str,
        service_arns: &[&str],
    ) {
        self.shared.insert((host.to_string(), path.to_string()));
        self.expect_fresh(world, (host, path), service_arns, false);
    }

    /// Expects (host, path), excused until served (or, with `lifted_by_no_record`, until no
    /// record answers), with the answers clients hold from before set aside.
    fn expect_fresh(
        &mut self,
        world: &World,
        (host, path): (&str, &str),
        service_arns: &[&str],
        lifted_by_no_record: bool,
    ) {
        self.expect_any(host, path, service_arns);
        self.forget_earlier_answers(world, host, path);
        self.excused
            .insert((host.to_string(), path.to_string()), lifted_by_no_record);
    }

    /// Answers clients may hold for `host` from before it is expected again (an earlier
    /// publication, withdrawn) prove nothing about this one: the host on those ALBs is
    /// excused.
    fn forget_earlier_answers(&mut self, world: &World, host: &str, path: &str) {
        for (target, _) in world.served_from_cache(host, path) {
            self.excused_targets.insert((host.to_string(), target));
        }
    }

    /// The test is about to withdraw `host` (or hand it over): nothing is expected of it.
    pub fn release(&mut self, host: &str) {
        self.expected.retain(|(h, _), _| h != host);
        self.published.retain(|(h, _)| h != host);
        self.excused.retain(|(h, _), _| h != host);
        self.shared.retain(|(h, _)| h != host);
    }

    /// Nothing is expected of (host, path) any more; other paths of the host stay expected.
    pub fn release_path(&mut self, host: &str, path: &str) {
        let key = (host.to_string(), path.to_string());
        self.expected.remove(&key);
        self.published.remove(&key);
        self.excused.remove(&key);
        self.shared.remove(&key);
    }

    /// What serves each expected pair on each ALB, before someone else changes the world.
    pub fn served_everywhere(&self, world: &World) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        for ((host, path), allowed) in &self.expected {
            for (target, served) in world.served_on_each_alb(host, path) {
                let ok = served_by(&served, allowed);
                out.push((host.clone(), target, ok));
            }
        }
        out
    }

    /// Notes the ALBs someone else's change broke an expected pair on (see `unread_damage`).
    pub fn note_damage(&mut self, world: &World, before: Vec<(String, String, bool)>) {
        let after = self.served_everywhere(world);
        for (host, target, ok) in before {
            let broken = ok && after.contains(&(host.clone(), target.clone(), false));
            if broken {
                self.unread_damage.insert((host, target));
            }
        }
    }

    /// Someone other than the controller changed `service_arn` (see `changes_unread`).
    pub fn service_changed(&mut self, service_arn: &str) {
        self.changes_unread.insert(service_arn.to_string());
    }

    /// The controller described these services: it knows their tags now.
    pub fn services_read(&mut self, service_arns: &[String]) {
        for arn in service_arns {
            self.changes_unread.remove(arn);
        }
    }

    /// The controller read an ALB's rules or the health of one of its groups.
    pub fn controller_read(&mut self, alb_names: &[String]) {
        self.unread_damage
            .retain(|(_, target)| !alb_names.contains(target));
    }

    /// Someone other than the controller changed the world (deleted a rule or a record,
    /// made tasks fail their checks): every expected pair not served now is excused until
    /// it is served again, or its host has no record.
    pub fn excuse_unserved(&mut self, world: &World) {
        for ((host, path), allowed) in &self.expected {
            // Clients holding an answer for an ALB the edit broke the host on.
            for (target, cached) in world.served_from_cache(host, path) {
                if !served_by(&cached, allowed) {
                    self.excused_targets.insert((host.clone(), target));
                }
            }
            let served = world.served(host, path);
            if !served_by(&served, allowed) {
                let key = (host.clone(), path.clone());
                self.published.remove(&key);
                // Until served again: the damage (tasks failing checks, a deleted rule) may
                // outlast its record, which the controller may put back first.
                self.excused.insert(key, false);
                if let Some(target) = world.record_target_of(host) {
                    self.excused_targets.insert((host.clone(), target));
                }
            }
        }
    }

    /// Pairs expected now, and whether each is held to the check (not excused).
    pub fn expected(&self) -> impl Iterator<Item = (&(String, String), bool)> + '_ {
        self.expected
            .keys()
            .map(|k| (k, !self.excused.contains_key(k)))
    }

    pub fn check(&mut self, world: &World, after: &str) {
        self.writes += 1;
        for ((host, path), allowed) in &self.expected {
            let served = world.served(host, path);
            let ok = served_by(&served, allowed);
            let key = (host.clone(), path.clone());
            if ok {
                self.excused.remove(&key);
                if let Some(target) = world.record_target_of(host) {
                    self.excused_targets.remove(&(host.clone(), target.clone()));
                    self.cached_before_served
                        .remove(&(host.clone(), path.clone(), target));
                }
                if !self.published.contains(&key) {
                    for (target, cached) in world.served_from_cache(host, path) {
                        if !served_by(&cached, allowed) {
                            self.cached_before_served
                                .insert((host.clone(), path.clone(), target));
                        }
                    }
                }
                self.published.insert(key);
                // A client holding an answer from before a move must be served too.
                for (target, cached) in world.served_from_cache(host, path) {
                    let cached_ok = served_by(&cached, allowed);
                    // Answers pointing at no ALB (a hand edit being repaired) prove nothing.
                    let excused = self
                        .excused_targets
                        .contains(&(host.clone(), target.clone()))
                        || self.cached_before_served.contains(&(
                            host.clone(),
                            path.clone(),
                            target.clone(),
                        ));
                    if !cached_ok
                        && !excused
                        && !matches!(cached, Served::Dangling(_))
                        && self.violations.len() < 50
                    {
                        self.violations.push(format!(
                            "after write {} ({after}): {host}{path} is not served for a client holding the cached answer {target}: {cached:?}",
                            self.writes
                        ));
                    }
                }
                continue;
            }
            if let Some(&lifted_by_no_record) = self.excused.get(&key) {
                // Nor are answers clients cached meanwhile (a withdrawal the retag asked
                // for leaves the old publication's answer in caches).
                for (target, _) in world.served_from_cache(host, path) {
                    self.excused_targets.insert((host.clone(), target));
                }
                match world.record_target_of(host) {
                    // Clients taking this answer now are not served, through no write
                    // checked here: holding it later proves nothing either.
                    Some(target) => {
                        self.excused_targets.insert((host.clone(), target));
                    }
                    None if lifted_by_no_record => {
                        self.excused.remove(&key);
                    }
                    None => {}
                }
                continue;
            }
            if let Some(target) = world.record_target_of(host)
                && self.unread_damage.contains(&(host.clone(), target))
            {
                self.published.remove(&key);
                self.excused.insert(key, false);
                continue;
            }
            let unread_change = allowed.iter().any(|s| self.changes_unread.contains(s));
            if unread_change && self.published.contains(&key) {
                self.published.remove(&key);
                self.excused
                    .insert(key, !self.shared.contains(&(host.clone(), path.clone())));
                continue;
            }
            let why = if self.published.contains(&key) {
                "stopped being served"
            } else if world.has_record(host) {
                "has a record but is not served"
            } else {
                continue;
            };
            if self.violations.len() < 50 {
                self.violations.push(format!(
                    "after write {} ({after}): {host}{path} {why}: {served:?}",
                    self.writes
                ));
            }
        }
    }

    /// Expected pairs not served right now.
    pub fn unserved(&self, world: &World) -> Vec<String> {
        self.expected
            .keys()
            .filter(|(h, p)| !matches!(world.served(h, p), Served::By(_)))
            .map(|(h, p)| format!("{h}{p}: {:?}", world.served(h, p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn wildcards_match_as_aws_documents() {
        assert!(glob(b"*.example.com", b"a.example.com"));
        assert!(!glob(b"*.example.com", b"example.com"));
        assert!(glob(b"/api/*", b"/api/x/y"));
        assert!(!glob(b"/api/*", b"/apix"));
        assert!(glob(b"/*", b"/"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"ac"));
        assert!(glob(b"exact", b"exact"));
    }
}
