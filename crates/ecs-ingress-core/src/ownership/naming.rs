//! Deterministic target-group names.
//!
//! A name is a pure function of the owner id, the service and every immutable field of the
//! target group, so a restarted controller finds what it made instead of duplicating it,
//! and a change to an immutable field (port, protocol, target type, VPC) yields a new name:
//! the replacement is created beside the old group, then the old one is deleted.

/// Every target group ecs-ingress creates starts with this.
pub const TARGET_GROUP_NAME_PREFIX: &str = "ei-";
/// ELBv2's limit.
pub const MAX_TARGET_GROUP_NAME: usize = 32;

/// Whether a target group ARN (`…:targetgroup/NAME/ID`) has a name ecs-ingress could have
/// given it: when the account's groups could not be read, only such a group may be ours.
pub fn may_be_ours(target_group_arn: &str) -> bool {
    // The first `:targetgroup/` starts at one of the colons: looked for from them, as a
    // substring search sets up a searcher per call, and a pass asks this of the entries of
    // every service.
    target_group_arn
        .match_indices(':')
        .find_map(|(at, _)| target_group_arn[at..].strip_prefix(":targetgroup/"))
        .is_some_and(|rest| rest.starts_with(TARGET_GROUP_NAME_PREFIX))
}

/// FNV-1a's offset basis: the hash of nothing.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike `DefaultHasher`.
pub fn stable_hash(parts: &[&str]) -> u64 {
    hash_more(FNV_OFFSET, parts)
}

/// FNV-1a of `parts`, each followed by a NUL, continuing from `hash`: hashing `a` and
/// then `b` from there is hashing `a` and `b`.
fn hash_more(mut hash: u64, parts: &[&str]) -> u64 {
    for part in parts {
        for &byte in part.as_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
        // The NUL: xor with zero leaves the hash as it is. A byte iterator chained with
        // the NUL checked which half it was in for every byte, and every pass hashes
        // about 250 bytes per published service.
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a's 64-bit prime.
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The immutable identity of a target group.
#[derive(Debug, Clone, Copy)]
pub struct TargetGroupIdentity<'a> {
    pub owner_id: &'a str,
    pub service_arn: &'a str,
    pub service_name: &'a str,
    pub container: &'a str,
    pub port: u16,
    pub protocol: &'a str,
    pub protocol_version: &'a str,
    pub target_type: &'a str,
    pub vpc_id: &'a str,
    /// The ALB, for a group placed on a pool member other than the pool's first: a target
    /// group serves one ALB, so a service moving between ALBs needs a second name. `None`
    /// on the first member keeps the names a single listener always gave.
    pub load_balancer: Option<&'a str>,
}

/// `ei-<service name, shortened>-<12 hex digits>`, at most 32 characters of `[a-z0-9-]`.
pub fn target_group_name(id: &TargetGroupIdentity<'_>) -> String {
    let mut hash = shared_hash(id);
    if let Some(load_balancer) = id.load_balancer {
        hash = hash_more(hash, &[load_balancer]);
    }
    named(id.service_name, hash)
}

/// The group's names without its ALB and with `load_balancer`, the names of
/// [`target_group_name`] with `load_balancer` `None` and `Some`: a service on its pool's
/// first listener needs both every pass, and the ~250 bytes of identity they share are
/// hashed once. `id.load_balancer` is not read (it is `None` for the first name).
pub fn target_group_names(id: &TargetGroupIdentity<'_>, load_balancer: &str) -> (String, String) {
    debug_assert!(id.load_balancer.is_none(), "the ALB is given apart");
    let shared = shared_hash(id);
    (
        named(id.service_name, shared),
        named(id.service_name, hash_more(shared, &[load_balancer])),
    )
}

/// The hash of everything in the identity but its ALB.
fn shared_hash(id: &TargetGroupIdentity<'_>) -> u64 {
    let mut digits = [0u8; 5];
    let port = decimal(id.port, &mut digits);
    hash_more(
        FNV_OFFSET,
        &[
            id.owner_id,
            id.service_arn,
            id.container,
            port,
            id.protocol,
            id.protocol_version,
            id.target_type,
            id.vpc_id,
        ],
    )
}

/// The name for `service_name` and the identity's hash, written into one buffer: every
/// pass names every published service's group to compare with what exists.
fn named(service_name: &str, hash: u64) -> String {
    let hash = hash & 0xffff_ffff_ffff;
    const SUFFIX_LEN: usize = 13; // `-` and 12 hex digits
    let room = MAX_TARGET_GROUP_NAME - TARGET_GROUP_NAME_PREFIX.len() - SUFFIX_LEN;
    let mut name = String::with_capacity(MAX_TARGET_GROUP_NAME);
    name.push_str(TARGET_GROUP_NAME_PREFIX);
    push_readable(&mut name, service_name, room, "svc");
    name.push('-');
    push_hex12(&mut name, hash);
    name
}

/// The low 48 bits of `hash` as 12 lowercase hex digits, as `{:012x}` writes them: without
/// the formatting machinery, as every pass names every published service's groups.
fn push_hex12(out: &mut String, hash: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend((0..12).rev().map(|i| {
        let nibble = (hash >> (4 * i)) & 0xf;
        char::from(DIGITS[nibble as usize])
    }));
}

/// `n` in decimal, written into `buf` (no allocation: every pass names every group).
fn decimal(mut n: u16, buf: &mut [u8; 5]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

/// `name` in lowercase letters, digits and single hyphens inside, at most `room` long;
/// `fallback` when nothing is left.
fn readable(name: &str, room: usize, fallback: &str) -> String {
    let mut out = String::with_capacity(room);
    push_readable(&mut out, name, room, fallback);
    out
}

/// Appends [`readable`]'s answer to `out`.
fn push_readable(out: &mut String, name: &str, room: usize, fallback: &str) {
    let start = out.len();
    out.extend(name.chars().take(room).map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        }
    }));
    let kept_end = start + out[start..].trim_end_matches('-').len();
    out.truncate(kept_end);
    let leading = out[start..].len() - out[start..].trim_start_matches('-').len();
    out.drain(start..start + leading);
    if out.len() == start {
        out.push_str(fallback);
    }
}

