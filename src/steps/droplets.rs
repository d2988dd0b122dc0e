//! `droplets.create` and `droplets.wait_ready`.
//!
//! A droplet is created once per run. It carries the run's tag, and its id
//! is recorded in the resource registry and the journal the moment the API
//! accepts it, so a resumed run adopts it by id or tag instead of posting
//! again. wwctl generates the server's host key in memory and passes it in
//! the user data, so the first SSH connection is already verified.

use jiff::Timestamp;

use crate::cloud::{CloudClient, DropletSpec, ImageRef, PollSettings};
use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::error::{HintExt, UserError};
use crate::inventory::Droplet;
use crate::remote::host_keys::{self, HostKeyPair};
use crate::remote::known_hosts::{host_pattern, parse_public_key};
use crate::resources::{OwnedDroplet, Ownership};

use super::support::on_each_target;
use super::user_data;

/// Tag on every droplet wwctl creates.
pub const OWNER_TAG: &str = "wwctl";

/// Lists the tags wwctl puts on a droplet it creates, besides the run tag.
pub fn ownership_tags(droplet: &Droplet) -> Vec<String> {
    let mut tags = vec![
        OWNER_TAG.to_string(),
        fleet_tag(&droplet.fleet),
        format!("wwctl-env:{}", droplet.env),
    ];
    tags.extend(droplet.tags.iter().cloned());
    tags
}

pub fn fleet_tag(fleet: &str) -> String {
    format!("wwctl-fleet:{fleet}")
}

/// Builds the tag that ties a droplet to the run that created it.
pub fn run_tag(run_id: &str) -> String {
    format!("wwctl-run:{run_id}")
}

fn describe(droplet: &Droplet) -> String {
    format!(
        "{} in {}, image {}",
        droplet.size, droplet.region, droplet.image
    )
}

pub fn plan_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        let change = match droplet.adopt_id {
            Some(id) => Change::new(
                ChangeAction::Create,
                Some(name.clone()),
                format!("adopt existing droplet {id}"),
            )
            .unknown("public IPv4"),
            None => Change::new(
                ChangeAction::Create,
                Some(name.clone()),
                format!("create droplet ({})", describe(droplet)),
            )
            .detail(format!("tags: {}", ownership_tags(droplet).join(", ")))
            .unknown("id")
            .unknown("public IPv4"),
        };
        changes.push(change);
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let cloud = ctx.services.cloud().await?;
    let resources = ctx.services.resources().await?.snapshot();
    let mut plan = StepPlan::default();

    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        if let Some(owned) = resources.droplet(name) {
            match cloud.droplet(owned.id).await {
                Ok(found) => {
                    let address = found
                        .public_ipv4()
                        .map_or("no address yet".to_string(), |ip| ip.to_string());
                    plan.changes.push(Change::no_change(
                        Some(name.clone()),
                        format!("droplet {} exists ({address})", owned.id),
                    ));
                    continue;
                }
                Err(error) if error.is_not_found() => {
                    plan.notes.push(format!("droplet {} recorded for `{name}` no longer exists; a new one will be created", owned.id));
                }
                Err(error) => return Err(error.into()),
            }
        }

        let same_name = cloud.droplets_by_name(name).await?;
        if !same_name.is_empty() && droplet.adopt_id.is_none() {
            let ids: Vec<String> = same_name.iter().map(|found| found.id.to_string()).collect();
            plan.notes.push(format!(
                "droplets named `{name}` exist that wwctl does not own (ids {}); they are left alone",
                ids.join(", ")
            ));
        }
        plan.changes.extend(plan_offline_one(droplet));
    }
    Ok(plan)
}

fn plan_offline_one(droplet: &Droplet) -> Option<Change> {
    let change = match droplet.adopt_id {
        Some(id) => Change::new(
            ChangeAction::Create,
            Some(droplet.name.clone()),
            format!("adopt existing droplet {id}"),
        ),
        None => Change::new(
            ChangeAction::Create,
            Some(droplet.name.clone()),
            format!("create droplet ({})", describe(droplet)),
        )
        .detail(format!("tags: {}", ownership_tags(droplet).join(", ")))
        .unknown("id"),
    };
    Some(change.unknown("public IPv4"))
}

pub async fn apply_create(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    let ssh_key_ids = account_key_ids(ctx, &cloud).await?;
    on_each_target(ctx, |name| {
        let cloud = cloud.clone();
        let ssh_key_ids = ssh_key_ids.clone();
        async move { create_one(ctx, &cloud, &name, &ssh_key_ids).await }
    })
    .await
}

