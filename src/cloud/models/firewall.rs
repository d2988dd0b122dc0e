//! Cloud firewalls. `PUT /v2/firewalls/{id}` replaces the whole firewall, so
//! an update sends every rule, droplet and tag it should keep.

use serde::{Deserialize, Serialize};

use super::null_as_default;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Firewall {
    /// A UUID.
    pub id: String,
    pub name: String,
    /// `waiting`, `succeeded` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub droplet_ids: Vec<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub inbound_rules: Vec<InboundRule>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub outbound_rules: Vec<OutboundRule>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pending_changes: Vec<PendingChange>,
}

/// The body of `POST /v2/firewalls` and `PUT /v2/firewalls/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirewallSpec {
    pub name: String,
    pub inbound_rules: Vec<InboundRule>,
    pub outbound_rules: Vec<OutboundRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub droplet_ids: Vec<u64>,
    /// Tags the firewall applies to; they must exist already.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct InboundRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// `"22"`, `"8000-9000"`, or `"0"` for all (always `"0"` for ICMP).
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sources: RuleTargets,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OutboundRule {
    pub protocol: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub destinations: RuleTargets,
}

/// The sources of an inbound rule or the destinations of an outbound one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RuleTargets {
    /// IPv4 or IPv6 addresses or CIDR blocks.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub droplet_ids: Vec<u64>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub load_balancer_uids: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubernetes_ids: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PendingChange {
    #[serde(default)]
    pub droplet_id: Option<u64>,
    #[serde(default)]
    pub removing: Option<bool>,
    #[serde(default)]
    pub status: Option<String>,
}
