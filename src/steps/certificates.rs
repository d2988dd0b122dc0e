//! `tls.certificates`: put each site's certificate and key on the servers
//! that terminate HTTPS.
//!
//! A new server gets the certificates of the server that serves the sites
//! now, because no new certificate can be issued over HTTP before DNS points
//! at the new server. Keys travel from server to server through wwctl's
//! memory only: never to the controller's disk, never into logs or the
//! journal, mode 0600 on both ends.

use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::inventory::{Inventory, Issuer, Role};
use crate::output::count;
use crate::remote::sync::{self, Contents, FileSpec, FileStatus};
use crate::remote::{Cmd, Host};
use crate::steps::FromFleet;

use super::support::on_each_target;

/// Certificates closer to expiry than this are flagged in the plan.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// One certificate a proxy needs, with the names it must cover. NGINX reads
/// one certificate and key per HTTPS name, aliases included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needed {
    pub domain: String,
    pub names: Vec<String>,
}

/// Lists the certificates a proxy in environment `env` serves: each site's
/// name for the environment, and in production its aliases too.
pub fn needed(inventory: &Inventory, env: &str) -> Vec<Needed> {
    let mut certificates = Vec::new();
    for site in inventory.sites.values() {
        let Some(domain) = site.domains.get(env) else {
            continue;
        };
        certificates.push(Needed {
            domain: domain.clone(),
            names: vec![domain.clone()],
        });
        if env == "prod" {
            for alias in &site.aliases {
                certificates.push(Needed {
                    domain: alias.clone(),
                    names: vec![alias.clone()],
                });
            }
        }
    }
    certificates
}

pub fn cert_path(inventory: &Inventory, domain: &str) -> String {
    format!("{}/{domain}.crt", inventory.tls.dir)
}

pub fn key_path(inventory: &Inventory, domain: &str) -> String {
    format!("{}/{domain}.key", inventory.tls.dir)
}

/// The expiry and names a certificate carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    pub not_after: Timestamp,
    pub names: Vec<String>,
}

/// Read the expiry and names of a PEM certificate.
pub fn inspect(pem: &[u8]) -> anyhow::Result<CertificateInfo> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|error| anyhow::anyhow!("not a PEM certificate: {error}"))?;
    let certificate = pem
        .parse_x509()
        .map_err(|error| anyhow::anyhow!("invalid certificate: {error}"))?;
    let not_after = Timestamp::from_second(certificate.validity().not_after.timestamp())?;

    let mut names = Vec::new();
    if let Ok(Some(extension)) = certificate.subject_alternative_name() {
        for name in &extension.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push(dns.to_string());
            }
        }
    }
    Ok(CertificateInfo { not_after, names })
}

/// Writes a note on a certificate's expiry for the plan, or fails when it expired.
fn expiry_note(domain: &str, info: &CertificateInfo, now: Timestamp) -> anyhow::Result<String> {
    let days = (info.not_after.as_second() - now.as_second()) / 86_400;
    let date = info.not_after.strftime("%Y-%m-%d");
    if info.not_after <= now {
        anyhow::bail!(
            "the certificate of `{domain}` expired on {date}; renew it on the server that serves the site before moving it"
        );
    }
    if days < EXPIRY_WARNING_DAYS {
        return Ok(format!(
            "{domain}: expires {date}, in {}: renew it soon after the move",
            count(days, "day")
        ));
    }
    Ok(format!(
        "{domain}: valid until {date} ({})",
        count(days, "day")
    ))
}

/// Returns the server the certificates come from: the entry droplet of the same
/// environment in the source fleet.
fn source_of(
    ctx: &StepContext<'_>,
    params: &FromFleet,
    target: &str,
) -> anyhow::Result<Option<String>> {
    let droplet = ctx.droplet(target)?;
    let Some(from) = &params.from else {
        return Ok(None);
    };
    let source = ctx
        .inventory()
        .entry_droplet(from, &droplet.env)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "fleet `{from}` has no `{}` droplet with role proxy to copy certificates from",
                droplet.env
            )
        })?;
    Ok(Some(source.name.clone()))
}

pub fn plan_offline(ctx: &StepContext<'_>, params: &FromFleet) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for target in &ctx.step.targets {
        let droplet = ctx.droplet(target)?;
        let domains: Vec<String> = needed(ctx.inventory(), &droplet.env)
            .into_iter()
            .map(|needed| needed.domain)
            .collect();
        let how = match (source_of(ctx, params, target)?, &ctx.inventory().tls.issuer) {
            (Some(source), _) => format!("copy certificates and keys from `{source}`"),
            (None, Issuer::Sandbox) => {
                "issue certificates from the sandbox's certificate authority".to_string()
            }
            (None, Issuer::Existing) => "check that the certificates are in place".to_string(),
        };
        changes.push(
            Change::run(Some(target.clone()), how)
                .detail(format!("sites: {}", domains.join(", ")))
                .unknown("expiry dates"),
        );
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>, params: &FromFleet) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for target in &ctx.step.targets {
        let droplet = ctx.droplet(target)?;
        let wanted = needed(ctx.inventory(), &droplet.env);
        let source = source_of(ctx, params, target)?;

        let target_host = match ctx.address_of(target).await? {
            Some(_) => Some(ctx.host(target).await?),
            None => None,
        };
        let mut missing = Vec::new();
        for needed in &wanted {
            let present = match &target_host {
                Some(host) => {
                    read_certificate(host, &cert_path(ctx.inventory(), &needed.domain)).await?
                }
                None => None,
            };
            match present {
                Some(pem) => plan.notes.push(expiry_note(
                    &needed.domain,
                    &inspect(&pem)?,
                    ctx.services.clock.now(),
                )?),
                None => missing.push(needed.domain.clone()),
            }
        }
        if missing.is_empty() {
            plan.changes.push(Change::no_change(
                Some(target.clone()),
                "certificates in place",
            ));
            continue;
        }

        let summary = match &source {
            Some(source) => {
                let source_host = ctx.host(source).await?;
                for domain in &missing {
                    let pem = read_certificate(&source_host, &cert_path(ctx.inventory(), domain))
                        .await?
                        .ok_or_else(|| {
                            anyhow::anyhow!("`{source}` has no certificate for `{domain}` to copy")
                        })?;
                    plan.notes.push(expiry_note(
                        domain,
                        &inspect(&pem)?,
                        ctx.services.clock.now(),
                    )?);
                }
                format!("copy certificates and keys from `{source}`")
            }
            None => "issue certificates".to_string(),
        };
        plan.changes.push(
            Change::new(ChangeAction::Create, Some(target.clone()), summary)
                .detail(format!("sites: {}", missing.join(", "))),
        );
    }
    Ok(plan)
}

