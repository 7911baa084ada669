#!/usr/bin/env bash
# The local failover demo: two awsnycast daemons against an emulated VPC, a service failing,
# the backup taking the route, the primary recovering and taking it back.
#
# Coming in the next release (the route manager and health checks it needs are in place;
# the scripted story is not). Meanwhile, see what a config manages:
#   cargo run -- --check -f examples/minimal.yaml
echo "awsnycast demo: coming in the next release (see README, 'Status')."
echo "Meanwhile: cargo run -- --check -f examples/minimal.yaml"
