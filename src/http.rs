//! HTTP client setup shared by the DigitalOcean client and the site checks:
//! rustls with the `ring` provider.

use std::path::Path;

use anyhow::Context;

/// Install `ring` as rustls's process-wide crypto provider. Safe to call
/// more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Read a PEM file of root certificates to trust besides (or instead of)
/// the system's.
pub fn read_roots(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read the certificate file `{}`", path.display()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("`{}` contains no valid PEM certificate", path.display()))?;
    if roots.is_empty() {
        anyhow::bail!("`{}` contains no certificate", path.display());
    }
    Ok(roots)
}
