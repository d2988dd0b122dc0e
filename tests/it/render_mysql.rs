//! The rendered option file passes MariaDB's own option parsing, and its
//! values win over Debian's `50-server.cnf`.
//!
//! MariaDB 10.11 has no `--validate-config` (MySQL 8.0.16 and later do): it
//! reports it as an unknown option only after starting InnoDB on the data
//! directory, and run as root without `--user=root` it stops before reading
//! the options at all. `mariadbd --help --verbose` needs neither: it reads
//! every option file, loads the plugins' options, rejects unknown options
//! and invalid values with a non-zero exit, prints the values in effect and
//! starts no storage engine.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use wwctl::inventory::Role;
use wwctl::render::{MYSQL_CONFIG_PATH, RenderedFile, buffer_pool_mb, server_id};

use crate::render_support::{
    OVERLAYS, hosts_with_role, render_host, require_program, shipped_inventory,
};

/// Warnings about this machine, not about the options.
const ENVIRONMENT_WARNINGS: [&str; 2] = [
    "Could not increase number of max_open_files",
    "Could not open mysql.plugin table",
];

struct Effective {
    success: bool,
    stderr: String,
    values: BTreeMap<String, String>,
}

/// Run `mariadbd --help --verbose` over a copy of Debian's option file
/// layout: `conf.d`, then `mariadb.conf.d` with the machine's `50-server.cnf`
/// (when installed) and the rendered file.
fn effective_options(rendered: &str, extra: &str) -> Effective {
    let mariadbd = require_program("mariadbd");
    let prefix = tempfile::tempdir().expect("temporary folder");
    let root = prefix.path();
    let conf_d = root.join("conf.d");
    let mariadb_conf_d = root.join("mariadb.conf.d");
    fs::create_dir_all(&conf_d).unwrap();
    fs::create_dir_all(&mariadb_conf_d).unwrap();
    fs::create_dir_all(root.join("data")).unwrap();

    // The test's data directory, so nothing reads the machine's.
    fs::write(
        mariadb_conf_d.join("00-test.cnf"),
        format!(
            "[mysqld]\ndatadir = {}\n{extra}",
            root.join("data").display()
        ),
    )
    .unwrap();
    let debian_server = Path::new("/etc/mysql/mariadb.conf.d/50-server.cnf");
    if debian_server.is_file() {
        fs::copy(debian_server, mariadb_conf_d.join("50-server.cnf")).unwrap();
    }
    let file_name = Path::new(MYSQL_CONFIG_PATH).file_name().unwrap();
    fs::write(mariadb_conf_d.join(file_name), rendered).unwrap();

    let wrapper = root.join("my.cnf");
    fs::write(
        &wrapper,
        format!(
            "[client-server]\n!includedir {}/\n!includedir {}/\n",
            conf_d.display(),
            mariadb_conf_d.display()
        ),
    )
    .unwrap();

    let output = Command::new(mariadbd)
        .arg(format!("--defaults-file={}", wrapper.display()))
        .arg("--help")
        .arg("--verbose")
        .output()
        .expect("run mariadbd");
    Effective {
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        values: parse_values(&String::from_utf8_lossy(&output.stdout)),
    }
}

/// Parses the `name value` table after the dashed line of `--help --verbose`.
fn parse_values(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .skip_while(|line| !line.starts_with("----"))
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.split_once(char::is_whitespace)?;
            Some((name.to_string(), value.trim().to_string()))
        })
        .collect()
}

fn unexpected_messages(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("[ERROR]") || line.contains("[Warning]"))
        .filter(|line| {
            !ENVIRONMENT_WARNINGS
                .iter()
                .any(|known| line.contains(known))
        })
        .collect()
}

fn rendered_config(files: &[RenderedFile]) -> String {
    files
        .iter()
        .find(|file| file.path == MYSQL_CONFIG_PATH)
        .expect("a database droplet gets the option file")
        .contents
        .text()
        .expect("the option file is not secret")
        .to_string()
}

