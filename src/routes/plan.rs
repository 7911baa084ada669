//! The plan: every managed route in every selected table, with its decision. This is what
//! `-noop` prints and what the executor applies, so the two can never disagree.

use std::fmt;

use ipnet::IpNet;

use std::time::Duration;

use crate::config::{Config, ManagedRoute, RouteTarget, WithdrawDelay};
use crate::health::Health;

use super::decide::{Action, Decision, Inputs, Me, Reason, Target, decide};
use super::finder;
use super::snapshot::{RouteHolder, Snapshot};

/// Health as the planner needs it. The daemon answers from its checks; `-oneshot` treats
/// every check as passing, as AWSnycast documents.
pub trait HealthView {
    /// State of a local check by name.
    fn local(&self, check: &str) -> Health;
    /// State of the remote check `check` run against `instance`, if one runs.
    fn remote(&self, check: &str, instance: &str) -> Option<Health>;
    /// How long a local check has been healthy (zero when it is not).
    fn healthy_for(&self, check: &str) -> std::time::Duration;
    /// How long a local check has been unhealthy (zero when it is not).
    fn unhealthy_for(&self, check: &str) -> std::time::Duration;
    /// Whether some other router passes the remote check `check` right now: a healthy
    /// backup that runs the same template against us will see our failure and take over.
    fn peer_passes(&self, check: &str) -> bool;
}

/// Every check passes; no remote checks run.
pub struct AssumeHealthy;

impl HealthView for AssumeHealthy {
    fn local(&self, _: &str) -> Health {
        Health::Healthy
    }
    fn remote(&self, _: &str, _: &str) -> Option<Health> {
        None
    }
    fn healthy_for(&self, _: &str) -> std::time::Duration {
        std::time::Duration::MAX
    }
    fn unhealthy_for(&self, _: &str) -> std::time::Duration {
        std::time::Duration::ZERO
    }
    fn peer_passes(&self, _: &str) -> bool {
        false
    }
}

/// One managed route in one selected table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    /// The config's name for the route table entry (`routetables.NAME`).
    pub routetable: String,
    /// Index into that entry's `manage_routes`.
    pub route_index: usize,
    /// The EC2 route table id.
    pub table_id: String,
    pub cidr: IpNet,
    /// What the route points at now, if it exists.
    pub current: Option<RouteHolder>,
    /// The instance behind `current`, when it is (or was) an instance EC2 told us about.
    pub holder_instance: Option<String>,
    pub decision: Decision,
    /// When a decision that waits (`preempt_delay`, `withdraw_delay`) may come out
    /// differently: the daemon runs a round then.
    pub revisit_in: Option<Duration>,
}

impl PlanItem {
    /// The managed-route spec this item came from.
    pub fn spec<'c>(&self, config: &'c Config) -> Option<&'c ManagedRoute> {
        config
            .routetables
            .get(&self.routetable)?
            .manage_routes
            .get(self.route_index)
    }
}

/// The whole plan, plus what the operator should hear about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// Config route tables whose finder selected no table (and `no_results_ok` is false).
    pub unmatched: Vec<String>,
    /// A route claimed by two config entries in one table: the later one is skipped.
    pub conflicts: Vec<String>,
}

impl Plan {
    /// The items that change something.
    pub fn changes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.decision.action.is_change())
    }
}

/// The target a spec wants, given who we are.
pub fn wanted_target(spec: &ManagedRoute, me: &Me) -> Target {
    match &spec.instance {
        RouteTarget::This => Target::Interface(me.eni_id.clone()),
        RouteTarget::Instance(id) => Target::Instance(id.clone()),
    }
}

/// How long a primary whose check fails on `spec`'s route waits for a healthy backup to
/// replace it before deleting it; `None` when it does not wait (no remote check names the
/// backups it could know of, or `withdraw_delay` is off).
pub fn withdraw_delay(config: &Config, spec: &ManagedRoute) -> Option<Duration> {
    let template = config
        .remote_healthchecks
        .get(spec.remote_healthcheck.as_deref()?)?;
    let delay = match config.withdraw_delay {
        WithdrawDelay::Auto => template.every * template.fall + WithdrawDelay::SLACK,
        WithdrawDelay::After(d) => d,
    };
    (!delay.is_zero()).then_some(delay)
}

