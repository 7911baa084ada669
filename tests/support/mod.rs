//! Test support: a real EC2 emulator (moto's server), a fake IMDSv2 per simulated instance,
//! the README's VPC layout built through the real SDK, and a runner for the binary.
//! Each integration test file includes this with `mod support;` and uses what it needs.
#![allow(dead_code)]

pub mod daemon;
pub mod imds;
pub mod moto;
pub mod netns;
pub mod proxy;
pub mod scenario;
pub mod services;
pub mod terraform;
pub mod vpc;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The built `awsnycast` binary: cargo names it for integration tests; an example (the demo)
/// finds it beside its own directory in the same profile.
pub fn binary() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_awsnycast") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("awsnycast")))
            .expect("the awsnycast binary beside the examples directory"),
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// AWS settings a developer's shell may carry, which must never reach a test's processes
/// (they could point at a real account).
pub const AWS_ENV: [&str; 9] = [
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
];

/// A command for the binary with a clean, predictable AWS environment: no credentials or
/// endpoints leak in from the developer's shell, and IMDS points nowhere unless a test says so.
pub fn awsnycast() -> Command {
    let mut cmd = Command::new(binary());
    for var in AWS_ENV.iter().chain(&["AWSNYCAST_LOG"]) {
        cmd.env_remove(var);
    }
    // Port 9 on loopback (discard) refuses connections: "no IMDS here", quickly.
    cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
    cmd
}

/// Output as text, for assertions and failure messages.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
