//! Validation of DNS records as DigitalOcean does it: the types it offers,
//! a TTL of at least 30 seconds, data that fits the type, the fields each
//! type needs, and no CNAME beside other records of the same name.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use crate::sandbox::api::error::ApiError;
use crate::sandbox::state::model::{Domain, Record};
use crate::sandbox::zone;

/// The smallest TTL DigitalOcean accepts, in seconds.
pub const MIN_TTL: u32 = 30;
/// The TTL of a record created without one.
pub const DEFAULT_TTL: u32 = 1800;

const CREATABLE: &[&str] = &["A", "AAAA", "CAA", "CNAME", "MX", "NS", "SRV", "TXT"];

/// The fields of a record create, PUT or PATCH; absent fields are `None`.
#[derive(Debug, Default, Deserialize)]
pub struct RecordInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub data: Option<String>,
    pub priority: Option<i64>,
    pub port: Option<i64>,
    pub weight: Option<i64>,
    pub flags: Option<i64>,
    pub tag: Option<String>,
    pub ttl: Option<i64>,
}

/// Build a new record from a create request, checked against the zone.
pub fn new_record(id: u64, input: RecordInput, domain: &Domain) -> Result<Record, ApiError> {
    let kind = input
        .kind
        .clone()
        .ok_or_else(|| ApiError::unprocessable("type is required"))?;
    let record = Record {
        id,
        kind,
        name: String::new(),
        data: String::new(),
        priority: None,
        port: None,
        weight: None,
        flags: None,
        tag: None,
        ttl: DEFAULT_TTL,
    };
    merged(record, input, domain)
}

/// Apply the given fields to an existing record, checked against the zone.
/// A SOA record may only change its TTL.
pub fn changed_record(
    existing: &Record,
    input: RecordInput,
    domain: &Domain,
) -> Result<Record, ApiError> {
    if existing.kind == "SOA" {
        return changed_soa(existing, input);
    }
    if input.kind.as_deref() == Some("SOA") {
        return Err(ApiError::unprocessable(
            "a record cannot become a SOA record",
        ));
    }
    merged(existing.clone(), input, domain)
}

fn changed_soa(existing: &Record, input: RecordInput) -> Result<Record, ApiError> {
    let only_ttl = input.kind.as_deref().is_none_or(|kind| kind == "SOA")
        && input
            .name
            .as_deref()
            .is_none_or(|name| name == existing.name)
        && input
            .data
            .as_deref()
            .is_none_or(|data| data == existing.data);
    if !only_ttl {
        return Err(ApiError::unprocessable(
            "SOA records can only have their ttl changed",
        ));
    }
    let mut record = existing.clone();
    if let Some(ttl) = input.ttl {
        record.ttl = checked_ttl(ttl)?;
    }
    Ok(record)
}

fn merged(mut record: Record, input: RecordInput, domain: &Domain) -> Result<Record, ApiError> {
    if let Some(kind) = input.kind {
        record.kind = kind;
    }
    if !CREATABLE.contains(&record.kind.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "type `{}` is invalid: use one of {}",
            record.kind,
            CREATABLE.join(", ")
        )));
    }
    if let Some(name) = input.name {
        record.name = relative_record_name(&name, &domain.name)?;
    }
    if record.name.is_empty() {
        return Err(ApiError::unprocessable("name is required"));
    }
    if let Some(data) = input.data {
        record.data = data;
    }
    if let Some(ttl) = input.ttl {
        record.ttl = checked_ttl(ttl)?;
    }
    record.priority = input
        .priority
        .map(|value| checked_number("priority", value, 0, 65535))
        .transpose()?
        .or(record.priority);
    record.port = input
        .port
        .map(|value| checked_number("port", value, 1, 65535))
        .transpose()?
        .or(record.port);
    record.weight = input
        .weight
        .map(|value| checked_number("weight", value, 0, 65535))
        .transpose()?
        .or(record.weight);
    record.flags = input
        .flags
        .map(|value| checked_number("flags", value, 0, 255))
        .transpose()?
        .or(record.flags);
    if input.tag.is_some() {
        record.tag = input.tag;
    }

    check_type_fields(&mut record)?;
    check_cname_exclusive(&record, domain)?;
    Ok(record)
}

