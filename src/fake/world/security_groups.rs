//! Security-group rules in the fake account, and whether they let an ALB reach a task.
//!
//! From AWS's documentation ("Security group rules", "Amazon VPC quotas", the EC2 API
//! reference), not from the controller's code:
//! - Traffic from an ALB reaches a target only if one of the target's security groups has
//!   an inbound rule allowing it: a rule referencing one of the ALB's security groups (or an
//!   address range containing everything, `0.0.0.0/0`) for the protocol (tcp, or all
//!   protocols) and a port range containing the port. The health checks come from the same
//!   ALB nodes, so a target its ALB cannot reach never turns healthy.
//! - 60 inbound rules per security group (`RulesPerSecurityGroupLimitExceeded`); a rule
//!   granting the same permission twice is refused (`InvalidPermission.Duplicate`); a group
//!   or a rule id that does not exist is `InvalidGroup.NotFound` /
//!   `InvalidSecurityGroupRuleId.NotFound`.

use super::World;
use crate::aws::AwsError;
use crate::fake::error;
use crate::state::{SecurityGroupRule, Tags, Target};

const EC2: &str = "ec2";
/// "Inbound or outbound rules per security group": 60 by default.
pub const INBOUND_RULES_PER_GROUP: usize = 60;

/// An inbound rule of the fake account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIngressRule {
    pub id: String,
    pub group_id: String,
    /// `tcp`, `udp`, or `-1` for every protocol.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    /// The source: a security group, or an IPv4 range.
    pub source: FakeSource,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeSource {
    Group(String),
    Cidr(String),
}

impl FakeIngressRule {
    /// Lets tcp traffic from a holder of `groups` reach `port`.
    fn lets_in(&self, groups: &[String], port: i32) -> bool {
        let from = match &self.source {
            FakeSource::Group(g) => groups.contains(g),
            FakeSource::Cidr(c) => c == "0.0.0.0/0",
        };
        let protocol = self.protocol == "-1" || self.protocol == "tcp";
        let ports = self.protocol == "-1" || (self.from_port <= port && port <= self.to_port);
        from && protocol && ports
    }

    /// As DescribeSecurityGroupRules answers it.
    pub fn view(&self) -> SecurityGroupRule {
        SecurityGroupRule {
            id: self.id.clone(),
            group_id: self.group_id.clone(),
            protocol: self.protocol.clone(),
            from_port: self.from_port,
            to_port: self.to_port,
            source_group_id: match &self.source {
                FakeSource::Group(g) => Some(g.clone()),
                FakeSource::Cidr(_) => None,
            },
            tags: self.tags.clone(),
        }
    }
}

impl World {
    /// A hand-made inbound rule (a fixture, or someone's edit). Returns its id.
    pub fn add_ingress_rule(
        &mut self,
        group_id: &str,
        protocol: &str,
        ports: (i32, i32),
        source: FakeSource,
    ) -> String {
        let id = format!("sgr-{}", self.id());
        self.ingress_rules.insert(
            id.clone(),
            FakeIngressRule {
                id: id.clone(),
                group_id: group_id.to_string(),
                protocol: protocol.to_string(),
                from_port: ports.0,
                to_port: ports.1,
                source,
                tags: Tags::new(),
            },
        );
        id
    }

    /// AuthorizeSecurityGroupIngress of one group-referencing tcp permission, tagged.
    pub fn authorize_ingress(
        &mut self,
        group_id: &str,
        source_group_id: &str,
        port: u16,
        tags: &Tags,
    ) -> Result<String, AwsError> {
        const OP: &str = "AuthorizeSecurityGroupIngress";
        for g in [group_id, source_group_id] {
            if !self.security_groups.contains_key(g) {
                return Err(error(
                    EC2,
                    OP,
                    "InvalidGroup.NotFound",
                    format!("The security group '{g}' does not exist"),
                ));
            }
        }
        let port = i32::from(port);
        let source = FakeSource::Group(source_group_id.to_string());
        let in_group = self
            .ingress_rules
            .values()
            .filter(|r| r.group_id == group_id);
        if in_group.clone().any(|r| {
            r.protocol == "tcp" && r.from_port == port && r.to_port == port && r.source == source
        }) {
            return Err(error(
                EC2,
                OP,
                "InvalidPermission.Duplicate",
                format!(
                    "the specified rule \"peer: {source_group_id}, TCP, from port: {port}, to port: {port}, ALLOW\" already exists"
                ),
            ));
        }
        if in_group.count() >= INBOUND_RULES_PER_GROUP {
            return Err(error(
                EC2,
                OP,
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.".into(),
            ));
        }
        let id = format!("sgr-{}", self.id());
        self.ingress_rules.insert(
            id.clone(),
            FakeIngressRule {
                id: id.clone(),
                group_id: group_id.to_string(),
                protocol: "tcp".into(),
                from_port: port,
                to_port: port,
                source,
                tags: tags.clone(),
            },
        );
        Ok(id)
    }

    /// RevokeSecurityGroupIngress by rule id.
    pub fn revoke_ingress(&mut self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        match self.ingress_rules.get(rule_id) {
            Some(r) if r.group_id == group_id => {
                self.ingress_rules.remove(rule_id);
                Ok(())
            }
            _ => Err(error(
                EC2,
                "RevokeSecurityGroupIngress",
                "InvalidSecurityGroupRuleId.NotFound",
                format!("The security group rule ID '{rule_id}' does not exist"),
            )),
        }
    }

