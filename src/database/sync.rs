//! A whole sync: preflight, create the target database, copy, smoke-test
//! every view, verify. Each stage is also public on its own, for a step
//! engine that journals them separately.

use std::time::{Duration, Instant};

use crate::database::binlog::LoadBinlog;
use crate::database::compression::{self, Codec, Codecs, Compression, Direction, FAST_LINK};
use crate::database::copy::{CopyError, CopyMethod, CopyPlan, copy};
use crate::database::endpoint::Endpoint;
use crate::database::pipeline::{Progress, StreamStats};
use crate::database::preflight::{self, Preflight, PreflightFailed, PreflightOptions};
use crate::database::quote;
use crate::database::rows::RowLoad;
use crate::database::sql::{SqlError, SqlRunner};
use crate::database::verify::{self, Verified, VerifyError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot read dump file `{}`", path.display())]
    ReadDump {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run the preflight checks")]
    PreflightQuery(#[source] SqlError),
    #[error(transparent)]
    Preflight(#[from] PreflightFailed),
    #[error("cannot create database `{database}` on the target")]
    CreateDatabase {
        database: String,
        #[source]
        source: SqlError,
    },
    #[error(
        "copying database `{database}` failed; the target is incomplete, and a rerun replaces it"
    )]
    Copy {
        database: String,
        #[source]
        source: CopyError,
    },
    #[error("{}", views_text(failures))]
    Views { failures: Vec<ViewFailure> },
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// A view that failed its smoke query on the target.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ViewFailure {
    pub view: String,
    pub error: String,
}

fn views_text(failures: &[ViewFailure]) -> String {
    let mut text = format!(
        "{} view(s) fail on the target after loading",
        failures.len()
    );
    for failure in failures {
        text.push_str(&format!("\n- view `{}`: {}", failure.view, failure.error));
    }
    text
}

/// Options of a sync: the preflight options plus the copy method.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub preflight: PreflightOptions,
    pub method: CopyMethod,
    /// When the streams travel zstd-compressed.
    pub compression: Compression,
    /// Character set and collation of the target database when it must be
    /// created.
    pub charset: String,
    pub collation: String,
}

/// Report of a finished sync: its preflight, streams, view checks and
/// verification, how the streams travelled, and the time of each phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SyncReport {
    pub preflight: Preflight,
    pub codecs: Codecs,
    pub hop_speeds: HopSpeeds,
    pub binlog: LoadBinlog,
    pub rows: RowLoad,
    pub streams: Vec<StreamStats>,
    pub views_checked: usize,
    pub verified: Verified,
    pub timings: SyncTimings,
}

/// Wall time of each phase of a sync. With a per-table copy, most
/// checksums are taken during `copy`; `verify` is what remains after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncTimings {
    #[serde(serialize_with = "seconds")]
    pub preflight: Duration,
    #[serde(serialize_with = "seconds")]
    pub copy: Duration,
    #[serde(serialize_with = "seconds")]
    pub verify: Duration,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// Run the whole sync. Nothing reaches the target unless preflight passed.
/// Verification compares each table of the source as it is when that
/// table's copy ends, so it proves equality only while writes to the
/// source are frozen (see `cutover`).
pub async fn sync(
    source: &Endpoint,
    target: &Endpoint,
    options: &SyncOptions,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let database = options.preflight.database.as_str();
    let mut timings = SyncTimings::default();
    let started = Instant::now();
    let target_sql = target.client();
    let (preflight, codecs, binlog, rows) = tokio::join!(
        preflight::run(source, target, &options.preflight),
        codecs(source, target, options.compression),
        LoadBinlog::decide(&target_sql, options.preflight.mode),
        RowLoad::decide(&target_sql)
    );
    let (codecs, hop_speeds) = codecs;
    let preflight = preflight
        .map_err(SyncError::PreflightQuery)?
        .require_passed()?;
    timings.preflight = started.elapsed();

    let started = Instant::now();
    create_database(
        &target.client(),
        database,
        &options.charset,
        &options.collation,
    )
    .await
    .map_err(|source| SyncError::CreateDatabase {
        database: database.to_string(),
        source,
    })?;

    let plan = CopyPlan {
        source,
        target,
        database,
        mode: options.preflight.mode,
        rules: preflight.rules.clone(),
        codecs,
        binlog,
        rows,
        checksum_tables: true,
    };
    let copied = copy(&plan, options.method, progress)
        .await
        .map_err(|error| match error {
            CopyError::Verify(error) => SyncError::Verify(error),
            source => SyncError::Copy {
                database: database.to_string(),
                source,
            },
        })?;
    timings.copy = started.elapsed();

    let started = Instant::now();
    let views_checked = smoke_test_views(&target.client(), database).await?;
    let (source_sql, target_sql) = (source.client(), target.client());
    let verified = match copied.checksums {
        Some(checksums) => {
            verify::verify_with(&source_sql, &target_sql, database, checksums).await?
        }
        None => verify::verify(&source_sql, &target_sql, database).await?,
    };
    timings.verify = started.elapsed();

    Ok(SyncReport {
        preflight,
        codecs,
        hop_speeds,
        binlog,
        rows,
        streams: copied.streams,
        views_checked,
        verified,
        timings,
    })
}

