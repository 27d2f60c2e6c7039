//! The shipped IAM policies allow exactly what the code calls.
//!
//! The operations come from the adapters' source (every AWS call goes through
//! `CallContext::call` with a literal operation name), so a new call without a policy
//! update, or a policy action nothing calls any more, fails here.

use std::collections::BTreeSet;

/// Adapter source file → IAM service prefix.
const ADAPTERS: &[(&str, &str)] = &[
    ("src/aws/ecs.rs", "ecs"),
    ("src/aws/ec2.rs", "ec2"),
    ("src/aws/acm.rs", "acm"),
    ("src/aws/elb.rs", "elasticloadbalancing"),
    ("src/aws/route53.rs", "route53"),
    ("src/aws/cloudmap.rs", "servicediscovery"),
    ("src/aws/sqs.rs", "sqs"),
    ("src/aws/tagging.rs", "tag"),
    ("src/lease/dynamodb.rs", "dynamodb"),
    ("src/aws/sts.rs", "sts"),
];

/// Permissions the code needs without calling an operation of that name, and why.
const IMPLIED: &[(&str, &str)] = &[
    (
        "elasticloadbalancing:AddTags",
        "CreateTargetGroup, CreateRule, CreateLoadBalancer and CreateListener pass tags",
    ),
    ("servicediscovery:TagResource", "CreateService passes tags"),
    (
        "ec2:CreateTags",
        "AuthorizeSecurityGroupIngress tags the rule it creates (TagSpecifications)",
    ),
    (
        "iam:PassRole",
        "UpdateService passes the ECS infrastructure role (advancedConfiguration.roleArn)",
    ),
    (
        "route53:GetHealthCheck",
        "Cloud Map (Re/De)RegisterInstance in services with health checks",
    ),
    ("route53:CreateHealthCheck", "same"),
    ("route53:UpdateHealthCheck", "same"),
    ("route53:DeleteHealthCheck", "same"),
];

const OWNER_REQUEST_TAG: &str = "aws:RequestTag/ecs-ingress/owner";
const OWNER_RESOURCE_TAG: &str = "aws:ResourceTag/ecs-ingress/owner";

/// Actions that create owned resources: the request must carry the owner tag.
const CREATES: &[&str] = &[
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:AddTags",
    "servicediscovery:CreateService",
    "servicediscovery:TagResource",
];

/// Actions that change or delete owned resources: the resource must carry the owner tag.
const OWNED_CHANGES: &[&str] = &[
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:AddListenerCertificates",
    "servicediscovery:DeleteService",
];

/// IAM service prefixes of the actions the policies must allow: the adapters', and those of
/// implied permissions (`iam:PassRole`).
fn action_prefixes() -> Vec<&'static str> {
    let mut out: Vec<&str> = ADAPTERS.iter().map(|(_, p)| *p).collect();
    out.extend(IMPLIED.iter().filter_map(|(a, _)| a.split(':').next()));
    out.sort();
    out.dedup();
    out
}

/// IAM action for an API operation whose permission has another name.
fn iam_action(prefix: &str, operation: &str) -> String {
    let operation = match (prefix, operation) {
        ("sqs", "DeleteMessageBatch") => "DeleteMessage",
        (_, op) => op,
    };
    format!("{prefix}:{operation}")
}

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Operation names in one adapter: `.call(SERVICE, "Op"`, `send!(self, "Op"`,
/// `.all_pages(SERVICE, "Op"` and `paged!(self, "Op"` (paginated reads) and
/// `const OP: &str = "Op"`.
fn operations(source: &str) -> BTreeSet<String> {
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = BTreeSet::new();
    for marker in [
        ".call(SERVICE,\"",
        "send!(self,\"",
        ".all_pages(SERVICE,\"",
        "paged!(self,\"",
        "constOP:&str=\"",
    ] {
        for (at, _) in compact.match_indices(marker) {
            let rest = &compact[at + marker.len()..];
            if let Some(end) = rest.find('"') {
                out.insert(rest[..end].to_string());
            }
        }
    }
    out
}

fn expected() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (file, prefix) in ADAPTERS {
        let ops = operations(&read(file));
        assert!(!ops.is_empty(), "no operations found in {file}");
        out.extend(ops.iter().map(|op| iam_action(prefix, op)));
    }
    out.extend(IMPLIED.iter().map(|(a, _)| a.to_string()));
    out
}

