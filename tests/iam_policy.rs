//! The shipped IAM policies allow exactly what the code calls.
//!
//! The operations come from the adapters' source (every AWS call goes through
//! `CallContext::call` with a literal operation name), so a new call without a policy
//! update, or a policy action nothing calls any more, fails here.

use std::collections::BTreeSet;

/// Adapter source file → IAM service prefix.
const ADAPTERS: &[(&str, &str)] = &[
    ("src/aws/ecs.rs", "ecs"),
    ("src/aws/elb.rs", "elasticloadbalancing"),
    ("src/aws/route53.rs", "route53"),
    ("src/aws/cloudmap.rs", "servicediscovery"),
    ("src/aws/sqs.rs", "sqs"),
    ("src/aws/tagging.rs", "tag"),
];

/// Permissions the code needs without calling an operation of that name, and why.
const IMPLIED: &[(&str, &str)] = &[
    (
        "elasticloadbalancing:AddTags",
        "CreateTargetGroup and CreateRule pass tags",
    ),
    ("servicediscovery:TagResource", "CreateService passes tags"),
    (
        "route53:GetHealthCheck",
        "Cloud Map (Re/De)RegisterInstance in services with health checks",
    ),
    ("route53:CreateHealthCheck", "same"),
    ("route53:UpdateHealthCheck", "same"),
    ("route53:DeleteHealthCheck", "same"),
];

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

/// Operation names in one adapter: `.call(SERVICE, "Op"`, `send!(self, "Op"` and
/// `const OP: &str = "Op"`.
fn operations(source: &str) -> BTreeSet<String> {
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = BTreeSet::new();
    for marker in [".call(SERVICE,\"", "send!(self,\"", "constOP:&str=\""] {
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
            "DescribeRules", x); const OP: &str = "GetHostedZone";"#,
    );
    assert_eq!(
        ops.into_iter().collect::<Vec<_>>(),
        vec!["DescribeRules", "GetHostedZone", "ListServices"]
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
        // `*` only where AWS offers no resource to scope to: reads, and health checks
        // Cloud Map creates with ids not known in advance.
        if s["Resource"] == "*" {
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
    let prefixes: Vec<&str> = ADAPTERS.iter().map(|(_, p)| *p).collect();
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
        ("src/aws/elb.rs", "elbv2"),
        ("src/aws/route53.rs", "route53"),
        ("src/aws/cloudmap.rs", "servicediscovery"),
        ("src/aws/sqs.rs", "sqs"),
        ("src/aws/tagging.rs", "tagging"),
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
