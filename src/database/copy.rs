//! Copying a database from source to target: one dump stream, or per-table
//! streams N at a time. Both end with the same content, so verification
//! compares them the same way.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::database::dump::{DumpScope, SyncMode, dump_argv, load_argv};
use crate::database::endpoint::Endpoint;
use crate::database::filter::FilterRules;
use crate::database::pipeline::{Command, Progress, StreamError, StreamStats, run_stream};
use crate::database::sql::SqlError;
use crate::database::verify;

/// How the data travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum CopyMethod {
    /// One `--single-transaction` dump of the whole database: a consistent
    /// snapshot of InnoDB tables even while the source takes writes.
    Single,
    /// The schema, then each table's rows in its own stream, `jobs` at a
    /// time, then routines, triggers, events and views. Each table is read
    /// in its own transaction, so the tables are consistent with each other
    /// only while writes to the source are frozen.
    Parallel { jobs: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("cannot list the tables of `{database}` on the source")]
    List {
        database: String,
        #[source]
        source: SqlError,
    },
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// Everything a copy needs besides the method.
pub struct CopyPlan<'a> {
    pub source: &'a Endpoint,
    pub target: &'a Endpoint,
    pub database: &'a str,
    pub mode: SyncMode,
    pub rules: FilterRules,
}

impl CopyPlan<'_> {
    fn dump(&self, scope: &DumpScope) -> Command {
        Command {
            runner: self.source.runner.clone(),
            argv: dump_argv(
                &self.source.connection,
                self.source.version.flavor,
                self.mode,
                self.database,
                scope,
            ),
        }
    }

    fn load(&self) -> Command {
        Command {
            runner: self.target.runner.clone(),
            argv: load_argv(&self.target.connection, self.database),
        }
    }

    async fn stream(
        &self,
        name: &str,
        scope: &DumpScope,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Result<StreamStats, StreamError> {
        run_stream(
            name,
            &self.dump(scope),
            &self.load(),
            self.rules.clone(),
            progress,
        )
        .await
    }
}

/// Copy with `method`; returns the statistics of every stream.
pub async fn copy(
    plan: &CopyPlan<'_>,
    method: CopyMethod,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Vec<StreamStats>, CopyError> {
    match method {
        CopyMethod::Single => Ok(vec![
            plan.stream("database", &DumpScope::Full, progress).await?,
        ]),
        CopyMethod::Parallel { jobs } => copy_parallel(plan, jobs.max(1), progress).await,
    }
}

async fn copy_parallel(
    plan: &CopyPlan<'_>,
    jobs: usize,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Vec<StreamStats>, CopyError> {
    let objects = verify::objects(&plan.source.client(), plan.database)
        .await
        .map_err(|source| CopyError::List {
            database: plan.database.to_string(),
            source,
        })?;
    let tables: Vec<String> = objects.tables.iter().cloned().collect();
    let views: Vec<String> = objects.views.iter().cloned().collect();
    let mut stats = Vec::new();

    if !tables.is_empty() {
        let schema = DumpScope::TableSchema(tables.clone());
        stats.push(plan.stream("schema", &schema, progress).await?);

        let names: Vec<String> = tables
            .iter()
            .map(|table| format!("table {table}"))
            .collect();
        let table_stats: Vec<StreamStats> = stream::iter(tables.iter().zip(&names))
            .map(|(table, name)| {
                let scope = DumpScope::TableData(vec![table.clone()]);
                async move { plan.stream(name, &scope, progress).await }
            })
            .buffer_unordered(jobs)
            .try_collect()
            .await?;
        stats.extend(table_stats);
    }

    stats.push(
        plan.stream("programs", &DumpScope::Programs, progress)
            .await?,
    );

    // Views come last: they may call the functions created just before.
    if !views.is_empty() {
        stats.push(
            plan.stream("views", &DumpScope::Views(views), progress)
                .await?,
        );
    }
    Ok(stats)
}
