//! An ALB pool against moto, with the real binary: two internal ALBs given as
//! `--listener internal=...` twice, each holding at most three target groups
//! (`--max-target-groups-per-alb 3`). Placement, stickiness when services come and go,
//! growing a third ALB with `--pool-max-albs`, and draining one ALB, each checked through an
//! independent boto3 view (rules per listener with their ownership tags, target groups per
//! ALB, Route 53 alias targets, the services' load-balancer entries), not through
//! ecs-ingress's own report.
//!
//! Where moto is lenient, and what this test therefore leaves to the fake
//! (`tests/fake_pools.rs`):
//! - moto enforces neither the 100 target groups per ALB nor the rules-per-ALB quota: the cap
//!   of three here is ecs-ingress's own counting, which is exactly what the boto3 view checks
//!   (a placement over the cap would succeed on moto and fail the assertions below).
//! - moto never runs health checks: a registered IP target is `healthy` at once and stays so.
//!   ECS does not register tasks on moto either, so the seed script's `deploy` does it between
//!   passes. "Wait for healthy targets" is therefore seen here only as "wait until the new
//!   group has targets"; unhealthy targets, and the check that no request goes unserved during
//!   a move, are the fake's.
//! - Route 53 changes are INSYNC at once and nothing caches answers: the DNS drain shows here
//!   only as ordering (the old rules outlive the switch by `--dns-drain`); whether cached
//!   answers still reach a live ALB is checked on the fake.
//! - moto's services have no creation time, so "oldest first" falls back to the service ARN:
//!   the services are named so that name order is age order.
//! - DescribeAccountLimits answers fixed values (20 ALBs), so a full account is the fake's.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use support::{Moto, Seed, apply_ok, stdout};

const POOL: &str = "internal";
const GROUPS_PER_ALB: usize = 3;
const DNS_DRAIN: Duration = Duration::from_secs(1);

/// Every ALB with its listeners and rules (and the rules' tags), every target group with the
/// ALBs it forwards from, the zone's alias targets and each service's load-balancer entries.
const VIEW: &str = r#"
elb, r53, ecs = client("elbv2"), client("route53"), client("ecs")
zone, cluster = args[0], args[1]

def tags_of(arns):
    out = {}
    for i in range(0, len(arns), 20):
        for d in elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
            out[d["ResourceArn"]] = {t["Key"]: t["Value"] for t in d["Tags"]}
    return out

def values(c):
    return c.get("Values") or c.get("HostHeaderConfig", {}).get("Values", [])

albs = []
for lb in [lb for page in elb.get_paginator("describe_load_balancers").paginate() for lb in page["LoadBalancers"]]:
    listeners = []
    for l in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
        rules = [r for r in elb.describe_rules(ListenerArn=l["ListenerArn"])["Rules"] if not r["IsDefault"]]
        rule_tags = tags_of([r["RuleArn"] for r in rules])
        listeners.append({
            "arn": l["ListenerArn"],
            "port": l["Port"],
            "protocol": l["Protocol"],
            "default_actions": [a["Type"] for a in l["DefaultActions"]],
            "rules": [{
                "arn": r["RuleArn"],
                "tags": rule_tags.get(r["RuleArn"], {}),
                "hosts": [v for c in r["Conditions"] if c["Field"] == "host-header" for v in values(c)],
            } for r in rules],
        })
    albs.append({
        "arn": lb["LoadBalancerArn"],
        "dns": lb["DNSName"].lower(),
        "tags": tags_of([lb["LoadBalancerArn"]]).get(lb["LoadBalancerArn"], {}),
        "listeners": listeners,
    })
