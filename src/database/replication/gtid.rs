//! GTID positions, and whether a replica has applied everything a source
//! position contains.
//!
//! MariaDB writes a position as one `domain-server-sequence` GTID per
//! replication domain (`0-1-42,1-7-9`). Within a domain the sequence
//! number only grows, so a replica has caught up with a domain when its
//! sequence number there is at least the source's. MySQL writes a GTID set
//! as `uuid:interval[:interval]` per server, with optional tags from 8.3
//! on (`uuid:tag:1-5`), separated by commas and often by newlines; a
//! replica has caught up when the source's set is a subset of its own.

use std::collections::BTreeMap;

use crate::database::flavor::Flavor;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid GTID {kind} `{text}`: {detail}")]
pub struct GtidError {
    kind: &'static str,
    text: String,
    detail: String,
}

impl GtidError {
    fn new(kind: &'static str, text: &str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.to_string(),
            detail: detail.into(),
        }
    }
}

/// Check whether `replica` (what the replica executed) contains every
/// transaction of `source` (a position the source reached).
pub fn covers(flavor: Flavor, replica: &str, source: &str) -> Result<bool, GtidError> {
    match flavor {
        Flavor::MariaDb => mariadb_covers(replica, source),
        Flavor::MySql => mysql_covers(replica, source),
    }
}

/// Read the last sequence number per domain of a MariaDB position.
fn mariadb_position(text: &str) -> Result<BTreeMap<u32, u64>, GtidError> {
    let mut domains = BTreeMap::new();
    for gtid in entries(text) {
        let parts: Vec<&str> = gtid.split('-').collect();
        let [domain, server, sequence] = parts.as_slice() else {
            return Err(GtidError::new(
                "position",
                text,
                format!("`{gtid}` is not domain-server-sequence"),
            ));
        };
        let number_error = || {
            GtidError::new(
                "position",
                text,
                format!("`{gtid}` has a part that is not a number"),
            )
        };
        let domain: u32 = domain.parse().map_err(|_| number_error())?;
        server.parse::<u32>().map_err(|_| number_error())?;
        let sequence: u64 = sequence.parse().map_err(|_| number_error())?;
        let last = domains.entry(domain).or_insert(sequence);
        *last = (*last).max(sequence);
    }
    Ok(domains)
}

fn mariadb_covers(replica: &str, source: &str) -> Result<bool, GtidError> {
    let replica = mariadb_position(replica)?;
    let source = mariadb_position(source)?;
    Ok(source.iter().all(|(domain, sequence)| {
        replica
            .get(domain)
            .is_some_and(|applied| applied >= sequence)
    }))
}

/// Transaction intervals per `(server uuid, tag)` of a MySQL GTID set,
/// sorted and merged.
type GtidSet = BTreeMap<(String, String), Vec<(u64, u64)>>;

fn mysql_set(text: &str) -> Result<GtidSet, GtidError> {
    let mut set = GtidSet::new();
    for entry in entries(text) {
        let mut parts = entry.split(':');
        let uuid = parts.next().unwrap_or_default().to_ascii_lowercase();
        if uuid.len() != 36 || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(GtidError::new(
                "set",
                text,
                format!("`{entry}` does not start with a server UUID"),
            ));
        }

        // A tag applies to the intervals after it, up to the next tag.
        let mut tag = String::new();
        for part in parts {
            if part.starts_with(|c: char| c.is_ascii_digit()) {
                let interval = interval(part).ok_or_else(|| {
                    GtidError::new("set", text, format!("`{part}` is not an interval"))
                })?;
                set.entry((uuid.clone(), tag.clone()))
                    .or_default()
                    .push(interval);
            } else {
                tag = part.to_ascii_lowercase();
            }
        }
    }
    for intervals in set.values_mut() {
        merge(intervals);
    }
    Ok(set)
}

