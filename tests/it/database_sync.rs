//! Syncs between two real MariaDB servers, in both copy methods, and the
//! verification that must catch a changed row.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wwctl::database::command::LocalRunner;
use wwctl::database::compression::{
    Codec, Codecs, Compression, Direction, FAST_LINK, hop_speed, link_speed,
};
use wwctl::database::copy::{CopyMethod, tables_largest_first};
use wwctl::database::dump::SyncMode;
use wwctl::database::endpoint::Endpoint;
use wwctl::database::generate::{self, GenerateOptions};
use wwctl::database::pipeline::StreamFormat;
use wwctl::database::preflight::PreflightOptions;
use wwctl::database::rows::RowLoad;
use wwctl::database::sql::SqlRunner;
use wwctl::database::sync::{SyncOptions, sync};
use wwctl::database::verify::{self, VerifyError};

use crate::database::{TestServer, real_schema, start_pair};
use crate::support::link::{BusyOnce, Link};

pub async fn endpoint(role: &'static str, server: &TestServer) -> Endpoint {
    Endpoint::connect(role, Arc::new(LocalRunner), server.server.connection())
        .await
        .expect("connect to the throwaway server")
}

pub fn options(database: &str, method: CopyMethod) -> SyncOptions {
    SyncOptions {
        preflight: PreflightOptions::new(database, SyncMode::DumpLoad),
        method,
        compression: Compression::Always,
        charset: "utf8mb4".to_string(),
        collation: "utf8mb4_unicode_ci".to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_both_methods_verify_equal() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server
        .run_in("wwdtm", &generate::to_string(&GenerateOptions::default()))
        .await;
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    let single = sync(
        &source,
        &target,
        &options("wwdtm", CopyMethod::Single),
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("single-stream sync failed: {error}"));
    assert_eq!(single.verified.tables().len(), 20);
    assert_eq!(single.streams.len(), 1);
    assert_eq!(single.streams[0].filter.tables, 20);

    target_server
        .client()
        .execute("DROP DATABASE wwdtm")
        .await
        .unwrap();
    let parallel = sync(
        &source,
        &target,
        &options("wwdtm", CopyMethod::Parallel { jobs: 3 }),
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("parallel sync failed: {error}"));
    // Schema, 20 tables, programs; no views. Every table's rows travel
    // as row text.
    assert_eq!(parallel.streams.len(), 22);
    let untimed: Vec<&str> = parallel
        .streams
        .iter()
        .filter(|stream| stream.seconds <= 0.0)
        .map(|stream| stream.stream.as_str())
        .collect();
    assert!(untimed.is_empty(), "streams without a time: {untimed:?}");
    assert_eq!(parallel.rows, RowLoad::Rows);
    let row_streams = parallel
        .streams
        .iter()
        .filter(|stream| stream.format == StreamFormat::Rows)
        .count();
    assert_eq!(row_streams, 20);
    // Checksums taken table by table during the copy equal those taken
    // all at once after it.
    assert_eq!(parallel.verified.tables(), single.verified.tables());
    let zstd = Codecs {
        dump: Codec::Zstd,
        load: Codec::Zstd,
    };
    assert_eq!((single.codecs, parallel.codecs), (zstd, zstd));
    assert!(parallel.timings.copy > Duration::ZERO);
    assert_eq!(parallel.verified.total_rows(), single.verified.total_rows());

    let row = target_server
        .client()
        .query("SELECT COUNT(*), MAX(showdate) FROM wwdtm.ww_shows")
        .await
        .unwrap();
    assert_eq!(row[0][0].as_deref(), Some("1500"));

    // The largest table streams first.
    let objects = verify::objects(&source.client(), "wwdtm").await.unwrap();
    let order = tables_largest_first(&source.client(), "wwdtm", &objects.tables)
        .await
        .unwrap();
    let sizes = source
        .client()
        .query(
            "SELECT TABLE_NAME, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'wwdtm'",
        )
        .await
        .unwrap();
    let size_of = |table: &String| -> u64 {
        let row = sizes
            .iter()
            .find(|row| row[0].as_ref() == Some(table))
            .unwrap();
        row[1].as_deref().unwrap().parse().unwrap()
    };
    let ordered_sizes: Vec<u64> = order.iter().map(size_of).collect();
    assert!(
        ordered_sizes.windows(2).all(|pair| pair[0] >= pair[1]),
        "{order:?} {ordered_sizes:?}"
    );
    assert!(ordered_sizes[0] > ordered_sizes[19], "{ordered_sizes:?}");
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, objects.tables.iter().cloned().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_row_fails_verification() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server
        .run_in("wwdtm", &generate::to_string(&GenerateOptions::default()))
        .await;
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;
    sync(
        &source,
        &target,
        &options("wwdtm", CopyMethod::Single),
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("sync failed: {error}"));

    // A change only a byte-exact checksum detects, because the collation
    // compares the two values as equal.
    target_server
        .run_in(
            "wwdtm",
            "UPDATE ww_panelists SET panelist = UPPER(panelist) WHERE panelistid = 7",
        )
        .await;

    let error = verify::verify(&source.client(), &target.client(), "wwdtm")
        .await
        .unwrap_err();
    let VerifyError::Mismatch { mismatches, .. } = &error else {
        panic!("expected a mismatch, got {error}");
    };
    assert_eq!(mismatches.len(), 1, "{error}");
    let text = error.to_string();
    assert!(text.contains("table `ww_panelists` differs"), "{text}");

    let source_sum = verify::snapshot(&source.client(), "wwdtm").await.unwrap();
    let target_sum = verify::snapshot(&target.client(), "wwdtm").await.unwrap();
    let checksum = |snapshot: &verify::Snapshot| {
        snapshot
            .tables
            .iter()
            .find(|table| table.table == "ww_panelists")
            .unwrap()
            .checksum
            .clone()
    };
    assert_ne!(checksum(&source_sum), checksum(&target_sum));
    assert!(text.contains(&checksum(&source_sum)), "{text}");
    assert!(text.contains(&checksum(&target_sum)), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_schema_sync_verifies() {
    let Some(schema) = real_schema() else {
        return;
    };
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server.run_in("wwdtm", &schema).await;
    let rows = GenerateOptions {
        schema: false,
        seed: 7,
        ..GenerateOptions::default()
    };
    source_server
        .run_in("wwdtm", &generate::to_string(&rows))
        .await;
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;

    // Uncompressed, as with `database.sync.compress: false`.
    let uncompressed = SyncOptions {
        compression: Compression::Never,
        ..options("wwdtm", CopyMethod::Single)
    };
    let report = sync(&source, &target, &uncompressed, &|_| {})
        .await
        .unwrap_or_else(|error| panic!("sync failed: {error}"));
    assert_eq!(report.verified.tables().len(), 20);
    assert!(report.verified.total_rows() > 15_000);
    assert_eq!(report.codecs, Codecs::PLAIN);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_compresses_only_slow_hops() {
    let (source_server, target_server) = start_pair();
    source_server.create_database("wwdtm").await;
    source_server
        .run_in(
            "wwdtm",
            "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);",
        )
        .await;
    let auto = SyncOptions {
        compression: Compression::Auto,
        ..options("wwdtm", CopyMethod::Parallel { jobs: 2 })
    };

    // Each hop is timed, and compressed only when it is slower than
    // `FAST_LINK`. Local pipes are usually faster, but a loaded machine
    // running a debug build may time them slower.
    let source = endpoint("source", &source_server).await;
    let target = endpoint("target", &target_server).await;
    let local = sync(&source, &target, &auto, &|_| {}).await.unwrap();
    let expected = |speed: Option<f64>| {
        if speed.unwrap() * 1e6 >= FAST_LINK {
            Codec::Plain
        } else {
            Codec::Zstd
        }
    };
    assert_eq!(local.codecs.dump, expected(local.hop_speeds.dump));
    assert_eq!(local.codecs.load, expected(local.hop_speeds.load));

    // A slow link to the source compresses the dump's hop. A link to the
    // target with a long round trip but no limit on its speed is timed by
    // its transfer alone (see `probe_ignores_round_trips`).
    target_server
        .client()
        .execute("DROP DATABASE wwdtm")
        .await
        .unwrap();
    let slow = Link {
        host: "slow-link",
        start_delay: Duration::from_millis(50),
        bytes_per_second: 10e6,
    };
    let far = Link {
        host: "far-link",
        start_delay: Duration::from_millis(300),
        bytes_per_second: f64::INFINITY,
    };
    let slow_source =
        Endpoint::connect("source", Arc::new(slow), source_server.server.connection())
            .await
            .unwrap();
    let far_target = Endpoint::connect("target", Arc::new(far), target_server.server.connection())
        .await
        .unwrap();
    let mixed = sync(&slow_source, &far_target, &auto, &|_| {})
        .await
        .unwrap();
    let speeds = mixed.hop_speeds;
    assert_eq!(mixed.codecs.dump, Codec::Zstd);
    assert!(speeds.dump.unwrap() < 12.0, "{speeds:?}");
    assert_eq!(mixed.codecs.load, expected(speeds.load));
    assert_eq!(mixed.verified.total_rows(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_ignores_round_trips() {
    // Each command on this link starts 2 s late, and then its bytes flow
    // without limit. Counting the start would put 32 MiB under 17 MB/s.
    let far = Link {
        host: "far-link",
        start_delay: Duration::from_secs(2),
        bytes_per_second: f64::INFINITY,
    };
    for direction in [Direction::FromServer, Direction::ToServer] {
        let speed = link_speed(&far, direction).await.unwrap();
        assert!(speed > 30e6, "{direction:?}: {speed} bytes a second");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_link_probe_stops_early() {
    // At 2 MB/s the probe's 32 MiB would take 16 s: the time limit ends it
    // after about a quarter of a second of sending.
    let slow = Link {
        host: "slow-link",
        start_delay: Duration::from_millis(50),
        bytes_per_second: 2e6,
    };
    for direction in [Direction::FromServer, Direction::ToServer] {
        let started = std::time::Instant::now();
        let speed = link_speed(&slow, direction).await;
        let elapsed = started.elapsed();

        let speed = speed.unwrap_or_else(|| panic!("{direction:?}: the probe failed"));
        assert!(speed < 4e6, "{direction:?}: {speed} bytes a second");
        assert!(speed > 0.5e6, "{direction:?}: {speed} bytes a second");
        assert!(
            elapsed < Duration::from_secs(2),
            "{direction:?}: {elapsed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_probe_retries_a_slow_first_measurement() {
    // The first probe meets a link held to 5 MB/s, the second an idle one:
    // the hop counts as fast, and only a slow first measurement is repeated.
    for direction in [Direction::FromServer, Direction::ToServer] {
        let runner = BusyOnce {
            busy: Link {
                host: "busy-once",
                start_delay: Duration::ZERO,
                bytes_per_second: 5e6,
            },
            spawned: AtomicUsize::new(0),
        };
        let speed = hop_speed(&runner, direction).await.unwrap();
        assert_eq!(runner.spawned.load(Ordering::SeqCst), 2, "{direction:?}");
        assert!(speed > 20e6, "{direction:?}: {speed} bytes a second");

        // A measurement is repeated only when it found the link slow.
        let again = hop_speed(&runner, direction).await.unwrap();
        let probes = runner.spawned.load(Ordering::SeqCst) - 2;
        match probes {
            1 => assert!(again >= FAST_LINK, "{direction:?}: {again} bytes a second"),
            2 => {}
            other => panic!("{direction:?}: {other} probes"),
        }
    }
}
