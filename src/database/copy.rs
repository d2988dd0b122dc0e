//! Copying a database from source to target: one dump stream, or per-table
//! streams N at a time, the largest tables first, so the longest stream
//! never starts last. Both end with the same content, so verification
//! compares them the same way. A per-table copy sends each table's rows as
//! row text where the target allows it (see `rows`), and can take each
//! table's checksum on both sides as soon as its stream ends, while the
//! other tables still stream.

use std::collections::{BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::database::binlog::LoadBinlog;
use crate::database::columns::{self, Column};
use crate::database::compression::Codecs;
use crate::database::dump::{DumpScope, SyncMode, dump_argv, load_argv};
use crate::database::endpoint::Endpoint;
use crate::database::filter::FilterRules;
use crate::database::pipeline::{
    Command, Progress, StreamError, StreamStats, Transform, run_stream_with,
};
use crate::database::quote;
use crate::database::rows::{self, Layouts, RowFilter, RowLayout, RowLoad};
use crate::database::sql::{SqlError, SqlRunner};
use crate::database::verify::{self, TableChecksum, TableColumns, VerifyError};

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
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// The outcome of a copy: the statistics of every stream and, when asked
/// for, the checksums of every table on both sides, `(source, target)`.
#[derive(Clone, Debug, Default)]
pub struct Copied {
    pub streams: Vec<StreamStats>,
    pub checksums: Option<Vec<(TableChecksum, TableChecksum)>>,
}

/// Everything a copy needs besides the method.
pub struct CopyPlan<'a> {
    pub source: &'a Endpoint,
    pub target: &'a Endpoint,
    pub database: &'a str,
    pub mode: SyncMode,
    pub rules: FilterRules,
    pub codecs: Codecs,
    pub binlog: LoadBinlog,
    /// The format in which a per-table copy loads each table's rows.
    pub rows: RowLoad,
    /// Take each table's checksum on both sides when its stream ends
    /// (per-table copies only).
    pub checksum_tables: bool,
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
        let mut argv = load_argv(&self.target.connection, self.database);
        argv.extend(self.binlog.load_options());
        Command {
            runner: self.target.runner.clone(),
            argv,
        }
    }

    async fn stream(
        &self,
        name: &str,
        scope: &DumpScope,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Result<StreamStats, StreamError> {
        run_stream_with(
            name,
            &self.dump(scope),
            &self.load(),
            Transform::Sql(self.rules.clone()),
            self.codecs,
            progress,
        )
        .await
    }

    /// Stream one table's rows as row text into `LOAD DATA`.
    async fn row_stream(
        &self,
        name: &str,
        layout: &RowLayout,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Result<StreamStats, StreamError> {
        let select = Command {
            runner: self.source.runner.clone(),
            argv: rows::select_argv(&self.source.connection, self.database, layout),
        };
        let mut load_argv = rows::load_argv(&self.target.connection, self.database, layout);
        load_argv.extend(self.binlog.load_options());
        let load = Command {
            runner: self.target.runner.clone(),
            argv: load_argv,
        };
        let stats = run_stream_with(
            name,
            &select,
            &load,
            Transform::Rows(RowFilter::new(layout)),
            self.codecs,
            progress,
        )
        .await?;

        // Verification decides whether the rows arrived equal. The
        // warnings explain a difference it finds.
        for message in &stats.load_messages {
            tracing::warn!(
                table = layout.table.as_str(),
                "the load of the table's rows reported: {message}"
            );
        }
        Ok(stats)
    }

    /// Copy one table's rows: as row text when it has a layout, as the
    /// `INSERT` statements of a dump otherwise.
    async fn table_stream(
        &self,
        table: &str,
        name: &str,
        layouts: Option<&Layouts>,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Result<StreamStats, StreamError> {
        match layouts.and_then(|layouts| layouts.get(table)) {
            Some(Ok(layout)) => self.row_stream(name, layout, progress).await,
            other => {
                if let Some(Err(reason)) = other {
                    tracing::info!("table `{table}` loads as INSERT statements: {reason}");
                }
                let scope = DumpScope::TableData(vec![table.to_string()]);
                self.stream(name, &scope, progress).await
            }
        }
    }
}

/// Copy with `method`.
pub async fn copy(
    plan: &CopyPlan<'_>,
    method: CopyMethod,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Copied, CopyError> {
    match method {
        CopyMethod::Single => Ok(Copied {
            streams: vec![plan.stream("database", &DumpScope::Full, progress).await?],
            checksums: None,
        }),
        CopyMethod::Parallel { jobs } => copy_parallel(plan, jobs.max(1), progress).await,
    }
}

async fn copy_parallel(
    plan: &CopyPlan<'_>,
    jobs: usize,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Copied, CopyError> {
    let source_sql = plan.source.client();
    let list_error = |source| CopyError::List {
        database: plan.database.to_string(),
        source,
    };
    let objects = verify::objects(&source_sql, plan.database)
        .await
        .map_err(list_error)?;
    let tables = tables_largest_first(&source_sql, plan.database, &objects.tables)
        .await
        .map_err(list_error)?;
    let views: Vec<String> = objects.views.iter().cloned().collect();
    let mut copied = Copied::default();

    if !tables.is_empty() {
        let schema = DumpScope::TableSchema(tables.clone());
        copied
            .streams
            .push(plan.stream("schema", &schema, progress).await?);

        // One read of the source's columns serves the checksums and the
        // row layouts.
        let source_columns = columns::read(&source_sql, plan.database)
            .await
            .map_err(list_error)?;
        let layouts = match plan.rows {
            RowLoad::Rows => Some(rows::layout::layouts(source_columns.iter().cloned())),
            RowLoad::Statements => None,
        };
        let layouts = layouts.as_ref();
        let columns = if plan.checksum_tables {
            Some(read_columns(plan, source_columns).await?)
        } else {
            None
        };
        let columns = columns.as_ref();
        let names: Vec<String> = tables
            .iter()
            .map(|table| format!("table {table}"))
            .collect();
        let results: Vec<(StreamStats, Option<(TableChecksum, TableChecksum)>)> =
            stream::iter(tables.iter().zip(&names))
                .map(|(table, name)| async move {
                    let stats = plan.table_stream(table, name, layouts, progress).await?;
                    let checksums = match columns {
                        Some(columns) => Some(checksum_both(plan, columns, table).await?),
                        None => None,
                    };
                    Ok::<_, CopyError>((stats, checksums))
                })
                .buffer_unordered(jobs)
                .try_collect()
                .await?;
        let (streams, checksums): (Vec<_>, Vec<_>) = results.into_iter().unzip();
        copied.streams.extend(streams);
        copied.checksums = checksums.into_iter().collect();
    }

    copied.streams.push(
        plan.stream("programs", &DumpScope::Programs, progress)
            .await?,
    );

    // Views come last: they may call the functions created just before.
    if !views.is_empty() {
        copied.streams.push(
            plan.stream("views", &DumpScope::Views(views), progress)
                .await?,
        );
    }
    Ok(copied)
}

/// `tables` of `database`, the largest (data and indexes) first, ties by
/// name.
pub async fn tables_largest_first(
    sql: &dyn SqlRunner,
    database: &str,
    tables: &BTreeSet<String>,
) -> Result<Vec<String>, SqlError> {
    let rows = sql
        .query(&format!(
            "SELECT TABLE_NAME, IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0) \
FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            quote::string(database)
        ))
        .await?;
    let sizes: HashMap<String, u64> = rows
        .into_iter()
        .filter_map(|row| {
            let mut fields = row.into_iter().flatten();
            let table = fields.next()?;
            let size = fields.next()?.parse().ok()?;
            Some((table, size))
        })
        .collect();

    // A table the size query missed counts as empty.
    let mut sized: Vec<(u64, &String)> = tables
        .iter()
        .map(|table| (sizes.get(table).copied().unwrap_or(0), table))
        .collect();
    sized.sort_by(|left, right| right.0.cmp(&left.0).then_with(|| left.1.cmp(right.1)));
    Ok(sized.into_iter().map(|(_, table)| table.clone()).collect())
}

/// Pair the source's columns with the target's, read as its schema stream
/// made them.
async fn read_columns(
    plan: &CopyPlan<'_>,
    source: Vec<Column>,
) -> Result<(TableColumns, TableColumns), VerifyError> {
    let target_sql = plan.target.client();
    let target = TableColumns::read(&target_sql, plan.database)
        .await
        .map_err(|error| VerifyError::sql(plan.database, "target", error))?;
    Ok((TableColumns::new(source), target))
}

async fn checksum_both(
    plan: &CopyPlan<'_>,
    columns: &(TableColumns, TableColumns),
    table: &str,
) -> Result<(TableChecksum, TableChecksum), VerifyError> {
    let (source_sql, target_sql) = (plan.source.client(), plan.target.client());
    both_sides(
        plan,
        tokio::join!(
            verify::table_checksum(&source_sql, plan.database, &columns.0, table),
            verify::table_checksum(&target_sql, plan.database, &columns.1, table)
        ),
    )
}

/// Pair the reads of source and target, or name the side that failed.
fn both_sides<T>(
    plan: &CopyPlan<'_>,
    (source, target): (Result<T, SqlError>, Result<T, SqlError>),
) -> Result<(T, T), VerifyError> {
    let source = source.map_err(|error| VerifyError::sql(plan.database, "source", error))?;
    let target = target.map_err(|error| VerifyError::sql(plan.database, "target", error))?;
    Ok((source, target))
}
