//! The tcp check: connect (optionally over TLS), optionally send bytes, optionally expect a
//! substring in the reply.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::check::{Check, CheckError, CheckFuture};
use super::tls;
use crate::config::{TcpCheck, TlsOptions};

/// How much of a reply is read looking for `expect`.
const MAX_REPLY: usize = 64 * 1024;

pub struct Tcp {
    port: u16,
    send: Option<Vec<u8>>,
    expect: Option<String>,
    tls: Option<(Arc<ClientConfig>, TlsOptions)>,
}

impl Tcp {
    pub fn new(spec: &TcpCheck) -> Result<Tcp, CheckError> {
        let tls = match &spec.tls {
            Some(opts) => Some((tls::client_config(opts)?, opts.clone())),
            None => None,
        };
        Ok(Tcp {
            port: spec.port,
            send: spec.send.as_ref().map(|s| s.as_bytes().to_vec()),
            expect: spec.expect.clone(),
            tls,
        })
    }

    async fn run(&self, target: IpAddr) -> Result<(), CheckError> {
        let addr = SocketAddr::new(target, self.port);
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| CheckError::new(format!("connect to {addr}: {e}")))?;
        match &self.tls {
            None => self.exchange(stream).await,
            Some((config, opts)) => {
                let name = tls::server_name(opts, target)?;
                let stream = TlsConnector::from(config.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|e| CheckError::new(format!("TLS handshake with {addr}: {e}")))?;
                self.exchange(stream).await
            }
        }
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S) -> Result<(), CheckError> {
        if let Some(bytes) = &self.send {
            stream
                .write_all(bytes)
                .await
                .map_err(|e| CheckError::new(format!("send: {e}")))?;
            stream
                .flush()
                .await
                .map_err(|e| CheckError::new(format!("send: {e}")))?;
        }
        let Some(expect) = &self.expect else {
            return Ok(());
        };
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if String::from_utf8_lossy(&reply).contains(expect.as_str()) {
                return Ok(());
            }
            if reply.len() >= MAX_REPLY {
                break;
            }
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
                Err(e) if reply.is_empty() => return Err(CheckError::new(format!("read: {e}"))),
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&reply);
        let shown: String = text.chars().take(80).collect();
        Err(CheckError::new(format!(
            "reply does not contain {expect:?} (got {shown:?})"
        )))
    }
}

impl Check for Tcp {
    fn check(&self, target: IpAddr) -> CheckFuture<'_> {
        Box::pin(self.run(target))
    }
}
