//! Private DNS: which records each published service should have, who owns which name, and
//! the changes that make Route 53 match.
//!
//! Ownership registry: every name ecs-ingress writes gets a TXT marker at
//! `_ecs-ingress.<name>` holding the registry version, owner id, service ARN and the record
//! types written, changed in the same change batch as the records. A name with records but
//! no marker of ours is someone else's: it is never written or deleted, and the service
//! asking for it gets the `dns-conflict` state while its ALB rule stays published. The
//! marker lives at a derived name because a CNAME may not share its name with a TXT record.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use super::change::{Change, PlannedChange};
use super::few::{Few, push_under};
use crate::model::{DnsIntent, DnsType};
use crate::ownership::Ownership;
pub use crate::ownership::marker::MARKER_PREFIX;
use crate::ownership::marker::{
    MARKER_TTL, Marker, is_marker_value, marker_name, marker_value, read_marker,
};
use crate::state::{AliasTarget, EcsService, HostedZone, LoadBalancer, RecordSet};
use crate::status::{Problem, ResourceKind, ResourceRef};

/// A published service, as the DNS planner needs it.
pub struct DnsWinner<'a> {
    pub service: &'a EcsService,
    pub dns: &'a DnsIntent,
    pub hosts: &'a [String],
    pub load_balancer: &'a LoadBalancer,
    /// Its target group has healthy targets: a name it does not hold yet may be created.
    /// A name is never published before requests to it can be served.
    pub ready: bool,
    /// Its serving group has a healthy target, even if its rules change this pass.
    pub healthy: bool,
    /// A rule of its own routes it on `load_balancer` already: clients reach it there
    /// through whatever name points at that ALB. Only read for a winner not `ready`, or in
    /// a pass that did not read every rule: the planner works it out only for those (it
    /// reads each of the winner's rules and listeners, cache misses on a large heap).
    pub routed_here: bool,
    /// Every listener's rules were read this pass: a name may leave the ALB it points at
    /// (unread, that ALB may route other services through it).
    pub rules_read: bool,
}

/// What naming (DNS or Cloud Map) means for one service: the names it holds, and
/// conflicts, warnings and names waiting.
#[derive(Debug, Default)]
pub struct NameOutcome {
    pub records: Vec<ResourceRef>,
    /// What few services have, apart: every winner has an outcome each pass, in a table
    /// sized for them all, and three empty vectors in each were 1 MiB of a steady pass's
    /// highest heap at 10,000 services.
    notes: Option<Box<NameNotes>>,
}

/// A service's conflicts, warnings and names waiting, from naming.
#[derive(Debug, Default)]
pub struct NameNotes {
    pub conflicts: Vec<Problem>,
    pub warnings: Vec<String>,
    /// Names not published yet because the service has no healthy target.
    pub waiting: Vec<String>,
}

impl NameOutcome {
    pub fn conflicts(&self) -> &[Problem] {
        self.notes.as_ref().map_or(&[], |n| &n.conflicts)
    }

    pub fn warnings(&self) -> &[String] {
        self.notes.as_ref().map_or(&[], |n| &n.warnings)
    }

    /// Names not published yet because the service has no healthy target.
    pub fn waiting(&self) -> &[String] {
        self.notes.as_ref().map_or(&[], |n| &n.waiting)
    }

    pub fn push_conflict(&mut self, problem: Problem) {
        self.notes().conflicts.push(problem);
    }

    pub fn push_warning(&mut self, warning: String) {
        self.notes().warnings.push(warning);
    }

    pub fn push_waiting(&mut self, name: String) {
        self.notes().waiting.push(name);
    }

    /// Taken apart: the records, and the notes (empty when there were none).
    pub fn into_parts(self) -> (Vec<ResourceRef>, NameNotes) {
        (self.records, self.notes.map(|n| *n).unwrap_or_default())
    }

    fn notes(&mut self) -> &mut NameNotes {
        self.notes.get_or_insert_with(Box::default)
    }
}

