//! Turns a parsed YAML tree into a [`Config`], collecting every problem on the way.
//!
//! Each `*_spec` function reads one part of the file, reports what is wrong with it (unknown
//! keys with a suggestion, wrong types, bad values) and returns what it could build. The
//! cross-references (routes → health checks) are checked last, once all checks are known.
//! Nothing here performs I/O except checking that a `certPath` file exists.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::duration;
use super::interpolate::{self, Vars};
use super::model::*;
use super::problem::{Problem, did_you_mean};
use super::yaml::{Key, Mark, Node, Value};

/// The key sets, one per mapping kind; used for unknown-key errors and suggestions.
const TOP_KEYS: &[&str] = &["poll_time", "healthchecks", "remote_healthchecks", "routetables"];
const CHECK_KEYS: &[&str] = &[
    "type",
    "destination",
    "rise",
    "fall",
    "every",
    "timeout",
    "config",
    "run_on_healthy",
    "run_on_unhealthy",
];
const TCP_KEYS: &[&str] = &[
    "port",
    "send",
    "expect",
    "ssl",
    "cert",
    "certPath",
    "skipVerify",
    "serverName",
];
const HTTP_KEYS: &[&str] = &[
    "port",
    "scheme",
    "path",
    "method",
    "expect_status",
    "expect_body",
    "host",
    "timeout",
    "cert",
    "certPath",
    "skipVerify",
    "serverName",
];
const COMMAND_KEYS: &[&str] = &["command", "arguments"];
const CHECK_TYPES: &[&str] = &["ping", "tcp", "http", "command"];
const TABLE_KEYS: &[&str] = &["find", "manage_routes"];
const FIND_KEYS: &[&str] = &["type", "not", "no_results_ok", "config"];
const FINDER_TYPES: &[&str] = &["by_tag", "by_tag_regexp", "and", "or", "main", "subnet", "has_route_to"];
const ROUTE_KEYS: &[&str] = &[
    "cidr",
    "instance",
    "healthcheck",
    "remote_healthcheck",
    "if_unhealthy",
    "never_delete",
    "run_before_replace_route",
    "run_after_replace_route",
    "run_before_delete_route",
    "run_after_delete_route",
];

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

struct Cx<'a> {
    file: &'a str,
    vars: &'a Vars,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

