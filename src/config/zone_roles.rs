//! `--zone-role ZONE_ID=ROLE_ARN`: hosted zones written through a role assumed in the
//! zone's account (a central networking account's private zones), checked at start-up.

use std::collections::BTreeMap;

use super::{ConfigError, parse_hosted_zone};

/// One `--zone-role` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRoleArg {
    pub zone: String,
    pub role_arn: String,
}

/// The roles to assume, by zone id; every zone must be one given with `--hosted-zone`, and
/// none may be given two roles (the same role for several zones is fine: it is assumed once).
pub(super) fn zone_roles(
    given: Vec<ZoneRoleArg>,
    hosted_zones: &[String],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut roles: BTreeMap<String, String> = BTreeMap::new();
    for ZoneRoleArg { zone, role_arn } in given {
        if !hosted_zones.contains(&zone) {
            return Err(ConfigError::ZoneRoleUnknownZone { zone, role_arn });
        }
        match roles.get(&zone) {
            Some(first) if *first != role_arn => {
                return Err(ConfigError::ZoneGivenTwoRoles {
                    zone,
                    first: first.clone(),
                    second: role_arn,
                });
            }
            _ => {
                roles.insert(zone, role_arn);
            }
        }
    }
    Ok(roles)
}

pub(super) fn parse_zone_role(value: &str) -> Result<ZoneRoleArg, String> {
    let Some((zone, role_arn)) = value.trim().split_once('=') else {
        return Err(format!(
            "`{value}` is not ZONE_ID=ROLE_ARN (like Z0123456789ABC=arn:aws:iam::111122223333:role/dns-writer)"
        ));
    };
    let zone = parse_hosted_zone(zone)?;
    let role_arn = role_arn.trim();
    if !is_role_arn(role_arn) {
        return Err(format!(
            "`{role_arn}` is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>)"
        ));
    }
    Ok(ZoneRoleArg {
        zone,
        role_arn: role_arn.to_string(),
    })
}

/// A bare IAM role ARN (`--ecs-infrastructure-role-arn`).
pub(super) fn parse_role_arn(value: &str) -> Result<String, String> {
    let role_arn = value.trim();
    if is_role_arn(role_arn) {
        Ok(role_arn.to_string())
    } else {
        Err(format!(
            "`{role_arn}` is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>)"
        ))
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path/name>`, with the characters IAM allows in
/// role paths and names.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let name = resource.strip_prefix("role/").unwrap_or_default();
    prefix == "arn"
        && !partition.is_empty()
        && partition
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-')
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !name.is_empty()
        && !name.ends_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// STS's ExternalId: 2 to 1224 characters of `[\w+=,.@:/-]`.
pub(super) fn parse_external_id(value: &str) -> Result<String, String> {
    let ok = (2..=1224).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
    if ok {
        Ok(value.to_string())
    } else {
        Err("an external id is 2-1224 letters, digits or `_+=,.@:/-`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::222222222222:role/central/dns-writer";

    #[test]
    fn role_arns_are_checked_part_by_part() {
        for good in [
            ROLE,
            "arn:aws-cn:iam::222222222222:role/r",
            "arn:aws-us-gov:iam::222222222222:role/a+b=c,d.e@f_g-h",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "",
            "arn:aws:iam::22222222222:role/short-account",
            "arn:aws:iam::2222222222223:role/long-account",
            "arn:aws:iam::22222222222x:role/letters",
            "arn:aws:iam:eu-west-1:222222222222:role/regional",
            "arn:aws:sts::222222222222:role/not-iam",
            "arn:aws:iam::222222222222:user/not-a-role",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:iam::222222222222:role/ends/",
            "arn:aws:iam::222222222222:role/sp ace",
            "arn:AWS:iam::222222222222:role/upper-partition",
            "role/name",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn a_value_is_a_zone_and_a_role() {
        assert_eq!(
            parse_zone_role(&format!("/hostedzone/z0abc={ROLE}")),
            Ok(ZoneRoleArg {
                zone: "Z0ABC".into(),
                role_arn: ROLE.into()
            })
        );
        for bad in [
            ROLE.to_string(),
            format!("Z-1={ROLE}"),
            "Z0ABC=arn:aws:iam::1:role/x".into(),
        ] {
            let err = parse_zone_role(&bad).expect_err(&bad);
            assert!(err.contains('`'), "the error quotes the value: {err}");
        }
        assert_eq!(crate::ownership::arn_account(ROLE), Some("222222222222"));
    }

    #[test]
    fn every_zone_is_managed_and_has_one_role() {
        let arg = |zone: &str, role: &str| ZoneRoleArg {
            zone: zone.into(),
            role_arn: role.into(),
        };
        let other = "arn:aws:iam::333333333333:role/other";
        let zones = ["Z1".to_string(), "Z2".to_string()];
        let roles = zone_roles(
            vec![arg("Z1", ROLE), arg("Z2", ROLE), arg("Z1", ROLE)],
            &zones,
        )
        .expect("one role for two zones, one zone repeated with the same role");
        assert_eq!(roles.len(), 2);
        assert_eq!(
            zone_roles(vec![arg("Z1", ROLE), arg("Z1", other)], &zones),
            Err(ConfigError::ZoneGivenTwoRoles {
                zone: "Z1".into(),
                first: ROLE.into(),
                second: other.into()
            })
        );
        assert_eq!(
            zone_roles(vec![arg("Z3", ROLE)], &zones),
            Err(ConfigError::ZoneRoleUnknownZone {
                zone: "Z3".into(),
                role_arn: ROLE.into()
            })
        );
    }

    #[test]
    fn external_ids_follow_sts_rules() {
        assert!(parse_external_id("ab").is_ok());
        assert!(parse_external_id("tenant:42/dns@example.com").is_ok());
        assert!(parse_external_id("a").is_err());
        assert!(parse_external_id("with space").is_err());
        assert!(parse_external_id(&"x".repeat(1225)).is_err());
    }
}
