//! The cutover of replication mode: freeze writes on the source, let the
//! replica apply the last transactions, promote it, verify.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::database::cutover::{self, FreezeWindow};
use crate::database::endpoint::Endpoint;
use crate::database::replication::catch_up::{self, CatchUpOptions};
use crate::database::replication::{Replica, ReplicationError, statements};
use crate::database::sql::SqlRunner;
use crate::database::verify::{self, Verified};

/// Timeouts of the cutover. The freeze lasts about as long as the
/// replica's remaining lag plus a few client calls, so keep `poll` short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutoverOptions {
    /// How long to wait for open write transactions on the source to end.
    pub drain_timeout: Duration,
    /// How long the replica may take to reach the source's final position.
    pub catch_up_timeout: Duration,
    pub poll: Duration,
}

impl Default for CutoverOptions {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(30),
            catch_up_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(20),
        }
    }
}

/// A finished cutover. The source stays read-only: the caller moves the
/// apps to the new primary and retires the source.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CutoverReport {
    /// The write freeze: from `read_only` on the source (`started_at`) to
    /// the promoted replica accepting writes (`ended_at`).
    pub freeze: FreezeWindow,
    /// The source's GTID position once writes had drained.
    pub final_position: String,
    pub caught_up_at: Timestamp,
    pub verified: Verified,
}

impl CutoverReport {
    /// Return how long writes were frozen.
    pub fn freeze_duration(&self) -> Duration {
        let ended = self.freeze.ended_at.unwrap_or(self.freeze.started_at);
        ended.duration_since(self.freeze.started_at).unsigned_abs()
    }
}

/// Freeze writes on the source, wait until the replica has executed the
/// source's final GTID position, stop and reset replication, make the
/// replica writable, then compare both databases' checksums.
///
/// Up to the promotion, a failure allows writes on the source again and
/// leaves replication running, so the cutover can be retried. After
/// replication has stopped the source stays read-only, so no write can
/// land on a server that no longer replicates. Verification runs after
/// the freeze has ended and proves equality while nothing writes to the
/// new primary yet (the apps still point at the frozen source).
pub async fn cutover(
    source: &Endpoint,
    target: &Endpoint,
    replica: &Replica,
    options: &CutoverOptions,
    clock: &dyn Clock,
) -> Result<CutoverReport, ReplicationError> {
    // A broken replica fails here, before writes stop.
    catch_up::running_status(target).await?;

    let source_sql = source.client();
    let mut freeze =
        cutover::freeze_writes(&source_sql, clock, options.drain_timeout, options.poll).await?;

    let caught_up = match catch_up_frozen(source, target, options, clock).await {
        Ok(caught_up) => caught_up,
        Err(error) => {
            let thawed = cutover::thaw_writes(&source_sql, clock, freeze)
                .await
                .is_ok();
            return Err(ReplicationError::FrozenCatchUp {
                thawed,
                source: Box::new(error),
            });
        }
    };

    promote(target).await?;
    let promoted_at = clock.now();
    freeze.ended_at = Some(promoted_at);
    tracing::info!(
        "{} promoted at {promoted_at}; writes were frozen for {:?}",
        target.describe(),
        promoted_at.duration_since(freeze.started_at).unsigned_abs()
    );

    let verified = verify::verify(&source_sql, &target.client(), &replica.database).await?;
    Ok(CutoverReport {
        freeze,
        final_position: caught_up.source_position,
        caught_up_at: caught_up.at,
        verified,
    })
}

async fn catch_up_frozen(
    source: &Endpoint,
    target: &Endpoint,
    options: &CutoverOptions,
    clock: &dyn Clock,
) -> Result<catch_up::CaughtUp, ReplicationError> {
    let final_position = catch_up::read_source_position(source).await?;
    let wait = CatchUpOptions {
        timeout: options.catch_up_timeout,
        poll: options.poll,
    };
    catch_up::wait_for(source, target, Some(&final_position), &wait, clock).await
}

/// Stop replication for good and make the target writable.
async fn promote(target: &Endpoint) -> Result<(), ReplicationError> {
    let read_only = target
        .client()
        .scalar(statements::promote(target.version.flavor))
        .await
        .map_err(|error| ReplicationError::Promote {
            host: target.describe(),
            source: error,
        })?
        .unwrap_or_default();
    if read_only != "0" {
        return Err(ReplicationError::StillReadOnly {
            host: target.describe(),
            value: read_only,
        });
    }
    Ok(())
}
