#!/usr/bin/env python3
"""Cross-checks the fake AWS's call counts against a real emulator: runs the real binary
(`ecs-ingress run`) against moto with N tagged services behind 3 ALBs, waits until every
service has its rule and target group and a pass writes nothing (moto registers no targets,
so names wait for a healthy target that never comes), and prints the AWS calls of one
steady pass by operation, from the difference of two scrapes of
`ecs_ingress_aws_calls_total`.

  .venv/bin/python scripts/moto_calls.py [--services 200] [--binary target/release/ecs-ingress]

Not part of the test suite: the cold start is paced by the ELBv2 mutating bucket (3 calls/s),
so N = 200 takes a few minutes.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time
import types
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_network  # noqa: E402

ALBS = 3


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return urllib.request.urlopen(url, timeout=2).read().decode()
        except Exception:
            time.sleep(0.3)
    sys.exit(f"no answer from {url}")


def extra_listener(endpoint, net, index):
    """One more internal ALB with an HTTP listener defaulting to an empty group."""
    elb = seed_network.client(endpoint, "elbv2")
    lb = elb.create_load_balancer(
        Name=f"alb-{index}", Subnets=net["subnet_ids"], SecurityGroups=[net["security_group_id"]],
        Scheme="internal", Type="application",
    )["LoadBalancers"][0]
    default = elb.create_target_group(Name=f"invalid-{index}", Protocol="HTTP", Port=80, VpcId=net["vpc_id"])[
        "TargetGroups"][0]["TargetGroupArn"]
    return elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": default}],
    )["Listeners"][0]["ListenerArn"]


def scrape(admin):
    """AWS calls by operation, passes, and services whose ALB side is done: published, or
    pending only until their group has a healthy target (moto registers no targets, so a
    name never follows)."""
    text = urllib.request.urlopen(f"{admin}/metrics", timeout=5).read().decode()
    calls, passes, published = {}, 0, 0
    for line in text.splitlines():
        m = re.match(r'ecs_ingress_aws_calls_total\{(.*)\} (\S+)', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            key = f'{labels["service"]} {labels["operation"]}'
            calls[key] = calls.get(key, 0) + float(m.group(2))
        m = re.match(r'ecs_ingress_passes_total\{.*\} (\S+)', line)
        if m:
            passes += float(m.group(1))
        m = re.match(r'ecs_ingress_services\{state="(published|pending)"\} (\S+)', line)
        if m:
            published += float(m.group(2))
    return calls, passes, published


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "ecs-ingress"))
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    port = free_port()
    moto = subprocess.Popen([os.path.join(root, ".venv", "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon = None
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(f"{endpoint}/moto-api/")
        net = seed_network.network(endpoint, "in.example.com", "main")
        listeners = {"default": net["listener_arn"]}
        for i in range(1, ALBS):
            listeners[f"alb-{i}"] = extra_listener(endpoint, net, i)
        names = list(listeners)
        started = time.time()
        for i in range(args.services):
            seed_network.service(endpoint, net, types.SimpleNamespace(
                name=f"s{i}", container="app", port=8080, tasks=0, label=None, service_tag=None,
                td_tag=[f"alb.host=s{i}.in.example.com", f"alb.listener={names[i % ALBS]}"],
            ))
        print(f"created {args.services} services in {time.time() - started:.0f} s", flush=True)
        admin_port = free_port()
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test",
                   AWS_SECRET_ACCESS_KEY="test", AWS_EC2_METADATA_DISABLED="true", RUST_LOG="warn")
        cmd = [args.binary, "run", "--cluster", "main", "--hosted-zone", net["hosted_zone_id"],
               "--interval", "5s", "--rate-share", "100", "--admin-addr", f"127.0.0.1:{admin_port}"]
        for name, arn in listeners.items():
            cmd += ["--listener", f"{name}={arn}"]
        daemon = subprocess.Popen(cmd, env=env)
        admin = f"http://127.0.0.1:{admin_port}"
        wait_http(f"{admin}/healthz")
        started = time.time()
        writes = lambda calls: sum(v for k, v in calls.items() if re.search(r" (Create|Modify|Delete|Update|Change|Register)", k))
        last = None
        while True:
            calls, passes, published = scrape(admin)
            # Every rule and group made, and a whole pass that wrote nothing.
            if published == args.services and last is not None and passes > last[0] + 1 and writes(calls) == last[1]:
                break
            if published == args.services and (last is None or writes(calls) != last[1]):
                last = (passes, writes(calls))
            if time.time() - started > 1800:
                sys.exit("not converged after 30 minutes")
            time.sleep(2)
        print(f"all {args.services} with their rule and group after {time.time() - started:.0f} s ({passes:.0f} passes)", flush=True)
        # One full steady pass between two scrapes.
        before, p0, _ = scrape(admin)
        while scrape(admin)[1] < p0 + 1:
            time.sleep(0.2)
        before, p1, _ = scrape(admin)
        while scrape(admin)[1] < p1 + 1:
            time.sleep(0.2)
        after, _, _ = scrape(admin)
        per_op = {k: int(after.get(k, 0) - before.get(k, 0)) for k in after}
        per_op = {k: v for k, v in sorted(per_op.items()) if v}
        print(f"calls in one steady pass: {sum(per_op.values())}")
        for k, v in per_op.items():
            print(f"  {k}: {v}")
        rss = open(f"/proc/{daemon.pid}/status").read()
        hwm = re.search(r"VmHWM:\s+(\d+) kB", rss)
        if hwm:
            print(f"ecs-ingress peak RSS: {int(hwm.group(1)) / 1024:.1f} MiB")
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait(timeout=30)
        moto.terminate()


if __name__ == "__main__":
    main()
