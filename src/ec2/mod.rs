//! Everything that talks to AWS. Knows nothing about YAML: it is handed plain values.

pub mod identity;