/// Check the data and the fields a record's type needs, and clear the
/// fields it does not use (the API shows them as `null`).
fn check_type_fields(record: &mut Record) -> Result<(), ApiError> {
    let data = record.data.as_str();
    if data.is_empty() {
        return Err(ApiError::unprocessable("data is required"));
    }
    let host_data = || {
        if data == "@" || zone::is_valid_host(data) {
            Ok(())
        } else {
            Err(ApiError::unprocessable(format!(
                "data `{data}` is not a valid host name for a {} record",
                record.kind
            )))
        }
    };

    match record.kind.as_str() {
        "A" => {
            data.parse::<Ipv4Addr>().map_err(|_| {
                ApiError::unprocessable(format!("data `{data}` is not an IPv4 address"))
            })?;
        }
        "AAAA" => {
            data.parse::<Ipv6Addr>().map_err(|_| {
                ApiError::unprocessable(format!("data `{data}` is not an IPv6 address"))
            })?;
        }
        "CNAME" => {
            host_data()?;
            if record.name == "@" {
                return Err(ApiError::unprocessable(
                    "a CNAME record cannot be at the apex (@) of a zone",
                ));
            }
        }
        "NS" => host_data()?,
        "MX" => {
            host_data()?;
            required(record.priority, "priority", "MX")?;
        }
        "SRV" => {
            host_data()?;
            required(record.priority, "priority", "SRV")?;
            required(record.port, "port", "SRV")?;
            required(record.weight, "weight", "SRV")?;
        }
        "CAA" => {
            required(record.flags, "flags", "CAA")?;
            match record.tag.as_deref() {
                Some("issue" | "issuewild" | "iodef") => {}
                _ => {
                    return Err(ApiError::unprocessable(
                        "a CAA record needs tag issue, issuewild or iodef",
                    ));
                }
            }
        }
        _ => {}
    }

    let kind = record.kind.as_str();
    if !matches!(kind, "MX" | "SRV") {
        record.priority = None;
    }
    if kind != "SRV" {
        record.port = None;
        record.weight = None;
    }
    if kind != "CAA" {
        record.flags = None;
        record.tag = None;
    }
    Ok(())
}

fn check_cname_exclusive(record: &Record, domain: &Domain) -> Result<(), ApiError> {
    let conflict = domain.records.values().any(|other| {
        other.id != record.id
            && other.name == record.name
            && (record.kind == "CNAME" || other.kind == "CNAME")
            && other.kind != "SOA"
    });
    if conflict {
        return Err(ApiError::unprocessable(format!(
            "a CNAME record cannot share the name `{}` with other records",
            record.name
        )));
    }
    Ok(())
}

/// Normalize a record name relative to the zone: `@`, labels such as `www`
/// or `_sip._tcp`, an optional leading `*` label, or a fully-qualified name
/// ending in `.` inside the zone.
pub fn relative_record_name(name: &str, zone_name: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::unprocessable(format!(
            "name `{name}` is invalid: use @ for the apex or a name relative to {zone_name}"
        ))
    };
    if name == "@" {
        return Ok(name.to_string());
    }
    let relative = if name.ends_with('.') {
        zone::relative_name(name, zone_name).ok_or_else(invalid)?
    } else {
        name.to_ascii_lowercase()
    };
    if relative == "@" {
        return Ok(relative);
    }

    let labels: Vec<&str> = relative.split('.').collect();
    let valid = relative.len() <= 253
        && labels.iter().enumerate().all(|(index, label)| {
            (index == 0 && *label == "*")
                || (!label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'))
        });
    if valid { Ok(relative) } else { Err(invalid()) }
}

