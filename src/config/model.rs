//! The validated configuration: what the rest of the daemon works from.
//!
//! Every value here has passed validation: CIDRs parse, references resolve, thresholds are
//! positive. Nothing in this module knows about YAML or AWS.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// The whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often to re-read route tables from EC2 when nothing else asks for it.
    pub poll_time: Duration,
    /// How often to reconcile, between polls, while we back up any route (held by a peer or
    /// by us), so that a dead peer is noticed without a remote check. `None`: off.
    pub fast_poll: Option<Duration>,
    /// How long a primary's check must have been healthy before it takes a route back from
    /// a peer (failback), for stability. Zero: at once.
    pub preempt_delay: Duration,
    /// When our check fails on a route we hold and a healthy backup is known, how long to
    /// wait for it to take the route over before withdrawing it ourselves.
    pub withdraw_delay: WithdrawDelay,
    /// After writing a route, leave it alone this long (flap damping). Zero: no hold-down;
    /// contested routes back off regardless.
    pub hold_down: Duration,
    /// The EC2 request budget all of the daemon's calls share.
    pub ec2_calls_per_second: u32,
    /// Checks of services on this instance, by name.
    pub healthchecks: BTreeMap<String, Healthcheck>,
    /// Check templates run against the instance that currently holds a route, by name.
    pub remote_healthchecks: BTreeMap<String, Healthcheck>,
    /// Managed route tables, by name.
    pub routetables: BTreeMap<String, RouteTable>,
}

/// How long a primary whose check failed waits for a known healthy backup to replace its
/// route (so the route is never absent) before deleting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawDelay {
    /// As long as a backup running the route's remote check needs to see the failure:
    /// that template's `every × fall`, plus [`WithdrawDelay::SLACK`].
    Auto,
    /// This long; zero deletes at once (AWSnycast's behaviour).
    After(Duration),
}

impl WithdrawDelay {
    /// Time for the backup's reconcile round and its write, on top of its detection time.
    pub const SLACK: Duration = Duration::from_secs(2);
}

/// One health check (local) or remote health-check template (no destination).
#[derive(Debug, Clone, PartialEq)]
pub struct Healthcheck {
    pub name: String,
    pub check: CheckKind,
    /// Where to check; `None` for remote templates (the route target supplies it) and for
    /// command checks that do not use `%DESTINATION%`.
    pub destination: Option<IpAddr>,
    /// Consecutive passes needed to become healthy.
    pub rise: u32,
    /// Consecutive failures needed to become unhealthy.
    pub fall: u32,
    /// Interval between runs.
    pub every: Duration,
    /// Time one run may take before it counts as a failure.
    pub timeout: Duration,
    pub run_on_healthy: Option<Vec<String>>,
    pub run_on_unhealthy: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Ping,
    Tcp(TcpCheck),
    Http(HttpCheck),
    Command(CommandCheck),
}

impl CheckKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Ping => "ping",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Http(_) => "http",
            CheckKind::Command(_) => "command",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TcpCheck {
    pub port: u16,
    /// Bytes to send after connecting.
    pub send: Option<String>,
    /// A substring the reply must contain.
    pub expect: Option<String>,
    /// Wrap the connection in TLS.
    pub tls: Option<TlsOptions>,
}

/// How to verify a TLS peer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsOptions {
    /// Extra CA certificate(s) to trust, PEM.
    pub ca: Option<CaSource>,
    /// Accept any certificate (for self-signed services you cannot give a CA for).
    pub skip_verify: bool,
    /// The name to verify and send as SNI; defaults to the destination IP.
    pub server_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaSource {
    /// PEM text given inline (`cert`).
    Inline(String),
    /// A PEM file (`certPath`).
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub scheme: Scheme,
    pub port: u16,
    pub path: String,
    pub method: String,
    /// Accepted status codes, as inclusive ranges (default 200..=299).
    pub expect_status: Vec<(u16, u16)>,
    pub expect_body: Option<String>,
    /// `Host` header to send.
    pub host: Option<String>,
    /// TLS verification for `https`.
    pub tls: TlsOptions,
    /// `config.timeout` as written; the effective timeout is [`Healthcheck::timeout`].
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandCheck {
    pub command: String,
    /// Arguments; `%DESTINATION%` is replaced by the (validated) destination IP.
    pub arguments: Vec<String>,
}

impl CommandCheck {
    pub fn uses_destination(&self) -> bool {
        std::iter::once(&self.command)
            .chain(&self.arguments)
            .any(|a| a.contains("%DESTINATION%"))
    }
}

/// A set of route tables found by a filter, and the routes to manage in each.
#[derive(Debug, Clone)]
pub struct RouteTable {
    pub name: String,
    pub find: Finder,
    /// Finding no table is not an error (otherwise it is logged as one every poll).
    pub no_results_ok: bool,
    pub manage_routes: Vec<ManagedRoute>,
}

/// How route tables are selected. Evaluated against tags, associations and routes.
#[derive(Debug, Clone)]
pub enum Finder {
    ByTag {
        key: String,
        value: String,
    },
    ByTagRegexp {
        key: String,
        regexp: regex::Regex,
    },
    And(Vec<Finder>),
    Or(Vec<Finder>),
    /// The VPC's main route table.
    Main,
    /// The table associated with a subnet.
    Subnet {
        subnet_id: String,
    },
    /// Tables holding a route to this destination.
    HasRouteTo {
        cidr: IpNet,
    },
    Not(Box<Finder>),
}

impl Finder {
    /// A one-line description for summaries, e.g. `tag az = eu-west-1a and tag type = private`.
    pub fn describe(&self) -> String {
        match self {
            Finder::ByTag { key, value } => format!("tag {key} = {value}"),
            Finder::ByTagRegexp { key, regexp } => format!("tag {key} =~ /{}/", regexp.as_str()),
            Finder::And(fs) => join(fs, " and "),
            Finder::Or(fs) => join(fs, " or "),
            Finder::Main => "main route table".into(),
            Finder::Subnet { subnet_id } => format!("associated with {subnet_id}"),
            Finder::HasRouteTo { cidr } => format!("has a route to {cidr}"),
            Finder::Not(f) => format!("not ({})", f.describe()),
        }
    }
}

fn join(fs: &[Finder], sep: &str) -> String {
    let parts: Vec<String> = fs
        .iter()
        .map(|f| match f {
            Finder::And(_) | Finder::Or(_) => format!("({})", f.describe()),
            _ => f.describe(),
        })
        .collect();
    parts.join(sep)
}

/// Which instance a managed route should point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// This instance (`SELF`).
    This,
    /// A named instance id.
    Instance(String),
}

/// One route to manage in every table a finder selects.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedRoute {
    pub cidr: IpNet,
    pub instance: RouteTarget,
    /// Local check that must pass for us to hold the route.
    pub healthcheck: Option<String>,
    /// Remote check template run against the route's current holder.
    pub remote_healthcheck: Option<String>,
    /// Backup mode: take the route only if it is absent or its holder has failed.
    pub if_unhealthy: bool,
    /// Never withdraw the route, even when our check fails.
    pub never_delete: bool,
    pub run_before_replace_route: Option<Vec<String>>,
    pub run_after_replace_route: Option<Vec<String>>,
    pub run_before_delete_route: Option<Vec<String>>,
    pub run_after_delete_route: Option<Vec<String>>,
}
