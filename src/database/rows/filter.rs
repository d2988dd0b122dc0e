//! The filter between a table's `SELECT` on the source and its
//! `LOAD DATA` on the target: it turns the client's NULLs into `\N` and
//! checks that every row has the fields the layout selected.

use memchr::{memchr, memchr_iter};

use crate::database::filter::FilterStats;
use crate::database::rows::layout::{FieldRule, RowLayout};

/// A row of the source's output does not match the layout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("row {row} of table `{table}` has {found} fields where the layout selects {expected}")]
    FieldCount {
        table: String,
        row: u64,
        found: usize,
        expected: usize,
    },
    #[error("row {row} of table `{table}` has the NULL flag `{flag}`, where only 0 or 1 can be")]
    Flag {
        table: String,
        row: u64,
        flag: String,
    },
    #[error("the rows of table `{table}` end in the middle of row {row}")]
    Incomplete { table: String, row: u64 },
}

/// The filter over one table's rows. Feed chunks to `push` and call
/// `finish` at the end; output goes to the caller's buffer.
pub struct RowFilter {
    table: String,
    rules: Vec<FieldRule>,
    /// Fields per row in the source's output.
    fields: usize,
    /// Every rule is `Keep`: chunks pass as they are, only rows are counted.
    passthrough: bool,
    /// The start of a row whose end has not arrived yet.
    partial: Vec<u8>,
    /// In passthrough: the last chunk ended inside a row.
    mid_row: bool,
    stats: FilterStats,
}

impl RowFilter {
    pub fn new(layout: &RowLayout) -> RowFilter {
        let rules = layout.rules();
        let fields = rules
            .iter()
            .map(|rule| if *rule == FieldRule::NullFlag { 2 } else { 1 })
            .sum();
        RowFilter {
            table: layout.table.clone(),
            passthrough: rules.iter().all(|rule| *rule == FieldRule::Keep),
            rules,
            fields,
            partial: Vec::new(),
            mid_row: false,
            stats: FilterStats {
                current_table: Some(layout.table.clone()),
                ..FilterStats::default()
            },
        }
    }

    pub fn stats(&self) -> &FilterStats {
        &self.stats
    }

    /// Filter one chunk, appending the rows it completes to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RowError> {
        self.stats.tables = 1;
        if self.passthrough {
            out.extend_from_slice(input);
            self.stats.lines += memchr_iter(b'\n', input).count() as u64;
            if let Some(last) = input.last() {
                self.mid_row = *last != b'\n';
            }
            return Ok(());
        }

