//! The columns of a database's base tables, as `information_schema` lists
//! them. Checksums and row streams both read them.

use crate::database::quote;
use crate::database::sql::{SqlError, SqlRunner};

/// One column of a base table.
#[derive(Clone, Debug, Default)]
pub struct Column {
    pub table: String,
    pub name: String,
    /// `DATA_TYPE` in lower case: `int`, `varchar`, `json`.
    pub data_type: String,
    pub nullable: bool,
    /// A virtual or stored generated column.
    pub generated: bool,
    /// `BASE TABLE`, or `SYSTEM VERSIONED` on MariaDB.
    pub table_type: String,
    pub auto_increment: bool,
}

/// Read every column of the base tables of `database`, by table name and
/// then in ordinal order.
pub async fn read(sql: &dyn SqlRunner, database: &str) -> Result<Vec<Column>, SqlError> {
    let query = format!(
        "SELECT c.TABLE_NAME, c.COLUMN_NAME, LOWER(c.DATA_TYPE), c.IS_NULLABLE, \
IFNULL(c.GENERATION_EXPRESSION, ''), t.TABLE_TYPE, c.EXTRA
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = {} AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        quote::string(database)
    );
    let rows = sql.query(&query).await?;

    let columns = rows.into_iter().map(|row| {
        let mut fields = row.into_iter().map(Option::unwrap_or_default);
        let mut next = || fields.next().unwrap_or_default();
        Column {
            table: next(),
            name: next(),
            data_type: next(),
            nullable: next() == "YES",
            generated: !next().is_empty(),
            table_type: next(),
            auto_increment: next().to_lowercase().contains("auto_increment"),
        }
    });
    Ok(columns.collect())
}
