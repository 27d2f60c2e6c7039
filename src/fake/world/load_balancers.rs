//! ALBs and listeners created and deleted at run time, with AWS's rules for them
//! ("Application Load Balancers", "Listeners for your Application Load Balancers", the
//! ELBv2 API reference for CreateLoadBalancer, CreateListener, DeleteLoadBalancer and
//! ModifyLoadBalancerAttributes, and "Quotas for your Application Load Balancers").
//!
//! The fake knows its subnets and security groups (fixtures add them); an ALB is created in
//! known subnets only, and its VPC is theirs.

use std::collections::{BTreeMap, BTreeSet};

use super::{ELB, FakeSubnet, World, elb_arn, not_found};
use crate::aws::AwsError;
use crate::fake::{REGION, error};
use crate::state::SharedStr;
use crate::state::{
    DefaultAction, Listener, ListenerSettings, LoadBalancer, LoadBalancerSettings, Rule, Tags,
};

/// "Application Load Balancers per Region": 50 by default.
pub const LOAD_BALANCERS_PER_ACCOUNT: usize = 50;
/// "Listeners per Application Load Balancer": 50.
pub const LISTENERS_PER_ALB: usize = 50;
/// "Certificates per Application Load Balancer (excluding default certificates)": 25.
pub const CERTIFICATES_PER_ALB: usize = 25;
/// ModifyLoadBalancerAttributes: "Array Members: Maximum number of 20 items".
const ATTRIBUTES_PER_CALL: usize = 20;
/// The hosted zone of every ALB's DNS name in us-east-1 ("Elastic Load Balancing endpoints
/// and quotas").
pub const CANONICAL_HOSTED_ZONE_ID: &str = "Z35SXDOTRQ7X7K";
/// The security policy an HTTPS listener created without one gets.
const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-2016-08";
const SCHEMES: &[&str] = &["internal", "internet-facing"];
const IP_ADDRESS_TYPES: &[&str] = &["ipv4", "dualstack", "dualstack-without-public-ipv4"];
/// What a new ALB's DescribeLoadBalancerAttributes answers ("Load balancer attributes").
const ATTRIBUTE_DEFAULTS: &[(&str, &str)] = &[
    ("access_logs.s3.enabled", "false"),
    ("access_logs.s3.bucket", ""),
    ("access_logs.s3.prefix", ""),
    ("connection_logs.s3.enabled", "false"),
    ("connection_logs.s3.bucket", ""),
    ("connection_logs.s3.prefix", ""),
    ("client_keep_alive.seconds", "3600"),
    ("deletion_protection.enabled", "false"),
    ("idle_timeout.timeout_seconds", "60"),
    ("load_balancing.cross_zone.enabled", "true"),
    ("routing.http.desync_mitigation_mode", "defensive"),
    ("routing.http.drop_invalid_header_fields.enabled", "false"),
    ("routing.http.preserve_host_header.enabled", "false"),
    (
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
        "false",
    ),
    ("routing.http.xff_client_port.enabled", "false"),
    ("routing.http.xff_header_processing.mode", "append"),
    ("routing.http2.enabled", "true"),
    ("waf.fail_open.enabled", "false"),
    ("zonal_shift.config.enabled", "false"),
];

/// A new ALB's attributes.
pub fn load_balancer_attribute_defaults() -> BTreeMap<String, String> {
    ATTRIBUTE_DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn invalid(operation: &'static str, message: String) -> AwsError {
    error(ELB, operation, "ValidationError", message)
}

/// "The name must be unique within your set of load balancers for the Region, must have a
/// maximum of 32 characters, must contain only alphanumeric characters or hyphens, must
/// not begin or end with a hyphen, and must not begin with 'internal-'."
fn check_name(name: &str) -> Result<(), AwsError> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.starts_with("internal-");
    if valid {
        Ok(())
    } else {
        Err(invalid(
            "CreateLoadBalancer",
            format!(
                "Load balancer name '{name}' is not valid: up to 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen, not beginning with 'internal-'"
            ),
        ))
    }
}

