//! The row encoding of each column of a table: the expression the
//! source selects, the field rule wwctl applies on the way, and what the
//! target's `LOAD DATA` assigns.
//!
//! The client's `--batch` output escapes tab, newline, backslash and NUL
//! the way `LOAD DATA` reads them by default. Only NULL needs care: the
//! client prints it as the bare word `NULL`, which `LOAD DATA` reads as the
//! string `'NULL'`. So:
//!
//! - Numbers and temporal values are selected as they are. Their text is
//!   never `NULL`, so wwctl turns the word into `\N` for nullable columns.
//! - Strings, enums and sets that may be NULL are selected after a flag,
//!   `col IS NULL`, because the string `'NULL'` prints like a NULL. wwctl
//!   writes `\N` when the flag is `1` and the value otherwise, and drops
//!   the flag.
//! - Binary strings are selected as `HEX(col)` and loaded through
//!   `UNHEX`, so no byte is ever converted between character sets.
//!
//! A load with a `SET` clause ignores `NO_AUTO_VALUE_ON_ZERO` for columns
//! it assigns straight from the file (MariaDB 10.11): a row with id 0 gets
//! the next `AUTO_INCREMENT` value. So when binary columns need `SET`, the
//! `AUTO_INCREMENT` column is assigned in `SET` too, which keeps the zero.
//!
//! Other types (`BIT`, MySQL's `JSON`, spatial types, MariaDB's `UUID` and
//! `INET6`) and system-versioned tables keep the `INSERT` statements of a
//! dump. Generated columns are left out on both sides: the target computes
//! them.

use std::collections::BTreeMap;

use crate::database::columns::Column;
use crate::database::quote;

const PLAIN_TYPES: &[&str] = &[
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "decimal",
    "numeric",
    "float",
    "double",
    "real",
    "year",
    "date",
    "time",
    "datetime",
    "timestamp",
];

const STRING_TYPES: &[&str] = &[
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "enum",
    "set",
];

const BINARY_TYPES: &[&str] = &[
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
];

/// The encoding of one column's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Numbers and temporal values: their text, which is never `NULL`.
    Plain,
    /// Strings, enums and sets: their text, after a NULL flag when the
    /// column is nullable.
    Text,
    /// Binary strings: `HEX` on the source, `UNHEX` on the target.
    Hex,
}

/// The rule wwctl applies to the field, or pair of fields, of one column
/// in the source's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldRule {
    /// Pass the field on unchanged.
    Keep,
    /// The word `NULL` becomes `\N`; anything else passes.
    NullWord,
    /// A NULL flag (`0` or `1`), then the value: `1` writes `\N`, `0`
    /// writes the value. The flag itself is dropped.
    NullFlag,
}

/// One column of a row stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowColumn {
    pub name: String,
    pub encoding: Encoding,
    pub nullable: bool,
    pub auto_increment: bool,
}

impl RowColumn {
    fn rule(&self) -> FieldRule {
        match (self.encoding, self.nullable) {
            (_, false) => FieldRule::Keep,
            (Encoding::Text, true) => FieldRule::NullFlag,
            (Encoding::Plain | Encoding::Hex, true) => FieldRule::NullWord,
        }
    }

    fn select(&self) -> String {
        let name = quote::identifier(&self.name);
        match (self.encoding, self.nullable) {
            (Encoding::Hex, _) => format!("HEX({name})"),
            (Encoding::Text, true) => format!("{name} IS NULL, {name}"),
            _ => name,
        }
    }
}

/// The columns of one table that travel as row text, in ordinal order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowLayout {
    pub table: String,
    pub columns: Vec<RowColumn>,
}

/// Every base table of a database: its row layout, or why its rows keep
/// the `INSERT` statements of a dump.
pub type Layouts = BTreeMap<String, Result<RowLayout, String>>;

impl RowLayout {
    /// Return the rule of each column, in order.
    pub fn rules(&self) -> Vec<FieldRule> {
        self.columns.iter().map(RowColumn::rule).collect()
    }

    /// Build the statements the source runs: UTC for `TIMESTAMP` values, no
    /// `sql_mode` that pads `CHAR` values, a write timeout long enough for
    /// a target that pauses to flush, then one `SELECT` of the whole table.
    pub fn select_sql(&self, database: &str) -> String {
        let columns: Vec<String> = self.columns.iter().map(RowColumn::select).collect();
        format!(
            "SET SESSION time_zone = '+00:00', sql_mode = '', net_write_timeout = 600; \
SELECT {} FROM {}.{}",
            columns.join(", "),
            quote::identifier(database),
            quote::identifier(&self.table)
        )
    }

