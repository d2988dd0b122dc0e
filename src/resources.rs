//! The resources wwctl owns: every droplet it created or adopted, by id,
//! and the snapshots it took. Teardown deletes only droplets recorded here.
//!
//! The file (`resources.json` in the state folder) is versioned and written
//! atomically on every change, like the journal.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use indexmap::IndexMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::HintExt;
use crate::fsutil;

pub const FORMAT: &str = "wwctl.resources/v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub format: String,
    /// Droplets by inventory name.
    pub droplets: IndexMap<String, OwnedDroplet>,
    pub snapshots: Vec<OwnedSnapshot>,
    /// Addresses DNS moved away from, and until when resolvers may still
    /// send them traffic.
    #[serde(default)]
    pub drains: Vec<Drain>,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            format: FORMAT.to_string(),
            droplets: IndexMap::new(),
            snapshots: Vec::new(),
            drains: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnedDroplet {
    pub id: u64,
    pub name: String,
    pub fleet: String,
    pub env: String,
    /// Whether wwctl created or adopted it.
    pub origin: Ownership,
    /// The run that created or adopted it.
    pub run_id: String,
    pub recorded_at: Timestamp,
    /// Public IPv4, once known.
    pub address: Option<String>,
    /// Public host keys pinned for it, one OpenSSH line each.
    pub host_keys: Vec<String>,
    /// Set when wwctl deleted it; the record stays as history.
    pub deleted_at: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    Created,
    Adopted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnedSnapshot {
    pub id: u64,
    pub name: String,
    pub droplet_id: u64,
    pub droplet_name: String,
    pub run_id: String,
    pub taken_at: Timestamp,
}

/// A DNS name that moved off `address`: resolvers may send it traffic until
/// `until` (the switch, plus the TTL the record had then, plus a margin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drain {
    pub name: String,
    pub address: String,
    pub until: Timestamp,
    pub run_id: String,
}

impl Resources {
    /// Returns the live (not deleted) droplet recorded under `name`.
    pub fn droplet(&self, name: &str) -> Option<&OwnedDroplet> {
        self.droplets
            .get(name)
            .filter(|droplet| droplet.deleted_at.is_none())
    }

    /// Returns the live droplet recorded with `id`.
    pub fn droplet_by_id(&self, id: u64) -> Option<&OwnedDroplet> {
        self.droplets
            .values()
            .find(|droplet| droplet.id == id && droplet.deleted_at.is_none())
    }
}

/// The resources file of a state folder, shared by concurrent steps.
#[derive(Debug)]
pub struct ResourceStore {
    path: PathBuf,
    inner: Mutex<Resources>,
}

impl ResourceStore {
    /// Read the file; a missing file is an empty registry.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let resources = match std::fs::read(path) {
            Ok(bytes) => parse(path, &bytes)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Resources::default(),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read `{}`", path.display()));
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            inner: Mutex::new(resources),
        })
    }

    pub fn snapshot(&self) -> Resources {
        self.inner.lock().expect("resources lock").clone()
    }

    /// Apply `change` and write the file before returning.
    pub fn update<R>(&self, change: impl FnOnce(&mut Resources) -> R) -> anyhow::Result<R> {
        let mut resources = self.inner.lock().expect("resources lock");
        let result = change(&mut resources);
        let bytes = serde_json::to_vec_pretty(&*resources)?;
        fsutil::write_atomic(&self.path, &bytes, 0o600)
            .with_context(|| format!("cannot write `{}`", self.path.display()))?;
        Ok(result)
    }
}

fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Resources> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .with_context(|| format!("`{}` is not valid JSON", path.display()))
        .hint(
            "this file is written atomically, so it was changed by hand; restore it from a backup",
        )?;
    let format = value
        .get("format")
        .and_then(|format| format.as_str())
        .unwrap_or_default();
    if format != FORMAT {
        return Err(anyhow::anyhow!(
            "`{}` has format `{format}`, and this wwctl reads `{FORMAT}`",
            path.display()
        ))
        .hint("use the wwctl version that wrote it");
    }
    serde_json::from_value(value)
        .with_context(|| format!("`{}` does not match format `{FORMAT}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{OwnedDroplet, Ownership, ResourceStore};

    fn droplet(id: u64, name: &str) -> OwnedDroplet {
        OwnedDroplet {
            id,
            name: name.to_string(),
            fleet: "2023".to_string(),
            env: "prod".to_string(),
            origin: Ownership::Created,
            run_id: "run-1".to_string(),
            recorded_at: jiff::Timestamp::UNIX_EPOCH,
            address: None,
            host_keys: Vec::new(),
            deleted_at: None,
        }
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resources.json");
        let store = ResourceStore::open(&path).unwrap();
        store
            .update(|resources| {
                resources
                    .droplets
                    .insert("prod-2023".to_string(), droplet(222, "prod-2023"))
            })
            .unwrap();

        let reopened = ResourceStore::open(&path).unwrap().snapshot();
        assert_eq!(reopened.droplet("prod-2023").unwrap().id, 222);
        assert_eq!(reopened.droplet_by_id(222).unwrap().name, "prod-2023");
    }

    #[test]
    fn deleted_droplet_is_not_live() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResourceStore::open(&dir.path().join("resources.json")).unwrap();
        let mut gone = droplet(111, "app-old");
        gone.deleted_at = Some(jiff::Timestamp::UNIX_EPOCH);
        store
            .update(|resources| resources.droplets.insert("app-old".to_string(), gone))
            .unwrap();
        assert!(store.snapshot().droplet("app-old").is_none());
        assert!(store.snapshot().droplet_by_id(111).is_none());
    }
}