/// `7` or `1-5`, as an inclusive range.
fn interval(text: &str) -> Option<(u64, u64)> {
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (start.parse().ok()?, end.parse().ok()?),
        None => {
            let number = text.parse().ok()?;
            (number, number)
        }
    };
    (start <= end).then_some((start, end))
}

/// Sort intervals and join those that overlap or touch.
fn merge(intervals: &mut Vec<(u64, u64)>) {
    intervals.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
    for &(start, end) in intervals.iter() {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    *intervals = merged;
}

fn mysql_covers(replica: &str, source: &str) -> Result<bool, GtidError> {
    let replica = mysql_set(replica)?;
    let source = mysql_set(source)?;
    Ok(source.iter().all(|(key, needed)| {
        let Some(applied) = replica.get(key) else {
            return false;
        };
        needed
            .iter()
            .all(|(start, end)| applied.iter().any(|(from, to)| from <= start && end <= to))
    }))
}

/// Split a position or set at commas into trimmed, non-empty entries (an
/// empty text is an empty position).
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{covers, merge};
    use crate::database::flavor::Flavor;

    const UUID_A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const UUID_B: &str = "4c8a2b1e-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mariadb_compares_sequence_per_domain() {
        let cases = [
            ("0-1-8", "0-1-8", true),
            ("0-1-9", "0-1-8", true),
            ("0-1-7", "0-1-8", false),
            ("0-1-8", "0-1-8,1-5-3", false),
            ("1-5-3, 0-1-8", "0-1-8,1-5-3", true),
            ("0-2-8", "0-1-8", true),
            ("", "", true),
            ("0-1-8", "", true),
            ("", "0-1-1", false),
        ];
        for (replica, source, expected) in cases {
            assert_eq!(
                covers(Flavor::MariaDb, replica, source).unwrap(),
                expected,
                "replica `{replica}`, source `{source}`"
            );
        }
    }

    #[test]
    fn mariadb_rejects_malformed_positions() {
        let error = covers(Flavor::MariaDb, "0-1", "0-1-1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid GTID position `0-1`: `0-1` is not domain-server-sequence"
        );
        assert!(covers(Flavor::MariaDb, "0-x-1", "").is_err());
    }

    #[test]
    fn mysql_checks_subset_of_intervals() {
        let source = format!("{UUID_A}:1-5,\n{UUID_B}:1-3");
        let cases = [
            (format!("{UUID_A}:1-5,{UUID_B}:1-3"), true),
            (format!("{UUID_A}:1-9,\n{UUID_B}:1-3:7"), true),
            (format!("{UUID_A}:1-2:3-5,{UUID_B}:1-3"), true),
            (format!("{UUID_A}:1-4,{UUID_B}:1-3"), false),
            (format!("{UUID_A}:1-5"), false),
            (format!("{}:1-5,{UUID_B}:1-3", UUID_A.to_uppercase()), true),
        ];
        for (replica, expected) in cases {
            assert_eq!(
                covers(Flavor::MySql, &replica, &source).unwrap(),
                expected,
                "replica `{replica}`"
            );
        }
    }

    #[test]
    fn mysql_tags_are_separate_sets() {
        let source = format!("{UUID_A}:1-5:wwctl:1-2");
        assert!(covers(Flavor::MySql, &format!("{UUID_A}:1-5:wwctl:1-2"), &source).unwrap());
        assert!(!covers(Flavor::MySql, &format!("{UUID_A}:1-5"), &source).unwrap());
    }

    #[test]
    fn mysql_rejects_malformed_sets() {
        assert!(covers(Flavor::MySql, "not-a-uuid:1-5", "").is_err());
        assert!(covers(Flavor::MySql, &format!("{UUID_A}:5-1"), "").is_err());
    }

    #[test]
    fn merge_joins_touching_intervals() {
        let mut intervals = vec![(7, 9), (1, 3), (4, 5), (11, 12)];
        merge(&mut intervals);
        assert_eq!(intervals, vec![(1, 5), (7, 9), (11, 12)]);
    }
}
