//! The write freeze of a replication cutover between two throwaway local
//! MariaDB servers on 127.0.0.1, with generated data at a scale (100 by
//! default) and an app account writing to the source until the freeze
//! rejects its writes.
//!
//!     cargo bench --bench replication_freeze            # scale 100
//!     cargo bench --bench replication_freeze -- 10      # another scale
//!     cargo test --bench replication_freeze -- 100      # debug build
//!
//! It prints the time of each phase and the freeze: from `read_only` on
//! the source to the promoted replica accepting writes. The servers are
//! small (32 MiB buffer pools), as in the tests.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wwctl::clock::SystemClock;
use wwctl::database::command::LocalRunner;
use wwctl::database::endpoint::Endpoint;
use wwctl::database::generate::{self, GenerateOptions};
use wwctl::database::replication::{
    self, CatchUpOptions, CutoverOptions, ReplicationOptions, SourceAddress,
};
use wwctl::database::scratch::{ScratchOptions, ScratchServer};
use wwctl::database::users::create_app_users;
use wwctl::inventory::model::DatabaseUser;

const DEFAULT_SCALE: u32 = 100;

/// The pause between two writes of the app account: at most 50 writes a
/// second, and fewer in practice because each write starts a client.
const WRITE_PAUSE: Duration = Duration::from_millis(20);

/// How long the writer goes on after the replica has caught up, before the
/// cutover starts.
const WRITES_BEFORE_CUTOVER: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the first other argument is the scale.
    let scale = match std::env::args().skip(1).find(|arg| !arg.starts_with("--")) {
        Some(text) => text
            .parse()
            .with_context(|| format!("the scale `{text}` is not a positive whole number"))?,
        None => DEFAULT_SCALE,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(scale))
}

async fn run(scale: u32) -> anyhow::Result<()> {
    let dirs = [temporary_dir()?, temporary_dir()?];
    let server_options = |server_id| ScratchOptions {
        tcp: true,
        server_id: Some(server_id),
        binary_log: true,
    };
    let source_server = ScratchServer::start_with(dirs[0].path(), &server_options(1))?;
    let target_server = ScratchServer::start_with(dirs[1].path(), &server_options(2))?;

    let started = Instant::now();
    let rows = load_source(&source_server, scale)?;
    println!(
        "scale {scale}: loaded {rows} rows into the source in {:?}",
        started.elapsed()
    );

    let source =
        Endpoint::connect("source", Arc::new(LocalRunner), source_server.connection()).await?;
    let target =
        Endpoint::connect("target", Arc::new(LocalRunner), target_server.connection()).await?;
    let writer = Writer::start(&source_server, dirs[0].path()).await?;

    let address = SourceAddress {
        host: "127.0.0.1".to_string(),
        port: source_server.port().context("the source has no TCP port")?,
    };
    let options = ReplicationOptions::new("wwdtm", address, "127.0.0.1");
    let started = Instant::now();
    let replica =
        replication::seed_and_start(&source, &target, &options, &SystemClock, &|_| {}).await?;
    println!("seeded the replica in {:?}", started.elapsed());

    let started = Instant::now();
    let wait = CatchUpOptions {
        timeout: Duration::from_secs(3600),
        poll: Duration::from_millis(200),
    };
    replication::wait_until_caught_up(&source, &target, &wait, &SystemClock).await?;
    println!(
        "caught up in {:?}, with {} writes on the source so far",
        started.elapsed(),
        writer.count()
    );
    tokio::time::sleep(WRITES_BEFORE_CUTOVER).await;

    let started = Instant::now();
    let report = replication::cutover(
        &source,
        &target,
        &replica,
        &CutoverOptions::default(),
        &SystemClock,
    )
    .await?;
    let cutover_time = started.elapsed();
    let writes = writer.stop().await?;

    let freeze = &report.freeze;
    let since_freeze = |at: jiff::Timestamp| at.duration_since(freeze.started_at).unsigned_abs();
    println!("writes drained after {:?}", since_freeze(freeze.drained_at));
    println!(
        "replica caught up after {:?}",
        since_freeze(report.caught_up_at)
    );
    println!(
        "write freeze: {:?} (scale {scale}, {writes} app writes, {} rows verified)",
        report.freeze_duration(),
        report.verified.total_rows()
    );
    println!("the cutover with verification took {cutover_time:?}");
    Ok(())
}