/// Settings as AWS compares them for an idempotent repeat: order of lists does not matter.
fn same_settings(a: &LoadBalancerSettings, b: &LoadBalancerSettings) -> bool {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    a.scheme == b.scheme
        && a.ip_address_type == b.ip_address_type
        && set(&a.subnets) == set(&b.subnets)
        && set(&a.security_groups) == set(&b.security_groups)
}

impl World {
    // ---- fixtures ---------------------------------------------------------------------

    /// A subnet of `vpc_id` in `availability_zone`. Returns its id.
    pub fn add_subnet(&mut self, vpc_id: &str, availability_zone: &str) -> String {
        let id = format!("subnet-{}", self.id());
        self.subnets.insert(
            id.clone(),
            FakeSubnet {
                vpc_id: vpc_id.to_string(),
                availability_zone: availability_zone.to_string(),
            },
        );
        id
    }

    /// A security group of `vpc_id`. Returns its id.
    pub fn add_security_group(&mut self, vpc_id: &str) -> String {
        let id = format!("sg-{}", self.id());
        self.security_groups.insert(id.clone(), vpc_id.to_string());
        id
    }

    /// An ACM certificate HTTPS listeners may use. Returns its ARN.
    pub fn add_certificate(&mut self, domain: &str) -> String {
        let arn = format!(
            "arn:aws:acm:{REGION}:{}:certificate/{}-{domain}",
            crate::fake::ACCOUNT,
            self.id()
        );
        self.certificates.insert(arn.clone());
        arn
    }

    /// The subnets (two Availability Zones) and a security group of `vpc_id`, made on first
    /// use: the network fixture ALBs stand in.
    pub(super) fn fixture_network(&mut self, vpc_id: &str) -> (Vec<String>, String) {
        let mut subnets: Vec<String> = self
            .subnets
            .iter()
            .filter(|(_, s)| s.vpc_id == vpc_id)
            .map(|(id, _)| id.clone())
            .collect();
        if subnets.is_empty() {
            subnets = ["a", "b"]
                .iter()
                .map(|zone| self.add_subnet(vpc_id, &format!("{REGION}{zone}")))
                .collect();
        }
        let security_group = match self.security_groups.iter().find(|(_, v)| *v == vpc_id) {
            Some((id, _)) => id.clone(),
            None => self.add_security_group(vpc_id),
        };
        (subnets, security_group)
    }

    // ---- reads ------------------------------------------------------------------------

    pub fn load_balancer_settings(
        &self,
        operation: &'static str,
        arn: &str,
    ) -> Result<&LoadBalancerSettings, AwsError> {
        self.load_balancer_settings
            .get(arn)
            .ok_or_else(|| not_found(operation, "LoadBalancerNotFound", arn))
    }

    pub fn listener_settings(
        &self,
        operation: &'static str,
        arn: &str,
    ) -> Result<&ListenerSettings, AwsError> {
        self.listener_settings
            .get(arn)
            .ok_or_else(|| not_found(operation, "ListenerNotFound", arn))
    }

    // ---- CreateLoadBalancer -----------------------------------------------------------

    /// The VPC of `subnets`: known, in one VPC, one per Availability Zone, at least two
    /// Availability Zones.
    fn subnets_vpc(&self, subnets: &[String]) -> Result<String, AwsError> {
        const OP: &str = "CreateLoadBalancer";
        let mut vpcs = BTreeSet::new();
        let mut zones = BTreeSet::new();
        for id in subnets {
            let subnet = self
                .subnets
                .get(id)
                .ok_or_else(|| not_found(OP, "SubnetNotFound", id))?;
            vpcs.insert(subnet.vpc_id.clone());
            if !zones.insert(subnet.availability_zone.clone()) {
                return Err(error(
                    ELB,
                    OP,
                    "InvalidConfigurationRequest",
                    format!(
                        "You can specify only one subnet per Availability Zone ({})",
                        subnet.availability_zone
                    ),
                ));
            }
        }
        if zones.len() < 2 {
            return Err(invalid(
                OP,
                "At least two subnets in two different Availability Zones must be specified".into(),
            ));
        }
        match vpcs.into_iter().collect::<Vec<_>>().as_slice() {
            [vpc] => Ok(vpc.clone()),
            _ => Err(error(
                ELB,
                OP,
                "InvalidConfigurationRequest",
                "The subnets must all be in the same VPC".into(),
            )),
        }
    }

