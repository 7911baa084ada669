//! awsnycast: health-checked anycast and HA NAT routes for AWS VPC route tables.
//!
//! The architecture, in the order data flows:
//!
//! - [`config`] reads the AWSnycast-compatible YAML file, interpolates instance identity and
//!   environment, and reports every mistake at once. It knows nothing about AWS.
//! - [`ec2`] talks to AWS: instance identity from IMDSv2 (and, as it grows, observing route
//!   tables and applying route changes). It knows nothing about YAML.
//! - [`cli`] defines the command-line flags (one dash or two, as AWSnycast accepted).
//!
//! `main.rs` wires them together and owns logging and exit codes.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod ec2;
pub mod health;
pub mod hooks;
pub mod logging;
pub mod routes;
