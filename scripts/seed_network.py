#!/usr/bin/env python3
"""Builds the seed article's network in an AWS emulator (moto) and creates tagged services.

Fixture code for the demo and the integration tests, not part of the product.

  seed_network.py --endpoint URL network
      VPC (DNS hostnames on), two subnets, a security group, an internal ALB, an HTTP:80
      listener whose default action forwards to an empty target group, a private hosted
      zone in.example.com bound to the VPC, and an ECS cluster. Prints the ids as JSON.
      With --albs N (default 1), N-1 more internal ALBs in the same subnets, each with an
      HTTP:80 listener answering a fixed 404 (no target group), listed under
      `more_load_balancers` as {load_balancer_arn, load_balancer_dns, listener_arn}: the
      members of an ALB pool.

  seed_network.py --endpoint URL service --network JSON --name NAME [--td-tag K=V ...]
      [--service-tag K=V ...] [--label K=V ...] [--port 8080] [--container NAME]
      Registers an awsvpc task definition and creates a service. Prints its ARN as JSON.

  seed_network.py --endpoint URL deploy --network JSON --name NAME [--name NAME ...]
      What ECS does on a deployment and moto does not: registers the service's RUNNING
      tasks (starting one if none runs) in every target group of its loadBalancers, on the
      entry's container port. moto reports registered IP targets healthy at once.
"""
import argparse
import json
import sys

import boto3

REGION = "us-east-1"


def client(endpoint, name):
    return boto3.client(
        name,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def network(endpoint, zone_name, cluster_name, albs=1):
    ec2 = client(endpoint, "ec2")
    elb = client(endpoint, "elbv2")
    r53 = client(endpoint, "route53")
    ecs = client(endpoint, "ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto refuses awsvpc tasks without DNS hostnames, like the seed's VPC would need.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
    ]
    sg = ec2.create_security_group(
        GroupName="http-https-proxy", Description="Enable http and https access", VpcId=vpc
    )["GroupId"]
    lb = elb.create_load_balancer(
        Name="PrivateApiLoadBalancer", Subnets=subnets, SecurityGroups=[sg], Scheme="internal", Type="application"
    )["LoadBalancers"][0]
    invalid = elb.create_target_group(Name="invalid-target-group", Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": invalid}],
    )["Listeners"][0]["ListenerArn"]
    more = []
    for n in range(2, albs + 1):
        extra = elb.create_load_balancer(
            Name=f"PrivateApiLoadBalancer{n}", Subnets=subnets, SecurityGroups=[sg], Scheme="internal", Type="application"
        )["LoadBalancers"][0]
        # A fixed response holds no target group, unlike the first ALB's default action.
        extra_listener = elb.create_listener(
            LoadBalancerArn=extra["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no route"},
                }
            ],
        )["Listeners"][0]["ListenerArn"]
        more.append(
            {
                "load_balancer_arn": extra["LoadBalancerArn"],
                "load_balancer_dns": extra["DNSName"],
                "listener_arn": extra_listener,
            }
        )
    zone = r53.create_hosted_zone(
        Name=zone_name,
        CallerReference=f"seed-{zone_name}",
        HostedZoneConfig={"PrivateZone": True, "Comment": "seed"},
        VPC={"VPCRegion": REGION, "VPCId": vpc},
    )["HostedZone"]["Id"].split("/")[-1]
    cluster = ecs.create_cluster(clusterName=cluster_name)["cluster"]["clusterArn"]
    out = {
        "endpoint": endpoint,
        "vpc_id": vpc,
        "subnet_ids": subnets,
        "security_group_id": sg,
        "load_balancer_arn": lb["LoadBalancerArn"],
        "load_balancer_dns": lb["DNSName"],
        "listener_arn": listener,
        "invalid_target_group_arn": invalid,
        "hosted_zone_id": zone,
        "cluster_arn": cluster,
        "cluster": cluster_name,
    }
    if more:
        out["more_load_balancers"] = more
    return out


def pairs(items):
    out = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"expected KEY=VALUE, got {item!r}")
        out.append((key, value))
    return out