    fn check_security_groups(&self, groups: &[String], vpc_id: &str) -> Result<(), AwsError> {
        match groups
            .iter()
            .find(|g| self.security_groups.get(*g).map(String::as_str) != Some(vpc_id))
        {
            Some(g) => Err(error(
                ELB,
                "CreateLoadBalancer",
                "InvalidSecurityGroup",
                format!("Security group '{g}' does not exist in VPC '{vpc_id}'"),
            )),
            None => Ok(()),
        }
    }

    fn check_load_balancer_settings(settings: &LoadBalancerSettings) -> Result<(), AwsError> {
        const OP: &str = "CreateLoadBalancer";
        if !SCHEMES.contains(&settings.scheme.as_str()) {
            return Err(invalid(
                OP,
                format!("Scheme '{}' is not valid", settings.scheme),
            ));
        }
        if !IP_ADDRESS_TYPES.contains(&settings.ip_address_type.as_str()) {
            return Err(invalid(
                OP,
                format!(
                    "IP address type '{}' is not valid",
                    settings.ip_address_type
                ),
            ));
        }
        Ok(())
    }

    /// CreateLoadBalancer (type application). A repeat with the same name and settings
    /// answers the existing ALB, as AWS does; the attributes are a new ALB's defaults.
    pub fn create_load_balancer(
        &mut self,
        name: &str,
        settings: &LoadBalancerSettings,
        tags: &Tags,
    ) -> Result<LoadBalancer, AwsError> {
        const OP: &str = "CreateLoadBalancer";
        check_name(name)?;
        Self::check_load_balancer_settings(settings)?;
        let vpc_id = self.subnets_vpc(&settings.subnets)?;
        self.check_security_groups(&settings.security_groups, &vpc_id)?;
        if let Some(existing) = self.load_balancers.values().find(|l| l.name == name) {
            let same = self
                .load_balancer_settings
                .get(existing.arn.as_str())
                .is_some_and(|s| same_settings(s, settings));
            return if same {
                Ok(existing.clone())
            } else {
                Err(error(
                    ELB,
                    OP,
                    "DuplicateLoadBalancerName",
                    format!("A load balancer with the name '{name}' already exists"),
                ))
            };
        }
        let quota = self
            .load_balancers_quota
            .unwrap_or(LOAD_BALANCERS_PER_ACCOUNT);
        if self.load_balancers.len() >= quota {
            return Err(error(
                ELB,
                OP,
                "TooManyLoadBalancers",
                format!("You have reached the limit of {quota} application load balancers"),
            ));
        }
        let id = self.id();
        let arn = elb_arn("loadbalancer", &format!("app/{name}/{id}"));
        let prefix = if settings.scheme == "internal" {
            "internal-"
        } else {
            ""
        };
        let load_balancer = LoadBalancer {
            arn: arn.clone().into(),
            name: name.to_string(),
            vpc_id,
            dns_name: format!("{prefix}{name}-{}.{REGION}.elb.amazonaws.com", self.next_id),
            canonical_hosted_zone_id: CANONICAL_HOSTED_ZONE_ID.into(),
            ip_address_type: settings.ip_address_type.clone(),
            security_groups: settings.security_groups.clone(),
        };
        self.load_balancers
            .insert(arn.clone(), load_balancer.clone());
        self.load_balancer_settings.insert(
            arn.clone(),
            LoadBalancerSettings {
                attributes: load_balancer_attribute_defaults(),
                ..settings.clone()
            },
        );
        self.elb_tags.insert(arn, tags.clone());
        Ok(load_balancer)
    }

