use std::net::Ipv4Addr;

use super::harness;

/// Clone the Stats Page from the lab's git daemon and make its venv. Hosts
/// have no route out, and the script fails if pip downloaded anything.
pub const STATS_CHECKOUT: &str = r#"
set -e
mkdir -p /opt/wwdtm
git clone -q git://10.77.0.1/stats.wwdt.me.git /opt/wwdtm/stats
cd /opt/wwdtm/stats
python3 -m venv --system-site-packages venv
venv/bin/python -m pip install --no-input -r requirements.txt > /tmp/pip.log 2>&1
! grep -q Downloading /tmp/pip.log
useradd --system --home-dir /opt/wwdtm wwdtm
"#;

const STATS_UNIT: &str = r#"
[Unit]
Description=Gunicorn for the Stats Page

[Service]
Type=notify
User=wwdtm
Group=www-data
WorkingDirectory=/opt/wwdtm/stats
ExecStart=/opt/wwdtm/stats/venv/bin/python -m gunicorn --workers 2 \
    --bind unix:/tmp/gunicorn-wwdtmstats.sock "app:create_app()"
ExecReload=/bin/kill -s HUP $MAINPID

[Install]
WantedBy=multi-user.target
"#;

/// A main process (`sleep 999`) with a child in its group (`sleep 1000`)
/// that never exits by itself.
const LEAKY_UNIT: &str = "[Service]\nExecStart=/bin/sh -c 'sleep 1000 & exec sleep 999'\n";

const BROKEN_UNIT: &str = "[Service]\nType=notify\nExecStart=/bin/false\n";

/// Build a shell line that writes `content` to `path` inside a host.
pub fn write_file(path: &str, content: &str) -> String {
    format!("cat > {path} <<'UNIT_END'\n{content}\nUNIT_END\n")
}

#[test]
fn systemctl_runs_app_unit_with_systemd_exit_codes() {
    let Some(lab) = harness::start("systemctl_runs_app_unit_with_systemd_exit_codes") else {
        return;
    };
    lab.boot(3001, "units", Ipv4Addr::new(10, 77, 3, 1), None);
    lab.exec_ok("units", STATS_CHECKOUT);
    lab.exec_ok(
        "units",
        &write_file(
            "/etc/systemd/system/gunicorn-wwdtmstats.service",
            STATS_UNIT,
        ),
    );
    lab.exec_ok("units", "systemctl daemon-reload");

    lab.exec_ok("units", "systemctl start gunicorn-wwdtmstats");
    let health = lab.exec_ok(
        "units",
        "curl -s --unix-socket /tmp/gunicorn-wwdtmstats.sock http://localhost/health",
    );
    assert_eq!(health, "ok\n");
    assert_eq!(
        lab.exec_ok("units", "systemctl is-active gunicorn-wwdtmstats"),
        "active\n"
    );
    lab.exec_ok("units", "systemctl reload gunicorn-wwdtmstats");

    let unknown = lab.exec("units", "systemctl is-active nosuch");
    assert_eq!(unknown.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&unknown.stdout), "inactive\n");
    let start_unknown = lab.exec("units", "systemctl start nosuch");
    assert_eq!(start_unknown.status.code(), Some(5));
    let start_message = String::from_utf8_lossy(&start_unknown.stderr);
    assert!(
        start_message.contains("Unit nosuch.service not found."),
        "{start_message}"
    );
    assert_eq!(
        lab.exec("units", "systemctl status nosuch").status.code(),
        Some(4)
    );

    lab.exec_ok(
        "units",
        &write_file("/etc/systemd/system/broken.service", BROKEN_UNIT),
    );
    let failed_start = lab.exec("units", "systemctl start broken");
    assert_eq!(failed_start.status.code(), Some(1));
    let failed = lab.exec("units", "systemctl is-active broken");
    assert_eq!(failed.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&failed.stdout), "failed\n");

    // A main process that dies makes the unit failed, and a start recovers it.
    lab.exec_ok("units", "kill -9 $(pgrep -o -u wwdtm) && sleep 0.5");
    let died = lab.exec("units", "systemctl is-active gunicorn-wwdtmstats");
    assert_eq!(String::from_utf8_lossy(&died.stdout), "failed\n");
    lab.exec_ok("units", "systemctl start gunicorn-wwdtmstats");

    lab.exec_ok("units", "systemctl stop gunicorn-wwdtmstats");
    let stopped = lab.exec("units", "systemctl is-active gunicorn-wwdtmstats");
    assert_eq!(stopped.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&stopped.stdout), "inactive\n");
    assert_eq!(lab.exec("units", "pgrep -u wwdtm").status.code(), Some(1));

    // A dead main process's children are stopped by the next start or stop,
    // as systemd stops them when the main process dies.
    lab.exec_ok(
        "units",
        &write_file("/etc/systemd/system/leaky.service", LEAKY_UNIT),
    );
    let children = "pgrep -c -f 'sleep 100[0]'";
    let kill_main = "pkill -9 -f 'sleep 99[9]' && sleep 0.2";
    lab.exec_ok("units", "systemctl start leaky");
    lab.exec_ok("units", kill_main);
    assert_eq!(lab.exec_ok("units", children), "1\n");
    lab.exec_ok("units", "systemctl start leaky");
    assert_eq!(lab.exec_ok("units", children), "1\n");
    lab.exec_ok("units", kill_main);
    lab.exec_ok("units", "systemctl stop leaky");
    assert_eq!(lab.exec("units", children).status.code(), Some(1));

    let log = lab.exec_ok("units", "cat /var/log/systemctl.log");
    assert!(
        log.contains("systemctl start gunicorn-wwdtmstats -> 0"),
        "{log}"
    );
    assert!(log.contains("systemctl start nosuch -> 5"), "{log}");
    assert!(log.contains("systemctl start broken -> 1"), "{log}");
}

#[test]
fn systemctl_reload_fails_on_broken_nginx_config() {
    let Some(lab) = harness::start("systemctl_reload_fails_on_broken_nginx_config") else {
        return;
    };
    lab.boot(3002, "nginx-host", Ipv4Addr::new(10, 77, 3, 2), None);

    lab.exec_ok(
        "nginx-host",
        "echo 'this is not nginx;' > /etc/nginx/conf.d/broken.conf",
    );
    let reload = lab.exec("nginx-host", "systemctl reload nginx");
    assert_eq!(reload.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&reload.stderr).contains("Job for nginx.service failed"));
    assert_eq!(
        lab.exec_ok("nginx-host", "systemctl is-active nginx"),
        "active\n"
    );

    lab.exec_ok(
        "nginx-host",
        "rm /etc/nginx/conf.d/broken.conf && systemctl reload nginx",
    );
    assert_eq!(
        lab.exec_ok(
            "nginx-host",
            "systemctl restart mysql && systemctl is-active mariadb"
        ),
        "active\n"
    );
    assert_eq!(
        lab.exec_ok("nginx-host", "systemctl is-enabled sshd"),
        "enabled\n"
    );
}
