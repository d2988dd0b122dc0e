//! DNS cutover steps: `dns.lower_ttl`, `dns.switch`, `dns.verify` and
//! `dns.restore_ttl`.
//!
//! The records a step manages are those that follow its target droplets:
//! records pointing at a target's environment (the target is that
//! environment's entry droplet) or at the target by name. Records are
//! updated in place, never deleted and re-created, so resolvers always get
//! an answer. The switch waits out the TTL the records had before it was
//! lowered, checks the sites once more, and records when the old servers
//! stop getting traffic.

use std::net::SocketAddr;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::cloud::{CloudClient, DomainRecord, RecordFilter, RecordPatch, RecordSpec, RecordType};
use crate::dns_query;
use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, KNOWN_AFTER_APPLY, StepPlan};
use crate::inventory::{Record, RecordTarget, Zone};
use crate::resources::Drain;

use super::health;

/// How long to wait for every nameserver to answer the new address.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(300);
const VERIFY_POLL: Duration = Duration::from_secs(2);
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// One record a step manages, with the droplet it should point at.
#[derive(Clone, Debug)]
pub struct Managed<'a> {
    pub zone: &'a Zone,
    pub record: &'a Record,
    /// The entry droplet the record should point at.
    pub droplet: String,
}

impl Managed<'_> {
    pub fn fqdn(&self) -> String {
        if self.record.name == "@" {
            self.zone.name.clone()
        } else {
            format!("{}.{}", self.record.name, self.zone.name)
        }
    }

    pub fn normal_ttl(&self) -> u32 {
        self.record.ttl.unwrap_or(self.zone.ttl)
    }

    fn record_type(&self) -> RecordType {
        if self.record.record_type == "AAAA" {
            RecordType::AAAA
        } else {
            RecordType::A
        }
    }
}

/// Lists the records that follow the step's target droplets.
pub fn managed<'a>(ctx: &'a StepContext<'_>) -> anyhow::Result<Vec<Managed<'a>>> {
    let inventory = ctx.inventory();
    let mut found = Vec::new();
    for target in &ctx.step.targets {
        let droplet = ctx.droplet(target)?;
        let is_entry = inventory
            .entry_droplet(&droplet.fleet, &droplet.env)
            .is_some_and(|entry| entry.name == droplet.name);
        for zone in inventory.dns.zones.values() {
            for record in &zone.records {
                let follows = match &record.target {
                    RecordTarget::Env(env) => is_entry && env == &droplet.env,
                    RecordTarget::Droplet(name) => name == target,
                };
                if follows {
                    found.push(Managed {
                        zone,
                        record,
                        droplet: target.clone(),
                    });
                }
            }
        }
    }
    Ok(found)
}

/// Reads the record of `managed`'s type and name as the API has it now. A
/// dry run reads each record once and plans every step from that read.
async fn current(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
    managed: &Managed<'_>,
) -> anyhow::Result<Option<DomainRecord>> {
    if !ctx.is_dry_run() {
        return read_current(cloud, managed).await;
    }
    let key = format!(
        "{} {} {}",
        managed.zone.name,
        managed.record_type(),
        managed.fqdn()
    );
    if let Some(record) = ctx.services.planned_record(&key) {
        return Ok(record);
    }
    let record = read_current(cloud, managed).await?;
    ctx.services.remember_planned_record(key, record.clone());
    Ok(record)
}

async fn read_current(
    cloud: &CloudClient,
    managed: &Managed<'_>,
) -> anyhow::Result<Option<DomainRecord>> {
    if cloud.domain(&managed.zone.name).await?.is_none() {
        return Ok(None);
    }
    let filter = RecordFilter {
        kind: Some(managed.record_type()),
        name: Some(managed.fqdn()),
    };
    let mut records = cloud.records(&managed.zone.name, &filter).await?;
    match records.len() {
        0 => Ok(None),
        1 => Ok(records.pop()),
        count => anyhow::bail!(
            "{count} {} records named `{}` exist; wwctl manages one per name, so delete the extras in the control panel",
            managed.record.record_type,
            managed.fqdn()
        ),
    }
}

fn lowered_key(managed: &Managed<'_>) -> String {
    format!("lowered.{}", managed.fqdn())
}

fn switched_key(managed: &Managed<'_>) -> String {
    format!("switched.{}", managed.fqdn())
}

fn scaled(ctx: &StepContext<'_>, seconds: u32) -> SignedDuration {
    SignedDuration::try_from(
        ctx.services
            .clock
            .scaled(Duration::from_secs(u64::from(seconds))),
    )
    .unwrap_or(SignedDuration::MAX)
}

