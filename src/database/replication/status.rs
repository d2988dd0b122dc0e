//! The replica's state: its threads, lag, last errors and executed
//! position, from one client call.
//!
//! `SHOW SLAVE STATUS` and `SHOW REPLICA STATUS` have dozens of columns
//! whose order changes between versions, so they are read by name: this
//! client call keeps the column names that every other query drops.

use crate::database::endpoint::Endpoint;
use crate::database::flavor::Flavor;
use crate::database::replication::statements;
use crate::database::sql::{SqlError, statement_label};
use crate::database::tsv::{self, Row};

/// One replication thread's state as the server reports it: `Yes`, `No`,
/// `Connecting` or `Preparing`.
pub type ThreadState = String;

/// The columns of `SHOW SLAVE STATUS` or `SHOW REPLICA STATUS` that wwctl uses.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaStatus {
    /// The source the replica connects to; empty when none is set.
    pub source_host: String,
    pub io_thread: ThreadState,
    pub sql_thread: ThreadState,
    /// `Seconds_Behind_Master` / `Seconds_Behind_Source`; `None` (SQL NULL)
    /// while a thread is not running.
    pub seconds_behind: Option<u64>,
    /// The IO thread's last error, verbatim; empty when none.
    pub last_io_error: String,
    /// The SQL thread's last error, verbatim; empty when none.
    pub last_sql_error: String,
}

impl ReplicaStatus {
    pub fn running(&self) -> bool {
        self.io_thread == "Yes" && self.sql_thread == "Yes"
    }

    /// Check whether a thread has stopped, as opposed to still connecting.
    pub fn stopped(&self) -> bool {
        self.io_thread == "No" || self.sql_thread == "No"
    }

    /// Both last errors, for messages; empty when there are none.
    pub fn errors_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.last_sql_error.is_empty() {
            parts.push(format!("Last_SQL_Error: {}", self.last_sql_error));
        }
        if !self.last_io_error.is_empty() {
            parts.push(format!("Last_IO_Error: {}", self.last_io_error));
        }
        parts.join("; ")
    }
}

/// The replica's executed position and, when it replicates from a source,
/// its status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaState {
    /// `gtid_slave_pos` (MariaDB) or `gtid_executed` (MySQL).
    pub executed: String,
    pub status: Option<ReplicaStatus>,
}

/// Read the replica's state from `target`.
pub async fn read(target: &Endpoint) -> Result<ReplicaState, SqlError> {
    let flavor = target.version.flavor;
    let sql = statements::status(flavor);
    let rows = query_with_names(target, sql).await?;
    parse(flavor, &rows).map_err(|detail| SqlError::Output {
        host: target.runner.host().to_string(),
        statement: statement_label(sql),
        detail,
    })
}

