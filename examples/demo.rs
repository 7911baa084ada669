//! The local failover demo (run it with `examples/demo.sh`, as root).
//!
//! Builds the AWSnycast README's VPC in moto's EC2 emulator, gives each of the two router
//! instances a network namespace holding its private IP with a web service in it, runs one
//! awsnycast daemon per router, and plays the story: both AZs served locally → the primary's
//! service fails → the backup takes the route → the primary recovers → the route fails back.
//! Exits non-zero if the story did not happen. Everything it starts is stopped on exit,
//! including on Ctrl-C.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

use support::daemon::Daemon;
use support::imds::FakeImds;
use support::moto::Moto;
use support::netns::Host;
use support::vpc;

const SERVICE: &str = "192.168.1.1/32";
const PORT: u16 = 8080;
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a route must stay put to count as settled.
const SETTLED: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = story() => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    // Everything the story started has been dropped (and so stopped) by now.
    match result {
        Ok(()) => {
            println!("demo: the story happened; everything started has been stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Clock(Instant);

impl Clock {
    fn say(&self, what: impl AsRef<str>) {
        println!("[{:6.1}s] {}", self.0.elapsed().as_secs_f64(), what.as_ref());
    }
}

/// A router's web service in its namespace.
struct Service {
    child: Option<Child>,
    host: Host,
    ip: Ipv4Addr,
}

impl Service {
    fn start(host: Host, ip: Ipv4Addr) -> Service {
        let child = host.spawn(&[
            "python3",
            "-m",
            "http.server",
            &PORT.to_string(),
            "--bind",
            &ip.to_string(),
        ]);
        Service {
            child: Some(child),
            host,
            ip,
        }
    }

    fn up(&self) -> bool {
        TcpStream::connect_timeout(&SocketAddr::from((self.ip, PORT)), Duration::from_millis(200)).is_ok()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        let ip = self.ip.to_string();
        self.child =
            Some(
                self.host
                    .spawn(&["python3", "-m", "http.server", &PORT.to_string(), "--bind", &ip]),
            );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(dir: &std::path::Path, name: &str, own_ip: Ipv4Addr) -> Result<std::path::PathBuf, String> {
    let path = dir.join(format!("{name}.yaml"));
    let text = format!(
        r#"poll_time: 300
healthchecks:
  service:
    type: http
    destination: {own_ip}
    every: 500ms
    rise: 2
    fall: 2
    config: {{port: {PORT}}}
remote_healthchecks:
  service:
    type: http
    every: 500ms
    rise: 2
    fall: 2
    config: {{port: {PORT}}}
routetables:
  our_az:
    find:
      type: and
      config:
        filters:
          - {{type: by_tag, config: {{key: az, value: "{{{{ az }}}}"}}}}
          - {{type: by_tag, config: {{key: type, value: private}}}}
    manage_routes:
      - {{cidr: {SERVICE}, healthcheck: service, remote_healthcheck: service}}
  other_azs:
    find:
      type: and
      config:
        filters:
          - {{type: by_tag, not: true, config: {{key: az, value: "{{{{ az }}}}"}}}}
          - {{type: by_tag, config: {{key: type, value: private}}}}
    manage_routes:
      - {{cidr: {SERVICE}, healthcheck: service, remote_healthcheck: service, if_unhealthy: true}}
"#
    );
    std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

async fn holder(ec2: &aws_sdk_ec2::Client, table: &str) -> Result<Option<String>, String> {
    let out = ec2
        .describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
        .map_err(|e| format!("describe route table: {e}"))?;
    Ok(out
        .route_tables()
        .first()
        .and_then(|t| {
            t.routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some(SERVICE))
        })
        .and_then(|r| r.network_interface_id().or(r.instance_id()).map(str::to_owned)))
}

/// Waits until `table` routes the service to `want`, then checks that it stays so for
/// `stable`; returns the time until it first got there and how long (sampled every 100 ms)
/// the route was absent on the way.
async fn until(
    ec2: &aws_sdk_ec2::Client,
    table: &str,
    want: &str,
    stable: Duration,
    daemons: &mut [Daemon],
) -> Result<(Duration, Duration), String> {
    let start = Instant::now();
    let mut absent = Duration::ZERO;
    let mut reached: Option<(Instant, Duration)> = None;
    let tick = Duration::from_millis(100);
    loop {
        let now = holder(ec2, table).await?;
        if now.as_deref() == Some(want) {
            let (since, took) = *reached.get_or_insert((Instant::now(), start.elapsed()));
            if since.elapsed() >= stable {
                return Ok((took, absent));
            }
        } else {
            reached = None;
            if now.is_none() {
                absent += tick;
            }
        }
        for d in daemons.iter_mut() {
            if !d.running() {
                return Err(format!("a daemon exited:\n{}", d.output()));
            }
        }
        if start.elapsed() > STEP_TIMEOUT {
            return Err(format!(
                "{table} did not route {SERVICE} to {want} within {STEP_TIMEOUT:?} (it routes to {now:?})"
            ));
        }
        tokio::time::sleep(tick).await;
    }
}

/// An error with the end of each daemon's log, so that a failed story explains itself.
fn with_logs(e: String, daemons: &[Daemon]) -> String {
    let mut out = e;
    for (i, d) in daemons.iter().enumerate() {
        let log = d.output();
        let tail: Vec<&str> = log.lines().filter(|l| !l.contains("DEBUG")).collect();
        let start = tail.len().saturating_sub(25);
        out.push_str(&format!(
            "\n--- daemon {} (last lines) ---\n{}",
            ["A", "B"][i],
            tail[start..].join("\n")
        ));
    }
    out
}

async fn story() -> Result<(), String> {
    let clock = Clock(Instant::now());
    clock.say("starting the EC2 emulator (moto) on loopback");
    let moto = Moto::start();
    let ec2 = vpc::client(&moto.url());
    let net = vpc::build(&ec2, "demo", 0).await;
    let (ta, tb) = (net.private_tables[0].clone(), net.private_tables[1].clone());
    clock.say(format!(
        "built the README's VPC {}: private route tables {ta} (eu-west-1a) and {tb} (eu-west-1b)",
        net.vpc_id
    ));

    let mut services = Vec::new();
    let mut imds = Vec::new();
    for (i, r) in net.routers.iter().enumerate() {
        let ip: Ipv4Addr = r
            .private_ip
            .parse()
            .map_err(|e| format!("router ip {}: {e}", r.private_ip))?;
        let host = Host::new();
        host.add_address(ip);
        services.push(Service::start(host, ip));
        imds.push(FakeImds::start(&net.metadata(i)));
        clock.say(format!(
            "router {} = {} ({}, {}): web service on {ip}:{PORT} in network namespace {}",
            ["A", "B"][i],
            r.instance_id,
            r.eni_id,
            r.az,
            services[i].host.name
        ));
    }
    let started = Instant::now();
    while !services.iter().all(Service::up) {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("the web services did not start (is python3 installed?)".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut daemons = Vec::new();
    for (i, s) in services.iter().enumerate() {
        let cfg = config(dir.path(), ["a", "b"][i], s.ip)?;
        daemons.push(Daemon::start(&moto.url(), &imds[i], &cfg, &[]));
    }
    let (eni_a, eni_b) = (net.routers[0].eni_id.clone(), net.routers[1].eni_id.clone());
    clock.say("started one awsnycast daemon per router (poll_time 300s: every move below is driven by health checks)");

    // Settled: each table held by its own AZ's router for a few seconds running.
    until(&ec2, &ta, &eni_a, SETTLED, &mut daemons)
        .await
        .map_err(|e| with_logs(e, &daemons))?;
    until(&ec2, &tb, &eni_b, SETTLED, &mut daemons)
        .await
        .map_err(|e| with_logs(e, &daemons))?;
    clock.say(format!("1. both AZs are served locally: {ta} -> A, {tb} -> B"));

    services[0].stop();
    clock.say("2. router A's web service fails");
    let (took, absent) = until(&ec2, &ta, &eni_b, SETTLED, &mut daemons)
        .await
        .map_err(|e| with_logs(e, &daemons))?;
    clock.say(format!(
        "3. backup B took over {ta} {:.1}s after the failure (route absent for about {:.1}s on the way)",
        took.as_secs_f64(),
        absent.as_secs_f64()
    ));

    services[0].restart();
    clock.say("4. router A's web service recovers");
    let (took, absent) = until(&ec2, &ta, &eni_a, SETTLED, &mut daemons)
        .await
        .map_err(|e| with_logs(e, &daemons))?;
    clock.say(format!(
        "5. the route failed back to A {:.1}s after recovery (absent for about {:.1}s)",
        took.as_secs_f64(),
        absent.as_secs_f64()
    ));
    if holder(&ec2, &tb).await?.as_deref() != Some(eni_b.as_str()) {
        return Err(format!("{tb} moved away from B during the story"));
    }

    for (i, d) in daemons.iter_mut().enumerate() {
        if d.terminate() != Some(0) {
            return Err(format!(
                "daemon {} did not stop cleanly:\n{}",
                ["A", "B"][i],
                d.output()
            ));
        }
    }
    clock.say("stopped both daemons with SIGTERM; cleaning up");
    Ok(())
}