/// The zone a name belongs in: `zone_ref` (id or name) if given, else the managed zone with
/// the longest name that is a suffix of `name`.
pub fn zone_for<'a>(
    zones: &'a [HostedZone],
    name: &str,
    zone_ref: Option<&str>,
) -> Option<&'a HostedZone> {
    // `name` is the zone's name or ends in `.` and the zone's name.
    let inside = |z: &HostedZone| {
        name == z.name
            || name
                .strip_suffix(z.name.as_str())
                .is_some_and(|p| p.ends_with('.'))
    };
    match zone_ref {
        Some(r) => {
            let r = r.trim_end_matches('.').to_ascii_lowercase();
            zones
                .iter()
                .find(|z| z.id.eq_ignore_ascii_case(&r) || z.name == r)
                .filter(|z| inside(z))
        }
        None => zones
            .iter()
            .filter(|z| inside(z))
            .max_by_key(|z| z.name.len()),
    }
}

/// The records a name should have (marker excluded).
pub fn desired_records(name: &str, dns: &DnsIntent, lb: &LoadBalancer) -> Vec<RecordSet> {
    match dns.record_type {
        DnsType::Alias => {
            let mut types = vec!["A"];
            if lb.ip_address_type == "dualstack" {
                types.push("AAAA");
            }
            types
                .into_iter()
                .map(|t| RecordSet {
                    name: name.to_string(),
                    record_type: t.into(),
                    ttl: None,
                    values: vec![],
                    alias: Some(AliasTarget {
                        dns_name: lb.dns_name.to_ascii_lowercase().into(),
                        hosted_zone_id: lb.canonical_hosted_zone_id.as_str().into(),
                        // One unhealthy target group must not take every name of a shared
                        // ALB out of DNS.
                        evaluate_target_health: false,
                    }),
                    set_identifier: None,
                })
                .collect()
        }
        DnsType::Cname => vec![RecordSet {
            name: name.to_string(),
            record_type: "CNAME".into(),
            ttl: Some(i64::from(dns.ttl)),
            values: vec![lb.dns_name.to_ascii_lowercase()],
            alias: None,
            set_identifier: None,
        }],
    }
}

/// The TXT record guarding `name`, holding `value` (see [`marker_value`]).
fn marker_record(name: &str, value: String) -> RecordSet {
    RecordSet {
        name: marker_name(name),
        record_type: "TXT".into(),
        ttl: Some(MARKER_TTL),
        values: vec![value],
        alias: None,
        set_identifier: None,
    }
}

/// The records each (ALB, DNS setting) of the winners asks for, without a name: built once
/// per plan, not once per name (five allocations each). A name's records differ from its
/// ALB's template only by the name, which no comparison of records looks at.
struct RecordTemplates<'a>(FxHashMap<TemplateKey<'a>, Vec<RecordSet>>);

/// What a name's records rest on: the ALB's DNS name, hosted zone and address type, and
/// the record type and TTL asked for.
type TemplateKey<'a> = (&'a str, &'a str, &'a str, DnsType, u32);

impl<'a> RecordTemplates<'a> {
    fn new(winners: &[DnsWinner<'a>]) -> Self {
        let mut templates = FxHashMap::default();
        for w in winners {
            templates
                .entry(Self::key(w))
                .or_insert_with(|| desired_records("", w.dns, w.load_balancer));
        }
        Self(templates)
    }

    fn key(w: &DnsWinner<'a>) -> TemplateKey<'a> {
        let lb = w.load_balancer;
        (
            &lb.dns_name,
            &lb.canonical_hosted_zone_id,
            &lb.ip_address_type,
            w.dns.record_type,
            w.dns.ttl,
        )
    }

    /// The records `w` asks for at `name`: its template (nameless), or built afresh for a
    /// winner the templates were not made from.
    fn of<'t>(&'t self, w: &DnsWinner<'a>, name: &str) -> Cow<'t, [RecordSet]> {
        match self.0.get(&Self::key(w)) {
            Some(template) => Cow::Borrowed(template),
            None => Cow::Owned(desired_records(name, w.dns, w.load_balancer)),
        }
    }
}

/// The same records, names aside (a template has none).
fn same_records(a: &[RecordSet], b: &[RecordSet]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.record_type == y.record_type
                && x.ttl == y.ttl
                && x.values == y.values
                && x.alias == y.alias
                && x.set_identifier == y.set_identifier
        })
}

/// An alias target without the `dualstack.` prefixes Route 53 may add: what
/// `trim_start_matches("dualstack.")` gives, without setting up a substring searcher for
/// every record compared (every owned name's records are compared each pass).
fn without_dualstack(mut dns_name: &str) -> &str {
    while let Some(rest) = dns_name.strip_prefix("dualstack.") {
        dns_name = rest;
    }
    dns_name
}

