//! Row streams: a table's rows as tab-separated text from one `SELECT` on
//! the source, loaded on the target with `LOAD DATA LOCAL INFILE`. The
//! server parses that text about twice as fast as the `INSERT` statements
//! of a dump. Table definitions, routines, triggers, events and views
//! still travel as dump statements.

pub mod filter;
pub mod layout;

pub use filter::{RowError, RowFilter};
pub use layout::{Layouts, RowLayout};

use crate::database::dump::client_argv;
use crate::database::sql::{Connection, SqlRunner};

/// The format in which table rows reach the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowLoad {
    /// `LOAD DATA LOCAL INFILE`, for each table whose columns all have a
    /// row encoding; the other tables load as statements.
    Rows,
    /// The `INSERT` statements of a dump, for every table: the target's
    /// `local_infile` is off (MySQL 8's default), or the probe failed.
    #[default]
    Statements,
}

impl RowLoad {
    /// Rows when the target accepts `LOAD DATA LOCAL INFILE`.
    pub async fn decide(target: &dyn SqlRunner) -> RowLoad {
        match target.scalar("SELECT @@GLOBAL.local_infile").await {
            Ok(Some(value)) if value == "1" => RowLoad::Rows,
            Ok(_) => {
                tracing::info!(
                    host = target.host(),
                    "local_infile is off on the target, so rows load as INSERT statements, \
which is slower; `SET GLOBAL local_infile = ON` there allows the faster row load"
                );
                RowLoad::Statements
            }
            Err(error) => {
                tracing::debug!(
                    host = target.host(),
                    error = %error,
                    "local_infile probe failed, so rows load as INSERT statements"
                );
                RowLoad::Statements
            }
        }
    }
}

/// Build the source's command: the client printing the table's rows in batch
/// format, one row a line, without buffering the result.
pub fn select_argv(connection: &Connection, database: &str, layout: &RowLayout) -> Vec<String> {
    let mut argv = client_argv(connection);
    argv.extend(["--batch", "--skip-column-names", "--quick"].map(String::from));
    argv.push(format!("--execute={}", layout.select_sql(database)));
    argv
}

/// Build the target's command: the client loading its standard input into the
/// table and printing the load's warnings.
pub fn load_argv(connection: &Connection, database: &str, layout: &RowLayout) -> Vec<String> {
    let mut argv = client_argv(connection);
    argv.extend(["--local-infile=1", "--batch", "--skip-column-names"].map(String::from));
    argv.push(format!("--database={database}"));
    argv.push(format!("--execute={}", layout.load_sql()));
    argv
}