/// The second group of a service ECS deploys blue/green (`alb.deploy`): the primary's
/// readable part with a hash of the primary's name, so it is as stable as the primary's and
/// changes with every immutable field the primary's name encodes.
pub fn alternate_target_group_name(primary: &str) -> String {
    let hash = stable_hash(&[primary, "alternate"]);
    let suffix = format!("-{:012x}", hash & 0xffff_ffff_ffff);
    let readable = primary
        .strip_prefix(TARGET_GROUP_NAME_PREFIX)
        .and_then(|rest| rest.rsplit_once('-'))
        .map_or("svc", |(name, _)| name);
    format!("{TARGET_GROUP_NAME_PREFIX}{readable}{suffix}")
}

/// ELBv2's limit on a load balancer's name.
pub const MAX_LOAD_BALANCER_NAME: usize = 32;

/// The name of the `n`-th ALB ecs-ingress creates for `pool`: `ei-<pool>-<6 hex>-<n>`, at
/// most 32 letters, digits and hyphens, never starting with `internal-` (AWS reserves it).
/// The hash of owner and pool keeps two controllers' pools apart.
pub fn load_balancer_name(owner_id: &str, pool: &str, n: usize) -> String {
    let suffix = format!("-{:06x}-{n}", stable_hash(&[owner_id, pool]) & 0xff_ffff);
    let room = MAX_LOAD_BALANCER_NAME - TARGET_GROUP_NAME_PREFIX.len() - suffix.len();
    let readable = readable(pool, room, "pool");
    format!("{TARGET_GROUP_NAME_PREFIX}{readable}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(service_name: &'a str, port: u16) -> TargetGroupIdentity<'a> {
        TargetGroupIdentity {
            owner_id: "ecs-ingress",
            service_arn: "arn:aws:ecs:us-east-1:123456789012:service/main/svc",
            service_name,
            container: "web",
            port,
            protocol: "HTTP",
            protocol_version: "HTTP1",
            target_type: "ip",
            vpc_id: "vpc-1",
            load_balancer: None,
        }
    }

    proptest::proptest! {
        /// The hash is FNV-1a over each part and a NUL after it, as it always was: names
        /// must not change (a new name is a new target group).
        #[test]
        fn the_hash_is_fnv_over_each_part_and_a_nul(
            start in proptest::num::u64::ANY,
            parts in proptest::collection::vec(".{0,12}", 0..5),
        ) {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            let mut reference = start;
            for part in &parts {
                for byte in part.bytes().chain(std::iter::once(0)) {
                    reference ^= u64::from(byte);
                    reference = reference.wrapping_mul(0x0100_0000_01b3);
                }
            }
            proptest::prop_assert_eq!(hash_more(start, &parts), reference);
        }

        /// A name's hash is written as `{:012x}` wrote it.
        #[test]
        fn hashes_are_written_as_formatting_wrote_them(hash in proptest::num::u64::ANY) {
            let hash = hash & 0xffff_ffff_ffff;
            let mut written = String::new();
            push_hex12(&mut written, hash);
            proptest::prop_assert_eq!(written, format!("{hash:012x}"));
        }
    }

    #[test]
    fn ports_are_written_as_to_string_writes_them() {
        for port in [0, 1, 9, 10, 80, 443, 8080, 9999, 10000, 65535] {
            assert_eq!(decimal(port, &mut [0; 5]), port.to_string());
        }
    }

    #[test]
    fn only_our_naming_scheme_may_be_ours() {
        let arn = |name: &str| {
            format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{name}/0123456789abcdef")
        };
        assert!(may_be_ours(&arn("ei-web-0a1b2c3d4e5f")));
        // The first `:targetgroup/` decides, wherever the colons before it are.
        assert!(may_be_ours(":targetgroup/ei-a/1:targetgroup/blue/2"));
        for theirs in [
            arn("blue"),
            arn("web-ei-1"),
            "ei-web".to_string(),
            String::new(),
            format!("{}:targetgroup/ei-web/1", arn("blue")),
            "targetgroup/ei-web/1".to_string(),
        ] {
            assert!(!may_be_ours(&theirs), "{theirs}");
        }
    }

    #[test]
    fn names_are_short_valid_and_stable() {
        for name in [
            "service-a",
            "A_very_long_service_name_that_goes_on_and_on",
            "---",
            "ß",
            "",
        ] {
            let n = target_group_name(&id(name, 8080));
            assert!(n.len() <= MAX_TARGET_GROUP_NAME, "{n}");
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{n}"
            );
            assert!(!n.ends_with('-') && !n.contains("--"), "{n}");
            assert_eq!(n, target_group_name(&id(name, 8080)));
        }
        assert_eq!(
            target_group_name(&id("service-a", 8080)),
            "ei-service-a-ccfe37fbe0e6"
        );
        // Names already in AWS must never change: these were given before the names were
        // written into one buffer, on a pool's first listener and on an ALB of its own.
        let alb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1";
        for (service, home, own) in [
            (
                "A_very_long_service_name_that_goes_on_and_on",
                "ei-a-very-long-serv-ccfe37fbe0e6",
                "ei-a-very-long-serv-55cfe454f530",
            ),
            ("---", "ei-svc-ccfe37fbe0e6", "ei-svc-55cfe454f530"),
            ("ß", "ei-svc-ccfe37fbe0e6", "ei-svc-55cfe454f530"),
            ("", "ei-svc-ccfe37fbe0e6", "ei-svc-55cfe454f530"),
            ("-a-", "ei-a-ccfe37fbe0e6", "ei-a-55cfe454f530"),
        ] {
            assert_eq!(target_group_name(&id(service, 8080)), home, "{service:?}");
            assert_eq!(
                target_group_names(&id(service, 8080), alb),
                (home.to_string(), own.to_string()),
                "{service:?}: both names at once are the names one at a time"
            );
            let on_alb = TargetGroupIdentity {
                load_balancer: Some(alb),
                ..id(service, 8080)
            };
            assert_eq!(target_group_name(&on_alb), own, "{service:?}");
        }
    }

    #[test]
    fn load_balancer_names_are_valid_for_any_pool_name() {
        for pool in ["internal", "a", "x".repeat(64).as_str(), "--", "Int_1.b"] {
            for n in [1, 99] {
                let name = load_balancer_name("ecs-ingress", pool, n);
                assert!(name.len() <= MAX_LOAD_BALANCER_NAME, "{name}");
                assert!(
                    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                    "{name}"
                );
                assert!(
                    !name.starts_with("internal-") && !name.ends_with('-'),
                    "{name}"
                );
            }
        }
        assert_ne!(
            load_balancer_name("a", "internal", 1),
            load_balancer_name("b", "internal", 1)
        );
    }

    #[test]
    fn a_group_off_the_pools_first_alb_has_its_own_name() {
        let home = target_group_name(&id("svc", 8080));
        let other = TargetGroupIdentity {
            load_balancer: Some("arn:lb/b"),
            ..id("svc", 8080)
        };
        assert_ne!(target_group_name(&other), home);
        assert_eq!(target_group_name(&other), target_group_name(&other));
    }

    #[test]
    fn the_alternate_name_is_valid_stable_and_follows_the_primary() {
        for name in ["service-a", "A_very_long_service_name_that_goes_on", "---"] {
            let primary = target_group_name(&id(name, 8080));
            let alternate = alternate_target_group_name(&primary);
            assert!(alternate.len() <= MAX_TARGET_GROUP_NAME, "{alternate}");
            assert_eq!(alternate.len(), primary.len(), "{alternate}");
            assert_ne!(alternate, primary);
            assert_eq!(alternate, alternate_target_group_name(&primary));
            let moved = target_group_name(&id(name, 8081));
            assert_ne!(alternate_target_group_name(&moved), alternate);
        }
    }

    #[test]
    fn immutable_fields_change_the_name() {
        assert_ne!(
            target_group_name(&id("svc", 8080)),
            target_group_name(&id("svc", 8081))
        );
    }
}
