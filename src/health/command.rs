//! The command check: run an argv (no shell), pass on exit 0. `%DESTINATION%` is replaced by
//! the destination, which is always an IP address (validated config or an EC2 answer), so
//! nothing an attacker controls reaches the command line. When the scheduler's timeout
//! abandons a run, the whole process group is killed.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;

use super::check::{Check, CheckError, CheckFuture};
use crate::config::CommandCheck;
use crate::hooks::kill_group;

pub struct Command {
    command: String,
    arguments: Vec<String>,
    timeout: Duration,
}

impl Command {
    pub fn new(spec: &CommandCheck, timeout: Duration) -> Command {
        Command {
            command: spec.command.clone(),
            arguments: spec.arguments.clone(),
            timeout,
        }
    }

    async fn run(&self, target: IpAddr) -> Result<(), CheckError> {
        let dest = target.to_string();
        let sub = |s: &String| s.replace("%DESTINATION%", &dest);
        let mut child = tokio::process::Command::new(sub(&self.command))
            .args(self.arguments.iter().map(sub))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CheckError::new(format!("cannot run {}: {e}", self.command)))?;
        // Kills the group if this future is dropped (timeout) before the child exits.
        let mut guard = GroupGuard(child.id());
        let stderr = child.stderr.take();
        let status = tokio::time::timeout(self.timeout, child.wait()).await;
        let status = match status {
            Ok(s) => s.map_err(|e| CheckError::new(format!("waiting for {}: {e}", self.command)))?,
            Err(_) => {
                return Err(CheckError::new(format!(
                    "{} ran longer than {:?} and was killed",
                    self.command, self.timeout
                )));
            }
        };
        guard.0 = None;
        if status.success() {
            return Ok(());
        }
        let mut err_text = String::new();
        if let Some(mut e) = stderr {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 512];
            if let Ok(n) = e.read(&mut buf).await {
                err_text = String::from_utf8_lossy(&buf[..n]).trim().to_owned();
            }
        }
        Err(CheckError::new(format!(
            "{} exited with {status}: {err_text}",
            self.command
        )))
    }
}

struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            kill_group(pid);
        }
    }
}

impl Check for Command {
    fn check(&self, target: IpAddr) -> CheckFuture<'_> {
        Box::pin(self.run(target))
    }
}
