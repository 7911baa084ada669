//! The ping check: one ICMP echo, natively (no `ping` binary). Uses an unprivileged ICMP
//! datagram socket where the kernel allows it (`net.ipv4.ping_group_range`), a raw socket
//! otherwise (needs CAP_NET_RAW).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence};
use tokio::sync::OnceCell;

use super::check::{Check, CheckError, CheckFuture};

pub struct Ping {
    v4: OnceCell<Client>,
    v6: OnceCell<Client>,
    ident: u16,
    seq: AtomicU16,
}

impl Ping {
    pub fn new() -> Result<Ping, CheckError> {
        Ok(Ping {
            v4: OnceCell::new(),
            v6: OnceCell::new(),
            ident: fastrand::u16(..),
            seq: AtomicU16::new(0),
        })
    }

    async fn client(&self, target: IpAddr) -> Result<&Client, CheckError> {
        let (cell, kind) = match target {
            IpAddr::V4(_) => (&self.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.v6, ICMP::V6),
        };
        cell.get_or_try_init(|| async {
            // surge-ping tries a datagram socket first and falls back to a raw one.
            let config = Config::builder().kind(kind).build();
            Client::new(&config).map_err(|e| {
                CheckError::new(format!(
                    "cannot open an ICMP socket ({e}): allow unprivileged ping with \
                     `sysctl net.ipv4.ping_group_range=\"0 2147483647\"` or give the daemon CAP_NET_RAW"
                ))
            })
        })
        .await
    }

    async fn run(&self, target: IpAddr) -> Result<(), CheckError> {
        let client = self.client(target).await?;
        let mut pinger = client.pinger(target, PingIdentifier(self.ident)).await;
        // The scheduler bounds the run; this only keeps a lost reply from waiting forever.
        pinger.timeout(Duration::from_secs(60));
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        pinger
            .ping(PingSequence(seq), &[0u8; 16])
            .await
            .map(|_| ())
            .map_err(|e| CheckError::new(format!("ping {target}: {e}")))
    }
}

impl Check for Ping {
    fn check(&self, target: IpAddr) -> CheckFuture<'_> {
        Box::pin(self.run(target))
    }
}
