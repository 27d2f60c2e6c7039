//! Thin adapters between the AWS SDK and the controller's plain types.
//!
//! Each trait is the smallest surface the controller needs of one AWS service. Adapters
//! hide paging, map SDK types to [`crate::state`] and SDK errors to [`AwsError`]; they make
//! no decisions. The in-memory fake ([`crate::fake`]) implements the same traits.

pub(crate) mod acm;
pub(crate) mod call;
pub mod clients;
pub mod clock;
pub(crate) mod cloudmap;
pub(crate) mod ec2;
pub(crate) mod ecs;
pub(crate) mod elb;
pub(crate) mod error;
pub(crate) mod operations;
pub(crate) mod ratelimit;
pub(crate) mod route53;
pub(crate) mod sqs;
pub mod sts;
pub(crate) mod tagging;
pub(crate) mod throttle;
pub mod zone_roles;

use async_trait::async_trait;

pub use call::WriteGate;
pub use error::{AwsError, ErrorKind};
pub use operations::OPERATIONS;

use crate::state::{
    AcmCertificate, CertificateStatus, CloudMapInstance, CloudMapNamespace, CloudMapService,
    CloudMapServiceSpec, DeploymentSettings, EcsService, EcsTask, HealthCheck, HostedZone,
    Listener, ListenerCertificates, ListenerSettings, LoadBalancer, LoadBalancerAttachment,
    LoadBalancerSettings, RecordChange, RecordSet, Rule, RuleSpec, SecurityGroupRule, Tags, Target,
    TargetGroup, TargetGroupAttributes, TargetGroupSpec, TargetHealth, TaskDefinition,
};

/// DescribeServices takes at most this many services per call.
pub(crate) const DESCRIBE_SERVICES_BATCH: usize = 10;
/// DescribeTasks takes at most this many tasks per call.
pub(crate) const DESCRIBE_TASKS_BATCH: usize = 100;
/// Target groups asked for by ARN in one DescribeTargetGroups call (a page's worth is
/// 400; a targeted pass asks for a service's few).
pub const DESCRIBE_TARGET_GROUPS_BATCH: usize = 20;
/// ELBv2 DescribeTags takes at most this many ARNs per call.
pub(crate) const DESCRIBE_TAGS_BATCH: usize = 20;
/// Route 53 change batch limits: records (an UPSERT counts twice) and characters.
pub(crate) const ROUTE53_BATCH_RECORDS: usize = 1000;
pub(crate) const ROUTE53_BATCH_CHARS: usize = 32_000;

/// The ECS calls ecs-ingress makes.
#[async_trait]
pub trait EcsApi: Send + Sync {
    /// Every service ARN of a cluster (all pages).
    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError>;
    /// Services with their tags; at most [`DESCRIBE_SERVICES_BATCH`] ARNs.
    async fn describe_services(
        &self,
        cluster: &str,
        service_arns: &[String],
    ) -> Result<Vec<EcsService>, AwsError>;
    /// A task definition revision with its tags.
    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError>;
    /// Task ARNs of a service (all pages, desired status RUNNING).
    async fn list_tasks(&self, cluster: &str, service_name: &str) -> Result<Vec<String>, AwsError>;
    /// At most [`DESCRIBE_TASKS_BATCH`] tasks.
    async fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<EcsTask>, AwsError>;
    /// Replaces a service's `loadBalancers` (starts a deployment), unless `None`; with
    /// `deployment`, sets those `deploymentConfiguration` fields in the same call and keeps
    /// the others as they are.
    async fn update_service_load_balancers(
        &self,
        cluster: &str,
        service: &str,
        load_balancers: Option<&[LoadBalancerAttachment]>,
        deployment: Option<&DeploymentSettings>,
    ) -> Result<(), AwsError>;
}

