//! Observing: EC2's answers turned into a [`Snapshot`] for the decision code.
//!
//! One DescribeRouteTables per poll (filtered server-side to our VPC and to the tags every
//! finder requires, following pagination; or by id, for the tables a poll found), then —
//! only for routes held by other instances — one DescribeInstanceStatus (state and status
//! checks), and DescribeNetworkInterfaces only for interfaces not seen before (who owns them,
//! their addresses; cached, and looked up again when the owner looks failed or at every
//! poll). The conversions from SDK types are pure functions.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use aws_sdk_ec2::types as sdk;
use ipnet::IpNet;

use super::client::{Ec2, Ec2Error};
use crate::routes::snapshot::{
    InstanceState, InstanceView, RouteHolder, RouteState, RouteTableView, RouteView, Snapshot,
};

/// Page size for DescribeRouteTables. Pages cost one call each; 100 is EC2's maximum.
const PAGE_SIZE: i32 = 100;

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> sdk::Filter {
    sdk::Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

impl Ec2 {
    /// Route tables of `vpc_id` carrying the given tag values, all pages.
    pub async fn route_tables(
        &self,
        vpc_id: &str,
        tag_filters: &[(String, Vec<String>)],
    ) -> Result<Vec<RouteTableView>, Ec2Error> {
        let mut filters = vec![filter("vpc-id", [vpc_id.to_owned()])];
        for (key, values) in tag_filters {
            filters.push(filter(&format!("tag:{key}"), values.iter().cloned()));
        }
        self.route_tables_where(vpc_id, filters).await
    }

    /// The route tables with these ids that still exist, all pages (a targeted re-read of
    /// the tables a poll found).
    pub async fn route_tables_with_ids(
        &self,
        vpc_id: &str,
        ids: &[String],
    ) -> Result<Vec<RouteTableView>, Ec2Error> {
        let mut tables = Vec::new();
        // EC2 takes at most 200 values per filter.
        for chunk in ids.chunks(200) {
            let filters = vec![
                filter("vpc-id", [vpc_id.to_owned()]),
                filter("route-table-id", chunk.iter().cloned()),
            ];
            tables.extend(self.route_tables_where(vpc_id, filters).await?);
        }
        Ok(tables)
    }

    async fn route_tables_where(
        &self,
        vpc_id: &str,
        filters: Vec<sdk::Filter>,
    ) -> Result<Vec<RouteTableView>, Ec2Error> {
        let mut tables = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call("DescribeRouteTables", || {
                    self.sdk
                        .describe_route_tables()
                        .set_filters(Some(filters.clone()))
                        .max_results(PAGE_SIZE)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            tables.extend(page.route_tables().iter().map(table_view));
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                // Never trust another VPC's table, whatever the server-side filter did.
                tables.retain(|t: &RouteTableView| t.vpc_id == vpc_id);
                return Ok(tables);
            }
        }
    }

    /// Route tables by id (for a targeted re-read), restricted to `vpc_id`.
    pub async fn route_tables_by_id(
        &self,
        vpc_id: &str,
        ids: &[String],
    ) -> Result<Vec<RouteTableView>, Ec2Error> {
        self.admit(1).await;
        self.route_tables_by_id_admitted(vpc_id, ids).await
    }

    /// [`Ec2::route_tables_by_id`] when the caller has taken the budget ([`Ec2::admit`]).
    pub(crate) async fn route_tables_by_id_admitted(
        &self,
        vpc_id: &str,
        ids: &[String],
    ) -> Result<Vec<RouteTableView>, Ec2Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .call_admitted("DescribeRouteTables", || {
                self.sdk
                    .describe_route_tables()
                    .filters(filter("route-table-id", ids.iter().cloned()))
                    .send()
            })
            .await?;
        Ok(out
            .route_tables()
            .iter()
            .map(table_view)
            .filter(|t| t.vpc_id == vpc_id)
            .collect())
    }

    /// Interfaces by id (`network-interface-id`) or by the instance they are attached to
    /// (`attachment.instance-id`): `(interface, instance, device index, private address)`.
    async fn interfaces(
        &self,
        filter_name: &str,
        ids: &BTreeSet<String>,
    ) -> Result<Vec<Interface>, Ec2Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .call("DescribeNetworkInterfaces", || {
                self.sdk
                    .describe_network_interfaces()
                    .filters(filter(filter_name, ids.iter().cloned()))
                    .send()
            })
            .await?;
        Ok(out
            .network_interfaces()
            .iter()
            .filter_map(|i| {
                let attachment = i.attachment()?;
                Some(Interface {
                    eni: i.network_interface_id()?.to_owned(),
                    instance: attachment.instance_id()?.to_owned(),
                    device_index: attachment.device_index().unwrap_or(i32::MAX),
                    address: i.private_ip_address().and_then(|a| a.parse().ok()),
                })
            })
            .collect())
    }

    /// State and status checks of instances; ids that no longer exist are absent.
    pub async fn instance_views(
        &self,
        ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, InstanceView>, Ec2Error> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        // A filter, not InstanceIds: an unknown id must not fail the whole call.
        let out = self
            .call("DescribeInstanceStatus", || {
                self.sdk
                    .describe_instance_status()
                    .include_all_instances(true)
                    .filters(filter("instance-id", ids.iter().cloned()))
                    .send()
            })
            .await?;
        Ok(out
            .instance_statuses()
            .iter()
            .filter_map(|s| Some((s.instance_id()?.to_owned(), instance_view(s))))
            .collect())
    }

    /// Everything a decision round needs: the tables, and the state of instances that hold
    /// one of `managed` destinations in them (other than `me`).
    pub async fn snapshot(
        &self,
        vpc_id: &str,
        tag_filters: &[(String, Vec<String>)],
        managed: &BTreeSet<IpNet>,
        me: &crate::routes::decide::Me,
    ) -> Result<Snapshot, Ec2Error> {
        let tables = self.route_tables(vpc_id, tag_filters).await?;
        self.complete_snapshot(tables, managed, me).await
    }

    /// Adds holder state to already-read tables.
    pub async fn complete_snapshot(
        &self,
        tables: Vec<RouteTableView>,
        managed: &BTreeSet<IpNet>,
        me: &crate::routes::decide::Me,
    ) -> Result<Snapshot, Ec2Error> {
        let holders = tables
            .iter()
            .flat_map(|t| &t.routes)
            .filter(|r| managed.contains(&r.destination))
            .map(|r| &r.target);
        let mut instance_ids = BTreeSet::new();
        let mut enis = BTreeSet::new();
        for holder in holders {
            if let RouteHolder::Instance { instance_id, eni_id } = holder {
                match (instance_id, eni_id) {
                    (Some(id), _) if *id == me.instance_id => {}
                    (_, Some(eni)) if *eni == me.eni_id => {}
                    (Some(id), _) => {
                        instance_ids.insert(id.clone());
                    }
                    (None, Some(eni)) => {
                        enis.insert(eni.clone());
                    }
                    (None, None) => {}
                }
            }
        }
        let mut recheck = BTreeSet::new();
        loop {
            let (interfaces, cached) = self.resolve_interfaces(&enis, &recheck).await?;
            let mut eni_owners = BTreeMap::new();
            let mut addresses = BTreeMap::new();
            for (eni, (instance, address)) in interfaces {
                if let Some(a) = address {
                    addresses.insert(instance.clone(), a);
                }
                eni_owners.insert(eni, instance);
            }
            let mut ids = instance_ids.clone();
            ids.extend(eni_owners.values().filter(|i| **i != me.instance_id).cloned());
            self.primary_addresses(&ids, &mut addresses).await?;
            let instances = self.instance_views(&ids).await?;
            // An interface known from an earlier round whose owner now looks failed may
            // have been moved to another instance (the ENI-move failover): look again
            // before anyone takes the route over on that belief.
            let suspect: BTreeSet<String> = cached
                .into_iter()
                .filter(|eni| {
                    eni_owners.get(eni).is_none_or(|owner| {
                        instances
                            .get(owner)
                            .is_none_or(|v| v.state.is_dead() || v.impaired)
                    })
                })
                .collect();
            if suspect.is_empty() || !recheck.is_empty() {
                return Ok(Snapshot {
                    tables,
                    instances,
                    instances_asked: ids.into_iter().collect(),
                    eni_owners,
                    addresses,
                });
            }
            recheck = suspect;
        }
    }

    /// The owner and address of each attached interface in `enis`: from the cache, except
    /// for those in `fresh` and those not seen before, which are looked up (one call). Also
    /// returns which answers came from the cache. Afterwards the cache holds exactly these
    /// interfaces, the ones routes name now.
    async fn resolve_interfaces(
        &self,
        enis: &BTreeSet<String>,
        fresh: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, CachedInterface>, BTreeSet<String>), Ec2Error> {
        let mut known = BTreeMap::new();
        let mut unknown = BTreeSet::new();
        {
            let cache = self.lock_cache();
            for eni in enis {
                match cache.interfaces.get(eni) {
                    Some(entry) if !fresh.contains(eni) => {
                        known.insert(eni.clone(), entry.clone());
                    }
                    _ => {
                        unknown.insert(eni.clone());
                    }
                }
            }
        }
        let cached = known.keys().cloned().collect();
        for i in self.interfaces("network-interface-id", &unknown).await? {
            known.insert(i.eni, (i.instance, i.address));
        }
        self.lock_cache().interfaces = known.clone();
        Ok((known, cached))
    }

    /// Adds the primary interface's address of each of `instances` not in `addresses`
    /// (routes that name only an instance): from the cache (an instance keeps its primary
    /// interface for life), else one lookup.
    async fn primary_addresses(
        &self,
        instances: &BTreeSet<String>,
        addresses: &mut BTreeMap<String, IpAddr>,
    ) -> Result<(), Ec2Error> {
        let mut missing = BTreeSet::new();
        {
            let mut cache = self.lock_cache();
            cache.primaries.retain(|i, _| instances.contains(i));
            for i in instances {
                if addresses.contains_key(i) {
                    continue;
                }
                match cache.primaries.get(i) {
                    Some(a) => {
                        addresses.insert(i.clone(), *a);
                    }
                    None => {
                        missing.insert(i.clone());
                    }
                }
            }
        }
        let mut found = self.interfaces("attachment.instance-id", &missing).await?;
        found.sort_by_key(|i| i.device_index);
        let mut cache = self.lock_cache();
        for i in found {
            if let Some(a) = i.address {
                cache.primaries.entry(i.instance.clone()).or_insert(a);
                addresses.entry(i.instance).or_insert(a);
            }
        }
        Ok(())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, InterfaceCache> {
        // A panic while holding this lock cannot leave it inconsistent (plain inserts).
        self.interface_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops what is known about interfaces, so that the next round looks everything up
    /// (the daemon does this at every `poll_time`).
    pub fn forget_interfaces(&self) {
        *self.lock_cache() = InterfaceCache::default();
    }
}

/// An interface's owner instance and private address.
type CachedInterface = (String, Option<IpAddr>);

/// Interfaces seen in earlier rounds: `interface → (instance, address)`, and the primary
/// address of instances named by routes without an interface.
#[derive(Debug, Default)]
pub struct InterfaceCache {
    interfaces: BTreeMap<String, CachedInterface>,
    primaries: BTreeMap<String, IpAddr>,
}

/// One network interface, as far as observing needs it.
struct Interface {
    eni: String,
    instance: String,
    device_index: i32,
    address: Option<IpAddr>,
}

/// An SDK route table as a [`RouteTableView`].
pub fn table_view(t: &sdk::RouteTable) -> RouteTableView {
    RouteTableView {
        id: t.route_table_id().unwrap_or_default().to_owned(),
        vpc_id: t.vpc_id().unwrap_or_default().to_owned(),
        main: t.associations().iter().any(|a| a.main() == Some(true)),
        tags: t
            .tags()
            .iter()
            .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value().unwrap_or_default().to_owned())))
            .collect(),
        subnet_ids: t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id().map(str::to_owned))
            .collect(),
        routes: t.routes().iter().filter_map(route_view).collect(),
    }
}

