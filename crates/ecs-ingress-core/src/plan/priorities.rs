//! Listener-rule priorities: explicit ones honoured, automatic ones stable and ordered by
//! specificity.
//!
//! AWS evaluates rules lowest priority first, so for the same host a longer path must come
//! before a shorter one, and exact hosts before wildcards. Unlike a dense renumbering on
//! every insert, a rule keeps its priority while it stays valid; a new rule goes after the
//! last one (in steps of [`STEP`], leaving room to insert before it later) or into the
//! middle of the largest free gap its ordering constraints allow. Only when no gap is left
//! is the listener renumbered, which the planner turns into one SetRulePriorities call.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use super::settings::PriorityRange;

/// Distance between automatic priorities appended at the end of the band.
pub const STEP: u32 = 10;

/// One rule to place.
#[derive(Debug, Clone)]
pub struct Slot<'a> {
    pub hosts: &'a [String],
    pub paths: &'a [String],
    pub explicit: Option<u32>,
    /// Its priority now, when it exists already on this listener.
    pub current: Option<u32>,
}

/// How specific a rule is: smaller is more specific and must be evaluated first.
pub fn specificity(hosts: &[String], paths: &[String]) -> (bool, bool, Reverse<usize>) {
    let wildcard = hosts.iter().any(|h| h.contains(['*', '?']));
    let literal = paths
        .iter()
        .map(|p| p.find(['*', '?']).unwrap_or(p.len()))
        .max()
        .unwrap_or(0);
    (wildcard, paths.is_empty(), Reverse(literal))
}

/// Glob match with `*` (any run) and `?` (one character), iterative: linear in practice,
/// quadratic at worst on 128-character patterns.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn hosts_overlap(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| {
        b.iter()
            .any(|y| x == y || glob_match(x, y) || glob_match(y, x))
    })
}

/// The priorities could not be placed even by renumbering: the band is full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("priority band {low}-{high} has {free} free priorities for {needed} automatic rules")]
pub struct BandFull {
    pub low: u32,
    pub high: u32,
    pub free: usize,
    pub needed: usize,
}

/// Result: a priority per slot, and whether the listener had to be renumbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub priorities: Vec<u32>,
    pub renumbered: bool,
}

struct Graph {
    /// `before[i]`: slots that must come before slot i.
    before: Vec<Vec<usize>>,
    after: Vec<Vec<usize>>,
}

/// Which slots constrain which. Exact hosts are bucketed so that only rules sharing a host
/// (or involving a wildcard) are compared: planning stays near linear for thousands of rules.
fn graph(slots: &[Slot<'_>]) -> Graph {
    let n = slots.len();
    // (host, slot), sorted by host: the slots of each host are a run. One vector, not one
    // per host (almost every host has one slot).
    let mut by_host: Vec<(&str, usize)> = Vec::with_capacity(n);
    let mut wildcard = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        if s.hosts.iter().any(|h| h.contains(['*', '?'])) {
            wildcard.push(i);
        }
        by_host.extend(s.hosts.iter().map(|h| (h.as_str(), i)));
    }
    by_host.sort_unstable();
    let mut pairs = BTreeSet::new();
    for run in by_host.chunk_by(|a, b| a.0 == b.0) {
        for (k, &(_, a)) in run.iter().enumerate() {
            for &(_, b) in &run[k + 1..] {
                pairs.insert((a.min(b), a.max(b)));
            }
        }
    }
    for &w in &wildcard {
        for other in 0..n {
            if other != w && hosts_overlap(slots[w].hosts, slots[other].hosts) {
                pairs.insert((w.min(other), w.max(other)));
            }
        }
    }
    let mut g = Graph {
        before: vec![Vec::new(); n],
        after: vec![Vec::new(); n],
    };
    for (a, b) in pairs {
        // Explicit priorities are the user's ordering: they occupy their number and neither
        // constrain nor are constrained by automatic rules (so an unreachable constraint,
        // such as a more specific rule needing a place below an explicit 1, never forces
        // the listener to be renumbered).
        if slots[a].explicit.is_some() || slots[b].explicit.is_some() {
            continue;
        }
        let sa = specificity(slots[a].hosts, slots[a].paths);
        let sb = specificity(slots[b].hosts, slots[b].paths);
        if sa < sb {
            g.before[b].push(a);
            g.after[a].push(b);
        } else if sb < sa {
            g.before[a].push(b);
            g.after[b].push(a);
        }
    }
    g
}