/// Alias targets compare without the `dualstack.` prefix Route 53 may add.
fn same_record(have: &RecordSet, want: &RecordSet) -> bool {
    let same_alias = match (&have.alias, &want.alias) {
        (None, None) => true,
        (Some(h), Some(w)) => {
            without_dualstack(&h.dns_name) == without_dualstack(&w.dns_name)
                && h.hosted_zone_id == w.hosted_zone_id
                && h.evaluate_target_health == w.evaluate_target_health
        }
        _ => false,
    };
    have.record_type == want.record_type
        && have.ttl == want.ttl
        && have.values == want.values
        && same_alias
        && have.set_identifier.is_none()
}

/// Records of one zone, indexed by name (hashed: looked up per name, never iterated in an
/// order that reaches the plan).
struct ZoneIndex<'a> {
    by_name: FxHashMap<&'a str, Few<'a, RecordSet>>,
    /// The valid marker guarding each name, parsed once per pass (a pass asks for a
    /// name's marker when claiming it and again when looking for unclaimed names). Hashed:
    /// what is planned from walking them is put in name order by `unclaimed`.
    markers: FxHashMap<&'a str, (Marker<&'a str>, &'a RecordSet)>,
}

impl<'a> ZoneIndex<'a> {
    fn new(records: &'a [RecordSet]) -> Self {
        let mut by_name: FxHashMap<&str, Few<'_, RecordSet>> =
            FxHashMap::with_capacity_and_hasher(records.len(), Default::default());
        for r in records {
            push_under(&mut by_name, r.name.as_str(), r);
        }
        // From the records in their order, not from the names: a walk of the hashed names
        // reads each name's entry, scattered over the table, to keep the few that are
        // markers. A name's marker is its first TXT record with a valid marker value.
        // A sizing guess: an owned name has its marker and one or two records.
        let mut markers: FxHashMap<&str, (Marker<&str>, &RecordSet)> =
            FxHashMap::with_capacity_and_hasher(records.len() / 2, Default::default());
        for r in records.iter().filter(|r| r.record_type == "TXT") {
            let Some(guarded) = r.name.strip_prefix(MARKER_PREFIX) else {
                continue;
            };
            if markers.contains_key(guarded) {
                continue;
            }
            if let Some(marker) = r.values.iter().find_map(|v| read_marker(v)) {
                markers.insert(guarded, (marker, r));
            }
        }
        Self { by_name, markers }
    }

    fn at(&self, name: &str) -> &[&'a RecordSet] {
        self.by_name
            .get(name)
            .map(Few::as_slice)
            .unwrap_or_default()
    }

    /// The marker at `name` and its record, if there is a valid one.
    fn marker(&self, name: &str) -> Option<(&Marker<&'a str>, &'a RecordSet)> {
        self.markers.get(name).map(|(m, r)| (m, *r))
    }

    /// Every marker in the zone, in no order: (name it guards, marker, marker record).
    fn markers(&self) -> impl Iterator<Item = (&'a str, &Marker<&'a str>, &'a RecordSet)> + '_ {
        self.markers
            .iter()
            .map(|(name, (marker, record))| (*name, marker, *record))
    }
}

/// Everything the DNS planner produces.
#[derive(Debug, Default)]
pub struct DnsPlan<'a> {
    pub changes: Vec<PlannedChange>,
    /// Per service ARN (hashed: looked up per status; borrowed from the winners).
    pub outcomes: FxHashMap<&'a str, NameOutcome>,
    /// Owned names seen.
    pub managed: usize,
}

/// Plans DNS for `winners` (in age order, oldest first). Owned names of services not among
/// them are deleted unless `keep(service_arn)` says the service's resources stay as they are.
pub fn plan_dns<'a>(
    ownership: &Ownership,
    zones: &[HostedZone],
    records: &BTreeMap<String, Vec<RecordSet>>,
    winners: &[DnsWinner<'a>],
    keep: &dyn Fn(&str) -> bool,
    now: i64,
) -> DnsPlan<'a> {
    plan_dns_keeping_routes(
        ownership,
        zones,
        records,
        winners,
        keep,
        &BTreeSet::new,
        now,
    )
}