    /// ModifyLoadBalancerAttributes: known keys only, at most 20 per call.
    pub fn modify_load_balancer_attributes(
        &mut self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        const OP: &str = "ModifyLoadBalancerAttributes";
        if attributes.len() > ATTRIBUTES_PER_CALL {
            return Err(invalid(
                OP,
                format!("At most {ATTRIBUTES_PER_CALL} attributes per call"),
            ));
        }
        if let Some(key) = attributes
            .keys()
            .find(|k| !ATTRIBUTE_DEFAULTS.iter().any(|(known, _)| known == k))
        {
            return Err(invalid(
                OP,
                format!("Load balancer attribute key '{key}' is not recognized"),
            ));
        }
        let current = self
            .load_balancer_settings
            .get_mut(arn)
            .ok_or_else(|| not_found(OP, "LoadBalancerNotFound", arn))?;
        current.attributes.extend(attributes.clone());
        Ok(())
    }

    // ---- CreateListener ---------------------------------------------------------------

    fn check_listener(
        &self,
        load_balancer_arn: &str,
        settings: &ListenerSettings,
    ) -> Result<(), AwsError> {
        const OP: &str = "CreateListener";
        if !self.load_balancers.contains_key(load_balancer_arn) {
            return Err(not_found(OP, "LoadBalancerNotFound", load_balancer_arn));
        }
        if !(1..=65535).contains(&settings.port) {
            return Err(invalid(
                OP,
                format!("Port {} is not between 1 and 65535", settings.port),
            ));
        }
        if !["HTTP", "HTTPS"].contains(&settings.protocol.as_str()) {
            return Err(error(
                ELB,
                OP,
                "UnsupportedProtocol",
                format!(
                    "Protocol '{}' is not supported by application load balancers",
                    settings.protocol
                ),
            ));
        }
        let listeners: Vec<&Listener> = self
            .listeners
            .values()
            .filter(|l| l.load_balancer_arn == load_balancer_arn)
            .collect();
        if listeners.iter().any(|l| l.port == Some(settings.port)) {
            return Err(error(
                ELB,
                OP,
                "DuplicateListener",
                format!("A listener already exists on port {}", settings.port),
            ));
        }
        if listeners.len() >= LISTENERS_PER_ALB {
            return Err(error(
                ELB,
                OP,
                "TooManyListeners",
                format!("Load balancer already has {LISTENERS_PER_ALB} listeners"),
            ));
        }
        if settings.default_actions.is_empty() {
            return Err(invalid(OP, "A listener needs a default action".into()));
        }
        self.check_default_certificate(settings)
    }

    /// HTTPS takes exactly one certificate at creation, an existing one.
    fn check_default_certificate(&self, settings: &ListenerSettings) -> Result<(), AwsError> {
        const OP: &str = "CreateListener";
        match (settings.protocol.as_str(), settings.certificates.as_slice()) {
            ("HTTPS", []) => Err(invalid(
                OP,
                "A certificate must be specified for HTTPS listeners".into(),
            )),
            ("HTTPS", [arn]) if !self.certificates.contains(arn) => Err(error(
                ELB,
                OP,
                "CertificateNotFound",
                format!("Certificate '{arn}' not found"),
            )),
            ("HTTPS", [_]) => Ok(()),
            ("HTTPS", _) => Err(invalid(
                OP,
                "You must provide exactly one certificate (the default)".into(),
            )),
            (_, []) => Ok(()),
            (_, _) => Err(invalid(
                OP,
                "Certificates are only allowed on HTTPS listeners".into(),
            )),
        }
    }

