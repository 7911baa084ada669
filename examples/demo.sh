#!/usr/bin/env bash
# The local failover demo. Run as root (it creates network namespaces):
#
#   examples/demo.sh
#
# Prepares what it needs (the EC2 emulator in .venv/, a release build), then builds the
# AWSnycast README's VPC in the emulator, runs one awsnycast daemon per router instance with
# a web service in a network namespace holding that instance's private IP, and plays the
# story: both AZs served locally -> router A's service fails -> backup B takes the route ->
# A recovers -> the route fails back. Prints a timeline with the measured seconds; exits
# non-zero if the story did not happen. Everything it starts is stopped, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "the demo creates network namespaces: run it as root" >&2
  exit 1
fi
command -v ip >/dev/null || { apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; }
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }

tests/setup-moto.sh >/dev/null
echo "building awsnycast (release)..."
cargo build --quiet --locked --release --bin awsnycast --example demo
exec "${CARGO_TARGET_DIR:-target}/release/examples/demo"
