//! Field cases of MySQL moves, each from its smallest input: an unknown
//! collation, a GTID_PURGED line, a missing definer, and stored programs
//! that must arrive.

use std::sync::Arc;

use wwctl::database::account::Account;
use wwctl::database::binlog::LoadBinlog;
use wwctl::database::command::LocalRunner;
use wwctl::database::compression::{Codec, Codecs};
use wwctl::database::copy::{CopyMethod, CopyPlan, copy};
use wwctl::database::dump::SyncMode;
use wwctl::database::filter::FilterRules;
use wwctl::database::load::load_dump_file;
use wwctl::database::pipeline::{Command, run_stream};
use wwctl::database::preflight::finding::Severity;
use wwctl::database::preflight::{self, PreflightOptions};
use wwctl::database::rows::RowLoad;
use wwctl::database::sql::SqlRunner;
use wwctl::database::sync::{SyncError, smoke_test_views, sync};
use wwctl::database::users::create_app_users;
use wwctl::inventory::model::DatabaseUser;

use crate::database::{TestServer, start_pair};
use crate::database_sync::{endpoint, options};

/// A MySQL 8 dump: the first table loads on MariaDB 10.11, the second
/// uses a collation MariaDB 10.11 lacks.
const MYSQL8_COLLATION_DUMP: &str = "/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `ww_pronouns`;
CREATE TABLE `ww_pronouns` (
  `pronounsid` int NOT NULL AUTO_INCREMENT,
  `pronouns` varchar(255) NOT NULL,
  PRIMARY KEY (`pronounsid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO `ww_pronouns` VALUES (1,'they/them');
DROP TABLE IF EXISTS `ww_guests`;
CREATE TABLE `ww_guests` (
  `guestid` int NOT NULL AUTO_INCREMENT,
  `guest` varchar(255) NOT NULL,
  PRIMARY KEY (`guestid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
INSERT INTO `ww_guests` VALUES (1,'Guest 😀');
";

/// A dump from a GTID-enabled MySQL 8 source, as mysqldump writes it by
/// default.
const MYSQL8_GTID_DUMP: &str = "SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN= 0;

--
-- GTID state at the beginning of the backup
--

SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57';
CREATE TABLE `ww_hosts` (`hostid` int NOT NULL, `host` varchar(255) NOT NULL, PRIMARY KEY (`hostid`))
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO `ww_hosts` VALUES (1,'Host');
SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;
";

/// Format an error and its causes, one a line, for assertion messages.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    text
}

fn write_dump(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("dump.sql");
    std::fs::write(&path, text).unwrap();
    path
}

async fn database_exists(server: &TestServer, name: &str) -> bool {
    let count = server
        .scalar(&format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
        ))
        .await;
    count.as_deref() == Some("1")
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_collation_stops_before_loading() {
    let server = TestServer::start();
    let target = endpoint("target", &server).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_dump(&dir, MYSQL8_COLLATION_DUMP);

    // Loaded blindly, the dump fails half-way: the first table arrives.
    server.create_database("blind").await;
    let blind = server
        .client()
        .execute(&format!("USE blind;\n{MYSQL8_COLLATION_DUMP}"))
        .await
        .unwrap_err();
    assert!(blind.to_string().contains("1273"), "{blind}");
    assert_eq!(
        server
            .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'blind'")
            .await
            .as_deref(),
        Some("1")
    );

    let options = PreflightOptions::new("wwdtm", SyncMode::DumpLoad);
    let error = load_dump_file(
        &path,
        &target,
        &options,
        "utf8mb4",
        "utf8mb4_unicode_ci",
        &|_| {},
    )
    .await
    .unwrap_err();
    let SyncError::Preflight(failed) = &error else {
        panic!("expected a preflight failure, got {error}");
    };
    assert_eq!(failed.errors.len(), 1, "{error}");
    assert_eq!(failed.errors[0].check, "collations");
    assert!(failed.errors[0].message.contains("`utf8mb4_0900_ai_ci`"));
    assert!(
        failed.errors[0]
            .hint
            .contains("utf8mb4_0900_ai_ci=utf8mb4_unicode_ci")
    );
    assert!(error.to_string().contains("nothing was loaded"), "{error}");
    assert!(!database_exists(&server, "wwdtm").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn opted_in_collation_mapping_loads() {
    let server = TestServer::start();
    let target = endpoint("target", &server).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_dump(&dir, MYSQL8_COLLATION_DUMP);

    let mut options = PreflightOptions::new("wwdtm", SyncMode::DumpLoad);
    options.collation_map.insert(
        "utf8mb4_0900_ai_ci".to_string(),
        "utf8mb4_unicode_ci".to_string(),
    );
    let (preflight, stats) = load_dump_file(
        &path,
        &target,
        &options,
        "utf8mb4",
        "utf8mb4_unicode_ci",
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("load failed: {error}"));

    let mapping = preflight
        .findings
        .iter()
        .find(|finding| finding.check == "collations")
        .unwrap();
    assert_eq!(mapping.severity, Severity::Warning);
    assert_eq!(stats.filter.rewritten_lines, 1);
    let collation = server
        .scalar(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'wwdtm' AND TABLE_NAME = 'ww_guests'",
        )
        .await;
    assert_eq!(collation.as_deref(), Some("utf8mb4_unicode_ci"));
    let guest = server.scalar("SELECT guest FROM wwdtm.ww_guests").await;
    assert_eq!(guest.as_deref(), Some("Guest 😀"));
}

#[tokio::test(flavor = "multi_thread")]
async fn gtid_purged_never_reaches_target() {
    let server = TestServer::start();
    let target = endpoint("target", &server).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_dump(&dir, MYSQL8_GTID_DUMP);

    // The line would fail on this target.
    server.create_database("blind").await;
    let blind = server
        .client()
        .execute(&format!("USE blind;\n{MYSQL8_GTID_DUMP}"))
        .await
        .unwrap_err();
    assert!(blind.to_string().contains("GTID_PURGED"), "{blind}");

    let options = PreflightOptions::new("wwdtm", SyncMode::DumpLoad);
    let (preflight, stats) = load_dump_file(
        &path,
        &target,
        &options,
        "utf8mb4",
        "utf8mb4_unicode_ci",
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("load failed: {error}"));
    assert!(
        preflight
            .findings
            .iter()
            .any(|finding| finding.check == "gtid")
    );
    assert_eq!(stats.filter.dropped_lines, 4);
    assert!(
        stats
            .filter
            .dropped_samples
            .iter()
            .any(|line| line.starts_with("SET @@GLOBAL.GTID_PURGED"))
    );
    let host = server.scalar("SELECT host FROM wwdtm.ww_hosts").await;
    assert_eq!(host.as_deref(), Some("Host"));

    // What the load receives, captured byte for byte.
    let captured = dir.path().join("received.sql");
    let dump = Command {
        runner: Arc::new(LocalRunner),
        argv: vec!["cat".to_string(), path.display().to_string()],
    };
    let load = Command {
        runner: Arc::new(LocalRunner),
        argv: vec![
            "sh".to_string(),
            "-c".to_string(),
            format!("cat > '{}'", captured.display()),
        ],
    };
    run_stream("capture", &dump, &load, preflight.rules.clone(), &|_| {})
        .await
        .unwrap();
    let received = std::fs::read_to_string(&captured).unwrap();
    assert!(!received.contains("GTID_PURGED"), "{received}");
    assert!(!received.contains("SQL_LOG_BIN"), "{received}");
    assert!(received.contains("INSERT INTO `ww_hosts`"));
}

#[tokio::test(flavor = "multi_thread")]
async fn replication_seed_needs_clean_target() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    target_server
        .client()
        .execute("SET GLOBAL gtid_slave_pos = '0-1-42'")
        .await
        .unwrap();
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    let options = PreflightOptions::new("wwdtm", SyncMode::ReplicationSeed);
    let report = preflight::run(&source, &target, &options).await.unwrap();
    let gtid = report
        .errors()
        .find(|finding| finding.check == "gtid")
        .expect("a GTID error");
    assert!(gtid.message.contains("0-1-42"), "{}", gtid.message);
    assert!(!report.rules.drop_gtid_state);
    assert!(
        report.findings[0].message.contains("replication seed"),
        "the plan names the mode"
    );
}

const DEFINER_SOURCE: &str = "CREATE TABLE ww_shows (
  showid int NOT NULL PRIMARY KEY,
  showdate date NOT NULL
) ENGINE=InnoDB;
INSERT INTO ww_shows VALUES (1, '1998-01-03'), (2, '1998-01-10');
CREATE USER olduser@'%';
GRANT SELECT ON wwdtm.* TO olduser@'%';
CREATE DEFINER = olduser@'%' SQL SECURITY DEFINER VIEW show_years AS
  SELECT YEAR(showdate) AS year, COUNT(*) AS shows FROM ww_shows GROUP BY YEAR(showdate);
";

#[tokio::test(flavor = "multi_thread")]
async fn missing_definer_reported_and_rewritten() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server.run_in("wwdtm", DEFINER_SOURCE).await;
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    // Without a rewrite: reported before loading, nothing loaded.
    let error = sync(
        &source,
        &target,
        &options("wwdtm", CopyMethod::Single),
        &|_| {},
    )
    .await
    .unwrap_err();
    let SyncError::Preflight(failed) = &error else {
        panic!("expected a preflight failure, got {}", error_chain(&error));
    };
    assert_eq!(failed.errors.len(), 1, "{error}");
    assert_eq!(failed.errors[0].check, "definers");
    assert!(failed.errors[0].message.contains("`olduser`@`%`"));
    assert!(failed.errors[0].message.contains("view `show_years`"));
    assert!(!database_exists(&target_server, "wwdtm").await);

    // Loaded anyway, the view arrives broken, and the smoke test reports it.
    target_server.create_database("wwdtm").await;
    let plan = CopyPlan {
        source: &source,
        target: &target,
        database: "wwdtm",
        mode: SyncMode::DumpLoad,
        rules: FilterRules::default(),
        codecs: Codecs {
            dump: Codec::Zstd,
            load: Codec::Zstd,
        },
        binlog: LoadBinlog::Written,
        rows: RowLoad::Statements,
        checksum_tables: false,
    };
    copy(&plan, CopyMethod::Single, &|_| {}).await.unwrap();
    let broken = smoke_test_views(&target.client(), "wwdtm")
        .await
        .unwrap_err();
    assert!(broken.to_string().contains("show_years"), "{broken}");
    assert!(broken.to_string().contains("1449"), "{broken}");
    target_server
        .client()
        .execute("DROP DATABASE wwdtm")
        .await
        .unwrap();

    // With the app user as the rewrite, the view works on the target.
    let app = DatabaseUser {
        name: "wwdtm_stats".to_string(),
        privileges: vec!["SELECT".to_string()],
    };
    let hosts = ["localhost".to_string()];
    create_app_users(
        &target.client(),
        "wwdtm",
        &[app],
        &hosts,
        &Default::default(),
    )
    .await
    .unwrap();
    let mut rewrite = options("wwdtm", CopyMethod::Single);
    rewrite.preflight.definer_rewrite = Some(Account::new("wwdtm_stats", "localhost"));
    let report = sync(&source, &target, &rewrite, &|_| {})
        .await
        .unwrap_or_else(|error| panic!("sync with rewrite failed: {}", error_chain(&error)));
    assert_eq!(report.views_checked, 1);
    let definer = target_server
        .scalar("SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'wwdtm'")
        .await;
    assert_eq!(definer.as_deref(), Some("wwdtm_stats@localhost"));
    let shows = target_server
        .scalar("SELECT shows FROM wwdtm.show_years WHERE year = 1998")
        .await;
    assert_eq!(shows.as_deref(), Some("2"));
}