/// As [`plan_dns`], with the (host, ALB DNS name) pairs that rules of services kept as they
/// are route: an owned name pointing at such an ALB is how clients reach them, so it is not
/// deleted when no winner claims it (its marker need not list them: they may have joined
/// the host while it was held).
pub fn plan_dns_keeping_routes<'a>(
    ownership: &Ownership,
    zones: &[HostedZone],
    records: &BTreeMap<String, Vec<RecordSet>>,
    winners: &[DnsWinner<'a>],
    keep: &dyn Fn(&str) -> bool,
    kept_routes: &dyn Fn() -> BTreeSet<(String, String)>,
    now: i64,
) -> DnsPlan<'a> {
    let owner = ownership.owner_id();
    let mut out = DnsPlan::default();
    let indexes: BTreeMap<&str, ZoneIndex<'_>> = zones
        .iter()
        .filter_map(|z| {
            records
                .get(&z.id)
                .map(|r| (z.id.as_str(), ZoneIndex::new(r)))
        })
        .collect();
    // (zone, name) → who holds it this pass: the oldest claimant decides the records,
    // services routed on the same ALB share the name. Hashed: a pass looks every name up
    // two or three times, and a tree of names compares the shared zone id and the name's
    // bytes at each level; the upserts are put in (zone, name) order below.
    // Sized for a name per winner, as most have one: a claim is large, and each doubling
    // of the table moved every claim made so far.
    let mut claims: Claims<'_> =
        FxHashMap::with_capacity_and_hasher(winners.len(), Default::default());
    out.outcomes.reserve(winners.len());
    let templates = RecordTemplates::new(winners);
    // One buffer for every winner's names.
    let mut names = Vec::new();
    for w in winners {
        let outcome = out.outcomes.entry(w.service.arn.as_str()).or_default();
        names_in_zones(w, zones, outcome, &mut names);
        for &(name, zone) in &names {
            // A zone that could not be read has a pass failure recorded.
            if let Some(index) = indexes.get(zone.id.as_str()) {
                let ctx = NameContext {
                    ownership,
                    keep,
                    zone,
                    index,
                    templates: &templates,
                };
                ctx.claim(&mut claims, w, name, outcome);
            }
        }
    }
    let mut upserts: Vec<(&(&str, &str), PlannedChange)> = claims
        .iter()
        .filter_map(|(key, claim)| Some((key, claim.change(*key, owner, now, keep)?)))
        .collect();
    upserts.sort_unstable_by_key(|(key, _)| **key);
    out.changes
        .extend(upserts.into_iter().map(|(_, change)| change));
    let kept = KeptAsIs {
        services: keep,
        routes: OnceCell::new(),
        all_routes: kept_routes,
    };
    for zone in zones {
        if let Some(index) = indexes.get(zone.id.as_str()) {
            out.managed += unclaimed(ownership, zone, index, &claims, &kept, &mut out.changes);
        }
    }
    out
}

/// The names a winner asks for with their zones; names outside every managed zone are
/// warnings when asked for explicitly.
fn names_in_zones<'a, 'z>(
    w: &DnsWinner<'a>,
    zones: &'z [HostedZone],
    outcome: &mut NameOutcome,
    out: &mut Vec<(&'a String, &'z HostedZone)>,
) {
    out.clear();
    let explicit = w.dns.names.is_some();
    // Explicit names as given; otherwise every host without a wildcard.
    let asked: &'a [String] = w.dns.names.as_deref().unwrap_or(w.hosts);
    for name in asked.iter().filter(|h| explicit || !h.contains(['*', '?'])) {
        match zone_for(zones, name, w.dns.zone.as_deref()) {
            Some(zone) => out.push((name, zone)),
            None if explicit || w.dns.zone.is_some() => {
                outcome.push_warning(match &w.dns.zone {
                    Some(z) => format!("dns: {name} is not inside managed zone {z} (see --hosted-zone); no record written"),
                    None => format!("dns: {name} is outside every managed zone (see --hosted-zone); no record written"),
                });
            }
            None => {}
        }
    }
}

fn conflict(reason: String) -> Problem {
    Problem {
        key: Some("dns.name".into()),
        reason,
    }
}

fn record_refs<'w>(name: &'w str, want: &'w [RecordSet]) -> impl Iterator<Item = ResourceRef> + 'w {
    want.iter().map(move |r| ResourceRef {
        kind: ResourceKind::DnsRecord,
        id: [name, " ", &r.record_type].concat().into(),
    })
}

