//! The route manager against moto's EC2 server: two router instances in two AZs with
//! AWSnycast's README layout (each claims its own AZ's private table and backs up the other's).

mod support;

use std::process::Output;

use aws_sdk_ec2::Client;
use support::imds::FakeImds;
use support::moto::Moto;
use support::vpc::{self, Vpc};

struct World {
    moto: Moto,
    ec2: Client,
    vpc: Vpc,
    imds: Vec<FakeImds>,
}

async fn world() -> World {
    let (moto, ec2, vpc) = vpc::emulated("rm").await;
    let imds = (0..2).map(|i| FakeImds::start(&vpc.metadata(i))).collect();
    World { moto, ec2, vpc, imds }
}

/// A config from YAML text, which must be valid.
fn config_of(yaml: &str) -> awsnycast::config::Config {
    use awsnycast::config::{Document, Vars};
    Document::parse(yaml, "t.yaml")
        .and_then(|d| d.build(&Vars::default()))
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

/// The `Me` of router `r`.
fn me_of(r: &vpc::Router) -> awsnycast::routes::decide::Me {
    awsnycast::routes::decide::Me {
        instance_id: r.instance_id.clone(),
        eni_id: r.eni_id.clone(),
    }
}

impl World {
    /// Runs the binary as router `i` with the shipped README example config.
    fn run(&self, i: usize, args: &[&str]) -> Output {
        support::awsnycast()
            .envs(vpc::daemon_env(&self.moto.url()))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.imds[i].url())
            .arg("-f")
            .arg(support::repo().join("examples/awsnycast.yaml"))
            .args(args)
            .output()
            .expect("run awsnycast")
    }

    fn run_ok(&self, i: usize, args: &[&str]) -> String {
        let out = self.run(i, args);
        let (stdout, stderr) = support::text(&out);
        assert!(
            out.status.success(),
            "router {i} {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// Where `cidr` points in route table `table`: the interface (or instance) id, if any.
    async fn target(&self, table: &str, cidr: &str) -> Option<String> {
        let out = self
            .ec2
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
            .expect("describe route table");
        let t = &out.route_tables()[0];
        t.routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some(cidr))
            .and_then(|r| r.network_interface_id().or(r.instance_id()).map(str::to_owned))
    }

    async fn targets(&self) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for table in &self.vpc.private_tables {
            for cidr in ["0.0.0.0/0", "192.168.1.1/32"] {
                out.push(self.target(table, cidr).await);
            }
        }
        out
    }

    fn eni(&self, i: usize) -> Option<String> {
        Some(self.vpc.routers[i].eni_id.clone())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oneshot_claims_and_backs_up_like_the_readme_says() {
    let w = world().await;
    let (a, b) = (w.eni(0), w.eni(1));

    // A first: claims its own table, and the other AZ's table too since nobody holds it.
    let out = w.run_ok(0, &["-oneshot"]);
    assert!(out.contains("4 routes managed, 4 changed, 0 failed"), "{out}");
    assert_eq!(w.targets().await, [a.clone(), a.clone(), a.clone(), a.clone()]);

    // B next: takes its own AZ's table (primary there), leaves A's (backup there, A is fine).
    let out = w.run_ok(1, &["-oneshot"]);
    assert!(out.contains("4 routes managed, 2 changed, 0 failed"), "{out}");
    assert_eq!(w.targets().await, [a.clone(), a.clone(), b.clone(), b.clone()]);

    // Both again: nothing to do; the layout is stable.
    for i in [0, 1] {
        let out = w.run_ok(i, &["-oneshot"]);
        assert!(out.contains("4 routes managed, 0 changed, 0 failed"), "{out}");
    }
    assert_eq!(w.targets().await, [a.clone(), a.clone(), b.clone(), b.clone()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn noop_prints_the_plan_and_changes_nothing() {
    let w = world().await;
    let before = w.targets().await;
    let out = w.run_ok(0, &["-oneshot", "-noop"]);
    assert_eq!(w.targets().await, before, "noop must not change routes");
    let (ta, tb) = (&w.vpc.private_tables[0], &w.vpc.private_tables[1]);
    let eni = &w.vpc.routers[0].eni_id;
    for needle in [
        "noop: no changes will be made".to_owned(),
        format!(
            "{ta} 0.0.0.0/0 [routetables.our_az]: create -> {eni}: route absent and our health check is healthy"
        ),
        format!("{tb} 192.168.1.1/32 [routetables.other_azs]: create -> {eni}: route absent"),
    ] {
        assert!(out.contains(&needle), "{needle:?} missing from\n{out}");
    }

    // With routes in place, noop from B explains why it would take its own table and not A's.
    w.run_ok(0, &["-oneshot"]);
    let out = w.run_ok(1, &["--oneshot", "--noop"]);
    let a_eni = &w.vpc.routers[0].eni_id;
    let b_eni = &w.vpc.routers[1].eni_id;
    assert!(
        out.contains(&format!("{tb} 0.0.0.0/0 [routetables.our_az]: replace "))
            && out.contains(&format!(
                "-> {b_eni}: we are primary for this route and healthy: take it"
            )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{ta} 0.0.0.0/0 [routetables.other_azs]: leave (")),
        "{out}"
    );
    assert!(
        out.contains("held by a healthy instance; we are backup only"),
        "{out}"
    );
    let a = Some(a_eni.clone());
    assert_eq!(
        w.targets().await,
        [a.clone(), a.clone(), a.clone(), a],
        "noop must not change routes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_primary_is_taken_over_by_the_backup() {
    let w = world().await;
    w.run_ok(0, &["-oneshot"]);
    w.run_ok(1, &["-oneshot"]);
    w.ec2
        .stop_instances()
        .instance_ids(&w.vpc.routers[0].instance_id)
        .send()
        .await
        .expect("stop router A");
    let out = w.run_ok(1, &["-oneshot"]);
    let b = w.eni(1);
    assert_eq!(
        w.targets().await,
        [b.clone(), b.clone(), b.clone(), b.clone()],
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "holder {} is stopped: take over",
            w.vpc.routers[0].instance_id
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminated_primary_is_taken_over_by_the_backup() {
    let w = world().await;
    w.run_ok(0, &["-oneshot"]);
    w.ec2
        .terminate_instances()
        .instance_ids(&w.vpc.routers[0].instance_id)
        .send()
        .await
        .expect("terminate router A");
    let out = w.run_ok(1, &["-oneshot"]);
    let b = w.eni(1);
    assert_eq!(
        w.targets().await,
        [b.clone(), b.clone(), b.clone(), b.clone()],
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_vpc_with_the_same_tags_is_never_touched() {
    let w = world().await;
    let other = vpc::build(&w.ec2, "other", 1).await;
    w.run_ok(0, &["-oneshot"]);
    for table in &other.private_tables {
        let out = w
            .ec2
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
            .expect("describe");
        let routes = out.route_tables()[0].routes();
        assert!(
            routes
                .iter()
                .all(|r| r.network_interface_id().is_none() && r.instance_id().is_none()),
            "table {table} in the other VPC was changed: {routes:?}"
        );
    }
    let a = w.eni(0);
    assert_eq!(w.targets().await, [a.clone(), a.clone(), a.clone(), a]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_that_cannot_route_is_refused_with_the_fix() {
    let w = world().await;
    w.ec2
        .modify_network_interface_attribute()
        .network_interface_id(&w.vpc.routers[0].eni_id)
        .source_dest_check(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(true)
                .build(),
        )
        .send()
        .await
        .expect("enable source/dest check");
    let out = w.run(0, &["-oneshot"]);
    let (_, stderr) = support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("source/destination checking is enabled"),
        "{stderr}"
    );
    assert!(stderr.contains("--no-source-dest-check"), "{stderr}");
    assert_eq!(w.targets().await, [None, None, None, None]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_run_around_changes_and_a_failing_before_hook_vetoes() {
    let w = world().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("hooks.log");
    let cfg = dir.path().join("hooks.yaml");
    let hook = |when: &str| {
        format!(
            "[sh, -c, 'echo {when} $AWSNYCAST_ACTION $AWSNYCAST_ROUTE_TABLE $AWSNYCAST_CIDR $AWSNYCAST_NEW_TARGET >> {}']",
            log.display()
        )
    };
    std::fs::write(
        &cfg,
        format!(
            "routetables:\n  mine:\n    find: {{type: by_tag, config: {{key: az, value: \"{{{{ az }}}}\"}}}}\n    manage_routes:\n      - cidr: 0.0.0.0/0\n        run_before_replace_route: {}\n        run_after_replace_route: {}\n      - cidr: 192.168.1.1/32\n        run_before_replace_route: [sh, -c, 'exit 7']\n",
            hook("before"),
            hook("after")
        ),
    )
    .expect("write config");
    let out = support::awsnycast()
        .envs(vpc::daemon_env(&w.moto.url()))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", w.imds[0].url())
        .arg("-oneshot")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("run");
    let (stdout, stderr) = support::text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a vetoed change is a failure\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("2 routes managed, 1 changed, 1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("before-hook failed"), "{stdout}");
    let table = &w.vpc.private_tables[0];
    let eni = &w.vpc.routers[0].eni_id;
    let logged = std::fs::read_to_string(&log).expect("hook log");
    assert_eq!(
        logged,
        format!("before create {table} 0.0.0.0/0 {eni}\nafter create {table} 0.0.0.0/0 {eni}\n")
    );
    assert_eq!(w.target(table, "0.0.0.0/0").await.as_deref(), Some(eni.as_str()));
    assert_eq!(
        w.target(table, "192.168.1.1/32").await,
        None,
        "the vetoed route must not exist"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route_tables_are_read_across_pages() {
    let w = world().await;
    // Seven more private tables in A's AZ: nine in all, served two to a page.
    for n in 0..7 {
        w.ec2
            .create_route_table()
            .vpc_id(&w.vpc.vpc_id)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::RouteTable)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("type")
                            .value("private")
                            .build(),
                    )
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value(format!("extra-{n}"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("create route table");
    }
    let proxy = support::proxy::Proxy::start(w.moto.url(), 2).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("all.yaml");
    std::fs::write(
        &cfg,
        "routetables:\n  private:\n    find: {type: by_tag, config: {key: type, value: private}}\n    manage_routes: [{cidr: 0.0.0.0/0}]\n",
    )
    .expect("write");
    let out = support::awsnycast()
        .envs(vpc::daemon_env(&proxy.url()))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", w.imds[0].url())
        .args(["-oneshot", "-f"])
        .arg(&cfg)
        .output()
        .expect("run");
    let (stdout, stderr) = support::text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("9 routes managed, 9 changed, 0 failed"),
        "{stdout}"
    );
    assert_eq!(
        proxy.count("DescribeRouteTables"),
        5,
        "nine tables, two a page: {:?}",
        proxy.actions
    );
    let tables = vpc::tables_tagged(&w.ec2, &w.vpc.vpc_id, "type", "private").await;
    assert_eq!(tables.len(), 9);
    for t in tables {
        assert_eq!(w.target(&t, "0.0.0.0/0").await, w.eni(0), "table {t}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_withdrawal_never_deletes_a_route_a_backup_has_taken() {
    use awsnycast::ec2::apply::apply;
    use awsnycast::ec2::client::Ec2;
    use awsnycast::routes::decide::{Action, Decision, Reason};
    use awsnycast::routes::plan::{Plan, PlanItem};
    use awsnycast::routes::snapshot::RouteHolder;

    let w = world().await;
    let table = w.vpc.private_tables[0].clone();
    let cidr = "192.168.1.1/32";
    let config = config_of(
        "healthchecks:\n  hc: {type: ping, destination: 127.0.0.1}\nroutetables:\n  t:\n    find: {type: by_tag, config: {key: az, value: eu-west-1a}}\n    manage_routes: [{cidr: 192.168.1.1/32, healthcheck: hc}]\n",
    );
    let (a, b) = (&w.vpc.routers[0], &w.vpc.routers[1]);
    let me = me_of(a);
    // A's plan, made from a read in which the route was still A's: withdraw it.
    let plan = Plan {
        items: vec![PlanItem {
            routetable: "t".into(),
            route_index: 0,
            table_id: table.clone(),
            cidr: cidr.parse().expect("cidr"),
            current: Some(RouteHolder::Instance {
                instance_id: Some(a.instance_id.clone()),
                eni_id: Some(a.eni_id.clone()),
            }),
            holder_instance: Some(a.instance_id.clone()),
            decision: Decision {
                action: Action::Delete,
                reason: Reason::OursButUnhealthy,
            },
            revisit_in: None,
        }],
        ..Plan::default()
    };
    // Meanwhile the backup has taken the route.
    w.ec2
        .create_route()
        .route_table_id(&table)
        .destination_cidr_block(cidr)
        .network_interface_id(&b.eni_id)
        .send()
        .await
        .expect("backup takes the route");
    let ec2 = Ec2::new(vpc::client(&w.moto.url()), 100);
    let applied = apply(&ec2, &config, &plan, &me, &w.vpc.vpc_id).await;
    assert!(applied.is_empty(), "nothing may be deleted: {applied:?}");
    assert_eq!(
        w.target(&table, cidr).await,
        w.eni(1),
        "the backup's route must survive"
    );

    // When the route really is still ours, the same plan withdraws it.
    w.ec2
        .replace_route()
        .route_table_id(&table)
        .destination_cidr_block(cidr)
        .network_interface_id(&a.eni_id)
        .send()
        .await
        .expect("route back to A");
    let applied = apply(&ec2, &config, &plan, &me, &w.vpc.vpc_id).await;
    assert_eq!(applied.len(), 1);
    assert!(applied[0].result.is_ok(), "{applied:?}");
    assert_eq!(w.target(&table, cidr).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_ridden_out_or_reported_cleanly() {
    let w = world().await;
    let proxy = support::proxy::Proxy::start(w.moto.url(), 100).await;
    let run = || {
        support::awsnycast()
            .envs(vpc::daemon_env(&proxy.url()))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", w.imds[0].url())
            .arg("-f")
            .arg(support::repo().join("examples/awsnycast.yaml"))
            .arg("-oneshot")
            .output()
            .expect("run")
    };
    // A burst of throttling: backed off and ridden out.
    proxy.throttle.store(4, std::sync::atomic::Ordering::SeqCst);
    let out = run();
    let (stdout, stderr) = support::text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("4 routes managed, 4 changed, 0 failed"),
        "{stdout}"
    );
    assert_eq!(proxy.count("throttled"), 4);
    let a = w.eni(0);
    assert_eq!(w.targets().await, [a.clone(), a.clone(), a.clone(), a.clone()]);

    // Server errors (5xx) for a while: retried through the budget, ridden out.
    proxy
        .internal_errors
        .store(3, std::sync::atomic::Ordering::SeqCst);
    let out = run();
    let (stdout, stderr) = support::text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(proxy.count("internal error"), 3);
    assert!(
        stderr.contains("EC2 call failed transiently; retrying"),
        "{stderr}"
    );

    // Throttling that does not stop: a clear failure, no panic, nothing half-done.
    proxy.throttle.store(10_000, std::sync::atomic::Ordering::SeqCst);
    let out = run();
    let (stdout, stderr) = support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("RequestLimitExceeded"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(w.targets().await, [a.clone(), a.clone(), a.clone(), a]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_takeover_of_a_route_withdrawn_meanwhile_creates_it() {
    use awsnycast::ec2::apply::apply;
    use awsnycast::ec2::client::Ec2;
    use awsnycast::routes::decide::{Action, Decision, Reason, Target};
    use awsnycast::routes::plan::{Plan, PlanItem};
    use awsnycast::routes::snapshot::RouteHolder;

    let w = world().await;
    let table = w.vpc.private_tables[0].clone();
    let config = config_of(
        "routetables:\n  t:\n    find: {type: by_tag, config: {key: az, value: eu-west-1a}}\n    manage_routes: [{cidr: 192.168.1.1/32, if_unhealthy: true}]\n",
    );
    let (a, b) = (&w.vpc.routers[0], &w.vpc.routers[1]);
    let me = me_of(b);
    // B read the route held by a failing A and decided to take it over; A withdrew it
    // before B's write arrived (the route never existed in this test's EC2).
    let plan = Plan {
        items: vec![PlanItem {
            routetable: "t".into(),
            route_index: 0,
            table_id: table.clone(),
            cidr: "192.168.1.1/32".parse().expect("cidr"),
            current: Some(RouteHolder::Instance {
                instance_id: Some(a.instance_id.clone()),
                eni_id: Some(a.eni_id.clone()),
            }),
            holder_instance: Some(a.instance_id.clone()),
            decision: Decision {
                action: Action::Replace {
                    to: Target::Interface(b.eni_id.clone()),
                },
                reason: Reason::HolderFailsRemoteCheck,
            },
            revisit_in: None,
        }],
        ..Plan::default()
    };
    let ec2 = Ec2::new(vpc::client(&w.moto.url()), 100);
    let applied = apply(&ec2, &config, &plan, &me, &w.vpc.vpc_id).await;
    assert_eq!(applied.len(), 1);
    assert!(applied[0].result.is_ok(), "{applied:?}");
    assert_eq!(w.target(&table, "192.168.1.1/32").await, w.eni(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn syslog_receives_the_log() {
    use std::os::unix::net::UnixDatagram;
    let w = world().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("log");
    let sock = UnixDatagram::bind(&sock_path).expect("bind a syslog socket");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    // The daemon logs to /dev/log; give it ours in a private mount namespace. A bind mount
    // needs something at /dev/log to cover: create an empty file if there is nothing there,
    // and remove it afterwards.
    let dev_log = std::path::Path::new("/dev/log");
    let created = !dev_log.exists();
    if created {
        std::fs::File::create(dev_log).expect("create /dev/log as a mount point (tests run as root)");
    }
    let out = std::process::Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --bind \"$0\" /dev/log && exec \"$@\"",
        ])
        .arg(&sock_path)
        .arg(support::binary())
        .args(["-syslog", "-oneshot", "-noop", "-f"])
        .arg(support::repo().join("examples/awsnycast.yaml"))
        .envs(vpc::daemon_env(&w.moto.url()))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", w.imds[0].url())
        .output()
        .expect("run unshare");
    if created {
        let _ = std::fs::remove_file(dev_log);
    }
    let (stdout, stderr) = support::text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("routes will point at this interface"),
        "logs went to stderr: {stderr}"
    );
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        let done = line.contains("routes will point at this interface");
        got.push(line);
        if done {
            break;
        }
    }
    let line = got
        .iter()
        .find(|l| l.contains("routes will point at this interface"));
    let line = line.unwrap_or_else(|| panic!("no such syslog message; got {got:?}"));
    // "<29>Nov 22 20:00:00 awsnycast[1234]: ..." — the facility is daemon (3).
    let pri: u32 = line
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("no syslog priority in {line}"));
    assert_eq!(pri / 8, 3, "facility daemon expected: {line}");
    assert!(line.contains("awsnycast["), "{line}");
    assert!(line.contains(&w.vpc.routers[0].eni_id), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moved_interface_is_looked_up_again_before_its_old_owner_is_thought_failed() {
    // The ENI-move failover (seeds/eni-reassignment-failover): a route points at a
    // secondary interface; its instance dies and the interface is moved to a healthy
    // instance. The observer cached the old owner; seeing it stopped, it must look the
    // interface up again and report the new, running owner — not a dead holder to take
    // over from.
    use awsnycast::ec2::client::Ec2;
    use awsnycast::routes::snapshot::InstanceState;

    let w = world().await;
    let (a, b) = (&w.vpc.routers[0], &w.vpc.routers[1]);
    let eni = w
        .ec2
        .create_network_interface()
        .subnet_id(&a.subnet_id)
        .send()
        .await
        .expect("create interface")
        .network_interface()
        .and_then(|i| i.network_interface_id())
        .expect("interface id")
        .to_owned();
    let attach = |instance: String| {
        let (ec2, eni) = (w.ec2.clone(), eni.clone());
        async move {
            ec2.attach_network_interface()
                .network_interface_id(eni)
                .instance_id(instance)
                .device_index(1)
                .send()
                .await
                .expect("attach")
                .attachment_id()
                .expect("attachment id")
                .to_owned()
        }
    };
    let attachment = attach(a.instance_id.clone()).await;
    let table = w.vpc.private_tables[0].clone();
    let cidr = "192.168.5.5/32";
    w.ec2
        .create_route()
        .route_table_id(&table)
        .destination_cidr_block(cidr)
        .network_interface_id(&eni)
        .send()
        .await
        .expect("route to the interface");

    let ec2 = Ec2::new(vpc::client(&w.moto.url()), 100);
    let me = me_of(b);
    let managed = [cidr.parse().expect("cidr")].into();
    let owner = |snap: &awsnycast::routes::snapshot::Snapshot| {
        let id = snap.eni_owners.get(&eni).cloned().unwrap_or_default();
        let state = snap.instances.get(&id).map(|v| v.state);
        (id, state)
    };
    let first = ec2
        .snapshot(&w.vpc.vpc_id, &[], &managed, &me)
        .await
        .expect("first look");
    assert_eq!(
        owner(&first),
        (a.instance_id.clone(), Some(InstanceState::Running))
    );

    // A dies; the interface moves to a third, running instance.
    w.ec2
        .stop_instances()
        .instance_ids(&a.instance_id)
        .send()
        .await
        .expect("stop a");
    w.ec2
        .detach_network_interface()
        .attachment_id(attachment)
        .force(true)
        .send()
        .await
        .expect("detach");
    let image = w.ec2.describe_images().send().await.expect("images").images()[0]
        .image_id()
        .expect("image id")
        .to_owned();
    let c = w
        .ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .subnet_id(&a.subnet_id)
        .send()
        .await
        .expect("run c")
        .instances()[0]
        .instance_id()
        .expect("instance id")
        .to_owned();
    attach(c.clone()).await;

    let second = ec2
        .snapshot(&w.vpc.vpc_id, &[], &managed, &me)
        .await
        .expect("second look");
    assert_eq!(owner(&second), (c, Some(InstanceState::Running)));
}
