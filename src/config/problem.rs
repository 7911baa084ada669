//! Config problems: what is wrong, where (file, line, YAML path) and what to do about it.
//!
//! Validation collects these instead of returning at the first one, so an operator sees
//! every mistake in one run.

use std::fmt;

use super::yaml::Mark;

/// One thing wrong with (or worth warning about in) a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub mark: Mark,
    /// The YAML path of the offending key, e.g. `routetables.b.manage_routes[1].healthcheck`.
    pub path: String,
    pub message: String,
    /// What to do next, when we can tell.
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.mark.line > 0 {
            write!(f, ":{}:{}", self.mark.line, self.mark.column)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": {}: {}", self.path, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a config file. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} error{} in configuration:",
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// The best "did you mean" candidate for a misspelt name, if one is close enough.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), c))
        // Close enough: a third of the word, and never more than three edits.
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["if_unhealthy", "instance", "never_delete", "healthcheck"];
        assert_eq!(did_you_mean("if_unhealty", keys), Some("if_unhealthy"));
        assert_eq!(did_you_mean("healtcheck", keys), Some("healthcheck"));
        assert_eq!(did_you_mean("Instance", keys), Some("instance"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("nevr_delte", keys), Some("never_delete"));
    }

    #[test]
    fn display_has_file_line_path_and_hint() {
        let p = Problem {
            file: "/etc/awsnycast.yaml".into(),
            mark: Mark { line: 12, column: 9 },
            path: "routetables.b.manage_routes[1].healthcheck".into(),
            message: "no health check named \"publc\"".into(),
            hint: Some("did you mean \"public\"?".into()),
        };
        assert_eq!(
            p.to_string(),
            "/etc/awsnycast.yaml:12:9: routetables.b.manage_routes[1].healthcheck: no health check named \"publc\"\n    hint: did you mean \"public\"?"
        );
    }
}
