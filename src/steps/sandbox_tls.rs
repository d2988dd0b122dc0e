//! Certificates for the sandbox: the key and signing request are made on
//! the server, and the sandbox's certificate authority signs the request,
//! so the private key never leaves the server, as with a real issuer.

use crate::engine::context::StepContext;
use crate::error::HintExt;
use crate::remote::sync::{self, Contents, FileSpec};
use crate::remote::{Cmd, Host};

use super::certificates::{self, Needed, cert_path, key_path};

/// Days a sandbox certificate is valid.
const VALIDITY_DAYS: u32 = 90;

/// Make sure `host` has a valid certificate for `needed`, issuing one when
/// it is missing, expiring within a week, or lacks a name.
pub async fn issue(ctx: &StepContext<'_>, host: &Host, needed: &Needed) -> anyhow::Result<()> {
    let inventory = ctx.inventory();
    let cert = cert_path(inventory, &needed.domain);
    if let Some(pem) = certificates::read_certificate(host, &cert).await?
        && let Ok(info) = certificates::inspect(&pem)
        && info.not_after.as_second() - ctx.services.clock.now().as_second() > 7 * 86_400
        && needed.names.iter().all(|name| info.names.contains(name))
    {
        return Ok(());
    }

    let key = key_path(inventory, &needed.domain);
    let new_key = format!("{key}.wwctl-new");
    let subject_names: Vec<String> = needed
        .names
        .iter()
        .map(|name| format!("DNS:{name}"))
        .collect();
    host.run(&Cmd::new(&[
        "install",
        "-d",
        "-m",
        "0755",
        &inventory.tls.dir,
    ]))
    .await?;
    let csr = host
        .run(&Cmd::new(&[
            "openssl",
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &new_key,
            "-subj",
            &format!("/CN={}", needed.domain),
            "-addext",
            &format!("subjectAltName={}", subject_names.join(",")),
        ]))
        .await?
        .stdout;

    let signed = sign(ctx, &csr, &needed.names)?;
    host.run(&Cmd::new(&["chmod", "0600", &new_key])).await?;
    host.run(&Cmd::new(&["mv", "-f", "--", &new_key, &key]))
        .await?;
    sync::sync(
        host,
        &[FileSpec::new(&cert, Contents::Plain(signed), 0o644)],
        None,
    )
    .await?;
    tracing::info!(host = %host.target.name, domain = %needed.domain, days = VALIDITY_DAYS, "sandbox certificate issued");
    Ok(())
}

/// The variable `wwctl sandbox env` sets to the sandbox folder.
const SANDBOX_DIR_ENV: &str = "WWCTL_SANDBOX_DIR";

/// Sign a request with the sandbox's certificate authority, found through
/// the sandbox folder.
fn sign(_ctx: &StepContext<'_>, csr: &[u8], names: &[String]) -> anyhow::Result<Vec<u8>> {
    let dir = std::env::var_os(SANDBOX_DIR_ENV)
        .map(std::path::PathBuf::from)
        .ok_or_else(|| {
            anyhow::anyhow!("`tls.issuer: sandbox` needs the sandbox: {SANDBOX_DIR_ENV} is not set")
        })
        .hint("export the sandbox's variables with `eval \"$(wwctl sandbox env)\"`")?;
    let lab = crate::sandbox::control::lab::lab_for_signing(&dir)?;
    let csr = std::str::from_utf8(csr)
        .map_err(|_| anyhow::anyhow!("openssl produced a signing request that is not text"))?;
    let validity = std::time::Duration::from_secs(u64::from(VALIDITY_DAYS) * 86_400);
    let certificate = lab.ca()?.sign_csr(csr, names, validity)?;
    Ok(certificate.into_bytes())
}
