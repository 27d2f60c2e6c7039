//! Everyone in the simulated account but the controller: the platform team tagging
//! services, ECS deploying them and registering their tasks, tasks failing their checks,
//! people editing resources by hand. Each act says what it did, for the coverage table, and
//! keeps the served-traffic oracle's expectations equal to what the tags ask for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::script::{HandEdit, Intent, LISTENERS};
use crate::fake::{FakeAws, World};
use crate::ownership::OWNER_TAG;
use crate::state::{RecordSet, Rule, Tags};
use crate::testing::{Estate, PORT, ZONE};

/// The host the services with [`Intent::SharedPath`] share.
pub const SHARED_HOST: &str = "shared.in.example.com";
/// The hand-made rule's host, and the hand-made record's name.
const LEGACY_HOST: &str = "legacy.in.example.com";

/// One simulated ECS service and what its tags ask for.
#[derive(Debug, Clone)]
pub struct SimService {
    pub arn: String,
    pub index: usize,
    pub intent: Intent,
    /// The last valid intent's tags (an invalid edit breaks one value of them).
    pub last_valid: Option<Intent>,
    /// The (host, path) the oracle expects it to serve.
    pub key: Option<(String, String)>,
    pub failing_checks: bool,
    /// The ALBs form one pool: `alb.listener` is never given (the pool is `default`).
    pub pooled: bool,
}

impl SimService {
    /// The (host, path) a request for this intent goes to.
    fn key_of(&self, intent: Intent) -> Option<(String, String)> {
        match intent {
            Intent::Own { .. } => Some((self.own_host(), "/".into())),
            Intent::SharedPath => Some((SHARED_HOST.into(), format!("/s{}/x", self.index))),
            Intent::Off | Intent::Invalid => None,
        }
    }

    fn own_host(&self) -> String {
        format!("s{}.{ZONE}", self.index)
    }

    fn tags_of(&self, intent: Intent) -> Tags {
        let mut tags: Vec<(String, String)> = vec![
            ("alb.healthcheck.interval".into(), "5".into()),
            ("alb.healthcheck.timeout".into(), "4".into()),
            ("alb.healthcheck.healthy-threshold".into(), "2".into()),
        ];
        match intent {
            Intent::Off => return Tags::new(),
            Intent::Own { listener, deploy } => {
                tags.push(("alb.host".into(), self.own_host()));
                if listener > 0 && !self.pooled {
                    tags.push(("alb.listener".into(), LISTENERS[listener].into()));
                }
                // Always said, `rolling` too: a service ECS deploys by shifting traffic goes
                // back to rolling only when told so (without the key it is `invalid`).
                tags.push(("alb.deploy".into(), deploy.tag().into()));
            }
            Intent::SharedPath => {
                tags.push(("alb.host".into(), SHARED_HOST.into()));
                tags.push(("alb.path".into(), format!("/s{}/*", self.index)));
                tags.push(("alb.deploy".into(), "rolling".into()));
            }
            Intent::Invalid => {
                let base = self.last_valid.unwrap_or(Intent::Own {
                    listener: 0,
                    deploy: super::script::DeployMode::Rolling,
                });
                let mut t = self.tags_of(base);
                t.insert("alb.healthcheck.interval".into(), "often".into());
                return t;
            }
        }
        tags.into_iter().collect()
    }
}

/// The second ECS cluster (`--cluster main --cluster batch`): odd-numbered services run there.
pub const SECOND_CLUSTER: &str = "batch";

/// What others made in the account: ecs-ingress must never change or delete any of it.
#[derive(Debug, Default, Clone)]
pub struct Foreign {
    pub rules: BTreeMap<String, Rule>,
    pub records: Vec<RecordSet>,
    pub target_groups: Vec<String>,
}

pub struct Actors {
    pub estate: Estate,
    pub services: Vec<SimService>,
    pub foreign: Arc<Mutex<Foreign>>,
    next_ip: u32,
    /// Steps each deployment took while the world settles.
    settle_tries: BTreeMap<String, u32>,
}

impl Actors {
    /// The estate with `services` untagged services, each running one task, and the
    /// hand-made resources.
    pub fn new(services: usize, pooled: bool) -> Self {
        let estate = Estate::new(LISTENERS.len());
        estate.fake.world().add_cluster(SECOND_CLUSTER);
        let services = (0..services)
            .map(|index| SimService {
                // Every other service runs in the second cluster the controller watches.
                arn: estate.add_service_in(
                    if index % 2 == 1 {
                        SECOND_CLUSTER
                    } else {
                        crate::testing::CLUSTER
                    },
                    &format!("s{index}"),
                    &[],
                    &[],
                ),
                index,
                intent: Intent::Off,
                last_valid: None,
                key: None,
                failing_checks: false,
                pooled,
            })
            .collect();
        let mut actors = Self {
            estate,
            services,
            foreign: Arc::default(),
            next_ip: 0,
            settle_tries: BTreeMap::new(),
        };
        actors.hand_made();
        actors
    }

