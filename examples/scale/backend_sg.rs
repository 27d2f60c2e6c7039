//! Backend security-group rules at scale: every service's tasks in a security group of its
//! own (the worst case for reads: no two services share a group), `--backend-sg-rules on`.
//! What a steady pass reads beyond the estate without groups, against one
//! DescribeSecurityGroupRules page (1000) per 1000 rules.

use ecs_ingress::testing::{Estate, listener_name};

use super::{PER_ALB, converge};

pub struct BackendSgResult {
    /// DescribeSecurityGroupRules calls of one steady pass: the only reads the feature adds.
    pub steady_extra_reads: usize,
    /// Rules a read of every group of the account lists (inbound, plus the default outbound
    /// rule of each group), and the pages of 1000 they fill.
    pub rules: usize,
    pub extra_reads_floor: usize,
    pub steady_writes: usize,
    /// The ALB side of the cold start (virtual seconds): the EC2 writes have buckets of
    /// their own, so it should equal the estate's without groups.
    pub cold_start_alb_s: f64,
    /// Rules created: one per service.
    pub rules_created: usize,
}

pub async fn run(n: usize) -> BackendSgResult {
    let albs = n.div_ceil(PER_ALB) + 1;
    let estate = Estate::new(albs);
    estate.fake.enforce_rate_limits();
    for i in 0..n {
        let host = format!("s{i}.in.example.com");
        let listener = listener_name(i / PER_ALB);
        let arn = estate.add_service(
            &format!("s{i}"),
            &[
                ("alb.host", host.as_str()),
                ("alb.listener", listener.as_str()),
            ],
            &[],
        );
        let group = estate.add_security_group();
        estate.set_security_groups(&arn, &[group]);
    }
    let controller = estate.controller();
    let started = tokio::time::Instant::now();
    let (_, _, alb_done_at) = converge(&estate, &controller).await;
    estate.fake.reset_calls();
    controller.pass(true).await;
    let steady_extra_reads = estate
        .fake
        .calls()
        .iter()
        .filter(|c| c.operation == "DescribeSecurityGroupRules")
        .count();
    let steady_writes = estate.fake.writes();
    let world = estate.fake.world();
    let rules = world.ingress_rules.len() + world.security_groups.len();
    BackendSgResult {
        steady_extra_reads,
        rules,
        extra_reads_floor: rules.div_ceil(1000).max(1),
        steady_writes,
        cold_start_alb_s: alb_done_at.duration_since(started).as_secs_f64(),
        rules_created: world.ingress_rules.len(),
    }
}
