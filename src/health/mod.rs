//! Health checks: the [`check::Check`] trait and its ping, tcp, http and command kinds; the
//! rise/fall [`threshold::Threshold`]; and the [`scheduler`] that runs checks and publishes
//! their transitions. Knows nothing about AWS or routes: a check never knows who listens.

pub mod check;
mod command;
mod http;
mod ping;
pub mod scheduler;
mod tcp;
pub mod threshold;
mod tls;

/// What a health check currently says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Not yet able to pass: too few results so far. Nothing may be claimed on it.
    Unknown,
    Healthy,
    Unhealthy,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        })
    }
}

/// A change of a check's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: Health,
    pub to: Health,
}
