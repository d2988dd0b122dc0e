//! The machines behind the emulator's droplets.
//!
//! The emulator keeps the API's state; a host backend makes each droplet a
//! machine. `NoHosts` is the rootless backend of `sandbox up --api-only`,
//! where droplets exist only in the API. The lab backend boots a real host
//! (network namespace, sshd, NGINX, MariaDB) per droplet.

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;

pub type HostFuture<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// What a new droplet's machine is booted with.
#[derive(Clone, Debug)]
pub struct BootRequest {
    pub droplet_id: u64,
    /// The droplet's name, which becomes the host name.
    pub name: String,
    /// The droplet's public IPv4 address.
    pub address: Ipv4Addr,
    /// Public keys of the account SSH keys named in the create request, for
    /// root's `authorized_keys`.
    pub authorized_keys: Vec<String>,
    /// The create request's `user_data` (cloud-config), if any.
    pub user_data: Option<String>,
}

/// The operations the emulator performs on droplet machines. Every method
/// is idempotent: a repeated call for the same droplet succeeds.
pub trait HostBackend: Send + Sync + 'static {
    /// Boot a machine for a new droplet. Returns once its services started.
    fn boot(&self, request: BootRequest) -> HostFuture<'_, ()>;

    /// Stop the machine's services gracefully (droplet action `shutdown`).
    fn shutdown(&self, droplet_id: u64) -> HostFuture<'_, ()>;

    /// Stop the machine's services at once (droplet action `power_off`).
    fn power_off(&self, droplet_id: u64) -> HostFuture<'_, ()>;

    /// Start a stopped machine's services again (droplet action `power_on`).
    fn power_on(&self, droplet_id: u64) -> HostFuture<'_, ()>;

    /// Archive the machine's data under the snapshot's id (droplet action
    /// `snapshot`).
    fn snapshot(&self, droplet_id: u64, snapshot_id: u64) -> HostFuture<'_, ()>;

    /// Destroy the machine and its address (droplet delete).
    fn destroy(&self, droplet_id: u64) -> HostFuture<'_, ()>;
}

/// Droplets without machines, for the rootless `--api-only` sandbox.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHosts;

impl HostBackend for NoHosts {
    fn boot(&self, _request: BootRequest) -> HostFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn shutdown(&self, _droplet_id: u64) -> HostFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn power_off(&self, _droplet_id: u64) -> HostFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn power_on(&self, _droplet_id: u64) -> HostFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn snapshot(&self, _droplet_id: u64, _snapshot_id: u64) -> HostFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn destroy(&self, _droplet_id: u64) -> HostFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}
