//! Wiring: identity, EC2 client, router check, then one reconcile round (`-oneshot`) or the
//! level-triggered loop. Every round reads EC2 afresh, plans with the pure decision code
//! and applies the plan (or, with `-noop`, only prints it).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::mpsc;

use crate::cli::exit;
use crate::config::Config;
use crate::ec2::apply::{Applied, apply};
use crate::ec2::client::{Ec2, Ec2Error};
use crate::ec2::identity::Identity;
use crate::health::Health;
use crate::health::check::CheckError;
use crate::health::scheduler::{self, CheckId, Event, Running};
use crate::routes::damping::Damper;
use crate::routes::decide::{Action, Me};
use crate::routes::finder::server_side_tag_filters;
use crate::routes::plan::{AssumeHealthy, HealthView, Plan, plan};
use crate::routes::snapshot::Snapshot;

/// How soon a round that failed (EC2 error, failed write) is retried.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How soon a round that changed routes is followed by another: to confirm the result, to
/// settle a race with a peer that wrote at the same moment, and to start remote checks on
/// holders that appeared.
const CONFIRM_AFTER: Duration = Duration::from_secs(1);

/// How soon after a round that changed routes a second confirmation follows: a peer that
/// wrote at the same moment as us may take its decision a little later (a primary taking
/// back a route we created at start-up), and we must notice it without waiting for
/// `poll_time` when `fast_poll` is off.
const CONFIRM_AGAIN_AFTER: Duration = Duration::from_secs(5);

/// What started a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Poll,
    HealthTransition,
    FollowUp,
    SecondConfirmation,
    FastPoll,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Poll => "poll",
            Trigger::HealthTransition => "health transition",
            Trigger::FollowUp => "follow-up",
            Trigger::SecondConfirmation => "second confirmation",
            Trigger::FastPoll => "fast poll",
        }
    }
}

/// What a round came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundOutcome {
    /// Nothing needed changing.
    Stable,
    /// Routes were changed.
    Changed,
    /// Reading EC2 or a change failed.
    Failed,
}

