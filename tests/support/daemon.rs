//! A daemon process under test (or in the demo): started with the emulator's endpoint and a
//! fake IMDS, logging to a file; SIGTERM to stop, killed if dropped while running.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::imds::FakeImds;
use super::vpc;

pub struct Daemon {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    pub fn start(endpoint: &str, imds: &FakeImds, config: &Path, extra: &[&str]) -> Daemon {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = super::awsnycast()
            .envs(vpc::daemon_env(endpoint))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url())
            .env("AWSNYCAST_LOG", "awsnycast=debug,info")
            .arg("-f")
            .arg(config)
            .args(extra)
            .stdout(log.reopen().expect("log"))
            .stderr(log.reopen().expect("log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start daemon");
        Daemon {
            child: Some(child),
            log,
        }
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Kills the process outright (an instance dying), without SIGTERM.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Fails at once if the daemon has exited.
    pub fn assert_running(&mut self) {
        if self.child.is_some() && !self.running() {
            panic!("the daemon exited:\n{}", self.output());
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Waits until `done` says so, asking every 200 ms; fails with `what` and the log if
    /// the daemon exits or `within` passes first.
    pub async fn until<F, Fut>(&mut self, within: Duration, what: &str, mut done: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        while !done().await {
            self.assert_running();
            assert!(Instant::now() < deadline, "{what}:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the log contains `needle` (see [`Daemon::until`]).
    pub async fn until_logged(&mut self, within: Duration, needle: &str) {
        let log = self.log.path().to_owned();
        self.until(within, &format!("{needle:?} never logged"), || {
            let found = std::fs::read_to_string(&log).is_ok_and(|l| l.contains(needle));
            std::future::ready(found)
        })
        .await;
    }

    /// Sends `signal` (SIGHUP: reload the configuration; SIGUSR1: log the state).
    pub fn signal(&self, signal: rustix::process::Signal) {
        if let Some(pid) = self.pid().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }

    /// SIGTERM, and the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("daemon did not exit within 20s of SIGTERM:\n{}", self.output());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
