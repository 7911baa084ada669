//! Table-driven tests of config validation: every invalid case names the exact key, and one
//! file with several mistakes reports all of them. Pure: no servers.

use awsnycast::config::{CheckKind, ConfigErrors, Document, Finder, RouteTarget, Vars};

const FILE: &str = "test.yaml";

/// A minimal valid config; `{HC}` and `{ROUTE}` are replaced by the case under test.
const BASE: &str = "
healthchecks:
  public:
    type: ping
    destination: 127.0.0.1
{HC}
routetables:
  a:
    find:
      type: by_tag
      config: {key: Name, value: private-a}
    manage_routes:
      - cidr: 0.0.0.0/0
        healthcheck: public
{ROUTE}
";

fn vars() -> Vars {
    let mut v = Vars::default();
    v.identity.insert("az".into(), "eu-west-1a".into());
    v.identity.insert("region".into(), "eu-west-1".into());
    v.identity
        .insert("instance_id".into(), "i-0123456789abcdef0".into());
    v.identity.insert("vpc_id".into(), "vpc-0a1b2c3d".into());
    v.env.insert("SERVICE_CIDR".into(), "10.9.9.9/32".into());
    v
}

fn load(text: &str) -> Result<awsnycast::config::Loaded, ConfigErrors> {
    Document::parse(text, FILE)?.build(&vars())
}

