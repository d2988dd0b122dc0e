//! Proof that two databases hold the same data: per table a row count and a
//! content checksum, and the counts of tables, views, routines, triggers
//! and events.
//!
//! The checksum is computed on the server, the same way on MySQL 8 and
//! MariaDB, with functions both have (`CRC32`, `CONCAT_WS`, `HEX`, `CAST`,
//! `SUM`):
//!
//! - Each column becomes text that is exact and cannot collide with another
//!   value: `HEX(col)` for strings, binary strings, enums, sets and
//!   spatial values (their bytes, so `'a'` and `'A'` or `'a'` and `'a '`
//!   differ even where the collation calls them equal), and
//!   `CAST(col AS CHAR)` for numbers and temporal values (`HEX` would
//!   round a decimal to an integer). `TIMESTAMP` values are read with the
//!   session time zone pinned to UTC.
//! - A NULL becomes `N`, which neither hexadecimal nor number or date text
//!   can be, so NULL and the empty string (`HEX('')` is empty) differ.
//! - The row's text is the columns joined by `|` in ordinal order. Its
//!   CRC32 is summed over all rows as a decimal, so the sum never wraps. A
//!   changed row goes unnoticed only if its new CRC32 equals its old one.
//!   That never happens when the change lies within 32 consecutive bits of
//!   the text (one changed byte of a string is 16 bits of hexadecimal).
//!   Otherwise the chance is one in 2^32, about four billion. MD5 would
//!   make it one in 2^64, but it took two and a half times the CPU of CRC32 on both
//!   servers, the largest cost of a sync after the load itself. A sum
//!   ignores row order, so no sort is needed and only one row per table
//!   crosses the network. Unlike XOR, a sum does not cancel a row that
//!   appears twice.
//!
//! NOTE: `FLOAT` and `DOUBLE` text differs between MySQL 8 (shortest
//! round-trip digits) and MariaDB, and so does the text of MySQL's binary
//! `JSON` type against MariaDB's `LONGTEXT` alias. Tables with such columns
//! can report a mismatch across flavors although the values are equal. The
//! Wait Wait Stats schema has neither.

use std::collections::BTreeSet;
use std::fmt;

use crate::database::columns::{self, Column};
use crate::database::quote;
use crate::database::sql::{SqlError, SqlRunner};
use crate::output::count;

/// Row count and checksum of one table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableChecksum {
    pub table: String,
    pub rows: u64,
    /// The decimal sum of every row's 64-bit hash.
    pub checksum: String,
    /// `name:data_type` of each column, in ordinal order.
    #[serde(skip)]
    pub columns: Vec<String>,
}

/// Schema objects of one database, by kind, with their names.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Objects {
    pub tables: BTreeSet<String>,
    pub views: BTreeSet<String>,
    pub procedures: BTreeSet<String>,
    pub functions: BTreeSet<String>,
    pub triggers: BTreeSet<String>,
    pub events: BTreeSet<String>,
}

impl Objects {
    /// `(kind, names)` for every kind, in a fixed order.
    pub fn kinds(&self) -> [(&'static str, &BTreeSet<String>); 6] {
        [
            ("tables", &self.tables),
            ("views", &self.views),
            ("procedures", &self.procedures),
            ("functions", &self.functions),
            ("triggers", &self.triggers),
            ("events", &self.events),
        ]
    }
}

/// One side's objects and per-table checksums.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub database: String,
    pub objects: Objects,
    pub tables: Vec<TableChecksum>,
}

