//! The preflight checks: pure functions from the facts of both sides and
//! the user's options to findings.

use std::collections::{BTreeMap, BTreeSet};

use crate::database::account::Account;
use crate::database::dump::SyncMode;
use crate::database::filter::FilterRules;
use crate::database::preflight::PreflightOptions;
use crate::database::preflight::facts::{SourceFacts, TargetFacts};
use crate::database::preflight::finding::Finding;

/// Privileges the dump user needs on the source: rows, views, triggers
/// and events. Routines need only what the user has on the database.
const DUMP_PRIVILEGES: [&str; 4] = ["SELECT", "SHOW VIEW", "TRIGGER", "EVENT"];

/// Privileges a replication seed dump also needs, for the consistent
/// binary log position.
const SEED_PRIVILEGES: [&str; 2] = ["RELOAD", "REPLICATION CLIENT"];

/// Privileges the load user needs on the target to replay a full dump.
const LOAD_PRIVILEGES: [&str; 12] = [
    "CREATE",
    "DROP",
    "INSERT",
    "ALTER",
    "INDEX",
    "REFERENCES",
    "LOCK TABLES",
    "CREATE VIEW",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "TRIGGER",
    "EVENT",
];

/// Any one of these lets the load user create objects with another
/// definer: `SUPER` (both), `SET USER` (MariaDB 10.5.2+), `SET_USER_ID`
/// (MySQL 8.0).
const DEFINER_PRIVILEGES: [&str; 3] = ["SUPER", "SET USER", "SET_USER_ID"];

/// Estimate the largest statement a row needs. A dump writes each row in
/// an `INSERT`, and escaping or `--hex-blob` can double its bytes.
pub(crate) fn statement_bytes_for_row(row_bytes: u64) -> u64 {
    row_bytes.saturating_mul(2).saturating_add(1024)
}

/// Run every check; returns the findings and the filter rules the user's
/// opted-in mappings turn into.
pub fn evaluate(
    source: &SourceFacts,
    target: &TargetFacts,
    options: &PreflightOptions,
) -> (Vec<Finding>, FilterRules) {
    let mut findings = vec![mode_finding(options)];
    let mut rules = FilterRules {
        drop_gtid_state: options.mode == SyncMode::DumpLoad,
        drop_mariadb_sandbox_line: target.flavor == Some(crate::database::flavor::Flavor::MySql),
        ..FilterRules::default()
    };

    rules.collations = check_collations(source, target, options, &mut findings);
    check_charsets(source, target, &mut findings);
    rules.definers = check_definers(source, target, options, &mut findings);
    check_gtid(source, target, options, &mut findings);
    check_packet(source, target, &mut findings);
    check_engines(source, options, &mut findings);
    check_time_zones(source, target, &mut findings);
    check_privileges(source, target, options, &mut findings);
    check_disk(source, target, &mut findings);
    check_existing(target, options, &mut findings);
    (findings, rules)
}

fn mode_finding(options: &PreflightOptions) -> Finding {
    let detail = match options.mode {
        SyncMode::DumpLoad => {
            "the target becomes an independent copy; GTID state is not carried over"
        }
        SyncMode::ReplicationSeed => {
            "the target is seeded as a replica and keeps the source's GTID position"
        }
    };
    Finding::info(
        "mode",
        format!("sync mode: {} ({detail})", options.mode.name()),
    )
}

/// Suggest a collation of the target with the same character set.
fn suggest_collation(missing: &str, target: &TargetFacts) -> Option<String> {
    let charset = missing.split('_').next()?;
    [
        format!("{charset}_unicode_ci"),
        format!("{charset}_general_ci"),
    ]
    .into_iter()
    .find(|candidate| target.collations.contains(candidate))
}

