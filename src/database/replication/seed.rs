//! Seeding a replica and starting replication: the first step of
//! replication mode.

use crate::clock::Clock;
use crate::database::dump::{DumpScope, SyncMode, dump_argv, load_argv};
use crate::database::endpoint::Endpoint;
use crate::database::pipeline::{Command, Progress, StreamError, StreamStats, run_stream};
use crate::database::preflight::finding::Finding;
use crate::database::preflight::{self, Preflight, PreflightFailed};
use crate::database::replication::catch_up::read_source_position;
use crate::database::replication::preconditions::{self, ServerFacts};
use crate::database::replication::statements::{self, SourceConnection};
use crate::database::replication::{Replica, ReplicationError, ReplicationOptions};
use crate::database::sql::{SqlError, SqlRunner};
use crate::database::users;
use crate::secret::Secret;

/// Check the preconditions, create the replication account on the source,
/// seed the target from a consistent dump that carries the source's GTID
/// position, and start replication on the target.
///
/// Nothing changes on either server unless every precondition and
/// preflight check passes. The account's password is generated here and
/// travels only inside SQL on the client's stdin.
pub async fn seed_and_start(
    source: &Endpoint,
    target: &Endpoint,
    options: &ReplicationOptions,
    clock: &dyn Clock,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Replica, ReplicationError> {
    let database = options.database.as_str();
    let flavor = source.version.flavor;
    let (preflight, source_facts) = check(source, target, options).await?;

    // Read before the dump, so it is at or before the dump's position.
    let position_before_seed = read_source_position(source).await?;

    let password = users::generate_password();
    create_account(source, options, &password).await?;

    let created = create_database(target, database, &source_facts).await?;
    let seed = match stream_seed(source, target, database, &preflight, progress).await {
        Ok(stats) => stats,
        Err(error) => {
            let dropped = created && drop_database(target, database).await;
            return Err(ReplicationError::Seed {
                database: database.to_string(),
                dropped,
                source: error,
            });
        }
    };

    let seed_position = seeded_position(target, &position_before_seed).await?;
    start(target, options, &password).await?;
    let started_at = clock.now();
    tracing::info!(
        "replication of `{database}` started on {} from {}:{} after GTID position `{seed_position}`",
        target.describe(),
        options.source_address.host,
        options.source_address.port
    );

    Ok(Replica {
        database: database.to_string(),
        flavor,
        account: options.account(),
        source_address: options.source_address.clone(),
        seed_position,
        preflight,
        seed,
        started_at,
    })
}

fn sql_error<'a>(
    step: &'static str,
    endpoint: &'a Endpoint,
) -> impl FnOnce(SqlError) -> ReplicationError + 'a {
    move |source| ReplicationError::Sql {
        step,
        host: endpoint.describe(),
        source,
    }
}

/// Run the replication preconditions and the seed-mode preflight; every
/// error finding of both goes into one failure.
async fn check(
    source: &Endpoint,
    target: &Endpoint,
    options: &ReplicationOptions,
) -> Result<(Preflight, ServerFacts), ReplicationError> {
    let account = options.account();
    let (source_facts, target_facts) = tokio::join!(
        preconditions::read_facts(source, &options.database, Some(&account)),
        preconditions::read_facts(target, &options.database, None),
    );
    let source_facts = source_facts.map_err(sql_error("read the replication settings", source))?;
    let target_facts = target_facts.map_err(sql_error("read the replication settings", target))?;
    let findings = preconditions::check(&source_facts, &target_facts, options);
    log_findings(&findings);

    let mut preflight_options = options.preflight.clone();
    preflight_options.database = options.database.clone();
    preflight_options.mode = SyncMode::ReplicationSeed;
    let mut preflight = preflight::run(source, target, &preflight_options)
        .await
        .map_err(sql_error("run the preflight checks", target))?;
    preflight.findings.extend(findings);

    if !preflight.passed() {
        return Err(PreflightFailed {
            target: preflight.target.clone(),
            errors: preflight.errors().cloned().collect(),
        }
        .into());
    }
    Ok((preflight, source_facts))
}

fn log_findings(findings: &[Finding]) {
    use crate::database::preflight::finding::Severity;

    for finding in findings {
        match finding.severity {
            Severity::Error => tracing::error!("replication precondition: {}", finding.message),
            Severity::Warning => tracing::warn!("replication precondition: {}", finding.message),
            Severity::Info => tracing::info!("replication precondition: {}", finding.message),
        }
    }
}

