//! Runs checks on tokio: each check every `every`, never overlapping itself, each run bounded
//! by the check's timeout, with a small start jitter so that many checks do not fire
//! together. State changes are published on a channel; listeners (the route manager, logs)
//! never need to know which check produced them.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::check::{self, Check, CheckError};
use super::threshold::Threshold;
use super::{Health, Transition};
use crate::config::Healthcheck;
use crate::hooks::{self, HOOK_TIMEOUT};

/// Which check a transition belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckId {
    /// A local check, by name.
    Local(String),
    /// A remote check template, by name, run against an instance at an address.
    Remote {
        check: String,
        instance: String,
        address: IpAddr,
    },
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckId::Local(n) => f.write_str(n),
            CheckId::Remote { check, instance, .. } => write!(f, "{check}@{instance}"),
        }
    }
}

/// A state change, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: CheckId,
    pub transition: Transition,
}

/// A running check. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub id: CheckId,
    state: watch::Receiver<Health>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    pub fn health(&self) -> Health {
        *self.state.borrow()
    }

    /// Stops the check and waits for its task to end (an in-flight run is abandoned, and a
    /// command check's process group killed).
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// Starts `spec` against `target`; transitions go to `events`.
pub fn start(
    id: CheckId,
    spec: &Healthcheck,
    target: IpAddr,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Running, CheckError> {
    let probe = check::build(spec)?;
    Ok(start_with(id, spec, probe, target, events))
}

/// Like [`start`], with a given probe (for tests of the scheduler itself).
pub fn start_with(
    id: CheckId,
    spec: &Healthcheck,
    probe: Arc<dyn Check>,
    target: IpAddr,
    events: mpsc::UnboundedSender<Event>,
) -> Running {
    let (tx, rx) = watch::channel(Health::Unknown);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(
        id.clone(),
        spec.clone(),
        probe,
        target,
        tx,
        events,
        cancel.clone(),
    ));
    Running {
        id,
        state: rx,
        cancel,
        task,
    }
}

async fn run(
    id: CheckId,
    spec: Healthcheck,
    probe: Arc<dyn Check>,
    target: IpAddr,
    state: watch::Sender<Health>,
    events: mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
) {
    let mut threshold = Threshold::new(spec.rise, spec.fall);
    // Spread first runs over up to a tenth of the interval (at most one second).
    let jitter = spec
        .every
        .min(Duration::from_secs(10))
        .mul_f64(fastrand::f64() / 10.0);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + jitter, spec.every);
    // A slow run delays the next instead of causing a burst of catch-up runs.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let kind = spec.check.type_name();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(spec.timeout, probe.check(target)) => match r {
                Ok(r) => r,
                Err(_) => Err(CheckError::new(format!("no answer within {:?}", spec.timeout))),
            },
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(()) => tracing::debug!(check = %id, destination = %target, kind, latency_ms, "check passed"),
            Err(e) => {
                tracing::debug!(check = %id, destination = %target, kind, latency_ms, error = %e, "check failed")
            }
        }
        if let Some(transition) = threshold.observe(result.is_ok()) {
            let error = result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
            tracing::info!(check = %id, destination = %target, kind, latency_ms, from = %transition.from,
                to = %transition.to, error = %error, "health check changed state");
            state.send_replace(transition.to);
            let _ = events.send(Event {
                id: id.clone(),
                transition,
            });
            let hook = match transition.to {
                Health::Healthy => spec.run_on_healthy.clone(),
                Health::Unhealthy => spec.run_on_unhealthy.clone(),
                Health::Unknown => None,
            };
            if let Some(argv) = hook {
                let env = [
                    ("AWSNYCAST_CHECK", id.to_string()),
                    ("AWSNYCAST_DESTINATION", target.to_string()),
                    ("AWSNYCAST_HEALTH", transition.to.to_string()),
                ];
                // Hooks run beside the check so a slow hook never delays the next run.
                tokio::spawn(async move {
                    if let Err(e) = hooks::run(&argv, &env, HOOK_TIMEOUT).await {
                        tracing::warn!(hook = %argv.join(" "), error = %e, "health hook failed");
                    }
                });
            }
        }
    }
}