pub async fn apply(ctx: &StepContext<'_>, params: &FromFleet) -> anyhow::Result<()> {
    on_each_target(
        ctx,
        |target| async move { install(ctx, params, &target).await },
    )
    .await
}

async fn install(ctx: &StepContext<'_>, params: &FromFleet, target: &str) -> anyhow::Result<()> {
    let droplet = ctx.droplet(target)?;
    if !droplet.has_role(Role::Proxy) {
        return Ok(());
    }
    let host = ctx.host(target).await?;
    let wanted = needed(ctx.inventory(), &droplet.env);

    match source_of(ctx, params, target)? {
        Some(source) => {
            let source_host = ctx.host(&source).await?;
            for needed in &wanted {
                copy_one(ctx, &source_host, &host, &needed.domain).await?;
            }
        }
        None if ctx.inventory().tls.issuer == Issuer::Sandbox => {
            for needed in &wanted {
                super::sandbox_tls::issue(ctx, &host, needed).await?;
            }
        }
        None => {
            for needed in &wanted {
                if read_certificate(&host, &cert_path(ctx.inventory(), &needed.domain))
                    .await?
                    .is_none()
                {
                    anyhow::bail!(
                        "`{target}` has no certificate for `{}` at `{}`; copy it there, or run `wwctl migrate` which copies certificates from the old server",
                        needed.domain,
                        cert_path(ctx.inventory(), &needed.domain)
                    );
                }
            }
        }
    }

    for needed in &wanted {
        let pem = read_certificate(&host, &cert_path(ctx.inventory(), &needed.domain))
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the certificate of `{}` is missing after installing it",
                    needed.domain
                )
            })?;
        let info = inspect(&pem)?;
        expiry_note(&needed.domain, &info, ctx.services.clock.now())?;
        ctx.record_output(
            &format!("{target}.{}.not_after", needed.domain),
            serde_json::json!(info.not_after.to_string()),
        )?;
    }
    Ok(())
}

/// Copy one certificate and its key from `source` to `target`.
async fn copy_one(
    ctx: &StepContext<'_>,
    source: &Host,
    target: &Host,
    domain: &str,
) -> anyhow::Result<()> {
    let inventory = ctx.inventory();
    let cert = read_certificate(source, &cert_path(inventory, domain))
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`{}` has no certificate for `{domain}` at `{}`",
                source.target.name,
                cert_path(inventory, domain)
            )
        })?;
    expiry_note(domain, &inspect(&cert)?, ctx.services.clock.now())?;

    let key = read_key(source, &key_path(inventory, domain)).await?;
    let files = [
        FileSpec::new(&cert_path(inventory, domain), Contents::Plain(cert), 0o644),
        FileSpec::new(&key_path(inventory, domain), Contents::Secret(key), 0o600),
    ];
    let report = sync::sync(target, &files, None).await?;
    let copied = report
        .files
        .iter()
        .filter(|file| file.status != FileStatus::Unchanged)
        .count();
    tracing::info!(from = %source.target.name, to = %target.target.name, %domain, files = copied, "certificate copied");
    Ok(())
}

/// Reads the certificate at `path` on `host`, or `None` when absent.
pub async fn read_certificate(host: &Host, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let output = host.run_unchecked(&Cmd::new(&["cat", "--", path])).await?;
    Ok(output.success().then_some(output.stdout))
}

/// Reads the private key at `path` on `host` into memory that is wiped on drop.
async fn read_key(host: &Host, path: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let output = host.run_unchecked(&Cmd::new(&["cat", "--", path])).await?;
    if !output.success() {
        anyhow::bail!("`{}` has no private key at `{path}`", host.target.name);
    }
    Ok(Zeroizing::new(output.stdout))
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::{CertificateInfo, expiry_note};

    #[test]
    fn expiry_note_counts_one_day() {
        let now: Timestamp = "2026-12-05T00:00:00Z".parse().unwrap();
        let info = CertificateInfo {
            not_after: "2026-12-06T12:00:00Z".parse().unwrap(),
            names: vec!["wwdt.me".to_string()],
        };

        let note = expiry_note("wwdt.me", &info, now).unwrap();

        assert!(note.contains("in 1 day:"), "{note}");
    }
}
