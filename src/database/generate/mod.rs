//! Test data at the production database's shape, as a stream of SQL.
//!
//! At scale 1 the data has about 1,500 weekly shows since 1998, 120
//! panelists, 1,200 guests, 160 locations and 6,000 panelist score rows,
//! with the hosts, scorekeepers, bluffs, descriptions, notes and mappings
//! that go with them. The same seed always gives the same bytes.

pub mod insert;
pub mod rng;
pub mod rows;
pub mod schema;
pub mod text;
pub mod words;

use std::io::{self, Write};

use crate::database::generate::rng::SplitMix64;
use crate::database::generate::rows::{Plan, Sizes};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Multiplies every row count; 1 is the production shape, 100 is for
    /// benchmarks.
    pub scale: u32,
    pub seed: u64,
    /// Write the DDL (`DROP TABLE IF EXISTS` and `CREATE TABLE`) before
    /// the rows. Turn it off to fill a schema loaded from elsewhere.
    pub schema: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            scale: 1,
            seed: 1,
            schema: true,
        }
    }
}

/// What was written: rows per table in load order, and total bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Generated {
    pub tables: Vec<(String, u64)>,
    pub bytes: u64,
}

impl Generated {
    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables
            .iter()
            .find(|(name, _)| name == table)
            .map(|(_, rows)| *rows)
    }
}

type TableWriter = fn(&Plan, &mut dyn Write) -> io::Result<u64>;

/// The table writers in load order (parents before children).
const WRITERS: [(&str, TableWriter); 20] = [
    ("__metadata", rows::metadata),
    ("ww_pronouns", |_, out| rows::pronouns(out)),
    ("ww_postal_abbreviations", |_, out| {
        rows::postal_abbreviations(out)
    }),
    ("ww_hosts", rows::hosts),
    ("ww_scorekeepers", rows::scorekeepers),
    ("ww_panelists", rows::panelists),
    ("ww_guests", rows::guests),
    ("ww_locations", rows::locations),
    ("ww_hostpronounsmap", rows::host_pronouns),
    ("ww_skpronounsmap", rows::scorekeeper_pronouns),
    ("ww_panelistpronounsmap", rows::panelist_pronouns),
    ("ww_shows", rows::shows),
    ("ww_showdescriptions", rows::show_descriptions),
    ("ww_shownotes", rows::show_notes),
    ("ww_showhostmap", rows::show_hosts),
    ("ww_showskmap", rows::show_scorekeepers),
    ("ww_showlocationmap", rows::show_locations),
    ("ww_showguestmap", rows::show_guests),
    ("ww_showpnlmap", rows::show_panelists),
    ("ww_showbluffmap", rows::show_bluffs),
];

/// Write the generated database as SQL to `out`: session settings, the
/// schema if asked, then multi-row `INSERT`s per table with foreign key and
/// unique checks off, restored at the end. Load it into an empty database
/// with the mysql client.
pub fn write_sql(options: &GenerateOptions, out: &mut dyn Write) -> io::Result<Generated> {
    let mut out = CountingWriter {
        inner: out,
        bytes: 0,
    };
    let plan = Plan {
        sizes: Sizes::at_scale(options.scale),
        rng: SplitMix64::new(options.seed),
        scale: options.scale.max(1),
        seed: options.seed,
    };

    writeln!(
        out,
        "-- wwctl test data: scale {}, seed {}",
        plan.scale, plan.seed
    )?;
    out.write_all(HEADER.as_bytes())?;
    if options.schema {
        out.write_all(schema::ddl().as_bytes())?;
    }

    let mut tables = Vec::with_capacity(WRITERS.len());
    for (table, writer) in WRITERS {
        let rows = writer(&plan, &mut out)?;
        tables.push((table.to_string(), rows));
    }

    out.write_all(FOOTER.as_bytes())?;
    out.flush()?;
    Ok(Generated {
        tables,
        bytes: out.bytes,
    })
}

/// The generated SQL as one string (for tests and small scales).
pub fn to_string(options: &GenerateOptions) -> String {
    let mut out = Vec::new();
    write_sql(options, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("generated SQL is UTF-8")
}

const HEADER: &str = "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci;
SET @wwctl_old_foreign_key_checks = @@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS = 0;
SET @wwctl_old_unique_checks = @@UNIQUE_CHECKS, UNIQUE_CHECKS = 0;
SET @wwctl_old_time_zone = @@TIME_ZONE, TIME_ZONE = '+00:00';
";

const FOOTER: &str = "SET TIME_ZONE = @wwctl_old_time_zone;
SET UNIQUE_CHECKS = @wwctl_old_unique_checks;
SET FOREIGN_KEY_CHECKS = @wwctl_old_foreign_key_checks;
";

struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::{GenerateOptions, WRITERS, schema, to_string, write_sql};

    #[test]
    fn writers_follow_schema_order() {
        let writers: Vec<&str> = WRITERS.iter().map(|(name, _)| *name).collect();
        let tables: Vec<&str> = schema::table_names().collect();
        assert_eq!(writers, tables);
    }

    #[test]
    fn scale_one_has_production_counts() {
        let generated = write_sql(&GenerateOptions::default(), &mut std::io::sink()).unwrap();
        assert_eq!(generated.rows("ww_shows"), Some(1_500));
        assert_eq!(generated.rows("ww_panelists"), Some(120));
        assert_eq!(generated.rows("ww_guests"), Some(1_200));
        assert_eq!(generated.rows("ww_locations"), Some(160));
        assert_eq!(generated.rows("ww_showpnlmap"), Some(6_000));
    }

    #[test]
    fn same_seed_gives_same_bytes() {
        let options = GenerateOptions {
            seed: 42,
            ..GenerateOptions::default()
        };
        assert_eq!(to_string(&options), to_string(&options));
    }

    #[test]
    fn different_seed_gives_different_bytes() {
        let first = to_string(&GenerateOptions {
            seed: 1,
            ..GenerateOptions::default()
        });
        let second = to_string(&GenerateOptions {
            seed: 2,
            ..GenerateOptions::default()
        });
        assert_ne!(first, second);
    }

    #[test]
    fn output_contains_hard_values() {
        let text = to_string(&GenerateOptions::default());
        assert!(text.contains('😀') || text.contains('🎉') || text.contains('🦆'));
        assert!(text.contains("NULL"));
        assert!(text.contains("\\'"));
        assert!(text.contains("\\n"));
        assert!(text.contains("'1998-01-03'"));
    }
}
