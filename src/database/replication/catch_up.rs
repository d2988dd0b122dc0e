//! Waiting for a replica to catch up with its source.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::database::endpoint::Endpoint;
use crate::database::replication::status::{self, ReplicaStatus};
use crate::database::replication::{ReplicationError, gtid, statements};
use crate::database::sql::SqlRunner;

/// How long to wait for a replica and how often to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchUpOptions {
    pub timeout: Duration,
    /// The pause between two looks; each look is one client call on the
    /// replica (and one on the source while it takes writes).
    pub poll: Duration,
}

impl Default for CatchUpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            poll: Duration::from_millis(500),
        }
    }
}

/// A replica that had executed everything up to `source_position`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CaughtUp {
    /// The source's position the replica reached.
    pub source_position: String,
    /// What the replica had executed then; it contains `source_position`.
    pub executed: String,
    pub status: ReplicaStatus,
    pub at: Timestamp,
}

/// Wait until both replication threads run and the replica has executed
/// the source's current GTID position. While the source takes writes, its
/// position is read again before every look, so the result says the
/// replica reached a position the source had at that moment.
///
/// Fails at once with the replica's `Last_SQL_Error` and `Last_IO_Error`
/// when a thread has stopped, and after `options.timeout` with the last
/// positions, lag and errors.
pub async fn wait_until_caught_up(
    source: &Endpoint,
    target: &Endpoint,
    options: &CatchUpOptions,
    clock: &dyn Clock,
) -> Result<CaughtUp, ReplicationError> {
    wait_for(source, target, None, options, clock).await
}

/// Wait as `wait_until_caught_up` does; with `fixed_position`, wait for
/// that position instead of reading the source's (the source is frozen).
pub(crate) async fn wait_for(
    source: &Endpoint,
    target: &Endpoint,
    fixed_position: Option<&str>,
    options: &CatchUpOptions,
    clock: &dyn Clock,
) -> Result<CaughtUp, ReplicationError> {
    let flavor = target.version.flavor;
    let deadline = clock.deadline(options.timeout);
    loop {
        let source_position = match fixed_position {
            Some(position) => position.to_string(),
            None => read_source_position(source).await?,
        };
        let (executed, status) = running_status(target).await?;

        let reached = gtid::covers(flavor, &executed, &source_position).map_err(|error| {
            ReplicationError::Position {
                host: target.describe(),
                source: error,
            }
        })?;
        if status.running() && reached {
            tracing::info!(
                "replica {} caught up with GTID position `{source_position}`",
                target.describe()
            );
            return Ok(CaughtUp {
                source_position,
                executed,
                status,
                at: clock.now(),
            });
        }

        if clock.now() >= deadline {
            return Err(ReplicationError::Timeout {
                host: target.describe(),
                waited: options.timeout,
                executed,
                source_position,
                status,
            });
        }
        tracing::debug!(
            "replica {} at `{}`, source at `{source_position}`, seconds behind: {:?}",
            target.describe(),
            executed,
            status.seconds_behind
        );
        clock.sleep(options.poll).await;
    }
}

/// Read the replica's executed position and status; fails when it
/// replicates from nowhere or a replication thread has stopped.
pub async fn running_status(
    target: &Endpoint,
) -> Result<(String, ReplicaStatus), ReplicationError> {
    let state = status::read(target)
        .await
        .map_err(|error| ReplicationError::Sql {
            step: "read the replica status",
            host: target.describe(),
            source: error,
        })?;
    let Some(status) = state.status else {
        return Err(ReplicationError::NotReplicating {
            host: target.describe(),
        });
    };
    if status.stopped() {
        return Err(ReplicationError::Stopped {
            host: target.describe(),
            status,
        });
    }
    Ok((state.executed, status))
}

/// The source's current GTID position: every transaction in its binary
/// log.
pub async fn read_source_position(source: &Endpoint) -> Result<String, ReplicationError> {
    let position = source
        .client()
        .scalar(statements::source_position(source.version.flavor))
        .await
        .map_err(|error| ReplicationError::Sql {
            step: "read the binary log position",
            host: source.describe(),
            source: error,
        })?
        .unwrap_or_default();
    Ok(position.replace('\n', ""))
}
