//! A line filter for dump streams: drops statements the target must not
//! run, rewrites definers and collations the user opted into, and counts
//! tables for progress. It sees each line's start before deciding, so it
//! never buffers a data line, however long.

use crate::database::account::Account;

/// Bytes of a line read before deciding what to do with it; longer than
/// every prefix below.
const PREFIX_BYTES: usize = 64;

/// Statements that carry the source's GTID or binary log state. In
/// dump/load mode they would fail on a target with its own GTID history
/// (`GTID_PURGED`), or turn off binary logging for the load so replicas of
/// the target would miss it (`SQL_LOG_BIN`).
const GTID_STATE_PREFIXES: [&str; 5] = [
    "SET @@GLOBAL.GTID_PURGED",
    "SET @@SESSION.SQL_LOG_BIN",
    "SET @MYSQLDUMP_TEMP_LOG_BIN",
    "SET GLOBAL GTID_SLAVE_POS",
    "SET @@GLOBAL.GTID_SLAVE_POS",
];

/// The first line of dumps from MariaDB 10.11.8 and later, which MySQL's
/// client rejects as a syntax error.
const MARIADB_SANDBOX_PREFIX: &str = "/*M!999999\\- enable the sandbox mode */";

const TABLE_DATA_PREFIX: &str = "-- Dumping data for table `";

/// At most this many dropped lines are kept as samples for the report.
const MAX_SAMPLES: usize = 10;

/// What the filter does to a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterRules {
    /// Drop GTID and binary log state statements (dump/load mode).
    pub drop_gtid_state: bool,
    /// Drop MariaDB's sandbox-mode line (the target is MySQL).
    pub drop_mariadb_sandbox_line: bool,
    /// Collation renames, `(source, target)`, applied outside data lines.
    pub collations: Vec<(String, String)>,
    /// Definer rewrites, applied outside data lines.
    pub definers: Vec<(Account, Account)>,
}

impl FilterRules {
    fn rewrites(&self) -> bool {
        !self.collations.is_empty() || !self.definers.is_empty()
    }
}

/// Counters of a filtered stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FilterStats {
    pub lines: u64,
    pub dropped_lines: u64,
    /// The start of the first dropped lines.
    pub dropped_samples: Vec<String>,
    pub rewritten_lines: u64,
    /// Tables whose data section has started.
    pub tables: u64,
    pub current_table: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the start of a line into `line`.
    LineStart,
    /// Forwarding the rest of the line.
    Passing,
    /// Reading the whole line into `line`, to rewrite it.
    Buffering,
    /// Dropping the rest of the line; `last` is its last non-blank byte.
    Dropping { last: u8 },
    /// Dropping whole lines until one ends a statement with `;`.
    DroppingStatement { last: u8 },
    /// Dropping the rest of a line that is complete on its own.
    DroppingLine,
}

/// The filter over one stream. Feed chunks to `push` and call `finish` at
/// the end; output goes to the caller's buffer.
pub struct LineFilter {
    rules: FilterRules,
    state: State,
    line: Vec<u8>,
    stats: FilterStats,
}

impl LineFilter {
    pub fn new(rules: FilterRules) -> LineFilter {
        for (from, to) in &rules.collations {
            tracing::warn!("rewriting collation `{from}` to `{to}` in the dump, as configured");
        }
        for (from, to) in &rules.definers {
            tracing::warn!("rewriting definer {from} to {to} in the dump, as configured");
        }
        LineFilter {
            rules,
            state: State::LineStart,
            line: Vec::with_capacity(PREFIX_BYTES),
            stats: FilterStats::default(),
        }
    }

    pub fn stats(&self) -> &FilterStats {
        &self.stats
    }

