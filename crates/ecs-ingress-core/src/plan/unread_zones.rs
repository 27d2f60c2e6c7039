//! Managed hosted zones that could not be read this pass (a `--zone-role` role that could
//! not be assumed, a zone that failed to list): which services they hold back.
//!
//! "A failed read deletes nothing" is scoped here: a deletion resting only on reads that
//! succeeded is as safe as in a complete pass. What an unread zone hides are its records and
//! markers, so the services that may have a name in it — by their tags now, or by the host
//! conditions of the rules they have — keep everything they have (records, rules,
//! attachment, groups) and are `error`; every other service is planned as usual, its
//! withdrawals included. A zone whose name was never learned could hold any name, so it
//! holds back every service.

use std::collections::BTreeMap;

use super::dns::zone_for;
use crate::snapshot::Snapshot;
use crate::state::HostedZone;

/// The unread zones of a pass, beside the zones that were read. A name belongs to the zone
/// it would be written in were every zone read: the one its `dns.zone` tag names, else the
/// longest matching suffix, in `--hosted-zone` order as the DNS planner takes them (so
/// zones of the same name resolve alike).
pub struct UnreadZones<'a> {
    /// Every managed zone whose name is known, in `--hosted-zone` order.
    named: Vec<HostedZone>,
    /// Unread zone id → why.
    unread: BTreeMap<&'a str, &'a str>,
    /// An unread zone whose name is unknown, with why.
    unnamed: Option<(&'a str, &'a str)>,
}

impl<'a> UnreadZones<'a> {
    pub fn new(hosted_zones: &[String], observed: &'a Snapshot) -> Self {
        let named = hosted_zones
            .iter()
            .filter_map(|id| match observed.zones.get(id) {
                Some(read) => Some(read.clone()),
                None => observed
                    .unread_zones
                    .get(id)?
                    .name
                    .as_ref()
                    .map(|name| HostedZone {
                        id: id.clone(),
                        name: name.clone(),
                    }),
            })
            .collect();
        Self {
            named,
            unread: observed
                .unread_zones
                .iter()
                .map(|(id, z)| (id.as_str(), z.reason.as_str()))
                .collect(),
            unnamed: observed
                .unread_zones
                .iter()
                .find(|(_, z)| z.name.is_none())
                .map(|(id, z)| (id.as_str(), z.reason.as_str())),
        }
    }

    /// Every managed zone was read: nothing is held back (callers skip building names).
    pub fn none(&self) -> bool {
        self.unread.is_empty()
    }