fn errors_of(text: &str) -> ConfigErrors {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn each_invalid_case_names_its_key() {
    // (what is wrong, yaml to insert as an extra health check, yaml to insert as an extra
    //  route, expected YAML path, expected text in the message or hint)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "misspelt route key",
            "",
            "      - cidr: 10.0.0.0/24\n        if_unhealty: true",
            "routetables.a.manage_routes[1].if_unhealty",
            "did you mean `if_unhealthy`?",
        ),
        (
            "misspelt health check key",
            "  web:\n    type: ping\n    destination: 127.0.0.1\n    fal: 3",
            "",
            "healthchecks.web.fal",
            "did you mean `fall`?",
        ),
        (
            "undefined health check",
            "",
            "      - cidr: 10.0.0.0/24\n        healthcheck: publc",
            "routetables.a.manage_routes[1].healthcheck",
            "did you mean \"public\"?",
        ),
        (
            "undefined remote health check",
            "",
            "      - cidr: 10.0.0.0/24\n        remote_healthcheck: public",
            "routetables.a.manage_routes[1].remote_healthcheck",
            "defined under healthchecks",
        ),
        (
            "bad cidr",
            "",
            "      - cidr: 10.0.0.300/32",
            "routetables.a.manage_routes[1].cidr",
            "is not a CIDR block",
        ),
        (
            "cidr with host bits",
            "",
            "      - cidr: 10.0.0.1/24",
            "routetables.a.manage_routes[1].cidr",
            "did you mean 10.0.0.0/24?",
        ),
        (
            "duplicate cidr in one table",
            "",
            "      - cidr: 0.0.0.0/0",
            "routetables.a.manage_routes[1].cidr",
            "already managed by routetables.a.manage_routes[0]",
        ),
        (
            "unknown check type",
            "  web:\n    type: htpp\n    destination: 127.0.0.1",
            "",
            "healthchecks.web.type",
            "did you mean `http`?",
        ),
        (
            "remote check with a destination",
            "remote_healthchecks:\n  svc:\n    type: ping\n    destination: 127.0.0.1",
            "",
            "remote_healthchecks.svc.destination",
            "must not have a destination",
        ),
        (
            "tcp check without a port",
            "  web:\n    type: tcp\n    destination: 127.0.0.1",
            "",
            "healthchecks.web.config.port",
            "needs a `port`",
        ),
        (
            "tcp port out of range",
            "  web:\n    type: tcp\n    destination: 127.0.0.1\n    config: {port: 70000}",
            "",
            "healthchecks.web.config.port",
            "is not a TCP port",
        ),
        (
            "rise of zero",
            "  web:\n    type: ping\n    destination: 127.0.0.1\n    rise: 0",
            "",
            "healthchecks.web.rise",
            "at least 1",
        ),
        (
            "fall of zero",
            "  web:\n    type: ping\n    destination: 127.0.0.1\n    fall: 0",
            "",
            "healthchecks.web.fall",
            "at least 1",
        ),
        (
            "every of zero",
            "  web:\n    type: ping\n    destination: 127.0.0.1\n    every: 0",
            "",
            "healthchecks.web.every",
            "greater than zero",
        ),
        (
            "every with a bad unit",
            "  web:\n    type: ping\n    destination: 127.0.0.1\n    every: 5 parsecs",
            "",
            "healthchecks.web.every",
            "unknown unit",
        ),
        (
            "destination that is a host name",
            "  web:\n    type: ping\n    destination: example.com",
            "",
            "healthchecks.web.destination",
            "not an IP address",
        ),
        (
            "missing destination",
            "  web:\n    type: ping",
            "",
            "healthchecks.web.destination",
            "needs a `destination`",
        ),
        (
            "invalid regexp",
            "",
            "",
            "routetables.b.find.config.regexp",
            "invalid regexp",
        ),
        (
            "unknown finder type",
            "",
            "",
            "routetables.c.find.type",
            "did you mean `by_tag`?",
        ),
        (
            "bad instance",
            "",
            "      - cidr: 10.0.0.0/24\n        instance: self",
            "routetables.a.manage_routes[1].instance",
            "write SELF in capitals",
        ),
        (
            "tls option without ssl",
            "  web:\n    type: tcp\n    destination: 127.0.0.1\n    config: {port: 443, skipVerify: true}",
            "",
            "healthchecks.web.config.skipVerify",
            "ssl: true",
        ),
        (
            "http status that is not a status",
            "  web:\n    type: http\n    destination: 127.0.0.1\n    config: {expect_status: 2xy}",
            "",
            "healthchecks.web.config.expect_status",
            "not an HTTP status",
        ),
        (
            "command check without a command",
            "  cmd:\n    type: command\n    config: {arguments: [x]}",
            "",
            "healthchecks.cmd.config.command",
            "needs a `command`",
        ),
        (
            "unknown identity variable",
            "",
            "      - cidr: 10.0.0.0/24\n        instance: \"{{ instance }}\"",
            "routetables.a.manage_routes[1].instance",
            "did you mean {{ instance_id }}?",
        ),
        (
            "unset environment variable",
            "",
            "      - cidr: ${NOT_SET_ANYWHERE}",
            "routetables.a.manage_routes[1].cidr",
            "NOT_SET_ANYWHERE is not set",
        ),
        (
            "never_delete that is not a boolean",
            "",
            "      - cidr: 10.0.0.0/24\n        never_delete: sometimes",
            "routetables.a.manage_routes[1].never_delete",
            "expected true or false",
        ),
    ];
    for (what, hc, route, path, text) in cases {
        let mut yaml = BASE.replace("{HC}", hc).replace("{ROUTE}", route);
        // A few cases need a second route table rather than a line in the first.
        if *what == "invalid regexp" {
            yaml.push_str("  b:\n    find: {type: by_tag_regexp, config: {key: Name, regexp: \"private-(a\"}}\n    manage_routes: [{cidr: 0.0.0.0/0}]\n");
        }
        if *what == "unknown finder type" {
            yaml.push_str("  c:\n    find: {type: by_tga, config: {key: Name, value: x}}\n    manage_routes: [{cidr: 0.0.0.0/0}]\n");
        }
        if hc.starts_with("remote_healthchecks") {
            yaml = yaml.replace(&format!("{hc}\n"), "");
            yaml.push_str(hc);
            yaml.push('\n');
        }
        let errors = errors_of(&yaml);
        let found = errors.problems.iter().find(|p| p.path == *path);
        let Some(problem) = found else {
            panic!("{what}: no problem at {path}; got:\n{errors}");
        };
        let rendered = problem.to_string();
        assert!(
            rendered.contains(text),
            "{what}: expected {text:?} in:\n{rendered}"
        );
        assert!(problem.mark.line > 0, "{what}: no line number in {rendered}");
        assert!(
            rendered.starts_with(&format!("{FILE}:{}:", problem.mark.line)),
            "{rendered}"
        );
        assert_eq!(
            errors.problems.len(),
            1,
            "{what}: expected exactly one problem, got:\n{errors}"
        );
    }
}

