//! Starts moto's EC2 server on a free loopback port, and stops it when dropped.
//!
//! The server comes from the project-local venv that `tests/setup-moto.sh` creates (or
//! `MOTO_SERVER`). A missing emulator is a failure with instructions, never a skipped test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
}

fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let p = super::repo().join(".venv/bin/moto_server");
    assert!(
        p.exists(),
        "moto_server not found at {}: run tests/setup-moto.sh (or the README's test command) first",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    l.local_addr().expect("local addr").port()
}

impl Moto {
    /// Starts a fresh server (its state is empty) and waits until it accepts connections.
    pub fn start() -> Moto {
        let server = moto_server();
        let mut last_err = String::new();
        // The port could be taken between choosing and binding it; try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("moto exited early with {status}");
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Moto { child, addr };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_err.is_empty() {
                last_err = "moto did not accept connections within 60s".into();
            }
        }
        panic!("could not start moto: {last_err}");
    }

    /// The endpoint URL for `AWS_ENDPOINT_URL_EC2`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