fn diff(label: &str, allowed: &BTreeSet<String>, wanted: &BTreeSet<String>) {
    let missing: Vec<_> = wanted.difference(allowed).collect();
    let unused: Vec<_> = allowed.difference(wanted).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "{label}: not allowed but called: {missing:?}; allowed but never called: {unused:?}"
    );
}

#[test]
fn the_scanner_finds_every_call_style() {
    let ops = operations(
        r#"self.ctx.call(SERVICE, "ListServices", async {}); send!(
            self,
            "DescribeRules", x); const OP: &str = "GetHostedZone";
            self.ctx.all_pages(SERVICE, "ListTasks", pages, |p| p.next_token());
            paged!(self, "ListNamespaces", request, |p| p.next_token())"#,
    );
    assert_eq!(
        ops.into_iter().collect::<Vec<_>>(),
        vec![
            "DescribeRules",
            "GetHostedZone",
            "ListNamespaces",
            "ListServices",
            "ListTasks"
        ]
    );
    // A sample of what the real adapters call, so a change of call style cannot empty
    // the list unnoticed.
    let all = expected();
    for known in [
        "ecs:UpdateService",
        "elasticloadbalancing:SetRulePriorities",
        "route53:ChangeResourceRecordSets",
        "servicediscovery:RegisterInstance",
        "sqs:ReceiveMessage",
    ] {
        assert!(all.contains(known), "{known} missing from {all:?}");
    }
}

#[test]
fn iam_policy_json_allows_exactly_what_the_code_calls() {
    let policy: serde_json::Value =
        serde_json::from_str(&read("deploy/iam-policy.json")).expect("valid JSON");
    let mut allowed = BTreeSet::new();
    let statements = policy["Statement"].as_array().expect("statements");
    for s in statements {
        assert_eq!(s["Effect"], "Allow");
        let actions: Vec<String> = match &s["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            other => panic!("Action {other}"),
        };
        // `*` only where AWS offers no resource to scope to: reads, health checks Cloud Map
        // creates with ids not known in advance, and Cloud Map's TagResource (limited to
        // the owner tag by its condition).
        if s["Resource"] == "*" && s["Condition"]["StringEquals"][OWNER_REQUEST_TAG] != "OWNER_ID" {
            for a in &actions {
                let op = a.split(':').nth(1).unwrap_or_default();
                let read_only = ["Describe", "List", "Get"]
                    .iter()
                    .any(|p| op.starts_with(p));
                assert!(
                    read_only || a.ends_with("HealthCheck"),
                    "{a} is allowed on every resource; scope it"
                );
            }
        }
        allowed.extend(actions);
    }
    diff("deploy/iam-policy.json", &allowed, &expected());
}

#[test]
fn cloudformation_task_role_allows_exactly_what_the_code_calls() {
    let template = read("deploy/cloudformation/ecs-ingress.yaml");
    let begin = template
        .find("# BEGIN ecs-ingress task role actions")
        .expect("BEGIN marker");
    let end = template
        .find("# END ecs-ingress task role actions")
        .expect("END marker");
    let section = &template[begin..end];
    let prefixes = action_prefixes();
    let allowed: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|item| {
            item.split_once(':').is_some_and(|(p, op)| {
                prefixes.contains(&p)
                    && !op.is_empty()
                    && op.chars().all(|c| c.is_ascii_alphanumeric())
            })
        })
        .map(str::to_string)
        .collect();
    diff("ecs-ingress.yaml task role", &allowed, &expected());
}