/// The ELBv2 calls ecs-ingress makes.
#[async_trait]
pub trait ElbApi: Send + Sync {
    async fn describe_listeners(&self, arns: &[String]) -> Result<Vec<Listener>, AwsError>;
    async fn describe_load_balancers(&self, arns: &[String])
    -> Result<Vec<LoadBalancer>, AwsError>;
    /// Every rule of a listener (all pages), without tags.
    async fn describe_rules(&self, listener_arn: &str) -> Result<Vec<Rule>, AwsError>;
    /// Every target group of the account and region (all pages), without tags or attributes.
    async fn describe_target_groups(&self) -> Result<Vec<TargetGroup>, AwsError>;
    /// The target groups of `arns` (at most [`DESCRIBE_TARGET_GROUPS_BATCH`]), without tags
    /// or attributes. Fails as a whole (`TargetGroupNotFound`) when one does not exist.
    async fn describe_target_groups_by_arn(
        &self,
        arns: &[String],
    ) -> Result<Vec<TargetGroup>, AwsError>;
    /// Tags of at most [`DESCRIBE_TAGS_BATCH`] resources, by ARN.
    async fn describe_tags(&self, arns: &[String]) -> Result<Vec<(String, Tags)>, AwsError>;
    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> Result<TargetGroupAttributes, AwsError>;
    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealth>, AwsError>;
    /// Every listener of one load balancer (all pages): the rule quota counts them all.
    async fn describe_load_balancer_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Result<Vec<Listener>, AwsError>;
    /// The account's ELB quotas by name (`rules-per-application-load-balancer`, ...).
    async fn describe_account_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, AwsError>;
    /// Creates a target group with its tags; returns its ARN.
    async fn create_target_group(&self, spec: &TargetGroupSpec) -> Result<String, AwsError>;
    async fn modify_target_group(
        &self,
        arn: &str,
        health_check: &HealthCheck,
    ) -> Result<(), AwsError>;
    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &TargetGroupAttributes,
    ) -> Result<(), AwsError>;
    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError>;
    /// Creates a forwarding rule with its tags; returns its ARN.
    async fn create_rule(&self, spec: &RuleSpec) -> Result<String, AwsError>;
    /// Rewrites a rule's conditions and forward action in place; `staged` joins the forward
    /// action at weight 0.
    async fn modify_rule(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        target_group_arn: &str,
        staged: Option<&str>,
    ) -> Result<(), AwsError>;
    /// Rewrites a rule's conditions and its forward action: these groups with these weights
    /// (a ForwardConfig; `alb.weight`).
    async fn modify_rule_weighted(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        weights: &[(String, u32)],
    ) -> Result<(), AwsError>;
    /// Rewrites a rule's conditions only: its action, and the weights in it, stay.
    async fn modify_rule_conditions(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
    ) -> Result<(), AwsError>;
    /// Moves rules in one call.
    async fn set_rule_priorities(&self, priorities: &[(String, u32)]) -> Result<(), AwsError>;
    async fn delete_rule(&self, arn: &str) -> Result<(), AwsError>;
    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError>;
    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError>;

    // ---- ALBs of a pool that grows ----------------------------------------------------

    /// Every load balancer of the account and region (all pages): the account's ALB count
    /// and the pool's own ALBs.
    async fn describe_all_load_balancers(&self) -> Result<Vec<LoadBalancer>, AwsError>;
    /// Scheme, subnets, security groups, IP address type and attributes of one ALB.
    async fn describe_load_balancer_settings(
        &self,
        arn: &str,
    ) -> Result<LoadBalancerSettings, AwsError>;
    /// Port, protocol, default actions, certificates (DescribeListenerCertificates for more
    /// than the default) and SSL policy of one listener.
    async fn describe_listener_settings(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerSettings, AwsError>;
    /// CreateLoadBalancer (type application) with `tags`, then ModifyLoadBalancerAttributes
    /// for the attributes that differ from a new ALB's defaults. Returns the new ALB.
    ///
    /// AWS answers a repeated CreateLoadBalancer with the same name and settings with the
    /// existing ALB, so a call that failed after the create (at the attributes) can be
    /// repeated as it is.
    async fn create_load_balancer(
        &self,
        name: &str,
        settings: &LoadBalancerSettings,
        tags: &Tags,
    ) -> Result<LoadBalancer, AwsError>;
    /// CreateListener with `tags`. A `Forward` or `Other` default action is refused before
    /// any call, with [`UNCOPYABLE_DEFAULT_ACTION`] as the error's code. Returns the listener.
    async fn create_listener(
        &self,
        load_balancer_arn: &str,
        settings: &ListenerSettings,
        tags: &Tags,
    ) -> Result<Listener, AwsError>;
    /// DeleteLoadBalancer (AWS deletes its listeners and rules with it).
    async fn delete_load_balancer(&self, arn: &str) -> Result<(), AwsError>;
    /// An HTTPS listener's default certificate and SNI list (all pages).
    async fn describe_listener_certificates(
        &self,
        listener_arn: &str,
    ) -> Result<ListenerCertificates, AwsError>;
    /// Adds one certificate to a listener's SNI list.
    async fn add_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError>;
    /// Removes one certificate from a listener's SNI list.
    async fn remove_listener_certificate(
        &self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError>;
    /// AddTags on one ELB resource.
    async fn add_tags(&self, arn: &str, tags: &Tags) -> Result<(), AwsError>;
    /// RemoveTags on one ELB resource.
    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), AwsError>;
}