        let mut rest = input;
        if !self.partial.is_empty() {
            let Some(end) = memchr(b'\n', rest) else {
                self.partial.extend_from_slice(rest);
                return Ok(());
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&rest[..end]);
            self.row(&line, out)?;
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr(b'\n', rest) {
            self.row(&rest[..end], out)?;
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Check that the last row ended. The client ends every row with a
    /// newline, so a partial row means the output was cut off.
    pub fn finish(&mut self) -> Result<(), RowError> {
        if self.partial.is_empty() && !self.mid_row {
            return Ok(());
        }
        Err(RowError::Incomplete {
            table: self.table.clone(),
            row: self.stats.lines + 1,
        })
    }

    fn row(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), RowError> {
        self.stats.lines += 1;
        let mut fields = Fields::new(line);
        for (index, rule) in self.rules.iter().enumerate() {
            if index > 0 {
                out.push(b'\t');
            }
            let Some(field) = fields.next() else {
                return Err(self.field_count(line));
            };
            match rule {
                FieldRule::Keep => out.extend_from_slice(field),
                FieldRule::NullWord if field == b"NULL" => out.extend_from_slice(b"\\N"),
                FieldRule::NullWord => out.extend_from_slice(field),
                FieldRule::NullFlag => {
                    let Some(value) = fields.next() else {
                        return Err(self.field_count(line));
                    };
                    match field {
                        b"0" => out.extend_from_slice(value),
                        b"1" => out.extend_from_slice(b"\\N"),
                        flag => {
                            return Err(RowError::Flag {
                                table: self.table.clone(),
                                row: self.stats.lines,
                                flag: String::from_utf8_lossy(flag).into_owned(),
                            });
                        }
                    }
                }
            }
        }
        if fields.next().is_some() {
            return Err(self.field_count(line));
        }
        out.push(b'\n');
        Ok(())
    }

    fn field_count(&self, line: &[u8]) -> RowError {
        RowError::FieldCount {
            table: self.table.clone(),
            row: self.stats.lines,
            found: memchr_iter(b'\t', line).count() + 1,
            expected: self.fields,
        }
    }
}

/// The tab-separated fields of one line.
struct Fields<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn new(line: &'a [u8]) -> Fields<'a> {
        Fields { rest: Some(line) }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match memchr(b'\t', rest) {
            Some(tab) => {
                self.rest = Some(&rest[tab + 1..]);
                Some(&rest[..tab])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RowError, RowFilter};
    use crate::database::rows::layout::{Encoding, RowColumn, RowLayout};

    fn layout(columns: &[(&str, Encoding, bool)]) -> RowLayout {
        RowLayout {
            table: "t".to_string(),
            columns: columns
                .iter()
                .map(|(name, encoding, nullable)| RowColumn {
                    name: name.to_string(),
                    encoding: *encoding,
                    nullable: *nullable,
                    auto_increment: false,
                })
                .collect(),
        }
    }

    fn mixed() -> RowLayout {
        layout(&[
            ("id", Encoding::Plain, false),
            ("score", Encoding::Plain, true),
            ("note", Encoding::Text, true),
            ("data", Encoding::Hex, true),
        ])
    }

    fn run(layout: &RowLayout, chunks: &[&[u8]]) -> Result<(Vec<u8>, u64), RowError> {
        let mut filter = RowFilter::new(layout);
        let mut out = Vec::new();
        for chunk in chunks {
            filter.push(chunk, &mut out)?;
        }
        filter.finish()?;
        Ok((out, filter.stats().lines))
    }

    #[test]
    fn nulls_become_backslash_n_and_flags_are_dropped() {
        let input: &[u8] = b"1\tNULL\t1\tNULL\tNULL\n2\t3.50\t0\tNULL\t00FF\n3\t0\t0\t\t\n";
        let (out, rows) = run(&mixed(), &[input]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1\t\\N\t\\N\t\\N\n2\t3.50\tNULL\t00FF\n3\t0\t\t\n"
        );
        assert_eq!(rows, 3);
    }

    #[test]
    fn escaped_text_passes_unchanged() {
        let input: &[u8] = b"1\t2\t0\ta\\tb\\nc\\\\N\\0\xF0\x9F\x98\x80\t\n";
        let (out, _) = run(&mixed(), &[input]).unwrap();
        assert_eq!(out, b"1\t2\ta\\tb\\nc\\\\N\\0\xF0\x9F\x98\x80\t\n");
    }

    #[test]
    fn rows_split_across_chunks_are_joined() {
        let input: &[u8] = b"1\tNULL\t1\tNULL\tNULL\n2\t3.50\t0\tlong text\t00FF\n";
        let whole = run(&mixed(), &[input]).unwrap();
        for cut in 1..input.len() {
            let (head, tail) = input.split_at(cut);
            assert_eq!(run(&mixed(), &[head, tail]).unwrap(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn not_null_table_passes_chunks_whole() {
        let plain = layout(&[
            ("id", Encoding::Plain, false),
            ("name", Encoding::Text, false),
        ]);
        let input: &[u8] = b"1\tNULL\n2\tx\n";
        let (out, rows) = run(&plain, &[&input[..5], &input[5..]]).unwrap();
        assert_eq!(out, input);
        assert_eq!(rows, 2);
    }

    #[test]
    fn wrong_field_count_names_table_and_row() {
        let error = run(&mixed(), &[b"1\t2\t0\tx\t00\n2\t3\t0\tx\n"]).unwrap_err();
        assert_eq!(
            error,
            RowError::FieldCount {
                table: "t".to_string(),
                row: 2,
                found: 4,
                expected: 5,
            }
        );
        let extra = run(&mixed(), &[b"1\t2\t0\tx\t00\textra\n"]).unwrap_err();
        assert!(
            matches!(extra, RowError::FieldCount { found: 6, .. }),
            "{extra}"
        );
    }

    #[test]
    fn bad_null_flag_is_an_error() {
        let error = run(&mixed(), &[b"1\t2\tNULL\tx\t00\n"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "row 1 of table `t` has the NULL flag `NULL`, where only 0 or 1 can be"
        );
    }

    #[test]
    fn cut_off_output_is_incomplete() {
        for layout in [mixed(), layout(&[("id", Encoding::Plain, false)])] {
            let error = run(&layout, &[b"1\t2\t0\tx\t00\n2\t"]).unwrap_err();
            assert_eq!(
                error,
                RowError::Incomplete {
                    table: "t".to_string(),
                    row: 2
                }
            );
        }
    }
}
