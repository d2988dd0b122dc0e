//! What preflight needs to know about each side, read from a live server
//! (information_schema and server variables) or from dump text.

use std::collections::{BTreeMap, BTreeSet};

use crate::database::account::Account;
use crate::database::command::CommandRunner;
use crate::database::endpoint::Endpoint;
use crate::database::flavor::Flavor;
use crate::database::quote;
use crate::database::sql::{SqlError, SqlRunner};
use crate::database::verify;

/// A view, routine, trigger or event and the account it runs as.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct DefinedObject {
    /// `view`, `procedure`, `function`, `trigger` or `event`.
    pub kind: String,
    pub name: String,
    pub definer: Account,
}

/// The source database, as far as preflight cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFacts {
    /// Where the facts come from, for messages: a server or a dump file.
    pub origin: String,
    pub flavor: Option<Flavor>,
    pub collations: BTreeSet<String>,
    pub charsets: BTreeSet<String>,
    pub definers: Vec<DefinedObject>,
    /// `(table, engine)` of tables not on InnoDB.
    pub non_innodb: Vec<(String, String)>,
    /// `(table, bytes)` of the longest row, if known.
    pub largest_row: Option<(String, u64)>,
    /// `(table, bytes)`: the longest row each table's column types allow,
    /// so only a table whose rows could be too long needs a scan.
    pub row_bounds: Vec<(String, u64)>,
    /// Data and index bytes, if known.
    pub data_bytes: Option<u64>,
    /// The dump text sets `GTID_PURGED` (dump files only).
    pub dump_sets_gtid_purged: bool,
    /// `@@global.time_zone` and the offset from UTC in minutes.
    pub time_zone: Option<(String, i64)>,
    /// Privileges the current user holds globally or on the database.
    pub privileges: Option<BTreeSet<String>>,
    /// The GTID mode is on (MySQL) or the binary log has GTIDs (MariaDB).
    pub gtid_enabled: bool,
}

/// The target server, as far as preflight cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetFacts {
    pub origin: String,
    pub flavor: Option<Flavor>,
    pub collations: BTreeSet<String>,
    pub charsets: BTreeSet<String>,
    /// Accounts in `mysql.user`; `None` when the table cannot be read.
    pub accounts: Option<BTreeSet<Account>>,
    pub max_allowed_packet: u64,
    /// The target's executed GTID set (`gtid_executed` on MySQL,
    /// `gtid_current_pos` on MariaDB); empty for a clean server.
    pub gtid_executed: String,
    pub time_zone: Option<(String, i64)>,
    pub privileges: Option<BTreeSet<String>>,
    pub current_user: Option<Account>,
    pub free_bytes: Option<u64>,
    /// Tables already in the target database.
    pub existing_tables: usize,
}

fn text(row: &[Option<String>], index: usize) -> String {
    row.get(index).cloned().flatten().unwrap_or_default()
}

/// Read the source facts from a live server.
/// Read the source facts from a live server, its queries side by side.
/// The longest row is left to `largest_row`: it reads whole tables, so
/// preflight scans only the tables whose bound is too long for the target.
pub async fn source_facts(source: &Endpoint, database: &str) -> Result<SourceFacts, SqlError> {
    let sql = source.client();
    let schema = quote::string(database);

    let non_innodb_query = format!(
        "SELECT TABLE_NAME, IFNULL(ENGINE, '') FROM information_schema.TABLES
WHERE TABLE_SCHEMA = {schema} AND TABLE_TYPE = 'BASE TABLE' AND IFNULL(ENGINE, '') <> 'InnoDB'
ORDER BY TABLE_NAME"
    );
    let data_bytes_query = format!(
        "SELECT IFNULL(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES
WHERE TABLE_SCHEMA = {schema}"
    );
    let gtid_query = match source.version.flavor {
        Flavor::MySql => "SELECT @@GLOBAL.gtid_mode = 'ON'",
        Flavor::MariaDb => "SELECT @@GLOBAL.gtid_binlog_pos <> ''",
    };
    let (
        (collations, charsets),
        definers,
        non_innodb,
        data_bytes,
        gtid_enabled,
        row_bounds,
        time_zone,
        privileges,
    ) = tokio::try_join!(
        used_collations(&sql, &schema),
        definers(&sql, &schema),
        sql.query(&non_innodb_query),
        sql.scalar(&data_bytes_query),
        sql.scalar(gtid_query),
        row_bounds(&sql, &schema),
        time_zone(&sql),
        privileges(&sql, database),
    )?;

    Ok(SourceFacts {
        origin: source.describe(),
        flavor: Some(source.version.flavor),
        collations,
        charsets,
        definers,
        non_innodb: non_innodb
            .iter()
            .map(|row| (text(row, 0), text(row, 1)))
            .collect(),
        largest_row: None,
        row_bounds,
        data_bytes: data_bytes.and_then(|value| value.parse().ok()),
        dump_sets_gtid_purged: false,
        time_zone: Some(time_zone),
        privileges: Some(privileges),
        gtid_enabled: gtid_enabled.as_deref() == Some("1"),
    })
}

