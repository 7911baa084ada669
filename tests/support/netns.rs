//! Test hosts in network namespaces: a namespace joined to the test's own namespace by a
//! veth pair, so a check can see a host die when the test takes its link down. Needs root
//! and iproute2 (`tests/run.sh` installs it). Everything is removed when dropped.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Host {
    pub name: String,
    /// The veth end in the test's namespace.
    pub local_if: String,
    /// The veth end inside the host.
    pub peer_if: String,
    /// The host's address (inside its namespace).
    pub addr: Ipv4Addr,
    pub local_addr: Ipv4Addr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {} failed: {} (these tests need root and iproute2)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Host {
    /// A new namespace with one veth link; addresses from 10.213.0.0/16, unique per host.
    pub fn new() -> Host {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id() % 100_000;
        let name = format!("awsn-{pid}-{n}");
        // Interface names are limited to 15 characters.
        let local_if = format!("an{pid}h{n}");
        let peer_if = format!("an{pid}p{n}");
        let block = (pid * 8 + n) % 16_000;
        let (hi, lo) = ((block * 4) / 256, (block * 4) % 256);
        let local_addr = Ipv4Addr::new(10, 213, hi as u8, lo as u8 + 1);
        let addr = Ipv4Addr::new(10, 213, hi as u8, lo as u8 + 2);
        ip(&["netns", "add", &name]);
        ip(&["link", "add", &local_if, "type", "veth", "peer", "name", &peer_if]);
        ip(&["link", "set", &peer_if, "netns", &name]);
        ip(&["addr", "add", &format!("{local_addr}/30"), "dev", &local_if]);
        ip(&["link", "set", &local_if, "up"]);
        ip(&["-n", &name, "addr", "add", &format!("{addr}/30"), "dev", &peer_if]);
        ip(&["-n", &name, "link", "set", &peer_if, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Host {
            name,
            local_if,
            peer_if,
            addr,
            local_addr,
        }
    }

    /// Gives the host another address (such as the private IP EC2 gave a simulated
    /// instance), reachable from the test's namespace through this host's link only.
    pub fn add_address(&self, extra: Ipv4Addr) {
        ip(&[
            "-n",
            &self.name,
            "addr",
            "add",
            &format!("{extra}/32"),
            "dev",
            &self.peer_if,
        ]);
        ip(&[
            "route",
            "add",
            &format!("{extra}/32"),
            "via",
            &self.addr.to_string(),
            "dev",
            &self.local_if,
        ]);
    }

    /// Runs a command inside the host's namespace (in the background).
    pub fn spawn(&self, argv: &[&str]) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ip netns exec")
    }

    /// Takes the host's link down: it stops answering.
    pub fn link_down(&self) {
        ip(&["link", "set", &self.local_if, "down"]);
    }

    pub fn link_up(&self) {
        ip(&["link", "set", &self.local_if, "up"]);
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.local_if]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}
