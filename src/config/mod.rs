//! The AWSnycast-compatible YAML configuration: parsing, validation and interpolation.
//!
//! Loading happens in two steps so that identity is only fetched when needed:
//! [`Document::parse`] reads the YAML, [`Document::uses_identity`] says whether any value names
//! `{{ az }}` and friends, and [`Document::build`] interpolates, validates and returns either
//! a [`Config`] or every problem found. This module knows nothing about AWS.

mod duration;
mod interpolate;
mod model;
mod problem;
mod validate;
mod yaml;

use std::fmt::Write as _;
use std::path::Path;

pub use duration::display as display_duration;
pub use interpolate::{IDENTITY_VARS, Vars};
pub use model::*;
pub use problem::{ConfigErrors, Problem};
pub use validate::vocabulary;
pub use yaml::Mark;

/// A parsed (not yet validated) config file.
#[derive(Debug, Clone)]
pub struct Document {
    file: String,
    root: yaml::Node,
}

/// A valid config and the warnings found while validating it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Problem>,
}

impl Document {
    /// Parses YAML text; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Document, ConfigErrors> {
        match yaml::parse(text) {
            Ok(root) => Ok(Document {
                file: file.to_owned(),
                root,
            }),
            Err(e) => {
                let line_text = text
                    .lines()
                    .nth(e.mark.line.saturating_sub(1) as usize)
                    .unwrap_or("");
                let hint = if line_text.contains("{{")
                    && !line_text.contains("\"{{")
                    && !line_text.contains("'{{")
                {
                    Some("a value starting with {{ must be quoted: key: \"{{ az }}\"".to_owned())
                } else {
                    None
                };
                Err(ConfigErrors {
                    problems: vec![Problem {
                        file: file.to_owned(),
                        mark: e.mark,
                        path: String::new(),
                        message: format!("invalid YAML: {}", e.message),
                        hint,
                    }],
                })
            }
        }
    }

    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Document, ConfigErrors> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Document::parse(&text, &file),
            Err(e) => Err(ConfigErrors {
                problems: vec![Problem {
                    file,
                    mark: Mark::default(),
                    path: String::new(),
                    message: format!("cannot read the configuration file: {e}"),
                    hint: Some("give the file with -f PATH".into()),
                }],
            }),
        }
    }

    /// Whether any value names an identity variable (`{{ az }}`, ...).
    pub fn uses_identity(&self) -> bool {
        fn walk(node: &yaml::Node) -> bool {
            match &node.value {
                yaml::Value::Str(s) => interpolate::uses_identity(s),
                yaml::Value::Seq(items) => items.iter().any(walk),
                yaml::Value::Map(entries) => entries.iter().any(|(_, v)| walk(v)),
                _ => false,
            }
        }
        walk(&self.root)
    }

    /// Interpolates and validates. On failure, returns every problem found.
    pub fn build(&self, vars: &Vars) -> Result<Loaded, ConfigErrors> {
        let mut outcome = validate::validate(&self.root, &self.file, vars);
        // Report top to bottom, as the operator reads the file.
        outcome.errors.sort_by_key(|p| (p.mark.line, p.mark.column));
        outcome.warnings.sort_by_key(|p| (p.mark.line, p.mark.column));
        match outcome.config {
            Some(config) => Ok(Loaded {
                config,
                warnings: outcome.warnings,
            }),
            None => Err(ConfigErrors {
                problems: outcome.errors,
            }),
        }
    }
}

impl Config {
    /// A human summary of what this config manages, as `--check` prints it.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "poll_time: {}", display_duration(self.poll_time));
        let fast = self.fast_poll.map_or("off".to_owned(), display_duration);
        let _ = writeln!(out, "fast_poll: {fast} (while we back up a route)");
        let _ = writeln!(out, "preempt_delay: {}", display_duration(self.preempt_delay));
        let withdraw = match self.withdraw_delay {
            WithdrawDelay::Auto => {
                "auto (the remote check's every × fall + 2s, when a healthy backup is known)".to_owned()
            }
            WithdrawDelay::After(d) if d.is_zero() => "off (withdraw at once)".to_owned(),
            WithdrawDelay::After(d) => format!("{} (when a healthy backup is known)", display_duration(d)),
        };
        let _ = writeln!(out, "withdraw_delay: {withdraw}");
        let _ = writeln!(out, "hold_down: {}", display_duration(self.hold_down));
        let _ = writeln!(out, "ec2_calls_per_second: {}", self.ec2_calls_per_second);
        let _ = writeln!(out, "health checks ({}):", self.healthchecks.len());
        for hc in self.healthchecks.values() {
            let _ = writeln!(out, "  {}", describe_check(hc));
        }
        if !self.remote_healthchecks.is_empty() {
            let _ = writeln!(out, "remote health checks ({}):", self.remote_healthchecks.len());
            for hc in self.remote_healthchecks.values() {
                let _ = writeln!(out, "  {}", describe_check(hc));
            }
        }
        let _ = writeln!(out, "route tables ({}):", self.routetables.len());
        for rt in self.routetables.values() {
            let ok = if rt.no_results_ok {
                " (none found is ok)"
            } else {
                ""
            };
            let _ = writeln!(out, "  {}: tables where {}{}", rt.name, rt.find.describe(), ok);
            for r in &rt.manage_routes {
                let target = match &r.instance {
                    RouteTarget::This => "this instance".to_owned(),
                    RouteTarget::Instance(id) => id.clone(),
                };
                let mode = if r.if_unhealthy {
                    "backup: take over only if absent or its holder has failed"
                } else {
                    "claim"
                };
                let mut extras = Vec::new();
                match &r.healthcheck {
                    Some(h) => extras.push(format!("while {h} is healthy")),
                    None => extras.push("no health check".to_owned()),
                }
                if let Some(h) = &r.remote_healthcheck {
                    extras.push(format!("remote check {h} on the holder"));
                }
                if r.never_delete {
                    extras.push("never delete".to_owned());
                }
                let _ = writeln!(
                    out,
                    "    {} -> {} ({}; {})",
                    r.cidr,
                    target,
                    mode,
                    extras.join(", ")
                );
            }
        }
        out
    }
}

fn describe_check(hc: &Healthcheck) -> String {
    let dest = hc
        .destination
        .map(|d| d.to_string())
        .unwrap_or_else(|| "the route holder".to_owned());
    let detail = match &hc.check {
        CheckKind::Ping => format!("ping {dest}"),
        CheckKind::Tcp(t) => {
            let tls = if t.tls.is_some() { " over TLS" } else { "" };
            format!("tcp {dest}:{}{tls}", t.port)
        }
        CheckKind::Http(h) => {
            let scheme = match h.scheme {
                Scheme::Http => "http",
                Scheme::Https => "https",
            };
            format!("{} {scheme}://{dest}:{}{}", h.method, h.port, h.path)
        }
        CheckKind::Command(c) => format!("command {} {}", c.command, c.arguments.join(" ")),
    };
    format!(
        "{}: {} every {}, rise {}, fall {}, timeout {}",
        hc.name,
        detail.trim_end(),
        display_duration(hc.every),
        hc.rise,
        hc.fall,
        display_duration(hc.timeout)
    )
}