/// What deciding one name needs.
struct NameContext<'a, 'k> {
    ownership: &'a Ownership,
    keep: &'k dyn Fn(&str) -> bool,
    zone: &'a HostedZone,
    index: &'a ZoneIndex<'a>,
    templates: &'a RecordTemplates<'a>,
}

impl<'a> NameContext<'a, '_> {
    /// Claims `name` for `w`, joins the claim of an older service on the same ALB, or
    /// reports why not.
    fn claim(
        &self,
        claims: &mut Claims<'a>,
        w: &DnsWinner<'a>,
        name: &'a str,
        outcome: &mut NameOutcome,
    ) {
        let key = (self.zone.id.as_str(), name);
        let want = self.templates.of(w, name);
        if let Some(claim) = claims.get_mut(&key) {
            if same_records(&claim.want, &want) {
                // Same ALB, same record: one name routed by path to several services.
                claim.services.push(w.service.arn.as_str());
                outcome.records.extend(record_refs(name, &want));
            } else {
                outcome.push_conflict(conflict(format!(
                    "dns: {name} is already published by older service {}/{} (on another load balancer, or with another dns.type)",
                    super::cluster_name(&claim.first.cluster_arn),
                    claim.first.name
                )));
            }
            return;
        }
        let existing = self.index.at(name);
        let marker = self.index.marker(name);
        let ours = match self.ownership(name, w, existing, marker.map(|(m, _)| m)) {
            Ok(ours) => ours,
            Err(p) => return outcome.push_conflict(p),
        };
        let listed = ours.filter(|m| m.services.contains(&w.service.arn.as_str()));
        let in_place = want
            .iter()
            .all(|r| existing.iter().any(|e| same_record(e, r)));
        let mut untouched = false;
        let moves = !in_place && !existing.is_empty();
        let want: Cow<'a, [RecordSet]> = match listed {
            _ if w.ready && (w.rules_read || !moves) => want,
            // Published where it points, and pointed there already: nothing to wait for.
            Some(_) if in_place => want,
            // Ours and pointed there already, for other services (a weighted rule handed to
            // the next partner, sharers of a host leaving it): taken over as it is, never
            // withdrawn first, by a service that can serve it or that clients reach through
            // it there already.
            None if in_place && ours.is_some() && (w.healthy || w.routed_here) => want,
            // Published, and its records would point elsewhere (another ALB) before that
            // one can serve it: the name stays as it is, held, until it can. With none of
            // its records left (deleted by hand), putting them back publishes the name
            // afresh: only once it is ready, like a new name.
            Some(m) => {
                outcome.push_waiting(name.to_string());
                let held = held_records(existing, m);
                // With none, it is claimed but left as it is, marker and all, so that it is
                // not withdrawn either; services sharing it join what it will be.
                untouched = held.is_empty();
                if untouched { want } else { Cow::Owned(held) }
            }
            None => {
                outcome.push_waiting(name.to_string());
                return;
            }
        };
        if !untouched {
            outcome.records.extend(record_refs(name, &want));
        }
        claims.insert(
            key,
            Claim {
                first: w.service,
                want,
                services: Few::One(w.service.arn.as_str()),
                existing,
                marker,
                untouched,
            },
        );
    }

    /// Whether the name is ours to write (`Some` marker when it already is), or the
    /// conflict that keeps it someone else's.
    fn ownership<'m>(
        &self,
        name: &str,
        w: &DnsWinner<'_>,
        existing: &[&RecordSet],
        marker: Option<&'m Marker<&'m str>>,
    ) -> Result<Option<&'m Marker<&'m str>>, Problem> {
        match marker {
            Some(m) if !self.ownership.owns_marker(m) => Err(conflict(format!(
                "dns: {name} belongs to another controller (owner {}, services {}); it is left alone",
                m.owner,
                m.services.join(", ")
            ))),
            Some(m)
                if !m.services.contains(&w.service.arn.as_str())
                    && m.services.iter().any(|s| (self.keep)(s)) =>
            {
                Err(conflict(format!(
                    "dns: {name} is still held for service {}, whose resources are kept as they are",
                    m.services.join(", ")
                )))
            }
            Some(m) => Ok(Some(m)),
            None if !existing.is_empty()
                && !crate::sabotage::is_on(crate::sabotage::Sabotage::Ownership) =>
            {
                let types: Vec<&str> = existing.iter().map(|r| r.record_type.as_str()).collect();
                Err(conflict(format!(
                    "dns: {name} already has records ({}) that ecs-ingress does not own; they are left alone",
                    types.join(", ")
                )))
            }
            None => Ok(None),
        }
    }
}

