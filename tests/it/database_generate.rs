//! The generator's SQL loads into MariaDB, alone and into the real schema.

use wwctl::database::generate::{self, GenerateOptions};
use wwctl::database::sql::SqlRunner;

use crate::database::{TestServer, real_schema};

#[tokio::test(flavor = "multi_thread")]
async fn generated_sql_loads_with_expected_counts() {
    let server = TestServer::start();
    server.create_database("wwdtm").await;

    let sql = generate::to_string(&GenerateOptions::default());
    server.run_in("wwdtm", &sql).await;

    let shows = server.scalar("SELECT COUNT(*) FROM wwdtm.ww_shows").await;
    assert_eq!(shows.as_deref(), Some("1500"));
    let scores = server
        .scalar("SELECT COUNT(*) FROM wwdtm.ww_showpnlmap")
        .await;
    assert_eq!(scores.as_deref(), Some("6000"));
    let first = server
        .scalar("SELECT MIN(showdate) FROM wwdtm.ww_shows")
        .await;
    assert_eq!(first.as_deref(), Some("1998-01-03"));
    let tables = server
        .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'wwdtm'")
        .await;
    assert_eq!(tables.as_deref(), Some("20"));
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_rows_load_into_real_schema() {
    let Some(schema) = real_schema() else {
        return;
    };
    let server = TestServer::start();
    server.create_database("wwdtm").await;
    server.run_in("wwdtm", &schema).await;

    let options = GenerateOptions {
        schema: false,
        ..GenerateOptions::default()
    };
    server.run_in("wwdtm", &generate::to_string(&options)).await;

    let row = server
        .client()
        .query("SELECT COUNT(*), MAX(showdate) FROM wwdtm.ww_shows")
        .await
        .unwrap();
    assert_eq!(row[0][0].as_deref(), Some("1500"));
    assert!(
        row[0][1]
            .as_deref()
            .is_some_and(|date| date.starts_with("2026-"))
    );
}
