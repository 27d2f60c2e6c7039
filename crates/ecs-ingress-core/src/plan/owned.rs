//! What ecs-ingress owns in the snapshot, indexed by the service it was made for.

use std::cell::{Cell, OnceCell};
use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::few::Few;
use crate::ownership::{Ownership, service_of};
use crate::snapshot::Snapshot;
use crate::state::{Listener, LoadBalancer, Rule, TargetGroup};
use crate::status::{ResourceKind, ResourceRef};

/// Owned resources, indexed. Hashed, not ordered: every stage looks these up per service,
/// and ARNs share a long prefix, so an ordered map compared ~60 equal bytes per step of a
/// search. Nothing iterates them in an order that reaches the plan.
///
/// Ownership is read from each resource's tags once a pass, here: every later stage asks
/// this instead of reading the tags again (a tag lookup follows a pointer per key, and a
/// full pass asked it of every rule and group four or five times).
pub struct Owned<'a> {
    /// Each service's groups and rules, found through `by_service`: one lookup answers
    /// both, where stages asked for each.
    mine: Vec<Mine<'a>>,
    by_service: FxHashMap<&'a str, usize>,
    /// Each copy of a service ARN given to [`Owned::keyed_by`], by where it is: its entry,
    /// or none when the service owns nothing. Stages ask with those copies, and a lookup
    /// by address does not read the ARN: reading it, on a large heap, was a cache miss per
    /// service in every stage (and most of the time of a lookup by content). The copies
    /// are borrowed for as long as this index lives, so no other string can be where one
    /// of them is: a string asked for at the same address and of the same length is that
    /// copy.
    by_copy: FxHashMap<(usize, usize), Option<usize>>,
    /// Per entry of `mine`: one of the ARNs given to `keyed_by` named its service.
    keyed: Vec<bool>,
    /// Where the entry of the service asked for last by content is, for copies not given
    /// to `keyed_by` (the status's, a marker's, an orphan's): stages ask several times in a
    /// row for the same service, and a repeated ask compares the ARN with that entry's,
    /// both just read, instead of hashing it and comparing it with a key far away.
    last: Cell<Option<usize>>,
    pub group_arns: FxHashSet<&'a str>,
    /// The owned groups by address, for a stage that holds a group and asks whether it is
    /// owned: the snapshot is borrowed for as long as this index lives, so a group at one
    /// of these addresses is that group. Its tags are not read again.
    group_addresses: FxHashSet<usize>,
    /// Every owned target group that names its service, in the snapshot's order.
    pub group_list: Vec<(&'a str, &'a TargetGroup)>,
    /// Every owned rule that names its service, in the snapshot's order. Default rules are
    /// left out: ecs-ingress never makes one, and they route no host.
    pub rule_list: Vec<(&'a str, &'a Rule)>,
    /// Every rule that is neither a default rule nor owned, in the snapshot's order.
    pub foreign_rules: Vec<&'a Rule>,
    /// The snapshot's listeners and ALBs by ARN, hashed: stages ask for them per owned rule
    /// and per winner, and the snapshot's ordered maps compare ~70 equal bytes of ARN at
    /// every step of a search.
    listeners: FxHashMap<&'a str, &'a Listener>,
    load_balancers: FxHashMap<&'a str, &'a LoadBalancer>,
    /// Every group of the account, when DescribeTargetGroups answered in full: indexed the
    /// first time a group not ours is asked after. Most passes ask after none, and every
    /// pass hashed every group's ARN into a set.
    all_groups: Option<AllGroups<'a>>,
}

/// What one service owns.
struct Mine<'a> {
    service: &'a str,
    groups: Few<'a, TargetGroup>,
    rules: Few<'a, Rule>,
}

impl<'a> Owned<'a> {
    /// The owned rules of one service.
    pub fn rules_of(&self, service_arn: &str) -> &[&'a Rule] {
        self.mine(service_arn)
            .map(|m| m.rules.as_slice())
            .unwrap_or_default()
    }

