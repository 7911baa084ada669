#!/usr/bin/env bash
# The project's one test command (README and .ci/run call exactly this).
# Prepares what the tests need — the pinned EC2 emulator in a project-local venv, root and
# iproute2 for network-namespace test hosts, Terraform's offline provider mirror — then runs
# formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> preparing the EC2 emulator (moto)"
tests/setup-moto.sh

echo "==> checking for root and iproute2 (network-namespace test hosts)"
if [ "$(id -u)" != 0 ]; then
  echo "the tests create network namespaces and need root; run as root" >&2
  exit 1
fi
if ! command -v ip >/dev/null; then
  apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null
fi

echo "==> checking for Terraform and its offline provider mirror (tests/terraform.rs)"
if ! command -v terraform >/dev/null; then
  echo "terraform is not on PATH: the Terraform example's test needs Terraform >= 1.5" >&2
  exit 1
fi
if [ ! -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ]; then
  echo "no hashicorp/aws provider in the offline mirror /opt/tf-plugins (tests/terraform/cli.tfrc)" >&2
  exit 1
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --locked --all-targets "$@" 2>&1 | tee "$log"
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')

echo "==> the local failover demo (README's first command)"
examples/demo.sh
passed=$((passed + 1))

# One closing line for the whole run: cargo's own last line is a target with no tests.
echo "summary: $passed passed, $failed failed"