/// What the daemon was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub oneshot: bool,
    pub noop: bool,
    /// `-oneshot` runs the checks until they settle instead of assuming they pass.
    pub wait_healthy: bool,
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
    /// With `persist` (the daemon), an EC2 failure during the router check is retried every
    /// [`RETRY_AFTER`] until it succeeds; a definite answer (no such instance, no routing
    /// interface) still fails at once. Without it (`-oneshot`), any failure is returned.
    pub async fn new(config: Config, identity: Identity, persist: bool) -> Result<Context, String> {
        let ec2 = Ec2::from_env(&identity.region, config.ec2_calls_per_second).await;
        let me = loop {
            match ec2.router_interface(&identity.instance_id).await {
                Ok(me) => break me,
                Err(crate::ec2::router::RouterError::Ec2(e)) if persist => {
                    tracing::error!(error = %e, "cannot run the router check yet; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        tracing::info!(instance = %me.instance_id, interface = %me.eni_id, vpc = %identity.vpc_id,
            region = %identity.region, "routes will point at this interface");
        Ok(Context::assemble(config, identity, me, ec2))
    }

    /// The same instance with a new configuration (SIGHUP): no new router check, a new
    /// rate limiter for the new budget.
    pub async fn reconfigured(self, config: Config) -> Context {
        let ec2 = Ec2::from_env(&self.identity.region, config.ec2_calls_per_second).await;
        Context::assemble(config, self.identity, self.me, ec2)
    }

    fn assemble(config: Config, identity: Identity, me: Me, ec2: Ec2) -> Context {
        let managed = config
            .routetables
            .values()
            .flat_map(|rt| rt.manage_routes.iter().map(|r| r.cidr))
            .collect();
        let tag_filters = server_side_tag_filters(config.routetables.values().map(|rt| &rt.find));
        Context {
            config,
            identity,
            me,
            ec2,
            managed,
            tag_filters,
        }
    }

    /// Reads EC2.
    pub async fn observe(&self) -> Result<Snapshot, Ec2Error> {
        self.ec2
            .snapshot(&self.identity.vpc_id, &self.tag_filters, &self.managed, &self.me)
            .await
    }

    /// Reads EC2 for a round between polls: only the tables the last poll found, by id.
    async fn observe_tables(&self, ids: &[String]) -> Result<Snapshot, Ec2Error> {
        let tables = self.ec2.route_tables_with_ids(&self.identity.vpc_id, ids).await?;
        self.ec2.complete_snapshot(tables, &self.managed, &self.me).await
    }

    /// Reads EC2 and plans.
    pub async fn plan(&self, health: &dyn HealthView) -> Result<Plan, Ec2Error> {
        let snapshot = self.observe().await?;
        Ok(self.plan_from(&snapshot, health))
    }

    /// Plans from a snapshot, logging what the operator should hear about.
    fn plan_from(&self, snapshot: &Snapshot, health: &dyn HealthView) -> Plan {
        let p = plan(&self.config, snapshot, &self.me, health);
        for item in &p.items {
            let current = item
                .current
                .as_ref()
                .map_or("absent".to_owned(), |h| h.to_string());
            tracing::debug!(route_table = %item.table_id, cidr = %item.cidr, current_target = %current,
                action = item.decision.action.verb(), reason = %item.decision.reason, "decision");
        }
        for name in &p.unmatched {
            tracing::error!(routetable = %name, "no route table in this VPC matched the finder");
        }
        for c in &p.conflicts {
            tracing::warn!(conflict = %c, "route managed by two config entries");
        }
        p
    }
}

/// `-oneshot`: one round, health checks treated as passing (as AWSnycast documents), or
/// with `--oneshot-wait-healthy`, run until each has settled.
pub async fn oneshot(ctx: &Context, mode: Mode) -> i32 {
    let mut board = None;
    if mode.wait_healthy {
        let (tx, _events) = mpsc::unbounded_channel();
        let b = match Board::start(&ctx.config, tx) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("awsnycast: {e}");
                return exit::FAILURE;
            }
        };
        settle(&b, &ctx.config).await;
        board = Some(b);
    }
    let health: &dyn HealthView = match &board {
        Some(b) => b,
        None => &AssumeHealthy,
    };
    let planned = ctx.plan(health).await;
    if let Some(b) = board {
        b.stop_all().await;
    }
    let p = match planned {
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
    let applied = apply(&ctx.ec2, &ctx.config, &p, &ctx.me, &ctx.identity.vpc_id).await;
    print_applied(&p, &applied);
    if applied.iter().any(|a| a.result.is_err()) {
        exit::FAILURE
    } else {
        exit::OK
    }
}

/// Waits until every local check has left `Unknown`, or for as long as the slowest check
/// could take to settle (its `max(rise, fall)` runs, twice over), whichever comes first.
/// Checks still unknown then count as unknown: nothing is claimed on them.
async fn settle(board: &Board, config: &Config) {
    let bound = config
        .healthchecks
        .values()
        .map(|h| (h.every + h.timeout) * h.rise.max(h.fall) * 2)
        .max()
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + bound;
    while board.local.values().any(|r| r.health() == Health::Unknown)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (name, r) in &board.local {
        tracing::info!(check = %name, health = %r.health(), "health check settled");
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

/// Live health: local checks by name, remote checks by (template, instance).
struct Board {
    local: BTreeMap<String, Running>,
    /// When each healthy local check became healthy (for `preempt_delay`).
    healthy_since: BTreeMap<String, tokio::time::Instant>,
    /// When each unhealthy local check became unhealthy (for `withdraw_delay`).
    unhealthy_since: BTreeMap<String, tokio::time::Instant>,
    remote: BTreeMap<(String, String), (IpAddr, Running)>,
    events: mpsc::UnboundedSender<Event>,
}

impl HealthView for Board {
    fn local(&self, check: &str) -> Health {
        self.local.get(check).map_or(Health::Unknown, Running::health)
    }
    fn remote(&self, check: &str, instance: &str) -> Option<Health> {
        self.remote
            .get(&(check.to_owned(), instance.to_owned()))
            .map(|(_, r)| r.health())
    }
    fn healthy_for(&self, check: &str) -> Duration {
        match (self.local(check), self.healthy_since.get(check)) {
            (Health::Healthy, Some(since)) => since.elapsed(),
            _ => Duration::ZERO,
        }
    }
    fn unhealthy_for(&self, check: &str) -> Duration {
        match (self.local(check), self.unhealthy_since.get(check)) {
            (Health::Unhealthy, Some(since)) => since.elapsed(),
            _ => Duration::ZERO,
        }
    }
    fn peer_passes(&self, check: &str) -> bool {
        // Remote checks never run against ourselves, so any healthy one is a peer.
        self.remote
            .iter()
            .any(|((template, _), (_, r))| template == check && r.health() == Health::Healthy)
    }
}

impl Board {
    /// Starts every local check.
    fn start(config: &Config, events: mpsc::UnboundedSender<Event>) -> Result<Board, CheckError> {
        let mut local = BTreeMap::new();
        for (name, spec) in &config.healthchecks {
            // A command check that does not use %DESTINATION% has none; the value is unused.
            let target = spec.destination.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let running = scheduler::start(CheckId::Local(name.clone()), spec, target, events.clone())
                .map_err(|e| CheckError::new(format!("health check {name}: {e}")))?;
            local.insert(name.clone(), running);
        }
        Ok(Board {
            local,
            healthy_since: BTreeMap::new(),
            unhealthy_since: BTreeMap::new(),
            remote: BTreeMap::new(),
            events,
        })
    }

    /// Runs exactly the remote checks the current holders need: one per (template,
    /// holder), never against ourselves; started when a holder appears or moves, stopped
    /// when it goes.
    async fn sync_remote(&mut self, ctx: &Context, snapshot: &Snapshot) {
        let mut wanted: BTreeMap<(String, String), IpAddr> = BTreeMap::new();
        for rt in ctx.config.routetables.values() {
            let tables = snapshot
                .tables
                .iter()
                .filter(|t| crate::routes::finder::matches(&rt.find, t));
            for table in tables {
                for spec in &rt.manage_routes {
                    let (Some(check), Some(route)) = (&spec.remote_healthcheck, table.route(&spec.cidr))
                    else {
                        continue;
                    };
                    let Some(holder) = snapshot.holder_instance(&route.target) else {
                        continue;
                    };
                    if holder == ctx.me.instance_id {
                        continue;
                    }
                    if let Some(addr) = snapshot.addresses.get(&holder) {
                        wanted.insert((check.clone(), holder), *addr);
                    }
                }
            }
        }
        let stale: Vec<_> = self
            .remote
            .iter()
            .filter(|(k, (addr, _))| wanted.get(*k) != Some(addr))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some((addr, running)) = self.remote.remove(&key) {
                tracing::info!(check = %key.0, instance = %key.1, destination = %addr, "stopping remote health check");
                running.stop().await;
            }
        }
        for ((check, instance), addr) in wanted {
            if self.remote.contains_key(&(check.clone(), instance.clone())) {
                continue;
            }
            let Some(spec) = ctx.config.remote_healthchecks.get(&check) else {
                continue;
            };
            let id = CheckId::Remote {
                check: check.clone(),
                instance: instance.clone(),
                address: addr,
            };
            match scheduler::start(id, spec, addr, self.events.clone()) {
                Ok(running) => {
                    tracing::info!(check = %check, instance = %instance, destination = %addr, "starting remote health check");
                    self.remote.insert((check, instance), (addr, running));
                }
                Err(e) => {
                    tracing::error!(check = %check, instance = %instance, error = %e, "cannot start remote health check")
                }
            }
        }
    }

    /// Notes when local checks become healthy or unhealthy.
    fn record(&mut self, ev: &Event) {
        if let CheckId::Local(name) = &ev.id {
            let now = tokio::time::Instant::now();
            self.healthy_since.remove(name);
            self.unhealthy_since.remove(name);
            match ev.transition.to {
                Health::Healthy => {
                    self.healthy_since.insert(name.clone(), now);
                }
                Health::Unhealthy => {
                    self.unhealthy_since.insert(name.clone(), now);
                }
                Health::Unknown => {}
            }
        }
    }

    async fn stop_all(self) {
        for (_, r) in self.local {
            r.stop().await;
        }
        for (_, (_, r)) in self.remote {
            r.stop().await;
        }
    }
}

/// How [`run`] ended.
#[derive(Debug)]
pub enum Ended {
    /// SIGTERM/SIGINT (or a start-up failure): exit with this code.
    Exit(i32),
    /// SIGHUP brought a valid new configuration: run again with it.
    Reload(Box<Config>),
}

/// Reads and validates the configuration file again (for SIGHUP): the new configuration,
/// or every problem with it as text.
pub type Reloader<'a> = &'a (dyn Fn() -> Result<Config, String> + Sync);

/// The daemon: level-triggered. A poll tick, a health transition or a retry timer each just
/// asks for a round; every round reads EC2 afresh, plans and applies (or prints, with
/// `-noop`). SIGTERM or SIGINT stop the checks and exit without touching routes. SIGHUP
/// reloads the configuration through `reload`: a valid one ends this run with
/// [`Ended::Reload`] (checks stop; routes stay as they are); an invalid one is reported and
/// the running configuration kept.
pub async fn run(ctx: &Context, mode: Mode, reload: Reloader<'_>) -> Ended {
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut board = match Board::start(&ctx.config, tx) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("awsnycast: {e}");
            return Ended::Exit(exit::FAILURE);
        }
    };
    use tokio::signal::unix::{SignalKind, signal};
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    );
    let (mut term, mut hup, mut usr1) = match signals {
        (Ok(t), Ok(h), Ok(u)) => (t, h, u),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("awsnycast: cannot listen for signals: {e}");
            board.stop_all().await;
            return Ended::Exit(exit::FAILURE);
        }
    };
    let mut reloaded: Option<Config> = None;
    let mut poll = tokio::time::interval(ctx.config.poll_time);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retry: Option<tokio::time::Instant> = None;
    let mut confirm_again: Option<tokio::time::Instant> = None;
    // The tables the last full read found: rounds between polls re-read only these.
    let mut known_tables: Vec<String> = Vec::new();
    // Routes held by a peer, or by us as backup: while there are any, every `fast_poll` is a
    // round (a peer may die, a recovered primary take its route back, or we recover).
    let mut watched: Vec<String> = Vec::new();
    let mut fast: Option<tokio::time::Instant> = None;
    let mut last_plan = String::new();
    // What the last round decided, for SIGUSR1.
    let mut last_decisions = String::new();
    let mut damper = Damper::new(ctx.config.hold_down);
    tracing::info!(poll_time = ?ctx.config.poll_time, checks = board.local.len(), noop = mode.noop, "daemon started");
    loop {
        let why = tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hup.recv() => match reload() {
                Ok(config) => {
                    tracing::info!(checks = config.healthchecks.len(), routetables = config.routetables.len(),
                        "SIGHUP: configuration reloaded; restarting with it (routes are left as they are)");
                    reloaded = Some(config);
                    break;
                }
                Err(problems) => {
                    tracing::error!(problems = %problems.trim_end(),
                        "SIGHUP: the configuration file is not valid; keeping the running configuration");
                    continue;
                }
            },
            _ = usr1.recv() => {
                log_state(&board, &last_decisions);
                continue;
            }
            _ = poll.tick() => Trigger::Poll,
            Some(ev) = events.recv() => {
                tracing::debug!(check = %ev.id, to = %ev.transition.to, "health transition: reconciling");
                board.record(&ev);
                // Several transitions at once need one round.
                while let Ok(ev) = events.try_recv() {
                    board.record(&ev);
                }
                Trigger::HealthTransition
            }
            _ = sleep_until(retry) => Trigger::FollowUp,
            _ = sleep_until(confirm_again) => Trigger::SecondConfirmation,
            _ = sleep_until(fast) => Trigger::FastPoll,
        };
        // A poll reads every table the finders could match, and forgets what it knew about
        // interfaces; rounds in between re-read the tables already found, by id.
        let full = why == Trigger::Poll || known_tables.is_empty();
        tracing::debug!(trigger = why.as_str(), full, "reconciling");
        if full {
            ctx.ec2.forget_interfaces();
        }
        let scope = (!full).then_some(known_tables.as_slice());
        let (outcome, watch) = round(ctx, &mut board, mode, scope, &mut last_plan, &mut damper).await;
        let now = tokio::time::Instant::now();
        if why == Trigger::SecondConfirmation {
            confirm_again = None;
        }
        retry = match outcome {
            RoundOutcome::Stable => None,
            RoundOutcome::Changed => {
                confirm_again = Some(now + CONFIRM_AGAIN_AFTER);
                Some(now + CONFIRM_AFTER)
            }
            RoundOutcome::Failed => Some(now + RETRY_AFTER),
        };
        if outcome != RoundOutcome::Failed {
            last_decisions = watch.decisions;
            watched = watch.tables;
            if full {
                known_tables = watch.found;
            }
        }
        if let Some(wait) = watch.revisit_in {
            // Come back when a waiting decision may come out differently.
            let at = now + wait;
            retry = Some(retry.map_or(at, |r| r.min(at)));
        }
        if let Some(at) = watch.held_until {
            // Come back when a held-down route may be written again.
            retry = Some(retry.map_or(at, |r| r.min(at)));
        }
        fast = match ctx.config.fast_poll {
            Some(every) if !watched.is_empty() => Some(now + every),
            _ => None,
        };
    }
    board.stop_all().await;
    match reloaded {
        Some(config) => Ended::Reload(Box::new(config)),
        None => {
            tracing::info!("signal received: health checks stopped; routes are left as they are");
            Ended::Exit(exit::OK)
        }
    }
}