#[test]
fn the_metrics_operation_list_is_what_the_adapters_call() {
    // Adapter source file → the `service` label its calls are counted under.
    let labels = [
        ("src/aws/ecs.rs", "ecs"),
        ("src/aws/ec2.rs", "ec2"),
        ("src/aws/acm.rs", "acm"),
        ("src/aws/elb.rs", "elbv2"),
        ("src/aws/route53.rs", "route53"),
        ("src/aws/cloudmap.rs", "servicediscovery"),
        ("src/aws/sqs.rs", "sqs"),
        ("src/aws/tagging.rs", "tagging"),
        ("src/lease/dynamodb.rs", "dynamodb"),
        ("src/aws/sts.rs", "sts"),
    ];
    let mut called = BTreeSet::new();
    for (file, label) in labels {
        let source = read(file);
        assert!(
            source.contains(&format!("const SERVICE: &str = \"{label}\";")),
            "{file} does not label its calls {label}"
        );
        called.extend(
            operations(&source)
                .into_iter()
                .map(|op| format!("{label}:{op}")),
        );
    }
    let listed: BTreeSet<String> = ecs_ingress::aws::OPERATIONS
        .iter()
        .flat_map(|(service, ops)| ops.iter().map(move |op| format!("{service}:{op}")))
        .collect();
    diff("ecs_ingress::aws::OPERATIONS", &listed, &called);
}

/// One statement, as far as these tests compare them: its actions and condition keys.
#[derive(Debug, PartialEq, Default)]
struct Statement {
    actions: BTreeSet<String>,
    condition_keys: BTreeSet<String>,
}

fn json_statements() -> std::collections::BTreeMap<String, (Statement, serde_json::Value)> {
    let policy: serde_json::Value =
        serde_json::from_str(&read("deploy/iam-policy.json")).expect("valid JSON");
    let mut out = std::collections::BTreeMap::new();
    for s in policy["Statement"].as_array().expect("statements") {
        let actions = match &s["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            other => panic!("Action {other}"),
        };
        let mut condition_keys = BTreeSet::new();
        if let Some(conditions) = s["Condition"].as_object() {
            for keys in conditions.values() {
                condition_keys.extend(keys.as_object().expect("condition").keys().cloned());
            }
        }
        let sid = s["Sid"]
            .as_str()
            .expect("every statement has a Sid")
            .to_string();
        let statement = Statement {
            actions: actions.into_iter().collect(),
            condition_keys,
        };
        assert!(
            out.insert(sid.clone(), (statement, s.clone())).is_none(),
            "Sid {sid} twice"
        );
    }
    out
}

