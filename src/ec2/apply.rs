//! Applying a plan: one EC2 write per changed route, with the operator's hooks around it.
//!
//! Each change is a single CreateRoute, ReplaceRoute or DeleteRoute, so a failure never
//! leaves a route half-moved; it is logged with everything an operator needs and reported
//! back so that the caller can retry on its next round.

use ipnet::IpNet;

use super::client::{Ec2, Ec2Error};
use crate::config::{Config, ManagedRoute};
use crate::hooks::{self, HOOK_TIMEOUT};
use crate::routes::decide::{Action, Me, Target, points_at};
use crate::routes::plan::{Plan, PlanItem, wanted_target};
use crate::routes::snapshot::Snapshot;

/// A destination as EC2's two mutually exclusive parameters (IPv4, IPv6).
fn destination(cidr: &IpNet) -> (Option<String>, Option<String>) {
    match cidr {
        IpNet::V4(_) => (Some(cidr.to_string()), None),
        IpNet::V6(_) => (None, Some(cidr.to_string())),
    }
}

/// A target as EC2's parameters (network interface, instance).
fn target(to: &Target) -> (Option<String>, Option<String>) {
    match to {
        Target::Interface(eni) => (Some(eni.clone()), None),
        Target::Instance(id) => (None, Some(id.clone())),
    }
}

impl Ec2 {
    pub async fn create_route(&self, table: &str, cidr: &IpNet, to: &Target) -> Result<(), Ec2Error> {
        let ((v4, v6), (eni, instance)) = (destination(cidr), target(to));
        self.call("CreateRoute", || {
            self.sdk
                .create_route()
                .route_table_id(table)
                .set_destination_cidr_block(v4.clone())
                .set_destination_ipv6_cidr_block(v6.clone())
                .set_network_interface_id(eni.clone())
                .set_instance_id(instance.clone())
                .send()
        })
        .await
        .map(|_| ())
    }

