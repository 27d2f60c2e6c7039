//! Every AWS operation the adapters call, by service: a leaf the metrics use to create
//! their series before the first call, kept equal to the adapters by `tests/iam_policy.rs`.

/// Every operation the adapters call, by the `service` label of their metrics. Metrics
/// create their per-operation series from it at zero; `tests/iam_policy.rs` checks that it
/// lists exactly the operations in the adapters' source.
pub const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "ecs",
        &[
            "ListServices",
            "DescribeServices",
            "DescribeTaskDefinition",
            "ListTasks",
            "DescribeTasks",
            "UpdateService",
        ],
    ),
    (
        "elbv2",
        &[
            "DescribeAccountLimits",
            "DescribeListeners",
            "DescribeLoadBalancers",
            "DescribeRules",
            "DescribeTargetGroups",
            "DescribeTags",
            "DescribeTargetGroupAttributes",
            "DescribeTargetHealth",
            "CreateTargetGroup",
            "ModifyTargetGroup",
            "ModifyTargetGroupAttributes",
            "DeleteTargetGroup",
            "CreateRule",
            "ModifyRule",
            "SetRulePriorities",
            "DeleteRule",
            "RegisterTargets",
            "DeregisterTargets",
            // A pool that grows: clone an ALB and its listener, delete it when empty.
            "DescribeLoadBalancerAttributes",
            "DescribeListenerCertificates",
            "CreateLoadBalancer",
            "ModifyLoadBalancerAttributes",
            "CreateListener",
            "AddListenerCertificates",
            "DeleteLoadBalancer",
            // Certificates per host on HTTPS listeners, recorded on the listener's tags.
            "RemoveListenerCertificates",
            "AddTags",
            "RemoveTags",
        ],
    ),
    ("acm", &["ListCertificates", "DescribeCertificate"]),
    (
        "ec2",
        &[
            "DescribeSecurityGroupRules",
            "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupIngress",
        ],
    ),
    (
        "route53",
        &[
            "GetHostedZone",
            "ListResourceRecordSets",
            "ChangeResourceRecordSets",
        ],
    ),
    (
        "servicediscovery",
        &[
            "ListNamespaces",
            "ListServices",
            "ListInstances",
            "ListTagsForResource",
            "CreateService",
            "RegisterInstance",
            "DeregisterInstance",
            "DeleteService",
        ],
    ),
    ("sqs", &["ReceiveMessage", "DeleteMessageBatch"]),
    // The leader lease (src/lease/dynamodb.rs), only with --leader-election-table.
    (
        "dynamodb",
        &["GetItem", "PutItem", "UpdateItem", "DeleteItem"],
    ),
    ("tagging", &["GetResources"]),
    // Roles of other accounts' hosted zones (src/aws/sts.rs), only with --zone-role.
    ("sts", &["AssumeRole"]),
];
