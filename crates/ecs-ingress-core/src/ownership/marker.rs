//! The DNS ownership marker: every name ecs-ingress writes gets a TXT record at
//! `_ecs-ingress.<name>` holding the registry version, owner id, the services routed by the
//! name and the record types written. It lives at a derived name because a CNAME may not
//! share its name with a TXT record.

/// Prefix of the marker record's name.
pub const MARKER_PREFIX: &str = "_ecs-ingress.";
/// Version of the marker format; see `docs/tags.md` for migrating between versions.
pub const REGISTRY_VERSION: &str = "1";
/// TTL of marker records (never resolved by clients).
pub const MARKER_TTL: i64 = 300;

/// What a marker says.
/// `S` is `String` for a marker kept, `&str` for one read in place from its record (the
/// planner reads every owned name's marker each pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker<S = String> {
    pub owner: S,
    /// Every service routed by the name (several when they share a host by path on one
    /// ALB), oldest first.
    pub services: Vec<S>,
    pub types: Vec<S>,
    /// When the records last moved to another ALB (Unix seconds): the old ALB keeps serving
    /// until cached answers expire. `None` when they never moved.
    pub since: Option<i64>,
}

pub fn marker_name(name: &str) -> String {
    format!("{MARKER_PREFIX}{name}")
}

/// The TXT value (quoted, as Route 53 stores it). Services are comma-separated (an ARN
/// holds no comma), so a marker of one service reads as before.
pub fn marker_value<S: AsRef<str>, T: AsRef<str>>(
    owner: &str,
    services: &[S],
    types: impl IntoIterator<Item = T>,
    since: Option<i64>,
) -> String {
    // Written piece by piece rather than formatted: every owned name's marker is built
    // each pass to compare with the one in the zone. `since` is appended only when set, so
    // markers of names that never moved read as before (and older versions ignore it).
    let mut out = String::with_capacity(64 + owner.len() + services.len() * 80);
    out.push_str("\"ecs-ingress-registry=");
    out.push_str(REGISTRY_VERSION);
    out.push_str(" owner=");
    out.push_str(owner);
    out.push_str(" service=");
    push_joined(&mut out, services);
    out.push_str(" types=");
    push_joined(&mut out, types);
    if let Some(s) = since {
        out.push_str(" since=");
        out.push_str(&s.to_string());
    }
    out.push('"');
    out
}

/// Whether `value` is exactly what [`marker_value`] gives for these fields. Compared piece
/// by piece, nothing built: every owned name's marker is compared each pass, and nearly all
/// of them match.
pub fn is_marker_value<S: AsRef<str>, T: AsRef<str>>(
    value: &str,
    owner: &str,
    services: &[S],
    types: impl IntoIterator<Item = T>,
    since: Option<i64>,
) -> bool {
    let mut rest = Rest(value);
    let fixed = rest.eat("\"ecs-ingress-registry=")
        && rest.eat(REGISTRY_VERSION)
        && rest.eat(" owner=")
        && rest.eat(owner)
        && rest.eat(" service=")
        && rest.eat_joined(services)
        && rest.eat(" types=")
        && rest.eat_joined(types);
    let since_matches = match since {
        Some(s) => rest.eat(" since=") && rest.eat(&s.to_string()),
        None => true,
    };
    fixed && since_matches && rest.eat("\"") && rest.0.is_empty()
}

/// What is left of a value being compared with a marker's pieces.
struct Rest<'v>(&'v str);

impl Rest<'_> {
    /// Takes `piece` off the front, if the value goes on with it.
    fn eat(&mut self, piece: &str) -> bool {
        match self.0.strip_prefix(piece) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    /// Takes `values` off the front, comma-separated, as [`push_joined`] writes them.
    fn eat_joined<S: AsRef<str>>(&mut self, values: impl IntoIterator<Item = S>) -> bool {
        values
            .into_iter()
            .enumerate()
            .all(|(i, v)| (i == 0 || self.eat(",")) && self.eat(v.as_ref()))
    }
}

fn push_joined<S: AsRef<str>>(out: &mut String, values: impl IntoIterator<Item = S>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(v.as_ref());
    }
}

/// `value` with `since` set to `now`; `None` for anything that is not a marker.
pub fn restamp(value: &str, now: i64) -> Option<String> {
    let m = parse_marker(value)?;
    Some(marker_value(&m.owner, &m.services, &m.types, Some(now)))
}

/// Reads a marker value; `None` for anything that is not one.
pub fn parse_marker(value: &str) -> Option<Marker> {
    let m = read_marker(value)?;
    let owned = |values: Vec<&str>| values.into_iter().map(str::to_string).collect();
    Some(Marker {
        owner: m.owner.to_string(),
        services: owned(m.services),
        types: owned(m.types),
        since: m.since,
    })
}

/// Reads a marker value in place; `None` for anything that is not one.
pub fn read_marker(value: &str) -> Option<Marker<&str>> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let fields = MarkerFields::read(inner);
    if fields.version != Some(REGISTRY_VERSION) {
        return None;
    }
    let services = listed(fields.services?);
    if services.is_empty() {
        return None;
    }
    Some(Marker {
        owner: fields.owner?,
        services,
        types: listed(fields.types?),
        since: fields.since.and_then(|s| s.parse().ok()),
    })
}

