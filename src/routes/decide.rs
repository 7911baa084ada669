//! The route decision: for one managed route in one route table, what to do and why.
//!
//! A pure function of what EC2 shows, what health checks say and what the config asks.
//! `-noop` prints its answers; the executor applies the same answers. Nothing here performs
//! I/O or knows about the SDK.

use std::fmt;

use crate::config::ManagedRoute;
use crate::health::Health;

use super::snapshot::{InstanceState, RouteHolder, RouteState, RouteView, Snapshot};

/// Who we are: the instance and interface that `SELF` routes point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub instance_id: String,
    pub eni_id: String,
}

/// The target a managed route should point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Our own network interface (`instance: SELF`).
    Interface(String),
    /// Another named instance (`instance: i-...`).
    Instance(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Interface(e) => f.write_str(e),
            Target::Instance(i) => f.write_str(i),
        }
    }
}

/// What to do with one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the route, pointing at `to`.
    Create { to: Target },
    /// Point the existing route at `to` instead of its current holder.
    Replace { to: Target },
    /// Withdraw our route.
    Delete,
    /// Change nothing.
    Leave,
}

impl Action {
    pub fn is_change(&self) -> bool {
        !matches!(self, Action::Leave)
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Replace { .. } => "replace",
            Action::Delete => "delete",
            Action::Leave => "leave",
        }
    }
}

/// Why: one case per row of the decision table, in the operator's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No route; our check passes.
    AbsentAndHealthy,
    /// No route, but our check has not settled yet.
    AbsentWaitingForHealth,
    /// No route, and our check fails.
    AbsentAndUnhealthy,
    /// The route already points at us and our check passes (or has not settled).
    AlreadyOurs,
    /// Ours, but our check fails: withdraw.
    OursButUnhealthy,
    /// Ours and our check fails, but `never_delete` keeps it.
    OursUnhealthyNeverDelete,
    /// Ours and our check fails; a healthy backup is known, so we leave it the route to
    /// replace (no gap) for up to `withdraw_delay` before withdrawing it ourselves.
    AwaitingBackup,
    /// Held elsewhere; we are primary and healthy, so we take it.
    PrimaryPreempts,
    /// Held elsewhere by a working holder; we are primary and healthy, but not yet for
    /// `preempt_delay`.
    PreemptDelay,
    /// Held elsewhere; our own check is not healthy, so we may not take it.
    HeldElsewhereWeAreNotHealthy(Health),
    /// Backup: the route is a blackhole.
    Blackhole,
    /// Backup: the holder instance is in a dead state.
    HolderDead(String, InstanceState),
    /// Backup: the holder instance no longer exists.
    HolderGone(String),
    /// Backup: the holder's instance or system status check is impaired.
    HolderImpaired(String),
    /// Backup: the remote health check of the holder fails.
    HolderFailsRemoteCheck,
    /// Backup: the holder looks fine.
    HolderHealthy,
    /// Backup: the route points at a gateway, not an instance; not ours to take.
    HeldByGateway,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::AbsentAndHealthy => f.write_str("route absent and our health check is healthy"),
            Reason::AbsentWaitingForHealth => {
                f.write_str("route absent; waiting for our health check to settle")
            }
            Reason::AbsentAndUnhealthy => f.write_str("route absent and our health check is unhealthy"),
            Reason::AlreadyOurs => f.write_str("route already points at us"),
            Reason::OursButUnhealthy => f.write_str("our health check is unhealthy: withdraw"),
            Reason::OursUnhealthyNeverDelete => {
                f.write_str("our health check is unhealthy, but never_delete keeps the route")
            }
            Reason::AwaitingBackup => f.write_str(
                "our health check is unhealthy and a healthy backup is known: leaving it the route to replace (withdraw_delay)",
            ),
            Reason::PrimaryPreempts => f.write_str("we are primary for this route and healthy: take it"),
            Reason::PreemptDelay => {
                f.write_str("we are primary and healthy, but not yet for preempt_delay: wait")
            }
            Reason::HeldElsewhereWeAreNotHealthy(h) => {
                write!(f, "held elsewhere and our health check is {h}: leave it")
            }
            Reason::Blackhole => f.write_str("route is a blackhole: take over"),
            Reason::HolderDead(i, s) => write!(f, "holder {i} is {s}: take over"),
            Reason::HolderGone(i) => write!(f, "holder {i} no longer exists: take over"),
            Reason::HolderImpaired(i) => write!(f, "holder {i} fails its EC2 status checks: take over"),
            Reason::HolderFailsRemoteCheck => f.write_str("holder fails the remote health check: take over"),
            Reason::HolderHealthy => f.write_str("held by a healthy instance; we are backup only"),
            Reason::HeldByGateway => f.write_str("held by a gateway, not an instance; we are backup only"),
        }
    }
}

