//! Quoting of identifiers and string literals in SQL text that wwctl builds.

/// An identifier in backticks, with embedded backticks doubled.
pub fn identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A string literal in single quotes, escaped the way mysqldump escapes
/// strings, so the text is valid whatever `sql_mode` the session has
/// (`NO_BACKSLASH_ESCAPES` aside, which wwctl never sets).
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    push_escaped(&mut out, value);
    out.push('\'');
    out
}

/// Append `value` escaped for a single-quoted literal, without the quotes.
pub fn push_escaped(out: &mut String, value: &str) {
    let special = |c: char| matches!(c, '\0' | '\n' | '\r' | '\u{1a}' | '\\' | '\'' | '"');
    if !value.contains(special) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1a}' => out.push_str("\\Z"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            other => out.push(other),
        }
    }
}

/// An account as MySQL writes it: `'user'@'host'`.
pub fn account(user: &str, host: &str) -> String {
    format!("{}@{}", string(user), string(host))
}

#[cfg(test)]
mod tests {
    use super::{account, identifier, string};

    #[test]
    fn identifier_doubles_backticks() {
        assert_eq!(identifier("ww_shows"), "`ww_shows`");
        assert_eq!(identifier("a`b"), "`a``b`");
    }

    #[test]
    fn string_escapes_quotes_and_controls() {
        assert_eq!(string("it's"), r"'it\'s'");
        assert_eq!(string("a\\b\n\0"), r"'a\\b\n\0'");
        assert_eq!(string("😀"), "'😀'");
    }

    #[test]
    fn account_quotes_both_parts() {
        assert_eq!(account("app", "%"), "'app'@'%'");
    }
}