/// The records of a name that its marker says are ecs-ingress's.
fn held_records(existing: &[&RecordSet], marker: &Marker<&str>) -> Vec<RecordSet> {
    existing
        .iter()
        .filter(|r| marker.types.contains(&r.record_type.as_str()))
        .map(|r| (*r).clone())
        .collect()
}

/// Every one of `records` (there is one at least) points at the ALB named `dns_name`
/// (lowercase): an alias to it, or a CNAME naming it.
fn points_at(records: &[&RecordSet], dns_name: &str) -> bool {
    !records.is_empty()
        && records.iter().all(|r| match &r.alias {
            Some(a) => without_dualstack(&a.dns_name) == dns_name,
            None => r.values.iter().all(|v| v.to_ascii_lowercase() == dns_name),
        })
}

/// Services whose resources stay as they are, and the (host, ALB DNS name) pairs their
/// rules route.
struct KeptAsIs<'k> {
    services: &'k dyn Fn(&str) -> bool,
    /// Worked out the first time a name no winner claims asks: most passes have none, and
    /// reading every owned rule's service for it was a cache miss per rule on a large heap.
    routes: OnceCell<BTreeSet<(String, String)>>,
    all_routes: &'k dyn Fn() -> BTreeSet<(String, String)>,
}

impl KeptAsIs<'_> {
    /// The records point at an ALB where a kept service's rule routes `name`.
    fn reached_through(&self, name: &str, records: &[RecordSet]) -> bool {
        let host = name.trim_end_matches('.').to_ascii_lowercase();
        let records: Vec<&RecordSet> = records.iter().collect();
        self.routes
            .get_or_init(self.all_routes)
            .iter()
            .filter(|(h, _)| *h == host)
            .any(|(_, alb)| points_at(&records, alb))
    }
}

/// Deletes owned names of `zone` nobody claims any more (unless a service in the marker is
/// kept as it is, or clients reach one through it); returns how many owned names the zone
/// has.
fn unclaimed(
    ownership: &Ownership,
    zone: &HostedZone,
    index: &ZoneIndex<'_>,
    claims: &Claims<'_>,
    kept: &KeptAsIs<'_>,
    changes: &mut Vec<PlannedChange>,
) -> usize {
    let mut managed = 0;
    let mut deleted: Vec<(&str, PlannedChange)> = Vec::new();
    for (name, marker, marker_rec) in index.markers() {
        if !ownership.owns_marker(marker) {
            continue;
        }
        managed += 1;
        if claims.contains_key(&(zone.id.as_str(), name))
            || marker.services.iter().any(|s| (kept.services)(s))
        {
            continue;
        }
        let mut doomed: Vec<RecordSet> = index
            .at(name)
            .iter()
            .filter(|r| marker.types.contains(&r.record_type.as_str()))
            .map(|r| (*r).clone())
            .collect();
        if kept.reached_through(name, &doomed) {
            continue;
        }
        doomed.push(marker_rec.clone());
        let first = marker
            .services
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let change = PlannedChange {
            service_arn: Some(first.clone()),
            service: first,
            change: Change::DeleteRecords {
                zone_id: zone.id.clone(),
                name: name.to_string(),
                records: doomed,
            },
            reason: "no published service asks for this name any more".into(),
        };
        deleted.push((name, change));
    }
    // The markers were walked in hash order; a plan lists a zone's deletions by name.
    deleted.sort_unstable_by_key(|(name, _)| *name);
    changes.extend(deleted.into_iter().map(|(_, change)| change));
    managed
}

/// The names held this pass, by (zone id, name).
type Claims<'a> = FxHashMap<(&'a str, &'a str), Claim<'a>>;