/// SIGUSR1: every check's health and the last round's decisions, to the log.
fn log_state(board: &Board, decisions: &str) {
    tracing::info!("SIGUSR1: current state follows");
    for (name, check) in &board.local {
        tracing::info!(check = %name, health = %check.health(), "SIGUSR1: local check");
    }
    for ((template, instance), (address, check)) in &board.remote {
        tracing::info!(check = %template, instance = %instance, destination = %address,
            health = %check.health(), "SIGUSR1: remote check");
    }
    if decisions.is_empty() {
        tracing::info!("SIGUSR1: no round has completed yet");
    }
    for line in decisions.lines() {
        tracing::info!(decision = %line, "SIGUSR1: last round");
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a round asks the loop to keep an eye on.
#[derive(Default)]
struct Watch {
    /// The round's plan, as `-noop` prints it.
    decisions: String,
    /// Every table a finder selected.
    found: Vec<String>,
    /// Tables holding a managed route that someone else holds, or that we hold as backup.
    tables: Vec<String>,
    /// When a route held back by `preempt_delay` may be taken, or one left to a backup
    /// (`withdraw_delay`) must be withdrawn if the backup has not taken it.
    revisit_in: Option<Duration>,
    /// When the first route held down by flap damping may be written again.
    held_until: Option<tokio::time::Instant>,
}

/// One reconcile round. Returns the outcome and what to watch.
async fn round(
    ctx: &Context,
    board: &mut Board,
    mode: Mode,
    scope: Option<&[String]>,
    last_plan: &mut String,
    damper: &mut Damper,
) -> (RoundOutcome, Watch) {
    let observed = match scope {
        None => ctx.observe().await,
        Some(ids) => ctx.observe_tables(ids).await,
    };
    let snapshot = match observed {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read route tables; retrying");
            return (RoundOutcome::Failed, Watch::default());
        }
    };
    board.sync_remote(ctx, &snapshot).await;
    let p = ctx.plan_from(&snapshot, board);
    let mut watch: Vec<String> = p
        .items
        .iter()
        .filter(|i| {
            use crate::routes::decide::Reason::{
                AlreadyOurs, AwaitingBackup, OursButUnhealthy, OursUnhealthyNeverDelete,
            };
            let ours = matches!(
                i.decision.reason,
                AlreadyOurs | OursButUnhealthy | OursUnhealthyNeverDelete | AwaitingBackup
            );
            let backup = i.spec(&ctx.config).is_some_and(|s| s.if_unhealthy);
            // Held by someone else (we may need to act when they fail or we recover), or
            // held by us as a backup (the primary will take it back).
            i.current.is_some() && (!ours || backup)
        })
        .map(|i| i.table_id.clone())
        .collect();
    watch.sort();
    watch.dedup();
    for i in &p.items {
        if let (crate::routes::decide::Reason::AwaitingBackup, Some(left)) =
            (&i.decision.reason, i.revisit_in)
        {
            tracing::info!(route_table = %i.table_id, cidr = %i.cidr, withdraw_in_s = left.as_secs_f64(),
                "our health check fails and a healthy backup is known: leaving it the route to replace before withdrawing");
        }
    }
    // Decisions that wait (preempt_delay, withdraw_delay) are taken again when they may
    // come out differently.
    let revisit_in = p
        .items
        .iter()
        .filter_map(|i| i.revisit_in)
        .min()
        .map(|d| d + Duration::from_millis(10));
    let mut found: Vec<String> = p.items.iter().map(|i| i.table_id.clone()).collect();
    found.sort();
    found.dedup();
    let decisions = p.to_string();
    let (outcome, held_until) = round_apply(ctx, mode, last_plan, p, damper).await;
    let watch = Watch {
        decisions,
        found,
        tables: watch,
        revisit_in,
        held_until: held_until.map(tokio::time::Instant::from_std),
    };
    (outcome, watch)
}

/// Applies a round's plan, or with `-noop` prints it when it differs from the last one.
/// Changes to routes that are held down are deferred; returns when the first may go.
async fn round_apply(
    ctx: &Context,
    mode: Mode,
    last_plan: &mut String,
    mut p: Plan,
    damper: &mut Damper,
) -> (RoundOutcome, Option<std::time::Instant>) {
    if mode.noop {
        let text = p.to_string();
        if text != *last_plan {
            print_plan(&p);
            *last_plan = text;
        }
        return (RoundOutcome::Stable, None);
    }
    let now = std::time::Instant::now();
    let mut held: Option<std::time::Instant> = None;
    p.items.retain(|i| {
        if !i.decision.action.is_change() {
            return true;
        }
        match damper.held_until(&i.table_id, &i.cidr, now) {
            Some(until) => {
                tracing::debug!(route_table = %i.table_id, cidr = %i.cidr, action = i.decision.action.verb(),
                    wait_ms = until.saturating_duration_since(now).as_millis() as u64, "route held down; deferring");
                held = Some(held.map_or(until, |h| h.min(until)));
                false
            }
            None => true,
        }
    });
    let applied = apply(&ctx.ec2, &ctx.config, &p, &ctx.me, &ctx.identity.vpc_id).await;
    for a in applied.iter().filter(|a| a.result.is_ok()) {
        let took_from = match (&a.item.decision.action, &a.item.current) {
            (Action::Replace { .. }, Some(holder)) => Some(
                a.item
                    .holder_instance
                    .clone()
                    .unwrap_or_else(|| holder.to_string()),
            ),
            _ => None,
        };
        if let Some(c) = damper.record(
            &a.item.table_id,
            &a.item.cidr,
            took_from.as_deref(),
            std::time::Instant::now(),
        ) {
            tracing::warn!(route_table = %a.item.table_id, cidr = %a.item.cidr, us = %ctx.me.instance_id,
                other = %c.peer, contests = c.count, hold_s = c.hold.as_secs_f64(),
                "two routers both act as primary for this route and keep taking it from each other; \
                 backing off — give one of them if_unhealthy: true");
        }
    }
    let outcome = if applied.iter().any(|a| a.result.is_err() && !a.raced) {
        RoundOutcome::Failed
    } else if applied.is_empty() {
        RoundOutcome::Stable
    } else {
        RoundOutcome::Changed
    };
    (outcome, held)
}
