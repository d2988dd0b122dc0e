//! What replication needs from both servers, checked before anything
//! changes: distinct server identities, a row-based binary log on the
//! source, GTIDs on MySQL, a clean target, and a replication account that
//! is either new or has nothing but the replication privilege.

use crate::database::account::Account;
use crate::database::endpoint::Endpoint;
use crate::database::flavor::{Flavor, ServerVersion};
use crate::database::preflight::finding::Finding;
use crate::database::quote;
use crate::database::replication::statements::REPLICATION_PRIVILEGE;
use crate::database::replication::{ReplicationOptions, status};
use crate::database::sql::{SqlError, SqlRunner};
use crate::database::tsv::Row;
use crate::database::verify;

/// MySQL 8.0.26 is the first with `mysqldump --source-data`; 8.0.23 added
/// `CHANGE REPLICATION SOURCE TO`.
const MYSQL_MINIMUM: (u32, u32, u32) = (8, 0, 26);

/// MySQL 8.0 limits user names to 32 characters; MariaDB allows more.
const MAX_USER_CHARS: usize = 32;

/// One server's replication settings and, for the check, its database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerFacts {
    /// The server, for messages: `source (MariaDB 10.11.19 on local)`.
    pub origin: String,
    pub version: Option<ServerVersion>,
    pub server_id: u64,
    /// MySQL only: MariaDB has no `server_uuid`.
    pub server_uuid: Option<String>,
    pub log_bin: bool,
    pub binlog_format: String,
    /// MySQL only: `gtid_mode` and `enforce_gtid_consistency`.
    pub gtid_mode: Option<String>,
    pub enforce_gtid_consistency: Option<String>,
    /// MariaDB only: the domain of the GTIDs the server writes.
    pub gtid_domain_id: Option<u32>,
    /// The database's default character set and collation; `None` when the
    /// database does not exist.
    pub database_charset: Option<(String, String)>,
    pub database_tables: usize,
    /// The source the server replicates from, if any.
    pub replicates_from: Option<String>,
    /// The replication account's privileges, if the account exists.
    pub account_privileges: Option<Vec<String>>,
}

fn text(row: &Row, index: usize) -> String {
    row.get(index).cloned().flatten().unwrap_or_default()
}

/// Read one server's facts; `account` is the replication account, looked
/// up on the source only.
pub async fn read_facts(
    endpoint: &Endpoint,
    database: &str,
    account: Option<&Account>,
) -> Result<ServerFacts, SqlError> {
    let sql = endpoint.client();
    let flavor = endpoint.version.flavor;
    let mut facts = ServerFacts {
        origin: endpoint.describe(),
        version: Some(endpoint.version.clone()),
        ..ServerFacts::default()
    };

    let query = match flavor {
        Flavor::MariaDb => {
            "SELECT @@GLOBAL.server_id, @@GLOBAL.log_bin, @@GLOBAL.binlog_format, \
             @@GLOBAL.gtid_domain_id"
        }
        Flavor::MySql => {
            "SELECT @@GLOBAL.server_id, @@GLOBAL.log_bin, @@GLOBAL.binlog_format, \
             @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, @@GLOBAL.enforce_gtid_consistency"
        }
    };
    let row = sql
        .query(query)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    facts.server_id = text(&row, 0).parse().unwrap_or(0);
    facts.log_bin = text(&row, 1) == "1";
    facts.binlog_format = text(&row, 2).to_ascii_uppercase();
    match flavor {
        Flavor::MariaDb => facts.gtid_domain_id = text(&row, 3).parse().ok(),
        Flavor::MySql => {
            facts.server_uuid = Some(text(&row, 3));
            facts.gtid_mode = Some(text(&row, 4).to_ascii_uppercase());
            facts.enforce_gtid_consistency = Some(text(&row, 5).to_ascii_uppercase());
        }
    }

    let schema = sql
        .query(&format!(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
            quote::string(database)
        ))
        .await?;
    facts.database_charset = schema.first().map(|row| (text(row, 0), text(row, 1)));
    facts.database_tables = verify::objects(&sql, database).await?.tables.len();

    facts.replicates_from = status::read(endpoint)
        .await?
        .status
        .map(|status| status.source_host)
        .filter(|host| !host.is_empty());

    if let Some(account) = account {
        facts.account_privileges = account_privileges(&sql, account).await?;
    }
    Ok(facts)
}

