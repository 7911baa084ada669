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

/// An error and its causes on one line: the SDK's and reqwest's top-level messages alone
/// are too vague to act on.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