/// Builds the plan for every route table of the config.
pub fn plan(config: &Config, snapshot: &Snapshot, me: &Me, health: &dyn HealthView) -> Plan {
    let mut out = Plan::default();
    let mut claimed: Vec<(String, IpNet, String)> = Vec::new();
    for (name, rt) in &config.routetables {
        let tables: Vec<_> = snapshot
            .tables
            .iter()
            .filter(|t| finder::matches(&rt.find, t))
            .collect();
        if tables.is_empty() && !rt.no_results_ok {
            out.unmatched.push(name.clone());
        }
        for table in tables {
            for (index, spec) in rt.manage_routes.iter().enumerate() {
                if let Some((_, _, first)) =
                    claimed.iter().find(|(t, c, _)| *t == table.id && *c == spec.cidr)
                {
                    out.conflicts.push(format!(
                        "{} {}: managed by both routetables.{first} and routetables.{name}; following {first}",
                        table.id, spec.cidr
                    ));
                    continue;
                }
                claimed.push((table.id.clone(), spec.cidr, name.clone()));
                let current = table.route(&spec.cidr);
                let want = wanted_target(spec, me);
                let local = spec
                    .healthcheck
                    .as_deref()
                    .map_or(Health::Healthy, |h| health.local(h));
                let remote = match (&spec.remote_healthcheck, current) {
                    (Some(check), Some(route)) => snapshot
                        .holder_instance(&route.target)
                        .filter(|holder| *holder != me.instance_id)
                        .and_then(|holder| health.remote(check, &holder)),
                    _ => None,
                };
                // How long until preempt_delay has passed (zero: it has).
                let preempt_left = spec.healthcheck.as_deref().map_or(Duration::ZERO, |h| {
                    config.preempt_delay.saturating_sub(health.healthy_for(h))
                });
                // A known healthy backup gets the chance to replace our failing route, so
                // that the route is never absent: how long it still has (zero: no more).
                let backup_left = match (
                    withdraw_delay(config, spec),
                    &spec.healthcheck,
                    &spec.remote_healthcheck,
                ) {
                    (Some(delay), Some(h), Some(template)) if health.peer_passes(template) => {
                        delay.saturating_sub(health.unhealthy_for(h))
                    }
                    _ => Duration::ZERO,
                };
                let decision = decide(Inputs {
                    spec,
                    want: &want,
                    me,
                    current,
                    local,
                    remote,
                    preempt_ready: preempt_left.is_zero(),
                    await_backup: !backup_left.is_zero(),
                    snapshot,
                });
                let revisit_in = match decision.reason {
                    Reason::PreemptDelay => Some(preempt_left),
                    Reason::AwaitingBackup => Some(backup_left),
                    _ => None,
                };
                out.items.push(PlanItem {
                    routetable: name.clone(),
                    route_index: index,
                    table_id: table.id.clone(),
                    cidr: spec.cidr,
                    current: current.map(|r| r.target.clone()),
                    holder_instance: current.and_then(|r| snapshot.holder_instance(&r.target)),
                    decision,
                    revisit_in,
                });
            }
        }
    }
    out
}