/// Numbers and temporal values print in at most this many bytes (a
/// `DECIMAL(65,30)` with sign and point takes 67).
const FIXED_COLUMN_BYTES: u64 = 70;

/// Read the longest row each base table's column types allow: the
/// character octet length of string and binary columns, and
/// `FIXED_COLUMN_BYTES` for numbers and temporal values. A type with no
/// length, such as a spatial type or MySQL's `JSON`, counts as unbounded.
async fn row_bounds(sql: &dyn SqlRunner, schema: &str) -> Result<Vec<(String, u64)>, SqlError> {
    let query = format!(
        "SELECT c.TABLE_NAME, SUM(CASE
    WHEN c.CHARACTER_OCTET_LENGTH IS NOT NULL THEN c.CHARACTER_OCTET_LENGTH
    WHEN c.NUMERIC_PRECISION IS NOT NULL OR c.DATETIME_PRECISION IS NOT NULL
      OR LOWER(c.DATA_TYPE) IN ('date', 'year') THEN {FIXED_COLUMN_BYTES}
    ELSE {unbounded} END)
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = {schema} AND t.TABLE_TYPE = 'BASE TABLE'
GROUP BY c.TABLE_NAME
ORDER BY c.TABLE_NAME",
        unbounded = u32::MAX
    );
    Ok(sql
        .query(&query)
        .await?
        .iter()
        .map(|row| (text(row, 0), text(row, 1).parse().unwrap_or(u64::MAX)))
        .collect())
}

/// Collations and character sets that the database's schema, tables,
/// columns and stored programs use.
async fn used_collations(
    sql: &dyn SqlRunner,
    schema: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>), SqlError> {
    let query = format!(
        "SELECT 'collation', DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {schema}
UNION SELECT 'charset', DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {schema}
UNION SELECT 'collation', TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema}
UNION SELECT 'collation', COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {schema}
UNION SELECT 'charset', CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {schema}
UNION SELECT 'collation', COLLATION_CONNECTION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {schema}
UNION SELECT 'charset', CHARACTER_SET_CLIENT FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {schema}
UNION SELECT 'collation', COLLATION_CONNECTION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {schema}
UNION SELECT 'collation', DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {schema}
UNION SELECT 'charset', CHARACTER_SET_CLIENT FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {schema}
UNION SELECT 'collation', COLLATION_CONNECTION FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {schema}
UNION SELECT 'collation', DATABASE_COLLATION FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {schema}
UNION SELECT 'charset', CHARACTER_SET_CLIENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {schema}
UNION SELECT 'collation', COLLATION_CONNECTION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {schema}
UNION SELECT 'collation', DATABASE_COLLATION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {schema}
UNION SELECT 'charset', CHARACTER_SET_CLIENT FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {schema}"
    );

    let mut collations = BTreeSet::new();
    let mut charsets = BTreeSet::new();
    for row in sql.query(&query).await? {
        let (kind, Some(name)) = (text(&row, 0), row.get(1).cloned().flatten()) else {
            continue;
        };
        if kind == "collation" {
            collations.insert(name);
        } else {
            charsets.insert(name);
        }
    }
    Ok((collations, charsets))
}

async fn definers(sql: &dyn SqlRunner, schema: &str) -> Result<Vec<DefinedObject>, SqlError> {
    let query = format!(
        "SELECT 'view', TABLE_NAME, DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {schema}
UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME, DEFINER FROM information_schema.ROUTINES
  WHERE ROUTINE_SCHEMA = {schema}
UNION ALL SELECT 'trigger', TRIGGER_NAME, DEFINER FROM information_schema.TRIGGERS
  WHERE TRIGGER_SCHEMA = {schema}
UNION ALL SELECT 'event', EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {schema}"
    );
    let mut objects: Vec<DefinedObject> = sql
        .query(&query)
        .await?
        .iter()
        .filter_map(|row| {
            Some(DefinedObject {
                kind: text(row, 0),
                name: text(row, 1),
                definer: Account::parse_definer(&text(row, 2))?,
            })
        })
        .collect();
    objects.sort();
    Ok(objects)
}

