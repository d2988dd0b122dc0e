//! Replication mode between two throwaway MariaDB servers on 127.0.0.1:
//! seeding, catching up under writes, promotion with verification, and
//! the failures a user must see (preconditions, replication errors) with
//! the replication password kept out of every message and log line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wwctl::clock::SystemClock;
use wwctl::database::endpoint::Endpoint;
use wwctl::database::generate::{self, GenerateOptions};
use wwctl::database::replication::{
    self, CatchUpOptions, CutoverOptions, Replica, ReplicationError, ReplicationOptions,
    SourceAddress, status,
};
use wwctl::database::scratch::ScratchOptions;
use wwctl::database::sql::SqlRunner;

use crate::database::TestServer;
use crate::database_sync::endpoint;

/// A table the tests write to on the source while the replica runs.
const WRITES_TABLE: &str = "CREATE TABLE replication_writes (
  id int NOT NULL PRIMARY KEY,
  note varchar(40) NOT NULL
) ENGINE=InnoDB;
INSERT INTO replication_writes VALUES (1, 'before the seed'), (2, 'before the seed');
";

/// Start a source and a target that listen on 127.0.0.1 with binary logs.
fn start_servers(source_id: u32, target_id: u32) -> (TestServer, TestServer) {
    let options = |server_id| ScratchOptions {
        tcp: true,
        server_id: Some(server_id),
        binary_log: true,
    };
    let source = std::thread::spawn(move || TestServer::start_with(&options(source_id)));
    let target = TestServer::start_with(&options(target_id));
    (source.join().expect("start the source"), target)
}

/// Options for replicating `wwdtm` from `source`, with the replication
/// account limited to `replica_host`.
fn options(source: &TestServer, replica_host: &str) -> ReplicationOptions {
    let address = SourceAddress {
        host: "127.0.0.1".to_string(),
        port: source.server.port().expect("the source listens on TCP"),
    };
    let mut options = ReplicationOptions::new("wwdtm", address, replica_host);
    options.connect_retry = Duration::from_secs(1);
    options
}

async fn prepare_source(source: &TestServer, with_generated_rows: bool) {
    source.create_database("wwdtm").await;
    if with_generated_rows {
        source
            .run_in("wwdtm", &generate::to_string(&GenerateOptions::default()))
            .await;
    }
    source.run_in("wwdtm", WRITES_TABLE).await;
}

async fn endpoints(source: &TestServer, target: &TestServer) -> (Endpoint, Endpoint) {
    (
        endpoint("source", source).await,
        endpoint("target", target).await,
    )
}

/// Read the replication password as the replica stores it: MariaDB keeps
/// it in plain text in `master.info`, on the line after the user name.
fn stored_password(target: &TestServer) -> String {
    let path = target.server.dir().join("data/master.info");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let user = lines
        .iter()
        .position(|line| *line == replication::DEFAULT_USER)
        .expect("master.info names the replication user");
    let password = lines[user + 1].to_string();
    assert!(password.len() >= 32, "a generated password is long");
    password
}

/// Format an error and its causes, one a line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    text
}

fn wait_options(timeout: Duration) -> CatchUpOptions {
    CatchUpOptions {
        timeout,
        poll: Duration::from_millis(50),
    }
}

/// A source with the writes table, a replica seeded from it, and both
/// servers' endpoints.
struct Replicating {
    source_server: TestServer,
    target_server: TestServer,
    source: Endpoint,
    target: Endpoint,
    replica: Replica,
}

/// Seed a replica of a new source, with the replication account limited to
/// `replica_host`, and start it.
async fn seeded_replica(replica_host: &str) -> Replicating {
    let (source_server, target_server) = start_servers(1, 2);
    prepare_source(&source_server, false).await;
    let (source, target) = endpoints(&source_server, &target_server).await;
    let replica = replication::seed_and_start(
        &source,
        &target,
        &options(&source_server, replica_host),
        &SystemClock,
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("seed failed: {}", error_chain(&error)));

    Replicating {
        source_server,
        target_server,
        source,
        target,
        replica,
    }
}

