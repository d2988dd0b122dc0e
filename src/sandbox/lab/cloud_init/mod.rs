//! The subset of cloud-init that wwctl uses, applied at a host's boot, and
//! the `cloud-init` stand-in inside hosts.

pub mod apply;
pub mod command;
pub mod config;
pub mod status;