    /// DeleteSecurityGroup: refused while another group's rule references it (moto deletes
    /// it anyway) or a load balancer or service uses it.
    pub fn delete_security_group(&mut self, group_id: &str) -> Result<(), AwsError> {
        let referenced = self
            .ingress_rules
            .values()
            .any(|r| r.group_id != group_id && r.source == FakeSource::Group(group_id.to_string()));
        let used = self
            .load_balancers
            .values()
            .any(|lb| lb.security_groups.iter().any(|g| g == group_id))
            || self
                .services
                .values()
                .any(|s| s.service.security_groups.iter().any(|g| g == group_id));
        if referenced || used {
            return Err(error(
                EC2,
                "DeleteSecurityGroup",
                "DependencyViolation",
                format!("resource {group_id} has a dependent object"),
            ));
        }
        self.security_groups.remove(group_id);
        self.ingress_rules.retain(|_, r| r.group_id != group_id);
        Ok(())
    }

    /// Inbound rules of `group_ids`, or of every group when `None`.
    pub fn ingress_rules_of(&self, group_ids: Option<&[String]>) -> Vec<SecurityGroupRule> {
        self.ingress_rules
            .values()
            .filter(|r| group_ids.is_none_or(|g| g.contains(&r.group_id)))
            .map(FakeIngressRule::view)
            .collect()
    }

    /// The ALB `load_balancer_arn` can reach `port` of the task behind `target`. Tasks of a
    /// service with no security groups (not awsvpc, or a fixture that does not model them)
    /// are reachable.
    pub fn alb_reaches(&self, load_balancer_arn: &str, target: &Target, port: i32) -> bool {
        let Some(service) = self.task_service(&target.id) else {
            return true;
        };
        let Some(task_groups) = self
            .services
            .get(service)
            .map(|s| &s.service.security_groups)
            .filter(|g| !g.is_empty())
        else {
            return true;
        };
        let alb_groups = self
            .load_balancers
            .get(load_balancer_arn)
            .map(|lb| lb.security_groups.clone())
            .unwrap_or_default();
        self.ingress_rules
            .values()
            .any(|r| task_groups.contains(&r.group_id) && r.lets_in(&alb_groups, port))
    }

    /// Every ALB routing to `target_group_arn` can reach the health-check port of `target`.
    pub(crate) fn health_checks_reach(&self, target_group_arn: &str, target: &Target) -> bool {
        let port = self
            .target_groups
            .get(target_group_arn)
            .and_then(|g| g.health_check.port.parse::<i32>().ok())
            .unwrap_or(target.port);
        self.albs_routing_to(target_group_arn)
            .iter()
            .all(|lb| self.alb_reaches(lb, target, port))
    }

    /// ALBs with a rule forwarding to the group.
    fn albs_routing_to(&self, target_group_arn: &str) -> Vec<String> {
        let mut albs: Vec<String> = self
            .rules
            .values()
            .filter(|r| {
                r.forward_target_groups
                    .iter()
                    .any(|g| g == target_group_arn)
                    || r.staged_target_groups.iter().any(|g| g == target_group_arn)
            })
            .filter_map(|r| self.listeners.get(r.listener_arn.as_str()))
            .map(|l| l.load_balancer_arn.clone())
            .collect();
        albs.sort();
        albs.dedup();
        albs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_refuses_duplicates_unknown_groups_and_deleting_a_referenced_group() {
        let mut world = World::default();
        let app = world.add_security_group("vpc-1");
        let alb = world.add_security_group("vpc-1");
        let tags = Tags::new();
        assert!(world.authorize_ingress(&app, &alb, 80, &tags).is_ok());
        let dup = world
            .authorize_ingress(&app, &alb, 80, &tags)
            .expect_err("duplicate");
        assert_eq!(dup.code.as_deref(), Some("InvalidPermission.Duplicate"));
        let missing = world
            .authorize_ingress("sg-nope", &alb, 80, &tags)
            .expect_err("unknown group");
        assert_eq!(missing.code.as_deref(), Some("InvalidGroup.NotFound"));
        let e = world.delete_security_group(&alb).expect_err("referenced");
        assert_eq!(e.code.as_deref(), Some("DependencyViolation"));
        let gone = world
            .revoke_ingress(&app, "sgr-nope")
            .expect_err("unknown rule");
        assert_eq!(
            gone.code.as_deref(),
            Some("InvalidSecurityGroupRuleId.NotFound")
        );
    }

    #[test]
    fn sixty_inbound_rules_fill_a_group() {
        let mut world = World::default();
        let app = world.add_security_group("vpc-1");
        let alb = world.add_security_group("vpc-1");
        for port in 0..60 {
            assert!(
                world
                    .authorize_ingress(&app, &alb, port, &Tags::new())
                    .is_ok()
            );
        }
        let e = world
            .authorize_ingress(&app, &alb, 60, &Tags::new())
            .expect_err("full");
        assert_eq!(
            e.code.as_deref(),
            Some("RulesPerSecurityGroupLimitExceeded")
        );
    }
}
