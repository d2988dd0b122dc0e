//! Lab hosts on this machine (root only): SSH with strict host keys,
//! isolation between hosts, the systemctl and cloud-init stand-ins, the
//! stand-in apps, power actions and teardown.

mod apps;
mod cloud_init;
mod harness;
mod isolation;
mod power;
mod ssh;
mod systemctl;
mod teardown;
