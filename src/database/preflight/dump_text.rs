//! Source facts read from dump text, for loading a dump file that did not
//! come from a server wwctl can query.

use std::io::{self, BufRead};

use crate::database::account::Account;
use crate::database::preflight::facts::{DefinedObject, SourceFacts};

/// Scan the DDL of a dump (data lines are skipped) for the collations,
/// character sets and definers it uses, and for GTID state.
pub fn dump_facts(origin: &str, text: &str) -> SourceFacts {
    dump_facts_from_reader(origin, text.as_bytes()).expect("reading memory cannot fail")
}

/// `dump_facts` over a reader, a line at a time, so a large dump file is
/// never held in memory. Bytes that are not UTF-8 are read lossily.
pub fn dump_facts_from_reader(origin: &str, mut reader: impl BufRead) -> io::Result<SourceFacts> {
    let mut facts = SourceFacts {
        origin: origin.to_string(),
        ..SourceFacts::default()
    };
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        scan_line(&mut facts, number, &String::from_utf8_lossy(&line));
    }
    Ok(facts)
}

fn scan_line(facts: &mut SourceFacts, number: usize, line: &str) {
    if line.starts_with("INSERT ") || line.starts_with('(') || line.starts_with("--") {
        return;
    }
    if line
        .get(..24)
        .is_some_and(|start| start.eq_ignore_ascii_case("SET @@GLOBAL.GTID_PURGED"))
    {
        facts.dump_sets_gtid_purged = true;
    }

    let lower = line.to_ascii_lowercase();
    for keyword in ["collate", "collation_connection"] {
        for name in names_after(line, &lower, keyword) {
            facts.collations.insert(name);
        }
    }
    for keyword in [
        "charset",
        "character set",
        "character_set_client",
        "set names",
    ] {
        for name in names_after(line, &lower, keyword) {
            facts.charsets.insert(name);
        }
    }
    for definer in definers_in(line) {
        facts.definers.push(DefinedObject {
            kind: "object".to_string(),
            name: format!("at line {number}"),
            definer,
        });
    }
}

/// Identifiers that follow `keyword` (and an optional `=`), such as
/// `utf8mb4_0900_ai_ci` in `COLLATE=utf8mb4_0900_ai_ci`. Variables like
/// `@@collation_connection` and the `@saved_…` forms are not names.
fn names_after(line: &str, lower: &str, keyword: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find(keyword) {
        let start = from + found;
        let end = start + keyword.len();
        from = end;

        let before = lower[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@') {
            continue;
        }
        let rest = line[end..].trim_start_matches([' ', '=', '\'', '\t']);
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.push(name.to_ascii_lowercase());
        }
    }
    names
}

/// Accounts in ``DEFINER=`user`@`host` `` clauses.
fn definers_in(line: &str) -> Vec<Account> {
    let mut accounts = Vec::new();
    let mut rest = line;
    while let Some(found) = rest.find("DEFINER=`") {
        rest = &rest[found + "DEFINER=`".len()..];
        let Some(user_end) = rest.find("`@`") else {
            break;
        };
        let user = &rest[..user_end];
        let host_start = user_end + 3;
        let Some(host_len) = rest[host_start..].find('`') else {
            break;
        };
        let host = &rest[host_start..host_start + host_len];
        accounts.push(Account::new(
            user.replace("``", "`"),
            host.replace("``", "`"),
        ));
        rest = &rest[host_start + host_len..];
    }
    accounts
}

#[cfg(test)]
mod tests {
    use super::dump_facts;
    use crate::database::account::Account;

    #[test]
    fn dump_facts_find_collations_and_charsets() {
        let text = "/*!40101 SET NAMES utf8mb4 */;
CREATE TABLE `t` (
  `a` varchar(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
/*!50003 SET collation_connection  = utf8mb4_general_ci */ ;
/*!50003 SET @saved_col_connection = @@collation_connection */ ;
INSERT INTO `t` VALUES ('COLLATE latin1_swedish_ci');
";
        let facts = dump_facts("dump.sql", text);
        assert_eq!(
            facts.collations.into_iter().collect::<Vec<_>>(),
            vec!["utf8mb4_0900_ai_ci", "utf8mb4_general_ci"]
        );
        assert_eq!(
            facts.charsets.into_iter().collect::<Vec<_>>(),
            vec!["utf8mb4"]
        );
    }

    #[test]
    fn dump_facts_find_definers_and_gtid() {
        let text = "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'uuid:1-5';
/*!50013 DEFINER=`olduser`@`%` SQL SECURITY DEFINER */
";
        let facts = dump_facts("dump.sql", text);
        assert!(facts.dump_sets_gtid_purged);
        assert_eq!(facts.definers.len(), 1);
        assert_eq!(facts.definers[0].definer, Account::new("olduser", "%"));
        assert_eq!(facts.definers[0].name, "at line 2");
    }
}
