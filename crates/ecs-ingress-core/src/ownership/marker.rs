//! The DNS ownership marker: every name ecs-ingress writes gets a TXT record at
//! `_ecs-ingress.<name>` holding the registry version, owner id, the services routed by the
//! name and the record types written. It lives at a derived name because a CNAME may not
//! share its name with a TXT record.

use std::collections::BTreeMap;

/// Prefix of the marker record's name.
pub const MARKER_PREFIX: &str = "_ecs-ingress.";
/// Version of the marker format; see `docs/tags.md` for migrating between versions.
pub const REGISTRY_VERSION: &str = "1";
/// TTL of marker records (never resolved by clients).
pub const MARKER_TTL: i64 = 300;

/// What a marker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub owner: String,
    /// Every service routed by the name (several when they share a host by path on one
    /// ALB), oldest first.
    pub services: Vec<String>,
    pub types: Vec<String>,
    /// When the records last moved to another ALB (Unix seconds): the old ALB keeps serving
    /// until cached answers expire. `None` when they never moved.
    pub since: Option<i64>,
}

pub fn marker_name(name: &str) -> String {
    format!("{MARKER_PREFIX}{name}")
}

/// The TXT value (quoted, as Route 53 stores it). Services are comma-separated (an ARN
/// holds no comma), so a marker of one service reads as before.
pub fn marker_value(
    owner: &str,
    services: &[String],
    types: &[String],
    since: Option<i64>,
) -> String {
    // `since` is appended only when set, so markers of names that never moved read as
    // before (and older versions ignore the field).
    let since = since.map(|s| format!(" since={s}")).unwrap_or_default();
    format!(
        "\"ecs-ingress-registry={REGISTRY_VERSION} owner={owner} service={} types={}{since}\"",
        services.join(","),
        types.join(",")
    )
}

/// `value` with `since` set to `now`; `None` for anything that is not a marker.
pub fn restamp(value: &str, now: i64) -> Option<String> {
    let m = parse_marker(value)?;
    Some(marker_value(&m.owner, &m.services, &m.types, Some(now)))
}

/// Reads a marker value; `None` for anything that is not one.
pub fn parse_marker(value: &str) -> Option<Marker> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let fields: BTreeMap<&str, &str> = inner
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect();
    if fields.get("ecs-ingress-registry") != Some(&REGISTRY_VERSION) {
        return None;
    }
    let services: Vec<String> = fields
        .get("service")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if services.is_empty() {
        return None;
    }
    Some(Marker {
        owner: fields.get("owner")?.to_string(),
        services,
        types: fields
            .get("types")?
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        since: fields.get("since").and_then(|s| s.parse().ok()),
    })
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
}
