//! Validation of route tables: finders, managed routes and their references to health checks.

use ipnet::IpNet;

use super::super::model::*;
use super::super::problem::did_you_mean;
use super::super::yaml::{Node, Value};
use super::{Cx, Fields, child, settled};

pub(super) const TABLE_KEYS: &[&str] = &["find", "manage_routes"];
pub(super) const FIND_KEYS: &[&str] = &["type", "not", "no_results_ok", "config"];
pub(super) const FINDER_TYPES: &[&str] = &[
    "by_tag",
    "by_tag_regexp",
    "and",
    "or",
    "main",
    "subnet",
    "has_route_to",
];
pub(super) const ROUTE_KEYS: &[&str] = &[
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

impl Cx<'_> {
    // ---- route tables ---------------------------------------------------------------

    pub(super) fn route_table(
        &mut self,
        name: &str,
        node: &Node,
        path: &str,
        refs: &Refs,
    ) -> Option<RouteTable> {
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
                self.error(
                    node.mark,
                    &routes_path,
                    "a route table needs `manage_routes`",
                    Some(hint),
                );
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
                    self.error(
                        n.mark,
                        &routes_path,
                        format!("`manage_routes` must be a list, not {}", other.kind()),
                        None,
                    );
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
    pub(super) fn find_spec(&mut self, node: &Node, path: &str, top: bool) -> Option<(Finder, bool)> {
        let f = self.mapping(node, path, FIND_KEYS, "a route table finder")?;
        let not = f
            .get("not")
            .map_or(Some(false), |n| self.bool(n, &child(path, "not")));
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
                    self.error(
                        n.mark,
                        &type_path,
                        format!("unknown finder type `{t}`"),
                        Some(hint),
                    );
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
                let c = self.mapping(
                    config,
                    &config_path,
                    &["key", "value"],
                    "a by_tag finder's config",
                )?;
                let key = self.required_string(&c, "key", &config_path, "by_tag");
                let value = self.required_string(&c, "value", &config_path, "by_tag");
                Finder::ByTag {
                    key: key?,
                    value: value?,
                }
            }
            "by_tag_regexp" => {
                let c = self.mapping(
                    config,
                    &config_path,
                    &["key", "regexp"],
                    "a by_tag_regexp finder's config",
                )?;
                let key = self.required_string(&c, "key", &config_path, "by_tag_regexp");
                let re = self.required_string(&c, "regexp", &config_path, "by_tag_regexp");
                let re = match re {
                    Some(text) => match regex::Regex::new(&text) {
                        Ok(re) => Some(re),
                        Err(e) => {
                            let n = c.get("regexp").unwrap_or(config);
                            let detail = e.to_string();
                            let last = detail.lines().last().unwrap_or("").trim().to_owned();
                            self.error(
                                n.mark,
                                &child(&config_path, "regexp"),
                                format!("invalid regexp {text:?}: {last}"),
                                None,
                            );
                            None
                        }
                    },
                    None => None,
                };
                Finder::ByTagRegexp {
                    key: key?,
                    regexp: re?,
                }
            }
            t @ ("and" | "or") => {
                // AWSnycast reads `config: {filters: [...]}`; its README also shows the list
                // directly under `config`. Both mean the same; accept both.
                let list = match &config.value {
                    Value::Seq(_) => Some((config, config_path.clone())),
                    _ => {
                        let c = self.mapping(
                            config,
                            &config_path,
                            &["filters"],
                            &format!("an {t} finder's config"),
                        )?;
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
                    self.error(
                        list.mark,
                        &list_path,
                        format!("`filters` must be a list, not {}", list.value.kind()),
                        None,
                    );
                    return None;
                };
                if items.is_empty() {
                    self.error(
                        list.mark,
                        &list_path,
                        format!("an `{t}` finder needs at least one filter"),
                        None,
                    );
                    return None;
                }
                let mut filters = Some(Vec::new());
                for (i, item) in items.iter().enumerate() {
                    match (
                        self.find_spec(item, &format!("{list_path}[{i}]"), false),
                        filters.as_mut(),
                    ) {
                        (Some((finder, _)), Some(v)) => v.push(finder),
                        _ => filters = None,
                    }
                }
                if t == "and" {
                    Finder::And(filters?)
                } else {
                    Finder::Or(filters?)
                }
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
                    self.error(
                        n.mark,
                        &child(&config_path, "subnet_id"),
                        format!("{id:?} is not a subnet id (subnet-...)"),
                        None,
                    );
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
                        self.error(
                            config.mark,
                            &child(&config_path, "cidr"),
                            "a has_route_to finder needs `cidr`",
                            None,
                        );
                        return None;
                    }
                }
            }
            // `kind` only holds names from FINDER_TYPES.
            _ => return None,
        };
        let finder = if not? {
            Finder::Not(Box::new(finder))
        } else {
            finder
        };
        Some((finder, no_results_ok?))
    }

    pub(super) fn required_string(
        &mut self,
        f: &Fields,
        key: &str,
        path: &str,
        finder: &str,
    ) -> Option<String> {
        match f.get(key) {
            Some(n) => self.non_empty_string(n, &child(path, key)),
            None => {
                self.error(
                    f.mark,
                    &child(path, key),
                    format!("a {finder} finder needs `{key}`"),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn managed_route(&mut self, node: &Node, path: &str, refs: &Refs) -> Option<ManagedRoute> {
        let f = self.mapping(node, path, ROUTE_KEYS, "a managed route")?;
        let cidr = match f.get("cidr") {
            Some(n) => self.cidr(n, &child(path, "cidr")),
            None => {
                self.error(
                    node.mark,
                    &child(path, "cidr"),
                    "a managed route needs `cidr`",
                    None,
                );
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
                    self.error(
                        n.mark,
                        &child(path, "instance"),
                        format!("{s:?} is not SELF or an instance id"),
                        Some(hint),
                    );
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
        let if_unhealthy = f
            .get("if_unhealthy")
            .map_or(Some(false), |n| self.bool(n, &child(path, "if_unhealthy")));
        let never_delete = f
            .get("never_delete")
            .map_or(Some(false), |n| self.bool(n, &child(path, "never_delete")));
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
    pub(super) fn reference(&mut self, node: &Node, path: &str, refs: &Refs, remote: bool) -> Option<String> {
        let name = self.non_empty_string(node, path)?;
        let (own, other, section, other_section) = if remote {
            (refs.remote, refs.local, "remote_healthchecks", "healthchecks")
        } else {
            (refs.local, refs.remote, "healthchecks", "remote_healthchecks")
        };
        if own.contains(&name) {
            return Some(name);
        }
        let hint = if other.contains(&name) {
            format!("{name:?} is defined under {other_section}, but this key refers to {section}")
        } else {
            match did_you_mean(&name, own.iter().map(String::as_str)) {
                Some(s) => format!("did you mean {s:?}?"),
                None if own.is_empty() => format!("no {section} are defined"),
                None => format!("defined {section}: {}", own.join(", ")),
            }
        };
        let what = if remote {
            "remote health check"
        } else {
            "health check"
        };
        self.error(
            node.mark,
            path,
            format!("no {what} named {name:?} is defined"),
            Some(hint),
        );
        None
    }
}

pub(super) struct Refs<'a> {
    pub(super) local: &'a [String],
    pub(super) remote: &'a [String],
}

fn node_has_key(node: &Node, key: &str) -> bool {
    matches!(&node.value, Value::Map(entries) if entries.iter().any(|(k, _)| k.name == key))
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}
