//! What happens in a simulated run, drawn from its seed before it starts: a list of steps,
//! each an act of the world, of an operator, of ECS or of the network after some virtual
//! time. A run is its script; the shrinker narrows a failing run by dropping steps.

use std::time::Duration;

use super::rng::Rng;
use crate::aws::ErrorKind;

/// The listeners of the simulated estate, by the name tags use.
pub const LISTENERS: [&str; 2] = ["default", "alb-1"];

/// How a service wants to be deployed, as `alb.deploy` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeployMode {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

impl DeployMode {
    pub fn tag(self) -> &'static str {
        match self {
            DeployMode::Rolling => "rolling",
            DeployMode::BlueGreen => "blue-green",
            DeployMode::Linear => "linear",
            DeployMode::Canary => "canary",
        }
    }
}

/// What a service's tags ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// No routing tags.
    Off,
    /// A host of its own, on listener `LISTENERS[listener]`.
    Own { listener: usize, deploy: DeployMode },
    /// A path of its own on the host all such services share (on the default listener:
    /// one name points at one ALB).
    SharedPath,
    /// The last tags with one bad value: `invalid`, and what was published stays.
    Invalid,
}

/// What happens to a listener of the estate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerAct {
    /// Someone deletes the listener of `LISTENERS[n % 2]` (its rules go with it).
    Delete(usize),
    /// Someone deletes the ALB of `LISTENERS[n % 2]`: its listeners and rules go with it,
    /// and it comes back under a new DNS name (`Script::with_alb_loss`).
    DeleteAlb(usize),
    /// The operator makes every deleted listener again (same ALB and port, a new ARN; a
    /// deleted ALB made again first, same name) and restarts the replicas with the new ARNs
    /// in their flags.
    Restore,
}

/// Someone else's hand on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandEdit {
    /// Deletes the n-th (modulo their number) rule ecs-ingress made.
    DeleteOwnedRule(usize),
    /// Points the n-th rule ecs-ingress made at another host.
    RewriteOwnedRule(usize),
    /// Deletes the n-th record of a name ecs-ingress publishes (not its markers).
    DeleteOwnedRecord(usize),
    /// Tries to delete the n-th target group ecs-ingress made (AWS refuses one in use).
    DeleteOwnedTargetGroup(usize),
    /// Moves the hand-made rule to another priority outside the band.
    MoveForeignRule,
    /// Points the hand-made record elsewhere.
    RewriteForeignRecord,
}

/// An operator's or the platform's act on the controller's replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaAct {
    /// A new replica starts (up to three run at once).
    Start,
    /// `kill -9` of the n-th running replica (modulo their number).
    Kill(usize),
    /// SIGTERM: the pass in flight finishes and the lease is released.
    Stop(usize),
    /// The lease renewals of a replica (even: the leader; odd: the n-th) hang this long (a
    /// frozen process, a GC pause).
    Freeze(usize, u64),
    /// A replica (picked as for `Freeze`) is cut from the lease table, or joined back.
    Partition(usize, bool),
}

/// The operator's pool flags, applied by restarting the replicas one by one (in a run whose
/// two ALBs form one pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolFlags {
    /// `--listener default=A --listener default=B`.
    Both,
    /// The same with `--drain-listener B`: its services move to A.
    SecondDraining,
    /// `--listener default=A` alone: B still holds rules, so it is drained as if named.
    SecondRemoved,
}

/// What happens to the event an act causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Now,
    Twice,
    /// After this many more steps (out of order with what happens meanwhile).
    Late(usize),
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Retag {
        service: usize,
        intent: Intent,
    },
    /// ECS starts a deployment of a new revision: by shifting traffic when the service is
    /// set up for it, rolling otherwise.
    Deploy {
        service: usize,
    },
    /// ECS's next step of the service's deployment.
    Advance {
        service: usize,
    },
    /// A lifecycle hook starts or stops holding the deployment.
    Hold {
        service: usize,
        held: bool,
    },
    RollBack {
        service: usize,
    },
    /// The service's tasks stop answering health checks, or answer again.
    Health {
        service: usize,
        failing: bool,
    },
    HandEdit(HandEdit),
    Replica(ReplicaAct),
    /// The next `times` calls of `operation` fail with `kind`.
    Fault {
        operation: &'static str,
        kind: ErrorKind,
        times: u32,
    },
    /// Every call of `operation` takes this long from now on (0: back to normal): AWS
    /// slow for everyone, so a pass can outlive a lease.
    Slow {
        operation: &'static str,
        seconds: u64,
    },
    /// The replicas restart one by one with other pool flags.
    Pool(PoolFlags),
    /// A listener deleted by hand, or the deleted ones made again and given to the
    /// replicas by their new ARNs (`Script::with_listener_loss`).
    Listener(ListenerAct),
    /// Only time passes.
    Quiet,
}