// ---------------------------------------------------------------- lower TTL

pub fn plan_lower_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for managed in managed(ctx)? {
        let cutover = managed.zone.cutover_ttl;
        plan.changes.push(
            Change::new(
                ChangeAction::Update,
                Some(format!("{} {}", managed.record.record_type, managed.fqdn())),
                "lower the TTL before the move",
            )
            .detail(format!("ttl: {} -> {cutover}", managed.normal_ttl())),
        );
        plan.changes.push(Change::new(
            ChangeAction::Wait,
            Some(managed.fqdn()),
            format!(
                "wait {}s, the old TTL, before the switch",
                managed.normal_ttl()
            ),
        ));
    }
    Ok(plan)
}

pub async fn plan_lower(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let cloud = ctx.services.cloud().await?;
    let mut plan = StepPlan::default();
    for managed in managed(ctx)? {
        let wanted = ctx.address_of(&managed.droplet).await?;
        let label = format!("{} {}", managed.record.record_type, managed.fqdn());
        match current(ctx, &cloud, &managed).await? {
            None => plan.changes.push(Change::no_change(
                Some(label),
                "no record yet; the switch creates it",
            )),
            Some(record) => {
                let ttl = record.ttl.unwrap_or(managed.normal_ttl());
                let points_at_target = wanted.is_some() && record.data == wanted;
                let target = points_at_target.then_some(managed.droplet.as_str());
                if let Some(reason) = lower_ttl_skip_reason(ttl, managed.zone.cutover_ttl, target) {
                    plan.changes.push(Change::no_change(Some(label), reason));
                    continue;
                }
                plan.changes.push(
                    Change::new(
                        ChangeAction::Update,
                        Some(label),
                        "lower the TTL before the move",
                    )
                    .detail(format!("ttl: {ttl} -> {}", managed.zone.cutover_ttl)),
                );
                plan.changes.push(Change::new(
                    ChangeAction::Wait,
                    Some(managed.fqdn()),
                    format!("wait {ttl}s, the old TTL, before the switch"),
                ));
            }
        }
    }
    Ok(plan)
}

/// Returns why the TTL of a record with `ttl` stays as it is, or `None`
/// when it must be lowered. `target` is the droplet the record already
/// points at, when it points at the step's target.
fn lower_ttl_skip_reason(ttl: u32, cutover_ttl: u32, target: Option<&str>) -> Option<String> {
    if ttl <= cutover_ttl {
        return Some(format!(
            "TTL {ttl} is already at or below the cutover TTL {cutover_ttl}"
        ));
    }
    let droplet = target?;
    Some(format!(
        "TTL {ttl} stays: the record already points at `{droplet}`, so no switch follows"
    ))
}

pub async fn apply_lower(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    for managed in managed(ctx)? {
        let Some(record) = current(ctx, &cloud, &managed).await? else {
            continue;
        };
        let wanted = ctx.address_of(&managed.droplet).await?;
        if wanted.is_some() && record.data == wanted {
            continue;
        }
        let ttl = record.ttl.unwrap_or(managed.normal_ttl());
        if ttl <= managed.zone.cutover_ttl {
            continue;
        }

        // Journal the old TTL before lowering it, so a resumed run still
        // can tell how long resolvers may cache the old answer.
        if ctx.own_output(&lowered_key(&managed)).is_none() {
            ctx.record_output(
                &lowered_key(&managed),
                serde_json::json!({"old_ttl": ttl, "at": ctx.services.clock.now().to_string()}),
            )?;
        }
        let patch = RecordPatch {
            kind: managed.record_type(),
            data: None,
            ttl: Some(managed.zone.cutover_ttl),
        };
        cloud
            .patch_record(&managed.zone.name, record.id, &patch)
            .await?;
        tracing::info!(record = %managed.fqdn(), from = ttl, to = managed.zone.cutover_ttl, "TTL lowered");
    }
    Ok(())
}

// ------------------------------------------------------------------ switch

/// When resolvers no longer hold the record with its old, long TTL.
fn ready_to_switch_at(ctx: &StepContext<'_>, managed: &Managed<'_>) -> Option<Timestamp> {
    let lowered = ctx.output_of_kind("dns.lower_ttl", &lowered_key(managed))?;
    let at: Timestamp = lowered.get("at")?.as_str()?.parse().ok()?;
    let old_ttl = u32::try_from(lowered.get("old_ttl")?.as_u64()?).ok()?;
    at.checked_add(scaled(ctx, old_ttl)).ok()
}

