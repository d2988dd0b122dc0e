//! Running SQL through the mysql or mariadb command-line client.
//!
//! SQL always travels on the client's stdin, never in its argv, so no
//! statement (and no password inside one) shows up in a process list.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::database::command::{CommandError, CommandRunner, ExitStatus};
use crate::database::tsv::{self, Row};
use crate::secret::Secret;

pub type SqlFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SqlError>> + Send + 'a>>;

/// Statements are named in errors by their first line, cut to this length.
const STATEMENT_LABEL_CHARS: usize = 120;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("cannot run the SQL client on {host}")]
    Command {
        host: String,
        #[source]
        source: CommandError,
    },
    #[error("SQL `{statement}` failed on {host} ({status}): {stderr}")]
    Failed {
        host: String,
        statement: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error("cannot read the result of SQL `{statement}` on {host}: {detail}")]
    Output {
        host: String,
        statement: String,
        detail: String,
    },
}

/// Runs SQL on one server and returns the rows. Implemented by `Client`
/// for the command-line client over any `CommandRunner`.
pub trait SqlRunner: Send + Sync + fmt::Debug {
    /// Where the server is, for messages.
    fn host(&self) -> &str;

    /// Run one or more statements and return the rows of the last result.
    fn query<'a>(&'a self, sql: &'a str) -> SqlFuture<'a, Vec<Row>>;

    /// Run statements that contain a secret. Errors name the statements by
    /// `label`, and every secret in `redact` is scrubbed from the server's
    /// message.
    fn execute_secret<'a>(
        &'a self,
        sql: &'a Secret,
        label: &'a str,
        redact: &'a [&'a Secret],
    ) -> SqlFuture<'a, ()>;

    /// Run statements whose result is not needed.
    fn execute<'a>(&'a self, sql: &'a str) -> SqlFuture<'a, ()> {
        Box::pin(async move { self.query(sql).await.map(|_| ()) })
    }

    /// The single value of a one-row, one-column query; `None` for SQL NULL
    /// or no row.
    fn scalar<'a>(&'a self, sql: &'a str) -> SqlFuture<'a, Option<String>> {
        Box::pin(async move {
            let rows = self.query(sql).await?;
            Ok(rows
                .into_iter()
                .next()
                .and_then(|row| row.into_iter().next().flatten()))
        })
    }
}

/// How to reach a server with its command-line client: the program and
/// the connection options (socket, host, user). Never a password: servers
/// wwctl manages use socket authentication for root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// `mysql` (MySQL) or `mariadb` (MariaDB).
    pub client: String,
    /// `mysqldump` (MySQL) or `mariadb-dump` (MariaDB).
    pub dump: String,
    /// Options that select the server, such as `--socket=/run/mysqld/mysqld.sock`.
    pub options: Vec<String>,
}

impl Connection {
    /// The default local server through the stock `mysql` programs, which
    /// both MySQL and MariaDB install.
    pub fn default_local() -> Self {
        Self {
            client: "mysql".to_string(),
            dump: "mysqldump".to_string(),
            options: Vec::new(),
        }
    }

    /// A server reached over a Unix socket.
    pub fn socket(path: &str) -> Self {
        Self {
            options: vec![format!("--socket={path}")],
            ..Self::default_local()
        }
    }

    /// The client argv for queries: batch output without column names.
    /// `--raw` is left out on purpose: with it the client prints tabs and
    /// newlines inside values unescaped, and rows can no longer be split.
    pub fn query_argv(&self) -> Vec<String> {
        let mut argv = vec![
            self.client.clone(),
            "--batch".to_string(),
            "--skip-column-names".to_string(),
            "--default-character-set=utf8mb4".to_string(),
        ];
        argv.extend(self.options.iter().cloned());
        argv
    }
}

/// Runs SQL through the command-line client on a `CommandRunner`.
#[derive(Clone, Debug)]
pub struct Client {
    runner: Arc<dyn CommandRunner>,
    connection: Connection,
}

impl Client {
    pub fn new(runner: Arc<dyn CommandRunner>, connection: Connection) -> Self {
        Self { runner, connection }
    }

    pub fn runner(&self) -> &Arc<dyn CommandRunner> {
        &self.runner
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The same server through other client programs (after the flavor is
    /// known).
    pub fn with_connection(&self, connection: Connection) -> Self {
        Self {
            runner: self.runner.clone(),
            connection,
        }
    }

    async fn run(&self, sql: &[u8], label: &str, redact: &[&Secret]) -> Result<Vec<u8>, SqlError> {
        let argv = self.connection.query_argv();
        let output = self
            .runner
            .run(&argv, sql)
            .await
            .map_err(|source| SqlError::Command {
                host: self.runner.host().to_string(),
                source,
            })?;

        if !output.status.success() {
            let mut stderr = output.stderr_text();
            for secret in redact {
                if !secret.is_empty() {
                    stderr = stderr.replace(secret.expose(), Secret::REDACTED);
                }
            }
            return Err(SqlError::Failed {
                host: self.runner.host().to_string(),
                statement: label.to_string(),
                status: output.status,
                stderr,
            });
        }
        Ok(output.stdout)
    }
}

impl SqlRunner for Client {
    fn host(&self) -> &str {
        self.runner.host()
    }

    fn query<'a>(&'a self, sql: &'a str) -> SqlFuture<'a, Vec<Row>> {
        Box::pin(async move {
            let label = statement_label(sql);
            let stdout = self.run(sql.as_bytes(), &label, &[]).await?;
            tsv::parse(&stdout).map_err(|error| SqlError::Output {
                host: self.host().to_string(),
                statement: label,
                detail: error.to_string(),
            })
        })
    }

    fn execute_secret<'a>(
        &'a self,
        sql: &'a Secret,
        label: &'a str,
        redact: &'a [&'a Secret],
    ) -> SqlFuture<'a, ()> {
        Box::pin(async move {
            self.run(sql.expose().as_bytes(), label, redact)
                .await
                .map(|_| ())
        })
    }
}

/// The first non-empty line of `sql`, cut to a readable length.
pub fn statement_label(sql: &str) -> String {
    let line = sql
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.chars().count() <= STATEMENT_LABEL_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(STATEMENT_LABEL_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::{Connection, statement_label};

    #[test]
    fn statement_label_is_first_line() {
        assert_eq!(
            statement_label("\n  SELECT 1\n  FROM dual"),
            "SELECT 1".to_string()
        );
    }

    #[test]
    fn statement_label_cuts_long_lines() {
        let label = statement_label(&"x".repeat(500));
        assert_eq!(label.chars().count(), 121);
        assert!(label.ends_with('…'));
    }

    #[test]
    fn query_argv_is_batch_without_sql() {
        assert_eq!(
            Connection::socket("/run/mysqld/mysqld.sock").query_argv(),
            vec![
                "mysql",
                "--batch",
                "--skip-column-names",
                "--default-character-set=utf8mb4",
                "--socket=/run/mysqld/mysqld.sock",
            ]
        );
    }
}
