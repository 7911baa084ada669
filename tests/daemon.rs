//! The continuous daemon against moto: health transitions drive reconciles (no waiting for
//! the 300 s poll), a failing check withdraws our routes, recovery re-claims them, and
//! SIGTERM exits cleanly without touching routes.

mod support;

use std::time::{Duration, Instant};

use support::daemon::Daemon;
use support::imds::FakeImds;
use support::vpc::{self, Vpc};

fn config(dir: &std::path::Path, az: &str, port: u16) -> std::path::PathBuf {
    config_with(dir, az, port, "")
}

/// The test config, with `extra` top-level settings.
fn config_with(dir: &std::path::Path, az: &str, port: u16, extra: &str) -> std::path::PathBuf {
    let path = dir.join(format!("awsnycast-{az}.yaml"));
    std::fs::write(
        &path,
        format!(
            "poll_time: 300
{extra}
healthchecks:
  service:
    type: tcp
    destination: 127.0.0.1
    rise: 2
    fall: 2
    every: 200ms
    config: {{port: {port}}}
routetables:
  our_az:
    find: {{type: and, config: {{filters: [{{type: by_tag, config: {{key: az, value: \"{{{{ az }}}}\"}}}}, {{type: by_tag, config: {{key: type, value: private}}}}]}}}}
    manage_routes:
      - {{cidr: 192.168.1.1/32, healthcheck: service}}
  other_azs:
    find: {{type: and, config: {{filters: [{{type: by_tag, not: true, config: {{key: az, value: \"{{{{ az }}}}\"}}}}, {{type: by_tag, config: {{key: type, value: private}}}}]}}}}
    manage_routes:
      - {{cidr: 192.168.1.1/32, healthcheck: service, if_unhealthy: true}}
"
        ),
    )
    .expect("write config");
    path
}

async fn routes(ec2: &aws_sdk_ec2::Client, table: &str) -> Vec<aws_sdk_ec2::types::Route> {
    let out = ec2
        .describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
        .expect("describe");
    out.route_tables()[0].routes().to_vec()
}

async fn target(ec2: &aws_sdk_ec2::Client, table: &str) -> Option<String> {
    routes(ec2, table)
        .await
        .iter()
        .find(|r| r.destination_cidr_block() == Some("192.168.1.1/32"))
        .and_then(|r| r.network_interface_id().or(r.instance_id()).map(str::to_owned))
}

/// Two routers on loopback, each with its own tcp service, config (`extra` added) and
/// daemon; everything stops when dropped.
struct TwoRouters {
    daemons: Vec<Daemon>,
    /// Each router's service; `None` once a test has stopped it.
    services: Vec<Option<support::services::Service>>,
    ports: Vec<u16>,
    _imds: Vec<FakeImds>,
    _dir: tempfile::TempDir,
}

async fn two_routers(endpoint: &str, vpc: &Vpc, extra: &str) -> TwoRouters {
    let imds: Vec<FakeImds> = (0..2).map(|i| FakeImds::start(&vpc.metadata(i))).collect();
    let mut services = Vec::new();
    for _ in 0..2 {
        services.push(Some(support::services::tcp("", true).await));
    }
    let ports: Vec<u16> = services.iter().flatten().map(|s| s.addr.port()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let daemons = ["a", "b"]
        .iter()
        .zip(&ports)
        .zip(&imds)
        .map(|((name, port), imds)| {
            let cfg = config_with(dir.path(), name, *port, extra);
            Daemon::start(endpoint, imds, &cfg, &[])
        })
        .collect();
    TwoRouters {
        daemons,
        services,
        ports,
        _imds: imds,
        _dir: dir,
    }
}

/// Waits until both private tables' service routes are as wanted.
async fn wait_for(
    ec2: &aws_sdk_ec2::Client,
    vpc: &Vpc,
    want: [Option<&str>; 2],
    daemon: &mut Daemon,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        daemon.assert_running();
        let got = [
            target(ec2, &vpc.private_tables[0]).await,
            target(ec2, &vpc.private_tables[1]).await,
        ];
        if got[0].as_deref() == want[0] && got[1].as_deref() == want[1] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: routes are {got:?}, wanted {want:?}\n{}",
            daemon.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_check_withdraws_and_recovery_reclaims() {
    let (moto, ec2, vpc) = vpc::emulated("daemon").await;
    let imds = FakeImds::start(&vpc.metadata(0));
    let service = support::services::tcp("", true).await;
    let port = service.addr.port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "a", port);
    let a = vpc.routers[0].eni_id.as_str();

    let mut daemon = Daemon::start(&moto.url(), &imds, &cfg, &[]);
    // poll_time is 300 s: only the health transition can have caused these.
    wait_for(&ec2, &vpc, [Some(a), Some(a)], &mut daemon, "claim once healthy").await;

    drop(service);
    wait_for(
        &ec2,
        &vpc,
        [None, None],
        &mut daemon,
        "withdraw when the service fails",
    )
    .await;

    let _recovered = support::services::tcp_at(port, "", true).await;
    wait_for(
        &ec2,
        &vpc,
        [Some(a), Some(a)],
        &mut daemon,
        "re-claim on recovery",
    )
    .await;

    assert_eq!(
        daemon.terminate(),
        Some(0),
        "SIGTERM exits 0:\n{}",
        daemon.output()
    );
    let out = daemon.output();
    assert!(out.contains("routes are left as they are"), "{out}");
    // Routes stay where they were after the daemon stopped.
    wait_for(
        &ec2,
        &vpc,
        [Some(a), Some(a)],
        &mut daemon,
        "untouched after SIGTERM",
    )
    .await;
    for needle in [
        "health check changed state",
        "route changed",
        "action=\"delete\"",
        "reason=our health check is unhealthy: withdraw",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from the log:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn noop_daemon_prints_plans_and_changes_nothing() {
    let (moto, ec2, vpc) = vpc::emulated("noop").await;
    let imds = FakeImds::start(&vpc.metadata(0));
    let service = support::services::tcp("", true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "a", service.addr.port());
    let mut daemon = Daemon::start(&moto.url(), &imds, &cfg, &["-noop"]);
    let eni = &vpc.routers[0].eni_id;
    let want = format!(
        "{} 192.168.1.1/32 [routetables.our_az]: create -> {eni}: route absent and our health check is healthy",
        vpc.private_tables[0]
    );
    daemon.until_logged(Duration::from_secs(30), &want).await;
    // First plan, before the check settled, said it was waiting.
    assert!(
        daemon.output().contains("waiting for our health check to settle"),
        "{}",
        daemon.output()
    );
    assert_eq!(daemon.terminate(), Some(0));
    assert_eq!(
        target(&ec2, &vpc.private_tables[0]).await,
        None,
        "noop changed a route"
    );
    assert_eq!(
        target(&ec2, &vpc.private_tables[1]).await,
        None,
        "noop changed a route"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oneshot_can_wait_for_real_health() {
    let (moto, ec2, vpc) = vpc::emulated("wait").await;
    let imds = FakeImds::start(&vpc.metadata(0));
    // A port with nothing listening: the check fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |cfg: &std::path::Path, args: &[&str]| {
        support::awsnycast()
            .envs(vpc::daemon_env(&moto.url()))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url())
            .arg("-f")
            .arg(cfg)
            .args(args)
            .output()
            .expect("run")
    };
    let down = config(dir.path(), "down", closed);
    let out = run(
        &down,
        &["-oneshot", "-oneshot-wait-healthy", "-log-format", "json"],
    );
    let (stdout, stderr) = support::text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 routes managed, 0 changed, 0 failed"),
        "{stdout}"
    );
    assert_eq!(target(&ec2, &vpc.private_tables[0]).await, None);
    // JSON logs: one object per line.
    let settled = stderr
        .lines()
        .find(|l| l.contains("health check settled"))
        .expect("settled log line");
    assert!(
        settled.starts_with('{') && settled.contains("\"health\":\"unhealthy\""),
        "{settled}"
    );

    // Without waiting, AWSnycast's rule applies: checks are treated as passing.
    let out = run(&down, &["-oneshot"]);
    assert!(
        support::text(&out)
            .0
            .contains("2 routes managed, 2 changed, 0 failed")
    );
    assert_eq!(
        target(&ec2, &vpc.private_tables[0]).await.as_deref(),
        Some(vpc.routers[0].eni_id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_primary_is_noticed_by_fast_poll_without_a_remote_check() {
    let (moto, ec2, vpc) = vpc::emulated("fast").await;
    let (a, b) = (vpc.routers[0].eni_id.as_str(), vpc.routers[1].eni_id.as_str());
    let mut routers = two_routers(&moto.url(), &vpc, "fast_poll: 1s").await;
    for daemon in &mut routers.daemons {
        wait_for(
            &ec2,
            &vpc,
            [Some(a), Some(b)],
            daemon,
            "each AZ served by its own router",
        )
        .await;
    }
    // Let the confirmation rounds that follow the first changes run out.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = routers.daemons[1].output().len();

    // Router A dies: its daemon is gone with it, and EC2 shows the instance stopped. No
    // remote check is configured and poll_time is 300 s: only the fast poll can notice.
    routers.daemons[0].kill();
    let db = &mut routers.daemons[1];
    ec2.stop_instances()
        .instance_ids(&vpc.routers[0].instance_id)
        .send()
        .await
        .expect("stop router A");
    let start = Instant::now();
    wait_for(
        &ec2,
        &vpc,
        [Some(b), Some(b)],
        db,
        "backup takes over from a dead primary",
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    let out = db.output();
    let after = &out[settled..];
    let takeover = after.find("is stopped: take over").expect("takeover logged");
    let trigger = after[..takeover]
        .rfind("reconciling trigger=")
        .map(|i| &after[i..i + 40]);
    assert!(
        trigger.is_some_and(|t| t.contains("fast poll")),
        "not taken over by a fast poll: {trigger:?}\n{out}"
    );
    assert!(
        out.contains(&format!(
            "holder {} is stopped: take over",
            vpc.routers[0].instance_id
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preempt_delay_holds_failback_off() {
    let (moto, ec2, vpc) = vpc::emulated("preempt").await;
    let (a, b) = (vpc.routers[0].eni_id.as_str(), vpc.routers[1].eni_id.as_str());
    let mut routers = two_routers(&moto.url(), &vpc, "fast_poll: 500ms\npreempt_delay: 4s").await;
    wait_for(
        &ec2,
        &vpc,
        [Some(a), Some(b)],
        &mut routers.daemons[0],
        "each AZ served by its own router",
    )
    .await;

    routers.services[0] = None;
    wait_for(
        &ec2,
        &vpc,
        [Some(b), Some(b)],
        &mut routers.daemons[1],
        "backup takes over",
    )
    .await;

    routers.services[0] = Some(support::services::tcp_at(routers.ports[0], "", true).await);
    let recovered = Instant::now();
    // A's check rises in well under a second; the route must stay with B for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        target(&ec2, &vpc.private_tables[0]).await.as_deref(),
        Some(b),
        "failback before preempt_delay"
    );
    wait_for(
        &ec2,
        &vpc,
        [Some(a), Some(b)],
        &mut routers.daemons[0],
        "failback after preempt_delay",
    )
    .await;
    let da = &routers.daemons[0];
    assert!(
        recovered.elapsed() >= Duration::from_secs(3),
        "failback came too soon: {:?}",
        recovered.elapsed()
    );
    assert!(
        da.output().contains("not yet for preempt_delay"),
        "{}",
        da.output()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_primaries_for_one_route_back_off_and_say_so() {
    let (moto, _ec2, vpc) = vpc::emulated("contest").await;
    let imds: Vec<FakeImds> = (0..2).map(|i| FakeImds::start(&vpc.metadata(i))).collect();
    let service = support::services::tcp("", true).await;
    let proxy = support::proxy::Proxy::start(moto.url(), 100).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Misconfigured: both routers claim eu-west-1a's table as primary (and both back up
    // eu-west-1b's, so both keep looking every fast_poll).
    let cfg = dir.path().join("both.yaml");
    std::fs::write(
        &cfg,
        format!(
            "fast_poll: 500ms\nhealthchecks:\n  service: {{type: tcp, destination: 127.0.0.1, rise: 1, every: 200ms, config: {{port: {}}}}}\nroutetables:\n  a:\n    find: {{type: by_tag, config: {{key: az, value: eu-west-1a}}}}\n    manage_routes: [{{cidr: 192.168.1.1/32, healthcheck: service}}]\n  b:\n    find: {{type: by_tag, config: {{key: az, value: eu-west-1b}}}}\n    manage_routes: [{{cidr: 192.168.1.1/32, healthcheck: service, if_unhealthy: true}}]\n",
            service.addr.port()
        ),
    )
    .expect("write");
    let mut da = Daemon::start(&proxy.url(), &imds[0], &cfg, &[]);
    let mut db = Daemon::start(&proxy.url(), &imds[1], &cfg, &[]);
    let window = Duration::from_secs(20);
    tokio::time::sleep(window).await;
    da.assert_running();
    db.assert_running();
    let writes = proxy.count("ReplaceRoute") + proxy.count("CreateRoute");
    // Without damping each would retake eu-west-1a's route every fast poll (about 40 writes
    // in 20 s); with exponential back-off from 2 s it is a handful (plus eu-west-1b's one).
    assert!(
        writes <= 14,
        "{writes} route writes in {window:?}: {:?}",
        proxy.actions
    );
    let logs = format!("{}\n{}", da.output(), db.output());
    assert!(
        logs.contains("two routers both act as primary for this route"),
        "{logs}"
    );
    let (ia, ib) = (&vpc.routers[0].instance_id, &vpc.routers[1].instance_id);
    assert!(
        logs.contains(&format!("us={ia} other={ib}")) || logs.contains(&format!("us={ib} other={ia}")),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_for_a_while_is_ridden_out_without_extra_writes() {
    let (moto, ec2, vpc) = vpc::emulated("throttle").await;
    let imds = FakeImds::start(&vpc.metadata(0));
    let service = support::services::tcp("", true).await;
    let proxy = support::proxy::Proxy::start(moto.url(), 100).await;
    // EC2 refuses the next 20 requests: start-up and the first rounds all hit it (each
    // refused call backs off 4 times, then its round retries after 5 s).
    proxy.throttle.store(20, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "a", service.addr.port());
    let mut daemon = Daemon::start(&proxy.url(), &imds, &cfg, &[]);
    let a = vpc.routers[0].eni_id.as_str();
    let both_ours = async || {
        target(&ec2, &vpc.private_tables[0]).await.as_deref() == Some(a)
            && target(&ec2, &vpc.private_tables[1]).await.as_deref() == Some(a)
    };
    daemon
        .until(Duration::from_secs(90), "never converged", both_ours)
        .await;
    assert_eq!(proxy.count("throttled"), 20, "{:?}", proxy.actions);
    // Let a few more rounds run: nothing flips.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(proxy.count("CreateRoute"), 2, "{:?}", proxy.actions);
    assert_eq!(
        proxy.count("ReplaceRoute") + proxy.count("DeleteRoute"),
        0,
        "{:?}",
        proxy.actions
    );
    let out = daemon.output();
    assert!(out.contains("EC2 is throttling; backing off"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(daemon.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_flapping_routes_stay_within_the_ec2_budget() {
    // 200 routes on one check that flaps every 2 s for 20 s: every flap wants 200 writes
    // (and a re-read before each withdrawal), far more than the budget of 20 calls per
    // second allows. The daemon must queue behind its limiter, never exceed it, not crash,
    // and converge once the check settles.
    const ROUTES: usize = 200;
    const BUDGET: usize = 20;
    let (moto, ec2, vpc) = vpc::emulated("budget").await;
    let imds = FakeImds::start(&vpc.metadata(0));
    let proxy = support::proxy::Proxy::start(moto.url(), 100).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("up");
    std::fs::write(&flag, "").expect("flag");
    let managed: String = (0..ROUTES)
        .map(|i| {
            format!(
                "      - {{cidr: 192.168.{}.{}/32, healthcheck: flappy}}\n",
                i / 250,
                i % 250 + 1
            )
        })
        .collect();
    let cfg = dir.path().join("budget.yaml");
    std::fs::write(
        &cfg,
        format!(
            "poll_time: 300\nec2_calls_per_second: {BUDGET}\nhealthchecks:\n  flappy:\n    type: command\n    every: 200ms\n    rise: 1\n    fall: 1\n    config: {{command: test, arguments: [-e, '{}']}}\nroutetables:\n  our_az:\n    find: {{type: and, config: {{filters: [{{type: by_tag, config: {{key: az, value: \"{{{{ az }}}}\"}}}}, {{type: by_tag, config: {{key: type, value: private}}}}]}}}}\n    manage_routes:\n{managed}",
            flag.display()
        ),
    )
    .expect("write config");
    let mut daemon = Daemon::start(&proxy.url(), &imds, &cfg, &[]);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        daemon.assert_running();
        if flag.exists() {
            std::fs::remove_file(&flag).expect("flag down");
        } else {
            std::fs::write(&flag, "").expect("flag up");
        }
    }
    std::fs::write(&flag, "").expect("flag up");
    let (table, eni) = (&vpc.private_tables[0], vpc.routers[0].eni_id.as_str());
    let ours = async || {
        routes(&ec2, table)
            .await
            .iter()
            .filter(|r| r.network_interface_id() == Some(eni))
            .count()
    };
    daemon
        .until(Duration::from_secs(90), "never converged", async || {
            ours().await == ROUTES
        })
        .await;
    let writes = proxy.count("CreateRoute") + proxy.count("DeleteRoute");
    assert!(
        writes > 2 * ROUTES,
        "the check did not flap enough to load the daemon: {writes} writes"
    );
    // The limiter allows a burst of BUDGET, then BUDGET per second: at most BUDGET × (1 + s)
    // requests in any s seconds (the daemon reaches exactly that under this load), plus 2
    // for jitter in when requests reach the proxy.
    let busiest = proxy.busiest(Duration::from_secs(1));
    assert!(
        busiest <= 2 * BUDGET + 2,
        "{busiest} requests within one second (budget {BUDGET}/s)"
    );
    let busiest_5s = proxy.busiest(Duration::from_secs(5));
    eprintln!(
        "{writes} writes; busiest 1 s: {busiest} requests, busiest 5 s: {busiest_5s}; {:?}",
        proxy.actions.lock().expect("lock")
    );
    assert!(
        busiest_5s <= 6 * BUDGET + 2,
        "{busiest_5s} requests within five seconds (budget {BUDGET}/s)"
    );
    let out = daemon.output();
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(daemon.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigusr1_logs_the_state_and_sighup_reloads_a_valid_config_or_keeps_the_running_one() {
    let (moto, ec2, vpc) = vpc::emulated("reload").await;
    let imds = FakeImds::start(&vpc.metadata(0));
    let service = support::services::tcp("", true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "a", service.addr.port());
    let a = vpc.routers[0].eni_id.as_str();
    let mut daemon = Daemon::start(&moto.url(), &imds, &cfg, &[]);
    wait_for(&ec2, &vpc, [Some(a), Some(a)], &mut daemon, "claim once healthy").await;

    // SIGUSR1: the state, in the log; the daemon carries on. (Until the confirmation round
    // has run, the last round is the one that created the routes: ask until it says leave.)
    let settled = format!(
        "decision={} 192.168.1.1/32 [routetables.our_az]: leave",
        vpc.private_tables[0]
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !daemon.output().contains(&settled) {
        daemon.signal(rustix::process::Signal::USR1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        daemon.assert_running();
        assert!(Instant::now() < deadline, "no state dump:\n{}", daemon.output());
    }
    let out = daemon.output();
    assert!(
        out.contains("SIGUSR1: local check check=service health=healthy"),
        "{out}"
    );

    // A mistake in the file: reported, and the daemon carries on as it was.
    let good = std::fs::read_to_string(&cfg).expect("read config");
    std::fs::write(&cfg, good.replace("if_unhealthy", "if_unhealty")).expect("break config");
    daemon.signal(rustix::process::Signal::HUP);
    daemon
        .until_logged(Duration::from_secs(20), "keeping the running configuration")
        .await;
    assert!(
        daemon.output().contains("did you mean `if_unhealthy`?"),
        "{}",
        daemon.output()
    );

    // A valid change: a second route in our AZ's table, claimed after the reload; the first
    // route never moves (checks restart at unknown, which never withdraws).
    let second = "192.168.1.2/32";
    std::fs::write(
        &cfg,
        good.replace(
            "      - {cidr: 192.168.1.1/32, healthcheck: service}\n",
            &format!("      - {{cidr: 192.168.1.1/32, healthcheck: service}}\n      - {{cidr: {second}, healthcheck: service}}\n"),
        ),
    )
    .expect("change config");
    daemon.signal(rustix::process::Signal::HUP);
    let claimed = async || {
        routes(&ec2, &vpc.private_tables[0])
            .await
            .iter()
            .any(|r| r.destination_cidr_block() == Some(second) && r.network_interface_id() == Some(a))
    };
    daemon
        .until(
            Duration::from_secs(30),
            "the reloaded route was never claimed",
            claimed,
        )
        .await;
    assert_eq!(target(&ec2, &vpc.private_tables[0]).await.as_deref(), Some(a));
    let out = daemon.output();
    assert!(out.contains("SIGHUP: configuration reloaded"), "{out}");
    assert!(
        !out.contains("action=\"delete\""),
        "nothing was withdrawn:\n{out}"
    );
    assert_eq!(daemon.terminate(), Some(0));
}