    /// Filter one chunk, appending what passes to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            input = match self.state {
                State::LineStart => self.read_line_start(input, out),
                State::Passing => self.pass(input, out),
                State::Buffering => self.buffer(input, out),
                State::Dropping { last } | State::DroppingStatement { last } => {
                    self.drop_bytes(input, last)
                }
                State::DroppingLine => self.drop_line(input),
            };
        }
    }

    /// Flush a last line without a newline.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.state {
            State::LineStart if !self.line.is_empty() => {
                self.classify(out);
                if self.state == State::Buffering {
                    self.emit_buffered(out);
                }
            }
            State::Buffering => self.emit_buffered(out),
            _ => {}
        }
        self.line.clear();
        self.state = State::LineStart;
    }

    fn read_line_start<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        let room = PREFIX_BYTES - self.line.len();
        let take = input.len().min(room);
        let newline = input[..take].iter().position(|byte| *byte == b'\n');
        let end = newline.map_or(take, |index| index + 1);
        self.line.extend_from_slice(&input[..end]);

        if newline.is_some() || self.line.len() >= PREFIX_BYTES {
            self.classify(out);
            if newline.is_some() {
                self.end_of_line(out);
            }
        }
        &input[end..]
    }

    /// Decide what to do with the line whose start is in `self.line`.
    fn classify(&mut self, out: &mut Vec<u8>) {
        let start = self.line.as_slice();
        if self.rules.drop_gtid_state
            && GTID_STATE_PREFIXES
                .iter()
                .any(|prefix| starts_with_ignore_case(start, prefix))
        {
            self.start_drop(true);
            return;
        }
        if self.rules.drop_mariadb_sandbox_line
            && start.starts_with(MARIADB_SANDBOX_PREFIX.as_bytes())
        {
            self.start_drop(false);
            return;
        }

        let data_line = start.starts_with(b"INSERT ") || start.starts_with(b"(");
        if start.starts_with(TABLE_DATA_PREFIX.as_bytes()) || (!data_line && self.rules.rewrites())
        {
            self.state = State::Buffering;
            return;
        }

        out.extend_from_slice(&self.line);
        self.line.clear();
        self.state = State::Passing;
    }

    /// Drop the current line; with `statement`, also the lines after it
    /// until the statement's closing `;`.
    fn start_drop(&mut self, statement: bool) {
        self.stats.dropped_lines += 1;
        if self.stats.dropped_samples.len() < MAX_SAMPLES {
            let sample = String::from_utf8_lossy(&self.line);
            self.stats
                .dropped_samples
                .push(sample.trim_end().to_string());
        }
        let last = last_non_blank(&self.line).unwrap_or(0);
        self.line.clear();
        self.state = if statement {
            State::Dropping { last }
        } else {
            State::DroppingLine
        };
    }

    /// Called after the newline of a line was consumed in `LineStart`.
    fn end_of_line(&mut self, out: &mut Vec<u8>) {
        match self.state {
            State::Buffering => self.emit_buffered(out),
            State::Dropping { last } | State::DroppingStatement { last } => {
                self.finish_dropped_line(last);
            }
            _ => self.state = State::LineStart,
        }
        self.stats.lines += 1;
    }

    fn drop_line<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match input.iter().position(|byte| *byte == b'\n') {
            Some(index) => {
                self.stats.lines += 1;
                self.state = State::LineStart;
                &input[index + 1..]
            }
            None => &[],
        }
    }

    fn pass<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        match input.iter().position(|byte| *byte == b'\n') {
            Some(index) => {
                out.extend_from_slice(&input[..=index]);
                self.state = State::LineStart;
                self.stats.lines += 1;
                &input[index + 1..]
            }
            None => {
                out.extend_from_slice(input);
                &[]
            }
        }
    }

    fn buffer<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        match input.iter().position(|byte| *byte == b'\n') {
            Some(index) => {
                self.line.extend_from_slice(&input[..=index]);
                self.emit_buffered(out);
                self.stats.lines += 1;
                &input[index + 1..]
            }
            None => {
                self.line.extend_from_slice(input);
                &[]
            }
        }
    }

    fn drop_bytes<'a>(&mut self, input: &'a [u8], last: u8) -> &'a [u8] {
        let newline = input.iter().position(|byte| *byte == b'\n');
        let end = newline.unwrap_or(input.len());
        let last = last_non_blank(&input[..end]).unwrap_or(last);

        match newline {
            Some(index) => {
                self.stats.lines += 1;
                self.finish_dropped_line(last);
                &input[index + 1..]
            }
            None => {
                self.state = match self.state {
                    State::DroppingStatement { .. } => State::DroppingStatement { last },
                    _ => State::Dropping { last },
                };
                &[]
            }
        }
    }

    /// A dropped line ended: the statement ends too if the line ends with
    /// `;`, otherwise the next lines belong to it (MySQL writes a long GTID
    /// set over several lines).
    fn finish_dropped_line(&mut self, last: u8) {
        // The first line of a dropped statement was counted when the drop
        // started; its continuation lines are counted as they end.
        if matches!(self.state, State::DroppingStatement { .. }) {
            self.stats.dropped_lines += 1;
        }
        self.state = if last == b';' {
            State::LineStart
        } else {
            State::DroppingStatement { last: 0 }
        };
    }

    fn emit_buffered(&mut self, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.line);
        if let Some(rest) = line.strip_prefix(TABLE_DATA_PREFIX.as_bytes()) {
            let name_end = rest
                .iter()
                .position(|byte| *byte == b'`')
                .unwrap_or(rest.len());
            self.stats.tables += 1;
            self.stats.current_table =
                Some(String::from_utf8_lossy(&rest[..name_end]).into_owned());
        }

        let rewritten = self.rewrite(&line);
        if rewritten != line {
            self.stats.rewritten_lines += 1;
        }
        out.extend_from_slice(&rewritten);
        self.state = State::LineStart;
        self.line = Vec::with_capacity(PREFIX_BYTES);
    }

    fn rewrite(&self, line: &[u8]) -> Vec<u8> {
        let mut text = line.to_vec();
        for (from, to) in &self.rules.definers {
            text = replace_all(
                &text,
                from.definer_clause().as_bytes(),
                to.definer_clause().as_bytes(),
                false,
            );
        }
        for (from, to) in &self.rules.collations {
            text = replace_all(&text, from.as_bytes(), to.as_bytes(), true);
        }
        text
    }
}