#[test]
fn every_database_host_passes_mariadbd() {
    let mut checked = 0;
    for overlay in OVERLAYS {
        let inventory = shipped_inventory(overlay);
        for (fleet, droplet) in hosts_with_role(&inventory, Role::Database) {
            let rendered = rendered_config(&render_host(&inventory, &fleet, &droplet));
            let found = inventory.find_droplet(&droplet).unwrap();

            let effective = effective_options(&rendered, "");

            let context = format!("`{droplet}` (fleet {fleet}, overlay {overlay:?})");
            assert!(effective.success, "{context}: {}", effective.stderr);
            assert_eq!(
                unexpected_messages(&effective.stderr),
                Vec::<&str>::new(),
                "{context}"
            );

            let dedicated = found.roles == [Role::Database];
            let pool_bytes = buffer_pool_mb(found.memory_mb, dedicated) * 1024 * 1024;
            let expected = [
                ("innodb-buffer-pool-size", pool_bytes.to_string()),
                ("server-id", server_id(&fleet, &droplet).to_string()),
                ("character-set-server", "utf8mb4".to_string()),
                ("collation-server", "utf8mb4_unicode_ci".to_string()),
                ("max-connections", "151".to_string()),
                ("binlog-format", "ROW".to_string()),
                ("binlog-expire-logs-seconds", "604800".to_string()),
                ("log-bin", "mysql-bin".to_string()),
                ("slow-query-log", "TRUE".to_string()),
                ("long-query-time", "2".to_string()),
                (
                    "sql-mode",
                    "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION".to_string(),
                ),
            ];
            for (name, value) in expected {
                assert_eq!(
                    effective.values.get(name),
                    Some(&value),
                    "{context}: `{name}`"
                );
            }
            checked += 1;
        }
    }
    // db-2022, staging-2022, prod-2023 and staging-2023, with and without
    // the overlay.
    assert_eq!(checked, 2 * 4);
}

#[test]
fn bind_address_follows_layout() {
    let inventory = shipped_inventory(None);
    let cases = [
        ("2023", "prod-2023", "127.0.0.1"),
        ("2023", "staging-2023", "127.0.0.1"),
        ("2022", "staging-2022", "127.0.0.1"),
        // The placeholder address of db-2022, the fifth droplet.
        ("2022", "db-2022", "192.0.2.14"),
    ];
    for (fleet, droplet, address) in cases {
        let rendered = rendered_config(&render_host(&inventory, fleet, droplet));

        let effective = effective_options(&rendered, "");

        assert!(effective.success, "{droplet}: {}", effective.stderr);
        assert_eq!(
            effective.values.get("bind-address").map(String::as_str),
            Some(address),
            "{droplet}"
        );
    }
}

#[test]
fn buffer_pool_sizes_per_layout() {
    let inventory = shipped_inventory(None);
    let cases = [
        ("2022", "db-2022", "innodb_buffer_pool_size = 2048M"),
        ("2023", "prod-2023", "innodb_buffer_pool_size = 1024M"),
        ("2023", "staging-2023", "innodb_buffer_pool_size = 512M"),
    ];
    for (fleet, droplet, line) in cases {
        let rendered = rendered_config(&render_host(&inventory, fleet, droplet));

        assert!(
            rendered.lines().any(|found| found == line),
            "{droplet}:\n{rendered}"
        );
    }
}

#[test]
fn server_ids_differ_across_inventory() {
    let inventory = shipped_inventory(None);
    let ids: Vec<u32> = hosts_with_role(&inventory, Role::Database)
        .iter()
        .map(|(fleet, droplet)| server_id(fleet, droplet))
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();

    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert!(ids.iter().all(|id| *id != 0));
    assert_eq!(
        server_id("2023", "prod-2023"),
        server_id("2023", "prod-2023")
    );
}

#[test]
fn mariadbd_rejects_unknown_option() {
    let inventory = shipped_inventory(None);
    let rendered = rendered_config(&render_host(&inventory, "2023", "prod-2023"));

    let effective = effective_options(&rendered, "no_such_option = 1\n");

    assert!(!effective.success);
    assert!(
        effective
            .stderr
            .contains("unknown variable 'no_such_option=1'"),
        "{}",
        effective.stderr
    );
}
