//! The SQL of replication, per flavor. Pure functions: they take values and
//! return statement text, and tests compare it exactly.
//!
//! MySQL statements use the 8.0.22+ names (`START REPLICA`, `SHOW REPLICA
//! STATUS`, `RESET REPLICA ALL`) and 8.0.23+ `CHANGE REPLICATION SOURCE
//! TO`, because MySQL 8.4 removed the `SLAVE` and `MASTER` forms. MariaDB
//! 10.11 keeps `CHANGE MASTER TO` and `SHOW SLAVE STATUS`, whose column
//! names the `SHOW REPLICA STATUS` alias shares.
//!
//! NOTE: the MySQL text is checked by unit tests only. The integration
//! tests run MariaDB 10.11, the only server on the test machine.

use crate::database::account::Account;
use crate::database::flavor::Flavor;
use crate::database::quote;
use crate::secret::Secret;

/// The privilege of a replication account: read the binary log, nothing
/// else. Both flavors accept this name; MariaDB 10.5.1+ also calls it
/// `REPLICATION REPLICA`.
pub const REPLICATION_PRIVILEGE: &str = "REPLICATION SLAVE";

/// The address, account and connection settings the replica uses for its
/// source.
#[derive(Clone, Debug)]
pub struct SourceConnection<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a Secret,
    pub tls: bool,
    /// Seconds between connection attempts of the replica's IO thread.
    pub connect_retry_seconds: u32,
}

/// Create or update the replication account on the source: the password
/// set again on a rerun, TLS required or not, and only the replication
/// privilege. Binary logging is off for the session, so the account never
/// reaches a replica of the source.
pub fn create_account(account: &Account, password: &Secret, tls: bool) -> Secret {
    let name = account.sql();
    let password = quote::string(password.expose());
    let require = if tls { "SSL" } else { "NONE" };
    Secret::new(format!(
        "SET SESSION sql_log_bin = 0;\n\
         CREATE USER IF NOT EXISTS {name} IDENTIFIED BY {password} REQUIRE {require};\n\
         ALTER USER {name} IDENTIFIED BY {password} REQUIRE {require};\n\
         GRANT {REPLICATION_PRIVILEGE} ON *.* TO {name};\n"
    ))
}

/// Build the label of `create_account` for errors: the statement without
/// the password.
pub fn create_account_label(account: &Account) -> String {
    format!("CREATE USER IF NOT EXISTS {} ...", account.sql())
}

/// Drop the replication account on the source, without binary logging.
pub fn drop_account(account: &Account) -> String {
    format!(
        "SET SESSION sql_log_bin = 0;\nDROP USER IF EXISTS {};\n",
        account.sql()
    )
}

/// Create the database on the target without binary logging, so the
/// target's own GTID history stays empty until it is promoted.
pub fn create_database(database: &str, charset: &str, collation: &str) -> String {
    format!(
        "SET SESSION sql_log_bin = 0;\n\
         CREATE DATABASE IF NOT EXISTS {} CHARACTER SET {} COLLATE {};\n",
        quote::identifier(database),
        quote::string(charset),
        quote::string(collation)
    )
}

/// Drop a database this run created on the target, after a failed seed.
pub fn drop_database(database: &str) -> String {
    format!(
        "SET SESSION sql_log_bin = 0;\nDROP DATABASE IF EXISTS {};\n",
        quote::identifier(database)
    )
}

/// The option of the load client that keeps the seed out of the target's
/// binary log. MySQL's dump sets `SQL_LOG_BIN = 0` itself when it writes
/// `GTID_PURGED`; MariaDB's does not.
pub const LOAD_WITHOUT_BINARY_LOG: &str = "--init-command=SET SESSION sql_log_bin = 0";

/// Build the replication filter's pattern for every table of `database`. `%`
/// and `_` are wildcards in these patterns, so literal ones are escaped.
pub fn table_pattern(database: &str) -> String {
    let mut pattern = String::with_capacity(database.len() + 2);
    for c in database.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(".%");
    pattern
}