/// An SDK route as a [`RouteView`]; `None` for routes we never manage (prefix lists) or
/// whose destination EC2 left out.
pub fn route_view(r: &sdk::Route) -> Option<RouteView> {
    let destination: IpNet = r
        .destination_cidr_block()
        .or(r.destination_ipv6_cidr_block())?
        .parse()
        .ok()?;
    let instance_id = r.instance_id().map(str::to_owned);
    let eni_id = r.network_interface_id().map(str::to_owned);
    let target = if instance_id.is_some() || eni_id.is_some() {
        RouteHolder::Instance { instance_id, eni_id }
    } else {
        let gateway = [
            r.gateway_id(),
            r.nat_gateway_id(),
            r.transit_gateway_id(),
            r.vpc_peering_connection_id(),
            r.egress_only_internet_gateway_id(),
            r.local_gateway_id(),
            r.carrier_gateway_id(),
            r.core_network_arn(),
        ]
        .into_iter()
        .flatten()
        .next();
        match gateway {
            Some(g) => RouteHolder::Gateway(g.to_owned()),
            None => RouteHolder::Unknown,
        }
    };
    let state = match r.state() {
        Some(sdk::RouteState::Active) => RouteState::Active,
        Some(sdk::RouteState::Blackhole) => RouteState::Blackhole,
        _ => RouteState::Unknown,
    };
    Some(RouteView {
        destination,
        target,
        state,
    })
}