/// A name held this pass. Its zone id and name are its key in [`Claims`], and whether a
/// service is kept as it is is asked when its change is planned: every name's claim is
/// live at once, so a claim holds nothing it can be handed.
struct Claim<'a> {
    first: &'a EcsService,
    /// Nameless when they are the ALB's template; the records held otherwise.
    want: Cow<'a, [RecordSet]>,
    /// Winners routed by it, oldest first.
    services: Few<'a, str>,
    existing: &'a [&'a RecordSet],
    /// The name's marker, when it has one: then it is ours, as a name whose marker is
    /// someone else's is never claimed (`NameContext::ownership`). Its services kept as
    /// they are stay in it, and what it says is compared with the records.
    marker: Option<(&'a Marker<&'a str>, &'a RecordSet)>,
    /// Held as it is this pass: neither its records nor its marker change.
    untouched: bool,
}

impl Claim<'_> {
    /// The upsert that makes the name `(zone id, name)` match, if anything differs.
    /// Services of our marker whose resources are kept as they are (`keep`) stay in it.
    fn change(
        &self,
        (zone_id, name): (&str, &str),
        owner: &str,
        now: i64,
        keep: &dyn Fn(&str) -> bool,
    ) -> Option<PlannedChange> {
        if self.untouched {
            return None;
        }
        // A claimed name's marker, when it has one, is ours (see the field).
        let ours = self.marker.map(|(m, _)| m);
        // Almost always no kept service is missing from the winners: then the winners'
        // list is the marker's as it is.
        let extra: Vec<&str> = ours
            .into_iter()
            .flat_map(|m| m.services.iter().copied())
            .filter(|s| keep(s) && !self.services.as_slice().contains(s))
            .collect();
        let services: Cow<'_, [&str]> = if extra.is_empty() {
            Cow::Borrowed(self.services.as_slice())
        } else {
            Cow::Owned([self.services.as_slice(), &extra].concat())
        };
        let records_match = self
            .want
            .iter()
            .all(|w| self.existing.iter().any(|r| same_record(r, w)));
        // Records of ours that change target (an ALB move) note when, in the marker written
        // in the same batch: the old target keeps serving until cached answers expire.
        let since = match ours {
            Some(m) if records_match => m.since,
            Some(_) => Some(now),
            None => None,
        };
        let types = || self.want.iter().map(|r| r.record_type.as_str());
        // Owned records of types no longer wanted go in the same batch.
        let stale: Vec<RecordSet> = ours
            .map(|m| {
                self.existing
                    .iter()
                    .filter(|r| m.types.contains(&r.record_type.as_str()))
                    .filter(|r| !self.want.iter().any(|w| w.record_type == r.record_type))
                    .map(|r| (*r).clone())
                    .collect()
            })
            .unwrap_or_default();
        // The marker is compared with its pieces; its value is built only when written.
        let marker_matches = self.marker.is_some_and(|(_, r)| {
            matches!(r.values.as_slice(), [v] if is_marker_value(v, owner, &services, types(), since))
        });
        if records_match && marker_matches && stale.is_empty() {
            return None;
        }
        let marker_want = marker_value(owner, &services, types(), since);
        // Sized for the marker too: grown by it, a name's upsert had room for four records,
        // and the two it never used were 2.75 MiB of the cold start's highest heap at
        // 10,000 names.
        let mut upsert: Vec<RecordSet> = Vec::with_capacity(self.want.len() + 1);
        upsert.extend(self.want.iter().map(|r| RecordSet {
            name: name.to_string(),
            ..r.clone()
        }));
        upsert.push(marker_record(name, marker_want));
        Some(PlannedChange::new(
            self.first,
            Change::UpsertRecords {
                zone_id: zone_id.to_string(),
                name: name.to_string(),
                delete: stale,
                upsert,
                exists: ours.is_some(),
                moves: ours.is_some() && !records_match,
            },
            if ours.is_none() {
                "new DNS name"
            } else if records_match {
                "ownership marker out of date"
            } else {
                "records differ from the intent (changed by hand, or the intent changed)"
            },
        ))
    }
}

/// The TTL a resolver may cache an alias answer for (Route 53 uses the target's, 60 s for an
/// ALB).
pub const ALIAS_TTL_SECONDS: u64 = 60;

/// Route 53 takes up to this long to answer a change everywhere.
pub const PROPAGATION_SECONDS: u64 = 60;

/// How long a moved name's old target keeps serving: twice what a resolver may cache, and
/// never less than the cache plus Route 53's propagation.
pub fn default_drain(dns: &DnsIntent) -> u64 {
    let ttl = match dns.record_type {
        DnsType::Alias => ALIAS_TTL_SECONDS,
        DnsType::Cname => u64::from(dns.ttl),
    };
    (2 * ttl).max(ttl + PROPAGATION_SECONDS)
}