/// Read the privileges of `account` at every level, or `None` when it does
/// not exist. An account without privileges has `USAGE`.
async fn account_privileges(
    sql: &dyn SqlRunner,
    account: &Account,
) -> Result<Option<Vec<String>>, SqlError> {
    let exists = sql
        .scalar(&format!(
            "SELECT COUNT(*) FROM mysql.user WHERE User = {} AND Host = {}",
            quote::string(&account.user),
            quote::string(&account.host)
        ))
        .await?;
    if exists.as_deref() == Some("0") {
        return Ok(None);
    }

    let grantee = quote::string(&account.sql());
    let rows = sql
        .query(&format!(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {grantee}
UNION SELECT CONCAT(PRIVILEGE_TYPE, ' ON ', TABLE_SCHEMA, '.*')
  FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = {grantee}
UNION SELECT CONCAT(PRIVILEGE_TYPE, ' ON ', TABLE_SCHEMA, '.', TABLE_NAME)
  FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = {grantee}"
        ))
        .await?;
    let mut privileges: Vec<String> = rows.iter().map(|row| text(row, 0)).collect();
    privileges.sort();
    Ok(Some(privileges))
}

/// Check both sides and the options. Every finding names the server and
/// the setting; an error finding stops replication before anything
/// changes.
pub fn check(
    source: &ServerFacts,
    target: &ServerFacts,
    options: &ReplicationOptions,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    check_options(options, target, &mut findings);
    check_versions(source, target, &mut findings);
    check_identity(source, target, &mut findings);
    check_binary_log(source, &mut findings);
    check_gtid(source, target, &mut findings);
    check_databases(source, target, options, &mut findings);
    check_account(source, options, &mut findings);
    findings
}

fn check_options(options: &ReplicationOptions, target: &ServerFacts, findings: &mut Vec<Finding>) {
    let address = &options.source_address;
    if address.host.is_empty() || address.host.eq_ignore_ascii_case("localhost") {
        findings.push(Finding::error(
            "source_address",
            format!(
                "the source address `{}` is not one the replica can reach over TCP; `localhost` \
                 would make the replica use its own socket",
                address.host
            ),
            "give the source's IP address or name as the replica sees it, such as its private address",
        ));
    }
    if address.port == 0 {
        findings.push(Finding::error(
            "source_address",
            "the source port is 0",
            "give the port the source listens on, usually 3306",
        ));
    }
    if options.replica_host.is_empty() {
        findings.push(Finding::error(
            "replica_host",
            "no replica host given for the replication account",
            "give the replica's address as the source sees it; the account accepts connections only from there",
        ));
    }
    let user_chars = options.user.chars().count();
    if user_chars == 0 || user_chars > MAX_USER_CHARS {
        findings.push(Finding::error(
            "replication_user",
            format!(
                "the replication user name `{}` has {user_chars} characters",
                options.user
            ),
            format!("use a name of 1 to {MAX_USER_CHARS} characters"),
        ));
    }
    let flavor = target.version.as_ref().map(|version| version.flavor);
    if flavor == Some(Flavor::MariaDb) && options.database.contains(',') {
        findings.push(Finding::error(
            "replication_filter",
            format!(
                "database `{}` contains a comma, which MariaDB's `replicate_wild_do_table` reads \
                 as a list separator",
                options.database
            ),
            "rename the database, or use dump/load mode",
        ));
    }
}

fn check_versions(source: &ServerFacts, target: &ServerFacts, findings: &mut Vec<Finding>) {
    for facts in [source, target] {
        let Some(version) = &facts.version else {
            continue;
        };
        if version.flavor == Flavor::MySql
            && (version.major, version.minor, version.patch) < MYSQL_MINIMUM
        {
            findings.push(Finding::error(
                "version",
                format!(
                    "{} is older than MySQL 8.0.26, which replication mode needs for \
                     `mysqldump --source-data` and `CHANGE REPLICATION SOURCE TO`",
                    facts.origin
                ),
                "upgrade to MySQL 8.0.26 or later, or use dump/load mode",
            ));
        }
    }
}

fn check_identity(source: &ServerFacts, target: &ServerFacts, findings: &mut Vec<Finding>) {
    for facts in [source, target] {
        if facts.server_id == 0 {
            findings.push(Finding::error(
                "server_id",
                format!("{} has server_id 0, which cannot take part in replication", facts.origin),
                "set `server_id` to a unique positive number in the server's configuration and restart it",
            ));
        }
    }
    if source.server_id != 0 && source.server_id == target.server_id {
        findings.push(Finding::error(
            "server_id",
            format!(
                "{} and {} both have server_id {}; a replica skips events that carry its own id",
                source.origin, target.origin, source.server_id
            ),
            "give the target another `server_id` in its server configuration and restart it",
        ));
    }
    if let (Some(source_uuid), Some(target_uuid)) = (&source.server_uuid, &target.server_uuid)
        && !source_uuid.is_empty()
        && source_uuid == target_uuid
    {
        findings.push(Finding::error(
            "server_uuid",
            format!(
                "{} and {} both have server_uuid {source_uuid}, as happens when a data directory \
                 is copied",
                source.origin, target.origin
            ),
            "stop the target, delete `auto.cnf` in its data directory and start it again, so it \
             generates a new UUID",
        ));
    }
}

