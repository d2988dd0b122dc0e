//! Loading a dump file from the machine wwctl runs on, for dumps made
//! elsewhere. The file's text gets the same preflight as a live source
//! before anything reaches the target.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use crate::database::command::LocalRunner;
use crate::database::dump::load_argv;
use crate::database::endpoint::Endpoint;
use crate::database::pipeline::{Command, Progress, StreamStats, run_stream};
use crate::database::preflight::{self, Preflight, PreflightOptions, dump_text};
use crate::database::sync::{SyncError, create_database};

/// Preflight the dump at `path` against the target, then stream it
/// through the filter into the target's database. Returns the preflight
/// and the stream's statistics; nothing is loaded when preflight fails.
pub async fn load_dump_file(
    path: &Path,
    target: &Endpoint,
    options: &PreflightOptions,
    charset: &str,
    collation: &str,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<(Preflight, StreamStats), SyncError> {
    let origin = format!("dump file `{}`", path.display());
    let read_error = |source| SyncError::ReadDump {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let source_facts =
        dump_text::dump_facts_from_reader(&origin, BufReader::new(file)).map_err(read_error)?;

    let preflight = preflight::run_with_facts(source_facts, target, options)
        .await
        .map_err(SyncError::PreflightQuery)?
        .require_passed()?;

    let database = options.database.as_str();
    create_database(&target.client(), database, charset, collation)
        .await
        .map_err(|source| SyncError::CreateDatabase {
            database: database.to_string(),
            source,
        })?;

    let dump = Command {
        runner: Arc::new(LocalRunner),
        argv: vec![
            "cat".to_string(),
            "--".to_string(),
            path.display().to_string(),
        ],
    };
    let load = Command {
        runner: target.runner.clone(),
        argv: load_argv(&target.connection, database),
    };
    let stats = run_stream(&origin, &dump, &load, preflight.rules.clone(), progress)
        .await
        .map_err(|source| SyncError::Copy {
            database: database.to_string(),
            source: source.into(),
        })?;
    Ok((preflight, stats))
}
