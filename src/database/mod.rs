//! The database layer: SQL over the command-line client, generated test
//! data, preflight checks, dump and load streams, and verification that
//! both sides hold the same data.

pub mod command;
pub mod flavor;
pub mod generate;
pub mod quote;
pub mod scratch;
pub mod sql;
pub mod tsv;
