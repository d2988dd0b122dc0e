//! The argument vectors of the dump on the source and the load on the
//! target. Pure functions: they take values and return argv, and tests
//! compare them exactly.

use crate::database::flavor::Flavor;
use crate::database::sql::Connection;

/// Whether the target becomes an independent copy or a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// An independent copy: the dump carries no GTID state, because
    /// setting `GTID_PURGED` on a target with its own history fails (MySQL
    /// error 3546) and would be wrong for a copy anyway.
    DumpLoad,
    /// The seed of a replica: the dump keeps the source's GTID position,
    /// and the target must be clean (no GTID history of its own).
    ReplicationSeed,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            SyncMode::DumpLoad => "dump/load",
            SyncMode::ReplicationSeed => "replication seed",
        }
    }
}

/// What part of the database a dump contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DumpScope {
    /// Everything: tables, rows, views, routines, triggers, events.
    Full,
    /// The `CREATE TABLE` statements of these tables, no rows.
    TableSchema(Vec<String>),
    /// The rows of these tables, no DDL.
    TableData(Vec<String>),
    /// Routines, triggers and events, no tables or rows.
    Programs,
    /// The definitions of these views.
    Views(Vec<String>),
}

/// The client reads statements up to 1 GiB, the protocol's maximum, so
/// only the server's `max_allowed_packet` limits a row (preflight checks it).
pub(crate) const CLIENT_MAX_PACKET: &str = "--max-allowed-packet=1073741824";

/// The dump command on the source.
///
/// Always: one consistent InnoDB snapshot (`--single-transaction`), binary
/// values as hex (`--hex-blob`), `TIMESTAMP` values in UTC (`--tz-utc`), no
/// tablespace statements (they need the PROCESS privilege and mean nothing
/// to another server), utf8mb4. A full dump adds routines, triggers and
/// events, which the tool's defaults leave out (only triggers are on).
pub fn dump_argv(
    connection: &Connection,
    flavor: Flavor,
    mode: SyncMode,
    database: &str,
    scope: &DumpScope,
) -> Vec<String> {
    let mut argv = vec![connection.dump.clone()];
    argv.extend(connection.options.iter().cloned());
    argv.extend(
        [
            "--default-character-set=utf8mb4",
            "--single-transaction",
            "--hex-blob",
            "--tz-utc",
            "--no-tablespaces",
            CLIENT_MAX_PACKET,
        ]
        .map(String::from),
    );
    argv.extend(gtid_options(flavor, mode));

    let (scope_options, objects): (&[&str], &[String]) = match scope {
        DumpScope::Full => (&["--routines", "--triggers", "--events"], &[]),
        DumpScope::TableSchema(tables) => (&["--no-data", "--skip-triggers"], tables),
        DumpScope::TableData(tables) => (&["--no-create-info", "--skip-triggers"], tables),
        DumpScope::Programs => (
            &[
                "--no-create-info",
                "--no-data",
                "--routines",
                "--triggers",
                "--events",
            ],
            &[],
        ),
        DumpScope::Views(views) => (&["--no-data", "--skip-triggers"], views),
    };
    argv.extend(scope_options.iter().map(|option| option.to_string()));

    // `--` ends the options, so a database or table name that starts with
    // `-` is never read as one.
    argv.push("--".to_string());
    argv.push(database.to_string());
    argv.extend(objects.iter().cloned());
    argv
}

/// GTID options: MySQL's mysqldump writes `SET @@GLOBAL.GTID_PURGED` by
/// default on a GTID source, so dump/load mode turns it off.
///
/// A replication seed must set the source's position on the target, at the
/// dump's snapshot. MySQL: `--set-gtid-purged=ON` writes `GTID_PURGED` as
/// a statement, and `--source-data=2` (8.0.26+) takes the brief global
/// read lock that makes it match the snapshot, writing the file and
/// position only as a comment. MariaDB 10.11: `--gtid --master-data=1`
/// writes `SET GLOBAL gtid_slave_pos` as a statement at the end of the
/// dump; with `--master-data=2` that line is a comment too, and the seed
/// would carry no position.
fn gtid_options(flavor: Flavor, mode: SyncMode) -> Vec<String> {
    let options: &[&str] = match (flavor, mode) {
        (Flavor::MySql, SyncMode::DumpLoad) => &["--set-gtid-purged=OFF"],
        (Flavor::MySql, SyncMode::ReplicationSeed) => &["--set-gtid-purged=ON", "--source-data=2"],
        (Flavor::MariaDb, SyncMode::DumpLoad) => &[],
        (Flavor::MariaDb, SyncMode::ReplicationSeed) => &["--gtid", "--master-data=1"],
    };
    options.iter().map(|option| option.to_string()).collect()
}

