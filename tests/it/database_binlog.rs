//! A sync loads without the target's binary log only when no replica could
//! read it, checked against the events a real MariaDB binary log holds.

use wwctl::database::binlog::LoadBinlog;
use wwctl::database::copy::CopyMethod;
use wwctl::database::dump::SyncMode;
use wwctl::database::generate::{self, GenerateOptions};
use wwctl::database::scratch::ScratchOptions;
use wwctl::database::sql::SqlRunner;
use wwctl::database::sync::sync;

use crate::database::TestServer;
use crate::database_sync::{endpoint, options};

/// Row events for tables of `database` in every binary log of `server`.
async fn row_events(server: &TestServer, database: &str) -> usize {
    let client = server.client();
    let logs = client.query("SHOW BINARY LOGS").await.unwrap();
    let mut count = 0;
    for log in logs {
        let name = log[0].clone().unwrap();
        let events = client
            .query(&format!("SHOW BINLOG EVENTS IN '{name}'"))
            .await
            .unwrap();
        count += events
            .iter()
            .filter(|event| event[2].as_deref() == Some("Table_map"))
            .filter(|event| {
                let info = event[5].as_deref().unwrap_or_default();
                info.contains(&format!("({database}."))
            })
            .count();
    }
    count
}

async fn sync_wwdtm(source: &TestServer, target: &TestServer) -> LoadBinlog {
    let report = sync(
        &endpoint("source", source).await,
        &endpoint("target", target).await,
        &options("wwdtm", CopyMethod::Parallel { jobs: 2 }),
        &|_| {},
    )
    .await
    .unwrap_or_else(|error| panic!("sync failed: {error}"));
    report.binlog
}

#[tokio::test(flavor = "multi_thread")]
async fn binlog_skipped_only_without_replicas() {
    let source = std::thread::spawn(TestServer::start);
    let target = TestServer::start_with(&ScratchOptions {
        server_id: Some(2),
        binary_log: true,
        ..ScratchOptions::default()
    });
    let source = source.join().expect("start the source");
    source.create_database("wwdtm").await;
    source
        .run_in("wwdtm", &generate::to_string(&GenerateOptions::default()))
        .await;

    // No replica and no account a replica could use: local admin accounts
    // (Debian adds `mysql`@`localhost`) do not count, and no row reaches
    // the log.
    target
        .client()
        .execute(
            "CREATE USER 'mysql'@'localhost' IDENTIFIED VIA unix_socket; \
             GRANT ALL PRIVILEGES ON *.* TO 'mysql'@'localhost' WITH GRANT OPTION",
        )
        .await
        .unwrap();
    assert_eq!(sync_wwdtm(&source, &target).await, LoadBinlog::Skipped);
    assert_eq!(row_events(&target, "wwdtm").await, 0);

    // An account that may replicate from anywhere means a replica may read
    // the log.
    target
        .client()
        .execute(
            "DROP DATABASE wwdtm; \
             CREATE USER 'repl'@'%' IDENTIFIED BY 'x'; \
             GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'",
        )
        .await
        .unwrap();
    assert_eq!(sync_wwdtm(&source, &target).await, LoadBinlog::Written);
    assert!(row_events(&target, "wwdtm").await >= 20);

    // Copied back into the first server, which has no binary log.
    source
        .client()
        .execute("DROP DATABASE wwdtm")
        .await
        .unwrap();
    assert_eq!(sync_wwdtm(&target, &source).await, LoadBinlog::Disabled);
}

#[tokio::test(flavor = "multi_thread")]
async fn binlog_kept_for_replication_seed() {
    let target = TestServer::start_with(&ScratchOptions {
        server_id: Some(3),
        binary_log: true,
        ..ScratchOptions::default()
    });
    let client = target.client();

    let seed = LoadBinlog::decide(&client, SyncMode::ReplicationSeed).await;
    assert_eq!(seed, LoadBinlog::Written);
    assert!(seed.load_options().is_empty());

    let copy = LoadBinlog::decide(&client, SyncMode::DumpLoad).await;
    assert_eq!(copy, LoadBinlog::Skipped);
    assert_eq!(
        copy.load_options(),
        vec!["--init-command=SET SESSION sql_log_bin = 0".to_string()]
    );
}