groups = [g for page in elb.get_paginator("describe_target_groups").paginate() for g in page["TargetGroups"]]
group_tags = tags_of([g["TargetGroupArn"] for g in groups])
records = [r for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone) for r in page["ResourceRecordSets"]]
names = [s.split("/")[-1] for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for s in page["serviceArns"]]
attachments = {}
for i in range(0, len(names), 10):
    for s in ecs.describe_services(cluster=cluster, services=names[i:i + 10])["services"]:
        if s["status"] == "ACTIVE":
            attachments[s["serviceName"]] = sorted(lb["targetGroupArn"] for lb in s.get("loadBalancers", []))
print(json.dumps({
    "albs": albs,
    "groups": [{
        "arn": g["TargetGroupArn"],
        "load_balancers": sorted(set(g.get("LoadBalancerArns", []))),
        "tags": group_tags.get(g["TargetGroupArn"], {}),
    } for g in groups],
    "aliases": {
        r["Name"].rstrip("."): r["AliasTarget"]["DNSName"].rstrip(".").lower().removeprefix("dualstack.")
        for r in records if r["Type"] == "A" and "AliasTarget" in r
    },
    "attachments": attachments,
}))
"#;

#[derive(Debug, Deserialize)]
struct View {
    albs: Vec<Alb>,
    groups: Vec<Group>,
    /// Record name → the DNS name its alias points at.
    aliases: BTreeMap<String, String>,
    /// Service name → the target groups of its `loadBalancers`.
    attachments: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Alb {
    arn: String,
    dns: String,
    tags: BTreeMap<String, String>,
    listeners: Vec<Listener>,
}

#[derive(Debug, Deserialize)]
struct Listener {
    arn: String,
    port: i64,
    protocol: String,
    default_actions: Vec<String>,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
struct Rule {
    arn: String,
    tags: BTreeMap<String, String>,
    hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Group {
    arn: String,
    load_balancers: Vec<String>,
    tags: BTreeMap<String, String>,
}

/// Where boto3 sees one service's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placed {
    alb: String,
    listener: String,
    rule: String,
}

impl View {
    fn read(moto: &Moto, seed: &Seed) -> View {
        let raw = moto.boto3(VIEW, &[&seed.hosted_zone_id, &seed.cluster]);
        serde_json::from_value(raw).expect("the boto3 view parses")
    }

    /// Service name → where its ecs-ingress rules are (each service here has one host, so
    /// one rule). A service with rules on two listeners is mid-move: both are kept.
    fn placement(&self) -> BTreeMap<String, Vec<Placed>> {
        let mut out: BTreeMap<String, Vec<Placed>> = BTreeMap::new();
        for alb in &self.albs {
            for l in &alb.listeners {
                for r in &l.rules {
                    let Some(service) = r.tags.get("ecs-ingress/service") else {
                        continue;
                    };
                    assert_eq!(
                        r.tags.get("ecs-ingress/owner").map(String::as_str),
                        Some("ecs-ingress"),
                        "{r:?}"
                    );
                    let name = service.rsplit('/').next().unwrap_or_default().to_string();
                    assert_eq!(r.hosts, vec![host(&name)], "{r:?}");
                    out.entry(name).or_default().push(Placed {
                        alb: alb.arn.clone(),
                        listener: l.arn.clone(),
                        rule: r.arn.clone(),
                    });
                }
            }
        }
        out
    }

    /// Service name → its one rule's place; fails if a service is on two ALBs.
    fn settled(&self) -> BTreeMap<String, Placed> {
        self.placement()
            .into_iter()
            .map(|(name, mut at)| {
                assert_eq!(at.len(), 1, "{name} has rules on several listeners: {at:?}");
                (name, at.remove(0))
            })
            .collect()
    }

    /// Target groups forwarding from an ALB, hand-made ones (a default action's) included.
    fn groups_on(&self, alb: &str) -> usize {
        self.groups
            .iter()
            .filter(|g| g.load_balancers.iter().any(|l| l == alb))
            .count()
    }

    fn owned_groups(&self) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.tags.contains_key("ecs-ingress/owner"))
            .collect()
    }