    /// Build the statements the target runs: the session settings a dump sets
    /// (no key checks, UTC, zero keeps its `AUTO_INCREMENT` value), the
    /// load from standard input, then its warnings, which the stream
    /// reports.
    pub fn load_sql(&self) -> String {
        let has_hex = self
            .columns
            .iter()
            .any(|column| column.encoding == Encoding::Hex);
        let mut targets = Vec::with_capacity(self.columns.len());
        let mut assignments = Vec::new();
        for (index, column) in self.columns.iter().enumerate() {
            let name = quote::identifier(&column.name);
            let variable = format!("@wwctl_{index}");
            if column.encoding == Encoding::Hex {
                assignments.push(format!("{name} = UNHEX({variable})"));
                targets.push(variable);
            } else if has_hex && column.auto_increment {
                assignments.push(format!("{name} = {variable}"));
                targets.push(variable);
            } else {
                targets.push(name);
            }
        }
        let set = if assignments.is_empty() {
            String::new()
        } else {
            format!(" SET {}", assignments.join(", "))
        };
        format!(
            "SET SESSION foreign_key_checks = 0, unique_checks = 0, time_zone = '+00:00', \
sql_mode = 'NO_AUTO_VALUE_ON_ZERO'; \
LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE {} CHARACTER SET utf8mb4 \
FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({}){set}; \
SHOW WARNINGS LIMIT 10",
            quote::identifier(&self.table),
            targets.join(", ")
        )
    }
}

/// Group columns, in ordinal order, into the layout of each table.
pub fn layouts(columns: impl IntoIterator<Item = Column>) -> Layouts {
    let mut layouts = Layouts::new();
    for column in columns {
        let entry = layouts.entry(column.table.clone()).or_insert_with(|| {
            Ok(RowLayout {
                table: column.table.clone(),
                columns: Vec::new(),
            })
        });
        match (classify(&column), entry.as_mut()) {
            (Ok(Some(row_column)), Ok(layout)) => layout.columns.push(row_column),
            (Err(reason), Ok(_)) => *entry = Err(reason),
            // A generated column, or a table already known to need SQL.
            _ => {}
        }
    }
    for entry in layouts.values_mut() {
        if matches!(entry, Ok(layout) if layout.columns.is_empty()) {
            *entry = Err("it has no column to load".to_string());
        }
    }
    layouts
}

/// Classify one column: its encoding, `None` for a generated column, or
/// why the table cannot travel as row text.
fn classify(column: &Column) -> Result<Option<RowColumn>, String> {
    if column.table_type != "BASE TABLE" {
        return Err("it is system-versioned".to_string());
    }
    if column.generated {
        return Ok(None);
    }
    let data_type = column.data_type.as_str();
    let encoding = if PLAIN_TYPES.contains(&data_type) {
        Encoding::Plain
    } else if STRING_TYPES.contains(&data_type) {
        Encoding::Text
    } else if BINARY_TYPES.contains(&data_type) {
        Encoding::Hex
    } else {
        return Err(format!("column `{}` has type `{data_type}`", column.name));
    };
    Ok(Some(RowColumn {
        name: column.name.clone(),
        encoding,
        nullable: column.nullable,
        auto_increment: column.auto_increment,
    }))
}

#[cfg(test)]
mod tests {
    use super::layouts;
    use crate::database::columns::Column;

    fn column(table: &str, name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            table: table.to_string(),
            name: name.to_string(),
            data_type: data_type.to_string(),
            nullable,
            table_type: "BASE TABLE".to_string(),
            ..Column::default()
        }
    }

    #[test]
    fn each_encoding_selects_and_loads_its_way() {
        let mut id = column("t", "id", "int", false);
        id.auto_increment = true;
        let mut total = column("t", "total", "int", true);
        total.generated = true;
        let layouts = layouts([
            id,
            column("t", "note", "varchar", true),
            column("t", "score", "decimal", true),
            column("t", "data", "blob", false),
            total,
        ]);
        let layout = layouts["t"].as_ref().unwrap();

        assert_eq!(
            layout.select_sql("db"),
            "SET SESSION time_zone = '+00:00', sql_mode = '', net_write_timeout = 600; \
SELECT `id`, `note` IS NULL, `note`, `score`, HEX(`data`) FROM `db`.`t`"
        );
        assert_eq!(
            layout.load_sql(),
            "SET SESSION foreign_key_checks = 0, unique_checks = 0, time_zone = '+00:00', \
sql_mode = 'NO_AUTO_VALUE_ON_ZERO'; \
LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE `t` CHARACTER SET utf8mb4 \
FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' \
(@wwctl_0, `note`, `score`, @wwctl_3) SET `id` = @wwctl_0, `data` = UNHEX(@wwctl_3); \
SHOW WARNINGS LIMIT 10"
        );
    }

    #[test]
    fn without_binary_columns_the_load_has_no_set() {
        let mut id = column("t", "id", "bigint", false);
        id.auto_increment = true;
        let layouts = layouts([id, column("t", "name", "text", false)]);
        let load = layouts["t"].as_ref().unwrap().load_sql();
        assert!(load.contains("(`id`, `name`); SHOW WARNINGS"), "{load}");
    }

    #[test]
    fn unsupported_types_and_versioned_tables_keep_statements() {
        let mut versioned = column("history", "id", "int", false);
        versioned.table_type = "SYSTEM VERSIONED".to_string();
        let layouts = layouts([
            column("flags", "id", "int", false),
            column("flags", "mask", "bit", false),
            column("flags", "name", "varchar", false),
            versioned,
            column("plain", "id", "int", false),
        ]);

        assert_eq!(
            layouts["flags"],
            Err("column `mask` has type `bit`".to_string())
        );
        assert_eq!(
            layouts["history"],
            Err("it is system-versioned".to_string())
        );
        assert!(layouts["plain"].is_ok());
    }
}
