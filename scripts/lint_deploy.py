#!/usr/bin/env python3
"""Validates deploy/, charts/ and the Dockerfile without AWS, Kubernetes or Docker:

- yamllint on plain YAML, cfn-lint on the CloudFormation templates;
- the chart: every `.Values.x.y` its templates read exists in values.yaml, values.schema.json
  describes every value, and Helm itself (the helm-python-sdk wheel bundles the Helm library)
  lints and renders it with the default values (which must fail: clusters and listeners are
  required), the required ones, and ci/full-values.yaml;
- the alert rules: deploy/prometheus/ecs-ingress.rules.yaml is the chart's render,
  `promtool check rules` and `promtool test rules` pass;
- IAM: the CloudFormation task role's policy, resolved with sample parameters, is
  deploy/iam-policy.json with the same values for its placeholders, and parliament finds
  nothing in it beyond the documented exceptions below;
- hadolint on the Dockerfile.

A tool that is not installed is reported as SKIPPED (scripts/test.sh installs them all);
`--require-all` turns that into a failure. `--write-rules` rewrites the rules file from the
chart.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
CHART = ROOT / "charts" / "ecs-ingress"
TEMPLATES = sorted((ROOT / "deploy" / "cloudformation").glob("*.yaml"))
RULES = ROOT / "deploy" / "prometheus" / "ecs-ingress.rules.yaml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
REQUIRED_VALUES = {
    "leaderElection": {"table": "ecs-ingress-leases"},
    "config": {
        "clusters": ["main"],
        "listeners": [
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/internal/0123456789abcdef/0123456789abcdef"
        ],
    }
}

# Sample values for the placeholders of deploy/iam-policy.json and the parameters of the
# CloudFormation template: both policies must come out the same.
SAMPLE = {
    "REGION": "eu-west-1",
    "ACCOUNT_ID": "123456789012",
    "OWNER_ID": "ecs-ingress",
    "CLUSTER_NAME": "main",
    "LISTENER_ARN": REQUIRED_VALUES["config"]["listeners"][0],
    "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
    "QUEUE_NAME": "ecs-ingress-ecs-ingress",
    "LEASE_TABLE": "ecs-ingress-leases",
    "ZONE_ROLE_ARN": "arn:aws:iam::222222222222:role/dns-writer",
    "ECS_INFRASTRUCTURE_ROLE_ARN": "arn:aws:iam::111122223333:role/ecs-infrastructure",
}
CFN_PARAMETERS = {
    "AWS::Region": SAMPLE["REGION"],
    "AWS::AccountId": SAMPLE["ACCOUNT_ID"],
    "AWS::Partition": "aws",
    "AWS::StackName": "ecs-ingress",
    "OwnerId": SAMPLE["OWNER_ID"],
    "WatchedClusters": [SAMPLE["CLUSTER_NAME"]],
    "ListenerArns": [SAMPLE["LISTENER_ARN"]],
    "HostedZoneIds": [SAMPLE["HOSTED_ZONE_ID"]],
    "CloudMapNamespaces": ["internal.example.com"],
    "ZoneRoles": [SAMPLE["HOSTED_ZONE_ID"] + "=" + SAMPLE["ZONE_ROLE_ARN"]],
    "ZoneRoleArns": [SAMPLE["ZONE_ROLE_ARN"]],
    "ZoneRoleExternalId": "",
    "EcsInfrastructureRoleArn": SAMPLE["ECS_INFRASTRUCTURE_ROLE_ARN"],
    "EnableEvents": "true",
    "MetricsCidr": "",
}

# parliament findings that are accepted, each with the reason. (issue, predicate on the
# finding's detail text)
PARLIAMENT_ACCEPTED = [
    (
        "RESOURCE_STAR",
        lambda d: set(re.findall(r"'([^']+)'", d))
        <= {"ecs:DescribeServices", "ecs:DescribeTasks", "ecs:ListTasks"},
        "ECS reads stay account-wide: they reveal metadata only, and scoping them to the "
        "watched clusters would tie every read to the cluster list",
    ),
    (
        "RESOURCE_MISMATCH",
        lambda d: all("/net/" in f for f in re.findall(r"'required_format': '([^']+)'", d)),
        "only Application Load Balancer rules and listeners are managed, never NLB ones",
    ),
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        lambda d: "elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags"
        in d,
        "elasticloadbalancing:CreateAction is AWS's documented key for tag-on-create "
        "(newer than parliament's action database)",
    ),
    (
        "RESOURCE_MISMATCH",
        lambda d: set(re.findall(r"'action': '([^']+)'", d))
        <= {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"},
        "the security-group-rule resource (tags on rules, what scopes the backend rules to "
        "their owner) is newer than parliament's action database, which knows only the "
        "security group",
    ),
]

skipped = []


def tool(name, *candidates):
    """The path of a tool: the venv's, else one on PATH."""
    for c in [BIN / name, *candidates]:
        if pathlib.Path(c).exists():
            return str(c)
    return shutil.which(name)


