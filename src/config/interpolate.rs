//! Interpolation of instance identity and environment into config values, so one file serves
//! every instance of a fleet.
//!
//! - `{{ az }}`, `{{ region }}`, `{{ instance_id }}`, `{{ vpc_id }}`, `{{ private_ip }}`: this
//!   instance's identity (from IMDS, resolved once at start).
//! - `${NAME}` and `${NAME:-default}`: the environment at start.
//! - `$${` is a literal `${`. Anything else (a lone `$`, `{` or `{{ x` without `}}`) is literal,
//!   so regexps such as `^a$` need no escaping.

use std::collections::BTreeMap;

/// The identity variables a config may name inside `{{ }}`.
pub const IDENTITY_VARS: [&str; 5] = ["az", "region", "instance_id", "vpc_id", "private_ip"];

/// The values interpolation draws on.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// Identity values by name (`az`, `region`, ...); absent when identity is not known
    /// (e.g. `--check` off EC2), in which case naming one is an error that says so.
    pub identity: BTreeMap<String, String>,
    /// Why identity is unknown, to explain the error when a config needs it.
    pub identity_unavailable: Option<String>,
    /// The environment.
    pub env: BTreeMap<String, String>,
}

impl Vars {
    /// The process environment and no identity.
    pub fn from_env() -> Self {
        Vars {
            env: std::env::vars().collect(),
            ..Vars::default()
        }
    }
}

/// An interpolation failure: message and optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub message: String,
    pub hint: Option<String>,
}

/// True if `text` names any identity variable (so identity must be fetched before loading).
pub fn uses_identity(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find("}}")
            && is_identifier(after[..end].trim())
        {
            return true;
        }
        rest = after;
    }
    false
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands every `{{ var }}` and `${VAR}` in `text`.
pub fn expand(text: &str, vars: &Vars) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next_dollar = rest.find("${");
        let next_brace = rest.find("{{");
        let at = match (next_dollar, next_brace) {
            (None, None) => {
                out.push_str(rest);
                return Ok(out);
            }
            (Some(d), Some(b)) => d.min(b),
            (Some(d), None) => d,
            (None, Some(b)) => b,
        };
        // `$${` escapes a literal `${`.
        if next_dollar == Some(at) && at > 0 && rest.as_bytes()[at - 1] == b'$' {
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        if next_dollar == Some(at) {
            let Some(end) = after.find('}') else {
                return Err(InterpolationError {
                    message: format!("`${{` without a closing `}}` in {text:?}"),
                    hint: Some("write ${NAME}, or $${ for a literal ${".into()),
                });
            };
            out.push_str(&env_value(&after[..end], vars)?);
            rest = &after[end + 1..];
        } else {
            match after.find("}}") {
                Some(end) if is_identifier(after[..end].trim()) => {
                    out.push_str(&identity_value(after[..end].trim(), vars)?);
                    rest = &after[end + 2..];
                }
                _ => {
                    // Not a variable reference: keep the braces literally.
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
    }
}

fn env_value(spec: &str, vars: &Vars) -> Result<String, InterpolationError> {
    let (name, default) = match spec.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (spec, None),
    };
    if !is_identifier(name) {
        return Err(InterpolationError {
            message: format!("`${{{spec}}}` is not a valid environment variable reference"),
            hint: Some("write ${NAME} or ${NAME:-default}".into()),
        });
    }
    match (vars.env.get(name), default) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(d)) => Ok(d.to_owned()),
        (None, None) => Err(InterpolationError {
            message: format!("environment variable {name} is not set"),
            hint: Some(format!(
                "set {name} in the daemon's environment, or give a default: ${{{name}:-value}}"
            )),
        }),
    }
}

fn identity_value(name: &str, vars: &Vars) -> Result<String, InterpolationError> {
    if !IDENTITY_VARS.contains(&name) {
        let hint = match super::problem::did_you_mean(name, IDENTITY_VARS) {
            Some(s) => format!(
                "did you mean {{{{ {s} }}}}? (known: {})",
                IDENTITY_VARS.join(", ")
            ),
            None => format!(
                "known identity variables: {}; use ${{NAME}} for environment variables",
                IDENTITY_VARS.join(", ")
            ),
        };
        return Err(InterpolationError {
            message: format!("unknown variable {{{{ {name} }}}}"),
            hint: Some(hint),
        });
    }
    match vars.identity.get(name) {
        Some(v) => Ok(v.clone()),
        None => Err(InterpolationError {
            message: format!("{{{{ {name} }}}} needs this instance's identity, which is not available"),
            hint: Some(match &vars.identity_unavailable {
                Some(why) => why.to_string(),
                None => "run on an EC2 instance, or set AWS_EC2_METADATA_SERVICE_ENDPOINT".into(),
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.identity.insert("az".into(), "eu-west-1a".into());
        v.identity.insert("region".into(), "eu-west-1".into());
        v.identity
            .insert("instance_id".into(), "i-0123456789abcdef0".into());
        v.identity.insert("vpc_id".into(), "vpc-12345678".into());
        v.identity.insert("private_ip".into(), "10.0.1.10".into());
        v.env.insert("SERVICE_IP".into(), "192.168.1.1".into());
        v
    }

    #[test]
    fn expansions() {
        let v = vars();
        let table: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("{{ az }}", "eu-west-1a"),
            ("{{az}}", "eu-west-1a"),
            ("private-{{ az }}", "private-eu-west-1a"),
            ("{{ region }}/{{ vpc_id }}", "eu-west-1/vpc-12345678"),
            ("{{ instance_id }}", "i-0123456789abcdef0"),
            ("{{ private_ip }}", "10.0.1.10"),
            ("${SERVICE_IP}/32", "192.168.1.1/32"),
            ("${MISSING:-10.0.0.1}", "10.0.0.1"),
            ("${SERVICE_IP:-x}", "192.168.1.1"),
            ("$${LITERAL}", "${LITERAL}"),
            ("^private-.*$", "^private-.*$"),
            ("a{b}c", "a{b}c"),
            ("{{ not closed", "{{ not closed"),
            ("{{ two words }}", "{{ two words }}"),
            ("cost $5", "cost $5"),
        ];
        for (input, want) in table {
            assert_eq!(expand(input, &v).as_deref(), Ok(*want), "{input}");
        }
    }

    #[test]
    fn failures_say_what_to_do() {
        let v = vars();
        let e = expand("{{ zone }}", &v).unwrap_err();
        assert!(e.message.contains("unknown variable"));
        let e = expand("{{ regoin }}", &v).unwrap_err();
        assert!(e.hint.unwrap().contains("{{ region }}"));
        let e = expand("${NOPE}", &v).unwrap_err();
        assert!(e.message.contains("NOPE is not set"));
        assert!(expand("${unterminated", &v).is_err());
        assert!(expand("${bad name}", &v).is_err());
        let no_identity = Vars {
            identity_unavailable: Some("IMDS at http://x did not answer".into()),
            ..Vars::default()
        };
        let e = expand("{{ az }}", &no_identity).unwrap_err();
        assert!(e.hint.unwrap().contains("IMDS"));
    }

    #[test]
    fn detects_identity_use() {
        assert!(uses_identity("x-{{ az }}"));
        assert!(uses_identity("{{vpc_id}}"));
        assert!(!uses_identity("${AZ}"));
        assert!(!uses_identity("{{ two words }}"));
    }
}