/// Places every slot. `occupied` holds priorities of rules that are not slots (hand-made
/// rules, rules of services left as they are): they are never reused.
pub fn place(
    range: PriorityRange,
    occupied: &BTreeSet<u32>,
    slots: &[Slot<'_>],
) -> Result<Placement, BandFull> {
    let g = graph(slots);
    let mut taken = occupied.clone();
    let mut assigned: Vec<Option<u32>> = vec![None; slots.len()];
    for (i, s) in slots.iter().enumerate() {
        if let Some(p) = s.explicit {
            assigned[i] = Some(p);
            taken.insert(p);
        }
    }
    for (i, s) in slots.iter().enumerate() {
        if let (None, Some(c)) = (s.explicit, s.current)
            && (range.low..=range.high).contains(&c)
            && !taken.contains(&c)
        {
            assigned[i] = Some(c);
            taken.insert(c);
        }
    }
    // A kept priority that now breaks the order (a more specific rule arrived, or a path
    // changed) is given up; the rule is placed again below.
    loop {
        let mut violation = None;
        'search: for (b, before) in g.before.iter().enumerate() {
            for &a in before {
                if let (Some(pa), Some(pb)) = (assigned[a], assigned[b])
                    && pa > pb
                {
                    violation = Some(a);
                    break 'search;
                }
            }
        }
        match violation {
            Some(i) => {
                if let Some(p) = assigned[i].take() {
                    taken.remove(&p);
                }
            }
            None => break,
        }
    }
    let mut order: Vec<usize> = (0..slots.len())
        .filter(|&i| assigned[i].is_none())
        .collect();
    order.sort_by_key(|&i| (specificity(slots[i].hosts, slots[i].paths), i));
    for i in order {
        let lo = g.before[i]
            .iter()
            .filter_map(|&j| assigned[j])
            .max()
            .unwrap_or(0)
            .max(range.low - 1);
        let hi = g.after[i]
            .iter()
            .filter_map(|&j| assigned[j])
            .min()
            .unwrap_or(u32::MAX)
            .min(range.high + 1);
        match free_between(&taken, range, lo, hi) {
            Some(p) => {
                assigned[i] = Some(p);
                taken.insert(p);
            }
            None => return renumber(range, occupied, slots),
        }
    }
    Ok(Placement {
        priorities: assigned.into_iter().map(|p| p.unwrap_or(0)).collect(),
        renumbered: false,
    })
}

/// A free priority strictly between `lo` and `hi`: after the last taken one by [`STEP`] when
/// that fits, else the middle of the largest free gap.
fn free_between(taken: &BTreeSet<u32>, range: PriorityRange, lo: u32, hi: u32) -> Option<u32> {
    if hi <= lo + 1 {
        return None;
    }
    let last = taken.range(lo + 1..hi).next_back().copied().unwrap_or(lo);
    // The first rule starts one step into the band, leaving room before it.
    let appended = if last < range.low {
        range.low + STEP
    } else {
        last + STEP
    };
    if appended > lo && appended < hi && appended <= range.high && !taken.contains(&appended) {
        return Some(appended);
    }
    let mut best: Option<(u32, u32)> = None;
    let mut prev = lo;
    for &t in taken.range(lo + 1..hi).chain(std::iter::once(&hi)) {
        if t > prev + 1 && best.is_none_or(|(a, b)| t - prev > b - a) {
            best = Some((prev, t));
        }
        prev = t;
    }
    best.map(|(a, b)| a + (b - a) / 2)
}

