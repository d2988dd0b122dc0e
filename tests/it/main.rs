//! The integration tests: one binary, a module per feature.

mod support;

mod cloud;
mod engine_resume;
mod inventory_check;
mod inventory_fuzz;
mod plan_offline;
mod remote_exec;
