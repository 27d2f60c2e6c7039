//! How much room each member of a pool has, and what a unit of candidates needs there:
//! rules, target groups and, on HTTPS listeners, the certificates its hosts would add.
//!
//! Certificates are shared: one a member's listener already presents costs nothing there,
//! and one a unit placed earlier in the pass adds is not counted again for the next. So a unit's
//! certificate need depends on the member, unlike its rules and groups.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::ownership::CREATED_TAG;
use crate::plan::PlanConfig;
use crate::plan::arbitrate::Candidate;
use crate::plan::capacity::{groups_max, rules_max};
use crate::plan::certificates::{self, certificates_max};
use crate::plan::desired::Location;
use crate::plan::owned::Owned;
use crate::snapshot::{CertificatesRead, Snapshot};

/// Rules, target groups and certificates (each listener's default excluded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub rules: usize,
    pub groups: usize,
    pub certificates: usize,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.rules += other.rules;
        self.groups += other.groups;
        self.certificates += other.certificates;
    }
    fn remove(&mut self, other: Usage) {
        self.rules = self.rules.saturating_sub(other.rules);
        self.groups = self.groups.saturating_sub(other.groups);
        self.certificates = self.certificates.saturating_sub(other.certificates);
    }
}

/// What a unit needs: its rules and groups on any member, and per member the certificates
/// its hosts would add there.
#[derive(Debug, Default)]
pub struct Need<'c> {
    pub usage: Usage,
    lacking: BTreeMap<&'c str, BTreeSet<String>>,
    /// What a new ALB of the pool would have to take: every certificate lacking somewhere.
    pub for_new_alb: BTreeSet<String>,
}

impl Need<'_> {
    fn certificates_on(&self, lb: &str) -> Option<&BTreeSet<String>> {
        self.lacking.get(lb)
    }
    /// Rules, groups and the certificates a new ALB would take.
    pub fn on_new_alb(&self) -> Usage {
        Usage {
            certificates: self.for_new_alb.len(),
            ..self.usage
        }
    }
}

/// What a unit needs where it is placed: every rule, one target group per service (none for
/// the losers of a conflict, which create nothing), and the certificates its hosts lack on
/// each member's listener.
pub fn demand<'c>(
    observed: &Snapshot,
    candidates: &'c [Candidate<'_>],
    unit: &[usize],
    losers: &BTreeSet<usize>,
) -> Need<'c> {
    let mut need = Need::default();
    let certificates_read = matches!(observed.certificates, CertificatesRead::Read(_));
    for &i in unit.iter().filter(|i| !losers.contains(i)) {
        let c = &candidates[i];
        need.usage.add(Usage {
            rules: c.desired.rules.len(),
            groups: 1,
            certificates: 0,
        });
        if !certificates_read {
            continue;
        }
        for at in &c.choices {
            let lacking = certificates::lacking_on(observed, c.desired.intent, at.listener_arn);
            need.for_new_alb.extend(lacking.iter().cloned());
            need.lacking
                .entry(at.load_balancer.arn.as_str())
                .or_default()
                .extend(lacking);
        }
    }
    need
}

/// What one ALB holds and may hold, and the certificates placed units add this pass.
#[derive(Debug, Clone)]
struct Room {
    used: Usage,
    max: Usage,
    certificates: BTreeSet<String>,
}

impl Room {
    /// The certificates of `need` no unit placed earlier in this pass adds to this ALB
    /// (those its listener presents are not in `need`): as admission counts them.
    fn fresh<'n>(&self, need: &'n Need<'_>, lb: &str) -> Vec<&'n String> {
        need.certificates_on(lb)
            .into_iter()
            .flatten()
            .filter(|c| !self.certificates.contains(*c))
            .collect()
    }
    fn fits(&self, need: &Need<'_>, lb: &str) -> bool {
        let more = need.usage;
        self.used.rules + more.rules <= self.max.rules
            && self.used.groups + more.groups <= self.max.groups
            && self.used.certificates + self.fresh(need, lb).len() <= self.max.certificates
    }
    /// The scarcest of what the unit takes here, so it goes where all have room to spare:
    /// rules and groups, and certificates only when it adds one (a unit that shares a
    /// certificate already there is not sent to add it to another ALB).
    fn free(&self, need: &Need<'_>, lb: &str) -> usize {
        let rules = self.max.rules.saturating_sub(self.used.rules);
        let groups = self.max.groups.saturating_sub(self.used.groups);
        let certificates = if self.fresh(need, lb).is_empty() {
            usize::MAX
        } else {
            self.max.certificates.saturating_sub(self.used.certificates)
        };
        rules.min(groups).min(certificates)
    }
    fn take(&mut self, need: &Need<'_>, lb: &str) {
        let fresh: Vec<String> = self.fresh(need, lb).into_iter().cloned().collect();
        self.used.add(Usage {
            certificates: fresh.len(),
            ..need.usage
        });
        self.certificates.extend(fresh);
    }
}

/// Room per ALB of the pools' members, with the candidates' own rules and groups taken out
/// (they are counted again where each is placed). Certificates stay counted: shared, they
/// cost a unit nothing where they already are.
pub struct Rooms {
    rooms: BTreeMap<String, Room>,
    draining: BTreeSet<String>,
}