    /// Why what the service has stays as it is this pass, if a name it asks for (`asked`,
    /// placed by `zone_ref` as its `dns.zone` tag places them) or routes (`routed`: its
    /// rules' host conditions) may be in an unread zone.
    pub fn holds_back<'n>(
        &self,
        asked: &[String],
        zone_ref: Option<&str>,
        routed: impl IntoIterator<Item = &'n String>,
    ) -> Option<String> {
        if self.unread.is_empty() {
            return None;
        }
        if let Some((zone, why)) = self.unnamed {
            return Some(format!(
                "hosted zone {zone} could not be read and its name is not known yet, so any name may be in it ({why}); what the service has is left as it is"
            ));
        }
        let names = asked
            .iter()
            .map(|n| (n, zone_ref))
            .chain(routed.into_iter().map(|h| (h, None)));
        for (name, zone_ref) in names {
            let Some(zone) = zone_for(&self.named, name, zone_ref) else {
                continue;
            };
            if let Some(why) = self.unread.get(zone.id.as_str()) {
                return Some(format!(
                    "{name} is in hosted zone {} ({}), which could not be read this pass ({why}); what the service has is left as it is",
                    zone.id, zone.name
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::UnreadZone;

    fn snapshot(unread_name: Option<&str>) -> Snapshot {
        let mut s = Snapshot::default();
        s.zones.insert(
            "ZOWN".into(),
            HostedZone {
                id: "ZOWN".into(),
                name: "example.com".into(),
            },
        );
        s.failed_reads.push(crate::snapshot::FailedRead {
            service: "sts".into(),
            operation: "AssumeRole".into(),
            message: "cannot assume role R".into(),
            zone: Some("ZCENTRAL".into()),
        });
        s.unread_zones.insert(
            "ZCENTRAL".into(),
            UnreadZone {
                name: unread_name.map(str::to_string),
                reason: "cannot assume role R".into(),
            },
        );
        s
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_services_with_a_name_in_an_unread_zone_are_held_back() {
        let observed = snapshot(Some("in.example.com"));
        let zones = UnreadZones::new(&["ZOWN".into(), "ZCENTRAL".into()], &observed);
        // (case, names asked for, dns.zone, rule hosts, held back)
        type Case<'a> = (&'a str, &'a [&'a str], Option<&'a str>, &'a [&'a str], bool);
        let cases: Vec<Case<'_>> = vec![
            // The longest suffix decides: in.example.com (unread), not example.com.
            ("a name in it", &["a.in.example.com"], None, &[], true),
            ("a name beside it", &["a.example.com"], None, &[], false),
            ("outside every zone", &["a.other.net"], None, &[], false),
            (
                "a withdrawn service's rule",
                &[],
                None,
                &["old.in.example.com"],
                true,
            ),
            ("a rule beside it", &[], None, &["old.example.com"], false),
            (
                "placed by dns.zone in the read one",
                &["a.in.example.com"],
                Some("ZOWN"),
                &[],
                false,
            ),
            (
                "placed by dns.zone in it",
                &["a.in.example.com"],
                Some("ZCENTRAL"),
                &[],
                true,
            ),
        ];
        for (case, asked, zone_ref, routed, held) in cases {
            let why = zones.holds_back(&names(asked), zone_ref, &names(routed));
            assert_eq!(why.is_some(), held, "{case}: {why:?}");
            if let Some(why) = why {
                assert!(
                    why.contains("ZCENTRAL") && why.contains("cannot assume role R"),
                    "{case}: {why}"
                );
            }
        }
        assert!(observed.complete_but_zones() && !observed.complete());
    }

    #[test]
    fn zones_of_the_same_name_resolve_as_the_dns_planner_takes_them() {
        // A private zone (unread) and a public one (read), both example.com: a name placed
        // by `dns.zone=example.com` belongs to the first given, as it would were both read.
        let mut observed = Snapshot::default();
        observed.zones.insert(
            "ZPUB".into(),
            HostedZone {
                id: "ZPUB".into(),
                name: "example.com".into(),
            },
        );
        observed.unread_zones.insert(
            "ZPRIV".into(),
            UnreadZone {
                name: Some("example.com".into()),
                reason: "cannot assume role R".into(),
            },
        );
        let asked = names(&["a.example.com"]);
        let private_first = UnreadZones::new(&["ZPRIV".into(), "ZPUB".into()], &observed);
        assert!(
            private_first
                .holds_back(&asked, Some("example.com"), &[])
                .is_some()
        );
        let public_first = UnreadZones::new(&["ZPUB".into(), "ZPRIV".into()], &observed);
        assert!(
            public_first
                .holds_back(&asked, Some("example.com"), &[])
                .is_none()
        );
    }

    #[test]
    fn a_zone_whose_name_is_unknown_holds_back_everyone() {
        let observed = snapshot(None);
        let zones = UnreadZones::new(&["ZOWN".into(), "ZCENTRAL".into()], &observed);
        let why = zones.holds_back(&names(&["a.other.net"]), None, &[]);
        assert!(why.is_some_and(|w| w.contains("not known yet")));
        assert!(!observed.complete_but_zones());
    }

    #[test]
    fn without_unread_zones_nothing_is_held_back() {
        let observed = Snapshot::default();
        let zones = UnreadZones::new(&["ZOWN".into(), "ZCENTRAL".into()], &observed);
        assert!(
            zones
                .holds_back(&names(&["a.in.example.com"]), None, &[])
                .is_none()
        );
        assert!(observed.complete_but_zones());
    }
}
