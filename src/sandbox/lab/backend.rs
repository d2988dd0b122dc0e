//! The lab as the emulator's host backend: each droplet operation runs on
//! a blocking thread, one at a time per droplet.

use crate::sandbox::hosts::{BootRequest, HostBackend, HostFuture};

use super::Lab;
use super::host;

impl Lab {
    /// Run `work` on a blocking thread while holding the droplet's lock.
    fn on_host<T: Send + 'static>(
        &self,
        droplet_id: u64,
        work: impl FnOnce(&Lab) -> anyhow::Result<T> + Send + 'static,
    ) -> HostFuture<'_, T> {
        let lab = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let lock = lab.host_lock(droplet_id);
                let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                work(&lab)
            })
            .await?
        })
    }
}

impl HostBackend for Lab {
    fn boot(&self, request: BootRequest) -> HostFuture<'_, ()> {
        self.on_host(request.droplet_id, move |lab| {
            let report = host::boot(lab.layout(), &request)?;
            tracing::info!(
                droplet_id = request.droplet_id,
                name = %request.name,
                address = %request.address,
                "lab host booted in {} ms",
                report.elapsed.as_millis()
            );
            for failure in &report.failed_units {
                tracing::warn!(
                    droplet_id = request.droplet_id,
                    "unit failed at boot: {failure}"
                );
            }
            Ok(())
        })
    }

    fn shutdown(&self, droplet_id: u64) -> HostFuture<'_, ()> {
        self.on_host(droplet_id, move |lab| {
            host::shutdown(lab.layout(), droplet_id)
        })
    }

    fn power_off(&self, droplet_id: u64) -> HostFuture<'_, ()> {
        self.on_host(droplet_id, move |lab| {
            host::power_off(lab.layout(), droplet_id)
        })
    }

    fn power_on(&self, droplet_id: u64) -> HostFuture<'_, ()> {
        self.on_host(droplet_id, move |lab| {
            host::power_on(lab.layout(), droplet_id)
        })
    }

    fn snapshot(&self, droplet_id: u64, snapshot_id: u64) -> HostFuture<'_, ()> {
        self.on_host(droplet_id, move |lab| {
            host::snapshot(lab.layout(), droplet_id, snapshot_id).map(|_| ())
        })
    }

    fn destroy(&self, droplet_id: u64) -> HostFuture<'_, ()> {
        self.on_host(droplet_id, move |lab| {
            host::destroy(lab.layout(), droplet_id)
        })
    }
}
