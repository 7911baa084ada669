//! Everything that talks to AWS: identity from IMDS, the rate-limited EC2 client, observing
//! route tables into a snapshot, and applying planned route changes. Knows nothing about YAML.

pub mod apply;
pub mod client;
pub mod identity;
pub mod observe;
pub mod router;

pub(crate) use crate::error_chain;
