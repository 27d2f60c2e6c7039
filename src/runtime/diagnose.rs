//! One line that says what is wrong with a pass's failed reads and how to fix it. Start-up
//! mistakes (no credentials, a wrong listener ARN or zone id, no route to AWS) fail every
//! read of a pass; a person needs the cause, not a list of failed calls.

use crate::aws::{AwsError, ErrorKind};

/// The most telling explanation for `failures`, or `None` when there are none.
pub(crate) fn summarize(failures: &[AwsError]) -> Option<String> {
    let first = failures.first()?;
    let find = |pred: &dyn Fn(&AwsError) -> bool| failures.iter().find(|e| pred(e));
    if let Some(e) =
        find(&|e| e.kind == ErrorKind::AccessDenied && e.message.contains("credential"))
    {
        return Some(format!(
            "{}. Give ecs-ingress credentials through the standard chain: the ECS task role, the \
             EKS service-account role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            e.message
        ));
    }
    if let Some(e) = find(&|e| e.service == "sts" && e.kind == ErrorKind::AccessDenied) {
        return Some(format!(
            "{}. The role's trust policy must let the role ecs-ingress runs as assume it \
             (with --zone-role-external-id if it asks for an ExternalId), and ecs-ingress's own \
             policy must allow sts:AssumeRole on it; only that zone's services wait",
            e.message
        ));
    }
    if let Some(e) = find(&|e| e.kind == ErrorKind::AccessDenied) {
        return Some(format!(
            "AWS refused {} {} (access denied). Grant the role ecs-ingress runs as the \
             permissions in deploy/iam-policy.json",
            e.service, e.operation
        ));
    }
    if let Some(e) = find(&|e| e.kind == ErrorKind::NotFound && e.operation == "DescribeListeners")
    {
        return Some(format!(
            "a --listener ARN does not exist in this account and region ({}). Check --listener \
             and AWS_REGION",
            e.message
        ));
    }
    if let Some(e) = find(&|e| {
        e.kind == ErrorKind::NotFound
            && matches!(e.operation, "GetHostedZone" | "ListResourceRecordSets")
    }) {
        return Some(format!(
            "a --hosted-zone does not exist or is not visible to these credentials ({}). Check \
             the zone id (like Z0123456789ABCDEFGHIJ)",
            e.message
        ));
    }
    if let Some(e) = find(&|e| e.kind == ErrorKind::NotFound && e.service == "ecs") {
        return Some(format!(
            "a --cluster does not exist in this account and region ({}). Check --cluster and \
             AWS_REGION",
            e.message
        ));
    }
    if let Some(e) = find(&|e| e.message.to_ascii_lowercase().contains("missing region")) {
        return Some(format!(
            "no AWS region is configured ({} {}: {}). Set AWS_REGION (ECS and EKS set it for \
             the task or pod; elsewhere export it, or give the profile a region)",
            e.service, e.operation, e.message
        ));
    }
    if failures.iter().all(|e| e.kind == ErrorKind::Unavailable) {
        return Some(format!(
            "cannot reach AWS ({} {}: {}). Check the network path to the AWS APIs (NAT gateway \
             or VPC endpoints), AWS_REGION, and AWS_ENDPOINT_URL if it is set",
            first.service, first.operation, first.message
        ));
    }
    if let Some(e) = find(&|e| e.kind == ErrorKind::Throttled) {
        return Some(format!(
            "AWS throttled {} {}; the next pass retries. If this persists, lower --rate-share \
             or find what else uses the account's rate buckets",
            e.service, e.operation
        ));
    }
    Some(format!(
        "{} read(s) failed, first: {first}. Nothing is deleted while reads fail",
        failures.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(service: &'static str, operation: &'static str, kind: ErrorKind, msg: &str) -> AwsError {
        AwsError::new(service, operation, kind, msg)
    }

    #[test]
    fn each_start_up_mistake_gets_its_own_advice() {
        let unreachable = err(
            "ecs",
            "ListServices",
            ErrorKind::Unavailable,
            "could not reach the endpoint: connection refused",
        );
        let cases: Vec<(Vec<AwsError>, &str)> = vec![
            (
                vec![
                    unreachable.clone(),
                    err(
                        "elbv2",
                        "DescribeListeners",
                        ErrorKind::AccessDenied,
                        "no usable AWS credentials: no credentials found in chain",
                    ),
                ],
                "standard chain",
            ),
            (
                vec![err(
                    "ecs",
                    "ListServices",
                    ErrorKind::Unavailable,
                    "could not reach the endpoint: dispatch failure: other: Invalid Configuration: Missing Region",
                )],
                "no AWS region is configured",
            ),
            (
                vec![err(
                    "sts",
                    "AssumeRole",
                    ErrorKind::AccessDenied,
                    "cannot assume role arn:aws:iam::222222222222:role/dns for hosted zone Z1: not authorized",
                )],
                "trust policy must let the role ecs-ingress runs as assume it",
            ),
            (
                vec![err(
                    "elbv2",
                    "DescribeRules",
                    ErrorKind::AccessDenied,
                    "User is not authorized",
                )],
                "AWS refused elbv2 DescribeRules (access denied)",
            ),
            (
                vec![err(
                    "elbv2",
                    "DescribeListeners",
                    ErrorKind::NotFound,
                    "One or more listeners not found",
                )],
                "a --listener ARN does not exist",
            ),
            (
                vec![err(
                    "route53",
                    "GetHostedZone",
                    ErrorKind::NotFound,
                    "No hosted zone found with ID: Z1",
                )],
                "a --hosted-zone does not exist",
            ),
            (
                vec![err(
                    "ecs",
                    "ListServices",
                    ErrorKind::NotFound,
                    "Cluster not found.",
                )],
                "a --cluster does not exist",
            ),
            (
                vec![unreachable.clone(), unreachable],
                "cannot reach AWS (ecs ListServices",
            ),
            (
                vec![err(
                    "elbv2",
                    "DescribeRules",
                    ErrorKind::Throttled,
                    "Rate exceeded",
                )],
                "lower --rate-share",
            ),
            (
                vec![err("elbv2", "DescribeRules", ErrorKind::Other, "boom")],
                "1 read(s) failed, first: elbv2 DescribeRules failed (error): boom",
            ),
        ];
        for (failures, want) in cases {
            let got = summarize(&failures).expect("a summary");
            assert!(got.contains(want), "{got:?} should contain {want:?}");
            assert!(!got.contains('\n'), "one line: {got:?}");
        }
        assert_eq!(summarize(&[]), None);
    }
}
