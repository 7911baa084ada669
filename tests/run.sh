#!/usr/bin/env bash
# The project's one test command (README and .ci/run call exactly this).
# Prepares what the tests need — the pinned EC2 emulator in a project-local venv — then runs
# formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> preparing the EC2 emulator (moto)"
tests/setup-moto.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked --all-targets "$@"