    fn alb(&self, arn: &str) -> &Alb {
        self.albs
            .iter()
            .find(|a| a.arn == arn)
            .unwrap_or_else(|| panic!("boto3 sees no ALB {arn}"))
    }

    /// The ALB a name's alias points at.
    fn alias_alb(&self, name: &str) -> Option<&str> {
        let dns = self.aliases.get(&host(name))?;
        self.albs
            .iter()
            .find(|a| &a.dns == dns)
            .map(|a| a.arn.as_str())
    }

    /// Every ALB of the pool holds at most the cap: moto would accept more.
    fn assert_within_cap(&self) {
        for alb in &self.albs {
            assert!(
                self.groups_on(&alb.arn) <= GROUPS_PER_ALB,
                "{} forwards to {} target groups: {:#?}",
                alb.arn,
                self.groups_on(&alb.arn),
                self.groups
            );
        }
    }

    /// Each named service has its rule on `alb`, its alias points there, and ECS sends its
    /// tasks to exactly the one owned group forwarding from there.
    fn assert_on(&self, name: &str, alb: &str) {
        let placed = self.settled();
        let at = placed
            .get(name)
            .unwrap_or_else(|| panic!("{name} has no rule: {placed:?}"));
        assert_eq!(at.alb, alb, "{name}'s rule");
        assert_eq!(self.alias_alb(name), Some(alb), "{name}'s alias");
        let attached = self.attachments.get(name).cloned().unwrap_or_default();
        assert_eq!(attached.len(), 1, "{name}: {attached:?}");
        let group = self
            .groups
            .iter()
            .find(|g| g.arn == attached[0])
            .unwrap_or_else(|| panic!("{name}'s attached group exists"));
        assert_eq!(group.load_balancers, vec![alb.to_string()], "{name}");
    }
}

fn host(name: &str) -> String {
    format!("{name}.in.example.com")
}

/// A service published on the pool by its own tags.
fn add(moto: &Moto, seed: &Seed, name: &str) -> String {
    moto.create_service(
        seed,
        name,
        &[],
        &[("alb.host", &host(name)), ("alb.listener", POOL)],
        &[],
    )
}

/// Applies until a pass has nothing to change and waits for nothing. Between passes it does
/// what ECS would (registers the tasks of `names` in their services' groups, which moto then
/// reports healthy) and lets `pause` go by (the DNS drain of a move). Returns the last output.
fn converge(moto: &Moto, seed: &Seed, args: &[String], names: &[&str], pause: Duration) -> String {
    for _ in 0..8 {
        let out = apply_ok(moto, args);
        if out.starts_with("Nothing to change.") && !out.contains("waiting:") {
            return out;
        }
        moto.ecs_deploys_all(seed, names);
        std::thread::sleep(pause);
    }
    panic!("not converged after 8 passes: {}", apply_ok(moto, args));
}

/// Where each new service goes, oldest first: to the ALB with the most free target groups,
/// ties to the one given first; `None` when every ALB is full.
fn predict(free: &mut [usize], count: usize) -> Vec<Option<usize>> {
    (0..count)
        .map(|_| {
            let best = (0..free.len())
                .filter(|&i| free[i] > 0)
                .max_by_key(|&i| (free[i], std::cmp::Reverse(i)))?;
            free[best] -= 1;
            Some(best)
        })
        .collect()
}

