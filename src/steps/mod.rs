//! Step kinds: what a playbook step can do, with its parameters.
//!
//! Each kind is a variant of `Action` holding its typed parameters, and a
//! module with three functions: `plan_offline` (from the inventory alone),
//! `plan` (read-only look at the world) and `apply`.

pub mod bootstrap;
pub mod certificates;
pub mod configs;
pub mod configure;
pub mod database;
pub mod database_sync;
pub mod db_secrets;
pub mod deploy;
pub mod dns;
pub mod droplets;
pub mod health;
pub mod local;
pub mod nginx;
pub mod sandbox_tls;
pub mod support;
pub mod teardown;
pub mod user_data;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::engine::context::StepContext;
use crate::engine::plan::StepPlan;

/// Every step kind a playbook may name.
pub const KINDS: [&str; 20] = [
    "local.run",
    "droplets.create",
    "droplets.wait_ready",
    "hosts.bootstrap",
    "database.configure",
    "database.seed",
    "tls.certificates",
    "nginx.configure",
    "apps.deploy",
    "configs.apply",
    "database.sync",
    "sites.health",
    "dns.lower_ttl",
    "dns.switch",
    "dns.verify",
    "dns.restore_ttl",
    "teardown.check",
    "teardown.snapshot",
    "teardown.delete",
    "hosts.forget",
];

/// A step's kind with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    LocalRun(local::LocalRun),
    DropletsCreate,
    DropletsWaitReady,
    HostsBootstrap,
    DatabaseConfigure,
    DatabaseSeed,
    TlsCertificates(FromFleet),
    NginxConfigure,
    AppsDeploy,
    ConfigsApply,
    DatabaseSync(FromFleet),
    SitesHealth,
    DnsLowerTtl,
    DnsSwitch,
    DnsVerify,
    DnsRestoreTtl,
    TeardownCheck,
    TeardownSnapshot,
    TeardownDelete,
    HostsForget,
}

/// Parameters naming the fleet that serves the sites now, such as the
/// source of a database sync or of certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromFleet {
    pub from: Option<String>,
}

impl Action {
    /// Build the action of `kind` from its `with` parameters.
    pub fn parse(kind: &str, with_params: &serde_json::Value) -> Result<Action, String> {
        let action = match kind {
            "local.run" => Action::LocalRun(typed(kind, with_params)?),
            "droplets.create" => none(kind, with_params, Action::DropletsCreate)?,
            "droplets.wait_ready" => none(kind, with_params, Action::DropletsWaitReady)?,
            "hosts.bootstrap" => none(kind, with_params, Action::HostsBootstrap)?,
            "database.configure" => none(kind, with_params, Action::DatabaseConfigure)?,
            "database.seed" => none(kind, with_params, Action::DatabaseSeed)?,
            "tls.certificates" => Action::TlsCertificates(typed_or_default(kind, with_params)?),
            "nginx.configure" => none(kind, with_params, Action::NginxConfigure)?,
            "apps.deploy" => none(kind, with_params, Action::AppsDeploy)?,
            "configs.apply" => none(kind, with_params, Action::ConfigsApply)?,
            "database.sync" => Action::DatabaseSync(typed(kind, with_params)?),
            "sites.health" => none(kind, with_params, Action::SitesHealth)?,
            "dns.lower_ttl" => none(kind, with_params, Action::DnsLowerTtl)?,
            "dns.switch" => none(kind, with_params, Action::DnsSwitch)?,
            "dns.verify" => none(kind, with_params, Action::DnsVerify)?,
            "dns.restore_ttl" => none(kind, with_params, Action::DnsRestoreTtl)?,
            "teardown.check" => none(kind, with_params, Action::TeardownCheck)?,
            "teardown.snapshot" => none(kind, with_params, Action::TeardownSnapshot)?,
            "teardown.delete" => none(kind, with_params, Action::TeardownDelete)?,
            "hosts.forget" => none(kind, with_params, Action::HostsForget)?,
            other => return Err(format!("unknown step kind `{other}`")),
        };
        Ok(action)
    }