fn check_binary_log(source: &ServerFacts, findings: &mut Vec<Finding>) {
    if !source.log_bin {
        findings.push(Finding::error(
            "log_bin",
            format!(
                "{} has no binary log, so a replica has nothing to read",
                source.origin
            ),
            "set `log_bin` (and `server_id`) in the source's configuration and restart it",
        ));
    }
    if source.log_bin && source.binlog_format != "ROW" {
        findings.push(Finding::error(
            "binlog_format",
            format!(
                "{} logs in `{}` format; replication mode needs `ROW`, so every change \
                 replays exactly and the table filter applies to every row",
                source.origin, source.binlog_format
            ),
            "set `binlog_format = ROW` in the source's configuration (or `SET GLOBAL \
             binlog_format = 'ROW'` until the next restart)",
        ));
    }
}

fn check_gtid(source: &ServerFacts, target: &ServerFacts, findings: &mut Vec<Finding>) {
    for facts in [source, target] {
        let (Some(mode), Some(consistency)) = (&facts.gtid_mode, &facts.enforce_gtid_consistency)
        else {
            continue;
        };
        if mode != "ON" || consistency != "ON" {
            findings.push(Finding::error(
                "gtid_mode",
                format!(
                    "{} has gtid_mode {mode} and enforce_gtid_consistency {consistency}; \
                     replication mode uses GTID auto-positioning",
                    facts.origin
                ),
                "set `gtid_mode = ON` and `enforce_gtid_consistency = ON` in the server's \
                 configuration and restart it",
            ));
        }
    }

    if let (Some(source_domain), Some(target_domain)) =
        (source.gtid_domain_id, target.gtid_domain_id)
    {
        let detail = if source_domain == target_domain {
            "replicated and, after promotion, new transactions share the domain; the target is \
             read-only while it replicates, so its sequence numbers cannot collide with the source's"
        } else {
            "after promotion the target writes its own transactions in its domain"
        };
        findings.push(Finding::info(
            "gtid_domain_id",
            format!(
                "gtid_domain_id is {source_domain} on {} and {target_domain} on {}: {detail}",
                source.origin, target.origin
            ),
        ));
    }
}

fn check_databases(
    source: &ServerFacts,
    target: &ServerFacts,
    options: &ReplicationOptions,
    findings: &mut Vec<Finding>,
) {
    let database = &options.database;
    if source.database_charset.is_none() {
        findings.push(Finding::error(
            "database",
            format!("database `{database}` does not exist on {}", source.origin),
            "check the database name",
        ));
    }
    if target.database_tables > 0 {
        findings.push(Finding::error(
            "target_database",
            format!(
                "database `{database}` on {} already has {} table(s); a replica must be seeded \
                 into an empty database",
                target.origin, target.database_tables
            ),
            format!("drop database `{database}` on the target first, after making sure nothing there is needed"),
        ));
    }
    if let Some(host) = &target.replicates_from {
        findings.push(Finding::error(
            "replica",
            format!("{} already replicates from `{host}`", target.origin),
            "stop and reset that replication on the target first (`RESET SLAVE ALL` on MariaDB, \
             `RESET REPLICA ALL` on MySQL)",
        ));
    }
}

fn check_account(source: &ServerFacts, options: &ReplicationOptions, findings: &mut Vec<Finding>) {
    let account = options.account();
    let Some(privileges) = &source.account_privileges else {
        return;
    };
    let extra: Vec<&String> = privileges
        .iter()
        .filter(|privilege| *privilege != "USAGE" && *privilege != REPLICATION_PRIVILEGE)
        .collect();
    if extra.is_empty() {
        findings.push(Finding::info(
            "replication_user",
            format!(
                "replication account {account} exists on {}; it gets a new password",
                source.origin
            ),
        ));
        return;
    }
    let extra: Vec<&str> = extra.iter().map(|privilege| privilege.as_str()).collect();
    findings.push(Finding::error(
        "replication_user",
        format!(
            "account {account} on {} holds {} besides {REPLICATION_PRIVILEGE}; the replication \
             account must hold nothing else",
            source.origin,
            extra.join(", ")
        ),
        "choose another replication user name, or revoke those privileges from the account",
    ));
}

#[cfg(test)]
mod tests {
    use super::{ServerFacts, check};
    use crate::database::flavor::ServerVersion;
    use crate::database::preflight::finding::{Finding, Severity};
    use crate::database::replication::{ReplicationOptions, SourceAddress};

    fn mariadb(origin: &str, server_id: u64) -> ServerFacts {
        ServerFacts {
            origin: origin.to_string(),
            version: ServerVersion::parse("10.11.19-MariaDB-0+deb12u1"),
            server_id,
            log_bin: true,
            binlog_format: "ROW".to_string(),
            gtid_domain_id: Some(0),
            database_charset: Some(("utf8mb4".to_string(), "utf8mb4_unicode_ci".to_string())),
            ..ServerFacts::default()
        }
    }

