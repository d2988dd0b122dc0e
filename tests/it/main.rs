//! wwctl's integration tests: one binary, a module per feature.

mod support;

mod emulator_boot;
mod emulator_contract;
mod emulator_daemon;
mod emulator_dns;
mod emulator_faults;
mod emulator_restart;
mod emulator_rules;