fn check_collations(
    source: &SourceFacts,
    target: &TargetFacts,
    options: &PreflightOptions,
    findings: &mut Vec<Finding>,
) -> Vec<(String, String)> {
    let mut mappings = Vec::new();
    for collation in source.collations.difference(&target.collations) {
        let Some(mapped) = options.collation_map.get(collation) else {
            let suggestion = suggest_collation(collation, target)
                .map(|candidate| format!(" (such as `{collation}={candidate}`)"))
                .unwrap_or_default();
            findings.push(Finding::error(
                "collations",
                format!(
                    "{} uses collation `{collation}`, which {} does not have; \
                     loading would fail part-way",
                    source.origin, target.origin
                ),
                format!(
                    "opt in to a mapping to a collation the target has{suggestion}, \
                     or move to a server version that has `{collation}`"
                ),
            ));
            continue;
        };

        if !target.collations.contains(mapped) {
            findings.push(Finding::error(
                "collations",
                format!(
                    "the mapping `{collation}={mapped}` names a collation {} does not have",
                    target.origin
                ),
                "map to a collation listed by `SHOW COLLATION` on the target",
            ));
            continue;
        }
        findings.push(Finding::warning(
            "collations",
            format!(
                "collation `{collation}` will be rewritten to `{mapped}` in the dump, as configured"
            ),
            "sort order and comparisons of the affected columns follow the new collation",
        ));
        mappings.push((collation.clone(), mapped.clone()));
    }
    mappings
}

fn check_charsets(source: &SourceFacts, target: &TargetFacts, findings: &mut Vec<Finding>) {
    for charset in source.charsets.difference(&target.charsets) {
        findings.push(Finding::error(
            "charsets",
            format!(
                "{} uses character set `{charset}`, which {} does not have",
                source.origin, target.origin
            ),
            "convert the affected columns on the source first, or use a target server that has it",
        ));
    }
}

fn check_definers(
    source: &SourceFacts,
    target: &TargetFacts,
    options: &PreflightOptions,
    findings: &mut Vec<Finding>,
) -> Vec<(Account, Account)> {
    let mut by_definer: BTreeMap<&Account, Vec<String>> = BTreeMap::new();
    for object in &source.definers {
        by_definer
            .entry(&object.definer)
            .or_default()
            .push(format!("{} `{}`", object.kind, object.name));
    }
    if by_definer.is_empty() {
        return Vec::new();
    }

    let Some(accounts) = &target.accounts else {
        findings.push(Finding::warning(
            "definers",
            format!(
                "cannot read `mysql.user` on {}, so the definers {} are not checked",
                target.origin,
                list_accounts(by_definer.keys().copied())
            ),
            "run the preflight as a user that can read `mysql.user`",
        ));
        return Vec::new();
    };

    let mut rewrites = Vec::new();
    for (definer, objects) in &by_definer {
        if accounts.contains(*definer) {
            check_definer_privilege(definer, target, findings);
            continue;
        }
        match &options.definer_rewrite {
            Some(replacement) if accounts.contains(replacement) => {
                findings.push(Finding::warning(
                    "definers",
                    format!(
                        "definer {definer} of {} does not exist on {}; it will be rewritten to \
                         {replacement}, as configured",
                        objects.join(", "),
                        target.origin
                    ),
                    format!(
                        "{replacement} needs the privileges these objects use: a trigger or \
                         routine that writes fails if the account can only read"
                    ),
                ));
                rewrites.push(((*definer).clone(), replacement.clone()));
            }
            Some(replacement) => findings.push(Finding::error(
                "definers",
                format!(
                    "the definer rewrite names {replacement}, which does not exist on {}",
                    target.origin
                ),
                "create the app users on the target before the preflight",
            )),
            None => findings.push(Finding::error(
                "definers",
                format!(
                    "definer {definer} of {} does not exist on {}; the objects would load but \
                     fail when used",
                    objects.join(", "),
                    target.origin
                ),
                format!(
                    "create {definer} on the target, or opt in to rewriting definers to an app user"
                ),
            )),
        }
    }
    rewrites
}

fn check_definer_privilege(definer: &Account, target: &TargetFacts, findings: &mut Vec<Finding>) {
    let (Some(current), Some(privileges)) = (&target.current_user, &target.privileges) else {
        return;
    };
    if definer == current || DEFINER_PRIVILEGES.iter().any(|p| privileges.contains(*p)) {
        return;
    }
    findings.push(Finding::error(
        "definers",
        format!(
            "the load user {current} cannot create objects with definer {definer} on {}",
            target.origin
        ),
        "load as a user with SUPER or SET USER (MariaDB) / SET_USER_ID (MySQL), or rewrite the definers",
    ));
}

