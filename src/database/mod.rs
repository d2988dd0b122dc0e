//! The database layer: SQL over the command-line client, generated test
//! data, preflight checks, dump and load streams, and verification that
//! both sides hold the same data.

pub mod account;
pub mod binlog;
pub mod columns;
pub mod command;
pub mod compression;
pub mod copy;
pub mod cutover;
pub mod dump;
pub mod endpoint;
pub mod filter;
pub mod flavor;
pub mod generate;
pub mod load;
pub mod pipeline;
pub mod preflight;
pub mod quote;
pub mod replication;
pub mod rows;
pub mod scratch;
pub mod sql;
pub mod sync;
pub mod tsv;
pub mod users;
pub mod verify;
