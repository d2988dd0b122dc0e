//! The app users' database passwords, kept on the database server only: in
//! a root-owned file of mode 0600 that wwctl reads into memory when an app's
//! `config.json` needs them. They never reach the controller's disk, a log,
//! the journal or JSON output.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::remote::sync::{self, Contents, FileSpec};
use crate::remote::{Cmd, Host};
use crate::secret::Secret;

pub const PATH: &str = "/etc/wwctl/database-users.json";
const FORMAT: &str = "wwctl.database-users/v1";

#[derive(Deserialize)]
struct Stored {
    format: String,
    passwords: IndexMap<String, Secret>,
}

#[derive(Serialize)]
struct StoredRef<'a> {
    format: &'static str,
    passwords: IndexMap<&'a str, &'a str>,
}

/// Reads the stored passwords on `host`, or an empty map when there are none yet.
pub async fn load(host: &Host) -> anyhow::Result<IndexMap<String, Secret>> {
    let output = host.run_unchecked(&Cmd::new(&["cat", "--", PATH])).await?;
    if !output.success() {
        return Ok(IndexMap::new());
    }
    let bytes = Zeroizing::new(output.stdout);
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|_| {
        anyhow::anyhow!(
            "`{PATH}` on `{}` is not valid; restore it or remove it to generate new passwords",
            host.target.name
        )
    })?;
    if stored.format != FORMAT {
        anyhow::bail!(
            "`{PATH}` on `{}` has format `{}`, and this wwctl reads `{FORMAT}`",
            host.target.name,
            stored.format
        );
    }
    Ok(stored.passwords)
}

/// Write `passwords` to `host`, mode 0600, owned by root.
pub async fn store(host: &Host, passwords: &IndexMap<String, Secret>) -> anyhow::Result<()> {
    let stored = StoredRef {
        format: FORMAT,
        passwords: passwords
            .iter()
            .map(|(user, password)| (user.as_str(), password.expose()))
            .collect(),
    };
    let bytes = Zeroizing::new(serde_json::to_vec_pretty(&stored)?);
    let spec = FileSpec::new(
        PATH,
        Contents::Secret(Zeroizing::new(bytes.to_vec())),
        0o600,
    );
    sync::sync(host, &[spec], None).await?;
    Ok(())
}