/// The error code of a CreateListener refused before any call: its default action forwards
/// to target groups (which belong to one ALB) or is of a kind ecs-ingress does not copy.
pub const UNCOPYABLE_DEFAULT_ACTION: &str = "UncopyableDefaultAction";

/// The refusal of a listener whose default actions cannot be copied to another ALB, if any.
pub(crate) fn uncopyable_default_action(
    service: &'static str,
    settings: &ListenerSettings,
) -> Option<AwsError> {
    use crate::state::DefaultAction;
    let why = settings.default_actions.iter().find_map(|a| match a {
        DefaultAction::Forward { target_group_arns } => Some(format!(
            "cannot copy a forward default action to another load balancer: its target groups ({}) belong to one load balancer",
            target_group_arns.join(", ")
        )),
        DefaultAction::Other { kind } => Some(format!(
            "cannot copy a {kind} default action to another load balancer"
        )),
        DefaultAction::FixedResponse { .. } | DefaultAction::Redirect { .. } => None,
    })?;
    let mut e = AwsError::new(
        service,
        "CreateListener",
        ErrorKind::Validation,
        format!("listener on port {}: {why}", settings.port),
    );
    e.code = Some(UNCOPYABLE_DEFAULT_ACTION.into());
    Some(e)
}

/// The Route 53 calls ecs-ingress makes.
#[async_trait]
pub trait Route53Api: Send + Sync {
    /// A zone's name (names never change: callers cache it).
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, AwsError>;
    /// Every record set of a zone (all pages, following NextRecordName/NextRecordType).
    async fn list_record_sets(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError>;
    /// One page of at most `max_items` record sets from `start_name` on (Route 53's order:
    /// the records of `start_name` come first).
    async fn list_record_sets_from(
        &self,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<RecordPage, AwsError>;
    /// One change batch (atomic on AWS). The caller keeps it within Route 53's limits.
    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError>;
}

/// One page of ListResourceRecordSets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPage {
    pub records: Vec<RecordSet>,
    /// More records follow the page.
    pub truncated: bool,
}

/// The Cloud Map (service discovery) calls ecs-ingress makes.
#[async_trait]
pub trait CloudMapApi: Send + Sync {
    /// Every namespace of the account and region (all pages).
    async fn list_namespaces(&self) -> Result<Vec<CloudMapNamespace>, AwsError>;
    /// Every service of one namespace (all pages).
    async fn list_services(&self, namespace_id: &str) -> Result<Vec<CloudMapService>, AwsError>;
    /// Every instance of one service (all pages).
    async fn list_instances(&self, service_id: &str) -> Result<Vec<CloudMapInstance>, AwsError>;
    /// Creates a service with its tags; returns it.
    async fn create_service(&self, spec: &CloudMapServiceSpec)
    -> Result<CloudMapService, AwsError>;
    /// Tags of a service, by ARN.
    async fn list_tags(&self, arn: &str) -> Result<Tags, AwsError>;
    /// Creates or replaces an instance (asynchronous on AWS: it shows up shortly after).
    async fn register_instance(
        &self,
        service_id: &str,
        instance_id: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError>;
    async fn deregister_instance(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> Result<(), AwsError>;
    /// Fails with `ResourceInUse` while the service still has instances.
    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError>;
}

/// The Resource Groups Tagging API. Eventually consistent: a tag change can take a while to
/// show, so callers confirm with the resource's own API before acting on a difference.
#[async_trait]
pub trait TaggingApi: Send + Sync {
    /// ARNs and tags of every resource of `resource_types` (e.g. `ecs:task-definition`),
    /// optionally only those carrying tag `key=value` (all pages).
    async fn get_resources(
        &self,
        resource_types: &[&str],
        tag: Option<(&str, &str)>,
    ) -> Result<Vec<(String, Tags)>, AwsError>;
}

/// The ACM calls ecs-ingress makes (`--listener-certificates`).
#[async_trait]
pub trait AcmApi: Send + Sync {
    /// Every certificate of the region, of every key type (ACM lists only RSA_1024 and
    /// RSA_2048 ones unless asked for the others) and status: ARN and status (all pages).
    async fn list_certificates(&self) -> Result<Vec<(String, CertificateStatus)>, AwsError>;
    /// One certificate with its names (ListCertificates' summaries may leave SANs out).
    async fn describe_certificate(&self, arn: &str) -> Result<AcmCertificate, AwsError>;
}

/// Security-group ids in one DescribeSecurityGroupRules filter: EC2 takes at most 200
/// filter values in a call.
pub(crate) const SECURITY_GROUP_FILTER_VALUES: usize = 200;

/// The EC2 calls ecs-ingress makes (`--backend-sg-rules`).
#[async_trait]
pub trait Ec2Api: Send + Sync {
    /// Every inbound rule of `group_ids` (all pages), with its tags. More groups than one
    /// filter takes ([`SECURITY_GROUP_FILTER_VALUES`]) are read without a filter, every rule
    /// of the region page by page, and the rest dropped: fewer calls than one filtered
    /// read per 200 groups.
    async fn describe_ingress_rules(
        &self,
        group_ids: &[String],
    ) -> Result<Vec<SecurityGroupRule>, AwsError>;
    /// Every inbound rule tagged `ecs-ingress/owner` = `owner`, whatever its group (all
    /// pages): the rules of ours on groups no service has any more, read on the refresh
    /// pass so that they are revoked too.
    async fn describe_owned_ingress_rules(
        &self,
        owner: &str,
    ) -> Result<Vec<SecurityGroupRule>, AwsError>;
    /// Lets `source_group_id` reach tcp `port` of `group_id`, the rule created with `tags`;
    /// returns its id. `InvalidPermission.Duplicate` is [`ErrorKind::Duplicate`].
    async fn authorize_ingress(
        &self,
        group_id: &str,
        source_group_id: &str,
        port: u16,
        tags: &Tags,
    ) -> Result<String, AwsError>;
    /// Revokes one rule of `group_id` by its id.
    async fn revoke_ingress(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError>;
}

/// A received message: its receipt handle (to delete it) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub receipt: String,
    pub body: String,
}

/// The queue calls ecs-ingress makes.
#[async_trait]
pub trait QueueApi: Send + Sync {
    /// Long-polls for up to 10 messages (returns empty after the poll times out).
    async fn receive(&self) -> Result<Vec<Message>, AwsError>;
    /// Deletes up to 10 messages by receipt handle.
    async fn delete(&self, receipts: &[String]) -> Result<(), AwsError>;
}

/// Every adapter the controller uses, as trait objects so the real and fake AWS swap freely.
#[derive(Clone)]
pub struct Aws {
    pub ecs: std::sync::Arc<dyn EcsApi>,
    pub elb: std::sync::Arc<dyn ElbApi>,
    pub route53: std::sync::Arc<dyn Route53Api>,
    pub cloudmap: std::sync::Arc<dyn CloudMapApi>,
    pub tagging: std::sync::Arc<dyn TaggingApi>,
    pub ec2: std::sync::Arc<dyn Ec2Api>,
    pub acm: std::sync::Arc<dyn AcmApi>,
    /// AWS's clock, learned from the answers of these adapters: every time compared
    /// across replicas is read from it.
    pub clock: std::sync::Arc<clock::AwsClock>,
}