const PROGRAMS_SOURCE: &str = "CREATE TABLE ww_shows (
  showid int NOT NULL PRIMARY KEY,
  showdate date NOT NULL,
  changed int NOT NULL DEFAULT 0
) ENGINE=InnoDB;
INSERT INTO ww_shows (showid, showdate) VALUES (1, '1998-01-03');
CREATE FUNCTION show_year(d date) RETURNS int DETERMINISTIC RETURN YEAR(d);
CREATE VIEW show_years AS SELECT show_year(showdate) AS year FROM ww_shows;
CREATE TRIGGER ww_shows_touch BEFORE UPDATE ON ww_shows
  FOR EACH ROW SET NEW.changed = OLD.changed + 1;
CREATE PROCEDURE count_shows() SELECT COUNT(*) FROM ww_shows;
CREATE EVENT purge_nothing ON SCHEDULE EVERY 1 DAY DO DELETE FROM ww_shows WHERE showid < 0;
";

#[tokio::test(flavor = "multi_thread")]
async fn every_object_kind_arrives() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server.run_in("wwdtm", PROGRAMS_SOURCE).await;
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    for method in [CopyMethod::Single, CopyMethod::Parallel { jobs: 2 }] {
        let report = sync(&source, &target, &options("wwdtm", method), &|_| {})
            .await
            .unwrap_or_else(|error| panic!("sync with {method:?} failed: {error}"));
        let objects = report.verified.objects();
        assert_eq!(objects.tables.len(), 1, "{method:?}");
        assert_eq!(objects.views.len(), 1, "{method:?}");
        assert_eq!(objects.triggers.len(), 1, "{method:?}");
        assert_eq!(objects.procedures.len(), 1, "{method:?}");
        assert_eq!(objects.functions.len(), 1, "{method:?}");
        assert_eq!(objects.events.len(), 1, "{method:?}");
        assert_eq!(report.views_checked, 1, "{method:?}");

        // The trigger works on the target.
        target_server
            .run_in("wwdtm", "UPDATE ww_shows SET showdate = '1998-01-04'")
            .await;
        let changed = target_server
            .scalar("SELECT changed FROM wwdtm.ww_shows")
            .await;
        assert_eq!(changed.as_deref(), Some("1"), "{method:?}");
        target_server
            .client()
            .execute("DROP DATABASE wwdtm")
            .await
            .unwrap();
    }
}

/// A row longer than the target accepts stops the sync in preflight,
/// naming the table and the row's length. Only tables whose column types
/// allow such a row are read in full.
#[tokio::test(flavor = "multi_thread")]
async fn row_longer_than_target_packet_stops_preflight() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server
        .run_in(
            "wwdtm",
            "CREATE TABLE big (id INT PRIMARY KEY, body MEDIUMTEXT NOT NULL);
INSERT INTO big VALUES (1, REPEAT('x', 300000)), (2, 'short');
CREATE TABLE small (id INT PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO small VALUES (1, REPEAT('y', 60000));",
        )
        .await;
    target_server
        .client()
        .execute("SET GLOBAL max_allowed_packet = 524288")
        .await
        .unwrap();
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    let preflight = preflight::run(
        &source,
        &target,
        &PreflightOptions::new("wwdtm", SyncMode::DumpLoad),
    )
    .await
    .unwrap();

    let errors: Vec<_> = preflight
        .findings
        .iter()
        .filter(|finding| finding.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].check, "max_allowed_packet");
    assert!(
        errors[0].message.contains("table `big`, 300001 bytes"),
        "{}",
        errors[0].message
    );
    assert!(!database_exists(&target_server, "wwdtm").await);
}
