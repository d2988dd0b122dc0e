//! Snapshots. Their ids are integers under `/v2/droplets/{id}/snapshots`
//! and strings under `/v2/snapshots`; both readers accept either form.

use serde::{Deserialize, Serialize};

use super::{lenient_string, null_as_default, numeric_id, string_id};

/// A snapshot in `GET /v2/droplets/{id}/snapshots`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DropletSnapshot {
    #[serde(deserialize_with = "numeric_id")]
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub regions: Vec<String>,
    #[serde(default)]
    pub min_disk_size: Option<u64>,
    #[serde(default)]
    pub size_gigabytes: Option<f64>,
    /// `snapshot` or `backup`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// A snapshot in `GET /v2/snapshots`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Snapshot {
    #[serde(deserialize_with = "string_id")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub regions: Vec<String>,
    /// The droplet or volume the snapshot was taken of.
    #[serde(default, deserialize_with = "lenient_string")]
    pub resource_id: Option<String>,
    /// `droplet` or `volume`.
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub min_disk_size: Option<u64>,
    #[serde(default)]
    pub size_gigabytes: Option<f64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::{DropletSnapshot, Snapshot};

    #[test]
    fn snapshot_ids_in_both_forms() {
        let under_droplet: DropletSnapshot =
            serde_json::from_str(r#"{"id": 6372321, "name": "s", "type": "snapshot"}"#).unwrap();
        assert_eq!(under_droplet.id, 6_372_321);

        let listed: Snapshot = serde_json::from_str(
            r#"{"id": "6372321", "name": "s", "resource_id": "200776916", "resource_type": "droplet", "tags": null}"#,
        )
        .unwrap();
        assert_eq!(listed.id, "6372321");
        assert_eq!(listed.resource_id.as_deref(), Some("200776916"));

        let numeric: Snapshot =
            serde_json::from_str(r#"{"id": 6372321, "resource_id": 1}"#).unwrap();
        assert_eq!(numeric.id, "6372321");
    }
}