async fn caught_up_replica() -> Replicating {
    let replicating = seeded_replica("127.0.0.1").await;
    replication::wait_until_caught_up(
        &replicating.source,
        &replicating.target,
        &wait_options(Duration::from_secs(60)),
        &SystemClock,
    )
    .await
    .unwrap_or_else(|error| panic!("catching up failed: {}", error_chain(&error)));
    replicating
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_catches_up_under_writes_and_promotes() {
    let (source_server, target_server) = start_servers(1, 2);
    prepare_source(&source_server, true).await;
    source_server
        .client()
        .execute("CREATE DATABASE unreplicated; CREATE TABLE unreplicated.t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let (source, target) = endpoints(&source_server, &target_server).await;
    let options = options(&source_server, "127.0.0.1");

    let replica = replication::seed_and_start(&source, &target, &options, &SystemClock, &|_| {})
        .await
        .unwrap_or_else(|error| panic!("seed failed: {}", error_chain(&error)));
    assert!(
        replica.seed_position.starts_with("0-1-"),
        "seed position `{}`",
        replica.seed_position
    );
    assert_eq!(replica.seed.filter.tables, 21);
    assert_eq!(
        target_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("1")
    );
    let grants = source_server
        .client()
        .query(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES \
             WHERE GRANTEE = '''wwctl_repl''@''127.0.0.1'''",
        )
        .await
        .unwrap();
    assert_eq!(grants, vec![vec![Some("REPLICATION SLAVE".to_string())]]);

    // Writes on the source, to the replicated database and to another one,
    // while the replica is waited for.
    let writer_client = source_server.client();
    let writer = tokio::spawn(async move {
        for id in 100..140 {
            writer_client
                .execute(&format!(
                    "INSERT INTO wwdtm.replication_writes VALUES ({id}, 'during the wait');\n\
                     INSERT INTO unreplicated.t VALUES ({id});"
                ))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    let during = replication::wait_until_caught_up(
        &source,
        &target,
        &wait_options(Duration::from_secs(120)),
        &SystemClock,
    )
    .await
    .unwrap_or_else(|error| panic!("catching up failed: {}", error_chain(&error)));
    assert!(during.status.running());
    assert!(!writer.is_finished(), "the writer ran during the wait");
    writer.await.unwrap();

    let after = replication::wait_until_caught_up(
        &source,
        &target,
        &wait_options(Duration::from_secs(120)),
        &SystemClock,
    )
    .await
    .unwrap_or_else(|error| panic!("catching up failed: {}", error_chain(&error)));
    assert_eq!(after.executed, after.source_position);
    assert_eq!(after.status.seconds_behind, Some(0));
    assert_eq!(
        target_server
            .scalar("SELECT COUNT(*) FROM wwdtm.replication_writes")
            .await
            .as_deref(),
        Some("42")
    );
    assert_eq!(
        target_server
            .scalar("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'unreplicated'")
            .await
            .as_deref(),
        Some("0"),
        "the filter keeps other databases off the replica"
    );

    let report = replication::cutover(
        &source,
        &target,
        &replica,
        &CutoverOptions::default(),
        &SystemClock,
    )
    .await
    .unwrap_or_else(|error| panic!("cutover failed: {}", error_chain(&error)));
    assert_eq!(report.verified.tables().len(), 21);
    assert!(report.freeze.ended_at.is_some());
    assert!(report.freeze.ended_at.unwrap() >= report.freeze.started_at);
    eprintln!("write freeze at scale 1: {:?}", report.freeze_duration());

    assert_eq!(
        target_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        source_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(status::read(&target).await.unwrap().status, None);
    assert_eq!(
        target_server
            .scalar("SELECT @@GLOBAL.replicate_wild_do_table")
            .await
            .as_deref(),
        Some("")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn same_server_id_fails_before_changes() {
    let (source_server, target_server) = start_servers(7, 7);
    prepare_source(&source_server, false).await;
    let (source, target) = endpoints(&source_server, &target_server).await;

    let error = replication::seed_and_start(
        &source,
        &target,
        &options(&source_server, "127.0.0.1"),
        &SystemClock,
        &|_| {},
    )
    .await
    .unwrap_err();
    let ReplicationError::Preconditions(failed) = &error else {
        panic!("expected failed preconditions, got {}", error_chain(&error));
    };
    let checks: Vec<&str> = failed.errors.iter().map(|finding| finding.check).collect();
    assert_eq!(checks, vec!["server_id"], "{error}");
    let text = error.to_string();
    assert!(text.contains("both have server_id 7"), "{text}");
    assert!(
        text.contains("hint: give the target another `server_id`"),
        "{text}"
    );

    assert_eq!(
        source_server
            .scalar("SELECT COUNT(*) FROM mysql.user WHERE User = 'wwctl_repl'")
            .await
            .as_deref(),
        Some("0"),
        "no account was created"
    );
    assert_eq!(
        target_server
            .scalar("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'wwdtm'")
            .await
            .as_deref(),
        Some("0"),
        "no database was created"
    );
    let state = status::read(&target).await.unwrap();
    assert_eq!(state.status, None);
    assert_eq!(state.executed, "");
    assert_eq!(
        target_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_row_surfaces_sql_error() {
    let Replicating {
        source_server,
        target_server,
        source,
        target,
        replica,
    } = caught_up_replica().await;

    // root has the READ ONLY ADMIN privilege on MariaDB 10.11, so it can
    // write to the read-only replica, as a careless administrator could.
    target_server
        .run_in(
            "wwdtm",
            "INSERT INTO replication_writes VALUES (500, 'on the replica')",
        )
        .await;
    source_server
        .run_in(
            "wwdtm",
            "INSERT INTO replication_writes VALUES (500, 'on the source')",
        )
        .await;

    let error = replication::wait_until_caught_up(
        &source,
        &target,
        &wait_options(Duration::from_secs(60)),
        &SystemClock,
    )
    .await
    .unwrap_err();
    let ReplicationError::Stopped {
        status: stopped, ..
    } = &error
    else {
        panic!("expected stopped replication, got {}", error_chain(&error));
    };
    assert_eq!(stopped.sql_thread, "No");
    let reported = status::read(&target).await.unwrap().status.unwrap();
    assert!(
        reported.last_sql_error.contains("Duplicate entry '500'"),
        "{}",
        reported.last_sql_error
    );
    let text = error.to_string();
    assert!(
        text.contains(&format!("Last_SQL_Error: {}", reported.last_sql_error)),
        "the error carries the server's message verbatim: {text}"
    );
    assert!(!text.contains(&stored_password(&target_server)), "{text}");

    // A cutover refuses a broken replica before freezing the source.
    let error = replication::cutover(
        &source,
        &target,
        &replica,
        &CutoverOptions::default(),
        &SystemClock,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ReplicationError::Stopped { .. }), "{error}");
    assert_eq!(
        source_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn frozen_catch_up_timeout_thaws_source() {
    let Replicating {
        source_server,
        target_server,
        source,
        target,
        replica,
    } = caught_up_replica().await;

    // The replica applies each event a minute late, with both threads
    // running, so it cannot reach the final position during the freeze.
    target_server
        .client()
        .execute("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 60; START SLAVE")
        .await
        .unwrap();
    source_server
        .run_in(
            "wwdtm",
            "INSERT INTO replication_writes VALUES (600, 'delayed')",
        )
        .await;

    let options = CutoverOptions {
        catch_up_timeout: Duration::from_secs(1),
        ..CutoverOptions::default()
    };
    let error = replication::cutover(&source, &target, &replica, &options, &SystemClock)
        .await
        .unwrap_err();
    let ReplicationError::FrozenCatchUp {
        thawed,
        source: cause,
    } = &error
    else {
        panic!("expected a failed catch-up, got {}", error_chain(&error));
    };
    assert!(*thawed);
    assert!(
        matches!(**cause, ReplicationError::Timeout { .. }),
        "{cause}"
    );
    let text = error_chain(&error);
    assert!(
        text.contains("writes are allowed again on the source"),
        "{text}"
    );

    assert_eq!(
        source_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    let state = status::read(&target).await.unwrap();
    assert!(state.status.is_some_and(|status| status.running()));
    assert_eq!(
        target_server
            .scalar("SELECT @@GLOBAL.read_only")
            .await
            .as_deref(),
        Some("1"),
        "the replica stays a replica"
    );
}

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// A single thread, so the log subscriber set on it receives every event.
#[tokio::test(flavor = "current_thread")]
async fn replication_password_absent_from_errors_and_logs() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // With a single live dispatcher, tracing computes a new callsite's
    // interest from the default of the thread that reaches it first. A test
    // on another thread could then turn these callsites off for good, so a
    // second live dispatcher makes tracing ask every dispatcher instead.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());

    // The account accepts connections only from another address than the
    // replica's 127.0.0.1, so the replica's IO thread is refused.
    let Replicating {
        source_server: _source_server,
        target_server,
        source,
        target,
        replica,
    } = seeded_replica("10.77.255.254").await;
    let error = replication::wait_until_caught_up(
        &source,
        &target,
        &wait_options(Duration::from_secs(4)),
        &SystemClock,
    )
    .await
    .unwrap_err();
    let ReplicationError::Timeout {
        status: waiting, ..
    } = &error
    else {
        panic!("expected a timeout, got {}", error_chain(&error));
    };
    assert_ne!(waiting.io_thread, "Yes");
    let text = error_chain(&error);
    assert!(text.contains("Last_IO_Error: "), "{text}");
    assert!(text.contains("is not allowed to connect"), "{text}");

    let password = stored_password(&target_server);
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("replication account `wwctl_repl`@`10.77.255.254`"),
        "{logged}"
    );
    assert!(!logged.contains(&password), "the password reached the logs");
    assert!(!text.contains(&password), "the password reached the error");
    assert!(!format!("{replica:?}").contains(&password));
    assert!(!serde_json::to_string(&replica).unwrap().contains(&password));
}
