//! Operator hooks: commands run around route changes and health transitions.
//!
//! A hook is an argv (no shell), run with a timeout; the whole process group is killed when
//! it runs over. Its output is logged. Context is passed in `AWSNYCAST_*` environment
//! variables, never spliced into arguments.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long a hook may run.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a hook did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("cannot start {0}: {1}")]
    Spawn(String, String),
    #[error("{0} exited with {1}")]
    Failed(String, String),
    #[error("{0} ran longer than {1:?} and was killed")]
    TimedOut(String, Duration),
}

/// Runs `argv` with `env` added, waits at most `timeout`.
pub async fn run(argv: &[String], env: &[(&str, String)], timeout: Duration) -> Result<(), HookError> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| HookError::Spawn(program.clone(), e.to_string()))?;
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            tracing::info!(hook = %argv.join(" "), status = %out.status, stdout = %stdout.trim(), stderr = %stderr.trim(), "hook finished");
            if out.status.success() {
                Ok(())
            } else {
                Err(HookError::Failed(program.clone(), out.status.to_string()))
            }
        }
        Ok(Err(e)) => Err(HookError::Spawn(program.clone(), e.to_string())),
        Err(_) => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            Err(HookError::TimedOut(program.clone(), timeout))
        }
    }
}

/// Kills a process group we started (its leader's pid is the group id). Best effort: the
/// group may already be gone.
pub fn kill_group(pid: u32) {
    let pid = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn hooks_pass_fail_and_time_out() {
        assert_eq!(run(&argv(&["true"]), &[], HOOK_TIMEOUT).await, Ok(()));
        assert!(matches!(
            run(&argv(&["false"]), &[], HOOK_TIMEOUT).await,
            Err(HookError::Failed(..))
        ));
        assert!(matches!(
            run(&argv(&["/nonexistent/hook"]), &[], HOOK_TIMEOUT).await,
            Err(HookError::Spawn(..))
        ));
        let env = [("AWSNYCAST_CIDR", "10.0.0.0/24".to_string())];
        assert_eq!(
            run(
                &argv(&["sh", "-c", "test \"$AWSNYCAST_CIDR\" = 10.0.0.0/24"]),
                &env,
                HOOK_TIMEOUT
            )
            .await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn a_hook_that_hangs_is_killed_with_its_children() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("child.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let got = run(&argv(&["sh", "-c", &script]), &[], Duration::from_millis(500)).await;
        assert!(matches!(got, Err(HookError::TimedOut(..))), "{got:?}");
        let pid = std::fs::read_to_string(&pidfile)
            .expect("child pid")
            .trim()
            .to_owned();
        // The grandchild `sleep` was in the group and must be gone.
        let mut gone = false;
        for _ in 0..50 {
            let status = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if status.is_empty() || status.contains(") Z ") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "child {pid} survived the timeout");
    }
}
