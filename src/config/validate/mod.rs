//! Turns a parsed YAML tree into a [`Config`], collecting every problem on the way.
//!
//! Each method of [`Cx`] reads one part of the file, records what is wrong with it (unknown
//! keys with a suggestion, wrong types, bad values) and returns what it could build, or
//! `None`; it never stops at the first problem. This file holds the shared scalar readers and
//! the top level; `checks` reads health checks and `tables` route tables, whose references
//! to health checks are resolved once every check name is known.
//! Nothing here performs I/O except checking that a `certPath` file exists.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::duration;
use super::interpolate::{self, Vars};
use super::model::*;
use super::problem::{Problem, did_you_mean};
use super::yaml::{Key, Mark, Node, Value};

mod checks;
mod tables;

use tables::Refs;

/// Keys of the top level; each part of the file has its own set, used for unknown-key
/// errors and suggestions.
const TOP_KEYS: &[&str] = &[
    "poll_time",
    "fast_poll",
    "preempt_delay",
    "withdraw_delay",
    "hold_down",
    "ec2_calls_per_second",
    "healthchecks",
    "remote_healthchecks",
    "routetables",
];

/// Every key and type name the file format knows, for tools and tests (the fuzzer draws
/// documents from it).
pub fn vocabulary() -> Vec<&'static str> {
    let lists: [&[&str]; 12] = [
        TOP_KEYS,
        checks::CHECK_KEYS,
        checks::TCP_KEYS,
        checks::HTTP_KEYS,
        checks::COMMAND_KEYS,
        checks::CHECK_TYPES,
        tables::TABLE_KEYS,
        tables::FIND_KEYS,
        tables::FINDER_TYPES,
        tables::ROUTE_KEYS,
        &["filters", "key", "value", "regexp", "subnet_id", "cidr"],
        &["SELF", "off"],
    ];
    let mut out: Vec<&'static str> = lists.into_iter().flatten().copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How often a daemon that backs up a route reconciles between polls, unless configured.
const DEFAULT_FAST_POLL: Duration = Duration::from_secs(5);

/// EC2 requests per second all of a daemon's calls share, unless configured.
const DEFAULT_EC2_CALLS_PER_SECOND: u32 = 5;

/// Everything validation found: the config if there were no errors, plus warnings.
pub struct Outcome {
    pub config: Option<Config>,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// Validates a whole document.
pub fn validate(root: &Node, file: &str, vars: &Vars) -> Outcome {
    let mut cx = Cx {
        file,
        vars,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let config = cx.top(root);
    let config = if cx.errors.is_empty() { config } else { None };
    Outcome {
        config,
        errors: cx.errors,
        warnings: cx.warnings,
    }
}

pub(super) struct Cx<'a> {
    file: &'a str,
    vars: &'a Vars,
    pub(super) errors: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

/// The entries of a mapping that passed the unknown-key check.
pub(super) struct Fields<'n> {
    pub(super) mark: Mark,
    pub(super) entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }
}