    pub fn fake(&self) -> &Arc<FakeAws> {
        &self.estate.fake
    }

    /// A rule outside the band and one inside it, each to a target group of its own, and a
    /// record: another team's, made by hand.
    fn hand_made(&mut self) {
        let default = self.estate.listeners["default"].clone();
        let mut foreign = Foreign::default();
        let mut world = self.estate.fake.world();
        for (priority, host) in [(5, LEGACY_HOST), (1500, "legacy-2.in.example.com")] {
            let Ok(tg) = world.insert_target_group(&crate::state::TargetGroupSpec {
                name: format!("legacy-{priority}"),
                protocol: crate::state::Protocol::Http,
                protocol_version: crate::state::ProtocolVersion::Http1,
                port: 80,
                target_type: crate::state::TargetType::Ip,
                vpc_id: crate::testing::VPC.into(),
                health_check: crate::fake::default_health_check().into(),
                attributes: Default::default(),
                tags: Tags::from([("team".to_string(), "legacy".to_string())]),
            }) else {
                continue;
            };
            let Ok(rule) = world.insert_rule(&crate::state::RuleSpec {
                listener_arn: default.clone(),
                priority,
                hosts: vec![host.into()],
                paths: vec![],
                target_group_arn: tg.clone(),
                staged_target_group_arn: None,
                tags: Tags::from([("team".to_string(), "legacy".to_string())]),
            }) else {
                continue;
            };
            foreign.target_groups.push(tg);
            foreign
                .rules
                .insert(rule.clone(), world.rules[&rule].clone());
        }
        // The legacy name, and the name the last service would take as its own: that one
        // stays someone else's (`dns-conflict`).
        let taken = self.services.last().map(SimService::own_host);
        for name in std::iter::once(LEGACY_HOST.to_string()).chain(taken) {
            let record = RecordSet {
                name,
                record_type: "A".into(),
                ttl: Some(300),
                values: vec!["192.0.2.10".into()],
                alias: None,
                set_identifier: None,
            };
            if let Some((_, records)) = world.zones.get_mut(&self.estate.zone_id) {
                records.push(record.clone());
                foreign.records.push(record);
            }
        }
        drop(world);
        *self.foreign.lock().unwrap_or_else(|e| e.into_inner()) = foreign;
    }

