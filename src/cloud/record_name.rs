//! DNS names as the API wants them, and the checks a record passes before
//! any call.
//!
//! The API stores names relative to the zone, `@` for the apex, but filters
//! listings by fully qualified name. Configuration may write either, with or
//! without a trailing dot, so `@`, `wwdt.me` and `wwdt.me.` are one name.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::cloud::error::CloudError;
use crate::cloud::models::{RecordSpec, RecordType};

/// DigitalOcean's minimum TTL, in seconds; the API rejects lower ones with 422.
pub const MIN_TTL: u32 = 30;

/// `name` relative to `zone`: `@` for the apex, `www` for `www.wwdt.me.`.
/// Case and a trailing dot do not matter. A fully qualified name (ending in
/// a dot) outside the zone is an error.
pub fn relative_record_name(name: &str, zone: &str) -> Result<String, CloudError> {
    let zone = canonical(zone);
    let fully_qualified = name.trim().ends_with('.');
    let name = canonical(name);

    if name.is_empty() || name == "@" || name == zone {
        return Ok("@".to_string());
    }
    if let Some(label) = name.strip_suffix(&format!(".{zone}")) {
        return Ok(label.to_string());
    }
    if fully_qualified {
        return Err(CloudError::InvalidInput {
            what: "DNS record name",
            value: format!("{name}."),
            reason: format!(
                "it is outside the zone `{zone}`; give a name in the zone or relative to it"
            ),
        });
    }
    Ok(name)
}

/// Returns the fully qualified name, without a trailing dot, that the API's `name`
/// filter takes: `wwdt.me` for `@`, `www.wwdt.me` for `www`.
pub fn qualified_record_name(name: &str, zone: &str) -> Result<String, CloudError> {
    let relative = relative_record_name(name, zone)?;
    let zone = canonical(zone);
    if relative == "@" {
        return Ok(zone);
    }
    Ok(format!("{relative}.{zone}"))
}

/// Returns whether two names are the same record name in `zone`.
pub fn same_record_name(left: &str, right: &str, zone: &str) -> bool {
    match (
        relative_record_name(left, zone),
        relative_record_name(right, zone),
    ) {
        (Ok(left), Ok(right)) => left == right,
        _ => false,
    }
}

/// Reject a TTL below [`MIN_TTL`]; call it while planning, before any
/// record is touched.
pub fn validate_ttl(name: &str, ttl: u32) -> Result<(), CloudError> {
    if ttl < MIN_TTL {
        return Err(CloudError::InvalidTtl {
            name: name.to_string(),
            ttl,
            min: MIN_TTL,
        });
    }
    Ok(())
}

/// Check a record before it is sent: the TTL, the name, and for A and AAAA
/// records an address of the right family. An empty address (a droplet whose
/// IP was read too early) is rejected here.
pub fn validate_record(spec: &RecordSpec, zone: &str) -> Result<(), CloudError> {
    validate_ttl(&spec.name, spec.ttl)?;
    relative_record_name(&spec.name, zone)?;

    let invalid_data = |reason: &str| CloudError::InvalidInput {
        what: "DNS record data",
        value: spec.data.clone(),
        reason: format!("{reason} for the {} record `{}`", spec.kind, spec.name),
    };
    match spec.kind {
        RecordType::A if spec.data.trim().parse::<Ipv4Addr>().is_err() => {
            Err(invalid_data("expected an IPv4 address"))
        }
        RecordType::AAAA if spec.data.trim().parse::<Ipv6Addr>().is_err() => {
            Err(invalid_data("expected an IPv6 address"))
        }
        _ if spec.data.trim().is_empty() => Err(invalid_data("the data is empty")),
        _ => Ok(()),
    }
}

fn canonical(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::{
        qualified_record_name, relative_record_name, same_record_name, validate_record,
        validate_ttl,
    };
    use crate::cloud::error::CloudError;
    use crate::cloud::models::{RecordSpec, RecordType};

    #[test]
    fn apex_spellings_are_one_name() {
        for name in ["@", "wwdt.me", "wwdt.me.", "WWDT.ME.", ""] {
            assert_eq!(
                relative_record_name(name, "wwdt.me").unwrap(),
                "@",
                "{name:?}"
            );
        }
        assert!(same_record_name("@", "wwdt.me.", "wwdt.me"));
        assert!(same_record_name("wwdt.me", "@", "wwdt.me."));
    }

    #[test]
    fn subdomain_spellings_are_one_name() {
        for name in ["www", "www.wwdt.me", "www.wwdt.me.", "WWW"] {
            assert_eq!(
                relative_record_name(name, "wwdt.me").unwrap(),
                "www",
                "{name:?}"
            );
        }
        assert_eq!(relative_record_name("a.b", "wwdt.me").unwrap(), "a.b");
        assert!(!same_record_name("www", "@", "wwdt.me"));
    }

    #[test]
    fn qualified_names_for_filters() {
        assert_eq!(qualified_record_name("@", "wwdt.me").unwrap(), "wwdt.me");
        assert_eq!(
            qualified_record_name("www", "wwdt.me.").unwrap(),
            "www.wwdt.me"
        );
        assert_eq!(
            qualified_record_name("www.wwdt.me.", "wwdt.me").unwrap(),
            "www.wwdt.me"
        );
    }

    #[test]
    fn name_outside_zone_is_rejected() {
        let error = relative_record_name("www.example.org.", "wwdt.me").unwrap_err();
        assert!(
            error.to_string().contains("outside the zone `wwdt.me`"),
            "{error}"
        );
    }

    #[test]
    fn ttl_below_minimum_is_rejected() {
        let error = validate_ttl("@", 10).unwrap_err();
        assert!(matches!(
            error,
            CloudError::InvalidTtl {
                ttl: 10,
                min: 30,
                ..
            }
        ));
        assert!(error.to_string().contains("at least 30 seconds"), "{error}");
        assert!(validate_ttl("@", 30).is_ok());
    }

    #[test]
    fn address_records_need_an_address() {
        let empty = RecordSpec::new(RecordType::A, "@", "", 300);
        let error = validate_record(&empty, "wwdt.me").unwrap_err();
        assert!(
            error.to_string().contains("expected an IPv4 address"),
            "{error}"
        );

        let wrong_family = RecordSpec::new(RecordType::AAAA, "@", "192.0.2.10", 300);
        assert!(validate_record(&wrong_family, "wwdt.me").is_err());

        let good = RecordSpec::new(RecordType::A, "www", "192.0.2.10", 300);
        assert!(validate_record(&good, "wwdt.me").is_ok());
    }
}
