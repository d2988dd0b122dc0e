//! Shared helpers for the database tests: throwaway MariaDB servers and
//! small SQL conveniences.

use std::path::PathBuf;

use wwctl::database::scratch::{ScratchOptions, ScratchServer};
use wwctl::database::sql::{Client, SqlRunner};

/// A throwaway MariaDB server and the temporary folder it lives in. The
/// server stops before the folder is removed.
pub struct TestServer {
    pub server: ScratchServer,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&ScratchOptions::default())
    }

    /// Start a server with a TCP port, server id or binary log.
    pub fn start_with(options: &ScratchOptions) -> TestServer {
        // Short paths under /tmp keep the socket path below the 108-byte
        // limit of Unix sockets.
        let dir = tempfile::Builder::new()
            .prefix("wwdb")
            .tempdir_in("/tmp")
            .expect("create a temporary folder");
        let server =
            ScratchServer::start_with(dir.path(), options).expect("start a throwaway MariaDB");
        TestServer { server, _dir: dir }
    }

    pub fn client(&self) -> Client {
        self.server.client()
    }

    /// Create `name` with the project's charset and collation.
    pub async fn create_database(&self, name: &str) {
        self.client()
            .execute(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await
            .expect("create database");
    }

    /// Run SQL text in database `name`.
    pub async fn run_in(&self, name: &str, sql: &str) {
        self.client()
            .execute(&format!("USE `{name}`;\n{sql}"))
            .await
            .unwrap_or_else(|error| panic!("SQL failed: {error}"));
    }

    /// The single value of a query, as text.
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        self.client()
            .scalar(sql)
            .await
            .unwrap_or_else(|error| panic!("SQL failed: {error}"))
    }
}

/// Start two servers side by side, for source and target.
pub fn start_pair() -> (TestServer, TestServer) {
    let first = std::thread::spawn(TestServer::start);
    let second = TestServer::start();
    (first.join().expect("start the first server"), second)
}

/// The real schema of the production database, if the shared fixtures are
/// present. Prints why a test is skipped otherwise, and fails when
/// `WWCTL_REQUIRE_SHARED=1` says they must be there.
pub fn real_schema() -> Option<String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/wwdtm-schema-v4.7.sql");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(error) => {
            assert!(
                std::env::var("WWCTL_REQUIRE_SHARED").as_deref() != Ok("1"),
                "WWCTL_REQUIRE_SHARED=1 but `{}` cannot be read: {error}",
                path.display()
            );
            eprintln!(
                "SKIPPED: the real schema `{}` is not available ({error})",
                path.display()
            );
            None
        }
    }
}