    fn mysql(origin: &str, server_id: u64, uuid: &str) -> ServerFacts {
        ServerFacts {
            origin: origin.to_string(),
            version: ServerVersion::parse("8.0.36"),
            server_id,
            server_uuid: Some(uuid.to_string()),
            log_bin: true,
            binlog_format: "ROW".to_string(),
            gtid_mode: Some("ON".to_string()),
            enforce_gtid_consistency: Some("ON".to_string()),
            database_charset: Some(("utf8mb4".to_string(), "utf8mb4_0900_ai_ci".to_string())),
            ..ServerFacts::default()
        }
    }

    fn options() -> ReplicationOptions {
        ReplicationOptions::new(
            "wwdtm",
            SourceAddress {
                host: "10.77.0.5".to_string(),
                port: 3306,
            },
            "10.77.0.6",
        )
    }

    fn errors(findings: &[Finding]) -> Vec<&'static str> {
        findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .map(|finding| finding.check)
            .collect()
    }

    #[test]
    fn distinct_servers_pass() {
        let findings = check(&mariadb("source", 1), &mariadb("target", 2), &options());
        assert!(errors(&findings).is_empty(), "{findings:?}");
        let domain = findings
            .iter()
            .find(|finding| finding.check == "gtid_domain_id")
            .unwrap();
        assert!(
            domain
                .message
                .contains("gtid_domain_id is 0 on source and 0 on target")
        );
    }

    #[test]
    fn same_server_id_is_an_error() {
        let findings = check(&mariadb("source", 1), &mariadb("target", 1), &options());
        assert_eq!(errors(&findings), vec!["server_id"]);
        let finding = findings.iter().find(|f| f.check == "server_id").unwrap();
        assert!(
            finding.message.contains("both have server_id 1"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn mysql_same_uuid_is_an_error() {
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let findings = check(
            &mysql("source", 1, uuid),
            &mysql("target", 2, uuid),
            &options(),
        );
        assert_eq!(errors(&findings), vec!["server_uuid"]);
        let finding = findings.iter().find(|f| f.check == "server_uuid").unwrap();
        assert!(finding.hint.contains("auto.cnf"));
    }

    #[test]
    fn mysql_needs_gtid_mode_and_recent_version() {
        let mut source = mysql("source", 1, "3e11fa47-71ca-11e1-9e33-c80aa9429562");
        source.gtid_mode = Some("OFF".to_string());
        source.version = ServerVersion::parse("8.0.22");
        let target = mysql("target", 2, "4c8a2b1e-71ca-11e1-9e33-c80aa9429562");
        let findings = check(&source, &target, &options());
        assert_eq!(errors(&findings), vec!["version", "gtid_mode"]);
    }

    #[test]
    fn source_needs_row_binary_log() {
        let mut source = mariadb("source", 1);
        source.binlog_format = "MIXED".to_string();
        let findings = check(&source, &mariadb("target", 2), &options());
        assert_eq!(errors(&findings), vec!["binlog_format"]);

        source.log_bin = false;
        let findings = check(&source, &mariadb("target", 2), &options());
        assert_eq!(errors(&findings), vec!["log_bin"]);
    }

    #[test]
    fn target_must_be_clean_and_not_replicating() {
        let mut target = mariadb("target", 2);
        target.database_tables = 3;
        target.replicates_from = Some("10.77.0.9".to_string());
        let findings = check(&mariadb("source", 1), &target, &options());
        assert_eq!(errors(&findings), vec!["target_database", "replica"]);
    }

    #[test]
    fn existing_account_with_more_privileges_is_an_error() {
        let mut source = mariadb("source", 1);
        source.account_privileges =
            Some(vec!["REPLICATION SLAVE".to_string(), "USAGE".to_string()]);
        let findings = check(&source, &mariadb("target", 2), &options());
        assert!(errors(&findings).is_empty(), "{findings:?}");

        source.account_privileges = Some(vec![
            "REPLICATION SLAVE".to_string(),
            "SELECT ON wwdtm.*".to_string(),
        ]);
        let findings = check(&source, &mariadb("target", 2), &options());
        assert_eq!(errors(&findings), vec!["replication_user"]);
        let finding = findings
            .iter()
            .find(|f| f.check == "replication_user")
            .unwrap();
        assert!(
            finding.message.contains("holds SELECT ON wwdtm.*"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn localhost_source_address_is_an_error() {
        let mut options = options();
        options.source_address.host = "localhost".to_string();
        options.replica_host.clear();
        let findings = check(&mariadb("source", 1), &mariadb("target", 2), &options);
        assert_eq!(errors(&findings), vec!["source_address", "replica_host"]);
    }
}