async fn create_account(
    source: &Endpoint,
    options: &ReplicationOptions,
    password: &Secret,
) -> Result<(), ReplicationError> {
    let account = options.account();
    let sql = statements::create_account(&account, password, options.tls);
    let label = statements::create_account_label(&account);
    source
        .client()
        .execute_secret(&sql, &label, &[password])
        .await
        .map_err(|error| ReplicationError::Account {
            account: account.clone(),
            host: source.describe(),
            source: error,
        })?;
    tracing::info!(
        "created or updated replication account {account} with {} on {}",
        statements::REPLICATION_PRIVILEGE,
        source.describe()
    );
    Ok(())
}

/// Create the database on the target with the source's character set and
/// collation; returns whether this run created it.
async fn create_database(
    target: &Endpoint,
    database: &str,
    source_facts: &ServerFacts,
) -> Result<bool, ReplicationError> {
    let exists = target
        .client()
        .scalar(&format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
            crate::database::quote::string(database)
        ))
        .await
        .map_err(sql_error("look up the target database", target))?
        .as_deref()
        != Some("0");
    if exists {
        return Ok(false);
    }

    // The preconditions made sure the source database exists.
    let (charset, collation) = source_facts.database_charset.clone().unwrap_or_default();
    target
        .client()
        .execute(&statements::create_database(database, &charset, &collation))
        .await
        .map_err(sql_error("create the target database", target))?;
    Ok(true)
}

/// Drop the database after a failed seed; returns whether that worked.
async fn drop_database(target: &Endpoint, database: &str) -> bool {
    match target
        .client()
        .execute(&statements::drop_database(database))
        .await
    {
        Ok(()) => {
            tracing::warn!(
                "dropped the incomplete database `{database}` this run created on {}",
                target.describe()
            );
            true
        }
        Err(error) => {
            tracing::error!(
                "cannot drop the incomplete database `{database}` on {}: {error}",
                target.describe()
            );
            false
        }
    }
}

/// Stream the seed: one `--single-transaction` dump of the whole database,
/// with the GTID position, into the target without binary logging. The
/// preflight's filter rules keep the GTID statements in seed mode.
async fn stream_seed(
    source: &Endpoint,
    target: &Endpoint,
    database: &str,
    preflight: &Preflight,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<StreamStats, StreamError> {
    let dump = Command {
        runner: source.runner.clone(),
        argv: dump_argv(
            &source.connection,
            source.version.flavor,
            SyncMode::ReplicationSeed,
            database,
            &DumpScope::Full,
        ),
    };
    let mut load_command = load_argv(&target.connection, database);
    load_command.push(statements::LOAD_WITHOUT_BINARY_LOG.to_string());
    let load = Command {
        runner: target.runner.clone(),
        argv: load_command,
    };
    run_stream(
        "replication seed",
        &dump,
        &load,
        preflight.rules.clone(),
        progress,
    )
    .await
}

/// Read the GTID position the seed set on the target. It must not be
/// empty when the source's binary log already had transactions before the
/// dump: the replica would then replay them onto the seeded rows.
async fn seeded_position(
    target: &Endpoint,
    position_before_seed: &str,
) -> Result<String, ReplicationError> {
    let position = target
        .client()
        .scalar(statements::seeded_position(target.version.flavor))
        .await
        .map_err(sql_error("read the seeded GTID position", target))?
        .unwrap_or_default()
        .replace('\n', "");
    if position.trim().is_empty() && !position_before_seed.trim().is_empty() {
        return Err(ReplicationError::NoSeedPosition {
            host: target.describe(),
            source_position: position_before_seed.replace('\n', ""),
        });
    }
    Ok(position)
}

/// Point the target at the source and start both threads.
async fn start(
    target: &Endpoint,
    options: &ReplicationOptions,
    password: &Secret,
) -> Result<(), ReplicationError> {
    let flavor = target.version.flavor;
    let connection = SourceConnection {
        host: &options.source_address.host,
        port: options.source_address.port,
        user: &options.user,
        password,
        tls: options.tls,
        connect_retry_seconds: u32::try_from(options.connect_retry.as_secs()).unwrap_or(u32::MAX),
    };
    let sql = statements::configure(flavor, &options.database, &connection);
    let label = statements::configure_label(flavor, &connection);
    target
        .client()
        .execute_secret(&sql, &label, &[password])
        .await
        .map_err(sql_error("configure replication", target))?;

    target
        .client()
        .execute(statements::start(flavor))
        .await
        .map_err(sql_error("start replication", target))
}