#[test]
fn several_mistakes_are_all_reported_with_lines() {
    let yaml = "\
poll_time: 0
healthchecks:
  public:
    type: ping
    destination: 8.8.8.8
    rise: 0
  web:
    type: tcp
    destination: 127.0.0.1
routetables:
  a:
    find:
      type: by_tag
      config: {key: Name}
    manage_routes:
      - cidr: 10.0.0.0/33
        healthcheck: pubic
        if_unhealty: true
";
    let errors = errors_of(yaml);
    let got: Vec<(u32, &str)> = errors
        .problems
        .iter()
        .map(|p| (p.mark.line, p.path.as_str()))
        .collect();
    let want = [
        (1, "poll_time"),
        (6, "healthchecks.public.rise"),
        (8, "healthchecks.web.config.port"),
        (14, "routetables.a.find.config.value"),
        (16, "routetables.a.manage_routes[0].cidr"),
        (17, "routetables.a.manage_routes[0].healthcheck"),
        (18, "routetables.a.manage_routes[0].if_unhealty"),
    ];
    for w in want {
        assert!(got.contains(&w), "missing {w:?} in:\n{errors}");
    }
    assert_eq!(got.len(), want.len(), "unexpected extra problems:\n{errors}");
    // The rendered report starts with the count, then one line per problem.
    let text = errors.to_string();
    assert!(text.starts_with("7 errors in configuration:"), "{text}");
}

#[test]
fn readme_example_verbatim_fails_only_where_awsnycast_also_fails() {
    // AWSnycast's README example has tcp checks without a port, which AWSnycast itself
    // rejects; everything else in it (the list under an `and` finder, tcp options beside
    // `type`) loads. We report exactly the two missing ports.
    let text = include_str!("fixtures/awsnycast-readme-verbatim.yaml");
    let errors = errors_of(text);
    let paths: Vec<&str> = errors.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "healthchecks.localservice.config.port",
            "remote_healthchecks.service.config.port"
        ],
        "{errors}"
    );
    // With the ports added, the same file loads, with warnings about where send/expect go.
    let fixed = text.replace(
        "        send: HEAD / HTTP/1.0",
        "        port: 80\n        send: HEAD / HTTP/1.0",
    );
    let loaded = load(&fixed).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.path == "healthchecks.localservice.send"
                && w.hint.as_deref() == Some("move it to healthchecks.localservice.config.send")),
        "{:?}",
        loaded.warnings
    );
    let cfg = loaded.config;
    assert_eq!(cfg.routetables.len(), 2);
    let CheckKind::Tcp(tcp) = &cfg.healthchecks["localservice"].check else {
        panic!("localservice is a tcp check")
    };
    assert_eq!(tcp.port, 80);
    assert_eq!(tcp.send.as_deref(), Some("HEAD / HTTP/1.0"));
    assert_eq!(tcp.expect.as_deref(), Some("200 OK"));
}

