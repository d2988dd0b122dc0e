use std::fs;
use std::net::Ipv4Addr;

use super::harness::{self, host_key_pair, indent};

#[test]
fn ssh_checks_host_key_from_user_data() {
    let Some(lab) = harness::start("ssh_checks_host_key_from_user_data") else {
        return;
    };
    let (private, public) = host_key_pair();
    let user_data = format!(
        "#cloud-config\nssh_keys:\n  ed25519_private: |\n{}  ed25519_public: {public}\n",
        indent(&private, 4)
    );
    let address = Ipv4Addr::new(10, 77, 1, 21);
    let elapsed = lab.boot(1001, "ssh-host", address, Some(user_data));
    eprintln!("booted ssh-host in {elapsed:?}");

    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    fs::write(&known_hosts, format!("{address} {public}\n")).unwrap();
    let output = lab.ssh(address, &known_hosts, "hostname");
    assert!(
        output.status.success(),
        "ssh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ssh-host");
    assert_eq!(lab.lab.host_public_keys(1001).unwrap(), vec![public]);

    // Another key for the same address must be refused, not accepted.
    let (_, other) = host_key_pair();
    fs::write(&known_hosts, format!("{address} {other}\n")).unwrap();
    let output = lab.ssh(address, &known_hosts, "hostname");
    assert_eq!(output.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    );
}

#[test]
fn ssh_uses_generated_host_key_without_user_data() {
    let Some(lab) = harness::start("ssh_uses_generated_host_key_without_user_data") else {
        return;
    };
    let address = Ipv4Addr::new(10, 77, 1, 22);
    lab.boot(1002, "plain-host", address, None);

    let keys = lab.lab.host_public_keys(1002).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("ssh-ed25519 "), "{keys:?}");
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    fs::write(&known_hosts, format!("{address} {}\n", keys[0])).unwrap();
    let output = lab.ssh(
        address,
        &known_hosts,
        "hostname && systemctl is-active ssh nginx mariadb",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "plain-host\nactive\nactive\nactive\n"
    );
}