/// A decision: the action and the reason for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
}

/// Everything [`decide`] reads about one route in one table.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub spec: &'a ManagedRoute,
    /// Where the route should point: our interface, or the instance the config names.
    pub want: &'a Target,
    /// This daemon's instance and interface.
    pub me: &'a Me,
    /// The route for the spec's CIDR in this table, if there is one.
    pub current: Option<&'a RouteView>,
    /// Our local health check (`Healthy` when the route has none).
    pub local: Health,
    /// The remote check of the current holder, when one runs.
    pub remote: Option<Health>,
    /// Our check has been healthy for `preempt_delay` (always true when that is zero).
    pub preempt_ready: bool,
    /// A healthy backup is known and `withdraw_delay` has not passed since our check
    /// failed: if our route must go, leave it for the backup to replace.
    pub await_backup: bool,
    pub snapshot: &'a Snapshot,
}

/// Decides what to do with one managed route in one route table.
pub fn decide(i: Inputs<'_>) -> Decision {
    let d = |action, reason| Decision { action, reason };
    let Some(route) = i.current else {
        return match i.local {
            Health::Healthy => d(Action::Create { to: i.want.clone() }, Reason::AbsentAndHealthy),
            Health::Unknown => d(Action::Leave, Reason::AbsentWaitingForHealth),
            Health::Unhealthy => d(Action::Leave, Reason::AbsentAndUnhealthy),
        };
    };

    if points_at(&route.target, i.want, i.me, i.snapshot) {
        return match (i.local, i.spec.never_delete) {
            (Health::Unhealthy, true) => d(Action::Leave, Reason::OursUnhealthyNeverDelete),
            (Health::Unhealthy, false) if i.await_backup => d(Action::Leave, Reason::AwaitingBackup),
            (Health::Unhealthy, false) => d(Action::Delete, Reason::OursButUnhealthy),
            _ => d(Action::Leave, Reason::AlreadyOurs),
        };
    }

    if i.local != Health::Healthy {
        return d(Action::Leave, Reason::HeldElsewhereWeAreNotHealthy(i.local));
    }
    let take = Action::Replace { to: i.want.clone() };
    if let Some(reason) = holder_failed(route, &i) {
        // A failed holder is taken over at once, by primary and backup alike.
        return d(take, reason);
    }
    if i.spec.if_unhealthy {
        return match route.target {
            RouteHolder::Gateway(_) => d(Action::Leave, Reason::HeldByGateway),
            _ => d(Action::Leave, Reason::HolderHealthy),
        };
    }
    if !i.preempt_ready {
        return d(Action::Leave, Reason::PreemptDelay);
    }
    d(take, Reason::PrimaryPreempts)
}

/// Why the route's current holder has failed, if it has: a blackhole (whatever its
/// target), a dead, vanished or impaired instance, or a failing remote check.
fn holder_failed(route: &RouteView, i: &Inputs<'_>) -> Option<Reason> {
    if route.state == RouteState::Blackhole {
        return Some(Reason::Blackhole);
    }
    if let Some(holder) = i.snapshot.holder_instance(&route.target) {
        match i.snapshot.instances.get(&holder) {
            Some(view) if view.state.is_dead() => return Some(Reason::HolderDead(holder, view.state)),
            Some(view) if view.impaired => return Some(Reason::HolderImpaired(holder)),
            None if i.snapshot.instances_asked.contains(&holder) => return Some(Reason::HolderGone(holder)),
            _ => {}
        }
    }
    (i.remote == Some(Health::Unhealthy)).then_some(Reason::HolderFailsRemoteCheck)
}

