//! Health checks against real services on loopback: tcp (plain and TLS with a CA made here),
//! http(s), command and ping; and the scheduler's rise/fall over a service that goes away.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use awsnycast::config::{Document, Healthcheck, Vars};
use awsnycast::health::Health;
use awsnycast::health::check;
use awsnycast::health::scheduler::{self, CheckId};
use support::services;

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A health check from YAML, through the real config loader.
fn spec(body: &str) -> Healthcheck {
    let yaml = format!(
        "healthchecks:\n  hc:\n{}\nroutetables:\n  a:\n    find: {{type: main}}\n    manage_routes: [{{cidr: 0.0.0.0/0, healthcheck: hc}}]\n",
        body.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let loaded = Document::parse(&yaml, "t.yaml")
        .and_then(|d| d.build(&Vars::default()))
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    loaded.config.healthchecks["hc"].clone()
}

async fn probe(body: &str) -> Result<(), String> {
    let s = spec(body);
    let c = check::build(&s).map_err(|e| format!("setup: {e}"))?;
    let target = s.destination.unwrap_or(LOOPBACK);
    tokio::time::timeout(s.timeout, c.check(target))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn tcp_connect_send_expect() {
    let svc = services::tcp("HTTP/1.0 200 OK\r\n\r\n", false).await;
    let port = svc.addr.port();
    let base = format!("type: tcp\ndestination: 127.0.0.1\nconfig:\n  port: {port}");
    assert_eq!(probe(&base).await, Ok(()));
    assert_eq!(
        probe(&format!(
            "{base}\n  send: \"HEAD / HTTP/1.0\\r\\n\\r\\n\"\n  expect: 200 OK"
        ))
        .await,
        Ok(())
    );
    let err = probe(&format!(
        "{base}\n  send: \"HEAD / HTTP/1.0\\r\\n\\r\\n\"\n  expect: 503"
    ))
    .await
    .unwrap_err();
    assert!(err.contains("does not contain \"503\""), "{err}");
    drop(svc);
    // Nothing listening any more.
    let err = probe(&base).await.unwrap_err();
    assert!(err.contains("connect to 127.0.0.1"), "{err}");
}

#[tokio::test]
async fn tls_with_the_right_ca_the_wrong_ca_and_skip_verify() {
    let pki = services::pki();
    let other = services::pki();
    let svc = services::tls(&pki, "PONG\n").await;
    let port = svc.addr.port();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).expect("write ca");
    let base = format!(
        "type: tcp\ndestination: 127.0.0.1\nconfig:\n  port: {port}\n  ssl: true\n  send: PING\n  expect: PONG"
    );
    let inline = |pem: &str| {
        format!(
            "{base}\n  cert: |\n{}",
            pem.lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };

    assert_eq!(
        probe(&format!("{base}\n  certPath: {}", ca_file.display())).await,
        Ok(())
    );
    assert_eq!(probe(&inline(&pki.ca_pem)).await, Ok(()));
    assert_eq!(
        probe(&format!("{}\n  serverName: svc.test", inline(&pki.ca_pem))).await,
        Ok(())
    );
    let err = probe(&format!("{}\n  serverName: other.test", inline(&pki.ca_pem)))
        .await
        .unwrap_err();
    assert!(err.contains("TLS handshake"), "{err}");
    let err = probe(&inline(&other.ca_pem)).await.unwrap_err();
    assert!(err.contains("TLS handshake"), "wrong CA must fail: {err}");
    assert_eq!(probe(&format!("{base}\n  skipVerify: true")).await, Ok(()));
    // No CA given: the system roots do not know our test CA.
    assert!(probe(&base).await.is_err());
}

#[tokio::test]
async fn http_status_body_and_host() {
    let (ok, seen) = services::http(200, "all good", None).await;
    let port = ok.addr.port();
    let base = format!("type: http\ndestination: 127.0.0.1\nconfig:\n  port: {port}\n  path: /health");
    assert_eq!(probe(&base).await, Ok(()));
    assert!(
        seen.lock().expect("lock").starts_with("GET /health HTTP/1.1"),
        "{}",
        seen.lock().expect("lock")
    );
    assert_eq!(
        probe(&format!(
            "{base}\n  expect_body: good\n  host: svc.internal\n  method: HEAD"
        ))
        .await
        .map_err(|e| e.contains("body")),
        Err(true)
    );
    assert!(
        seen.lock()
            .expect("lock")
            .to_ascii_lowercase()
            .contains("host: svc.internal")
    );
    assert_eq!(probe(&format!("{base}\n  expect_body: good")).await, Ok(()));
    let err = probe(&format!("{base}\n  expect_body: bad")).await.unwrap_err();
    assert!(err.contains("body does not contain \"bad\""), "{err}");

    let (down, _) = services::http(503, "maintenance", None).await;
    let base503 = format!(
        "type: http\ndestination: 127.0.0.1\nconfig:\n  port: {}",
        down.addr.port()
    );
    let err = probe(&base503).await.unwrap_err();
    assert!(err.contains("status 503 is not expected"), "{err}");
    assert_eq!(
        probe(&format!("{base503}\n  expect_status: [200, 5xx]")).await,
        Ok(())
    );

    let (redirect, _) = services::http(301, "", None).await;
    let err = probe(&format!(
        "type: http\ndestination: 127.0.0.1\nconfig:\n  port: {}",
        redirect.addr.port()
    ))
    .await
    .unwrap_err();
    assert!(err.contains("status 301"), "redirects are not followed: {err}");
}

#[tokio::test]
async fn https_with_ca_and_server_name() {
    let pki = services::pki();
    let other = services::pki();
    let (svc, _) = services::http(200, "secure", Some(&pki)).await;
    let port = svc.addr.port();
    let pem = |p: &str| {
        p.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let base = format!(
        "type: http\ndestination: 127.0.0.1\nconfig:\n  scheme: https\n  port: {port}\n  expect_body: secure"
    );
    assert_eq!(
        probe(&format!("{base}\n  cert: |\n{}", pem(&pki.ca_pem))).await,
        Ok(())
    );
    assert_eq!(
        probe(&format!(
            "{base}\n  serverName: svc.test\n  cert: |\n{}",
            pem(&pki.ca_pem)
        ))
        .await,
        Ok(())
    );
    assert!(
        probe(&format!("{base}\n  cert: |\n{}", pem(&other.ca_pem)))
            .await
            .is_err(),
        "wrong CA must fail"
    );
    assert_eq!(probe(&format!("{base}\n  skipVerify: true")).await, Ok(()));
}

#[tokio::test]
async fn command_pass_fail_destination_and_timeout() {
    assert_eq!(probe("type: command\nconfig: {command: /bin/true}").await, Ok(()));
    let err = probe("type: command\nconfig: {command: sh, arguments: [-c, 'echo broken >&2; exit 3']}")
        .await
        .unwrap_err();
    assert!(err.contains("exit status: 3") && err.contains("broken"), "{err}");
    assert_eq!(
        probe("type: command\ndestination: 127.0.0.9\nconfig: {command: sh, arguments: [-c, 'test \"$0\" = 127.0.0.9', '%DESTINATION%']}").await,
        Ok(())
    );

    // A hanging command is killed with its children when the timeout passes.
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let body = format!(
        "type: command\ntimeout: 500ms\nevery: 1s\nconfig: {{command: sh, arguments: [-c, 'sleep 300 & echo $! > {}; wait']}}",
        pidfile.display()
    );
    let s = spec(&body);
    let c = check::build(&s).expect("build");
    let got = c.check(LOOPBACK).await;
    assert!(
        got.as_ref().is_err_and(|e| e.to_string().contains("was killed")),
        "{got:?}"
    );
    let pid = std::fs::read_to_string(&pidfile).expect("pid").trim().to_owned();
    assert!(gone(&pid).await, "the command's child {pid} is still running");
}

async fn gone(pid: &str) -> bool {
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn ping_loopback() {
    assert_eq!(probe("type: ping\ndestination: 127.0.0.1").await, Ok(()));
    assert_eq!(probe("type: ping\ndestination: \"::1\"").await, Ok(()));
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduler_rises_falls_and_stops() {
    let svc = services::tcp("", true).await;
    let s = spec(&format!(
        "type: tcp\ndestination: 127.0.0.1\nrise: 2\nfall: 2\nevery: 100ms\nconfig: {{port: {}}}",
        svc.addr.port()
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running = scheduler::start(CheckId::Local("hc".into()), &s, LOOPBACK, tx).expect("start");
    assert_eq!(running.health(), Health::Unknown);
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("rise in time")
        .expect("event");
    assert_eq!(
        (ev.transition.from, ev.transition.to),
        (Health::Unknown, Health::Healthy)
    );
    assert_eq!(running.health(), Health::Healthy);
    drop(svc);
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("fall in time")
        .expect("event");
    assert_eq!(
        (ev.transition.from, ev.transition.to),
        (Health::Healthy, Health::Unhealthy)
    );
    running.stop().await;
    // Stopped: no further events, and the sender side is gone with the task.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .map(|e| e.is_none())
            .unwrap_or(true)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_sees_a_namespace_host_die() {
    let host = support::netns::Host::new();
    let s = spec(&format!(
        "type: ping\ndestination: {}\nrise: 1\nfall: 2\nevery: 200ms\ntimeout: 150ms",
        host.addr
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running =
        scheduler::start(CheckId::Local("host".into()), &s, IpAddr::V4(host.addr), tx).expect("start");
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("healthy in time")
        .expect("event");
    assert_eq!(ev.transition.to, Health::Healthy);
    host.link_down();
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("unhealthy in time")
        .expect("event");
    assert_eq!(ev.transition.to, Health::Unhealthy);
    host.link_up();
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("healthy again")
        .expect("event");
    assert_eq!(ev.transition.to, Health::Healthy);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transition_hooks_run_with_context() {
    let svc = services::tcp("", true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("hooks.log");
    let hook = |state: &str| {
        format!(
            "[sh, -c, 'echo {state} $AWSNYCAST_CHECK $AWSNYCAST_DESTINATION $AWSNYCAST_HEALTH >> {}']",
            log.display()
        )
    };
    let s = spec(&format!(
        "type: tcp\ndestination: 127.0.0.1\nrise: 1\nfall: 1\nevery: 100ms\nrun_on_healthy: {}\nrun_on_unhealthy: {}\nconfig: {{port: {}}}",
        hook("up"),
        hook("down"),
        svc.addr.port()
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running = scheduler::start(CheckId::Local("hc".into()), &s, LOOPBACK, tx).expect("start");
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("healthy")
        .expect("event");
    drop(svc);
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("unhealthy")
        .expect("event");
    running.stop().await;
    // Hooks run beside the check; give them a moment to finish writing.
    let want = "up hc 127.0.0.1 healthy\ndown hc 127.0.0.1 unhealthy\n";
    let mut got = String::new();
    for _ in 0..100 {
        got = std::fs::read_to_string(&log).unwrap_or_default();
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got, want);
}