/// The longest row of any table, in bytes of its column values. It scans
/// every table once, in one client call.
/// Read the longest row of `tables` in `database`: every row of them.
pub async fn largest_row(
    sql: &dyn SqlRunner,
    database: &str,
    tables: &[String],
) -> Result<Option<(String, u64)>, SqlError> {
    let query = format!(
        "SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = {} AND t.TABLE_TYPE = 'BASE TABLE'
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        quote::string(database)
    );
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in sql.query(&query).await? {
        let table = text(&row, 0);
        if tables.contains(&table) {
            columns.entry(table).or_default().push(text(&row, 1));
        }
    }
    if columns.is_empty() {
        return Ok(None);
    }

    let mut queries = String::new();
    for (table, names) in &columns {
        let lengths: Vec<String> = names
            .iter()
            .map(|name| format!("IFNULL(LENGTH({}), 0)", quote::identifier(name)))
            .collect();
        queries.push_str(&format!(
            "SELECT {}, IFNULL(MAX({}), 0) FROM {}.{};\n",
            quote::string(table),
            lengths.join(" + "),
            quote::identifier(database),
            quote::identifier(table)
        ));
    }
    let largest = sql
        .query(&queries)
        .await?
        .iter()
        .map(|row| (text(row, 0), text(row, 1).parse::<u64>().unwrap_or(0)))
        .max_by_key(|(_, bytes)| *bytes);
    Ok(largest)
}

async fn time_zone(sql: &dyn SqlRunner) -> Result<(String, i64), SqlError> {
    let rows = sql
        .query(
            "SELECT IF(@@GLOBAL.time_zone = 'SYSTEM', CONCAT('SYSTEM (', @@system_time_zone, ')'), @@GLOBAL.time_zone),
TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW())",
        )
        .await?;
    let row = rows.first().cloned().unwrap_or_default();
    Ok((text(&row, 0), text(&row, 1).parse().unwrap_or(0)))
}

/// Privileges of the current user, globally and on `database`.
async fn privileges(sql: &dyn SqlRunner, database: &str) -> Result<BTreeSet<String>, SqlError> {
    let grantee = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
                   SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";
    let query = format!(
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {grantee}
UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES
  WHERE GRANTEE = {grantee} AND TABLE_SCHEMA = {}",
        quote::string(database)
    );
    Ok(sql
        .query(&query)
        .await?
        .iter()
        .map(|row| text(row, 0).to_uppercase())
        .collect())
}

/// Read the target facts from a live server. `free_bytes` overrides the
/// free disk space, which is otherwise read with `df` on the target's data
/// directory.
pub async fn target_facts(
    target: &Endpoint,
    database: &str,
    free_bytes: Option<u64>,
) -> Result<TargetFacts, SqlError> {
    let sql = target.client();
    let gtid_query = match target.version.flavor {
        Flavor::MySql => "SELECT @@GLOBAL.gtid_executed",
        Flavor::MariaDb => "SELECT @@GLOBAL.gtid_current_pos",
    };
    let free_bytes = async {
        match free_bytes {
            Some(bytes) => Ok(Some(bytes)),
            None => {
                let datadir = sql.scalar("SELECT @@datadir").await?.unwrap_or_default();
                Ok(free_bytes_on(target.runner.as_ref(), &datadir).await)
            }
        }
    };
    // Reading mysql.user needs a privilege the load user may lack. Then the
    // definer check reports that it could not run, and preflight goes on.
    let accounts = async { Ok(sql.query("SELECT User, Host FROM mysql.user").await.ok()) };
    let (
        collation_rows,
        accounts,
        gtid_executed,
        max_allowed_packet,
        current_user,
        objects,
        free_bytes,
        time_zone,
        privileges,
    ) = tokio::try_join!(
        sql.query("SELECT COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS"),
        accounts,
        sql.scalar(gtid_query),
        sql.scalar("SELECT @@GLOBAL.max_allowed_packet"),
        sql.scalar("SELECT CURRENT_USER()"),
        verify::objects(&sql, database),
        free_bytes,
        time_zone(&sql),
        privileges(&sql, database),
    )?;

    let mut collations = BTreeSet::new();
    let mut charsets = BTreeSet::new();
    for row in collation_rows {
        collations.insert(text(&row, 0));
        charsets.insert(text(&row, 1));
    }
    Ok(TargetFacts {
        origin: target.describe(),
        flavor: Some(target.version.flavor),
        collations,
        charsets,
        accounts: accounts.map(|rows| {
            rows.iter()
                .map(|row| Account::new(text(row, 0), text(row, 1)))
                .collect()
        }),
        max_allowed_packet: max_allowed_packet
            .and_then(|value| value.parse().ok())
            .unwrap_or(0),
        gtid_executed: gtid_executed.unwrap_or_default().replace('\n', ""),
        time_zone: Some(time_zone),
        privileges: Some(privileges),
        current_user: current_user.and_then(|text| Account::parse_definer(&text)),
        free_bytes,
        existing_tables: objects.tables.len(),
    })
}

/// Free bytes of the file system holding `path`, from `df` on the machine
/// of `runner`; `None` when `df` fails or its output is not understood.
pub async fn free_bytes_on(runner: &dyn CommandRunner, path: &str) -> Option<u64> {
    if path.is_empty() {
        return None;
    }
    let argv: Vec<String> = ["df", "-P", "-B1", "--", path].map(String::from).to_vec();
    let output = runner.run(&argv, b"").await.ok()?;
    if !output.status.success() {
        return None;
    }
    // POSIX format: a header line, then `fs size used available ...`.
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}