    /// Plans what the step would do from the inventory alone.
    pub fn plan_offline(&self, ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
        match self {
            Action::LocalRun(params) => Ok(local::plan(params)),
            Action::DropletsCreate => droplets::plan_offline(ctx),
            Action::DropletsWaitReady => Ok(droplets::plan_wait_offline(ctx)),
            Action::HostsBootstrap => bootstrap::plan_offline(ctx),
            Action::SitesHealth => health::plan_offline(ctx),
            Action::NginxConfigure => nginx::plan_offline(ctx),
            Action::DatabaseConfigure => database::plan_configure_offline(ctx),
            Action::DatabaseSeed => database::plan_seed_offline(ctx),
            Action::DatabaseSync(params) => database_sync::plan_offline(ctx, params),
            Action::TeardownCheck => teardown::plan_check_offline(ctx),
            Action::TeardownSnapshot => Ok(teardown::plan_snapshot_offline(ctx)),
            Action::TeardownDelete => Ok(teardown::plan_delete_offline(ctx)),
            Action::HostsForget => Ok(teardown::plan_forget_offline(ctx)),
            Action::AppsDeploy => deploy::plan_offline(ctx),
            Action::ConfigsApply => configs::plan_offline(ctx),
            Action::DnsLowerTtl => dns::plan_lower_offline(ctx),
            Action::DnsSwitch => dns::plan_switch_offline(ctx),
            Action::DnsVerify => dns::plan_verify_offline(ctx),
            Action::DnsRestoreTtl => dns::plan_restore_offline(ctx),
            Action::TlsCertificates(params) => certificates::plan_offline(ctx, params),
        }
    }

    /// Plans what the step would do from a read-only look at the world.
    pub async fn plan(&self, ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
        match self {
            Action::LocalRun(params) => Ok(local::plan(params)),
            Action::DropletsCreate => droplets::plan(ctx).await,
            Action::DropletsWaitReady => droplets::plan_wait(ctx).await,
            Action::HostsBootstrap => bootstrap::plan(ctx).await,
            Action::SitesHealth => health::plan_offline(ctx),
            Action::NginxConfigure => nginx::plan(ctx).await,
            Action::DatabaseConfigure => database::plan_configure(ctx).await,
            Action::DatabaseSeed => database::plan_seed(ctx).await,
            Action::DatabaseSync(params) => database_sync::plan(ctx, params).await,
            Action::TeardownCheck => teardown::plan_check(ctx).await,
            Action::TeardownSnapshot => teardown::plan_snapshot(ctx).await,
            Action::TeardownDelete => teardown::plan_delete(ctx).await,
            Action::HostsForget => teardown::plan_forget(ctx).await,
            Action::AppsDeploy => deploy::plan(ctx).await,
            Action::ConfigsApply => configs::plan(ctx).await,
            Action::DnsLowerTtl => dns::plan_lower(ctx).await,
            Action::DnsSwitch => dns::plan_switch(ctx).await,
            Action::DnsVerify => dns::plan_verify(ctx).await,
            Action::DnsRestoreTtl => dns::plan_restore(ctx).await,
            Action::TlsCertificates(params) => certificates::plan(ctx, params).await,
        }
    }

    /// Do the step. Outputs go to the journal through `ctx` as they appear.
    pub async fn apply(&self, ctx: &StepContext<'_>) -> anyhow::Result<()> {
        match self {
            Action::LocalRun(params) => local::apply(params, ctx).await,
            Action::DropletsCreate => droplets::apply_create(ctx).await,
            Action::DropletsWaitReady => droplets::apply_wait(ctx).await,
            Action::HostsBootstrap => bootstrap::apply(ctx).await,
            Action::SitesHealth => health::apply(ctx).await,
            Action::NginxConfigure => nginx::apply(ctx).await,
            Action::DatabaseConfigure => database::apply_configure(ctx).await,
            Action::DatabaseSeed => database::apply_seed(ctx).await,
            Action::DatabaseSync(params) => database_sync::apply(ctx, params).await,
            Action::TeardownCheck => teardown::apply_check(ctx).await,
            Action::TeardownSnapshot => teardown::apply_snapshot(ctx).await,
            Action::TeardownDelete => teardown::apply_delete(ctx).await,
            Action::HostsForget => teardown::apply_forget(ctx).await,
            Action::AppsDeploy => deploy::apply(ctx).await,
            Action::ConfigsApply => configs::apply(ctx).await,
            Action::DnsLowerTtl => dns::apply_lower(ctx).await,
            Action::DnsSwitch => dns::apply_switch(ctx).await,
            Action::DnsVerify => dns::apply_verify(ctx).await,
            Action::DnsRestoreTtl => dns::apply_restore(ctx).await,
            Action::TlsCertificates(params) => certificates::apply(ctx, params).await,
        }
    }
}

fn typed<T: DeserializeOwned>(kind: &str, value: &serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let location = if path == "." {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        format!(
            "invalid parameters for step kind `{kind}`{location}: {}",
            error.inner()
        )
    })
}

fn typed_or_default<T: DeserializeOwned + Default>(
    kind: &str,
    value: &serde_json::Value,
) -> Result<T, String> {
    if value.is_null() {
        return Ok(T::default());
    }
    typed(kind, value)
}

fn none(kind: &str, value: &serde_json::Value, action: Action) -> Result<Action, String> {
    match value {
        serde_json::Value::Null => Ok(action),
        serde_json::Value::Object(map) if map.is_empty() => Ok(action),
        _ => Err(format!(
            "step kind `{kind}` takes no `with` parameters; it acts on its `targets`"
        )),
    }
}