/// Ids of the account SSH keys the inventory names, for root's
/// `authorized_keys` on new droplets.
async fn account_key_ids(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
) -> anyhow::Result<Vec<String>> {
    let keys = cloud.ssh_keys().await?;
    let mut ids = Vec::new();
    for wanted in &ctx.inventory().project.ssh_keys {
        match keys.iter().find(|key| &key.name == wanted) {
            Some(key) => ids.push(key.id.to_string()),
            None => {
                let names: Vec<&str> = keys.iter().map(|key| key.name.as_str()).collect();
                return Err(UserError::usage(format!(
                    "SSH key `{wanted}` is not on the DigitalOcean account"
                ))
                .with_hint(format!(
                    "add it in the control panel or set `project/ssh_keys` to existing keys ({})",
                    if names.is_empty() {
                        "the account has none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
                .into());
            }
        }
    }
    Ok(ids)
}

async fn create_one(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
    name: &str,
    ssh_key_ids: &[String],
) -> anyhow::Result<()> {
    let droplet = ctx.droplet(name)?;
    let resources = ctx.services.resources().await?;

    if let Some(owned) = resources.snapshot().droplet(name).cloned() {
        match cloud.droplet(owned.id).await {
            Ok(_) => {
                ctx.record_output(&format!("{name}.id"), serde_json::json!(owned.id))?;
                return Ok(());
            }
            Err(error) if error.is_not_found() => {
                tracing::warn!(
                    droplet = name,
                    id = owned.id,
                    "recorded droplet no longer exists; creating a new one"
                );
            }
            Err(error) => return Err(error.into()),
        }
    }

    if let Some(id) = droplet.adopt_id {
        return adopt(ctx, cloud, droplet, id).await;
    }

    let run_tag = run_tag(ctx.run_id);
    let host_key_field = format!("{name}.host_key");
    let key_pair = match cloud.find_run_droplet(name, &run_tag).await? {
        Some(_) => None,
        None => Some(host_keys::generate(name)?),
    };
    let public_key = match &key_pair {
        Some(pair) => {
            // Journal the public half before the POST, so an attempt that
            // dies after the API accepted the create can still read the key.
            let line = host_keys::public_line(&pair.public);
            ctx.record_output(&host_key_field, serde_json::json!(line))?;
            line
        }
        None => ctx
            .own_output(&host_key_field)
            .and_then(|value| value.as_str().map(str::to_string))
            .ok_or_else(|| anyhow::anyhow!("droplet `{name}` was created by an earlier attempt whose host key was not journaled"))
            .hint("delete that droplet by id in the control panel, then run the command again")?,
    };

    let spec = droplet_spec(ctx, droplet, ssh_key_ids, key_pair.as_ref())?;
    let created = cloud.create_droplet(&spec, &run_tag).await?;
    let id = created.id();
    resources.update(|registry| {
        registry.droplets.insert(
            name.to_string(),
            OwnedDroplet {
                id,
                name: name.to_string(),
                fleet: droplet.fleet.clone(),
                env: droplet.env.clone(),
                origin: Ownership::Created,
                run_id: ctx.run_id.to_string(),
                recorded_at: Timestamp::now(),
                address: None,
                host_keys: vec![public_key.clone()],
                deleted_at: None,
            },
        )
    })?;
    ctx.record_output(&format!("{name}.id"), serde_json::json!(id))?;
    if let Some(action) = created.create_action_id {
        ctx.record_output(&format!("{name}.create_action"), serde_json::json!(action))?;
    }
    tracing::info!(
        droplet = name,
        id,
        adopted = created.adopted,
        "droplet created"
    );
    Ok(())
}

fn droplet_spec(
    ctx: &StepContext<'_>,
    droplet: &Droplet,
    ssh_key_ids: &[String],
    key_pair: Option<&HostKeyPair>,
) -> anyhow::Result<DropletSpec> {
    let mut spec = DropletSpec::new(
        &droplet.name,
        &droplet.region,
        &droplet.size,
        ImageRef::Slug(droplet.image.clone()),
    );
    spec.ssh_keys = ssh_key_ids.to_vec();
    spec.tags = ownership_tags(droplet);
    spec.monitoring = true;
    if let Some(pair) = key_pair {
        spec.user_data = Some(
            user_data::render(ctx.inventory(), droplet, pair)?
                .expose()
                .to_string(),
        );
    }
    Ok(spec)
}

/// Take ownership of an existing droplet named in the inventory by id; its
/// host keys come from the inventory.
async fn adopt(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
    droplet: &Droplet,
    id: u64,
) -> anyhow::Result<()> {
    let found = cloud
        .droplet(id)
        .await
        .map_err(anyhow::Error::from)
        .hint(format!(
            "check `id: {id}` of droplet `{}` in the inventory",
            droplet.name
        ))?;
    if !found.name.eq_ignore_ascii_case(&droplet.name) {
        return Err(UserError::refused(format!(
            "droplet {id} is named `{}`, not `{}`; wwctl adopts a droplet only when both agree",
            found.name, droplet.name
        ))
        .with_hint("fix the id or the name in the inventory")
        .into());
    }
    if droplet.host_keys.is_empty() {
        return Err(UserError::usage(format!(
            "adopted droplet `{}` has no `host_keys` in the inventory",
            droplet.name
        ))
        .with_hint(format!(
            "add its public host keys, or pin them with `wwctl hosts trust {}`",
            droplet.name
        ))
        .into());
    }

    let resources = ctx.services.resources().await?;
    resources.update(|registry| {
        registry.droplets.insert(
            droplet.name.clone(),
            OwnedDroplet {
                id,
                name: droplet.name.clone(),
                fleet: droplet.fleet.clone(),
                env: droplet.env.clone(),
                origin: Ownership::Adopted,
                run_id: ctx.run_id.to_string(),
                recorded_at: Timestamp::now(),
                address: found.public_ipv4().map(|ip| ip.to_string()),
                host_keys: droplet.host_keys.clone(),
                deleted_at: None,
            },
        )
    })?;
    ctx.record_output(&format!("{}.id", droplet.name), serde_json::json!(id))?;
    Ok(())
}

pub fn plan_wait_offline(ctx: &StepContext<'_>) -> StepPlan {
    let cloud = &ctx.inventory().cloud;
    let changes = ctx
        .step
        .targets
        .iter()
        .map(|name| {
            Change::new(
                ChangeAction::Wait,
                Some(name.clone()),
                "wait until active with a public IPv4",
            )
            .detail(format!(
                "poll every {}s for up to {}s",
                cloud.poll_interval.as_secs(),
                cloud.ready_timeout.as_secs()
            ))
        })
        .collect();
    StepPlan::with_changes(changes)
}

pub async fn plan_wait(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let resources = ctx.services.resources().await?.snapshot();
    let mut plan = plan_wait_offline(ctx);
    for change in &mut plan.changes {
        let name = change.target.clone().unwrap_or_default();
        if let Some(address) = resources
            .droplet(&name)
            .and_then(|owned| owned.address.clone())
        {
            *change = Change::no_change(Some(name), format!("ready at {address}"));
        }
    }
    Ok(plan)
}

pub async fn apply_wait(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    on_each_target(ctx, |name| {
        let cloud = cloud.clone();
        async move { wait_one(ctx, &cloud, &name).await }
    })
    .await
}

async fn wait_one(ctx: &StepContext<'_>, cloud: &CloudClient, name: &str) -> anyhow::Result<()> {
    let resources = ctx.services.resources().await?;
    let owned = resources
        .snapshot()
        .droplet(name)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("droplet `{name}` is not recorded as created"))
        .hint("run the create step first; re-running the command resumes there")?;

    let create_action = ctx
        .output_of_kind("droplets.create", &format!("{name}.create_action"))
        .and_then(|value| value.as_u64());
    let settings = &ctx.inventory().cloud;
    ctx.services
        .progress
        .message(&format!("{name}: waiting for droplet {} to boot", owned.id));
    let ready = cloud
        .wait_until_ready(
            owned.id,
            create_action,
            PollSettings::new(settings.poll_interval, settings.ready_timeout),
        )
        .await?;
    let address = ready.public_ipv4.to_string();

    let keys = owned
        .host_keys
        .iter()
        .map(|line| parse_public_key(line))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connections = ctx.services.connections().await?;
    let pattern = host_pattern(&address, 22);
    if owned.origin == Ownership::Created && owned.run_id == ctx.run_id {
        // A droplet this run created may have an address an old, deleted
        // server had; its stale known_hosts entry gives way to the new key.
        connections.replace(&pattern, &keys).await?;
    } else if !connections.pin_if_unpinned(&pattern, &keys).await? {
        // Keys pinned earlier (by this tool when it created or adopted the
        // server, or by `wwctl hosts trust`) stay the authority.
        tracing::debug!(droplet = name, %address, "host keys already pinned");
    }

    resources.update(|registry| {
        if let Some(record) = registry.droplets.get_mut(name) {
            record.address = Some(address.clone());
        }
    })?;
    ctx.record_output(&format!("{name}.address"), serde_json::json!(address))?;
    tracing::info!(droplet = name, id = owned.id, %address, "droplet ready");
    Ok(())
}
