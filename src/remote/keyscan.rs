//! Reading the host keys a server presents, before any login.

use std::time::Duration;

use ssh_key::PublicKey;

use super::known_hosts::parse_public_key;

/// Reads the host keys `address:port` presents with `ssh-keyscan`. The list
/// is empty while the server is unreachable.
pub async fn presented_keys(
    address: &str,
    port: u16,
    timeout: Duration,
) -> anyhow::Result<Vec<PublicKey>> {
    let output = tokio::process::Command::new("ssh-keyscan")
        .arg("-T")
        .arg(timeout.as_secs().max(1).to_string())
        .arg("-p")
        .arg(port.to_string())
        .arg("-t")
        .arg("ed25519,ecdsa,rsa")
        .arg(address)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot run `ssh-keyscan` (package openssh-client): {error}")
        })?;

    let text = String::from_utf8_lossy(&output.stdout);
    let mut keys = Vec::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        if let Some((_, key)) = line.split_once(' ')
            && let Ok(key) = parse_public_key(key)
        {
            keys.push(key);
        }
    }
    Ok(keys)
}
