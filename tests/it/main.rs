//! The integration test binary: one module per feature.

mod database;
mod database_cases;
mod database_generate;
mod database_sync;
mod database_users;
