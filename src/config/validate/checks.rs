//! Validation of health checks and remote health-check templates, and their per-type options.

use std::path::PathBuf;
use std::time::Duration;

use super::super::model::*;
use super::super::problem::did_you_mean;
use super::super::yaml::{Key, Node, Value};
use super::{Cx, Fields, child, settled};

pub(super) const CHECK_KEYS: &[&str] = &[
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
pub(super) const TCP_KEYS: &[&str] = &[
    "port",
    "send",
    "expect",
    "ssl",
    "cert",
    "certPath",
    "skipVerify",
    "serverName",
];
pub(super) const HTTP_KEYS: &[&str] = &[
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
pub(super) const COMMAND_KEYS: &[&str] = &["command", "arguments"];
pub(super) const CHECK_TYPES: &[&str] = &["ping", "tcp", "http", "command"];

impl Cx<'_> {
    // ---- health checks --------------------------------------------------------------

    pub(super) fn healthcheck(
        &mut self,
        name: &str,
        node: &Node,
        path: &str,
        remote: bool,
    ) -> Option<Healthcheck> {
        let what = if remote {
            "a remote health check"
        } else {
            "a health check"
        };
        // AWSnycast's README showed tcp options (send, expect) beside `type`; accept that
        // shape with a warning rather than break configs copied from it.
        let Value::Map(entries) = &node.value else {
            self.error(
                node.mark,
                path,
                format!("{what} must be a mapping, not {}", node.value.kind()),
                None,
            );
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
                        self.error(
                            n.mark,
                            &child(path, "type"),
                            format!("unknown health check type `{t}`"),
                            Some(hint),
                        );
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
        let rise = fields
            .get("rise")
            .map_or(Some(2), |n| self.count(n, &child(path, "rise")));
        let fall = fields
            .get("fall")
            .map_or(Some(3), |n| self.count(n, &child(path, "fall")));
        let every = fields.get("every").map_or(Some(Duration::from_secs(1)), |n| {
            self.duration(n, &child(path, "every"))
        });
        let timeout = settled(
            fields
                .get("timeout")
                .map(|n| self.duration(n, &child(path, "timeout"))),
        );
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
                other => self.error(
                    cfg.mark,
                    &config_path,
                    format!("`config` must be a mapping, not {}", other.kind()),
                    None,
                ),
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
                // A command whose options are broken: we cannot tell whether it needs one.
                None => type_name.as_deref().is_some_and(|t| t != "command"),
            };
            if needs {
                self.error(
                    node.mark,
                    &child(path, "destination"),
                    format!(
                        "{what} of type {} needs a `destination` IP address",
                        type_name.as_deref().unwrap_or("?")
                    ),
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

    pub(super) fn ping_options(&mut self, node: &Node, path: &str) -> Option<CheckKind> {
        self.mapping(node, path, &[], "a ping check's config")?;
        Some(CheckKind::Ping)
    }

    pub(super) fn tls_options(&mut self, f: &Fields, path: &str) -> Option<TlsOptions> {
        let cert = f
            .get("cert")
            .map(|n| self.non_empty_string(n, &child(path, "cert")));
        let cert_path = f
            .get("certPath")
            .map(|n| self.non_empty_string(n, &child(path, "certPath")));
        let skip_verify = f
            .get("skipVerify")
            .map_or(Some(false), |n| self.bool(n, &child(path, "skipVerify")));
        let server_name = f
            .get("serverName")
            .map(|n| self.non_empty_string(n, &child(path, "serverName")));
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
                        Some(
                            "paste the CA certificate including its BEGIN/END lines, or use certPath".into(),
                        ),
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

    pub(super) fn tcp_options(&mut self, node: &Node, path: &str, remote: bool) -> Option<CheckKind> {
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
        let expect = f
            .get("expect")
            .and_then(|n| self.string(n, &child(path, "expect")));
        let ssl = f
            .get("ssl")
            .map_or(Some(false), |n| self.bool(n, &child(path, "ssl")));
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

    pub(super) fn http_options(&mut self, node: &Node, path: &str) -> Option<CheckKind> {
        let f = self.mapping(node, path, HTTP_KEYS, "an http check's config")?;
        let scheme = match f.get("scheme") {
            None => Some(Scheme::Http),
            Some(n) => match self.string(n, &child(path, "scheme")).as_deref() {
                Some("http") => Some(Scheme::Http),
                Some("https") => Some(Scheme::Https),
                Some(other) => {
                    self.error(
                        n.mark,
                        &child(path, "scheme"),
                        format!("scheme must be http or https, not {other:?}"),
                        None,
                    );
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
                    self.error(
                        n.mark,
                        &child(path, "path"),
                        format!("path {p:?} must start with /"),
                        None,
                    );
                    None
                }
                None => None,
            },
        };
        let method = match f.get("method") {
            None => Some("GET".to_owned()),
            Some(n) => match self.string(n, &child(path, "method")) {
                Some(m) if !m.is_empty() && m.chars().all(|c| c.is_ascii_alphabetic()) => {
                    Some(m.to_ascii_uppercase())
                }
                Some(m) => {
                    self.error(
                        n.mark,
                        &child(path, "method"),
                        format!("{m:?} is not an HTTP method"),
                        None,
                    );
                    None
                }
                None => None,
            },
        };
        let expect_status = match f.get("expect_status") {
            None => Some(vec![(200, 299)]),
            Some(n) => self.status_ranges(n, &child(path, "expect_status")),
        };
        let expect_body = f
            .get("expect_body")
            .and_then(|n| self.string(n, &child(path, "expect_body")));
        let host = f
            .get("host")
            .and_then(|n| self.non_empty_string(n, &child(path, "host")));
        let timeout = settled(
            f.get("timeout")
                .map(|n| self.duration(n, &child(path, "timeout"))),
        );
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
    pub(super) fn status_ranges(&mut self, node: &Node, path: &str) -> Option<Vec<(u16, u16)>> {
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
                d.parse::<u16>()
                    .ok()
                    .filter(|d| (1..=5).contains(d))
                    .map(|d| (d * 100, d * 100 + 99))
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

    pub(super) fn command_options(&mut self, node: &Node, path: &str) -> Option<CheckKind> {
        let f = self.mapping(node, path, COMMAND_KEYS, "a command check's config")?;
        let command = match f.get("command") {
            Some(n) => self.non_empty_string(n, &child(path, "command")),
            None => {
                self.error(
                    node.mark,
                    &child(path, "command"),
                    "a command check needs a `command`",
                    None,
                );
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
}
