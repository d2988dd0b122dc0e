//! Where output goes: data on stdout (plans, JSON), progress and logs on stderr.

pub mod logging;
pub mod progress;

use std::fmt::Display;
use std::io::Write;

use crate::cli::OutputFormat;

/// Formats `number` with `noun`, adding `s` unless the number is one:
/// `1 file`, `0 files`. It suits only nouns with a regular plural.
pub fn count<N: Display + PartialEq + From<u8>>(number: N, noun: &str) -> String {
    let plural = if number == N::from(1) { "" } else { "s" };
    format!("{number} {noun}{plural}")
}

/// Writes command results to stdout and human messages to stderr.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    pub format: OutputFormat,
    pub quiet: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, quiet: bool) -> Self {
        Self { format, quiet }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Write a JSON document to stdout, pretty-printed, with a final newline.
    pub fn json(&self, value: &impl serde::Serialize) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value)?;
        stdout.write_all(b"\n")
    }

    /// Write human-readable result text to stdout.
    pub fn text(&self, text: &str) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            stdout.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Write a progress or status message to stderr, unless quiet.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn count_is_singular_for_one() {
        assert_eq!(count(1usize, "zone"), "1 zone");
        assert_eq!(count(0usize, "zone"), "0 zones");
        assert_eq!(count(10u64, "record"), "10 records");
    }
}