/// The non-empty values of a comma-separated field, in a vector of their number: collected
/// from the split, each held room for four (two vectors of 64 bytes for every owned name's
/// marker, 1.2 MiB of a steady pass's highest heap at 10,000 names, for one value each).
fn listed(field: &str) -> Vec<&str> {
    let values = || field.split(',').filter(|v| !v.is_empty());
    let mut out = Vec::with_capacity(values().count());
    out.extend(values());
    out
}

/// The `key=value` fields of a marker that it is read by; a field given twice counts by
/// its last value, unknown fields are ignored.
#[derive(Default)]
struct MarkerFields<'v> {
    version: Option<&'v str>,
    owner: Option<&'v str>,
    services: Option<&'v str>,
    types: Option<&'v str>,
    since: Option<&'v str>,
}

impl<'v> MarkerFields<'v> {
    fn read(inner: &'v str) -> Self {
        let mut out = Self::default();
        for (key, value) in inner.split_whitespace().filter_map(|f| f.split_once('=')) {
            let slot = match key {
                "ecs-ingress-registry" => &mut out.version,
                "owner" => &mut out.owner,
                "service" => &mut out.services,
                "types" => &mut out.types,
                "since" => &mut out.since,
                _ => continue,
            };
            *slot = Some(value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restamped_marker_keeps_everything_but_since() {
        let services = vec!["arn:a".to_string(), "arn:b".to_string()];
        let types = vec!["A".to_string()];
        for since in [None, Some(100)] {
            let value = marker_value("me", &services, &types, since);
            let restamped = restamp(&value, 250).expect("a marker");
            let m = parse_marker(&restamped).expect("still a marker");
            assert_eq!(
                (m.owner.as_str(), &m.services, &m.types, m.since),
                ("me", &services, &types, Some(250))
            );
        }
        assert_eq!(restamp("\"v=spf1 -all\"", 250), None);
    }

    proptest::proptest! {
        /// The piecewise comparison answers as comparing with the value built: for the value
        /// of the same fields, of other fields, and for values cut or grown at either end.
        #[test]
        fn a_value_is_compared_as_the_value_built(
            owner in "[a-z=,]{0,3}",
            services in proptest::collection::vec("[a-z:,]{0,3}", 0..3),
            types in proptest::collection::vec("[A-Z,]{0,2}", 0..3),
            since in proptest::option::of(-3i64..300),
            other_owner in "[a-z=,]{0,3}",
            other_services in proptest::collection::vec("[a-z:,]{0,3}", 0..3),
            other_types in proptest::collection::vec("[A-Z,]{0,2}", 0..3),
            other_since in proptest::option::of(-3i64..300),
            cut in 0usize..4,
            extra in "[a-z\" ]{0,2}",
        ) {
            let built = marker_value(&owner, &services, &types, since);
            let other = marker_value(&other_owner, &other_services, &other_types, other_since);
            let cut_end = built[..built.len().saturating_sub(cut)].to_string();
            let cut_front = built.get(cut..).unwrap_or_default().to_string();
            for value in [
                built.clone(),
                other,
                cut_end,
                cut_front,
                format!("{built}{extra}"),
                format!("{extra}{built}"),
            ] {
                proptest::prop_assert_eq!(
                    is_marker_value(&value, &owner, &services, &types, since),
                    value == built,
                    "{}", value
                );
            }
        }
    }

    #[test]
    fn markers_are_read_as_written() {
        let services = ["arn:a", "arn:b"];
        let value = marker_value("me", &services, ["A", "AAAA"], Some(7));
        assert_eq!(
            value,
            "\"ecs-ingress-registry=1 owner=me service=arn:a,arn:b types=A,AAAA since=7\""
        );
        let no_since = marker_value("me", &services[..1], ["CNAME"], None);
        assert_eq!(
            no_since,
            "\"ecs-ingress-registry=1 owner=me service=arn:a types=CNAME\""
        );
        // Field order does not matter, unknown fields are ignored, the last of a repeated
        // field counts; another registry version, or no service, is not a marker.
        let m = parse_marker(
            "\"types=A owner=old x=y owner=me ecs-ingress-registry=1 service=arn:a,,arn:b\"",
        )
        .expect("a marker");
        assert_eq!(m.owner, "me");
        assert_eq!(m.services, ["arn:a", "arn:b"]);
        assert_eq!(m.types, ["A"]);
        assert_eq!(m.since, None);
        for not_one in [
            "\"ecs-ingress-registry=2 owner=me service=arn:a types=A\"",
            "\"ecs-ingress-registry=1 owner=me service= types=A\"",
            "\"ecs-ingress-registry=1 service=arn:a types=A\"",
            "ecs-ingress-registry=1 owner=me service=arn:a types=A",
        ] {
            assert_eq!(parse_marker(not_one), None, "{not_one}");
        }
    }
}