/// One difference between source and target.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    Table {
        table: String,
        source_rows: u64,
        source_checksum: String,
        target_rows: u64,
        target_checksum: String,
    },
    Columns {
        table: String,
        source: String,
        target: String,
    },
    Objects {
        object_kind: String,
        source: usize,
        target: usize,
        missing_on_target: Vec<String>,
        extra_on_target: Vec<String>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Table {
                table,
                source_rows,
                source_checksum,
                target_rows,
                target_checksum,
            } => write!(
                f,
                "table `{table}` differs: source has {} with checksum {source_checksum}, \
                 target has {} with checksum {target_checksum}",
                count(*source_rows, "row"),
                count(*target_rows, "row")
            ),
            Mismatch::Columns {
                table,
                source,
                target,
            } => write!(
                f,
                "table `{table}` has other columns: source ({source}), target ({target})"
            ),
            Mismatch::Objects {
                object_kind,
                source,
                target,
                missing_on_target,
                extra_on_target,
            } => {
                write!(
                    f,
                    "{object_kind} differ: source has {source}, target has {target}"
                )?;
                if !missing_on_target.is_empty() {
                    write!(f, "; missing on target: {}", missing_on_target.join(", "))?;
                }
                if !extra_on_target.is_empty() {
                    write!(f, "; only on target: {}", extra_on_target.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read database `{database}` on {side} for verification")]
    Sql {
        database: String,
        side: &'static str,
        #[source]
        source: Box<SqlError>,
    },
    #[error("{}", mismatch_text(database, mismatches))]
    Mismatch {
        database: String,
        mismatches: Vec<Mismatch>,
    },
}

impl VerifyError {
    /// Wrap a failed read of `database` on `side` (`source` or `target`).
    pub fn sql(database: &str, side: &'static str, source: SqlError) -> VerifyError {
        VerifyError::Sql {
            database: database.to_string(),
            side,
            source: Box::new(source),
        }
    }
}

fn mismatch_text(database: &str, mismatches: &[Mismatch]) -> String {
    let mut text = format!(
        "verification of database `{database}` failed: {} difference(s) between source and target",
        mismatches.len()
    );
    for mismatch in mismatches {
        text.push_str(&format!("\n- {mismatch}"));
    }
    text
}

/// Proof that source and target matched: every table's count and checksum
/// and every object kind's names. Only `compare` builds one, and only when
/// nothing differed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    database: String,
    tables: Vec<TableChecksum>,
    objects: Objects,
}

impl Verified {
    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn tables(&self) -> &[TableChecksum] {
        &self.tables
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|table| table.rows).sum()
    }
}

/// Read both sides and compare them.
pub async fn verify(
    source: &dyn SqlRunner,
    target: &dyn SqlRunner,
    database: &str,
) -> Result<Verified, VerifyError> {
    let (source_snapshot, target_snapshot) =
        tokio::join!(snapshot(source, database), snapshot(target, database));
    compare_read(database, source_snapshot, target_snapshot)
}

/// Compare two snapshots once both reads succeeded.
fn compare_read(
    database: &str,
    source: Result<Snapshot, SqlError>,
    target: Result<Snapshot, SqlError>,
) -> Result<Verified, VerifyError> {
    let source = source.map_err(|error| VerifyError::sql(database, "source", error))?;
    let target = target.map_err(|error| VerifyError::sql(database, "target", error))?;
    compare(&source, &target)
}

/// Compare two snapshots; `Verified` only when every object kind has the
/// same names and every table the same columns, count and checksum.
pub fn compare(source: &Snapshot, target: &Snapshot) -> Result<Verified, VerifyError> {
    let mut mismatches = Vec::new();

    for ((kind, source_names), (_, target_names)) in source
        .objects
        .kinds()
        .into_iter()
        .zip(target.objects.kinds())
    {
        if source_names != target_names {
            mismatches.push(Mismatch::Objects {
                object_kind: kind.to_string(),
                source: source_names.len(),
                target: target_names.len(),
                missing_on_target: source_names.difference(target_names).cloned().collect(),
                extra_on_target: target_names.difference(source_names).cloned().collect(),
            });
        }
    }

    for source_table in &source.tables {
        let Some(target_table) = target
            .tables
            .iter()
            .find(|table| table.table == source_table.table)
        else {
            // A missing table is already reported with the table names.
            continue;
        };
        if source_table.columns != target_table.columns {
            mismatches.push(Mismatch::Columns {
                table: source_table.table.clone(),
                source: source_table.columns.join(", "),
                target: target_table.columns.join(", "),
            });
        } else if source_table.rows != target_table.rows
            || source_table.checksum != target_table.checksum
        {
            mismatches.push(Mismatch::Table {
                table: source_table.table.clone(),
                source_rows: source_table.rows,
                source_checksum: source_table.checksum.clone(),
                target_rows: target_table.rows,
                target_checksum: target_table.checksum.clone(),
            });
        }
    }

    if !mismatches.is_empty() {
        return Err(VerifyError::Mismatch {
            database: source.database.clone(),
            mismatches,
        });
    }
    Ok(Verified {
        database: source.database.clone(),
        tables: source.tables.clone(),
        objects: source.objects.clone(),
    })
}

/// Read the objects and the checksum of every base table of `database`.
pub async fn snapshot(sql: &dyn SqlRunner, database: &str) -> Result<Snapshot, SqlError> {
    let objects = objects(sql, database).await?;
    let columns = TableColumns::read(sql, database).await?;
    let tables = checksums(sql, database, &columns, objects.tables.iter()).await?;
    Ok(Snapshot {
        database: database.to_string(),
        objects,
        tables,
    })
}

/// Build a snapshot from checksums already taken, table by table, and the
/// objects read now.
pub async fn snapshot_with(
    sql: &dyn SqlRunner,
    database: &str,
    mut tables: Vec<TableChecksum>,
) -> Result<Snapshot, SqlError> {
    let objects = objects(sql, database).await?;
    tables.sort_by(|left, right| left.table.cmp(&right.table));
    Ok(Snapshot {
        database: database.to_string(),
        objects,
        tables,
    })
}

/// Compare checksums taken table by table on both sides, plus the objects
/// of both sides read now.
pub async fn verify_with(
    source: &dyn SqlRunner,
    target: &dyn SqlRunner,
    database: &str,
    checksums: Vec<(TableChecksum, TableChecksum)>,
) -> Result<Verified, VerifyError> {
    let (source_tables, target_tables) = checksums.into_iter().unzip();
    let (source_snapshot, target_snapshot) = tokio::join!(
        snapshot_with(source, database, source_tables),
        snapshot_with(target, database, target_tables)
    );
    compare_read(database, source_snapshot, target_snapshot)
}

/// The columns of every base table of one database, read once, for
/// checksums taken later table by table.
#[derive(Clone, Debug, Default)]
pub struct TableColumns {
    columns: Vec<Column>,
}

impl TableColumns {
    pub fn new(columns: Vec<Column>) -> TableColumns {
        TableColumns { columns }
    }

    pub async fn read(sql: &dyn SqlRunner, database: &str) -> Result<TableColumns, SqlError> {
        Ok(TableColumns {
            columns: columns::read(sql, database).await?,
        })
    }

    fn of(&self, table: &str) -> Vec<&Column> {
        self.columns
            .iter()
            .filter(|column| column.table == table)
            .collect()
    }
}

/// Row count and checksum of one table.
pub async fn table_checksum(
    sql: &dyn SqlRunner,
    database: &str,
    columns: &TableColumns,
    table: &str,
) -> Result<TableChecksum, SqlError> {
    let mut tables = checksums(sql, database, columns, std::iter::once(table)).await?;
    Ok(tables.remove(0))
}

/// Row counts and checksums of `tables`, in one client call.
async fn checksums<T: AsRef<str>>(
    sql: &dyn SqlRunner,
    database: &str,
    columns: &TableColumns,
    tables: impl Iterator<Item = T>,
) -> Result<Vec<TableChecksum>, SqlError> {
    let mut checksums = Vec::new();
    let mut queries = String::from("SET time_zone = '+00:00';\n");
    for table in tables {
        let table = table.as_ref();
        let table_columns = columns.of(table);
        queries.push_str(&checksum_query(database, table, &table_columns));
        queries.push('\n');
        checksums.push(TableChecksum {
            table: table.to_string(),
            rows: 0,
            checksum: String::new(),
            columns: table_columns
                .iter()
                .map(|column| format!("{}:{}", column.name, column.data_type))
                .collect(),
        });
    }
    if checksums.is_empty() {
        return Ok(checksums);
    }

    // Each query returns one row.
    let rows = sql.query(&queries).await?;
    if rows.len() != checksums.len() {
        return Err(SqlError::Output {
            host: sql.host().to_string(),
            statement: "checksum queries".to_string(),
            detail: format!(
                "expected {}, got {}",
                count(checksums.len(), "row"),
                rows.len()
            ),
        });
    }
    for (table, row) in checksums.iter_mut().zip(rows) {
        let field = |index: usize| row.get(index).cloned().flatten().unwrap_or_default();
        table.rows = field(0).parse().map_err(|_| SqlError::Output {
            host: sql.host().to_string(),
            statement: format!("checksum of `{}`", table.table),
            detail: format!("row count `{}` is not a number", field(0)),
        })?;
        table.checksum = field(1);
    }
    Ok(checksums)
}

/// Read the names of every table, view, routine, trigger and event of
/// `database`.
pub async fn objects(sql: &dyn SqlRunner, database: &str) -> Result<Objects, SqlError> {
    let schema = quote::string(database);
    let query = format!(
        "SELECT 'table', TABLE_NAME FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = {schema} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
UNION ALL SELECT 'view', TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {schema}
UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES
  WHERE ROUTINE_SCHEMA = {schema}
UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS
  WHERE TRIGGER_SCHEMA = {schema}
UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {schema}"
    );

    let mut objects = Objects::default();
    for row in sql.query(&query).await? {
        let mut fields = row.into_iter().map(Option::unwrap_or_default);
        let kind = fields.next().unwrap_or_default();
        let name = fields.next().unwrap_or_default();
        let set = match kind.as_str() {
            "table" => &mut objects.tables,
            "view" => &mut objects.views,
            "procedure" => &mut objects.procedures,
            "function" => &mut objects.functions,
            "trigger" => &mut objects.triggers,
            "event" => &mut objects.events,
            // MariaDB's packages: not used by the sites, not compared.
            _ => continue,
        };
        set.insert(name);
    }
    Ok(objects)
}

/// Build the text form of one column inside the row hash (the module
/// documentation explains the form of each type).
fn column_expression(column: &Column) -> String {
    let name = quote::identifier(&column.name);
    let text = match column.data_type.as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
        | "numeric" | "float" | "double" | "real" | "year" | "date" | "time" | "datetime"
        | "timestamp" => format!("CAST({name} AS CHAR)"),
        "bit" => format!("CAST({name} + 0 AS CHAR)"),
        _ => format!("HEX({name})"),
    };
    format!("IFNULL({text}, 'N')")
}

