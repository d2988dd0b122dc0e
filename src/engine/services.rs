//! Connections and stores that steps open on first use.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::OnceCell;

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
}

impl Services {
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