    /// Whether the service owns any rule or group.
    pub fn owns_any(&self, service_arn: &str) -> bool {
        self.mine(service_arn).is_some()
    }

    /// The ARNs of the services that own a group or a rule here, each once, in the order
    /// first seen, that none of the ARNs given to [`Self::keyed_by`] named (every one, when
    /// it was not called): those gone from ECS, found while keying, where looking every
    /// owned service up again among the services read compared two copies of its ARN held
    /// far apart.
    pub fn services_not_keyed(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.mine
            .iter()
            .zip(&self.keyed)
            .filter(|(_, keyed)| !**keyed)
            .map(|(m, _)| m.service)
    }

    fn mine(&self, service_arn: &str) -> Option<&Mine<'a>> {
        if let Some(at) = self.by_copy.get(&address_of(service_arn)) {
            return at.map(|at| &self.mine[at]);
        }
        if let Some(last) = self.last.get().map(|at| &self.mine[at])
            && last.service == service_arn
        {
            return Some(last);
        }
        let at = self.by_service.get(service_arn).copied()?;
        self.last.set(Some(at));
        Some(&self.mine[at])
    }

    pub fn listener(&self, arn: &str) -> Option<&'a Listener> {
        self.listeners.get(arn).copied()
    }

    pub fn load_balancer(&self, arn: &str) -> Option<&'a LoadBalancer> {
        self.load_balancers.get(arn).copied()
    }

    /// The ALB of a listener, when both were read.
    pub fn load_balancer_of_listener(&self, listener_arn: &str) -> Option<&'a LoadBalancer> {
        self.load_balancer(&self.listener(listener_arn)?.load_balancer_arn)
    }

    /// The owned target groups of one service.
    pub fn groups_of(&self, service_arn: &str) -> &[&'a TargetGroup] {
        self.mine(service_arn)
            .map(|m| m.groups.as_slice())
            .unwrap_or_default()
    }

    pub fn new(ownership: &Ownership, observed: &'a Snapshot) -> Self {
        // Sized for every group being ours, as in an estate of published services (most
        // own one group and one rule): grown one insert at a time, the indexes were copied
        // at each doubling (rehashing took a tenth of a plan's cache write misses).
        let groups = observed.target_groups.len();
        let mut index = Index::with_capacity(groups);
        let mut group_arns = FxHashSet::with_capacity_and_hasher(groups, FxBuildHasher);
        let mut group_addresses = FxHashSet::with_capacity_and_hasher(groups, FxBuildHasher);
        let mut group_list = Vec::with_capacity(groups);
        for g in observed
            .target_groups
            .iter()
            .filter(|g| ownership.owns(&g.tags))
        {
            group_arns.insert(g.arn.as_str());
            group_addresses.insert(std::ptr::from_ref(g).addr());
            if let Some(s) = service_of(&g.tags) {
                index.of(s).groups.push(g);
                group_list.push((s, g));
            }
        }
        let (mut rule_list, mut foreign_rules) =
            (Vec::with_capacity(observed.rules.len()), Vec::new());
        for r in observed.rules.iter().filter(|r| !r.is_default()) {
            if !ownership.owns(&r.tags) {
                foreign_rules.push(r);
            } else if let Some(s) = service_of(&r.tags) {
                index.of(s).rules.push(r);
                rule_list.push((s, r));
            }
        }
        let all_groups = observed.target_groups_complete.then(|| AllGroups {
            groups: &observed.target_groups,
            index: OnceCell::new(),
        });
        Self {
            keyed: vec![false; index.mine.len()],
            mine: index.mine,
            by_service: index.by_service,
            by_copy: FxHashMap::default(),
            last: Cell::new(None),
            group_arns,
            group_addresses,
            group_list,
            rule_list,
            foreign_rules,
            listeners: observed
                .listeners
                .iter()
                .map(|(arn, l)| (arn.as_str(), l))
                .collect(),
            load_balancers: observed
                .load_balancers
                .iter()
                .map(|(arn, lb)| (arn.as_str(), lb))
                .collect(),
            all_groups,
        }
    }

    /// Finds each of `services`' own copies of their ARNs by where it is, from now on (see
    /// `by_copy`): each is looked up by content once, here. Other copies are still found
    /// by content.
    pub fn keyed_by(mut self, services: impl IntoIterator<Item = &'a str>) -> Self {
        let services = services.into_iter();
        self.by_copy.reserve(services.size_hint().0);
        for arn in services {
            let at = self.by_service.get(arn).copied();
            if let Some(at) = at {
                self.keyed[at] = true;
            }
            self.by_copy.insert(address_of(arn), at);
        }
        self
    }

    /// Whether `group` is an owned one of the snapshot's: found by address, or else (a
    /// copy, or not owned) by ARN.
    pub fn owns_group(&self, group: &TargetGroup) -> bool {
        self.group_addresses
            .contains(&std::ptr::from_ref(group).addr())
            || self.group_arns.contains(group.arn.as_str())
    }

    /// The group no longer exists (deleted by someone), as far as a complete read of the
    /// account's groups tells: an ECS entry naming it makes ECS refuse any update that
    /// keeps it.
    pub fn group_gone(&self, arn: &str) -> bool {
        self.all_groups.as_ref().is_some_and(|all| !all.has(arn))
    }

    pub fn resources(&self, service_arn: &str) -> Vec<ResourceRef> {
        let Some(mine) = self.mine(service_arn) else {
            return Vec::new();
        };
        let (groups, rules) = (mine.groups.as_slice(), mine.rules.as_slice());
        // Sized once: every status lists these, every pass. Room for two more, as most
        // statuses then get a DNS record and a security-group rule: grown from full, the
        // vector was copied for them.
        let mut out = Vec::with_capacity(groups.len() + rules.len() + 2);
        out.extend(groups.iter().map(|g| ResourceRef {
            kind: ResourceKind::TargetGroup,
            id: g.arn.clone(),
        }));
        out.extend(rules.iter().map(|r| ResourceRef {
            kind: ResourceKind::ListenerRule,
            id: r.arn.clone(),
        }));
        out
    }
}

