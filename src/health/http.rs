//! The http check: one request with reqwest (rustls); passes when the status is in
//! `expect_status` and the body contains `expect_body` (if given). Redirects are not
//! followed: a 301 is an answer, not a pass, unless `expect_status` accepts it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HOST;

use super::check::{Check, CheckError, CheckFuture};
use super::tls;
use crate::config::{HttpCheck, Scheme};

pub struct Http {
    spec: HttpCheck,
    method: reqwest::Method,
    timeout: Duration,
    /// One client per destination: with `serverName`, the name must resolve to the
    /// destination, and that is a client setting.
    client: Mutex<Option<(IpAddr, reqwest::Client)>>,
}

impl Http {
    pub fn new(spec: &HttpCheck, timeout: Duration) -> Result<Http, CheckError> {
        let method = reqwest::Method::from_bytes(spec.method.as_bytes())
            .map_err(|_| CheckError::new(format!("{:?} is not an HTTP method", spec.method)))?;
        let http = Http {
            spec: spec.clone(),
            method,
            timeout,
            client: Mutex::new(None),
        };
        // Fail at start, not at the first run, on a bad CA.
        http.build_client(IpAddr::from([127, 0, 0, 1]))?;
        Ok(http)
    }

    fn build_client(&self, target: IpAddr) -> Result<reqwest::Client, CheckError> {
        let mut b = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if self.spec.scheme == Scheme::Https {
            let t = &self.spec.tls;
            if let Some(ca) = &t.ca {
                let certs = tls::ca_certificates(ca)?
                    .iter()
                    .map(|der| reqwest::Certificate::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CheckError::new(format!("unusable CA certificate: {e}")))?;
                b = b.tls_certs_only(certs);
            }
            if t.skip_verify {
                b = b.tls_danger_accept_invalid_certs(true);
            }
            if let Some(name) = &t.server_name {
                b = b.resolve(name, SocketAddr::new(target, self.spec.port));
            }
        }
        b.build()
            .map_err(|e| CheckError::new(format!("HTTP client setup: {e}")))
    }

    fn client(&self, target: IpAddr) -> Result<reqwest::Client, CheckError> {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((ip, c)) = slot.as_ref()
            && *ip == target
        {
            return Ok(c.clone());
        }
        let c = self.build_client(target)?;
        *slot = Some((target, c.clone()));
        Ok(c)
    }

    fn url(&self, target: IpAddr) -> String {
        let scheme = match self.spec.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let host = match (&self.spec.tls.server_name, self.spec.scheme, target) {
            (Some(name), Scheme::Https, _) => name.clone(),
            (_, _, IpAddr::V6(v6)) => format!("[{v6}]"),
            (_, _, IpAddr::V4(v4)) => v4.to_string(),
        };
        format!("{scheme}://{host}:{}{}", self.spec.port, self.spec.path)
    }

    async fn run(&self, target: IpAddr) -> Result<(), CheckError> {
        let url = self.url(target);
        let mut req = self.client(target)?.request(self.method.clone(), &url);
        if let Some(host) = &self.spec.host {
            req = req.header(HOST, host);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CheckError::new(format!("{} {url}: {}", self.method, crate::error_chain(&e))))?;
        let status = resp.status().as_u16();
        if !self
            .spec
            .expect_status
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
        {
            return Err(CheckError::new(format!(
                "{} {url}: status {status} is not expected",
                self.method
            )));
        }
        if let Some(want) = &self.spec.expect_body {
            let body = resp
                .text()
                .await
                .map_err(|e| CheckError::new(format!("{} {url}: reading the body: {e}", self.method)))?;
            if !body.contains(want.as_str()) {
                let shown: String = body.chars().take(80).collect();
                return Err(CheckError::new(format!(
                    "{} {url}: body does not contain {want:?} (got {shown:?})",
                    self.method
                )));
            }
        }
        Ok(())
    }
}

impl Check for Http {
    fn check(&self, target: IpAddr) -> CheckFuture<'_> {
        Box::pin(self.run(target))
    }
}