/// Whether a route's holder is the target we want. A route may name the instance, the
/// interface, or both; moto, for one, omits the interface of routes created by instance.
pub fn points_at(holder: &RouteHolder, want: &Target, me: &Me, snapshot: &Snapshot) -> bool {
    let RouteHolder::Instance { instance_id, eni_id } = holder else {
        return false;
    };
    match want {
        Target::Interface(eni) => {
            eni_id.as_deref() == Some(eni.as_str())
                || (eni_id.is_none() && instance_id.as_deref() == Some(me.instance_id.as_str()))
        }
        Target::Instance(id) => {
            instance_id.as_deref() == Some(id.as_str())
                || eni_id.as_ref().and_then(|e| snapshot.eni_owners.get(e)) == Some(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteTarget;
    use crate::routes::snapshot::InstanceView;

    fn spec(if_unhealthy: bool, never_delete: bool) -> ManagedRoute {
        ManagedRoute {
            cidr: "0.0.0.0/0".parse().expect("cidr"),
            instance: RouteTarget::This,
            healthcheck: Some("public".into()),
            remote_healthcheck: None,
            if_unhealthy,
            never_delete,
            run_before_replace_route: None,
            run_after_replace_route: None,
            run_before_delete_route: None,
            run_after_delete_route: None,
        }
    }

    fn route(holder: RouteHolder, state: RouteState) -> RouteView {
        RouteView {
            destination: "0.0.0.0/0".parse().expect("cidr"),
            target: holder,
            state,
        }
    }

    fn inst(id: Option<&str>, eni: Option<&str>) -> RouteHolder {
        RouteHolder::Instance {
            instance_id: id.map(str::to_owned),
            eni_id: eni.map(str::to_owned),
        }
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        let view = |state, impaired| InstanceView { state, impaired };
        s.instances
            .insert("i-peer".into(), view(InstanceState::Running, false));
        s.instances
            .insert("i-stopped".into(), view(InstanceState::Stopped, false));
        s.instances
            .insert("i-dying".into(), view(InstanceState::ShuttingDown, false));
        s.instances
            .insert("i-sick".into(), view(InstanceState::Running, true));
        s.instances_asked = ["i-peer", "i-stopped", "i-dying", "i-sick", "i-gone"]
            .map(String::from)
            .to_vec();
        s.eni_owners.insert("eni-peer".into(), "i-peer".into());
        s.eni_owners.insert("eni-stopped".into(), "i-stopped".into());
        s
    }

    use Health::{Healthy, Unhealthy, Unknown};
    use RouteState::{Active, Blackhole};

    /// The decision table: (case, backup?, never_delete?, current route, local, remote,
    /// expected action verb, expected reason).
    #[test]
    fn decision_table() {
        let me = Me {
            instance_id: "i-me".into(),
            eni_id: "eni-me".into(),
        };
        let want = Target::Interface("eni-me".into());
        let ours = Some(route(inst(Some("i-me"), Some("eni-me")), Active));
        let ours_by_instance_only = Some(route(inst(Some("i-me"), None), Active));
        let ours_by_eni_only = Some(route(inst(None, Some("eni-me")), Active));
        let peer = Some(route(inst(Some("i-peer"), Some("eni-peer")), Active));
        let peer_eni_only = Some(route(inst(None, Some("eni-peer")), Active));
        let stopped_eni_only = Some(route(inst(None, Some("eni-stopped")), Active));
        let blackhole = Some(route(inst(Some("i-peer"), Some("eni-peer")), Blackhole));
        let stopped = Some(route(inst(Some("i-stopped"), None), Active));
        let dying = Some(route(inst(Some("i-dying"), None), Active));
        let gone = Some(route(inst(Some("i-gone"), None), Active));
        let sick = Some(route(inst(Some("i-sick"), None), Active));
        let gateway = Some(route(RouteHolder::Gateway("igw-1".into()), Active));
        let unknown_target = Some(route(RouteHolder::Unknown, Active));
        let none: Option<RouteView> = None;

        type Row<'a> = (
            &'a str,
            bool,
            bool,
            &'a Option<RouteView>,
            Health,
            Option<Health>,
            &'a str,
            Reason,
        );
        let rows: Vec<Row> = vec![
            // Route absent.
            (
                "absent, healthy",
                false,
                false,
                &none,
                Healthy,
                None,
                "create",
                Reason::AbsentAndHealthy,
            ),
            (
                "absent, healthy, backup",
                true,
                false,
                &none,
                Healthy,
                None,
                "create",
                Reason::AbsentAndHealthy,
            ),
            (
                "absent, unknown",
                false,
                false,
                &none,
                Unknown,
                None,
                "leave",
                Reason::AbsentWaitingForHealth,
            ),
            (
                "absent, unknown, backup",
                true,
                false,
                &none,
                Unknown,
                None,
                "leave",
                Reason::AbsentWaitingForHealth,
            ),
            (
                "absent, unhealthy",
                false,
                false,
                &none,
                Unhealthy,
                None,
                "leave",
                Reason::AbsentAndUnhealthy,
            ),
            // Route ours.
            (
                "ours, healthy",
                false,
                false,
                &ours,
                Healthy,
                None,
                "leave",
                Reason::AlreadyOurs,
            ),
            (
                "ours by instance only",
                false,
                false,
                &ours_by_instance_only,
                Healthy,
                None,
                "leave",
                Reason::AlreadyOurs,
            ),
            (
                "ours by eni only",
                true,
                false,
                &ours_by_eni_only,
                Healthy,
                None,
                "leave",
                Reason::AlreadyOurs,
            ),
            (
                "ours, unknown",
                false,
                false,
                &ours,
                Unknown,
                None,
                "leave",
                Reason::AlreadyOurs,
            ),
            (
                "ours, unhealthy",
                false,
                false,
                &ours,
                Unhealthy,
                None,
                "delete",
                Reason::OursButUnhealthy,
            ),
            (
                "ours, unhealthy, backup",
                true,
                false,
                &ours,
                Unhealthy,
                None,
                "delete",
                Reason::OursButUnhealthy,
            ),
            (
                "ours, unhealthy, never_delete",
                false,
                true,
                &ours,
                Unhealthy,
                None,
                "leave",
                Reason::OursUnhealthyNeverDelete,
            ),
            // Held elsewhere, primary.
            (
                "peer, primary healthy",
                false,
                false,
                &peer,
                Healthy,
                None,
                "replace",
                Reason::PrimaryPreempts,
            ),
            (
                "gateway, primary healthy",
                false,
                false,
                &gateway,
                Healthy,
                None,
                "replace",
                Reason::PrimaryPreempts,
            ),
            (
                "unknown target, primary",
                false,
                false,
                &unknown_target,
                Healthy,
                None,
                "replace",
                Reason::PrimaryPreempts,
            ),
            (
                "peer, primary unhealthy",
                false,
                false,
                &peer,
                Unhealthy,
                None,
                "leave",
                Reason::HeldElsewhereWeAreNotHealthy(Unhealthy),
            ),
            (
                "peer, primary unknown",
                false,
                false,
                &peer,
                Unknown,
                None,
                "leave",
                Reason::HeldElsewhereWeAreNotHealthy(Unknown),
            ),
            // Held elsewhere, backup.
            (
                "peer healthy, backup",
                true,
                false,
                &peer,
                Healthy,
                None,
                "leave",
                Reason::HolderHealthy,
            ),
            (
                "peer remote ok, backup",
                true,
                false,
                &peer,
                Healthy,
                Some(Healthy),
                "leave",
                Reason::HolderHealthy,
            ),
            (
                "peer remote unknown, backup",
                true,
                false,
                &peer,
                Healthy,
                Some(Unknown),
                "leave",
                Reason::HolderHealthy,
            ),
            (
                "peer remote fails, backup",
                true,
                false,
                &peer,
                Healthy,
                Some(Unhealthy),
                "replace",
                Reason::HolderFailsRemoteCheck,
            ),
            (
                "peer remote fails, backup unhealthy",
                true,
                false,
                &peer,
                Unhealthy,
                Some(Unhealthy),
                "leave",
                Reason::HeldElsewhereWeAreNotHealthy(Unhealthy),
            ),
            (
                "peer eni only, healthy",
                true,
                false,
                &peer_eni_only,
                Healthy,
                None,
                "leave",
                Reason::HolderHealthy,
            ),
            (
                "blackhole, backup",
                true,
                false,
                &blackhole,
                Healthy,
                None,
                "replace",
                Reason::Blackhole,
            ),
            (
                "blackhole, backup unknown",
                true,
                false,
                &blackhole,
                Unknown,
                None,
                "leave",
                Reason::HeldElsewhereWeAreNotHealthy(Unknown),
            ),
            (
                "stopped holder",
                true,
                false,
                &stopped,
                Healthy,
                None,
                "replace",
                Reason::HolderDead("i-stopped".into(), InstanceState::Stopped),
            ),
            (
                "stopped holder by eni",
                true,
                false,
                &stopped_eni_only,
                Healthy,
                None,
                "replace",
                Reason::HolderDead("i-stopped".into(), InstanceState::Stopped),
            ),
            (
                "shutting-down holder",
                true,
                false,
                &dying,
                Healthy,
                None,
                "replace",
                Reason::HolderDead("i-dying".into(), InstanceState::ShuttingDown),
            ),
            (
                "vanished holder",
                true,
                false,
                &gone,
                Healthy,
                None,
                "replace",
                Reason::HolderGone("i-gone".into()),
            ),
            (
                "impaired holder",
                true,
                false,
                &sick,
                Healthy,
                None,
                "replace",
                Reason::HolderImpaired("i-sick".into()),
            ),
            (
                "gateway, backup",
                true,
                false,
                &gateway,
                Healthy,
                None,
                "leave",
                Reason::HeldByGateway,
            ),
            (
                "unknown target, backup",
                true,
                false,
                &unknown_target,
                Healthy,
                None,
                "leave",
                Reason::HolderHealthy,
            ),
        ];
        let snap = snapshot();
        for (case, backup, never_delete, current, local, remote, verb, reason) in rows {
            let spec = spec(backup, never_delete);
            let inputs = Inputs {
                spec: &spec,
                want: &want,
                me: &me,
                current: current.as_ref(),
                local,
                remote,
                preempt_ready: true,
                await_backup: false,
                snapshot: &snap,
            };
            let got = decide(inputs);
            assert_eq!((got.action.verb(), &got.reason), (verb, &reason), "case: {case}");
            // A known healthy backup changes exactly one row: withdrawing becomes waiting.
            let waiting = decide(Inputs {
                await_backup: true,
                ..inputs
            });
            if reason == Reason::OursButUnhealthy {
                assert_eq!(
                    (waiting.action, waiting.reason),
                    (Action::Leave, Reason::AwaitingBackup),
                    "case: {case}"
                );
            } else {
                assert_eq!(waiting, got, "case: {case}");
            }
            match &got.action {
                Action::Create { to } | Action::Replace { to } => assert_eq!(to, &want, "case: {case}"),
                _ => {}
            }
        }
    }

    #[test]
    fn a_named_instance_target_is_recognised_through_its_interface() {
        let me = Me {
            instance_id: "i-me".into(),
            eni_id: "eni-me".into(),
        };
        let mut s = spec(false, false);
        s.instance = RouteTarget::Instance("i-peer".into());
        let want = Target::Instance("i-peer".into());
        let snap = snapshot();
        let by_eni = route(inst(None, Some("eni-peer")), Active);
        let decision = |current: &RouteView| {
            decide(Inputs {
                spec: &s,
                want: &want,
                me: &me,
                current: Some(current),
                local: Healthy,
                remote: None,
                preempt_ready: true,
                await_backup: false,
                snapshot: &snap,
            })
        };
        assert_eq!(decision(&by_eni).reason, Reason::AlreadyOurs);
        let ours = route(inst(Some("i-me"), Some("eni-me")), Active);
        assert_eq!(decision(&ours).action, Action::Replace { to: want.clone() });
    }

    #[test]
    fn preempt_delay_holds_a_primary_back_only_from_a_working_holder() {
        let me = Me {
            instance_id: "i-me".into(),
            eni_id: "eni-me".into(),
        };
        let want = Target::Interface("eni-me".into());
        let snap = snapshot();
        let primary = spec(false, false);
        let run = |current: &RouteView, remote| {
            decide(Inputs {
                spec: &primary,
                want: &want,
                me: &me,
                current: Some(current),
                local: Healthy,
                remote,
                preempt_ready: false,
                await_backup: false,
                snapshot: &snap,
            })
        };
        let peer = route(inst(Some("i-peer"), Some("eni-peer")), Active);
        assert_eq!(run(&peer, None).reason, Reason::PreemptDelay);
        assert_eq!(run(&peer, None).action, Action::Leave);
        assert_eq!(run(&peer, Some(Unhealthy)).reason, Reason::HolderFailsRemoteCheck);
        let stopped = route(inst(Some("i-stopped"), None), Active);
        assert_eq!(run(&stopped, None).action.verb(), "replace");
        // Absent routes are created at once: there is nobody to preempt.
        let absent = decide(Inputs {
            spec: &primary,
            want: &want,
            me: &me,
            current: None,
            local: Healthy,
            remote: None,
            preempt_ready: false,
            await_backup: false,
            snapshot: &snap,
        });
        assert_eq!(absent.action.verb(), "create");
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            Reason::HolderDead("i-1".into(), InstanceState::Stopped).to_string(),
            "holder i-1 is stopped: take over"
        );
        assert_eq!(
            Reason::HeldElsewhereWeAreNotHealthy(Unknown).to_string(),
            "held elsewhere and our health check is unknown: leave it"
        );
    }
}