/// The account's target groups, indexed by ARN the first time one is asked after.
struct AllGroups<'a> {
    groups: &'a [TargetGroup],
    /// Each group's ARN hash and position, sorted. It borrows no key: a cell holding
    /// borrowed keys would make `Owned` invariant in its lifetime.
    index: OnceCell<Vec<(u64, usize)>>,
}

impl AllGroups<'_> {
    fn has(&self, arn: &str) -> bool {
        let index = self.index.get_or_init(|| {
            let mut index: Vec<(u64, usize)> = self
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (FxBuildHasher.hash_one(g.arn.as_str()), i))
                .collect();
            index.sort_unstable();
            index
        });
        let hash = FxBuildHasher.hash_one(arn);
        let first = index.partition_point(|&(h, _)| h < hash);
        index[first..]
            .iter()
            .take_while(|&&(h, _)| h == hash)
            .any(|&(_, i)| self.groups[i].arn == arn)
    }
}

/// Where a string is and how long: two strings alive at once with both equal are one.
fn address_of(s: &str) -> (usize, usize) {
    (s.as_ptr().addr(), s.len())
}

/// Each service's entry, made on first sight.
#[derive(Default)]
struct Index<'a> {
    mine: Vec<Mine<'a>>,
    by_service: FxHashMap<&'a str, usize>,
}

impl<'a> Index<'a> {
    fn with_capacity(services: usize) -> Self {
        Self {
            mine: Vec::with_capacity(services),
            by_service: FxHashMap::with_capacity_and_hasher(services, FxBuildHasher),
        }
    }

