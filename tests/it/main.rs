//! The integration tests: one binary, one module per feature.

mod render_cli;
mod render_files;
mod render_lint;
mod render_mysql;
mod render_nginx;
mod render_proxy;
mod render_snapshots;
mod render_support;