/// The load command on the target: the client reading the dump on stdin
/// into `database`, stopping at the first error.
pub fn load_argv(connection: &Connection, database: &str) -> Vec<String> {
    let mut argv = client_argv(connection);
    argv.push(format!("--database={database}"));
    argv
}

/// Start a client command line: the client with its connection options,
/// utf8mb4 and the largest packet. Every row and statement stream uses it.
pub(crate) fn client_argv(connection: &Connection) -> Vec<String> {
    let mut argv = vec![connection.client.clone()];
    argv.extend(connection.options.iter().cloned());
    argv.extend(["--default-character-set=utf8mb4", CLIENT_MAX_PACKET].map(String::from));
    argv
}

#[cfg(test)]
mod tests {
    use super::{DumpScope, SyncMode, dump_argv, load_argv};
    use crate::database::flavor::Flavor;
    use crate::database::sql::Connection;

    fn mysql() -> Connection {
        Connection {
            client: "mysql".to_string(),
            dump: "mysqldump".to_string(),
            options: vec!["--socket=/run/mysqld/mysqld.sock".to_string()],
        }
    }

    fn mariadb() -> Connection {
        Connection {
            client: "mariadb".to_string(),
            dump: "mariadb-dump".to_string(),
            options: vec!["--socket=/run/mysqld/mysqld.sock".to_string()],
        }
    }

    #[test]
    fn full_mysql_dump_turns_gtid_purged_off() {
        let argv = dump_argv(
            &mysql(),
            Flavor::MySql,
            SyncMode::DumpLoad,
            "wwdtm",
            &DumpScope::Full,
        );
        assert_eq!(
            argv,
            [
                "mysqldump",
                "--socket=/run/mysqld/mysqld.sock",
                "--default-character-set=utf8mb4",
                "--single-transaction",
                "--hex-blob",
                "--tz-utc",
                "--no-tablespaces",
                "--max-allowed-packet=1073741824",
                "--set-gtid-purged=OFF",
                "--routines",
                "--triggers",
                "--events",
                "--",
                "wwdtm",
            ]
        );
    }

    #[test]
    fn full_mariadb_dump_has_no_gtid_flag() {
        let argv = dump_argv(
            &mariadb(),
            Flavor::MariaDb,
            SyncMode::DumpLoad,
            "wwdtm",
            &DumpScope::Full,
        );
        assert_eq!(
            argv,
            [
                "mariadb-dump",
                "--socket=/run/mysqld/mysqld.sock",
                "--default-character-set=utf8mb4",
                "--single-transaction",
                "--hex-blob",
                "--tz-utc",
                "--no-tablespaces",
                "--max-allowed-packet=1073741824",
                "--routines",
                "--triggers",
                "--events",
                "--",
                "wwdtm",
            ]
        );
    }

    #[test]
    fn replication_seed_keeps_gtid_position() {
        let mysql_argv = dump_argv(
            &mysql(),
            Flavor::MySql,
            SyncMode::ReplicationSeed,
            "wwdtm",
            &DumpScope::Full,
        );
        assert!(mysql_argv.contains(&"--set-gtid-purged=ON".to_string()));
        assert!(mysql_argv.contains(&"--source-data=2".to_string()));
        let mariadb_argv = dump_argv(
            &mariadb(),
            Flavor::MariaDb,
            SyncMode::ReplicationSeed,
            "wwdtm",
            &DumpScope::Full,
        );
        assert!(mariadb_argv.contains(&"--gtid".to_string()));
        assert!(mariadb_argv.contains(&"--master-data=1".to_string()));
    }

    #[test]
    fn table_data_dump_lists_tables_without_ddl() {
        let argv = dump_argv(
            &mariadb(),
            Flavor::MariaDb,
            SyncMode::DumpLoad,
            "wwdtm",
            &DumpScope::TableData(vec!["ww_shows".to_string()]),
        );
        assert_eq!(
            argv[argv.len() - 5..],
            [
                "--no-create-info",
                "--skip-triggers",
                "--",
                "wwdtm",
                "ww_shows"
            ]
        );
    }

    #[test]
    fn programs_dump_has_routines_triggers_events_only() {
        let argv = dump_argv(
            &mariadb(),
            Flavor::MariaDb,
            SyncMode::DumpLoad,
            "wwdtm",
            &DumpScope::Programs,
        );
        assert_eq!(
            argv[argv.len() - 7..],
            [
                "--no-create-info",
                "--no-data",
                "--routines",
                "--triggers",
                "--events",
                "--",
                "wwdtm"
            ]
        );
    }

    #[test]
    fn load_reads_stdin_into_database() {
        assert_eq!(
            load_argv(&mariadb(), "wwdtm"),
            [
                "mariadb",
                "--socket=/run/mysqld/mysqld.sock",
                "--default-character-set=utf8mb4",
                "--max-allowed-packet=1073741824",
                "--database=wwdtm",
            ]
        );
    }
}
