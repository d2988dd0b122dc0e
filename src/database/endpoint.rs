//! One side of a sync: a machine to run commands on, the connection to its
//! server, and the server's flavor and version.

use std::sync::Arc;

use crate::database::command::CommandRunner;
use crate::database::flavor::{self, ServerVersion};
use crate::database::sql::{Client, Connection, SqlError};

#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `source` or `target`, for messages.
    pub role: &'static str,
    pub runner: Arc<dyn CommandRunner>,
    /// The connection, with the client and dump programs of the flavor.
    pub connection: Connection,
    pub version: ServerVersion,
}

impl Endpoint {
    /// Ask the server for its version and pick the client and dump programs
    /// of its flavor (`mysql`/`mysqldump` or `mariadb`/`mariadb-dump`).
    pub async fn connect(
        role: &'static str,
        runner: Arc<dyn CommandRunner>,
        connection: Connection,
    ) -> Result<Endpoint, SqlError> {
        let probe = Client::new(runner.clone(), connection.clone());
        let version = flavor::detect(&probe).await?;
        Ok(Endpoint {
            role,
            connection: version.connection(&connection),
            runner,
            version,
        })
    }

    /// A SQL client for this server.
    pub fn client(&self) -> Client {
        Client::new(self.runner.clone(), self.connection.clone())
    }

    /// `source (MariaDB 10.11.19 on local)`, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({} on {})", self.role, self.version, self.runner.host())
    }
}