fn unmoved(before: &BTreeMap<String, Placed>, after: &BTreeMap<String, Placed>, names: &[&str]) {
    for name in names {
        assert_eq!(
            after.get(*name),
            before.get(*name),
            "{name} moved (same rule on the same listener expected)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_places_by_room_stays_put_grows_and_drains_as_boto3_sees_it() {
    let moto = Moto::start();
    let seed = moto.seed_with_albs(2);
    let sdk = moto.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let a = seed.load_balancer_arn.clone();
    let b = seed.more_load_balancers[0].arn.clone();
    let mut args = vec![
        "--cluster".to_string(),
        seed.cluster.clone(),
        "--listener".into(),
        format!("{POOL}={}", seed.listener_arn),
        "--listener".into(),
        format!("{POOL}={}", seed.more_load_balancers[0].listener_arn),
        "--hosted-zone".into(),
        seed.hosted_zone_id.clone(),
        "--max-target-groups-per-alb".into(),
        GROUPS_PER_ALB.to_string(),
    ];

    // 1. Placement. A's default action forwards to the seed's group, which counts toward
    // the cap; B's answers a fixed 404 and holds none.
    let empty = View::read(&moto, &seed);
    let mut free = [
        GROUPS_PER_ALB - empty.groups_on(&a),
        GROUPS_PER_ALB - empty.groups_on(&b),
    ];
    assert_eq!(free, [2, 3], "what boto3 sees before the first pass");
    let first = ["s0", "s1", "s2", "s3", "s4"];
    let arns: BTreeMap<&str, String> = first
        .iter()
        .map(|name| (*name, add(&moto, &seed, name)))
        .collect();
    converge(&moto, &seed, &args, &first, Duration::ZERO);
    let view = View::read(&moto, &seed);
    let pool = [a.as_str(), b.as_str()];
    for (name, at) in first.iter().zip(predict(&mut free, first.len())) {
        let at = at.expect("five services fit on two ALBs of three groups");
        view.assert_on(name, pool[at]);
    }
    assert_eq!(free, [0, 0], "both ALBs are full");
    assert_eq!((view.groups_on(&a), view.groups_on(&b)), (3, 3));
    view.assert_within_cap();
    let placed = view.settled();

    // 2. Stickiness: s1 goes, s5 and s6 come. s5 takes the room s1 left on A; s6 finds none
    // and waits with `quota`. Nobody else moves.
    assert_eq!(placed["s1"].alb, a);
    ecs.untag_resource()
        .resource_arn(&arns["s1"])
        .tag_keys("alb.host")
        .send()
        .await
        .expect("untag s1");
    add(&moto, &seed, "s5");
    add(&moto, &seed, "s6");
    let live = ["s0", "s2", "s3", "s4", "s5", "s6"];
    let out = converge(&moto, &seed, &args, &live, Duration::ZERO);
    assert!(
        out.lines()
            .any(|l| l.starts_with("main/s6 ") && l.contains("quota")),
        "{out}"
    );
    let view = View::read(&moto, &seed);
    let after = view.settled();
    unmoved(&placed, &after, &["s0", "s2", "s3", "s4"]);
    assert!(!after.contains_key("s1"), "{after:?}");
    assert!(
        !view.aliases.contains_key(&host("s1")),
        "{:?}",
        view.aliases
    );
    view.assert_on("s5", &a);
    assert!(!after.contains_key("s6"), "{after:?}");
    assert!(
        !view.aliases.contains_key(&host("s6")),
        "{:?}",
        view.aliases
    );
    view.assert_within_cap();
    let placed = after;

    // 3. Growth: the pool may have three ALBs. The third is a clone of A (the first given),
    // tagged as ecs-ingress's, with a listener on the same port whose default action cannot
    // forward to A's group; s6 is published there and nothing else moves.
    args.extend(["--pool-max-albs".into(), format!("{POOL}=3")]);
    converge(&moto, &seed, &args, &live, Duration::ZERO);
    let view = View::read(&moto, &seed);
    assert_eq!(view.albs.len(), 3, "{:#?}", view.albs);
    let c = view
        .albs
        .iter()
        .find(|l| l.arn != a && l.arn != b)
        .expect("a third ALB")
        .arn
        .clone();
    let grown = view.alb(&c);
    assert_eq!(
        grown.tags.get("ecs-ingress/owner").map(String::as_str),
        Some("ecs-ingress")
    );
    assert_eq!(
        grown.tags.get("ecs-ingress/pool").map(String::as_str),
        Some(POOL)
    );
    assert_eq!(grown.listeners.len(), 1, "{:#?}", grown.listeners);
    let listener = &grown.listeners[0];
    assert_eq!((listener.port, listener.protocol.as_str()), (80, "HTTP"));
    assert_eq!(listener.default_actions, vec!["fixed-response".to_string()]);
    let after = view.settled();
    unmoved(&placed, &after, &["s0", "s2", "s3", "s4", "s5"]);
    view.assert_on("s6", &c);
    assert_eq!(after["s6"].listener, listener.arn);
    view.assert_within_cap();
    let placed = after;

    // 4. Drain A: its services (s3, s5) move to the only ALB with room, C; B's stay. The first
    // pass stages the move: new group and rule on C, DNS still on A until C's group has
    // targets.
    assert_eq!(
        placed
            .iter()
            .filter(|(_, p)| p.alb == a)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        vec!["s3", "s5"]
    );
    args.extend([
        "--drain-listener".into(),
        seed.listener_arn.clone(),
        "--dns-drain".into(),
        "1s".into(),
    ]);
    apply_ok(&moto, &args);
    let staged = View::read(&moto, &seed);
    let moving = staged.placement();
    for name in ["s3", "s5"] {
        let albs: BTreeSet<&str> = moving[name].iter().map(|p| p.alb.as_str()).collect();
        assert_eq!(albs, BTreeSet::from([a.as_str(), c.as_str()]), "{name}");
        assert_eq!(
            staged.alias_alb(name),
            Some(a.as_str()),
            "{name}'s name stays on A while C's new group has no targets"
        );
    }
    // A little longer than the drain, so each pass after the switch may finish the move.
    converge(
        &moto,
        &seed,
        &args,
        &live,
        DNS_DRAIN + Duration::from_millis(200),
    );
    let view = View::read(&moto, &seed);
    let after = view.settled();
    let on_a: Vec<&Rule> = view
        .alb(&a)
        .listeners
        .iter()
        .flat_map(|l| &l.rules)
        .filter(|r| r.tags.contains_key("ecs-ingress/owner"))
        .collect();
    assert!(
        on_a.is_empty(),
        "the drained listener holds ecs-ingress rules: {on_a:?}"
    );
    view.assert_on("s3", &c);
    view.assert_on("s5", &c);
    unmoved(&placed, &after, &["s0", "s2", "s4", "s6"]);
    // The old groups are gone: one owned group per published service, and A keeps only the
    // seed's own.
    assert_eq!(view.owned_groups().len(), live.len(), "{:#?}", view.groups);
    assert_eq!(view.groups_on(&a), 1);
    assert_eq!(view.groups_on(&c), GROUPS_PER_ALB);
    view.assert_within_cap();
    let out = apply_ok(&moto, &args);
    assert!(out.starts_with("Nothing to change."), "{out}");
}

impl View {
    /// No target group is forwarded to from two ALBs: AWS refuses that
    /// (`TargetGroupAssociationLimit`), moto accepts it, so it is checked here.
    fn assert_one_alb_per_group(&self, when: &str) {
        for g in &self.groups {
            assert!(
                g.load_balancers.len() <= 1,
                "{when}: {} forwarded from {:?}",
                g.arn,
                g.load_balancers
            );
        }
    }
}

/// [`converge`] with boto3's view checked after every pass: one ALB per target group.
fn converge_one_alb_per_group(moto: &Moto, seed: &Seed, args: &[String], names: &[&str]) {
    for pass in 1..=10 {
        let out = apply_ok(moto, args);
        View::read(moto, seed).assert_one_alb_per_group(&format!("after pass {pass}"));
        if out.starts_with("Nothing to change.") && !out.contains("waiting:") {
            return;
        }
        moto.ecs_deploys_all(seed, names);
        std::thread::sleep(DNS_DRAIN + Duration::from_millis(200));
    }
    panic!("not converged after 10 passes: {}", apply_ok(moto, args));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_removed_from_the_flags_is_drained_and_a_retag_moves_by_the_same_protocol() {
    let moto = Moto::start();
    let seed = moto.seed_with_albs(2);
    // The real adapters learn AWS's clock from the `Date` header of its answers (moto's is
    // this host's, so the offset is about zero; what matters is that it was read).
    let aws = ecs_ingress::aws::clients::real_aws(
        &moto.sdk().await,
        std::sync::Arc::new(ecs_ingress::telemetry::Metrics::new(
            ecs_ingress::aws::OPERATIONS,
        )),
        100,
    );
    assert!(!aws.clock.is_learned());
    aws.route53
        .get_hosted_zone(&seed.hosted_zone_id)
        .await
        .expect("the seed's zone");
    assert!(
        aws.clock.is_learned(),
        "no Date header read from Route 53's answer"
    );
    assert!(aws.clock.offset().abs() <= 2, "{}", aws.clock.offset());
    let (a, b) = (
        seed.load_balancer_arn.clone(),
        seed.more_load_balancers[0].arn.clone(),
    );
    let pool_args = |members: &[&str]| {
        let mut args = vec!["--cluster".to_string(), seed.cluster.clone()];
        for m in members {
            args.extend(["--listener".into(), format!("{POOL}={m}")]);
        }
        args.extend([
            "--hosted-zone".into(),
            seed.hosted_zone_id.clone(),
            "--dns-drain".into(),
            "1s".into(),
        ]);
        args
    };
    let names = ["s0", "s1", "s2", "s3"];
    for name in names {
        add(&moto, &seed, name);
    }
    let both = pool_args(&[
        &seed.listener_arn,
        &seed.more_load_balancers[0].listener_arn,
    ]);
    converge_one_alb_per_group(&moto, &seed, &both, &names);
    let placed = View::read(&moto, &seed).settled();
    let on_b: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| placed[*n].alb == b)
        .collect();
    assert!(!on_b.is_empty(), "{placed:?}");

    // 1. B's listener leaves the flags without a drain: its services move to A by the move
    // protocol (the first pass says so), and nothing is left on B.
    let only_a = pool_args(&[seed.listener_arn.as_str()]);
    let mut plan = vec!["plan".to_string()];
    plan.extend(only_a.iter().cloned());
    let plan: Vec<&str> = plan.iter().map(String::as_str).collect();
    let out = stdout(&moto.ecs_ingress(&plan));
    assert!(out.contains("no longer given with --listener"), "{out}");
    converge_one_alb_per_group(&moto, &seed, &only_a, &names);
    let view = View::read(&moto, &seed);
    for name in names {
        view.assert_on(name, &a);
    }
    assert!(
        view.alb(&b).listeners.iter().all(|l| l.rules.is_empty()),
        "rules left on B: {:#?}",
        view.alb(&b)
    );
    assert_eq!(view.owned_groups().len(), names.len());

    // 2. s0 is retagged onto a listener of its own name on B (no pool): a second group on
    // B, the name switched once it has targets, then A's rule and group removed.
    let mut split = only_a.clone();
    split.extend([
        "--listener".into(),
        format!("other={}", seed.more_load_balancers[0].listener_arn),
    ]);
    let arn = moto
        .boto3(
            r#"
ecs = client("ecs")
arn = ecs.describe_services(cluster=args[0], services=[args[1]])["services"][0]["serviceArn"]
ecs.tag_resource(resourceArn=arn, tags=[{"key": "alb.listener", "value": "other"}])
print(json.dumps(arn))
"#,
            &[&seed.cluster, "s0"],
        )
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(arn.contains("s0"), "{arn}");
    converge_one_alb_per_group(&moto, &seed, &split, &names);
    let view = View::read(&moto, &seed);
    view.assert_on("s0", &b);
    for name in &names[1..] {
        view.assert_on(name, &a);
    }
    assert_eq!(view.owned_groups().len(), names.len());
}
