#!/usr/bin/env bash
# Runs every check on a fresh machine (Rust and python3 present, nothing else):
# creates .venv with the pinned moto server if missing, then cargo fmt, clippy and all tests
# (unit, property and the integration tests against moto).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "==> creating .venv with moto[server]==$MOTO_VERSION"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
# Linters for deploy/ and charts/ (cfn-lint arrives with moto[server]; pinned here too).
YAMLLINT_VERSION="1.37.1"
if ! .venv/bin/python -c "import yamllint, sys; sys.exit(yamllint.__version__ != '$YAMLLINT_VERSION')" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "yamllint==$YAMLLINT_VERSION" "cfn-lint==1.58.0"
fi

rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "==> deploy and chart lint"
.venv/bin/python scripts/lint_deploy.py
echo "==> cargo test"
cargo test --locked