/// The task role's statements in the CloudFormation template, read line by line: `- Sid:`
/// starts one, `- prefix:Action` items are its actions, `key: value` lines under
/// `Condition:` its condition keys.
fn cloudformation_statements() -> std::collections::BTreeMap<String, Statement> {
    let template = read("deploy/cloudformation/ecs-ingress.yaml");
    let begin = template
        .find("# BEGIN ecs-ingress task role actions")
        .expect("BEGIN marker");
    let end = template
        .find("# END ecs-ingress task role actions")
        .expect("END marker");
    let prefixes = action_prefixes();
    let mut out = std::collections::BTreeMap::new();
    let mut current: Option<(String, Statement)> = None;
    let mut in_condition = false;
    for line in template[begin..end].lines() {
        let item = line.trim().strip_prefix("- ").unwrap_or(line.trim());
        if let Some(sid) = item.strip_prefix("Sid: ") {
            if let Some((sid, st)) = current.take() {
                out.insert(sid, st);
            }
            current = Some((sid.trim().to_string(), Statement::default()));
            in_condition = false;
            continue;
        }
        let Some((_, st)) = current.as_mut() else {
            continue;
        };
        if item == "Condition:" {
            in_condition = true;
        } else if ["Action:", "Resource:", "Effect:"]
            .iter()
            .any(|k| item.starts_with(k))
        {
            in_condition = false;
        }
        let is_action = line.trim().starts_with("- ")
            && item.split_once(':').is_some_and(|(p, op)| {
                prefixes.contains(&p)
                    && !op.is_empty()
                    && op.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if is_action {
            st.actions.insert(item.to_string());
        } else if in_condition
            && let Some((key, _)) = item
                .split_once(": ")
                .or_else(|| item.strip_suffix(':').map(|k| (k, "")))
            && key.contains(':')
            // `ForAllValues:StringLike:` is an operator, not a key.
            && !key.starts_with("ForAllValues:")
            && !key.starts_with("ForAnyValue:")
        {
            st.condition_keys.insert(key.to_string());
        }
    }
    if let Some((sid, st)) = current {
        out.insert(sid, st);
    }
    out
}

#[test]
fn both_policies_have_the_same_statements_and_conditions() {
    let json: std::collections::BTreeMap<String, Statement> = json_statements()
        .into_iter()
        .map(|(sid, (st, _))| (sid, st))
        .collect();
    let cfn = cloudformation_statements();
    assert_eq!(
        json.keys().collect::<Vec<_>>(),
        cfn.keys().collect::<Vec<_>>(),
        "statement ids differ"
    );
    for (sid, st) in &json {
        assert_eq!(Some(st), cfn.get(sid), "statement {sid} differs");
    }
    // The owner conditions use the stack's OwnerId.
    let template = read("deploy/cloudformation/ecs-ingress.yaml");
    for key in [OWNER_REQUEST_TAG, OWNER_RESOURCE_TAG] {
        let uses: Vec<&str> = template.lines().filter(|l| l.contains(key)).collect();
        assert!(!uses.is_empty(), "{key} not used");
        for l in uses {
            assert!(l.trim_end().ends_with(": !Ref OwnerId"), "{l}");
        }
    }
}

#[test]
fn writes_are_limited_to_owned_resources_and_watched_clusters() {
    let statements = json_statements();
    let mut seen = BTreeSet::new();
    for (sid, (st, raw)) in &statements {
        for action in &st.actions {
            seen.insert(action.as_str());
            let condition = &raw["Condition"]["StringEquals"];
            // The given listeners are the user's: certificates go on them unscoped by an
            // owner tag, and only tags of ecs-ingress's own record prefix are written.
            if raw["Resource"] == serde_json::json!(["LISTENER_ARN"]) {
                let certificates = [
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:RemoveListenerCertificates",
                ];
                if !certificates.contains(&action.as_str()) {
                    assert_eq!(
                        raw["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"],
                        serde_json::json!(["ecs-ingress/certificate/*"]),
                        "{sid}: {action} on the given listeners only for certificate records"
                    );
                }
                continue;
            }
            if CREATES.contains(&action.as_str()) {
                assert_eq!(
                    condition[OWNER_REQUEST_TAG], "OWNER_ID",
                    "{sid}: {action} must require the owner tag in the request"
                );
            }
            if OWNED_CHANGES.contains(&action.as_str()) {
                assert_eq!(
                    condition[OWNER_RESOURCE_TAG], "OWNER_ID",
                    "{sid}: {action} must require the owner tag on the resource"
                );
            }
            if action == "elasticloadbalancing:AddTags" {
                assert_eq!(
                    condition["elasticloadbalancing:CreateAction"],
                    serde_json::json!([
                        "CreateTargetGroup",
                        "CreateRule",
                        "CreateLoadBalancer",
                        "CreateListener"
                    ]),
                    "{sid}: AddTags only as part of a create"
                );
            }
            if action == "ecs:UpdateService" {
                assert_eq!(
                    raw["Resource"], "arn:aws:ecs:REGION:ACCOUNT_ID:service/CLUSTER_NAME/*",
                    "{sid}: UpdateService only on the watched clusters' services"
                );
            }
        }
    }
    for action in CREATES.iter().chain(OWNED_CHANGES) {
        assert!(seen.contains(action), "{action} is in no statement");
    }
}

#[test]
fn backend_rules_are_created_tagged_and_revoked_only_when_ours() {
    let statements = json_statements();
    let on_rules = |action: &str| -> Vec<&serde_json::Value> {
        statements
            .values()
            .filter(|(st, raw)| {
                st.actions.contains(action)
                    && raw["Resource"]
                        .as_str()
                        .is_some_and(|r| r.contains(":security-group-rule/"))
            })
            .map(|(_, raw)| &raw["Condition"]["StringEquals"])
            .collect()
    };
    let authorize = on_rules("ec2:AuthorizeSecurityGroupIngress");
    assert_eq!(authorize.len(), 1);
    assert_eq!(authorize[0][OWNER_REQUEST_TAG], "OWNER_ID");
    let revoke = on_rules("ec2:RevokeSecurityGroupIngress");
    assert_eq!(revoke.len(), 1);
    assert_eq!(revoke[0][OWNER_RESOURCE_TAG], "OWNER_ID");
    let tags = on_rules("ec2:CreateTags");
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0]["ec2:CreateAction"], "AuthorizeSecurityGroupIngress");
    assert_eq!(tags[0][OWNER_REQUEST_TAG], "OWNER_ID");
}