pub fn plan_switch_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for managed in managed(ctx)? {
        plan.changes.push(
            Change::new(
                ChangeAction::Update,
                Some(format!("{} {}", managed.record.record_type, managed.fqdn())),
                format!("point at `{}`", managed.droplet),
            )
            .detail(format!("data: (current) -> {KNOWN_AFTER_APPLY}"))
            .unknown("address"),
        );
    }
    plan.notes.push(
        "every site is checked over HTTPS on the new address right before the switch".to_string(),
    );
    Ok(plan)
}

pub async fn plan_switch(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let cloud = ctx.services.cloud().await?;
    let mut plan = StepPlan::default();
    for managed in managed(ctx)? {
        let wanted = ctx.address_of(&managed.droplet).await?;
        let label = format!("{} {}", managed.record.record_type, managed.fqdn());
        let shown = wanted
            .clone()
            .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string());
        match current(ctx, &cloud, &managed).await? {
            Some(record) if wanted.is_some() && record.data == wanted => {
                plan.changes
                    .push(Change::no_change(Some(label), format!("points at {shown}")));
            }
            Some(record) => plan.changes.push(
                Change::new(
                    ChangeAction::Update,
                    Some(label),
                    format!("point at `{}`", managed.droplet),
                )
                .detail(format!(
                    "data: {} -> {shown}",
                    record.data.unwrap_or_default()
                )),
            ),
            None => plan.changes.push(
                Change::new(
                    ChangeAction::Create,
                    Some(label),
                    format!("create, pointing at `{}`", managed.droplet),
                )
                .detail(format!("data: {shown}, ttl {}", managed.normal_ttl())),
            ),
        }
    }
    Ok(plan)
}

pub async fn apply_switch(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    let all = managed(ctx)?;

    let mut moving = Vec::new();
    for managed in &all {
        let wanted = ctx.address_of(&managed.droplet).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "droplet `{}` has no recorded address to point `{}` at",
                managed.droplet,
                managed.fqdn()
            )
        })?;
        let record = current(ctx, &cloud, managed).await?;
        if record
            .as_ref()
            .is_some_and(|record| record.data.as_deref() == Some(wanted.as_str()))
        {
            continue;
        }
        moving.push((managed, wanted, record));
    }
    if moving.is_empty() {
        return Ok(());
    }

    // The switch never points a name at a server that cannot answer.
    let mut checked = Vec::new();
    for (managed, _, _) in &moving {
        if !checked.contains(&managed.droplet) {
            health::gate(ctx, &managed.droplet).await?;
            checked.push(managed.droplet.clone());
        }
    }

    wait_for_old_ttls(ctx, &moving).await;

    for zone in moving
        .iter()
        .map(|(managed, _, _)| managed.zone.name.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        cloud.ensure_domain(&zone).await?;
    }
    for (managed, wanted, record) in &moving {
        let ttl = record
            .as_ref()
            .and_then(|record| record.ttl)
            .unwrap_or(managed.normal_ttl());
        let spec = RecordSpec::new(
            managed.record_type(),
            managed.record.name.clone(),
            wanted.clone(),
            ttl,
        );
        let previous = record.as_ref().and_then(|record| record.data.clone());
        cloud.upsert_record(&managed.zone.name, &spec).await?;
        ctx.record_output(
            &switched_key(managed),
            serde_json::json!({"from": previous, "to": wanted, "ttl": ttl, "at": ctx.services.clock.now().to_string()}),
        )?;
        tracing::info!(record = %managed.fqdn(), from = ?previous, to = %wanted, "record switched");
    }
    Ok(())
}