    fn of(&mut self, service_arn: &'a str) -> &mut Mine<'a> {
        let mine = &mut self.mine;
        let at = *self.by_service.entry(service_arn).or_insert_with(|| {
            mine.push(Mine {
                service: service_arn,
                groups: Few::default(),
                rules: Few::default(),
            });
            mine.len() - 1
        });
        &mut self.mine[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::{LB, bare_group, one_alb};
    use crate::state::Rule;

    fn rule(arn: &str, tags: crate::state::Tags) -> Rule {
        Rule {
            arn: arn.into(),
            listener_arn: crate::plan::fixtures::LISTENER.into(),
            priority: Some(1),
            hosts: vec!["a.example.com".into()],
            paths: Vec::new(),
            other_conditions: 0,
            forward_target_groups: Vec::new(),
            staged_target_groups: Vec::new(),
            weights: Default::default(),
            other_actions: 0,
            tags,
        }
    }

    #[test]
    fn each_service_gets_its_own_groups_and_rules_however_it_is_asked_for() {
        let ownership = Ownership::new("ecs-ingress");
        let mut snapshot = one_alb();
        let group = |arn: &str, service: &str| {
            let mut g = bare_group(arn, &[LB]);
            g.tags = ownership.tags(service, "target-group");
            g
        };
        snapshot.target_groups = vec![group("tg-a", "svc-a"), group("tg-b", "svc-b")];
        snapshot.rules = vec![
            rule("rule-a", ownership.tags("svc-a", "rule-0")),
            rule("rule-b1", ownership.tags("svc-b", "rule-0")),
            rule("rule-b2", ownership.tags("svc-b", "rule-1")),
            rule("rule-other", crate::state::Tags::new()),
        ];
        let owned = Owned::new(&ownership, &snapshot);
        let arns = |rules: &[&Rule]| rules.iter().map(|r| r.arn.clone()).collect::<Vec<_>>();
        // Equal ARNs at other addresses, asked for in turn and twice in a row: the memo of
        // the last service must answer by content, never by a stale entry.
        let (a1, a2, b, none) = (
            String::from("svc-a"),
            String::from("svc-a"),
            String::from("svc-b"),
            String::from("svc-c"),
        );
        for arn in [&a1, &a1, &b, &a2, &none, &b, &b] {
            let (groups, rules) = (owned.groups_of(arn), owned.rules_of(arn));
            match arn.as_str() {
                "svc-a" => {
                    assert_eq!(groups.iter().map(|g| &g.arn).collect::<Vec<_>>(), ["tg-a"]);
                    assert_eq!(arns(rules), ["rule-a"]);
                }
                "svc-b" => {
                    assert_eq!(groups.iter().map(|g| &g.arn).collect::<Vec<_>>(), ["tg-b"]);
                    assert_eq!(arns(rules), ["rule-b1", "rule-b2"]);
                }
                _ => {
                    assert!(groups.is_empty() && rules.is_empty());
                    assert!(!owned.owns_any(arn));
                }
            }
        }
        // Nothing keyed: every service that owns something.
        let mut services: Vec<&str> = owned.services_not_keyed().collect();
        services.sort_unstable();
        assert_eq!(services, ["svc-a", "svc-b"]);
        assert_eq!(arns(&owned.foreign_rules), ["rule-other"]);

        // Keyed by the services' own copies (one owning nothing, one read twice): every
        // copy, the keying one or another, gets the same answers as before.
        let (key_a, key_a_again, key_c) = (
            String::from("svc-a"),
            String::from("svc-a"),
            String::from("svc-c"),
        );
        let keyed = Owned::new(&ownership, &snapshot).keyed_by([
            key_a.as_str(),
            key_c.as_str(),
            key_a_again.as_str(),
        ]);
        for arn in [&key_a, &a1, &b, &key_a_again, &key_c, &none, &key_a] {
            assert_eq!(
                arns(keyed.rules_of(arn)),
                arns(owned.rules_of(arn)),
                "{arn}"
            );
            assert_eq!(
                keyed
                    .groups_of(arn)
                    .iter()
                    .map(|g| &g.arn)
                    .collect::<Vec<_>>(),
                owned
                    .groups_of(arn)
                    .iter()
                    .map(|g| &g.arn)
                    .collect::<Vec<_>>(),
                "{arn}"
            );
        }
        // svc-b was not among the keys (svc-c, keyed, owns nothing): it alone is not keyed.
        assert_eq!(keyed.services_not_keyed().collect::<Vec<_>>(), ["svc-b"]);
        assert!(keyed.owns_any("svc-a") && keyed.owns_any("svc-b") && !keyed.owns_any("svc-c"));
    }

    #[test]
    fn a_status_lists_the_arns_its_records_hold_not_copies() {
        let ownership = Ownership::new("ecs-ingress");
        let mut snapshot = one_alb();
        let mut group = bare_group("tg-a", &[LB]);
        group.tags = ownership.tags("svc-a", "target-group");
        snapshot.target_groups = vec![group];
        snapshot.rules = vec![rule("rule-a", ownership.tags("svc-a", "rule-0"))];
        let owned = Owned::new(&ownership, &snapshot);
        let listed = owned.resources("svc-a");
        let ids: Vec<(ResourceKind, &str)> = listed.iter().map(|r| (r.kind, &*r.id)).collect();
        assert_eq!(
            ids,
            [
                (ResourceKind::TargetGroup, "tg-a"),
                (ResourceKind::ListenerRule, "rule-a")
            ]
        );
        assert!(listed[0].id.is_shared_with(&snapshot.target_groups[0].arn));
        assert!(listed[1].id.is_shared_with(&snapshot.rules[0].arn));
    }

    #[test]
    fn a_group_is_owned_as_its_tags_say_whether_asked_with_it_or_a_copy() {
        let ownership = Ownership::new("ecs-ingress");
        let mut snapshot = one_alb();
        let mut ours = bare_group("tg-ours", &[LB]);
        ours.tags = ownership.tags("svc-a", "target-group");
        let mut theirs = bare_group("tg-theirs", &[LB]);
        theirs.tags = Ownership::new("someone-else").tags("svc-a", "target-group");
        snapshot.target_groups = vec![ours, theirs, bare_group("tg-untagged", &[LB])];
        let owned = Owned::new(&ownership, &snapshot);
        for g in &snapshot.target_groups {
            let copy = g.clone();
            assert_eq!(owned.owns_group(g), ownership.owns(&g.tags), "{}", g.arn);
            assert_eq!(
                owned.owns_group(&copy),
                ownership.owns(&g.tags),
                "{}",
                g.arn
            );
        }
        assert!(owned.owns_group(&snapshot.target_groups[0]));
        assert!(!owned.owns_group(&snapshot.target_groups[1]));
    }

    #[test]
    fn a_group_is_gone_only_when_a_complete_read_lacks_it() {
        let ownership = Ownership::new("ecs-ingress");
        let mut snapshot = one_alb();
        // Enough groups that the index holds many hashes, any of ours or theirs.
        snapshot.target_groups = (0..300)
            .map(|i| {
                bare_group(
                    &format!("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/g{i}/{i:016x}"),
                    &[LB],
                )
            })
            .collect();
        let present: Vec<String> = snapshot
            .target_groups
            .iter()
            .map(|g| g.arn.to_string())
            .collect();
        let absent = [
            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/g300/000000000000012c"
                .to_string(),
            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/g1/0000000000000002".to_string(),
            String::new(),
        ];
        snapshot.target_groups_complete = true;
        let owned = Owned::new(&ownership, &snapshot);
        for arn in &present {
            assert!(!owned.group_gone(arn), "{arn}");
        }
        for arn in &absent {
            assert!(owned.group_gone(arn), "{arn}");
        }
        // Without a complete read no group is known to be gone.
        snapshot.target_groups_complete = false;
        let owned = Owned::new(&ownership, &snapshot);
        assert!(absent.iter().all(|arn| !owned.group_gone(arn)));
    }
}
