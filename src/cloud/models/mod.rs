//! The API's objects as the client reads and sends them.
//!
//! Reading is lenient: unknown fields are ignored, optional fields may be
//! missing or `null`, and a few fields whose type differs between endpoints
//! (snapshot ids, netmasks) accept both forms.

mod account;
mod action;
mod dns;
mod droplet;
mod firewall;
mod snapshot;

pub use account::{Account, SshKey, Tag, TaggedResource};
pub use action::{Action, ActionStatus};
pub use dns::{Domain, DomainRecord, RecordSpec, RecordType};
pub use droplet::{
    Droplet, DropletSpec, DropletStatus, ImageRef, NetworkV4, NetworkV6, Networks, RegionRef,
};
pub use firewall::{Firewall, FirewallSpec, InboundRule, OutboundRule, PendingChange, RuleTargets};
pub use snapshot::{DropletSnapshot, Snapshot};

use serde::{Deserialize, Deserializer};

/// Reads a field that may be missing or `null` as its default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a scalar as text, whether the API sent a string or a number.
pub(crate) fn lenient_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => Some(text),
        Some(other) => Some(other.to_string()),
    })
}

/// Reads an id as text, whether the API sent `6372321` or `"6372321"`.
pub(crate) fn string_id<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    lenient_string(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("the id is missing or null"))
}

/// Reads a numeric id, whether the API sent `6372321` or `"6372321"`.
pub(crate) fn numeric_id<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    let text = string_id(deserializer)?;
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("id `{text}` is not a number")))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "super::null_as_default")]
        list: Vec<u32>,
        #[serde(default, deserialize_with = "super::lenient_string")]
        text: Option<String>,
        #[serde(deserialize_with = "super::numeric_id")]
        id: u64,
    }

    #[test]
    fn lenient_fields_accept_null_and_numbers() {
        let sample: Sample =
            serde_json::from_str(r#"{"list": null, "text": 64, "id": "12"}"#).unwrap();
        assert!(sample.list.is_empty());
        assert_eq!(sample.text.as_deref(), Some("64"));
        assert_eq!(sample.id, 12);

        let sample: Sample = serde_json::from_str(r#"{"id": 7, "extra": true}"#).unwrap();
        assert_eq!(sample.text, None);
        assert_eq!(sample.id, 7);
    }
}
