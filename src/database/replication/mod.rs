//! Replication mode: the target becomes a replica of the source, seeded
//! from a consistent dump that carries the source's GTID position, and is
//! promoted to a writable primary at cutover. Writes stop only while the
//! replica applies the last transactions, instead of for a whole copy.
//!
//! The steps, each public so a step engine can journal them:
//!
//! 1. `seed_and_start`: preconditions (see `preconditions`) and the usual
//!    preflight, a replication account on the source, the seed, then
//!    replication on the target.
//! 2. `wait_until_caught_up`: poll until both replication threads run and
//!    the replica has executed the source's current GTID position.
//! 3. `cutover`: freeze writes on the source, wait for the replica to
//!    reach the source's final position, promote it, verify checksums.
//!
//! Works on MariaDB (GTIDs with `MASTER_USE_GTID = slave_pos`) and MySQL
//! 8.0.26 and later (GTID auto-positioning); both servers must be of the
//! same flavor. Only the one database replicates: a table filter skips
//! events of every other database on the source.

pub mod catch_up;
pub mod gtid;
pub mod preconditions;
pub mod promote;
pub mod seed;
pub mod statements;
pub mod status;

use std::time::Duration;

use jiff::Timestamp;

use crate::database::account::Account;
use crate::database::cutover::CutoverError;
use crate::database::dump::SyncMode;
use crate::database::flavor::Flavor;
use crate::database::pipeline::{StreamError, StreamStats};
use crate::database::preflight::{Preflight, PreflightFailed, PreflightOptions};
use crate::database::replication::gtid::GtidError;
use crate::database::replication::status::ReplicaStatus;
use crate::database::sql::SqlError;
use crate::database::verify::VerifyError;

pub use catch_up::{CatchUpOptions, CaughtUp, wait_until_caught_up};
pub use promote::{CutoverOptions, CutoverReport, cutover};
pub use seed::seed_and_start;

/// The default user name of the replication account.
pub const DEFAULT_USER: &str = "wwctl_repl";

/// The source's network address, as the replica connects to it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceAddress {
    /// The source's IP address or name as the replica resolves it, such
    /// as its private address; never the runner's SSH host.
    pub host: String,
    pub port: u16,
}

/// Choices for seeding and starting a replica.
#[derive(Clone, Debug)]
pub struct ReplicationOptions {
    /// The database to seed and replicate.
    pub database: String,
    pub source_address: SourceAddress,
    /// The replica's address as seen from the source: the host part of the
    /// replication account, which accepts connections only from there.
    pub replica_host: String,
    /// The replication account's user name.
    pub user: String,
    /// Require TLS for the replication connection. The source must have a
    /// certificate (MySQL 8 creates one; MariaDB 10.11 needs `ssl_cert`
    /// and `ssl_key` configured).
    pub tls: bool,
    /// How long the replica's IO thread waits between connection attempts,
    /// in whole seconds (at least 1).
    pub connect_retry: Duration,
    /// Options of the preflight that runs with the replication checks
    /// (collations, definers, privileges, disk, GTID history). Its mode is
    /// always `SyncMode::ReplicationSeed`.
    pub preflight: PreflightOptions,
}

impl ReplicationOptions {
    pub fn new(database: &str, source_address: SourceAddress, replica_host: &str) -> Self {
        Self {
            database: database.to_string(),
            source_address,
            replica_host: replica_host.to_string(),
            user: DEFAULT_USER.to_string(),
            tls: false,
            connect_retry: Duration::from_secs(10),
            preflight: PreflightOptions::new(database, SyncMode::ReplicationSeed),
        }
    }

    /// Name the replication account on the source: the user at the
    /// replica's host.
    pub fn account(&self) -> Account {
        Account::new(&self.user, &self.replica_host)
    }
}

/// A running replica, as `seed_and_start` left it. It contains no password:
/// the replica stores it (in `master.info` on MariaDB, in
/// `mysql.slave_master_info` on MySQL) until promotion resets replication.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replica {
    pub database: String,
    pub flavor: Flavor,
    /// The replication account on the source.
    pub account: Account,
    pub source_address: SourceAddress,
    /// The GTID position the seed carried; replication starts after it.
    pub seed_position: String,
    pub preflight: Preflight,
    pub seed: StreamStats,
    pub started_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error(transparent)]
    Preconditions(#[from] PreflightFailed),
    #[error("cannot {step} on {host}")]
    Sql {
        step: &'static str,
        host: String,
        #[source]
        source: SqlError,
    },
    #[error("cannot create replication account {account} on {host}")]
    Account {
        account: Account,
        host: String,
        #[source]
        source: SqlError,
    },
    #[error(
        "seeding database `{database}` failed; {}",
        if *dropped { "the target database this run created was dropped, so a rerun starts clean" }
        else { "the target database is incomplete: drop it before a rerun" }
    )]
    Seed {
        database: String,
        dropped: bool,
        #[source]
        source: StreamError,
    },
    #[error(
        "the seed left no GTID position on {host}, although the source's binary log had \
         `{source_position}`; the dump must carry the position (`--gtid --master-data=1` on \
         MariaDB, `--set-gtid-purged=ON` on MySQL)"
    )]
    NoSeedPosition {
        host: String,
        source_position: String,
    },
    #[error("cannot compare GTID positions of {host}")]
    Position {
        host: String,
        #[source]
        source: GtidError,
    },
    #[error("{host} replicates from no source; run the seed step first")]
    NotReplicating { host: String },
    #[error(
        "replication on {host} stopped (IO thread: {}, SQL thread: {}): {}",
        status.io_thread, status.sql_thread, stopped_detail(status)
    )]
    Stopped { host: String, status: ReplicaStatus },
    #[error(
        "replica {host} did not catch up within {waited:?}: it executed `{executed}`, the source \
         is at `{source_position}` (IO thread: {}, SQL thread: {}, seconds behind: {}){}",
        status.io_thread, status.sql_thread, seconds_text(status.seconds_behind), errors_suffix(status)
    )]
    Timeout {
        host: String,
        waited: Duration,
        executed: String,
        source_position: String,
        status: ReplicaStatus,
    },
    #[error(transparent)]
    Freeze(#[from] CutoverError),
    #[error(
        "the replica did not reach the source's final position during the write freeze; {}",
        if *thawed { "writes are allowed again on the source and replication goes on" }
        else { "the source is still read-only: allowing writes again failed too" }
    )]
    FrozenCatchUp {
        thawed: bool,
        #[source]
        source: Box<ReplicationError>,
    },
    #[error(
        "promoting {host} failed after replication was stopped; the source is still read-only, \
         so no write is lost: check the target and rerun the promotion"
    )]
    Promote {
        host: String,
        #[source]
        source: SqlError,
    },
    #[error("{host} still has read_only = {value} after promotion")]
    StillReadOnly { host: String, value: String },
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

fn stopped_detail(status: &ReplicaStatus) -> String {
    let errors = status.errors_text();
    if errors.is_empty() {
        "no error recorded; someone stopped it: run `START SLAVE` (MariaDB) or `START REPLICA` \
         (MySQL) on the target"
            .to_string()
    } else {
        errors
    }
}

fn seconds_text(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| "unknown".to_string(), |seconds| seconds.to_string())
}

fn errors_suffix(status: &ReplicaStatus) -> String {
    let errors = status.errors_text();
    if errors.is_empty() {
        String::new()
    } else {
        format!("; {errors}")
    }
}