/// Point the target at its source and replicate only `database`: events
/// of other databases on the source (and of `mysql`, where accounts live)
/// are skipped, but their GTIDs still count as executed.
///
/// MariaDB starts from `gtid_slave_pos`, which the seed set; MySQL finds
/// the position itself from `gtid_executed`, which the seed's
/// `GTID_PURGED` set. Without TLS, MySQL's replica requests the source's
/// RSA key, which `caching_sha2_password` (MySQL 8's default) needs to
/// send a password over a plain connection.
pub fn configure(flavor: Flavor, database: &str, source: &SourceConnection<'_>) -> Secret {
    let pattern = quote::string(&table_pattern(database));
    let host = quote::string(source.host);
    let user = quote::string(source.user);
    let password = quote::string(source.password.expose());
    let port = source.port;
    let retry = source.connect_retry_seconds.max(1);
    let text = match flavor {
        Flavor::MariaDb => {
            let tls = if source.tls {
                ",\n  MASTER_SSL = 1"
            } else {
                ""
            };
            format!(
                "SET GLOBAL replicate_wild_do_table = {pattern};\n\
                 CHANGE MASTER TO\n  MASTER_HOST = {host},\n  MASTER_PORT = {port},\n  \
                 MASTER_USER = {user},\n  MASTER_PASSWORD = {password},\n  \
                 MASTER_CONNECT_RETRY = {retry},\n  MASTER_USE_GTID = slave_pos{tls};\n"
            )
        }
        Flavor::MySql => {
            let tls = if source.tls {
                "SOURCE_SSL = 1"
            } else {
                "GET_SOURCE_PUBLIC_KEY = 1"
            };
            format!(
                "CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = ({pattern});\n\
                 CHANGE REPLICATION SOURCE TO\n  SOURCE_HOST = {host},\n  SOURCE_PORT = {port},\n  \
                 SOURCE_USER = {user},\n  SOURCE_PASSWORD = {password},\n  \
                 SOURCE_CONNECT_RETRY = {retry},\n  SOURCE_AUTO_POSITION = 1,\n  {tls};\n"
            )
        }
    };
    Secret::new(text)
}

/// Build the label of `configure` for errors and logs: the source, no
/// password.
pub fn configure_label(flavor: Flavor, source: &SourceConnection<'_>) -> String {
    let statement = match flavor {
        Flavor::MariaDb => "CHANGE MASTER TO MASTER_HOST",
        Flavor::MySql => "CHANGE REPLICATION SOURCE TO SOURCE_HOST",
    };
    format!(
        "{statement} = {}, port {}, user {} ...",
        quote::string(source.host),
        source.port,
        quote::string(source.user)
    )
}

/// Make the target read-only for clients and start both replication
/// threads. Replication threads ignore `read_only`. On MariaDB 10.11 an
/// account with READ ONLY ADMIN (root has it) can still write; MySQL's
/// `super_read_only` stops SUPER accounts too.
pub fn start(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb => "SET GLOBAL read_only = ON;\nSTART SLAVE;\n",
        Flavor::MySql => "SET GLOBAL super_read_only = ON;\nSTART REPLICA;\n",
    }
}

/// Stop replication for good and make the target a writable primary: stop
/// both threads, clear the filter, forget the source (`RESET ... ALL` also
/// deletes the stored password), turn `read_only` off (on MySQL that turns
/// `super_read_only` off too), and return `@@GLOBAL.read_only` to prove it.
pub fn promote(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb => {
            "STOP SLAVE;\n\
             SET GLOBAL replicate_wild_do_table = '';\n\
             RESET SLAVE ALL;\n\
             SET GLOBAL read_only = OFF;\n\
             SELECT @@GLOBAL.read_only;\n"
        }
        Flavor::MySql => {
            "STOP REPLICA;\n\
             CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = ();\n\
             RESET REPLICA ALL;\n\
             SET GLOBAL read_only = OFF;\n\
             SELECT @@GLOBAL.read_only;\n"
        }
    }
}

/// Read the replica's executed position, then its status. The position
/// comes first because it is always exactly one row, while the status is
/// empty on a server that replicates from nowhere.
pub fn status(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb => {
            "SELECT @@GLOBAL.gtid_slave_pos AS executed_position;\nSHOW SLAVE STATUS;\n"
        }
        Flavor::MySql => {
            "SELECT @@GLOBAL.gtid_executed AS executed_position;\nSHOW REPLICA STATUS;\n"
        }
    }
}

/// Read the position a replica must reach to have every transaction the
/// source wrote to its binary log.
pub fn source_position(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb => "SELECT @@GLOBAL.gtid_binlog_pos",
        Flavor::MySql => "SELECT @@GLOBAL.gtid_executed",
    }
}

/// Read the position the seed left on the target, where replication
/// starts.
pub fn seeded_position(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb => "SELECT @@GLOBAL.gtid_slave_pos",
        Flavor::MySql => "SELECT @@GLOBAL.gtid_executed",
    }
}

#[cfg(test)]
mod tests {
    use super::{
        SourceConnection, configure, configure_label, create_account, promote, start, status,
        table_pattern,
    };
    use crate::database::account::Account;
    use crate::database::flavor::Flavor;
    use crate::secret::Secret;

