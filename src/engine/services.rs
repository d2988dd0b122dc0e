//! Connections and stores that steps open on first use.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::cloud::models::DomainRecord;
use crate::cloud::{self, CloudClient};
use crate::engine::context::Services;
use crate::remote::SshSettings;
use crate::remote::pool::Connections;
use crate::resources::ResourceStore;

/// Lazily opened parts of `Services`.
#[derive(Debug, Default)]
pub struct Lazy {
    cloud: OnceCell<Arc<CloudClient>>,
    resources: OnceCell<Arc<ResourceStore>>,
    connections: OnceCell<Arc<Connections>>,
    /// DNS records read while planning, by zone, type and name. A dry run
    /// changes nothing, so each record is read from the API once however
    /// many steps plan it.
    planned_records: std::sync::Mutex<HashMap<String, Option<DomainRecord>>>,
}

impl Services {
    /// Returns a DNS record read earlier in this dry run, by its key.
    pub fn planned_record(&self, key: &str) -> Option<Option<DomainRecord>> {
        self.planned_records().get(key).cloned()
    }

    /// Keeps a DNS record read in this dry run for the steps planned next.
    pub fn remember_planned_record(&self, key: String, record: Option<DomainRecord>) {
        self.planned_records().insert(key, record);
    }

    fn planned_records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<DomainRecord>>> {
        self.lazy
            .planned_records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns the DigitalOcean API client, with the token from the
    /// environment or `--token-file`.
    pub async fn cloud(&self) -> anyhow::Result<Arc<CloudClient>> {
        self.lazy
            .cloud
            .get_or_try_init(|| async {
                cloud::connect(
                    &self.global.api_url,
                    self.global.token_file.as_deref(),
                    self.clock.clone(),
                )
                .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Returns the registry of owned resources.
    pub async fn resources(&self) -> anyhow::Result<Arc<ResourceStore>> {
        self.lazy
            .resources
            .get_or_try_init(|| async {
                ResourceStore::open(&self.state.resources_path()).map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Returns the SSH connections, checked against the state folder's known_hosts.
    pub async fn connections(&self) -> anyhow::Result<Arc<Connections>> {
        self.lazy
            .connections
            .get_or_try_init(|| async {
                let settings = SshSettings::prepare(
                    &self.state.known_hosts(),
                    self.global.ssh_identity.clone(),
                )
                .context("cannot set up the SSH client")?;
                Connections::new(settings).map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Close what was opened.
    pub async fn close(&self) {
        if let Some(connections) = self.lazy.connections.get() {
            connections.close_all().await;
        }
    }
}
