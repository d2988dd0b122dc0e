//! MySQL or MariaDB, told apart by `SELECT VERSION()`.

use std::fmt;

use crate::database::sql::{Connection, SqlError, SqlRunner};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    MySql,
    MariaDb,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::MySql => "MySQL",
            Flavor::MariaDb => "MariaDB",
        }
    }

    /// The command-line client of this flavor.
    pub fn client_program(self) -> &'static str {
        match self {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        }
    }

    /// The dump tool of this flavor. MariaDB's `mysqldump` is a deprecated
    /// alias of `mariadb-dump`, and MySQL has only `mysqldump`.
    pub fn dump_program(self) -> &'static str {
        match self {
            Flavor::MySql => "mysqldump",
            Flavor::MariaDb => "mariadb-dump",
        }
    }
}

/// A server's flavor and version, from `SELECT VERSION()`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServerVersion {
    pub flavor: Flavor,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The full text, such as `10.11.19-MariaDB-0+deb12u1`.
    pub text: String,
}

impl ServerVersion {
    /// Parse `VERSION()` text: MariaDB's contains `MariaDB`, MySQL's does not.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let flavor = if text.contains("MariaDB") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        };

        let numbers = text.split(['-', '+']).next()?;
        let mut parts = numbers.split('.').map(|part| part.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);

        Some(ServerVersion {
            flavor,
            major,
            minor,
            patch,
            text: text.to_string(),
        })
    }

    /// MySQL 5.7 and later have `super_read_only`; MariaDB (through 11.x)
    /// does not.
    pub fn has_super_read_only(&self) -> bool {
        self.flavor == Flavor::MySql && (self.major, self.minor) >= (5, 7)
    }

    /// `connection` with this flavor's client and dump programs.
    pub fn connection(&self, connection: &Connection) -> Connection {
        Connection {
            client: self.flavor.client_program().to_string(),
            dump: self.flavor.dump_program().to_string(),
            options: connection.options.clone(),
        }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}.{}.{}",
            self.flavor.name(),
            self.major,
            self.minor,
            self.patch
        )
    }
}

/// Ask a server for its version.
pub async fn detect(sql: &dyn SqlRunner) -> Result<ServerVersion, SqlError> {
    let text = sql.scalar("SELECT VERSION()").await?.unwrap_or_default();
    ServerVersion::parse(&text).ok_or_else(|| SqlError::Output {
        host: sql.host().to_string(),
        statement: "SELECT VERSION()".to_string(),
        detail: format!("unrecognized version `{text}`"),
    })
}

#[cfg(test)]
mod tests {
    use super::{Flavor, ServerVersion};

    #[test]
    fn parse_mariadb_version() {
        let version = ServerVersion::parse("10.11.19-MariaDB-0+deb12u1").unwrap();
        assert_eq!(version.flavor, Flavor::MariaDb);
        assert_eq!((version.major, version.minor, version.patch), (10, 11, 19));
        assert!(!version.has_super_read_only());
        assert_eq!(version.flavor.dump_program(), "mariadb-dump");
    }

    #[test]
    fn parse_mysql_version() {
        let version = ServerVersion::parse("8.0.36-0ubuntu0.22.04.1").unwrap();
        assert_eq!(version.flavor, Flavor::MySql);
        assert_eq!((version.major, version.minor, version.patch), (8, 0, 36));
        assert!(version.has_super_read_only());
        assert_eq!(version.flavor.dump_program(), "mysqldump");
        assert_eq!(version.to_string(), "MySQL 8.0.36");
    }

    #[test]
    fn parse_rejects_garbage() {
        assert_eq!(ServerVersion::parse("not a version"), None);
    }
}