fn list_accounts<'a>(accounts: impl Iterator<Item = &'a Account>) -> String {
    accounts
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_gtid(
    source: &SourceFacts,
    target: &TargetFacts,
    options: &PreflightOptions,
    findings: &mut Vec<Finding>,
) {
    match options.mode {
        SyncMode::DumpLoad => {
            if source.gtid_enabled || source.dump_sets_gtid_purged {
                findings.push(Finding::info(
                    "gtid",
                    "the source uses GTIDs; the dump leaves out `SET @@GLOBAL.GTID_PURGED` \
                     (`--set-gtid-purged=OFF` on MySQL, and the stream filter removes any such \
                     line), so the target keeps its own GTID history",
                ));
            }
        }
        SyncMode::ReplicationSeed => {
            if source.flavor.is_some() && source.flavor != target.flavor {
                findings.push(Finding::error(
                    "gtid",
                    format!(
                        "a replica must run the same flavor as its source: {} and {}",
                        source.origin, target.origin
                    ),
                    "use dump/load mode, or a target of the source's flavor",
                ));
            }
            if !target.gtid_executed.trim().is_empty() {
                findings.push(Finding::error(
                    "gtid",
                    format!(
                        "{} already has GTID history `{}`; a replication seed needs a clean target",
                        target.origin,
                        target.gtid_executed.trim()
                    ),
                    "use a freshly installed target server, or dump/load mode for an independent copy",
                ));
            }
        }
    }
}

fn check_packet(source: &SourceFacts, target: &TargetFacts, findings: &mut Vec<Finding>) {
    let Some((table, row_bytes)) = &source.largest_row else {
        return;
    };
    let needed = statement_bytes_for_row(*row_bytes);
    if target.max_allowed_packet > 0 && needed > target.max_allowed_packet {
        findings.push(Finding::error(
            "max_allowed_packet",
            format!(
                "the longest row (table `{table}`, {row_bytes} bytes) needs statements of up to \
                 {needed} bytes, but {} has max_allowed_packet = {}",
                target.origin, target.max_allowed_packet
            ),
            format!(
                "set `max_allowed_packet` to at least {needed} in the target's server \
                 configuration and restart it"
            ),
        ));
    }
}

fn check_engines(source: &SourceFacts, options: &PreflightOptions, findings: &mut Vec<Finding>) {
    if source.non_innodb.is_empty() {
        return;
    }
    let tables: Vec<String> = source
        .non_innodb
        .iter()
        .map(|(table, engine)| format!("`{table}` ({engine})"))
        .collect();
    let message = format!(
        "tables {} are not InnoDB; `--single-transaction` gives them no consistent snapshot",
        tables.join(", ")
    );
    if options.writes_frozen {
        findings.push(Finding::info(
            "engines",
            format!("{message}; writes are frozen"),
        ));
    } else {
        findings.push(Finding::warning(
            "engines",
            message,
            "freeze writes on the source (read-only) before the dump, or convert the tables to InnoDB",
        ));
    }
}

fn check_time_zones(source: &SourceFacts, target: &TargetFacts, findings: &mut Vec<Finding>) {
    let (Some((source_zone, source_offset)), Some((target_zone, target_offset))) =
        (&source.time_zone, &target.time_zone)
    else {
        return;
    };
    if source_zone == target_zone && source_offset == target_offset {
        return;
    }
    findings.push(Finding::warning(
        "time_zone",
        format!(
            "the source's time zone is {source_zone} (UTC{}), the target's is {target_zone} (UTC{})",
            offset_text(*source_offset),
            offset_text(*target_offset)
        ),
        "TIMESTAMP values move in UTC and stay right, but NOW() and DATETIME defaults shift: \
         set `default-time-zone` on the target to the source's zone if the apps depend on it",
    ));
}

fn offset_text(minutes: i64) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn check_privileges(
    source: &SourceFacts,
    target: &TargetFacts,
    options: &PreflightOptions,
    findings: &mut Vec<Finding>,
) {
    if let Some(held) = &source.privileges {
        let mut needed: Vec<&str> = DUMP_PRIVILEGES.to_vec();
        if options.mode == SyncMode::ReplicationSeed {
            needed.extend(SEED_PRIVILEGES);
        }
        let missing = missing_privileges(held, &needed);
        if !missing.is_empty() {
            findings.push(Finding::error(
                "privileges",
                format!(
                    "the dump user on {} lacks {}",
                    source.origin,
                    missing.join(", ")
                ),
                format!(
                    "grant them: GRANT {} ON `{}`.* TO the dump user (RELOAD and REPLICATION \
                     CLIENT are global: ON *.*)",
                    missing.join(", "),
                    options.database
                ),
            ));
        }
    }

    if let Some(held) = &target.privileges {
        let missing = missing_privileges(held, &LOAD_PRIVILEGES);
        if !missing.is_empty() {
            findings.push(Finding::error(
                "privileges",
                format!(
                    "the load user on {} lacks {}",
                    target.origin,
                    missing.join(", ")
                ),
                format!(
                    "grant them: GRANT {} ON `{}`.* TO the load user",
                    missing.join(", "),
                    options.database
                ),
            ));
        }
    }
}

fn missing_privileges(held: &BTreeSet<String>, needed: &[&str]) -> Vec<String> {
    if held.contains("ALL PRIVILEGES") {
        return Vec::new();
    }
    // MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR and lists
    // only the new name.
    let holds = |privilege: &str| {
        held.contains(privilege)
            || (privilege == "REPLICATION CLIENT" && held.contains("BINLOG MONITOR"))
    };
    needed
        .iter()
        .filter(|privilege| !holds(privilege))
        .map(|privilege| privilege.to_string())
        .collect()
}

fn check_disk(source: &SourceFacts, target: &TargetFacts, findings: &mut Vec<Finding>) {
    let (Some(data), Some(free)) = (source.data_bytes, target.free_bytes) else {
        findings.push(Finding::warning(
            "disk",
            format!("free disk space on {} was not checked", target.origin),
            "pass the target's free bytes, or let wwctl run `df` on the target's data directory",
        ));
        return;
    };

    // The loaded tables take about what they take on the source. Redo,
    // undo and binary logs written during the load need about as much again
    // (an estimate).
    let comfortable = data.saturating_mul(2);
    if free < data {
        findings.push(Finding::error(
            "disk",
            format!(
                "{} has {free} bytes free, less than the {data} bytes of data and indexes on the source",
                target.origin
            ),
            "free space or grow the target's volume before the sync",
        ));
    } else if free < comfortable {
        findings.push(Finding::warning(
            "disk",
            format!(
                "{} has {free} bytes free for {data} bytes of data and indexes; logs written \
                 during the load may fill it",
                target.origin
            ),
            format!("aim for at least {comfortable} bytes free"),
        ));
    } else {
        findings.push(Finding::info(
            "disk",
            format!(
                "{} has {free} bytes free for {data} bytes of data and indexes",
                target.origin
            ),
        ));
    }
}

fn check_existing(target: &TargetFacts, options: &PreflightOptions, findings: &mut Vec<Finding>) {
    if target.existing_tables == 0 {
        return;
    }
    findings.push(Finding::warning(
        "target_database",
        format!(
            "database `{}` on {} already has {} table(s); the load replaces tables of the same \
             name and leaves others",
            options.database, target.origin, target.existing_tables
        ),
        "drop the target database first if it must match the source exactly; verification \
         fails on tables the source does not have",
    ));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{evaluate, offset_text};
    use crate::database::account::Account;
    use crate::database::dump::SyncMode;
    use crate::database::flavor::Flavor;
    use crate::database::preflight::PreflightOptions;
    use crate::database::preflight::facts::{DefinedObject, SourceFacts, TargetFacts};
    use crate::database::preflight::finding::Severity;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    fn source() -> SourceFacts {
        SourceFacts {
            origin: "source".to_string(),
            flavor: Some(Flavor::MySql),
            collations: set(&["utf8mb4_unicode_ci"]),
            charsets: set(&["utf8mb4"]),
            data_bytes: Some(1_000),
            ..SourceFacts::default()
        }
    }

    fn target() -> TargetFacts {
        TargetFacts {
            origin: "target".to_string(),
            flavor: Some(Flavor::MariaDb),
            collations: set(&["utf8mb4_unicode_ci", "utf8mb4_general_ci"]),
            charsets: set(&["utf8mb4"]),
            accounts: Some([Account::new("root", "localhost")].into_iter().collect()),
            max_allowed_packet: 16 * 1024 * 1024,
            free_bytes: Some(1_000_000),
            ..TargetFacts::default()
        }
    }

    fn options() -> PreflightOptions {
        PreflightOptions::new("wwdtm", SyncMode::DumpLoad)
    }

    fn errors(findings: &[crate::database::preflight::finding::Finding]) -> Vec<&'static str> {
        findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .map(|finding| finding.check)
            .collect()
    }

    #[test]
    fn clean_facts_have_no_errors() {
        let (findings, rules) = evaluate(&source(), &target(), &options());
        assert!(errors(&findings).is_empty(), "{findings:?}");
        assert!(rules.drop_gtid_state);
        assert!(!rules.drop_mariadb_sandbox_line);
    }

    #[test]
    fn missing_collation_is_an_error_with_suggestion() {
        let mut source = source();
        source.collations.insert("utf8mb4_0900_ai_ci".to_string());
        let (findings, rules) = evaluate(&source, &target(), &options());
        assert_eq!(errors(&findings), vec!["collations"]);
        let finding = findings.iter().find(|f| f.check == "collations").unwrap();
        assert!(finding.message.contains("`utf8mb4_0900_ai_ci`"));
        assert!(
            finding
                .hint
                .contains("utf8mb4_0900_ai_ci=utf8mb4_unicode_ci")
        );
        assert!(rules.collations.is_empty());
    }

    #[test]
    fn opted_in_collation_mapping_becomes_a_rule() {
        let mut source = source();
        source.collations.insert("utf8mb4_0900_ai_ci".to_string());
        let mut options = options();
        options.collation_map.insert(
            "utf8mb4_0900_ai_ci".to_string(),
            "utf8mb4_unicode_ci".to_string(),
        );
        let (findings, rules) = evaluate(&source, &target(), &options);
        assert!(errors(&findings).is_empty());
        assert_eq!(
            rules.collations,
            vec![(
                "utf8mb4_0900_ai_ci".to_string(),
                "utf8mb4_unicode_ci".to_string()
            )]
        );
    }

    #[test]
    fn missing_definer_is_an_error_unless_rewritten() {
        let mut source = source();
        source.definers.push(DefinedObject {
            kind: "view".to_string(),
            name: "v".to_string(),
            definer: Account::new("olduser", "%"),
        });
        let (findings, _) = evaluate(&source, &target(), &options());
        assert_eq!(errors(&findings), vec!["definers"]);

        let mut options = options();
        options.definer_rewrite = Some(Account::new("root", "localhost"));
        let (findings, rules) = evaluate(&source, &target(), &options);
        assert!(errors(&findings).is_empty(), "{findings:?}");
        assert_eq!(
            rules.definers,
            vec![(
                Account::new("olduser", "%"),
                Account::new("root", "localhost")
            )]
        );
    }

    #[test]
    fn seed_mode_needs_clean_target_of_same_flavor() {
        let mut target = target();
        target.gtid_executed = "0-1-42".to_string();
        let options = PreflightOptions::new("wwdtm", SyncMode::ReplicationSeed);
        let (findings, rules) = evaluate(&source(), &target, &options);
        assert_eq!(errors(&findings), vec!["gtid", "gtid"]);
        assert!(!rules.drop_gtid_state);
    }

    #[test]
    fn large_row_against_small_packet_is_an_error() {
        let mut source = source();
        source.largest_row = Some(("ww_showdescriptions".to_string(), 10 * 1024 * 1024));
        let (findings, _) = evaluate(&source, &target(), &options());
        assert_eq!(errors(&findings), vec!["max_allowed_packet"]);
    }

    #[test]
    fn low_disk_is_an_error() {
        let mut target = target();
        target.free_bytes = Some(10);
        let (findings, _) = evaluate(&source(), &target, &options());
        assert_eq!(errors(&findings), vec!["disk"]);
    }

    #[test]
    fn missing_load_privileges_are_listed() {
        let mut target = target();
        target.privileges = Some(set(&["SELECT", "INSERT"]));
        let (findings, _) = evaluate(&source(), &target, &options());
        let finding = findings.iter().find(|f| f.check == "privileges").unwrap();
        assert!(
            finding.message.contains("CREATE, DROP"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn offsets_print_as_hours_and_minutes() {
        assert_eq!(offset_text(0), "+00:00");
        assert_eq!(offset_text(-330), "-05:30");
    }
}
