//! Domains (DNS zones) and their records.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{lenient_string, null_as_default};

/// A zone managed by DigitalOcean DNS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Domain {
    pub name: String,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub zone_file: Option<String>,
}

/// A record as the API returns it. `name` is relative to the zone, `@` for
/// the apex; fields that do not apply to the type are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DomainRecord {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub data: Option<String>,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub priority: Option<u32>,
    #[serde(default)]
    pub port: Option<u32>,
    #[serde(default)]
    pub weight: Option<u32>,
    #[serde(default)]
    pub flags: Option<u32>,
    #[serde(default)]
    pub tag: Option<String>,
}

/// The record types DigitalOcean DNS serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordType {
    A,
    AAAA,
    CAA,
    CNAME,
    MX,
    NS,
    SOA,
    SRV,
    TXT,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::AAAA => "AAAA",
            RecordType::CAA => "CAA",
            RecordType::CNAME => "CNAME",
            RecordType::MX => "MX",
            RecordType::NS => "NS",
            RecordType::SOA => "SOA",
            RecordType::SRV => "SRV",
            RecordType::TXT => "TXT",
        }
    }

    /// Returns whether the record's data is a host name, compared without case or
    /// a trailing dot.
    pub fn data_is_host_name(self) -> bool {
        matches!(
            self,
            RecordType::CNAME | RecordType::MX | RecordType::NS | RecordType::SRV
        )
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let kind = match text.to_ascii_uppercase().as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::AAAA,
            "CAA" => RecordType::CAA,
            "CNAME" => RecordType::CNAME,
            "MX" => RecordType::MX,
            "NS" => RecordType::NS,
            "SOA" => RecordType::SOA,
            "SRV" => RecordType::SRV,
            "TXT" => RecordType::TXT,
            _ => {
                return Err(format!(
                    "unknown DNS record type `{text}`; expected one of A, AAAA, CAA, CNAME, MX, NS, SOA, SRV, TXT"
                ));
            }
        };
        Ok(kind)
    }
}

/// The record a step wants. `name` may be relative (`www`, `@`) or fully
/// qualified (`www.wwdt.me.`); the client sends it relative to the zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSpec {
    #[serde(rename = "type")]
    pub kind: RecordType,
    pub name: String,
    pub data: String,
    /// Seconds, at least [`crate::cloud::MIN_TTL`].
    pub ttl: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl RecordSpec {
    /// Creates a record with no priority, port, weight, flags or tag (A, AAAA,
    /// CNAME, NS, TXT).
    pub fn new(
        kind: RecordType,
        name: impl Into<String>,
        data: impl Into<String>,
        ttl: u32,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            data: data.into(),
            ttl,
            priority: None,
            port: None,
            weight: None,
            flags: None,
            tag: None,
        }
    }
}