/// The entries of a mapping that passed the unknown-key check.
struct Fields<'n> {
    mark: Mark,
    entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Cx<'_> {
    fn problem(&self, mark: Mark, path: &str, message: String, hint: Option<String>) -> Problem {
        Problem {
            file: self.file.to_owned(),
            mark,
            path: path.to_owned(),
            message,
            hint,
        }
    }

    fn error(&mut self, mark: Mark, path: &str, message: impl Into<String>, hint: Option<String>) {
        let p = self.problem(mark, path, message.into(), hint);
        self.errors.push(p);
    }

    fn warn(&mut self, mark: Mark, path: &str, message: impl Into<String>, hint: Option<String>) {
        let p = self.problem(mark, path, message.into(), hint);
        self.warnings.push(p);
    }

    /// A mapping whose keys must come from `allowed`. `what` names it in messages.
    fn mapping<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str], what: &str) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            let got = node.value.kind();
            self.error(node.mark, path, format!("{what} must be a mapping, not {got}"), None);
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

    fn unknown_key(&mut self, key: &Key, path: &str, allowed: &[&str], what: &str) {
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
    fn named_entries<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> &'n [(Key, Node)] {
        match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            other => {
                self.error(
                    node.mark,
                    path,
                    format!("{what} must be a mapping of names to definitions, not {}", other.kind()),
                    None,
                );
                &[]
            }
        }
    }

    fn interpolate(&mut self, text: &str, mark: Mark, path: &str) -> Option<String> {
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
    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => self.interpolate(s, node.mark, path),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.error(node.mark, path, format!("expected a string, not {}", other.kind()), None);
                None
            }
        }
    }

    fn non_empty_string(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        if s.trim().is_empty() {
            self.error(node.mark, path, "must not be empty", None);
            return None;
        }
        Some(s)
    }

    fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) => match self.interpolate(s, node.mark, path)?.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                other => {
                    self.error(node.mark, path, format!("expected true or false, not {other:?}"), None);
                    None
                }
            },
            other => {
                self.error(node.mark, path, format!("expected true or false, not {}", other.kind()), None);
                None
            }
        }
    }

    fn integer(&mut self, node: &Node, path: &str) -> Option<i128> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Str(s) => {
                let text = self.interpolate(s, node.mark, path)?;
                match text.trim().parse::<i128>() {
                    Ok(i) => Some(i),
                    Err(_) => {
                        self.error(node.mark, path, format!("expected a whole number, not {text:?}"), None);
                        None
                    }
                }
            }
            other => {
                self.error(node.mark, path, format!("expected a whole number, not {}", other.kind()), None);
                None
            }
        }
    }

    /// A positive count such as `rise` or `fall`.
    fn count(&mut self, node: &Node, path: &str) -> Option<u32> {
        let i = self.integer(node, path)?;
        if i < 1 || i > 1_000_000 {
            self.error(node.mark, path, format!("must be at least 1 (got {i})"), None);
            return None;
        }
        u32::try_from(i).ok()
    }

    fn port(&mut self, node: &Node, path: &str) -> Option<u16> {
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
    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let parsed = match &node.value {
            Value::Int(i) => duration::seconds(*i as f64),
            Value::Float(f) => duration::seconds(*f),
            Value::Str(s) => {
                let text = self.interpolate(s, node.mark, path)?;
                duration::parse(&text)
            }
            other => Err(format!("expected a duration (e.g. 1, 500ms, 5m), not {}", other.kind())),
        };
        match parsed {
            Ok(d) if d.is_zero() => {
                self.error(node.mark, path, "must be greater than zero", None);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node.mark, path, e, Some("write seconds (300) or a unit: 500ms, 2s, 5m".into()));
                None
            }
        }
    }

    /// A command line: a list of arguments (preferred) or one string split on whitespace.
    /// No shell is involved either way.
    fn argv(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
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

    fn ip(&mut self, node: &Node, path: &str) -> Option<IpAddr> {
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
    fn cidr(&mut self, node: &Node, path: &str) -> Option<IpNet> {
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

    fn top(&mut self, root: &Node) -> Option<Config> {
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
            healthchecks,
            remote_healthchecks,
            routetables,
        })
    }

    fn names_of(&self, node: &Node) -> Vec<String> {
        match &node.value {
            Value::Map(entries) => entries.iter().map(|(k, _)| k.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    // ---- health checks --------------------------------------------------------------

    fn healthcheck(&mut self, name: &str, node: &Node, path: &str, remote: bool) -> Option<Healthcheck> {
        let what = if remote { "a remote health check" } else { "a health check" };
        // AWSnycast's README showed tcp options (send, expect) beside `type`; accept that
        // shape with a warning rather than break configs copied from it.
        let Value::Map(entries) = &node.value else {
            self.error(node.mark, path, format!("{what} must be a mapping, not {}", node.value.kind()), None);
            return None;
        };
        let mut hoisted: Vec<&(Key, Node)> = Vec::new();
        let mut known: Vec<(Key, Node)> = Vec::new();
        for entry in entries {
            if CHECK_KEYS.contains(&entry.0.name.as_str()) {
                known.push(entry.clone());
            } else if TCP_KEYS.contains(&entry.0.name.as_str())
                || HTTP_KEYS.contains(&entry.0.name.as_str())
                || COMMAND_KEYS.contains(&entry.0.name.as_str())
            {
                hoisted.push(entry);
            } else {
                self.unknown_key(&entry.0, path, CHECK_KEYS, what);
            }
        }
        let fields = Fields {
            mark: node.mark,
            entries: &known,
        };

        let type_node = fields.get("type");
        let type_name = match type_node {
            None => {
                self.error(
                    node.mark,
                    &child(path, "type"),
                    format!("{what} needs a `type`"),
                    Some(format!("one of: {}", CHECK_TYPES.join(", "))),
                );
                None
            }
            Some(n) => {
                let t = self.string(n, &child(path, "type"));
                match t {
                    Some(t) if CHECK_TYPES.contains(&t.as_str()) => Some(t),
                    Some(t) => {
                        let hint = match did_you_mean(&t, CHECK_TYPES.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("one of: {}", CHECK_TYPES.join(", ")),
                        };
                        self.error(n.mark, &child(path, "type"), format!("unknown health check type `{t}`"), Some(hint));
                        None
                    }
                    None => None,
                }
            }
        };

        let destination = match (fields.get("destination"), remote) {
            (Some(n), true) => {
                self.error(
                    n.mark,
                    &child(path, "destination"),
                    "a remote health check must not have a destination",
                    Some("remote checks run against whichever instance currently holds the route; remove `destination`".into()),
                );
                None
            }
            (Some(n), false) => self.ip(n, &child(path, "destination")),
            (None, _) => None,
        };
        let rise = fields.get("rise").map_or(Some(2), |n| self.count(n, &child(path, "rise")));
        let fall = fields.get("fall").map_or(Some(3), |n| self.count(n, &child(path, "fall")));
        let every = fields
            .get("every")
            .map_or(Some(Duration::from_secs(1)), |n| self.duration(n, &child(path, "every")));
        let timeout = settled(fields.get("timeout").map(|n| self.duration(n, &child(path, "timeout"))));
        let run_on_healthy = fields
            .get("run_on_healthy")
            .map(|n| self.argv(n, &child(path, "run_on_healthy")));
        let run_on_unhealthy = fields
            .get("run_on_unhealthy")
            .map(|n| self.argv(n, &child(path, "run_on_unhealthy")));

        // The type's own options: from `config`, plus any written beside `type`.
        let config_path = child(path, "config");
        let mut options: Vec<(Key, Node)> = Vec::new();
        if let Some(cfg) = fields.get("config") {
            match &cfg.value {
                Value::Map(entries) => options.extend(entries.iter().cloned()),
                Value::Null => {}
                other => self.error(cfg.mark, &config_path, format!("`config` must be a mapping, not {}", other.kind()), None),
            }
        }
        for (key, value) in hoisted {
            if options.iter().any(|(k, _)| k.name == key.name) {
                self.error(
                    key.mark,
                    &child(path, &key.name),
                    format!("`{}` is given both here and under `config`", key.name),
                    Some("keep only the one under `config`".into()),
                );
                continue;
            }
            self.warn(
                key.mark,
                &child(path, &key.name),
                format!("`{}` belongs under `config:`", key.name),
                Some(format!("move it to {}", child(&config_path, &key.name))),
            );
            options.push((key.clone(), value.clone()));
        }
        let options_node = Node {
            mark: fields.get("config").map_or(node.mark, |n| n.mark),
            value: Value::Map(options),
        };

        let check = match type_name.as_deref() {
            Some("ping") => self.ping_options(&options_node, &config_path),
            Some("tcp") => self.tcp_options(&options_node, &config_path, remote),
            Some("http") => self.http_options(&options_node, &config_path),
            Some("command") => self.command_options(&options_node, &config_path),
            _ => None,
        };

        // A destination is needed by every type except a command that does not use it.
        if !remote && destination.is_none() && fields.get("destination").is_none() {
            let needs = match &check {
                Some(CheckKind::Command(c)) => c.uses_destination(),
                Some(_) => true,
                None => type_name.is_some(),
            };
            if needs {
                self.error(
                    node.mark,
                    &child(path, "destination"),
                    format!("{what} of type {} needs a `destination` IP address", type_name.as_deref().unwrap_or("?")),
                    None,
                );
            }
        }

        let every = every?;
        let config_timeout = match &check {
            Some(CheckKind::Http(h)) => h.timeout,
            _ => None,
        };
        if let (Some(_), Some(n)) = (config_timeout, fields.get("timeout")) {
            self.error(
                n.mark,
                &child(path, "timeout"),
                "timeout is set both here and under `config`",
                Some("keep one of them".into()),
            );
        }
        let timeout = match timeout?.or(config_timeout) {
            Some(t) => t,
            // Leave a run some room before the next one starts.
            None => every.mul_f64(0.8).min(Duration::from_secs(10)),
        };
        if timeout > every {
            self.warn(
                fields.get("timeout").map_or(node.mark, |n| n.mark),
                &child(path, "timeout"),
                "timeout is longer than `every`; runs will be spaced by the timeout",
                None,
            );
        }
        Some(Healthcheck {
            name: name.to_owned(),
            check: check?,
            destination,
            rise: rise?,
            fall: fall?,
            every,
            timeout,
            run_on_healthy: settled(run_on_healthy)?,
            run_on_unhealthy: settled(run_on_unhealthy)?,
        })
    }

    fn ping_options(&mut self, node: &Node, path: &str) -> Option<CheckKind> {
        self.mapping(node, path, &[], "a ping check's config")?;
        Some(CheckKind::Ping)
    }

    fn tls_options(&mut self, f: &Fields, path: &str) -> Option<TlsOptions> {
        let cert = f.get("cert").map(|n| self.non_empty_string(n, &child(path, "cert")));
        let cert_path = f.get("certPath").map(|n| self.non_empty_string(n, &child(path, "certPath")));
        let skip_verify = f
            .get("skipVerify")
            .map_or(Some(false), |n| self.bool(n, &child(path, "skipVerify")));
        let server_name = f.get("serverName").map(|n| self.non_empty_string(n, &child(path, "serverName")));
        let ca = match (cert, cert_path) {
            (Some(_), Some(_)) => {
                self.error(
                    f.get("certPath").map_or(f.mark, |n| n.mark),
                    &child(path, "certPath"),
                    "give either `cert` (PEM text) or `certPath` (a file), not both",
                    None,
                );
                return None;
            }
            (Some(pem), None) => {
                let pem = pem?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    self.error(
                        f.get("cert").map_or(f.mark, |n| n.mark),
                        &child(path, "cert"),
                        "`cert` does not contain a PEM certificate",
                        Some("paste the CA certificate including its BEGIN/END lines, or use certPath".into()),
                    );
                    return None;
                }
                Some(CaSource::Inline(pem))
            }
            (None, Some(file)) => {
                let file = PathBuf::from(file?);
                if !file.is_file() {
                    self.error(
                        f.get("certPath").map_or(f.mark, |n| n.mark),
                        &child(path, "certPath"),
                        format!("CA file {} does not exist or is not a file", file.display()),
                        None,
                    );
                    return None;
                }
                Some(CaSource::File(file))
            }
            (None, None) => None,
        };
        Some(TlsOptions {
            ca,
            skip_verify: skip_verify?,
            server_name: server_name.flatten(),
        })
    }

    fn tcp_options(&mut self, node: &Node, path: &str, remote: bool) -> Option<CheckKind> {
        let f = self.mapping(node, path, TCP_KEYS, "a tcp check's config")?;
        let port = match f.get("port") {
            Some(n) => self.port(n, &child(path, "port")),
            None => {
                let what = if remote { "remote tcp check" } else { "tcp check" };
                self.error(
                    node.mark,
                    &child(path, "port"),
                    format!("a {what} needs a `port`"),
                    Some(format!("add `port: NUMBER` under {path}")),
                );
                None
            }
        };
        let send = f.get("send").and_then(|n| self.string(n, &child(path, "send")));
        let expect = f.get("expect").and_then(|n| self.string(n, &child(path, "expect")));
        let ssl = f.get("ssl").map_or(Some(false), |n| self.bool(n, &child(path, "ssl")));
        let tls = self.tls_options(&f, path);
        let ssl = ssl?;
        if !ssl {
            for key in ["cert", "certPath", "skipVerify", "serverName"] {
                if let Some(n) = f.get(key) {
                    self.error(
                        n.mark,
                        &child(path, key),
                        format!("`{key}` only applies to TLS checks"),
                        Some("add `ssl: true` to check over TLS".into()),
                    );
                }
            }
        }
        Some(CheckKind::Tcp(TcpCheck {
            port: port?,
            send,
            expect,
            tls: if ssl { Some(tls?) } else { None },
        }))
    }

    fn http_options(&mut self, node: &Node, path: &str) -> Option<CheckKind> {
        let f = self.mapping(node, path, HTTP_KEYS, "an http check's config")?;
        let scheme = match f.get("scheme") {
            None => Some(Scheme::Http),
            Some(n) => match self.string(n, &child(path, "scheme")).as_deref() {
                Some("http") => Some(Scheme::Http),
                Some("https") => Some(Scheme::Https),
                Some(other) => {
                    self.error(n.mark, &child(path, "scheme"), format!("scheme must be http or https, not {other:?}"), None);
                    None
                }
                None => None,
            },
        };
        let port = f.get("port").map(|n| self.port(n, &child(path, "port")));
        let http_path = match f.get("path") {
            None => Some("/".to_owned()),
            Some(n) => match self.string(n, &child(path, "path")) {
                Some(p) if p.starts_with('/') => Some(p),
                Some(p) => {
                    self.error(n.mark, &child(path, "path"), format!("path {p:?} must start with /"), None);
                    None
                }
                None => None,
            },
        };
        let method = match f.get("method") {
            None => Some("GET".to_owned()),
            Some(n) => match self.string(n, &child(path, "method")) {
                Some(m) if !m.is_empty() && m.chars().all(|c| c.is_ascii_alphabetic()) => Some(m.to_ascii_uppercase()),
                Some(m) => {
                    self.error(n.mark, &child(path, "method"), format!("{m:?} is not an HTTP method"), None);
                    None
                }
                None => None,
            },
        };
        let expect_status = match f.get("expect_status") {
            None => Some(vec![(200, 299)]),
            Some(n) => self.status_ranges(n, &child(path, "expect_status")),
        };
        let expect_body = f.get("expect_body").and_then(|n| self.string(n, &child(path, "expect_body")));
        let host = f.get("host").and_then(|n| self.non_empty_string(n, &child(path, "host")));
        let timeout = settled(f.get("timeout").map(|n| self.duration(n, &child(path, "timeout"))));
        let tls = self.tls_options(&f, path);
        let scheme = scheme?;
        if scheme == Scheme::Http {
            for key in ["cert", "certPath", "skipVerify", "serverName"] {
                if let Some(n) = f.get(key) {
                    self.error(
                        n.mark,
                        &child(path, key),
                        format!("`{key}` only applies to https checks"),
                        Some("add `scheme: https`".into()),
                    );
                }
            }
        }
        let port = match port {
            Some(p) => p?,
            None if scheme == Scheme::Https => 443,
            None => 80,
        };
        Some(CheckKind::Http(HttpCheck {
            scheme,
            port,
            path: http_path?,
            method: method?,
            expect_status: expect_status?,
            expect_body,
            host,
            tls: tls?,
            timeout: timeout?,
        }))
    }

    /// `200`, `[200, 204]`, `"2xx"`, `"200-299"` or a list mixing them.
    fn status_ranges(&mut self, node: &Node, path: &str) -> Option<Vec<(u16, u16)>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) if !items.is_empty() => items.iter().collect(),
            Value::Seq(_) => {
                self.error(node.mark, path, "list of status codes is empty", None);
                return None;
            }
            _ => vec![node],
        };
        let mut out = Vec::new();
        for item in items {
            let text = self.string(item, path)?;
            let t = text.trim().to_ascii_lowercase();
            let range = if let Some(d) = t.strip_suffix("xx") {
                d.parse::<u16>().ok().filter(|d| (1..=5).contains(d)).map(|d| (d * 100, d * 100 + 99))
            } else if let Some((a, b)) = t.split_once('-') {
                match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                    (Ok(a), Ok(b)) if a <= b => Some((a, b)),
                    _ => None,
                }
            } else {
                t.parse::<u16>().ok().map(|c| (c, c))
            };
            match range {
                Some((a, b)) if (100..=599).contains(&a) && (100..=599).contains(&b) => out.push((a, b)),
                _ => {
                    self.error(
                        item.mark,
                        path,
                        format!("{text:?} is not an HTTP status"),
                        Some("write a code (200), a class (2xx), a range (200-299) or a list of them".into()),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn command_options(&mut self, node: &Node, path: &str) -> Option<CheckKind> {
        let f = self.mapping(node, path, COMMAND_KEYS, "a command check's config")?;
        let command = match f.get("command") {
            Some(n) => self.non_empty_string(n, &child(path, "command")),
            None => {
                self.error(node.mark, &child(path, "command"), "a command check needs a `command`", None);
                None
            }
        };
        let arguments = match f.get("arguments") {
            None => Some(Vec::new()),
            Some(n) => match &n.value {
                Value::Seq(items) => {
                    let mut out = Some(Vec::new());
                    for (i, item) in items.iter().enumerate() {
                        let a = self.string(item, &format!("{}[{i}]", child(path, "arguments")));
                        match (a, out.as_mut()) {
                            (Some(a), Some(v)) => v.push(a),
                            _ => out = None,
                        }
                    }
                    out
                }
                other => {
                    self.error(
                        n.mark,
                        &child(path, "arguments"),
                        format!("`arguments` must be a list, not {}", other.kind()),
                        Some("write arguments: [\"-c\", \"1\", \"%DESTINATION%\"]".into()),
                    );
                    None
                }
            },
        };
        Some(CheckKind::Command(CommandCheck {
            command: command?,
            arguments: arguments?,
        }))
    }

    // ---- route tables ---------------------------------------------------------------

    fn route_table(&mut self, name: &str, node: &Node, path: &str, refs: &Refs) -> Option<RouteTable> {
        let f = self.mapping(node, path, TABLE_KEYS, "a route table")?;
        let find = match f.get("find") {
            Some(n) => self.find_spec(n, &child(path, "find"), true),
            None => {
                self.error(
                    node.mark,
                    &child(path, "find"),
                    "a route table needs `find` to say which EC2 route tables it means",
                    Some("e.g. find: {type: by_tag, config: {key: Name, value: private-a}}".into()),
                );
                None
            }
        };
        let routes_path = child(path, "manage_routes");
        let mut routes = Some(Vec::new());
        match f.get("manage_routes") {
            None => {
                let hint = if node_has_key(node, "upsert_routes") {
                    "`upsert_routes` was renamed `manage_routes`".to_owned()
                } else {
                    "add manage_routes: [{cidr: 0.0.0.0/0, healthcheck: NAME}]".to_owned()
                };
                self.error(node.mark, &routes_path, "a route table needs `manage_routes`", Some(hint));
                routes = None;
            }
            Some(n) => match &n.value {
                Value::Seq(items) if !items.is_empty() => {
                    let mut seen: Vec<(IpNet, usize)> = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{routes_path}[{i}]");
                        match self.managed_route(item, &item_path, refs) {
                            Some(r) => {
                                if let Some((_, first)) = seen.iter().find(|(c, _)| *c == r.cidr) {
                                    self.error(
                                        item.mark,
                                        &child(&item_path, "cidr"),
                                        format!("{} is already managed by {routes_path}[{first}]", r.cidr),
                                        Some("one route table can hold one route per CIDR; merge the two entries".into()),
                                    );
                                }
                                seen.push((r.cidr, i));
                                if let Some(v) = routes.as_mut() {
                                    v.push(r)
                                }
                            }
                            None => routes = None,
                        }
                    }
                }
                Value::Seq(_) | Value::Null => {
                    self.error(n.mark, &routes_path, "`manage_routes` is empty", None);
                    routes = None;
                }
                other => {
                    self.error(n.mark, &routes_path, format!("`manage_routes` must be a list, not {}", other.kind()), None);
                    routes = None;
                }
            },
        }
        let (find, no_results_ok) = find?;
        Some(RouteTable {
            name: name.to_owned(),
            find,
            no_results_ok,
            manage_routes: routes?,
        })
    }

    /// A finder; `top` is false for filters nested in and/or.
    fn find_spec(&mut self, node: &Node, path: &str, top: bool) -> Option<(Finder, bool)> {
        let f = self.mapping(node, path, FIND_KEYS, "a route table finder")?;
        let not = f.get("not").map_or(Some(false), |n| self.bool(n, &child(path, "not")));
        let no_results_ok = match f.get("no_results_ok") {
            Some(n) if !top => {
                self.error(
                    n.mark,
                    &child(path, "no_results_ok"),
                    "`no_results_ok` only applies to a route table's top-level `find`",
                    None,
                );
                None
            }
            Some(n) => self.bool(n, &child(path, "no_results_ok")),
            None => Some(false),
        };
        let type_path = child(path, "type");
        let kind = match f.get("type") {
            None => {
                self.error(
                    node.mark,
                    &type_path,
                    "a finder needs a `type`",
                    Some(format!("one of: {}", FINDER_TYPES.join(", "))),
                );
                None
            }
            Some(n) => match self.string(n, &type_path) {
                Some(t) if FINDER_TYPES.contains(&t.as_str()) => Some(t),
                Some(t) => {
                    let hint = match did_you_mean(&t, FINDER_TYPES.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("one of: {}", FINDER_TYPES.join(", ")),
                    };
                    self.error(n.mark, &type_path, format!("unknown finder type `{t}`"), Some(hint));
                    None
                }
                None => None,
            },
        };
        let config_path = child(path, "config");
        let empty = Node {
            mark: node.mark,
            value: Value::Map(Vec::new()),
        };
        let config = f.get("config").unwrap_or(&empty);
        let finder = match kind.as_deref()? {
            "by_tag" => {
                let c = self.mapping(config, &config_path, &["key", "value"], "a by_tag finder's config")?;
                let key = self.required_string(&c, "key", &config_path, "by_tag");
                let value = self.required_string(&c, "value", &config_path, "by_tag");
                Finder::ByTag { key: key?, value: value? }
            }
            "by_tag_regexp" => {
                let c = self.mapping(config, &config_path, &["key", "regexp"], "a by_tag_regexp finder's config")?;
                let key = self.required_string(&c, "key", &config_path, "by_tag_regexp");
                let re = self.required_string(&c, "regexp", &config_path, "by_tag_regexp");
                let re = match re {
                    Some(text) => match regex::Regex::new(&text) {
                        Ok(re) => Some(re),
                        Err(e) => {
                            let n = c.get("regexp").unwrap_or(config);
                            let detail = e.to_string();
                            let last = detail.lines().last().unwrap_or("").trim().to_owned();
                            self.error(n.mark, &child(&config_path, "regexp"), format!("invalid regexp {text:?}: {last}"), None);
                            None
                        }
                    },
                    None => None,
                };
                Finder::ByTagRegexp { key: key?, regexp: re? }
            }
            t @ ("and" | "or") => {
                // AWSnycast reads `config: {filters: [...]}`; its README also shows the list
                // directly under `config`. Both mean the same; accept both.
                let list = match &config.value {
                    Value::Seq(_) => Some((config, config_path.clone())),
                    _ => {
                        let c = self.mapping(config, &config_path, &["filters"], &format!("an {t} finder's config"))?;
                        match c.get("filters") {
                            Some(n) => Some((n, child(&config_path, "filters"))),
                            None => {
                                self.error(
                                    config.mark,
                                    &child(&config_path, "filters"),
                                    format!("an `{t}` finder needs `filters`: a list of finders"),
                                    None,
                                );
                                None
                            }
                        }
                    }
                };
                let (list, list_path) = list?;
                let Value::Seq(items) = &list.value else {
                    self.error(list.mark, &list_path, format!("`filters` must be a list, not {}", list.value.kind()), None);
                    return None;
                };
                if items.is_empty() {
                    self.error(list.mark, &list_path, format!("an `{t}` finder needs at least one filter"), None);
                    return None;
                }
                let mut filters = Some(Vec::new());
                for (i, item) in items.iter().enumerate() {
                    match (self.find_spec(item, &format!("{list_path}[{i}]"), false), filters.as_mut()) {
                        (Some((finder, _)), Some(v)) => v.push(finder),
                        _ => filters = None,
                    }
                }
                if t == "and" { Finder::And(filters?) } else { Finder::Or(filters?) }
            }
            "main" => {
                self.mapping(config, &config_path, &[], "a main finder's config")?;
                Finder::Main
            }
            "subnet" => {
                let c = self.mapping(config, &config_path, &["subnet_id"], "a subnet finder's config")?;
                let id = self.required_string(&c, "subnet_id", &config_path, "subnet")?;
                if !id.starts_with("subnet-") {
                    let n = c.get("subnet_id").unwrap_or(config);
                    self.error(n.mark, &child(&config_path, "subnet_id"), format!("{id:?} is not a subnet id (subnet-...)"), None);
                    return None;
                }
                Finder::Subnet { subnet_id: id }
            }
            "has_route_to" => {
                let c = self.mapping(config, &config_path, &["cidr"], "a has_route_to finder's config")?;
                match c.get("cidr") {
                    Some(n) => Finder::HasRouteTo {
                        cidr: self.cidr(n, &child(&config_path, "cidr"))?,
                    },
                    None => {
                        self.error(config.mark, &child(&config_path, "cidr"), "a has_route_to finder needs `cidr`", None);
                        return None;
                    }
                }
            }
            // `kind` only holds names from FINDER_TYPES.
            _ => return None,
        };
        let finder = if not? { Finder::Not(Box::new(finder)) } else { finder };
        Some((finder, no_results_ok?))
    }

    fn required_string(&mut self, f: &Fields, key: &str, path: &str, finder: &str) -> Option<String> {
        match f.get(key) {
            Some(n) => self.non_empty_string(n, &child(path, key)),
            None => {
                self.error(f.mark, &child(path, key), format!("a {finder} finder needs `{key}`"), None);
                None
            }
        }
    }

    fn managed_route(&mut self, node: &Node, path: &str, refs: &Refs) -> Option<ManagedRoute> {
        let f = self.mapping(node, path, ROUTE_KEYS, "a managed route")?;
        let cidr = match f.get("cidr") {
            Some(n) => self.cidr(n, &child(path, "cidr")),
            None => {
                self.error(node.mark, &child(path, "cidr"), "a managed route needs `cidr`", None);
                None
            }
        };
        let instance = match f.get("instance") {
            None => Some(RouteTarget::This),
            Some(n) => match self.string(n, &child(path, "instance")) {
                Some(s) if s == "SELF" => Some(RouteTarget::This),
                Some(s) if is_instance_id(&s) => Some(RouteTarget::Instance(s)),
                Some(s) => {
                    let hint = if s.eq_ignore_ascii_case("self") {
                        "write SELF in capitals".to_owned()
                    } else {
                        "use SELF (this instance) or an instance id such as i-0123456789abcdef0".to_owned()
                    };
                    self.error(n.mark, &child(path, "instance"), format!("{s:?} is not SELF or an instance id"), Some(hint));
                    None
                }
                None => None,
            },
        };
        let healthcheck = f
            .get("healthcheck")
            .map(|n| self.reference(n, &child(path, "healthcheck"), refs, false));
        let remote = f
            .get("remote_healthcheck")
            .map(|n| self.reference(n, &child(path, "remote_healthcheck"), refs, true));
        let if_unhealthy = f.get("if_unhealthy").map_or(Some(false), |n| self.bool(n, &child(path, "if_unhealthy")));
        let never_delete = f.get("never_delete").map_or(Some(false), |n| self.bool(n, &child(path, "never_delete")));
        let mut hook = |key: &str| f.get(key).map(|n| self.argv(n, &child(path, key)));
        let before_replace = hook("run_before_replace_route");
        let after_replace = hook("run_after_replace_route");
        let before_delete = hook("run_before_delete_route");
        let after_delete = hook("run_after_delete_route");
        Some(ManagedRoute {
            cidr: cidr?,
            instance: instance?,
            healthcheck: settled(healthcheck)?,
            remote_healthcheck: settled(remote)?,
            if_unhealthy: if_unhealthy?,
            never_delete: never_delete?,
            run_before_replace_route: settled(before_replace)?,
            run_after_replace_route: settled(after_replace)?,
            run_before_delete_route: settled(before_delete)?,
            run_after_delete_route: settled(after_delete)?,
        })
    }

    /// A reference to a (remote) health check by name; `None` when it does not resolve
    /// (and the problem has been reported).
    fn reference(&mut self, node: &Node, path: &str, refs: &Refs, remote: bool) -> Option<String> {
        let name = self.non_empty_string(node, path)?;
        let (own, other, section, other_section) = if remote {
            (refs.remote, refs.local, "remote_healthchecks", "healthchecks")
        } else {
            (refs.local, refs.remote, "healthchecks", "remote_healthchecks")
        };
        if own.iter().any(|n| *n == name) {
            return Some(name);
        }
        let hint = if other.iter().any(|n| *n == name) {
            format!("{name:?} is defined under {other_section}, but this key refers to {section}")
        } else {
            match did_you_mean(&name, own.iter().map(String::as_str)) {
                Some(s) => format!("did you mean {s:?}?"),
                None if own.is_empty() => format!("no {section} are defined"),
                None => format!("defined {section}: {}", own.join(", ")),
            }
        };
        let what = if remote { "remote health check" } else { "health check" };
        self.error(node.mark, path, format!("no {what} named {name:?} is defined"), Some(hint));
        None
    }
}

/// An optional key's outcome: absent is fine (`Some(None)`), present and valid is
/// `Some(Some(v))`, present and invalid (already reported) is `None`.
fn settled<T>(key: Option<Option<T>>) -> Option<Option<T>> {
    match key {
        None => Some(None),
        Some(None) => None,
        Some(Some(v)) => Some(Some(v)),
    }
}

struct Refs<'a> {
    local: &'a [String],
    remote: &'a [String],
}

fn node_has_key(node: &Node, key: &str) -> bool {
    matches!(&node.value, Value::Map(entries) if entries.iter().any(|(k, _)| k.name == key))
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}
