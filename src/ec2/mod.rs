//! Everything that talks to AWS: identity from IMDS, the rate-limited EC2 client, observing
//! route tables into a snapshot, and applying planned route changes. Knows nothing about YAML.

pub mod apply;
pub mod client;
pub mod identity;
pub mod observe;
pub mod router;

/// An error and its causes on one line: the SDK's top-level messages alone are too vague.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
