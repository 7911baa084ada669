//! Route decisions: which EC2 route tables a config selects, and what to do with each
//! managed route in them. Pure: nothing here performs I/O. The EC2 layer observes into a
//! [`snapshot::Snapshot`] and applies the [`plan::Plan`] this module produces.

pub mod damping;
pub mod decide;
pub mod finder;
pub mod plan;
pub mod snapshot;
