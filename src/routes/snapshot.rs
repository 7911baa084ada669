//! What EC2 showed at one moment, as plain data: route tables with their routes, and the
//! state of the instances that hold routes we care about.
//!
//! The EC2 layer fills this in; the decision code reads it. Every field EC2 may omit is an
//! `Option` or has an `Unknown` case, because real and emulated EC2 both leave fields out
//! (moto, for one, returns routes created with `InstanceId` without `NetworkInterfaceId`).

use std::collections::BTreeMap;

use ipnet::IpNet;

/// One route table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTableView {
    pub id: String,
    pub vpc_id: String,
    /// The VPC's main route table.
    pub main: bool,
    pub tags: BTreeMap<String, String>,
    /// Subnets explicitly associated with this table.
    pub subnet_ids: Vec<String>,
    pub routes: Vec<RouteView>,
}

impl RouteTableView {
    /// The route for exactly this destination, if any.
    pub fn route(&self, cidr: &IpNet) -> Option<&RouteView> {
        self.routes.iter().find(|r| r.destination == *cidr)
    }
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteView {
    pub destination: IpNet,
    pub target: RouteHolder,
    pub state: RouteState,
}

/// What a route points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteHolder {
    /// An instance or its network interface; either id may be missing.
    Instance {
        instance_id: Option<String>,
        eni_id: Option<String>,
    },
    /// Anything else: an internet, NAT, transit or virtual private gateway, a peering, `local`.
    Gateway(String),
    /// EC2 named no target at all.
    Unknown,
}

impl std::fmt::Display for RouteHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteHolder::Instance {
                instance_id: Some(i),
                eni_id: Some(e),
            } => write!(f, "{i} ({e})"),
            RouteHolder::Instance {
                instance_id: Some(i),
                eni_id: None,
            } => f.write_str(i),
            RouteHolder::Instance {
                instance_id: None,
                eni_id: Some(e),
            } => f.write_str(e),
            RouteHolder::Instance { .. } | RouteHolder::Unknown => f.write_str("an unknown target"),
            RouteHolder::Gateway(g) => f.write_str(g),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteState {
    Active,
    /// The target is gone (stopped or terminated instance, deleted interface).
    Blackhole,
    Unknown,
}

/// The lifecycle state of an instance, as DescribeInstanceStatus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
    Unknown,
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Unknown => "in an unknown state",
        })
    }
}

impl InstanceState {
    /// States in which an instance cannot forward traffic.
    pub fn is_dead(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown
                | InstanceState::Terminated
                | InstanceState::Stopping
                | InstanceState::Stopped
        )
    }
}

/// What EC2 says about an instance that holds a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceView {
    pub state: InstanceState,
    /// An instance or system status check reports `impaired`.
    pub impaired: bool,
}

/// Everything one decision round reads from EC2.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub tables: Vec<RouteTableView>,
    /// Instances holding routes, by id. An id that was asked about and is absent no longer
    /// exists (terminated long enough ago to be forgotten).
    pub instances: BTreeMap<String, InstanceView>,
    /// Instance ids whose state was looked up (so absence from `instances` means "gone").
    pub instances_asked: Vec<String>,
    /// Which instance an interface is attached to, for routes that name only the interface.
    pub eni_owners: BTreeMap<String, String>,
    /// The private address of each route-holding instance (of the interface the route names,
    /// else of its primary interface): where remote health checks go.
    pub addresses: BTreeMap<String, std::net::IpAddr>,
}

impl Snapshot {
    /// The instance behind a route holder, if it is (or was) an instance.
    pub fn holder_instance(&self, holder: &RouteHolder) -> Option<String> {
        match holder {
            RouteHolder::Instance {
                instance_id: Some(id),
                ..
            } => Some(id.clone()),
            RouteHolder::Instance {
                instance_id: None,
                eni_id: Some(eni),
            } => self.eni_owners.get(eni).cloned(),
            _ => None,
        }
    }
}