/// An SDK instance status as an [`InstanceView`].
pub fn instance_view(s: &sdk::InstanceStatus) -> InstanceView {
    let state = match s.instance_state().and_then(|st| st.name()) {
        Some(sdk::InstanceStateName::Pending) => InstanceState::Pending,
        Some(sdk::InstanceStateName::Running) => InstanceState::Running,
        Some(sdk::InstanceStateName::ShuttingDown) => InstanceState::ShuttingDown,
        Some(sdk::InstanceStateName::Terminated) => InstanceState::Terminated,
        Some(sdk::InstanceStateName::Stopping) => InstanceState::Stopping,
        Some(sdk::InstanceStateName::Stopped) => InstanceState::Stopped,
        _ => InstanceState::Unknown,
    };
    let impaired = |summary: Option<&sdk::InstanceStatusSummary>| {
        summary.and_then(|x| x.status()) == Some(&sdk::SummaryStatus::Impaired)
    };
    InstanceView {
        state,
        impaired: impaired(s.instance_status()) || impaired(s.system_status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_missing_fields_are_tolerated() {
        // Everything missing: no destination, so not a route we could manage.
        assert_eq!(route_view(&sdk::Route::builder().build()), None);
        // Destination only: an unknown target, not a panic.
        let r =
            route_view(&sdk::Route::builder().destination_cidr_block("0.0.0.0/0").build()).expect("route");
        assert_eq!(r.target, RouteHolder::Unknown);
        assert_eq!(r.state, RouteState::Unknown);
        // Garbage destination.
        assert_eq!(
            route_view(&sdk::Route::builder().destination_cidr_block("nonsense").build()),
            None
        );
        // Instance without interface (as moto answers for routes created by instance id).
        let r = route_view(
            &sdk::Route::builder()
                .destination_cidr_block("192.168.1.1/32")
                .instance_id("i-1")
                .state(sdk::RouteState::Blackhole)
                .build(),
        )
        .expect("route");
        assert_eq!(
            r.target,
            RouteHolder::Instance {
                instance_id: Some("i-1".into()),
                eni_id: None
            }
        );
        assert_eq!(r.state, RouteState::Blackhole);
        let r = route_view(
            &sdk::Route::builder()
                .destination_ipv6_cidr_block("2001:db8::/64")
                .gateway_id("igw-1")
                .state(sdk::RouteState::Active)
                .build(),
        )
        .expect("route");
        assert_eq!(r.target, RouteHolder::Gateway("igw-1".into()));
    }

    #[test]
    fn tables_and_statuses_convert() {
        let t = sdk::RouteTable::builder()
            .route_table_id("rtb-1")
            .vpc_id("vpc-1")
            .tags(sdk::Tag::builder().key("az").value("a").build())
            .tags(sdk::Tag::builder().value("keyless").build())
            .associations(sdk::RouteTableAssociation::builder().main(true).build())
            .associations(
                sdk::RouteTableAssociation::builder()
                    .subnet_id("subnet-1")
                    .build(),
            )
            .routes(sdk::Route::builder().build())
            .routes(
                sdk::Route::builder()
                    .destination_cidr_block("10.0.0.0/16")
                    .gateway_id("local")
                    .build(),
            )
            .build();
        let v = table_view(&t);
        assert_eq!(v.id, "rtb-1");
        assert!(v.main);
        assert_eq!(v.tags.len(), 1);
        assert_eq!(v.subnet_ids, ["subnet-1"]);
        assert_eq!(v.routes.len(), 1);
        assert_eq!(table_view(&sdk::RouteTable::builder().build()).id, "");

        let s = sdk::InstanceStatus::builder()
            .instance_id("i-1")
            .instance_state(
                sdk::InstanceState::builder()
                    .name(sdk::InstanceStateName::Stopped)
                    .build(),
            )
            .system_status(
                sdk::InstanceStatusSummary::builder()
                    .status(sdk::SummaryStatus::Impaired)
                    .build(),
            )
            .build();
        assert_eq!(
            instance_view(&s),
            InstanceView {
                state: InstanceState::Stopped,
                impaired: true
            }
        );
        assert_eq!(
            instance_view(&sdk::InstanceStatus::builder().build()).state,
            InstanceState::Unknown
        );
    }
}