def service(endpoint, net, args):
    ecs = client(endpoint, "ecs")
    container = {
        "name": args.container,
        "image": "example/service-a:latest",
        "memory": 256,
        "portMappings": [{"containerPort": args.port, "protocol": "tcp"}],
        "dockerLabels": dict(pairs(args.label)),
    }
    td_kwargs = {
        "family": args.name,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [container],
    }
    td_tags = [{"key": k, "value": v} for k, v in pairs(args.td_tag)]
    if td_tags:
        td_kwargs["tags"] = td_tags
    td = ecs.register_task_definition(**td_kwargs)["taskDefinition"]["taskDefinitionArn"]
    svc_kwargs = {
        "cluster": net["cluster"],
        "serviceName": args.name,
        "taskDefinition": td,
        "desiredCount": 2,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": net["subnet_ids"],
                # moto answers 500 for awsvpc services without security groups.
                "securityGroups": [net["security_group_id"]],
            }
        },
    }
    svc_tags = [{"key": k, "value": v} for k, v in pairs(args.service_tag)]
    if svc_tags:
        svc_kwargs["tags"] = svc_tags
    arn = ecs.create_service(**svc_kwargs)["service"]["serviceArn"]
    # moto's services never start tasks themselves: start them as the service would, with
    # the service's group, so `alb.targets=direct` has something to register.
    tasks = []
    for _ in range(args.tasks):
        started = ecs.run_task(
            cluster=net["cluster"],
            taskDefinition=td,
            launchType="FARGATE",
            startedBy=f"ecs-svc/{args.name}",
            group=f"service:{args.name}",
            networkConfiguration=svc_kwargs["networkConfiguration"],
        )["tasks"]
        tasks.extend(t["taskArn"] for t in started)
    return {"service_arn": arn, "task_definition_arn": td, "task_arns": tasks}


def task_ips(ecs, cluster, name):
    arns = ecs.list_tasks(cluster=cluster)["taskArns"]
    if not arns:
        return []
    ips = []
    for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]:
        if t.get("group") != f"service:{name}" or t.get("lastStatus") != "RUNNING":
            continue
        for a in t.get("attachments", []):
            for d in a.get("details", []):
                if d.get("name") == "privateIPv4Address":
                    ips.append(d["value"])
    return ips


def deploy(endpoint, net, name):
    # Keep tasks in the state they start in (moto otherwise advances them on every read).
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(
            endpoint + "/moto-api/state-manager/set-transition",
            data=b'{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000000}}',
            method="POST",
        )
    )
    ecs = client(endpoint, "ecs")
    elb = client(endpoint, "elbv2")
    svc = ecs.describe_services(cluster=net["cluster"], services=[name])["services"][0]
    ips = task_ips(ecs, net["cluster"], name)
    if not ips:
        ecs.run_task(
            cluster=net["cluster"],
            taskDefinition=svc["taskDefinition"],
            launchType="FARGATE",
            startedBy=f"ecs-svc/{name}",
            group=f"service:{name}",
            networkConfiguration=svc["networkConfiguration"],
        )
        ips = task_ips(ecs, net["cluster"], name)
    registered = []
    for lb in svc.get("loadBalancers", []):
        tg, port = lb.get("targetGroupArn"), lb.get("containerPort")
        if not tg or not port:
            continue
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": ip, "Port": port} for ip in ips])
        registered.append(tg)
    return {"target_groups": registered, "ips": ips}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    net = sub.add_parser("network")
    net.add_argument("--zone", default="in.example.com")
    net.add_argument("--cluster", default="main")
    net.add_argument("--albs", type=int, default=1, help="ALBs with an HTTP:80 listener (a pool)")
    svc = sub.add_parser("service")
    svc.add_argument("--network", required=True, help="JSON printed by the network command")
    svc.add_argument("--name", required=True)
    svc.add_argument("--container", default="serviceA")
    svc.add_argument("--port", type=int, default=8080)
    svc.add_argument("--td-tag", action="append")
    svc.add_argument("--service-tag", action="append")
    svc.add_argument("--label", action="append")
    svc.add_argument("--tasks", type=int, default=0, help="RUNNING tasks to start for it")
    dep = sub.add_parser("deploy")
    dep.add_argument("--network", required=True, help="JSON printed by the network command")
    dep.add_argument("--name", required=True, action="append", help="repeatable: several services at once")
    args = parser.parse_args()
    if args.command == "network":
        print(json.dumps(network(args.endpoint, args.zone, args.cluster, args.albs)))
    elif args.command == "deploy":
        net = json.loads(args.network)
        done = [deploy(args.endpoint, net, name) for name in args.name]
        print(json.dumps({k: [v for d in done for v in d[k]] for k in ("target_groups", "ips")}))
    else:
        print(json.dumps(service(args.endpoint, json.loads(args.network), args)))


if __name__ == "__main__":
    main()
