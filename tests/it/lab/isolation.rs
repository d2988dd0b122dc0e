use std::net::Ipv4Addr;
use std::path::Path;

use wwctl::sandbox::hosts::{BootRequest, HostBackend};

use super::harness::{self, http_get};

#[test]
fn hosts_keep_files_users_and_addresses_apart() {
    let Some(lab) = harness::start("hosts_keep_files_users_and_addresses_apart") else {
        return;
    };
    let first = Ipv4Addr::new(10, 77, 2, 1);
    let second = Ipv4Addr::new(10, 77, 2, 2);
    lab.boot(2001, "iso-a", first, None);
    lab.boot(2002, "iso-b", second, None);

    // A second droplet with a taken address is rejected before anything is made.
    let duplicate = BootRequest {
        droplet_id: 2003,
        name: "iso-c".to_string(),
        address: first,
        authorized_keys: Vec::new(),
        user_data: None,
    };
    let error = lab.block_on(lab.lab.boot(duplicate)).unwrap_err();
    assert!(
        format!("{error:#}").contains("belongs to droplet 2001"),
        "{error:#}"
    );
    assert!(!lab.lab.dir().join("hosts/2003").exists());

    lab.exec_ok(
        "iso-a",
        "echo a > /etc/nginx/lab-marker.txt && useradd labtestuser",
    );
    assert_eq!(
        lab.exec("iso-b", "test -e /etc/nginx/lab-marker.txt")
            .status
            .code(),
        Some(1)
    );
    assert!(!lab.exec("iso-b", "id labtestuser").status.success());
    assert!(!Path::new("/etc/nginx/lab-marker.txt").exists());
    let machine_users = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!machine_users.contains("labtestuser"));

    for host in ["iso-a", "iso-b"] {
        lab.exec_ok(
            host,
            &format!("echo marker-{host} > /var/www/html/index.html"),
        );
    }
    let (status, _, body) = http_get(first, "/").unwrap();
    assert_eq!((status, body.trim()), (200, "marker-iso-a"));
    let (status, _, body) = http_get(second, "/").unwrap();
    assert_eq!((status, body.trim()), (200, "marker-iso-b"));

    // Hosts reach the lab network only: no default route, IPv6 off.
    let routes = lab.exec_ok(
        "iso-a",
        "ip route; cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6",
    );
    assert_eq!(
        routes,
        "10.77.0.0/16 dev eth0 proto kernel scope link src 10.77.2.1 \n1\n"
    );

    // `sandbox exec` passes the command's exit code through.
    let exec = std::process::Command::new(env!("CARGO_BIN_EXE_wwctl"))
        .args(["sandbox", "exec", "--lab-dir"])
        .arg(lab.lab.dir())
        .args(["iso-b", "--", "sh", "-c", "hostname; exit 7"])
        .output()
        .unwrap();
    assert_eq!(exec.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "iso-b\n");

    lab.block_on(lab.lab.destroy(2001)).unwrap();
    assert!(
        http_get(first, "/").is_err(),
        "the destroyed host's address still answers"
    );
    let (status, _, _) = http_get(second, "/").unwrap();
    assert_eq!(status, 200);
    // Destroying again succeeds: the backend's operations are idempotent.
    lab.block_on(lab.lab.destroy(2001)).unwrap();
}
