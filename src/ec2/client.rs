//! The one door to the EC2 API: an SDK client behind a rate limiter, with backoff on
//! throttling and errors that name the operation.
//!
//! Configuration comes only from the standard SDK chain (`AWS_REGION`, `AWS_ENDPOINT_URL_EC2`,
//! credentials, ...); when no region is configured, the instance's own region is used.

use std::error::Error as StdError;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Attempts of one call while EC2 throttles or fails transiently. The SDK's own retries are
/// off, so that every request, retries included, goes through the rate limiter.
const ATTEMPTS: u32 = 5;

/// An EC2 call that failed, after retries.
#[derive(Debug, Clone, thiserror::Error)]
#[error("EC2 {operation} failed: {message}")]
pub struct Ec2Error {
    pub operation: &'static str,
    /// EC2's error code (`RequestLimitExceeded`, `InvalidRouteTableID.NotFound`, ...).
    pub code: Option<String>,
    pub message: String,
}

/// A rate-limited EC2 client. Cheap to clone; clones share the limiter.
#[derive(Clone)]
pub struct Ec2 {
    pub(crate) sdk: aws_sdk_ec2::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    pub(crate) interface_cache: Arc<std::sync::Mutex<super::observe::InterfaceCache>>,
}

impl Ec2 {
    /// A client from the standard SDK configuration; `fallback_region` applies when none is
    /// configured (the instance's region from IMDS). All calls share `calls_per_second`, with
    /// a burst of the same size.
    pub async fn from_env(fallback_region: &str, calls_per_second: u32) -> Ec2 {
        let region = aws_config::meta::region::RegionProviderChain::default_provider()
            .or_else(aws_sdk_ec2::config::Region::new(fallback_region.to_owned()));
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Ec2::new(aws_sdk_ec2::Client::new(&shared), calls_per_second)
    }

    pub fn new(sdk: aws_sdk_ec2::Client, calls_per_second: u32) -> Ec2 {
        let rate = NonZeroU32::new(calls_per_second).unwrap_or(NonZeroU32::MIN);
        Ec2 {
            sdk,
            limiter: Arc::new(RateLimiter::direct(Quota::per_second(rate))),
            interface_cache: Arc::default(),
        }
    }

    /// Sends one request through the limiter, backing off with jitter while EC2 throttles.
    pub(crate) async fn call<T, E, F, Fut>(&self, operation: &'static str, send: F) -> Result<T, Ec2Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        self.limiter.until_ready().await;
        self.call_admitted(operation, send).await
    }

    /// Waits until `n` calls fit the budget and takes them, so that the next `n` requests
    /// (sent with [`Ec2::call_admitted`]) go out back to back.
    pub(crate) async fn admit(&self, n: u32) {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        // More than the burst can never be admitted at once; then take them one by one.
        if self.limiter.until_n_ready(n).await.is_err() {
            for _ in 0..n.get() {
                self.limiter.until_ready().await;
            }
        }
    }

    /// Sends a request whose budget was already taken (by [`Ec2::call`] or [`Ec2::admit`]);
    /// retries after throttling or a transient failure wait for the budget again.
    pub(crate) async fn call_admitted<T, E, F, Fut>(
        &self,
        operation: &'static str,
        send: F,
    ) -> Result<T, Ec2Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                self.limiter.until_ready().await;
            }
            match send().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let code = e.code().map(str::to_owned);
                    attempt += 1;
                    let retry = if is_throttling(code.as_deref()) {
                        Some("EC2 is throttling; backing off")
                    } else if is_transient(&e) {
                        Some("EC2 call failed transiently; retrying")
                    } else {
                        None
                    };
                    if let Some(what) = retry.filter(|_| attempt < ATTEMPTS) {
                        let delay = backoff(attempt);
                        tracing::warn!(
                            operation,
                            attempt,
                            code = code.as_deref().unwrap_or("-"),
                            delay_ms = delay.as_millis() as u64,
                            "{what}"
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let message = match e.message() {
                        Some(m) => format!("{}: {m}", code.as_deref().unwrap_or("error")),
                        None => super::error_chain(&e),
                    };
                    return Err(Ec2Error {
                        operation,
                        code,
                        message,
                    });
                }
            }
        }
    }
}

fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("RequestLimitExceeded" | "Throttling" | "ThrottlingException" | "TooManyRequestsException")
    )
}

/// Failures worth another attempt: no answer (connection, timeout, unreadable response)
/// or a server-side error (5xx).
fn is_transient<E: ProvideErrorMetadata>(e: &SdkError<E, aws_sdk_ec2::config::http::HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => {
            matches!(
                s.err().code(),
                Some("InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable")
            ) || s.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// Exponential backoff with full jitter: up to 0.5 s, 1 s, 2 s, 4 s.
fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1)).min(16);
    cap.mul_f64(0.5 + fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        for attempt in 1..10 {
            let d = backoff(attempt);
            let cap = Duration::from_millis(500) * 2u32.pow((attempt - 1).min(4));
            assert!(d <= cap && d >= cap / 2, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn throttling_codes() {
        assert!(is_throttling(Some("RequestLimitExceeded")));
        assert!(!is_throttling(Some("InvalidRouteTableID.NotFound")));
        assert!(!is_throttling(None));
    }
}
