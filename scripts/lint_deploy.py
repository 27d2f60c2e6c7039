#!/usr/bin/env python3
"""Validates what can be validated here of deploy/ and charts/ without AWS or helm:
yamllint on plain YAML, cfn-lint on the CloudFormation templates, every `.Values.x.y` the
chart's templates read exists in values.yaml, and the dashboard is JSON."""

import json
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
CHART = ROOT / "charts" / "ecs-ingress"
TEMPLATES = sorted((ROOT / "deploy" / "cloudformation").glob("*.yaml"))


def run(cmd):
    print("   ", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode == 0


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


def main():
    ok = True
    plain_yaml = [CHART / "Chart.yaml", CHART / "values.yaml", *TEMPLATES]
    ok &= run([BIN / "yamllint", "--strict", *plain_yaml])
    ok &= run([BIN / "cfn-lint", *TEMPLATES])
    print("    .Values references", flush=True)
    ok &= values_references()
    print("    dashboard JSON", flush=True)
    json.loads((CHART / "dashboards" / "ecs-ingress.json").read_text())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
