//! The check trait: one probe of one destination, pass or fail. Thresholds, scheduling and
//! publishing live elsewhere.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::{CheckKind, Healthcheck};

/// Why a probe failed, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

impl CheckError {
    pub fn new(message: impl Into<String>) -> CheckError {
        CheckError(message.into())
    }
}

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CheckError>> + Send + 'a>>;

/// One kind of probe. Implementations do not time themselves out: the scheduler does.
pub trait Check: Send + Sync {
    fn check(&self, target: IpAddr) -> CheckFuture<'_>;
}

/// Builds the probe for a configured check. Fails only on setup problems (an unreadable CA
/// file, no ICMP socket), with a message saying what to fix.
pub fn build(spec: &Healthcheck) -> Result<Arc<dyn Check>, CheckError> {
    Ok(match &spec.check {
        CheckKind::Ping => Arc::new(super::ping::Ping::new()?),
        CheckKind::Tcp(t) => Arc::new(super::tcp::Tcp::new(t)?),
        CheckKind::Http(h) => Arc::new(super::http::Http::new(h, spec.timeout)?),
        CheckKind::Command(c) => Arc::new(super::command::Command::new(c, spec.timeout)),
    })
}