    fn ip(&mut self) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        format!("10.2.{}.{}", (n / 250) % 250, n % 250 + 1)
    }

    /// The service's tags become what `intent` asks for; the oracle's expectation follows:
    /// a new name is held to the check once it is free, a name given up is released, and an
    /// invalid edit keeps what was published.
    /// Someone other than the controller changed the service (see the oracle's
    /// `service_changed`).
    fn changed_by_others(&self, arn: &str) {
        self.estate
            .fake
            .traffic(|check, _| check.service_changed(arn));
    }

    pub fn retag(&mut self, service: usize, intent: Intent) -> &'static str {
        let Some(s) = self.services.get_mut(service) else {
            return "none";
        };
        if intent != Intent::Invalid && intent != Intent::Off {
            s.last_valid = Some(intent);
        }
        let tags = s.tags_of(intent);
        s.intent = intent;
        let key = match intent {
            // What was published stays: the service's own name. A path on the shared host
            // is served through a name the service may not hold yet (its marker lists the
            // services that were ready when it was written), so nothing is expected of it.
            Intent::Invalid if s.key.as_ref().is_some_and(|(h, _)| h == SHARED_HOST) => None,
            Intent::Invalid => s.key.clone(),
            _ => s.key_of(intent),
        };
        let (old, arn) = (std::mem::replace(&mut s.key, key.clone()), s.arn.clone());
        if let Some(svc) = self.estate.fake.world().services.get_mut(&arn) {
            svc.service.tags = tags;
        }
        self.changed_by_others(&arn);
        if old != key {
            self.estate.fake.traffic(|check, world| {
                if let Some((host, path)) = &old {
                    check.release_path(host, path);
                }
                match &key {
                    Some((host, path)) if host == SHARED_HOST => {
                        check.expect_once_served(world, host, path, &[arn.as_str()]);
                    }
                    Some((host, path)) => {
                        check.expect_once_free(world, host, path, &[arn.as_str()])
                    }
                    None => {}
                }
            });
        }
        "tagged"
    }

    /// ECS deploys a new revision: by shifting traffic when the service is set up for it,
    /// rolling otherwise.
    pub fn deploy(&mut self, service: usize) -> &'static str {
        let Some(arn) = self.services.get(service).map(|s| s.arn.clone()) else {
            return "none";
        };
        self.changed_by_others(&arn);
        let ip = self.ip();
        self.estate
            .fake
            .ecs_acts("ECS starts a deployment", |world| {
                let shifting = world
                    .services
                    .get(&arn)
                    .is_some_and(|s| s.service.deployment.strategy.shifts_traffic());
                if world.ecs_deployments.contains_key(&arn) {
                    "busy"
                } else if shifting {
                    match world.start_ecs_deployment(&arn, &[ip.as_str()]) {
                        Ok(()) => "shifting",
                        Err(_) => "not set up yet",
                    }
                } else {
                    match world.start_rolling_deployment(&arn, &[ip.as_str()]) {
                        Ok(()) => "rolling",
                        Err(_) => "refused",
                    }
                }
            })
    }

    /// ECS's next step of the service's deployment.
    pub fn advance(&mut self, service: usize) -> &'static str {
        let Some(arn) = self.services.get(service).map(|s| s.arn.clone()) else {
            return "none";
        };
        self.changed_by_others(&arn);
        self.estate.fake.ecs_acts("ECS deployment step", |world| {
            match world.advance_ecs_deployment(&arn) {
                Ok(phase) => phase_name(phase),
                Err(_) => "no deployment",
            }
        })
    }

    pub fn hold(&mut self, service: usize, held: bool) -> &'static str {
        let Some(arn) = self.services.get(service).map(|s| s.arn.clone()) else {
            return "none";
        };
        let mut world = self.estate.fake.world();
        match world.hold_ecs_deployment(&arn, held) {
            Ok(()) if held => "held",
            Ok(()) => "released",
            Err(_) => "no deployment",
        }
    }

    pub fn roll_back(&mut self, service: usize) -> &'static str {
        let Some(arn) = self.services.get(service).map(|s| s.arn.clone()) else {
            return "none";
        };
        self.changed_by_others(&arn);
        self.estate.fake.ecs_acts("ECS rolls back", |world| {
            match world.roll_back_ecs_deployment(&arn) {
                Ok(()) => "rolled back",
                Err(_) => "no deployment",
            }
        })
    }

    /// The service's tasks stop answering health checks (the oracle excuses its names until
    /// they are served again), or answer again.
    pub fn health(&mut self, service: usize, failing: bool) -> &'static str {
        let Some(s) = self.services.get_mut(service) else {
            return "none";
        };
        s.failing_checks = failing;
        let key = (s.arn.clone(), PORT);
        self.estate.fake.others_act(|world| {
            if failing {
                world.refuses_health_checks.insert(key);
            } else {
                world.refuses_health_checks.remove(&key);
            }
        });
        if failing { "failing" } else { "answering" }
    }

    /// Someone edits the account by hand. Returns what happened and the event AWS would
    /// send for it (CloudTrail), if any.
    pub fn hand_edit(&mut self, edit: HandEdit) -> (&'static str, Option<String>) {
        let zone = self.estate.zone_id.clone();
        let foreign = self.foreign.clone();
        self.estate.fake.others_act(|world| {
            let mut foreign = foreign.lock().unwrap_or_else(|e| e.into_inner());
            edit_by_hand(world, &zone, &mut foreign, edit)
        })
    }

    /// Every ECS deployment takes its next step (the settling world); one that cannot go on
    /// (its load balancer setup is gone), or has not ended after `patience` steps, is rolled
    /// back as ECS's circuit breaker would. Returns the deployments still running.
    pub fn finish_deployments(&mut self, patience: u32) -> Vec<String> {
        let arns: Vec<String> = self
            .estate
            .fake
            .world()
            .ecs_deployments
            .keys()
            .cloned()
            .collect();
        let mut running = Vec::new();
        for arn in arns {
            let tries = self.settle_tries.entry(arn.clone()).or_default();
            *tries += 1;
            let give_up = *tries > patience;
            let phase = self.estate.fake.ecs_acts("ECS deployment step", |world| {
                let _ = world.hold_ecs_deployment(&arn, false);
                match world.advance_ecs_deployment(&arn) {
                    Ok(crate::fake::DeploymentPhase::Done) => None,
                    Ok(phase) if !give_up => Some(phase_name(phase)),
                    _ => {
                        let _ = world.roll_back_ecs_deployment(&arn);
                        None
                    }
                }
            });
            if let Some(phase) = phase {
                running.push(format!("{arn}: ECS deployment {phase}"));
            }
        }
        running
    }
}