    /// CreateListener, with its default rule. `settings.certificates` holds the default
    /// certificate only (CreateListener takes exactly one).
    pub fn create_listener(
        &mut self,
        load_balancer_arn: &str,
        settings: &ListenerSettings,
        tags: &Tags,
    ) -> Result<Listener, AwsError> {
        self.check_listener(load_balancer_arn, settings)?;
        let forwards: Vec<String> = settings
            .default_actions
            .iter()
            .flat_map(|a| match a {
                DefaultAction::Forward { target_group_arns } => target_group_arns.clone(),
                _ => Vec::new(),
            })
            .collect();
        for tg in &forwards {
            self.check_forward("CreateListener", tg, load_balancer_arn)?;
        }
        let rest = load_balancer_arn
            .split(":loadbalancer/")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let arn = elb_arn("listener", &format!("{rest}/{}", self.id()));
        let listener = Listener {
            arn: arn.clone(),
            load_balancer_arn: load_balancer_arn.to_string(),
            port: Some(settings.port),
            protocol: Some(settings.protocol.clone()),
        };
        self.listeners.insert(arn.clone(), listener.clone());
        let ssl_policy = (settings.protocol == "HTTPS").then(|| {
            settings
                .ssl_policy
                .clone()
                .unwrap_or_else(|| DEFAULT_SSL_POLICY.into())
        });
        self.listener_settings.insert(
            arn.clone(),
            ListenerSettings {
                ssl_policy,
                ..settings.clone()
            },
        );
        self.elb_tags.insert(arn.clone(), tags.clone());
        let rule_arn = format!(
            "{}/{}",
            arn.replace(":listener/", ":listener-rule/"),
            self.id()
        );
        let other_actions = settings.default_actions.len() - usize::from(!forwards.is_empty());
        self.rules.insert(
            rule_arn.clone(),
            Rule {
                arn: rule_arn.into(),
                listener_arn: arn.into(),
                priority: None,
                hosts: vec![],
                paths: vec![],
                other_conditions: 0,
                forward_target_groups: forwards.into_iter().map(SharedStr::from).collect(),
                staged_target_groups: vec![],
                weights: Default::default(),
                other_actions,
                tags: Tags::new(),
            },
        );
        Ok(listener)
    }

    /// AddListenerCertificates: existing certificates, at most 25 besides the default per
    /// ALB.
    pub fn add_listener_certificates(
        &mut self,
        listener_arn: &str,
        certificates: &[String],
    ) -> Result<(), AwsError> {
        const OP: &str = "AddListenerCertificates";
        let load_balancer_arn = self
            .listeners
            .get(listener_arn)
            .map(|l| l.load_balancer_arn.clone())
            .ok_or_else(|| not_found(OP, "ListenerNotFound", listener_arn))?;
        if let Some(arn) = certificates
            .iter()
            .find(|c| !self.certificates.contains(*c))
        {
            return Err(error(
                ELB,
                OP,
                "CertificateNotFound",
                format!("Certificate '{arn}' not found"),
            ));
        }
        let on_alb: usize = self
            .listeners
            .values()
            .filter(|l| l.load_balancer_arn == load_balancer_arn)
            .filter_map(|l| self.listener_settings.get(&l.arn))
            .map(|s| s.certificates.len().saturating_sub(1))
            .sum();
        if on_alb + certificates.len() > CERTIFICATES_PER_ALB {
            return Err(error(
                ELB,
                OP,
                "TooManyCertificates",
                format!(
                    "A load balancer takes at most {CERTIFICATES_PER_ALB} certificates besides the default ones"
                ),
            ));
        }
        let settings = self
            .listener_settings
            .get_mut(listener_arn)
            .ok_or_else(|| not_found(OP, "ListenerNotFound", listener_arn))?;
        for c in certificates {
            if !settings.certificates.contains(c) {
                settings.certificates.push(c.clone());
            }
        }
        Ok(())
    }

    // ---- DeleteLoadBalancer -----------------------------------------------------------

    /// DeleteLoadBalancer: its listeners and their rules go with it; target groups stay,
    /// no longer used by it. Deleting an ALB that does not exist succeeds, as on AWS;
    /// deletion protection refuses.
    pub fn delete_load_balancer(&mut self, arn: &str) -> Result<(), AwsError> {
        let protected = self
            .load_balancer_settings
            .get(arn)
            .and_then(|s| s.attributes.get("deletion_protection.enabled"))
            .is_some_and(|v| v == "true");
        if protected {
            return Err(error(
                ELB,
                "DeleteLoadBalancer",
                "OperationNotPermitted",
                format!(
                    "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
                ),
            ));
        }
        let listeners: Vec<String> = self
            .listeners
            .values()
            .filter(|l| l.load_balancer_arn == arn)
            .map(|l| l.arn.clone())
            .collect();
        for listener in listeners {
            self.delete_listener(&listener);
        }
        self.load_balancers.remove(arn);
        self.load_balancer_settings.remove(arn);
        self.elb_tags.remove(arn);
        Ok(())
    }
}
