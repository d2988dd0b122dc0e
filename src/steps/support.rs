//! Helpers every step kind uses: inventory droplets to SSH targets, and
//! work across targets with each host's result kept apart.

use std::future::Future;
use std::sync::Arc;

use crate::engine::context::StepContext;
use crate::error::HintExt;
use crate::inventory::Droplet;
use crate::remote::pool;
use crate::remote::{Host, Target};

/// Hosts a step works on at once.
pub const PARALLEL_HOSTS: usize = 8;

impl StepContext<'_> {
    /// Returns the inventory droplet `name`. Steps only name droplets the playbook resolved.
    pub fn droplet(&self, name: &str) -> anyhow::Result<&Droplet> {
        self.inventory()
            .find_droplet(name)
            .ok_or_else(|| anyhow::anyhow!("droplet `{name}` is not in the inventory"))
    }

    /// Returns the public address recorded for droplet `name`, if any.
    pub async fn address_of(&self, name: &str) -> anyhow::Result<Option<String>> {
        let resources = self.services.resources().await?;
        Ok(resources
            .snapshot()
            .droplet(name)
            .and_then(|droplet| droplet.address.clone()))
    }

    /// Returns where to log in to droplet `name`.
    pub async fn target_of(&self, name: &str) -> anyhow::Result<Target> {
        let droplet = self.droplet(name)?;
        let Some(address) = self.address_of(name).await? else {
            return Err(anyhow::anyhow!("droplet `{name}` has no recorded address")).hint(format!(
                "create it first: `wwctl provision {}`",
                droplet.fleet
            ));
        };
        Ok(Target {
            name: name.to_string(),
            address,
            port: 22,
            user: droplet.login_user.clone(),
        })
    }

    /// Returns the SSH connection to droplet `name`, opened on first use.
    pub async fn host(&self, name: &str) -> anyhow::Result<Arc<Host>> {
        let target = self.target_of(name).await?;
        let connections = self.services.connections().await?;
        Ok(connections.host(&target).await?)
    }
}

/// Run `work` for every target of the step, at most `PARALLEL_HOSTS` at
/// once. Every host runs to its end; the error names each host that failed.
pub async fn on_each_target<F, Fut>(ctx: &StepContext<'_>, work: F) -> anyhow::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let results = pool::for_each(ctx.step.targets.clone(), PARALLEL_HOSTS, work).await;
    let failures: Vec<(String, anyhow::Error)> = results
        .into_iter()
        .filter_map(|(target, result)| result.err().map(|error| (target, error)))
        .collect();

    match failures.len() {
        0 => Ok(()),
        1 => {
            let (target, error) = failures.into_iter().next().expect("one failure");
            Err(error.context(format!("on `{target}`")))
        }
        count => {
            let lines: Vec<String> = failures
                .iter()
                .map(|(target, error)| {
                    format!(
                        "  {target}: {}",
                        crate::error::render(error)
                            .trim_end()
                            .replace('\n', "\n    ")
                    )
                })
                .collect();
            anyhow::bail!("{count} hosts failed:\n{}", lines.join("\n"))
        }
    }
}