/// What one ALB of a pool may hold: the account's quotas, lowered by the headroom flags.
pub fn limits(config: &PlanConfig, observed: &Snapshot) -> Usage {
    Usage {
        rules: rules_max(&config.pools, observed),
        groups: groups_max(&config.pools),
        certificates: certificates_max(config.max_certificates_per_alb, observed),
    }
}

impl Rooms {
    pub fn new(
        config: &PlanConfig,
        observed: &Snapshot,
        owned: &Owned<'_>,
        candidates: &[Candidate<'_>],
        losers: &BTreeSet<usize>,
    ) -> Self {
        let max = limits(config, observed);
        // Counted once: a walk of every group per ALB was ALBs × groups each pass.
        let groups_on = observed.target_groups_per_load_balancer();
        let mut rooms: BTreeMap<String, Room> = BTreeMap::new();
        let mut draining = BTreeSet::new();
        for l in candidates.iter().flat_map(|c| &c.choices) {
            let lb = &l.load_balancer.arn;
            if config.pools.draining.contains(l.listener_arn) {
                draining.insert(lb.to_string());
            }
            rooms.entry(lb.to_string()).or_insert_with(|| Room {
                used: used(observed, &groups_on, lb),
                max,
                certificates: BTreeSet::new(),
            });
        }
        let mut seen = BTreeSet::new();
        for (_, c) in candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| !losers.contains(i))
        {
            if !seen.insert(c.desired.service.arn.as_str()) {
                continue;
            }
            // Only where it is (or is going): what it still holds on an ALB it leaves stays
            // counted until that move drains, so nothing is placed into room not yet free.
            if let Some(lb) = current(owned, c)
                && let Some(room) = rooms.get_mut(lb)
            {
                room.used.remove(usage_on(observed, owned, c, lb));
            }
        }
        Self { rooms, draining }
    }

    pub fn draining(&self, lb: &str) -> bool {
        self.draining.contains(lb)
    }
    pub fn fits(&self, lb: &str, need: &Need<'_>) -> bool {
        self.rooms.get(lb).is_some_and(|r| r.fits(need, lb))
    }
    pub fn free(&self, lb: &str, need: &Need<'_>) -> usize {
        self.rooms.get(lb).map_or(0, |r| r.free(need, lb))
    }
    pub fn take(&mut self, lb: &str, need: &Need<'_>) {
        if let Some(r) = self.rooms.get_mut(lb) {
            r.take(need, lb);
        }
    }
}

/// Rules across every listener of an ALB, target groups forwarding from it, and the
/// certificates on its listeners besides their defaults.
fn used(observed: &Snapshot, groups_on: &FxHashMap<&str, usize>, lb: &str) -> Usage {
    Usage {
        rules: observed
            .rules_per_load_balancer
            .get(lb)
            .copied()
            .unwrap_or(0),
        groups: groups_on.get(lb).copied().unwrap_or(0),
        certificates: observed
            .certificates_per_load_balancer
            .get(lb)
            .copied()
            .unwrap_or(0),
    }
}

/// The ALB a candidate's rules are on; during a move (rules on two), the one holding its
/// newest target group: where it is going.
pub fn current<'c>(owned: &Owned<'_>, c: &'c Candidate<'_>) -> Option<&'c str> {
    let rules = owned.rules_of(&c.desired.service.arn);
    let held: Vec<&Location<'_>> = c
        .choices
        .iter()
        .filter(|l| rules.iter().any(|r| r.listener_arn == l.listener_arn))
        .collect();
    let newest_on = |l: &Location<'_>| {
        owned
            .groups_of(&c.desired.service.arn)
            .iter()
            .filter(|g| g.load_balancer_arns.contains(&l.load_balancer.arn))
            .filter_map(|g| g.tags.get(CREATED_TAG)?.parse::<i64>().ok())
            .max()
    };
    held.into_iter()
        .max_by_key(|l| newest_on(l))
        .map(|l| l.load_balancer.arn.as_str())
}

/// A candidate's own rules and groups on one ALB (its certificates are shared: not its own).
fn usage_on(observed: &Snapshot, owned: &Owned<'_>, c: &Candidate<'_>, lb: &str) -> Usage {
    let arn = c.desired.service.arn.as_str();
    Usage {
        rules: owned
            .rules_of(arn)
            .iter()
            .filter(|r| {
                observed
                    .listeners
                    .get(r.listener_arn.as_str())
                    .is_some_and(|l| l.load_balancer_arn == lb)
            })
            .count(),
        groups: owned
            .groups_of(arn)
            .iter()
            .filter(|g| g.load_balancer_arns.iter().any(|a| a == lb))
            .count(),
        certificates: 0,
    }
}

/// What the new ALBs of a pool must take: the units no member has room for.
#[derive(Debug, Default)]
pub struct Waiting {
    usage: Usage,
    certificates: BTreeSet<String>,
}

impl Waiting {
    pub fn add(&mut self, need: &Need<'_>) {
        self.usage.add(need.usage);
        // A certificate several units need is added once per ALB.
        self.certificates.extend(need.for_new_alb.iter().cloned());
    }
    pub fn total(&self) -> Usage {
        Usage {
            certificates: self.certificates.len(),
            ..self.usage
        }
    }
}
