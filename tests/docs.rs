//! The README stays true to the code where a test can tell: the IAM policy names every EC2
//! action the daemon calls (the Terraform test checks that the example uses this policy).

mod support;

use std::path::Path;

/// EC2 action names passed to the client's `call*("Action", ...)` in `src/`.
fn actions_called(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            actions_called(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            for piece in text.split(".call").skip(1) {
                let rest = piece.trim_start_matches(|c: char| c == '_' || c.is_ascii_lowercase());
                if let Some(name) = rest.strip_prefix("(\"").and_then(|r| r.split('"').next()) {
                    out.push(name.to_owned());
                }
            }
        }
    }
}

#[test]
fn the_readme_iam_policy_allows_every_ec2_action_the_daemon_calls() {
    let mut called = Vec::new();
    actions_called(&support::repo().join("src"), &mut called);
    called.sort();
    called.dedup();
    assert!(
        called.len() >= 7,
        "found too few EC2 calls to be believable: {called:?}"
    );
    let readme = std::fs::read_to_string(support::repo().join("README.md")).expect("README");
    let policy = readme
        .split("## IAM policy")
        .nth(1)
        .and_then(|s| s.split("```json").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("README's IAM policy block");
    for action in &called {
        assert!(
            policy.contains(&format!("\"ec2:{action}\"")),
            "README's IAM policy lacks ec2:{action}, which the daemon calls"
        );
    }
}