#[test]
fn shipped_example_loads_with_defaults_and_interpolation() {
    let loaded = load(include_str!("../examples/awsnycast.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let cfg = loaded.config;
    assert_eq!(cfg.poll_time.as_secs(), 300);
    let public = &cfg.healthchecks["public"];
    assert_eq!((public.rise, public.fall, public.every.as_secs()), (2, 10, 1));
    let our = &cfg.routetables["our_az"];
    let Finder::And(filters) = &our.find else {
        panic!("our_az is an and finder")
    };
    assert!(matches!(&filters[0], Finder::ByTag { key, value } if key == "az" && value == "eu-west-1a"));
    let Finder::And(filters) = &cfg.routetables["other_azs"].find else {
        panic!("and")
    };
    assert!(
        matches!(&filters[0], Finder::Not(inner) if matches!(&**inner, Finder::ByTag { value, .. } if value == "eu-west-1a"))
    );
    let nat = &our.manage_routes[0];
    assert_eq!(nat.cidr.to_string(), "0.0.0.0/0");
    assert_eq!(nat.instance, RouteTarget::This);
    assert!(nat.never_delete && !nat.if_unhealthy);
    let backup = &cfg.routetables["other_azs"].manage_routes[1];
    assert!(backup.if_unhealthy);
    assert_eq!(backup.remote_healthcheck.as_deref(), Some("service"));
    let summary = cfg.summary();
    assert!(
        summary.contains("our_az: tables where (tag az = eu-west-1a) and (tag type = private)")
            || summary.contains("our_az: tables where tag az = eu-west-1a and tag type = private"),
        "{summary}"
    );
    assert!(
        summary.contains("192.168.1.1/32 -> this instance (backup"),
        "{summary}"
    );
}

#[test]
fn every_key_and_type_is_accepted() {
    let yaml = r#"
poll_time: 5m
healthchecks:
  ping6: {type: ping, destination: "::1", every: 500ms, timeout: 400ms}
  tls:
    type: tcp
    destination: 127.0.0.1
    config: {port: 443, ssl: true, skipVerify: true, serverName: svc.internal, send: "PING\n", expect: PONG}
  web:
    type: http
    destination: 127.0.0.1
    run_on_healthy: [logger, web is up]
    run_on_unhealthy: logger web is down
    config:
      port: 8080
      scheme: https
      path: /health
      method: head
      expect_status: [200, 3xx, 401-403]
      expect_body: ok
      host: web.internal
      timeout: 2s
      cert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  cmd:
    type: command
    destination: 127.0.0.1
    config: {command: /bin/true, arguments: ["%DESTINATION%"]}
  local_cmd:
    type: command
    config: {command: /bin/true}
remote_healthchecks:
  peer: {type: http, config: {path: /}}
routetables:
  everything:
    find:
      type: or
      no_results_ok: true
      config:
        filters:
          - {type: main}
          - {type: subnet, config: {subnet_id: subnet-0123abcd}}
          - {type: has_route_to, config: {cidr: 192.168.0.0/16}}
          - {type: by_tag_regexp, not: true, config: {key: Name, regexp: "^public-"}}
    manage_routes:
      - cidr: 192.168.1.1
        instance: i-0123456789abcdef0
        healthcheck: web
        remote_healthcheck: peer
        if_unhealthy: "true"
        run_before_replace_route: [/usr/local/bin/before, replace]
        run_after_replace_route: [/usr/local/bin/after, replace]
        run_before_delete_route: [/usr/local/bin/before, delete]
        run_after_delete_route: [/usr/local/bin/after, delete]
      - cidr: ${SERVICE_CIDR}
        instance: "{{ instance_id }}"
      - cidr: "2001:db8::1"
"#;
    let loaded = load(yaml).unwrap_or_else(|e| panic!("{e}"));
    let cfg = loaded.config;
    assert_eq!(cfg.poll_time.as_secs(), 300);
    assert_eq!(cfg.healthchecks["ping6"].timeout.as_millis(), 400);
    let CheckKind::Http(http) = &cfg.healthchecks["web"].check else {
        panic!("http")
    };
    assert_eq!(http.method, "HEAD");
    assert_eq!(http.expect_status, vec![(200, 200), (300, 399), (401, 403)]);
    assert_eq!(cfg.healthchecks["web"].timeout.as_secs(), 2);
    assert_eq!(
        cfg.healthchecks["web"].run_on_unhealthy.as_deref(),
        Some(&["logger".to_string(), "web".into(), "is".into(), "down".into()][..])
    );
    let CheckKind::Http(peer) = &cfg.remote_healthchecks["peer"].check else {
        panic!("http")
    };
    assert_eq!(peer.port, 80);
    let table = &cfg.routetables["everything"];
    assert!(table.no_results_ok);
    let routes = &table.manage_routes;
    assert_eq!(routes[0].cidr.to_string(), "192.168.1.1/32");
    assert!(routes[0].if_unhealthy);
    assert_eq!(routes[1].cidr.to_string(), "10.9.9.9/32");
    assert_eq!(
        routes[1].instance,
        RouteTarget::Instance("i-0123456789abcdef0".into())
    );
    assert_eq!(routes[2].cidr.to_string(), "2001:db8::1/128");
}

#[test]
fn yaml_errors_are_reported_with_a_line_and_a_hint_for_braces() {
    let errors = errors_of(
        "routetables:\n  a:\n    find:\n      type: by_tag\n      config: {key: az, value: {{ az }}}\n",
    );
    let p = &errors.problems[0];
    assert!(p.message.starts_with("invalid YAML"), "{errors}");
    assert_eq!(p.mark.line, 5, "{errors}");
    assert!(
        p.hint.as_deref().unwrap_or("").contains("must be quoted"),
        "{errors}"
    );
}

#[test]
fn structural_mistakes() {
    let cases: &[(&str, &str)] = &[
        ("", "the configuration file is empty"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("healthchecks: {}\n", "no `routetables` section"),
        (
            "routetables:\n  a:\n    find: {type: main}\n    upsert_routes: []\n",
            "`upsert_routes` was renamed `manage_routes`",
        ),
        (
            "routetables:\n  a:\n    find: {type: and, config: {filters: []}}\n    manage_routes: [{cidr: 0.0.0.0/0}]\n",
            "needs at least one filter",
        ),
        (
            "routetables:\n  a:\n    find: {type: and, config: {filters: [{type: main, no_results_ok: true}]}}\n    manage_routes: [{cidr: 0.0.0.0/0}]\n",
            "only applies to a route table's top-level",
        ),
        (
            "routetables:\n  a:\n    manage_routes: [{cidr: 0.0.0.0/0}]\n",
            "needs `find`",
        ),
        (
            "routetables:\n  a:\n    find: {type: main}\n    manage_routes: []\n",
            "`manage_routes` is empty",
        ),
    ];
    for (yaml, text) in cases {
        let errors = errors_of(yaml);
        assert!(
            errors.to_string().contains(text),
            "expected {text:?} for {yaml:?}, got:\n{errors}"
        );
    }
}

#[test]
fn every_shipped_example_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let doc = Document::read(&path).unwrap_or_else(|e| panic!("{e}"));
        doc.build(&vars())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 2, "expected the shipped examples in {}", dir.display());
}

/// The base config with `line` added at the top level.
fn with(line: &str) -> Result<awsnycast::config::Loaded, ConfigErrors> {
    load(
        &BASE
            .replace("{HC}", "")
            .replace("{ROUTE}", "")
            .replacen("\n", &format!("\n{line}\n"), 1),
    )
}

#[test]
fn fast_poll_defaults_parses_and_turns_off() {
    let cfg = with("").unwrap_or_else(|e| panic!("{e}")).config;
    assert_eq!(cfg.fast_poll, Some(std::time::Duration::from_secs(5)));
    let cfg = with("fast_poll: 500ms").unwrap_or_else(|e| panic!("{e}")).config;
    assert_eq!(cfg.fast_poll, Some(std::time::Duration::from_millis(500)));
    assert_eq!(
        with("fast_poll: off")
            .unwrap_or_else(|e| panic!("{e}"))
            .config
            .fast_poll,
        None
    );
    let err = with("fast_poll: 0").expect_err("zero is not an interval");
    assert_eq!(err.problems[0].path, "fast_poll");
    let err = with("fast_pol: 1s").expect_err("misspelt");
    assert!(err.to_string().contains("did you mean `fast_poll`?"), "{err}");
}

#[test]
fn preempt_delay_and_ec2_budget() {
    let cfg = with("").unwrap_or_else(|e| panic!("{e}")).config;
    assert_eq!(
        (cfg.preempt_delay, cfg.ec2_calls_per_second),
        (std::time::Duration::ZERO, 5)
    );
    let cfg = with("preempt_delay: 30s\nec2_calls_per_second: 2")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!((cfg.preempt_delay.as_secs(), cfg.ec2_calls_per_second), (30, 2));
    for bad in [
        "ec2_calls_per_second: 0",
        "ec2_calls_per_second: 1000",
        "ec2_calls_per_second: fast",
    ] {
        let err = with(bad).expect_err(bad);
        assert_eq!(err.problems[0].path, "ec2_calls_per_second", "{err}");
    }
    let err = with("preempt_delay: soon").expect_err("not a duration");
    assert_eq!(err.problems[0].path, "preempt_delay");
}

#[test]
fn withdraw_delay_defaults_to_auto_and_parses() {
    use awsnycast::config::WithdrawDelay;
    use std::time::Duration;
    let get = |line: &str| {
        with(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .config
            .withdraw_delay
    };
    assert_eq!(get(""), WithdrawDelay::Auto);
    assert_eq!(get("withdraw_delay: auto"), WithdrawDelay::Auto);
    assert_eq!(
        get("withdraw_delay: 3s"),
        WithdrawDelay::After(Duration::from_secs(3))
    );
    for off in [
        "withdraw_delay: off",
        "withdraw_delay: 0",
        "withdraw_delay: false",
    ] {
        assert_eq!(get(off), WithdrawDelay::After(Duration::ZERO), "{off}");
    }
    let err = with("withdraw_delay: soon").expect_err("not a duration");
    assert_eq!(err.problems[0].path, "withdraw_delay");
    assert!(err.to_string().contains("`auto`, `off`"), "{err}");
    let err = with("withdrawal_delay: 1s").expect_err("misspelt");
    assert!(
        err.to_string().contains("did you mean `withdraw_delay`?"),
        "{err}"
    );
    let summary = with("withdraw_delay: 3s")
        .unwrap_or_else(|e| panic!("{e}"))
        .config
        .summary();
    assert!(
        summary.contains("withdraw_delay: 3s (when a healthy backup is known)"),
        "{summary}"
    );
}