    fn source(password: &Secret, tls: bool) -> SourceConnection<'_> {
        SourceConnection {
            host: "10.77.0.5",
            port: 3306,
            user: "wwctl_repl",
            password,
            tls,
            connect_retry_seconds: 10,
        }
    }

    #[test]
    fn account_gets_only_the_replication_privilege() {
        let sql = create_account(
            &Account::new("wwctl_repl", "10.77.0.6"),
            &Secret::new("pw"),
            false,
        );
        assert_eq!(
            sql.expose(),
            "SET SESSION sql_log_bin = 0;\n\
             CREATE USER IF NOT EXISTS 'wwctl_repl'@'10.77.0.6' IDENTIFIED BY 'pw' REQUIRE NONE;\n\
             ALTER USER 'wwctl_repl'@'10.77.0.6' IDENTIFIED BY 'pw' REQUIRE NONE;\n\
             GRANT REPLICATION SLAVE ON *.* TO 'wwctl_repl'@'10.77.0.6';\n"
        );
        assert_eq!(format!("{sql:?}"), "[redacted]");
    }

    #[test]
    fn mariadb_configure_uses_gtid_slave_pos() {
        let password = Secret::new("pw");
        let sql = configure(Flavor::MariaDb, "wwdtm", &source(&password, false));
        assert_eq!(
            sql.expose(),
            "SET GLOBAL replicate_wild_do_table = 'wwdtm.%';\n\
             CHANGE MASTER TO\n  MASTER_HOST = '10.77.0.5',\n  MASTER_PORT = 3306,\n  \
             MASTER_USER = 'wwctl_repl',\n  MASTER_PASSWORD = 'pw',\n  \
             MASTER_CONNECT_RETRY = 10,\n  MASTER_USE_GTID = slave_pos;\n"
        );
        let with_tls = configure(Flavor::MariaDb, "wwdtm", &source(&password, true));
        assert!(
            with_tls
                .expose()
                .ends_with("MASTER_USE_GTID = slave_pos,\n  MASTER_SSL = 1;\n")
        );
    }

    #[test]
    fn mysql_configure_uses_auto_position() {
        let password = Secret::new("pw");
        let sql = configure(Flavor::MySql, "wwdtm", &source(&password, false));
        assert_eq!(
            sql.expose(),
            "CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = ('wwdtm.%');\n\
             CHANGE REPLICATION SOURCE TO\n  SOURCE_HOST = '10.77.0.5',\n  SOURCE_PORT = 3306,\n  \
             SOURCE_USER = 'wwctl_repl',\n  SOURCE_PASSWORD = 'pw',\n  \
             SOURCE_CONNECT_RETRY = 10,\n  SOURCE_AUTO_POSITION = 1,\n  GET_SOURCE_PUBLIC_KEY = 1;\n"
        );
        let with_tls = configure(Flavor::MySql, "wwdtm", &source(&password, true));
        assert!(with_tls.expose().ends_with("SOURCE_SSL = 1;\n"));
    }

    #[test]
    fn configure_label_has_no_password() {
        let password = Secret::new("s3cr3t-password");
        let label = configure_label(Flavor::MySql, &source(&password, false));
        assert_eq!(
            label,
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '10.77.0.5', port 3306, user 'wwctl_repl' ..."
        );
    }

    #[test]
    fn table_pattern_escapes_wildcards() {
        assert_eq!(table_pattern("wwdtm"), "wwdtm.%");
        assert_eq!(table_pattern("ww_dtm%"), r"ww\_dtm\%.%");
    }

    #[test]
    fn mysql_statements_avoid_removed_names() {
        for text in [
            start(Flavor::MySql),
            promote(Flavor::MySql),
            status(Flavor::MySql),
        ] {
            assert!(!text.contains("SLAVE"), "{text}");
            assert!(!text.contains("MASTER"), "{text}");
        }
        assert_eq!(
            promote(Flavor::MySql),
            "STOP REPLICA;\n\
             CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = ();\n\
             RESET REPLICA ALL;\n\
             SET GLOBAL read_only = OFF;\n\
             SELECT @@GLOBAL.read_only;\n"
        );
    }

    #[test]
    fn mariadb_promote_clears_filter_and_source() {
        assert_eq!(
            promote(Flavor::MariaDb),
            "STOP SLAVE;\n\
             SET GLOBAL replicate_wild_do_table = '';\n\
             RESET SLAVE ALL;\n\
             SET GLOBAL read_only = OFF;\n\
             SELECT @@GLOBAL.read_only;\n"
        );
    }
}
