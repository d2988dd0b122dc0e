//! Row streams between two real MariaDB servers. Values that the client's
//! batch output and `LOAD DATA` could confuse arrive byte for byte. Tables
//! with a type that has no row encoding fall back to statements, and so
//! does every table when the target's `local_infile` is off.

use wwctl::database::compression::Compression;
use wwctl::database::copy::CopyMethod;
use wwctl::database::pipeline::StreamFormat;
use wwctl::database::rows::RowLoad;
use wwctl::database::sql::SqlRunner;
use wwctl::database::sync::{SyncOptions, SyncReport, sync};

use crate::database::{TestServer, start_pair};
use crate::database_sync::{endpoint, options};

/// A table whose values each test one way the row text could go wrong,
/// and a table with a `BIT` column, which has no row encoding.
const HARD_SCHEMA: &str = "
CREATE TABLE hard (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  note VARCHAR(64) NULL,
  body TEXT NOT NULL,
  amount DECIMAL(12,4) NULL,
  ratio DOUBLE NULL,
  born DATE NULL,
  seen TIMESTAMP NULL DEFAULT NULL,
  at DATETIME(6) NOT NULL,
  kind ENUM('a','NULL') NULL,
  tags SET('x','y') NULL,
  data VARBINARY(16) NULL,
  blobby BLOB NOT NULL,
  twice INT AS (id * 2) VIRTUAL,
  kept VARCHAR(80) AS (CONCAT(LEFT(body, 10), '!')) STORED
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE flags (
  id INT NOT NULL PRIMARY KEY,
  mask BIT(8) NOT NULL
) ENGINE=InnoDB;

SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00';
INSERT INTO hard (id, note, body, amount, ratio, born, seen, at, kind, tags, data, blobby) VALUES
  (0, NULL, 'NULL', NULL, NULL, NULL, NULL, '2001-02-03 04:05:06.000007', NULL, NULL, NULL, ''),
  (1, 'NULL', '', 0, 0, '1998-01-03', '2038-01-19 03:14:07', '1000-01-01 00:00:00', 'NULL', '', '', 0x00),
  (2, '', 'tab\there', -12345678.1234, -1.5e-300, '2023-12-31', '1970-01-01 00:00:01', '9999-12-31 23:59:59.999999', 'a', 'x,y', 0x00FF0A09, 0x5C4E),
  (3, '\\\\N', 'line\nbreak\r\nand carriage', 99999999.9999, 1e300, '0000-00-00', NULL, '2020-02-29 12:00:00', 'a', 'y', 'NULL', 0x4E554C4C),
  (4, 'back\\\\slash\\\\', 'emoji 😀 and é', 0.0001, 3.141592653589793, NULL, '2024-03-10 10:00:00', '2024-03-10 10:00:00', NULL, 'x', 0x5C, 0x0A0D09),
  (5, 'nul\\0byte', CONCAT('long ', REPEAT('Wait Wait 🎙 ', 2000)), NULL, NULL, '2000-02-29', NULL, '2000-01-01', 'NULL', NULL, NULL, REPEAT(0xFF, 3000));
INSERT INTO flags VALUES (1, b'10100101'), (2, b'0');
";

/// Read every column of both tables on `server`, each value as its bytes in
/// hexadecimal (or its time in seconds since the epoch), so the two sides
/// compare exactly.
async fn exact_rows(server: &TestServer) -> Vec<Vec<Option<String>>> {
    let hard = server
        .client()
        .query(
            "SELECT id, HEX(note), HEX(body), amount, HEX(CAST(ratio AS CHAR)), born, \
UNIX_TIMESTAMP(seen), at, HEX(kind), HEX(tags), HEX(data), HEX(blobby), twice, HEX(kept) \
FROM wwdtm.hard ORDER BY id",
        )
        .await
        .expect("read hard");
    let flags = server
        .client()
        .query("SELECT id, mask + 0 FROM wwdtm.flags ORDER BY id")
        .await
        .expect("read flags");
    hard.into_iter().chain(flags).collect()
}

fn stream_format(report: &SyncReport, table: &str) -> StreamFormat {
    report
        .streams
        .iter()
        .find(|stream| stream.stream == format!("table {table}"))
        .unwrap_or_else(|| panic!("no stream for table {table}"))
        .format
}

async fn hard_pair() -> (TestServer, TestServer) {
    let (source, target) = start_pair();
    source.create_database("wwdtm").await;
    source.run_in("wwdtm", HARD_SCHEMA).await;
    (source, target)
}

#[tokio::test(flavor = "multi_thread")]
async fn hard_values_arrive_byte_for_byte_as_rows() {
    let (source_server, target_server) = hard_pair().await;
    // TIMESTAMP values must keep their instant when the servers' time
    // zones differ.
    source_server
        .client()
        .execute("SET GLOBAL time_zone = '+05:00'")
        .await
        .unwrap();
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    for compression in [Compression::Always, Compression::Never] {
        let options = SyncOptions {
            compression,
            ..options("wwdtm", CopyMethod::Parallel { jobs: 2 })
        };
        let report = sync(&source, &target, &options, &|_| {})
            .await
            .unwrap_or_else(|error| panic!("sync ({compression:?}) failed: {error:#}"));

        assert_eq!(report.rows, RowLoad::Rows);
        assert_eq!(stream_format(&report, "hard"), StreamFormat::Rows);
        assert_eq!(stream_format(&report, "flags"), StreamFormat::Sql);
        let hard = report
            .streams
            .iter()
            .find(|stream| stream.stream == "table hard")
            .unwrap();
        assert_eq!(hard.filter.lines, 6, "{hard:?}");
        assert!(hard.load_messages.is_empty(), "{:?}", hard.load_messages);
        assert_eq!(report.verified.total_rows(), 8);
        assert_eq!(
            exact_rows(&target_server).await,
            exact_rows(&source_server).await,
            "{compression:?}"
        );

        target_server
            .client()
            .execute("DROP DATABASE wwdtm")
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn target_without_local_infile_loads_statements() {
    let (source_server, target_server) = hard_pair().await;
    target_server
        .client()
        .execute("SET GLOBAL local_infile = OFF")
        .await
        .unwrap();
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    let report = sync(
        &source,
        &target,
        &options("wwdtm", CopyMethod::Parallel { jobs: 2 }),
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("sync failed: {error:#}"));

    assert_eq!(report.rows, RowLoad::Statements);
    assert_eq!(stream_format(&report, "hard"), StreamFormat::Sql);
    assert_eq!(stream_format(&report, "flags"), StreamFormat::Sql);
    assert_eq!(
        exact_rows(&target_server).await,
        exact_rows(&source_server).await
    );
}