impl fmt::Display for PlanItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self
            .current
            .as_ref()
            .map_or("absent".to_owned(), |h| h.to_string());
        let action = match &self.decision.action {
            Action::Create { to } => format!("create -> {to}"),
            Action::Replace { to } => format!("replace {current} -> {to}"),
            Action::Delete => format!("delete (was {current})"),
            Action::Leave => format!("leave ({current})"),
        };
        write!(
            f,
            "{} {} [routetables.{}]: {}: {}",
            self.table_id, self.cidr, self.routetable, action, self.decision.reason
        )
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            writeln!(f, "{item}")?;
        }
        for name in &self.unmatched {
            writeln!(f, "routetables.{name}: no route table matched its finder")?;
        }
        for c in &self.conflicts {
            writeln!(f, "conflict: {c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Document, Vars};
    use crate::routes::snapshot::{RouteState, RouteTableView, RouteView};

    fn config(yaml: &str) -> Config {
        Document::parse(yaml, "t.yaml")
            .and_then(|d| d.build(&Vars::default()))
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

    fn table(id: &str, az: &str, routes: Vec<RouteView>) -> RouteTableView {
        RouteTableView {
            id: id.into(),
            vpc_id: "vpc-1".into(),
            tags: [
                ("az".to_string(), az.to_string()),
                ("type".into(), "private".into()),
            ]
            .into(),
            routes,
            ..RouteTableView::default()
        }
    }

    /// Health as a test sets it: our checks' state (and for how long it has failed),
    /// every remote check's state, and whether some peer passes its remote check.
    struct Fake {
        local: Health,
        remote: Health,
        failed_for: Duration,
        peer_passes: bool,
    }
    impl Fake {
        /// Our check is `local`; the holder fails its remote check.
        fn ours(local: Health) -> Fake {
            Fake {
                local,
                remote: Health::Unhealthy,
                failed_for: Duration::ZERO,
                peer_passes: false,
            }
        }
        /// Our check has failed for `failed_for`; the holder passes its remote check.
        fn failing(failed_for: Duration, peer_passes: bool) -> Fake {
            Fake {
                local: Health::Unhealthy,
                remote: Health::Healthy,
                failed_for,
                peer_passes,
            }
        }
    }
    impl HealthView for Fake {
        fn local(&self, _: &str) -> Health {
            self.local
        }
        fn remote(&self, _: &str, _: &str) -> Option<Health> {
            Some(self.remote)
        }
        fn healthy_for(&self, _: &str) -> Duration {
            Duration::ZERO
        }
        fn unhealthy_for(&self, _: &str) -> Duration {
            self.failed_for
        }
        fn peer_passes(&self, _: &str) -> bool {
            self.peer_passes
        }
    }

    #[test]
    fn a_failing_primary_leaves_its_route_to_a_known_healthy_backup_for_a_while() {
        let layout = |extra: &str, remote: &str| {
            config(&format!(
                "{extra}\nhealthchecks:\n  svc: {{type: ping, destination: 127.0.0.1}}\nremote_healthchecks:\n  peer: {{type: ping, every: 1s, fall: 3}}\nroutetables:\n  ours:\n    find: {{type: by_tag, config: {{key: az, value: a}}}}\n    manage_routes: [{{cidr: 0.0.0.0/0, healthcheck: svc{remote}}}]\n"
            ))
        };
        let me = Me {
            instance_id: "i-a".into(),
            eni_id: "eni-a".into(),
        };
        let ours = RouteView {
            destination: "0.0.0.0/0".parse().expect("cidr"),
            target: RouteHolder::Instance {
                instance_id: Some("i-a".into()),
                eni_id: Some("eni-a".into()),
            },
            state: RouteState::Active,
        };
        let snapshot = Snapshot {
            tables: vec![table("rtb-a", "a", vec![ours])],
            ..Snapshot::default()
        };
        let decide_with = |cfg: &Config, failed_for: u64, peer_passes: bool| {
            let health = Fake::failing(Duration::from_secs(failed_for), peer_passes);
            let p = plan(cfg, &snapshot, &me, &health);
            (
                p.items[0].decision.action.verb(),
                p.items[0].decision.reason.clone(),
            )
        };
        let with_remote = ", remote_healthcheck: peer";

        // auto: every 1s × fall 3 + 2s = 5s of waiting for the backup.
        let cfg = layout("", with_remote);
        assert_eq!(
            withdraw_delay(&cfg, &cfg.routetables["ours"].manage_routes[0]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(decide_with(&cfg, 0, true), ("leave", Reason::AwaitingBackup));
        assert_eq!(decide_with(&cfg, 4, true), ("leave", Reason::AwaitingBackup));
        // ... and the daemon is told when to look again: when the 5 s are up.
        let waiting = Fake::failing(Duration::from_secs(4), true);
        assert_eq!(
            plan(&cfg, &snapshot, &me, &waiting).items[0].revisit_in,
            Some(Duration::from_secs(1))
        );
        assert_eq!(decide_with(&cfg, 5, true), ("delete", Reason::OursButUnhealthy));
        // No healthy peer known: withdraw at once.
        assert_eq!(decide_with(&cfg, 0, false), ("delete", Reason::OursButUnhealthy));
        // No remote check on the route: no backup can be known.
        let cfg = layout("", "");
        assert_eq!(decide_with(&cfg, 0, true), ("delete", Reason::OursButUnhealthy));
        // An explicit delay, and off.
        let cfg = layout("withdraw_delay: 10s", with_remote);
        assert_eq!(decide_with(&cfg, 9, true), ("leave", Reason::AwaitingBackup));
        assert_eq!(decide_with(&cfg, 10, true), ("delete", Reason::OursButUnhealthy));
        for off in ["withdraw_delay: off", "withdraw_delay: 0"] {
            let cfg = layout(off, with_remote);
            assert_eq!(
                decide_with(&cfg, 0, true),
                ("delete", Reason::OursButUnhealthy),
                "{off}"
            );
        }
        // -oneshot never waits.
        let cfg = layout("", with_remote);
        assert_eq!(
            plan(&cfg, &snapshot, &me, &AssumeHealthy).items[0]
                .decision
                .reason,
            Reason::AlreadyOurs
        );
    }

    const README_LAYOUT: &str = "
healthchecks:
  public: {type: ping, destination: 127.0.0.1}
remote_healthchecks:
  peer: {type: ping}
routetables:
  our_az:
    find: {type: and, config: {filters: [{type: by_tag, config: {key: az, value: a}}, {type: by_tag, config: {key: type, value: private}}]}}
    manage_routes: [{cidr: 0.0.0.0/0, healthcheck: public}]
  other_azs:
    find: {type: and, config: {filters: [{type: by_tag, not: true, config: {key: az, value: a}}, {type: by_tag, config: {key: type, value: private}}]}}
    manage_routes: [{cidr: 0.0.0.0/0, healthcheck: public, if_unhealthy: true, remote_healthcheck: peer}]
  elsewhere:
    find: {type: by_tag, config: {key: Name, value: nowhere}}
    manage_routes: [{cidr: 0.0.0.0/0}]
";

    #[test]
    fn readme_layout_plans_per_table() {
        let cfg = config(README_LAYOUT);
        let me = Me {
            instance_id: "i-a".into(),
            eni_id: "eni-a".into(),
        };
        let peer_route = RouteView {
            destination: "0.0.0.0/0".parse().expect("cidr"),
            target: RouteHolder::Instance {
                instance_id: Some("i-b".into()),
                eni_id: Some("eni-b".into()),
            },
            state: RouteState::Active,
        };
        let snapshot = Snapshot {
            tables: vec![table("rtb-a", "a", vec![]), table("rtb-b", "b", vec![peer_route])],
            ..Snapshot::default()
        };

        // Oneshot: everything healthy. Claim our table; leave the peer's.
        let p = plan(&cfg, &snapshot, &me, &AssumeHealthy);
        let summary: Vec<(&str, &str)> = p
            .items
            .iter()
            .map(|i| (i.table_id.as_str(), i.decision.action.verb()))
            .collect();
        assert_eq!(summary, [("rtb-b", "leave"), ("rtb-a", "create")]);
        assert_eq!(p.unmatched, ["elsewhere"]);
        assert_eq!(p.changes().count(), 1);
        let text = p.to_string();
        assert!(text.contains("rtb-a 0.0.0.0/0 [routetables.our_az]: create -> eni-a: route absent and our health check is healthy"), "{text}");
        assert!(text.contains("rtb-b 0.0.0.0/0 [routetables.other_azs]: leave (i-b (eni-b)): held by a healthy instance; we are backup only"), "{text}");

        // With the remote check failing on i-b, the backup takes over.
        let p = plan(&cfg, &snapshot, &me, &Fake::ours(Health::Healthy));
        assert_eq!(p.items[0].decision.action.verb(), "replace");

        // With our own check unknown, nothing is claimed.
        let p = plan(&cfg, &snapshot, &me, &Fake::ours(Health::Unknown));
        assert_eq!(p.changes().count(), 0);
    }

    #[test]
    fn overlapping_entries_are_reported_not_fought_over() {
        let cfg = config(
            "routetables:\n  one:\n    find: {type: by_tag, config: {key: type, value: private}}\n    manage_routes: [{cidr: 0.0.0.0/0}]\n  two:\n    find: {type: by_tag, config: {key: az, value: a}}\n    manage_routes: [{cidr: 0.0.0.0/0, if_unhealthy: true}]\n",
        );
        let me = Me {
            instance_id: "i-a".into(),
            eni_id: "eni-a".into(),
        };
        let snapshot = Snapshot {
            tables: vec![table("rtb-a", "a", vec![])],
            ..Snapshot::default()
        };
        let p = plan(&cfg, &snapshot, &me, &AssumeHealthy);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].routetable, "one");
        assert_eq!(p.conflicts.len(), 1, "{p}");
        assert!(p.conflicts[0].contains("routetables.one and routetables.two"));
    }
}