async fn wait_for_old_ttls(
    ctx: &StepContext<'_>,
    moving: &[(&Managed<'_>, String, Option<DomainRecord>)],
) {
    let latest = moving
        .iter()
        .filter_map(|(managed, _, _)| ready_to_switch_at(ctx, managed))
        .max();
    let Some(until) = latest else { return };
    let now = ctx.services.clock.now();
    if until <= now {
        return;
    }
    let remaining = Duration::try_from(until.duration_since(now)).unwrap_or_default();
    ctx.services.progress.message(&format!(
        "waiting {}s until resolvers dropped the old TTL (until {until})",
        remaining.as_secs()
    ));
    // The wait is already scaled: sleep the real remaining time.
    tokio::time::sleep(remaining).await;
}

// ------------------------------------------------------------------ verify

pub fn plan_verify_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let all = managed(ctx)?;
    let droplets: Vec<(String, Option<String>)> = distinct_droplets(&all)
        .into_iter()
        .map(|name| (name, None))
        .collect();
    Ok(StepPlan::with_changes(vec![verify_change(&all, &droplets)]))
}

/// Plans the check like `plan_verify_offline`, with the recorded address
/// of each droplet the records move to.
pub async fn plan_verify(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let all = managed(ctx)?;
    let mut droplets: Vec<(String, Option<String>)> = Vec::new();
    for name in distinct_droplets(&all) {
        let address = ctx.address_of(&name).await?;
        droplets.push((name, address));
    }
    Ok(StepPlan::with_changes(vec![verify_change(&all, &droplets)]))
}

/// Lists the droplets the records move to, each once, in record order.
fn distinct_droplets(records: &[Managed<'_>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for record in records {
        if !names.contains(&record.droplet) {
            names.push(record.droplet.clone());
        }
    }
    names
}

/// Builds the planned check: the records, and the droplets (with their
/// addresses, once known) whose address every nameserver must return.
fn verify_change(records: &[Managed<'_>], droplets: &[(String, Option<String>)]) -> Change {
    let names: Vec<String> = records.iter().map(Managed::fqdn).collect();
    let addresses: Vec<String> = droplets
        .iter()
        .map(|(name, address)| match address {
            Some(address) => format!("`{name}` ({address})"),
            None => format!("`{name}`"),
        })
        .collect();
    Change::new(
        ChangeAction::Check,
        None,
        format!(
            "query every authoritative nameserver until it answers the address of {}",
            addresses.join(", ")
        ),
    )
    .detail(names.join(", "))
    .detail(format!("for up to {}s", VERIFY_TIMEOUT.as_secs()))
}

/// Returns the nameservers to query: `--dns-server`, or the zone's NS records.
async fn nameservers(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
    zone: &str,
) -> anyhow::Result<Vec<SocketAddr>> {
    if let Some(server) = ctx.services.global.dns_server {
        return Ok(vec![server]);
    }
    let filter = RecordFilter {
        kind: Some(RecordType::NS),
        name: None,
    };
    let mut servers = Vec::new();
    for record in cloud.records(zone, &filter).await? {
        if let Some(host) = &record.data {
            servers.push(dns_query::resolve_server(host, 53).await?);
        }
    }
    if servers.is_empty() {
        anyhow::bail!("zone `{zone}` has no NS records to verify against");
    }
    Ok(servers)
}

pub async fn apply_verify(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    let deadline = ctx.services.clock.deadline(VERIFY_TIMEOUT);

    for managed in managed(ctx)? {
        let wanted = ctx.address_of(&managed.droplet).await?.ok_or_else(|| {
            anyhow::anyhow!("droplet `{}` has no recorded address", managed.droplet)
        })?;
        let record = current(ctx, &cloud, &managed).await?;
        if record.and_then(|record| record.data).as_deref() != Some(wanted.as_str()) {
            anyhow::bail!(
                "the API does not show `{}` pointing at {wanted}; run the switch again",
                managed.fqdn()
            );
        }

        for server in nameservers(ctx, &cloud, &managed.zone.name).await? {
            loop {
                let answer = dns_query::query_a(server, &managed.fqdn(), QUERY_TIMEOUT).await;
                let last = match &answer {
                    Ok(answer)
                        if answer
                            .addresses
                            .iter()
                            .any(|address| address.to_string() == wanted) =>
                    {
                        break;
                    }
                    Ok(answer) => format!("{:?}", answer.addresses),
                    Err(error) => error.to_string(),
                };
                if ctx.services.clock.now() >= deadline {
                    anyhow::bail!(
                        "the nameserver {server} still answers {last} for `{}` instead of {wanted} after {}s",
                        managed.fqdn(),
                        VERIFY_TIMEOUT.as_secs()
                    );
                }
                ctx.services.clock.sleep(VERIFY_POLL).await;
            }
        }
        ctx.record_output(
            &format!("verified.{}", managed.fqdn()),
            serde_json::json!(wanted),
        )?;
    }
    Ok(())
}

// ------------------------------------------------------------- restore TTL

pub fn plan_restore_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for managed in managed(ctx)? {
        plan.changes.push(
            Change::new(
                ChangeAction::Update,
                Some(format!("{} {}", managed.record.record_type, managed.fqdn())),
                "restore the normal TTL",
            )
            .detail(format!(
                "ttl: {} -> {}",
                managed.zone.cutover_ttl,
                managed.normal_ttl()
            )),
        );
    }
    Ok(plan)
}

pub async fn plan_restore(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let cloud = ctx.services.cloud().await?;
    let mut plan = StepPlan::default();
    for managed in managed(ctx)? {
        let label = format!("{} {}", managed.record.record_type, managed.fqdn());
        match current(ctx, &cloud, &managed)
            .await?
            .and_then(|record| record.ttl)
        {
            Some(ttl) if ttl == managed.normal_ttl() => plan
                .changes
                .push(Change::no_change(Some(label), format!("TTL {ttl}"))),
            Some(ttl) => plan.changes.push(
                Change::new(ChangeAction::Update, Some(label), "restore the normal TTL")
                    .detail(format!("ttl: {ttl} -> {}", managed.normal_ttl())),
            ),
            None => plan.changes.push(
                Change::new(ChangeAction::Update, Some(label), "restore the normal TTL").detail(
                    format!(
                        "ttl: {} -> {}",
                        managed.zone.cutover_ttl,
                        managed.normal_ttl()
                    ),
                ),
            ),
        }
    }
    Ok(plan)
}

pub async fn apply_restore(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    let resources = ctx.services.resources().await?;

    for managed in managed(ctx)? {
        let Some(record) = current(ctx, &cloud, &managed).await? else {
            continue;
        };
        if record.ttl != Some(managed.normal_ttl()) {
            let patch = RecordPatch {
                kind: managed.record_type(),
                data: None,
                ttl: Some(managed.normal_ttl()),
            };
            cloud
                .patch_record(&managed.zone.name, record.id, &patch)
                .await?;
        }

        let Some(switched) = ctx.output_of_kind("dns.switch", &switched_key(&managed)) else {
            continue;
        };
        let Some(from) = switched
            .get("from")
            .and_then(|from| from.as_str())
            .map(str::to_string)
        else {
            continue;
        };
        let at: Timestamp = switched
            .get("at")
            .and_then(|at| at.as_str())
            .and_then(|at| at.parse().ok())
            .unwrap_or(ctx.services.clock.now());
        let ttl = switched
            .get("ttl")
            .and_then(|ttl| ttl.as_u64())
            .and_then(|ttl| u32::try_from(ttl).ok())
            .unwrap_or(managed.normal_ttl());
        let margin = SignedDuration::try_from(ctx.services.clock.scaled(managed.zone.drain_margin))
            .unwrap_or(SignedDuration::MAX);
        let until = at
            .checked_add(scaled(ctx, ttl))
            .ok()
            .and_then(|time| time.checked_add(margin).ok())
            .unwrap_or(Timestamp::MAX);

        resources.update(|registry| {
            registry
                .drains
                .retain(|drain| !(drain.name == managed.fqdn() && drain.address == from));
            registry.drains.push(Drain {
                name: managed.fqdn(),
                address: from.clone(),
                until,
                run_id: ctx.run_id.to_string(),
            });
        })?;
        ctx.record_output(
            &format!("drain_until.{}", managed.fqdn()),
            serde_json::json!(until.to_string()),
        )?;
        ctx.services.progress.println(&format!(
            "{} moved off {from}; that server may be turned off after {until}",
            managed.fqdn()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{lower_ttl_skip_reason, verify_change};

    #[test]
    fn lower_ttl_skip_names_cutover_ttl() {
        assert_eq!(
            lower_ttl_skip_reason(60, 60, None).as_deref(),
            Some("TTL 60 is already at or below the cutover TTL 60")
        );
        assert_eq!(
            lower_ttl_skip_reason(30, 60, Some("prod-2023")).as_deref(),
            Some("TTL 30 is already at or below the cutover TTL 60")
        );
    }

    #[test]
    fn lower_ttl_skip_on_target_keeps_ttl() {
        let reason = lower_ttl_skip_reason(3600, 60, Some("prod-2023")).unwrap();
        assert_eq!(
            reason,
            "TTL 3600 stays: the record already points at `prod-2023`, so no switch follows"
        );
        assert!(!reason.contains("its target"), "{reason}");
    }

    #[test]
    fn lower_ttl_skip_none_when_moving() {
        assert_eq!(lower_ttl_skip_reason(3600, 60, None), None);
    }

    #[test]
    fn verify_change_names_destination() {
        let change = verify_change(
            &[],
            &[
                ("lb-2022".to_string(), Some("192.0.2.10".to_string())),
                ("staging-2022".to_string(), None),
            ],
        );
        assert_eq!(
            change.summary,
            "query every authoritative nameserver until it answers the address of `lb-2022` (192.0.2.10), `staging-2022`"
        );
        assert!(
            !change.summary.contains("new address"),
            "{}",
            change.summary
        );
    }
}
