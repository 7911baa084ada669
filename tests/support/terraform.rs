//! Runs the Terraform example (`terraform/`) against the test's moto server: a copy of the
//! example in a temporary directory plus `tests/terraform/moto_override.tf`, providers from
//! the machine's offline mirror only (`tests/terraform/cli.tfrc`). A missing `terraform` or
//! mirror is a failure that says what to install, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `tests/terraform/cli.tfrc` expects the provider mirror.
pub const MIRROR: &str = "/opt/tf-plugins";

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

fn terraform_binary() -> Result<PathBuf, String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("terraform"))
            .find(|p| p.is_file())
    });
    found.ok_or_else(|| {
        "terraform is not on PATH: the Terraform test needs Terraform >= 1.5 and the \
         hashicorp/aws provider in the offline mirror /opt/tf-plugins"
            .to_string()
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let name = entry.file_name();
        // Leave out any state or provider cache of a local run in the source tree.
        if name.to_string_lossy().starts_with(".terraform") || name.to_string_lossy().contains("tfstate") {
            continue;
        }
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("copy {}: {e}", src.display()))?;
        }
    }
    Ok(())
}

impl Workspace {
    /// A copy of `terraform/` whose provider talks to moto at `endpoint`.
    pub fn new(endpoint: &str) -> Result<Workspace, String> {
        terraform_binary()?;
        if !Path::new(MIRROR)
            .join("registry.terraform.io/hashicorp/aws")
            .is_dir()
        {
            return Err(format!(
                "no hashicorp/aws provider under {MIRROR}: the Terraform test installs providers \
                 only from that offline mirror"
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        copy_dir(&super::repo().join("terraform"), dir.path())?;
        let override_file = super::repo().join("tests/terraform/moto_override.tf");
        let text = std::fs::read_to_string(&override_file)
            .map_err(|e| format!("read {}: {e}", override_file.display()))?;
        std::fs::write(
            dir.path().join("moto_override.tf"),
            text.replace("@ENDPOINT@", endpoint),
        )
        .map_err(|e| e.to_string())?;
        Ok(Workspace { dir })
    }

    /// Runs `terraform <args>` in the workspace; its stdout, or an error with both streams.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| format!("run terraform: {e}"))?;
        let (stdout, stderr) = super::text(&out);
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "terraform {} failed ({}):\n{stdout}\n{stderr}",
                args.join(" "),
                out.status
            ))
        }
    }

    /// `terraform <args>` with the test's environment: the offline CLI config, no colour,
    /// no prompts, nothing from the developer's shell that could reach a real account.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("terraform");
        cmd.args(args).current_dir(self.dir.path());
        for var in super::AWS_ENV
            .iter()
            .chain(&["TF_PLUGIN_CACHE_DIR", "TF_DATA_DIR", "TF_WORKSPACE"])
        {
            cmd.env_remove(var);
        }
        cmd.env(
            "TF_CLI_CONFIG_FILE",
            super::repo().join("tests/terraform/cli.tfrc"),
        )
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .env("NO_COLOR", "1");
        cmd
    }

    /// The value of a string `expression` (such as `local.config`) with `args` (variables),
    /// through `terraform console`.
    pub fn evaluate(&self, expression: &str, args: &[&str]) -> Result<String, String> {
        use std::io::Write;
        let mut child = self
            .command(&[&["console"], args].concat())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("run terraform console: {e}"))?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(format!("{expression}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let (stdout, stderr) = super::text(&out);
        if !out.status.success() {
            return Err(format!(
                "terraform console {expression} failed:\n{stdout}\n{stderr}"
            ));
        }
        // A multi-line string prints as a heredoc.
        let body = stdout
            .trim_end()
            .strip_prefix("<<EOT\n")
            .and_then(|s| s.strip_suffix("EOT"))
            .ok_or_else(|| format!("unexpected console output for {expression}:\n{stdout}"))?;
        Ok(body.to_owned())
    }

    /// `terraform output -json`, parsed.
    pub fn outputs(&self) -> Result<serde_json::Value, String> {
        let text = self.run(&["output", "-json", "-no-color"])?;
        serde_json::from_str(&text).map_err(|e| format!("terraform output -json: {e}"))
    }
}

/// Output `name`'s value.
pub fn output<'a>(outputs: &'a serde_json::Value, name: &str) -> Result<&'a serde_json::Value, String> {
    outputs
        .get(name)
        .and_then(|o| o.get("value"))
        .ok_or_else(|| format!("terraform output {name} is missing"))
}

/// Output `name` as a list of strings.
pub fn strings(outputs: &serde_json::Value, name: &str) -> Result<Vec<String>, String> {
    output(outputs, name)?
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| format!("terraform output {name} is not a list of strings"))
}

/// Output `name` as a string.
pub fn string(outputs: &serde_json::Value, name: &str) -> Result<String, String> {
    output(outputs, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("terraform output {name} is not a string"))
}