fn phase_name(phase: crate::fake::DeploymentPhase) -> &'static str {
    match phase {
        crate::fake::DeploymentPhase::WaitingForHealthy => "waiting for healthy",
        crate::fake::DeploymentPhase::Shifting => "shifting",
        crate::fake::DeploymentPhase::Baking => "baking",
        crate::fake::DeploymentPhase::Done => "done",
    }
}

fn owned_rules(world: &World) -> Vec<String> {
    world
        .rules
        .values()
        .filter(|r| r.tags.contains_key(OWNER_TAG))
        .map(|r| r.arn.to_string())
        .collect()
}

fn elb_event(name: &str, rule_arn: &str) -> String {
    format!(
        r#"{{"version":"0","source":"aws.elasticloadbalancing","detail-type":"AWS API Call via CloudTrail","account":"123456789012","region":"us-east-1","resources":[],"detail":{{"eventSource":"elasticloadbalancing.amazonaws.com","eventName":"{name}","userAgent":"console","requestParameters":{{"ruleArn":"{rule_arn}"}}}}}}"#
    )
}

fn edit_by_hand(
    world: &mut World,
    zone: &str,
    foreign: &mut Foreign,
    edit: HandEdit,
) -> (&'static str, Option<String>) {
    let rules = owned_rules(world);
    let nth = |n: usize, of: &[String]| (!of.is_empty()).then(|| of[n % of.len()].clone());
    match edit {
        HandEdit::DeleteOwnedRule(n) => match nth(n, &rules) {
            Some(arn) if world.remove_rule(&arn).is_ok() => {
                tracing::info!(rule = %arn, "hand edit: rule deleted");
                ("deleted", Some(elb_event("DeleteRule", &arn)))
            }
            _ => ("nothing to edit", None),
        },
        HandEdit::RewriteOwnedRule(n) => match nth(n, &rules) {
            Some(arn) => {
                if let Some(rule) = world.rules.get_mut(&arn) {
                    tracing::info!(rule = %arn, hosts = ?rule.hosts, "hand edit: rule rewritten");
                    rule.hosts = vec!["hijacked.in.example.com".into()];
                }
                ("rewritten", Some(elb_event("ModifyRule", &arn)))
            }
            None => ("nothing to edit", None),
        },
        HandEdit::DeleteOwnedRecord(n) => {
            let Some((_, records)) = world.zones.get_mut(zone) else {
                return ("nothing to edit", None);
            };
            let ours: Vec<usize> = records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.alias.is_some() && r.name != LEGACY_HOST)
                .map(|(i, _)| i)
                .collect();
            match ours.get(n % ours.len().max(1)) {
                Some(&i) => {
                    records.remove(i);
                    ("deleted", None)
                }
                None => ("nothing to edit", None),
            }
        }
        HandEdit::DeleteOwnedTargetGroup(n) => {
            let groups: Vec<String> = world
                .target_groups
                .values()
                .filter(|g| g.tags.contains_key(OWNER_TAG))
                .map(|g| g.arn.to_string())
                .collect();
            match nth(n, &groups) {
                Some(arn) if world.remove_target_group(&arn).is_ok() => ("deleted", None),
                Some(_) => ("refused: in use", None),
                None => ("nothing to edit", None),
            }
        }
        HandEdit::MoveForeignRule => {
            let Some(arn) = foreign.rules.keys().next().cloned() else {
                return ("nothing to edit", None);
            };
            let to = if world.rules.get(&arn).and_then(|r| r.priority) == Some(5) {
                7
            } else {
                5
            };
            if world.set_rule_priorities(&[(arn.clone(), to)]).is_err() {
                return ("refused", None);
            }
            if let Some(rule) = world.rules.get(&arn) {
                foreign.rules.insert(arn.clone(), rule.clone());
            }
            ("moved", Some(elb_event("SetRulePriorities", &arn)))
        }
        HandEdit::RewriteForeignRecord => {
            let Some((_, records)) = world.zones.get_mut(zone) else {
                return ("nothing to edit", None);
            };
            let Some(record) = records.iter_mut().find(|r| r.name == LEGACY_HOST) else {
                return ("nothing to edit", None);
            };
            record.values =
                if record.values.first().map(String::as_str) == Some("legacy.example.net") {
                    vec!["legacy-2.example.net".into()]
                } else {
                    vec!["legacy.example.net".into()]
                };
            let rewritten = record.clone();
            foreign.records.retain(|r| r.name != LEGACY_HOST);
            foreign.records.push(rewritten);
            ("rewritten", None)
        }
    }
}
