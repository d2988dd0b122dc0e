use std::net::Ipv4Addr;
use std::process::Command;

use wwctl::sandbox::hosts::HostBackend;

use super::harness::{self, http_get};

#[test]
fn power_actions_and_snapshot() {
    let Some(lab) = harness::start("power_actions_and_snapshot") else {
        return;
    };
    let address = Ipv4Addr::new(10, 77, 6, 1);
    lab.boot(6001, "powered", address, None);
    assert_eq!(http_get(address, "/").unwrap().0, 200);

    lab.block_on(lab.lab.power_off(6001)).unwrap();
    assert!(
        http_get(address, "/").is_err(),
        "a powered-off host still answers"
    );
    let status = lab.lab.status();
    assert_eq!(status.hosts[0].power, "off");
    // Repeating an action is harmless.
    lab.block_on(lab.lab.power_off(6001)).unwrap();

    lab.block_on(lab.lab.power_on(6001)).unwrap();
    assert_eq!(http_get(address, "/").unwrap().0, 200);
    assert_eq!(
        lab.exec_ok("powered", "systemctl is-active ssh mariadb nginx"),
        "active\nactive\nactive\n"
    );

    lab.block_on(lab.lab.shutdown(6001)).unwrap();
    assert!(
        http_get(address, "/").is_err(),
        "a shut-down host still answers"
    );
    let daemons = lab.exec("powered", "pgrep -x 'nginx|mariadbd|sshd'");
    assert_eq!(
        daemons.status.code(),
        Some(1),
        "services still run after shutdown"
    );
    lab.block_on(lab.lab.power_on(6001)).unwrap();
    assert_eq!(http_get(address, "/").unwrap().0, 200);

    let status = lab.lab.status();
    let host = &status.hosts[0];
    assert_eq!(
        (host.droplet_id, host.name.as_str(), host.address),
        (6001, "powered", address)
    );
    assert_eq!(host.power, "on");
    let states: Vec<(&str, &str)> = host
        .services
        .iter()
        .map(|service| (service.unit.as_str(), service.state.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("ssh.service", "active"),
            ("mariadb.service", "active"),
            ("nginx.service", "active")
        ]
    );

    lab.block_on(lab.lab.snapshot(6001, 7001)).unwrap();
    let archive = lab.lab.dir().join("snapshots/7001.tar");
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(listing.status.success());
    assert!(String::from_utf8_lossy(&listing.stdout).contains("6001/var-lib-mysql/ibdata1"));
}
