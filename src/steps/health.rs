//! `sites.health`: every site responds over HTTPS on the server that is
//! about to receive its traffic, with content that proves the app reads the
//! database. A failure refuses to go on (exit 8) and shows the app's log.

use std::net::IpAddr;
use std::time::Duration;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::error::UserError;
use crate::health::{self, SiteRequest, SiteResponse};
use crate::inventory::Role;
use crate::remote::Cmd;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const LOG_TAIL_LINES: &str = "15";

/// Builds the site checks for entry droplet `name`: every site of its environment.
pub async fn requests_for(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<Vec<SiteRequest>> {
    let droplet = ctx.droplet(name)?;
    let address: IpAddr = match ctx.address_of(name).await? {
        Some(address) => address.parse()?,
        None => anyhow::bail!("droplet `{name}` has no recorded address to check"),
    };
    Ok(ctx
        .inventory()
        .sites
        .values()
        .filter_map(|site| {
            let domain = site.domains.get(&droplet.env)?;
            Some(SiteRequest {
                site: site.name.clone(),
                domain: domain.clone(),
                address,
                port: 443,
                path: site.check.path.clone(),
                expect: site.check.expect.clone(),
            })
        })
        .collect())
}

/// Check every site on entry droplet `name`; refuse with the failures and
/// the end of each failing app's error log.
pub async fn gate(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<Vec<SiteResponse>> {
    let mut responses = Vec::new();
    for request in requests_for(ctx, name).await? {
        responses.push(
            health::check(
                &request,
                ctx.services.global.ca_file.as_deref(),
                REQUEST_TIMEOUT,
            )
            .await?,
        );
    }

    let failed: Vec<&SiteResponse> = responses
        .iter()
        .filter(|response| !response.passed)
        .collect();
    if failed.is_empty() {
        return Ok(responses);
    }
    let mut lines = Vec::new();
    for response in failed {
        let status = response
            .status
            .map_or("no answer".to_string(), |status| status.to_string());
        let problem = response.problem.clone().unwrap_or_default();
        lines.push(format!(
            "{} ({}): {problem} [status {status}]",
            response.site, response.url
        ));
        if let Some(log) = app_log_tail(ctx, name, &response.site).await {
            lines.push(format!(
                "  end of the app's error log:\n    {}",
                log.trim_end().replace('\n', "\n    ")
            ));
        }
    }
    Err(UserError::refused(format!(
        "sites on `{name}` failed their health check:\n{}",
        lines.join("\n")
    ))
    .with_hint("fix the failing app (its log is above), then run the same command again")
    .into())
}

/// Reads the end of the error log of `site`'s app from the first app server
/// of the entry droplet's environment.
async fn app_log_tail(ctx: &StepContext<'_>, entry: &str, site: &str) -> Option<String> {
    let droplet = ctx.droplet(entry).ok()?;
    let app = ctx.inventory().sites.get(site)?.app.clone();
    let server = ctx
        .inventory()
        .droplets_with_role(&droplet.fleet, &droplet.env, Role::App)
        .into_iter()
        .next()?
        .name
        .clone();
    let host = ctx.host(&server).await.ok()?;
    let path = format!("{}/{app}/error.log", crate::render::LOG_ROOT);
    let output = host
        .run_unchecked(&Cmd::new(&["tail", "-n", LOG_TAIL_LINES, &path]))
        .await
        .ok()?;
    Some(if output.success() {
        output.stdout_text()
    } else {
        format!("(cannot read {path} on {server})")
    })
}

pub fn plan_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        let domains: Vec<String> = ctx
            .inventory()
            .sites
            .values()
            .filter_map(|site| site.domains.get(&droplet.env).cloned())
            .collect();
        changes.push(
            Change::new(
                ChangeAction::Check,
                Some(name.clone()),
                "check every site over HTTPS",
            )
            .detail(domains.join(", ")),
        );
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn apply(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    for name in &ctx.step.targets {
        let responses = gate(ctx, name).await?;
        for response in &responses {
            ctx.record_output(
                &format!("{name}.{}", response.site),
                serde_json::json!({"status": response.status, "millis": response.millis, "excerpt": response.body_excerpt}),
            )?;
        }
    }
    Ok(())
}
