use std::fs;
use std::net::Ipv4Addr;

use super::harness;

const USER_DATA: &str = r#"#cloud-config
users:
  - name: deploy
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
write_files:
  - path: /etc/wwctl-test/plain.txt
    content: hello plain
    permissions: '0600'
  - path: /etc/wwctl-test/encoded.txt
    encoding: b64
    content: aGVsbG8gZW5jb2RlZAo=
  - path: /home/deploy/owned.txt
    content: mine
    owner: deploy:deploy
    defer: true
runcmd:
  - echo first >> /root/order.txt
  - [flock, /var/lib/dpkg/lock-frontend, sleep, "6"]
  - echo second >> /root/order.txt
packages: [nginx]
"#;

#[test]
fn cloud_init_applies_user_data_in_order() {
    let Some(lab) = harness::start("cloud_init_applies_user_data_in_order") else {
        return;
    };
    let address = Ipv4Addr::new(10, 77, 4, 1);
    lab.boot(4001, "cloudy", address, Some(USER_DATA.to_string()));

    // runcmd has the dpkg lock while sshd already accepts connections.
    let running = lab.exec("cloudy", "cloud-init status");
    assert_eq!(running.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&running.stdout),
        "status: running\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    let key = lab.lab.host_public_keys(4001).unwrap().remove(0);
    fs::write(&known_hosts, format!("{address} {key}\n")).unwrap();
    let ssh = lab.ssh(
        address,
        &known_hosts,
        "flock -n /var/lib/dpkg/lock-frontend true",
    );
    assert_eq!(
        ssh.status.code(),
        Some(1),
        "runcmd should hold the dpkg lock"
    );

    // Another host has a dpkg lock of its own, and a failing runcmd makes
    // cloud-init's status an error.
    let failing = "#cloud-config\nruncmd:\n  - [sh, -c, 'exit 3']\n";
    lab.boot(
        4002,
        "failing",
        Ipv4Addr::new(10, 77, 4, 2),
        Some(failing.to_string()),
    );
    lab.exec_ok("failing", "flock -n /var/lib/dpkg/lock-frontend true");
    let error = lab.exec("failing", "cloud-init status --wait");
    assert_eq!(error.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&error.stdout).ends_with("status: error\n"));

    let done = lab.exec("cloudy", "cloud-init status --wait");
    assert_eq!(done.status.code(), Some(0));
    let done_text = String::from_utf8_lossy(&done.stdout);
    assert!(
        done_text.starts_with('.'),
        "--wait prints dots while it waits: {done_text:?}"
    );
    assert!(done_text.ends_with("\nstatus: done\n"), "{done_text:?}");

    assert_eq!(
        lab.exec_ok("cloudy", "cat /root/order.txt"),
        "first\nsecond\n"
    );
    let plain = "cat /etc/wwctl-test/plain.txt; echo; stat -c %a /etc/wwctl-test/plain.txt";
    assert_eq!(lab.exec_ok("cloudy", plain), "hello plain\n600\n");
    assert_eq!(
        lab.exec_ok("cloudy", "cat /etc/wwctl-test/encoded.txt"),
        "hello encoded\n"
    );
    assert_eq!(
        lab.exec_ok("cloudy", "stat -c %U /home/deploy/owned.txt"),
        "deploy\n"
    );
    assert_eq!(
        lab.exec_ok("cloudy", "getent passwd deploy | cut -d: -f7"),
        "/bin/bash\n"
    );
    let sudoers = lab.exec_ok("cloudy", "cat /etc/sudoers.d/90-cloud-init-users");
    assert!(
        sudoers.contains("deploy ALL=(ALL) NOPASSWD:ALL"),
        "{sudoers}"
    );
    let log = lab.exec_ok("cloudy", "cat /var/log/cloud-init.log");
    assert!(log.contains("package nginx is already installed"), "{log}");
}