/// Spreads every automatic rule over the band in specificity order (current order breaking
/// ties), skipping `occupied` and explicit priorities.
fn renumber(
    range: PriorityRange,
    occupied: &BTreeSet<u32>,
    slots: &[Slot<'_>],
) -> Result<Placement, BandFull> {
    let explicit: BTreeSet<u32> = slots.iter().filter_map(|s| s.explicit).collect();
    let auto: Vec<usize> = {
        let mut v: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].explicit.is_none())
            .collect();
        v.sort_by_key(|&i| {
            (
                specificity(slots[i].hosts, slots[i].paths),
                slots[i].current.unwrap_or(u32::MAX),
                i,
            )
        });
        v
    };
    let free_count = (range.low..=range.high)
        .filter(|p| !occupied.contains(p) && !explicit.contains(p))
        .count();
    if free_count < auto.len() {
        return Err(BandFull {
            low: range.low,
            high: range.high,
            free: free_count,
            needed: auto.len(),
        });
    }
    let mut priorities: Vec<u32> = slots.iter().map(|s| s.explicit.unwrap_or(0)).collect();
    let stride = free_count / auto.len().max(1);
    let mut free =
        (range.low..=range.high).filter(|p| !occupied.contains(p) && !explicit.contains(p));
    let mut next = free.next();
    for (k, &i) in auto.iter().enumerate() {
        // Evenly spaced: take the first free priority, then skip `stride - 1`.
        let p = next.unwrap_or(range.high);
        priorities[i] = p;
        if k + 1 < auto.len() {
            next = free.nth(stride.saturating_sub(1));
        }
    }
    Ok(Placement {
        priorities,
        renumbered: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: PriorityRange = PriorityRange {
        low: 1000,
        high: 49_999,
    };

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn glob() {
        assert!(glob_match("*.example.com", "a.example.com"));
        assert!(glob_match("/api/*", "/api/v1/x"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("*.example.com", "example.org"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn new_rules_append_in_steps_and_existing_ones_stay() {
        let hosts: Vec<Vec<String>> = (0..3).map(|i| v(&[&format!("s{i}.example.com")])).collect();
        let slots: Vec<Slot> = hosts
            .iter()
            .map(|h| Slot {
                hosts: h,
                paths: &[],
                explicit: None,
                current: None,
            })
            .collect();
        let p = place(RANGE, &BTreeSet::new(), &slots).expect("room");
        assert_eq!(p.priorities, vec![1010, 1020, 1030]);
        // Remove the middle one: the others keep their numbers.
        let slots2 = vec![
            Slot {
                current: Some(1010),
                ..slots[0].clone()
            },
            Slot {
                current: Some(1030),
                ..slots[2].clone()
            },
        ];
        assert_eq!(
            place(RANGE, &BTreeSet::new(), &slots2)
                .expect("room")
                .priorities,
            vec![1010, 1030]
        );
    }

    #[test]
    fn more_specific_path_goes_before_existing_catch_all() {
        let host = v(&["a.example.com"]);
        let api = v(&["/api/*"]);
        let slots = vec![
            Slot {
                hosts: &host,
                paths: &[],
                explicit: None,
                current: Some(1010),
            },
            Slot {
                hosts: &host,
                paths: &api,
                explicit: None,
                current: None,
            },
        ];
        let p = place(RANGE, &BTreeSet::new(), &slots).expect("room");
        assert_eq!(
            p,
            Placement {
                priorities: vec![1010, 1004],
                renumbered: false
            }
        );
    }

    #[test]
    fn explicit_priority_below_the_band_does_not_force_renumbering() {
        // `b` host-only at explicit 100 shadows a more specific automatic rule of the same
        // host: explicit priorities are the user's ordering, so the automatic rule is placed
        // normally instead of renumbering the listener on every pass.
        let host = v(&["b.example.com"]);
        let api = v(&["/api/*"]);
        let other = v(&["c.example.com"]);
        let slots = vec![
            Slot {
                hosts: &other,
                paths: &[],
                explicit: None,
                current: Some(1010),
            },
            Slot {
                hosts: &host,
                paths: &[],
                explicit: Some(100),
                current: Some(100),
            },
            Slot {
                hosts: &host,
                paths: &api,
                explicit: None,
                current: None,
            },
        ];
        let p = place(RANGE, &BTreeSet::new(), &slots).expect("room");
        assert_eq!(p.priorities, vec![1010, 100, 1020]);
        assert!(!p.renumbered);
    }

    #[test]
    fn occupied_priorities_are_never_used() {
        let host = v(&["a.example.com"]);
        let slots = vec![Slot {
            hosts: &host,
            paths: &[],
            explicit: None,
            current: Some(1000),
        }];
        let occupied = BTreeSet::from([1000]);
        let p = place(RANGE, &occupied, &slots).expect("room");
        assert_ne!(p.priorities[0], 1000);
    }

    #[test]
    fn full_band_renumbers_then_fails() {
        let range = PriorityRange { low: 1, high: 3 };
        let host = v(&["a.example.com"]);
        let p1 = v(&["/a/b/c"]);
        let p2 = v(&["/a/b"]);
        let p3 = v(&["/a"]);
        let slots = vec![
            Slot {
                hosts: &host,
                paths: &p3,
                explicit: None,
                current: Some(1),
            },
            Slot {
                hosts: &host,
                paths: &p2,
                explicit: None,
                current: Some(2),
            },
            Slot {
                hosts: &host,
                paths: &p1,
                explicit: None,
                current: None,
            },
        ];
        let p = place(range, &BTreeSet::new(), &slots).expect("renumbered");
        assert!(p.renumbered);
        assert_eq!(p.priorities, vec![3, 2, 1]);
        let err = place(range, &BTreeSet::from([1]), &slots).expect_err("full");
        assert_eq!(err.needed, 3);
    }
}
