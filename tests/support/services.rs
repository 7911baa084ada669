//! Real services on loopback for health checks to probe: a line-protocol TCP server, the
//! same behind TLS with a CA made in the test, and a minimal HTTP/1.1 server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server that answers every connection's first read with `reply` (or only accepts when
/// `reply` is empty). Stops when dropped.
pub struct Service {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP server replying `reply` once it has read something (or at once if `eager`).
pub async fn tcp(reply: &'static str, eager: bool) -> Service {
    tcp_at(0, reply, eager).await
}

/// [`tcp`] on a given loopback port (0: any free one), e.g. to bring a stopped service back.
pub async fn tcp_at(port: u16, reply: &'static str, eager: bool) -> Service {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                if !eager {
                    let _ = s.read(&mut buf).await;
                }
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Service { addr, task }
}

/// A CA and a server certificate for `svc.test` and 127.0.0.1, made fresh.
pub struct Pki {
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
}

pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["svc.test".to_string(), "127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("sign");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der"),
        )
        .expect("server config");
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// A TLS server replying `reply` after reading something.
pub async fn tls(pki: &Pki, reply: &'static str) -> Service {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Service { addr, task }
}

/// An HTTP/1.1 server answering every request with `status` and `body`, optionally over TLS.
/// It records the last request's head (request line and headers).
pub async fn http(
    status: u16,
    body: &'static str,
    tls: Option<&Pki>,
) -> (Service, Arc<std::sync::Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tls.map(|p| tokio_rustls::TlsAcceptor::from(p.server.clone()));
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                match acceptor {
                    Some(a) => {
                        let Ok(mut s) = a.accept(s).await else { return };
                        let head = read_head(&mut s).await;
                        *seen.lock().expect("lock") = head;
                        let _ = s.write_all(response.as_bytes()).await;
                        let _ = s.shutdown().await;
                    }
                    None => {
                        let mut s = s;
                        let head = read_head(&mut s).await;
                        *seen.lock().expect("lock") = head;
                        let _ = s.write_all(response.as_bytes()).await;
                        let _ = s.shutdown().await;
                    }
                }
            });
        }
    });
    (Service { addr, task }, seen)
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}
