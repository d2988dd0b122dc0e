//! The write freeze around a cutover: make the source read-only, wait for
//! in-flight write transactions to end, and record when the window opened
//! and closed.
//!
//! `read_only` stops writes from accounts without SUPER (MySQL) or READ
//! ONLY ADMIN (MariaDB 10.11). MySQL's `super_read_only` stops those too;
//! MariaDB 10.11 has no such variable, so there an administrator can still
//! write during the freeze.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::database::sql::{SqlError, SqlRunner};

/// Transactions that have changed rows or locked tables for writing.
const OPEN_WRITES_QUERY: &str = "SELECT COUNT(*) FROM information_schema.INNODB_TRX
WHERE trx_rows_modified > 0 OR trx_tables_locked > 0";

/// The shortest pause between two reads of `INNODB_TRX`. Both engines
/// serve that table from a cache they refresh only when it was last read
/// more than 0.1 s ago, so faster polls would read the same stale count forever.
const INNODB_TRX_REFRESH: Duration = Duration::from_millis(150);

/// The write freeze, from `freeze_writes` to `thaw_writes`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FreezeWindow {
    /// When `read_only` was set.
    pub started_at: Timestamp,
    /// When no write transaction was open any more.
    pub drained_at: Timestamp,
    /// When writes were allowed again; `None` while frozen.
    pub ended_at: Option<Timestamp>,
    /// `super_read_only` was set too (MySQL).
    pub super_read_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error("cannot change or read the write freeze on {host}")]
    Sql {
        host: String,
        #[source]
        source: SqlError,
    },
    #[error(
        "{open} write transaction(s) still open on {host} after {waited:?}; \
         writes were allowed again"
    )]
    Timeout {
        host: String,
        open: u64,
        waited: Duration,
    },
}

fn sql_error(sql: &dyn SqlRunner) -> impl FnOnce(SqlError) -> CutoverError + '_ {
    move |source| CutoverError::Sql {
        host: sql.host().to_string(),
        source,
    }
}

/// Check whether the server has `super_read_only` (MySQL 5.7 and later).
pub async fn has_super_read_only(sql: &dyn SqlRunner) -> Result<bool, SqlError> {
    let rows = sql
        .query("SHOW GLOBAL VARIABLES LIKE 'super_read_only'")
        .await?;
    Ok(!rows.is_empty())
}

/// Count the open transactions that changed rows or locked tables for
/// writing.
pub async fn open_write_transactions(sql: &dyn SqlRunner) -> Result<u64, SqlError> {
    let count = sql.scalar(OPEN_WRITES_QUERY).await?.unwrap_or_default();
    Ok(count.parse().unwrap_or(0))
}

/// Freeze writes and wait, polling every `poll`, until no write
/// transaction is open. When some are still open after `timeout`, writes
/// are allowed again and the error reports how many were open.
pub async fn freeze_writes(
    sql: &dyn SqlRunner,
    clock: &dyn Clock,
    timeout: Duration,
    poll: Duration,
) -> Result<FreezeWindow, CutoverError> {
    let super_read_only = has_super_read_only(sql).await.map_err(sql_error(sql))?;
    let statement = if super_read_only {
        "SET GLOBAL read_only = ON; SET GLOBAL super_read_only = ON"
    } else {
        "SET GLOBAL read_only = ON"
    };
    sql.execute(statement).await.map_err(sql_error(sql))?;
    let started_at = clock.now();
    tracing::info!("writes frozen on {} at {started_at}", sql.host());

    let poll = poll.max(INNODB_TRX_REFRESH);
    let deadline = clock.deadline(timeout);
    loop {
        let open = open_write_transactions(sql).await.map_err(sql_error(sql))?;
        if open == 0 {
            break;
        }
        if clock.now() >= deadline {
            let _ = set_writable(sql).await;
            tracing::warn!(
                "gave up waiting for {open} write transaction(s) on {}; writes allowed again",
                sql.host()
            );
            return Err(CutoverError::Timeout {
                host: sql.host().to_string(),
                open,
                waited: timeout,
            });
        }
        clock.sleep(poll).await;
    }

    let drained_at = clock.now();
    tracing::info!(
        "no write transaction open on {} at {drained_at}",
        sql.host()
    );
    Ok(FreezeWindow {
        started_at,
        drained_at,
        ended_at: None,
        super_read_only,
    })
}

/// Allow writes again and close the window.
pub async fn thaw_writes(
    sql: &dyn SqlRunner,
    clock: &dyn Clock,
    mut window: FreezeWindow,
) -> Result<FreezeWindow, CutoverError> {
    set_writable(sql).await.map_err(sql_error(sql))?;
    let ended_at = clock.now();
    tracing::info!("writes allowed again on {} at {ended_at}", sql.host());
    window.ended_at = Some(ended_at);
    Ok(window)
}

/// Turning `read_only` off also turns `super_read_only` off on MySQL.
async fn set_writable(sql: &dyn SqlRunner) -> Result<(), SqlError> {
    sql.execute("SET GLOBAL read_only = OFF").await
}