/// Run `sql` through the client with column names kept: each result set
/// starts with a row of names. An empty result set prints nothing, not
/// even its names.
async fn query_with_names(target: &Endpoint, sql: &str) -> Result<Vec<Row>, SqlError> {
    let host = target.runner.host().to_string();
    let argv: Vec<String> = target
        .connection
        .query_argv()
        .into_iter()
        .filter(|option| option != "--skip-column-names")
        .collect();
    let output = target
        .runner
        .run(&argv, sql.as_bytes())
        .await
        .map_err(|source| SqlError::Command {
            host: host.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(SqlError::Failed {
            host,
            statement: statement_label(sql),
            status: output.status,
            stderr: output.stderr_text(),
        });
    }
    tsv::parse(&output.stdout).map_err(|error| SqlError::Output {
        host,
        statement: statement_label(sql),
        detail: error.to_string(),
    })
}

/// Parse the rows of `statements::status`: the position's name and value,
/// then, if replication is set up, the status's names and values.
pub fn parse(flavor: Flavor, rows: &[Row]) -> Result<ReplicaState, String> {
    let executed = match rows.get(1) {
        Some(row) => cell(row, 0).replace('\n', ""),
        None => {
            return Err(format!(
                "expected the executed position, got {} row(s)",
                rows.len()
            ));
        }
    };
    let status = match (rows.get(2), rows.get(3)) {
        (Some(names), Some(values)) => Some(parse_status(flavor, names, values)?),
        (None, None) => None,
        _ => return Err("the replica status has column names but no values".to_string()),
    };
    Ok(ReplicaState { executed, status })
}

fn parse_status(flavor: Flavor, names: &Row, values: &Row) -> Result<ReplicaStatus, String> {
    // MariaDB and MySQL before 8.0.22 name the columns after master and
    // slave, and MySQL 8.0.22 and later after source and replica.
    let (host, io, sql, behind) = match flavor {
        Flavor::MariaDb => (
            "Master_Host",
            "Slave_IO_Running",
            "Slave_SQL_Running",
            "Seconds_Behind_Master",
        ),
        Flavor::MySql => (
            "Source_Host",
            "Replica_IO_Running",
            "Replica_SQL_Running",
            "Seconds_Behind_Source",
        ),
    };
    let column = |name: &str| -> Result<Option<String>, String> {
        let index = names
            .iter()
            .position(|candidate| candidate.as_deref() == Some(name))
            .ok_or_else(|| format!("the replica status has no column `{name}`"))?;
        Ok(values.get(index).cloned().flatten())
    };
    let text = |name: &str| -> Result<String, String> { Ok(column(name)?.unwrap_or_default()) };

    let source_host = text(host)?;
    let io_thread = text(io)?;
    let sql_thread = text(sql)?;
    let seconds_behind = match column(behind)? {
        None => None,
        Some(value) if value == "NULL" => None,
        Some(value) => Some(
            value
                .parse()
                .map_err(|_| format!("`{behind}` is `{value}`, not a number"))?,
        ),
    };
    Ok(ReplicaStatus {
        source_host,
        io_thread,
        sql_thread,
        seconds_behind,
        last_io_error: text("Last_IO_Error")?,
        last_sql_error: text("Last_SQL_Error")?,
    })
}

fn cell(row: &Row, index: usize) -> String {
    row.get(index).cloned().flatten().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::database::flavor::Flavor;
    use crate::database::tsv::Row;

    fn row(cells: &[&str]) -> Row {
        cells.iter().map(|cell| Some(cell.to_string())).collect()
    }

    #[test]
    fn parse_position_without_replication() {
        let state = parse(
            Flavor::MariaDb,
            &[row(&["executed_position"]), row(&["0-1-4"])],
        )
        .unwrap();
        assert_eq!(state.executed, "0-1-4");
        assert_eq!(state.status, None);
    }

    #[test]
    fn parse_mariadb_status_by_name() {
        let names = row(&[
            "Slave_IO_State",
            "Master_Host",
            "Slave_IO_Running",
            "Slave_SQL_Running",
            "Last_IO_Error",
            "Last_SQL_Error",
            "Seconds_Behind_Master",
        ]);
        let mut values = row(&[
            "",
            "127.0.0.1",
            "Yes",
            "No",
            "",
            "Could not execute Write_rows_v1 event on table d.t; Duplicate entry '4'",
            "",
        ]);
        values[6] = None;
        let state = parse(
            Flavor::MariaDb,
            &[row(&["executed_position"]), row(&["0-1-7"]), names, values],
        )
        .unwrap();
        let status = state.status.unwrap();
        assert_eq!(status.source_host, "127.0.0.1");
        assert!(status.stopped());
        assert!(!status.running());
        assert_eq!(status.seconds_behind, None);
        assert_eq!(
            status.errors_text(),
            "Last_SQL_Error: Could not execute Write_rows_v1 event on table d.t; Duplicate entry '4'"
        );
    }

    #[test]
    fn parse_mysql_status_uses_replica_names() {
        let names = row(&[
            "Source_Host",
            "Replica_IO_Running",
            "Replica_SQL_Running",
            "Seconds_Behind_Source",
            "Last_IO_Error",
            "Last_SQL_Error",
        ]);
        let values = row(&["10.77.0.5", "Yes", "Yes", "0", "", ""]);
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let state = parse(
            Flavor::MySql,
            &[
                row(&["executed_position"]),
                row(&[&format!("{uuid}:1-5,\n{uuid}:7")]),
                names,
                values,
            ],
        )
        .unwrap();
        assert_eq!(state.executed, format!("{uuid}:1-5,{uuid}:7"));
        let status = state.status.unwrap();
        assert!(status.running());
        assert_eq!(status.seconds_behind, Some(0));
    }

    #[test]
    fn parse_reports_missing_columns() {
        let error = parse(
            Flavor::MySql,
            &[
                row(&["executed_position"]),
                row(&[""]),
                row(&["Slave_IO_Running"]),
                row(&["Yes"]),
            ],
        )
        .unwrap_err();
        assert_eq!(error, "the replica status has no column `Source_Host`");
    }
}
