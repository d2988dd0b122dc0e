//! Names inside a DNS zone, shared by the records API and the DNS server.
//!
//! Record names are relative to the zone (`www`, `@` for the apex). Record
//! data that names a host (CNAME, MX, NS, SRV) is read as DigitalOcean
//! shows it. `@` is the apex and a name ending in `.` is absolute. A name
//! with dots is absolute too, because the API shows `ns1.digitalocean.com`
//! that way, and a single label is relative to the zone.

use crate::sandbox::state::model::{Domain, Record};

/// The name servers every DigitalOcean zone lists.
pub const NAME_SERVERS: [&str; 3] = [
    "ns1.digitalocean.com",
    "ns2.digitalocean.com",
    "ns3.digitalocean.com",
];

/// The SOA timers DigitalOcean zones use: refresh, retry, expire, minimum.
pub const SOA_TIMERS: (i32, i32, i32, u32) = (10800, 3600, 604_800, 1800);

/// Check whether `name` is a domain a zone can be created for: at least
/// two labels of letters, digits and inner hyphens, at most 253 characters.
pub fn is_valid_domain_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

/// Check whether `name` is a host name for record data: labels of letters,
/// digits, `-` and `_`, with an optional final dot.
pub fn is_valid_host(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

/// Return the fully-qualified name (lowercase, no final dot) of a record name.
pub fn record_fqdn(name: &str, zone: &str) -> String {
    if name == "@" {
        zone.to_string()
    } else {
        format!("{}.{zone}", name.to_ascii_lowercase())
    }
}

/// Return the record name of a fully-qualified name inside the zone, or
/// `None` when the name is outside it.
pub fn relative_name(fqdn: &str, zone: &str) -> Option<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == zone {
        return Some("@".to_string());
    }
    fqdn.strip_suffix(&format!(".{zone}")).map(str::to_string)
}

/// Return the fully-qualified host (lowercase, no final dot) that record
/// data names.
pub fn target_fqdn(data: &str, zone: &str) -> String {
    if data == "@" {
        return zone.to_string();
    }
    if let Some(absolute) = data.strip_suffix('.') {
        return absolute.to_ascii_lowercase();
    }
    if data.contains('.') {
        data.to_ascii_lowercase()
    } else {
        format!("{}.{zone}", data.to_ascii_lowercase())
    }
}

/// Render the zone in BIND format, as `GET /v2/domains/{name}` shows it.
pub fn zone_file(domain: &Domain) -> String {
    let zone = &domain.name;
    let (refresh, retry, expire, minimum) = SOA_TIMERS;
    let mut text = format!("$ORIGIN {zone}.\n$TTL {}\n", domain.ttl);
    text.push_str(&format!(
        "{zone}. IN SOA {}. hostmaster.{zone}. {} {refresh} {retry} {expire} {minimum}\n",
        NAME_SERVERS[0], domain.serial
    ));
    for record in domain
        .records
        .values()
        .filter(|record| record.kind != "SOA")
    {
        text.push_str(&format!(
            "{}. {} IN {} {}\n",
            record_fqdn(&record.name, zone),
            record.ttl,
            record.kind,
            zone_file_data(record, zone)
        ));
    }
    text
}

fn zone_file_data(record: &Record, zone: &str) -> String {
    let host = || format!("{}.", target_fqdn(&record.data, zone));
    match record.kind.as_str() {
        "CNAME" | "NS" => host(),
        "MX" => format!("{} {}", record.priority.unwrap_or_default(), host()),
        "SRV" => format!(
            "{} {} {} {}",
            record.priority.unwrap_or_default(),
            record.weight.unwrap_or_default(),
            record.port.unwrap_or_default(),
            host()
        ),
        "TXT" => format!("\"{}\"", record.data.replace('"', "\\\"")),
        "CAA" => format!(
            "{} {} \"{}\"",
            record.flags.unwrap_or_default(),
            record.tag.as_deref().unwrap_or("issue"),
            record.data
        ),
        _ => record.data.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_valid_domain_name, relative_name, target_fqdn};

    #[test]
    fn domain_names_need_two_labels() {
        assert!(is_valid_domain_name("wwdt.me"));
        assert!(is_valid_domain_name("a-b.example.com"));
        assert!(!is_valid_domain_name("localhost"));
        assert!(!is_valid_domain_name("-bad.com"));
        assert!(!is_valid_domain_name("bad..com"));
        assert!(!is_valid_domain_name("under_score.com"));
    }

    #[test]
    fn names_resolve_relative_to_the_zone() {
        assert_eq!(
            relative_name("www.wwdt.me.", "wwdt.me").as_deref(),
            Some("www")
        );
        assert_eq!(relative_name("WWDT.ME", "wwdt.me").as_deref(), Some("@"));
        assert_eq!(relative_name("wwdt.me.evil", "wwdt.me"), None);
        assert_eq!(relative_name("xwwdt.me", "wwdt.me"), None);
    }

    #[test]
    fn record_data_targets() {
        assert_eq!(target_fqdn("@", "wwdt.me"), "wwdt.me");
        assert_eq!(target_fqdn("mail", "wwdt.me"), "mail.wwdt.me");
        assert_eq!(
            target_fqdn("Mail.Example.com.", "wwdt.me"),
            "mail.example.com"
        );
        assert_eq!(
            target_fqdn("ns1.digitalocean.com", "wwdt.me"),
            "ns1.digitalocean.com"
        );
    }
}