fn checksum_query(database: &str, table: &str, columns: &[&Column]) -> String {
    let row_text = if columns.is_empty() {
        "''".to_string()
    } else {
        let parts: Vec<String> = columns
            .iter()
            .map(|column| column_expression(column))
            .collect();
        format!("CONCAT_WS('|', {})", parts.join(", "))
    };
    format!(
        "SELECT COUNT(*), \
IFNULL(SUM(CRC32({row_text})), 0) \
FROM {}.{};",
        quote::identifier(database),
        quote::identifier(table)
    )
}

#[cfg(test)]
mod tests {
    use super::{Mismatch, Objects, Snapshot, TableChecksum, checksum_query, compare};
    use crate::database::columns::Column;

    fn column(name: &str, data_type: &str) -> Column {
        Column {
            table: "t".to_string(),
            name: name.to_string(),
            data_type: data_type.to_string(),
            ..Column::default()
        }
    }

    fn snapshot(rows: u64, checksum: &str) -> Snapshot {
        let mut objects = Objects::default();
        objects.tables.insert("t".to_string());
        Snapshot {
            database: "db".to_string(),
            objects,
            tables: vec![TableChecksum {
                table: "t".to_string(),
                rows,
                checksum: checksum.to_string(),
                columns: vec!["id:int".to_string()],
            }],
        }
    }

