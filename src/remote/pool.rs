//! Connections to many servers: one master connection each, opened on first
//! use, and bounded parallel work across them with results kept per host.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use ssh_key::PublicKey;
use tokio::sync::Mutex;

use super::error::RemoteError;
use super::host::{Host, Target};
use super::known_hosts::KnownHosts;
use super::settings::SshSettings;

#[derive(Debug)]
pub struct Connections {
    pub settings: SshSettings,
    pub known: Mutex<KnownHosts>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

impl Connections {
    pub fn new(settings: SshSettings) -> anyhow::Result<Self> {
        let known = KnownHosts::load(&settings.known_hosts)?;
        Ok(Self {
            settings,
            known: Mutex::new(known),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// Returns the connection to `target`, opening it on first use.
    pub async fn host(&self, target: &Target) -> Result<Arc<Host>, RemoteError> {
        let key = format!("{}@{}:{}", target.user, target.address, target.port);
        if let Some(host) = self.hosts.lock().await.get(&key) {
            return Ok(host.clone());
        }
        let host = Arc::new(Host::connect(&self.settings, &self.known, target.clone()).await?);
        self.hosts.lock().await.insert(key, host.clone());
        Ok(host)
    }

    /// Keep an already open connection (from a readiness wait) for reuse.
    pub async fn adopt(&self, host: Host) -> Arc<Host> {
        let key = format!(
            "{}@{}:{}",
            host.target.user, host.target.address, host.target.port
        );
        let host = Arc::new(host);
        self.hosts.lock().await.insert(key, host.clone());
        host
    }

    /// Pin host keys for an address that has none pinned yet, and save.
    /// Returns false, changing nothing, when other keys are pinned there:
    /// the connection then checks the server against those, and a server
    /// that presents another key stops before any command runs.
    pub async fn pin_if_unpinned(&self, pattern: &str, keys: &[PublicKey]) -> anyhow::Result<bool> {
        let mut known = self.known.lock().await;
        if !known.keys_for(pattern).is_empty() {
            return Ok(false);
        }
        known.pin(pattern, keys)?;
        known.save()?;
        Ok(true)
    }

    /// Replace the keys of an address that a droplet this run created now
    /// holds, and save.
    pub async fn replace(&self, pattern: &str, keys: &[PublicKey]) -> anyhow::Result<()> {
        let mut known = self.known.lock().await;
        known.replace(pattern, keys);
        known.save()
    }

    /// Returns whether keys are pinned for an address.
    pub async fn is_pinned(&self, pattern: &str) -> bool {
        !self.known.lock().await.keys_for(pattern).is_empty()
    }

    /// Forget the keys of an address (its server was deleted), and save.
    pub async fn forget(&self, pattern: &str) -> anyhow::Result<bool> {
        let mut known = self.known.lock().await;
        let removed = known.forget(pattern);
        if removed {
            known.save()?;
        }
        Ok(removed)
    }

    /// Close every master connection.
    pub async fn close_all(&self) {
        let hosts: Vec<Arc<Host>> = self
            .hosts
            .lock()
            .await
            .drain()
            .map(|(_, host)| host)
            .collect();
        for host in hosts {
            if let Ok(host) = Arc::try_unwrap(host) {
                host.close().await;
            }
        }
    }
}

/// Run `work` for every item, at most `bound` at once, and return each
/// item's result beside it, in the items' order.
pub async fn for_each<T, R, F, Fut>(items: Vec<T>, bound: usize, work: F) -> Vec<(T, R)>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let futures = items.into_iter().enumerate().map(|(index, item)| {
        let future = work(item.clone());
        async move { (index, item, future.await) }
    });
    let mut results: Vec<(usize, T, R)> = futures_util::stream::iter(futures)
        .buffer_unordered(bound.max(1))
        .collect()
        .await;
    results.sort_by_key(|(index, _, _)| *index);
    results
        .into_iter()
        .map(|(_, item, result)| (item, result))
        .collect()
}
