//! Checks run before any data moves. Each finding states what is wrong
//! and what to do. An error finding stops the sync before the target is
//! touched, so a failed preflight never leaves a half-loaded database.

pub mod checks;
pub mod dump_text;
pub mod facts;
pub mod finding;

use std::collections::BTreeMap;
use std::fmt;

use crate::database::account::Account;
use crate::database::dump::SyncMode;
use crate::database::endpoint::Endpoint;
use crate::database::filter::FilterRules;
use crate::database::preflight::facts::{SourceFacts, TargetFacts};
use crate::database::preflight::finding::{Finding, Severity};
use crate::database::sql::SqlError;

/// Choices the user made for the sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreflightOptions {
    pub database: String,
    pub mode: SyncMode,
    /// Collation renames the user opted into, source to target, such as
    /// `utf8mb4_0900_ai_ci` to `utf8mb4_unicode_ci`.
    pub collation_map: BTreeMap<String, String>,
    /// The account that replaces definers missing on the target, if the
    /// user opted in.
    pub definer_rewrite: Option<Account>,
    /// Free bytes on the target, when the caller knows them; otherwise
    /// preflight runs `df` on the target's data directory.
    pub target_free_bytes: Option<u64>,
    /// Writes on the source are frozen (read-only), so non-InnoDB tables
    /// dump consistently.
    pub writes_frozen: bool,
}

impl PreflightOptions {
    pub fn new(database: &str, mode: SyncMode) -> Self {
        Self {
            database: database.to_string(),
            mode,
            collation_map: BTreeMap::new(),
            definer_rewrite: None,
            target_free_bytes: None,
            writes_frozen: false,
        }
    }
}

/// The result of a preflight: the findings, and the filter rules for the
/// stream that the user's opted-in mappings produced.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Preflight {
    pub mode: SyncMode,
    pub source: String,
    pub target: String,
    pub findings: Vec<Finding>,
    #[serde(skip)]
    pub rules: FilterRules,
}

impl Preflight {
    /// True when no finding is an error.
    pub fn passed(&self) -> bool {
        self.errors().next().is_none()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
    }

    /// `Ok(self)` when it passed, otherwise the error findings as an error.
    pub fn require_passed(self) -> Result<Preflight, PreflightFailed> {
        if self.passed() {
            return Ok(self);
        }
        Err(PreflightFailed {
            target: self.target.clone(),
            errors: self.errors().cloned().collect(),
        })
    }
}

impl fmt::Display for Preflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "preflight from {} to {}:", self.source, self.target)?;
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// Preflight found errors; nothing was loaded.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", failed_text(target, errors))]
pub struct PreflightFailed {
    pub target: String,
    pub errors: Vec<Finding>,
}

fn failed_text(target: &str, errors: &[Finding]) -> String {
    let mut text = format!(
        "preflight found {} problem(s); nothing was loaded into {target}",
        errors.len()
    );
    for error in errors {
        text.push_str(&format!("\n- {error}"));
    }
    text
}

/// Check a live source against a live target.
pub async fn run(
    source: &Endpoint,
    target: &Endpoint,
    options: &PreflightOptions,
) -> Result<Preflight, SqlError> {
    let (source_facts, target_facts) = tokio::join!(
        facts::source_facts(source, &options.database),
        facts::target_facts(target, &options.database, options.target_free_bytes),
    );
    let (mut source_facts, target_facts) = (source_facts?, target_facts?);

    // Only a table whose column types allow a row too long for the target
    // is read in full for its longest row.
    let too_long: Vec<String> = source_facts
        .row_bounds
        .iter()
        .filter(|(_, bound)| {
            target_facts.max_allowed_packet > 0
                && checks::statement_bytes_for_row(*bound) > target_facts.max_allowed_packet
        })
        .map(|(table, _)| table.clone())
        .collect();
    if !too_long.is_empty() {
        source_facts.largest_row =
            facts::largest_row(&source.client(), &options.database, &too_long).await?;
    }
    Ok(evaluate(&source_facts, &target_facts, options))
}

/// Check dump text (a file from elsewhere) against a live target.
pub async fn run_for_dump(
    origin: &str,
    text: &str,
    target: &Endpoint,
    options: &PreflightOptions,
) -> Result<Preflight, SqlError> {
    run_with_facts(dump_text::dump_facts(origin, text), target, options).await
}

/// Check source facts gathered elsewhere against a live target.
pub async fn run_with_facts(
    source_facts: SourceFacts,
    target: &Endpoint,
    options: &PreflightOptions,
) -> Result<Preflight, SqlError> {
    let target_facts =
        facts::target_facts(target, &options.database, options.target_free_bytes).await?;
    Ok(evaluate(&source_facts, &target_facts, options))
}

fn evaluate(source: &SourceFacts, target: &TargetFacts, options: &PreflightOptions) -> Preflight {
    let (findings, rules) = checks::evaluate(source, target, options);
    for finding in &findings {
        match finding.severity {
            Severity::Error => tracing::error!("preflight: {}", finding.message),
            Severity::Warning => tracing::warn!("preflight: {}", finding.message),
            Severity::Info => tracing::info!("preflight: {}", finding.message),
        }
    }
    Preflight {
        mode: options.mode,
        source: source.origin.clone(),
        target: target.origin.clone(),
        findings,
        rules,
    }
}
