//! App users with generated passwords, and the write freeze, on a real
//! MariaDB server.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use wwctl::clock::SystemClock;
use wwctl::database::command::LocalRunner;
use wwctl::database::cutover::{
    freeze_writes, has_super_read_only, open_write_transactions, thaw_writes,
};
use wwctl::database::sql::{Client, Connection, SqlRunner};
use wwctl::database::users::{AppUserError, create_app_users};
use wwctl::inventory::model::DatabaseUser;
use wwctl::secret::Secret;

use crate::database::TestServer;

fn app_user(name: &str) -> DatabaseUser {
    DatabaseUser {
        name: name.to_string(),
        privileges: vec!["SELECT".to_string()],
    }
}

/// Run `sql` as `user` with `password`, the password passed in an option
/// file so it stays out of argv.
fn run_as(server: &TestServer, user: &str, password: &Secret, sql: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let options = dir.path().join("client.cnf");
    std::fs::write(
        &options,
        format!("[client]\nuser={user}\npassword={}\n", password.expose()),
    )
    .unwrap();
    std::fs::set_permissions(&options, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut child = std::process::Command::new("mariadb")
        .arg(format!("--defaults-extra-file={}", options.display()))
        .arg(format!("--socket={}", server.server.socket().display()))
        .args(["--batch", "--skip-column-names"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn app_users_get_passwords_and_grants() {
    let server = TestServer::start();
    server.create_database("wwdtm").await;
    server
        .run_in(
            "wwdtm",
            "CREATE TABLE ww_shows (showid int PRIMARY KEY); INSERT INTO ww_shows VALUES (1);",
        )
        .await;
    let users = [app_user("wwdtm_stats"), app_user("wwdtm_api")];
    let hosts = ["localhost".to_string()];

    let created = create_app_users(&server.client(), "wwdtm", &users, &hosts, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    assert_ne!(created[0].password, created[1].password);
    assert!(created[0].password.expose().len() >= 32);
    let debug = format!("{created:?}");
    assert!(!debug.contains(created[0].password.expose()), "{debug}");

    let grants = server
        .client()
        .query("SHOW GRANTS FOR 'wwdtm_stats'@'localhost'")
        .await
        .unwrap();
    assert!(
        grants.iter().any(|row| row[0].as_deref()
            == Some("GRANT SELECT ON `wwdtm`.* TO `wwdtm_stats`@`localhost`")),
        "{grants:?}"
    );

    let output = run_as(
        &server,
        "wwdtm_stats",
        &created[0].password,
        "SELECT COUNT(*) FROM wwdtm.ww_shows",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "1");
    let denied = run_as(
        &server,
        "wwdtm_stats",
        &created[0].password,
        "DELETE FROM wwdtm.ww_shows",
    );
    assert!(!denied.status.success());

    // A rerun with the known password keeps it working.
    let known: BTreeMap<String, Secret> = created
        .iter()
        .map(|user| (user.name.clone(), user.password.clone()))
        .collect();
    let again = create_app_users(&server.client(), "wwdtm", &users, &hosts, &known)
        .await
        .unwrap();
    assert_eq!(again[0].password, created[0].password);
    let output = run_as(&server, "wwdtm_stats", &created[0].password, "SELECT 1");
    assert!(output.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_user_statement_redacts_password() {
    // A stand-in client that echoes the SQL it gets on stdin to stderr and
    // fails, as a server error quoting the statement would.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("echo-client");
    std::fs::write(&script, "#!/bin/sh\ncat >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let connection = Connection {
        client: script.display().to_string(),
        dump: "mariadb-dump".to_string(),
        options: Vec::new(),
    };
    let client = Client::new(Arc::new(LocalRunner), connection);
    let password = Secret::new("s3cretPassw0rdThatMustNotLeak1234567890");
    let known = BTreeMap::from([("wwdtm_stats".to_string(), password.clone())]);

    let error = create_app_users(
        &client,
        "wwdtm",
        &[app_user("wwdtm_stats")],
        &["localhost".to_string()],
        &known,
    )
    .await
    .unwrap_err();
    let AppUserError::Sql { source, .. } = &error else {
        panic!("expected a SQL error, got {error}");
    };
    let text = format!("{error} {source} {error:?}");
    assert!(!text.contains(password.expose()), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert!(
        text.contains("CREATE USER IF NOT EXISTS 'wwdtm_stats'@'localhost'"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freeze_waits_for_open_writes() {
    let server = TestServer::start();
    server.create_database("wwdtm").await;
    server
        .run_in(
            "wwdtm",
            "CREATE TABLE ww_shows (showid int PRIMARY KEY) ENGINE=InnoDB;",
        )
        .await;
    let created = create_app_users(
        &server.client(),
        "wwdtm",
        &[DatabaseUser {
            name: "writer".to_string(),
            privileges: vec!["SELECT".to_string(), "INSERT".to_string()],
        }],
        &["localhost".to_string()],
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    assert!(!has_super_read_only(&server.client()).await.unwrap());

    // A write transaction that stays open for about eight seconds, long
    // enough for the polls below to see it on a loaded machine.
    let writer = server.client();
    let mut open_write = tokio::spawn(async move {
        writer
            .execute("BEGIN; INSERT INTO wwdtm.ww_shows VALUES (1); SELECT SLEEP(8); COMMIT;")
            .await
    });
    wait_until_write_opens(&server, &mut open_write).await;

    let clock = SystemClock;
    let window = freeze_writes(
        &server.client(),
        &clock,
        Duration::from_secs(30),
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    open_write.await.unwrap().unwrap();
    assert!(window.drained_at > window.started_at);
    assert_eq!(open_write_transactions(&server.client()).await.unwrap(), 0);
    assert_eq!(
        server.scalar("SELECT @@GLOBAL.read_only").await.as_deref(),
        Some("1")
    );

    let denied = run_as(
        &server,
        "writer",
        &created[0].password,
        "INSERT INTO wwdtm.ww_shows VALUES (2)",
    );
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("read-only"));

    let closed = thaw_writes(&server.client(), &clock, window).await.unwrap();
    assert!(
        closed
            .ended_at
            .is_some_and(|ended| ended >= closed.drained_at)
    );
    assert_eq!(
        server.scalar("SELECT @@GLOBAL.read_only").await.as_deref(),
        Some("0")
    );
    let allowed = run_as(
        &server,
        "writer",
        &created[0].password,
        "INSERT INTO wwdtm.ww_shows VALUES (2)",
    );
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freeze_gives_up_and_thaws_on_timeout() {
    let server = TestServer::start();
    server.create_database("wwdtm").await;
    server
        .run_in(
            "wwdtm",
            "CREATE TABLE ww_shows (showid int PRIMARY KEY) ENGINE=InnoDB;",
        )
        .await;
    let writer = server.client();
    let mut open_write = tokio::spawn(async move {
        writer
            .execute("BEGIN; INSERT INTO wwdtm.ww_shows VALUES (1); SELECT SLEEP(8); COMMIT;")
            .await
    });
    // The transaction stays open for eight seconds, long enough for the
    // polls below to see it on a loaded machine.
    wait_until_write_opens(&server, &mut open_write).await;

    let error = freeze_writes(
        &server.client(),
        &SystemClock,
        Duration::from_millis(300),
        Duration::from_millis(100),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("1 write transaction(s) still open"),
        "{error}"
    );
    assert_eq!(
        server.scalar("SELECT @@GLOBAL.read_only").await.as_deref(),
        Some("0")
    );
    open_write.await.unwrap().unwrap();
}

/// Poll until the server shows `open_write`'s transaction open. A write
/// that ended first fails the test with its result, so a failed statement
/// is not mistaken for a slow one.
async fn wait_until_write_opens<T: std::fmt::Debug>(
    server: &TestServer,
    open_write: &mut tokio::task::JoinHandle<T>,
) {
    let started = std::time::Instant::now();
    while open_write_transactions(&server.client()).await.unwrap() == 0 {
        if open_write.is_finished() {
            let result = open_write.await;
            panic!("the write transaction ended before a poll saw it open: {result:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the write transaction did not open within 30 s"
        );
        // INNODB_TRX is a cache refreshed only after 0.1 s without reads.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
