//! Actions: what the API does after a request returns (create a droplet,
//! power it off, take a snapshot).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::null_as_default;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Action {
    pub id: u64,
    #[serde(default)]
    pub status: ActionStatus,
    /// `create`, `shutdown`, `snapshot` and so on.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub resource_id: Option<u64>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub region_slug: Option<String>,
}

/// An action's `status`; unknown values are kept as text and count as
/// still running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ActionStatus {
    #[default]
    InProgress,
    Completed,
    Errored,
    Other(String),
}

impl ActionStatus {
    pub fn as_str(&self) -> &str {
        match self {
            ActionStatus::InProgress => "in-progress",
            ActionStatus::Completed => "completed",
            ActionStatus::Errored => "errored",
            ActionStatus::Other(text) => text,
        }
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        Ok(match text.as_str() {
            "in-progress" | "" => ActionStatus::InProgress,
            "completed" => ActionStatus::Completed,
            "errored" => ActionStatus::Errored,
            _ => ActionStatus::Other(text),
        })
    }
}

impl Serialize for ActionStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
