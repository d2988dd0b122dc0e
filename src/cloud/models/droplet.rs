//! Droplets and the body that creates one.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize};

use super::{lenient_string, null_as_default};

/// A droplet as `GET /v2/droplets/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Droplet {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub status: DropletStatus,
    /// True while an action runs; other actions then fail with 422.
    #[serde(default, deserialize_with = "null_as_default")]
    pub locked: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub networks: Networks,
    #[serde(default)]
    pub region: Option<RegionRef>,
    #[serde(default)]
    pub size_slug: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub snapshot_ids: Vec<u64>,
    #[serde(default)]
    pub vpc_uuid: Option<String>,
}

impl Droplet {
    /// Returns the first valid address among the `networks.v4` entries of type
    /// `public`. The API lists private entries too, sometimes first, and
    /// leaves the list empty until the network is set up.
    pub fn public_ipv4(&self) -> Option<Ipv4Addr> {
        self.networks
            .v4
            .iter()
            .filter(|network| network.kind == "public")
            .find_map(|network| network.ip_address.as_deref()?.trim().parse().ok())
    }

    /// Returns the first valid private IPv4 address (the VPC address).
    pub fn private_ipv4(&self) -> Option<Ipv4Addr> {
        self.networks
            .v4
            .iter()
            .filter(|network| network.kind == "private")
            .find_map(|network| network.ip_address.as_deref()?.trim().parse().ok())
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|own| own == tag)
    }
}

/// A droplet's `status`; values the API may add later are kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DropletStatus {
    #[default]
    New,
    Active,
    Off,
    Archive,
    Other(String),
}

impl DropletStatus {
    pub fn as_str(&self) -> &str {
        match self {
            DropletStatus::New => "new",
            DropletStatus::Active => "active",
            DropletStatus::Off => "off",
            DropletStatus::Archive => "archive",
            DropletStatus::Other(text) => text,
        }
    }
}

impl fmt::Display for DropletStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DropletStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        Ok(match text.as_str() {
            "new" | "" => DropletStatus::New,
            "active" => DropletStatus::Active,
            "off" => DropletStatus::Off,
            "archive" => DropletStatus::Archive,
            _ => DropletStatus::Other(text),
        })
    }
}

impl Serialize for DropletStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `networks`; the API sends `{}` while a droplet is new.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Networks {
    #[serde(default, deserialize_with = "null_as_default")]
    pub v4: Vec<NetworkV4>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub v6: Vec<NetworkV6>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NetworkV4 {
    #[serde(default, deserialize_with = "lenient_string")]
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub netmask: Option<String>,
    /// The gateway; the API sends the text "nil" for private networks.
    #[serde(default, deserialize_with = "lenient_string")]
    pub gateway: Option<String>,
    /// `public` or `private`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NetworkV6 {
    #[serde(default, deserialize_with = "lenient_string")]
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub netmask: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub gateway: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RegionRef {
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// An image by slug (`debian-12-x64`) or by numeric id (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ImageRef {
    Slug(String),
    Id(u64),
}

/// The body of `POST /v2/droplets` for one droplet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropletSpec {
    pub name: String,
    pub region: String,
    pub size: String,
    pub image: ImageRef,
    /// Key ids or fingerprints; the keys must already be on the account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// cloud-config or a script, at most 64 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_uuid: Option<String>,
    pub monitoring: bool,
    pub ipv6: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_droplet_agent: Option<bool>,
}

impl DropletSpec {
    /// Creates a spec with no keys, tags or user data. Set the public fields
    /// for more.
    pub fn new(
        name: impl Into<String>,
        region: impl Into<String>,
        size: impl Into<String>,
        image: ImageRef,
    ) -> Self {
        Self {
            name: name.into(),
            region: region.into(),
            size: size.into(),
            image,
            ssh_keys: Vec::new(),
            tags: Vec::new(),
            user_data: None,
            vpc_uuid: None,
            monitoring: false,
            ipv6: false,
            with_droplet_agent: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::{Droplet, DropletStatus};

    #[test]
    fn public_ipv4_skips_private_entry_listed_first() {
        let droplet: Droplet = serde_json::from_value(serde_json::json!({
            "id": 3164444, "name": "example.com", "status": "active", "unknown": [1],
            "networks": {"v4": [
                {"ip_address": "10.128.192.124", "netmask": "255.255.0.0", "gateway": "nil", "type": "private"},
                {"ip_address": "192.241.165.154", "netmask": "255.255.255.0", "gateway": "192.241.165.1", "type": "public"}
            ], "v6": [{"ip_address": "2604:a880::1", "netmask": 64, "gateway": "2604:a880::", "type": "public"}]}
        }))
        .unwrap();
        assert_eq!(
            droplet.public_ipv4(),
            Some(Ipv4Addr::new(192, 241, 165, 154))
        );
        assert_eq!(
            droplet.private_ipv4(),
            Some(Ipv4Addr::new(10, 128, 192, 124))
        );
        assert_eq!(droplet.networks.v6[0].netmask.as_deref(), Some("64"));
        assert_eq!(droplet.status, DropletStatus::Active);
    }

    #[test]
    fn new_droplet_has_no_address() {
        let droplet: Droplet = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "app", "status": "new", "networks": {}, "tags": null, "locked": null
        }))
        .unwrap();
        assert_eq!(droplet.public_ipv4(), None);

        let empty_ip: Droplet = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "app", "status": "active",
            "networks": {"v4": [{"ip_address": "", "type": "public"}]}
        }))
        .unwrap();
        assert_eq!(empty_ip.public_ipv4(), None);
    }
}