impl Act {
    /// The coverage table's name for it.
    pub fn kind(&self) -> &'static str {
        match self {
            Act::Retag { intent, .. } => match intent {
                Intent::Off => "untag",
                Intent::Own { .. } => "tag own host",
                Intent::SharedPath => "tag shared host",
                Intent::Invalid => "tag invalid",
            },
            Act::Deploy { .. } => "ecs deploy",
            Act::Advance { .. } => "ecs step",
            Act::Hold { .. } => "ecs hook hold",
            Act::RollBack { .. } => "ecs roll back",
            Act::Health { failing: true, .. } => "tasks fail checks",
            Act::Health { failing: false, .. } => "tasks recover",
            Act::HandEdit(e) => match e {
                HandEdit::DeleteOwnedRule(_) => "hand: delete rule",
                HandEdit::RewriteOwnedRule(_) => "hand: rewrite rule",
                HandEdit::DeleteOwnedRecord(_) => "hand: delete record",
                HandEdit::DeleteOwnedTargetGroup(_) => "hand: delete target group",
                HandEdit::MoveForeignRule => "hand: move foreign rule",
                HandEdit::RewriteForeignRecord => "hand: rewrite foreign record",
            },
            Act::Replica(r) => match r {
                ReplicaAct::Start => "replica start",
                ReplicaAct::Kill(_) => "replica kill",
                ReplicaAct::Stop(_) => "replica stop",
                ReplicaAct::Freeze(..) => "replica freeze",
                ReplicaAct::Partition(..) => "replica lease partition",
            },
            Act::Fault { kind, .. } => match kind {
                ErrorKind::Throttled => "fault: throttled",
                ErrorKind::Unavailable => "fault: 5xx or dropped",
                _ => "fault: other",
            },
            Act::Pool(flags) => match flags {
                PoolFlags::Both => "pool: both members",
                PoolFlags::SecondDraining => "pool: second draining",
                PoolFlags::SecondRemoved => "pool: second removed",
            },
            Act::Listener(ListenerAct::Delete(_)) => "listener: deleted by hand",
            Act::Listener(ListenerAct::DeleteAlb(_)) => "listener: its ALB deleted by hand",
            Act::Listener(ListenerAct::Restore) => "listener: made again, flags updated",
            Act::Slow { seconds: 0, .. } => "aws fast again",
            Act::Slow { .. } => "aws slow",
            Act::Quiet => "quiet",
        }
    }

    /// The service it is about, if any (the shrinker drops a service's acts together).
    pub fn service(&self) -> Option<usize> {
        match *self {
            Act::Retag { service, .. }
            | Act::Deploy { service }
            | Act::Advance { service }
            | Act::Hold { service, .. }
            | Act::RollBack { service }
            | Act::Health { service, .. } => Some(service),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Virtual time before the act.
    pub after: Duration,
    pub act: Act,
    pub delivery: Delivery,
}

/// A run's world and its steps.
#[derive(Debug, Clone)]
pub struct Script {
    pub seed: u64,
    /// The indices (in the generated script) of the steps kept: all of them unless shrunk.
    pub kept: Vec<usize>,
    pub services: usize,
    /// Whether the replicas get events from a queue (otherwise they pass on an interval).
    pub events: bool,
    /// Each replica's host clock offset, seconds (up to five minutes either way).
    pub skews: Vec<i64>,
    /// Whether the two ALBs form one pool (`--listener default=A --listener default=B`),
    /// whose flags the operator changes now and then (`Script::with_pools`).
    pub pools: bool,
    /// Whether listeners are deleted by hand and made again (`Script::with_listener_loss`).
    pub listener_loss: bool,
    /// Whether whole ALBs are deleted by hand and made again (`Script::with_alb_loss`).
    pub alb_loss: bool,
    pub steps: Vec<Step>,
}

/// Operations faults are injected on: the reads of a pass and the writes of every kind.
pub const FAULTY: &[&str] = &[
    "DescribeServices",
    "ListServices",
    "DescribeRules",
    "DescribeTargetGroups",
    "DescribeTargetHealth",
    "GetResources",
    "ListResourceRecordSets",
    "CreateTargetGroup",
    "CreateRule",
    "ModifyRule",
    "DeleteRule",
    "DeleteTargetGroup",
    "UpdateService",
    "ChangeResourceRecordSets",
    "SetRulePriorities",
];

/// The write operations of a pass.
pub const WRITES: &[&str] = &[
    "CreateTargetGroup",
    "CreateRule",
    "ModifyRule",
    "DeleteRule",
    "DeleteTargetGroup",
    "UpdateService",
    "ChangeResourceRecordSets",
    "SetRulePriorities",
    "ModifyTargetGroup",
    "AddTags",
];

/// The script of `seed`: `steps` steps over a world of 3 to 8 services.
pub fn generate(seed: u64, steps: usize) -> Script {
    generate_for(seed, steps, Duration::MAX)
}

/// The script of `seed`, up to `steps` steps or `span` of virtual time, whichever ends first.
pub fn generate_for(seed: u64, steps: usize, span: Duration) -> Script {
    let mut rng = Rng::new(seed);
    let services = 3 + rng.below(6);
    let events = rng.chance(500);
    let skews = (0..8)
        .map(|_| i64::try_from(rng.below(601)).unwrap_or(0) - 300)
        .collect();
    let mut elapsed = Duration::ZERO;
    let mut out = Vec::new();
    while out.len() < steps && elapsed < span {
        let s = step(&mut rng, services);
        elapsed = elapsed.saturating_add(s.after);
        out.push(s);
    }
    let steps = out;
    Script {
        seed,
        kept: (0..steps.len()).collect(),
        services,
        events,
        skews,
        pools: false,
        listener_loss: false,
        alb_loss: false,
        steps,
    }
}

/// Turns 3% of the quiet steps into a listener deleted by hand, or the deleted ones made
/// again, drawn from a stream of their own (the rest of the script stays what it was).
fn listener_loss(seed: u64, steps: &mut [Step]) {
    losses(seed ^ 0x6c69_7374_656e_6572, 30, steps, ListenerAct::Delete);
}

/// As [`listener_loss`], for whole ALBs: 2% of the quiet steps left, from a stream of
/// their own.
fn alb_loss(seed: u64, steps: &mut [Step]) {
    losses(
        seed ^ 0x616c_625f_6c6f_7373,
        20,
        steps,
        ListenerAct::DeleteAlb,
    );
}

/// Turns `per_mille` of the quiet steps into a deletion (`delete` of a listener's index) or
/// a restore, half each, drawn from the stream `stream`.
fn losses(stream: u64, per_mille: u32, steps: &mut [Step], delete: fn(usize) -> ListenerAct) {
    let mut rng = Rng::new(stream);
    for s in steps.iter_mut().filter(|s| s.act == Act::Quiet) {
        if rng.chance(per_mille) {
            s.act = Act::Listener(if rng.chance(500) {
                delete(rng.below(LISTENERS.len()))
            } else {
                ListenerAct::Restore
            });
        }
    }
}

/// Turns a tenth of the quiet steps into pool flag changes. The draws come from a stream of
/// their own, so that the rest of the script stays what it was.
fn pool_flags(seed: u64, steps: &mut [Step]) {
    let mut rng = Rng::new(seed ^ 0x706f_6f6c_666c_6167);
    for s in steps.iter_mut().filter(|s| s.act == Act::Quiet) {
        if rng.chance(100) {
            s.act = Act::Pool(match rng.below(3) {
                0 => PoolFlags::Both,
                1 => PoolFlags::SecondDraining,
                _ => PoolFlags::SecondRemoved,
            });
        }
    }
}

fn step(rng: &mut Rng, services: usize) -> Step {
    // Mostly seconds to a minute apart, now and then a quiet half hour.
    let after = if rng.chance(20) {
        Duration::from_secs(600 + u64::try_from(rng.below(1800)).unwrap_or(0))
    } else {
        Duration::from_millis(500 + u64::try_from(rng.below(60_000)).unwrap_or(0))
    };
    let delivery = match rng.below(20) {
        0 | 1 => Delivery::Never,
        2 | 3 => Delivery::Twice,
        4..=6 => Delivery::Late(1 + rng.below(5)),
        _ => Delivery::Now,
    };
    Step {
        after,
        act: act(rng, services),
        delivery,
    }
}

fn act(rng: &mut Rng, services: usize) -> Act {
    let service = rng.below(services);
    match rng.below(100) {
        0..=21 => Act::Retag {
            service,
            intent: intent(rng),
        },
        22..=31 => Act::Deploy { service },
        32..=49 => Act::Advance { service },
        50..=51 => Act::Hold {
            service,
            held: rng.chance(500),
        },
        52..=53 => Act::RollBack { service },
        54..=57 => Act::Health {
            service,
            failing: rng.chance(500),
        },
        58..=65 => Act::HandEdit(hand_edit(rng)),
        66..=73 => Act::Replica(replica_act(rng)),
        74..=83 => Act::Fault {
            operation: rng.pick(FAULTY).copied().unwrap_or("DescribeRules"),
            kind: match rng.below(3) {
                0 => ErrorKind::Throttled,
                _ => ErrorKind::Unavailable,
            },
            times: 1 + u32::try_from(rng.below(4)).unwrap_or(0),
        },
        84..=88 => Act::Slow {
            operation: rng.pick(FAULTY).copied().unwrap_or("ModifyRule"),
            seconds: if rng.chance(400) {
                0
            } else {
                u64::try_from(rng.below(30)).unwrap_or(0)
            },
        },
        _ => Act::Quiet,
    }
}

fn intent(rng: &mut Rng) -> Intent {
    match rng.below(10) {
        0 | 1 => Intent::Off,
        2 | 3 => Intent::SharedPath,
        4 => Intent::Invalid,
        _ => Intent::Own {
            listener: rng.below(LISTENERS.len()),
            deploy: match rng.below(8) {
                0 => DeployMode::BlueGreen,
                1 => DeployMode::Linear,
                2 => DeployMode::Canary,
                _ => DeployMode::Rolling,
            },
        },
    }
}

fn hand_edit(rng: &mut Rng) -> HandEdit {
    let n = rng.below(16);
    match rng.below(6) {
        0 => HandEdit::DeleteOwnedRule(n),
        1 => HandEdit::RewriteOwnedRule(n),
        2 => HandEdit::DeleteOwnedRecord(n),
        3 => HandEdit::DeleteOwnedTargetGroup(n),
        4 => HandEdit::MoveForeignRule,
        _ => HandEdit::RewriteForeignRecord,
    }
}

fn replica_act(rng: &mut Rng) -> ReplicaAct {
    let n = rng.below(3);
    match rng.below(8) {
        0 | 1 => ReplicaAct::Start,
        2 => ReplicaAct::Kill(n),
        3 => ReplicaAct::Stop(n),
        4..=6 => ReplicaAct::Freeze(n, 5 + u64::try_from(rng.below(40)).unwrap_or(0)),
        _ => ReplicaAct::Partition(n, rng.chance(500)),
    }
}

impl Script {
    /// The pool world (`--pools`): both ALBs form one pool whose flags the operator changes
    /// now and then.
    pub fn with_pools(mut self) -> Self {
        self.pools = true;
        pool_flags(self.seed, &mut self.steps);
        self
    }

    /// Listeners deleted by hand now and then (`--listener-loss`), and made again.
    pub fn with_listener_loss(mut self) -> Self {
        self.listener_loss = true;
        listener_loss(self.seed, &mut self.steps);
        self
    }

    /// ALBs deleted by hand now and then (`--alb-loss`), and made again under new DNS names.
    pub fn with_alb_loss(mut self) -> Self {
        self.alb_loss = true;
        alb_loss(self.seed, &mut self.steps);
        self
    }

    /// Keeps only the steps at `indices` of the generated script (a shrunk case replayed).
    pub fn keep(self, indices: &[usize]) -> Self {
        self.retained(|i, _| indices.contains(&i))
    }

    /// The steps for which `keep` (given each step's index in the generated script) holds.
    fn retained(mut self, keep: impl Fn(usize, &Step) -> bool) -> Self {
        let (kept, steps) = self
            .kept
            .iter()
            .zip(&self.steps)
            .filter(|(i, s)| keep(**i, s))
            .map(|(i, s)| (*i, *s))
            .unzip();
        self.kept = kept;
        self.steps = steps;
        self
    }

    /// Without the steps at positions `range` (of this script).
    pub fn without(&self, range: std::ops::Range<usize>) -> Self {
        let mut out = self.clone();
        out.kept.drain(range.clone());
        out.steps.drain(range);
        out
    }

    /// Without the acts about `service`.
    pub fn without_service(&self, service: usize) -> Self {
        self.clone()
            .retained(|_, s| s.act.service() != Some(service))
    }

    /// Virtual time the steps span.
    pub fn span(&self) -> Duration {
        self.steps.iter().map(|s| s.after).sum()
    }
}
