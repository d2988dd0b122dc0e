//! The integration tests: one binary, a module per feature.

mod support;

mod cli_flags;
mod cloud;
mod cloud_on_emulator;
mod database;
mod database_cases;
mod database_generate;
mod database_replication;
mod database_sync;
mod database_users;
mod e2e;
mod emulator_boot;
mod emulator_contract;
mod emulator_daemon;
mod emulator_dns;
mod emulator_faults;
mod emulator_restart;
mod emulator_rules;
mod engine_resume;
mod inventory_check;
mod inventory_fuzz;
mod lab;
mod plan_offline;
mod remote_exec;
mod render_cli;
mod render_files;
mod render_lint;
mod render_mysql;
mod render_nginx;
mod render_proxy;
mod render_snapshots;
mod render_support;
mod rollback_guard;
mod teardown_select;
mod token_redaction;