fn temporary_dir() -> anyhow::Result<tempfile::TempDir> {
    // Short paths under /tmp keep socket paths below the Unix limit.
    Ok(tempfile::Builder::new()
        .prefix("wwbench")
        .tempdir_in("/tmp")?)
}

/// Create `wwdtm` on the source and stream the generated data into it.
/// Returns the number of rows.
fn load_source(server: &ScratchServer, scale: u32) -> anyhow::Result<u64> {
    let socket = format!("--socket={}", server.socket().display());
    let status = Command::new("mariadb")
        .args([
            socket.as_str(),
            "-e",
            "CREATE DATABASE wwdtm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; \
             CREATE TABLE wwdtm.bench_writes (id bigint AUTO_INCREMENT PRIMARY KEY, \
             written_at datetime(6) NOT NULL) ENGINE=InnoDB",
        ])
        .status()?;
    if !status.success() {
        bail!("creating the database failed ({status})");
    }

    let mut child = Command::new("mariadb")
        .args([socket.as_str(), "--database=wwdtm"])
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot start `mariadb`")?;
    let stdin = child.stdin.take().context("the client has no stdin")?;
    let mut input = BufWriter::with_capacity(1 << 20, stdin);
    let options = GenerateOptions {
        scale,
        ..GenerateOptions::default()
    };
    let generated = generate::write_sql(&options, &mut input)?;
    input.flush()?;
    drop(input);
    let status = child.wait()?;
    if !status.success() {
        bail!("loading the generated data failed ({status})");
    }
    Ok(generated.tables.iter().map(|(_, rows)| rows).sum())
}

/// An app account inserting rows on the source, one client call at a
/// time, until a write fails (the freeze rejects it).
struct Writer {
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<u64>>,
}

impl Writer {
    async fn start(server: &ScratchServer, dir: &Path) -> anyhow::Result<Writer> {
        let user = DatabaseUser {
            name: "bench_app".to_string(),
            privileges: vec!["SELECT".to_string(), "INSERT".to_string()],
        };
        let created = create_app_users(
            &server.client(),
            "wwdtm",
            &[user],
            &["localhost".to_string()],
            &BTreeMap::new(),
        )
        .await?;

        // The password goes into an option file, never into argv.
        let option_file: PathBuf = dir.join("bench_app.cnf");
        std::fs::write(
            &option_file,
            format!(
                "[client]\nuser=bench_app\npassword={}\n",
                created[0].password.expose()
            ),
        )?;
        std::fs::set_permissions(&option_file, std::fs::Permissions::from_mode(0o600))?;

        let argv = vec![
            "mariadb".to_string(),
            format!("--defaults-extra-file={}", option_file.display()),
            format!("--socket={}", server.socket().display()),
            "--batch".to_string(),
        ];
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(write_until_rejected(argv, count.clone(), stop.clone()));
        Ok(Writer { count, stop, task })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Stop writing; returns the number of writes that succeeded.
    async fn stop(self) -> anyhow::Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

async fn write_until_rejected(
    argv: Vec<String>,
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    use wwctl::database::command::CommandRunner;

    let sql = b"INSERT INTO wwdtm.bench_writes (written_at) VALUES (NOW(6));\n";
    while !stop.load(Ordering::Relaxed) {
        let output = LocalRunner.run(&argv, sql).await?;
        if !output.status.success() {
            let stderr = output.stderr_text();
            if stderr.contains("read-only") {
                break;
            }
            bail!("a write on the source failed: {stderr}");
        }
        count.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(WRITE_PAUSE).await;
    }
    Ok(count.load(Ordering::Relaxed))
}
