//! The two-router failover scenario shared by the demo and the failover benchmark: moto,
//! the README's VPC, one network namespace per router holding its private IP with a web
//! service in it, and one awsnycast daemon per router (optionally behind the counting proxy).
//! Every part is stopped when the scenario is dropped.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use super::daemon::Daemon;
use super::imds::FakeImds;
use super::moto::Moto;
use super::netns::Host;
use super::proxy::Proxy;
use super::vpc::{self, Vpc};

pub const SERVICE: &str = "192.168.1.1/32";
pub const PORT: u16 = 8080;
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a route must stay put to count as settled.
pub const SETTLED: Duration = Duration::from_secs(3);

/// A router's web service in its namespace.
pub struct Service {
    child: Option<Child>,
    pub host: Host,
    pub ip: Ipv4Addr,
}

impl Service {
    pub fn start(host: Host, ip: Ipv4Addr) -> Service {
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

    pub fn up(&self) -> bool {
        TcpStream::connect_timeout(&SocketAddr::from((self.ip, PORT)), Duration::from_millis(200)).is_ok()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
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

/// A router's config: claim the service route in its own AZ's table, back it up in the
/// other; local and remote http checks every 500 ms with rise 2 / fall 2 (the remote check's
/// fall is `remote_fall`); `extra` adds top-level settings.
pub fn config(
    dir: &std::path::Path,
    name: &str,
    own_ip: Ipv4Addr,
    extra: &str,
    remote_fall: u32,
) -> Result<std::path::PathBuf, String> {
    let path = dir.join(format!("{name}.yaml"));
    let text = format!(
        r#"poll_time: 300
{extra}
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
    fall: {remote_fall}
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

/// Where the service route in `table` points.
pub async fn holder(ec2: &aws_sdk_ec2::Client, table: &str) -> Result<Option<String>, String> {
    target(ec2, table, SERVICE).await
}

/// Where the route to `cidr` in `table` points (interface or instance id).
pub async fn target(ec2: &aws_sdk_ec2::Client, table: &str, cidr: &str) -> Result<Option<String>, String> {
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
                .find(|r| r.destination_cidr_block() == Some(cidr))
        })
        .and_then(|r| r.network_interface_id().or(r.instance_id()).map(str::to_owned)))
}

/// Waits until `table` routes the service to `want`, then checks that it stays so for
/// `stable`; returns the time until it first got there and how long (sampled every 100 ms)
/// the route was absent on the way.
pub async fn until(
    ec2: &aws_sdk_ec2::Client,
    table: &str,
    want: &str,
    stable: Duration,
    daemons: &mut [Daemon],
) -> Result<(Duration, Duration), String> {
    until_route(ec2, table, SERVICE, want, stable, daemons).await
}

/// [`until`] for the route to any `cidr`.
pub async fn until_route(
    ec2: &aws_sdk_ec2::Client,
    table: &str,
    cidr: &str,
    want: &str,
    stable: Duration,
    daemons: &mut [Daemon],
) -> Result<(Duration, Duration), String> {
    let start = Instant::now();
    let mut absent = Duration::ZERO;
    let mut reached: Option<(Instant, Duration)> = None;
    let tick = Duration::from_millis(100);
    loop {
        let now = target(ec2, table, cidr).await?;
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
            if d.pid().is_some() && !d.running() {
                return Err(format!("a daemon exited:\n{}", d.output()));
            }
        }
        if start.elapsed() > STEP_TIMEOUT {
            return Err(format!(
                "{table} did not route {cidr} to {want} within {STEP_TIMEOUT:?} (it routes to {now:?})"
            ));
        }
        tokio::time::sleep(tick).await;
    }
}

/// An error with the end of each daemon's log, so that a failed story explains itself.
pub fn with_logs(e: String, daemons: &[Daemon]) -> String {
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

/// The running scenario.
pub struct Scenario {
    pub moto: Moto,
    pub proxy: Option<Proxy>,
    pub ec2: aws_sdk_ec2::Client,
    pub net: Vpc,
    pub services: Vec<Service>,
    pub imds: Vec<FakeImds>,
    pub daemons: Vec<Daemon>,
    pub dir: tempfile::TempDir,
}

impl Scenario {
    /// Builds everything and starts both daemons (through a counting proxy if `proxied`).
    /// The VPC is 10.`octet`.0.0/16: scenarios that run at once need different octets,
    /// since their routers' addresses are routed into namespaces on this machine.
    pub async fn start(extra_config: &str, proxied: bool, octet: u8) -> Result<Scenario, String> {
        Scenario::start_tuned(extra_config, 2, proxied, octet).await
    }

    /// [`Scenario::start`] with the remote check's `fall` set to `remote_fall`.
    pub async fn start_tuned(
        extra_config: &str,
        remote_fall: u32,
        proxied: bool,
        octet: u8,
    ) -> Result<Scenario, String> {
        let moto = Moto::start();
        let ec2 = vpc::client(&moto.url());
        let net = vpc::build(&ec2, "scenario", octet).await;
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
        }
        let started = Instant::now();
        while !services.iter().all(Service::up) {
            if started.elapsed() > Duration::from_secs(20) {
                return Err("the web services did not start (is python3 installed?)".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let proxy = if proxied {
            Some(Proxy::start(moto.url(), 100).await)
        } else {
            None
        };
        let endpoint = proxy.as_ref().map_or(moto.url(), Proxy::url);
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut daemons = Vec::new();
        for (i, s) in services.iter().enumerate() {
            let cfg = config(dir.path(), ["a", "b"][i], s.ip, extra_config, remote_fall)?;
            daemons.push(Daemon::start(&endpoint, &imds[i], &cfg, &[]));
        }
        Ok(Scenario {
            moto,
            proxy,
            ec2,
            net,
            services,
            imds,
            daemons,
            dir,
        })
    }

    pub fn eni(&self, i: usize) -> String {
        self.net.routers[i].eni_id.clone()
    }

    pub fn table(&self, i: usize) -> String {
        self.net.private_tables[i].clone()
    }

    /// Waits until `table(t)` routes to router `r` and stays so for [`SETTLED`].
    pub async fn settle(&mut self, t: usize, r: usize) -> Result<(Duration, Duration), String> {
        let (table, eni) = (self.table(t), self.eni(r));
        until(&self.ec2, &table, &eni, SETTLED, &mut self.daemons)
            .await
            .map_err(|e| with_logs(e, &self.daemons))
    }
}