/// The names a service asks for (explicit ones, or every host without a wildcard).
pub(super) fn wanted_names(dns: &DnsIntent, hosts: &[String]) -> Vec<String> {
    match &dns.names {
        Some(n) => n.clone(),
        None => hosts
            .iter()
            .filter(|h| !h.contains(['*', '?']))
            .cloned()
            .collect(),
    }
}

/// True when every host of the service is a name ecs-ingress manages for it — in a managed
/// zone that was read, and either not published yet or carrying our marker for it — so that
/// all its clients follow the record and it can move between ALBs. A wildcard host, a host
/// left out of `dns.name`, or a name someone else's record holds keeps it where it is.
pub fn only_managed_names(
    config: &super::PlanConfig,
    observed: &crate::snapshot::Snapshot,
    desired: &super::desired::DesiredService<'_>,
) -> bool {
    let zones: Vec<HostedZone> = config
        .hosted_zones
        .iter()
        .filter_map(|id| observed.zones.get(id).cloned())
        .collect();
    let names = wanted_names(&desired.intent.dns, &desired.intent.hosts);
    desired.intent.hosts.iter().all(|host| {
        if !names.contains(host) {
            return false;
        }
        let Some(zone) = zone_for(&zones, host, desired.intent.dns.zone.as_deref()) else {
            return false;
        };
        let Some(records) = observed.records.get(&zone.id) else {
            return false;
        };
        let index = ZoneIndex::new(records);
        match index.marker(host) {
            Some((m, _)) => {
                m.owner == config.ownership.owner_id()
                    && m.services.contains(&desired.service.arn.as_str())
            }
            None => index.at(host).is_empty(),
        }
    })
}

/// Where a service's published names point, seen from one ALB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamesAt {
    /// Some name still points elsewhere.
    Elsewhere,
    /// A name held for other services only (kept as they are, or older) points at an ALB
    /// it leaves, where it is still reached through that name: it cannot follow.
    HeldForOthers,
    /// Every published name points at the ALB, since the latest move of any of them
    /// (`None`: none ever moved).
    Since(Option<i64>),
    /// A zone of its names could not be read this pass.
    Unknown,
}

/// Whether every name of `desired` that carries our marker points at `lb`. A name our
/// marker holds for other services only (a sharer kept as it is) counts too when it points
/// at one of the ALBs in `routed_on`, where `desired` still has rules for it: clients reach
/// `desired` through it there.
pub fn names_point_at(
    owner: &str,
    zones: &[HostedZone],
    records: &BTreeMap<String, Vec<RecordSet>>,
    desired: &super::desired::DesiredService<'_>,
    lb: &LoadBalancer,
    routed_on: &[&LoadBalancer],
) -> NamesAt {
    let target = lb.dns_name.to_ascii_lowercase();
    let mut since: Option<i64> = None;
    for name in wanted_names(&desired.intent.dns, &desired.intent.hosts) {
        let Some(zone) = zone_for(zones, &name, desired.intent.dns.zone.as_deref()) else {
            continue;
        };
        let Some(zone_records) = records.get(&zone.id) else {
            return NamesAt::Unknown;
        };
        let index = ZoneIndex::new(zone_records);
        let Some((marker, _)) = index.marker(&name) else {
            continue;
        };
        if marker.owner != owner {
            continue;
        }
        let records: Vec<&RecordSet> = index
            .at(&name)
            .iter()
            .copied()
            .filter(|r| marker.types.contains(&r.record_type.as_str()))
            .collect();
        if !marker.services.contains(&desired.service.arn.as_str()) {
            let routed_elsewhere = routed_on.iter().any(|other| {
                let other = other.dns_name.to_ascii_lowercase();
                other != target && points_at(&records, &other)
            });
            if routed_elsewhere {
                return NamesAt::HeldForOthers;
            }
            continue;
        }
        // A name whose records are gone (deleted by hand) points nowhere: a move must not
        // take it for switched, publish it where nothing serves yet, and drop the ALB that
        // still does.
        if !points_at(&records, &target) {
            return NamesAt::Elsewhere;
        }
        since = since.max(marker.since);
    }
    NamesAt::Since(since)
}

#[cfg(test)]
mod tests;
