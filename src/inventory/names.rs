//! Rules for names that DigitalOcean or DNS constrain.

/// Maximum length of a droplet name DigitalOcean accepts.
const MAX_DROPLET_NAME: usize = 255;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// Check a droplet name against DigitalOcean's rule (letters, digits, `.`
/// and `-`, starting and ending with a letter or digit) and the DNS label
/// limits, since the name becomes the server's hostname.
pub fn check_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_string());
    }
    if name.len() > MAX_DROPLET_NAME {
        return Err(format!(
            "the name is {} characters long, more than {MAX_DROPLET_NAME}",
            name.len()
        ));
    }

    let invalid: Vec<String> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        .map(|c| format!("`{c}`"))
        .collect();
    if !invalid.is_empty() {
        let mut unique = invalid.clone();
        unique.dedup();
        return Err(format!(
            "{} not allowed; use letters, digits, `.` and `-`",
            unique.join(" and ")
        ));
    }

    for label in name.split('.') {
        if label.is_empty() {
            return Err(
                "it has an empty label (two dots in a row, or a dot at an end)".to_string(),
            );
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "the label `{label}` is longer than {MAX_LABEL} characters"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label `{label}` starts or ends with `-`"));
        }
    }
    Ok(())
}

/// Turn an invalid name into the nearest valid one, for a hint.
pub fn suggest_hostname(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    replaced
        .trim_matches(|c| c == '-' || c == '.')
        .to_lowercase()
}

/// Check a fully qualified domain name such as `stats.wwdt.me`.
pub fn check_domain(name: &str) -> Result<(), String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.contains('.') {
        return Err("a domain needs at least two labels, such as `example.com`".to_string());
    }
    check_hostname(trimmed)
}

/// Check a record name relative to its zone: `@` for the apex, or labels.
pub fn check_record_name(name: &str) -> Result<(), String> {
    if name == "@" {
        return Ok(());
    }
    if let Some(rest) = name.strip_prefix("*.") {
        return check_hostname(rest);
    }
    check_hostname(name)
}

/// Check a tag name against DigitalOcean's rule: letters, digits, `_`, `-`
/// and `:`, at most 255 characters.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() || tag.len() > 255 {
        return Err("a tag has 1 to 255 characters".to_string());
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':')))
    {
        return Err(format!(
            "`{bad}` is not allowed; use letters, digits, `_`, `-` and `:`"
        ));
    }
    Ok(())
}

/// Memory of a droplet size in MiB, read from the slug (`s-2vcpu-4gb` is
/// 4096, `s-1vcpu-512mb-10gb` is 512). The first size in the slug is the
/// memory; a second one is the disk. Slugs without a size, such as `c-2`,
/// return `None` and need `memory_mb` in the inventory.
pub fn memory_from_size_slug(slug: &str) -> Option<u64> {
    slug.split('-').find_map(|part| {
        if let Some(number) = part.strip_suffix("gb") {
            number.parse::<u64>().ok().map(|gigabytes| gigabytes * 1024)
        } else if let Some(number) = part.strip_suffix("mb") {
            number.parse::<u64>().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{check_hostname, check_record_name, memory_from_size_slug, suggest_hostname};

    #[test]
    fn hostname_rejects_underscore_and_space() {
        let error = check_hostname("web_new 01").unwrap_err();
        assert_eq!(
            error,
            "`_` and ` ` not allowed; use letters, digits, `.` and `-`"
        );
        assert_eq!(suggest_hostname("web_new 01"), "web-new-01");
    }

    #[test]
    fn hostname_accepts_dots_and_dashes() {
        assert_eq!(check_hostname("prod-2023.wwdt.me"), Ok(()));
    }

    #[test]
    fn hostname_rejects_edge_dash() {
        assert!(check_hostname("-web").is_err());
    }

    #[test]
    fn record_name_accepts_apex() {
        assert_eq!(check_record_name("@"), Ok(()));
        assert_eq!(check_record_name("stats.staging"), Ok(()));
    }

    #[test]
    fn memory_read_from_slug() {
        assert_eq!(memory_from_size_slug("s-2vcpu-4gb"), Some(4096));
        assert_eq!(memory_from_size_slug("s-1vcpu-512mb-10gb"), Some(512));
        assert_eq!(memory_from_size_slug("c-2"), None);
    }
}
