#!/usr/bin/env python3
"""Prints, readably, the target groups, listener rules, service attachments and DNS records
that exist in the emulator. Demo helper."""
import argparse
import json

import boto3


def client(endpoint, name):
    return boto3.client(name, region_name="us-east-1", endpoint_url=endpoint,
                        aws_access_key_id="test", aws_secret_access_key="test")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--network", required=True)
    a = p.parse_args()
    net = json.loads(a.network)
    elb, ecs, r53 = (client(a.endpoint, n) for n in ("elbv2", "ecs", "route53"))
    print("Target groups:")
    for tg in elb.describe_target_groups()["TargetGroups"]:
        print(f"  {tg['TargetGroupName']}: {tg['Protocol']}:{tg['Port']} {tg['TargetType']}, health check "
              f"{tg['HealthCheckPath']} every {tg['HealthCheckIntervalSeconds']}s timeout {tg['HealthCheckTimeoutSeconds']}s "
              f"healthy {tg['HealthyThresholdCount']} unhealthy {tg['UnhealthyThresholdCount']}")
    print("Listener rules:")
    names = {t["TargetGroupArn"]: t["TargetGroupName"] for t in elb.describe_target_groups()["TargetGroups"]}
    for r in elb.describe_rules(ListenerArn=net["listener_arn"])["Rules"]:
        conds = []
        for c in r["Conditions"]:
            vals = c.get("Values") or c.get("HostHeaderConfig", {}).get("Values") or c.get("PathPatternConfig", {}).get("Values", [])
            conds.append(f"{c['Field']}={' '.join(vals)}")
        fwd = [names.get(act.get("TargetGroupArn"), act.get("TargetGroupArn")) for act in r["Actions"]]
        print(f"  priority {r['Priority']}: {' '.join(conds) or '(default)'} -> forward {', '.join(fwd)}")
    print("Service load balancers:")
    arns = ecs.list_services(cluster=net["cluster"])["serviceArns"]
    for s in ecs.describe_services(cluster=net["cluster"], services=arns)["services"] if arns else []:
        for lb in s.get("loadBalancers", []):
            print(f"  {s['serviceName']}: {lb['containerName']}:{lb['containerPort']} -> {names.get(lb['targetGroupArn'], lb['targetGroupArn'])}")
    print(f"DNS records in zone {net['hosted_zone_id']}:")
    for rr in r53.list_resource_record_sets(HostedZoneId=net["hosted_zone_id"])["ResourceRecordSets"]:
        if rr["Type"] in ("NS", "SOA"):
            continue
        target = rr.get("AliasTarget", {}).get("DNSName") or " ".join(v["Value"] for v in rr.get("ResourceRecords", []))
        print(f"  {rr['Name']} {rr['Type']} {target}")


if __name__ == "__main__":
    main()
