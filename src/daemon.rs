//! Wiring: identity, EC2 client, router check, then one reconcile round (`-oneshot`) or the
//! level-triggered loop. Every round reads EC2 afresh, plans with the pure decision code
//! and applies the plan (or, with `-noop`, only prints it).

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::cli::exit;
use crate::config::Config;
use crate::ec2::apply::{Applied, apply};
use crate::ec2::client::{Ec2, Ec2Error};
use crate::ec2::identity::Identity;
use crate::routes::decide::Me;
use crate::routes::finder::server_side_tag_filters;
use crate::routes::plan::{AssumeHealthy, HealthView, Plan, plan};

/// What the daemon was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub oneshot: bool,
    pub noop: bool,
}

/// Everything a reconcile round needs that does not change while the daemon runs.
pub struct Context {
    pub config: Config,
    pub identity: Identity,
    pub me: Me,
    pub ec2: Ec2,
    /// Destinations any route table manages.
    pub managed: BTreeSet<IpNet>,
    /// Tag filters EC2 can apply for us.
    pub tag_filters: Vec<(String, Vec<String>)>,
}

impl Context {
    /// Connects to EC2 and runs the router check.
    pub async fn new(config: Config, identity: Identity) -> Result<Context, String> {
        let ec2 = Ec2::from_env(&identity.region).await;
        let me = ec2
            .router_interface(&identity.instance_id)
            .await
            .map_err(|e| e.to_string())?;
        let managed = config
            .routetables
            .values()
            .flat_map(|rt| rt.manage_routes.iter().map(|r| r.cidr))
            .collect();
        let tag_filters = server_side_tag_filters(config.routetables.values().map(|rt| &rt.find));
        tracing::info!(instance = %me.instance_id, interface = %me.eni_id, vpc = %identity.vpc_id,
            region = %identity.region, "routes will point at this interface");
        Ok(Context {
            config,
            identity,
            me,
            ec2,
            managed,
            tag_filters,
        })
    }

    /// Reads EC2 and plans.
    pub async fn plan(&self, health: &dyn HealthView) -> Result<Plan, Ec2Error> {
        let snapshot = self
            .ec2
            .snapshot(&self.identity.vpc_id, &self.tag_filters, &self.managed, &self.me)
            .await?;
        let p = plan(&self.config, &snapshot, &self.me, health);
        for name in &p.unmatched {
            tracing::error!(routetable = %name, "no route table in this VPC matched the finder");
        }
        for c in &p.conflicts {
            tracing::warn!(conflict = %c, "route managed by two config entries");
        }
        Ok(p)
    }
}

/// `-oneshot`: one round, health checks treated as passing (as AWSnycast documents).
pub async fn oneshot(ctx: &Context, mode: Mode) -> i32 {
    let p = match ctx.plan(&AssumeHealthy).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("awsnycast: {e}");
            return exit::FAILURE;
        }
    };
    if mode.noop {
        print_plan(&p);
        return exit::OK;
    }
    let applied = apply(&ctx.ec2, &ctx.config, &p).await;
    print_applied(&p, &applied);
    if applied.iter().any(|a| a.result.is_err()) {
        exit::FAILURE
    } else {
        exit::OK
    }
}

/// The `-noop` report: every managed route, what would be done and why.
pub fn print_plan(p: &Plan) {
    println!("noop: no changes will be made; the plan is:");
    for item in &p.items {
        println!("  {item}");
    }
    for name in &p.unmatched {
        println!("  routetables.{name}: no route table matched its finder");
    }
    for c in &p.conflicts {
        println!("  conflict: {c}");
    }
}

fn print_applied(p: &Plan, applied: &[Applied]) {
    let failed = applied.iter().filter(|a| a.result.is_err()).count();
    for a in applied {
        match &a.result {
            Ok(()) => println!("done: {}", a.item),
            Err(e) => println!("FAILED: {}: {e}", a.item),
        }
    }
    println!(
        "{} routes managed, {} changed, {} failed",
        p.items.len(),
        applied.len() - failed,
        failed
    );
}
