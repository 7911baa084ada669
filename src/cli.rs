//! Command-line flags, defined in one place.
//!
//! AWSnycast (Go) took flags with one dash (`-oneshot`, `-f FILE`); we accept those and the
//! usual two-dash forms (`--oneshot`). [`normalize`] rewrites the one-dash long forms before
//! clap sees them, so there is a single definition of every flag.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Exit codes, as documented in `--help` and README.
pub mod exit {
    /// Success; for `--check`, the configuration is valid.
    pub const OK: i32 = 0;
    /// The configuration is invalid, or the daemon failed.
    pub const FAILURE: i32 = 1;
    /// The command line is wrong.
    pub const USAGE: i32 = 2;
}

const AFTER_HELP: &str = "\
Flags may be written with one dash, as AWSnycast accepted (-oneshot, -noop), or two (--oneshot).

Exit codes:
  0  success (with --check: the configuration is valid)
  1  the configuration is invalid, or the daemon failed
  2  the command line is wrong

AWS access uses the standard SDK settings: AWS_REGION, AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL,
credentials from the environment or the instance role, and AWS_EC2_METADATA_SERVICE_ENDPOINT
for instance metadata.";

/// Health-checked anycast and HA NAT routes for AWS VPC route tables.
#[derive(Debug, Clone, Parser)]
#[command(name = "awsnycast", version, after_help = AFTER_HELP, disable_version_flag = true)]
pub struct Flags {
    /// Configuration file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "/etc/awsnycast.yaml",
        allow_hyphen_values = true
    )]
    pub file: PathBuf,

    /// Run route table manipulation exactly once, then exit (for bootstrap scripts).
    #[arg(long)]
    pub oneshot: bool,

    /// With -oneshot: run the health checks until they settle and use their results,
    /// instead of treating every check as passing.
    #[arg(long)]
    pub oneshot_wait_healthy: bool,

    /// Change nothing; print what would be done and why.
    #[arg(long)]
    pub noop: bool,

    /// Validate the configuration, print a summary of what it manages, and exit (0 valid, 1 not).
    #[arg(long)]
    pub check: bool,

    /// Log at debug level.
    #[arg(long)]
    pub debug: bool,

    /// Log to syslog instead of standard error.
    #[arg(long)]
    pub syslog: bool,

    /// Log line format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Print the version and exit.
    #[arg(long, short = 'V')]
    pub version: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Rewrites `-oneshot` to `--oneshot` (and `-log-format=json` to `--log-format=json`);
/// single-letter flags, values and anything after `--` are untouched.
pub fn normalize<I>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = OsString>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    let mut takes_value = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || passthrough || takes_value {
            takes_value = false;
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        // Any one-dash word is a long flag (Go's flag package has no short clusters), so a
        // misspelt one gets clap's "similar argument exists" tip instead of a puzzle about `-o`.
        let rewritten = match text.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') && rest.chars().count() > 1 => Some(format!("-{text}")),
            _ => None,
        };
        let flag = rewritten.as_deref().unwrap_or(text);
        // A flag whose value is the next argument: keep that value as it is.
        takes_value = matches!(flag, "-f" | "--file" | "--log-format");
        out.push(rewritten.map(OsString::from).unwrap_or(arg));
    }
    out
}

impl Flags {
    /// Parses the process arguments (either dash style).
    pub fn parse_args<I>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = OsString>,
    {
        Flags::try_parse_from(normalize(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        let mut v = vec![OsString::from("awsnycast")];
        v.extend(args.iter().map(OsString::from));
        Flags::parse_args(v).expect("valid flags")
    }

    #[test]
    fn one_and_two_dashes() {
        let one = parse(&["-f", "/tmp/a.yaml", "-oneshot", "-noop", "-debug", "-syslog"]);
        let two = parse(&[
            "--file",
            "/tmp/a.yaml",
            "--oneshot",
            "--noop",
            "--debug",
            "--syslog",
        ]);
        for f in [one, two] {
            assert_eq!(f.file, PathBuf::from("/tmp/a.yaml"));
            assert!(f.oneshot && f.noop && f.debug && f.syslog);
            assert!(!f.check);
        }
        let f = parse(&["-check", "-log-format=json"]);
        assert!(f.check);
        assert_eq!(f.log_format, LogFormat::Json);
        let f = parse(&["--log-format", "json", "-version"]);
        assert_eq!(f.log_format, LogFormat::Json);
        assert!(f.version);
    }

    #[test]
    fn defaults() {
        let f = parse(&[]);
        assert_eq!(f.file, PathBuf::from("/etc/awsnycast.yaml"));
        assert_eq!(f.log_format, LogFormat::Text);
        assert!(!f.oneshot && !f.noop && !f.check);
    }

    #[test]
    fn values_are_not_rewritten() {
        // A file literally named "-noop" stays a file name.
        let f = parse(&["-f", "-noop"]);
        assert_eq!(f.file, PathBuf::from("-noop"));
        assert!(!f.noop);
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let err = Flags::parse_args(["awsnycast", "-oneshoot"].map(OsString::from)).unwrap_err();
        assert_eq!(err.exit_code(), exit::USAGE);
        let err = Flags::parse_args(["awsnycast", "--log-format", "xml"].map(OsString::from)).unwrap_err();
        assert_eq!(err.exit_code(), exit::USAGE);
    }
}