fn starts_with_ignore_case(line: &[u8], prefix: &str) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn last_non_blank(bytes: &[u8]) -> Option<u8> {
    bytes
        .iter()
        .rev()
        .find(|byte| !byte.is_ascii_whitespace())
        .copied()
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Replace every occurrence of `from`; with `whole_word`, only where it is
/// not part of a longer identifier.
fn replace_all(text: &[u8], from: &[u8], to: &[u8], whole_word: bool) -> Vec<u8> {
    if from.is_empty() || text.len() < from.len() {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        let matches = text[index..].starts_with(from)
            && (!whole_word
                || ((index == 0 || !is_word_byte(text[index - 1]))
                    && text
                        .get(index + from.len())
                        .is_none_or(|next| !is_word_byte(*next))));
        if matches {
            out.extend_from_slice(to);
            index += from.len();
        } else {
            out.push(text[index]);
            index += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{FilterRules, LineFilter};
    use crate::database::account::Account;

    fn filter_in_chunks(rules: FilterRules, input: &str, chunk: usize) -> (String, LineFilter) {
        let mut filter = LineFilter::new(rules);
        let mut out = Vec::new();
        for piece in input.as_bytes().chunks(chunk) {
            filter.push(piece, &mut out);
        }
        filter.finish(&mut out);
        (String::from_utf8(out).unwrap(), filter)
    }

    fn gtid_rules() -> FilterRules {
        FilterRules {
            drop_gtid_state: true,
            ..FilterRules::default()
        }
    }

    const GTID_DUMP: &str = "SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN= 0;
SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,
4c8a2b1e-71ca-11e1-9e33-c80aa9429562:1-9';
CREATE TABLE t (id int);
INSERT INTO t VALUES (1);
SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;
";

    #[test]
    fn gtid_statements_are_dropped_at_any_chunk_size() {
        for chunk in [1, 2, 7, 64, 4096] {
            let (out, filter) = filter_in_chunks(gtid_rules(), GTID_DUMP, chunk);
            assert_eq!(
                out, "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n",
                "chunk size {chunk}"
            );
            assert_eq!(filter.stats().dropped_lines, 5, "chunk size {chunk}");
        }
    }

    #[test]
    fn gtid_statements_pass_in_seed_mode() {
        let (out, _) = filter_in_chunks(FilterRules::default(), GTID_DUMP, 5);
        assert_eq!(out, GTID_DUMP);
    }

    #[test]
    fn long_data_lines_pass_unchanged() {
        let long = format!("INSERT INTO t VALUES ('{}');\n", "x".repeat(100_000));
        let rules = FilterRules {
            collations: vec![("x".to_string(), "y".to_string())],
            ..gtid_rules()
        };
        let (out, _) = filter_in_chunks(rules, &long, 4096);
        assert_eq!(out, long);
    }

    #[test]
    fn definer_is_rewritten_outside_data() {
        let input = "/*!50013 DEFINER=`olduser`@`%` SQL SECURITY DEFINER */\n\
                     INSERT INTO t VALUES ('DEFINER=`olduser`@`%`');\n";
        let rules = FilterRules {
            definers: vec![(
                Account::new("olduser", "%"),
                Account::new("app", "localhost"),
            )],
            ..FilterRules::default()
        };
        let (out, filter) = filter_in_chunks(rules, input, 3);
        assert_eq!(
            out,
            "/*!50013 DEFINER=`app`@`localhost` SQL SECURITY DEFINER */\n\
             INSERT INTO t VALUES ('DEFINER=`olduser`@`%`');\n"
        );
        assert_eq!(filter.stats().rewritten_lines, 1);
    }

    #[test]
    fn collation_is_rewritten_as_whole_word() {
        let input = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n\
                     `a` varchar(3) COLLATE utf8mb4_0900_ai_cix,\n";
        let rules = FilterRules {
            collations: vec![(
                "utf8mb4_0900_ai_ci".to_string(),
                "utf8mb4_unicode_ci".to_string(),
            )],
            ..FilterRules::default()
        };
        let (out, _) = filter_in_chunks(rules, input, 10);
        assert_eq!(
            out,
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n\
             `a` varchar(3) COLLATE utf8mb4_0900_ai_cix,\n"
        );
    }

    #[test]
    fn table_data_comments_are_counted() {
        let input = "-- Dumping data for table `ww_shows`\nINSERT INTO x VALUES (1);\n\
                     -- Dumping data for table `ww_guests`\n";
        let (out, filter) = filter_in_chunks(FilterRules::default(), input, 4);
        assert_eq!(out, input);
        assert_eq!(filter.stats().tables, 2);
        assert_eq!(filter.stats().current_table.as_deref(), Some("ww_guests"));
    }

    #[test]
    fn mariadb_sandbox_line_is_dropped_for_mysql() {
        let input = "/*M!999999\\- enable the sandbox mode */ \nSELECT 1;\n";
        let rules = FilterRules {
            drop_mariadb_sandbox_line: true,
            ..FilterRules::default()
        };
        let (out, _) = filter_in_chunks(rules, input, 8);
        assert_eq!(out, "SELECT 1;\n");
    }

    #[test]
    fn last_line_without_newline_is_kept() {
        let (out, _) = filter_in_chunks(gtid_rules(), "SELECT 1;\nSELECT 2;", 3);
        assert_eq!(out, "SELECT 1;\nSELECT 2;");
    }
}