    pub async fn replace_route(&self, table: &str, cidr: &IpNet, to: &Target) -> Result<(), Ec2Error> {
        let ((v4, v6), (eni, instance)) = (destination(cidr), target(to));
        self.call("ReplaceRoute", || {
            self.sdk
                .replace_route()
                .route_table_id(table)
                .set_destination_cidr_block(v4.clone())
                .set_destination_ipv6_cidr_block(v6.clone())
                .set_network_interface_id(eni.clone())
                .set_instance_id(instance.clone())
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Deletes a route; the caller has taken the budget for this call ([`Ec2::admit`]).
    async fn delete_route_admitted(&self, table: &str, cidr: &IpNet) -> Result<(), Ec2Error> {
        let (v4, v6) = destination(cidr);
        self.call_admitted("DeleteRoute", || {
            self.sdk
                .delete_route()
                .route_table_id(table)
                .set_destination_cidr_block(v4.clone())
                .set_destination_ipv6_cidr_block(v6.clone())
                .send()
        })
        .await
        .map(|_| ())
    }
}

/// What became of one planned change.
#[derive(Debug, Clone)]
pub struct Applied {
    pub item: PlanItem,
    pub result: Result<(), String>,
    /// The failure was a race with another writer (the route appeared between our read and
    /// our CreateRoute): worth a prompt re-read rather than a slow retry.
    pub raced: bool,
}

/// Applies every change in `plan`, in order, as instance `me` in `vpc_id`; returns one
/// entry per change.
pub async fn apply(ec2: &Ec2, config: &Config, plan: &Plan, me: &Me, vpc_id: &str) -> Vec<Applied> {
    let mut out = Vec::new();
    for item in plan.changes() {
        let spec = item.spec(config);
        if let (Action::Delete, Some(spec)) = (&item.decision.action, spec) {
            // EC2 deletes whatever route has this destination. A backup may have taken the
            // route over since we read it: withdrawing now would black-hole it. Check before
            // the hooks run, and again right before the delete (in `apply_one`).
            match still_ours(ec2, item, &wanted_target(spec, me), me, vpc_id, false).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(route_table = %item.table_id, cidr = %item.cidr,
                        "route no longer points at us; not withdrawing it");
                    continue;
                }
                Err(e) => {
                    out.push(Applied {
                        item: item.clone(),
                        result: Err(format!("re-reading before withdrawing: {e}")),
                        raced: false,
                    });
                    continue;
                }
            }
        }
        let result = match apply_one(ec2, item, spec, me, vpc_id).await {
            Ok(false) => continue,
            other => other.map(|_| ()),
        };
        let raced = matches!(&result, Err(e) if e.code.as_deref() == Some("RouteAlreadyExists"));
        out.push(Applied {
            item: item.clone(),
            result: result.map_err(|e| e.to_string()),
            raced,
        });
    }
    out
}

/// Whether the route still points at us; `admitted` when the budget was already taken.
async fn still_ours(
    ec2: &Ec2,
    item: &PlanItem,
    want: &Target,
    me: &Me,
    vpc_id: &str,
    admitted: bool,
) -> Result<bool, Ec2Error> {
    let ids = std::slice::from_ref(&item.table_id);
    let tables = if admitted {
        ec2.route_tables_by_id_admitted(vpc_id, ids).await?
    } else {
        ec2.route_tables_by_id(vpc_id, ids).await?
    };
    let none = Snapshot::default();
    Ok(tables
        .iter()
        .filter_map(|t| t.route(&item.cidr))
        .any(|r| points_at(&r.target, want, me, &none)))
}

/// ReplaceRoute's answer when the route is gone (a peer withdrew it since we read it). EC2
/// documents InvalidRoute.NotFound; it (and moto) also answer InvalidParameterValue
/// "There is no route defined ... Use CreateRoute instead".
fn route_vanished(e: &Ec2Error) -> bool {
    match e.code.as_deref() {
        Some("InvalidRoute.NotFound") => true,
        Some("InvalidParameterValue") => e.message.contains("no route defined"),
        _ => false,
    }
}

/// Applies one change; `Ok(false)` when it turned out not to be needed (the route we were
/// to withdraw is no longer ours).
async fn apply_one(
    ec2: &Ec2,
    item: &PlanItem,
    spec: Option<&ManagedRoute>,
    me: &Me,
    vpc_id: &str,
) -> Result<bool, Ec2Error> {
    let current = item
        .current
        .as_ref()
        .map_or("absent".to_owned(), |h| h.to_string());
    let new = match &item.decision.action {
        Action::Create { to } | Action::Replace { to } => to.to_string(),
        _ => "none".to_owned(),
    };
    let (before, after) = match (&item.decision.action, spec) {
        (Action::Delete, Some(s)) => (&s.run_before_delete_route, &s.run_after_delete_route),
        (_, Some(s)) => (&s.run_before_replace_route, &s.run_after_replace_route),
        (_, None) => (&None, &None),
    };
    let env = [
        ("AWSNYCAST_ACTION", item.decision.action.verb().to_owned()),
        ("AWSNYCAST_ROUTE_TABLE", item.table_id.clone()),
        ("AWSNYCAST_CIDR", item.cidr.to_string()),
        ("AWSNYCAST_OLD_TARGET", current.clone()),
        ("AWSNYCAST_NEW_TARGET", new.clone()),
        ("AWSNYCAST_REASON", item.decision.reason.to_string()),
    ];
    if let Some(argv) = before {
        // A failing before-hook vetoes the change: it exists to prepare for it.
        if let Err(e) = hooks::run(argv, &env, HOOK_TIMEOUT).await {
            tracing::error!(route_table = %item.table_id, cidr = %item.cidr, current_target = %current,
                new_target = %new, error = %e, "before-hook failed; route left unchanged");
            return Err(Ec2Error {
                operation: "run_before hook",
                code: None,
                message: format!("before-hook failed: {e}"),
            });
        }
    }
    let result = match &item.decision.action {
        Action::Create { to } => ec2.create_route(&item.table_id, &item.cidr, to).await,
        Action::Replace { to } => match ec2.replace_route(&item.table_id, &item.cidr, to).await {
            // The holder withdrew between our read and our write: the route is simply ours
            // to create now, with no gap longer than one round trip.
            Err(e) if route_vanished(&e) => {
                tracing::info!(route_table = %item.table_id, cidr = %item.cidr,
                    "route vanished before it could be replaced; creating it");
                ec2.create_route(&item.table_id, &item.cidr, to).await
            }
            other => other,
        },
        Action::Delete => {
            // Re-read and delete back to back: the window in which a backup's takeover
            // could be deleted is one round trip, not a hook's run or a wait for budget.
            ec2.admit(2).await;
            let want = spec.map_or(Target::Interface(me.eni_id.clone()), |s| wanted_target(s, me));
            if !still_ours(ec2, item, &want, me, vpc_id, true).await? {
                tracing::info!(route_table = %item.table_id, cidr = %item.cidr,
                    "route no longer points at us; not withdrawing it");
                return Ok(false);
            }
            ec2.delete_route_admitted(&item.table_id, &item.cidr).await
        }
        Action::Leave => Ok(()),
    };
    match &result {
        Ok(()) => tracing::info!(
            route_table = %item.table_id, cidr = %item.cidr, current_target = %current, new_target = %new,
            action = item.decision.action.verb(), reason = %item.decision.reason, "route changed"
        ),
        Err(e) => tracing::error!(
            route_table = %item.table_id, cidr = %item.cidr, current_target = %current, new_target = %new,
            action = item.decision.action.verb(), reason = %item.decision.reason, error = %e,
            "route change failed; the route is as it was and will be retried next round"
        ),
    }
    result?;
    if let Some(argv) = after
        && let Err(e) = hooks::run(argv, &env, HOOK_TIMEOUT).await
    {
        tracing::warn!(route_table = %item.table_id, cidr = %item.cidr, error = %e, "after-hook failed");
    }
    Ok(true)
}
