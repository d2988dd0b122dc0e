//! Multi-row `INSERT` statements written straight to an output, one
//! statement at a time, so memory stays flat at any scale.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::database::quote;

/// A statement is flushed once it holds this many rows or bytes. 256 KiB
/// stays well under the 16 MiB `max_allowed_packet` default of MariaDB
/// (MySQL 8 has 64 MiB), even with the longest generated row.
const MAX_ROWS: usize = 1_000;
const MAX_BYTES: usize = 256 * 1024;

/// Writes the rows of one table as `INSERT INTO t (columns) VALUES (...),(...);`.
pub struct InsertWriter<'w> {
    out: &'w mut dyn Write,
    head: String,
    buffer: String,
    rows_in_statement: usize,
    rows: u64,
    first_value: bool,
}

impl<'w> InsertWriter<'w> {
    pub fn new(out: &'w mut dyn Write, table: &str, columns: &[&str]) -> Self {
        let columns: Vec<String> = columns
            .iter()
            .map(|column| quote::identifier(column))
            .collect();
        Self {
            out,
            head: format!(
                "INSERT INTO {} ({}) VALUES\n",
                quote::identifier(table),
                columns.join(",")
            ),
            buffer: String::with_capacity(MAX_BYTES + 16 * 1024),
            rows_in_statement: 0,
            rows: 0,
            first_value: true,
        }
    }

    pub fn begin_row(&mut self) {
        if self.rows_in_statement == 0 {
            self.buffer.push_str(&self.head);
            self.buffer.push('(');
        } else {
            self.buffer.push_str(",\n(");
        }
        self.first_value = true;
    }

    fn separator(&mut self) {
        if !self.first_value {
            self.buffer.push(',');
        }
        self.first_value = false;
    }

    pub fn null(&mut self) {
        self.separator();
        self.buffer.push_str("NULL");
    }

    pub fn int(&mut self, value: i64) {
        self.separator();
        // Writing to a String cannot fail.
        let _ = write!(self.buffer, "{value}");
    }

    pub fn int_or_null(&mut self, value: Option<i64>) {
        match value {
            Some(value) => self.int(value),
            None => self.null(),
        }
    }

    pub fn text(&mut self, value: &str) {
        self.separator();
        self.buffer.push('\'');
        quote::push_escaped(&mut self.buffer, value);
        self.buffer.push('\'');
    }

    pub fn text_or_null(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    /// A decimal given as an integer count of `10^-scale` units, written
    /// exactly (no floating point): `decimal(-1234567, 2)` is `-12345.67`.
    pub fn decimal(&mut self, units: i64, scale: u32) {
        self.separator();
        self.buffer.push_str(&format_decimal(units, scale));
    }

    pub fn decimal_or_null(&mut self, units: Option<i64>, scale: u32) {
        match units {
            Some(units) => self.decimal(units, scale),
            None => self.null(),
        }
    }

    /// Close the row; flushes the statement when it is full.
    pub fn end_row(&mut self) -> io::Result<()> {
        self.buffer.push(')');
        self.rows_in_statement += 1;
        self.rows += 1;
        if self.rows_in_statement >= MAX_ROWS || self.buffer.len() >= MAX_BYTES {
            self.flush_statement()?;
        }
        Ok(())
    }

    fn flush_statement(&mut self) -> io::Result<()> {
        if self.rows_in_statement == 0 {
            return Ok(());
        }
        self.buffer.push_str(";\n");
        self.out.write_all(self.buffer.as_bytes())?;
        self.buffer.clear();
        self.rows_in_statement = 0;
        Ok(())
    }

    /// Write the last statement; returns the number of rows written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush_statement()?;
        Ok(self.rows)
    }
}

pub fn format_decimal(units: i64, scale: u32) -> String {
    if scale == 0 {
        return units.to_string();
    }
    let divisor = 10_u64.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    let magnitude = units.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        magnitude / divisor,
        magnitude % divisor,
        width = scale as usize
    )
}

#[cfg(test)]
mod tests {
    use super::{InsertWriter, format_decimal};

    #[test]
    fn format_decimal_is_exact() {
        assert_eq!(format_decimal(-876_297_990, 7), "-87.6297990");
        assert_eq!(format_decimal(5, 2), "0.05");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(1200, 2), "12.00");
        assert_eq!(format_decimal(7, 0), "7");
    }

    #[test]
    fn writer_builds_multi_row_insert() {
        let mut out = Vec::new();
        let mut writer = InsertWriter::new(&mut out, "t", &["id", "name", "score"]);
        writer.begin_row();
        writer.int(1);
        writer.text("it's 😀");
        writer.decimal(150, 2);
        writer.end_row().unwrap();
        writer.begin_row();
        writer.int(2);
        writer.null();
        writer.null();
        writer.end_row().unwrap();
        assert_eq!(writer.finish().unwrap(), 2);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "INSERT INTO `t` (`id`,`name`,`score`) VALUES\n(1,'it\\'s 😀',1.50),\n(2,NULL,NULL);\n"
        );
    }

    #[test]
    fn writer_without_rows_writes_nothing() {
        let mut out = Vec::new();
        let writer = InsertWriter::new(&mut out, "t", &["id"]);
        assert_eq!(writer.finish().unwrap(), 0);
        assert!(out.is_empty());
    }
}