    #[test]
    fn checksum_query_marks_nulls_and_hexes_text() {
        let id = column("id", "int");
        let name = column("name", "varchar");
        let query = checksum_query("db", "t", &[&id, &name]);
        assert!(
            query.contains(
                "CONCAT_WS('|', IFNULL(CAST(`id` AS CHAR), 'N'), IFNULL(HEX(`name`), 'N'))"
            )
        );
        assert!(query.contains("FROM `db`.`t`"));
    }

    #[test]
    fn compare_equal_snapshots_verifies() {
        let verified = compare(&snapshot(3, "1-2"), &snapshot(3, "1-2")).unwrap();
        assert_eq!(verified.total_rows(), 3);
    }

    #[test]
    fn compare_names_table_and_both_values() {
        let error = compare(&snapshot(3, "1-2"), &snapshot(3, "9-9")).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("table `t` differs"), "{text}");
        assert!(text.contains("checksum 1-2"), "{text}");
        assert!(text.contains("checksum 9-9"), "{text}");
    }

    #[test]
    fn compare_counts_one_row_singular() {
        let error = compare(&snapshot(1, "1-2"), &snapshot(2, "9-9")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("source has 1 row with checksum 1-2"),
            "{text}"
        );
        assert!(
            text.contains("target has 2 rows with checksum 9-9"),
            "{text}"
        );
    }

    #[test]
    fn compare_reports_missing_objects() {
        let source = snapshot(1, "1-1");
        let mut target = snapshot(1, "1-1");
        target.objects.tables.clear();
        target.tables.clear();
        let super::VerifyError::Mismatch { mismatches, .. } =
            compare(&source, &target).unwrap_err()
        else {
            panic!("expected a mismatch");
        };
        assert_eq!(
            mismatches,
            vec![Mismatch::Objects {
                object_kind: "tables".to_string(),
                source: 1,
                target: 0,
                missing_on_target: vec!["t".to_string()],
                extra_on_target: vec![],
            }]
        );
    }
}