pub(super) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Cx<'_> {
    pub(super) fn problem(&self, mark: Mark, path: &str, message: String, hint: Option<String>) -> Problem {
        Problem {
            file: self.file.to_owned(),
            mark,
            path: path.to_owned(),
            message,
            hint,
        }
    }

    pub(super) fn error(&mut self, mark: Mark, path: &str, message: impl Into<String>, hint: Option<String>) {
        let p = self.problem(mark, path, message.into(), hint);
        self.errors.push(p);
    }

    pub(super) fn warn(&mut self, mark: Mark, path: &str, message: impl Into<String>, hint: Option<String>) {
        let p = self.problem(mark, path, message.into(), hint);
        self.warnings.push(p);
    }

    /// A mapping whose keys must come from `allowed`. `what` names it in messages.
    pub(super) fn mapping<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            let got = node.value.kind();
            self.error(
                node.mark,
                path,
                format!("{what} must be a mapping, not {got}"),
                None,
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                self.unknown_key(key, path, allowed, what);
            }
        }
        Some(Fields {
            mark: node.mark,
            entries,
        })
    }

    pub(super) fn unknown_key(&mut self, key: &Key, path: &str, allowed: &[&str], what: &str) {
        let hint = match did_you_mean(&key.name, allowed.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("{what} accepts: {}", allowed.join(", ")),
        };
        self.error(
            key.mark,
            &child(path, &key.name),
            format!("unknown key `{}` in {what}", key.name),
            Some(hint),
        );
    }

    /// A map of user-named entries (health checks, route tables), in file order.
    pub(super) fn named_entries<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> &'n [(Key, Node)] {
        match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            other => {
                self.error(
                    node.mark,
                    path,
                    format!(
                        "{what} must be a mapping of names to definitions, not {}",
                        other.kind()
                    ),
                    None,
                );
                &[]
            }
        }
    }

    pub(super) fn interpolate(&mut self, text: &str, mark: Mark, path: &str) -> Option<String> {
        match interpolate::expand(text, self.vars) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error(mark, path, e.message, e.hint);
                None
            }
        }
    }

    /// A scalar rendered as text, interpolated. Numbers and booleans are accepted as their
    /// text (AWSnycast read check options as strings).
    pub(super) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => self.interpolate(s, node.mark, path),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.error(
                    node.mark,
                    path,
                    format!("expected a string, not {}", other.kind()),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn non_empty_string(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        if s.trim().is_empty() {
            self.error(node.mark, path, "must not be empty", None);
            return None;
        }
        Some(s)
    }

    pub(super) fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) => match self.interpolate(s, node.mark, path)?.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                other => {
                    self.error(
                        node.mark,
                        path,
                        format!("expected true or false, not {other:?}"),
                        None,
                    );
                    None
                }
            },
            other => {
                self.error(
                    node.mark,
                    path,
                    format!("expected true or false, not {}", other.kind()),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn integer(&mut self, node: &Node, path: &str) -> Option<i128> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Str(s) => {
                let text = self.interpolate(s, node.mark, path)?;
                match text.trim().parse::<i128>() {
                    Ok(i) => Some(i),
                    Err(_) => {
                        self.error(
                            node.mark,
                            path,
                            format!("expected a whole number, not {text:?}"),
                            None,
                        );
                        None
                    }
                }
            }
            other => {
                self.error(
                    node.mark,
                    path,
                    format!("expected a whole number, not {}", other.kind()),
                    None,
                );
                None
            }
        }
    }

    /// A positive count such as `rise` or `fall`.
    pub(super) fn count(&mut self, node: &Node, path: &str) -> Option<u32> {
        let i = self.integer(node, path)?;
        if !(1..=1_000_000).contains(&i) {
            self.error(node.mark, path, format!("must be at least 1 (got {i})"), None);
            return None;
        }
        u32::try_from(i).ok()
    }

    pub(super) fn port(&mut self, node: &Node, path: &str) -> Option<u16> {
        let i = self.integer(node, path)?;
        match u16::try_from(i) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.error(node.mark, path, format!("{i} is not a TCP port (1-65535)"), None);
                None
            }
        }
    }

    /// A positive duration: a number of seconds or text such as `500ms`.
    pub(super) fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        self.duration_or(node, path, "")
    }

    /// [`Self::duration`] for a key that also takes words (`words` names them for the hint,
    /// e.g. "`off`"); the caller has already handled those.
    fn duration_or(&mut self, node: &Node, path: &str, words: &str) -> Option<Duration> {
        let parsed = match &node.value {
            Value::Int(i) => duration::seconds(*i as f64),
            Value::Float(f) => duration::seconds(*f),
            Value::Str(s) => {
                let text = self.interpolate(s, node.mark, path)?;
                duration::parse(&text)
            }
            other => Err(format!(
                "expected a duration (e.g. 1, 500ms, 5m), not {}",
                other.kind()
            )),
        };
        match parsed {
            Ok(d) if d.is_zero() => {
                self.error(node.mark, path, "must be greater than zero", None);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    node.mark,
                    path,
                    e,
                    Some(if words.is_empty() {
                        "write seconds (300) or a unit: 500ms, 2s, 5m".into()
                    } else {
                        format!("write seconds (300), a unit (500ms, 2s, 5m), or {words}")
                    }),
                );
                None
            }
        }
    }

    /// A command line: a list of arguments (preferred) or one string split on whitespace.
    /// No shell is involved either way.
    pub(super) fn argv(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let argv = match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(self.string(item, &format!("{path}[{i}]"))?);
                }
                out
            }
            Value::Str(_) => {
                let s = self.string(node, path)?;
                s.split_whitespace().map(str::to_owned).collect()
            }
            other => {
                self.error(
                    node.mark,
                    path,
                    format!("expected a command (a list of arguments), not {}", other.kind()),
                    None,
                );
                return None;
            }
        };
        if argv.is_empty() || argv[0].is_empty() {
            self.error(node.mark, path, "the command is empty", None);
            return None;
        }
        Some(argv)
    }

    pub(super) fn ip(&mut self, node: &Node, path: &str) -> Option<IpAddr> {
        let s = self.string(node, path)?;
        match s.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if s.contains('/') {
                    Some("give a single address, without a prefix length".into())
                } else {
                    Some("health checks need an IP address, not a host name".into())
                };
                self.error(node.mark, path, format!("{s:?} is not an IP address"), hint);
                None
            }
        }
    }

    /// A CIDR block; a bare address means a host route (/32, or /128 for IPv6).
    pub(super) fn cidr(&mut self, node: &Node, path: &str) -> Option<IpNet> {
        let s = self.string(node, path)?;
        let s = s.trim();
        let net = if s.contains('/') {
            s.parse::<IpNet>().ok()
        } else {
            s.parse::<IpAddr>().ok().map(IpNet::from)
        };
        let Some(net) = net else {
            self.error(
                node.mark,
                path,
                format!("{s:?} is not a CIDR block"),
                Some("write an address with a prefix length, e.g. 192.168.1.1/32 or 0.0.0.0/0".into()),
            );
            return None;
        };
        if net.trunc() != net {
            self.error(
                node.mark,
                path,
                format!("{s} has host bits set; EC2 only accepts network addresses"),
                Some(format!("did you mean {}?", net.trunc())),
            );
            return None;
        }
        Some(net)
    }

    // ---- the document ---------------------------------------------------------------

    pub(super) fn top(&mut self, root: &Node) -> Option<Config> {
        if root.value == Value::Null {
            self.error(
                root.mark,
                "",
                "the configuration file is empty",
                Some("see examples/awsnycast.yaml for a starting point".into()),
            );
            return None;
        }
        let fields = self.mapping(root, "", TOP_KEYS, "the top level")?;
        let poll_time = match fields.get("poll_time") {
            Some(n) => self.duration(n, "poll_time"),
            None => Some(Duration::from_secs(300)),
        };
        let fast_poll = match fields.get("fast_poll") {
            None => Some(Some(DEFAULT_FAST_POLL)),
            Some(n) if matches!(&n.value, Value::Str(s) if s == "off") || n.value == Value::Bool(false) => {
                Some(None)
            }
            Some(n) => self.duration_or(n, "fast_poll", "`off`").map(Some),
        };
        let preempt_delay = match fields.get("preempt_delay") {
            None => Some(Duration::ZERO),
            Some(n) if n.value == Value::Int(0) => Some(Duration::ZERO),
            Some(n) => self.duration(n, "preempt_delay"),
        };
        let withdraw_delay = match fields.get("withdraw_delay") {
            None => Some(WithdrawDelay::Auto),
            Some(n) if matches!(&n.value, Value::Str(s) if s == "auto") => Some(WithdrawDelay::Auto),
            Some(n)
                if matches!(&n.value, Value::Str(s) if s == "off")
                    || n.value == Value::Bool(false)
                    || n.value == Value::Int(0) =>
            {
                Some(WithdrawDelay::After(Duration::ZERO))
            }
            Some(n) => self
                .duration_or(n, "withdraw_delay", "`auto`, `off`")
                .map(WithdrawDelay::After),
        };
        let hold_down = match fields.get("hold_down") {
            None => Some(Duration::ZERO),
            Some(n) if n.value == Value::Int(0) => Some(Duration::ZERO),
            Some(n) => self.duration(n, "hold_down"),
        };
        let ec2_calls_per_second = match fields.get("ec2_calls_per_second") {
            None => Some(DEFAULT_EC2_CALLS_PER_SECOND),
            Some(n) => self
                .integer(n, "ec2_calls_per_second")
                .and_then(|i| match u32::try_from(i) {
                    Ok(v) if (1..=100).contains(&v) => Some(v),
                    _ => {
                        self.error(
                            n.mark,
                            "ec2_calls_per_second",
                            format!("{i} is out of range (1 to 100)"),
                            Some("EC2 throttles accounts well below 100 mutating calls per second".into()),
                        );
                        None
                    }
                }),
        };

        let mut healthchecks = BTreeMap::new();
        if let Some(node) = fields.get("healthchecks") {
            for (key, def) in self.named_entries(node, "healthchecks", "healthchecks") {
                let path = child("healthchecks", &key.name);
                if let Some(hc) = self.healthcheck(&key.name, def, &path, false) {
                    healthchecks.insert(key.name.clone(), hc);
                }
            }
        }
        let mut remote_healthchecks = BTreeMap::new();
        if let Some(node) = fields.get("remote_healthchecks") {
            for (key, def) in self.named_entries(node, "remote_healthchecks", "remote_healthchecks") {
                let path = child("remote_healthchecks", &key.name);
                if let Some(hc) = self.healthcheck(&key.name, def, &path, true) {
                    remote_healthchecks.insert(key.name.clone(), hc);
                }
            }
        }
        // Names of checks that exist but failed validation: references to them are not
        // reported again as "undefined".
        let defined_local: Vec<String> = fields
            .get("healthchecks")
            .map(|n| self.names_of(n))
            .unwrap_or_default();
        let defined_remote: Vec<String> = fields
            .get("remote_healthchecks")
            .map(|n| self.names_of(n))
            .unwrap_or_default();

        let mut routetables = BTreeMap::new();
        match fields.get("routetables") {
            None => self.error(
                fields.mark,
                "routetables",
                "no `routetables` section: there is nothing to manage",
                Some("add routetables with a `find` and `manage_routes`; see examples/awsnycast.yaml".into()),
            ),
            Some(node) => {
                let entries = self.named_entries(node, "routetables", "routetables");
                if entries.is_empty() && matches!(node.value, Value::Map(_) | Value::Null) {
                    self.error(node.mark, "routetables", "no route tables are defined", None);
                }
                for (key, def) in entries {
                    let path = child("routetables", &key.name);
                    let refs = Refs {
                        local: &defined_local,
                        remote: &defined_remote,
                    };
                    if let Some(rt) = self.route_table(&key.name, def, &path, &refs) {
                        routetables.insert(key.name.clone(), rt);
                    }
                }
            }
        }
        Some(Config {
            poll_time: poll_time?,
            fast_poll: fast_poll?,
            preempt_delay: preempt_delay?,
            withdraw_delay: withdraw_delay?,
            hold_down: hold_down?,
            ec2_calls_per_second: ec2_calls_per_second?,
            healthchecks,
            remote_healthchecks,
            routetables,
        })
    }

    pub(super) fn names_of(&self, node: &Node) -> Vec<String> {
        match &node.value {
            Value::Map(entries) => entries.iter().map(|(k, _)| k.name.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

/// An optional key's outcome: absent is fine (`Some(None)`), present and valid is
/// `Some(Some(v))`, present and invalid (already reported) is `None`.
pub(super) fn settled<T>(key: Option<Option<T>>) -> Option<Option<T>> {
    match key {
        None => Some(None),
        Some(None) => None,
        Some(Some(v)) => Some(Some(v)),
    }
}
