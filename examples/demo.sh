#!/usr/bin/env bash
# The local failover demo: two awsnycast daemons against an emulated VPC, a service failing,
# the backup taking the route, the primary recovering and taking it back.
#
# Coming: the demo needs the route manager, which is not in this release yet. What works
# today is configuration checking; try:
#   cargo run -- --check -f examples/awsnycast.yaml   (off EC2, set AWS_EC2_METADATA_SERVICE_ENDPOINT
#                                                      or replace "{{ az }}" first)
echo "awsnycast demo: coming with the route manager (see README, 'Status')."
echo "Meanwhile: cargo run -- --check -f examples/minimal.yaml"
