#!/usr/bin/env bash
# The main job against a local moto: builds the seed article's network, tags a service like
# its ServiceA, runs ecs-ingress, and shows what exists afterwards.
#   scripts/demo.sh         the demo, then everything stops
#   scripts/demo.sh --run   the demo, then moto and `ecs-ingress run` keep running (the status
#                           page's address is printed) until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP_RUNNING=false
case "${1:-}" in
  --run) KEEP_RUNNING=true ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--run]" >&2; exit 1 ;;
esac

MOTO_VERSION="5.2.5"
if [ ! -x .venv/bin/moto_server ]; then
  echo "==> creating .venv with moto[server]==$MOTO_VERSION"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
if [ -x "${CARGO_TARGET_DIR:-target}/debug/ecs-ingress" ]; then
  echo "==> building ecs-ingress (only what changed)"
else
  echo "==> building ecs-ingress for the first time: about 5 minutes on 2 cores, 1.3 GB in target/"
fi
cargo build --locked
# Honour a shared target directory, as cargo does.
BIN="${CARGO_TARGET_DIR:-target}/debug/ecs-ingress"

PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$PORT" > /dev/null 2>&1 &
MOTO_PID=$!
DAEMON_PID=""
trap 'kill $MOTO_PID $DAEMON_PID 2>/dev/null' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
  AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
.venv/bin/python - "$AWS_ENDPOINT_URL" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1); break
    except Exception:
        time.sleep(0.2)
PY

# The listener's default action forwards to `invalid-target-group`: the article's own
# catch-all for requests no rule matches (it has no targets, so they get a 503). Not an error.
echo "==> seed network: VPC, subnets, internal ALB, HTTP:80 listener -> the catch-all invalid-target-group, zone in.example.com, cluster main"
NET=$(.venv/bin/python scripts/seed_network.py --endpoint "$AWS_ENDPOINT_URL" network)
LISTENER=$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["listener_arn"])' "$NET")
ZONE=$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["hosted_zone_id"])' "$NET")

echo "==> service-a, tagged on its task definition like the seed's ServiceA"
.venv/bin/python scripts/seed_network.py --endpoint "$AWS_ENDPOINT_URL" service --network "$NET" --name service-a \
  --td-tag alb.host=service-a.in.example.com \
  --td-tag alb.healthcheck.path=/application-status/health \
  --td-tag alb.healthcheck.healthy-threshold=2 --td-tag alb.healthcheck.unhealthy-threshold=10 \
  --td-tag alb.healthcheck.interval=5 --td-tag alb.healthcheck.timeout=4 > /dev/null

ARGS=(--cluster main --listener "$LISTENER" --hosted-zone "$ZONE")
echo; echo "==> ecs-ingress plan"
# plan's exit code says what it found: 0 nothing to change, 2 changes pending, 1 an error.
set +e
"$BIN" plan "${ARGS[@]}"
CODE=$?
set -e
echo "(plan exited $CODE: changes are pending)"
[ "$CODE" = 2 ] || exit 1
echo; echo "==> ecs-ingress apply (target group, rule, attachment; the name waits for a healthy target)"
RUST_LOG=warn "$BIN" apply "${ARGS[@]}"
echo; echo "==> ECS's deployment registers service-a's task in the target group (moto runs none: done here)"
DEPLOYED=$(.venv/bin/python scripts/seed_network.py --endpoint "$AWS_ENDPOINT_URL" deploy --network "$NET" --name service-a)
.venv/bin/python -c 'import json,sys; d=json.loads(sys.argv[1]); print("    task %s registered in %s" % (", ".join(d["ips"]), ", ".join(g.split(":")[-1] for g in d["target_groups"])))' "$DEPLOYED"
echo; echo "==> ecs-ingress apply (the target is healthy: the DNS name is published)"
RUST_LOG=warn "$BIN" apply "${ARGS[@]}"
echo; echo "==> what exists now"
.venv/bin/python scripts/show_state.py --endpoint "$AWS_ENDPOINT_URL" --network "$NET"
echo; echo "==> ecs-ingress plan again (converged: nothing to change)"
"$BIN" plan "${ARGS[@]}"

if [ "$KEEP_RUNNING" = true ]; then
  ADMIN_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo; echo "==> ecs-ingress run: a pass every 10 s"
  RUST_LOG=info "$BIN" run "${ARGS[@]}" --interval 10s --admin-addr "127.0.0.1:$ADMIN_PORT" &
  DAEMON_PID=$!
  echo "    status page: http://127.0.0.1:$ADMIN_PORT/   (/status, /metrics, /healthz, /readyz)"
  echo "    moto: $AWS_ENDPOINT_URL   (tag more services with scripts/seed_network.py service --network '$NET' ...)"
  echo "    Ctrl-C stops the daemon and moto."
  trap 'echo; echo "==> stopping"; exit 0' INT TERM
  wait "$DAEMON_PID"
fi