fn checked_ttl(ttl: i64) -> Result<u32, ApiError> {
    if ttl < i64::from(MIN_TTL) {
        return Err(ApiError::unprocessable(format!(
            "ttl {ttl} is too low: DNS records need a ttl of at least {MIN_TTL} seconds"
        )));
    }
    u32::try_from(ttl)
        .ok()
        .filter(|ttl| *ttl <= i32::MAX as u32)
        .ok_or_else(|| ApiError::unprocessable(format!("ttl {ttl} is too high")))
}

fn checked_number(field: &str, value: i64, min: i64, max: i64) -> Result<u32, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value as u32)
    } else {
        Err(ApiError::unprocessable(format!(
            "{field} {value} is out of range: use {min} to {max}"
        )))
    }
}

fn required(value: Option<u32>, field: &str, kind: &str) -> Result<(), ApiError> {
    value
        .map(|_| ())
        .ok_or_else(|| ApiError::unprocessable(format!("a {kind} record needs {field}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{RecordInput, changed_record, new_record, relative_record_name};
    use crate::sandbox::state::model::{Domain, Record};

    fn domain() -> Domain {
        let soa = Record {
            id: 1,
            kind: "SOA".into(),
            name: "@".into(),
            data: "1800".into(),
            priority: None,
            port: None,
            weight: None,
            flags: None,
            tag: None,
            ttl: 1800,
        };
        Domain {
            name: "wwdt.me".into(),
            ttl: 1800,
            serial: 1,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            records: BTreeMap::from([(1, soa)]),
        }
    }

    fn input(kind: &str, name: &str, data: &str) -> RecordInput {
        RecordInput {
            kind: Some(kind.into()),
            name: Some(name.into()),
            data: Some(data.into()),
            ..RecordInput::default()
        }
    }

    #[test]
    fn new_record_gets_default_ttl() {
        let record = new_record(2, input("A", "www", "10.77.0.2"), &domain()).unwrap();
        assert_eq!(record.ttl, 1800);
        assert_eq!(record.priority, None);
        assert_eq!(record.name, "www");
    }

    #[test]
    fn ttl_below_30_is_rejected() {
        let mut low = input("A", "www", "10.77.0.2");
        low.ttl = Some(29);
        let error = new_record(2, low, &domain()).unwrap_err();
        assert_eq!(error.status.as_u16(), 422);
        let mut minimum = input("A", "www", "10.77.0.2");
        minimum.ttl = Some(30);
        assert_eq!(new_record(2, minimum, &domain()).unwrap().ttl, 30);
    }

    #[test]
    fn data_must_fit_the_type() {
        assert!(new_record(2, input("A", "www", "not-an-ip"), &domain()).is_err());
        assert!(new_record(2, input("AAAA", "www", "10.0.0.1"), &domain()).is_err());
        assert!(new_record(2, input("MX", "@", "mail.wwdt.me."), &domain()).is_err());
        assert!(new_record(2, input("SOA", "@", "1800"), &domain()).is_err());
        assert!(new_record(2, input("CNAME", "@", "other.example."), &domain()).is_err());
    }

    #[test]
    fn soa_changes_only_its_ttl() {
        let zone = domain();
        let soa = &zone.records[&1];
        let ttl_only = RecordInput {
            kind: Some("SOA".into()),
            ttl: Some(3600),
            ..RecordInput::default()
        };
        assert_eq!(changed_record(soa, ttl_only, &zone).unwrap().ttl, 3600);
        let renamed = RecordInput {
            kind: Some("SOA".into()),
            name: Some("www".into()),
            ..RecordInput::default()
        };
        assert!(changed_record(soa, renamed, &zone).is_err());
    }

    #[test]
    fn record_names_are_relative() {
        assert_eq!(relative_record_name("WWW", "wwdt.me").unwrap(), "www");
        assert_eq!(
            relative_record_name("www.wwdt.me.", "wwdt.me").unwrap(),
            "www"
        );
        assert_eq!(relative_record_name("wwdt.me.", "wwdt.me").unwrap(), "@");
        assert_eq!(relative_record_name("*.dev", "wwdt.me").unwrap(), "*.dev");
        assert!(relative_record_name("www.other.org.", "wwdt.me").is_err());
        assert!(relative_record_name("bad name", "wwdt.me").is_err());
    }
}
