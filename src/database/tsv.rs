//! Parsing of the mysql client's `--batch` output: one row a line, columns
//! separated by tabs, special characters escaped.
//!
//! The client prints SQL NULL as the bare word `NULL`, and a string whose
//! value is `NULL` the same way, so the two cannot be told apart in this
//! format. Queries that must tell them apart select `HEX(x)` or
//! `x IS NULL` next to the value.

/// One result row; `None` is SQL NULL.
pub type Row = Vec<Option<String>>;

/// A line of the output could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsvError {
    #[error("line {line} is not valid UTF-8")]
    Utf8 { line: usize },
    #[error("line {line} ends with a lone backslash")]
    DanglingEscape { line: usize },
}

/// Parse `--batch --skip-column-names` output into rows.
pub fn parse(output: &[u8]) -> Result<Vec<Row>, TsvError> {
    let mut rows = Vec::new();
    if output.is_empty() {
        return Ok(rows);
    }

    let body = output.strip_suffix(b"\n").unwrap_or(output);
    for (index, line) in body.split(|byte| *byte == b'\n').enumerate() {
        let line_number = index + 1;
        let text = std::str::from_utf8(line).map_err(|_| TsvError::Utf8 { line: line_number })?;
        let row = text
            .split('\t')
            .map(|field| parse_field(field, line_number))
            .collect::<Result<Row, TsvError>>()?;
        rows.push(row);
    }
    Ok(rows)
}

fn parse_field(field: &str, line: usize) -> Result<Option<String>, TsvError> {
    if field == "NULL" {
        return Ok(None);
    }
    if !field.contains('\\') {
        return Ok(Some(field.to_string()));
    }

    let mut value = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => value.push('\n'),
            Some('t') => value.push('\t'),
            Some('0') => value.push('\0'),
            Some('\\') => value.push('\\'),
            // The client escapes only the four above; keep anything else as
            // written rather than guess.
            Some(other) => {
                value.push('\\');
                value.push(other);
            }
            None => return Err(TsvError::DanglingEscape { line }),
        }
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::{TsvError, parse};

    #[test]
    fn parse_splits_rows_and_columns() {
        let rows = parse(b"1\tone\n2\ttwo\n").unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("one".into())],
                vec![Some("2".into()), Some("two".into())],
            ]
        );
    }

    #[test]
    fn parse_reads_null_and_empty() {
        let rows = parse(b"NULL\t\tx\n").unwrap();
        assert_eq!(
            rows,
            vec![vec![None, Some(String::new()), Some("x".into())]]
        );
    }

    #[test]
    fn parse_unescapes_tab_newline_backslash_nul() {
        let rows = parse(b"a\\tb\tc\\nd\te\\\\f\tg\\0\n").unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Some("a\tb".into()),
                Some("c\nd".into()),
                Some("e\\f".into()),
                Some("g\0".into()),
            ]]
        );
    }

    #[test]
    fn parse_keeps_four_byte_utf8() {
        let rows = parse("é😀\n".as_bytes()).unwrap();
        assert_eq!(rows, vec![vec![Some("é😀".into())]]);
    }

    #[test]
    fn parse_of_empty_output_has_no_rows() {
        assert!(parse(b"").unwrap().is_empty());
    }

    #[test]
    fn parse_rejects_dangling_backslash() {
        assert_eq!(
            parse(b"ok\nbad\\\n"),
            Err(TsvError::DanglingEscape { line: 2 })
        );
    }
}