/// The measured speed of each hop in MB/s, when `Compression::Auto` timed
/// it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct HopSpeeds {
    pub dump: Option<f64>,
    pub load: Option<f64>,
}

/// Pick the codec of each hop: zstd where the server has it, unless
/// compression is off or, under `Auto`, the hop is fast enough to carry
/// plain text sooner.
async fn codecs(
    source: &Endpoint,
    target: &Endpoint,
    compression: Compression,
) -> (Codecs, HopSpeeds) {
    if compression == Compression::Never {
        return (Codecs::PLAIN, HopSpeeds::default());
    }
    let ((dump, dump_speed), (load, load_speed)) = tokio::join!(
        hop_codec(source, Direction::FromServer, compression),
        hop_codec(target, Direction::ToServer, compression)
    );
    let megabytes = |speed: Option<f64>| speed.map(|bytes| (bytes / 1e5).round() / 10.0);
    let speeds = HopSpeeds {
        dump: megabytes(dump_speed),
        load: megabytes(load_speed),
    };
    (Codecs { dump, load }, speeds)
}

async fn hop_codec(
    endpoint: &Endpoint,
    direction: Direction,
    compression: Compression,
) -> (Codec, Option<f64>) {
    let runner = endpoint.runner.as_ref();
    let speed = match compression {
        Compression::Auto => compression::hop_speed(runner, direction).await,
        Compression::Always | Compression::Never => None,
    };
    if let Some(bytes) = speed.filter(|bytes| *bytes >= FAST_LINK) {
        tracing::info!(
            host = runner.host(),
            "the link to the {} carries {:.0} MB/s (uncompressed from {:.0} MB/s up), so its stream travels uncompressed: zstd would cost the servers CPU and save no time",
            endpoint.role,
            bytes / 1e6,
            FAST_LINK / 1e6
        );
        return (Codec::Plain, speed);
    }

    let codec = compression::available(runner).await;
    if codec == Codec::Plain {
        tracing::warn!(
            host = runner.host(),
            "zstd or bash not found on the {}, so its stream travels uncompressed; install zstd there to compress it",
            endpoint.role
        );
    }
    (codec, speed)
}

/// Create `database` on the target if it does not exist.
pub async fn create_database(
    sql: &dyn SqlRunner,
    database: &str,
    charset: &str,
    collation: &str,
) -> Result<(), SqlError> {
    sql.execute(&format!(
        "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET {} COLLATE {}",
        quote::identifier(database),
        quote::string(charset),
        quote::string(collation)
    ))
    .await
}

/// Run `SELECT * FROM view LIMIT 0` on every view of `database`: it fails
/// when a view's definer, tables or functions are missing. Returns the
/// number of views checked.
pub async fn smoke_test_views(sql: &dyn SqlRunner, database: &str) -> Result<usize, SyncError> {
    let views = verify::objects(sql, database)
        .await
        .map_err(|error| VerifyError::sql(database, "target", error))?
        .views;

    let mut failures = Vec::new();
    for view in &views {
        let query = format!(
            "SELECT * FROM {}.{} LIMIT 0",
            quote::identifier(database),
            quote::identifier(view)
        );
        if let Err(error) = sql.query(&query).await {
            let detail = match &error {
                SqlError::Failed { stderr, .. } => stderr.clone(),
                other => other.to_string(),
            };
            failures.push(ViewFailure {
                view: view.clone(),
                error: detail,
            });
        }
    }

    if failures.is_empty() {
        Ok(views.len())
    } else {
        Err(SyncError::Views { failures })
    }
}
