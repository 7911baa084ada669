//! The binary's command line: flags in both dash styles, `--check`, exit codes.

mod support;

use support::imds::{FakeImds, InstanceMetadata};
use support::{awsnycast, repo, text};

fn metadata() -> InstanceMetadata {
    InstanceMetadata {
        instance_id: "i-0123456789abcdef0".into(),
        az: "eu-west-1b".into(),
        region: "eu-west-1".into(),
        local_ipv4: "10.0.1.10".into(),
        mac: "02:00:00:00:00:0a".into(),
        subnet_id: "subnet-0aaa".into(),
        vpc_id: "vpc-0bbb".into(),
    }
}

#[test]
fn version_with_one_or_two_dashes() {
    for flag in ["-version", "--version"] {
        let out = awsnycast().arg(flag).output().expect("run");
        let (stdout, _) = text(&out);
        assert!(out.status.success());
        assert_eq!(stdout.trim(), format!("awsnycast {}", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn help_documents_flags_and_exit_codes() {
    for flag in ["-h", "--help", "-help"] {
        let out = awsnycast().arg(flag).output().expect("run");
        let (stdout, _) = text(&out);
        assert!(out.status.success(), "{flag}");
        for needle in [
            "--oneshot",
            "--noop",
            "--check",
            "--log-format",
            "--syslog",
            "Exit codes:",
            "one dash",
        ] {
            assert!(stdout.contains(needle), "{flag}: {needle} missing from\n{stdout}");
        }
    }
}

#[test]
fn unknown_flags_exit_2() {
    let out = awsnycast().arg("-oneshoot").output().expect("run");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("oneshoot"), "{stderr}");
}

#[test]
fn check_prints_what_the_example_manages() {
    let imds = FakeImds::start(&metadata());
    for args in [["-check", "-f"], ["--check", "--file"]] {
        let out = awsnycast()
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url())
            .args(args)
            .arg(repo().join("examples/awsnycast.yaml"))
            .output()
            .expect("run");
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        for needle in [
            "configuration is valid",
            "poll_time: 300s",
            "public: ping 8.8.8.8 every 1s, rise 2, fall 10",
            "localservice: tcp 192.168.1.1:80 every 30s, rise 2, fall 2",
            "service: tcp the route holder:80",
            "our_az: tables where tag az = eu-west-1b and tag type = private",
            "other_azs: tables where not (tag az = eu-west-1b) and tag type = private",
            "0.0.0.0/0 -> this instance (claim; while public is healthy, never delete)",
            "192.168.1.1/32 -> this instance (backup: take over only if absent or its holder has failed; while localservice is healthy, remote check service on the holder)",
        ] {
            assert!(stdout.contains(needle), "{needle:?} missing from\n{stdout}");
        }
    }
}

#[test]
fn check_reports_every_error_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "healthchecks:\n  public: {type: ping, destination: 8.8.8.8, rize: 2}\nroutetables:\n  a:\n    find: {type: main}\n    manage_routes:\n      - {cidr: 0.0.0.0/0, healthcheck: pubic, if_unhealty: true}\n",
    )
    .expect("write");
    let out = awsnycast()
        .arg("-check")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing on stdout for an invalid config: {stdout}"
    );
    let p = path.display();
    for needle in [
        "3 errors in configuration:".to_owned(),
        format!("{p}:2:46: healthchecks.public.rize: unknown key `rize`"),
        "did you mean `rise`?".to_owned(),
        format!("{p}:7:40: routetables.a.manage_routes[0].healthcheck: no health check named \"pubic\""),
        format!("{p}:7:47: routetables.a.manage_routes[0].if_unhealty"),
        "did you mean `if_unhealthy`?".to_owned(),
    ] {
        assert!(stderr.contains(&needle), "{needle:?} missing from\n{stderr}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = awsnycast()
        .args(["--check", "-f", "/nonexistent/awsnycast.yaml"])
        .output()
        .expect("run");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("/nonexistent/awsnycast.yaml: cannot read the configuration file"),
        "{stderr}"
    );
}

#[test]
fn identity_variables_off_ec2_explain_what_to_set() {
    // IMDS points at a closed loopback port: the error says why and what to do.
    let out = awsnycast()
        .args(["--check", "-f"])
        .arg(repo().join("examples/awsnycast.yaml"))
        .output()
        .expect("run");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("{{ az }} needs this instance's identity"),
        "{stderr}"
    );
    assert!(stderr.contains("AWS_EC2_METADATA_SERVICE_ENDPOINT"), "{stderr}");
}

#[test]
fn environment_variables_are_interpolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("env.yaml");
    std::fs::write(
        &path,
        "routetables:\n  a:\n    find: {type: by_tag, config: {key: Name, value: \"${TABLE_NAME}\"}}\n    manage_routes: [{cidr: \"${SERVICE_IP}\"}]\n",
    )
    .expect("write");
    let out = awsnycast()
        .env("TABLE_NAME", "private-x")
        .env("SERVICE_IP", "192.168.7.7")
        .args(["--check", "-f"])
        .arg(&path)
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("tag Name = private-x"), "{stdout}");
    assert!(stdout.contains("192.168.7.7/32 -> this instance"), "{stdout}");
}