def run(cmd, **kw):
    print("   ", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, cwd=kw.pop("cwd", ROOT), **kw).returncode == 0


def skip(what, why):
    print(f"    SKIPPED {what}: {why}", flush=True)
    skipped.append(what)
    return True


def values_references():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = []
    for template in sorted((CHART / "templates").glob("*")):
        for path in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text()):
            node = values
            for key in path.split("."):
                if not isinstance(node, dict) or key not in node:
                    missing.append(f"{template.name}: .Values.{path}")
                    break
                node = node[key]
    for m in missing:
        print(f"    not in values.yaml: {m}")
    return not missing


def schema_covers_values():
    """Every key of values.yaml has a description in values.schema.json, down to the
    objects the schema closes (free-form objects such as `resources` are the user's)."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = []

    def walk(node, sch, path):
        if not isinstance(node, dict) or "properties" not in sch:
            return
        for key, value in node.items():
            if key not in sch["properties"]:
                missing.append(path + key)
            else:
                walk(value, sch["properties"][key], f"{path}{key}.")

    walk(values, schema, "")
    for m in missing:
        print(f"    not in values.schema.json: {m}")
    ok = not missing
    try:
        import jsonschema
    except ImportError:
        return ok and skip("jsonschema", "python package not installed")
    for name, doc in [
        ("values.yaml", values),
        ("ci/full-values.yaml", yaml.safe_load((CHART / "ci" / "full-values.yaml").read_text())),
    ]:
        errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
        for e in errors:
            print(f"    {name}: {'.'.join(map(str, e.path))}: {e.message}")
        ok &= not errors
    return ok


def merge(base, extra):
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def chart_with_helm():
    try:
        import helm_python as helm
    except ImportError:
        return skip("helm lint and template", "helm-python-sdk is not installed"), None
    full = yaml.safe_load((CHART / "ci" / "full-values.yaml").read_text())
    ok = True
    print(f"    helm {helm.helm_sdk_version()} lint --strict (required values, ci/full-values.yaml)")
    for name, values in [("required values", REQUIRED_VALUES), ("full values", full)]:
        report = helm.lint(str(CHART), values, strict=True)
        for m in report.get("messages", []):
            # severity 1 is INFO (e.g. "icon is recommended"): not a problem.
            if m.get("severity", 0) >= 2:
                print(f"    helm lint ({name}): {m.get('path')}: {m.get('error')}")
                ok = False
        for e in report.get("errors") or []:
            print(f"    helm lint ({name}): {e}")
            ok = False
    chart = helm.Chart.load(str(CHART))

    def render(values):
        out = chart.render(values, name="ecs-ingress", namespace="ecs-ingress")
        docs = []
        for path, text in out.items():
            for doc in yaml.safe_load_all(text):
                if doc:
                    docs.append(doc)
        return out, docs

    print("    helm template (default values must fail: clusters and listeners are required)")
    try:
        render({})
        print("    the chart rendered without config.clusters")
        ok = False
    except helm.HelmError as e:
        if "config.clusters" not in str(e):
            print(f"    unexpected render error: {e}")
            ok = False
    print("    helm template (required values, ci/full-values.yaml)")
    _, minimal = render(REQUIRED_VALUES)
    kinds = sorted(d["kind"] for d in minimal)
    if kinds != ["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]:
        print(f"    required values render {kinds}")
        ok = False
    rendered, docs = render(full)
    by_kind = {d["kind"]: d for d in docs}
    expected = {"ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"}
    if set(by_kind) != expected:
        print(f"    full values render {sorted(by_kind)}, expected {sorted(expected)}")
        ok = False
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    checks = {
        "fullnameOverride names the Deployment": by_kind["Deployment"]["metadata"]["name"] == "ecs-ingress-full",
        "nameOverride labels the pods": by_kind["Deployment"]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "ingress",
        "extraArgs follow run": container["args"] == ["run", *full["extraArgs"]],
        "priorityClassName": pod.get("priorityClassName") == full["priorityClassName"],
        "topologySpreadConstraints": pod.get("topologySpreadConstraints") == full["topologySpreadConstraints"],
        "extraVolumes": pod.get("volumes") == full["extraVolumes"],
        "extraVolumeMounts": container.get("volumeMounts") == full["extraVolumeMounts"],
    }
    for what, good in checks.items():
        if not good:
            print(f"    full values: {what} is not rendered as given")
            ok = False
    print("    values.schema.json rejects a wrong value")
    try:
        render(merge(REQUIRED_VALUES, {"config": {"policy": "delete-everything"}}))
        print("    config.policy=delete-everything was accepted")
        ok = False
    except helm.HelmError:
        pass
    # The PrometheusRule with default values is the plain rules file.
    rule_text = chart.render(
        merge(REQUIRED_VALUES, {"prometheusRule": {"enabled": True}}),
        name="ecs-ingress",
        namespace="ecs-ingress",
    )["ecs-ingress/templates/prometheusrule.yaml"]
    return ok, rule_text


def rules_from_render(rule_text):
    """The `spec` of the rendered PrometheusRule, as a rules file."""
    lines = rule_text.splitlines()
    body = lines[lines.index("spec:") + 1 :]
    header = (
        "# Generated from charts/ecs-ingress (templates/_helpers.tpl, default values) by\n"
        "# `scripts/lint_deploy.py --write-rules`; edit the chart, not this file.\n"
    )
    return header + "\n".join(line[2:] for line in body) + "\n"


def alert_rules(rule_text, write):
    ok = True
    if rule_text is not None:
        want = rules_from_render(rule_text)
        if write:
            RULES.write_text(want)
            print(f"    wrote {RULES.relative_to(ROOT)}")
        elif RULES.read_text() != want:
            print(f"    {RULES.relative_to(ROOT)} differs from the chart's render; run scripts/lint_deploy.py --write-rules")
            ok = False
    promtool = tool("promtool")
    if not promtool:
        return ok and skip("promtool check/test rules", "promtool is not installed")
    ok &= run([promtool, "check", "rules", RULES])
    ok &= run([promtool, "test", "rules", *[t.relative_to(RULES.parent) for t in RULE_TESTS]], cwd=RULES.parent)
    return ok


# --- IAM ---------------------------------------------------------------------------------


def cfn_load(path):
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.loads(path.read_text(), str(path))


class Cfn:
    """Resolves the intrinsic functions the task role's policy uses."""

    def __init__(self, template, params):
        self.t = template
        self.p = params

    def condition(self, name):
        return bool(self.eval(self.t["Conditions"][name]))

    def eval(self, node):
        if isinstance(node, list):
            out = [self.eval(n) for n in node]
            return [o for o in out if o is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                return self.p[arg]
            if fn == "Fn::Sub":
                template, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = {k: self.eval(v) for k, v in names.items()}
                return re.sub(
                    r"\$\{([^}]+)\}",
                    lambda m: str(names[m.group(1)] if m.group(1) in names else self.p[m.group(1)]),
                    template,
                )
            if fn == "Fn::Join":
                return arg[0].join(self.eval(arg[1]))
            if fn == "Fn::Split":
                return self.eval(arg[1]).split(arg[0])
            if fn == "Fn::Select":
                return self.eval(arg[1])[int(arg[0])]
            if fn == "Fn::If":
                return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Equals":
                return self.eval(arg[0]) == self.eval(arg[1])
            if fn == "Fn::Not":
                return not self.eval(arg[0])
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::GetAtt":
                target = arg if isinstance(arg, list) else arg.split(".")
                if target == ["EventQueue", "Arn"]:
                    return f"arn:aws:sqs:{self.p['AWS::Region']}:{self.p['AWS::AccountId']}:ecs-ingress-{self.p['AWS::StackName']}"
                if target == ["LeaseTable", "Arn"]:
                    return f"arn:aws:dynamodb:{self.p['AWS::Region']}:{self.p['AWS::AccountId']}:table/{self.p['AWS::StackName']}-leases"
                raise ValueError(f"unsupported GetAtt {target}")
            if fn.startswith("Fn::"):
                raise ValueError(f"unsupported {fn}")
        return {k: self.eval(v) for k, v in node.items()}


NO_VALUE = object()


def cfn_task_policy():
    template = cfn_load(ROOT / "deploy" / "cloudformation" / "ecs-ingress.yaml")
    role = template["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    return Cfn(template, CFN_PARAMETERS).eval(role)


def json_policy(text=None):
    text = text or (ROOT / "deploy" / "iam-policy.json").read_text()
    for placeholder, value in SAMPLE.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def normalized(policy):
    def norm(v):
        if isinstance(v, list):
            return sorted(json.dumps(norm(x), sort_keys=True) for x in v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    out = {}
    for s in policy["Statement"]:
        s = dict(s)
        for key in ("Action", "Resource"):
            if isinstance(s.get(key), str):
                s[key] = [s[key]]
        out[s["Sid"]] = norm(s)
    return out


def iam():
    ok = True
    try:
        cfn = normalized(cfn_task_policy())
    except ImportError:
        return skip("IAM policy comparison and lint", "cfn-lint is not installed")
    plain = normalized(json_policy())
    print("    deploy/iam-policy.json == the CloudFormation task role's policy")
    for sid in sorted(set(cfn) | set(plain)):
        if cfn.get(sid) != plain.get(sid):
            print(f"    statement {sid} differs:\n      iam-policy.json: {plain.get(sid)}\n      CloudFormation:  {cfn.get(sid)}")
            ok = False
    try:
        from parliament import analyze_policy_string
    except ImportError:
        return ok and skip("parliament", "python package not installed")
    for name, policy in [
        ("deploy/iam-policy.json", json_policy()),
        ("CloudFormation task role", cfn_task_policy()),
    ]:
        print(f"    parliament: {name}")
        findings = analyze_policy_string(json.dumps(policy, indent=2)).findings
        for f in findings:
            accepted = next(
                (why for issue, matches, why in PARLIAMENT_ACCEPTED if f.issue == issue and matches(str(f.detail))),
                None,
            )
            if accepted:
                print(f"      accepted {f.issue}: {accepted}")
            else:
                print(f"      {f.issue}: {f.detail}")
                ok = False
    return ok


def hadolint():
    exe = tool("hadolint")
    if not exe:
        return skip("hadolint", "not installed")
    return run([exe, "Dockerfile"])


def main():
    require_all = "--require-all" in sys.argv
    write_rules = "--write-rules" in sys.argv
    ok = True
    plain_yaml = [
        CHART / "Chart.yaml",
        CHART / "values.yaml",
        CHART / "ci" / "full-values.yaml",
        RULES,
        *RULE_TESTS,
        *TEMPLATES,
    ]
    ok &= run([BIN / "yamllint", "--strict", *plain_yaml])
    ok &= run([BIN / "cfn-lint", *TEMPLATES])
    print("    .Values references", flush=True)
    ok &= values_references()
    print("    values.schema.json", flush=True)
    ok &= schema_covers_values()
    print("    dashboard JSON", flush=True)
    json.loads((CHART / "dashboards" / "ecs-ingress.json").read_text())
    helm_ok, rule_text = chart_with_helm()
    ok &= helm_ok
    print("    alert rules", flush=True)
    ok &= alert_rules(rule_text, write_rules)
    print("    IAM", flush=True)
    ok &= iam()
    print("    Dockerfile", flush=True)
    ok &= hadolint()
    if skipped and require_all:
        print(f"    missing tools: {', '.join(skipped)}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
